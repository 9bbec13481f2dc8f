package chaincode

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// DeclareCustomsRequest is the argument of DeclareCustoms. DeclaredValue is in minor units of
// the order currency; HSCodes lists the HS codes of the declared goods.
type DeclareCustomsRequest struct {
	requestBase
	OrderID         string   `json:"orderId"`
	DeclarationID   string   `json:"declarationId"`
	DeclaredValue   int64    `json:"declaredValue"`
	HSCodes         []string `json:"hsCodes"`
	ExpectedVersion int64    `json:"expectedVersion,omitempty" metadata:",optional"`
}

// DeclareCustoms records the merchant's customs declaration for a paid order (MerchantMSP). A
// declaration may be amended (the new one replaces the old) until customs clears the order, for
// example after a failed three-document match or a customs hold.
func (c *Contract) DeclareCustoms(ctx contractapi.TransactionContextInterface, req DeclareCustomsRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "DeclareCustoms", MerchantMSP)
	if err != nil {
		return nil, err
	}
	if err := firstError(
		ValidateID("orderId", req.OrderID),
		ValidateID("declarationId", req.DeclarationID),
		ValidatePositive("declaredValue", req.DeclaredValue),
	); err != nil {
		return nil, err
	}
	if len(req.HSCodes) == 0 {
		return nil, errInvalid("hsCodes", "must list at least one HS code")
	}
	if len(req.HSCodes) > MaxItems {
		return nil, errInvalid("hsCodes", "must list at most %d HS codes, got %d", MaxItems, len(req.HSCodes))
	}
	for i, h := range req.HSCodes {
		if err := ValidateHSCode(fmt.Sprintf("hsCodes[%d]", i), h); err != nil {
			return nil, err
		}
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireCustomsOpen(o, "declare to customs"); err != nil {
		return nil, err
	}
	key, err := compositeKey(ctx, objDeclaration, o.OrderID)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, key, DeclarationRecord{
		OrderID: o.OrderID, DeclarationID: req.DeclarationID, Currency: o.Currency,
		DeclaredValue: req.DeclaredValue, HSCodes: req.HSCodes,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}); err != nil {
		return nil, err
	}
	prev := o.Status
	o.Documents.Declared = true
	o.Documents.DeclarationID = req.DeclarationID
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventCustomsDeclared, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// requireCustomsOpen checks that an order awaits a customs decision: paid, not cleared, not
// final, not disputed and not under a compliance hold.
func requireCustomsOpen(o *Order, action string) error {
	if err := requireStatus(o, action, StatusPaid, StatusDocumented, StatusInTransit, StatusHeld); err != nil {
		return err
	}
	if o.Customs.Cleared {
		return errPrecondition("cannot %s: order %s is already cleared by customs", action, o.OrderID)
	}
	if o.Hold != nil && o.Hold.Kind == HoldCompliance {
		return errPrecondition("cannot %s: order %s is on compliance hold", action, o.OrderID)
	}
	return nil
}

// DecideCustomsRequest is the argument of DecideCustoms. Decision is CLEARED, HELD or REJECTED;
// Reason is required for HELD and REJECTED; DutyAmount and TaxAmount (minor units of the order
// currency) are recorded with CLEARED.
type DecideCustomsRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	Decision        string `json:"decision"`
	Reason          string `json:"reason,omitempty" metadata:",optional"`
	DutyAmount      int64  `json:"dutyAmount,omitempty" metadata:",optional"`
	TaxAmount       int64  `json:"taxAmount,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// DecideCustoms records a customs decision (CustomsMSP).
//
// On a declared order: CLEARED only if the three-document match passes (otherwise
// FAILED_PRECONDITION listing every mismatch in the error details); HELD puts the order on
// customs hold (it may be decided again); REJECTED is final and refunds the escrow in full in
// the same transaction.
//
// On an order under compliance hold (watch list at creation): CLEARED lifts the hold, HELD
// updates its reason, REJECTED rejects the order.
func (c *Contract) DecideCustoms(ctx contractapi.TransactionContextInterface, req DecideCustomsRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "DecideCustoms", CustomsMSP)
	if err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	compliance := o.Status == StatusHeld && o.Hold.Kind == HoldCompliance
	if err := checkDecisionAllowed(ctx, o, req.Decision, compliance); err != nil {
		return nil, err
	}
	rec := DecisionRecord{
		OrderID: o.OrderID, Decision: req.Decision, Reason: req.Reason,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}
	if err := applyDecision(ctx, o, req, compliance, &rec, ti); err != nil {
		return nil, err
	}
	key, err := compositeKey(ctx, objDecision, o.OrderID)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, key, rec); err != nil {
		return nil, err
	}
	ev := orderEvent(o, ti)
	ev.Decision = req.Decision
	if err := emit(ctx, EventCustomsDecided, ev); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks the decision request: a known decision, a reason for HELD and REJECTED, duty
// and tax (non-negative) only with CLEARED.
func (r *DecideCustomsRequest) validate() error {
	if err := ValidateID("orderId", r.OrderID); err != nil {
		return err
	}
	switch r.Decision {
	case DecisionCleared:
		if r.Reason != "" {
			if err := ValidateText("reason", r.Reason, 500); err != nil {
				return err
			}
		}
	case DecisionHeld, DecisionRejected:
		if err := ValidateText("reason", r.Reason, 500); err != nil {
			return err
		}
		if r.DutyAmount != 0 || r.TaxAmount != 0 {
			return errInvalid("dutyAmount", "duty and tax are recorded only with a CLEARED decision")
		}
	default:
		return errInvalid("decision", "must be %s, %s or %s, got %q", DecisionCleared, DecisionHeld, DecisionRejected, r.Decision)
	}
	if err := ValidateNonNegative("dutyAmount", r.DutyAmount); err != nil {
		return err
	}
	return ValidateNonNegative("taxAmount", r.TaxAmount)
}

// checkDecisionAllowed checks that the order may receive the decision: an order on compliance
// hold always may; any other order must await customs and carry a declaration, and a CLEARED
// decision needs the three-document match to pass (FAILED_PRECONDITION listing every mismatch
// otherwise).
func checkDecisionAllowed(ctx contractapi.TransactionContextInterface, o *Order, decision string, compliance bool) error {
	if compliance {
		return nil
	}
	if err := requireCustomsOpen(o, "decide customs"); err != nil {
		return err
	}
	if !o.Documents.Declared {
		return errPrecondition("cannot decide customs: order %s has no customs declaration", o.OrderID)
	}
	if decision != DecisionCleared {
		return nil
	}
	mismatches, err := threeDocumentMatch(ctx, o)
	if err != nil {
		return err
	}
	if len(mismatches) > 0 {
		return &Error{
			Code:    CodeFailedPrecondition,
			Message: fmt.Sprintf("three-document match failed for order %s", o.OrderID),
			Details: mismatches,
		}
	}
	return nil
}

// applyDecision changes and saves the order for the decision; rec is the decision record,
// completed with the refund or the duty and tax.
func applyDecision(ctx contractapi.TransactionContextInterface, o *Order, req DecideCustomsRequest, compliance bool, rec *DecisionRecord, ti *txInfo) error {
	prev := o.Status
	switch {
	case req.Decision == DecisionRejected:
		rec.Refunded = remainingEscrow(o)
		o.Customs.Decision = req.Decision
		o.Customs.Reason = req.Reason
		o.Customs.DecidedAt = ti.ts
		return finalize(ctx, o, StatusRejected, remainingEscrow(o), ti)
	case compliance && req.Decision == DecisionCleared:
		o.Hold = nil
	case compliance: // HELD again
		o.Hold.Reason = req.Reason
	case req.Decision == DecisionCleared:
		rec.DutyAmount, rec.TaxAmount = req.DutyAmount, req.TaxAmount
		o.Customs = CustomsState{Decision: req.Decision, Cleared: true, DutyAmount: req.DutyAmount, TaxAmount: req.TaxAmount, Reason: req.Reason, DecidedAt: ti.ts}
		o.Hold = nil
		return clearWithMilestone(ctx, o, prev, rec, ti)
	default: // customs HELD
		o.Customs.Decision = req.Decision
		o.Customs.Reason = req.Reason
		o.Customs.DecidedAt = ti.ts
		since := ti.ts
		if o.Hold != nil {
			since = o.Hold.Since
		}
		o.Hold = &Hold{Kind: HoldCustoms, Reason: req.Reason, Since: since}
	}
	return saveOrder(ctx, o, prev, "", ti)
}

// clearWithMilestone saves a customs-cleared order. Under MILESTONES terms it releases the
// clearance share of the escrow to the merchant in the same transaction (recorded in the
// decision record as released) and writes the escrow key, so the clearance needs the buyer's
// side's endorsement like every money movement.
func clearWithMilestone(ctx contractapi.TransactionContextInterface, o *Order, prev string, rec *DecisionRecord, ti *txInfo) error {
	share := milestoneShare(o)
	if share > 0 && o.Escrow.Released == 0 && o.Escrow.Refunded == 0 {
		o.Escrow.Released = share
		rec.Released = share
	}
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return err
	}
	if rec.Released == 0 {
		return nil
	}
	return putEscrow(ctx, o, ti)
}

// threeDocumentMatch compares the order (merchant), the payment (bank), the waybill (carrier)
// and the declaration (merchant) and returns every mismatch, in a fixed order. Consignees are
// compared through the private data hashes only; no private data is read.
func threeDocumentMatch(ctx contractapi.TransactionContextInterface, o *Order) ([]string, error) {
	var pay PaymentRecord
	hasPay, err := getRecord(ctx, objPayment, o.OrderID, &pay)
	if err != nil {
		return nil, err
	}
	var decl DeclarationRecord
	hasDecl, err := getRecord(ctx, objDeclaration, o.OrderID, &decl)
	if err != nil {
		return nil, err
	}
	var wb WaybillRecord
	hasWB, err := getRecord(ctx, objWaybill, o.OrderID, &wb)
	if err != nil {
		return nil, err
	}
	var out []string
	if hasPay {
		out = append(out, paymentMismatches(o, &pay)...)
	} else {
		out = append(out, "payment missing")
	}
	if hasDecl {
		out = append(out, declarationMismatches(o, &decl, hasPay, pay.Amount)...)
	} else {
		out = append(out, "declaration missing")
	}
	if !hasWB {
		return append(out, "waybill missing"), nil
	}
	if wb.OrderID != o.OrderID {
		out = append(out, fmt.Sprintf("waybill is for order %s, not %s", wb.OrderID, o.OrderID))
	}
	consignee, err := consigneeMismatch(ctx, o.OrderID)
	if err != nil {
		return nil, err
	}
	if consignee != "" {
		out = append(out, consignee)
	}
	return out, nil
}

// getRecord reads the record of objectType for an order into v; found=false when absent.
func getRecord(ctx contractapi.TransactionContextInterface, objectType, orderID string, v any) (bool, error) {
	key, err := compositeKey(ctx, objectType, orderID)
	if err != nil {
		return false, err
	}
	return getJSON(ctx, key, v)
}

// paymentMismatches compares the bank's payment record with the order.
func paymentMismatches(o *Order, pay *PaymentRecord) []string {
	var out []string
	if pay.OrderID != o.OrderID {
		out = append(out, fmt.Sprintf("payment is for order %s, not %s", pay.OrderID, o.OrderID))
	}
	if pay.Currency != o.Currency {
		out = append(out, fmt.Sprintf("payment currency %s != order currency %s", pay.Currency, o.Currency))
	}
	if pay.Amount != o.Total {
		out = append(out, fmt.Sprintf("payment amount %d != total %d", pay.Amount, o.Total))
	}
	if o.Escrow.Amount != pay.Amount {
		out = append(out, fmt.Sprintf("escrow amount %d != payment amount %d", o.Escrow.Amount, pay.Amount))
	}
	return out
}

// declarationMismatches compares the merchant's declaration with the order and, when there is
// one, the payment amount.
func declarationMismatches(o *Order, decl *DeclarationRecord, hasPay bool, paid int64) []string {
	var out []string
	if decl.OrderID != o.OrderID {
		out = append(out, fmt.Sprintf("declaration is for order %s, not %s", decl.OrderID, o.OrderID))
	}
	if decl.DeclaredValue != o.Total {
		out = append(out, fmt.Sprintf("declaredValue %d != total %d", decl.DeclaredValue, o.Total))
	}
	if hasPay && decl.DeclaredValue != paid {
		out = append(out, fmt.Sprintf("declaredValue %d != payment amount %d", decl.DeclaredValue, paid))
	}
	return append(out, hsMismatches(o, decl.HSCodes)...)
}

// consigneeMismatch compares the private data hashes of the merchant's and the carrier's
// consignee records; it returns "" when they match.
func consigneeMismatch(ctx contractapi.TransactionContextInterface, orderID string) (string, error) {
	mKey, err := compositeKey(ctx, privConsigneeMerchant, orderID)
	if err != nil {
		return "", err
	}
	cKey, err := compositeKey(ctx, privConsigneeCarrier, orderID)
	if err != nil {
		return "", err
	}
	mh, err := privateHash(ctx, CollectionOrderPrivate, mKey)
	if err != nil {
		return "", err
	}
	ch, err := privateHash(ctx, CollectionOrderPrivate, cKey)
	if err != nil {
		return "", err
	}
	switch {
	case mh == nil:
		return "order consignee record missing", nil
	case ch == nil:
		return "waybill consignee record missing", nil
	case !bytes.Equal(mh, ch):
		return "consignee differs between order and waybill", nil
	}
	return "", nil
}

// hsMismatches compares the declared HS codes with the order items' HS codes as sets.
func hsMismatches(o *Order, declared []string) []string {
	ordered := make([]string, 0, len(o.Items))
	for _, it := range o.Items {
		ordered = append(ordered, it.HSCode)
	}
	slices.Sort(ordered)
	ordered = slices.Compact(ordered)
	decl := slices.Clone(declared)
	slices.Sort(decl)
	decl = slices.Compact(decl)
	var out []string
	for _, h := range decl {
		if _, ok := slices.BinarySearch(ordered, h); !ok {
			out = append(out, fmt.Sprintf("hsCode %s declared but not in the order items", h))
		}
	}
	for _, h := range ordered {
		if _, ok := slices.BinarySearch(decl, h); !ok {
			out = append(out, fmt.Sprintf("hsCode %s of the order items not declared", h))
		}
	}
	return out
}
