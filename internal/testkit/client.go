package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client is a REST client of one xborder gateway with one API key per organisation. It is safe
// for concurrent use; Retarget points it at a restarted gateway.
type Client struct {
	mu   sync.RWMutex
	base string
	keys map[string]string

	http       *http.Client
	check      func(*http.Request, Reply) error
	commitWait func(t T, txID string)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests with hc (default: a client with a 2-minute timeout that
// keeps up to 32 idle connections to the gateway).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithCheck has every answer checked by check (for example against the OpenAPI contract, see
// ResponseChecker): Do returns its error.
func WithCheck(check func(req *http.Request, r Reply) error) Option {
	return func(c *Client) { c.check = check }
}

// WithCommitWait has Must call wait with the transaction ID of every successful write before
// it returns, for networks where a write is answered before every peer has committed it.
func WithCommitWait(wait func(t T, txID string)) Option {
	return func(c *Client) { c.commitWait = wait }
}

// NewClient returns a client of the gateway at base (e.g. http://127.0.0.1:8080) with the API
// key of each organisation ({"MerchantMSP": "<key>", ...}).
func NewClient(base string, keys map[string]string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), keys: keys}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	}
	return c
}

// Retarget points the client at a restarted gateway.
func (c *Client) Retarget(base string, keys map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base = strings.TrimRight(base, "/")
	c.keys = keys
	c.http.CloseIdleConnections()
}

// BaseURL returns the gateway's base URL.
func (c *Client) BaseURL() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.base
}

// Key returns the API key of org.
func (c *Client) Key(org string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[org]
}

// Close closes the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Reply is one HTTP answer.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// String renders "<status> <body>".
func (r Reply) String() string {
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(r.Body)))
}

// OK reports a 2xx status.
func (r Reply) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Object decodes the body as a JSON object, numbers as json.Number (exact integers).
func (r Reply) Object() (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode %q: %w", r.Body, err)
	}
	return m, nil
}

// JSON decodes the body as a JSON object, numbers as float64, failing t if it is not one.
func (r Reply) JSON(t T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %s is not a JSON object: %v", r, err)
	}
	return m
}

// TxID is the answer's transaction ID (the X-Transaction-Id header, else the body's txId).
func (r Reply) TxID() string {
	if id := r.Header.Get("X-Transaction-Id"); id != "" {
		return id
	}
	m, err := r.Object()
	if err != nil {
		return ""
	}
	s, _ := m["txId"].(string)
	return s
}

// Do sends one request as org ("" for no Authorization). body is nil, a string or []byte sent
// as it is, or a value sent as JSON; headers are name, value pairs. It never fails a test, so
// that load goroutines can use it: callers decide what an error means.
func (c *Client) Do(ctx context.Context, org, method, path string, body any, headers ...string) (Reply, error) {
	reader, err := bodyReader(body)
	if err != nil {
		return Reply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL()+path, reader)
	if err != nil {
		return Reply{}, fmt.Errorf("new request: %w", err)
	}
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if org != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key(org))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	r := Reply{Status: res.StatusCode, Header: res.Header, Body: out}
	if c.check != nil {
		if err := c.check(req, r); err != nil {
			return r, fmt.Errorf("%s %s answered %s: %w", method, path, r, err)
		}
	}
	return r, nil
}

func bodyReader(body any) (io.Reader, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.NewReader(b), nil
	case []byte:
		return bytes.NewReader(b), nil
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		return bytes.NewReader(raw), nil
	}
}

// Call sends a request and fails t if no answer came (or the answer failed the check).
func (c *Client) Call(t T, org, method, path string, body any, headers ...string) Reply {
	t.Helper()
	r, err := c.Do(context.Background(), org, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return r
}

// Must sends a request and fails t unless the answer has status. After a successful write it
// waits as WithCommitWait says.
func (c *Client) Must(t T, status int, org, method, path string, body any, headers ...string) Reply {
	t.Helper()
	r := c.Call(t, org, method, path, body, headers...)
	if r.Status != status {
		t.Fatalf("%s %s as %s: want status %d, got %s", method, path, org, status, r)
	}
	if txID := r.Header.Get("X-Transaction-Id"); c.commitWait != nil && method != http.MethodGet && r.OK() && txID != "" {
		c.commitWait(t, txID)
	}
	return r
}

// CreateAndPay creates o as the merchant and escrows its payment as the bank.
func (c *Client) CreateAndPay(t T, o Order) {
	t.Helper()
	c.Must(t, http.StatusCreated, MerchantMSP, http.MethodPost, "/api/v1/orders", o.CreateBody())
	r := c.Must(t, http.StatusOK, BankMSP, http.MethodPost, "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID))
	if s := r.JSON(t)["status"]; s != "PAID" {
		t.Fatalf("order %s after payment: status %v", o.ID, s)
	}
}

// DocumentAndClear declares o as the merchant, registers its waybill as the carrier and records
// the customs decision; it returns the decision's answer.
func (c *Client) DocumentAndClear(t T, o Order, decision map[string]any) Reply {
	t.Helper()
	c.Must(t, http.StatusOK, MerchantMSP, http.MethodPost, "/api/v1/orders/"+o.ID+"/customs/declaration", o.DeclarationBody())
	c.Must(t, http.StatusOK, CarrierMSP, http.MethodPost, "/api/v1/orders/"+o.ID+"/waybill", o.WaybillBody())
	return c.Must(t, http.StatusOK, CustomsMSP, http.MethodPost, "/api/v1/orders/"+o.ID+"/customs/decision", decision)
}

// Deliver records every checkpoint of o as the carrier, the last one delivering it.
func (c *Client) Deliver(t T, o Order) {
	t.Helper()
	for _, code := range Checkpoints {
		c.Must(t, http.StatusOK, CarrierMSP, http.MethodPost, "/api/v1/orders/"+o.ID+"/checkpoints", CheckpointBody(code))
	}
}

// Escrow returns the amount, released and refunded sums of an order's escrow (cents), failing t
// if the order has none.
func Escrow(t T, order map[string]any) []float64 {
	t.Helper()
	esc, ok := order["escrow"].(map[string]any)
	if !ok {
		t.Fatalf("order has no escrow: %v", order)
	}
	amount, _ := esc["amount"].(float64)
	released, _ := esc["released"].(float64)
	refunded, _ := esc["refunded"].(float64)
	return []float64{amount, released, refunded}
}
