package chaincode

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the argument validators.
const (
	// MaxIDLength is the longest identifier ValidateID accepts.
	MaxIDLength = 64
	// MinHSCodeDigits and MaxHSCodeDigits bound the length of a Harmonized System code.
	MinHSCodeDigits = 6
	MaxHSCodeDigits = 10
	// DateLayout is the layout of calendar dates in arguments (YYYY-MM-DD, UTC).
	DateLayout = "2006-01-02"
	// maxQuotedValue bounds how much of an offending value an error message repeats.
	maxQuotedValue = 80
)

// quoteValue renders v for an error message, truncated so a huge argument cannot blow up the
// response.
func quoteValue(v string) string {
	if len(v) <= maxQuotedValue {
		return fmt.Sprintf("%q", v)
	}
	cut := maxQuotedValue
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", v[:cut], len(v))
}

// isIDSeparator reports whether c is one of the separator characters allowed inside an ID.
func isIDSeparator(c byte) bool {
	return c == '.' || c == '_' || c == ':' || c == '-'
}

// ValidateID checks an identifier (order, merchant, buyer, payment, waybill IDs): 1 to
// MaxIDLength characters of A-Z, a-z, 0-9 and the separators '.', '_', ':', '-', not starting
// with a separator. Such IDs are safe inside composite keys and URLs.
func ValidateID(field, v string) error {
	if v == "" {
		return errInvalid(field, "is required")
	}
	if len(v) > MaxIDLength {
		return errInvalid(field, "must be at most %d characters, got %d", MaxIDLength, len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || isIDSeparator(c)
		if !ok {
			return errInvalid(field, "must contain only A-Z, a-z, 0-9, '.', '_', ':' and '-', got %s", quoteValue(v))
		}
	}
	if isIDSeparator(v[0]) {
		return errInvalid(field, "must start with a letter or digit, got %s", quoteValue(v))
	}
	return nil
}

// isUpperASCII reports whether v is exactly n ASCII upper-case letters.
func isUpperASCII(v string, n int) bool {
	if len(v) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if v[i] < 'A' || v[i] > 'Z' {
			return false
		}
	}
	return true
}

// ValidateCurrency checks that v is an active ISO 4217 alphabetic currency code with a minor unit
// (upper case, e.g. "USD"). Codes without a minor unit (XAU, XDR, XXX, ...) are refused.
func ValidateCurrency(field, v string) error {
	if v == "" {
		return errInvalid(field, "is required: an ISO 4217 currency code such as \"USD\"")
	}
	if !isUpperASCII(v, 3) {
		return errInvalid(field, "must be an ISO 4217 alphabetic code of three upper-case letters such as \"USD\", got %s", quoteValue(v))
	}
	if isNonMonetaryCurrency(v) {
		return errInvalid(field, "%s has no minor unit and cannot be used for amounts", v)
	}
	if _, ok := CurrencyExponent(v); !ok {
		return errInvalid(field, "is not an active ISO 4217 currency code, got %s", quoteValue(v))
	}
	return nil
}

// ValidateCountry checks that v is an ISO 3166-1 alpha-2 country code (upper case, e.g. "CN").
func ValidateCountry(field, v string) error {
	if v == "" {
		return errInvalid(field, "is required: an ISO 3166-1 alpha-2 country code such as \"CN\"")
	}
	if !isUpperASCII(v, 2) {
		return errInvalid(field, "must be an ISO 3166-1 alpha-2 code of two upper-case letters such as \"CN\", got %s", quoteValue(v))
	}
	if !IsCountry(v) {
		return errInvalid(field, "is not an assigned ISO 3166-1 alpha-2 country code, got %s", quoteValue(v))
	}
	return nil
}

// ValidateHSCode checks a Harmonized System commodity code: MinHSCodeDigits to MaxHSCodeDigits
// ASCII digits, without dots or spaces.
func ValidateHSCode(field, v string) error {
	if len(v) < MinHSCodeDigits || len(v) > MaxHSCodeDigits || !allDigits(v) {
		return errInvalid(field, "must be %d to %d digits, got %s", MinHSCodeDigits, MaxHSCodeDigits, quoteValue(v))
	}
	return nil
}

// ValidateHSPrefix checks a prohibited-goods HS code prefix: 1 to MaxHSCodeDigits ASCII digits.
func ValidateHSPrefix(field, v string) error {
	if len(v) < 1 || len(v) > MaxHSCodeDigits || !allDigits(v) {
		return errInvalid(field, "must be 1 to %d digits, got %s", MaxHSCodeDigits, quoteValue(v))
	}
	return nil
}

// firstError returns the first non-nil error of checks, run in order (each check has already
// been evaluated by the caller; the order decides which error is reported).
func firstError(checks ...error) error {
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// ValidatePositive checks that v is greater than zero.
func ValidatePositive(field string, v int64) error {
	if v <= 0 {
		return errInvalid(field, "must be greater than zero, got %d", v)
	}
	return nil
}

// ValidateNonNegative checks that v is zero or more.
func ValidateNonNegative(field string, v int64) error {
	if v < 0 {
		return errInvalid(field, "must not be negative, got %d", v)
	}
	return nil
}

// ValidateText checks free text (names, locations, reasons): valid UTF-8 without U+FFFD (see
// checkText), not empty or blank,
// at most max characters (runes), and only printable characters (letters, marks, numbers,
// punctuation, symbols and the ASCII space; no control characters, tabs or line breaks).
func ValidateText(field, v string, max int) error {
	if strings.TrimSpace(v) == "" {
		return errInvalid(field, "is required")
	}
	if err := checkText(field, v); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(v); n > max {
		return errInvalid(field, "must be at most %d characters, got %d", max, n)
	}
	pos := 0
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return errInvalid(field, "must contain only printable characters; found %U at position %d", r, pos)
		}
		pos++
	}
	return nil
}

// ParsePageSize parses a page-size query argument: a decimal whole number, "" or "0" for def,
// values above max capped at max. A negative number or anything that is not a decimal number
// (signs other than a leading "-", spaces, fractions, exponents) is INVALID_ARGUMENT naming
// field. Query arguments travel as strings, so the contract parses them itself and reports a
// bad value as a coded error rather than as contractapi's conversion error.
func ParsePageSize(field, v string, def, max int32) (int32, error) {
	if v == "" {
		return def, nil
	}
	digits := strings.TrimPrefix(v, "-")
	if digits == "" || !allDigits(digits) {
		return 0, errInvalid(field, "must be a whole number (decimal digits), got %s", quoteValue(v))
	}
	if digits != v {
		if strings.Trim(digits, "0") == "" {
			return def, nil // "-0"
		}
		return 0, errInvalid(field, "must not be negative, got %s", v)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	switch {
	case err != nil || n > int64(max):
		return max, nil // only a range error is possible here: too large, so capped
	case n == 0:
		return def, nil
	}
	return int32(n), nil
}

// ValidateMultilineText checks multi-line free text such as a postal address and returns it
// normalised: every CR LF pair becomes a single LF, after which the same rules as ValidateText
// apply (not blank, at most max characters, printable only), except that LF line breaks are
// allowed. Every other control character, including a CR that is not followed by LF and tabs,
// is refused.
func ValidateMultilineText(field, v string, max int) (string, error) {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	if strings.TrimSpace(v) == "" {
		return "", errInvalid(field, "is required")
	}
	if err := checkText(field, v); err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", errInvalid(field, "must be at most %d characters, got %d", max, n)
	}
	pos := 0
	for _, r := range v {
		if r != '\n' && !unicode.IsPrint(r) {
			return "", errInvalid(field, "must contain only printable characters and line breaks; found %U at position %d", r, pos)
		}
		pos++
	}
	return v, nil
}

// ValidateSHA256Hex checks that v is a SHA-256 digest in hexadecimal: exactly 64 hex digits
// (either case; NormalizeSHA256Hex returns the lower-case form stored on the ledger).
func ValidateSHA256Hex(field, v string) error {
	if len(v) != 64 {
		return errInvalid(field, "must be a SHA-256 digest of 64 hexadecimal digits, got %d characters", len(v))
	}
	for i := 0; i < len(v); i++ {
		if !isHexDigit(v[i]) {
			return errInvalid(field, "must be a SHA-256 digest of 64 hexadecimal digits, got %s", quoteValue(v))
		}
	}
	return nil
}

// isHexDigit reports whether c is an ASCII hexadecimal digit of either case.
func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// NormalizeSHA256Hex validates v like ValidateSHA256Hex and returns it in lower case.
func NormalizeSHA256Hex(field, v string) (string, error) {
	if err := ValidateSHA256Hex(field, v); err != nil {
		return "", err
	}
	return strings.ToLower(v), nil
}

// ParseDate parses a calendar date in the form YYYY-MM-DD (UTC) and checks that it exists
// (2026-02-30 is refused).
func ParseDate(field, v string) (time.Time, error) {
	if len(v) != len(DateLayout) {
		return time.Time{}, errInvalid(field, "must be a date in the form YYYY-MM-DD, got %s", quoteValue(v))
	}
	t, err := time.Parse(DateLayout, v)
	if err != nil {
		return time.Time{}, errInvalid(field, "must be a valid date in the form YYYY-MM-DD, got %s", quoteValue(v))
	}
	return t, nil
}

// timePeriod is an inclusive period of time, parsed from two bounds by parsePeriod.
type timePeriod struct {
	from, to time.Time
}

// contains reports whether t lies in the period (bounds included).
func (p *timePeriod) contains(t time.Time) bool {
	return !t.Before(p.from) && !t.After(p.to)
}

// days returns the number of days the period touches, counting a part day as a day (a period
// from one date to the same date is 1 day).
func (p *timePeriod) days() int {
	span := p.to.Sub(p.from)
	return int((span + 24*time.Hour - 1) / (24 * time.Hour))
}

// parseReportPeriod parses the required from and to arguments of a report, a period of at most
// MaxSettlementReportDays days.
func parseReportPeriod(from, to string) (*timePeriod, error) {
	period, err := parsePeriod("from", from, "to", to, true)
	if err != nil {
		return nil, err
	}
	if days := period.days(); days > MaxSettlementReportDays {
		return nil, errInvalid("to", "the range %s to %s spans %d days; at most %d allowed", from, to, days, MaxSettlementReportDays)
	}
	return period, nil
}

// eachMonth calls fn with every month ("2006-01") the period touches, in order, until fn fails.
func (p *timePeriod) eachMonth(fn func(month string) error) error {
	for month := time.Date(p.from.Year(), p.from.Month(), 1, 0, 0, 0, 0, time.UTC); !month.After(p.to); month = month.AddDate(0, 1, 0) {
		if err := fn(month.Format("2006-01")); err != nil {
			return err
		}
	}
	return nil
}

// parseTimeBound parses a bound of a period: an RFC 3339 timestamp (that instant, with or
// without fractional seconds) or a date YYYY-MM-DD (UTC): the first instant of that day for a
// lower bound, its last nanosecond for an upper bound. A bad value is one INVALID_ARGUMENT
// naming field.
func parseTimeBound(field, v string, upper bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if len(v) == len(DateLayout) {
		if d, err := time.Parse(DateLayout, v); err == nil {
			if upper {
				return d.Add(24*time.Hour - time.Nanosecond), nil
			}
			return d, nil
		}
	}
	return time.Time{}, errInvalid(field, "must be an RFC 3339 timestamp such as \"2026-03-01T09:30:00Z\" or a date YYYY-MM-DD such as \"2026-03-01\", got %s", quoteValue(v))
}

// parsePeriod parses the bounds fromValue (field fromField) and toValue (field toField) of an
// inclusive period. An empty bound is "is required" when required is set, else open (the
// period then starts at the zero time or ends at the end of time). The upper bound must not be
// before the lower one.
func parsePeriod(fromField, fromValue, toField, toValue string, required bool) (*timePeriod, error) {
	p := &timePeriod{to: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	var err error
	switch {
	case fromValue != "":
		if p.from, err = parseTimeBound(fromField, fromValue, false); err != nil {
			return nil, err
		}
	case required:
		return nil, errInvalid(fromField, "is required: an RFC 3339 timestamp or a date YYYY-MM-DD")
	}
	switch {
	case toValue != "":
		if p.to, err = parseTimeBound(toField, toValue, true); err != nil {
			return nil, err
		}
	case required:
		return nil, errInvalid(toField, "is required: an RFC 3339 timestamp or a date YYYY-MM-DD")
	}
	if p.to.Before(p.from) {
		return nil, errInvalid(toField, "must not be before %s (%s), got %s", fromField, fromValue, quoteValue(toValue))
	}
	return p, nil
}
