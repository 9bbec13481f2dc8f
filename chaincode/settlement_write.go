package chaincode

import (
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// OrderRequest is the argument of the transactions that need only the order ID
// (ConfirmDelivery, ReleaseEscrow).
type OrderRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// ConfirmDelivery confirms delivery for the buyer (BankMSP): on a DELIVERED order it releases
// the escrow to the merchant in the same transaction. Status becomes COMPLETED (final). An order
// whose buyer holds a key is refused (FAILED_PRECONDITION): its receipt is confirmed by the
// buyer's own signed statement (SubmitBuyerStatement), or the escrow is released after the
// confirmation window; the bank keeps the buyer-protecting steps (disputes, cancellation).
func (c *Contract) ConfirmDelivery(ctx contractapi.TransactionContextInterface, req OrderRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "ConfirmDelivery", BankMSP)
	if err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireStatus(o, "confirm delivery", StatusDelivered); err != nil {
		return nil, err
	}
	if o.Buyer.PublicKey != nil {
		return nil, errPrecondition("cannot confirm delivery of order %s for the buyer: the buyer holds a key (thumbprint %s) and confirms receipt with a signed statement (SubmitBuyerStatement %s); otherwise the escrow is released after the confirmation window",
			o.OrderID, o.Buyer.KeyThumbprint, StatementConfirmReceipt)
	}
	return release(ctx, o, ti, "")
}

// ReleaseEscrow releases the escrow of a DELIVERED, undisputed order to the merchant once the
// order's confirmation window has passed since delivery, measured with transaction timestamps.
// Any member organisation may call it. Before the window ends it is FAILED_PRECONDITION stating
// from when the release is possible.
func (c *Contract) ReleaseEscrow(ctx contractapi.TransactionContextInterface, req OrderRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "ReleaseEscrow", writers...)
	if err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireStatus(o, "release escrow", StatusDelivered); err != nil {
		return nil, err
	}
	from, ok := releasableFrom(o)
	if !ok {
		return nil, errInternal("parse deliveredAt", errNotFound("order %s has no delivery time", o.OrderID))
	}
	if ti.at.Before(from) {
		window := fmt.Sprintf("the confirmation window of %d seconds", o.ConfirmationWindowSeconds)
		if termsKind(o) == TermsAutoRelease {
			window = fmt.Sprintf("the automatic release after %d days (%s terms)", o.PaymentTerms.AutoReleaseDays, TermsAutoRelease)
		}
		return nil, errPrecondition("cannot release escrow: order %s was delivered at %s; %s ends at %s (transaction time %s)",
			o.OrderID, o.Logistics.DeliveredAt, window, from.Format(timeLayout), ti.ts)
	}
	return release(ctx, o, ti, "")
}

// releasableFrom returns when anyone may release a delivered order's escrow (ReleaseEscrow): its
// delivery time plus its confirmation window (under AUTO_RELEASE terms autoReleaseDays days);
// false when the order was not delivered or is final.
func releasableFrom(o *Order) (time.Time, bool) {
	if o.Logistics.DeliveredAt == "" || IsFinalStatus(o.Status) {
		return time.Time{}, false
	}
	delivered, err := time.Parse(timeLayout, o.Logistics.DeliveredAt)
	if err != nil {
		return time.Time{}, false
	}
	return delivered.Add(time.Duration(o.ConfirmationWindowSeconds) * time.Second), true
}

// release pays everything still in escrow to the merchant and completes the order. statement is
// the buyer statement action that asked for it ("" for the bank or the window).
func release(ctx contractapi.TransactionContextInterface, o *Order, ti *txInfo, statement string) (*Order, error) {
	if err := finalize(ctx, o, StatusCompleted, 0, ti); err != nil {
		return nil, err
	}
	ev := orderEvent(o, ti)
	ev.BuyerStatement = statement
	if err := emit(ctx, EventPaymentReleased, ev); err != nil {
		return nil, err
	}
	return o, nil
}

// OpenDisputeRequest is the argument of OpenDispute.
type OpenDisputeRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	Reason          string `json:"reason"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// OpenDispute opens the buyer's dispute (BankMSP) on a paid order that is not yet released or
// otherwise final. Status becomes DISPUTED; release is frozen until ResolveDispute. An order has
// at most one dispute.
func (c *Contract) OpenDispute(ctx contractapi.TransactionContextInterface, req OpenDisputeRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "OpenDispute", BankMSP)
	if err != nil {
		return nil, err
	}
	if err := ValidateText("reason", req.Reason, 500); err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	return openDispute(ctx, o, req.Reason, ti, "")
}

// openDispute opens the order's dispute with reason; statement is the buyer statement action
// that asked for it ("" for the bank).
func openDispute(ctx contractapi.TransactionContextInterface, o *Order, reason string, ti *txInfo, statement string) (*Order, error) {
	if err := requireStatus(o, "open dispute", StatusPaid, StatusDocumented, StatusCleared, StatusInTransit, StatusDelivered, StatusHeld); err != nil {
		return nil, err
	}
	if o.Payment == nil {
		return nil, errPrecondition("cannot open dispute: order %s is not paid", o.OrderID)
	}
	prev := o.Status
	o.Dispute = &Dispute{Open: true, Reason: reason, OpenedAt: ti.ts}
	if err := putDisputeRecord(ctx, o, ti); err != nil {
		return nil, err
	}
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return nil, err
	}
	ev := orderEvent(o, ti)
	ev.BuyerStatement = statement
	if err := emit(ctx, EventDisputeOpened, ev); err != nil {
		return nil, err
	}
	return o, nil
}

// ResolveDisputeRequest is the argument of ResolveDispute. RefundAmount (minor units of the
// order currency, 0 to what the escrow still holds) goes back to the buyer; the rest is released
// to the merchant.
type ResolveDisputeRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	RefundAmount    int64  `json:"refundAmount"`
	Resolution      string `json:"resolution,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// ResolveDispute resolves an open dispute (BankMSP): the refund is recorded and the rest of the
// escrow released in the same transaction. The refund is at most what the escrow still holds
// (the escrow amount less a milestone share released at customs clearance). Before delivery the
// only resolution is a full refund of what is held: the merchant is paid only for delivered
// goods. The order becomes REFUNDED when the refund is everything still held (event Refunded),
// else COMPLETED (event DisputeResolved).
func (c *Contract) ResolveDispute(ctx contractapi.TransactionContextInterface, req ResolveDisputeRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "ResolveDispute", BankMSP)
	if err != nil {
		return nil, err
	}
	if err := ValidateNonNegative("refundAmount", req.RefundAmount); err != nil {
		return nil, err
	}
	if req.Resolution != "" {
		if err := ValidateText("resolution", req.Resolution, 500); err != nil {
			return nil, err
		}
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireStatus(o, "resolve dispute", StatusDisputed); err != nil {
		return nil, err
	}
	remaining := remainingEscrow(o)
	if req.RefundAmount > remaining {
		return nil, errInvalid("refundAmount", "must be between 0 and the escrow amount %d%s, got %d", remaining, releasedNote(o), req.RefundAmount)
	}
	if o.Logistics.DeliveredAt == "" && req.RefundAmount != remaining {
		return nil, errInvalid("refundAmount", "must be the whole escrow amount %d%s: order %s was not delivered, and money reaches the merchant only after delivery; got %d",
			remaining, releasedNote(o), o.OrderID, req.RefundAmount)
	}
	o.Dispute.Open = false
	o.Dispute.RefundAmount = req.RefundAmount
	o.Dispute.Resolution = req.Resolution
	o.Dispute.ResolvedAt = ti.ts
	if err := putDisputeRecord(ctx, o, ti); err != nil {
		return nil, err
	}
	final, event := StatusCompleted, EventDisputeResolved
	if req.RefundAmount == remaining {
		final, event = StatusRefunded, EventRefunded
	}
	if err := finalize(ctx, o, final, req.RefundAmount, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, event, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// releasedNote explains, for a refund error, that part of the escrow was released at customs
// clearance ("" when nothing was).
func releasedNote(o *Order) string {
	if o.Escrow.Released == 0 {
		return ""
	}
	return fmt.Sprintf(" still held (escrow %d less the %d released at customs clearance under %s terms)", o.Escrow.Amount, o.Escrow.Released, termsKind(o))
}

// putDisputeRecord writes the order's dispute record.
func putDisputeRecord(ctx contractapi.TransactionContextInterface, o *Order, ti *txInfo) error {
	key, err := compositeKey(ctx, objDispute, o.OrderID)
	if err != nil {
		return err
	}
	d := o.Dispute
	return putJSON(ctx, key, DisputeRecord{
		OrderID: o.OrderID, Open: d.Open, Reason: d.Reason, RefundAmount: d.RefundAmount, Resolution: d.Resolution,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	})
}
