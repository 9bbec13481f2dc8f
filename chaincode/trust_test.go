package chaincode_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// The tests in this file reproduce, at the chaincode level, the attacks of the trust review
// (issue 11) and the lost-update case of conditional writes (issue 10), and show each refused.

// bent returns transaction options for msp whose proposal timestamp is at, while the endorsing
// peer's clock stays at the env's honest time (e.now after the call).
func (e *lcEnv) bent(msp string, at time.Time, transient map[string]any) shimtest.TxOptions {
	e.t.Helper()
	o := e.opts(msp, transient)
	o.Timestamp = at
	return o
}

// invokeAt submits fn(req) as msp with a proposal timestamp of at.
func (e *lcEnv) invokeAt(msp string, at time.Time, fn string, req map[string]any) *shimtest.Result {
	e.t.Helper()
	return e.l.Invoke(e.cc, e.bent(msp, at, nil), fn, lcJSON(e.t, req))
}

// lcDelivered is the delivery time of order id.
func lcDelivered(t *testing.T, o chaincode.Order) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, o.Logistics.DeliveredAt)
	require.NoError(t, err)
	return at
}

func TestOrderVersion(t *testing.T) {
	e := lcNew(t)
	o := e.create("v-1")
	require.Equal(t, int64(1), o.Version, "1 at creation")
	steps := []func() chaincode.Order{
		func() chaincode.Order { return e.escrow("v-1") },
		func() chaincode.Order { return e.declare("v-1") },
		func() chaincode.Order { return e.waybill("v-1") },
		func() chaincode.Order { return e.decide("v-1", chaincode.DecisionCleared) },
		func() chaincode.Order { return e.checkpoint("v-1", chaincode.CheckpointPickedUp) },
	}
	for i, step := range steps {
		require.Equal(t, int64(i+2), step().Version, "step %d", i)
	}
	require.Equal(t, int64(6), e.get(chaincode.BankMSP, "v-1").Version)

	t.Run("a stale expectedVersion is refused and changes nothing", func(t *testing.T) {
		before := e.l.State(lcKey("order", "v-1"))
		req := map[string]any{"orderId": "v-1", "code": "DEPARTED", "location": "Shenzhen", "expectedVersion": 5}
		msg := e.fails(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", req, nil), chaincode.CodeVersionMismatch)
		require.Equal(t, "VERSION_MISMATCH: expectedVersion: order v-1 is at version 6, not 5", msg)
		require.Equal(t, before, e.l.State(lcKey("order", "v-1")))
	})
	t.Run("the current version is accepted", func(t *testing.T) {
		req := map[string]any{"orderId": "v-1", "code": "DEPARTED", "location": "Shenzhen", "expectedVersion": 6}
		require.Equal(t, int64(7), e.ok(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", req, nil)).Version)
	})
	t.Run("a negative expectedVersion is an argument error", func(t *testing.T) {
		msg := e.fails(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "v-1", "reason": "x", "expectedVersion": -1}, nil), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "expectedVersion: ")
	})
	t.Run("every write on an existing order takes expectedVersion", func(t *testing.T) {
		for _, tx := range lcWrites() {
			req := tx.req("v-1")
			req["expectedVersion"] = 99
			res := e.l.Evaluate(e.cc, e.opts(tx.msp, tx.transient()), tx.fn, lcJSON(t, req))
			if tx.fn == "EscrowPayment" {
				// The payment ID check comes after the version check, the payment after both.
				require.Equal(t, string(chaincode.CodeVersionMismatch), lcCode(res), res.Message)
				continue
			}
			require.Equal(t, string(chaincode.CodeVersionMismatch), lcCode(res), "%s: %s", tx.fn, res.Message)
		}
		res := e.invoke(chaincode.MerchantMSP, "AnchorDocument", map[string]any{"sha256": strings.Repeat("aa", 32), "orderId": "v-1", "kind": "INVOICE", "expectedVersion": 99}, nil)
		e.fails(res, chaincode.CodeVersionMismatch)
	})
	t.Run("documents do not change the order", func(t *testing.T) {
		e.ok(e.invoke(chaincode.MerchantMSP, "AnchorDocument", map[string]any{"sha256": strings.Repeat("ab", 32), "orderId": "v-1", "kind": "INVOICE", "expectedVersion": 7}, nil))
		require.Equal(t, int64(7), e.get(chaincode.CustomsMSP, "v-1").Version)
	})
	t.Run("final transactions count too", func(t *testing.T) {
		e.to("v-2", stCancelledPaid)
		o := e.get(chaincode.BankMSP, "v-2")
		require.Equal(t, int64(3), o.Version, "create, pay, cancel")
	})
}

// TestClockSkewRefused reproduces issue 11.1: a client stamps its proposal far from the real
// time. Every endorsing peer refuses it, naming the timestamp and both times; queries are not
// checked.
func TestClockSkewRefused(t *testing.T) {
	e := lcNew(t)
	o := e.to("ck-1", stDelivered)
	delivered := lcDelivered(t, o)

	t.Run("a release stamped eight days after delivery, 150 ms later", func(t *testing.T) {
		e.now = delivered.Add(150 * time.Millisecond)
		stamped := delivered.Add(8 * 24 * time.Hour)
		res := e.invokeAt(chaincode.MerchantMSP, stamped, "ReleaseEscrow", map[string]any{"orderId": "ck-1"})
		msg := e.fails(res, chaincode.CodeInvalidArgument)
		require.True(t, strings.HasPrefix(msg, "INVALID_ARGUMENT: timestamp: "), msg)
		require.Contains(t, msg, stamped.Format(time.RFC3339Nano))
		require.Contains(t, msg, e.now.Format(time.RFC3339Nano))
		require.Contains(t, msg, "ahead of")
		require.Equal(t, chaincode.StatusDelivered, e.get(chaincode.BankMSP, "ck-1").Status)
	})
	t.Run("an order stamped a year ahead to pass a yearly limit", func(t *testing.T) {
		e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"yearlyLimit": map[string]int64{"USD": 2 * lcTotal}}, nil))
		e.create("ck-2") // with ck-1, the buyer's yearly limit is used up
		res := e.l.Invoke(e.cc, e.bent(chaincode.MerchantMSP, e.now.AddDate(1, 0, 0), lcOrderPrivate()), "CreateOrder", lcJSON(t, lcCreateReq("ck-3")))
		msg := e.fails(res, chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "timestamp: ")
		require.Nil(t, e.l.State(lcKey("order", "ck-3")))
	})
	t.Run("a timestamp behind the clock", func(t *testing.T) {
		res := e.invokeAt(chaincode.CarrierMSP, e.now.Add(-time.Hour), "RecordCheckpoint", map[string]any{"orderId": "ck-1", "code": "EXCEPTION", "location": "X"})
		msg := e.fails(res, chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "behind")
	})
	t.Run("within the skew", func(t *testing.T) {
		e.ok(e.invokeAt(chaincode.CarrierMSP, e.now.Add(4*time.Minute), "RecordCheckpoint", map[string]any{"orderId": "ck-1", "code": "EXCEPTION", "location": "X"}))
	})
	t.Run("queries are not checked", func(t *testing.T) {
		res := e.l.Evaluate(e.cc, e.bent(chaincode.BankMSP, e.now.AddDate(-3, 0, 0), nil), "GetOrder", "ck-1")
		require.Equal(t, int32(200), res.Status, res.Message)
	})
}

// TestClockSkewOptions checks the options: the default skew, a configured one and 0 (off).
func TestClockSkewOptions(t *testing.T) {
	peer := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return peer }
	e := lcNew(t)
	cases := []struct {
		name   string
		opts   []chaincode.Option
		offset time.Duration
		ok     bool
	}{
		{"default allows 5m", []chaincode.Option{chaincode.WithClock(clock)}, 5 * time.Minute, true},
		{"default refuses 5m1s", []chaincode.Option{chaincode.WithClock(clock)}, 5*time.Minute + time.Second, false},
		{"30s configured", []chaincode.Option{chaincode.WithClock(clock), chaincode.WithMaxClockSkew(30 * time.Second)}, -31 * time.Second, false},
		{"0 disables", []chaincode.Option{chaincode.WithClock(clock), chaincode.WithMaxClockSkew(0)}, 400 * 24 * time.Hour, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cc, err := chaincode.NewChaincode(c.opts...)
			require.NoError(t, err)
			o := e.bent(chaincode.CustomsMSP, peer.Add(c.offset), nil)
			res := e.l.Evaluate(cc, o, "SetComplianceRules", fmt.Sprintf(`{"watchlist":["w-%d"]}`, i))
			if c.ok {
				require.Equal(t, int32(200), res.Status, res.Message)
			} else {
				require.True(t, strings.HasPrefix(res.Message, "INVALID_ARGUMENT: timestamp: "), res.Message)
			}
		})
	}
	require.Equal(t, 5*time.Minute, chaincode.DefaultMaxClockSkew)
}

// TestLifecycleTimesNeverGoBackwards reproduces issue 11.1's delivery stamped before the pickup
// (here within the peer's skew, so only the lifecycle rule stands in the way): a write whose
// timestamp is before the order's last recorded lifecycle time is refused, so deliveredAt ≥
// pickedUpAt ≥ paidAt ≥ createdAt.
func TestLifecycleTimesNeverGoBackwards(t *testing.T) {
	e := lcNew(t)
	o := e.to("tb-1", stInTransit)
	for _, c := range chaincode.CheckpointSequence[1:4] {
		o = e.checkpoint("tb-1", c)
	}
	last, err := time.Parse(time.RFC3339Nano, o.UpdatedAt)
	require.NoError(t, err)
	e.now = last.Add(time.Second)
	res := e.invokeAt(chaincode.CarrierMSP, last.Add(-2*time.Minute), "RecordCheckpoint", map[string]any{"orderId": "tb-1", "code": "DELIVERED", "location": "Berlin"})
	msg := e.fails(res, chaincode.CodeFailedPrecondition)
	require.True(t, strings.HasPrefix(msg, "FAILED_PRECONDITION: timestamp: "), msg)
	require.Contains(t, msg, "logistics.pickedUpAt "+o.Logistics.PickedUpAt)
	require.Empty(t, e.get(chaincode.CarrierMSP, "tb-1").Logistics.DeliveredAt)

	// The same moment as the last write is fine; so is later.
	o = e.ok(e.invokeAt(chaincode.CarrierMSP, last, "RecordCheckpoint", map[string]any{"orderId": "tb-1", "code": "DELIVERED", "location": "Berlin"}))
	times := []string{o.CreatedAt, o.Payment.PaidAt, o.Logistics.PickedUpAt, o.Logistics.DeliveredAt}
	for i := 1; i < len(times); i++ {
		a, _ := time.Parse(time.RFC3339Nano, times[i-1])
		b, _ := time.Parse(time.RFC3339Nano, times[i])
		require.False(t, b.Before(a), "%s before %s", times[i], times[i-1])
	}

	// Steps that record no lifecycle time may arrive in either order: a declaration stamped
	// before the waybill that committed first (two clients working concurrently) is fine.
	e.to("tb-2", stPaid)
	w := e.waybill("tb-2")
	wAt, err := time.Parse(time.RFC3339Nano, w.UpdatedAt)
	require.NoError(t, err)
	e.ok(e.invokeAt(chaincode.MerchantMSP, wAt.Add(-500*time.Millisecond), "DeclareCustoms", lcDeclareReq("tb-2")))

	// A duplicate stamped before the step it duplicates hears about the duplicate first.
	paid := e.get(chaincode.BankMSP, "tb-2")
	paidAt, err := time.Parse(time.RFC3339Nano, paid.Payment.PaidAt)
	require.NoError(t, err)
	dup := lcEscrowReq("tb-2")
	dup["paymentId"] = "pay-tb-2-again"
	res = e.l.Invoke(e.cc, e.bent(chaincode.BankMSP, paidAt.Add(-time.Second), lcPaymentPrivate()), "EscrowPayment", lcJSON(t, dup))
	e.fails(res, chaincode.CodeConflict)

	// A document may not be anchored before its order existed.
	created, _ := time.Parse(time.RFC3339Nano, o.CreatedAt)
	res = e.invokeAt(chaincode.MerchantMSP, created.Add(-time.Second), "AnchorDocument", map[string]any{"sha256": strings.Repeat("01", 32), "orderId": "tb-1", "kind": "INVOICE"})
	require.Equal(t, string(chaincode.CodeFailedPrecondition), lcCode(res), res.Message)
}

// lcEvalPolicy reports whether the organisations in signers (one peer signature each) satisfy a
// signature policy: enough to show which endorsements the escrow key demands.
func lcEvalPolicy(t *testing.T, env *common.SignaturePolicyEnvelope, rule *common.SignaturePolicy, signers map[string]bool) bool {
	t.Helper()
	switch r := rule.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		var role msp.MSPRole
		require.NoError(t, proto.Unmarshal(env.GetIdentities()[r.SignedBy].GetPrincipal(), &role))
		require.Equal(t, msp.MSPRole_PEER, role.GetRole(), "only peers endorse")
		return signers[role.GetMspIdentifier()]
	case *common.SignaturePolicy_NOutOf_:
		n := int32(0)
		for _, sub := range r.NOutOf.GetRules() {
			if lcEvalPolicy(t, env, sub, signers) {
				n++
			}
		}
		return n >= r.NOutOf.GetN()
	}
	t.Fatalf("unexpected rule %v", rule)
	return false
}

// TestEscrowKeyLevelPolicy checks issue 11.1's third defence: the escrow money lives under its
// own key, which carries a key-level endorsement policy (the buyer's side, BankMSP, plus one
// other member) from the order's creation on, every transaction that moves money writes that key,
// and the order's escrow as clients see it comes from it.
func TestEscrowKeyLevelPolicy(t *testing.T) {
	e := lcNew(t)
	e.create("sbe-1")
	key := lcKey("escrow", "sbe-1")
	want, err := chaincode.EscrowPolicyBytes()
	require.NoError(t, err)
	require.Equal(t, want, e.l.ValidationParameter(key), "the order's creation sets the key-level policy, before any money is in escrow")
	res := e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("sbe-1"), lcPaymentPrivate())
	e.ok(res)
	require.Equal(t, res.TxID, e.l.History(key)[0].GetTxId(), "the payment writes the escrow key")
	require.NotContains(t, string(res.WriteSet), "  meta ", "but not its policy")
	param := e.l.ValidationParameter(key)
	require.Equal(t, want, param, "and the policy stays")

	var env common.SignaturePolicyEnvelope
	require.NoError(t, proto.Unmarshal(param, &env))
	for _, c := range []struct {
		signers []string
		ok      bool
	}{
		{[]string{chaincode.BankMSP, chaincode.CustomsMSP}, true},
		{[]string{chaincode.BankMSP, chaincode.MerchantMSP}, true},
		{[]string{chaincode.BankMSP, chaincode.CarrierMSP}, true},
		{[]string{chaincode.BankMSP}, false},
		{[]string{chaincode.MerchantMSP, chaincode.CarrierMSP, chaincode.CustomsMSP}, false},
		{[]string{chaincode.MerchantMSP, chaincode.CarrierMSP}, false},
	} {
		set := map[string]bool{}
		for _, s := range c.signers {
			set[s] = true
		}
		require.Equal(t, c.ok, lcEvalPolicy(t, &env, env.GetRule(), set), "%v", c.signers)
	}

	var rec chaincode.EscrowRecord
	require.NoError(t, json.Unmarshal(e.l.State(key), &rec))
	require.Equal(t, chaincode.EscrowRecord{OrderID: "sbe-1", Currency: "USD", Amount: lcTotal,
		UpdatedAt: rec.UpdatedAt, UpdatedBy: rec.UpdatedBy, UpdatedByMSP: chaincode.BankMSP, TxID: rec.TxID}, rec)

	// Which transactions write the escrow key: exactly those that move money.
	writesEscrow := func(id string, res *shimtest.Result) bool {
		h := e.l.History(lcKey("escrow", id))
		return len(h) > 0 && h[0].GetTxId() == res.TxID
	}
	type step struct {
		name  string
		start lcState
		msp   string
		fn    string
		req   map[string]any
		moves bool
	}
	steps := []step{
		{"confirmation", stDelivered, chaincode.BankMSP, "ConfirmDelivery", nil, true},
		{"dispute resolution", stDisputed, chaincode.BankMSP, "ResolveDispute", map[string]any{"refundAmount": lcTotal}, true},
		{"cancellation refund", stPaid, chaincode.MerchantMSP, "CancelOrder", nil, true},
		{"customs rejection refund", stDocumented, chaincode.CustomsMSP, "DecideCustoms", map[string]any{"decision": "REJECTED", "reason": "prohibited"}, true},
		{"declaration", stPaid, chaincode.MerchantMSP, "DeclareCustoms", nil, false},
		{"checkpoint", stCleared, chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"code": "PICKED_UP", "location": "X"}, false},
		{"dispute opened", stDelivered, chaincode.BankMSP, "OpenDispute", map[string]any{"reason": "late"}, false},
		{"unpaid cancellation", stCreated, chaincode.MerchantMSP, "CancelOrder", nil, false},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			id := fmt.Sprintf("sbe-s%d", i)
			e.to(id, s.start)
			req := map[string]any{"orderId": id}
			if s.fn == "DeclareCustoms" {
				req = lcDeclareReq(id)
			}
			for k, v := range s.req {
				req[k] = v
			}
			res := e.invoke(s.msp, s.fn, req, nil)
			o := e.ok(res)
			require.Equal(t, s.moves, writesEscrow(id, res), "%s writes the escrow key", s.fn)
			// Only the creation writes the policy: a transaction writing a key whose policy an
			// earlier transaction of the same block changed is invalid in Fabric.
			require.NotContains(t, string(res.WriteSet), "  meta ", "%s leaves the key's policy alone", s.fn)
			if s.moves {
				var rec chaincode.EscrowRecord
				require.NoError(t, json.Unmarshal(e.l.State(lcKey("escrow", id)), &rec))
				require.Equal(t, o.Escrow, chaincode.Escrow{Amount: rec.Amount, Released: rec.Released, Refunded: rec.Refunded})
				require.Equal(t, want, e.l.ValidationParameter(lcKey("escrow", id)), "the policy stays on the key")
			}
		})
	}
	t.Run("release after the window", func(t *testing.T) {
		o := e.to("sbe-r", stDelivered)
		e.now = lcDelivered(t, o).Add(time.Duration(o.ConfirmationWindowSeconds) * time.Second)
		res := e.invoke(chaincode.CarrierMSP, "ReleaseEscrow", map[string]any{"orderId": "sbe-r"}, nil)
		e.ok(res)
		require.True(t, writesEscrow("sbe-r", res))
	})

	t.Run("clients see the escrow key, not a forged order record", func(t *testing.T) {
		// Two colluding members could endorse a write of the order record alone (the chaincode
		// policy needs any two), claiming the money was released. The escrow key, which needs
		// the bank's endorsement, still says otherwise, and that is what every read reports.
		o := e.to("sbe-f", stDelivered)
		forged := o
		forged.Status = chaincode.StatusCompleted
		forged.Escrow.Released = forged.Escrow.Amount
		raw, err := json.Marshal(forged)
		require.NoError(t, err)
		e.l.PutStateDirect(lcKey("order", "sbe-f"), raw)
		got := e.get(chaincode.MerchantMSP, "sbe-f")
		require.Equal(t, chaincode.Escrow{Amount: lcTotal}, got.Escrow)
		res := e.evaluate(chaincode.MerchantMSP, "ListOrders", "merchant-1", "", "", "100", "")
		var page chaincode.OrderPage
		require.NoError(t, json.Unmarshal(res.Payload, &page))
		for _, item := range page.Items {
			if item.OrderID == "sbe-f" {
				require.Equal(t, chaincode.Escrow{Amount: lcTotal}, item.Escrow)
			}
		}
	})
}

// TestMerchantTenancy reproduces issue 11.3: identities of one merchant platform (MerchantMSP)
// bound to merchants act and read private buyer data only for those merchants.
func TestMerchantTenancy(t *testing.T) {
	e := lcNew(t)
	two := e.ids.CreatorWithAttrs(chaincode.MerchantMSP, "seller-13", map[string]string{chaincode.MerchantAttribute: "merchant-1, merchant-3"})
	other := e.ids.CreatorWithAttrs(chaincode.MerchantMSP, "seller-2", map[string]string{chaincode.MerchantAttribute: "merchant-2"})
	nothing := e.ids.CreatorWithAttrs(chaincode.MerchantMSP, "seller-x", map[string]string{chaincode.MerchantAttribute: " ,bad id"})
	as := func(creator []byte, fn string, req map[string]any, transient map[string]any) *shimtest.Result {
		o := e.opts(chaincode.MerchantMSP, transient)
		o.Creator = creator
		return e.l.Invoke(e.cc, o, fn, lcJSON(t, req))
	}
	get := func(creator []byte, id string) chaincode.Order {
		o := e.opts(chaincode.MerchantMSP, nil)
		o.Creator = creator
		return e.ok(e.l.Evaluate(e.cc, o, "GetOrder", id))
	}
	withMerchant := func(id, merchant string) map[string]any {
		r := lcCreateReq(id)
		r["merchantId"] = merchant
		return r
	}
	e.ok(as(two, "CreateOrder", withMerchant("tn-1", "merchant-1"), lcOrderPrivate()))
	e.ok(as(two, "CreateOrder", withMerchant("tn-3", "merchant-3"), lcOrderPrivate()))
	msg := e.fails(as(two, "CreateOrder", withMerchant("tn-2", "merchant-2"), lcOrderPrivate()), chaincode.CodeForbidden)
	require.Contains(t, msg, `bound to merchants ["merchant-1", "merchant-3"]`)
	e.fails(as(nothing, "CreateOrder", withMerchant("tn-4", "merchant-1"), lcOrderPrivate()), chaincode.CodeForbidden)

	t.Run("writes for another merchant", func(t *testing.T) {
		e.escrow("tn-1")
		e.fails(as(other, "DeclareCustoms", lcDeclareReq("tn-1"), nil), chaincode.CodeForbidden)
		e.fails(as(other, "CancelOrder", map[string]any{"orderId": "tn-1"}, nil), chaincode.CodeForbidden)
		e.fails(as(other, "AnchorDocument", map[string]any{"sha256": strings.Repeat("0f", 32), "orderId": "tn-1", "kind": "INVOICE"}, nil), chaincode.CodeForbidden)
		e.fails(as(other, "ReleaseEscrow", map[string]any{"orderId": "tn-1"}, nil), chaincode.CodeForbidden)
		e.ok(as(two, "DeclareCustoms", lcDeclareReq("tn-1"), nil))
	})
	t.Run("private reads", func(t *testing.T) {
		require.Empty(t, get(other, "tn-1").Buyer.Name, "another merchant's identity gets public parts only")
		require.Empty(t, get(nothing, "tn-1").Buyer.Name)
		require.Equal(t, lcBuyerName, get(two, "tn-1").Buyer.Name)
		require.Equal(t, lcBuyerName, get(two, "tn-3").Buyer.Name)
		require.Equal(t, lcBuyerName, e.get(chaincode.MerchantMSP, "tn-1").Buyer.Name, "an unbound platform identity reads every merchant's orders")
		require.Equal(t, lcBuyerName, e.get(chaincode.CarrierMSP, "tn-1").Buyer.Name)
		require.Empty(t, e.get(chaincode.BankMSP, "tn-1").Buyer.Name, "not a member of orderPrivate")
	})
}

// TestDisputeBeforeDeliveryOnlyRefunds reproduces issue 11.4: a customs-HELD order with no
// checkpoints, a dispute, and a resolution with refundAmount 0 used to complete the order and
// pay the merchant. Before delivery a resolution may only refund the whole escrow.
func TestDisputeBeforeDeliveryOnlyRefunds(t *testing.T) {
	e := lcNew(t)
	e.to("dp-1", stHeldCustoms)
	e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "dp-1", "reason": "held at customs"}, nil))
	for _, refund := range []int64{0, 1, lcTotal - 1} {
		msg := e.fails(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "dp-1", "refundAmount": refund}, nil), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "refundAmount: must be the whole escrow amount 4000")
	}
	o := e.get(chaincode.BankMSP, "dp-1")
	require.Equal(t, chaincode.StatusDisputed, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal}, o.Escrow)
	o = e.ok(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "dp-1", "refundAmount": lcTotal}, nil))
	require.Equal(t, chaincode.StatusRefunded, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Refunded: lcTotal}, o.Escrow)

	// In transit (cleared, picked up, not delivered): the same rule.
	e.to("dp-2", stInTransit)
	e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "dp-2", "reason": "lost"}, nil))
	e.fails(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "dp-2", "refundAmount": 0}, nil), chaincode.CodeInvalidArgument)

	// After delivery a partial refund releases the rest to the merchant.
	e.to("dp-3", stDelivered)
	e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "dp-3", "reason": "scratched"}, nil))
	o = e.ok(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "dp-3", "refundAmount": 0}, nil))
	require.Equal(t, chaincode.StatusCompleted, o.Status)
}

// TestBookmarksStayInTheirQuery reproduces issue 11.5: a carrier read customs-only alert records
// as "orders" by passing an alert key as ListOrders' bookmark. A bookmark outside the query's key
// range is refused.
func TestBookmarksStayInTheirQuery(t *testing.T) {
	e := lcNew(t)
	e.lcWatchlist()
	e.to("bk-w", stHeldCompl) // records an alert
	for i := 0; i < 3; i++ {
		e.create(fmt.Sprintf("bk-%d", i))
	}
	alertPrefix := "\x00alert\x00"
	cases := []struct {
		name, msp, fn string
		args          []string
	}{
		{"alerts through ListOrders", chaincode.CarrierMSP, "ListOrders", []string{"", "", "", "10", alertPrefix}},
		{"bare alert prefix", chaincode.CarrierMSP, "ListOrders", []string{"", "", "", "10", "\x00alert"}},
		{"another merchant's index", chaincode.MerchantMSP, "ListOrders", []string{"merchant-1", "", "", "10", lcKey("ord~m~s", "merchant-2", "CREATED", "x")}},
		{"another status", chaincode.MerchantMSP, "ListOrders", []string{"", "CREATED", "", "10", lcKey("ord~s", "PAID", "x")}},
		{"a simple key", chaincode.BankMSP, "ListOrders", []string{"", "", "", "10", "order"}},
		{"orders through ListComplianceAlerts", chaincode.CustomsMSP, "ListComplianceAlerts", []string{"10", lcKey("order", "bk-0")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := e.fails(e.evaluate(c.msp, c.fn, c.args...), chaincode.CodeInvalidArgument)
			require.True(t, strings.HasPrefix(msg, "INVALID_ARGUMENT: bookmark: "), msg)
		})
	}
	// A bookmark of the same query works.
	res := e.evaluate(chaincode.CarrierMSP, "ListOrders", "", "", "", "2", "")
	var page chaincode.OrderPage
	require.NoError(t, json.Unmarshal(res.Payload, &page))
	require.NotEmpty(t, page.Bookmark)
	e.ok(e.evaluate(chaincode.CarrierMSP, "ListOrders", "", "", "", "2", page.Bookmark))
}

// TestMoneySanity reproduces issue 11.7: an absurd fee, a 60-second confirmation window and any
// FX rate were accepted.
func TestMoneySanity(t *testing.T) {
	e := lcNew(t)
	e.create("ms-1")
	t.Run("fee above the payer amount", func(t *testing.T) {
		r := lcEscrowReq("ms-1")
		r["fee"] = int64(1)<<53 - 1
		msg := e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", r, lcPaymentPrivate()), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "fee: must not exceed payerAmount 3680")
		r["fee"] = 3680
		e.ok(e.l.Evaluate(e.cc, e.opts(chaincode.BankMSP, lcPaymentPrivate()), "EscrowPayment", lcJSON(t, r)))
	})
	t.Run("a 60-second confirmation window", func(t *testing.T) {
		r := lcCreateReq("ms-2")
		r["confirmationWindowSeconds"] = 60
		msg := e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", r, lcOrderPrivate()), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "confirmationWindowSeconds: must be at least 86400 seconds under the compliance rules (version 0), got 60")
		r["confirmationWindowSeconds"] = 86400
		require.Equal(t, int64(86400), e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", r, lcOrderPrivate())).ConfirmationWindowSeconds)
	})
	t.Run("customs sets the minimum", func(t *testing.T) {
		e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"minConfirmationWindowSeconds": 14 * 86400}, nil))
		r := lcCreateReq("ms-3")
		r["confirmationWindowSeconds"] = 7 * 86400
		e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", r, lcOrderPrivate()), chaincode.CodeInvalidArgument)
		o := e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("ms-4"), lcOrderPrivate()))
		require.Equal(t, int64(14*86400), o.ConfirmationWindowSeconds, "the default window rises to the minimum")
		e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{}, nil))
		var rules chaincode.ComplianceRules
		require.NoError(t, json.Unmarshal(e.evaluate(chaincode.BankMSP, "GetComplianceRules").Payload, &rules))
		require.Equal(t, chaincode.DefaultMinConfirmationWindowSeconds, rules.MinConfirmationWindowSeconds, "unset means the default")
	})
	t.Run("FX bounds", func(t *testing.T) {
		e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"fxRateBounds": map[string]any{"USD/EUR": map[string]string{"min": "0.80", "max": "1.10"}}}, nil))
		e.create("fx-1")
		r := lcEscrowReq("fx-1")
		r["fxRate"], r["payerAmount"] = "1.5", 6000
		msg := e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", r, lcPaymentPrivate()), chaincode.CodeFXOutOfTolerance)
		require.Equal(t, "FX_OUT_OF_TOLERANCE: fxRate: 1.5 is outside the bounds [0.80, 1.10] the compliance rules (version 3) set for USD/EUR", msg)
		r["fxRate"], r["payerAmount"] = "0.5", 2000
		e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", r, lcPaymentPrivate()), chaincode.CodeFXOutOfTolerance)
		e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("fx-1"), lcPaymentPrivate())) // 0.92
	})
	t.Run("FX bounds are validated", func(t *testing.T) {
		for _, c := range []struct {
			bounds map[string]any
			want   string
		}{
			{map[string]any{"USDEUR": map[string]string{"min": "1"}}, "fxRateBounds.USDEUR: must name a currency pair"},
			{map[string]any{"USD/XYZ": map[string]string{"min": "1"}}, "fxRateBounds.USD/XYZ: is not an active ISO 4217"},
			{map[string]any{"USD/USD": map[string]string{"min": "1"}}, "must name two different currencies"},
			{map[string]any{"USD/EUR": map[string]string{}}, "must set min, max or both"},
			{map[string]any{"USD/EUR": map[string]string{"min": "1.2", "max": "1.1"}}, "fxRateBounds.USD/EUR.max: must not be below min"},
			{map[string]any{"USD/EUR": map[string]string{"min": "-1"}}, "fxRateBounds.USD/EUR.min: must be a decimal number"},
		} {
			msg := e.fails(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"fxRateBounds": c.bounds}, nil), chaincode.CodeInvalidArgument)
			require.Contains(t, msg, c.want)
		}
		for _, bad := range []int64{59, chaincode.MaxConfirmationWindowSecs + 1, -1} {
			e.fails(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"minConfirmationWindowSeconds": bad}, nil), chaincode.CodeInvalidArgument)
		}
	})
}

// TestUnicodeNames reproduces issue 11.8: "José Núñez" in NFC (merchant) and NFD (carrier)
// failed the three-document match, and damaged text was stored as U+FFFD.
func TestUnicodeNames(t *testing.T) {
	e := lcNew(t)
	nfc, nfd := "Jos\u00e9 N\u00fa\u00f1ez", "Jose\u0301 Nu\u0301n\u0303ez"
	require.NotEqual(t, nfc, nfd)
	p := lcOrderPrivate()
	p[chaincode.TransientOrderPrivate].(map[string]any)["name"] = nfc
	e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("u-1"), p))
	e.escrow("u-1")
	e.declare("u-1")
	e.ok(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": "u-1", "waybillNo": "WB-u-1"}, lcWaybillPrivate(nfd)))
	require.Equal(t, chaincode.StatusCleared, e.decide("u-1", chaincode.DecisionCleared).Status, "the match compares NFC forms")

	cases := []struct {
		name, raw, field string
	}{
		{"invalid UTF-8 bytes", `{"orderId":"u-2","merchantId":"merchant-1","buyer":{"id":"buyer-1","country":"DE"},"sellerCountry":"CN","currency":"USD","items":[{"sku":"S","name":"Wid` + "\xff" + `get","hsCode":"850440","quantity":1,"unitPrice":1}],"shippingFee":0}`, "items[0].name"},
		{"a lone surrogate", `{"orderId":"u-2","merchantId":"merchant-1","buyer":{"id":"buyer-1","country":"DE"},"sellerCountry":"CN","currency":"USD","items":[{"sku":"S","name":"Wid\ud800get","hsCode":"850440","quantity":1,"unitPrice":1}],"shippingFee":0}`, "items[0].name"},
		{"a replacement character", `{"orderId":"u-2","merchantId":"merchant-1","buyer":{"id":"buyer-1","country":"DE"},"sellerCountry":"CN","currency":"USD","items":[{"sku":"S","name":"Wid` + "\uFFFD" + `get","hsCode":"850440","quantity":1,"unitPrice":1}],"shippingFee":0}`, "items[0].name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.l.Invoke(e.cc, e.opts(chaincode.MerchantMSP, lcOrderPrivate()), "CreateOrder", c.raw)
			msg := e.fails(res, chaincode.CodeInvalidArgument)
			require.True(t, strings.HasPrefix(msg, "INVALID_ARGUMENT: "+c.field+": "), msg)
		})
	}
	t.Run("transient values", func(t *testing.T) {
		o := e.opts(chaincode.MerchantMSP, nil)
		o.Transient = map[string][]byte{chaincode.TransientOrderPrivate: []byte(`{"name":"Anna \udc00","address":"Berlin","phone":"1","salt":"` + lcSalt + `"}`)}
		msg := e.fails(e.l.Invoke(e.cc, o, "CreateOrder", lcJSON(t, lcCreateReq("u-3"))), chaincode.CodeInvalidArgument)
		require.True(t, strings.HasPrefix(msg, "INVALID_ARGUMENT: transient.order_private.name: "), msg)
	})
	t.Run("map keys and nested values", func(t *testing.T) {
		msg := e.fails(e.l.Invoke(e.cc, e.opts(chaincode.CustomsMSP, nil), "SetComplianceRules", `{"fxRateBounds":{"USD/EUR":{"min":"1\ud800"}}}`), chaincode.CodeInvalidArgument)
		require.True(t, strings.HasPrefix(msg, "INVALID_ARGUMENT: fxRateBounds.USD/EUR.min: "), msg)
		msg = e.fails(e.l.Invoke(e.cc, e.opts(chaincode.CustomsMSP, nil), "SetComplianceRules", `{"singleOrderLimit":{"US\ud800":5}}`), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "singleOrderLimit.US")
	})
	require.Nil(t, e.l.State(lcKey("order", "u-2")))
}
