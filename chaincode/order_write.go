package chaincode

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Event names of the order lifecycle.
const (
	EventOrderCreated      = "OrderCreated"
	EventPaymentEscrowed   = "PaymentEscrowed"
	EventWaybillRegistered = "WaybillRegistered"
	EventCustomsDeclared   = "CustomsDeclared"
	EventCustomsDecided    = "CustomsDecided"
	EventCheckpoint        = "CheckpointRecorded"
	EventPaymentReleased   = "PaymentReleased"
	EventDisputeOpened     = "DisputeOpened"
	EventDisputeResolved   = "DisputeResolved"
	EventRefunded          = "Refunded"
	EventOrderCancelled    = "OrderCancelled"
)

// BuyerInput is the public part of the buyer in CreateOrderRequest.
type BuyerInput struct {
	ID      string `json:"id"`
	Country string `json:"country"`
}

// ItemInput is one order line in CreateOrderRequest; UnitPrice is in minor units.
type ItemInput struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	HSCode    string `json:"hsCode"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unitPrice"`
}

// CreateOrderRequest is the argument of CreateOrder. The buyer's name, address and phone travel
// in the transient map under "order_private".
type CreateOrderRequest struct {
	requestBase
	OrderID                   string      `json:"orderId"`
	MerchantID                string      `json:"merchantId"`
	Buyer                     BuyerInput  `json:"buyer"`
	SellerCountry             string      `json:"sellerCountry"`
	Currency                  string      `json:"currency"`
	Items                     []ItemInput `json:"items"`
	ShippingFee               int64       `json:"shippingFee"`
	ConfirmationWindowSeconds int64       `json:"confirmationWindowSeconds,omitempty" metadata:",optional"`
	PromisedDeliveryBy        string      `json:"promisedDeliveryBy,omitempty" metadata:",optional"`
}

// validate checks the request and returns the computed order lines and total.
func (r *CreateOrderRequest) validate() ([]OrderItem, int64, error) {
	if err := firstError(
		ValidateID("orderId", r.OrderID),
		ValidateID("merchantId", r.MerchantID),
		ValidateID("buyer.id", r.Buyer.ID),
		ValidateCountry("buyer.country", r.Buyer.Country),
		ValidateCountry("sellerCountry", r.SellerCountry),
		ValidateCurrency("currency", r.Currency),
		ValidateNonNegative("shippingFee", r.ShippingFee),
	); err != nil {
		return nil, 0, err
	}
	if len(r.Items) == 0 {
		return nil, 0, errInvalid("items", "must list at least one item")
	}
	if len(r.Items) > MaxItems {
		return nil, 0, errInvalid("items", "must list at most %d items, got %d", MaxItems, len(r.Items))
	}
	if r.ConfirmationWindowSeconds != 0 && (r.ConfirmationWindowSeconds < MinConfirmationWindowSecs || r.ConfirmationWindowSeconds > MaxConfirmationWindowSecs) {
		return nil, 0, errInvalid("confirmationWindowSeconds", "must be between %d and %d, got %d", MinConfirmationWindowSecs, MaxConfirmationWindowSecs, r.ConfirmationWindowSeconds)
	}
	if r.PromisedDeliveryBy != "" {
		if _, err := parsePromised("promisedDeliveryBy", r.PromisedDeliveryBy); err != nil {
			return nil, 0, err
		}
	}
	items := make([]OrderItem, 0, len(r.Items))
	total := r.ShippingFee
	for i, it := range r.Items {
		item, err := it.orderItem(fmt.Sprintf("items[%d].", i))
		if err != nil {
			return nil, 0, err
		}
		if total, err = AddAmounts("items", total, item.LineTotal); err != nil {
			return nil, 0, err
		}
		items = append(items, item)
	}
	return items, total, nil
}

// orderItem validates one order line (its fields named with prefix, e.g. "items[2].") and
// returns it with its line total.
func (it ItemInput) orderItem(prefix string) (OrderItem, error) {
	if err := firstError(
		ValidateID(prefix+"sku", it.SKU),
		ValidateText(prefix+"name", it.Name, 200),
		ValidateHSCode(prefix+"hsCode", it.HSCode),
		ValidatePositive(prefix+"quantity", it.Quantity),
		ValidatePositive(prefix+"unitPrice", it.UnitPrice),
	); err != nil {
		return OrderItem{}, err
	}
	line, err := MulAmount(prefix+"unitPrice", it.Quantity, it.UnitPrice)
	if err != nil {
		return OrderItem{}, err
	}
	return OrderItem{SKU: it.SKU, Name: it.Name, HSCode: it.HSCode, Quantity: it.Quantity, UnitPrice: it.UnitPrice, LineTotal: line}, nil
}

// CreateOrder records a new order (MerchantMSP). The chaincode computes the total from the
// items and the shipping fee. The buyer's private details are taken from the transient map
// ("order_private") into the orderPrivate collection; public state keeps their salted hash.
// Compliance rules are applied: a violation is COMPLIANCE_REJECTED; a watch-list hit records
// the order as HELD with a compliance alert (event ComplianceAlert instead of OrderCreated).
func (c *Contract) CreateOrder(ctx contractapi.TransactionContextInterface, req CreateOrderRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "CreateOrder", MerchantMSP)
	if err != nil {
		return nil, err
	}
	items, total, err := req.validate()
	if err != nil {
		return nil, err
	}
	if err := requireMerchant(ctx, ti, req.MerchantID); err != nil {
		return nil, err
	}
	priv, err := readOrderPrivate(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireNewOrder(ctx, req.OrderID); err != nil {
		return nil, err
	}
	rules, err := loadComplianceRules(ctx)
	if err != nil {
		return nil, err
	}
	window, err := rules.confirmationWindow(req.ConfirmationWindowSeconds)
	if err != nil {
		return nil, err
	}
	hsCodes := make([]string, len(items))
	for i, it := range items {
		hsCodes[i] = it.HSCode
	}
	alert, err := checkCompliance(ctx, rules, ComplianceSubject{
		OrderID: req.OrderID, MerchantID: req.MerchantID, BuyerID: req.Buyer.ID,
		BuyerCountry: req.Buyer.Country, SellerCountry: req.SellerCountry, Currency: req.Currency,
		Total: total, HSCodes: hsCodes, At: ti.at,
	})
	if err != nil {
		return nil, err
	}
	hash, err := putBuyerPrivate(ctx, req.OrderID, priv)
	if err != nil {
		return nil, err
	}
	o := &Order{
		OrderID:                   req.OrderID,
		MerchantID:                req.MerchantID,
		Currency:                  req.Currency,
		Total:                     total,
		ShippingFee:               req.ShippingFee,
		Items:                     items,
		Buyer:                     OrderBuyer{ID: req.Buyer.ID, Country: req.Buyer.Country},
		SellerCountry:             req.SellerCountry,
		PrivateHash:               hash,
		ConfirmationWindowSeconds: window,
		PromisedDeliveryBy:        req.PromisedDeliveryBy,
		CreatedAt:                 ti.ts,
		CreatedByMSP:              ti.msp,
	}
	event := EventOrderCreated
	if alert != nil {
		o.Hold = &Hold{Kind: HoldCompliance, Reason: alert.Reason + ": " + alert.Matched, Since: ti.ts}
		if err := RecordAlert(ctx, alert); err != nil {
			return nil, err
		}
		event = EventComplianceAlert
	}
	if err := saveOrder(ctx, o, "", "", ti); err != nil {
		return nil, err
	}
	if err := putEscrow(ctx, o, ti); err != nil {
		return nil, err
	}
	if err := putCreationIndex(ctx, o, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, event, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// requireNewOrder returns CONFLICT when orderID is taken.
func requireNewOrder(ctx contractapi.TransactionContextInterface, orderID string) error {
	key, err := orderKey(ctx, orderID)
	if err != nil {
		return err
	}
	existing, err := ctx.GetStub().GetState(key)
	if err != nil {
		return errInternal("get state", err)
	}
	if existing != nil {
		return errConflict("order %q already exists", orderID)
	}
	return nil
}

// putBuyerPrivate writes the buyer record and the merchant's canonical consignee of a new order
// to orderPrivate and returns the buyer record's hash (the order's privateHash).
func putBuyerPrivate(ctx contractapi.TransactionContextInterface, orderID string, priv *orderPrivateInput) (string, error) {
	buyerKey, err := compositeKey(ctx, privBuyer, orderID)
	if err != nil {
		return "", err
	}
	hash, err := putPrivateJSON(ctx, CollectionOrderPrivate, buyerKey, buyerPrivateRecord{
		OrderID: orderID, Name: priv.Name, Address: priv.Address, Phone: priv.Phone, Salt: priv.Salt,
	})
	if err != nil {
		return "", err
	}
	consKey, err := compositeKey(ctx, privConsigneeMerchant, orderID)
	if err != nil {
		return "", err
	}
	if _, err := putPrivateJSON(ctx, CollectionOrderPrivate, consKey, newConsigneeRecord(orderID, priv.Name, priv.Address, priv.ConsigneeSalt)); err != nil {
		return "", err
	}
	return hash, nil
}

// EscrowPaymentRequest is the argument of EscrowPayment. PayerAmount and Fee are minor units of
// PayerCurrency; FXRate is units of PayerCurrency per unit of the order currency (a decimal
// string with at most 8 fractional digits). The payer's name and account travel in the transient
// map under "payment_private".
type EscrowPaymentRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	PaymentID       string `json:"paymentId"`
	PayerCurrency   string `json:"payerCurrency"`
	PayerAmount     int64  `json:"payerAmount"`
	FXRate          string `json:"fxRate"`
	Fee             int64  `json:"fee,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// EscrowPayment records the bank's escrowed payment for an order (BankMSP). One payment per
// order: a second is CONFLICT, as is a payment ID already used. The payer amount must equal the
// order total converted at the rate, rounded half to even in the payer currency's minor unit.
// The escrow amount is the order total in the order currency. Status becomes PAID.
func (c *Contract) EscrowPayment(ctx contractapi.TransactionContextInterface, req EscrowPaymentRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "EscrowPayment", BankMSP)
	if err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	priv, err := readPaymentPrivate(ctx)
	if err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	idKey, err := checkPaymentUnused(ctx, o, req.PaymentID)
	if err != nil {
		return nil, err
	}
	if err := requireStatus(o, "escrow payment", StatusCreated); err != nil {
		return nil, err
	}
	if err := checkPaymentAmount(ctx, o, &req); err != nil {
		return nil, err
	}
	payerKey, err := compositeKey(ctx, privPayer, o.OrderID)
	if err != nil {
		return nil, err
	}
	hash, err := putPrivateJSON(ctx, CollectionPaymentPrivate, payerKey, payerPrivateRecord{
		OrderID: o.OrderID, PayerName: priv.PayerName, PayerAccount: priv.PayerAccount, Salt: priv.Salt,
	})
	if err != nil {
		return nil, err
	}
	payKey, err := compositeKey(ctx, objPayment, o.OrderID)
	if err != nil {
		return nil, err
	}
	rec := PaymentRecord{
		OrderID: o.OrderID, PaymentID: req.PaymentID, Currency: o.Currency, Amount: o.Total,
		PayerCurrency: req.PayerCurrency, PayerAmount: req.PayerAmount, FXRate: req.FXRate, Fee: req.Fee,
		PrivateHash: hash, RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}
	if err := putJSON(ctx, payKey, rec); err != nil {
		return nil, err
	}
	if err := ctx.GetStub().PutState(idKey, []byte(o.OrderID)); err != nil {
		return nil, errInternal("put payment ID", err)
	}
	prev := o.Status
	o.Payment = &PaymentInfo{
		PaymentID: req.PaymentID, PayerCurrency: req.PayerCurrency, PayerAmount: req.PayerAmount,
		FXRate: req.FXRate, Fee: req.Fee, PrivateHash: hash, PaidAt: ti.ts,
	}
	o.Escrow = Escrow{Amount: o.Total}
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return nil, err
	}
	if err := putEscrow(ctx, o, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventPaymentEscrowed, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks the payment request's fields (the payer amount is checked against the order
// once it is loaded).
func (r *EscrowPaymentRequest) validate() error {
	if err := firstError(
		ValidateID("orderId", r.OrderID),
		ValidateID("paymentId", r.PaymentID),
		ValidateCurrency("payerCurrency", r.PayerCurrency),
		ValidatePositive("payerAmount", r.PayerAmount),
		ValidateNonNegative("fee", r.Fee),
	); err != nil {
		return err
	}
	if r.Fee > r.PayerAmount {
		return errInvalid("fee", "must not exceed payerAmount %d (both in %s minor units), got %d", r.PayerAmount, r.PayerCurrency, r.Fee)
	}
	_, err := ParseRate("fxRate", r.FXRate)
	return err
}

// checkPaymentAmount checks the payment's FX rate against the bounds of the compliance rules
// (FX_OUT_OF_TOLERANCE) and its payer amount against the order total converted at that rate
// (INVALID_ARGUMENT naming payerAmount).
func checkPaymentAmount(ctx contractapi.TransactionContextInterface, o *Order, req *EscrowPaymentRequest) error {
	rules, err := loadComplianceRules(ctx)
	if err != nil {
		return err
	}
	if err := rules.checkFXRate(o.Currency, req.PayerCurrency, req.FXRate); err != nil {
		return err
	}
	expected, err := ConvertAmount(o.Total, o.Currency, req.PayerCurrency, req.FXRate)
	if err != nil {
		return err
	}
	if expected != req.PayerAmount {
		return errInvalid("payerAmount", "must be %d (order total %d %s × fxRate %s, rounded half to even in %s minor units), got %d",
			expected, o.Total, o.Currency, req.FXRate, req.PayerCurrency, req.PayerAmount)
	}
	return nil
}

// checkPaymentUnused returns the payment-ID claim key of paymentID after checking that the order
// is not paid yet and that no order has used the payment ID (CONFLICT otherwise).
func checkPaymentUnused(ctx contractapi.TransactionContextInterface, o *Order, paymentID string) (string, error) {
	if o.Payment != nil {
		return "", errConflict("order %s is already paid (payment %s)", o.OrderID, o.Payment.PaymentID)
	}
	idKey, err := compositeKey(ctx, objPaymentID, paymentID)
	if err != nil {
		return "", err
	}
	used, err := ctx.GetStub().GetState(idKey)
	if err != nil {
		return "", errInternal("get state", err)
	}
	if used != nil {
		return "", errConflict("payment %q was already used for order %s", paymentID, string(used))
	}
	return idKey, nil
}

// CancelOrderRequest is the argument of CancelOrder.
type CancelOrderRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	Reason          string `json:"reason,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// CancelOrder cancels an order before pickup (MerchantMSP, or BankMSP for the buyer). A paid
// order is refunded in full in the same transaction. Status becomes CANCELLED (final).
func (c *Contract) CancelOrder(ctx contractapi.TransactionContextInterface, req CancelOrderRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "CancelOrder", MerchantMSP, BankMSP)
	if err != nil {
		return nil, err
	}
	if req.Reason != "" {
		if err := ValidateText("reason", req.Reason, 500); err != nil {
			return nil, err
		}
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireStatus(o, "cancel order", StatusCreated, StatusPaid, StatusDocumented, StatusCleared, StatusHeld); err != nil {
		return nil, err
	}
	if o.Logistics.PickedUpAt != "" {
		return nil, errPrecondition("cannot cancel order: order %s was picked up at %s", o.OrderID, o.Logistics.PickedUpAt)
	}
	if err := finalize(ctx, o, StatusCancelled, 0, o.Escrow.Amount, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventOrderCancelled, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}
