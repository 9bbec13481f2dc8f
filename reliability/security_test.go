package reliability_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

// paddedBody returns the JSON encoding of v padded with spaces to exactly size bytes.
func paddedBody(t *testing.T, v map[string]any, size int) []byte {
	t.Helper()
	b := seedJSONT(t, v)
	require.LessOrEqual(t, len(b), size)
	out := make([]byte, 0, size)
	out = append(out, b[:len(b)-1]...)
	out = append(out, []byte(strings.Repeat(" ", size-len(b)))...)
	return append(out, '}')
}

// chunkedReader hides its length so that the request is sent chunked, without Content-Length.
type chunkedReader struct{ r io.Reader }

func (c chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestRequestLimits checks the request limits of docs/design.md §7 through the running dev system:
// a body of exactly 1 MiB is accepted, one byte more is 413 PAYLOAD_TOO_LARGE whether announced
// by Content-Length or sent chunked, and the per-key rate limit answers 429 RATE_LIMITED with
// Retry-After while other keys go on. Refused requests leave the ledger unchanged, and no API
// key (valid or not), private key or private value reaches the logs.
func TestRequestLimits(t *testing.T) {
	logs := &testkit.SyncBuffer{}
	app, err := devapp.Start(context.Background(), devapp.Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: captureLogger(logs), RateLimit: 1, Burst: 4,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, app.Close()) })
	c := newRESTClient(app.URL, app.Credentials)
	height := func() uint64 { return app.Network.OrdererHeight() }
	spec := newOrderSpec("limits-1", "merchant-sec", 1, 500, 0)

	t.Run("1 MiB body accepted, one byte more refused", func(t *testing.T) {
		exact := paddedBody(t, spec.CreateBody(), 1<<20)
		require.Len(t, exact, 1<<20)
		c.Must(t, http.StatusCreated, merchant, "POST", "/api/v1/orders", exact)

		big := newOrderSpec("limits-2", "merchant-sec", 1, 500, 0)
		over := paddedBody(t, big.CreateBody(), 1<<20+1)
		before := height()
		r, err := c.Do(context.Background(), merchant, "POST", "/api/v1/orders", over)
		require.NoError(t, err)
		requireProblem(t, r, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "")

		req, err := http.NewRequest("POST", app.URL+"/api/v1/orders", chunkedReader{strings.NewReader(string(over))})
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+app.Credentials[merchant])
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1 // unknown: the transport sends it chunked
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		requireProblem(t, reply{Status: res.StatusCode, Header: res.Header, Body: body}, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "")

		require.Equal(t, before, height(), "a refused body reached the ledger")
		c.Must(t, http.StatusNotFound, customs, "GET", "/api/v1/orders/limits-2", nil)
	})

	t.Run("per-key rate limit", func(t *testing.T) {
		var limited reply
		for i := range 20 {
			r, err := c.Do(context.Background(), carrier, "GET", "/api/v1/orders/limits-1", nil)
			require.NoError(t, err)
			if r.Status == http.StatusTooManyRequests {
				limited = r
				break
			}
			require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r)
		}
		require.Equal(t, http.StatusTooManyRequests, limited.Status, "no 429 after the burst")
		requireProblem(t, limited, http.StatusTooManyRequests, "RATE_LIMITED", "")
		secs, err := strconv.Atoi(limited.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After must be delay-seconds: %q", limited.Header.Get("Retry-After"))
		require.GreaterOrEqual(t, secs, 1)

		// A limited write makes no transaction; another key is not limited.
		before := height()
		r, err := c.Do(context.Background(), carrier, "POST", "/api/v1/orders/limits-1/waybill", spec.WaybillBody())
		require.NoError(t, err)
		requireProblem(t, r, http.StatusTooManyRequests, "RATE_LIMITED", "")
		require.Equal(t, before, height())
		c.Must(t, http.StatusOK, customs, "GET", "/api/v1/orders/limits-1", nil)

		// After Retry-After the key may call again.
		time.Sleep(time.Duration(secs) * time.Second)
		c.Must(t, http.StatusOK, carrier, "GET", "/api/v1/orders/limits-1", nil)
	})

	t.Run("unknown keys are refused", func(t *testing.T) {
		bad := "xb_" + strings.Repeat("5eC7e7", 8)
		r, err := c.Do(context.Background(), "", "GET", "/api/v1/orders/limits-1", nil, "Authorization", "Bearer "+bad)
		require.NoError(t, err)
		requireProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "")
		requireNoSecrets(t, logs.String(), []string{bad})
	})

	t.Run("no secrets or private data in the logs", func(t *testing.T) {
		secrets := slices.Collect(maps.Values(app.Credentials))
		secrets = append(secrets, privateKeys(t, app.Network.Peers())...)
		secrets = append(secrets, spec.PrivateStrings()...)
		requireNoSecrets(t, logs.String(), secrets)
	})
}

func seedJSONT(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
