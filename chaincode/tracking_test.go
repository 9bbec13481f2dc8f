package chaincode_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// lcTokenHash returns the SHA-256 (hex) of a tracking token.
func lcTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// trackingView reads the tracking view of token as msp.
func (e *lcEnv) trackingView(msp, token string) (chaincode.TrackingView, string) {
	e.t.Helper()
	res := e.evaluate(msp, "GetTrackingView", lcTokenHash(token))
	if res.Status != 200 {
		return chaincode.TrackingView{}, res.Message
	}
	var v chaincode.TrackingView
	require.NoError(e.t, json.Unmarshal(res.Payload, &v))
	return v, ""
}

// TestTrackingView: the holder of an order's tracking token sees the public progress — status,
// payment held, escrow, customs decision, every checkpoint with place and time, deadlines,
// terms — and nothing personal or internal.
func TestTrackingView(t *testing.T) {
	e := lcNew(t)
	const token = "tok-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo"
	e.createKeyed("tv-1", func(req map[string]any) {
		req["trackingTokenHash"] = lcTokenHash(token)
		req["deadlines"] = map[string]any{"deliverBy": "2026-03-31"}
	})
	v, msg := e.trackingView(chaincode.RegulatorMSP, token)
	require.Empty(t, msg)
	require.Equal(t, chaincode.StatusCreated, v.Status)
	require.False(t, v.Payment.Paid)
	require.Equal(t, lcVectorThumbprint, v.BuyerKey)
	require.Equal(t, "2026-03-31T23:59:59.999999999Z", v.Deadlines.DeliverBy)

	e.escrow("tv-1")
	e.declare("tv-1")
	e.waybill("tv-1")
	e.decide("tv-1", chaincode.DecisionCleared)
	e.checkpoint("tv-1", chaincode.CheckpointPickedUp)
	o := e.deliver("tv-1")
	for _, msp := range chaincode.Organisations {
		v, msg = e.trackingView(msp, token)
		require.Empty(t, msg, msp)
	}
	require.Equal(t, chaincode.StatusDelivered, v.Status)
	require.Equal(t, o.Version, v.Version, "the buyer signs statements with this version")
	require.Equal(t, chaincode.TrackingPayment{Paid: true, Held: true, Amount: lcTotal, Currency: "USD", PaidAt: o.Payment.PaidAt}, v.Payment)
	require.Equal(t, chaincode.TrackingCustoms{Decision: chaincode.DecisionCleared, Cleared: true, DecidedAt: o.Customs.DecidedAt}, v.Customs)
	require.Len(t, v.Checkpoints, 5)
	for i, cp := range v.Checkpoints {
		require.Equal(t, chaincode.CheckpointSequence[i], cp.Code)
		require.Equal(t, "Hub "+cp.Code, cp.Location)
		require.NotEmpty(t, cp.RecordedAt)
	}
	require.NotEmpty(t, v.ReleasableFrom)

	res := e.evaluate(chaincode.CarrierMSP, "GetTrackingView", lcTokenHash(token))
	raw := string(res.Payload)
	for _, secret := range []string{lcBuyerName, lcBuyerAddress, lcBuyerPhone, lcPayerName, lcPayerAccount, "buyer-1", "merchant-1",
		"Widget", "850440", "pay-tv-1", "WB-tv-1", "decl-tv-1", "x509::", "privateHash", lcTokenHash(token)} {
		require.NotContains(t, raw, secret, "the tracking view must not show %q", secret)
	}

	// Unknown and malformed tokens.
	_, msg = e.trackingView(chaincode.MerchantMSP, "not-the-token")
	require.True(t, strings.HasPrefix(msg, "NOT_FOUND: "), msg)
	res = e.evaluate(chaincode.MerchantMSP, "GetTrackingView", strings.ToUpper(lcTokenHash(token)))
	require.Equal(t, "INVALID_ARGUMENT", lcCode(res), res.Message)
	res = e.evaluate(lcOutsider, "GetTrackingView", lcTokenHash(token))
	require.Equal(t, "FORBIDDEN", lcCode(res), res.Message)
}

// TestTrackingLinkRotation: the merchant replaces or revokes an order's link (the old token
// stops working at once), also on a final order, without changing the order's version; hashes
// are never shared between orders; only the merchant may do it.
func TestTrackingLinkRotation(t *testing.T) {
	e := lcNew(t)
	e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", func() map[string]any {
		r := lcCreateReq("tl-1")
		r["trackingTokenHash"] = lcTokenHash("first")
		return r
	}(), lcOrderPrivate()))
	e.create("tl-2")
	version := e.get(chaincode.MerchantMSP, "tl-1").Version

	set := func(msp, id, token string) (chaincode.TrackingLinkRecord, *lcResult) {
		req := map[string]any{"orderId": id}
		if token != "" {
			req["tokenHash"] = lcTokenHash(token)
		}
		r := &lcResult{e: e, res: e.invoke(msp, "SetTrackingLink", req, nil)}
		var rec chaincode.TrackingLinkRecord
		if r.res.Status == 200 {
			require.NoError(t, json.Unmarshal(r.res.Payload, &rec))
		}
		return rec, r
	}
	for _, msp := range []string{chaincode.BankMSP, chaincode.CarrierMSP, chaincode.CustomsMSP, chaincode.RegulatorMSP} {
		_, r := set(msp, "tl-1", "second")
		r.fails(chaincode.CodeForbidden)
	}
	_, r := set(chaincode.MerchantMSP, "tl-2", "first")
	require.Contains(t, r.fails(chaincode.CodeConflict), "already in use")
	_, r = set(chaincode.MerchantMSP, "tl-1", "first")
	r.fails(chaincode.CodeConflict)

	rec, r := set(chaincode.MerchantMSP, "tl-1", "second")
	require.Equal(t, int32(200), r.res.Status, r.res.Message)
	require.True(t, rec.Active)
	require.Equal(t, chaincode.EventTrackingLinkSet, r.res.Event.GetEventName())
	require.NotContains(t, string(r.res.Event.GetPayload()), lcTokenHash("second"))
	_, msg := e.trackingView(chaincode.BankMSP, "first")
	require.True(t, strings.HasPrefix(msg, "NOT_FOUND"), msg)
	v, msg := e.trackingView(chaincode.BankMSP, "second")
	require.Empty(t, msg)
	require.Equal(t, "tl-1", v.OrderID)
	require.Equal(t, version, e.get(chaincode.MerchantMSP, "tl-1").Version, "a link is not part of the order record")

	e.ok(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": "tl-1"}, nil))
	rec, r = set(chaincode.MerchantMSP, "tl-1", "")
	require.Equal(t, int32(200), r.res.Status, r.res.Message)
	require.False(t, rec.Active)
	require.Equal(t, chaincode.EventTrackingLinkRevoked, r.res.Event.GetEventName())
	_, msg = e.trackingView(chaincode.BankMSP, "second")
	require.True(t, strings.HasPrefix(msg, "NOT_FOUND"), msg)
	_, r = set(chaincode.MerchantMSP, "tl-1", "")
	r.fails(chaincode.CodeFailedPrecondition)
	_, r = set(chaincode.MerchantMSP, "tl-1", "third")
	require.Equal(t, int32(200), r.res.Status, "a new link after a revocation: %s", r.res.Message)

	// The statement relayed for a link's holder must be about the link's order.
	o := e.createKeyed("tl-3", nil)
	req := lcSignedStatement(t, lcStatement("tl-3", chaincode.StatementOpenDispute, o.Version, e.nonce(), e.now.Add(time.Hour)))
	req["trackingTokenHash"] = lcTokenHash("third")
	e.fails(e.invoke(chaincode.MerchantMSP, "SubmitBuyerStatement", req, nil), chaincode.CodeNotFound)
}
