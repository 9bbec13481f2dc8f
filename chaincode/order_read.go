package chaincode

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Page sizes of ListOrders.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// GetOrder returns an order (any member organisation). Members of orderPrivate (Merchant,
// Carrier, Customs) also get buyer.name, buyer.address and buyer.phone; members of
// paymentPrivate (Bank, Customs) also get payment.payerName and payment.payerAccount. Private
// data is never read for a caller whose organisation is not a member of the collection.
func (c *Contract) GetOrder(ctx contractapi.TransactionContextInterface, orderID string) (*Order, error) {
	msp, err := requireOrg(ctx, "GetOrder", Organisations...)
	if err != nil {
		return nil, err
	}
	o, err := loadOrder(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if isCollectionMember(CollectionOrderPrivate, msp) {
		key, err := compositeKey(ctx, privBuyer, o.OrderID)
		if err != nil {
			return nil, err
		}
		var rec buyerPrivateRecord
		found, err := getPrivateJSON(ctx, CollectionOrderPrivate, key, &rec)
		if err != nil {
			return nil, err
		}
		if found {
			o.Buyer.Name, o.Buyer.Address, o.Buyer.Phone = rec.Name, rec.Address, rec.Phone
		}
	}
	if o.Payment != nil && isCollectionMember(CollectionPaymentPrivate, msp) {
		key, err := compositeKey(ctx, privPayer, o.OrderID)
		if err != nil {
			return nil, err
		}
		var rec payerPrivateRecord
		found, err := getPrivateJSON(ctx, CollectionPaymentPrivate, key, &rec)
		if err != nil {
			return nil, err
		}
		if found {
			o.Payment.PayerName, o.Payment.PayerAccount = rec.PayerName, rec.PayerAccount
		}
	}
	return o, nil
}

// ListOrders returns one page of orders (any member organisation), public parts only, filtered
// by any combination of merchantId, status and buyerId ("" = no filter). pageSize is a decimal
// string: "" or "0" means 20, larger values are capped at 100, a negative or non-numeric value
// is INVALID_ARGUMENT. bookmark is "" for the first page, then the previous page's bookmark;
// the last page has an empty bookmark. Each filter combination reads a composite-key index with
// pagination, so the cost grows with the page size, not with the ledger.
func (c *Contract) ListOrders(ctx contractapi.TransactionContextInterface, merchantID, status, buyerID, pageSize, bookmark string) (*OrderPage, error) {
	if _, err := requireOrg(ctx, "ListOrders", Organisations...); err != nil {
		return nil, err
	}
	if merchantID != "" {
		if err := ValidateID("merchantId", merchantID); err != nil {
			return nil, err
		}
	}
	if buyerID != "" {
		if err := ValidateID("buyerId", buyerID); err != nil {
			return nil, err
		}
	}
	if status != "" && !slices.Contains(Statuses, status) {
		return nil, errInvalid("status", "must be one of %s, got %q", strings.Join(Statuses, ", "), status)
	}
	size, err := ParsePageSize("pageSize", pageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return nil, err
	}
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
		objectType, attrs = idxStatus, nil
	default:
		objectType, attrs = objOrder, nil
	}
	if status != "" {
		attrs = append(attrs, status)
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
		var o Order
		if objectType == objOrder {
			if err := json.Unmarshal(kv.Value, &o); err != nil {
				return nil, errInternal("decode order", err)
			}
		} else {
			_, parts, err := stub.SplitCompositeKey(kv.Key)
			if err != nil || len(parts) == 0 {
				return nil, errInternal("split index key", err)
			}
			key, err := orderKey(ctx, parts[len(parts)-1])
			if err != nil {
				return nil, err
			}
			found, err := getJSON(ctx, key, &o)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, errInternal("index entry without order", errNotFound("order %q", parts[len(parts)-1]))
			}
		}
		page.Items = append(page.Items, o)
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

// GetOrderHistory returns the audit trail of an order (any member organisation): every
// modification of every key of the order (order, payment, declaration, waybill, customs
// decision, dispute, each checkpoint and each anchored document), merged oldest first by transaction timestamp then
// transaction ID, each with the creator's MSP ID as recorded in the written value.
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
	type stamped struct {
		at    time.Time
		entry HistoryEntry
	}
	var all []stamped
	for _, hk := range keys {
		it, err := ctx.GetStub().GetHistoryForKey(hk.key)
		if err != nil {
			return nil, errInternal("read history of "+hk.kind, err)
		}
		for it.HasNext() {
			m, err := it.Next()
			if err != nil {
				_ = it.Close()
				return nil, errInternal("iterate history of "+hk.kind, err)
			}
			e := HistoryEntry{TxID: m.GetTxId(), Type: hk.kind, IsDelete: m.GetIsDelete()}
			at := m.GetTimestamp().AsTime().UTC()
			e.Timestamp = at.Format(timeLayout)
			if !m.GetIsDelete() && len(m.GetValue()) > 0 {
				var who struct {
					UpdatedByMSP  string `json:"updatedByMsp"`
					AnchoredByMSP string `json:"anchoredByMsp"`
				}
				if err := json.Unmarshal(m.GetValue(), &who); err != nil {
					_ = it.Close()
					return nil, errInternal("decode history value of "+hk.kind, err)
				}
				e.CreatorMSP = who.UpdatedByMSP
				if e.CreatorMSP == "" {
					e.CreatorMSP = who.AnchoredByMSP
				}
				e.Value = json.RawMessage(bytes.Clone(m.GetValue()))
			}
			all = append(all, stamped{at: at, entry: e})
		}
		_ = it.Close()
	}
	slices.SortStableFunc(all, func(a, b stamped) int {
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
