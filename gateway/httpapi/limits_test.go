package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

const bankKey = "bank-secret"

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newLimitServer is the real HTTP layer and bbolt store over a journalLedger, with opts applied
// over a generous default configuration; logs go to the returned buffer.
func newLimitServer(t *testing.T, opts func(*Options)) (*Server, *store.Store, *lockedBuffer) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "gateway.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logs := &lockedBuffer{}
	o := Options{Spec: api.OpenAPI, Ledger: newJournalLedger(), Idempotency: st, Events: st,
		Keys: []APIKey{
			{ID: "k-merchant", MSPID: "MerchantMSP", User: "m", SHA256: hashOf(merchantKey)},
			{ID: "k-bank", MSPID: "BankMSP", User: "b", SHA256: hashOf(bankKey)},
		},
		RateLimit: 1e6, Burst: 1 << 20, MaxBodyBytes: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if opts != nil {
		opts(&o)
	}
	s, err := New(o)
	require.NoError(t, err)
	return s, st, logs
}

// serveLoopback serves s on a free loopback port until the test ends and returns its address.
func serveLoopback(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return l.Addr().String()
}

// call sends one request through the handler from the client address remote.
func call(s *Server, method, target, key, remote string, body string, headers ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.RemoteAddr = remote
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return w
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	require.Equal(t, ProblemContentType, w.Header().Get("Content-Type"), w.Body.String())
	var p Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	return p
}

// sendWholeThenRead writes a POST with a body of size bytes (Content-Length, or chunked) on a
// raw connection, all of it, and only then reads the answer: as clients such as Python's
// urllib do. It returns the status line, or the error that ended the exchange.
func sendWholeThenRead(addr string, size int, chunked bool) (string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return "", err
	}
	body := bytes.Repeat([]byte(" "), size)
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST /api/v1/orders HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", addr, merchantKey)
	if chunked {
		req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for off := 0; off < size; off += 64 << 10 {
			n := min(64<<10, size-off)
			fmt.Fprintf(&req, "%x\r\n", n)
			req.Write(body[off : off+n])
			req.WriteString("\r\n")
		}
		req.WriteString("0\r\n\r\n")
	} else {
		fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", size)
		req.Write(body)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return "", fmt.Errorf("write the request: %w", err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	return strings.TrimSpace(status), nil
}

func TestPayloadTooLargeReachesClientsThatSendEverythingFirst(t *testing.T) {
	s, _, _ := newLimitServer(t, nil)
	addr := serveLoopback(t, s)
	for _, tc := range []struct {
		size    int
		chunked bool
	}{
		{size: 1<<20 + 1<<17}, // 1.125 MiB
		{size: 4 << 20},
		{size: 8 << 20},
		{size: 4 << 20, chunked: true},
	} {
		t.Run(fmt.Sprintf("%d bytes chunked=%v", tc.size, tc.chunked), func(t *testing.T) {
			for i := range 3 {
				status, err := sendWholeThenRead(addr, tc.size, tc.chunked)
				require.NoError(t, err, "attempt %d", i)
				require.Equal(t, "HTTP/1.1 413 Request Entity Too Large", status, "attempt %d", i)
			}
		})
	}
}

func TestAddressLimits(t *testing.T) {
	t.Run("requests without a valid key are limited by address before authentication", func(t *testing.T) {
		s, _, _ := newLimitServer(t, func(o *Options) { o.AddressRateLimit, o.AddressBurst = 0.001, 3 })
		for i := range 3 {
			w := call(s, "GET", "/api/v1/orders/o-1", "wrong-key", "192.0.2.10:5000", "")
			require.Equal(t, http.StatusUnauthorized, w.Code, "request %d", i)
		}
		w := call(s, "GET", "/api/v1/orders/o-1", "wrong-key", "192.0.2.10:5001", "")
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		require.Equal(t, string(gateway.CodeRateLimited), problemOf(t, w).Code)
		require.NotEmpty(t, w.Header().Get("Retry-After"))
		w = call(s, "GET", "/api/v1/orders/o-1", merchantKey, "192.0.2.11:5000", "")
		require.Equal(t, http.StatusOK, w.Code, "another address goes on")
	})
	t.Run("an address that fails to authenticate too often is refused, and logged without the key", func(t *testing.T) {
		s, _, logs := newLimitServer(t, func(o *Options) { o.AuthFailureRate, o.AuthFailureBurst = 0.001, 3 })
		badKeys := []string{"guess-0001", "guess-0002", "guess-0003"}
		for _, k := range badKeys {
			require.Equal(t, http.StatusUnauthorized, call(s, "GET", "/api/v1/orders/o-1", k, "192.0.2.20:1", "").Code)
		}
		w := call(s, "GET", "/api/v1/orders/o-1", merchantKey, "192.0.2.20:2", "")
		require.Equal(t, http.StatusTooManyRequests, w.Code, "even a valid key from that address waits")
		require.Contains(t, problemOf(t, w).Detail, "failed authentications")
		require.Equal(t, http.StatusOK, call(s, "GET", "/api/v1/orders/o-1", merchantKey, "192.0.2.21:1", "").Code)
		require.Equal(t, http.StatusOK, call(s, "GET", "/api/v1/orders/o-1", merchantKey, "192.0.2.21:1", "").Code,
			"successes take no token")
		out := logs.String()
		require.Equal(t, 1, strings.Count(out, "repeated authentication failures"), out)
		require.Contains(t, out, "clientAddress=192.0.2.20")
		for _, k := range append(badKeys, merchantKey) {
			require.NotContains(t, out, k)
		}
	})
	t.Run("X-Forwarded-For counts only from a trusted proxy", func(t *testing.T) {
		s, _, _ := newLimitServer(t, func(o *Options) {
			o.AddressRateLimit, o.AddressBurst = 0.001, 1
			o.TrustedProxies = []string{"192.0.2.1"}
		})
		fwd := func(remote, client string) int {
			return call(s, "GET", "/healthz", "", remote, "", "X-Forwarded-For", client).Code
		}
		require.Equal(t, http.StatusOK, fwd("192.0.2.1:1", "198.51.100.1"))
		require.Equal(t, http.StatusOK, fwd("192.0.2.1:1", "198.51.100.2"), "another client behind the proxy")
		require.Equal(t, http.StatusTooManyRequests, fwd("192.0.2.1:1", "198.51.100.1"))
		require.Equal(t, http.StatusOK, fwd("192.0.2.99:1", "198.51.100.3"))
		require.Equal(t, http.StatusTooManyRequests, fwd("192.0.2.99:1", "198.51.100.4"),
			"an untrusted peer cannot pose as other clients")
	})
	t.Run("idle buckets are forgotten", func(t *testing.T) {
		now := time.Unix(0, 0)
		l := NewRateLimiter(1, 2, func() time.Time { return now })
		for i := range 100 {
			l.Allow(fmt.Sprint("addr-", i))
		}
		now = now.Add(2 * time.Minute)
		l.Allow("fresh")
		l.mu.Lock()
		defer l.mu.Unlock()
		require.Len(t, l.buckets, 1)
	})
}

func TestEventStreamLimits(t *testing.T) {
	s, st, _ := newLimitServer(t, func(o *Options) { o.MaxStreamsPerKey = 1 })
	_, _, err := st.AppendEvent(gateway.Event{Name: "OrderCreated", TxID: "tx1", BlockNumber: 5, Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	addr := serveLoopback(t, s)
	open := func(key string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return res
	}
	first := open(merchantKey)
	require.Equal(t, http.StatusOK, first.StatusCode)
	second := open(merchantKey)
	require.Equal(t, http.StatusTooManyRequests, second.StatusCode)
	body, _ := io.ReadAll(second.Body)
	require.Contains(t, string(body), "open event streams")
	second.Body.Close()
	other := open(bankKey)
	require.Equal(t, http.StatusOK, other.StatusCode, "the cap is per key")
	other.Body.Close()
	first.Body.Close()
	require.Eventually(t, func() bool {
		res := open(merchantKey)
		defer res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "a closed stream frees its place")

	t.Run("Last-Event-ID beyond the feed's head is refused naming the header", func(t *testing.T) {
		s, st, _ := newLimitServer(t, nil)
		_, _, err := st.AppendEvent(gateway.Event{Name: "OrderCreated", TxID: "tx1", BlockNumber: 5, Payload: json.RawMessage(`{}`)})
		require.NoError(t, err)
		for _, tc := range []struct{ field, header, query string }{
			{"Last-Event-ID", "9-0", ""},
			{"after", "", "?after=5-1"},
		} {
			var headers []string
			if tc.header != "" {
				headers = []string{"Last-Event-ID", tc.header}
			}
			w := call(s, "GET", "/api/v1/events"+tc.query, bankKey, "192.0.2.30:1", "", headers...)
			require.Equal(t, http.StatusBadRequest, w.Code)
			p := problemOf(t, w)
			require.Equal(t, tc.field, p.Field)
			require.Contains(t, p.Detail, "beyond the newest event")
		}
	})
}

func TestResponseHeadersAndMethods(t *testing.T) {
	s, _, _ := newLimitServer(t, nil)
	t.Run("API answers are never cached", func(t *testing.T) {
		for _, tc := range []struct{ method, target, key, body string }{
			{"GET", "/api/v1/orders/o-1", merchantKey, ""},
			{"POST", "/api/v1/orders", merchantKey, validOrder},
			{"GET", "/api/v1/orders/o-1", "", ""},
			{"GET", "/api/v1/nowhere", merchantKey, ""},
		} {
			w := call(s, tc.method, tc.target, tc.key, "192.0.2.40:1", tc.body)
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"), "%s %s: %d", tc.method, tc.target, w.Code)
		}
	})
	t.Run("a wrong method is 405 with Allow", func(t *testing.T) {
		for _, tc := range []struct{ method, target, allow string }{
			{"DELETE", "/api/v1/orders/o-1", "GET"},
			{"PUT", "/api/v1/orders/o-1/payment", "POST"},
			{"DELETE", "/api/v1/compliance/rules", "GET, PUT"},
		} {
			w := call(s, tc.method, tc.target, merchantKey, "192.0.2.41:1", "")
			require.Equal(t, http.StatusMethodNotAllowed, w.Code, tc.target)
			require.ElementsMatch(t, strings.Split(tc.allow, ", "), strings.Split(w.Header().Get("Allow"), ", "), tc.target)
			require.Equal(t, string(gateway.CodeMethodNotAllowed), problemOf(t, w).Code)
		}
		require.Equal(t, http.StatusNotFound, call(s, "GET", "/api/v1/nowhere", merchantKey, "192.0.2.41:1", "").Code)
	})
}

func TestMetricsAccess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		access MetricsAccess
		want   map[string]int // by key ("" for none)
	}{
		{"open by default", MetricsAccess{}, map[string]int{"": 200, merchantKey: 200}},
		{"any key", MetricsAccess{RequireKey: true}, map[string]int{"": 401, merchantKey: 200, bankKey: 200}},
		{"listed keys", MetricsAccess{RequireKey: true, KeyIDs: []string{"k-bank"}}, map[string]int{"": 401, merchantKey: 403, bankKey: 200}},
		{"on another listener", MetricsAccess{Elsewhere: true}, map[string]int{"": 404, bankKey: 404}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newLimitServer(t, func(o *Options) { o.Metrics = tc.access })
			for key, status := range tc.want {
				w := call(s, "GET", "/metrics", key, "192.0.2.50:1", "")
				require.Equal(t, status, w.Code, "key %q", key)
				if status == 200 {
					require.Contains(t, w.Body.String(), "xborder_http_auth_failures_total")
				}
			}
			w := httptest.NewRecorder()
			s.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
			require.Equal(t, http.StatusOK, w.Code)
			require.Contains(t, w.Body.String(), "xborder_http_auth_failures_total")
		})
	}
}
