package chaincode

import (
	"slices"
	"strings"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Composite-key object types of anchored documents.
const (
	objDocumentAnchor = "document"  // [sha256] → DocumentRecord
	objOrderDocument  = "order~doc" // [orderId, sha256] → DocumentRecord (per-order index)
	eventDocAnchored  = "DocumentAnchored"
	maxDocumentsIndex = 1000 // documents listed per order in an audit trail, at most
)

// Document kinds accepted by AnchorDocument.
const (
	DocumentInvoice            = "INVOICE"
	DocumentCustomsDeclaration = "CUSTOMS_DECLARATION"
	DocumentBillOfLading       = "BILL_OF_LADING"
	DocumentProofOfDelivery    = "PROOF_OF_DELIVERY"
	DocumentOther              = "OTHER"
)

// DocumentKinds lists the document kinds, sorted.
var DocumentKinds = []string{
	DocumentBillOfLading, DocumentCustomsDeclaration, DocumentInvoice, DocumentOther, DocumentProofOfDelivery,
}

// AnchorDocumentRequest is the argument of AnchorDocument: the SHA-256 of a document (64 hex
// digits, stored in lower case), the order it belongs to and its kind.
type AnchorDocumentRequest struct {
	requestBase
	SHA256  string `json:"sha256"`
	OrderID string `json:"orderId"`
	Kind    string `json:"kind"`
}

// DocumentRecord is an anchored document hash: which order it belongs to, as what, who anchored
// it (organisation and identity) and when (transaction time), in which transaction.
type DocumentRecord struct {
	SHA256        string `json:"sha256"`
	OrderID       string `json:"orderId"`
	Kind          string `json:"kind"`
	AnchoredByMSP string `json:"anchoredByMsp"`
	AnchoredBy    string `json:"anchoredBy"`
	AnchoredAt    string `json:"anchoredAt"`
	TxID          string `json:"txId"`
}

// DocumentEvent is the payload of the DocumentAnchored event.
type DocumentEvent struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	SHA256  string `json:"sha256"`
	Kind    string `json:"kind"`
	TxID    string `json:"txId"`
}

// documentKey returns the key of an anchored hash.
func documentKey(ctx contractapi.TransactionContextInterface, sha string) (string, error) {
	return compositeKey(ctx, objDocumentAnchor, sha)
}

// orderDocumentKey returns the per-order index key of an anchored hash.
func orderDocumentKey(ctx contractapi.TransactionContextInterface, orderID, sha string) (string, error) {
	return compositeKey(ctx, objOrderDocument, orderID, sha)
}

// orderDocumentKeys returns the per-order document index keys of an order, sorted by hash. Each
// key is written once, by the AnchorDocument transaction, so GetHistoryForKey on it yields that
// transaction (for the order's audit trail). At most maxDocumentsIndex keys are returned.
func orderDocumentKeys(ctx contractapi.TransactionContextInterface, orderID string) ([]string, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(objOrderDocument, []string{orderID})
	if err != nil {
		return nil, errInternal("query order documents", err)
	}
	defer it.Close()
	keys := []string{}
	for it.HasNext() && len(keys) < maxDocumentsIndex {
		kv, err := it.Next()
		if err != nil {
			return nil, errInternal("iterate order documents", err)
		}
		keys = append(keys, kv.GetKey())
	}
	return keys, nil
}

// AnchorDocument anchors the SHA-256 of a document to an existing order (any member
// organisation). The hash is validated and stored in lower case; anchoring a hash that is
// already anchored is a CONFLICT; an unknown order is NOT_FOUND. It records the anchoring
// organisation and identity, the transaction time and ID, writes the per-order index key (so
// the order's audit trail lists the document) and emits DocumentAnchored.
func (c *Contract) AnchorDocument(ctx contractapi.TransactionContextInterface, req AnchorDocumentRequest) (*DocumentRecord, error) {
	ti, err := begin(ctx, &req, "AnchorDocument", Organisations...)
	if err != nil {
		return nil, err
	}
	sha, err := NormalizeSHA256Hex("sha256", req.SHA256)
	if err != nil {
		return nil, err
	}
	if err := ValidateID("orderId", req.OrderID); err != nil {
		return nil, err
	}
	if _, ok := slices.BinarySearch(DocumentKinds, req.Kind); !ok {
		return nil, errInvalid("kind", "must be one of %s, got %s", strings.Join(DocumentKinds, ", "), quoteValue(req.Kind))
	}
	okey, err := orderKey(ctx, req.OrderID)
	if err != nil {
		return nil, err
	}
	var order struct {
		Status string `json:"status"`
	}
	found, err := getJSON(ctx, okey, &order)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound("order %s does not exist", req.OrderID)
	}
	dkey, err := documentKey(ctx, sha)
	if err != nil {
		return nil, err
	}
	var existing DocumentRecord
	anchored, err := getJSON(ctx, dkey, &existing)
	if err != nil {
		return nil, err
	}
	if anchored {
		return nil, errConflict("document %s is already anchored to order %s as %s by %s at %s", sha, existing.OrderID, existing.Kind, existing.AnchoredByMSP, existing.AnchoredAt)
	}
	rec := &DocumentRecord{
		SHA256: sha, OrderID: req.OrderID, Kind: req.Kind,
		AnchoredByMSP: ti.msp, AnchoredBy: ti.id, AnchoredAt: ti.ts, TxID: ti.txID,
	}
	if err := putJSON(ctx, dkey, rec); err != nil {
		return nil, err
	}
	ikey, err := orderDocumentKey(ctx, req.OrderID, sha)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, ikey, rec); err != nil {
		return nil, err
	}
	if err := emit(ctx, eventDocAnchored, DocumentEvent{
		OrderID: req.OrderID, Status: order.Status, SHA256: sha, Kind: req.Kind, TxID: rec.TxID,
	}); err != nil {
		return nil, err
	}
	return rec, nil
}

// VerifyDocument returns the anchoring record of a document hash (64 hex digits, either case),
// or NOT_FOUND when the hash was never anchored. Any member organisation may verify. Evaluate
// only.
func (c *Contract) VerifyDocument(ctx contractapi.TransactionContextInterface, sha256 string) (*DocumentRecord, error) {
	if _, err := requireOrg(ctx, "VerifyDocument", Organisations...); err != nil {
		return nil, err
	}
	sha, err := NormalizeSHA256Hex("sha256", sha256)
	if err != nil {
		return nil, err
	}
	key, err := documentKey(ctx, sha)
	if err != nil {
		return nil, err
	}
	var rec DocumentRecord
	found, err := getJSON(ctx, key, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound("document %s is not anchored", sha)
	}
	return &rec, nil
}
