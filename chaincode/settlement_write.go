package chaincode

import (
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
// the escrow to the merchant in the same transaction. Status becomes COMPLETED (final).
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
	return release(ctx, o, ti)
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
	delivered, err := time.Parse(timeLayout, o.Logistics.DeliveredAt)
	if err != nil {
		return nil, errInternal("parse deliveredAt", err)
	}
	from := delivered.Add(time.Duration(o.ConfirmationWindowSeconds) * time.Second)
	if ti.at.Before(from) {
		return nil, errPrecondition("cannot release escrow: order %s was delivered at %s; the confirmation window of %d seconds ends at %s (transaction time %s)",
			o.OrderID, o.Logistics.DeliveredAt, o.ConfirmationWindowSeconds, from.Format(timeLayout), ti.ts)
	}
	return release(ctx, o, ti)
}

// release pays the whole remaining escrow to the merchant and completes the order.
func release(ctx contractapi.TransactionContextInterface, o *Order, ti *txInfo) (*Order, error) {
	released, err := SubAmounts("escrow", o.Escrow.Amount, o.Escrow.Refunded)
	if err != nil {
		return nil, err
	}
	if err := finalize(ctx, o, StatusCompleted, released, o.Escrow.Refunded, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventPaymentReleased, orderEvent(o, ti)); err != nil {
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
	if err := requireStatus(o, "open dispute", StatusPaid, StatusDocumented, StatusCleared, StatusInTransit, StatusDelivered, StatusHeld); err != nil {
		return nil, err
	}
	if o.Payment == nil {
		return nil, errPrecondition("cannot open dispute: order %s is not paid", o.OrderID)
	}
	prev := o.Status
	o.Dispute = &Dispute{Open: true, Reason: req.Reason, OpenedAt: ti.ts}
	if err := putDisputeRecord(ctx, o, ti); err != nil {
		return nil, err
	}
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventDisputeOpened, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// ResolveDisputeRequest is the argument of ResolveDispute. RefundAmount (minor units of the
// order currency, 0..escrow amount) goes back to the buyer; the rest is released to the merchant.
type ResolveDisputeRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	RefundAmount    int64  `json:"refundAmount"`
	Resolution      string `json:"resolution,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// ResolveDispute resolves an open dispute (BankMSP): the refund is recorded and the rest of the
// escrow released in the same transaction. Before delivery the only resolution is a full refund
// (refundAmount = escrow amount): the merchant is paid only for delivered goods. The order becomes REFUNDED when the refund is the
// whole escrow (event Refunded), else COMPLETED (event DisputeResolved).
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
	if req.RefundAmount > o.Escrow.Amount {
		return nil, errInvalid("refundAmount", "must be between 0 and the escrow amount %d, got %d", o.Escrow.Amount, req.RefundAmount)
	}
	if o.Logistics.DeliveredAt == "" && req.RefundAmount != o.Escrow.Amount {
		return nil, errInvalid("refundAmount", "must be the whole escrow amount %d: order %s was not delivered, and money reaches the merchant only after delivery; got %d",
			o.Escrow.Amount, o.OrderID, req.RefundAmount)
	}
	released, err := SubAmounts("refundAmount", o.Escrow.Amount, req.RefundAmount)
	if err != nil {
		return nil, err
	}
	o.Dispute.Open = false
	o.Dispute.RefundAmount = req.RefundAmount
	o.Dispute.Resolution = req.Resolution
	o.Dispute.ResolvedAt = ti.ts
	if err := putDisputeRecord(ctx, o, ti); err != nil {
		return nil, err
	}
	final, event := StatusCompleted, EventDisputeResolved
	if req.RefundAmount == o.Escrow.Amount {
		final, event = StatusRefunded, EventRefunded
	}
	if err := finalize(ctx, o, final, released, req.RefundAmount, ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, event, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
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
