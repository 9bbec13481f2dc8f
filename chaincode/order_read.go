package chaincode

import (
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
// paymentPrivate (Bank, Customs, Regulator) also get payment.payerName and payment.payerAccount. Private
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
// by any combination of merchantId, status and buyerId ("" = no filter), or by creation period
// (createdFrom, createdTo: RFC 3339 timestamps or dates, either may be "") alone or with
// merchantId. pageSize is a decimal string: "" or "0" means 20, larger values are capped at 100,
// a negative or non-numeric value is INVALID_ARGUMENT. bookmark is "" for the first page, then
// the previous page's bookmark; the last page has an empty bookmark; a bookmark that is not a
// key of the query's range is INVALID_ARGUMENT. Each filter combination reads a composite-key
// index with pagination (a creation period starts the walk at createdFrom and stops after
// createdTo), so the cost grows with the page size, not with the ledger. The chaincode also
// accepts the five arguments ListOrders had before the period filters (see Chaincode.Invoke).
func (c *Contract) ListOrders(ctx contractapi.TransactionContextInterface, merchantID, status, buyerID, pageSize, bookmark, createdFrom, createdTo string) (*OrderPage, error) {
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
	var q *orderQuery
	if createdFrom == "" && createdTo == "" {
		q, err = indexQuery(ctx, merchantID, status, buyerID, bookmark)
	} else {
		q, err = creationQuery(ctx, merchantID, status, buyerID, bookmark, createdFrom, createdTo)
	}
	if err != nil {
		return nil, err
	}
	return q.page(ctx, size)
}

// orderQuery is one page walk of ListOrders over a composite-key index.
type orderQuery struct {
	objectType string
	attrs      []string
	start      string // where the page starts: the bookmark, or for a creation period its lower bound
	until      string // a creation-time index walk stops after this time (sortableTimeLayout); "" = no end
}

// indexQuery returns the walk of the index that matches the merchant, status and buyer filters.
func indexQuery(ctx contractapi.TransactionContextInterface, merchantID, status, buyerID, bookmark string) (*orderQuery, error) {
	objectType, attrs := orderListIndex(merchantID, status, buyerID)
	if err := checkBookmark(ctx, bookmark, objectType, attrs...); err != nil {
		return nil, err
	}
	return &orderQuery{objectType: objectType, attrs: attrs, start: bookmark}, nil
}

// creationQuery returns the walk of a creation-time index over the period [createdFrom,
// createdTo], all orders or one merchant's. Status and buyer filters cannot be combined with a
// period (no index holds both, and filtering a walk would make its cost grow with the orders
// skipped).
func creationQuery(ctx contractapi.TransactionContextInterface, merchantID, status, buyerID, bookmark, createdFrom, createdTo string) (*orderQuery, error) {
	if status != "" {
		return nil, errInvalid("status", "cannot be combined with createdFrom/createdTo; filter by creation period alone or with merchantId")
	}
	if buyerID != "" {
		return nil, errInvalid("buyerId", "cannot be combined with createdFrom/createdTo; filter by creation period alone or with merchantId")
	}
	period, err := parsePeriod("createdFrom", createdFrom, "createdTo", createdTo, false)
	if err != nil {
		return nil, err
	}
	q := &orderQuery{objectType: idxCreated}
	if merchantID != "" {
		q.objectType, q.attrs = idxMerchantCreated, []string{merchantID}
	}
	lower, err := compositeKey(ctx, q.objectType, append(slices.Clone(q.attrs), period.from.Format(sortableTimeLayout))...)
	if err != nil {
		return nil, err
	}
	if err := checkBookmark(ctx, bookmark, q.objectType, q.attrs...); err != nil {
		return nil, err
	}
	if bookmark != "" && bookmark < lower {
		return nil, errInvalid("bookmark", "lies before createdFrom: pass back the bookmark of the previous page of the same query, unchanged")
	}
	q.start = bookmark
	if q.start == "" {
		q.start = lower
	}
	if createdTo != "" {
		q.until = period.to.Format(sortableTimeLayout)
	}
	return q, nil
}

// page reads one page of the walk: at most size orders from q.start, stopping at the first
// index entry created after q.until.
func (q *orderQuery) page(ctx contractapi.TransactionContextInterface, size int32) (*OrderPage, error) {
	it, meta, err := ctx.GetStub().GetStateByPartialCompositeKeyWithPagination(q.objectType, q.attrs, size, q.start)
	if err != nil {
		return nil, errInternal("query orders", err)
	}
	defer it.Close()
	page := &OrderPage{Items: []Order{}}
	done := false
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, errInternal("iterate orders", err)
		}
		beyond, err := q.beyond(ctx, kv.GetKey())
		if err != nil {
			return nil, err
		}
		if beyond {
			done = true
			break
		}
		o, err := listedOrder(ctx, q.objectType, kv.GetKey(), kv.GetValue())
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, *o)
	}
	page.Count = int32(len(page.Items))
	if done || page.Count < size || meta == nil {
		return page, nil
	}
	next := meta.GetBookmark()
	if beyond, err := q.beyond(ctx, next); err != nil || beyond {
		return page, err
	}
	page.Bookmark = next
	return page, nil
}

// beyond reports whether a creation-time index key lies after the walk's end (never for other
// walks, nor for the empty key that ends a range).
func (q *orderQuery) beyond(ctx contractapi.TransactionContextInterface, key string) (bool, error) {
	if q.until == "" || key == "" {
		return false, nil
	}
	_, parts, err := ctx.GetStub().SplitCompositeKey(key)
	if err != nil || len(parts) < 2 {
		return false, errInternal("split creation index key", err)
	}
	return parts[len(parts)-2] > q.until, nil
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
// decision, dispute, tracking link, each checkpoint, each buyer statement and each anchored
// document), merged oldest first by transaction timestamp then transaction ID, each with the
// creator's MSP ID as recorded in the written value.
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
	stmtKeys, err := orderStatementKeys(ctx, o.OrderID)
	if err != nil {
		return nil, err
	}
	for _, k := range stmtKeys {
		keys = append(keys, historyKey{kind: "buyerStatement", key: k})
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

// historyIdentityFields are the fields of the stored records that hold a creator's full
// identity ("x509::<subject DN>::<issuer DN>"). The audit trail gives the identity once per entry
// in short form (creatorMsp, creatorName) and leaves these out of the values: repeated in every
// record, they made one order's trail tens of kilobytes.
var historyIdentityFields = []string{"updatedBy", "certifiedBy", "anchoredBy"}

// historyEntry renders one key modification: the creator's MSP from the written value's
// updatedByMsp (documents: anchoredByMsp), its certificate's common name from the value's
// identity, and the value without the full identity fields (its members then in sorted order).
func historyEntry(kind string, m *queryresult.KeyModification) (HistoryEntry, error) {
	e := HistoryEntry{
		TxID: m.GetTxId(), Type: kind, IsDelete: m.GetIsDelete(),
		Timestamp: m.GetTimestamp().AsTime().UTC().Format(timeLayout),
	}
	if m.GetIsDelete() || len(m.GetValue()) == 0 {
		return e, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(m.GetValue(), &fields); err != nil {
		return e, errInternal("decode history value of "+kind, err)
	}
	e.CreatorMSP = firstStringField(fields, "updatedByMsp", "anchoredByMsp")
	e.CreatorName = CommonName(firstStringField(fields, "updatedBy", "anchoredBy", "certifiedBy"))
	for _, f := range historyIdentityFields {
		delete(fields, f)
	}
	value, err := json.Marshal(fields)
	if err != nil {
		return e, errInternal("encode history value of "+kind, err)
	}
	e.Value = json.RawMessage(value)
	return e, nil
}

// firstStringField returns the first of names that fields holds as a non-empty JSON string.
func firstStringField(fields map[string]json.RawMessage, names ...string) string {
	for _, name := range names {
		var v string
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, &v) == nil && v != "" {
			return v
		}
	}
	return ""
}

// CommonName returns the common name (CN) of the subject of an identity as the contract records
// it ("x509::CN=User1@bank.example,OU=client,...::<issuer DN>"), or "" when it has none.
func CommonName(identity string) string {
	subject, ok := strings.CutPrefix(identity, "x509::")
	if !ok {
		return ""
	}
	if i := strings.Index(subject, "::"); i >= 0 {
		subject = subject[:i]
	}
	for _, rdn := range splitDN(subject) {
		if cn, ok := strings.CutPrefix(rdn, "CN="); ok {
			return cn
		}
	}
	return ""
}

// splitDN splits a distinguished name at the commas that separate its attributes (a comma
// escaped with a backslash belongs to the value) and removes the escapes.
func splitDN(dn string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(dn); i++ {
		switch {
		case dn[i] == '\\' && i+1 < len(dn):
			i++
			cur.WriteByte(dn[i])
		case dn[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(dn[i])
		}
	}
	return append(out, cur.String())
}
