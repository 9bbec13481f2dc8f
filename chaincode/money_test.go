package chaincode

import (
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestISOTables(t *testing.T) {
	t.Run("currencies sorted, unique, upper case", func(t *testing.T) {
		require.True(t, slices.IsSortedFunc(currencies, func(a, b Currency) int { return strings.Compare(a.Code, b.Code) }))
		for i, c := range currencies {
			require.True(t, isUpperASCII(c.Code, 3), c.Code)
			require.Contains(t, []int{0, 2, 3, 4}, c.Exponent, c.Code)
			if i > 0 {
				require.NotEqual(t, currencies[i-1].Code, c.Code)
			}
			require.False(t, isNonMonetaryCurrency(c.Code), c.Code)
		}
		require.Len(t, currencies, 164)
		require.True(t, slices.IsSorted(nonMonetaryCodes))
	})
	t.Run("countries sorted, unique, complete", func(t *testing.T) {
		require.Len(t, countries, 249)
		require.True(t, slices.IsSorted(countries))
		require.Len(t, slices.Compact(slices.Clone(countries)), 249)
		require.Equal(t, countries, Countries())
	})
	exps := map[string]int{
		"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "XOF": 0, "UYI": 0,
		"USD": 2, "CNY": 2, "EUR": 2, "GBP": 2, "HKD": 2, "XCG": 2, "SLE": 2, "ZWG": 2,
		"KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3,
		"CLF": 4, "UYW": 4,
	}
	for code, want := range exps {
		t.Run("exponent "+code, func(t *testing.T) {
			got, ok := CurrencyExponent(code)
			require.True(t, ok)
			require.Equal(t, want, got)
		})
	}
	for _, code := range []string{"", "usd", "XAU", "XXX", "XDR", "HRK", "ANG", "ZWL", "VEF", "CUC", "BGN", "XAD", "ABC", "USDX"} {
		t.Run("unknown currency "+code, func(t *testing.T) {
			_, ok := CurrencyExponent(code)
			require.False(t, ok)
		})
	}
	for _, code := range []string{"CN", "US", "JP", "KW", "DE", "GB", "AQ", "SS", "ZW"} {
		require.True(t, IsCountry(code), code)
	}
	for _, code := range []string{"", "UK", "XK", "EU", "cn", "CHN", "ZZ"} {
		require.False(t, IsCountry(code), code)
	}
	cs := Currencies()
	cs[0].Code = "mutated"
	require.Equal(t, "AED", currencies[0].Code, "Currencies returns a copy")
}

func TestAmountArithmetic(t *testing.T) {
	tests := []struct {
		name    string
		op      func() (int64, error)
		want    int64
		wantErr bool
	}{
		{"add", func() (int64, error) { return AddAmounts("f", 1, 2) }, 3, false},
		{"add negative", func() (int64, error) { return AddAmounts("f", -5, 2) }, -3, false},
		{"add max", func() (int64, error) { return AddAmounts("f", math.MaxInt64-1, 1) }, math.MaxInt64, false},
		{"add overflow", func() (int64, error) { return AddAmounts("f", math.MaxInt64, 1) }, 0, true},
		{"add underflow", func() (int64, error) { return AddAmounts("f", math.MinInt64, -1) }, 0, true},
		{"sub", func() (int64, error) { return SubAmounts("f", 10, 3) }, 7, false},
		{"sub below zero", func() (int64, error) { return SubAmounts("f", 3, 10) }, -7, false},
		{"sub overflow", func() (int64, error) { return SubAmounts("f", math.MinInt64, 1) }, 0, true},
		{"sub overflow negative", func() (int64, error) { return SubAmounts("f", math.MaxInt64, -1) }, 0, true},
		{"mul", func() (int64, error) { return MulAmount("f", 1999, 3) }, 5997, false},
		{"mul zero", func() (int64, error) { return MulAmount("f", 0, math.MaxInt64) }, 0, false},
		{"mul max", func() (int64, error) { return MulAmount("f", math.MaxInt64, 1) }, math.MaxInt64, false},
		{"mul overflow", func() (int64, error) { return MulAmount("f", math.MaxInt64/2+1, 2) }, 0, true},
		{"mul big overflow", func() (int64, error) { return MulAmount("f", 1<<40, 1<<40) }, 0, true},
		{"mul min by -1", func() (int64, error) { return MulAmount("f", math.MinInt64, -1) }, 0, true},
		{"mul -1 by min", func() (int64, error) { return MulAmount("f", -1, math.MinInt64) }, 0, true},
		{"mul negative", func() (int64, error) { return MulAmount("f", -3, 4) }, -12, false},
		{"sum", func() (int64, error) { return SumAmounts("f", 1, 2, 3, 4) }, 10, false},
		{"sum empty", func() (int64, error) { return SumAmounts("f") }, 0, false},
		{"sum overflow", func() (int64, error) { return SumAmounts("f", math.MaxInt64, 1, -1) }, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.op()
			if tc.wantErr {
				require.Error(t, err)
				require.Equal(t, CodeInvalidArgument, CodeOf(err))
				require.True(t, strings.HasPrefix(err.Error(), "INVALID_ARGUMENT: f: amount overflow"), err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseRate(t *testing.T) {
	accepted := []struct {
		in   string
		want string // exact value as num/den
	}{
		{"1", "1/1"},
		{"7.1234", "35617/5000"},
		{"0.5", "1/2"},
		{"0.00000001", "1/100000000"},
		{"12345678.12345678", "617283906172839/50000000"},
		{"01.5", "3/2"},
		{"7.10", "71/10"},
		{"100", "100/1"},
		{strings.Repeat("9", 23) + "." + strings.Repeat("9", 8), "9999999999999999999999999999999/100000000"},
	}
	for _, tc := range accepted {
		t.Run("accept "+tc.in, func(t *testing.T) {
			r, err := ParseRate("fxRate", tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, r.String())
		})
	}
	rejected := []struct {
		in      string
		message string
	}{
		{"", "is required"},
		{".5", "must be a decimal number"},
		{"1.", "must be a decimal number"},
		{"1e5", "must be a decimal number"},
		{"1E5", "must be a decimal number"},
		{"-1", "must be a decimal number"},
		{"+1", "must be a decimal number"},
		{"0", "must be greater than zero"},
		{"0.00000000", "must be greater than zero"},
		{"000", "must be greater than zero"},
		{"1.123456789", "has 9 fractional digits"},
		{" 1", "must be a decimal number"},
		{"1 ", "must be a decimal number"},
		{"1,5", "must be a decimal number"},
		{"1.2.3", "must be a decimal number"},
		{"1_000", "must be a decimal number"},
		{"0x10", "must be a decimal number"},
		{"Inf", "must be a decimal number"},
		{"NaN", "must be a decimal number"},
		{"1/2", "must be a decimal number"},
		{"٣", "must be a decimal number"},
		{".", "must be a decimal number"},
		{strings.Repeat("1", 33), "is 33 characters long"},
		{strings.Repeat("1", 1000), "is 1000 characters long"},
	}
	for _, tc := range rejected {
		t.Run("reject "+tc.in, func(t *testing.T) {
			r, err := ParseRate("fxRate", tc.in)
			require.Nil(t, r)
			require.Error(t, err)
			require.Equal(t, CodeInvalidArgument, CodeOf(err))
			require.True(t, strings.HasPrefix(err.Error(), "INVALID_ARGUMENT: fxRate: "), err.Error())
			require.Contains(t, err.Error(), tc.message)
		})
	}
}

// TestConvertAmountTable is the FX rounding table of docs/design.md §3.2: payer amount = order total ×
// rate, rounded half to even in the payer currency's minor unit.
func TestConvertAmountTable(t *testing.T) {
	tests := []struct {
		name     string
		amount   int64
		from, to string
		rate     string
		want     int64
	}{
		{"USD cents to CNY fen", 12345, "USD", "CNY", "7.1234", 87938},           // 87938.373
		{"CNY fen to USD cents", 87938, "CNY", "USD", "0.1404", 12346},           // 12346.4952
		{"JPY to USD cents", 1000, "JPY", "USD", "0.0067", 670},                  // exact
		{"JPY to USD cents rounds down", 1234, "JPY", "USD", "0.0067", 827},      // 826.78 → 827
		{"USD cents to JPY", 12345, "USD", "JPY", "149.5", 18456},                // 18455.775
		{"USD cents to KWD fils", 1000, "USD", "KWD", "0.3075", 3075},            // exact
		{"KWD fils to USD cents", 1234, "KWD", "USD", "3.252", 401},              // 401.2968
		{"KWD fils to JPY", 1000, "KWD", "JPY", "485.123", 485},                  // 485.123
		{"JPY to KWD fils", 1, "JPY", "KWD", "0.00205", 2},                       // 2.05
		{"CLP to CLF (4 decimals)", 1000000, "CLP", "CLF", "0.00002632", 263200}, // 26.32 CLF
		{"same currency at 1", 999, "EUR", "EUR", "1", 999},
		{"same currency at 1.00000000", 999, "EUR", "EUR", "1.00000000", 999},
		// exact halves: ties go to the even neighbour, up or down
		{"half to even down 2.5→2", 5, "USD", "EUR", "0.5", 2},
		{"half to even up 3.5→4", 7, "USD", "EUR", "0.5", 4},
		{"half to even 0.5→0", 1, "USD", "EUR", "0.5", 0},
		{"half to even 1.5→2", 3, "USD", "EUR", "0.5", 2},
		{"half to even 7.5→8", 3, "USD", "CNY", "2.5", 8},
		{"half to even 2.5→2 via rate 2.5", 1, "USD", "CNY", "2.5", 2},
		{"JPY to USD half 0.5→0", 1, "JPY", "USD", "0.005", 0},
		{"JPY to USD half 1.5→2", 3, "JPY", "USD", "0.005", 2},
		{"USD to JPY half 2.5→2", 250, "USD", "JPY", "1", 2},
		{"USD to JPY half 3.5→4", 350, "USD", "JPY", "1", 4},
		{"KWD to USD half 0.5→0", 5, "KWD", "USD", "1", 0},
		{"KWD to USD half 1.5→2", 15, "KWD", "USD", "1", 2},
		{"KWD to USD 2.5→2", 25, "KWD", "USD", "1", 2},
		{"just above half rounds up", 2501, "USD", "JPY", "0.1", 3},   // 2.501
		{"just below half rounds down", 2499, "USD", "JPY", "0.1", 2}, // 2.499
		// tiny and huge
		{"zero amount", 0, "USD", "CNY", "7.1234", 0},
		{"tiny rate rounds to zero", 1, "USD", "CNY", "0.00000001", 0},
		{"tiny amount", 1, "USD", "CNY", "7.1234", 7},
		{"max int64 halved rounds to even", math.MaxInt64, "USD", "EUR", "0.5", 4611686018427387904},
		{"max int64 at 1", math.MaxInt64, "USD", "EUR", "1", math.MaxInt64},
		{"max int64 to fewer decimals", math.MaxInt64, "KWD", "JPY", "1", 9223372036854776}, // 9223372036854775.807
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConvertAmount(tc.amount, tc.from, tc.to, tc.rate)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, referenceConvert(t, tc.amount, tc.from, tc.to, tc.rate), got)
		})
	}
}

func TestConvertAmountErrors(t *testing.T) {
	tests := []struct {
		name     string
		amount   int64
		from, to string
		rate     string
		prefix   string
	}{
		{"overflow to more decimals", math.MaxInt64, "JPY", "USD", "1", "INVALID_ARGUMENT: payerAmount: "},
		{"overflow by rate", 1_000_000_000_000_000, "USD", "EUR", "99999999.99999999", "INVALID_ARGUMENT: payerAmount: "},
		{"negative amount", -1, "USD", "EUR", "1", "INVALID_ARGUMENT: amount: "},
		{"bad order currency", 1, "usd", "EUR", "1", "INVALID_ARGUMENT: currency: "},
		{"unknown payer currency", 1, "USD", "ABC", "1", "INVALID_ARGUMENT: payerCurrency: "},
		{"non-monetary payer currency", 1, "USD", "XAU", "1", "INVALID_ARGUMENT: payerCurrency: "},
		{"bad rate", 1, "USD", "EUR", "1e3", "INVALID_ARGUMENT: fxRate: "},
		{"zero rate", 1, "USD", "EUR", "0.0", "INVALID_ARGUMENT: fxRate: "},
		{"same currency needs rate 1", 1, "USD", "USD", "1.1", "INVALID_ARGUMENT: fxRate: must be 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConvertAmount(tc.amount, tc.from, tc.to, tc.rate)
			require.Error(t, err)
			require.Equal(t, CodeInvalidArgument, CodeOf(err))
			require.True(t, strings.HasPrefix(err.Error(), tc.prefix), err.Error())
		})
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		amount   int64
		currency string
		want     string
	}{
		{12345, "USD", "123.45"},
		{5, "USD", "0.05"},
		{0, "USD", "0.00"},
		{-5, "KWD", "-0.005"},
		{1234, "JPY", "1234"},
		{263200, "CLF", "26.3200"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{42, "???", "42"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, FormatAmount(tc.amount, tc.currency))
		})
	}
}

// referenceConvert is an independent big.Rat implementation of the FX rule used to cross-check
// ConvertAmount: it rounds by comparing the fractional part with one half.
func referenceConvert(t testing.TB, amount int64, from, to, rate string) int64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(rate)
	require.True(t, ok)
	ef, _ := CurrencyExponent(from)
	et, _ := CurrencyExponent(to)
	v := new(big.Rat).Mul(new(big.Rat).SetInt64(amount), r)
	scale := new(big.Rat).SetFrac(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(et)), nil), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(ef)), nil))
	v.Mul(v, scale)
	floor := new(big.Int).Quo(v.Num(), v.Denom())
	frac := new(big.Rat).Sub(v, new(big.Rat).SetInt(floor))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		floor.Add(floor, big.NewInt(1))
	case 0:
		if floor.Bit(0) == 1 {
			floor.Add(floor, big.NewInt(1))
		}
	}
	if !floor.IsInt64() {
		return -1
	}
	return floor.Int64()
}
