package chaincode_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// publish publishes reference rates for date as msp.
func (e *lcEnv) publish(msp, date string, rates map[string]string) *lcResult {
	e.t.Helper()
	return &lcResult{e: e, res: e.invoke(msp, "PublishFXReferenceRates", map[string]any{"date": date, "rates": rates}, nil)}
}

// TestFXReferencePublisher: by default only the bank publishes; the rules may name another
// writing organisation (never the regulator); dates and rates are validated.
func TestFXReferencePublisher(t *testing.T) {
	e := lcNew(t)
	today := e.now.Format(chaincode.DateLayout)
	rates := map[string]string{"USD/EUR": "0.92", "USD/JPY": "149.5"}
	for _, msp := range []string{chaincode.MerchantMSP, chaincode.CarrierMSP, chaincode.CustomsMSP, chaincode.RegulatorMSP, lcOutsider} {
		e.publish(msp, today, rates).fails(chaincode.CodeForbidden)
	}
	res := e.publish(chaincode.BankMSP, today, rates)
	require.Equal(t, int32(200), res.res.Status, res.res.Message)
	var pub chaincode.FXReferencePublication
	require.NoError(t, json.Unmarshal(res.res.Payload, &pub))
	require.Equal(t, int32(2), pub.Count)
	require.Equal(t, "USD/EUR", pub.Rates[0].Pair)
	require.Equal(t, chaincode.EventFXReferenceRatesPublished, res.res.Event.GetEventName())

	got := e.evaluate(chaincode.RegulatorMSP, "GetFXReferenceRate", "USD", "JPY", today)
	require.Equal(t, int32(200), got.Status, got.Message)
	var ref chaincode.FXReferenceRate
	require.NoError(t, json.Unmarshal(got.Payload, &ref))
	require.Equal(t, "149.5", ref.Rate)
	require.Equal(t, chaincode.BankMSP, ref.PublishedByMSP)
	got = e.evaluate(chaincode.MerchantMSP, "GetFXReferenceRate", "EUR", "USD", today)
	require.Equal(t, "NOT_FOUND", lcCode(got), "pairs are directed: %s", got.Message)

	for _, c := range []struct {
		name  string
		date  string
		rates map[string]string
		field string
	}{
		{"too old", e.now.AddDate(0, 0, -32).Format(chaincode.DateLayout), rates, "date"},
		{"too far ahead", e.now.AddDate(0, 0, 2).Format(chaincode.DateLayout), rates, "date"},
		{"no rates", today, map[string]string{}, "rates"},
		{"same currency", today, map[string]string{"USD/USD": "1"}, "rates.USD/USD"},
		{"bad rate", today, map[string]string{"USD/EUR": "0,92"}, "rates.USD/EUR"},
		{"not a pair", today, map[string]string{"USDEUR": "0.92"}, "rates.USDEUR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := e.publish(chaincode.BankMSP, c.date, c.rates).fails(chaincode.CodeInvalidArgument)
			require.Contains(t, msg, "INVALID_ARGUMENT: "+c.field+": ")
		})
	}

	e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"fxReferencePublisher": chaincode.CustomsMSP}, nil))
	e.publish(chaincode.BankMSP, today, rates).fails(chaincode.CodeForbidden)
	require.Equal(t, int32(200), e.publish(chaincode.CustomsMSP, today, rates).res.Status)
	msg := e.fails(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"fxReferencePublisher": chaincode.RegulatorMSP}, nil), chaincode.CodeInvalidArgument)
	require.Contains(t, msg, "fxReferencePublisher")
}

// TestFXReferenceTolerance: a payment's rate must lie within fxToleranceBps of the reference of
// its pair and day (FX_OUT_OF_TOLERANCE otherwise); without a reference the payment is refused
// only when the rules require one; the order and the payment record keep both rates.
func TestFXReferenceTolerance(t *testing.T) {
	e := lcNew(t)
	today := e.now.Format(chaincode.DateLayout)
	e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"fxToleranceBps": 100, "fxReferenceRequired": true}, nil))
	e.create("fr-1")
	msg := e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("fr-1"), lcPaymentPrivate()), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "fxRate: no reference rate for USD/EUR on "+today)

	// Reference 0.93: 0.92 is 1.075 % off, outside 100 bps; 0.9207 is inside.
	require.Equal(t, int32(200), e.publish(chaincode.BankMSP, today, map[string]string{"USD/EUR": "0.93"}).res.Status)
	msg = e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("fr-1"), lcPaymentPrivate()), chaincode.CodeFXOutOfTolerance)
	require.Contains(t, msg, "FX_OUT_OF_TOLERANCE: fxRate: 0.92 is more than 100 basis points from the reference rate 0.93 of USD/EUR on "+today)
	req := lcEscrowReq("fr-1")
	req["fxRate"], req["payerAmount"] = "0.9207", 3683 // 4000 × 0.9207 = 3682.8
	o := e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", req, lcPaymentPrivate()))
	require.Equal(t, "0.9207", o.Payment.FXRate)
	require.Equal(t, "0.93", o.Payment.ReferenceRate)
	require.Equal(t, today, o.Payment.ReferenceDate)
	require.Equal(t, chaincode.BankMSP, o.Payment.BankID)
	var pay chaincode.PaymentRecord
	require.NoError(t, json.Unmarshal(e.l.State(lcKey("payment", "fr-1")), &pay))
	require.Equal(t, "0.93", pay.ReferenceRate)

	// Exactly on the edge: 0.93 × (1 − 1 %) = 0.9207 passed above; 0.92069999 would not.
	e.create("fr-2")
	req = lcEscrowReq("fr-2")
	req["fxRate"], req["payerAmount"] = "0.93930001", 3757
	e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", req, lcPaymentPrivate()), chaincode.CodeFXOutOfTolerance)

	// Same-currency payments need no reference.
	e.create("fr-3")
	req = lcEscrowReq("fr-3")
	req["payerCurrency"], req["fxRate"], req["payerAmount"] = "USD", "1", lcTotal
	o = e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", req, lcPaymentPrivate()))
	require.Empty(t, o.Payment.ReferenceRate)

	// Not required: a pair without a reference is checked against the bounds only.
	e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"fxToleranceBps": 100}, nil))
	req = lcEscrowReq("fr-2")
	req["payerCurrency"], req["fxRate"], req["payerAmount"] = "GBP", "0.79", 3160
	o = e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", req, lcPaymentPrivate()))
	require.Empty(t, o.Payment.ReferenceRate)
}

// TestFXExposureReport: every escrow payment leaves a record under its bank and day; the report
// totals payer against order currencies per pair for a period, for the bank (a bound identity
// only its own), customs and the regulator.
func TestFXExposureReport(t *testing.T) {
	e := lcNew(t)
	bank2 := e.ids.CreatorWithAttrs(chaincode.BankMSP, "teller-2", map[string]string{chaincode.BankAttribute: "bank-2"})
	as := func(creator []byte, fn string, req, transient map[string]any) *lcResult {
		o := e.opts(chaincode.BankMSP, transient)
		o.Creator = creator
		return &lcResult{e: e, res: e.l.Invoke(e.cc, o, fn, lcJSON(t, req))}
	}
	e.to("fe-1", stPaid) // 4000 USD as 3680 EUR, bank BankMSP
	e.create("fe-2")
	pay := as(bank2, "EscrowPayment", lcEscrowReq("fe-2"), lcPaymentPrivate()).ok()
	require.Equal(t, "bank-2", pay.Payment.BankID)
	e.create("fe-3")
	req := lcEscrowReq("fe-3")
	req["payerCurrency"], req["fxRate"], req["payerAmount"] = "JPY", "150", 6000
	e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", req, lcPaymentPrivate()))

	report := func(msp string, creator []byte, bank string) (chaincode.FXExposureReport, *shimtest.Result) {
		o := e.opts(msp, nil)
		if creator != nil {
			o.Creator = creator
		}
		res := e.l.Evaluate(e.cc, o, "GetFXExposureReport", bank, "2026-03-01", "2026-03-31")
		var r chaincode.FXExposureReport
		if res.Status == 200 {
			require.NoError(t, json.Unmarshal(res.Payload, &r))
		}
		return r, res
	}
	r, res := report(chaincode.RegulatorMSP, nil, chaincode.BankMSP)
	require.Equal(t, int32(200), res.Status, res.Message)
	require.Equal(t, int64(2), r.Payments)
	require.Equal(t, []chaincode.FXExposurePair{
		{Pair: "USD/EUR", OrderCurrency: "USD", PayerCurrency: "EUR", Payments: 1, OrderAmount: 4000, PayerAmount: 3680},
		{Pair: "USD/JPY", OrderCurrency: "USD", PayerCurrency: "JPY", Payments: 1, OrderAmount: 4000, PayerAmount: 6000},
	}, r.Pairs)
	require.Equal(t, []chaincode.CurrencyTotal{{Currency: "USD", Amount: 8000}}, r.OrderTotals)
	require.Equal(t, []chaincode.CurrencyTotal{{Currency: "EUR", Amount: 3680}, {Currency: "JPY", Amount: 6000}}, r.PayerTotals)

	r, res = report(chaincode.CustomsMSP, nil, "bank-2")
	require.Equal(t, int32(200), res.Status, res.Message)
	require.Equal(t, int64(1), r.Payments)
	_, res = report(chaincode.BankMSP, bank2, chaincode.BankMSP)
	require.Equal(t, "FORBIDDEN", lcCode(res), "a bound bank identity reads only its own bank: %s", res.Message)
	_, res = report(chaincode.BankMSP, bank2, "bank-2")
	require.Equal(t, int32(200), res.Status, res.Message)
	r, res = report(chaincode.BankMSP, nil, "bank-9")
	require.Equal(t, int32(200), res.Status, res.Message)
	require.Zero(t, r.Payments)
	for _, msp := range []string{chaincode.MerchantMSP, chaincode.CarrierMSP} {
		_, res = report(msp, nil, chaincode.BankMSP)
		require.Equal(t, "FORBIDDEN", lcCode(res))
	}
	res = e.evaluate(chaincode.BankMSP, "GetFXExposureReport", chaincode.BankMSP, "2026-01-01", "2027-06-01")
	require.Equal(t, "INVALID_ARGUMENT", lcCode(res), res.Message)
}
