package chaincode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// The buyer-statement test vector of docs/chaincode.md: a fixed P-256 key (d = SHA-256 of
// "xborder buyer statement test vector v1"), a statement and its signature, made once with
// crypto/ecdsa (signing is randomised; verification is deterministic).
const (
	lcVectorD          = "xMnklxeNNgiDGqzfA55Oh7M2s-CMELR8FNDOrLHlPTU"
	lcVectorX          = "BZcFdcVPXtTS5LpoSaPCDrQ5XzORi6ifztqWHx5bHrU"
	lcVectorY          = "iIFmiSzdN5ctYSWqLlxn_qPS3kJk3Z1OAbyREx75XWQ"
	lcVectorThumbprint = "zQZG2mhRi9iBYKfaQtVsjHh9PLzfHVyN-fIcZnj4AvY"
	lcVectorStatement  = "xborder-buyer-statement/v1\norderId:order-1001\naction:CONFIRM_RECEIPT\norderVersion:9\nnonce:Q2hlY2tOb25jZTAwMDE\nexpiresAt:2026-03-08T09:00:00Z\nreason:"
	lcVectorSHA256     = "c851d0520de6ad994ade6fa7b629100c2767188eca81a1469f99e171b38a3c46"
	lcVectorSignature  = "ouJRLcVQkK1pC0jnsdPD1kJToN1ysvi9J2oaERE-7siQSt9_ezcHD4btYFX7OYg0DJvzrOuKOSKvN0g8DIPmaw"
)

// lcVectorKey is the test vector's public key.
func lcVectorKey() *chaincode.BuyerKey {
	return &chaincode.BuyerKey{Kty: "EC", Crv: "P-256", X: lcVectorX, Y: lcVectorY}
}

// lcBuyerPriv is the test vector's private key, the key of every keyed test order.
func lcBuyerPriv(t lcT) *ecdsa.PrivateKey {
	t.Helper()
	d, err := base64.RawURLEncoding.DecodeString(lcVectorD)
	require.NoError(t, err)
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	require.NoError(t, err)
	return k
}

// lcBuyerJWK is the public key as a WebCrypto export (with ext and key_ops).
func lcBuyerJWK() map[string]any {
	return map[string]any{"kty": "EC", "crv": "P-256", "x": lcVectorX, "y": lcVectorY, "ext": true, "key_ops": []string{"verify"}}
}

// lcStatement is a statement about order id that expires at expires.
func lcStatement(id, action string, version int64, nonce string, expires time.Time) chaincode.BuyerStatement {
	st := chaincode.BuyerStatement{OrderID: id, Action: action, OrderVersion: version, Nonce: nonce, ExpiresAt: expires.UTC().Truncate(time.Second)}
	if action == chaincode.StatementOpenDispute {
		st.Reason = "parcel arrived damaged"
	}
	return st
}

// lcSign signs text with key as WebCrypto does: r||s, base64url.
func lcSign(t lcT, key *ecdsa.PrivateKey, text string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(text))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return base64.RawURLEncoding.EncodeToString(sig)
}

// lcSignedStatement is the SubmitBuyerStatement request of st signed by the test buyer.
func lcSignedStatement(t lcT, st chaincode.BuyerStatement) map[string]any {
	t.Helper()
	text := st.Canonical()
	return map[string]any{"statement": text, "signature": lcSign(t, lcBuyerPriv(t), text)}
}

// createKeyed creates order id with the test buyer's key; change adjusts the request.
func (e *lcEnv) createKeyed(id string, change func(req map[string]any)) chaincode.Order {
	e.t.Helper()
	req := lcCreateReq(id)
	req["buyer"].(map[string]any)["publicKey"] = lcBuyerJWK()
	if change != nil {
		change(req)
	}
	return e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
}

// statement relays st, signed by the test buyer, as msp.
func (e *lcEnv) statement(msp string, st chaincode.BuyerStatement) *shimtest.Result {
	e.t.Helper()
	return e.invoke(msp, "SubmitBuyerStatement", lcSignedStatement(e.t, st), nil)
}

// nonce returns a fresh statement nonce.
func (e *lcEnv) nonce() string {
	return fmt.Sprintf("test-nonce-%08d", e.seq)
}

// TestBuyerStatementTestVector checks the documented test vector: canonical text, SHA-256,
// thumbprint and signature, and that any change breaks the signature.
func TestBuyerStatementTestVector(t *testing.T) {
	st, err := chaincode.ParseBuyerStatement(lcVectorStatement)
	require.NoError(t, err)
	require.Equal(t, chaincode.BuyerStatement{OrderID: "order-1001", Action: chaincode.StatementConfirmReceipt, OrderVersion: 9,
		Nonce: "Q2hlY2tOb25jZTAwMDE", ExpiresAt: time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)}, st)
	require.Equal(t, lcVectorStatement, st.Canonical())
	sum := sha256.Sum256([]byte(lcVectorStatement))
	require.Equal(t, lcVectorSHA256, fmt.Sprintf("%x", sum))
	key := lcVectorKey()
	require.Equal(t, lcVectorThumbprint, key.Thumbprint())
	require.NoError(t, chaincode.VerifyBuyerStatement(key, lcVectorStatement, lcVectorSignature))
	// The private key d derives the public key x, y.
	priv := lcBuyerPriv(t)
	pub, err := priv.PublicKey.Bytes()
	require.NoError(t, err)
	require.Equal(t, lcVectorX, base64.RawURLEncoding.EncodeToString(pub[1:33]))
	require.Equal(t, lcVectorY, base64.RawURLEncoding.EncodeToString(pub[33:]))

	tampered := strings.Replace(lcVectorStatement, "orderVersion:9", "orderVersion:8", 1)
	err = chaincode.VerifyBuyerStatement(key, tampered, lcVectorSignature)
	require.Equal(t, chaincode.CodeForbidden, chaincode.CodeOf(err), "%v", err)
	sig, _ := base64.RawURLEncoding.DecodeString(lcVectorSignature)
	sig[63] ^= 1
	err = chaincode.VerifyBuyerStatement(key, lcVectorStatement, base64.RawURLEncoding.EncodeToString(sig))
	require.Equal(t, chaincode.CodeForbidden, chaincode.CodeOf(err), "%v", err)
}

// TestParseBuyerStatement refuses every text that is not exactly canonical, naming the field.
func TestParseBuyerStatement(t *testing.T) {
	ok := lcVectorStatement
	line := func(from, to string) string { return strings.Replace(ok, from, to, 1) }
	cases := []struct {
		name, text, field string
	}{
		{"trailing line break", ok + "\n", "statement"},
		{"CR LF", strings.ReplaceAll(ok, "\n", "\r\n"), "statement"},
		{"wrong header", line("statement/v1", "statement/v2"), "statement"},
		{"missing line", line("\nreason:", ""), "statement"},
		{"lines swapped", line("orderId:order-1001\naction:CONFIRM_RECEIPT", "action:CONFIRM_RECEIPT\norderId:order-1001"), "statement"},
		{"space after colon", line("orderId:order-1001", "orderId: order-1001"), "statement.orderId"},
		{"unknown action", line("CONFIRM_RECEIPT", "PAY_ME"), "statement.action"},
		{"leading zero version", line("orderVersion:9", "orderVersion:09"), "statement.orderVersion"},
		{"signed version", line("orderVersion:9", "orderVersion:+9"), "statement.orderVersion"},
		{"version zero", line("orderVersion:9", "orderVersion:0"), "statement.orderVersion"},
		{"short nonce", line("Q2hlY2tOb25jZTAwMDE", "abc"), "statement.nonce"},
		{"nonce with padding", line("Q2hlY2tOb25jZTAwMDE", "Q2hlY2tOb25jZTAwMDE="), "statement.nonce"},
		{"fractional expiry", line("09:00:00Z", "09:00:00.5Z"), "statement.expiresAt"},
		{"offset expiry", line("09:00:00Z", "10:00:00+01:00"), "statement.expiresAt"},
		{"reason on a confirmation", line("reason:", "reason:thanks"), "statement.reason"},
		{"dispute without reason", line("CONFIRM_RECEIPT", "OPEN_DISPUTE"), "statement.reason"},
		{"reason with a tab", line("CONFIRM_RECEIPT", "OPEN_DISPUTE") + "broken\there", "statement.reason"},
		{"too long", ok + strings.Repeat("x", chaincode.MaxStatementBytes), "statement"},
		{"not UTF-8", line("reason:", "reason:\xff"), "statement"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := chaincode.ParseBuyerStatement(c.text)
			require.Error(t, err)
			var ce *chaincode.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, chaincode.CodeInvalidArgument, ce.Code, "%v", err)
			require.Equal(t, c.field, ce.Field, "%v", err)
		})
	}
	st, err := chaincode.ParseBuyerStatement(line("CONFIRM_RECEIPT", "OPEN_DISPUTE") + "Zerbrochen – à l'arrivée")
	require.NoError(t, err, "a reason may be any printable text")
	require.Equal(t, "Zerbrochen – à l'arrivée", st.Reason)
}

// TestBuyerKeyAtCreation checks the JWK an order may carry: a WebCrypto export is accepted and
// stored canonically with its thumbprint; a private key, another curve, a bad coordinate or a
// point off the curve is refused naming the member.
func TestBuyerKeyAtCreation(t *testing.T) {
	e := lcNew(t)
	o := e.createKeyed("key-1", nil)
	require.Equal(t, lcVectorKey(), o.Buyer.PublicKey)
	require.Equal(t, lcVectorThumbprint, o.Buyer.KeyThumbprint)
	raw := string(e.l.State(lcKey("order", "key-1")))
	require.Contains(t, raw, `"publicKey":{"kty":"EC","crv":"P-256","x":"`+lcVectorX+`","y":"`+lcVectorY+`"}`)
	require.NotContains(t, raw, "key_ops", "only the canonical members are stored")

	offCurve := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	cases := []struct {
		name   string
		change func(k map[string]any)
		field  string
	}{
		{"private key", func(k map[string]any) { k["d"] = lcVectorD }, "buyer.publicKey.d"},
		{"RSA", func(k map[string]any) { k["kty"] = "RSA" }, "buyer.publicKey.kty"},
		{"P-384", func(k map[string]any) { k["crv"] = "P-384" }, "buyer.publicKey.crv"},
		{"short x", func(k map[string]any) { k["x"] = lcVectorX[:40] }, "buyer.publicKey.x"},
		{"padded y", func(k map[string]any) { k["y"] = lcVectorY + "=" }, "buyer.publicKey.y"},
		{"standard base64", func(k map[string]any) { k["y"] = strings.ReplaceAll(lcVectorY, "_", "/") }, "buyer.publicKey.y"},
		{"off the curve", func(k map[string]any) { k["x"], k["y"] = offCurve, offCurve }, "buyer.publicKey"},
		{"signing key_ops", func(k map[string]any) { k["key_ops"] = []string{"sign"} }, "buyer.publicKey.key_ops[0]"},
		{"wrong alg", func(k map[string]any) { k["alg"] = "RS256" }, "buyer.publicKey.alg"},
		{"unknown member", func(k map[string]any) { k["n"] = "AQAB" }, "n"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := lcCreateReq(fmt.Sprintf("key-bad-%d", i))
			k := lcBuyerJWK()
			c.change(k)
			req["buyer"].(map[string]any)["publicKey"] = k
			msg := e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()), chaincode.CodeInvalidArgument)
			require.Contains(t, msg, "INVALID_ARGUMENT: "+c.field+": ")
			require.Nil(t, e.l.State(lcKey("order", fmt.Sprintf("key-bad-%d", i))))
		})
	}
}

// lcDeliverKeyed drives keyed order id from creation to DELIVERED and returns it.
func (e *lcEnv) lcDeliverKeyed(id string, change func(req map[string]any)) chaincode.Order {
	e.t.Helper()
	e.createKeyed(id, change)
	e.escrow(id)
	e.declare(id)
	e.waybill(id)
	e.decide(id, chaincode.DecisionCleared)
	e.checkpoint(id, chaincode.CheckpointPickedUp)
	return e.deliver(id)
}

// TestBuyerConfirmsReceipt: on a keyed order the bank may no longer confirm delivery for the
// buyer; any writing organisation relays the buyer's signed confirmation, which releases the
// escrow; forgeries, other keys, replays, stale versions and expired statements are refused
// and change nothing.
func TestBuyerConfirmsReceipt(t *testing.T) {
	e := lcNew(t)
	o := e.lcDeliverKeyed("bs-1", nil)
	msg := e.fails(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "bs-1"}, nil), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "the buyer holds a key")
	expires := e.now.Add(time.Hour)

	// Another key signs: FORBIDDEN, whoever relays it.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	st := lcStatement("bs-1", chaincode.StatementConfirmReceipt, o.Version, e.nonce(), expires)
	forged := map[string]any{"statement": st.Canonical(), "signature": lcSign(t, other, st.Canonical())}
	for _, msp := range []string{chaincode.MerchantMSP, chaincode.BankMSP, chaincode.CarrierMSP, chaincode.CustomsMSP} {
		msg := e.fails(e.invoke(msp, "SubmitBuyerStatement", forged, nil), chaincode.CodeForbidden)
		require.Contains(t, msg, lcVectorThumbprint)
	}
	// A genuine statement relayed by the regulator: FORBIDDEN (it writes nothing).
	e.fails(e.statement(chaincode.RegulatorMSP, st), chaincode.CodeForbidden)
	// Wrong version, expired, too long-lived, wrong order in the request.
	stale := lcStatement("bs-1", chaincode.StatementConfirmReceipt, o.Version-1, e.nonce(), expires)
	msg = e.fails(e.statement(chaincode.CarrierMSP, stale), chaincode.CodeVersionMismatch)
	require.Contains(t, msg, "statement.orderVersion: order bs-1 is at version")
	expired := lcStatement("bs-1", chaincode.StatementConfirmReceipt, o.Version, e.nonce(), e.now.Add(-time.Minute))
	msg = e.fails(e.statement(chaincode.CarrierMSP, expired), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "statement.expiresAt: the statement expired")
	longLived := lcStatement("bs-1", chaincode.StatementConfirmReceipt, o.Version, e.nonce(), e.now.Add(8*24*time.Hour))
	e.fails(e.statement(chaincode.CarrierMSP, longLived), chaincode.CodeInvalidArgument)
	req := lcSignedStatement(t, lcStatement("bs-1", chaincode.StatementConfirmReceipt, o.Version, e.nonce(), expires))
	req["orderId"] = "bs-2"
	e.fails(e.invoke(chaincode.CarrierMSP, "SubmitBuyerStatement", req, nil), chaincode.CodeInvalidArgument)
	require.Equal(t, chaincode.StatusDelivered, e.get(chaincode.BankMSP, "bs-1").Status, "nothing changed")

	// The buyer's own statement, relayed by the carrier, releases the escrow.
	st = lcStatement("bs-1", chaincode.StatementConfirmReceipt, o.Version, e.nonce(), expires)
	res := e.statement(chaincode.CarrierMSP, st)
	done := e.ok(res)
	require.Equal(t, chaincode.StatusCompleted, done.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal}, done.Escrow)
	require.Equal(t, chaincode.EventPaymentReleased, res.Event.GetEventName())
	var ev chaincode.OrderEvent
	require.NoError(t, json.Unmarshal(res.Event.GetPayload(), &ev))
	require.Equal(t, chaincode.StatementConfirmReceipt, ev.BuyerStatement)
	require.Equal(t, res.TxID, e.l.History(lcKey("escrow", "bs-1"))[0].GetTxId(), "the release writes the escrow key")
	var rec chaincode.BuyerStatementRecord
	require.NoError(t, json.Unmarshal(e.l.State(lcKey("buyerstmt", "bs-1", st.Nonce)), &rec))
	require.Equal(t, st.Canonical(), rec.Statement)
	require.Equal(t, lcVectorThumbprint, rec.KeyThumbprint)
	require.Equal(t, chaincode.CarrierMSP, rec.UpdatedByMSP)
	require.NoError(t, chaincode.VerifyBuyerStatement(lcVectorKey(), rec.Statement, rec.Signature), "anyone can verify it again")

	// Replaying it: the version moved on (VERSION_MISMATCH); the same nonce at the new version
	// is CONFLICT.
	e.fails(e.statement(chaincode.MerchantMSP, st), chaincode.CodeVersionMismatch)
	again := lcStatement("bs-1", chaincode.StatementConfirmReceipt, done.Version, st.Nonce, expires)
	e.fails(e.statement(chaincode.MerchantMSP, again), chaincode.CodeConflict)

	// The audit trail lists the statement.
	hist := e.evaluate(chaincode.RegulatorMSP, "GetOrderHistory", "bs-1")
	require.Equal(t, int32(200), hist.Status, hist.Message)
	var h chaincode.OrderHistory
	require.NoError(t, json.Unmarshal(hist.Payload, &h))
	found := false
	for _, entry := range h.Entries {
		if entry.Type == "buyerStatement" {
			found = true
			require.Equal(t, res.TxID, entry.TxID)
			require.Equal(t, chaincode.CarrierMSP, entry.CreatorMSP)
		}
	}
	require.True(t, found, "the audit trail lists the buyer's statement")
}

// TestBuyerStatementNeedsAKeyAndItsOrder: an order without a buyer key takes no statements (the
// bank acts for that buyer, as before), and a statement about another order fails.
func TestBuyerStatementNeedsAKeyAndItsOrder(t *testing.T) {
	e := lcNew(t)
	o := e.to("nk-1", stDelivered)
	st := lcStatement("nk-1", chaincode.StatementConfirmReceipt, o.Version, e.nonce(), e.now.Add(time.Hour))
	msg := e.fails(e.statement(chaincode.MerchantMSP, st), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "has no buyer key")
	e.ok(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "nk-1"}, nil))
	e.fails(e.statement(chaincode.MerchantMSP, lcStatement("nk-none", chaincode.StatementConfirmReceipt, 1, e.nonce(), e.now.Add(time.Hour))), chaincode.CodeNotFound)
}

// TestBuyerOpensDispute: the buyer's signed dispute freezes the release like the bank's.
func TestBuyerOpensDispute(t *testing.T) {
	e := lcNew(t)
	o := e.lcDeliverKeyed("bd-1", nil)
	res := e.statement(chaincode.MerchantMSP, lcStatement("bd-1", chaincode.StatementOpenDispute, o.Version, e.nonce(), e.now.Add(time.Hour)))
	o = e.ok(res)
	require.Equal(t, chaincode.StatusDisputed, o.Status)
	require.Equal(t, "parcel arrived damaged", o.Dispute.Reason)
	require.Equal(t, chaincode.EventDisputeOpened, res.Event.GetEventName())
	e.now = e.now.Add(30 * 24 * time.Hour)
	e.fails(e.invoke(chaincode.CarrierMSP, "ReleaseEscrow", map[string]any{"orderId": "bd-1"}, nil), chaincode.CodeFailedPrecondition)
	o = e.ok(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "bd-1", "refundAmount": 1000}, nil))
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal - 1000, Refunded: 1000}, o.Escrow)
}
