package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSignAndVerify(t *testing.T) {
	secret := []byte("whsec_test-secret-0123456789abcdefghij")
	body := []byte(`{"id":"7-0","name":"OrderCreated"}`)
	at := time.Unix(1_767_000_000, 0)
	header := Sign(secret, at, body)
	require.Regexp(t, `^t=1767000000,v1=[0-9a-f]{64}$`, header)
	require.Equal(t, header, Sign(secret, at, body), "deterministic")

	v1 := strings.SplitN(header, "v1=", 2)[1]
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{name: "valid", now: at.Add(30 * time.Second)},
		{name: "valid, receiver's clock behind", now: at.Add(-4 * time.Minute)},
		{name: "valid among several v1", header: "t=1767000000,v1=" + strings.Repeat("ab", 32) + ",v1=" + v1, now: at},
		{name: "unknown schemes are ignored", header: header + ",v0=legacy", now: at},
		{name: "tampered body", body: []byte(`{"id":"7-0","name":"OrderCancelled"}`), now: at, want: ErrSignatureMismatch},
		{name: "other secret", secret: []byte("whsec_another-secret-0123456789abcdefg"), now: at, want: ErrSignatureMismatch},
		{name: "timestamp changed", header: strings.Replace(header, "t=1767000000", "t=1767000100", 1), now: at, want: ErrSignatureMismatch},
		{name: "replayed after the tolerance", now: at.Add(DefaultTolerance + time.Second), want: ErrOutsideTolerance},
		{name: "from the future", now: at.Add(-DefaultTolerance - time.Second), want: ErrOutsideTolerance},
		{name: "missing", header: " ", now: at, want: ErrMalformedSignature},
		{name: "no v1", header: "t=1767000000", now: at, want: ErrMalformedSignature},
		{name: "no t", header: "v1=" + v1, now: at, want: ErrMalformedSignature},
		{name: "bad t", header: "t=-5,v1=" + v1, now: at, want: ErrMalformedSignature},
		{name: "bad hex", header: "t=1767000000,v1=zz", now: at, want: ErrMalformedSignature},
		{name: "not key=value", header: "t=1767000000;v1=" + v1, now: at, want: ErrMalformedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, h, b := secret, header, body
			if tc.secret != nil {
				s = tc.secret
			}
			if tc.header != "" {
				h = tc.header
			}
			if tc.body != nil {
				b = tc.body
			}
			err := Verify(s, h, b, tc.now, 0)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("a tolerance of its own", func(t *testing.T) {
		require.ErrorIs(t, Verify(secret, header, body, at.Add(time.Minute), 30*time.Second), ErrOutsideTolerance)
		require.NoError(t, Verify(secret, header, body, at.Add(time.Hour), 2*time.Hour))
	})
}

func TestBackoff(t *testing.T) {
	base, maxDelay := 100*time.Millisecond, 5*time.Second
	for _, tc := range []struct {
		failures int
		full     time.Duration
	}{
		{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {6, 3200 * time.Millisecond},
		{7, 5 * time.Second}, {40, 5 * time.Second},
	} {
		t.Run(tc.full.String(), func(t *testing.T) {
			require.Equal(t, tc.full, Backoff(base, maxDelay, tc.failures, 0), "no jitter")
			require.Equal(t, tc.full-tc.full/4, Backoff(base, maxDelay, tc.failures, 0.5))
			d := Backoff(base, maxDelay, tc.failures, 0.999999)
			require.GreaterOrEqual(t, d, tc.full/2, "jitter takes off at most half")
			require.Less(t, d, tc.full)
		})
	}
}
