package devapp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/devapp"
	"github.com/xborder/xborder/gateway/httpapi"
)

const (
	merchant = "MerchantMSP"
	bank     = "BankMSP"
	carrier  = "CarrierMSP"
	customs  = "CustomsMSP"
)

// env is a running `xborder dev` and an HTTP client that checks every answer against the spec.
type env struct {
	t       *testing.T
	dataDir string
	origins []string
	app     *devapp.App
	spec    *httpapi.Spec
	routes  []route
}

type route struct {
	re     *regexp.Regexp
	names  []string
	op     *httpapi.Operation
	method string
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("XBORDER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startEnv starts the dev system in dataDir (a fresh temp dir when ""), allowing the given CORS
// origins.
func startEnv(t *testing.T, dataDir string, origins ...string) *env {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	spec, err := httpapi.LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	e := &env{t: t, dataDir: dataDir, spec: spec, origins: origins}
	for _, op := range spec.Operations() {
		var names []string
		segs := strings.Split(op.Path, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				names = append(names, strings.Trim(seg, "{}"))
				segs[i] = "([^/]+)"
			} else {
				segs[i] = regexp.QuoteMeta(seg)
			}
		}
		pattern := strings.Join(segs, "/")
		e.routes = append(e.routes, route{re: regexp.MustCompile("^" + pattern + "$"), names: names, op: op, method: op.Method})
	}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) start() {
	e.t.Helper()
	app, err := devapp.Start(context.Background(), devapp.Config{
		DataDir: e.dataDir, HTTPAddr: "127.0.0.1:0", Logger: testLogger(e.t), CommitTimeout: 20 * time.Second,
		AllowedOrigins: e.origins,
	})
	require.NoError(e.t, err)
	e.app = app
}

// with returns a view of e reporting to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) stop() {
	if e.app != nil {
		require.NoError(e.t, e.app.Close())
		e.app = nil
	}
}

func (e *env) restart() {
	e.stop()
	e.start()
}

// height is the number of blocks ordered (every peer commits them all).
func (e *env) height() uint64 { return e.app.Network.OrdererHeight() }

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// call sends a request as org ("" for no Authorization) and validates the answer against the
// OpenAPI document.
func (e *env) call(org, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.app.URL+path, reader)
	require.NoError(e.t, err)
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if org != "" {
		req.Header.Set("Authorization", "Bearer "+e.app.Credentials[org])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	r := resp{status: res.StatusCode, header: res.Header, body: out}
	e.validate(req, r)
	return r
}

// validate checks a response against the operation it answers.
func (e *env) validate(req *http.Request, r resp) {
	e.t.Helper()
	u, err := url.Parse(req.URL.String())
	require.NoError(e.t, err)
	for _, rt := range e.routes {
		if rt.method != req.Method {
			continue
		}
		m := rt.re.FindStringSubmatch(u.Path)
		if m == nil {
			continue
		}
		params := map[string]string{}
		for i, n := range rt.names {
			params[n] = m[i+1]
		}
		vreq, err := http.NewRequest(req.Method, u.String(), nil)
		require.NoError(e.t, err)
		vreq.Header = req.Header.Clone()
		err = e.spec.ValidateResponse(context.Background(), rt.op, vreq, params, r.status, r.header, r.body)
		require.NoError(e.t, err, "response: %s", r)
		return
	}
	e.t.Fatalf("no operation in the spec for %s %s", req.Method, u.Path)
}

// mustStatus calls and requires the status.
func (e *env) mustStatus(status int, org, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	r := e.call(org, method, path, body, headers...)
	require.Equal(e.t, status, r.status, "%s %s as %s: %s", method, path, org, r)
	return r
}

// orderBody is a valid order: 2 × 1250 + 500 shipping = 3000 USD cents.
func orderBody(id string) map[string]any {
	return map[string]any{
		"orderId": id, "merchantId": "merchant-1",
		"buyer":         map[string]any{"id": "buyer-" + id, "country": "US", "name": "Ann Lee", "address": "1 Main St, Springfield", "phone": "+1 555 0100"},
		"sellerCountry": "CN", "currency": "USD",
		"items":       []any{map[string]any{"sku": "TEA-1", "name": "Green tea", "hsCode": "090210", "quantity": 2, "unitPrice": 1250}},
		"shippingFee": 500,
	}
}

// paymentBody pays 3000 USD cents as 2760 EUR cents at 0.92.
func paymentBody(id string) map[string]any {
	return map[string]any{"paymentId": "pay-" + id, "payerCurrency": "EUR", "payerAmount": 2760, "fxRate": "0.92",
		"fee": 15, "payerName": "Ann Lee", "payerAccount": "DE89370400440532013000"}
}

// createAndPay creates order id and escrows its payment.
func (e *env) createAndPay(id string) {
	e.t.Helper()
	e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", orderBody(id))
	r := e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+id+"/payment", paymentBody(id))
	require.Equal(e.t, "PAID", r.json(e.t)["status"])
}

// documentAndClear declares, registers the waybill and clears order id.
func (e *env) documentAndClear(id string, decision map[string]any) resp {
	e.t.Helper()
	e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/orders/"+id+"/customs/declaration",
		map[string]any{"declarationId": "dec-" + id, "declaredValue": 3000, "hsCodes": []string{"090210"}})
	e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/"+id+"/waybill",
		map[string]any{"waybillNo": "wb-" + id, "consigneeName": "Ann Lee", "consigneeAddress": "1 Main St, Springfield"})
	return e.mustStatus(http.StatusOK, customs, "POST", "/api/v1/orders/"+id+"/customs/decision", decision)
}

func escrow(t *testing.T, order map[string]any) (amount, released, refunded float64) {
	t.Helper()
	esc, ok := order["escrow"].(map[string]any)
	require.True(t, ok, "order has no escrow: %v", order)
	return esc["amount"].(float64), esc["released"].(float64), esc["refunded"].(float64)
}

// sseEvent is one received Server-Sent Event.
type sseEvent struct {
	ID, Event string
	Data      map[string]any
}

// sseStream reads GET /api/v1/events in the background.
type sseStream struct {
	events chan sseEvent
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (e *env) openEvents(t *testing.T, org, query, lastEventID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.app.URL+"/api/v1/events"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.app.Credentials[org])
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by the reader goroutine below
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &sseStream{events: make(chan sseEvent, 1024), cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer res.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.ID != "" {
					s.events <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.Data)
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.wg.Wait()
}

// next returns the next event, failing after timeout.
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		require.True(t, ok, "event stream ended")
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20 s")
		return sseEvent{}
	}
}
