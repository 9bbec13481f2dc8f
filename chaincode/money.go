package chaincode

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Amount is an amount of money as an integer count of minor units of its currency (cents for
// USD, yen for JPY, fils for KWD). The chaincode never uses floating point for money.
type Amount = int64

// Limits of the FX rate text accepted by ParseRate.
const (
	// MaxRateFractionDigits is the largest number of digits after the decimal point of an FX rate.
	MaxRateFractionDigits = 8
	// MaxRateLength bounds the length of an FX rate string (digits and the point).
	MaxRateLength = 32
)

// Field names ConvertAmount uses in its INVALID_ARGUMENT errors; they are the JSON fields of the
// escrow payment request, the transaction that checks a payer amount.
const (
	fieldOrderCurrency = "currency"
	fieldPayerCurrency = "payerCurrency"
	fieldFXRate        = "fxRate"
	fieldPayerAmount   = "payerAmount"
	fieldAmount        = "amount"
)

var (
	bigTen      = big.NewInt(10)
	bigMaxInt64 = big.NewInt(math.MaxInt64)
)

// AddAmounts returns a+b, or an INVALID_ARGUMENT error naming field when the sum does not fit
// in an int64.
func AddAmounts(field string, a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, errInvalid(field, "amount overflow: %d + %d does not fit in 64 bits", a, b)
	}
	return s, nil
}

// SubAmounts returns a-b, or an INVALID_ARGUMENT error naming field when the difference does
// not fit in an int64.
func SubAmounts(field string, a, b int64) (int64, error) {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		return 0, errInvalid(field, "amount overflow: %d - %d does not fit in 64 bits", a, b)
	}
	return d, nil
}

// MulAmount returns a*b (for example unit price × quantity), or an INVALID_ARGUMENT error naming
// field when the product does not fit in an int64.
func MulAmount(field string, a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, errInvalid(field, "amount overflow: %d × %d does not fit in 64 bits", a, b)
	}
	return p, nil
}

// SumAmounts returns the sum of vs, or an INVALID_ARGUMENT error naming field on overflow.
func SumAmounts(field string, vs ...int64) (int64, error) {
	var total int64
	for _, v := range vs {
		var err error
		if total, err = AddAmounts(field, total, v); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// ParseRate parses an FX rate: a plain decimal number of ASCII digits with at most one '.', at
// least one digit on each side of the point when there is one (so ".5" and "1." are refused,
// "0.5" and "1" are accepted; leading zeros such as "01.5" are accepted), at most
// MaxRateFractionDigits digits after the point, at most MaxRateLength characters, and greater
// than zero. Signs, exponents, spaces, thousands separators and decimal commas are refused. The
// result is the exact rational value. Errors are INVALID_ARGUMENT naming field.
func ParseRate(field, s string) (*big.Rat, error) {
	if s == "" {
		return nil, errInvalid(field, "is required: a decimal FX rate such as \"7.1234\"")
	}
	if len(s) > MaxRateLength {
		return nil, errInvalid(field, "is %d characters long; at most %d allowed", len(s), MaxRateLength)
	}
	intPart, fracPart, hasPoint := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasPoint && !allDigits(fracPart)) {
		return nil, errInvalid(field, "must be a decimal number of digits with an optional single '.', such as \"7.1234\", got %q", s)
	}
	if len(fracPart) > MaxRateFractionDigits {
		return nil, errInvalid(field, "has %d fractional digits; at most %d allowed, got %q", len(fracPart), MaxRateFractionDigits, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, errInvalid(field, "is not a decimal number: %q", s)
	}
	if r.Sign() <= 0 {
		return nil, errInvalid(field, "must be greater than zero, got %q", s)
	}
	return r, nil
}

// allDigits reports whether s is non-empty and made only of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ConvertAmount converts amount (minor units of currency from, >= 0) at rate (units of `to` per
// unit of `from`, a decimal string accepted by ParseRate) into minor units of currency to,
// rounding half to even in the minor unit of to:
//
//	result = roundHalfEven(amount × rate × 10^(exponent(to) − exponent(from)))
//
// The arithmetic is exact (math/big). When from equals to the rate must be exactly 1. Errors are
// INVALID_ARGUMENT naming the escrow request's fields: "currency" (from), "payerCurrency" (to),
// "fxRate", "amount" (negative amount) and "payerAmount" (the result does not fit in an int64).
func ConvertAmount(amount int64, from, to string, rate string) (int64, error) {
	if amount < 0 {
		return 0, errInvalid(fieldAmount, "must not be negative, got %d", amount)
	}
	if err := ValidateCurrency(fieldOrderCurrency, from); err != nil {
		return 0, err
	}
	if err := ValidateCurrency(fieldPayerCurrency, to); err != nil {
		return 0, err
	}
	r, err := ParseRate(fieldFXRate, rate)
	if err != nil {
		return 0, err
	}
	if from == to && r.Cmp(big.NewRat(1, 1)) != 0 {
		return 0, errInvalid(fieldFXRate, "must be 1 when the payer currency equals the order currency %s, got %q", from, rate)
	}
	expFrom, _ := CurrencyExponent(from)
	expTo, _ := CurrencyExponent(to)

	num := new(big.Int).Mul(big.NewInt(amount), r.Num())
	den := new(big.Int).Set(r.Denom())
	if expTo > expFrom {
		num.Mul(num, pow10(expTo-expFrom))
	} else if expFrom > expTo {
		den.Mul(den, pow10(expFrom-expTo))
	}
	q := roundHalfEven(num, den)
	if q.Cmp(bigMaxInt64) > 0 {
		return 0, errInvalid(fieldPayerAmount, "converted amount of %d %s at %s does not fit in 64 bits", amount, from, rate)
	}
	return q.Int64(), nil
}

// pow10 returns 10^n for n >= 0.
func pow10(n int) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

// roundHalfEven returns num/den rounded to the nearest integer, ties to the even neighbour.
// num must be >= 0 and den > 0.
func roundHalfEven(num, den *big.Int) *big.Int {
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	twice := rem.Lsh(rem, 1)
	switch twice.Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// FormatAmount renders amount (minor units of currency) as a plain decimal string with the
// currency's number of decimals, e.g. FormatAmount(12345, "USD") == "123.45" and
// FormatAmount(-5, "KWD") == "-0.005". Unknown currencies are rendered as the bare integer.
func FormatAmount(amount int64, currency string) string {
	exp, ok := CurrencyExponent(currency)
	if !ok || exp == 0 {
		return strconv.FormatInt(amount, 10)
	}
	neg := amount < 0
	digits := new(big.Int).Abs(big.NewInt(amount)).String()
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	s := digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	if neg {
		s = "-" + s
	}
	return s
}
