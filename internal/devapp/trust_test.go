package devapp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet/msp"
)

// The attacks of issue 11 that HTTP cannot express: a consortium member controls its own client,
// so it can stamp a proposal with any time, enrol identities of its own organisation, and choose
// which peers endorse. Each test builds the proposal by hand (channel header with the forged
// timestamp, signature header with the member's certificate and a fresh nonce, the chaincode
// invocation), signs it with the member's real ECDSA key and sends it through the Fabric
// Gateway SDK to the devnet running the real chaincode. Every attack is refused, and the
// order's escrow is what it was.

// forgerAs connects a testkit.Forger to mspID's peer, signing as id (the organisation's user
// when nil).
func (e *env) forgerAs(t *testing.T, mspID string, id *msp.Identity) *testkit.Forger {
	t.Helper()
	if id == nil {
		var err error
		id, err = e.app.Network.ClientSigner(mspID)
		require.NoError(t, err)
	}
	conn, err := e.app.Network.ClientConnection(mspID)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	f, err := testkit.NewForger(conn, id, e.app.Network.Channel(), devapp.ChaincodeName)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// buyerRecord is the transient buyer record of a hand-built CreateOrder.
func buyerRecord(t *testing.T) map[string]any {
	t.Helper()
	r, err := testkit.BuyerRecord(testkit.NewOrder(""))
	require.NoError(t, err)
	return r
}

// money is what an order's escrow holds: its status and escrow amount, released and refunded.
type money struct {
	status string
	escrow []float64
}

func (e *env) money(t *testing.T, id string) money {
	t.Helper()
	o := e.with(t).mustStatus(http.StatusOK, bank, http.MethodGet, "/api/v1/orders/"+id, nil).JSON(t)
	s, _ := o["status"].(string)
	return money{status: s, escrow: testkit.Escrow(t, o)}
}

// delivered takes order id through payment, clearance and every checkpoint.
func (e *env) delivered(t *testing.T, id string) {
	t.Helper()
	v := e.with(t)
	o := testkit.NewOrder(id)
	v.client.CreateAndPay(t, o)
	v.client.DocumentAndClear(t, o, testkit.ClearedDecision())
	v.client.Deliver(t, o)
}

// TestForgedTimestamps reproduces issue 11.1 through the Gateway SDK: proposals whose
// timestamp is far from the endorsing peers' clocks are refused (INVALID_ARGUMENT naming
// "timestamp"), and a timestamp within the allowed skew still cannot move a lifecycle time
// backwards or open the release window early.
func TestForgedTimestamps(t *testing.T) {
	e := startEnv(t, "")
	e.delivered(t, "tt-delivered")
	transit := testkit.NewOrder("tt-transit")
	e.client.CreateAndPay(t, transit)
	e.client.DocumentAndClear(t, transit, testkit.ClearedDecision())
	for _, code := range testkit.Checkpoints[:len(testkit.Checkpoints)-1] {
		e.mustStatus(http.StatusOK, carrier, http.MethodPost, "/api/v1/orders/tt-transit/checkpoints", testkit.CheckpointBody(code))
	}
	// A buyer at the yearly limit: two orders of 3000 USD cents under a limit of 6000.
	e.mustStatus(http.StatusOK, customs, http.MethodPut, "/api/v1/compliance/rules", map[string]any{"yearlyLimit": map[string]any{"USD": 6000}})
	sameBuyer := func(id string, public bool) map[string]any {
		b := testkit.NewOrder(id).CreateBody()
		if public {
			b = testkit.NewOrder(id).PublicCreateBody()
		}
		b["buyer"].(map[string]any)["id"] = "buyer-yearly"
		return b
	}
	for _, id := range []string{"tt-year-1", "tt-year-2"} {
		e.mustStatus(http.StatusCreated, merchant, http.MethodPost, "/api/v1/orders", sameBuyer(id, false))
	}
	r := e.mustStatus(http.StatusUnprocessableEntity, merchant, http.MethodPost, "/api/v1/orders", sameBuyer("tt-year-3", false))
	require.Contains(t, r.String(), "COMPLIANCE_REJECTED")

	create := sameBuyer("tt-year-3", true)
	now := time.Now()
	tests := []struct {
		name    string
		org     string
		order   string
		p       testkit.Forged
		refusal string
	}{
		{"a merchant releases the escrow stamped eight days after delivery", merchant, "tt-delivered",
			testkit.Forged{Fn: "ReleaseEscrow", Arg: map[string]any{"orderId": "tt-delivered"}, Stamped: now.Add(8 * 24 * time.Hour)},
			"INVALID_ARGUMENT: timestamp: "},
		{"a merchant releases the escrow stamped within the skew, before the window ends", merchant, "tt-delivered",
			testkit.Forged{Fn: "ReleaseEscrow", Arg: map[string]any{"orderId": "tt-delivered"}, Stamped: now.Add(4 * time.Minute)},
			"FAILED_PRECONDITION: "},
		{"a carrier delivers stamped eight days ago, before the pick-up", carrier, "tt-transit",
			testkit.Forged{Fn: "RecordCheckpoint", Arg: map[string]any{"orderId": "tt-transit", "code": "DELIVERED", "location": "Door"}, Stamped: now.Add(-8 * 24 * time.Hour)},
			"INVALID_ARGUMENT: timestamp: "},
		{"a carrier delivers stamped within the skew, before the pick-up", carrier, "tt-transit",
			testkit.Forged{Fn: "RecordCheckpoint", Arg: map[string]any{"orderId": "tt-transit", "code": "DELIVERED", "location": "Door"}, Stamped: now.Add(-4 * time.Minute)},
			"FAILED_PRECONDITION: "},
		{"a merchant creates an order stamped a year ahead to pass the yearly limit", merchant, "",
			testkit.Forged{Fn: "CreateOrder", Arg: create, Transient: buyerRecord(t), Stamped: now.AddDate(1, 0, 0),
				Endorsers: []string{merchant, carrier}},
			"INVALID_ARGUMENT: timestamp: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before money
			if tc.order != "" {
				before = e.money(t, tc.order)
			}
			msg := e.forgerAs(t, tc.org, nil).Refused(t, tc.p)
			require.Contains(t, msg, tc.refusal)
			if tc.order != "" {
				require.Equal(t, before, e.money(t, tc.order), "the order and its escrow are unchanged")
			}
		})
	}
	e.mustStatus(http.StatusNotFound, merchant, http.MethodGet, "/api/v1/orders/tt-year-3", nil)
}

// TestMerchantBoundIdentity reproduces issue 11.3 with a certificate a merchant platform's CA
// issues with the xborder.merchantId attribute, as Fabric CA does: the identity acts and reads
// the buyer's private data for its own merchant only.
func TestMerchantBoundIdentity(t *testing.T) {
	e := startEnv(t, "")
	e.createAndPay("tb-victim") // merchant-1's order
	id, err := e.app.Network.IssueClient(merchant, "shop-9@merchant.xborder.example", map[string]string{"xborder.merchantId": "merchant-9"})
	require.NoError(t, err)
	f := e.forgerAs(t, merchant, id)
	now := time.Now()
	own := testkit.NewOrder("tb-own")
	own.MerchantID = "merchant-9"
	createOwn := own.PublicCreateBody()
	other := testkit.NewOrder("tb-other").PublicCreateBody()

	tests := []struct {
		name string
		p    testkit.Forged
	}{
		{"creates an order of another merchant", testkit.Forged{Fn: "CreateOrder", Arg: other, Transient: buyerRecord(t), Stamped: now, Endorsers: []string{merchant, carrier}}},
		{"cancels another merchant's paid order", testkit.Forged{Fn: "CancelOrder", Arg: map[string]any{"orderId": "tb-victim"}, Stamped: now}},
		{"declares another merchant's order", testkit.Forged{Fn: "DeclareCustoms", Arg: testkit.NewOrder("tb-victim").DeclarationBody(), Stamped: now}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.money(t, "tb-victim")
			if tc.p.Fn == "DeclareCustoms" {
				tc.p.Arg.(map[string]any)["orderId"] = "tb-victim"
			}
			msg := f.Refused(t, tc.p)
			require.Contains(t, msg, "FORBIDDEN: ")
			require.Equal(t, before, e.money(t, "tb-victim"))
		})
	}
	e.mustStatus(http.StatusNotFound, merchant, http.MethodGet, "/api/v1/orders/tb-other", nil)

	t.Run("reads another merchant's order without its buyer's private data", func(t *testing.T) {
		var got struct {
			Buyer map[string]any `json:"buyer"`
		}
		require.NoError(t, json.Unmarshal(f.Evaluate(t, testkit.Forged{Fn: "GetOrder", Arg: "tb-victim", Stamped: now}), &got))
		require.Equal(t, "buyer-tb-victim", got.Buyer["id"])
		for _, k := range []string{"name", "address", "phone"} {
			require.Empty(t, got.Buyer[k], k)
		}
	})
	t.Run("acts and reads for its own merchant", func(t *testing.T) {
		require.Equal(t, peer.TxValidationCode_VALID, f.Commit(t, testkit.Forged{Fn: "CreateOrder", Arg: createOwn, Transient: buyerRecord(t), Stamped: time.Now(),
			Endorsers: []string{merchant, carrier}}))
		var got struct {
			Buyer map[string]any `json:"buyer"`
		}
		require.NoError(t, json.Unmarshal(f.Evaluate(t, testkit.Forged{Fn: "GetOrder", Arg: "tb-own", Stamped: time.Now()}), &got))
		require.Equal(t, own.BuyerName, got.Buyer["name"])
	})
}

// TestEscrowNeedsTheBank reproduces issue 11.1's last point: money leaves escrow only with the
// endorsement of BankMSP's peer (the escrow key's key-level policy). Members that endorse a
// release or refund among themselves, which the chaincode policy (any two organisations)
// would accept, are invalidated at commit with ENDORSEMENT_POLICY_FAILURE and the escrow is
// unchanged; a write that moves no money needs no bank.
func TestEscrowNeedsTheBank(t *testing.T) {
	e := startEnv(t, "")
	e.delivered(t, "te-delivered")
	e.createAndPay("te-paid")
	rejected := testkit.NewOrder("te-rejected")
	e.client.CreateAndPay(t, rejected)
	e.mustStatus(http.StatusOK, merchant, http.MethodPost, "/api/v1/orders/te-rejected/customs/declaration", rejected.DeclarationBody())
	e.mustStatus(http.StatusOK, carrier, http.MethodPost, "/api/v1/orders/te-rejected/waybill", rejected.WaybillBody())

	tests := []struct {
		name  string
		org   string
		order string
		p     testkit.Forged
		want  peer.TxValidationCode
	}{
		{"the bank's own release endorsed by merchant and carrier peers", bank, "te-delivered",
			testkit.Forged{Fn: "ConfirmDelivery", Arg: map[string]any{"orderId": "te-delivered"}, Endorsers: []string{merchant, carrier}},
			peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"a merchant's cancellation refund endorsed by merchant and carrier peers", merchant, "te-paid",
			testkit.Forged{Fn: "CancelOrder", Arg: map[string]any{"orderId": "te-paid"}, Endorsers: []string{merchant, carrier}},
			peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"a customs rejection refund endorsed by customs and carrier peers", customs, "te-rejected",
			testkit.Forged{Fn: "DecideCustoms", Arg: map[string]any{"orderId": "te-rejected", "decision": "REJECTED", "reason": "prohibited"}, Endorsers: []string{customs, carrier}},
			peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the bank's dispute, which moves no money, endorsed by customs and carrier peers", bank, "te-delivered",
			testkit.Forged{Fn: "OpenDispute", Arg: map[string]any{"orderId": "te-delivered", "reason": "damaged"}, Endorsers: []string{customs, carrier}},
			peer.TxValidationCode_VALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.money(t, tc.order)
			tc.p.Stamped = time.Now()
			require.Equal(t, tc.want, e.forgerAs(t, tc.org, nil).Commit(t, tc.p))
			after := e.money(t, tc.order)
			require.Equal(t, before.escrow, after.escrow, "no money moved")
			if tc.want != peer.TxValidationCode_VALID {
				require.Equal(t, before.status, after.status)
			}
		})
	}
}

// TestPrivateWritesStayWithMembers checks, with RegulatorMSP a member of paymentPrivate, that
// the gateway still has private writes endorsed by collection members the endorsement policy
// names (so transient data reaches no other peer and the regulator's peer endorses nothing),
// and that the regulator reads the payer's data but not the buyer's.
func TestPrivateWritesStayWithMembers(t *testing.T) {
	e := startEnv(t, "")
	o := testkit.NewOrder("tp-1")
	created := e.mustStatus(http.StatusCreated, merchant, http.MethodPost, "/api/v1/orders", o.CreateBody())
	paid := e.mustStatus(http.StatusOK, bank, http.MethodPost, "/api/v1/orders/tp-1/payment", o.PaymentBody("pay-tp-1"))
	tests := []struct {
		name    string
		tx      string
		members []string
	}{
		{"order creation (orderPrivate)", created.Header.Get("X-Transaction-Id"), []string{merchant, carrier, customs}},
		{"escrow payment (paymentPrivate)", paid.Header.Get("X-Transaction-Id"), []string{bank, customs}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.with(t)
			st := v.mustStatus(http.StatusOK, customs, http.MethodGet, "/api/v1/transactions/"+tc.tx, nil).JSON(t)
			block := v.mustStatus(http.StatusOK, customs, http.MethodGet, fmt.Sprintf("/api/v1/blocks/%.0f", st["blockNumber"]), nil).JSON(t)
			var endorsers []any
			for _, tx := range block["transactions"].([]any) {
				if tx := tx.(map[string]any); tx["txId"] == tc.tx {
					endorsers, _ = tx["endorsers"].([]any)
				}
			}
			require.Len(t, endorsers, 2, "OutOf(2, ...) needs two")
			for _, en := range endorsers {
				require.Contains(t, tc.members, en.(map[string]any)["mspId"])
			}
		})
	}
	t.Run("the regulator reads the payer, not the buyer", func(t *testing.T) {
		got := e.with(t).mustStatus(http.StatusOK, "RegulatorMSP", http.MethodGet, "/api/v1/orders/tp-1", nil).JSON(t)
		require.Equal(t, o.PayerName, got["payment"].(map[string]any)["payerName"])
		require.NotContains(t, got["buyer"], "name")
	})
}
