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

// BuyerInput is the public part of the buyer in CreateOrderRequest. PublicKey, when given, is the
// buyer's ECDSA P-256 public key (a JWK): the buyer then confirms receipt, opens a dispute or
// cancels a late order with statements signed by this key (SubmitBuyerStatement).
type BuyerInput struct {
	ID        string         `json:"id"`
	Country   string         `json:"country"`
	PublicKey *BuyerKeyInput `json:"publicKey,omitempty" metadata:",optional"`
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
// in the transient map under "order_private". PaymentTerms (absent: FULL_ESCROW), Deadlines and
// TrackingTokenHash (the SHA-256, 64 hex digits, of the order's tracking token, see
// GetTrackingView) are optional.
type CreateOrderRequest struct {
	requestBase
	OrderID                   string             `json:"orderId"`
	MerchantID                string             `json:"merchantId"`
	Buyer                     BuyerInput         `json:"buyer"`
	SellerCountry             string             `json:"sellerCountry"`
	Currency                  string             `json:"currency"`
	Items                     []ItemInput        `json:"items"`
	ShippingFee               int64              `json:"shippingFee"`
	ConfirmationWindowSeconds int64              `json:"confirmationWindowSeconds,omitempty" metadata:",optional"`
	PromisedDeliveryBy        string             `json:"promisedDeliveryBy,omitempty" metadata:",optional"`
	PaymentTerms              *PaymentTermsInput `json:"paymentTerms,omitempty" metadata:",optional"`
	Deadlines                 *DeadlinesInput    `json:"deadlines,omitempty" metadata:",optional"`
	TrackingTokenHash         string             `json:"trackingTokenHash,omitempty" metadata:",optional"`
}

// validateExtras checks the optional buyer key, payment terms and tracking token hash of the
// request and returns the canonical buyer key (nil when none is given).
func (r *CreateOrderRequest) validateExtras() (*BuyerKey, error) {
	if r.PaymentTerms != nil {
		if err := r.PaymentTerms.validate(r.ConfirmationWindowSeconds); err != nil {
			return nil, err
		}
	}
	if r.TrackingTokenHash != "" {
		if err := validateLowerSHA256("trackingTokenHash", r.TrackingTokenHash); err != nil {
			return nil, err
		}
	}
	if r.Buyer.PublicKey == nil {
		return nil, nil
	}
	return r.Buyer.PublicKey.validate("buyer.publicKey")
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
	o, err := req.draft(ti)
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
	if err := req.applyRules(ctx, rules, o); err != nil {
		return nil, err
	}
	hsCodes := make([]string, len(o.Items))
	for i, it := range o.Items {
		hsCodes[i] = it.HSCode
	}
	alert, err := checkCompliance(ctx, rules, ComplianceSubject{
		OrderID: req.OrderID, MerchantID: req.MerchantID, BuyerID: req.Buyer.ID,
		BuyerCountry: req.Buyer.Country, SellerCountry: req.SellerCountry, Currency: req.Currency,
		Total: o.Total, HSCodes: hsCodes, At: ti.at,
	})
	if err != nil {
		return nil, err
	}
	if o.PrivateHash, err = putBuyerPrivate(ctx, req.OrderID, priv); err != nil {
		return nil, err
	}
	event := EventOrderCreated
	if alert != nil {
		o.Hold = &Hold{Kind: HoldCompliance, Reason: alert.Reason + ": " + alert.Matched, Since: ti.ts}
		if err := RecordAlert(ctx, alert); err != nil {
			return nil, err
		}
		event = EventComplianceAlert
	}
	if err := recordNewOrder(ctx, o, req.TrackingTokenHash, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, event, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// draft validates the request and returns the new order without what the ledger decides (the
// private data hash, the terms granted, the confirmation window).
func (r *CreateOrderRequest) draft(ti *txInfo) (*Order, error) {
	items, total, err := r.validate()
	if err != nil {
		return nil, err
	}
	key, err := r.validateExtras()
	if err != nil {
		return nil, err
	}
	deadlines, err := r.Deadlines.validate(ti.at)
	if err != nil {
		return nil, err
	}
	o := &Order{
		OrderID:            r.OrderID,
		MerchantID:         r.MerchantID,
		Currency:           r.Currency,
		Total:              total,
		ShippingFee:        r.ShippingFee,
		Items:              items,
		Buyer:              OrderBuyer{ID: r.Buyer.ID, Country: r.Buyer.Country},
		SellerCountry:      r.SellerCountry,
		PromisedDeliveryBy: r.PromisedDeliveryBy,
		Deadlines:          deadlines,
		CreatedAt:          ti.ts,
		CreatedByMSP:       ti.msp,
	}
	if key != nil {
		o.Buyer.PublicKey, o.Buyer.KeyThumbprint = key, key.Thumbprint()
	}
	return o, nil
}

// applyRules sets the new order's payment terms (credit-gated, see grantTerms) and its
// confirmation window (under AUTO_RELEASE terms autoReleaseDays days) under the rules in force.
func (r *CreateOrderRequest) applyRules(ctx contractapi.TransactionContextInterface, rules *ComplianceRules, o *Order) error {
	terms, err := grantTerms(ctx, rules, r.MerchantID, r.PaymentTerms)
	if err != nil {
		return err
	}
	o.PaymentTerms = terms
	if terms != nil && terms.Kind == TermsAutoRelease {
		o.ConfirmationWindowSeconds = terms.AutoReleaseDays * secondsPerDay
		return nil
	}
	o.ConfirmationWindowSeconds, err = rules.confirmationWindow(r.ConfirmationWindowSeconds)
	return err
}

// recordNewOrder writes a new order: the record, its escrow key (with its endorsement policy),
// its creation-time index entries and, when tokenHash is set, its tracking link.
func recordNewOrder(ctx contractapi.TransactionContextInterface, o *Order, tokenHash string, ti *txInfo) error {
	if err := saveOrder(ctx, o, "", "", ti); err != nil {
		return err
	}
	if err := putEscrow(ctx, o, ti); err != nil {
		return err
	}
	if err := putCreationIndex(ctx, o, ti); err != nil {
		return err
	}
	if tokenHash == "" {
		return nil
	}
	_, err := putTrackingLink(ctx, o.OrderID, "", tokenHash, ti)
	return err
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
	ref, err := checkPaymentAmount(ctx, o, &req, ti)
	if err != nil {
		return nil, err
	}
	bankID, _, err := payingBank(ctx, ti.msp)
	if err != nil {
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
	refRate, refDate := "", ""
	if ref != nil {
		refRate, refDate = ref.Rate, ref.Date
	}
	rec := PaymentRecord{
		OrderID: o.OrderID, PaymentID: req.PaymentID, Currency: o.Currency, Amount: o.Total,
		PayerCurrency: req.PayerCurrency, PayerAmount: req.PayerAmount, FXRate: req.FXRate, Fee: req.Fee,
		PrivateHash: hash, ReferenceRate: refRate, ReferenceDate: refDate, BankID: bankID,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}
	if err := putJSON(ctx, payKey, rec); err != nil {
		return nil, err
	}
	if err := ctx.GetStub().PutState(idKey, []byte(o.OrderID)); err != nil {
		return nil, errInternal("put payment ID", err)
	}
	if err := putFXExposure(ctx, FXExposureEntry{
		OrderID: o.OrderID, BankID: bankID, PaidAt: ti.ts, OrderCurrency: o.Currency, OrderAmount: o.Total,
		PayerCurrency: req.PayerCurrency, PayerAmount: req.PayerAmount, FXRate: req.FXRate, ReferenceRate: refRate,
	}, ti.at); err != nil {
		return nil, err
	}
	prev := o.Status
	o.Payment = &PaymentInfo{
		PaymentID: req.PaymentID, PayerCurrency: req.PayerCurrency, PayerAmount: req.PayerAmount,
		FXRate: req.FXRate, Fee: req.Fee, PrivateHash: hash, PaidAt: ti.ts,
		ReferenceRate: refRate, ReferenceDate: refDate, BankID: bankID,
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

// checkPaymentAmount checks the payment's payer amount against the order total converted at its
// rate (INVALID_ARGUMENT naming payerAmount), and the rate against the bounds of the compliance
// rules and the reference rate of its pair and day (FX_OUT_OF_TOLERANCE; see checkFXReference).
// It returns the reference rate checked against (nil when none).
func checkPaymentAmount(ctx contractapi.TransactionContextInterface, o *Order, req *EscrowPaymentRequest, ti *txInfo) (*FXReferenceRate, error) {
	rules, err := loadComplianceRules(ctx)
	if err != nil {
		return nil, err
	}
	if err := rules.checkFXRate(o.Currency, req.PayerCurrency, req.FXRate); err != nil {
		return nil, err
	}
	expected, err := ConvertAmount(o.Total, o.Currency, req.PayerCurrency, req.FXRate)
	if err != nil {
		return nil, err
	}
	if expected != req.PayerAmount {
		return nil, errInvalid("payerAmount", "must be %d (order total %d %s × fxRate %s, rounded half to even in %s minor units), got %d",
			expected, o.Total, o.Currency, req.FXRate, req.PayerCurrency, req.PayerAmount)
	}
	return rules.checkFXReference(ctx, o.Currency, req.PayerCurrency, req.FXRate, ti.at)
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

// CancelOrder cancels an order (MerchantMSP, or BankMSP for the buyer) and refunds everything
// still held in escrow in the same transaction. Before pickup, in CREATED, PAID, DOCUMENTED,
// CLEARED or HELD; a merchant may not cancel once a milestone share was released to it. After
// pickup only the bank may cancel, and only once the order missed its deliverBy deadline (late
// cancellation). Status becomes CANCELLED (final).
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
	if err := checkCancelAllowed(o, ti); err != nil {
		return nil, err
	}
	return cancelOrder(ctx, o, ti, "")
}

// checkCancelAllowed applies CancelOrder's rules for the caller's organisation.
func checkCancelAllowed(o *Order, ti *txInfo) error {
	allowed := []string{StatusCreated, StatusPaid, StatusDocumented, StatusCleared, StatusHeld}
	if ti.msp == BankMSP {
		allowed = append(allowed, StatusInTransit)
	}
	if err := requireStatus(o, "cancel order", allowed...); err != nil {
		return err
	}
	if o.Logistics.PickedUpAt != "" {
		if ti.msp != BankMSP {
			return errPrecondition("cannot cancel order: order %s was picked up at %s", o.OrderID, o.Logistics.PickedUpAt)
		}
		why, err := notLate(o, ti)
		if err != nil {
			return err
		}
		if why != "" {
			return errPrecondition("cannot cancel order: order %s was picked up at %s; after pickup the bank may cancel only an order that missed its deliverBy deadline, and %s",
				o.OrderID, o.Logistics.PickedUpAt, why)
		}
	}
	if ti.msp == MerchantMSP && o.Escrow.Released > 0 {
		return errPrecondition("cannot cancel order: %d of order %s was released to the merchant at customs clearance (%s terms); only the bank may cancel it for the buyer",
			o.Escrow.Released, o.OrderID, termsKind(o))
	}
	return nil
}

// cancelOrder cancels the order, refunding everything still held in escrow; statement is the
// buyer statement action that asked for it ("" for CancelOrder).
func cancelOrder(ctx contractapi.TransactionContextInterface, o *Order, ti *txInfo, statement string) (*Order, error) {
	if err := finalize(ctx, o, StatusCancelled, remainingEscrow(o), ti); err != nil {
		return nil, err
	}
	ev := orderEvent(o, ti)
	ev.BuyerStatement = statement
	if err := emit(ctx, EventOrderCancelled, ev); err != nil {
		return nil, err
	}
	return o, nil
}
