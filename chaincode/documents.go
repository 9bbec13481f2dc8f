package chaincode

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
)

// Composite-key object types of anchored documents.
const (
	// [sha256, orderId, kind] → DocumentRecord: one anchor per (order, hash, kind). Anchors made
	// before anchors were per order and kind live under [sha256] alone; the partial-key scan of
	// [sha256] finds both.
	objDocumentAnchor = "document"
	objOrderDocument  = "order~doc" // [orderId, sha256, kind] → DocumentRecord (per-order index)
	eventDocAnchored  = "DocumentAnchored"
	maxDocumentsIndex = 1000 // documents listed per order in an audit trail, anchors per hash in VerifyDocument, at most
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
	SHA256          string `json:"sha256"`
	OrderID         string `json:"orderId"`
	Kind            string `json:"kind"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
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

// DocumentVerification is the answer of VerifyDocument: every anchor of a hash, oldest first,
// and — for clients written when a hash had a single anchor — the fields of the oldest anchor
// at the top level.
type DocumentVerification struct {
	DocumentRecord
	Count   int32            `json:"count"`
	Anchors []DocumentRecord `json:"anchors"`
}

// DocumentEvent is the payload of the DocumentAnchored event.
type DocumentEvent struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	SHA256  string `json:"sha256"`
	Kind    string `json:"kind"`
	TxID    string `json:"txId"`
}

// orderDocumentKeys returns the per-order document index keys of an order, sorted by hash and
// kind. Each key is written once, by the AnchorDocument transaction, so GetHistoryForKey on it
// yields that transaction (for the order's audit trail). At most maxDocumentsIndex keys are
// returned.
func orderDocumentKeys(ctx contractapi.TransactionContextInterface, orderID string) ([]string, error) {
	keys := []string{}
	err := scanKeys(ctx, "order documents", objOrderDocument, []string{orderID}, func(kv *queryresult.KV) error {
		keys = append(keys, kv.GetKey())
		return nil
	})
	return keys, err
}

// scanKeys calls fn for the keys of a partial composite key query, in key order, at most
// maxDocumentsIndex of them; what names the keys in errors.
func scanKeys(ctx contractapi.TransactionContextInterface, what, objectType string, attrs []string, fn func(kv *queryresult.KV) error) error {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(objectType, attrs)
	if err != nil {
		return errInternal("query "+what, err)
	}
	defer it.Close()
	for n := 0; it.HasNext() && n < maxDocumentsIndex; n++ {
		kv, err := it.Next()
		if err != nil {
			return errInternal("iterate "+what, err)
		}
		if err := fn(kv); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the anchor request and returns the hash in lower case.
func (r *AnchorDocumentRequest) validate() (string, error) {
	sha, err := NormalizeSHA256Hex("sha256", r.SHA256)
	if err != nil {
		return "", err
	}
	if err := ValidateID("orderId", r.OrderID); err != nil {
		return "", err
	}
	if _, ok := slices.BinarySearch(DocumentKinds, r.Kind); !ok {
		return "", errInvalid("kind", "must be one of %s, got %s", strings.Join(DocumentKinds, ", "), quoteValue(r.Kind))
	}
	return sha, ValidateNonNegative("expectedVersion", r.ExpectedVersion)
}

// AnchorDocument anchors the SHA-256 of a document to an existing order as one kind of document
// (any member organisation except the read-only regulator; a MerchantMSP identity bound to
// merchants only to their orders). The hash is validated and stored in lower case. The same hash
// may be anchored to several orders and as several kinds; anchoring the same (order, hash, kind)
// twice is a CONFLICT, so nobody can block another party's anchor. An unknown order is
// NOT_FOUND; expectedVersion (optional) must be the order's version; the anchor's time must not
// be before the order's creation. It records the anchoring organisation and identity, the
// transaction time and ID, writes the per-order index key (so the order's audit trail lists the
// document) and emits DocumentAnchored. The order record itself is not changed.
func (c *Contract) AnchorDocument(ctx contractapi.TransactionContextInterface, req AnchorDocumentRequest) (*DocumentRecord, error) {
	ti, err := c.begin(ctx, &req, "AnchorDocument", writers...)
	if err != nil {
		return nil, err
	}
	sha, err := req.validate()
	if err != nil {
		return nil, err
	}
	o, err := loadOrder(ctx, req.OrderID)
	if err != nil {
		return nil, err
	}
	if err := requireMerchant(ctx, ti, o.MerchantID); err != nil {
		return nil, err
	}
	if err := requireVersion(o, req.ExpectedVersion); err != nil {
		return nil, err
	}
	dkey, err := compositeKey(ctx, objDocumentAnchor, sha, o.OrderID, req.Kind)
	if err != nil {
		return nil, err
	}
	if err := requireNewAnchor(ctx, dkey, sha, o.OrderID, req.Kind); err != nil {
		return nil, err
	}
	created, err := time.Parse(timeLayout, o.CreatedAt)
	if err != nil {
		return nil, errInternal("parse createdAt", err)
	}
	if err := requireNotBefore(ti, o.OrderID, "createdAt", created); err != nil {
		return nil, err
	}
	rec := &DocumentRecord{
		SHA256: sha, OrderID: o.OrderID, Kind: req.Kind,
		AnchoredByMSP: ti.msp, AnchoredBy: ti.id, AnchoredAt: ti.ts, TxID: ti.txID,
	}
	if err := putJSON(ctx, dkey, rec); err != nil {
		return nil, err
	}
	ikey, err := compositeKey(ctx, objOrderDocument, o.OrderID, sha, req.Kind)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, ikey, rec); err != nil {
		return nil, err
	}
	if err := emit(ctx, eventDocAnchored, DocumentEvent{
		OrderID: o.OrderID, Status: o.Status, SHA256: sha, Kind: req.Kind, TxID: rec.TxID,
	}); err != nil {
		return nil, err
	}
	return rec, nil
}

// requireNewAnchor returns CONFLICT when (orderID, sha, kind) is already anchored, under its own
// key or as the single anchor an earlier contract version kept per hash.
func requireNewAnchor(ctx contractapi.TransactionContextInterface, key, sha, orderID, kind string) error {
	for _, k := range []func() (string, error){
		func() (string, error) { return key, nil },
		func() (string, error) { return compositeKey(ctx, objDocumentAnchor, sha) },
	} {
		kk, err := k()
		if err != nil {
			return err
		}
		var existing DocumentRecord
		found, err := getJSON(ctx, kk, &existing)
		if err != nil {
			return err
		}
		if found && existing.OrderID == orderID && existing.Kind == kind {
			return errConflict("document %s is already anchored to order %s as %s by %s at %s", sha, orderID, kind, existing.AnchoredByMSP, existing.AnchoredAt)
		}
	}
	return nil
}

// VerifyDocument returns every anchor of a document hash (64 hex digits, either case), oldest
// first, with the oldest anchor's fields also at the top level; NOT_FOUND when the hash was never
// anchored. Any member organisation may verify. Evaluate only.
func (c *Contract) VerifyDocument(ctx contractapi.TransactionContextInterface, sha256 string) (*DocumentVerification, error) {
	if _, err := requireOrg(ctx, "VerifyDocument", Organisations...); err != nil {
		return nil, err
	}
	sha, err := NormalizeSHA256Hex("sha256", sha256)
	if err != nil {
		return nil, err
	}
	anchors := []DocumentRecord{}
	err = scanKeys(ctx, "document anchors", objDocumentAnchor, []string{sha}, func(kv *queryresult.KV) error {
		var rec DocumentRecord
		if err := json.Unmarshal(kv.GetValue(), &rec); err != nil {
			return errInternal("decode document anchor", err)
		}
		anchors = append(anchors, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(anchors) == 0 {
		return nil, errNotFound("document %s is not anchored", sha)
	}
	if err := sortAnchors(anchors); err != nil {
		return nil, err
	}
	return &DocumentVerification{DocumentRecord: anchors[0], Count: int32(len(anchors)), Anchors: anchors}, nil
}

// sortAnchors orders anchors oldest first (anchoredAt, then transaction ID).
func sortAnchors(anchors []DocumentRecord) error {
	type dated struct {
		at  time.Time
		rec DocumentRecord
	}
	all := make([]dated, len(anchors))
	for i, a := range anchors {
		t, err := time.Parse(timeLayout, a.AnchoredAt)
		if err != nil {
			return errInternal("parse anchoredAt", err)
		}
		all[i] = dated{at: t, rec: a}
	}
	slices.SortStableFunc(all, func(a, b dated) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.rec.TxID, b.rec.TxID)
	})
	for i, d := range all {
		anchors[i] = d.rec
	}
	return nil
}
