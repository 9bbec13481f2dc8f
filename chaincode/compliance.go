package chaincode

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Composite-key object types of the compliance records. Every key is built with
// CreateCompositeKey, so none collides with another object type.
const (
	objComplianceRules = "compliance~rules" // [] → ComplianceRules (the one rule set)
	objComplianceUsage = "compliance~usage" // [buyerId, year, currency, orderId] → ComplianceUsage
	objComplianceAlert = "alert"            // [timestamp (sortable), orderId] → ComplianceAlert
)

// Limits of a compliance rule set.
const (
	// MaxComplianceListEntries bounds each list and limit map of a rule set, so the single rules
	// record every order creation reads stays small.
	MaxComplianceListEntries = 10000
	// alertTimeLayout renders alert timestamps at fixed width, so composite keys sort by time.
	alertTimeLayout = sortableTimeLayout
	// DefaultMinConfirmationWindowSeconds is the shortest confirmation window an order may choose
	// while the rules set none (24 hours): the buyer always has time to dispute.
	DefaultMinConfirmationWindowSeconds int64 = 24 * 60 * 60
)

// Event and status names of the compliance transactions.
const (
	EventComplianceRulesSet = "ComplianceRulesSet"
	EventComplianceAlert    = "ComplianceAlert"
)

// Reasons recorded in a compliance alert.
const (
	AlertReasonMerchantWatchlist = "MERCHANT_ON_WATCHLIST"
	AlertReasonBuyerWatchlist    = "BUYER_ON_WATCHLIST"
	AlertReasonBothWatchlist     = "MERCHANT_AND_BUYER_ON_WATCHLIST"
)

// ComplianceRulesRequest is the argument of SetComplianceRules: the complete rule set, which
// replaces the previous one. Limits are maps from ISO 4217 currency code to minor units of that
// currency; a currency without a limit is unlimited. Every field may be omitted (empty).
//
// MinConfirmationWindowSeconds is the shortest confirmation window an order may choose (0 or
// absent: DefaultMinConfirmationWindowSeconds; at least MinConfirmationWindowSecs). FXRateBounds
// maps a currency pair "ORDER/PAYER" (e.g. "USD/EUR": payer-currency units per order-currency
// unit, as the fxRate of a payment) to the lowest and highest rate an escrow payment may state.
//
// The buyer, FX and payment-terms rules (docs/chaincode.md, "FX reference rates" and "Payment
// terms"): FXReferencePublisher names the organisation that publishes FX reference rates
// (BankMSP when empty); FXToleranceBps (0: no check) is how far, in basis points of the
// reference, a payment's rate may lie from the reference rate of its pair and day;
// FXReferenceRequired refuses a cross-currency payment when no reference exists for its pair and
// day. PaymentTermsMinScore maps MILESTONES and AUTO_RELEASE to the credit score a merchant needs
// to offer them (defaults DefaultMilestonesMinScore, DefaultAutoReleaseMinScore);
// MaxMilestoneShareBps bounds the share released at clearance (default
// DefaultMaxMilestoneShareBps).
type ComplianceRulesRequest struct {
	requestBase
	SingleOrderLimit             map[string]int64        `json:"singleOrderLimit" metadata:",optional"`
	YearlyLimit                  map[string]int64        `json:"yearlyLimit" metadata:",optional"`
	ProhibitedHSPrefixes         []string                `json:"prohibitedHsPrefixes" metadata:",optional"`
	SanctionedCountries          []string                `json:"sanctionedCountries" metadata:",optional"`
	Watchlist                    []string                `json:"watchlist" metadata:",optional"`
	MinConfirmationWindowSeconds int64                   `json:"minConfirmationWindowSeconds,omitempty" metadata:",optional"`
	FXRateBounds                 map[string]FXRateBounds `json:"fxRateBounds" metadata:",optional"`
	FXReferencePublisher         string                  `json:"fxReferencePublisher,omitempty" metadata:",optional"`
	FXToleranceBps               int64                   `json:"fxToleranceBps,omitempty" metadata:",optional"`
	FXReferenceRequired          bool                    `json:"fxReferenceRequired,omitempty" metadata:",optional"`
	PaymentTermsMinScore         map[string]int64        `json:"paymentTermsMinScore" metadata:",optional"`
	MaxMilestoneShareBps         int64                   `json:"maxMilestoneShareBps,omitempty" metadata:",optional"`
}

// FXRateBounds bounds the FX rate of escrow payments for one currency pair: decimal strings as
// accepted by ParseRate, either may be omitted (no bound on that side), Min <= Max.
type FXRateBounds struct {
	Min string `json:"min,omitempty" metadata:",optional"`
	Max string `json:"max,omitempty" metadata:",optional"`
}

// ComplianceRules is the stored rule set, as returned by GetComplianceRules. Lists are sorted and
// free of duplicates; maps are serialised with sorted keys, so the record is deterministic.
// Version counts the SetComplianceRules transactions (0 when none has run).
// MinConfirmationWindowSeconds is the effective minimum (DefaultMinConfirmationWindowSeconds
// when Customs set none); FXReferencePublisher, PaymentTermsMinScore (both kinds) and
// MaxMilestoneShareBps are the effective values too (their defaults when Customs set none).
type ComplianceRules struct {
	Version                      int64                   `json:"version"`
	SingleOrderLimit             map[string]int64        `json:"singleOrderLimit"`
	YearlyLimit                  map[string]int64        `json:"yearlyLimit"`
	ProhibitedHSPrefixes         []string                `json:"prohibitedHsPrefixes"`
	SanctionedCountries          []string                `json:"sanctionedCountries"`
	Watchlist                    []string                `json:"watchlist"`
	MinConfirmationWindowSeconds int64                   `json:"minConfirmationWindowSeconds"`
	FXRateBounds                 map[string]FXRateBounds `json:"fxRateBounds"`
	FXReferencePublisher         string                  `json:"fxReferencePublisher"`
	FXToleranceBps               int64                   `json:"fxToleranceBps"`
	FXReferenceRequired          bool                    `json:"fxReferenceRequired"`
	PaymentTermsMinScore         map[string]int64        `json:"paymentTermsMinScore"`
	MaxMilestoneShareBps         int64                   `json:"maxMilestoneShareBps"`
	UpdatedAt                    string                  `json:"updatedAt"`
	UpdatedBy                    string                  `json:"updatedBy"`
	UpdatedByMSP                 string                  `json:"updatedByMsp"`
	TxID                         string                  `json:"txId"`
}

// ComplianceRulesEvent is the payload of the ComplianceRulesSet event.
type ComplianceRulesEvent struct {
	Version   int64  `json:"version"`
	Status    string `json:"status"`
	UpdatedAt string `json:"updatedAt"`
	TxID      string `json:"txId"`
}

// ComplianceUsage records one order's total counted against its buyer's yearly limit: one key
// per buyer, calendar year (UTC, of the transaction timestamp), currency and order. The buyer's
// usage for a year is the sum over the keys with the prefix (buyer, year, currency).
type ComplianceUsage struct {
	BuyerID  string `json:"buyerId"`
	Year     int    `json:"year"`
	Currency string `json:"currency"`
	OrderID  string `json:"orderId"`
	Total    int64  `json:"total"`
	TxID     string `json:"txId"`
}

// ComplianceSubject is what CheckCompliance examines: the order being created. Total is in minor
// units of Currency; At is the transaction time (zero means: read it from the stub).
type ComplianceSubject struct {
	OrderID       string
	MerchantID    string
	BuyerID       string
	BuyerCountry  string
	SellerCountry string
	Currency      string
	Total         int64
	HSCodes       []string
	At            time.Time
}

// ComplianceAlert records an order that touched the watch list. The order itself is recorded in
// status HELD; Customs lists alerts with ListComplianceAlerts in time order.
type ComplianceAlert struct {
	AlertID     string `json:"alertId"`
	OrderID     string `json:"orderId"`
	MerchantID  string `json:"merchantId"`
	BuyerID     string `json:"buyerId"`
	Reason      string `json:"reason"`
	Matched     string `json:"matched"`
	RuleVersion int64  `json:"ruleVersion"`
	At          string `json:"at"`
	TxID        string `json:"txId"`
}

// complianceRulesKey returns the key of the single rule-set record.
func complianceRulesKey(ctx contractapi.TransactionContextInterface) (string, error) {
	return compositeKey(ctx, objComplianceRules)
}

// complianceUsageKey returns the usage key of one order. Usage keys are per order, so
// recording usage never makes two orders conflict; only the yearly-limit check reads the
// buyer's keys of the year (a range read, which Fabric re-validates at commit).
func complianceUsageKey(ctx contractapi.TransactionContextInterface, buyerID string, year int, currency, orderID string) (string, error) {
	return compositeKey(ctx, objComplianceUsage, buyerID, strconv.Itoa(year), currency, orderID)
}

// complianceAlertKey returns the key of an alert: the fixed-width timestamp first, so a
// partial-key scan returns alerts oldest first.
func complianceAlertKey(ctx contractapi.TransactionContextInterface, at time.Time, orderID string) (string, error) {
	return compositeKey(ctx, objComplianceAlert, at.UTC().Format(alertTimeLayout), orderID)
}

// emptyComplianceRules returns the rule set in force before Customs sets any: nothing limited.
func emptyComplianceRules() *ComplianceRules {
	return &ComplianceRules{
		SingleOrderLimit:             map[string]int64{},
		YearlyLimit:                  map[string]int64{},
		ProhibitedHSPrefixes:         []string{},
		SanctionedCountries:          []string{},
		Watchlist:                    []string{},
		MinConfirmationWindowSeconds: DefaultMinConfirmationWindowSeconds,
		FXRateBounds:                 map[string]FXRateBounds{},
		FXReferencePublisher:         BankMSP,
		PaymentTermsMinScore:         defaultTermsMinScore(),
		MaxMilestoneShareBps:         DefaultMaxMilestoneShareBps,
	}
}

// defaultTermsMinScore returns the minimum credit scores of the credit-gated payment terms while
// the rules set none.
func defaultTermsMinScore() map[string]int64 {
	return map[string]int64{TermsMilestones: DefaultMilestonesMinScore, TermsAutoRelease: DefaultAutoReleaseMinScore}
}

// termsMinScore returns the credit score a merchant needs to offer payment terms of kind
// (0 for FULL_ESCROW).
func (r *ComplianceRules) termsMinScore(kind string) int64 {
	if kind == TermsFullEscrow {
		return 0
	}
	if v, ok := r.PaymentTermsMinScore[kind]; ok {
		return v
	}
	return defaultTermsMinScore()[kind]
}

// loadComplianceRules returns the rule set in force (the empty rule set if none was set).
func loadComplianceRules(ctx contractapi.TransactionContextInterface) (*ComplianceRules, error) {
	key, err := complianceRulesKey(ctx)
	if err != nil {
		return nil, err
	}
	rules := emptyComplianceRules()
	if _, err := getJSON(ctx, key, rules); err != nil {
		return nil, err
	}
	// Records decoded from JSON never carry nil collections, but keep the invariant explicit so
	// that return values always match the contract schema (arrays and objects, never null).
	if rules.SingleOrderLimit == nil {
		rules.SingleOrderLimit = map[string]int64{}
	}
	if rules.YearlyLimit == nil {
		rules.YearlyLimit = map[string]int64{}
	}
	for _, l := range []*[]string{&rules.ProhibitedHSPrefixes, &rules.SanctionedCountries, &rules.Watchlist} {
		if *l == nil {
			*l = []string{}
		}
	}
	// Rule sets stored before these rules existed carry neither.
	if rules.MinConfirmationWindowSeconds == 0 {
		rules.MinConfirmationWindowSeconds = DefaultMinConfirmationWindowSeconds
	}
	if rules.FXRateBounds == nil {
		rules.FXRateBounds = map[string]FXRateBounds{}
	}
	rules.withTermDefaults()
	return rules, nil
}

// withTermDefaults fills the FX reference and payment-terms rules a rule set stored before they
// existed (or set without them) lacks.
func (r *ComplianceRules) withTermDefaults() {
	if r.FXReferencePublisher == "" {
		r.FXReferencePublisher = BankMSP
	}
	if r.PaymentTermsMinScore == nil {
		r.PaymentTermsMinScore = map[string]int64{}
	}
	for kind, score := range defaultTermsMinScore() {
		if _, ok := r.PaymentTermsMinScore[kind]; !ok {
			r.PaymentTermsMinScore[kind] = score
		}
	}
	if r.MaxMilestoneShareBps == 0 {
		r.MaxMilestoneShareBps = DefaultMaxMilestoneShareBps
	}
}

// normalizeLimits validates a currency → limit map and returns a copy.
func normalizeLimits(field string, in map[string]int64) (map[string]int64, error) {
	if len(in) > MaxComplianceListEntries {
		return nil, errInvalid(field, "has %d entries; at most %d allowed", len(in), MaxComplianceListEntries)
	}
	out := make(map[string]int64, len(in))
	for _, code := range slices.Sorted(maps.Keys(in)) { // report the first invalid entry deterministically
		if err := ValidateCurrency(field+"."+code, code); err != nil {
			return nil, err
		}
		if err := ValidatePositive(field+"."+code, in[code]); err != nil {
			return nil, err
		}
		out[code] = in[code]
	}
	return out, nil
}

// normalizeList validates each entry of a rule list with check and returns the entries sorted
// and without duplicates.
func normalizeList(field string, in []string, check func(field, v string) error) ([]string, error) {
	if len(in) > MaxComplianceListEntries {
		return nil, errInvalid(field, "has %d entries; at most %d allowed", len(in), MaxComplianceListEntries)
	}
	for i, v := range in {
		if err := check(field+"["+strconv.Itoa(i)+"]", v); err != nil {
			return nil, err
		}
	}
	out := slices.Clone(in)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// normalizeComplianceRules validates a rules request and returns the normalised rule set
// (without version and audit fields).
func normalizeComplianceRules(req ComplianceRulesRequest) (*ComplianceRules, error) {
	single, err := normalizeLimits("singleOrderLimit", req.SingleOrderLimit)
	if err != nil {
		return nil, err
	}
	yearly, err := normalizeLimits("yearlyLimit", req.YearlyLimit)
	if err != nil {
		return nil, err
	}
	prefixes, err := normalizeList("prohibitedHsPrefixes", req.ProhibitedHSPrefixes, ValidateHSPrefix)
	if err != nil {
		return nil, err
	}
	countries, err := normalizeList("sanctionedCountries", req.SanctionedCountries, ValidateCountry)
	if err != nil {
		return nil, err
	}
	watch, err := normalizeList("watchlist", req.Watchlist, ValidateID)
	if err != nil {
		return nil, err
	}
	window, err := normalizeMinWindow(req.MinConfirmationWindowSeconds)
	if err != nil {
		return nil, err
	}
	bounds, err := normalizeFXRateBounds(req.FXRateBounds)
	if err != nil {
		return nil, err
	}
	if err := validateTermRules(req); err != nil {
		return nil, err
	}
	rules := &ComplianceRules{
		SingleOrderLimit:             single,
		YearlyLimit:                  yearly,
		ProhibitedHSPrefixes:         prefixes,
		SanctionedCountries:          countries,
		Watchlist:                    watch,
		MinConfirmationWindowSeconds: window,
		FXRateBounds:                 bounds,
		FXReferencePublisher:         req.FXReferencePublisher,
		FXToleranceBps:               req.FXToleranceBps,
		FXReferenceRequired:          req.FXReferenceRequired,
		PaymentTermsMinScore:         maps.Clone(req.PaymentTermsMinScore),
		MaxMilestoneShareBps:         req.MaxMilestoneShareBps,
	}
	rules.withTermDefaults()
	return rules, nil
}

// validateTermRules checks the FX reference and payment-terms rules of a rules request.
func validateTermRules(req ComplianceRulesRequest) error {
	if p := req.FXReferencePublisher; p != "" && !slices.Contains(writers, p) {
		return errInvalid("fxReferencePublisher", "must be one of %s (an organisation that writes), got %s", strings.Join(writers, ", "), quoteValue(p))
	}
	if req.FXToleranceBps < 0 || req.FXToleranceBps > BasisPoints {
		return errInvalid("fxToleranceBps", "must be between 0 (no check) and %d basis points, got %d", BasisPoints, req.FXToleranceBps)
	}
	for _, kind := range slices.Sorted(maps.Keys(req.PaymentTermsMinScore)) {
		if kind != TermsMilestones && kind != TermsAutoRelease {
			return errInvalid("paymentTermsMinScore."+kind, "must name %s or %s (%s needs no score)", TermsMilestones, TermsAutoRelease, TermsFullEscrow)
		}
		if v := req.PaymentTermsMinScore[kind]; v < 0 || v > 1000 {
			return errInvalid("paymentTermsMinScore."+kind, "must be a credit score between 0 and 1000, got %d", v)
		}
	}
	if req.MaxMilestoneShareBps < 0 || req.MaxMilestoneShareBps >= BasisPoints {
		return errInvalid("maxMilestoneShareBps", "must be between 1 and %d basis points (or 0 for the default %d), got %d", BasisPoints-1, DefaultMaxMilestoneShareBps, req.MaxMilestoneShareBps)
	}
	return nil
}

// normalizeMinWindow validates minConfirmationWindowSeconds: 0 means the default, else
// MinConfirmationWindowSecs to MaxConfirmationWindowSecs.
func normalizeMinWindow(v int64) (int64, error) {
	if v == 0 {
		return DefaultMinConfirmationWindowSeconds, nil
	}
	if v < MinConfirmationWindowSecs || v > MaxConfirmationWindowSecs {
		return 0, errInvalid("minConfirmationWindowSeconds", "must be between %d and %d (or 0 for the default %d), got %d",
			MinConfirmationWindowSecs, MaxConfirmationWindowSecs, DefaultMinConfirmationWindowSeconds, v)
	}
	return v, nil
}

// normalizeFXRateBounds validates the FX bounds: pairs "ORDER/PAYER" of two different active
// ISO 4217 codes, each with a min and/or a max rate (ParseRate syntax), min <= max.
func normalizeFXRateBounds(in map[string]FXRateBounds) (map[string]FXRateBounds, error) {
	if len(in) > MaxComplianceListEntries {
		return nil, errInvalid("fxRateBounds", "has %d entries; at most %d allowed", len(in), MaxComplianceListEntries)
	}
	out := make(map[string]FXRateBounds, len(in))
	for _, pair := range slices.Sorted(maps.Keys(in)) { // report the first invalid entry deterministically
		if err := validateFXBounds("fxRateBounds."+pair, pair, in[pair]); err != nil {
			return nil, err
		}
		out[pair] = in[pair]
	}
	return out, nil
}

// validateFXBounds checks one entry of fxRateBounds (field names it).
func validateFXBounds(field, pair string, b FXRateBounds) error {
	if _, _, err := parseFXPair(field, pair); err != nil {
		return err
	}
	if b.Min == "" && b.Max == "" {
		return errInvalid(field, "must set min, max or both")
	}
	lo, hi, err := b.parse(field)
	if err != nil {
		return err
	}
	if lo != nil && hi != nil && lo.Cmp(hi) > 0 {
		return errInvalid(field+".max", "must not be below min %s, got %s", b.Min, b.Max)
	}
	return nil
}

// parse returns the bounds as exact rationals (nil where unset); field prefixes the errors.
func (b FXRateBounds) parse(field string) (*big.Rat, *big.Rat, error) {
	var lo, hi *big.Rat
	var err error
	if b.Min != "" {
		if lo, err = ParseRate(field+".min", b.Min); err != nil {
			return nil, nil, err
		}
	}
	if b.Max != "" {
		if hi, err = ParseRate(field+".max", b.Max); err != nil {
			return nil, nil, err
		}
	}
	return lo, hi, nil
}

// FXPair names the currency pair of a payment as fxRateBounds keys it: order currency, "/",
// payer currency.
func FXPair(orderCurrency, payerCurrency string) string {
	return orderCurrency + "/" + payerCurrency
}

// checkFXRate refuses a payment rate outside the bounds the rules set for its pair with
// FX_OUT_OF_TOLERANCE naming fxRate. A pair without bounds is not limited.
func (r *ComplianceRules) checkFXRate(orderCurrency, payerCurrency, rate string) error {
	pair := FXPair(orderCurrency, payerCurrency)
	b, ok := r.FXRateBounds[pair]
	if !ok {
		return nil
	}
	v, err := ParseRate(fieldFXRate, rate)
	if err != nil {
		return err
	}
	lo, hi, err := b.parse("fxRateBounds." + pair)
	if err != nil {
		return errInternal("stored FX bounds", err)
	}
	if (lo == nil || v.Cmp(lo) >= 0) && (hi == nil || v.Cmp(hi) <= 0) {
		return nil
	}
	return &Error{Code: CodeFXOutOfTolerance, Field: fieldFXRate, Message: fmt.Sprintf("%s is outside the bounds [%s, %s] the compliance rules (version %d) set for %s",
		rate, boundText(b.Min), boundText(b.Max), r.Version, pair)}
}

// boundText renders an unset bound as "-".
func boundText(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// confirmationWindow returns the confirmation window of a new order that asked for requested
// seconds (0: the default window, raised to the rules' minimum if that is longer), or
// INVALID_ARGUMENT naming confirmationWindowSeconds when requested is below the rules' minimum.
func (r *ComplianceRules) confirmationWindow(requested int64) (int64, error) {
	if requested == 0 {
		return max(DefaultConfirmationWindowSeconds, r.MinConfirmationWindowSeconds), nil
	}
	if requested < r.MinConfirmationWindowSeconds {
		return 0, errInvalid("confirmationWindowSeconds", "must be at least %d seconds under the compliance rules (version %d), got %d",
			r.MinConfirmationWindowSeconds, r.Version, requested)
	}
	return requested, nil
}

// SetComplianceRules replaces the compliance rule set (Customs only). The request is validated
// entirely before anything is written: limit maps must have active ISO 4217 codes and positive
// amounts, prefixes 1-10 digits, countries ISO 3166-1 alpha-2, watch-list entries valid IDs.
// The new rules apply to orders created afterwards. It emits ComplianceRulesSet.
func (c *Contract) SetComplianceRules(ctx contractapi.TransactionContextInterface, req ComplianceRulesRequest) (*ComplianceRules, error) {
	ti, err := c.begin(ctx, &req, "SetComplianceRules", CustomsMSP)
	if err != nil {
		return nil, err
	}
	next, err := normalizeComplianceRules(req)
	if err != nil {
		return nil, err
	}
	current, err := loadComplianceRules(ctx)
	if err != nil {
		return nil, err
	}
	next.Version = current.Version + 1
	next.UpdatedAt = ti.ts
	next.UpdatedBy = ti.id
	next.UpdatedByMSP = ti.msp
	next.TxID = ti.txID

	key, err := complianceRulesKey(ctx)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, key, next); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventComplianceRulesSet, ComplianceRulesEvent{
		Version: next.Version, Status: "ACTIVE", UpdatedAt: next.UpdatedAt, TxID: next.TxID,
	}); err != nil {
		return nil, err
	}
	return next, nil
}

// matchHSPrefix returns the longest prohibited prefix (sorted list) that code starts with.
func matchHSPrefix(prefixes []string, code string) (string, bool) {
	best, found := "", false
	for _, p := range prefixes {
		if strings.HasPrefix(code, p) && len(p) > len(best) {
			best, found = p, true
		}
	}
	return best, found
}

// CheckCompliance applies the rule set in force to an order being created. It returns a
// COMPLIANCE_REJECTED error, checked in this order, when the seller country or the buyer
// country is sanctioned, when an item's HS code starts with a prohibited prefix (naming the
// item as items[i].hsCode), when the total exceeds the single-order limit of its currency, or
// when the buyer's total for the calendar year of the transaction in that currency plus this
// order exceeds the yearly limit. An order that is not rejected is added to the buyer's usage
// (its own key per buyer, year, currency and order — no hot key). When the merchant or the
// buyer is on the watch list it returns a non-nil alert and a nil error: the caller records the
// order in status HELD and calls RecordAlert in the same transaction.
func CheckCompliance(ctx contractapi.TransactionContextInterface, s ComplianceSubject) (*ComplianceAlert, error) {
	rules, err := loadComplianceRules(ctx)
	if err != nil {
		return nil, err
	}
	return checkCompliance(ctx, rules, s)
}

// checkCompliance is CheckCompliance with the rule set already loaded.
func checkCompliance(ctx contractapi.TransactionContextInterface, rules *ComplianceRules, s ComplianceSubject) (*ComplianceAlert, error) {
	at := s.At
	var err error
	if at.IsZero() {
		if at, err = txTime(ctx); err != nil {
			return nil, err
		}
	}
	at = at.UTC()

	if _, ok := slices.BinarySearch(rules.SanctionedCountries, s.SellerCountry); ok {
		return nil, errCompliance("order %s: seller country %s is sanctioned (rules version %d)", s.OrderID, s.SellerCountry, rules.Version)
	}
	if _, ok := slices.BinarySearch(rules.SanctionedCountries, s.BuyerCountry); ok {
		return nil, errCompliance("order %s: buyer country %s is sanctioned (rules version %d)", s.OrderID, s.BuyerCountry, rules.Version)
	}
	for i, code := range s.HSCodes {
		if p, ok := matchHSPrefix(rules.ProhibitedHSPrefixes, code); ok {
			return nil, errCompliance("order %s: items[%d].hsCode %s matches prohibited HS prefix %s (rules version %d)", s.OrderID, i, code, p, rules.Version)
		}
	}
	if limit, ok := rules.SingleOrderLimit[s.Currency]; ok && s.Total > limit {
		return nil, errCompliance("order %s: total %d exceeds the single-order limit singleOrderLimit.%s of %d (rules version %d)", s.OrderID, s.Total, s.Currency, limit, rules.Version)
	}
	if limit, ok := rules.YearlyLimit[s.Currency]; ok {
		if err := checkYearlyLimit(ctx, s, at, limit, rules.Version); err != nil {
			return nil, err
		}
	}
	key, err := complianceUsageKey(ctx, s.BuyerID, at.Year(), s.Currency, s.OrderID)
	if err != nil {
		return nil, err
	}
	usage := ComplianceUsage{BuyerID: s.BuyerID, Year: at.Year(), Currency: s.Currency, OrderID: s.OrderID, Total: s.Total, TxID: ctx.GetStub().GetTxID()}
	if err := putJSON(ctx, key, usage); err != nil {
		return nil, err
	}
	return watchlistAlert(ctx, rules, s, at), nil
}

// ReleaseComplianceUsage removes an order's usage record, so that an order that ended without
// the buyer paying for it (CANCELLED, REJECTED, or REFUNDED in full) no longer counts toward the
// buyer's yearly limit. createdAt is the order's creation time (the year its usage was recorded
// under). The key is the order's own, so the delete never conflicts with other orders; it is a
// blind delete (nothing is read), and deleting a record that does not exist is harmless.
func ReleaseComplianceUsage(ctx contractapi.TransactionContextInterface, buyerID, currency, orderID string, createdAt time.Time) error {
	key, err := complianceUsageKey(ctx, buyerID, createdAt.UTC().Year(), currency, orderID)
	if err != nil {
		return err
	}
	if err := ctx.GetStub().DelState(key); err != nil {
		return errInternal("delete compliance usage", err)
	}
	return nil
}

// buyerYearlyUsage sums the buyer's recorded order totals for one year and currency.
func buyerYearlyUsage(ctx contractapi.TransactionContextInterface, buyerID string, year int, currency string) (int64, error) {
	var used int64
	err := scanRecords(ctx, "compliance usage", objComplianceUsage, []string{buyerID, strconv.Itoa(year), currency}, func(u *ComplianceUsage) error {
		var err error
		if used, err = AddAmounts("total", used, u.Total); err != nil {
			return errInternal("sum compliance usage", err)
		}
		return nil
	})
	return used, err
}

// checkYearlyLimit rejects the order when the buyer's usage of the year plus the order total
// exceeds limit.
func checkYearlyLimit(ctx contractapi.TransactionContextInterface, s ComplianceSubject, at time.Time, limit, version int64) error {
	used, err := buyerYearlyUsage(ctx, s.BuyerID, at.Year(), s.Currency)
	if err != nil {
		return err
	}
	next, err := AddAmounts("total", used, s.Total)
	if err != nil || next > limit {
		return errCompliance("order %s: buyer %s total in %d would be %s %s, exceeding the yearly limit yearlyLimit.%s of %d (already used %d, rules version %d)",
			s.OrderID, s.BuyerID, at.Year(), overflowSafeSum(used, s.Total), s.Currency, s.Currency, limit, used, version)
	}
	return nil
}

// overflowSafeSum renders a+b for a message, even when the sum overflows int64.
func overflowSafeSum(a, b int64) string {
	if s, err := AddAmounts("", a, b); err == nil {
		return strconv.FormatInt(s, 10)
	}
	return "more than " + strconv.FormatInt(a, 10)
}

// watchlistAlert returns the alert for an order whose merchant or buyer is watch-listed, or nil.
func watchlistAlert(ctx contractapi.TransactionContextInterface, rules *ComplianceRules, s ComplianceSubject, at time.Time) *ComplianceAlert {
	_, merchantListed := slices.BinarySearch(rules.Watchlist, s.MerchantID)
	_, buyerListed := slices.BinarySearch(rules.Watchlist, s.BuyerID)
	var reason, matched string
	switch {
	case merchantListed && buyerListed:
		reason, matched = AlertReasonBothWatchlist, s.MerchantID+","+s.BuyerID
	case merchantListed:
		reason, matched = AlertReasonMerchantWatchlist, s.MerchantID
	case buyerListed:
		reason, matched = AlertReasonBuyerWatchlist, s.BuyerID
	default:
		return nil
	}
	txID := ctx.GetStub().GetTxID()
	return &ComplianceAlert{
		AlertID:     txID,
		OrderID:     s.OrderID,
		MerchantID:  s.MerchantID,
		BuyerID:     s.BuyerID,
		Reason:      reason,
		Matched:     matched,
		RuleVersion: rules.Version,
		At:          at.Format(time.RFC3339Nano),
		TxID:        txID,
	}
}

// RecordAlert stores a compliance alert returned by CheckCompliance under its time-ordered key.
// It does not emit an event: the caller's transaction emits its single ComplianceAlert event.
// Recording the same alert twice is a CONFLICT.
func RecordAlert(ctx contractapi.TransactionContextInterface, a *ComplianceAlert) error {
	if a == nil {
		return errInternal("record compliance alert", errNilAlert)
	}
	at, err := time.Parse(time.RFC3339Nano, a.At)
	if err != nil {
		return errInternal("record compliance alert: parse time", err)
	}
	key, err := complianceAlertKey(ctx, at, a.OrderID)
	if err != nil {
		return err
	}
	existing, err := ctx.GetStub().GetState(key)
	if err != nil {
		return errInternal("read compliance alert", err)
	}
	if existing != nil {
		return errConflict("compliance alert for order %s at %s already recorded", a.OrderID, a.At)
	}
	return putJSON(ctx, key, a)
}

// errNilAlert is wrapped when RecordAlert is called without an alert.
var errNilAlert = errors.New("nil compliance alert")

// decodeAlert decodes a stored alert.
func decodeAlert(b []byte) (ComplianceAlert, error) {
	var a ComplianceAlert
	if err := json.Unmarshal(b, &a); err != nil {
		return a, errInternal("decode compliance alert", err)
	}
	return a, nil
}
