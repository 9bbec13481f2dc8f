package chaincode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"
)

func rtHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestAnchorAndVerifyDocument(t *testing.T) {
	require.True(t, slices.IsSorted(DocumentKinds), "DocumentKinds is searched with binary search")
	e := rtNew(t)
	e.ok(e.create(rtDefaultOrder("doc-1")), nil)
	invoice := rtHash("invoice INV-1")

	// Anchored in upper case, stored and verified in lower case.
	res := e.invoke(MerchantMSP, "AnchorDocument", map[string]any{"sha256": strings.ToUpper(invoice), "orderId": "doc-1", "kind": DocumentInvoice}, nil)
	var rec DocumentRecord
	e.ok(res, &rec)
	require.Equal(t, invoice, rec.SHA256)
	require.Equal(t, "doc-1", rec.OrderID)
	require.Equal(t, DocumentInvoice, rec.Kind)
	require.Equal(t, MerchantMSP, rec.AnchoredByMSP)
	require.NotEmpty(t, rec.AnchoredBy)
	require.Equal(t, res.TxID, rec.TxID)
	require.Equal(t, e.now.Format("2006-01-02T15:04:05Z07:00"), rec.AnchoredAt)

	require.NotNil(t, res.Event)
	require.Equal(t, "DocumentAnchored", res.Event.EventName)
	var ev DocumentEvent
	require.NoError(t, json.Unmarshal(res.Event.Payload, &ev))
	require.Equal(t, DocumentEvent{OrderID: "doc-1", Status: StatusCreated, SHA256: invoice, Kind: DocumentInvoice, TxID: res.TxID}, ev)

	for _, msp := range Organisations {
		for _, q := range []string{invoice, strings.ToUpper(invoice)} {
			var got DocumentVerification
			e.ok(e.evaluate(msp, "VerifyDocument", q), &got)
			require.Equal(t, []DocumentRecord{rec}, got.Anchors)
			require.Equal(t, int32(1), got.Count)
			require.Equal(t, rec, got.DocumentRecord, "the first anchor's fields at the top level, as before anchors were per order and kind")
		}
	}

	// Every organisation may anchor; kinds are checked.
	for i, tc := range []struct{ msp, kind string }{
		{CarrierMSP, DocumentBillOfLading}, {CustomsMSP, DocumentCustomsDeclaration},
		{CarrierMSP, DocumentProofOfDelivery}, {BankMSP, DocumentOther},
	} {
		var r DocumentRecord
		e.ok(e.invoke(tc.msp, "AnchorDocument", map[string]any{"sha256": rtHash("doc " + string(rune('a'+i))), "orderId": "doc-1", "kind": tc.kind}, nil), &r)
		require.Equal(t, tc.msp, r.AnchoredByMSP)
	}

	// The per-order index lists the order's documents (for its audit trail).
	stub := e.l.NewStub(e.opts(CustomsMSP, nil), "x")
	ctx := &contractapi.TransactionContext{}
	ctx.SetStub(stub)
	keys, err := orderDocumentKeys(ctx, "doc-1")
	require.NoError(t, err)
	require.Len(t, keys, 5)
	want, err := compositeKey(ctx, objOrderDocument, "doc-1", invoice, DocumentInvoice)
	require.NoError(t, err)
	require.Contains(t, keys, want)
	history := e.l.History(want)
	require.Len(t, history, 1)
	require.Equal(t, res.TxID, history[0].TxId)
}

func TestAnchorDocumentErrors(t *testing.T) {
	e := rtNew(t)
	e.ok(e.create(rtDefaultOrder("doc-1")), nil)
	h := rtHash("bill of lading")
	e.ok(e.invoke(CarrierMSP, "AnchorDocument", map[string]any{"sha256": h, "orderId": "doc-1", "kind": DocumentBillOfLading}, nil), nil)
	events := len(e.l.Events())

	tests := []struct {
		name   string
		msp    string
		req    map[string]any
		code   Code
		expect string
	}{
		{"duplicate anchor", MerchantMSP, map[string]any{"sha256": h, "orderId": "doc-1", "kind": DocumentBillOfLading}, CodeConflict,
			"CONFLICT: document " + h + " is already anchored to order doc-1 as BILL_OF_LADING by CarrierMSP"},
		{"duplicate anchor in upper case", CarrierMSP, map[string]any{"sha256": strings.ToUpper(h), "orderId": "doc-1", "kind": DocumentBillOfLading}, CodeConflict, "CONFLICT: "},
		{"short hash", MerchantMSP, map[string]any{"sha256": "abc", "orderId": "doc-1", "kind": DocumentInvoice}, CodeInvalidArgument, "INVALID_ARGUMENT: sha256: "},
		{"non-hex hash", MerchantMSP, map[string]any{"sha256": strings.Repeat("z", 64), "orderId": "doc-1", "kind": DocumentInvoice}, CodeInvalidArgument, "INVALID_ARGUMENT: sha256: "},
		{"missing hash", MerchantMSP, map[string]any{"orderId": "doc-1", "kind": DocumentInvoice}, CodeInvalidArgument, "INVALID_ARGUMENT: sha256: "},
		{"bad kind", MerchantMSP, map[string]any{"sha256": rtHash("x"), "orderId": "doc-1", "kind": "PHOTO"}, CodeInvalidArgument, "INVALID_ARGUMENT: kind: must be one of"},
		{"bad order ID", MerchantMSP, map[string]any{"sha256": rtHash("x"), "orderId": "doc 1", "kind": DocumentInvoice}, CodeInvalidArgument, "INVALID_ARGUMENT: orderId: "},
		{"unknown field", MerchantMSP, map[string]any{"sha256": rtHash("x"), "orderId": "doc-1", "kind": DocumentInvoice, "note": "x"}, CodeInvalidArgument, "INVALID_ARGUMENT: note: "},
		{"unknown order", MerchantMSP, map[string]any{"sha256": rtHash("x"), "orderId": "nope", "kind": DocumentInvoice}, CodeNotFound, `NOT_FOUND: order "nope" does not exist`},
		{"outsider", rtOutsider, map[string]any{"sha256": rtHash("x"), "orderId": "doc-1", "kind": DocumentInvoice}, CodeForbidden, "FORBIDDEN: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.fails(e.invoke(tc.msp, "AnchorDocument", tc.req, nil), tc.code)
			require.True(t, strings.HasPrefix(msg, tc.expect), msg)
		})
	}
	require.Len(t, e.l.Events(), events, "failed anchors emit nothing")

	msg := e.fails(e.evaluate(BankMSP, "VerifyDocument", rtHash("never anchored")), CodeNotFound)
	require.Contains(t, msg, "is not anchored")
	msg = e.fails(e.evaluate(BankMSP, "VerifyDocument", "xyz"), CodeInvalidArgument)
	require.True(t, strings.HasPrefix(msg, "INVALID_ARGUMENT: sha256: "), msg)
	e.fails(e.evaluate(rtOutsider, "VerifyDocument", h), CodeForbidden)
}

// TestDocumentAnchorsCannotBeSquatted reproduces issue 11.6: a carrier anchored a merchant's
// invoice hash to the wrong order first, which used to block the real anchor. Anchors are per
// (order, hash, kind): the real anchor still succeeds, and VerifyDocument lists both with who
// anchored each.
func TestDocumentAnchorsCannotBeSquatted(t *testing.T) {
	e := rtNew(t)
	e.ok(e.create(rtDefaultOrder("sq-real")), nil)
	e.ok(e.create(rtDefaultOrder("sq-wrong")), nil)
	invoice := rtHash("invoice of sq-real")

	var squat, real DocumentRecord
	e.ok(e.invoke(CarrierMSP, "AnchorDocument", map[string]any{"sha256": invoice, "orderId": "sq-wrong", "kind": DocumentInvoice}, nil), &squat)
	e.ok(e.invoke(MerchantMSP, "AnchorDocument", map[string]any{"sha256": invoice, "orderId": "sq-real", "kind": DocumentInvoice}, nil), &real)
	// The same hash as another kind of the same order is a different anchor too.
	var other DocumentRecord
	e.ok(e.invoke(CustomsMSP, "AnchorDocument", map[string]any{"sha256": invoice, "orderId": "sq-real", "kind": DocumentOther}, nil), &other)
	e.fails(e.invoke(MerchantMSP, "AnchorDocument", map[string]any{"sha256": invoice, "orderId": "sq-real", "kind": DocumentInvoice}, nil), CodeConflict)

	var got DocumentVerification
	e.ok(e.evaluate(BankMSP, "VerifyDocument", invoice), &got)
	require.Equal(t, int32(3), got.Count)
	require.Equal(t, []DocumentRecord{squat, real, other}, got.Anchors, "every anchor, oldest first")
	require.Equal(t, "sq-wrong", got.OrderID, "top-level fields are the oldest anchor's")
	require.Equal(t, CarrierMSP, got.AnchoredByMSP)

	// An anchor an earlier contract version kept under the hash alone is still listed, and still
	// blocks its own (order, kind) only.
	legacy := DocumentRecord{SHA256: rtHash("legacy"), OrderID: "sq-real", Kind: DocumentInvoice, AnchoredByMSP: MerchantMSP,
		AnchoredBy: "x509::CN=old", AnchoredAt: "2026-01-01T00:00:00Z", TxID: "old-tx"}
	raw, err := json.Marshal(legacy)
	require.NoError(t, err)
	e.l.PutStateDirect("\x00document\x00"+legacy.SHA256+"\x00", raw)
	e.fails(e.invoke(MerchantMSP, "AnchorDocument", map[string]any{"sha256": legacy.SHA256, "orderId": "sq-real", "kind": DocumentInvoice}, nil), CodeConflict)
	e.ok(e.invoke(MerchantMSP, "AnchorDocument", map[string]any{"sha256": legacy.SHA256, "orderId": "sq-wrong", "kind": DocumentInvoice}, nil), nil)
	e.ok(e.evaluate(CustomsMSP, "VerifyDocument", legacy.SHA256), &got)
	require.Equal(t, int32(2), got.Count)
	require.Equal(t, legacy, got.Anchors[0])
}
