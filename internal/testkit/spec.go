package testkit

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/xborder/xborder/gateway/httpapi"
)

// route matches the request paths of one operation of the contract.
type route struct {
	re    *regexp.Regexp
	names []string
	op    *httpapi.Operation
}

// newRoute compiles the path template of op ("/api/v1/orders/{id}").
func newRoute(op *httpapi.Operation) route {
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
	return route{re: regexp.MustCompile("^" + strings.Join(segs, "/") + "$"), names: names, op: op}
}

// match returns the path parameters of req when it is a request of the route's operation.
func (rt route) match(req *http.Request) (map[string]string, bool) {
	m := rt.re.FindStringSubmatch(req.URL.Path)
	if rt.op.Method != req.Method || m == nil {
		return nil, false
	}
	params := map[string]string{}
	for i, n := range rt.names {
		params[n] = m[i+1]
	}
	return params, true
}

// ResponseChecker returns a check (for WithCheck) that validates every answer against the
// operation of spec it answers, and fails for a request that matches no operation.
func ResponseChecker(spec *httpapi.Spec) func(*http.Request, Reply) error {
	var routes []route
	for _, op := range spec.Operations() {
		routes = append(routes, newRoute(op))
	}
	return func(req *http.Request, r Reply) error {
		for _, rt := range routes {
			params, ok := rt.match(req)
			if !ok {
				continue
			}
			vreq := req.Clone(context.Background())
			vreq.Body = http.NoBody
			if err := spec.ValidateResponse(context.Background(), rt.op, vreq, params, r.Status, r.Header, r.Body); err != nil {
				return fmt.Errorf("the answer breaks the contract of %s: %w", rt.op.ID, err)
			}
			return nil
		}
		return fmt.Errorf("no operation in the spec for %s %s", req.Method, req.URL.Path)
	}
}
