package chaincode

import (
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// loadOrder reads an order; NOT_FOUND when absent.
func loadOrder(ctx contractapi.TransactionContextInterface, orderID string) (*Order, error) {
	if err := ValidateID("orderId", orderID); err != nil {
		return nil, err
	}
	key, err := orderKey(ctx, orderID)
	if err != nil {
		return nil, err
	}
	var o Order
	found, err := getJSON(ctx, key, &o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound("order %q does not exist", orderID)
	}
	if err := overlayEscrow(ctx, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// orderForWrite loads the order a write transaction changes and applies the guards every such
// write shares, in this order: NOT_FOUND when absent; FORBIDDEN when the creator's identity is
// bound to other merchants (see requireMerchant); VERSION_MISMATCH when expectedVersion (0 = no
// check) is not the order's version. It also notes the order's last recorded lifecycle time, so
// that saveOrder refuses a transaction stamped before it — after the transaction's own checks,
// so a duplicate still hears CONFLICT and a wrong step FAILED_PRECONDITION about the state.
func orderForWrite(ctx contractapi.TransactionContextInterface, ti *txInfo, orderID string, expectedVersion int64) (*Order, error) {
	if err := ValidateNonNegative("expectedVersion", expectedVersion); err != nil {
		return nil, err
	}
	o, err := loadOrder(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if err := requireMerchant(ctx, ti, o.MerchantID); err != nil {
		return nil, err
	}
	if err := requireVersion(o, expectedVersion); err != nil {
		return nil, err
	}
	if o.lastEvent, o.lastEventField, err = lastLifecycleTime(o); err != nil {
		return nil, err
	}
	return o, nil
}

// requireVersion returns VERSION_MISMATCH naming expectedVersion unless expected is 0 (no
// check) or the order's version.
func requireVersion(o *Order, expected int64) error {
	if expected == 0 || expected == o.Version {
		return nil
	}
	return &Error{Code: CodeVersionMismatch, Field: "expectedVersion", Message: errVersionText(o, expected)}
}

// errVersionText is the message of a VERSION_MISMATCH about order o and the version expected.
func errVersionText(o *Order, expected int64) string {
	return fmt.Sprintf("order %s is at version %d, not %d", o.OrderID, o.Version, expected)
}

// lastLifecycleTime returns the latest of the order's recorded lifecycle times (createdAt,
// payment.paidAt, customs.decidedAt, hold.since, logistics.pickedUpAt, logistics.deliveredAt,
// dispute.openedAt, dispute.resolvedAt, closedAt) and its field name.
func lastLifecycleTime(o *Order) (time.Time, string, error) {
	times := [][2]string{
		{"createdAt", o.CreatedAt}, {"customs.decidedAt", o.Customs.DecidedAt},
		{"logistics.pickedUpAt", o.Logistics.PickedUpAt}, {"logistics.deliveredAt", o.Logistics.DeliveredAt},
		{"closedAt", o.ClosedAt},
	}
	if o.Payment != nil {
		times = append(times, [2]string{"payment.paidAt", o.Payment.PaidAt})
	}
	if o.Hold != nil {
		times = append(times, [2]string{"hold.since", o.Hold.Since})
	}
	if o.Dispute != nil {
		times = append(times, [2]string{"dispute.openedAt", o.Dispute.OpenedAt}, [2]string{"dispute.resolvedAt", o.Dispute.ResolvedAt})
	}
	var last time.Time
	field := ""
	for _, t := range times {
		if t[1] == "" {
			continue
		}
		at, err := time.Parse(timeLayout, t[1])
		if err != nil {
			return time.Time{}, "", errInternal("parse "+t[0], err)
		}
		if field == "" || at.After(last) {
			last, field = at, t[0]
		}
	}
	return last, field, nil
}

// requireNotBefore refuses a transaction whose timestamp is before the order's recorded time at
// (field names it) with FAILED_PRECONDITION naming "timestamp"; a zero time is no bound.
func requireNotBefore(ti *txInfo, orderID, field string, at time.Time) error {
	if field == "" || !ti.at.Before(at) {
		return nil
	}
	return errPreconditionField("timestamp", "the transaction timestamp %s is before the %s %s of order %s; an order's lifecycle times never go backwards (if the clocks of the submitting clients differ, retry with a fresh proposal)",
		ti.ts, field, at.Format(timeLayout), orderID)
}

// deriveStatus computes the status of a non-final order from its facts: an open dispute shows
// DISPUTED, a hold HELD, then the furthest lifecycle step reached.
func deriveStatus(o *Order) string {
	switch {
	case o.Dispute != nil && o.Dispute.Open:
		return StatusDisputed
	case o.Hold != nil:
		return StatusHeld
	case o.Logistics.DeliveredAt != "":
		return StatusDelivered
	case o.Logistics.PickedUpAt != "":
		return StatusInTransit
	case o.Customs.Cleared:
		return StatusCleared
	case o.Payment != nil && (o.Documents.Declared || o.Documents.Waybilled):
		return StatusDocumented
	case o.Payment != nil:
		return StatusPaid
	}
	return StatusCreated
}

// saveOrder stamps the order with the transaction, sets its status (derived unless final is
// given), writes it and moves its index entries when the status changed. prevStatus is "" for
// a new order. An order loaded by orderForWrite is refused (FAILED_PRECONDITION naming
// "timestamp") when the transaction is stamped before the order's last lifecycle time.
func saveOrder(ctx contractapi.TransactionContextInterface, o *Order, prevStatus, final string, ti *txInfo) error {
	if final != "" {
		o.Status = final
		o.ClosedAt = ti.ts
	} else {
		o.Status = deriveStatus(o)
	}
	if err := requireNotBefore(ti, o.OrderID, o.lastEventField, o.lastEvent); err != nil {
		return err
	}
	o.Version++
	o.UpdatedAt = ti.ts
	o.UpdatedBy = ti.id
	o.UpdatedByMSP = ti.msp
	o.TxID = ti.txID
	if err := checkMoney(o); err != nil {
		return err
	}
	key, err := orderKey(ctx, o.OrderID)
	if err != nil {
		return err
	}
	if err := putJSON(ctx, key, o); err != nil {
		return err
	}
	if prevStatus == o.Status {
		return nil
	}
	stub := ctx.GetStub()
	if prevStatus != "" {
		old, err := indexKeys(ctx, o, prevStatus)
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := stub.DelState(k); err != nil {
				return errInternal("delete index entry", err)
			}
		}
	}
	cur, err := indexKeys(ctx, o, o.Status)
	if err != nil {
		return err
	}
	for _, k := range cur {
		if err := stub.PutState(k, indexValue); err != nil {
			return errInternal("put index entry", err)
		}
	}
	return nil
}

// checkMoney enforces the conservation invariant before anything is written: no figure is
// negative, released + refunded never exceed the escrow, and a final order has paid out exactly
// its escrow.
func checkMoney(o *Order) error {
	e := o.Escrow
	if e.Amount < 0 || e.Released < 0 || e.Refunded < 0 {
		return errInternal("money invariant", fmt.Errorf("order %s: negative escrow figure %+v", o.OrderID, e))
	}
	out, err := AddAmounts("escrow", e.Released, e.Refunded)
	if err != nil {
		return err
	}
	if out > e.Amount || (IsFinalStatus(o.Status) && out != e.Amount) {
		return errInternal("money invariant", fmt.Errorf("order %s (%s): released %d + refunded %d vs escrow %d", o.OrderID, o.Status, e.Released, e.Refunded, e.Amount))
	}
	if o.Payment == nil && e.Amount != 0 {
		return errInternal("money invariant", fmt.Errorf("order %s has escrow without payment", o.OrderID))
	}
	return nil
}

// finalize settles a non-final order: it refunds `refund` (0 to what the escrow still holds) to
// the payer and releases the rest of what is held to the merchant, so that released + refunded
// equals the escrow amount; a share released earlier (MILESTONES terms, at customs clearance)
// stays released. It sets the final status, saves the order, writes the escrow key of a paid
// order (whose key-level endorsement policy makes the transaction need the buyer's side),
// releases the order's compliance usage unless the order is COMPLETED, and records its outcome
// for the merchant's credit report. Money reaches the merchant here only from a delivered,
// customs-cleared order that is not on hold.
func finalize(ctx contractapi.TransactionContextInterface, o *Order, final string, refund int64, ti *txInfo) error {
	remaining := remainingEscrow(o)
	if refund < 0 || refund > remaining {
		return errInternal("money invariant", fmt.Errorf("order %s: refund %d of %d still held", o.OrderID, refund, remaining))
	}
	payout := remaining - refund
	if err := requirePayoutAllowed(o, payout); err != nil {
		return err
	}
	prev := o.Status
	o.Escrow.Released += payout
	o.Escrow.Refunded += refund
	if o.Dispute != nil {
		o.Dispute.Open = false
	}
	o.Hold = nil
	if err := saveOrder(ctx, o, prev, final, ti); err != nil {
		return err
	}
	if o.Payment != nil {
		if err := putEscrow(ctx, o, ti); err != nil {
			return err
		}
	}
	if final != StatusCompleted {
		// Nothing (REJECTED, CANCELLED, REFUNDED) was kept by the merchant: the order no longer
		// counts toward the buyer's yearly compliance limit.
		created, err := time.Parse(timeLayout, o.CreatedAt)
		if err != nil {
			return errInternal("parse createdAt", err)
		}
		if err := ReleaseComplianceUsage(ctx, o.Buyer.ID, o.Currency, o.OrderID, created); err != nil {
			return err
		}
	}
	late, err := outcomeLateness(o, final, ti.at)
	if err != nil {
		return err
	}
	onTime, err := shippedOnTime(o, late)
	if err != nil {
		return err
	}
	return RecordOutcome(ctx, Outcome{
		OrderID:       o.OrderID,
		MerchantID:    o.MerchantID,
		Currency:      o.Currency,
		FinalStatus:   final,
		Total:         o.Total,
		Escrowed:      o.Escrow.Amount,
		Released:      o.Escrow.Released,
		Refunded:      o.Escrow.Refunded,
		Disputed:      o.Dispute != nil,
		ShippedOnTime: onTime,
		LateShipment:  late.shipment,
		LateDelivery:  late.delivery,
		FinalizedAt:   ti.at,
	})
}

// outcomeLateness returns which deadlines a finished order missed, for its credit outcome: a
// step (pickup, delivery) that came after its deadline, or that never came although the order
// ended CANCELLED or REFUNDED after the deadline. A customs rejection is not the merchant's
// lateness: it counts only steps that came late.
func outcomeLateness(o *Order, final string, at time.Time) (lateness, error) {
	if final == StatusRejected || final == StatusCompleted {
		// A completed order was picked up and delivered: only late steps count (no time is
		// after a deadline for a step that never came).
		return missedDeadlines(o, time.Time{})
	}
	return missedDeadlines(o, at)
}

// requirePayoutAllowed refuses to release money to the merchant (released > 0) unless the
// order was delivered, cleared by customs and is not on hold: a customs HELD order never pays
// out, and neither does a dispute resolved before delivery.
func requirePayoutAllowed(o *Order, released int64) error {
	switch {
	case released <= 0:
		return nil
	case o.Hold != nil:
		return errPrecondition("cannot release %d to merchant %s: order %s is on %s hold", released, o.MerchantID, o.OrderID, o.Hold.Kind)
	case o.Logistics.DeliveredAt == "":
		return errPrecondition("cannot release %d to merchant %s: order %s was not delivered", released, o.MerchantID, o.OrderID)
	case !o.Customs.Cleared:
		return errPrecondition("cannot release %d to merchant %s: order %s is not cleared by customs", released, o.MerchantID, o.OrderID)
	}
	return nil
}

// shippedOnTime reports whether a delivered order met its promises: no deadline missed, and the
// delivery not after promisedDeliveryBy (an order without either is on time once delivered; an
// undelivered order is not).
func shippedOnTime(o *Order, late lateness) (bool, error) {
	if o.Logistics.DeliveredAt == "" || late.any() {
		return false, nil
	}
	if o.PromisedDeliveryBy == "" {
		return true, nil
	}
	delivered, err := time.Parse(timeLayout, o.Logistics.DeliveredAt)
	if err != nil {
		return false, errInternal("parse deliveredAt", err)
	}
	promised, err := parsePromised("promisedDeliveryBy", o.PromisedDeliveryBy)
	if err != nil {
		return false, errInternal("parse promisedDeliveryBy", err)
	}
	return !delivered.After(promised), nil
}

// parsePromised parses promisedDeliveryBy: an RFC 3339 timestamp, or a date (YYYY-MM-DD) meaning
// the end of that day in UTC.
func parsePromised(field, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	d, err := ParseDate(field, v)
	if err != nil {
		return time.Time{}, errInvalid(field, "must be an RFC 3339 timestamp or a date YYYY-MM-DD, got %q", v)
	}
	return d.Add(24*time.Hour - time.Nanosecond), nil
}

// orderEvent builds the event payload of an order after a write.
func orderEvent(o *Order, ti *txInfo) OrderEvent {
	return OrderEvent{
		OrderID:    o.OrderID,
		Status:     o.Status,
		MerchantID: o.MerchantID,
		Currency:   o.Currency,
		Total:      o.Total,
		Escrow:     o.Escrow,
		TxID:       ti.txID,
	}
}

// requireStatus returns FAILED_PRECONDITION unless the order is in one of the given statuses.
func requireStatus(o *Order, action string, allowed ...string) error {
	for _, s := range allowed {
		if o.Status == s {
			return nil
		}
	}
	return errPrecondition("cannot %s: order %s is %s (allowed in %v)", action, o.OrderID, o.Status, allowed)
}
