package chaincode

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
)

// Page sizes of ListOrders.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// GetOrder returns an order (any member organisation). Members of orderPrivate (Merchant,
// Carrier, Customs) also get buyer.name, buyer.address and buyer.phone — a MerchantMSP identity
// bound to merchants by MerchantAttribute only for those merchants' orders; members of
// paymentPrivate (Bank, Customs) also get payment.payerName and payment.payerAccount. Private
// data is never read for a caller not entitled to it.
func (c *Contract) GetOrder(ctx contractapi.TransactionContextInterface, orderID string) (*Order, error) {
	msp, err := requireOrg(ctx, "GetOrder", Organisations...)
	if err != nil {
		return nil, err
	}
	o, err := loadOrder(ctx, orderID)
	if err != nil {
		return nil, err
	}
	buyer, err := mayReadBuyer(ctx, msp, o)
	if err != nil {
		return nil, err
	}
	if buyer {
		if err := addBuyerPrivate(ctx, o); err != nil {
			return nil, err
		}
	}
	if o.Payment != nil && isCollectionMember(CollectionPaymentPrivate, msp) {
		if err := addPayerPrivate(ctx, o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// mayReadBuyer reports whether a creator of organisation msp gets the buyer's private data of
// order o: a member of orderPrivate that acts for the order's merchant (see actsForMerchant).
func mayReadBuyer(ctx contractapi.TransactionContextInterface, msp string, o *Order) (bool, error) {
	if !isCollectionMember(CollectionOrderPrivate, msp) {
		return false, nil
	}
	ok, _, err := actsForMerchant(ctx, msp, o.MerchantID)
	return ok, err
}

// addBuyerPrivate fills in the buyer's name, address and phone from orderPrivate.
func addBuyerPrivate(ctx contractapi.TransactionContextInterface, o *Order) error {
	key, err := compositeKey(ctx, privBuyer, o.OrderID)
	if err != nil {
		return err
	}
	var rec buyerPrivateRecord
	found, err := getPrivateJSON(ctx, CollectionOrderPrivate, key, &rec)
	if err != nil || !found {
		return err
	}
	o.Buyer.Name, o.Buyer.Address, o.Buyer.Phone = rec.Name, rec.Address, rec.Phone
	return nil
}

// addPayerPrivate fills in the payer's name and account from paymentPrivate.
func addPayerPrivate(ctx contractapi.TransactionContextInterface, o *Order) error {
	key, err := compositeKey(ctx, privPayer, o.OrderID)
	if err != nil {
		return err
	}
	var rec payerPrivateRecord
	found, err := getPrivateJSON(ctx, CollectionPaymentPrivate, key, &rec)
	if err != nil || !found {
		return err
	}
	o.Payment.PayerName, o.Payment.PayerAccount = rec.PayerName, rec.PayerAccount
	return nil
}

// ListOrders returns one page of orders (any member organisation), public parts only, filtered
// by any combination of merchantId, status and buyerId ("" = no filter). pageSize is a decimal
// string: "" or "0" means 20, larger values are capped at 100, a negative or non-numeric value
// is INVALID_ARGUMENT. bookmark is "" for the first page, then the previous page's bookmark;
// the last page has an empty bookmark; a bookmark that is not a key of the query's range is
// INVALID_ARGUMENT. Each filter combination reads a composite-key index with
// pagination, so the cost grows with the page size, not with the ledger.
func (c *Contract) ListOrders(ctx contractapi.TransactionContextInterface, merchantID, status, buyerID, pageSize, bookmark string) (*OrderPage, error) {
	if _, err := requireOrg(ctx, "ListOrders", Organisations...); err != nil {
		return nil, err
	}
	if err := validateOrderFilters(merchantID, status, buyerID); err != nil {
		return nil, err
	}
	size, err := ParsePageSize("pageSize", pageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return nil, err
	}
	objectType, attrs := orderListIndex(merchantID, status, buyerID)
	if err := checkBookmark(ctx, bookmark, objectType, attrs...); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	it, meta, err := stub.GetStateByPartialCompositeKeyWithPagination(objectType, attrs, size, bookmark)
	if err != nil {
		return nil, errInternal("query orders", err)
	}
	defer it.Close()
	page := &OrderPage{Items: []Order{}}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, errInternal("iterate orders", err)
		}
		o, err := listedOrder(ctx, objectType, kv.GetKey(), kv.GetValue())
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, *o)
	}
	page.Count = int32(len(page.Items))
	if meta != nil && page.Count > 0 {
		page.Bookmark = meta.GetBookmark()
	}
	if page.Count < size {
		page.Bookmark = ""
	}
	return page, nil
}

// validateOrderFilters checks the ListOrders filters ("" = no filter).
func validateOrderFilters(merchantID, status, buyerID string) error {
	if merchantID != "" {
		if err := ValidateID("merchantId", merchantID); err != nil {
			return err
		}
	}
	if buyerID != "" {
		if err := ValidateID("buyerId", buyerID); err != nil {
			return err
		}
	}
	if status != "" && !slices.Contains(Statuses, status) {
		return errInvalid("status", "must be one of %s, got %q", strings.Join(Statuses, ", "), status)
	}
	return nil
}

// orderListIndex returns the composite-key object type and leading attributes whose keys list
// exactly the orders matching the filters: the order keys themselves without a filter, else the
// status index with the most specific prefix.
func orderListIndex(merchantID, status, buyerID string) (string, []string) {
	var objectType string
	var attrs []string
	switch {
	case merchantID != "" && buyerID != "":
		objectType, attrs = idxMerchantBuyerStatus, []string{merchantID, buyerID}
	case merchantID != "":
		objectType, attrs = idxMerchantStatus, []string{merchantID}
	case buyerID != "":
		objectType, attrs = idxBuyerStatus, []string{buyerID}
	case status != "":
		objectType = idxStatus
	default:
		return objOrder, nil
	}
	if status != "" {
		attrs = append(attrs, status)
	}
	return objectType, attrs
}

// listedOrder returns the order of one key of a ListOrders scan: the value itself for an order
// key, else the order named by the index key's last attribute.
func listedOrder(ctx contractapi.TransactionContextInterface, objectType, key string, value []byte) (*Order, error) {
	var o Order
	if objectType == objOrder {
		if err := json.Unmarshal(value, &o); err != nil {
			return nil, errInternal("decode order", err)
		}
		return &o, overlayEscrow(ctx, &o)
	}
	_, parts, err := ctx.GetStub().SplitCompositeKey(key)
	if err != nil || len(parts) == 0 {
		return nil, errInternal("split index key", err)
	}
	id := parts[len(parts)-1]
	okey, err := orderKey(ctx, id)
	if err != nil {
		return nil, err
	}
	found, err := getJSON(ctx, okey, &o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errInternal("index entry without order", errNotFound("order %q", id))
	}
	return &o, overlayEscrow(ctx, &o)
}

// GetOrderHistory returns the audit trail of an order (any member organisation): every
// modification of every key of the order (order, payment, declaration, waybill, customs
// decision, dispute, each checkpoint and each anchored document), merged oldest first by
// transaction timestamp then transaction ID, each with the creator's MSP ID as recorded in the
// written value.
func (c *Contract) GetOrderHistory(ctx contractapi.TransactionContextInterface, orderID string) (*OrderHistory, error) {
	if _, err := requireOrg(ctx, "GetOrderHistory", Organisations...); err != nil {
		return nil, err
	}
	o, err := loadOrder(ctx, orderID)
	if err != nil {
		return nil, err
	}
	keys, err := orderHistoryKeys(ctx, o)
	if err != nil {
		return nil, err
	}
	docKeys, err := orderDocumentKeys(ctx, o.OrderID)
	if err != nil {
		return nil, err
	}
	for _, k := range docKeys {
		keys = append(keys, historyKey{kind: "document", key: k})
	}
	var all []stampedEntry
	for _, hk := range keys {
		if all, err = appendKeyHistory(ctx, hk, all); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(all, func(a, b stampedEntry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.entry.TxID, b.entry.TxID)
	})
	h := &OrderHistory{OrderID: o.OrderID, Entries: make([]HistoryEntry, 0, len(all))}
	for _, s := range all {
		h.Entries = append(h.Entries, s.entry)
	}
	return h, nil
}

// stampedEntry is a history entry with its parsed timestamp, for sorting.
type stampedEntry struct {
	at    time.Time
	entry HistoryEntry
}

// appendKeyHistory appends every modification of one key of the order to all.
func appendKeyHistory(ctx contractapi.TransactionContextInterface, hk historyKey, all []stampedEntry) ([]stampedEntry, error) {
	it, err := ctx.GetStub().GetHistoryForKey(hk.key)
	if err != nil {
		return nil, errInternal("read history of "+hk.kind, err)
	}
	defer it.Close()
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, errInternal("iterate history of "+hk.kind, err)
		}
		e, err := historyEntry(hk.kind, m)
		if err != nil {
			return nil, err
		}
		all = append(all, stampedEntry{at: m.GetTimestamp().AsTime().UTC(), entry: e})
	}
	return all, nil
}

// historyEntry renders one key modification; the creator's MSP comes from the written value's
// updatedByMsp (documents: anchoredByMsp).
func historyEntry(kind string, m *queryresult.KeyModification) (HistoryEntry, error) {
	e := HistoryEntry{
		TxID: m.GetTxId(), Type: kind, IsDelete: m.GetIsDelete(),
		Timestamp: m.GetTimestamp().AsTime().UTC().Format(timeLayout),
	}
	if m.GetIsDelete() || len(m.GetValue()) == 0 {
		return e, nil
	}
	var who struct {
		UpdatedByMSP  string `json:"updatedByMsp"`
		AnchoredByMSP string `json:"anchoredByMsp"`
	}
	if err := json.Unmarshal(m.GetValue(), &who); err != nil {
		return e, errInternal("decode history value of "+kind, err)
	}
	e.CreatorMSP = who.UpdatedByMSP
	if e.CreatorMSP == "" {
		e.CreatorMSP = who.AnchoredByMSP
	}
	e.Value = json.RawMessage(bytes.Clone(m.GetValue()))
	return e, nil
}
