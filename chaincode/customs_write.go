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
	OrderID       string   `json:"orderId"`
	DeclarationID string   `json:"declarationId"`
	DeclaredValue int64    `json:"declaredValue"`
	HSCodes       []string `json:"hsCodes"`
}

// DeclareCustoms records the merchant's customs declaration for a paid order (MerchantMSP). A
// declaration may be amended (the new one replaces the old) until customs clears the order, for
// example after a failed three-document match or a customs hold.
func (c *Contract) DeclareCustoms(ctx contractapi.TransactionContextInterface, req DeclareCustomsRequest) (*Order, error) {
	ti, err := begin(ctx, &req, "DeclareCustoms", MerchantMSP)
	if err != nil {
		return nil, err
	}
	for _, err := range []error{
		ValidateID("orderId", req.OrderID),
		ValidateID("declarationId", req.DeclarationID),
		ValidatePositive("declaredValue", req.DeclaredValue),
	} {
		if err != nil {
			return nil, err
		}
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
	o, err := loadOrder(ctx, req.OrderID)
	if err != nil {
		return nil, err
	}
	if err := requireMerchant(ctx, ti, o.MerchantID); err != nil {
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
	OrderID    string `json:"orderId"`
	Decision   string `json:"decision"`
	Reason     string `json:"reason,omitempty" metadata:",optional"`
	DutyAmount int64  `json:"dutyAmount,omitempty" metadata:",optional"`
	TaxAmount  int64  `json:"taxAmount,omitempty" metadata:",optional"`
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
	ti, err := begin(ctx, &req, "DecideCustoms", CustomsMSP)
	if err != nil {
		return nil, err
	}
	if err := ValidateID("orderId", req.OrderID); err != nil {
		return nil, err
	}
	switch req.Decision {
	case DecisionCleared:
		if req.Reason != "" {
			if err := ValidateText("reason", req.Reason, 500); err != nil {
				return nil, err
			}
		}
	case DecisionHeld, DecisionRejected:
		if err := ValidateText("reason", req.Reason, 500); err != nil {
			return nil, err
		}
		if req.DutyAmount != 0 || req.TaxAmount != 0 {
			return nil, errInvalid("dutyAmount", "duty and tax are recorded only with a CLEARED decision")
		}
	default:
		return nil, errInvalid("decision", "must be %s, %s or %s, got %q", DecisionCleared, DecisionHeld, DecisionRejected, req.Decision)
	}
	if err := ValidateNonNegative("dutyAmount", req.DutyAmount); err != nil {
		return nil, err
	}
	if err := ValidateNonNegative("taxAmount", req.TaxAmount); err != nil {
		return nil, err
	}
	o, err := loadOrder(ctx, req.OrderID)
	if err != nil {
		return nil, err
	}
	compliance := o.Status == StatusHeld && o.Hold.Kind == HoldCompliance
	if !compliance {
		if err := requireCustomsOpen(o, "decide customs"); err != nil {
			return nil, err
		}
		if !o.Documents.Declared {
			return nil, errPrecondition("cannot decide customs: order %s has no customs declaration", o.OrderID)
		}
	}
	if req.Decision == DecisionCleared && !compliance {
		mismatches, err := threeDocumentMatch(ctx, o)
		if err != nil {
			return nil, err
		}
		if len(mismatches) > 0 {
			return nil, &Error{
				Code:    CodeFailedPrecondition,
				Message: fmt.Sprintf("three-document match failed for order %s", o.OrderID),
				Details: mismatches,
			}
		}
	}

	rec := DecisionRecord{
		OrderID: o.OrderID, Decision: req.Decision, Reason: req.Reason,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}
	prev := o.Status
	switch {
	case req.Decision == DecisionRejected:
		rec.Refunded = o.Escrow.Amount
		o.Customs.Decision = req.Decision
		o.Customs.Reason = req.Reason
		o.Customs.DecidedAt = ti.ts
		if err := finalize(ctx, o, StatusRejected, 0, o.Escrow.Amount, ti); err != nil {
			return nil, err
		}
	case compliance && req.Decision == DecisionCleared:
		o.Hold = nil
		if err := saveOrder(ctx, o, prev, "", ti); err != nil {
			return nil, err
		}
	case compliance: // HELD again
		o.Hold.Reason = req.Reason
		if err := saveOrder(ctx, o, prev, "", ti); err != nil {
			return nil, err
		}
	case req.Decision == DecisionCleared:
		rec.DutyAmount, rec.TaxAmount = req.DutyAmount, req.TaxAmount
		o.Customs = CustomsState{Decision: req.Decision, Cleared: true, DutyAmount: req.DutyAmount, TaxAmount: req.TaxAmount, Reason: req.Reason, DecidedAt: ti.ts}
		o.Hold = nil
		if err := saveOrder(ctx, o, prev, "", ti); err != nil {
			return nil, err
		}
	default: // customs HELD
		o.Customs.Decision = req.Decision
		o.Customs.Reason = req.Reason
		o.Customs.DecidedAt = ti.ts
		since := ti.ts
		if o.Hold != nil {
			since = o.Hold.Since
		}
		o.Hold = &Hold{Kind: HoldCustoms, Reason: req.Reason, Since: since}
		if err := saveOrder(ctx, o, prev, "", ti); err != nil {
			return nil, err
		}
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

// threeDocumentMatch compares the order (merchant), the payment (bank), the waybill (carrier)
// and the declaration (merchant) and returns every mismatch, in a fixed order. Consignees are
// compared through the private data hashes only; no private data is read.
func threeDocumentMatch(ctx contractapi.TransactionContextInterface, o *Order) ([]string, error) {
	var out []string
	var pay PaymentRecord
	payKey, err := compositeKey(ctx, objPayment, o.OrderID)
	if err != nil {
		return nil, err
	}
	hasPay, err := getJSON(ctx, payKey, &pay)
	if err != nil {
		return nil, err
	}
	var decl DeclarationRecord
	declKey, err := compositeKey(ctx, objDeclaration, o.OrderID)
	if err != nil {
		return nil, err
	}
	hasDecl, err := getJSON(ctx, declKey, &decl)
	if err != nil {
		return nil, err
	}
	var wb WaybillRecord
	wbKey, err := compositeKey(ctx, objWaybill, o.OrderID)
	if err != nil {
		return nil, err
	}
	hasWB, err := getJSON(ctx, wbKey, &wb)
	if err != nil {
		return nil, err
	}

	if !hasPay {
		out = append(out, "payment missing")
	} else {
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
	}
	if !hasDecl {
		out = append(out, "declaration missing")
	} else {
		if decl.OrderID != o.OrderID {
			out = append(out, fmt.Sprintf("declaration is for order %s, not %s", decl.OrderID, o.OrderID))
		}
		if decl.DeclaredValue != o.Total {
			out = append(out, fmt.Sprintf("declaredValue %d != total %d", decl.DeclaredValue, o.Total))
		}
		if hasPay && decl.DeclaredValue != pay.Amount {
			out = append(out, fmt.Sprintf("declaredValue %d != payment amount %d", decl.DeclaredValue, pay.Amount))
		}
		out = append(out, hsMismatches(o, decl.HSCodes)...)
	}
	if !hasWB {
		out = append(out, "waybill missing")
	} else {
		if wb.OrderID != o.OrderID {
			out = append(out, fmt.Sprintf("waybill is for order %s, not %s", wb.OrderID, o.OrderID))
		}
		mKey, err := compositeKey(ctx, privConsigneeMerchant, o.OrderID)
		if err != nil {
			return nil, err
		}
		cKey, err := compositeKey(ctx, privConsigneeCarrier, o.OrderID)
		if err != nil {
			return nil, err
		}
		mh, err := privateHash(ctx, CollectionOrderPrivate, mKey)
		if err != nil {
			return nil, err
		}
		ch, err := privateHash(ctx, CollectionOrderPrivate, cKey)
		if err != nil {
			return nil, err
		}
		switch {
		case mh == nil:
			out = append(out, "order consignee record missing")
		case ch == nil:
			out = append(out, "waybill consignee record missing")
		case !bytes.Equal(mh, ch):
			out = append(out, "consignee differs between order and waybill")
		}
	}
	return out, nil
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
