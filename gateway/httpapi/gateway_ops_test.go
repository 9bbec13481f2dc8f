package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

// noLedger is the ledger of tests of operations that the gateway answers itself (who the
// caller is, tickets, CORS, pages): they never reach it, and any call fails the test's request.
// The operations that do reach the ledger are tested against the devnet (internal/consoletest).
type noLedger struct{ orgs []string }

var errNoLedger = errors.New("this test has no ledger")

func (noLedger) Submit(context.Context, gateway.Caller, gateway.Invocation, ...gateway.SubmitOption) (*gateway.SubmitResult, error) {
	return nil, errNoLedger
}

func (noLedger) Evaluate(context.Context, gateway.Caller, gateway.Invocation) ([]byte, error) {
	return nil, errNoLedger
}

func (noLedger) TransactionStatus(context.Context, gateway.Caller, string) (*gateway.TxStatus, error) {
	return nil, errNoLedger
}

func (noLedger) Ready(context.Context) error { return errNoLedger }

func (l noLedger) Organizations() []string { return l.orgs }

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type opsEnv struct {
	t     *testing.T
	h     http.Handler
	clock *clock
	st    *store.Store
	logs  *syncBuffer
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p) //nolint:wrapcheck // strings.Builder never fails
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	carrierKey = "carrier-secret"
	customsKey = "customs-secret"
)

func newOpsEnv(t *testing.T, console bool) *opsEnv {
	st, err := store.Open(t.TempDir() + "/gateway.db")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	opts := Options{Spec: api.OpenAPI, Ledger: noLedger{orgs: []string{"CarrierMSP", "CustomsMSP"}}, Idempotency: st, Events: st,
		Keys: []APIKey{
			{ID: "k-carrier", MSPID: "CarrierMSP", User: "dispatch", SHA256: hashOf(carrierKey)},
			{ID: "k-customs", MSPID: "CustomsMSP", User: "officer", SHA256: hashOf(customsKey)},
		},
		RateLimit: 1e6, Burst: 1 << 20, MaxBodyBytes: 1 << 20, Now: clk.Now, KeysHint: "ask the operator",
		AllowedOrigins: []string{"https://portal.example"}, KeepAlive: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if console {
		opts.Console = fstest.MapFS{
			"index.html":  {Data: []byte("<!doctype html><title>console</title>")},
			"js/main.js":  {Data: []byte("export {};")},
			"css/app.css": {Data: []byte("body{}")},
		}
	}
	srv, err := New(opts)
	require.NoError(t, err)
	return &opsEnv{t: t, h: srv.Handler(), clock: clk, st: st, logs: logs}
}

func (e *opsEnv) do(method, target, key string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), "body: %s", w.Body)
	return m
}

func TestMe(t *testing.T) {
	e := newOpsEnv(t, false)
	w := e.do("GET", "/api/v1/me", carrierKey)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var me meAnswer
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &me))
	require.Equal(t, "CarrierMSP", me.MSPID)
	require.Equal(t, "dispatch", me.User)
	require.Equal(t, "k-carrier", me.KeyID)
	require.Contains(t, me.Operations, "registerWaybill")
	require.Contains(t, me.Operations, "recordCheckpoint")
	require.Contains(t, me.Operations, "getMe")
	require.NotContains(t, me.Operations, "escrowPayment")
	require.NotContains(t, me.Operations, "listComplianceAlerts")
	require.NotContains(t, me.Operations, "healthz", "public operations need no permission")

	w = e.do("GET", "/api/v1/me", "")
	require.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestSpecDeclaresCallers(t *testing.T) {
	spec, err := LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	require.NoError(t, spec.checkCallers())
	bad := strings.Replace(string(api.OpenAPI), "x-xborder-callers: [CustomsMSP]", "x-other: [CustomsMSP]", 1)
	spec, err = LoadSpec([]byte(bad))
	require.NoError(t, err)
	require.ErrorContains(t, spec.checkCallers(), "declares no x-xborder-callers")
}

func TestEventTickets(t *testing.T) {
	e := newOpsEnv(t, false)
	var issued []string
	defer func() {
		logs := e.logs.String()
		require.Contains(t, logs, "/api/v1/events", "the requests were logged")
		for _, tok := range issued {
			require.NotContains(t, logs, tok, "a ticket must never be logged")
		}
	}()
	issue := func(t *testing.T) string {
		w := e.do("POST", "/api/v1/events/tickets", carrierKey)
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
		require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		m := decode(t, w)
		tok, _ := m["ticket"].(string)
		require.True(t, strings.HasPrefix(tok, ticketPrefix))
		issued = append(issued, tok)
		require.Equal(t, "/api/v1/events?ticket="+tok, m["streamUrl"])
		require.Equal(t, e.clock.Now().Add(TicketTTL).UTC().Format(time.RFC3339), m["expiresAt"])
		return tok
	}
	t.Run("a ticket opens the event stream once", func(t *testing.T) {
		tok := issue(t)
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequest("GET", "/api/v1/events?ticket="+tok, nil).WithContext(ctx)
		w := newStreamRecorder()
		done := make(chan struct{})
		go func() { e.h.ServeHTTP(w, req); close(done) }()
		w.waitFor(t, "retry: 2000")
		cancel()
		<-done
		require.Equal(t, http.StatusOK, w.status())
		again := e.do("GET", "/api/v1/events?ticket="+tok, "")
		require.Equal(t, http.StatusUnauthorized, again.Code)
		require.Contains(t, decode(t, again)["detail"], "single-use")
	})
	t.Run("an expired ticket is refused", func(t *testing.T) {
		tok := issue(t)
		e.clock.advance(TicketTTL)
		w := e.do("GET", "/api/v1/events?ticket="+tok, "")
		require.Equal(t, http.StatusUnauthorized, w.Code)
	})
	t.Run("a ticket is good for the event stream only, and is not used up elsewhere", func(t *testing.T) {
		tok := issue(t)
		w := e.do("GET", "/api/v1/me?ticket="+tok, "")
		require.Equal(t, http.StatusUnauthorized, w.Code)
		require.Contains(t, decode(t, w)["detail"], "GET /api/v1/events only")
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequest("GET", "/api/v1/events?ticket="+tok, nil).WithContext(ctx)
		s := newStreamRecorder()
		done := make(chan struct{})
		go func() { e.h.ServeHTTP(s, req); close(done) }()
		s.waitFor(t, "retry: 2000")
		cancel()
		<-done
	})
	t.Run("a ticket is not an API key", func(t *testing.T) {
		tok := issue(t)
		w := e.do("GET", "/api/v1/me", tok)
		require.Equal(t, http.StatusUnauthorized, w.Code)
	})
	t.Run("an unknown ticket is refused", func(t *testing.T) {
		w := e.do("GET", "/api/v1/events?ticket=xbt_forged", "")
		require.Equal(t, http.StatusUnauthorized, w.Code)
	})
}

func TestTicketStoreBoundsUnusedTickets(t *testing.T) {
	clk := &clock{now: time.Unix(0, 0)}
	ts := NewTicketStore(time.Minute, clk.Now)
	caller := gateway.Caller{KeyID: "k", MSPID: "CarrierMSP"}
	for range maxTicketsPerKey {
		_, _, err := ts.Issue(caller)
		require.NoError(t, err)
	}
	_, _, err := ts.Issue(caller)
	require.Equal(t, gateway.CodeRateLimited, gateway.ErrorCode(err))
	_, _, err = ts.Issue(gateway.Caller{KeyID: "other"})
	require.NoError(t, err, "another key has its own bound")
	clk.advance(time.Minute)
	_, _, err = ts.Issue(caller)
	require.NoError(t, err, "expired tickets are forgotten")
}

func TestCORSPreflightRefusalSaysHowToAllow(t *testing.T) {
	e := newOpsEnv(t, false)
	w := e.do("OPTIONS", "/api/v1/orders", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "GET")
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Equal(t, ProblemContentType, w.Header().Get("Content-Type"))
	p := decode(t, w)
	require.Equal(t, "FORBIDDEN", p["code"])
	require.Equal(t, "Origin", p["field"])
	detail, _ := p["detail"].(string)
	for _, want := range []string{"https://shop.example", "--cors-origins", "XBORDER_CORS_ORIGINS", "cors.allowedOrigins"} {
		require.Contains(t, detail, want)
	}
	w = e.do("OPTIONS", "/api/v1/orders", "", "Origin", "https://portal.example", "Access-Control-Request-Method", "GET")
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Equal(t, "https://portal.example", w.Header().Get("Access-Control-Allow-Origin"))
}

func TestLandingAndIndex(t *testing.T) {
	for _, console := range []bool{false, true} {
		e := newOpsEnv(t, console)
		w := e.do("GET", "/", "")
		require.Equal(t, http.StatusOK, w.Code)
		require.Contains(t, w.Header().Get("Content-Type"), "text/html")
		page := w.Body.String()
		for _, link := range []string{`href="/docs"`, `href="/healthz"`, `href="/api/v1"`, "ask the operator"} {
			require.Contains(t, page, link)
		}
		require.Equal(t, console, strings.Contains(page, `href="/console/"`))

		w = e.do("GET", "/api/v1", "")
		require.Equal(t, http.StatusOK, w.Code)
		idx := decode(t, w)
		links, _ := idx["links"].(map[string]any)
		require.Equal(t, "/docs", links["docs"])
		require.Equal(t, console, links["console"] == "/console/")
		require.Equal(t, "ask the operator", idx["keys"])
		ops, _ := idx["operations"].([]any)
		require.NotEmpty(t, ops)
	}
}

func TestDocsServeSwaggerUIOffline(t *testing.T) {
	e := newOpsEnv(t, false)
	w := e.do("GET", "/docs", "")
	require.Equal(t, http.StatusOK, w.Code)
	csp := w.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-eval")
	page := w.Body.String()
	require.NotContains(t, page, "http://")
	require.NotContains(t, page, "https://")
	for _, asset := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "docs-init.js", "docs.css"} {
		require.Contains(t, page, docsAssets+"/"+asset)
		a := e.do("GET", docsAssets+"/"+asset, "")
		require.Equal(t, http.StatusOK, a.Code, asset)
		require.Positive(t, a.Body.Len(), asset)
	}
	init := e.do("GET", docsAssets+"/docs-init.js", "").Body.String()
	require.Contains(t, init, `url: "/openapi.yaml"`)
	require.Contains(t, init, "validatorUrl: null")
	require.Equal(t, http.StatusNotFound, e.do("GET", docsAssets+"/", "").Code)
	require.Equal(t, http.StatusNotFound, e.do("GET", docsAssets+"/missing.js", "").Code)
}

func TestConsoleFiles(t *testing.T) {
	e := newOpsEnv(t, true)
	w := e.do("GET", "/console/", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "<title>console</title>")
	require.Contains(t, w.Header().Get("Content-Security-Policy"), "connect-src 'self'")
	require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
	w = e.do("GET", "/console/js/main.js", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Header().Get("Content-Type"), "javascript", "ES modules need a JavaScript type")
	w = e.do("GET", "/console", "")
	require.Equal(t, http.StatusMovedPermanently, w.Code)
	require.Equal(t, "/console/", w.Header().Get("Location"))
	require.Equal(t, http.StatusNotFound, e.do("GET", "/console/js/", "").Code, "no directory listings")
	require.Equal(t, http.StatusNotFound, e.do("GET", "/console/nope.js", "").Code)

	e = newOpsEnv(t, false)
	require.Equal(t, http.StatusNotFound, e.do("GET", "/console/", "").Code)
}

// streamRecorder is a ResponseRecorder safe to read while the handler writes (SSE).
type streamRecorder struct {
	mu   sync.Mutex
	rec  *httptest.ResponseRecorder
	more chan struct{}
}

func newStreamRecorder() *streamRecorder {
	return &streamRecorder{rec: httptest.NewRecorder(), more: make(chan struct{}, 1)}
}

func (s *streamRecorder) Header() http.Header { return s.rec.Header() }

func (s *streamRecorder) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.rec.Write(b)
	select {
	case s.more <- struct{}{}:
	default:
	}
	return n, err //nolint:wrapcheck // a ResponseWriter passes errors through unchanged
}

func (s *streamRecorder) WriteHeader(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.WriteHeader(code)
}

func (s *streamRecorder) Flush() {}

func (s *streamRecorder) status() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Code
}

func (s *streamRecorder) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		body := s.rec.Body.String()
		s.mu.Unlock()
		if strings.Contains(body, text) {
			return
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("the stream did not send %q; got %q", text, body)
		}
	}
}
