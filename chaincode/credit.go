package chaincode

import (
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Composite-key object types of the settlement outcome records.
const (
	// [merchantId, orderId] → OutcomeRecord: one key per order, so concurrent settlements of
	// one merchant never write the same key.
	objOutcome = "outcome"
	// [merchantId, YYYY-MM, YYYY-MM-DD, currency, orderId] → SettlementEntry: the settlement
	// index, scanned one month prefix at a time by GetSettlementReport.
	objSettlement = "settlement"
)

// Credit score model (see MerchantCredit and docs/chaincode-rules.md).
const (
	// CreditScoreModel names the score formula reported with every credit report.
	CreditScoreModel = "xborder-credit-v2"
	// CreditScoreNeutral is the score of a merchant without finished orders.
	CreditScoreNeutral int64 = 500
	// CreditScoreFullConfidenceOrders is the number of finished orders from which the score is
	// no longer pulled towards the neutral score.
	CreditScoreFullConfidenceOrders int64 = 20
	// MaxSettlementReportDays bounds the date range of one settlement report (inclusive days).
	MaxSettlementReportDays = 366
)

// Outcome is the result of one finished order, recorded by the transaction that makes the order
// final (COMPLETED, REFUNDED, CANCELLED or REJECTED). Amounts are minor units of Currency;
// Escrowed must equal Released + Refunded. LateShipment and LateDelivery say that the order
// missed its shipBy or deliverBy deadline. A zero FinalizedAt means the transaction time.
type Outcome struct {
	OrderID       string
	MerchantID    string
	Currency      string
	FinalStatus   string
	Total         int64
	Escrowed      int64
	Released      int64
	Refunded      int64
	Disputed      bool
	ShippedOnTime bool
	LateShipment  bool
	LateDelivery  bool
	FinalizedAt   time.Time
}

// OutcomeRecord is the stored form of an Outcome, under the outcome key of its merchant and order.
type OutcomeRecord struct {
	OrderID       string `json:"orderId"`
	MerchantID    string `json:"merchantId"`
	Currency      string `json:"currency"`
	FinalStatus   string `json:"finalStatus"`
	Total         int64  `json:"total"`
	Escrowed      int64  `json:"escrowed"`
	Released      int64  `json:"released"`
	Refunded      int64  `json:"refunded"`
	Disputed      bool   `json:"disputed"`
	ShippedOnTime bool   `json:"shippedOnTime"`
	LateShipment  bool   `json:"lateShipment,omitempty"`
	LateDelivery  bool   `json:"lateDelivery,omitempty"`
	FinalizedAt   string `json:"finalizedAt"`
	TxID          string `json:"txId"`
}

// SettlementEntry is the value of a settlement index key: what one finished order settled.
type SettlementEntry struct {
	OrderID     string `json:"orderId"`
	Currency    string `json:"currency"`
	FinalStatus string `json:"finalStatus"`
	Date        string `json:"date"`
	FinalizedAt string `json:"finalizedAt,omitempty"`
	Escrowed    int64  `json:"escrowed"`
	Released    int64  `json:"released"`
	Refunded    int64  `json:"refunded"`
}

// CurrencyVolume is a merchant's finished-order money in one currency (minor units).
type CurrencyVolume struct {
	Currency string `json:"currency"`
	Orders   int64  `json:"orders"`
	Escrowed int64  `json:"escrowed"`
	Released int64  `json:"released"`
	Refunded int64  `json:"refunded"`
}

// MerchantCredit is a merchant's credit report, aggregated from its outcome records.
//
// Counts: Orders finished orders; Completed, Cancelled, Rejected and FullyRefunded by final
// status; RefundedOrders orders with any refund (partial or full); Disputed orders that had a
// dispute; OnTime orders whose delivery met the promised date and every deadline;
// LateShipments and LateDeliveries orders that missed their shipBy or deliverBy deadline, Late
// orders that missed either. Volumes gives the money per currency, sorted by currency.
//
// Rates are per mille (0–1000) of Orders: CompletionRate = Completed, OnTimeRate = OnTime,
// DisputeRate = Disputed, LateRate = Late; RefundRatio is the mean over paid orders
// (Escrowed > 0) of Refunded×1000/Escrowed for COMPLETED orders and 1000 for the others (the
// buyer did not get the goods, whatever share a MILESTONES order released at clearance), so it
// is independent of currencies. All divisions are integer divisions rounding down.
//
// Score (model xborder-credit-v2, 0–1000, integer arithmetic only):
//
//	raw   = (500×1000 + 250×CompletionRate + 250×OnTimeRate − 300×DisputeRate − 200×RefundRatio − 150×LateRate) / 1000, at least 0
//	k     = min(Orders, 20)
//	Score = 500 + (raw − 500) × k / 20        (the division truncates towards 500)
//
// raw lies in [0, 1000]; the confidence factor k/20 pulls merchants with few finished orders
// towards the neutral 500, and a merchant without finished orders scores exactly 500. For
// merchants without late orders v2 gives the same score as v1.
type MerchantCredit struct {
	MerchantID             string           `json:"merchantId"`
	Orders                 int64            `json:"orders"`
	Completed              int64            `json:"completed"`
	Cancelled              int64            `json:"cancelled"`
	Rejected               int64            `json:"rejected"`
	FullyRefunded          int64            `json:"fullyRefunded"`
	RefundedOrders         int64            `json:"refundedOrders"`
	Disputed               int64            `json:"disputed"`
	OnTime                 int64            `json:"onTime"`
	LateShipments          int64            `json:"lateShipments"`
	LateDeliveries         int64            `json:"lateDeliveries"`
	Late                   int64            `json:"late"`
	Volumes                []CurrencyVolume `json:"volumes"`
	CompletionRatePermille int64            `json:"completionRatePermille"`
	OnTimeRatePermille     int64            `json:"onTimeRatePermille"`
	DisputeRatePermille    int64            `json:"disputeRatePermille"`
	RefundRatioPermille    int64            `json:"refundRatioPermille"`
	LateRatePermille       int64            `json:"lateRatePermille"`
	Score                  int64            `json:"score"`
	ScoreModel             string           `json:"scoreModel"`
	LastFinalizedAt        string           `json:"lastFinalizedAt"`
}

// SettlementTotals are the settled amounts of one currency in a settlement report.
type SettlementTotals struct {
	Currency       string `json:"currency"`
	Orders         int64  `json:"orders"`
	Completed      int64  `json:"completed"`
	RefundedOrders int64  `json:"refundedOrders"`
	Escrowed       int64  `json:"escrowed"`
	Released       int64  `json:"released"`
	Refunded       int64  `json:"refunded"`
}

// SettlementReport totals a merchant's finished orders whose finalisation time lies in
// [From, To] (as given: RFC 3339 timestamps or dates), per currency (sorted). Currency is the filter asked for ("" = every currency).
type SettlementReport struct {
	MerchantID string             `json:"merchantId"`
	Currency   string             `json:"currency"`
	From       string             `json:"from"`
	To         string             `json:"to"`
	Orders     int64              `json:"orders"`
	Totals     []SettlementTotals `json:"totals"`
}

// outcomeKey returns the outcome key of one order of a merchant.
func outcomeKey(ctx contractapi.TransactionContextInterface, merchantID, orderID string) (string, error) {
	return compositeKey(ctx, objOutcome, merchantID, orderID)
}

// settlementKey returns the settlement index key of one finished order.
func settlementKey(ctx contractapi.TransactionContextInterface, merchantID string, at time.Time, currency, orderID string) (string, error) {
	return compositeKey(ctx, objSettlement, merchantID, at.Format("2006-01"), at.Format(DateLayout), currency, orderID)
}

// validateOutcome checks the invariants of an outcome; a violation is a bug of the caller.
func validateOutcome(o Outcome) error {
	if err := ValidateID("orderId", o.OrderID); err != nil {
		return err
	}
	if err := ValidateID("merchantId", o.MerchantID); err != nil {
		return err
	}
	if err := ValidateCurrency("currency", o.Currency); err != nil {
		return err
	}
	if !IsFinalStatus(o.FinalStatus) {
		return errInternal("record outcome", fmt.Errorf("order %s: status %q is not final", o.OrderID, o.FinalStatus))
	}
	for _, v := range []struct {
		field string
		v     int64
	}{{"total", o.Total}, {"escrowed", o.Escrowed}, {"released", o.Released}, {"refunded", o.Refunded}} {
		if err := ValidateNonNegative(v.field, v.v); err != nil {
			return err
		}
	}
	sum, err := AddAmounts("released", o.Released, o.Refunded)
	if err != nil {
		return err
	}
	if sum != o.Escrowed {
		return errInternal("record outcome", fmt.Errorf("order %s: escrowed %d != released %d + refunded %d", o.OrderID, o.Escrowed, o.Released, o.Refunded))
	}
	return nil
}

// RecordOutcome records the outcome of a finished order under its own key (merchant, order) and
// adds it to the settlement index (merchant, month, date, currency, order). It writes no event
// (the caller's transaction emits its one event) and reads only its own outcome key, so
// concurrent settlements of different orders of one merchant never conflict. Recording a second
// outcome for the same order is a CONFLICT; an outcome that breaks escrowed = released + refunded
// is refused as INTERNAL.
func RecordOutcome(ctx contractapi.TransactionContextInterface, o Outcome) error {
	if err := validateOutcome(o); err != nil {
		return err
	}
	at := o.FinalizedAt
	if at.IsZero() {
		var err error
		if at, err = txTime(ctx); err != nil {
			return err
		}
	}
	at = at.UTC()
	key, err := outcomeKey(ctx, o.MerchantID, o.OrderID)
	if err != nil {
		return err
	}
	existing, err := ctx.GetStub().GetState(key)
	if err != nil {
		return errInternal("read outcome", err)
	}
	if existing != nil {
		return errConflict("outcome of order %s already recorded", o.OrderID)
	}
	rec := OutcomeRecord{
		OrderID: o.OrderID, MerchantID: o.MerchantID, Currency: o.Currency, FinalStatus: o.FinalStatus,
		Total: o.Total, Escrowed: o.Escrowed, Released: o.Released, Refunded: o.Refunded,
		Disputed: o.Disputed, ShippedOnTime: o.ShippedOnTime, LateShipment: o.LateShipment, LateDelivery: o.LateDelivery,
		FinalizedAt: at.Format(time.RFC3339Nano), TxID: ctx.GetStub().GetTxID(),
	}
	if err := putJSON(ctx, key, rec); err != nil {
		return err
	}
	skey, err := settlementKey(ctx, o.MerchantID, at, o.Currency, o.OrderID)
	if err != nil {
		return err
	}
	return putJSON(ctx, skey, SettlementEntry{
		OrderID: o.OrderID, Currency: o.Currency, FinalStatus: o.FinalStatus, Date: at.Format(DateLayout),
		FinalizedAt: at.Format(time.RFC3339Nano), Escrowed: o.Escrowed, Released: o.Released, Refunded: o.Refunded,
	})
}

// creditAggregate accumulates outcome records into a credit report.
type creditAggregate struct {
	report        MerchantCredit
	volumes       map[string]*CurrencyVolume
	paid          int64
	refundPermSum int64
}

func (a *creditAggregate) add(r OutcomeRecord) error {
	rep := &a.report
	rep.Orders++
	switch r.FinalStatus {
	case StatusCompleted:
		rep.Completed++
	case StatusCancelled:
		rep.Cancelled++
	case StatusRejected:
		rep.Rejected++
	case StatusRefunded:
		rep.FullyRefunded++
	}
	if r.Refunded > 0 {
		rep.RefundedOrders++
	}
	if r.Disputed {
		rep.Disputed++
	}
	if r.ShippedOnTime {
		rep.OnTime++
	}
	a.addLateness(r)
	if r.Escrowed > 0 {
		a.paid++
		a.refundPermSum += refundPermille(r)
	}
	if r.FinalizedAt > rep.LastFinalizedAt {
		rep.LastFinalizedAt = r.FinalizedAt
	}
	v, ok := a.volumes[r.Currency]
	if !ok {
		v = &CurrencyVolume{Currency: r.Currency}
		a.volumes[r.Currency] = v
	}
	v.Orders++
	var err error
	if v.Escrowed, err = AddAmounts("escrowed", v.Escrowed, r.Escrowed); err != nil {
		return errInternal("aggregate credit", err)
	}
	if v.Released, err = AddAmounts("released", v.Released, r.Released); err != nil {
		return errInternal("aggregate credit", err)
	}
	if v.Refunded, err = AddAmounts("refunded", v.Refunded, r.Refunded); err != nil {
		return errInternal("aggregate credit", err)
	}
	return nil
}

// addLateness counts the outcome's missed deadlines.
func (a *creditAggregate) addLateness(r OutcomeRecord) {
	rep := &a.report
	if r.LateShipment {
		rep.LateShipments++
	}
	if r.LateDelivery {
		rep.LateDeliveries++
	}
	if r.LateShipment || r.LateDelivery {
		rep.Late++
	}
}

// refundPermille is the refund ratio of one paid outcome: refunded per mille of the escrow for a
// COMPLETED order, 1000 for an order that ended without the buyer keeping the goods.
func refundPermille(r OutcomeRecord) int64 {
	if r.FinalStatus != StatusCompleted {
		return 1000
	}
	return permille(r.Refunded, r.Escrowed)
}

// permille returns part×1000/whole rounded down, clamped to [0, 1000], exactly and without
// overflow for any int64 amounts (128-bit intermediate product).
func permille(part, whole int64) int64 {
	switch {
	case whole <= 0 || part <= 0:
		return 0
	case part >= whole:
		return 1000
	}
	hi, lo := bits.Mul64(uint64(part), 1000)
	q, _ := bits.Div64(hi, lo, uint64(whole)) // part < whole, so the quotient is < 1000
	return int64(q)
}

// finish computes the rates and the score.
func (a *creditAggregate) finish() *MerchantCredit {
	rep := &a.report
	codes := make([]string, 0, len(a.volumes))
	for code := range a.volumes {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	rep.Volumes = make([]CurrencyVolume, 0, len(codes))
	for _, code := range codes {
		rep.Volumes = append(rep.Volumes, *a.volumes[code])
	}
	rep.ScoreModel = CreditScoreModel
	rep.Score = CreditScoreNeutral
	if rep.Orders == 0 {
		return rep
	}
	rep.CompletionRatePermille = rep.Completed * 1000 / rep.Orders
	rep.OnTimeRatePermille = rep.OnTime * 1000 / rep.Orders
	rep.DisputeRatePermille = rep.Disputed * 1000 / rep.Orders
	rep.LateRatePermille = rep.Late * 1000 / rep.Orders
	if a.paid > 0 {
		rep.RefundRatioPermille = a.refundPermSum / a.paid
	}
	rep.Score = CreditScore(rep.Orders, rep.CompletionRatePermille, rep.OnTimeRatePermille, rep.DisputeRatePermille, rep.RefundRatioPermille, rep.LateRatePermille)
	return rep
}

// CreditScore computes the xborder-credit-v2 score (0–1000) from the number of finished orders
// and the per-mille rates of MerchantCredit (see its documentation for the formula).
func CreditScore(orders, completion, onTime, dispute, refund, late int64) int64 {
	if orders <= 0 {
		return CreditScoreNeutral
	}
	clamp := func(v int64) int64 { return min(max(v, 0), 1000) }
	raw := max(0, (500*1000+250*clamp(completion)+250*clamp(onTime)-300*clamp(dispute)-200*clamp(refund)-150*clamp(late))/1000)
	k := min(orders, CreditScoreFullConfidenceOrders)
	return CreditScoreNeutral + (raw-CreditScoreNeutral)*k/CreditScoreFullConfidenceOrders
}

// GetMerchantCredit returns the credit report of a merchant (any organisation may read it),
// aggregated from the merchant's outcome records. A merchant without finished orders gets an
// empty report with the neutral score. Evaluate only.
func (c *Contract) GetMerchantCredit(ctx contractapi.TransactionContextInterface, merchantID string) (*MerchantCredit, error) {
	if _, err := requireOrg(ctx, "GetMerchantCredit", Organisations...); err != nil {
		return nil, err
	}
	if err := ValidateID("merchantId", merchantID); err != nil {
		return nil, err
	}
	return merchantCredit(ctx, merchantID)
}

// merchantCredit aggregates the merchant's outcome records into its credit report. Its cost
// grows with the merchant's finished orders; in a write (CreateOrder with credit-gated terms)
// the range read is re-validated at commit, so a settlement of the same merchant committed in
// between invalidates the creation (PHANTOM_READ_CONFLICT), which a retry passes.
func merchantCredit(ctx contractapi.TransactionContextInterface, merchantID string) (*MerchantCredit, error) {
	agg := &creditAggregate{report: MerchantCredit{MerchantID: merchantID}, volumes: map[string]*CurrencyVolume{}}
	err := scanRecords(ctx, "outcomes", objOutcome, []string{merchantID}, func(r *OutcomeRecord) error { return agg.add(*r) })
	if err != nil {
		return nil, err
	}
	return agg.finish(), nil
}

// GetSettlementReport totals a merchant's finished orders finalised between from and to, per
// currency; currency filters one currency ("" = all). from and to are inclusive bounds, each an
// RFC 3339 timestamp or a date YYYY-MM-DD (from: the start of that UTC day, to: its end); the
// range may span at most MaxSettlementReportDays days. Bank, Merchant, Customs and the regulator
// may read it; Carrier gets FORBIDDEN. It scans the settlement index one month prefix at a time,
// so its cost grows with the merchant's settlements in the months asked for, not with the
// ledger. Evaluate only.
func (c *Contract) GetSettlementReport(ctx contractapi.TransactionContextInterface, merchantID, currency, from, to string) (*SettlementReport, error) {
	if _, err := requireOrg(ctx, "GetSettlementReport", BankMSP, MerchantMSP, CustomsMSP, RegulatorMSP); err != nil {
		return nil, err
	}
	if err := ValidateID("merchantId", merchantID); err != nil {
		return nil, err
	}
	if currency != "" {
		if err := ValidateCurrency("currency", currency); err != nil {
			return nil, err
		}
	}
	period, err := parseReportPeriod(from, to)
	if err != nil {
		return nil, err
	}
	report := &SettlementReport{MerchantID: merchantID, Currency: currency, From: from, To: to, Totals: []SettlementTotals{}}
	totals := map[string]*SettlementTotals{}
	err = period.eachMonth(func(month string) error {
		return addSettlementMonth(ctx, merchantID, currency, month, period, totals)
	})
	if err != nil {
		return nil, err
	}
	codes := make([]string, 0, len(totals))
	for code := range totals {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		t := totals[code]
		report.Orders += t.Orders
		report.Totals = append(report.Totals, *t)
	}
	return report, nil
}

// addSettlementMonth adds the settlement entries of one month finalised within period and
// whose currency matches (all when currency is "") to totals.
func addSettlementMonth(ctx contractapi.TransactionContextInterface, merchantID, currency, month string, period *timePeriod, totals map[string]*SettlementTotals) error {
	return scanRecords(ctx, "settlements", objSettlement, []string{merchantID, month}, func(e *SettlementEntry) error {
		at, err := e.finalizedAt()
		if err != nil {
			return err
		}
		if !period.contains(at) || (currency != "" && e.Currency != currency) {
			return nil
		}
		t, ok := totals[e.Currency]
		if !ok {
			t = &SettlementTotals{Currency: e.Currency}
			totals[e.Currency] = t
		}
		return t.add(*e)
	})
}

// finalizedAt returns when the entry's order was finalised: its finalizedAt, or for entries
// recorded before that field existed the start of its date.
func (e SettlementEntry) finalizedAt() (time.Time, error) {
	if e.FinalizedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, e.FinalizedAt)
		if err != nil {
			return time.Time{}, errInternal("parse settlement finalizedAt", err)
		}
		return t, nil
	}
	t, err := time.Parse(DateLayout, e.Date)
	if err != nil {
		return time.Time{}, errInternal("parse settlement date", err)
	}
	return t, nil
}

// add counts one settlement entry into the totals of its currency.
func (t *SettlementTotals) add(e SettlementEntry) error {
	t.Orders++
	if e.FinalStatus == StatusCompleted {
		t.Completed++
	}
	if e.Refunded > 0 {
		t.RefundedOrders++
	}
	var err error
	if t.Escrowed, err = AddAmounts("escrowed", t.Escrowed, e.Escrowed); err != nil {
		return errInternal("total settlements", err)
	}
	if t.Released, err = AddAmounts("released", t.Released, e.Released); err != nil {
		return errInternal("total settlements", err)
	}
	if t.Refunded, err = AddAmounts("refunded", t.Refunded, e.Refunded); err != nil {
		return errInternal("total settlements", err)
	}
	return nil
}
