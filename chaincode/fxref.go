package chaincode

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// objFXReference is the object type of FX reference rates: [orderCurrency, payerCurrency,
// YYYY-MM-DD] → FXReferenceRate, one key per currency pair and day.
const objFXReference = "fxref"

// EventFXReferenceRatesPublished is the event of PublishFXReferenceRates.
const EventFXReferenceRatesPublished = "FXReferenceRatesPublished"

// Limits of PublishFXReferenceRates.
const (
	// MaxFXReferencePairs bounds the pairs of one publication.
	MaxFXReferencePairs = 500
	// FXReferenceMaxAgeDays and FXReferenceMaxLeadDays bound the day a publication is for,
	// relative to the transaction's UTC date: up to 31 days back (to fill a gap), 1 day ahead.
	FXReferenceMaxAgeDays  = 31
	FXReferenceMaxLeadDays = 1
)

// PublishFXReferenceRatesRequest is the argument of PublishFXReferenceRates: the day (UTC,
// YYYY-MM-DD) and the rates, keyed by pair "ORDER/PAYER" as fxRateBounds and payments use them
// ("USD/EUR": "0.92" means 0.92 EUR per USD).
type PublishFXReferenceRatesRequest struct {
	requestBase
	Date  string            `json:"date"`
	Rates map[string]string `json:"rates"`
}

// FXReferenceRate is the published reference rate of one currency pair and day.
type FXReferenceRate struct {
	Pair           string `json:"pair"`
	OrderCurrency  string `json:"orderCurrency"`
	PayerCurrency  string `json:"payerCurrency"`
	Date           string `json:"date"`
	Rate           string `json:"rate"`
	PublishedAt    string `json:"publishedAt"`
	PublishedBy    string `json:"publishedBy"`
	PublishedByMSP string `json:"publishedByMsp"`
	TxID           string `json:"txId"`
}

// FXReferencePublication is the answer of PublishFXReferenceRates: the rates as stored, sorted
// by pair.
type FXReferencePublication struct {
	Date  string            `json:"date"`
	Count int32             `json:"count"`
	Rates []FXReferenceRate `json:"rates"`
	TxID  string            `json:"txId"`
}

// FXReferenceEvent is the payload of the FXReferenceRatesPublished event.
type FXReferenceEvent struct {
	Date  string   `json:"date"`
	Pairs []string `json:"pairs"`
	TxID  string   `json:"txId"`
}

// fxReferenceKey returns the key of one pair's reference rate of one day.
func fxReferenceKey(ctx contractapi.TransactionContextInterface, orderCurrency, payerCurrency, date string) (string, error) {
	return compositeKey(ctx, objFXReference, orderCurrency, payerCurrency, date)
}

// parseFXPair splits a pair "ORDER/PAYER" of two different active ISO 4217 codes (field names
// it in errors).
func parseFXPair(field, pair string) (string, string, error) {
	from, to, ok := strings.Cut(pair, "/")
	if !ok {
		return "", "", errInvalid(field, "must name a currency pair ORDER/PAYER such as \"USD/EUR\", got %s", quoteValue(pair))
	}
	if err := firstError(ValidateCurrency(field, from), ValidateCurrency(field, to)); err != nil {
		return "", "", err
	}
	if from == to {
		return "", "", errInvalid(field, "must name two different currencies (a payment in its order's currency has rate 1)")
	}
	return from, to, nil
}

// PublishFXReferenceRates records reference rates for one day, one key per pair and day (the
// organisation the compliance rules name as fxReferencePublisher, BankMSP by default; any other
// organisation gets FORBIDDEN, the regulator always). The day may lie up to 31 days before and
// 1 day after the transaction's UTC date. Publishing a pair and day again replaces its rate
// (the key's history keeps every publication; payments keep the rate they were checked
// against). It emits FXReferenceRatesPublished.
func (c *Contract) PublishFXReferenceRates(ctx contractapi.TransactionContextInterface, req PublishFXReferenceRatesRequest) (*FXReferencePublication, error) {
	ti, err := c.begin(ctx, &req, "PublishFXReferenceRates", writers...)
	if err != nil {
		return nil, err
	}
	rules, err := loadComplianceRules(ctx)
	if err != nil {
		return nil, err
	}
	if ti.msp != rules.FXReferencePublisher {
		return nil, errForbidden("PublishFXReferenceRates may only be performed by %s (fxReferencePublisher of the compliance rules, version %d), not %s",
			rules.FXReferencePublisher, rules.Version, ti.msp)
	}
	if err := req.validate(ti.at); err != nil {
		return nil, err
	}
	out := &FXReferencePublication{Date: req.Date, Rates: []FXReferenceRate{}, TxID: ti.txID}
	pairs := slices.Sorted(maps.Keys(req.Rates))
	for _, pair := range pairs {
		from, to, _ := parseFXPair("rates."+pair, pair)
		rec := FXReferenceRate{
			Pair: pair, OrderCurrency: from, PayerCurrency: to, Date: req.Date, Rate: req.Rates[pair],
			PublishedAt: ti.ts, PublishedBy: ti.id, PublishedByMSP: ti.msp, TxID: ti.txID,
		}
		key, err := fxReferenceKey(ctx, from, to, req.Date)
		if err != nil {
			return nil, err
		}
		if err := putJSON(ctx, key, rec); err != nil {
			return nil, err
		}
		out.Rates = append(out.Rates, rec)
	}
	out.Count = int32(len(out.Rates))
	if err := emit(ctx, EventFXReferenceRatesPublished, FXReferenceEvent{Date: req.Date, Pairs: pairs, TxID: ti.txID}); err != nil {
		return nil, err
	}
	return out, nil
}

// validate checks the publication against the transaction time at.
func (r *PublishFXReferenceRatesRequest) validate(at time.Time) error {
	day, err := ParseDate("date", r.Date)
	if err != nil {
		return err
	}
	today := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	if day.Before(today.AddDate(0, 0, -FXReferenceMaxAgeDays)) || day.After(today.AddDate(0, 0, FXReferenceMaxLeadDays)) {
		return errInvalid("date", "must lie between %d days before and %d day after the transaction's date %s, got %s",
			FXReferenceMaxAgeDays, FXReferenceMaxLeadDays, today.Format(DateLayout), r.Date)
	}
	if len(r.Rates) == 0 {
		return errInvalid("rates", "must name at least one currency pair")
	}
	if len(r.Rates) > MaxFXReferencePairs {
		return errInvalid("rates", "has %d pairs; at most %d allowed", len(r.Rates), MaxFXReferencePairs)
	}
	for _, pair := range slices.Sorted(maps.Keys(r.Rates)) { // report the first invalid entry deterministically
		if _, _, err := parseFXPair("rates."+pair, pair); err != nil {
			return err
		}
		if _, err := ParseRate("rates."+pair, r.Rates[pair]); err != nil {
			return err
		}
	}
	return nil
}

// GetFXReferenceRate returns the reference rate published for a currency pair (orderCurrency
// to payerCurrency) and day (YYYY-MM-DD); NOT_FOUND when none was published. Any member
// organisation may read it. Evaluate only.
func (c *Contract) GetFXReferenceRate(ctx contractapi.TransactionContextInterface, orderCurrency, payerCurrency, date string) (*FXReferenceRate, error) {
	if _, err := requireOrg(ctx, "GetFXReferenceRate", Organisations...); err != nil {
		return nil, err
	}
	if _, _, err := parseFXPair("orderCurrency", FXPair(orderCurrency, payerCurrency)); err != nil {
		return nil, err
	}
	if _, err := ParseDate("date", date); err != nil {
		return nil, err
	}
	ref, err := loadFXReference(ctx, orderCurrency, payerCurrency, date)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, errNotFound("no reference rate for %s on %s", FXPair(orderCurrency, payerCurrency), date)
	}
	return ref, nil
}

// loadFXReference reads the reference rate of a pair and day (nil when none was published).
func loadFXReference(ctx contractapi.TransactionContextInterface, orderCurrency, payerCurrency, date string) (*FXReferenceRate, error) {
	key, err := fxReferenceKey(ctx, orderCurrency, payerCurrency, date)
	if err != nil {
		return nil, err
	}
	var ref FXReferenceRate
	found, err := getJSON(ctx, key, &ref)
	if err != nil || !found {
		return nil, err
	}
	return &ref, nil
}

// checkFXReference checks a payment's rate against the reference rate of its pair and the UTC
// day of the transaction time at, and returns that reference (nil when the currencies are
// equal or none was published). With fxToleranceBps > 0 the rate must lie within that many
// basis points of the reference (FX_OUT_OF_TOLERANCE naming fxRate); with fxReferenceRequired a
// cross-currency payment without a reference for its day is FAILED_PRECONDITION naming fxRate;
// otherwise such a payment is checked against the rules' fxRateBounds only.
func (r *ComplianceRules) checkFXReference(ctx contractapi.TransactionContextInterface, orderCurrency, payerCurrency, rate string, at time.Time) (*FXReferenceRate, error) {
	if orderCurrency == payerCurrency {
		return nil, nil
	}
	date := at.UTC().Format(DateLayout)
	ref, err := loadFXReference(ctx, orderCurrency, payerCurrency, date)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		if r.FXReferenceRequired {
			return nil, errPreconditionField(fieldFXRate, "no reference rate for %s on %s has been published, and the compliance rules (version %d) require one for cross-currency payments",
				FXPair(orderCurrency, payerCurrency), date, r.Version)
		}
		return nil, nil
	}
	if r.FXToleranceBps == 0 {
		return ref, nil
	}
	within, err := withinTolerance(rate, ref.Rate, r.FXToleranceBps)
	if err != nil {
		return nil, err
	}
	if !within {
		return nil, &Error{Code: CodeFXOutOfTolerance, Field: fieldFXRate, Message: fmt.Sprintf("%s is more than %d basis points from the reference rate %s of %s on %s (compliance rules version %d)",
			rate, r.FXToleranceBps, ref.Rate, ref.Pair, date, r.Version)}
	}
	return ref, nil
}

// withinTolerance reports whether |rate − reference| × 10000 ≤ bps × reference, exactly.
func withinTolerance(rate, reference string, bps int64) (bool, error) {
	v, err := ParseRate(fieldFXRate, rate)
	if err != nil {
		return false, err
	}
	ref, err := ParseRate("referenceRate", reference)
	if err != nil {
		return false, errInternal("stored reference rate", err)
	}
	diff := new(big.Rat).Sub(v, ref)
	diff.Abs(diff)
	lhs := new(big.Rat).Mul(diff, big.NewRat(BasisPoints, 1))
	rhs := new(big.Rat).Mul(ref, big.NewRat(bps, 1))
	return lhs.Cmp(rhs) <= 0, nil
}
