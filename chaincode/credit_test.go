package chaincode

import (
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/shimtest"
)

// rtRecord records outcomes directly (as the finalising transaction would) in one transaction.
func (e *rtEnv) rtRecord(outcomes ...Outcome) error {
	e.t.Helper()
	stub := e.l.NewStub(e.opts(BankMSP, nil), "RecordOutcome")
	ctx := &contractapi.TransactionContext{}
	ctx.SetStub(stub)
	for _, o := range outcomes {
		if err := RecordOutcome(ctx, o); err != nil {
			return err
		}
	}
	return e.l.Commit(stub)
}

// rtOutcome builds an outcome of merchant m1 finalised at day (YYYY-MM-DD, noon UTC).
func rtOutcome(id, currency, status string, escrowed, released, refunded int64, disputed, onTime bool, day string) Outcome {
	at, err := time.Parse(DateLayout, day)
	if err != nil {
		panic(err)
	}
	return Outcome{OrderID: id, MerchantID: "m1", Currency: currency, FinalStatus: status, Total: escrowed,
		Escrowed: escrowed, Released: released, Refunded: refunded, Disputed: disputed, ShippedOnTime: onTime,
		FinalizedAt: at.Add(12 * time.Hour)}
}

func TestCreditScoreFormula(t *testing.T) {
	tests := []struct {
		name                                        string
		orders, completion, onTime, disp, ref, late int64
		want                                        int64
	}{
		{"no orders is neutral", 0, 0, 0, 0, 0, 0, 500},
		{"perfect, one order", 1, 1000, 1000, 0, 0, 0, 525},
		{"perfect, 20 orders", 20, 1000, 1000, 0, 0, 0, 1000},
		{"perfect, 500 orders", 500, 1000, 1000, 0, 0, 0, 1000},
		{"worst, 20 orders", 20, 0, 0, 1000, 1000, 0, 0},
		{"worst, 4 orders", 4, 0, 0, 1000, 1000, 0, 400},
		{"mixed", 20, 500, 500, 250, 333, 0, 608},
		{"out-of-range rates are clamped", 20, 5000, -5, 0, 0, 0, 750},
		// v2: missed deadlines cost up to 150 points; raw never goes below 0.
		{"all late, otherwise completed", 20, 1000, 0, 0, 0, 1000, 600},
		{"half late", 20, 1000, 500, 0, 0, 500, 800},
		{"worst and late stays at 0", 20, 0, 0, 1000, 1000, 1000, 0},
		{"late, 10 orders", 10, 1000, 0, 0, 0, 1000, 550},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CreditScore(tc.orders, tc.completion, tc.onTime, tc.disp, tc.ref, tc.late))
		})
	}
}

func TestPermille(t *testing.T) {
	require.Equal(t, int64(0), permille(0, 100))
	require.Equal(t, int64(250), permille(25, 100))
	require.Equal(t, int64(333), permille(1, 3))
	require.Equal(t, int64(1000), permille(5, 5))
	require.Equal(t, int64(1000), permille(7, 5))
	require.Equal(t, int64(0), permille(5, 0))
	require.Equal(t, int64(999), permille(9223372036854775806, 9223372036854775807), "no overflow")
	require.Equal(t, int64(500), permille(4611686018427387904, 9223372036854775807))
}

func TestMerchantCreditAggregation(t *testing.T) {
	repeat := func(n int, f func(i int) Outcome) []Outcome {
		out := make([]Outcome, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	id := func(p string, i int) string { return p + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }
	tests := []struct {
		name     string
		outcomes []Outcome
		want     MerchantCredit
	}{
		{
			name:     "no finished orders",
			outcomes: nil,
			want:     MerchantCredit{MerchantID: "m1", Volumes: []CurrencyVolume{}, Score: 500, ScoreModel: CreditScoreModel},
		},
		{
			name:     "one completed on time",
			outcomes: []Outcome{rtOutcome("o1", "USD", StatusCompleted, 1000, 1000, 0, false, true, "2026-02-01")},
			want: MerchantCredit{MerchantID: "m1", Orders: 1, Completed: 1, OnTime: 1,
				Volumes:                []CurrencyVolume{{Currency: "USD", Orders: 1, Escrowed: 1000, Released: 1000}},
				CompletionRatePermille: 1000, OnTimeRatePermille: 1000, Score: 525, ScoreModel: CreditScoreModel,
				LastFinalizedAt: "2026-02-01T12:00:00Z"},
		},
		{
			name: "twenty perfect orders",
			outcomes: repeat(20, func(i int) Outcome {
				return rtOutcome(id("p", i), "CNY", StatusCompleted, 500, 500, 0, false, true, "2026-02-01")
			}),
			want: MerchantCredit{MerchantID: "m1", Orders: 20, Completed: 20, OnTime: 20,
				Volumes:                []CurrencyVolume{{Currency: "CNY", Orders: 20, Escrowed: 10000, Released: 10000}},
				CompletionRatePermille: 1000, OnTimeRatePermille: 1000, Score: 1000, ScoreModel: CreditScoreModel,
				LastFinalizedAt: "2026-02-01T12:00:00Z"},
		},
		{
			name: "mixed: completed, unpaid cancellations, disputed full refunds",
			outcomes: append(append(
				repeat(10, func(i int) Outcome {
					return rtOutcome(id("c", i), "USD", StatusCompleted, 1000, 1000, 0, false, true, "2026-02-01")
				}),
				repeat(5, func(i int) Outcome {
					return rtOutcome(id("x", i), "USD", StatusCancelled, 0, 0, 0, false, false, "2026-02-02")
				})...),
				repeat(5, func(i int) Outcome {
					return rtOutcome(id("r", i), "USD", StatusRefunded, 1000, 0, 1000, true, false, "2026-02-03")
				})...),
			want: MerchantCredit{MerchantID: "m1", Orders: 20, Completed: 10, Cancelled: 5, FullyRefunded: 5,
				RefundedOrders: 5, Disputed: 5, OnTime: 10,
				Volumes:                []CurrencyVolume{{Currency: "USD", Orders: 20, Escrowed: 15000, Released: 10000, Refunded: 5000}},
				CompletionRatePermille: 500, OnTimeRatePermille: 500, DisputeRatePermille: 250, RefundRatioPermille: 333,
				Score: 608, ScoreModel: CreditScoreModel, LastFinalizedAt: "2026-02-03T12:00:00Z"},
		},
		{
			name: "worst case, four orders",
			outcomes: repeat(4, func(i int) Outcome {
				return rtOutcome(id("w", i), "KWD", StatusRefunded, 1234, 0, 1234, true, false, "2026-01-05")
			}),
			want: MerchantCredit{MerchantID: "m1", Orders: 4, FullyRefunded: 4, RefundedOrders: 4, Disputed: 4,
				Volumes:             []CurrencyVolume{{Currency: "KWD", Orders: 4, Escrowed: 4936, Refunded: 4936}},
				DisputeRatePermille: 1000, RefundRatioPermille: 1000, Score: 400, ScoreModel: CreditScoreModel,
				LastFinalizedAt: "2026-01-05T12:00:00Z"},
		},
		{
			name: "partial refund and several currencies, rejection",
			outcomes: []Outcome{
				rtOutcome("e1", "EUR", StatusCompleted, 1000, 750, 250, true, false, "2026-03-01"),
				rtOutcome("j1", "JPY", StatusCompleted, 5000, 5000, 0, false, true, "2026-03-02"),
				rtOutcome("j2", "JPY", StatusRejected, 700, 0, 700, false, false, "2026-02-02"),
			},
			want: MerchantCredit{MerchantID: "m1", Orders: 3, Completed: 2, Rejected: 1, RefundedOrders: 2, Disputed: 1, OnTime: 1,
				Volumes: []CurrencyVolume{
					{Currency: "EUR", Orders: 1, Escrowed: 1000, Released: 750, Refunded: 250},
					{Currency: "JPY", Orders: 2, Escrowed: 5700, Released: 5000, Refunded: 700},
				},
				// C=666 T=333 D=333 R=(250+0+1000)/3=416:
				// raw=(500000+166500+83250-99900-83200)/1000=566; score=500+66×3/20=509
				CompletionRatePermille: 666, OnTimeRatePermille: 333, DisputeRatePermille: 333, RefundRatioPermille: 416,
				Score: 509, ScoreModel: CreditScoreModel, LastFinalizedAt: "2026-03-02T12:00:00Z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := rtNew(t)
			if len(tc.outcomes) > 0 {
				require.NoError(t, e.rtRecord(tc.outcomes...))
			}
			// An outcome of another merchant never leaks into the report.
			other := rtOutcome("zz", "USD", StatusCompleted, 1, 1, 0, false, true, "2026-01-01")
			other.MerchantID = "m10"
			require.NoError(t, e.rtRecord(other))
			for _, msp := range Organisations {
				var got MerchantCredit
				e.ok(e.evaluate(msp, "GetMerchantCredit", "m1"), &got)
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestMerchantCreditErrors(t *testing.T) {
	e := rtNew(t)
	e.fails(e.evaluate(rtOutsider, "GetMerchantCredit", "m1"), CodeForbidden)
	msg := e.fails(e.evaluate(BankMSP, "GetMerchantCredit", "bad id"), CodeInvalidArgument)
	require.Contains(t, msg, "INVALID_ARGUMENT: merchantId: ")
}

func TestRecordOutcomeValidation(t *testing.T) {
	good := rtOutcome("o1", "USD", StatusCompleted, 1000, 600, 400, true, true, "2026-02-01")
	tests := []struct {
		name   string
		mutate func(o *Outcome)
		code   Code
	}{
		{"not final", func(o *Outcome) { o.FinalStatus = StatusDelivered }, CodeInternal},
		{"not conserved", func(o *Outcome) { o.Released = 700 }, CodeInternal},
		{"negative refund", func(o *Outcome) { o.Refunded, o.Released = -1, 1001 }, CodeInvalidArgument},
		{"bad currency", func(o *Outcome) { o.Currency = "XAU" }, CodeInvalidArgument},
		{"bad order ID", func(o *Outcome) { o.OrderID = "" }, CodeInvalidArgument},
		{"bad merchant ID", func(o *Outcome) { o.MerchantID = "m 1" }, CodeInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := rtNew(t)
			o := good
			tc.mutate(&o)
			require.Equal(t, tc.code, CodeOf(e.rtRecord(o)))
		})
	}
	t.Run("second outcome of an order is a conflict", func(t *testing.T) {
		e := rtNew(t)
		require.NoError(t, e.rtRecord(good))
		require.Equal(t, CodeConflict, CodeOf(e.rtRecord(good)))
	})
	t.Run("zero FinalizedAt uses the transaction time", func(t *testing.T) {
		e := rtNew(t)
		o := good
		o.FinalizedAt = time.Time{}
		require.NoError(t, e.rtRecord(o))
		var rep SettlementReport
		e.ok(e.evaluate(BankMSP, "GetSettlementReport", "m1", "", "2026-03-01", "2026-03-01"), &rep)
		require.Equal(t, int64(1), rep.Orders)
	})
}

// TestRecordOutcomeConcurrent settles two orders of one merchant in two transactions simulated
// against the same committed state: both commit, because each writes only its own keys.
func TestRecordOutcomeConcurrent(t *testing.T) {
	e := rtNew(t)
	require.NoError(t, e.rtRecord(rtOutcome("o0", "USD", StatusCompleted, 100, 100, 0, false, true, "2026-02-01")))

	simulate := func(o Outcome) *shimtest.Stub {
		stub := e.l.NewStub(e.opts(BankMSP, nil), "RecordOutcome")
		ctx := &contractapi.TransactionContext{}
		ctx.SetStub(stub)
		require.NoError(t, RecordOutcome(ctx, o))
		return stub
	}
	a := simulate(rtOutcome("o1", "USD", StatusCompleted, 100, 100, 0, false, true, "2026-02-01"))
	b := simulate(rtOutcome("o2", "USD", StatusRefunded, 100, 0, 100, true, false, "2026-02-01"))
	require.NoError(t, e.l.Commit(a))
	require.NoError(t, e.l.Commit(b), "settlements of one merchant must not conflict")

	var got MerchantCredit
	e.ok(e.evaluate(BankMSP, "GetMerchantCredit", "m1"), &got)
	require.Equal(t, int64(3), got.Orders)

	// The same order settled twice concurrently: the second commit is an MVCC conflict.
	c := simulate(rtOutcome("o3", "USD", StatusCompleted, 100, 100, 0, false, true, "2026-02-01"))
	d := simulate(rtOutcome("o3", "USD", StatusCompleted, 100, 100, 0, false, true, "2026-02-01"))
	require.NoError(t, e.l.Commit(c))
	require.ErrorIs(t, e.l.Commit(d), shimtest.ErrMVCCConflict)
}

func TestSettlementReport(t *testing.T) {
	e := rtNew(t)
	other := rtOutcome("o5", "USD", StatusCompleted, 9999, 9999, 0, false, true, "2026-02-10")
	other.MerchantID = "m2"
	require.NoError(t, e.rtRecord(
		rtOutcome("o1", "USD", StatusCompleted, 1000, 1000, 0, false, true, "2026-01-31"),
		rtOutcome("o2", "USD", StatusRefunded, 500, 0, 500, true, false, "2026-02-01"),
		rtOutcome("o3", "EUR", StatusCompleted, 2000, 1500, 500, true, true, "2026-02-15"),
		rtOutcome("o4", "USD", StatusCompleted, 300, 300, 0, false, true, "2026-03-01"),
		rtOutcome("o6", "USD", StatusCancelled, 0, 0, 0, false, false, "2027-01-01"),
		other,
	))
	tests := []struct {
		name                         string
		merchant, currency, from, to string
		want                         []SettlementTotals
	}{
		{"February, all currencies", "m1", "", "2026-02-01", "2026-02-28", []SettlementTotals{
			{Currency: "EUR", Orders: 1, Completed: 1, RefundedOrders: 1, Escrowed: 2000, Released: 1500, Refunded: 500},
			{Currency: "USD", Orders: 1, RefundedOrders: 1, Escrowed: 500, Refunded: 500},
		}},
		{"first quarter in USD", "m1", "USD", "2026-01-01", "2026-03-31", []SettlementTotals{
			{Currency: "USD", Orders: 3, Completed: 2, RefundedOrders: 1, Escrowed: 1800, Released: 1300, Refunded: 500},
		}},
		{"one day", "m1", "", "2026-01-31", "2026-01-31", []SettlementTotals{
			{Currency: "USD", Orders: 1, Completed: 1, Escrowed: 1000, Released: 1000},
		}},
		{"across a year end", "m1", "USD", "2026-12-15", "2027-01-15", []SettlementTotals{
			{Currency: "USD", Orders: 1},
		}},
		{"currency without settlements", "m1", "JPY", "2026-01-01", "2026-12-31", []SettlementTotals{}},
		{"empty range", "m1", "", "2025-01-01", "2025-12-31", []SettlementTotals{}},
		{"other merchant", "m2", "", "2026-02-10", "2026-02-10", []SettlementTotals{
			{Currency: "USD", Orders: 1, Completed: 1, Escrowed: 9999, Released: 9999},
		}},
		// RFC 3339 bounds are instants (the outcomes were finalised at noon UTC).
		{"timestamps around noon", "m1", "", "2026-02-01T12:00:00Z", "2026-02-15T11:59:59.999Z", []SettlementTotals{
			{Currency: "USD", Orders: 1, RefundedOrders: 1, Escrowed: 500, Refunded: 500},
		}},
		{"timestamps with an offset", "m1", "", "2026-02-15T13:00:00+01:00", "2026-03-01T12:59:59+01:00", []SettlementTotals{
			{Currency: "EUR", Orders: 1, Completed: 1, RefundedOrders: 1, Escrowed: 2000, Released: 1500, Refunded: 500},
		}},
		{"a date and a timestamp", "m1", "USD", "2026-01-31", "2026-02-01T11:00:00Z", []SettlementTotals{
			{Currency: "USD", Orders: 1, Completed: 1, Escrowed: 1000, Released: 1000},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, msp := range []string{BankMSP, MerchantMSP, CustomsMSP, RegulatorMSP} {
				var rep SettlementReport
				e.ok(e.evaluate(msp, "GetSettlementReport", tc.merchant, tc.currency, tc.from, tc.to), &rep)
				var orders int64
				for _, tot := range tc.want {
					orders += tot.Orders
				}
				require.Equal(t, SettlementReport{MerchantID: tc.merchant, Currency: tc.currency, From: tc.from, To: tc.to,
					Orders: orders, Totals: tc.want}, rep)
			}
		})
	}

	errs := []struct {
		name                         string
		msp                          string
		merchant, currency, from, to string
		code                         Code
		prefix                       string
	}{
		{"carrier forbidden", CarrierMSP, "m1", "", "2026-01-01", "2026-01-31", CodeForbidden, "FORBIDDEN: "},
		{"outsider forbidden", rtOutsider, "m1", "", "2026-01-01", "2026-01-31", CodeForbidden, "FORBIDDEN: "},
		{"bad merchant", BankMSP, "", "", "2026-01-01", "2026-01-31", CodeInvalidArgument, "INVALID_ARGUMENT: merchantId: "},
		{"bad currency", BankMSP, "m1", "usd", "2026-01-01", "2026-01-31", CodeInvalidArgument, "INVALID_ARGUMENT: currency: "},
		{"bad from", BankMSP, "m1", "", "2026-1-01", "2026-01-31", CodeInvalidArgument,
			`INVALID_ARGUMENT: from: must be an RFC 3339 timestamp such as "2026-03-01T09:30:00Z" or a date YYYY-MM-DD such as "2026-03-01", got "2026-1-01"`},
		{"bad to", BankMSP, "m1", "", "2026-01-01", "2026-02-30", CodeInvalidArgument, "INVALID_ARGUMENT: to: "},
		{"timestamp without zone", BankMSP, "m1", "", "2026-01-01T00:00:00", "2026-02-01", CodeInvalidArgument, "INVALID_ARGUMENT: from: must be an RFC 3339 timestamp"},
		{"missing from", BankMSP, "m1", "", "", "2026-02-01", CodeInvalidArgument, "INVALID_ARGUMENT: from: is required"},
		{"timestamp to before from", BankMSP, "m1", "", "2026-02-01T10:00:00Z", "2026-02-01T09:59:59Z", CodeInvalidArgument, "INVALID_ARGUMENT: to: must not be before from"},
		{"to before from", BankMSP, "m1", "", "2026-02-01", "2026-01-31", CodeInvalidArgument, "INVALID_ARGUMENT: to: must not be before from"},
		{"range too long", BankMSP, "m1", "", "2025-01-01", "2026-01-02", CodeInvalidArgument, "INVALID_ARGUMENT: to: the range"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.fails(e.evaluate(tc.msp, "GetSettlementReport", tc.merchant, tc.currency, tc.from, tc.to), tc.code)
			require.True(t, strings.HasPrefix(msg, tc.prefix), msg)
			require.Equal(t, 1, strings.Count(msg, ": must")+strings.Count(msg, ": is required")+strings.Count(msg, ": the range")+strings.Count(msg, "FORBIDDEN: "),
				"one message per bad field: %s", msg)
		})
	}
	var rep SettlementReport
	e.ok(e.evaluate(BankMSP, "GetSettlementReport", "m1", "", "2025-01-01", "2026-01-01"), &rep)
	require.Equal(t, int64(0), rep.Orders, "366 days is the longest range")
}

// TestOutcomeThroughLifecycle checks that the lifecycle's finalising transactions record
// outcomes: a paid-free cancellation shows up in the credit report and the settlement report.
func TestOutcomeThroughLifecycle(t *testing.T) {
	e := rtNew(t)
	o := rtDefaultOrder("life-1")
	e.ok(e.create(o), nil)
	e.ok(e.invoke(MerchantMSP, "CancelOrder", map[string]any{"orderId": o.id}, nil), nil)

	var got MerchantCredit
	e.ok(e.evaluate(CarrierMSP, "GetMerchantCredit", o.merchant), &got)
	require.Equal(t, int64(1), got.Orders)
	require.Equal(t, int64(1), got.Cancelled)

	var rep SettlementReport
	e.ok(e.evaluate(MerchantMSP, "GetSettlementReport", o.merchant, "USD", "2026-03-01", "2026-03-01"), &rep)
	require.Equal(t, []SettlementTotals{{Currency: "USD", Orders: 1}}, rep.Totals)
}
