package chaincode

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// validatorCase is one input of a validator table: ok, or the expected message fragment.
type validatorCase struct {
	in      string
	message string // "" = valid
}

func runValidatorTable(t *testing.T, name string, check func(field, v string) error, cases []validatorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(name+"/"+tc.in, func(t *testing.T) {
			err := check("items[1].field", tc.in)
			if tc.message == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, CodeInvalidArgument, CodeOf(err))
			require.True(t, strings.HasPrefix(err.Error(), "INVALID_ARGUMENT: items[1].field: "), err.Error())
			require.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestValidateID(t *testing.T) {
	runValidatorTable(t, "ValidateID", ValidateID, []validatorCase{
		{"ORD-1", ""},
		{"a", ""},
		{"0", ""},
		{"merchant.cn:shop_01-x", ""},
		{strings.Repeat("a", 64), ""},
		{"", "is required"},
		{strings.Repeat("a", 65), "at most 64 characters, got 65"},
		{"-abc", "must start with a letter or digit"},
		{".abc", "must start with a letter or digit"},
		{"_abc", "must start with a letter or digit"},
		{":abc", "must start with a letter or digit"},
		{"a b", "must contain only"},
		{"a/b", "must contain only"},
		{"a\x00b", "must contain only"},
		{"订单1", "must contain only"},
		{"a\U0010FFFF", "must contain only"},
		{"a#1", "must contain only"},
	})
}

func TestValidateCurrency(t *testing.T) {
	runValidatorTable(t, "ValidateCurrency", ValidateCurrency, []validatorCase{
		{"USD", ""}, {"JPY", ""}, {"KWD", ""}, {"CLF", ""}, {"XCG", ""},
		{"", "is required"},
		{"usd", "three upper-case letters"},
		{"US", "three upper-case letters"},
		{"USDD", "three upper-case letters"},
		{"840", "three upper-case letters"},
		{"XAU", "has no minor unit"},
		{"XXX", "has no minor unit"},
		{"ABC", "is not an active ISO 4217 currency code"},
		{"HRK", "is not an active ISO 4217 currency code"},
	})
}

func TestValidateCountry(t *testing.T) {
	runValidatorTable(t, "ValidateCountry", ValidateCountry, []validatorCase{
		{"CN", ""}, {"US", ""}, {"DE", ""}, {"KW", ""}, {"AX", ""},
		{"", "is required"},
		{"cn", "two upper-case letters"},
		{"CHN", "two upper-case letters"},
		{"C1", "two upper-case letters"},
		{"UK", "is not an assigned ISO 3166-1 alpha-2 country code"},
		{"ZZ", "is not an assigned ISO 3166-1 alpha-2 country code"},
	})
}

func TestValidateHSCode(t *testing.T) {
	runValidatorTable(t, "ValidateHSCode", ValidateHSCode, []validatorCase{
		{"610910", ""}, {"8471300000", ""}, {"12345678", ""},
		{"12a4", `must be 6 to 10 digits, got "12a4"`},
		{"", "must be 6 to 10 digits"},
		{"12345", "must be 6 to 10 digits"},
		{"12345678901", "must be 6 to 10 digits"},
		{"6109.10", "must be 6 to 10 digits"},
		{" 610910", "must be 6 to 10 digits"},
		{"-610910", "must be 6 to 10 digits"},
	})
	err := ValidateHSCode("items[1].hsCode", "12a4")
	require.EqualError(t, err, `INVALID_ARGUMENT: items[1].hsCode: must be 6 to 10 digits, got "12a4"`)
}

func TestValidateHSPrefix(t *testing.T) {
	runValidatorTable(t, "ValidateHSPrefix", ValidateHSPrefix, []validatorCase{
		{"9", ""}, {"93", ""}, {"9301", ""}, {"1234567890", ""},
		{"", "must be 1 to 10 digits"},
		{"12345678901", "must be 1 to 10 digits"},
		{"93x", "must be 1 to 10 digits"},
	})
}

func TestValidateSHA256Hex(t *testing.T) {
	lower := strings.Repeat("ab", 32)
	runValidatorTable(t, "ValidateSHA256Hex", ValidateSHA256Hex, []validatorCase{
		{lower, ""},
		{strings.ToUpper(lower), ""},
		{strings.Repeat("0", 64), ""},
		{"", "got 0 characters"},
		{lower[:63], "got 63 characters"},
		{lower + "a", "got 65 characters"},
		{strings.Repeat("g", 64), "64 hexadecimal digits"},
		{strings.Repeat(" ", 64), "64 hexadecimal digits"},
	})
	got, err := NormalizeSHA256Hex("sha256", strings.ToUpper(lower))
	require.NoError(t, err)
	require.Equal(t, lower, got)
	_, err = NormalizeSHA256Hex("sha256", "xyz")
	require.Error(t, err)
}

func TestValidateText(t *testing.T) {
	check := func(max int) func(field, v string) error {
		return func(field, v string) error { return ValidateText(field, v, max) }
	}
	runValidatorTable(t, "ValidateText", check(10), []validatorCase{
		{"Shanghai", ""},
		{"上海浦东", ""},
		{"Zoë's café", ""},
		{"ten chars!", ""},
		{"", "is required"},
		{"   ", "is required"},
		{"eleven char", "at most 10 characters, got 11"},
		{"a\nb", "printable characters; found U+000A at position 1"},
		{"a\tb", "printable characters; found U+0009"},
		{"a\x00b", "printable characters"},
		{"a\u200Bb", "printable characters"},
		{"bad\xffutf", "valid UTF-8"},
	})
}

func TestValidateNumbers(t *testing.T) {
	tests := []struct {
		name  string
		check func(string, int64) error
		v     int64
		msg   string
	}{
		{"positive 1", ValidatePositive, 1, ""},
		{"positive 0", ValidatePositive, 0, "must be greater than zero, got 0"},
		{"positive -1", ValidatePositive, -1, "must be greater than zero, got -1"},
		{"non-negative 0", ValidateNonNegative, 0, ""},
		{"non-negative 5", ValidateNonNegative, 5, ""},
		{"non-negative -1", ValidateNonNegative, -1, "must not be negative, got -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check("items[0].quantity", tc.v)
			if tc.msg == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, "INVALID_ARGUMENT: items[0].quantity: "+tc.msg)
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		msg  string
	}{
		{"2026-11-27", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), ""},
		{"2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), ""},
		{"2026-02-29", time.Time{}, "must be a valid date"},
		{"2026-13-01", time.Time{}, "must be a valid date"},
		{"2026-1-01", time.Time{}, "in the form YYYY-MM-DD"},
		{"27/11/2026", time.Time{}, "must be a valid date"},
		{"", time.Time{}, "in the form YYYY-MM-DD"},
		{"2026-11-27T00:00:00Z", time.Time{}, "in the form YYYY-MM-DD"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDate("from", tc.in)
			if tc.msg == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "INVALID_ARGUMENT: from: "), err.Error())
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestQuoteValueTruncates(t *testing.T) {
	long := strings.Repeat("é", 100)
	q := quoteValue(long)
	require.Contains(t, q, "(200 bytes)")
	require.Less(t, len(q), 120)
	err := ValidateID("orderId", strings.Repeat("!", 10)+strings.Repeat("a", 50))
	require.Error(t, err)
}

func TestValidateMultilineText(t *testing.T) {
	cases := []struct {
		in, want, wantErr string
	}{
		{"a\nb", "a\nb", ""},
		{"a\r\nb\r\n", "a\nb\n", ""},
		{"Straße 1\n東", "Straße 1\n東", ""},
		{"a\rb", "", "found U+000D at position 1"},
		{"a\tb", "", "found U+0009 at position 1"},
		{"a\u200bb", "", "found U+200B"},
		{"\r\n\n ", "", "is required"},
		{strings.Repeat("x\r\n", 5), strings.Repeat("x\n", 5), ""},
		{strings.Repeat("x\n", 6), "", "must be at most 10 characters, got 12"},
		{"\xff", "", "must be valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ValidateMultilineText("address", c.in, 10)
			if c.wantErr != "" {
				require.Error(t, err)
				require.Equal(t, CodeInvalidArgument, CodeOf(err))
				require.Contains(t, err.Error(), c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	require.Error(t, ValidateText("location", "a\nb", 10), "single-line text still refuses line breaks")
}
