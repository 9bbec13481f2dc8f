package testkit

// Order is a test order and its payment: the REST bodies of its lifecycle are made from it.
// NewOrder gives the one the suites share; callers change fields for their own.
type Order struct {
	ID, MerchantID string
	// The single item: SKU, name, HS code, quantity and unit price (cents).
	SKU, ItemName, HSCode string
	Quantity, UnitPrice   int64
	// ShippingFee is added to the item total (cents).
	ShippingFee int64
	// The buyer's private name, address and phone (also the consignee of the waybill).
	BuyerName, Address, Phone string
	// The payer's private name and account, and the bank's fee for the payment (cents).
	PayerName, PayerAccount string
	Fee                     int64
}

// DefaultMerchant is the merchant of NewOrder's orders.
const DefaultMerchant = "merchant-1"

// NewOrder returns order id of DefaultMerchant: 2 × 1250 + 500 shipping = 3000 USD cents,
// paid as 2760 EUR cents at 0.92.
func NewOrder(id string) Order {
	return Order{
		ID: id, MerchantID: DefaultMerchant,
		SKU: "TEA-1", ItemName: "Green tea", HSCode: "090210", Quantity: 2, UnitPrice: 1250, ShippingFee: 500,
		BuyerName: "Ann Lee", Address: "1 Main St, Springfield", Phone: "+1 555 0100",
		PayerName: "Ann Lee", PayerAccount: "DE89370400440532013000", Fee: 15,
	}
}

// Total is the order's total in its currency (USD cents).
func (o Order) Total() int64 { return o.Quantity*o.UnitPrice + o.ShippingFee }

// CreateBody is the body of POST /api/v1/orders.
func (o Order) CreateBody() map[string]any {
	return map[string]any{
		"orderId": o.ID, "merchantId": o.MerchantID,
		"buyer":         map[string]any{"id": "buyer-" + o.ID, "country": "US", "name": o.BuyerName, "address": o.Address, "phone": o.Phone},
		"sellerCountry": "CN", "currency": "USD",
		"items":       []any{map[string]any{"sku": o.SKU, "name": o.ItemName, "hsCode": o.HSCode, "quantity": o.Quantity, "unitPrice": o.UnitPrice}},
		"shippingFee": o.ShippingFee,
	}
}

// PaymentBody is the body of POST /api/v1/orders/{id}/payment: the total paid in EUR at 0.92,
// the payer amount rounded half to even in cents.
func (o Order) PaymentBody(paymentID string) map[string]any {
	return map[string]any{"paymentId": paymentID, "payerCurrency": "EUR", "payerAmount": HalfEven(o.Total()*92, 100), "fxRate": "0.92",
		"fee": o.Fee, "payerName": o.PayerName, "payerAccount": o.PayerAccount}
}

// DeclarationBody is the body of POST /api/v1/orders/{id}/customs/declaration, matching the
// order.
func (o Order) DeclarationBody() map[string]any {
	return map[string]any{"declarationId": "dec-" + o.ID, "declaredValue": o.Total(), "hsCodes": []string{o.HSCode}}
}

// WaybillBody is the body of POST /api/v1/orders/{id}/waybill, its consignee the buyer.
func (o Order) WaybillBody() map[string]any {
	return map[string]any{"waybillNo": "wb-" + o.ID, "consigneeName": o.BuyerName, "consigneeAddress": o.Address}
}

// PrivateStrings are the order's private values, which must never reach public state, events
// or logs.
func (o Order) PrivateStrings() []string {
	return []string{o.BuyerName, o.Address, o.Phone, o.PayerName, o.PayerAccount}
}

// OrderBody is NewOrder(id).CreateBody().
func OrderBody(id string) map[string]any { return NewOrder(id).CreateBody() }

// PaymentBody is NewOrder(id).PaymentBody("pay-" + id).
func PaymentBody(id string) map[string]any { return NewOrder(id).PaymentBody("pay-" + id) }

// ClearedDecision is the body of a customs decision that clears an order with duty and tax.
func ClearedDecision() map[string]any {
	return map[string]any{"decision": "CLEARED", "dutyAmount": 120, "taxAmount": 80}
}

// Checkpoints are the carrier's checkpoint codes, in order: the last one delivers the order.
var Checkpoints = []string{"PICKED_UP", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"}

// CheckpointBody is the body of POST /api/v1/orders/{id}/checkpoints.
func CheckpointBody(code string) map[string]any {
	return map[string]any{"code": code, "location": "Hub " + code}
}

// HalfEven divides n >= 0 by d > 0, rounding half to even.
func HalfEven(n, d int64) int64 {
	q, r := n/d, n%d
	switch {
	case 2*r > d, 2*r == d && q%2 == 1:
		return q + 1
	default:
		return q
	}
}
