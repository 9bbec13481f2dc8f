package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// RESTDriver performs operations through the xborder REST gateway (DESIGN.md section 7),
// authenticating each organisation's calls with its API key.
type RESTDriver struct {
	base   string
	keys   map[string]string
	client *http.Client
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
	if maxConns < 1 {
		maxConns = 1
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxConns + 16
	tr.MaxIdleConnsPerHost = maxConns + 16
	return &RESTDriver{
		base:   strings.TrimRight(baseURL, "/"),
		keys:   keys,
		client: &http.Client{Transport: tr, Timeout: 2 * time.Minute},
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
	d.client.CloseIdleConnections()
	return nil
}

// Do implements Driver.
func (d *RESTDriver) Do(ctx context.Context, req Request) error {
	spec, ok := opSpecs[req.Op]
	if !ok {
		return &CallError{Op: req.Op, Reason: "UNKNOWN_OP", Err: errors.New("no such operation")}
	}
	path := spec.path
	if strings.Contains(path, "%s") {
		path = fmt.Sprintf(path, url.PathEscape(req.OrderID))
	}
	target := d.base + path
	if req.Op == OpListOrders {
		q := url.Values{}
		if req.MerchantID != "" {
			q.Set("merchantId", req.MerchantID)
		}
		if req.PageSize > 0 {
			q.Set("pageSize", strconv.Itoa(req.PageSize))
		}
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
	}
	var body io.Reader
	if spec.write {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return &CallError{Op: req.Op, Reason: "ENCODE", Err: fmt.Errorf("encode body: %w", err)}
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, spec.method, target, body)
	if err != nil {
		return &CallError{Op: req.Op, Reason: "REQUEST", Err: fmt.Errorf("build request: %w", err)}
	}
	hr.Header.Set("Authorization", "Bearer "+d.keys[spec.org])
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	res, err := d.client.Do(hr)
	if err != nil {
		return &CallError{Op: req.Op, Reason: ReasonOf(err), Err: fmt.Errorf("%s %s: %w", spec.method, path, err)}
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return &CallError{Op: req.Op, Reason: "NETWORK", Err: fmt.Errorf("read answer of %s %s: %w", spec.method, path, err)}
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	var p struct {
		Code           string `json:"code"`
		Detail         string `json:"detail"`
		ValidationCode string `json:"validationCode"`
	}
	reason := "HTTP_" + strconv.Itoa(res.StatusCode)
	if json.Unmarshal(out, &p) == nil && p.Code != "" {
		reason = p.Code
		if p.ValidationCode != "" {
			reason = p.ValidationCode
		}
	}
	return &CallError{Op: req.Op, Reason: reason,
		Err: fmt.Errorf("%s %s answered %d: %s", spec.method, path, res.StatusCode, strings.TrimSpace(string(out)))}
}
