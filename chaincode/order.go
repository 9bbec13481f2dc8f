package chaincode

import "time"

// Order statuses (docs/design.md §3). CREATED, PAID, COMPLETED, REJECTED and CANCELLED are binding names;
// the others are this contract's intermediate and side states.
const (
	StatusCreated    = "CREATED"    // recorded by the merchant, not yet paid
	StatusPaid       = "PAID"       // payment escrowed, no customs or logistics document yet
	StatusDocumented = "DOCUMENTED" // paid, declaration and/or waybill registered (see documents flags)
	StatusCleared    = "CLEARED"    // customs cleared, goods not yet picked up
	StatusInTransit  = "IN_TRANSIT" // picked up by the carrier, not yet delivered
	StatusDelivered  = "DELIVERED"  // proof of delivery certified; escrow awaits release
	StatusCompleted  = "COMPLETED"  // escrow released to the merchant (final)
	StatusHeld       = "HELD"       // customs or compliance hold (see hold)
	StatusDisputed   = "DISPUTED"   // dispute open; release frozen
	StatusCancelled  = "CANCELLED"  // cancelled before pickup, any escrow refunded (final)
	StatusRejected   = "REJECTED"   // rejected by customs, any escrow refunded (final)
	StatusRefunded   = "REFUNDED"   // dispute resolved with a full refund (final)
)

// Statuses lists every order status in lifecycle order.
var Statuses = []string{
	StatusCreated, StatusPaid, StatusDocumented, StatusCleared, StatusInTransit, StatusDelivered,
	StatusCompleted, StatusHeld, StatusDisputed, StatusCancelled, StatusRejected, StatusRefunded,
}

// IsFinalStatus reports whether status is terminal: no further transaction changes the order.
func IsFinalStatus(status string) bool {
	switch status {
	case StatusCompleted, StatusCancelled, StatusRejected, StatusRefunded:
		return true
	}
	return false
}

// Hold kinds.
const (
	HoldCompliance = "COMPLIANCE" // set at creation when the order touches a watch list
	HoldCustoms    = "CUSTOMS"    // set by a customs HELD decision
)

// Customs decisions.
const (
	DecisionCleared  = "CLEARED"
	DecisionHeld     = "HELD"
	DecisionRejected = "REJECTED"
)

// Logistics checkpoint codes. The first five must be certified in this order; EXCEPTION may be
// certified at any time after the waybill and does not advance the shipment.
const (
	CheckpointPickedUp       = "PICKED_UP"
	CheckpointDeparted       = "DEPARTED"
	CheckpointArrived        = "ARRIVED"
	CheckpointOutForDelivery = "OUT_FOR_DELIVERY"
	CheckpointDelivered      = "DELIVERED"
	CheckpointException      = "EXCEPTION"
)

// CheckpointSequence lists the progress checkpoints in their mandatory order.
var CheckpointSequence = []string{
	CheckpointPickedUp, CheckpointDeparted, CheckpointArrived, CheckpointOutForDelivery, CheckpointDelivered,
}

// DefaultConfirmationWindowSeconds is the confirmation window after DELIVERED (7 days) when the
// merchant does not choose one.
const DefaultConfirmationWindowSeconds int64 = 7 * 24 * 60 * 60

// Limits on the shape of an order.
const (
	MaxItems                  = 200
	MaxCheckpoints            = 500
	MinConfirmationWindowSecs = 60
	MaxConfirmationWindowSecs = 366 * 24 * 60 * 60
)

// OrderItem is one line of an order. UnitPrice is in minor units of the order currency.
type OrderItem struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	HSCode    string `json:"hsCode"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unitPrice"`
	LineTotal int64  `json:"lineTotal" metadata:",optional"`
}

// OrderBuyer identifies the buyer: a pseudonymous ID and a country in public state, and, when
// the buyer holds a key, its public key (a JWK) and the key's RFC 7638 thumbprint. Name, Address
// and Phone are filled in only by GetOrder for members of the orderPrivate collection and are
// never stored in public state.
type OrderBuyer struct {
	ID            string    `json:"id"`
	Country       string    `json:"country"`
	PublicKey     *BuyerKey `json:"publicKey,omitempty" metadata:",optional"`
	KeyThumbprint string    `json:"keyThumbprint,omitempty" metadata:",optional"`
	Name          string    `json:"name,omitempty" metadata:",optional"`
	Address       string    `json:"address,omitempty" metadata:",optional"`
	Phone         string    `json:"phone,omitempty" metadata:",optional"`
}

// Escrow is the order's money in minor units of the order currency. Amount is what the bank
// escrowed (the order total, 0 until paid); once the order is final Amount == Released + Refunded.
type Escrow struct {
	Amount   int64 `json:"amount"`
	Released int64 `json:"released"`
	Refunded int64 `json:"refunded"`
}

// PaymentInfo is the public part of the escrowed payment. ReferenceRate is the FX reference rate
// published for the payment's pair and day (ReferenceDate) that the rate was checked against
// ("" when none was published or the currencies are equal); BankID names the paying bank (the
// creator's xborder.bankId attribute, else its MSP ID). PayerName and PayerAccount are filled
// in only by GetOrder for members of the paymentPrivate collection.
type PaymentInfo struct {
	PaymentID     string `json:"paymentId"`
	PayerCurrency string `json:"payerCurrency"`
	PayerAmount   int64  `json:"payerAmount"`
	FXRate        string `json:"fxRate"`
	Fee           int64  `json:"fee"`
	PrivateHash   string `json:"privateHash"`
	PaidAt        string `json:"paidAt"`
	ReferenceRate string `json:"referenceRate,omitempty" metadata:",optional"`
	ReferenceDate string `json:"referenceDate,omitempty" metadata:",optional"`
	BankID        string `json:"bankId,omitempty" metadata:",optional"`
	PayerName     string `json:"payerName,omitempty" metadata:",optional"`
	PayerAccount  string `json:"payerAccount,omitempty" metadata:",optional"`
}

// DocumentFlags records which customs and logistics documents exist for the order.
type DocumentFlags struct {
	Declared      bool   `json:"declared"`
	Waybilled     bool   `json:"waybilled"`
	DeclarationID string `json:"declarationId,omitempty" metadata:",optional"`
	WaybillNo     string `json:"waybillNo,omitempty" metadata:",optional"`
}

// CustomsState is the latest customs decision. DutyAmount and TaxAmount are minor units of the
// order currency, recorded with a CLEARED decision.
type CustomsState struct {
	Decision   string `json:"decision,omitempty" metadata:",optional"`
	Cleared    bool   `json:"cleared"`
	DutyAmount int64  `json:"dutyAmount"`
	TaxAmount  int64  `json:"taxAmount"`
	Reason     string `json:"reason,omitempty" metadata:",optional"`
	DecidedAt  string `json:"decidedAt,omitempty" metadata:",optional"`
}

// LogisticsState summarises the certified checkpoints.
type LogisticsState struct {
	LastCheckpoint string `json:"lastCheckpoint,omitempty" metadata:",optional"`
	Checkpoints    int64  `json:"checkpoints"`
	PickedUpAt     string `json:"pickedUpAt,omitempty" metadata:",optional"`
	DeliveredAt    string `json:"deliveredAt,omitempty" metadata:",optional"`
}

// Hold describes a customs or compliance hold; the order shows status HELD while it is set.
type Hold struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Since  string `json:"since"`
}

// Dispute describes the order's dispute. While Open the order shows status DISPUTED and no
// release is possible.
type Dispute struct {
	Open         bool   `json:"open"`
	Reason       string `json:"reason"`
	OpenedAt     string `json:"openedAt"`
	RefundAmount int64  `json:"refundAmount"`
	Resolution   string `json:"resolution,omitempty" metadata:",optional"`
	ResolvedAt   string `json:"resolvedAt,omitempty" metadata:",optional"`
}

// Order is the public record of a cross-border order, as stored under its order key and as
// returned to clients (with private parts added for collection members by GetOrder). Version is
// 1 after creation and grows by one with every transaction that changes the order record; a
// write whose expectedVersion differs fails with VERSION_MISMATCH. Escrow comes from the
// order's escrow key (EscrowRecord) once the order is paid. PaymentTerms (nil: FULL_ESCROW) and
// Deadlines are set at creation.
type Order struct {
	OrderID                   string         `json:"orderId"`
	MerchantID                string         `json:"merchantId"`
	Status                    string         `json:"status"`
	Version                   int64          `json:"version"`
	Currency                  string         `json:"currency"`
	Total                     int64          `json:"total"`
	ShippingFee               int64          `json:"shippingFee"`
	Items                     []OrderItem    `json:"items"`
	Buyer                     OrderBuyer     `json:"buyer"`
	SellerCountry             string         `json:"sellerCountry"`
	Escrow                    Escrow         `json:"escrow"`
	PrivateHash               string         `json:"privateHash"`
	ConfirmationWindowSeconds int64          `json:"confirmationWindowSeconds"`
	PromisedDeliveryBy        string         `json:"promisedDeliveryBy,omitempty" metadata:",optional"`
	PaymentTerms              *PaymentTerms  `json:"paymentTerms,omitempty" metadata:",optional"`
	Deadlines                 *Deadlines     `json:"deadlines,omitempty" metadata:",optional"`
	Payment                   *PaymentInfo   `json:"payment,omitempty" metadata:",optional"`
	Documents                 DocumentFlags  `json:"documents"`
	Customs                   CustomsState   `json:"customs"`
	Logistics                 LogisticsState `json:"logistics"`
	Hold                      *Hold          `json:"hold,omitempty" metadata:",optional"`
	Dispute                   *Dispute       `json:"dispute,omitempty" metadata:",optional"`
	CreatedAt                 string         `json:"createdAt"`
	UpdatedAt                 string         `json:"updatedAt"`
	ClosedAt                  string         `json:"closedAt,omitempty" metadata:",optional"`
	CreatedByMSP              string         `json:"createdByMsp"`
	UpdatedBy                 string         `json:"updatedBy"`
	UpdatedByMSP              string         `json:"updatedByMsp"`
	TxID                      string         `json:"txId"`

	// lastEvent is the order's last recorded lifecycle time (lastEventField names it) when
	// orderForWrite loaded it; saveOrder refuses a transaction stamped before it.
	lastEvent      time.Time
	lastEventField string
}

// PaymentRecord is the public payment record, stored under its own key so that the order's
// audit trail shows the bank's transaction with the bank as creator.
type PaymentRecord struct {
	OrderID       string `json:"orderId"`
	PaymentID     string `json:"paymentId"`
	Currency      string `json:"currency"`
	Amount        int64  `json:"amount"`
	PayerCurrency string `json:"payerCurrency"`
	PayerAmount   int64  `json:"payerAmount"`
	FXRate        string `json:"fxRate"`
	Fee           int64  `json:"fee"`
	PrivateHash   string `json:"privateHash"`
	ReferenceRate string `json:"referenceRate,omitempty"`
	ReferenceDate string `json:"referenceDate,omitempty"`
	BankID        string `json:"bankId,omitempty"`
	RecordedAt    string `json:"recordedAt"`
	UpdatedBy     string `json:"updatedBy"`
	UpdatedByMSP  string `json:"updatedByMsp"`
	TxID          string `json:"txId"`
}

// WaybillRecord is the public waybill record. The consignee lives in the orderPrivate
// collection; customs compares its hash with the merchant's consignee hash.
type WaybillRecord struct {
	OrderID      string `json:"orderId"`
	WaybillNo    string `json:"waybillNo"`
	RecordedAt   string `json:"recordedAt"`
	UpdatedBy    string `json:"updatedBy"`
	UpdatedByMSP string `json:"updatedByMsp"`
	TxID         string `json:"txId"`
}

// DeclarationRecord is the merchant's customs declaration. DeclaredValue is in minor units of
// the order currency.
type DeclarationRecord struct {
	OrderID       string   `json:"orderId"`
	DeclarationID string   `json:"declarationId"`
	Currency      string   `json:"currency"`
	DeclaredValue int64    `json:"declaredValue"`
	HSCodes       []string `json:"hsCodes"`
	RecordedAt    string   `json:"recordedAt"`
	UpdatedBy     string   `json:"updatedBy"`
	UpdatedByMSP  string   `json:"updatedByMsp"`
	TxID          string   `json:"txId"`
}

// DecisionRecord is a customs decision; each decision overwrites the key, so the key history
// lists every decision. Refunded is what a REJECTED decision refunded, Released the milestone
// share a CLEARED decision released under MILESTONES terms.
type DecisionRecord struct {
	OrderID      string `json:"orderId"`
	Decision     string `json:"decision"`
	Reason       string `json:"reason,omitempty"`
	DutyAmount   int64  `json:"dutyAmount"`
	TaxAmount    int64  `json:"taxAmount"`
	Refunded     int64  `json:"refunded"`
	Released     int64  `json:"released,omitempty"`
	RecordedAt   string `json:"recordedAt"`
	UpdatedBy    string `json:"updatedBy"`
	UpdatedByMSP string `json:"updatedByMsp"`
	TxID         string `json:"txId"`
}

// CheckpointRecord is one certified logistics checkpoint with the certifying identity.
type CheckpointRecord struct {
	OrderID      string `json:"orderId"`
	Seq          int64  `json:"seq"`
	Code         string `json:"code"`
	Location     string `json:"location"`
	DocumentHash string `json:"documentHash,omitempty"`
	RecordedAt   string `json:"recordedAt"`
	CertifiedBy  string `json:"certifiedBy"`
	UpdatedBy    string `json:"updatedBy"`
	UpdatedByMSP string `json:"updatedByMsp"`
	TxID         string `json:"txId"`
}

// DisputeRecord is the bank's dispute record (opened, then resolved), kept under its own key.
type DisputeRecord struct {
	OrderID      string `json:"orderId"`
	Open         bool   `json:"open"`
	Reason       string `json:"reason"`
	RefundAmount int64  `json:"refundAmount"`
	Resolution   string `json:"resolution,omitempty"`
	RecordedAt   string `json:"recordedAt"`
	UpdatedBy    string `json:"updatedBy"`
	UpdatedByMSP string `json:"updatedByMsp"`
	TxID         string `json:"txId"`
}

// OrderEvent is the payload of every order chaincode event: the order ID, its new status and
// public money figures. It never carries private data.
type OrderEvent struct {
	OrderID    string `json:"orderId"`
	Status     string `json:"status"`
	MerchantID string `json:"merchantId"`
	Currency   string `json:"currency"`
	Total      int64  `json:"total"`
	Escrow     Escrow `json:"escrow"`
	Checkpoint string `json:"checkpoint,omitempty"`
	Decision   string `json:"decision,omitempty"`
	// BuyerStatement is the action of the buyer's signed statement that caused the event
	// (SubmitBuyerStatement), "" otherwise.
	BuyerStatement string `json:"buyerStatement,omitempty"`
	TxID           string `json:"txId"`
}

// OrderPage is one page of ListOrders. Bookmark is empty on the last page.
type OrderPage struct {
	Items    []Order `json:"items"`
	Bookmark string  `json:"bookmark"`
	Count    int32   `json:"count"`
}

// HistoryEntry is one modification of one of the order's keys. CreatorMSP and CreatorName (the
// common name of the creator's certificate) identify who made it; Value is the record as
// written without its full identity fields (updatedBy, certifiedBy, anchoredBy), nil for a
// delete.
type HistoryEntry struct {
	TxID        string `json:"txId"`
	Timestamp   string `json:"timestamp"`
	CreatorMSP  string `json:"creatorMsp"`
	CreatorName string `json:"creatorName"`
	Type        string `json:"type"`
	IsDelete    bool   `json:"isDelete"`
	Value       any    `json:"value"`
}

// OrderHistory is the audit trail of an order, oldest first.
type OrderHistory struct {
	OrderID string         `json:"orderId"`
	Entries []HistoryEntry `json:"entries"`
}
