package chaincode

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Object types of the composite keys written by the order lifecycle. Every key is built with
// CreateCompositeKey, so it starts with 0x00 and never collides with another object type.
const (
	objOrder       = "order"       // [orderId] → Order
	objPayment     = "payment"     // [orderId] → PaymentRecord
	objPaymentID   = "paymentid"   // [paymentId] → orderId (one payment ID is never used twice)
	objWaybill     = "waybill"     // [orderId] → WaybillRecord
	objDeclaration = "declaration" // [orderId] → DeclarationRecord
	objDecision    = "decision"    // [orderId] → DecisionRecord (overwritten per decision)
	objCheckpoint  = "checkpoint"  // [orderId, seq (6 digits)] → CheckpointRecord
	objDispute     = "dispute"     // [orderId] → DisputeRecord
	// objEscrow (escrow.go): [orderId] → EscrowRecord, with a key-level endorsement policy.

	// Indexes: the value is a single 0x00 byte; the order ID is the last attribute.
	idxStatus              = "ord~s"     // [status, orderId]
	idxMerchantStatus      = "ord~m~s"   // [merchantId, status, orderId]
	idxBuyerStatus         = "ord~b~s"   // [buyerId, status, orderId]
	idxMerchantBuyerStatus = "ord~m~b~s" // [merchantId, buyerId, status, orderId]
	// Creation-time indexes, written once by CreateOrder (the time is sortableTimeLayout, so
	// key order is creation order): ListOrders' createdFrom/createdTo walk them.
	idxCreated         = "ord~c"   // [createdAt, orderId]
	idxMerchantCreated = "ord~m~c" // [merchantId, createdAt, orderId]

	// Private data keys (composite keys inside the collections).
	privBuyer             = "buyer"              // orderPrivate [orderId] → buyer private record
	privConsigneeMerchant = "consignee~merchant" // orderPrivate [orderId] → canonical consignee (merchant)
	privConsigneeCarrier  = "consignee~carrier"  // orderPrivate [orderId] → canonical consignee (carrier)
	privPayer             = "payer"              // paymentPrivate [orderId] → payer private record
)

// indexValue is the value stored under index keys (Fabric deletes keys with empty values).
var indexValue = []byte{0x00}

// compositeKey builds a composite key of objectType and attrs (INTERNAL on a malformed
// attribute; callers validate IDs first). Every package key is built with it.
func compositeKey(ctx contractapi.TransactionContextInterface, objectType string, attrs ...string) (string, error) {
	if k, ok := buildCompositeKey(objectType, attrs); ok {
		return k, nil
	}
	k, err := ctx.GetStub().CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", errInternal("create "+objectType+" key", err)
	}
	return k, nil
}

// compositeKeySeparator starts a composite key and ends each of its parts (U+0000).
const compositeKeySeparator = "\x00"

// buildCompositeKey builds the composite key the shim's CreateCompositeKey builds — U+0000, then
// the object type and each attribute, each followed by U+0000 — in one allocation, when every
// part is one the shim accepts (valid UTF-8 holding neither U+0000 nor U+10FFFF). It reports
// false otherwise, and compositeKey lets the stub refuse the part with its own error.
func buildCompositeKey(objectType string, attrs []string) (string, bool) {
	n := len(compositeKeySeparator) + len(objectType) + len(compositeKeySeparator)
	if !compositeKeyPart(objectType) {
		return "", false
	}
	for _, a := range attrs {
		if !compositeKeyPart(a) {
			return "", false
		}
		n += len(a) + len(compositeKeySeparator)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(compositeKeySeparator)
	b.WriteString(objectType)
	b.WriteString(compositeKeySeparator)
	for _, a := range attrs {
		b.WriteString(a)
		b.WriteString(compositeKeySeparator)
	}
	return b.String(), true
}

// compositeKeyPart reports whether the shim accepts s as a part of a composite key.
func compositeKeyPart(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && !strings.ContainsRune(s, utf8.MaxRune)
}

// orderKey returns the key of an order record.
func orderKey(ctx contractapi.TransactionContextInterface, orderID string) (string, error) {
	return compositeKey(ctx, objOrder, orderID)
}

// checkpointKey returns the key of an order's seq-th checkpoint (zero-padded, so checkpoints
// sort in order).
func checkpointKey(ctx contractapi.TransactionContextInterface, orderID string, seq int64) (string, error) {
	return compositeKey(ctx, objCheckpoint, orderID, fmt.Sprintf("%06d", seq))
}

// indexKeys returns the index keys of an order in the given status.
func indexKeys(ctx contractapi.TransactionContextInterface, o *Order, status string) ([]string, error) {
	specs := [][]string{
		{idxStatus, status, o.OrderID},
		{idxMerchantStatus, o.MerchantID, status, o.OrderID},
		{idxBuyerStatus, o.Buyer.ID, status, o.OrderID},
		{idxMerchantBuyerStatus, o.MerchantID, o.Buyer.ID, status, o.OrderID},
	}
	keys := make([]string, 0, len(specs))
	for _, s := range specs {
		k, err := compositeKey(ctx, s[0], s[1:]...)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// sortableTimeLayout renders a time at fixed width in UTC, so that composite keys holding it
// sort in time order.
const sortableTimeLayout = "2006-01-02T15:04:05.000000000Z"

// putCreationIndex writes the creation-time index entries of a new order.
func putCreationIndex(ctx contractapi.TransactionContextInterface, o *Order, ti *txInfo) error {
	at := ti.at.UTC().Format(sortableTimeLayout)
	for _, spec := range [][]string{{idxCreated, at, o.OrderID}, {idxMerchantCreated, o.MerchantID, at, o.OrderID}} {
		key, err := compositeKey(ctx, spec[0], spec[1:]...)
		if err != nil {
			return err
		}
		if err := ctx.GetStub().PutState(key, indexValue); err != nil {
			return errInternal("put creation index entry", err)
		}
	}
	return nil
}

// historyKey is one key of an order whose history belongs to the order's audit trail.
type historyKey struct {
	kind string
	key  string
}

// orderHistoryKeys returns every public key the order's lifecycle may have written, in a fixed
// order: order, payment, escrow, declaration, waybill, decision, dispute, tracking link, then
// each checkpoint (buyer statements and documents are found by their own scans).
func orderHistoryKeys(ctx contractapi.TransactionContextInterface, o *Order) ([]historyKey, error) {
	kinds := []struct{ kind, obj string }{
		{"order", objOrder}, {"payment", objPayment}, {"escrow", objEscrow}, {"declaration", objDeclaration},
		{"waybill", objWaybill}, {"customsDecision", objDecision}, {"dispute", objDispute},
		{"trackingLink", objTrackingLink},
	}
	out := make([]historyKey, 0, len(kinds)+int(o.Logistics.Checkpoints))
	for _, k := range kinds {
		key, err := compositeKey(ctx, k.obj, o.OrderID)
		if err != nil {
			return nil, err
		}
		out = append(out, historyKey{kind: k.kind, key: key})
	}
	for seq := int64(1); seq <= o.Logistics.Checkpoints; seq++ {
		key, err := checkpointKey(ctx, o.OrderID, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, historyKey{kind: "checkpoint", key: key})
	}
	return out, nil
}

// checkBookmark refuses a pagination bookmark that does not lie in the range of the partial
// composite key query (objectType, attrs): a peer starts the page at the bookmark without
// checking it, so a foreign bookmark would let the query read keys of another object type.
// An empty bookmark (the first page) is always accepted.
func checkBookmark(ctx contractapi.TransactionContextInterface, bookmark, objectType string, attrs ...string) error {
	if bookmark == "" {
		return nil
	}
	prefix, err := compositeKey(ctx, objectType, attrs...)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(bookmark, prefix) {
		return errInvalid("bookmark", "is not a bookmark of this query: pass back the bookmark of the previous page of the same query, unchanged")
	}
	return nil
}
