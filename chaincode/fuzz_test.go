package chaincode

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	rateSyntax = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,8})?$`)
	idSyntax   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	hsSyntax   = regexp.MustCompile(`^[0-9]{6,10}$`)
)

// requireInvalid fails unless err is an INVALID_ARGUMENT error naming field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if CodeOf(err) != CodeInvalidArgument || !strings.HasPrefix(err.Error(), "INVALID_ARGUMENT: "+field+": ") {
		t.Fatalf("want INVALID_ARGUMENT naming %s, got %v", field, err)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{
		"1", "7.1234", "0.5", ".5", "1.", "01.5", "1e5", "-1", "0", "0.00000001", "1.123456789",
		" 1", "1,5", "", "99999999999999999999999.99999999", strings.Repeat("9", 40), "NaN", "0x1p-2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate("fxRate", s)
		if err != nil {
			if r != nil {
				t.Fatalf("ParseRate(%q) returned a value and an error", s)
			}
			requireInvalid(t, err, "fxRate")
			if rateSyntax.MatchString(s) && len(s) <= MaxRateLength {
				want, _ := new(big.Rat).SetString(s)
				if want.Sign() > 0 {
					t.Fatalf("ParseRate(%q) rejected a valid positive rate: %v", s, err)
				}
			}
			return
		}
		if !rateSyntax.MatchString(s) || len(s) > MaxRateLength {
			t.Fatalf("ParseRate(%q) accepted text outside the rate syntax", s)
		}
		want, _ := new(big.Rat).SetString(s)
		if r.Cmp(want) != 0 || r.Sign() <= 0 {
			t.Fatalf("ParseRate(%q) = %s, want positive %s", s, r, want)
		}
	})
}

func FuzzConvertAmount(f *testing.F) {
	f.Add(int64(12345), uint8(0), uint8(1), "7.1234")
	f.Add(int64(1000), uint8(2), uint8(0), "0.0067")
	f.Add(int64(5), uint8(0), uint8(3), "0.5")
	f.Add(int64(-1), uint8(3), uint8(4), "1")
	f.Add(int64(9223372036854775807), uint8(2), uint8(0), "1")
	f.Add(int64(1), uint8(5), uint8(4), "0.00205")
	f.Add(int64(77), uint8(0), uint8(0), "1.00000000")
	f.Fuzz(func(t *testing.T, amount int64, fromIdx, toIdx uint8, rate string) {
		codes := []string{"USD", "CNY", "JPY", "EUR", "KWD", "CLF", "usd", "XAU"}
		from, to := codes[int(fromIdx)%len(codes)], codes[int(toIdx)%len(codes)]
		got, err := ConvertAmount(amount, from, to, rate)
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("ConvertAmount(%d, %s, %s, %q): non-INVALID_ARGUMENT error %v", amount, from, to, rate, err)
			}
			return
		}
		if amount < 0 || got < 0 {
			t.Fatalf("ConvertAmount(%d, %s, %s, %q) = %d for a negative amount or result", amount, from, to, rate, got)
		}
		if want := referenceConvert(t, amount, from, to, rate); want != got {
			t.Fatalf("ConvertAmount(%d, %s, %s, %q) = %d, reference %d", amount, from, to, rate, got, want)
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"ORD-1", "", "-x", "a b", strings.Repeat("z", 64), strings.Repeat("z", 65), "a\x00", "订单", "A.b_c:d-e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateID("orderId", s)
		if ok := idSyntax.MatchString(s); ok != (err == nil) {
			t.Fatalf("ValidateID(%q) = %v, syntax match %v", s, err, ok)
		}
		if err != nil {
			requireInvalid(t, err, "orderId")
		}
	})
}

func FuzzValidateHSCode(f *testing.F) {
	for _, s := range []string{"610910", "12a4", "", "12345678901", "8471300000", "٦١٠٩١٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateHSCode("items[0].hsCode", s)
		if ok := hsSyntax.MatchString(s); ok != (err == nil) {
			t.Fatalf("ValidateHSCode(%q) = %v, syntax match %v", s, err, ok)
		}
		if err != nil {
			requireInvalid(t, err, "items[0].hsCode")
		}
	})
}

func FuzzMoneyArithmetic(f *testing.F) {
	f.Add(int64(1), int64(2))
	f.Add(int64(9223372036854775807), int64(1))
	f.Add(int64(-9223372036854775808), int64(-1))
	f.Add(int64(4294967296), int64(4294967296))
	f.Add(int64(0), int64(-9223372036854775808))
	f.Fuzz(func(t *testing.T, a, b int64) {
		check := func(op string, got int64, err error, want *big.Int) {
			if want.IsInt64() {
				if err != nil || got != want.Int64() {
					t.Fatalf("%s(%d, %d) = %d, %v; want %s", op, a, b, got, err, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s(%d, %d) = %d; want overflow error", op, a, b, got)
			}
			requireInvalid(t, err, "amount")
		}
		ba, bb := big.NewInt(a), big.NewInt(b)
		s, err := AddAmounts("amount", a, b)
		check("AddAmounts", s, err, new(big.Int).Add(ba, bb))
		d, err := SubAmounts("amount", a, b)
		check("SubAmounts", d, err, new(big.Int).Sub(ba, bb))
		p, err := MulAmount("amount", a, b)
		check("MulAmount", p, err, new(big.Int).Mul(ba, bb))
	})
}

// FuzzDecodeRequestText decodes arbitrary bytes as a request: whatever the decoder accepts
// holds only valid UTF-8 without U+FFFD in its strings, and every refusal names a field.
func FuzzDecodeRequestText(f *testing.F) {
	for _, s := range []string{
		`{"orderId":"o-1","reason":"late"}`, `{"orderId":"o\ud800"}`, "{\"reason\":\"\xff\"}",
		`{"reason":"\ufffd"}`, `{"reason":"Jose\u0301"}`, `{}`, `[`, `{"x":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req OpenDisputeRequest
		err := decodeRequest(string(b), &req)
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("decodeRequest(%q) = %v, want INVALID_ARGUMENT", b, err)
			}
			return
		}
		for _, s := range []string{req.OrderID, req.Reason} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("decodeRequest(%q) accepted damaged text %q", b, s)
			}
		}
	})
}

// FuzzParseTimeBound checks the period bounds: accepted values are RFC 3339 timestamps or
// dates, a date's upper bound is the last instant of its day, and refusals name the field.
func FuzzParseTimeBound(f *testing.F) {
	for _, s := range []string{"2026-03-01", "2026-03-01T09:30:00Z", "2026-03-01T09:30:00.5+01:00", "2026-02-30", "2026-1-01", "", "x", "2026-03-01T09:30:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, errLo := parseTimeBound("from", s, false)
		hi, errHi := parseTimeBound("from", s, true)
		if (errLo == nil) != (errHi == nil) {
			t.Fatalf("bounds of %q disagree: %v / %v", s, errLo, errHi)
		}
		if errLo != nil {
			requireInvalid(t, errLo, "from")
			return
		}
		if hi.Before(lo) {
			t.Fatalf("upper bound %v of %q before its lower bound %v", hi, s, lo)
		}
		if _, err := time.Parse(DateLayout, s); err == nil && hi.Sub(lo) != 24*time.Hour-time.Nanosecond {
			t.Fatalf("date %q spans %v", s, hi.Sub(lo))
		}
	})
}
