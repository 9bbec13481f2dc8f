package chaincode_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// lcPropOrders is the number of orders each property run works on.
const lcPropOrders = 3

// lcCheckedIDs returns the order IDs lcCheckLedger inspects: the property orders and cc-1.
func lcCheckedIDs() []string {
	ids := []string{"cc-1"}
	for i := 0; i < lcPropOrders; i++ {
		ids = append(ids, fmt.Sprintf("po-%d", i))
	}
	return ids
}

// lcStored reads an order straight from committed state.
func lcStored(t lcT, l *shimtest.Ledger, id string) (chaincode.Order, bool) {
	t.Helper()
	b := l.State("\x00order\x00" + id + "\x00")
	if b == nil {
		return chaincode.Order{}, false
	}
	var o chaincode.Order
	require.NoError(t, json.Unmarshal(b, &o))
	return o, true
}

// lcRandomOp draws one lifecycle operation on one of the orders: the function, the caller, the
// request and the transient data. Callers are mostly the right organisation, sometimes any.
func lcRandomOp(rt *rapid.T, e *lcEnv) (string, string, map[string]any, map[string]any) {
	id := fmt.Sprintf("po-%d", rapid.IntRange(0, lcPropOrders-1).Draw(rt, "order"))
	guided := rapid.IntRange(0, 9).Draw(rt, "guided") < 9
	var op string
	if guided {
		op = lcNextOp(rt, e, id)
	} else {
		op = rapid.SampledFrom([]string{"create", "escrow", "declare", "waybill", "decide", "checkpoint", "confirm", "release", "dispute", "resolve", "cancel", "statement"}).Draw(rt, "op")
	}
	var fn, msp string
	var req, transient map[string]any
	switch op {
	case "create":
		fn, msp, req, transient = "CreateOrder", chaincode.MerchantMSP, lcCreateReq(id), lcOrderPrivate()
		req["items"].([]map[string]any)[0]["quantity"] = rapid.Int64Range(1, 5).Draw(rt, "qty")
		lcRandomTerms(rt, e, req)
	case "statement":
		fn, msp, req = lcRandomStatement(rt, e, id)
	case "escrow":
		fn, msp, transient = "EscrowPayment", chaincode.BankMSP, lcPaymentPrivate()
		req = map[string]any{"orderId": id, "paymentId": fmt.Sprintf("pay-%s-%d", id, rapid.IntRange(0, 2).Draw(rt, "payment")), "payerCurrency": "USD", "fxRate": "1"}
		if o, ok := lcStored(rt, e.l, id); ok {
			req["payerAmount"] = o.Total
			if !guided {
				req["payerAmount"] = o.Total + rapid.SampledFrom([]int64{0, 1}).Draw(rt, "skew")
			}
		} else {
			req["payerAmount"] = 100
		}
	case "declare":
		fn, msp, req = "DeclareCustoms", chaincode.MerchantMSP, lcDeclareReq(id)
		if o, ok := lcStored(rt, e.l, id); ok && (guided || rapid.Bool().Draw(rt, "rightValue")) {
			req["declaredValue"] = o.Total
		}
	case "waybill":
		name := lcBuyerName
		if !guided {
			name = rapid.SampledFrom([]string{lcBuyerName, "Other Person"}).Draw(rt, "consignee")
		}
		fn, msp, req, transient = "RegisterWaybill", chaincode.CarrierMSP, map[string]any{"orderId": id, "waybillNo": "WB-" + id}, lcWaybillPrivate(name)
	case "decide":
		d := "CLEARED"
		if !guided || rapid.IntRange(0, 9).Draw(rt, "sideDecision") == 9 {
			d = rapid.SampledFrom([]string{"CLEARED", "HELD", "REJECTED"}).Draw(rt, "decision")
		}
		fn, msp, req = "DecideCustoms", chaincode.CustomsMSP, map[string]any{"orderId": id, "decision": d}
		if d != "CLEARED" {
			req["reason"] = "inspection"
		}
	case "checkpoint":
		code := rapid.SampledFrom(append(slices.Clone(chaincode.CheckpointSequence), chaincode.CheckpointException)).Draw(rt, "code")
		if o, ok := lcStored(rt, e.l, id); ok && rapid.IntRange(0, 3).Draw(rt, "next") > 0 {
			i := slices.Index(chaincode.CheckpointSequence, o.Logistics.LastCheckpoint) + 1
			if i < len(chaincode.CheckpointSequence) {
				code = chaincode.CheckpointSequence[i]
			}
		}
		fn, msp, req = "RecordCheckpoint", chaincode.CarrierMSP, map[string]any{"orderId": id, "code": code, "location": "somewhere"}
	case "confirm":
		fn, msp, req = "ConfirmDelivery", chaincode.BankMSP, map[string]any{"orderId": id}
	case "release":
		e.now = e.now.Add(time.Duration(rapid.IntRange(0, 10).Draw(rt, "days")) * 24 * time.Hour)
		fn, msp, req = "ReleaseEscrow", rapid.SampledFrom(chaincode.Organisations).Draw(rt, "releaser"), map[string]any{"orderId": id}
	case "dispute":
		fn, msp, req = "OpenDispute", chaincode.BankMSP, map[string]any{"orderId": id, "reason": "complaint"}
	case "resolve":
		fn, msp = "ResolveDispute", chaincode.BankMSP
		refund := int64(0)
		if o, ok := lcStored(rt, e.l, id); ok {
			refund = rapid.Int64Range(0, o.Escrow.Amount+1).Draw(rt, "refund")
		}
		req = map[string]any{"orderId": id, "refundAmount": refund}
	case "cancel":
		fn, msp, req = "CancelOrder", rapid.SampledFrom([]string{chaincode.MerchantMSP, chaincode.BankMSP}).Draw(rt, "canceller"), map[string]any{"orderId": id}
	}
	if rapid.IntRange(0, 9).Draw(rt, "wrongOrg") == 0 {
		msp = rapid.SampledFrom(append(slices.Clone(chaincode.Organisations), lcOutsider)).Draw(rt, "anyOrg")
	}
	return fn, msp, req, transient
}

// lcNextOp returns the operation that moves order id forward on the happy path (with the
// occasional dispute, hold or cancellation).
func lcNextOp(rt *rapid.T, e *lcEnv, id string) string {
	o, ok := lcStored(rt, e.l, id)
	if !ok {
		return "create"
	}
	// rapid favours small values: the rare branches are at the top of the range.
	side := 19 - rapid.IntRange(0, 19).Draw(rt, "side")
	switch o.Status {
	case chaincode.StatusCreated:
		if side == 0 {
			return "cancel"
		}
		return "escrow"
	case chaincode.StatusPaid, chaincode.StatusDocumented:
		switch {
		case side == 0:
			return "dispute"
		case side == 1:
			return "cancel"
		case !o.Documents.Declared:
			return "declare"
		case !o.Documents.Waybilled:
			return "waybill"
		}
		return rapid.SampledFrom([]string{"decide", "decide", "declare", "waybill"}).Draw(rt, "matchOrFix")
	case chaincode.StatusHeld:
		return "decide"
	case chaincode.StatusCleared, chaincode.StatusInTransit:
		switch side {
		case 0:
			return "dispute"
		case 1, 2:
			return rapid.SampledFrom([]string{"statement", "cancel", "release"}).Draw(rt, "late")
		}
		return "checkpoint"
	case chaincode.StatusDelivered:
		return rapid.SampledFrom([]string{"confirm", "release", "release", "dispute", "statement", "statement"}).Draw(rt, "settle")
	case chaincode.StatusDisputed:
		return "resolve"
	}
	return "create"
}

// lcRandomTerms gives a new order random payment terms, a buyer key and deadlines (the property
// tests' rules let any merchant offer any terms).
func lcRandomTerms(rt *rapid.T, e *lcEnv, req map[string]any) {
	switch rapid.IntRange(0, 3).Draw(rt, "terms") {
	case 1:
		req["paymentTerms"] = map[string]any{"kind": chaincode.TermsMilestones, "clearanceShareBps": rapid.Int64Range(1, 9000).Draw(rt, "share")}
	case 2:
		req["paymentTerms"] = map[string]any{"kind": chaincode.TermsAutoRelease, "autoReleaseDays": rapid.Int64Range(1, 5).Draw(rt, "days")}
	case 3:
		req["paymentTerms"] = map[string]any{"kind": chaincode.TermsFullEscrow}
	}
	if rapid.IntRange(0, 2).Draw(rt, "keyed") < 2 {
		req["buyer"].(map[string]any)["publicKey"] = lcBuyerJWK()
	}
	if rapid.Bool().Draw(rt, "deadlines") {
		ship := e.now.Add(time.Duration(rapid.IntRange(1, 72).Draw(rt, "shipHours")) * time.Hour)
		deliver := ship.Add(time.Duration(rapid.IntRange(0, 120).Draw(rt, "deliverHours")) * time.Hour)
		req["deadlines"] = map[string]any{"shipBy": ship.Format(time.RFC3339), "deliverBy": deliver.Format(time.RFC3339)}
	}
}

// lcRandomStatement draws a buyer statement about order id: mostly signed by the buyer's key at
// the order's version, sometimes stale, expired or signed for another order.
func lcRandomStatement(rt *rapid.T, e *lcEnv, id string) (string, string, map[string]any) {
	action := rapid.SampledFrom(chaincode.StatementActions).Draw(rt, "action")
	version := int64(1)
	if o, ok := lcStored(rt, e.l, id); ok {
		version = o.Version - rapid.SampledFrom([]int64{0, 0, 0, 1}).Draw(rt, "stale")
	}
	// rapid favours small draws: mostly valid for two days, rarely already expired.
	expires := e.now.Add(time.Duration(48-rapid.IntRange(0, 49).Draw(rt, "expiresHours")) * time.Hour)
	about := id
	if rapid.IntRange(0, 9).Draw(rt, "otherOrder") == 0 {
		about = fmt.Sprintf("po-%d", rapid.IntRange(0, lcPropOrders-1).Draw(rt, "about"))
	}
	st := lcStatement(about, action, max(version, 1), fmt.Sprintf("prop-nonce-%06d", rapid.IntRange(0, 30).Draw(rt, "nonce")), expires)
	req := lcSignedStatement(rt, st)
	req["orderId"] = id
	return "SubmitBuyerStatement", rapid.SampledFrom(lcWriters).Draw(rt, "relay"), req
}

// lcCheckLedger asserts the money invariants on every order, that final orders never change,
// and that no order was paid twice (at most one PaymentEscrowed event per order).
func lcCheckLedger(t lcT, l *shimtest.Ledger, finals map[string]string, scanEvents bool) {
	t.Helper()
	payments := map[string]int{}
	events := l.Events()
	if !scanEvents {
		events = nil
	}
	for _, ev := range events {
		if ev.EventName == chaincode.EventPaymentEscrowed {
			var p chaincode.OrderEvent
			require.NoError(t, json.Unmarshal(ev.Payload, &p))
			payments[p.OrderID]++
		}
	}
	for _, id := range lcCheckedIDs() {
		o, ok := lcStored(t, l, id)
		if !ok {
			continue
		}
		lcConserved(t, o)
		lcCheckEscrowKey(t, l, o)
		require.Contains(t, chaincode.Statuses, o.Status)
		require.LessOrEqual(t, payments[id], 1, "order %s paid twice", id)
		if o.Payment != nil {
			require.Equal(t, o.Total, o.Escrow.Amount)
		} else {
			require.Zero(t, o.Escrow.Amount)
		}
		// The order counts toward its buyer's yearly compliance usage unless it ended without
		// the merchant keeping the money.
		created, err := time.Parse(time.RFC3339Nano, o.CreatedAt)
		require.NoError(t, err)
		usage := l.State(lcKey("compliance~usage", o.Buyer.ID, fmt.Sprint(created.Year()), o.Currency, id))
		switch o.Status {
		case chaincode.StatusCancelled, chaincode.StatusRejected, chaincode.StatusRefunded:
			require.Nil(t, usage, "order %s is %s but still counts toward the yearly limit", id, o.Status)
		default:
			require.NotNil(t, usage, "order %s (%s) has no compliance usage", id, o.Status)
			var u chaincode.ComplianceUsage
			require.NoError(t, json.Unmarshal(usage, &u))
			require.Equal(t, o.Total, u.Total, "usage of order %s", id)
		}
		raw := string(l.State("\x00order\x00" + id + "\x00"))
		if prev, ok := finals[id]; ok {
			require.Equal(t, prev, raw, "final order %s changed", id)
		} else if chaincode.IsFinalStatus(o.Status) {
			finals[id] = raw
		}
	}
}

// lcCheckEscrowKey asserts that the order's escrow key, the money clients see, agrees with the
// order record, and that under MILESTONES terms a cleared order released its share (which no
// refund took back).
func lcCheckEscrowKey(t lcT, l *shimtest.Ledger, o chaincode.Order) {
	t.Helper()
	var rec chaincode.EscrowRecord
	require.NoError(t, json.Unmarshal(l.State(lcKey("escrow", o.OrderID)), &rec))
	require.Equal(t, o.Escrow, chaincode.Escrow{Amount: rec.Amount, Released: rec.Released, Refunded: rec.Refunded}, "escrow key of %s", o.OrderID)
	if o.PaymentTerms == nil || o.PaymentTerms.Kind != chaincode.TermsMilestones || !o.Customs.Cleared {
		return
	}
	share := o.Escrow.Amount / 10000 * o.PaymentTerms.ClearanceShareBps
	share += o.Escrow.Amount % 10000 * o.PaymentTerms.ClearanceShareBps / 10000
	require.GreaterOrEqual(t, o.Escrow.Released, share, "order %s released its milestone share at clearance", o.OrderID)
	if o.Status != chaincode.StatusCompleted {
		require.Equal(t, share, o.Escrow.Released, "order %s: only the milestone share is released before completion", o.OrderID)
	}
}

// TestPropertyConservation applies random sequences of lifecycle operations (right and wrong
// callers, right and wrong amounts, any order) to a few orders and checks after every step that
// every answer is a coded result and the money invariants hold.
func TestPropertyConservation(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := lcNew(rt)
		e.lcTermsRules(0, 9000)
		finals := map[string]string{}
		steps := lcPropSteps - rapid.IntRange(0, lcPropSteps/2).Draw(rt, "fewerSteps")
		for i := 0; i < steps; i++ {
			fn, msp, req, transient := lcRandomOp(rt, e)
			res := e.invoke(msp, fn, req, transient)
			if res.Status != 200 {
				code, _, _ := strings.Cut(res.Message, ": ")
				require.Contains(rt, []string{"INVALID_ARGUMENT", "NOT_FOUND", "FORBIDDEN", "CONFLICT", "FAILED_PRECONDITION", "VERSION_MISMATCH"}, code, "%s: %s", fn, res.Message)
			} else {
				require.NoError(rt, res.Err)
				require.NotNil(rt, res.Event, fn)
			}
			lcCheckLedger(rt, e.l, finals, false)
		}
		lcCheckLedger(rt, e.l, finals, true)
	})
}

// TestPropertyConcurrency simulates several transactions against the same committed state, as
// endorsers do, then commits them in a random order. The ledger's MVCC check must reject every
// transaction that read a key an earlier commit changed: at most one transaction per order
// commits, a transaction alone on its order always commits, and money stays conserved.
func TestPropertyConcurrency(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := lcNew(rt)
		e.lcTermsRules(0, 9000)
		e.createChange = func(req map[string]any) { lcRandomTerms(rt, e, req) }
		finals := map[string]string{}
		for i := 0; i < lcPropOrders; i++ {
			e.to(fmt.Sprintf("po-%d", i), rapid.SampledFrom([]lcState{stCreated, stPaid, stDocumented, stCleared, stInTransit, stDelivered, stDisputed}).Draw(rt, "start"))
		}
		n := rapid.IntRange(2, 8).Draw(rt, "concurrent")
		type sim struct {
			id  string
			res *shimtest.Result
		}
		var sims []sim
		for i := 0; i < n; i++ {
			fn, msp, req, transient := lcRandomOp(rt, e)
			stub := e.l.NewStub(e.opts(msp, transient), fn, lcJSON(rt, req))
			resp := e.cc.Invoke(stub)
			if resp.GetStatus() == 200 && fn != "CreateOrder" {
				sims = append(sims, sim{id: req["orderId"].(string), res: &shimtest.Result{Status: resp.GetStatus(), Stub: stub}})
			}
		}
		perm := rapid.Permutation(sims).Draw(rt, "commitOrder")
		committed := map[string]int{}
		attempts := map[string]int{}
		for _, s := range sims {
			attempts[s.id]++
		}
		for _, s := range perm {
			err := e.l.Commit(s.res.Stub)
			if err == nil {
				committed[s.id]++
				continue
			}
			require.True(rt, errors.Is(err, shimtest.ErrMVCCConflict), "commit error %v", err)
		}
		for id, c := range committed {
			require.LessOrEqual(rt, c, 1, "order %s: %d concurrent transactions committed", id, c)
		}
		for id, a := range attempts {
			if a == 1 {
				require.Equal(rt, 1, committed[id], "order %s: a lone transaction must commit", id)
			}
		}
		lcCheckLedger(rt, e.l, finals, true)
	})
}

// TestConcurrentConflicts simulates pairs of conflicting transactions against the same
// committed state and commits both: the second always fails MVCC validation, so an order is
// never paid twice, released twice, or released and refunded.
func TestConcurrentConflicts(t *testing.T) {
	type call struct {
		msp, fn   string
		req       map[string]any
		transient map[string]any
	}
	cases := []struct {
		name  string
		start lcState
		a, b  call
	}{
		{"two payments", stCreated,
			call{chaincode.BankMSP, "EscrowPayment", lcEscrowReq("cc-1"), lcPaymentPrivate()},
			call{chaincode.BankMSP, "EscrowPayment", func() map[string]any { r := lcEscrowReq("cc-1"); r["paymentId"] = "other"; return r }(), lcPaymentPrivate()}},
		{"confirm and dispute", stDelivered,
			call{chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "cc-1"}, nil},
			call{chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "cc-1", "reason": "broken"}, nil}},
		{"cancel and customs rejection", stDocumented,
			call{chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": "cc-1"}, nil},
			call{chaincode.CustomsMSP, "DecideCustoms", map[string]any{"orderId": "cc-1", "decision": "REJECTED", "reason": "prohibited"}, nil}},
		{"two confirmations", stDelivered,
			call{chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "cc-1"}, nil},
			call{chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "cc-1"}, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := lcNew(t)
			e.to("cc-1", c.start)
			sa := e.l.NewStub(e.opts(c.a.msp, c.a.transient), c.a.fn, lcJSON(t, c.a.req))
			sb := e.l.NewStub(e.opts(c.b.msp, c.b.transient), c.b.fn, lcJSON(t, c.b.req))
			ra, rb := e.cc.Invoke(sa), e.cc.Invoke(sb)
			require.Equal(t, int32(200), ra.GetStatus(), ra.GetMessage())
			require.Equal(t, int32(200), rb.GetStatus(), rb.GetMessage())
			require.NoError(t, e.l.Commit(sb))
			require.ErrorIs(t, e.l.Commit(sa), shimtest.ErrMVCCConflict)
			o, ok := lcStored(t, e.l, "cc-1")
			require.True(t, ok)
			lcConserved(t, o)
			lcCheckLedger(t, e.l, map[string]string{}, true)
		})
	}
}
