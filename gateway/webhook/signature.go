package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" (see Sign).
	SignatureHeader = "Xborder-Signature"
	// EventIDHeader carries the event's ID, "<block>-<index>": receivers dedupe by it.
	EventIDHeader = "Xborder-Event-Id"
	// EventNameHeader carries the chaincode event name, e.g. "PaymentReleased".
	EventNameHeader = "Xborder-Event-Name"
	// SubscriptionIDHeader carries the subscription's ID.
	SubscriptionIDHeader = "Xborder-Subscription-Id"
	// AttemptHeader carries the attempt's number for this event, 1 for the first.
	AttemptHeader = "Xborder-Delivery-Attempt"
)

// DefaultTolerance is how far from the receiver's clock a signature's timestamp may be before
// Verify refuses it as a possible replay.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify; the error it returns wraps one of them.
var (
	// ErrMalformedSignature: the header is missing or not "t=<unix>,v1=<hex>".
	ErrMalformedSignature = errors.New("webhook: malformed " + SignatureHeader + " header")
	// ErrSignatureMismatch: no v1 signature of the header matches the body and the secret.
	ErrSignatureMismatch = errors.New("webhook: signature does not match")
	// ErrOutsideTolerance: the timestamp is too far from now (a replay, or a wrong clock).
	ErrOutsideTolerance = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the SignatureHeader value for body sent at t: "t=<unix seconds>,v1=<hex>", the
// hexadecimal HMAC-SHA256, keyed with secret, of the decimal timestamp, a dot, and the body
// exactly as sent. Binding the timestamp into the signature lets receivers refuse replays.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery: header (the SignatureHeader value) must carry a v1 signature of body
// with secret, and its timestamp must be within tolerance of now (DefaultTolerance when
// tolerance is 0). It compares in constant time. A receiver that also remembers the event IDs
// it processed (EventIDHeader) within the tolerance refuses every replay.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, strconv.FormatInt(ts, 10), body)
	matched := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrOutsideTolerance,
			time.Unix(ts, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}

// parseSignature reads "t=<unix>,v1=<hex>[,v1=<hex>...]"; unknown schemes are ignored, so that
// a later scheme can be sent beside v1.
func parseSignature(header string) (int64, [][]byte, error) {
	if strings.TrimSpace(header) == "" {
		return 0, nil, fmt.Errorf("%w: the header is missing", ErrMalformedSignature)
	}
	var ts int64 = -1
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: %q is not key=value", ErrMalformedSignature, part)
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, nil, fmt.Errorf("%w: t=%q is not a Unix time", ErrMalformedSignature, v)
			}
			ts = n
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 is not a hex HMAC-SHA256", ErrMalformedSignature)
			}
			sigs = append(sigs, b)
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return 0, nil, fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrMalformedSignature)
	}
	return ts, sigs, nil
}
