// Package reliability_test holds the xborder reliability suite: a soak with money invariants,
// kill -9 crash recovery of `xborder dev`, chaincode and gateway faults, request fuzzing and
// security checks. See docs/reliability.md.
package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Flags for longer runs; the defaults keep the package bounded for CI.
var (
	soakOrders   = flag.Int("soak.orders", 0, "orders in the soak test (default 40, 400 with XBORDER_SOAK=long)")
	soakClients  = flag.Int("soak.clients", 4, "concurrent clients in the soak test")
	soakDuration = flag.Duration("soak.duration", 0, "keep the soak running for at least this long (repeating batches of orders)")
	crashRounds  = flag.Int("crash.rounds", 0, "kill -9 rounds in the crash test (default 3, 20 with XBORDER_SOAK=long)")
	relSeed      = flag.Uint64("rel.seed", 20261127, "seed of the random lifecycles, kill moments and fuzz-free choices")
)

const (
	merchant = "MerchantMSP"
	bank     = "BankMSP"
	carrier  = "CarrierMSP"
	customs  = "CustomsMSP"
)

var allOrgs = []string{merchant, bank, carrier, customs}

// longRun reports whether XBORDER_SOAK=long asks for the long versions.
func longRun() bool { return os.Getenv("XBORDER_SOAK") == "long" }

func soakOrderCount() int {
	switch {
	case *soakOrders > 0:
		return *soakOrders
	case longRun():
		return 400
	default:
		return 40
	}
}

func crashRoundCount() int {
	switch {
	case *crashRounds > 0:
		return *crashRounds
	case longRun():
		return 20
	default:
		return 3
	}
}

// restClient talks to one gateway. It never fails the test itself, so that load goroutines can
// use it; callers decide what an error means.
type restClient struct {
	mu   sync.RWMutex
	base string
	keys map[string]string
	http *http.Client
}

func newRESTClient(base string, keys map[string]string) *restClient {
	return &restClient{base: base, keys: keys, http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
}

// retarget points the client at a restarted gateway.
func (c *restClient) retarget(base string, keys map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base = base
	c.keys = keys
	c.http.CloseIdleConnections()
}

func (c *restClient) baseURL() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.base
}

func (c *restClient) key(org string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[org]
}

// reply is one HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(r.Body)))
}

// ok reports a 2xx status.
func (r reply) ok() bool { return r.Status >= 200 && r.Status < 300 }

// object decodes the body as a JSON object.
func (r reply) object() (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode %q: %w", r.Body, err)
	}
	return m, nil
}

// txID is the answer's transaction ID (header, else body).
func (r reply) txID() string {
	if id := r.Header.Get("X-Transaction-Id"); id != "" {
		return id
	}
	m, err := r.object()
	if err != nil {
		return ""
	}
	s, _ := m["txId"].(string)
	return s
}

// do sends one request as org ("" for none); headers are name, value pairs.
func (c *restClient) do(ctx context.Context, org, method, path string, body any, headers ...string) (reply, error) {
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return reply{}, fmt.Errorf("encode body: %w", err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL()+path, reader)
	if err != nil {
		return reply{}, fmt.Errorf("new request: %w", err)
	}
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if org != "" {
		req.Header.Set("Authorization", "Bearer "+c.key(org))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return reply{Status: res.StatusCode, Header: res.Header, Body: out}, nil
}

// must sends a request and requires the status.
func (c *restClient) must(t *testing.T, status int, org, method, path string, body any, headers ...string) reply {
	t.Helper()
	r, err := c.do(context.Background(), org, method, path, body, headers...)
	require.NoError(t, err)
	require.Equal(t, status, r.Status, "%s %s as %s: %s", method, path, org, r)
	return r
}

// mustObject sends a request, requires the status and decodes the object.
func (c *restClient) mustObject(t *testing.T, status int, org, method, path string, body any, headers ...string) map[string]any {
	t.Helper()
	m, err := c.must(t, status, org, method, path, body, headers...).object()
	require.NoError(t, err)
	return m
}

// requireProblem checks that r is an RFC 9457 problem with the code (and the field, if not "").
func requireProblem(t *testing.T, r reply, status int, code, field string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "answer: %s", r)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "answer: %s", r)
	p, err := r.object()
	require.NoError(t, err)
	require.Equal(t, code, p["code"], "answer: %s", r)
	if field != "" {
		require.Equal(t, field, p["field"], "answer: %s", r)
	}
	for _, k := range []string{"type", "title", "status", "detail"} {
		require.Contains(t, p, k, "problem member %s: %s", k, r)
	}
	return p
}

// num reads an integer JSON number (decoded with UseNumber) at a dotted path of m.
func num(m map[string]any, path string) (int64, error) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("%s: not an object at %q", path, k)
		}
		cur = o[k]
	}
	n, ok := cur.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: not a number: %v", path, cur)
	}
	v, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func mustNum(t *testing.T, m map[string]any, path string) int64 {
	t.Helper()
	v, err := num(m, path)
	require.NoError(t, err)
	return v
}

// orderSpec is the money of one generated order.
type orderSpec struct {
	ID, MerchantID     string
	Quantity, Unit     int64
	Shipping           int64
	Total              int64
	BuyerName, Address string
	Phone              string
	PayerName, Account string
}

// newOrderSpec builds order id of merchantID with distinctive private strings (scanned for in
// the logs).
func newOrderSpec(id, merchantID string, quantity, unit, shipping int64) orderSpec {
	return orderSpec{
		ID: id, MerchantID: merchantID, Quantity: quantity, Unit: unit, Shipping: shipping,
		Total:     quantity*unit + shipping,
		BuyerName: "Quilla Vantongeren " + id, Address: id + " Zephyrine Lane, Oldcastle",
		Phone:     "+44 7700 9" + fmt.Sprintf("%05d", len(id)*7919%100000),
		PayerName: "Ignatius Marrowby " + id, Account: "GB29NWBK60161331" + fmt.Sprintf("%06d", len(id)*104729%1000000),
	}
}

func (o orderSpec) createBody() map[string]any {
	return map[string]any{
		"orderId": o.ID, "merchantId": o.MerchantID,
		"buyer":         map[string]any{"id": "buyer-" + o.ID, "country": "US", "name": o.BuyerName, "address": o.Address, "phone": o.Phone},
		"sellerCountry": "CN", "currency": "USD",
		"items":       []any{map[string]any{"sku": "SKU-1", "name": "Tea set", "hsCode": "691200", "quantity": o.Quantity, "unitPrice": o.Unit}},
		"shippingFee": o.Shipping,
	}
}

// paymentBody pays in EUR at 0.92, the payer amount rounded half to even in cents.
func (o orderSpec) paymentBody(paymentID string) map[string]any {
	return map[string]any{"paymentId": paymentID, "payerCurrency": "EUR", "payerAmount": halfEven(o.Total*92, 100), "fxRate": "0.92",
		"fee": 10, "payerName": o.PayerName, "payerAccount": o.Account}
}

func (o orderSpec) declarationBody() map[string]any {
	return map[string]any{"declarationId": "dec-" + o.ID, "declaredValue": o.Total, "hsCodes": []string{"691200"}}
}

func (o orderSpec) waybillBody() map[string]any {
	return map[string]any{"waybillNo": "wb-" + o.ID, "consigneeName": o.BuyerName, "consigneeAddress": o.Address}
}

// privateStrings are the order's private values, which must never reach a log.
func (o orderSpec) privateStrings() []string {
	return []string{o.BuyerName, o.Address, o.Phone, o.PayerName, o.Account}
}

// halfEven divides n >= 0 by d > 0, rounding half to even.
func halfEven(n, d int64) int64 {
	q, r := n/d, n%d
	switch {
	case 2*r > d, 2*r == d && q%2 == 1:
		return q + 1
	default:
		return q
	}
}

func TestHalfEven(t *testing.T) {
	for _, tc := range []struct{ n, d, want int64 }{
		{250, 100, 2}, {350, 100, 4}, {251, 100, 3}, {249, 100, 2}, {0, 100, 0}, {276000, 100, 2760},
	} {
		t.Run(fmt.Sprint(tc.n, "/", tc.d), func(t *testing.T) {
			require.Equal(t, tc.want, halfEven(tc.n, tc.d))
		})
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	return n, err //nolint:wrapcheck // bytes.Buffer never fails
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureLogger logs everything at debug level as JSON to buf (and to stderr with
// XBORDER_TEST_LOG set).
func captureLogger(buf io.Writer) *slog.Logger {
	w := buf
	if os.Getenv("XBORDER_TEST_LOG") != "" {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// requireNoSecrets fails for every secret found in logs.
func requireNoSecrets(t *testing.T, logs string, secrets []string) {
	t.Helper()
	require.NotEmpty(t, logs, "no log output captured")
	var found []string
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			found = append(found, s)
		}
	}
	require.Empty(t, found, "secrets or private data in the logs")
}
