package conformance_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/shimtest"
	"github.com/xborder/xborder/internal/testkit"
)

// issue sends what the gateway sends for a write that creates a capability (op.Capability): the
// mapping's invocation with a fresh token's hash. It returns the result and the token.
func (c *channel) issue(org, id string, params map[string]string, body map[string]any) (*shimtest.Result, string) {
	c.t.Helper()
	op, ok := gateway.OperationByID(id)
	require.True(c.t, ok, id)
	require.NotNil(c.t, op.Capability, id)
	raw, err := jsonBytes(body)
	require.NoError(c.t, err)
	inv, err := op.Invocation(params, raw)
	require.NoError(c.t, err)
	token, err := op.Capability.Issue(&inv)
	require.NoError(c.t, err)
	res := c.ledger.Invoke(c.cc, shimtest.TxOptions{Creator: c.ids.Creator(org), Transient: inv.Transient}, inv.Transaction, string(inv.Args[0]))
	require.True(c.t, res.OK(), "%s as %s: %d %s (commit: %v)", id, org, res.Status, res.Message, res.Err)
	return res, token
}

// track evaluates the mapping of GET /api/v1/track/{token} as the gateway's tracking identity.
func (c *channel) track(org, token string) *shimtest.Result {
	c.t.Helper()
	op, _ := gateway.OperationByID("trackOrder")
	inv, err := op.Invocation(map[string]string{"token": token}, nil)
	require.NoError(c.t, err)
	args := make([]string, len(inv.Args))
	for i, a := range inv.Args {
		args[i] = string(a)
	}
	return c.ledger.Evaluate(c.cc, shimtest.TxOptions{Creator: c.ids.Creator(org)}, inv.Transaction, args...)
}

// TestTrackingLinkMapping pins the tracking link end to end through the mapping: the token the
// creation answers finds the order through trackOrder (the chaincode knows only its hash); a
// new link replaces it; the revocation clears it.
func TestTrackingLinkMapping(t *testing.T) {
	c := newChannel(t)
	o := testkit.NewOrder("conf-track")
	body := o.CreateBody()
	body["trackingLink"] = true
	_, token := c.issue(testkit.MerchantMSP, "createOrder", nil, body)
	require.True(t, gateway.ValidCapabilityToken(token))
	res := c.track(testkit.MerchantMSP, token)
	require.True(t, res.OK(), res.Message)
	var view map[string]any
	require.NoError(t, json.Unmarshal(res.Payload, &view))
	require.Equal(t, o.ID, view["orderId"])
	for _, k := range c.ledger.Keys() {
		require.NotContains(t, string(c.ledger.State(k)), token, "the ledger never holds the token")
	}

	params := map[string]string{"id": o.ID}
	_, second := c.issue(testkit.MerchantMSP, "issueTrackingLink", params, nil)
	require.False(t, c.track(testkit.BankMSP, token).OK(), "the old token stops working")
	require.True(t, c.track(testkit.BankMSP, second).OK())
	c.mustInvoke(testkit.MerchantMSP, "revokeTrackingLink", params, nil)
	require.Equal(t, int32(500), c.track(testkit.BankMSP, second).Status)
}

// TestBuyerStatementMapping pins the buyer's signed statements through both relays: the
// member's (POST /orders/{id}/buyer-statements, order ID from the path) and the token holder's
// (the token's hash binds the statement to the link's order).
func TestBuyerStatementMapping(t *testing.T) {
	c := newChannel(t)
	buyer := testkit.TestVectorBuyer()
	o := testkit.NewOrder("conf-stmt")
	body := o.CreateBody()
	body["buyer"].(map[string]any)["publicKey"] = buyer.PublicJWK()
	created, token := c.issue(testkit.MerchantMSP, "createOrder", nil, body)
	var order map[string]any
	require.NoError(t, json.Unmarshal(created.Payload, &order))
	require.Equal(t, buyer.Thumbprint(), order["buyer"].(map[string]any)["keyThumbprint"])
	params := map[string]string{"id": o.ID}
	c.mustInvoke(testkit.BankMSP, "escrowPayment", params, o.PaymentBody("pay-"+o.ID))

	expires := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // the test ledger's clock starts at 2026-01-01
	version := func() int64 {
		res := c.track(testkit.CustomsMSP, token)
		require.True(t, res.OK(), res.Message)
		var v struct {
			Version int64 `json:"version"`
		}
		require.NoError(t, json.Unmarshal(res.Payload, &v))
		return v.Version
	}
	// The member's relay: the path names the order.
	st := testkit.Statement(o.ID, "OPEN_DISPUTE", version(), testkit.Nonce(), expires, "wrong colour")
	res := c.mustInvoke(testkit.CarrierMSP, "submitBuyerStatement", params, buyer.StatementBody(st))
	require.Contains(t, string(res.Payload), `"status":"DISPUTED"`)

	// The token holder's relay: the statement must be about the link's order.
	other := testkit.NewOrder("conf-stmt-2")
	body = other.CreateBody()
	body["buyer"].(map[string]any)["publicKey"] = buyer.PublicJWK()
	c.mustInvoke(testkit.MerchantMSP, "createOrder", nil, body)
	st = testkit.Statement(other.ID, "CANCEL_LATE", 1, testkit.Nonce(), expires, "")
	res = c.invoke(testkit.MerchantMSP, "submitTrackedStatement", map[string]string{"token": token}, buyer.StatementBody(st))
	ce, ok := gateway.ParseChaincodeError(res.Message)
	require.True(t, ok, res.Message)
	require.Equal(t, gateway.CodeNotFound, ce.Code, res.Message)

	st = testkit.Statement(o.ID, "CONFIRM_RECEIPT", version(), testkit.Nonce(), expires, "")
	res = c.invoke(testkit.MerchantMSP, "submitTrackedStatement", map[string]string{"token": token}, buyer.StatementBody(st))
	ce, ok = gateway.ParseChaincodeError(res.Message)
	require.True(t, ok, res.Message)
	require.Equal(t, gateway.CodeFailedPrecondition, ce.Code, "accepted for its order, refused by the state (disputed): %s", res.Message)
}

// TestFXMapping pins the FX operations' arguments: a publication through the mapping is found by
// getFXReferenceRate's path parameters, and a payment is counted by getFXExposureReport's query.
func TestFXMapping(t *testing.T) {
	c := newChannel(t)
	c.mustInvoke(testkit.BankMSP, "publishFXReferenceRates", nil, map[string]any{"date": "2026-01-01", "rates": map[string]string{"USD/EUR": "0.92"}})
	query := func(id string, params map[string]string) map[string]any {
		op, _ := gateway.OperationByID(id)
		inv, err := op.Invocation(params, nil)
		require.NoError(t, err)
		args := make([]string, len(inv.Args))
		for i, a := range inv.Args {
			args[i] = string(a)
		}
		res := c.ledger.Evaluate(c.cc, shimtest.TxOptions{Creator: c.ids.Creator(testkit.CustomsMSP)}, inv.Transaction, args...)
		require.True(t, res.OK(), "%s: %s", id, res.Message)
		var out map[string]any
		require.NoError(t, json.Unmarshal(res.Payload, &out))
		return out
	}
	ref := query("getFXReferenceRate", map[string]string{"orderCurrency": "USD", "payerCurrency": "EUR", "date": "2026-01-01"})
	require.Equal(t, "0.92", ref["rate"])
	o := testkit.NewOrder("conf-fx")
	c.mustInvoke(testkit.MerchantMSP, "createOrder", nil, o.CreateBody())
	c.mustInvoke(testkit.BankMSP, "escrowPayment", map[string]string{"id": o.ID}, o.PaymentBody("pay-"+o.ID))
	report := query("getFXExposureReport", map[string]string{"bankId": testkit.BankMSP, "from": "2026-01-01", "to": "2026-01-31"})
	require.EqualValues(t, 1, report["payments"])
}
