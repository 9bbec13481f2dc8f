package bench

import (
	"context"
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
// authenticating each organisation's calls with its API key.
type RESTDriver struct {
	base   string
	client *testkit.Client
	// routes are the method and path template of every operation of the REST contract.
	routes map[string]*httpapi.Operation
}

var _ Driver = (*RESTDriver)(nil)

// NewRESTDriver returns a driver for the gateway at baseURL (e.g. http://127.0.0.1:8080) with
// the API key of every organisation ({"MerchantMSP": "<key>", ...}). maxConns bounds the
// kept-alive connections (use the largest worker count of the run).
func NewRESTDriver(baseURL string, keys map[string]string, maxConns int) (*RESTDriver, error) {
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
	return &RESTDriver{
		base:   base,
		client: testkit.NewClient(base, keys, testkit.WithHTTPClient(&http.Client{Transport: tr, Timeout: 2 * time.Minute})),
		routes: routes,
	}, nil
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
	r, err := d.client.Do(ctx, org, route.Method, path, body)
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
