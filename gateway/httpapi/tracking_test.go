package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
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

// recordingLedger answers every call with a fixed result and records who called what. It
// stands in for the Fabric network, which these HTTP-layer tests do not run (internal/devapp's
// end-to-end tests do).
type recordingLedger struct {
	mu      sync.Mutex
	callers []gateway.Caller
	invs    []gateway.Invocation
	result  []byte
}

func (l *recordingLedger) record(caller gateway.Caller, inv gateway.Invocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.callers = append(l.callers, caller)
	l.invs = append(l.invs, inv)
}

func (l *recordingLedger) last() (gateway.Caller, gateway.Invocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.callers[len(l.callers)-1], l.invs[len(l.invs)-1]
}

func (l *recordingLedger) Submit(_ context.Context, caller gateway.Caller, inv gateway.Invocation, _ ...gateway.SubmitOption) (*gateway.SubmitResult, error) {
	l.record(caller, inv)
	return &gateway.SubmitResult{TxID: strings.Repeat("ab", 32), Payload: l.result, Committed: true, Attempts: 1}, nil
}

func (l *recordingLedger) Evaluate(_ context.Context, caller gateway.Caller, inv gateway.Invocation) ([]byte, error) {
	l.record(caller, inv)
	return l.result, nil
}

func (l *recordingLedger) TransactionStatus(context.Context, gateway.Caller, string) (*gateway.TxStatus, error) {
	return nil, gateway.Errorf(gateway.CodeNotFound, "unknown")
}

func (l *recordingLedger) Ready(context.Context) error { return nil }

func (l *recordingLedger) Organizations() []string {
	return []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP"}
}

const publicOrder = `{"orderId":"o-1","merchantId":"m-1","status":"DELIVERED","version":8,"currency":"USD","total":3000,` +
	`"buyer":{"id":"b-1","country":"US"},"items":[{"sku":"s"}],"escrow":{"amount":3000,"released":0,"refunded":0},"txId":"t"}`

// trackingServer is the HTTP layer over a recordingLedger and a real store, its tracking calls
// signed as CarrierMSP with a bucket of 3 requests per address.
func trackingServer(t *testing.T) (*Server, *recordingLedger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	l := &recordingLedger{result: []byte(publicOrder)}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	srv, err := New(Options{Spec: api.OpenAPI, Ledger: l, Idempotency: st, Events: st,
		Keys:      []APIKey{{ID: "k-merchant", MSPID: "MerchantMSP", User: "m", SHA256: hashOf(merchantKey)}},
		RateLimit: 1e6, Burst: 1 << 20, Now: func() time.Time { return now },
		Tracking: TrackingOptions{Org: "CarrierMSP", RateLimit: 1, Burst: 3}})
	require.NoError(t, err)
	return srv, l, path
}

func serve(h http.Handler, method, target, remote, body string, headers ...string) *httptest.ResponseRecorder {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestTrackingEndpoints: a tracking token works without an API key; the gateway sends its hash,
// signs with its tracking identity, limits each client address (forwarded-for headers do not
// help) and answers a statement with the public progress only.
func TestTrackingEndpoints(t *testing.T) {
	srv, l, _ := trackingServer(t)
	h := srv.Handler()
	token, err := gateway.NewCapabilityToken()
	require.NoError(t, err)

	w := serve(h, http.MethodGet, "/api/v1/track/"+token, "192.0.2.1:4000", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	caller, inv := l.last()
	require.Equal(t, "CarrierMSP", caller.MSPID)
	require.Equal(t, "GetTrackingView", inv.Transaction)
	require.Equal(t, [][]byte{[]byte(gateway.CapabilityHash(token))}, inv.Args)

	w = serve(h, http.MethodGet, "/api/v1/track/not-a-token", "192.0.2.1:4000", "")
	require.Equal(t, http.StatusNotFound, w.Code, w.Body.String())

	sig := strings.Repeat("A", 86)
	w = serve(h, http.MethodPost, "/api/v1/track/"+token+"/statements", "192.0.2.1:4000", `{"statement":"s","signature":"`+sig+`"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"orderId":"o-1","status":"DELIVERED","version":8,"currency":"USD","total":3000,"escrow":{"amount":3000,"released":0,"refunded":0},"txId":"t"}`, w.Body.String())
	caller, inv = l.last()
	require.Equal(t, "CarrierMSP", caller.MSPID)
	require.Equal(t, "SubmitBuyerStatement", inv.Transaction)
	require.JSONEq(t, `{"statement":"s","signature":"`+sig+`","trackingTokenHash":"`+gateway.CapabilityHash(token)+`"}`, string(inv.Args[0]))

	// The bucket of 3 is empty for this address, also behind a forged X-Forwarded-For.
	w = serve(h, http.MethodGet, "/api/v1/track/"+token, "192.0.2.1:5000", "", "X-Forwarded-For", "198.51.100.7")
	require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	w = serve(h, http.MethodGet, "/api/v1/track/"+token, "192.0.2.2:4000", "")
	require.Equal(t, http.StatusOK, w.Code, "another address has its own bucket")
	// API keys are not rate-limited by the tracking bucket.
	w = serve(h, http.MethodGet, "/api/v1/orders/o-1", "192.0.2.1:4000", "", "Authorization", "Bearer "+merchantKey)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// holds reports whether raw contains s as is or base64-encoded (how encoding/json stores a
// []byte such as a stored answer) at any alignment.
func holds(raw []byte, s string) bool {
	if bytes.Contains(raw, []byte(s)) {
		return true
	}
	for shift := range 3 {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, shift), s...))
		if bytes.Contains(raw, []byte(enc[4:len(enc)-4])) {
			return true
		}
	}
	return false
}

// TestTrackingTokenNeverStored: the creation's answer carries the token once; the gateway's
// store keeps the answer for the Idempotency-Key without it, and a replay answers without it.
func TestTrackingTokenNeverStored(t *testing.T) {
	srv, l, path := trackingServer(t)
	h := srv.Handler()
	// An order without the buyer's key asks for its link.
	body := strings.Replace(validOrder, `"shippingFee":500`, `"shippingFee":500,"trackingLink":true`, 1)
	w := serve(h, http.MethodPost, "/api/v1/orders", "192.0.2.1:4000", body, "Authorization", "Bearer "+merchantKey, "Idempotency-Key", "create-1")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var answer map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &answer))
	token, _ := answer["trackingToken"].(string)
	require.True(t, gateway.ValidCapabilityToken(token), "answer %s", w.Body.String())
	require.Equal(t, "/track/"+token, answer["trackingUrl"])
	_, inv := l.last()
	require.Contains(t, string(inv.Args[0]), gateway.CapabilityHash(token))
	require.NotContains(t, string(inv.Args[0]), token)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, holds(raw, `"merchantId":"m-1"`), "the store keeps the answer (the search finds it)")
	require.False(t, holds(raw, token), "the store keeps no token")
	replay := serve(h, http.MethodPost, "/api/v1/orders", "192.0.2.1:4000", body, "Authorization", "Bearer "+merchantKey, "Idempotency-Key", "create-1")
	require.Equal(t, http.StatusCreated, replay.Code)
	require.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
	require.NotContains(t, replay.Body.String(), token)
	require.NotContains(t, replay.Body.String(), `"trackingToken":`)

	// An order that asks for no link, as every order written before links existed, is
	// answered and replayed byte for byte the same.
	w = serve(h, http.MethodPost, "/api/v1/orders", "192.0.2.1:4000", validOrder, "Authorization", "Bearer "+merchantKey, "Idempotency-Key", "create-2")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.NotContains(t, w.Body.String(), "tracking")
	_, inv = l.last()
	require.NotContains(t, string(inv.Args[0]), "tracking")
	replay = serve(h, http.MethodPost, "/api/v1/orders", "192.0.2.1:4000", validOrder, "Authorization", "Bearer "+merchantKey, "Idempotency-Key", "create-2")
	require.Equal(t, w.Body.String(), replay.Body.String())
}

// TestTrackPage: the buyer's page is served without a key, loads nothing from elsewhere, runs
// only its own script (allowed by hash) and sends no referrer.
func TestTrackPage(t *testing.T) {
	srv, _, _ := trackingServer(t)
	token, err := gateway.NewCapabilityToken()
	require.NoError(t, err)
	w := serve(srv.Handler(), http.MethodGet, "/track/"+token, "192.0.2.1:4000", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
	csp := w.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "connect-src 'self'")
	sum := sha256.Sum256([]byte(trackPageJS))
	require.Contains(t, csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	body := w.Body.String()
	require.Contains(t, body, "<script>"+trackPageJS+"</script>")
	require.NotContains(t, body, "{{")
	for _, external := range []string{"http://", "https://", "src=", "<link"} {
		require.NotContains(t, body, external)
	}
	require.Contains(t, body, `lang="en"`)
	require.Contains(t, body, `<label for="key">`)
	require.Contains(t, trackPageJS, `"xborder-buyer-statement/v1"`, "the page signs the documented form")
}
