package chaincode

import (
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Payment terms: how an order's escrow reaches the merchant (docs/chaincode.md, "Payment terms").
const (
	// TermsFullEscrow holds everything until delivery is confirmed (by the bank, or by the
	// buyer's signed statement for a keyed order) or the confirmation window after delivery
	// passes. An order without terms has these.
	TermsFullEscrow = "FULL_ESCROW"
	// TermsMilestones releases clearanceShareBps of the escrow to the merchant when customs
	// clears the order, and the rest as under FULL_ESCROW.
	TermsMilestones = "MILESTONES"
	// TermsAutoRelease lets anyone release the escrow autoReleaseDays days after delivery (the
	// order's confirmation window is that many days; the rules' minimum window does not apply).
	TermsAutoRelease = "AUTO_RELEASE"
)

// PaymentTermKinds lists the payment terms.
var PaymentTermKinds = []string{TermsFullEscrow, TermsMilestones, TermsAutoRelease}

// Bounds of the payment terms.
const (
	// BasisPoints is 100 %.
	BasisPoints = 10000
	// MinAutoReleaseDays and MaxAutoReleaseDays bound autoReleaseDays.
	MinAutoReleaseDays = 1
	MaxAutoReleaseDays = 30
	// DefaultMaxMilestoneShareBps is the largest clearance share while the rules set none (50 %).
	DefaultMaxMilestoneShareBps int64 = 5000
	// DefaultMilestonesMinScore and DefaultAutoReleaseMinScore are the credit scores a merchant
	// needs to offer MILESTONES and AUTO_RELEASE while the rules set none: a merchant without
	// history (score 500) offers full escrow only.
	DefaultMilestonesMinScore  int64 = 700
	DefaultAutoReleaseMinScore int64 = 600
	// MaxDeadlineHorizon is how far after the order's creation a deadline may lie.
	MaxDeadlineHorizon = 366 * 24 * time.Hour
	secondsPerDay      = 24 * 60 * 60
)

// PaymentTermsInput is the paymentTerms of CreateOrderRequest.
type PaymentTermsInput struct {
	Kind              string `json:"kind"`
	ClearanceShareBps int64  `json:"clearanceShareBps,omitempty" metadata:",optional"`
	AutoReleaseDays   int64  `json:"autoReleaseDays,omitempty" metadata:",optional"`
}

// PaymentTerms are an order's payment terms as recorded. GrantedAtScore is the merchant's
// credit score when a credit-gated kind (MILESTONES, AUTO_RELEASE) was granted.
type PaymentTerms struct {
	Kind              string `json:"kind"`
	ClearanceShareBps int64  `json:"clearanceShareBps,omitempty" metadata:",optional"`
	AutoReleaseDays   int64  `json:"autoReleaseDays,omitempty" metadata:",optional"`
	GrantedAtScore    int64  `json:"grantedAtScore,omitempty" metadata:",optional"`
}

// termsKind returns the kind of an order's terms (FULL_ESCROW when it has none).
func termsKind(o *Order) string {
	if o.PaymentTerms == nil {
		return TermsFullEscrow
	}
	return o.PaymentTerms.Kind
}

// validate checks the terms' shape (the rules' bounds and the credit gate are checked by
// grantTerms) together with the request's confirmation window.
func (in *PaymentTermsInput) validate(confirmationWindow int64) error {
	switch in.Kind {
	case TermsFullEscrow:
		if in.ClearanceShareBps != 0 || in.AutoReleaseDays != 0 {
			return errInvalid("paymentTerms", "%s takes neither clearanceShareBps nor autoReleaseDays", TermsFullEscrow)
		}
	case TermsMilestones:
		if in.AutoReleaseDays != 0 {
			return errInvalid("paymentTerms.autoReleaseDays", "is only for %s", TermsAutoRelease)
		}
		if in.ClearanceShareBps < 1 || in.ClearanceShareBps >= BasisPoints {
			return errInvalid("paymentTerms.clearanceShareBps", "must be between 1 and %d basis points, got %d", BasisPoints-1, in.ClearanceShareBps)
		}
	case TermsAutoRelease:
		if in.ClearanceShareBps != 0 {
			return errInvalid("paymentTerms.clearanceShareBps", "is only for %s", TermsMilestones)
		}
		if in.AutoReleaseDays < MinAutoReleaseDays || in.AutoReleaseDays > MaxAutoReleaseDays {
			return errInvalid("paymentTerms.autoReleaseDays", "must be between %d and %d days, got %d", MinAutoReleaseDays, MaxAutoReleaseDays, in.AutoReleaseDays)
		}
		if confirmationWindow != 0 {
			return errInvalid("confirmationWindowSeconds", "must be omitted with %s terms: the order's window is autoReleaseDays", TermsAutoRelease)
		}
	default:
		return errInvalid("paymentTerms.kind", "must be %s, %s or %s, got %s", TermsFullEscrow, TermsMilestones, TermsAutoRelease, quoteValue(in.Kind))
	}
	return nil
}

// grantTerms returns the terms a new order of merchantID gets for the request (nil: none asked,
// FULL_ESCROW). A credit-gated kind needs the merchant's current credit score (its credit
// report, aggregated from its outcome records) at or above the rules' minimum for that kind,
// else FAILED_PRECONDITION naming paymentTerms.kind; a clearance share above the rules' maximum
// is INVALID_ARGUMENT.
func grantTerms(ctx contractapi.TransactionContextInterface, rules *ComplianceRules, merchantID string, in *PaymentTermsInput) (*PaymentTerms, error) {
	if in == nil {
		return nil, nil
	}
	terms := &PaymentTerms{Kind: in.Kind, ClearanceShareBps: in.ClearanceShareBps, AutoReleaseDays: in.AutoReleaseDays}
	if in.Kind == TermsFullEscrow {
		return terms, nil
	}
	if in.Kind == TermsMilestones && in.ClearanceShareBps > rules.MaxMilestoneShareBps {
		return nil, errInvalid("paymentTerms.clearanceShareBps", "must be at most %d basis points under the compliance rules (version %d), got %d",
			rules.MaxMilestoneShareBps, rules.Version, in.ClearanceShareBps)
	}
	credit, err := merchantCredit(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	need := rules.termsMinScore(in.Kind)
	if credit.Score < need {
		return nil, errPreconditionField("paymentTerms.kind", "merchant %s scores %d (%s, %d finished orders); %s terms need at least %d under the compliance rules (version %d)",
			merchantID, credit.Score, credit.ScoreModel, credit.Orders, in.Kind, need, rules.Version)
	}
	terms.GrantedAtScore = credit.Score
	return terms, nil
}

// milestoneShare returns the part of the escrow released at customs clearance under
// MILESTONES terms: amount × clearanceShareBps / 10000, rounded down (0 under other terms).
func milestoneShare(o *Order) int64 {
	if termsKind(o) != TermsMilestones {
		return 0
	}
	share, err := mulDivFloor(o.Escrow.Amount, o.PaymentTerms.ClearanceShareBps, BasisPoints)
	if err != nil {
		return 0
	}
	return share
}

// mulDivFloor returns a×b/d rounded down for a, b >= 0 and d > 0, without overflow in the
// product (b < d, so the result is below a).
func mulDivFloor(a, b, d int64) (int64, error) {
	if a < 0 || b < 0 || d <= 0 || b >= d {
		return 0, fmt.Errorf("mulDivFloor(%d, %d, %d): out of range", a, b, d)
	}
	return a/d*b + a%d*b/d, nil
}

// remainingEscrow returns what is still held in the order's escrow.
func remainingEscrow(o *Order) int64 {
	return o.Escrow.Amount - o.Escrow.Released - o.Escrow.Refunded
}

// DeadlinesInput is the deadlines of CreateOrderRequest: RFC 3339 timestamps, or dates
// (YYYY-MM-DD, meaning the end of that day in UTC). Either may be omitted.
type DeadlinesInput struct {
	ShipBy    string `json:"shipBy,omitempty" metadata:",optional"`
	DeliverBy string `json:"deliverBy,omitempty" metadata:",optional"`
}

// Deadlines are an order's deadlines as recorded (RFC 3339, UTC).
type Deadlines struct {
	ShipBy    string `json:"shipBy,omitempty" metadata:",optional"`
	DeliverBy string `json:"deliverBy,omitempty" metadata:",optional"`
}

// validate returns the deadlines of an order created at `at` (nil when none is set): each after
// the creation and at most MaxDeadlineHorizon after it, deliverBy not before shipBy.
func (in *DeadlinesInput) validate(at time.Time) (*Deadlines, error) {
	if in == nil || (in.ShipBy == "" && in.DeliverBy == "") {
		return nil, nil
	}
	out := &Deadlines{}
	var ship, deliver time.Time
	var err error
	if in.ShipBy != "" {
		if ship, err = parseDeadline("deadlines.shipBy", in.ShipBy, at); err != nil {
			return nil, err
		}
		out.ShipBy = ship.Format(timeLayout)
	}
	if in.DeliverBy != "" {
		if deliver, err = parseDeadline("deadlines.deliverBy", in.DeliverBy, at); err != nil {
			return nil, err
		}
		out.DeliverBy = deliver.Format(timeLayout)
	}
	if !ship.IsZero() && !deliver.IsZero() && deliver.Before(ship) {
		return nil, errInvalid("deadlines.deliverBy", "must not be before shipBy %s, got %s", out.ShipBy, out.DeliverBy)
	}
	return out, nil
}

// parseDeadline parses one deadline and checks it against the creation time at.
func parseDeadline(field, v string, at time.Time) (time.Time, error) {
	t, err := parsePromised(field, v)
	if err != nil {
		return time.Time{}, err
	}
	if !t.After(at) {
		return time.Time{}, errInvalid(field, "must be after the order's creation (transaction time %s), got %s", at.Format(timeLayout), v)
	}
	if t.Sub(at) > MaxDeadlineHorizon {
		return time.Time{}, errInvalid(field, "must be at most 366 days after the order's creation (transaction time %s), got %s", at.Format(timeLayout), v)
	}
	return t, nil
}

// lateness says which of an order's deadlines were missed at time at.
type lateness struct {
	shipment, delivery bool
}

// any reports whether a deadline was missed.
func (l lateness) any() bool { return l.shipment || l.delivery }

// missedDeadlines returns which deadlines the order missed as of at: shipBy when the pickup came
// after it or has not come by at, deliverBy likewise for the delivery.
func missedDeadlines(o *Order, at time.Time) (lateness, error) {
	var l lateness
	if o.Deadlines == nil {
		return l, nil
	}
	var err error
	if l.shipment, err = missed(o.Deadlines.ShipBy, o.Logistics.PickedUpAt, at); err != nil {
		return l, err
	}
	l.delivery, err = missed(o.Deadlines.DeliverBy, o.Logistics.DeliveredAt, at)
	return l, err
}

// missed reports whether deadline (empty: none) was missed by the step done at doneAt (empty:
// not done) as of at.
func missed(deadline, doneAt string, at time.Time) (bool, error) {
	if deadline == "" {
		return false, nil
	}
	by, err := time.Parse(timeLayout, deadline)
	if err != nil {
		return false, errInternal("parse deadline", err)
	}
	if doneAt == "" {
		return at.After(by), nil
	}
	done, err := time.Parse(timeLayout, doneAt)
	if err != nil {
		return false, errInternal("parse lifecycle time", err)
	}
	return done.After(by), nil
}

// requireLate refuses a late cancellation (FAILED_PRECONDITION) unless the order missed a
// deadline it can still be cancelled for, as of the transaction time: shipBy passed without a
// pickup, or deliverBy passed without a delivery.
func requireLate(o *Order, ti *txInfo) error {
	why, err := notLate(o, ti)
	if err != nil || why == "" {
		return err
	}
	return errPrecondition("cannot cancel order %s as late: %s", o.OrderID, why)
}

// notLate returns "" when the order may be cancelled as late at the transaction time, else the
// reason why not.
func notLate(o *Order, ti *txInfo) (string, error) {
	if o.Logistics.DeliveredAt != "" {
		return "it was delivered at " + o.Logistics.DeliveredAt, nil
	}
	if o.Deadlines == nil {
		return "it has no shipBy or deliverBy deadline", nil
	}
	l, err := missedDeadlines(o, ti.at)
	if err != nil {
		return "", err
	}
	if l.delivery || (l.shipment && o.Logistics.PickedUpAt == "") {
		return "", nil
	}
	return fmt.Sprintf("no deadline it can be cancelled for was missed by transaction time %s (shipBy %s, deliverBy %s)",
		ti.ts, boundText(o.Deadlines.ShipBy), boundText(o.Deadlines.DeliverBy)), nil
}
