package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/store"
)

// recordingLedger stands in for the Fabric network behind the HTTP layer in the fuzz targets:
// a fuzzer needs thousands of requests a second, and the property under test is what the HTTP
// layer lets through to the ledger. It records the last invocation and answers like the
// chaincode would for a successful call.
type recordingLedger struct {
	mu   sync.Mutex
	last *gateway.Invocation
}

func (l *recordingLedger) Submit(_ context.Context, _ gateway.Caller, inv gateway.Invocation, _ ...gateway.SubmitOption) (*gateway.SubmitResult, error) {
	l.mu.Lock()
	l.last = &inv
	l.mu.Unlock()
	return &gateway.SubmitResult{TxID: strings.Repeat("ab", 32), Payload: []byte(`{"orderId":"o-1","sha256":"` + strings.Repeat("cd", 32) + `"}`), Committed: true, BlockNumber: 7, Attempts: 1}, nil
}

func (l *recordingLedger) Evaluate(context.Context, gateway.Caller, gateway.Invocation) ([]byte, error) {
	return []byte(`{"items":[],"bookmark":""}`), nil
}

func (l *recordingLedger) TransactionStatus(_ context.Context, _ gateway.Caller, txID string) (*gateway.TxStatus, error) {
	return nil, gateway.Errorf(gateway.CodeNotFound, "transaction %s not found", txID)
}

func (l *recordingLedger) Ready(context.Context) error { return nil }

func (l *recordingLedger) Organizations() []string { return allOrgs }

func (l *recordingLedger) take() *gateway.Invocation {
	l.mu.Lock()
	defer l.mu.Unlock()
	inv := l.last
	l.last = nil
	return inv
}

// fuzzServer is the real HTTP layer (router, auth, validation against the OpenAPI contract,
// idempotency store) over a recordingLedger.
type fuzzServer struct {
	handler http.Handler
	ledger  *recordingLedger
	keys    map[string]string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	st, err := store.Open(filepath.Join(f.TempDir(), "gateway.db"))
	require.NoError(f, err)
	f.Cleanup(func() { _ = st.Close() })
	led := &recordingLedger{}
	keys := map[string]string{}
	var apiKeys []httpapi.APIKey
	for _, org := range allOrgs {
		keys[org] = "fuzz-key-" + org
		apiKeys = append(apiKeys, httpapi.APIKey{ID: "k-" + org, MSPID: org, User: "fuzz", SHA256: config.HashKey(keys[org])})
	}
	srv, err := httpapi.New(httpapi.Options{Spec: api.OpenAPI, Ledger: led, Idempotency: st, Events: st, Keys: apiKeys,
		RateLimit: 1e9, Burst: 1 << 30, MaxBodyBytes: 1 << 20})
	require.NoError(f, err)
	return &fuzzServer{handler: srv.Handler(), ledger: led, keys: keys}
}

func (s *fuzzServer) serve(org, method, target string, body []byte) *httptest.ResponseRecorder {
	var req *http.Request
	if body != nil {
		req = httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.Header.Set("Authorization", "Bearer "+s.keys[org])
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, req)
	return w
}

// checkAnswer is the property of every answer: a 2xx, or a 4xx problem+json with a code, a
// detail and (for INVALID_ARGUMENT) the field at fault; never a 5xx (a recovered panic answers
// 500 INTERNAL). body is the request body.
// A body that is valid JSON but not an object ([], null, "s", 1) names "body"; an unknown
// property with an empty name names body[""].
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, what string, body []byte) {
	t.Helper()
	if w.Code >= 200 && w.Code < 300 {
		return
	}
	require.True(t, w.Code >= 400 && w.Code < 500, "%s: status %d: %s", what, w.Code, w.Body)
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), "%s: %s", what, w.Body)
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
		Field  string `json:"field"`
		Title  string `json:"title"`
		Type   string `json:"type"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), "%s: %s", what, w.Body)
	require.Equal(t, w.Code, p.Status, "%s: %s", what, w.Body)
	require.NotEmpty(t, p.Code, "%s: %s", what, w.Body)
	require.NotEmpty(t, p.Detail, "%s: %s", what, w.Body)
	require.NotEmpty(t, p.Title, "%s: %s", what, w.Body)
	require.NotEmpty(t, p.Type, "%s: %s", what, w.Body)
	if p.Code == "INVALID_ARGUMENT" {
		require.NotEmpty(t, p.Field, "%s: a rejection must name the field: %s", what, w.Body)
	}
}

// checkInvocation requires that an accepted write reached the ledger as one JSON object
// argument without any private field.
func checkInvocation(t *testing.T, inv *gateway.Invocation, what string) {
	t.Helper()
	require.NotNil(t, inv, "%s: accepted without a transaction", what)
	require.Len(t, inv.Args, 1, what)
	var arg map[string]any
	require.NoError(t, json.Unmarshal(inv.Args[0], &arg), "%s: argument is not a JSON object: %s", what, inv.Args[0])
	op, ok := gateway.OperationByTransaction(inv.Transaction)
	require.True(t, ok, "%s: unknown transaction %s", what, inv.Transaction)
	if op.Private != nil {
		for _, f := range op.Private.Fields {
			obj := arg
			name := f.Request
			if o, n, ok := strings.Cut(f.Request, "."); ok {
				sub, _ := arg[o].(map[string]any)
				obj, name = sub, n
			}
			_, leaked := obj[name]
			require.False(t, leaked, "%s: private field %s is in the public argument: %s", what, f.Request, inv.Args[0])
		}
	}
	for k, v := range inv.Transient {
		require.True(t, json.Valid(v), "%s: transient %s is not JSON", what, k)
	}
}

func seedJSON(f *testing.F, v any) []byte {
	f.Helper()
	b, err := json.Marshal(v)
	require.NoError(f, err)
	return b
}

// FuzzCreateOrder fuzzes the body of POST /api/v1/orders through the real router and
// validation. Run: go test -run '^$' -fuzz FuzzCreateOrder ./reliability
func FuzzCreateOrder(f *testing.F) {
	s := newFuzzServer(f)
	spec := newOrderSpec("fz-1", "merchant-1", 2, 1250, 500)
	valid := spec.CreateBody()
	f.Add(seedJSON(f, valid))
	for _, mut := range []func(m map[string]any){
		func(m map[string]any) { m["shippingFee"] = "500" },
		func(m map[string]any) { m["shippingFee"] = -1 },
		func(m map[string]any) { m["shippingFee"] = 1.5 },
		func(m map[string]any) { m["shippingFee"] = 1e300 },
		func(m map[string]any) { m["total"] = 1 },
		func(m map[string]any) { m["buyer"] = "x" },
		func(m map[string]any) { m["buyer"].(map[string]any)["email"] = "x@y" },
		func(m map[string]any) { delete(m["buyer"].(map[string]any), "name") },
		func(m map[string]any) { m["currency"] = "usd" },
		func(m map[string]any) { m["items"] = []any{} },
		func(m map[string]any) {
			m["items"] = []any{map[string]any{"sku": "", "quantity": 9223372036854775807, "unitPrice": 2}}
		},
		func(m map[string]any) { m["orderId"] = strings.Repeat("é", 300) },
		func(m map[string]any) { m["consigneeSalt"] = strings.Repeat("5a", 16) },
		func(m map[string]any) { m["items"] = nil },
	} {
		m := newOrderSpec("fz-1", "merchant-1", 2, 1250, 500).CreateBody()
		mut(m)
		f.Add(seedJSON(f, m))
	}
	for _, raw := range []string{``, `{}`, `[]`, `null`, `{"orderId":`, `{"orderId":"a","orderId":"b"}`, "{\"orderId\":\"\x00\"}", `{"items":[{"quantity":1e999}]}`, `"str"`, `1`, `{"buyer":{"name":{"nested":[]}}}`} {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := s.serve(merchant, "POST", "/api/v1/orders", body)
		checkAnswer(t, w, "POST /api/v1/orders", body)
		inv := s.ledger.take()
		if w.Code == http.StatusCreated {
			checkInvocation(t, inv, "POST /api/v1/orders")
		} else {
			require.Nil(t, inv, "a refused request reached the ledger: %s", w.Body)
		}
	})
}

// writeTargets are the order write operations: path suffix (after /api/v1/orders/{id}) and
// the organisation allowed to call it.
var writeTargets = []struct{ suffix, org string }{
	{"/payment", bank}, {"/waybill", carrier}, {"/customs/declaration", merchant}, {"/customs/decision", customs},
	{"/checkpoints", carrier}, {"/delivery-confirmation", bank}, {"/release", bank}, {"/disputes", bank},
	{"/disputes/resolution", bank}, {"/cancellation", merchant},
}

// FuzzOrderWrites fuzzes the path ID and the body of every order write. Run:
// go test -run '^$' -fuzz FuzzOrderWrites ./reliability
func FuzzOrderWrites(f *testing.F) {
	s := newFuzzServer(f)
	spec := newOrderSpec("fz-2", "merchant-1", 1, 100, 0)
	seeds := [][]byte{
		seedJSON(f, spec.PaymentBody("p-1")), seedJSON(f, spec.WaybillBody()), seedJSON(f, spec.DeclarationBody()),
		seedJSON(f, map[string]any{"decision": "CLEARED", "dutyAmount": 1, "taxAmount": 2}),
		seedJSON(f, map[string]any{"code": "PICKED_UP", "location": "X", "documentHash": strings.Repeat("ab", 32)}),
		nil, []byte(`{}`), seedJSON(f, map[string]any{"reason": "r"}), seedJSON(f, map[string]any{"refundAmount": 0}),
		seedJSON(f, map[string]any{"payerAmount": -5, "fxRate": "0.123456789"}), []byte(`{"fxRate":"1e5"}`),
	}
	for i, b := range seeds {
		f.Add(uint8(i), "fz-2", b)
		f.Add(uint8(i+3), "fz-2", b)
	}
	f.Add(uint8(0), "bad id", []byte(`{}`))
	f.Add(uint8(1), "%2e%2e", []byte(`{}`))
	f.Add(uint8(2), strings.Repeat("x", 200), []byte(`{}`))
	f.Fuzz(func(t *testing.T, which uint8, id string, body []byte) {
		target := writeTargets[int(which)%len(writeTargets)]
		path := "/api/v1/orders/" + escapePathSegment(id) + target.suffix
		if len(body) == 0 {
			body = nil
		}
		w := s.serve(target.org, "POST", path, body)
		what := fmt.Sprintf("POST %s", path)
		checkAnswer(t, w, what, body)
		inv := s.ledger.take()
		if w.Code >= 200 && w.Code < 300 {
			checkInvocation(t, inv, what)
		} else {
			require.Nil(t, inv, "%s: a refused request reached the ledger: %s", what, w.Body)
		}
	})
}

// escapePathSegment percent-encodes everything but unreserved characters, so that the fuzzed
// ID stays one path segment of a valid URL.
func escapePathSegment(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// FuzzQueries fuzzes the query strings of the list and report endpoints. Run:
// go test -run '^$' -fuzz FuzzQueries ./reliability
func FuzzQueries(f *testing.F) {
	s := newFuzzServer(f)
	for _, q := range []string{
		"pageSize=5", "pageSize=0", "pageSize=-1", "pageSize=99999999999999999999", "status=LOST", "status=PAID&merchantId=m-1",
		"bookmark=***", "bookmark=AAAA", "merchantId=%00", "from=2026-01-01&to=2026-12-31&merchantId=m&currency=USD",
		"from=2026-13-01&to=2026-12-31&merchantId=m", "from=x", "currency=usd&merchantId=m", "a=b&a=c", "%zz",
	} {
		for i := range 3 {
			f.Add(uint8(i), q)
		}
	}
	paths := []struct{ path, org string }{{"/api/v1/orders", merchant}, {"/api/v1/settlements", bank}, {"/api/v1/compliance/alerts", customs}}
	f.Fuzz(func(t *testing.T, which uint8, query string) {
		p := paths[int(which)%len(paths)]
		target := p.path + "?" + query
		req, err := http.NewRequest("GET", "http://x"+target, nil)
		if err != nil {
			return // not a URL a client could send
		}
		uri := req.URL.RequestURI()
		if strings.ContainsFunc(uri, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return // an HTTP request line cannot carry it
		}
		w := s.serve(p.org, "GET", uri, nil)
		checkAnswer(t, w, "GET "+target, nil)
		require.Nil(t, s.ledger.take(), "a query made a transaction")
	})
}
