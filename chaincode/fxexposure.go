package chaincode

import (
	"slices"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// objFXExposure is the object type of the per-payment FX exposure records:
// [bankId, YYYY-MM, YYYY-MM-DD, orderId] → FXExposureEntry, written by EscrowPayment and walked
// one month prefix at a time by GetFXExposureReport.
const objFXExposure = "fxexp"

// BankAttribute is the X.509 (Fabric CA) attribute naming the bank a BankMSP identity acts for
// (one bank ID). A payment records the paying bank as this attribute's value, or the creator's
// MSP ID when its certificate has none; such a bound identity reads only its own bank's FX
// exposure report.
const BankAttribute = "xborder.bankId"

// FXExposureEntry is one escrow payment as the FX exposure report counts it: the order currency
// and amount the bank holds in escrow against the payer currency and amount it took.
type FXExposureEntry struct {
	OrderID       string `json:"orderId"`
	BankID        string `json:"bankId"`
	PaidAt        string `json:"paidAt"`
	OrderCurrency string `json:"orderCurrency"`
	OrderAmount   int64  `json:"orderAmount"`
	PayerCurrency string `json:"payerCurrency"`
	PayerAmount   int64  `json:"payerAmount"`
	FXRate        string `json:"fxRate"`
	ReferenceRate string `json:"referenceRate,omitempty"`
}

// FXExposurePair totals one currency pair of an FX exposure report (amounts in minor units of
// each side's currency).
type FXExposurePair struct {
	Pair          string `json:"pair"`
	OrderCurrency string `json:"orderCurrency"`
	PayerCurrency string `json:"payerCurrency"`
	Payments      int64  `json:"payments"`
	OrderAmount   int64  `json:"orderAmount"`
	PayerAmount   int64  `json:"payerAmount"`
	WithReference int64  `json:"withReference"`
}

// CurrencyTotal is an amount in minor units of one currency.
type CurrencyTotal struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// FXExposureReport totals a bank's escrow payments made in [From, To]: per currency pair, and per
// currency on each side (what was taken in payer currencies against what is owed in order
// currencies). Lists are sorted.
type FXExposureReport struct {
	BankID      string           `json:"bankId"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	Payments    int64            `json:"payments"`
	Pairs       []FXExposurePair `json:"pairs"`
	OrderTotals []CurrencyTotal  `json:"orderCurrencyTotals"`
	PayerTotals []CurrencyTotal  `json:"payerCurrencyTotals"`
}

// payingBank returns the bank a BankMSP creator acts for: its BankAttribute, else its MSP ID. An
// attribute that is not a valid ID is FORBIDDEN (fail closed).
func payingBank(ctx contractapi.TransactionContextInterface, msp string) (string, bool, error) {
	v, found, err := creatorAttribute(ctx, BankAttribute)
	if err != nil {
		return "", false, err
	}
	if !found {
		return msp, false, nil
	}
	if ValidateID(BankAttribute, v) != nil {
		return "", true, errForbidden("the identity's %s attribute %s is not a valid bank ID", BankAttribute, quoteValue(v))
	}
	return v, true, nil
}

// putFXExposure records the payment's exposure entry under the paying bank and the payment day.
func putFXExposure(ctx contractapi.TransactionContextInterface, e FXExposureEntry, at time.Time) error {
	at = at.UTC()
	key, err := compositeKey(ctx, objFXExposure, e.BankID, at.Format("2006-01"), at.Format(DateLayout), e.OrderID)
	if err != nil {
		return err
	}
	return putJSON(ctx, key, e)
}

// GetFXExposureReport totals the escrow payments of bank bankId made between from and to
// (inclusive; RFC 3339 timestamps or dates YYYY-MM-DD, at most MaxSettlementReportDays days):
// per currency pair and per currency on each side. BankMSP (an identity bound by BankAttribute
// only for its own bank), CustomsMSP and RegulatorMSP may read it; Merchant and Carrier get
// FORBIDDEN. It walks the exposure records one month prefix at a time, so its cost grows with the
// bank's payments in the months asked for, not with the ledger. Evaluate only.
func (c *Contract) GetFXExposureReport(ctx contractapi.TransactionContextInterface, bankID, from, to string) (*FXExposureReport, error) {
	msp, err := requireOrg(ctx, "GetFXExposureReport", BankMSP, CustomsMSP, RegulatorMSP)
	if err != nil {
		return nil, err
	}
	if err := ValidateID("bankId", bankID); err != nil {
		return nil, err
	}
	period, err := parseReportPeriod(from, to)
	if err != nil {
		return nil, err
	}
	if msp == BankMSP {
		own, bound, err := payingBank(ctx, msp)
		if err != nil {
			return nil, err
		}
		if bound && own != bankID {
			return nil, errForbidden("identity is bound to bank %q by its %s attribute and may not read the exposure of bank %q", own, BankAttribute, bankID)
		}
	}
	agg := newExposureAggregate()
	if err := period.eachMonth(func(month string) error { return agg.addMonth(ctx, bankID, month, period) }); err != nil {
		return nil, err
	}
	return agg.report(bankID, from, to), nil
}

// exposureAggregate accumulates exposure entries.
type exposureAggregate struct {
	payments int64
	pairs    map[string]*FXExposurePair
	order    map[string]int64
	payer    map[string]int64
}

func newExposureAggregate() *exposureAggregate {
	return &exposureAggregate{pairs: map[string]*FXExposurePair{}, order: map[string]int64{}, payer: map[string]int64{}}
}

// addMonth adds the bank's entries of one month that lie in period.
func (a *exposureAggregate) addMonth(ctx contractapi.TransactionContextInterface, bankID, month string, period *timePeriod) error {
	return scanRecords(ctx, "FX exposure", objFXExposure, []string{bankID, month}, func(e *FXExposureEntry) error {
		at, err := time.Parse(timeLayout, e.PaidAt)
		if err != nil {
			return errInternal("parse FX exposure paidAt", err)
		}
		if !period.contains(at) {
			return nil
		}
		return a.add(*e)
	})
}

// add counts one entry.
func (a *exposureAggregate) add(e FXExposureEntry) error {
	pair := FXPair(e.OrderCurrency, e.PayerCurrency)
	p, ok := a.pairs[pair]
	if !ok {
		p = &FXExposurePair{Pair: pair, OrderCurrency: e.OrderCurrency, PayerCurrency: e.PayerCurrency}
		a.pairs[pair] = p
	}
	a.payments++
	p.Payments++
	if e.ReferenceRate != "" {
		p.WithReference++
	}
	var err error
	if p.OrderAmount, err = AddAmounts("orderAmount", p.OrderAmount, e.OrderAmount); err != nil {
		return errInternal("total FX exposure", err)
	}
	if p.PayerAmount, err = AddAmounts("payerAmount", p.PayerAmount, e.PayerAmount); err != nil {
		return errInternal("total FX exposure", err)
	}
	if a.order[e.OrderCurrency], err = AddAmounts("orderAmount", a.order[e.OrderCurrency], e.OrderAmount); err != nil {
		return errInternal("total FX exposure", err)
	}
	if a.payer[e.PayerCurrency], err = AddAmounts("payerAmount", a.payer[e.PayerCurrency], e.PayerAmount); err != nil {
		return errInternal("total FX exposure", err)
	}
	return nil
}

// report renders the totals, sorted.
func (a *exposureAggregate) report(bankID, from, to string) *FXExposureReport {
	r := &FXExposureReport{BankID: bankID, From: from, To: to, Payments: a.payments,
		Pairs: []FXExposurePair{}, OrderTotals: currencyTotals(a.order), PayerTotals: currencyTotals(a.payer)}
	keys := make([]string, 0, len(a.pairs))
	for k := range a.pairs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.Pairs = append(r.Pairs, *a.pairs[k])
	}
	return r
}

// currencyTotals renders a currency → amount map sorted by currency.
func currencyTotals(m map[string]int64) []CurrencyTotal {
	out := make([]CurrencyTotal, 0, len(m))
	for c, v := range m {
		out = append(out, CurrencyTotal{Currency: c, Amount: v})
	}
	slices.SortFunc(out, func(x, y CurrencyTotal) int {
		switch {
		case x.Currency < y.Currency:
			return -1
		case x.Currency > y.Currency:
			return 1
		}
		return 0
	})
	return out
}
