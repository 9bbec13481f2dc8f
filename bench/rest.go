package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/internal/testkit"
)

// RESTDriver performs operations through the xborder REST gateway (docs/design.md §7),
// authenticating each organisation's calls with its API key and, as real clients do, sending
// every write with a fresh Idempotency-Key (see WithoutIdempotencyKeys).
type RESTDriver struct {
	base   string
	client *testkit.Client
	// routes are the method and path template of every operation of the REST contract.
	routes map[string]*httpapi.Operation
	// idempotencyKeys is true when writes carry an Idempotency-Key.
	idempotencyKeys bool
}

var (
	_ Driver       = (*RESTDriver)(nil)
	_ RetryCounter = (*RESTDriver)(nil)
)

// RESTOption configures a RESTDriver.
type RESTOption func(*RESTDriver)

// WithoutIdempotencyKeys sends writes without an Idempotency-Key, so that the gateway neither
// records nor looks up their answers.
func WithoutIdempotencyKeys() RESTOption {
	return func(d *RESTDriver) { d.idempotencyKeys = false }
}

// NewRESTDriver returns a driver for the gateway at baseURL (e.g. http://127.0.0.1:8080) with
// the API key of every organisation ({"MerchantMSP": "<key>", ...}). maxConns bounds the
// kept-alive connections (use the largest worker count of the run).
func NewRESTDriver(baseURL string, keys map[string]string, maxConns int, opts ...RESTOption) (*RESTDriver, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rest driver: invalid gateway URL %q", baseURL)
	}
	for _, org := range []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP} {
		if keys[org] == "" {
			return nil, fmt.Errorf("rest driver: no API key for %s", org)
		}
	}
	spec, err := httpapi.LoadSpec(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("rest driver: %w", err)
	}
	routes := map[string]*httpapi.Operation{}
	for _, op := range spec.Operations() {
		routes[op.ID] = op
	}
	if maxConns < 1 {
		maxConns = 1
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxConns + 16
	tr.MaxIdleConnsPerHost = maxConns + 16
	base := strings.TrimRight(baseURL, "/")
	d := &RESTDriver{
		base:            base,
		client:          testkit.NewClient(base, keys, testkit.WithHTTPClient(&http.Client{Transport: tr, Timeout: 2 * time.Minute})),
		routes:          routes,
		idempotencyKeys: true,
	}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// LoadCredentials reads a dev-credentials.json file ({"MerchantMSP": "<key>", ...}).
func LoadCredentials(path string) (map[string]string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	keys := map[string]string{}
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("parse credentials %s: %w", path, err)
	}
	return keys, nil
}

// Name implements Driver.
func (d *RESTDriver) Name() string { return "rest" }

// Close implements Driver.
func (d *RESTDriver) Close() error {
	d.client.Close()
	return nil
}

// pathParam matches a parameter of an OpenAPI path template.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// target fills the path template of route with params; the rest of params become the query of
// a read.
func target(route *httpapi.Operation, params map[string]string) string {
	used := map[string]bool{}
	path := pathParam.ReplaceAllStringFunc(route.Path, func(m string) string {
		name := m[1 : len(m)-1]
		used[name] = true
		return url.PathEscape(params[name])
	})
	if route.Method != http.MethodGet {
		return path
	}
	q := url.Values{}
	for k, v := range params {
		if !used[k] {
			q.Set(k, v)
		}
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path
}

// Do implements Driver.
func (d *RESTDriver) Do(ctx context.Context, req Request) error {
	op, org, err := operation(req.Op)
	if err != nil {
		return err
	}
	route, ok := d.routes[op.ID]
	if !ok {
		return &CallError{Op: req.Op, Reason: "UNKNOWN_OP", Err: fmt.Errorf("the REST contract has no operation %s", op.ID)}
	}
	path := target(route, req.params())
	var body any
	if op.Write {
		b, err := req.body()
		if err != nil {
			return err
		}
		if b != nil {
			body = b
		}
	}
	var headers []string
	if op.Write && d.idempotencyKeys {
		headers = []string{"Idempotency-Key", newIdempotencyKey()}
	}
	r, err := d.client.Do(ctx, org, route.Method, path, body, headers...)
	if err != nil {
		return &CallError{Op: req.Op, Reason: ReasonOf(err), Err: err}
	}
	if r.OK() {
		return nil
	}
	return &CallError{Op: req.Op, Reason: problemReason(r),
		Err: fmt.Errorf("%s %s answered %d: %s", route.Method, path, r.Status, strings.TrimSpace(string(r.Body)))}
}

// problemReason classifies a refusal: the validation code of a failed commit, else the
// problem's code, else the HTTP status.
func problemReason(r testkit.Reply) string {
	var p struct {
		Code           string `json:"code"`
		ValidationCode string `json:"validationCode"`
	}
	if json.Unmarshal(r.Body, &p) != nil || p.Code == "" {
		return "HTTP_" + strconv.Itoa(r.Status)
	}
	if p.ValidationCode != "" {
		return p.ValidationCode
	}
	return p.Code
}

// newIdempotencyKey returns a fresh random Idempotency-Key, one per request as a client makes
// them.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// retriesMetric is the gateway's counter of fresh proposals by transaction and reason.
const retriesMetric = "xborder_fabric_retries_total{"

// Retries implements RetryCounter with the gateway's own count of the proposals it made again
// (xborder_fabric_retries_total on /metrics), summed by reason; nil when /metrics cannot be
// read.
func (d *RESTDriver) Retries() map[string]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := d.client.Do(ctx, "", http.MethodGet, "/metrics", nil)
	if err != nil || r.Status != http.StatusOK {
		return nil
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(r.Body), "\n") {
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, retriesMetric), "} ")
		if !ok || !strings.HasPrefix(line, retriesMetric) {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		if reason := metricLabel(labels, "reason"); reason != "" {
			out[reason] += int64(n)
		}
	}
	return out
}

// metricLabel returns the value of label name in a Prometheus label list (`a="x",b="y"`).
func metricLabel(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
