package consoletest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/devapp"
	"github.com/xborder/xborder/gateway/httpapi"
)

// These tests need no browser: they check, against the whole dev system, the REST endpoints the
// console is built on.

type answer struct {
	status int
	body   map[string]any
}

// request sends a request as org ("" for none) with a raw JSON body (nil for none).
func request(t *testing.T, app *devapp.App, org, method, path string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, app.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if org != "" {
		req.Header.Set("Authorization", "Bearer "+app.Credentials[org])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	a := answer{status: res.StatusCode}
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		require.NoError(t, json.Unmarshal(raw, &a.body), "%s %s: %s", method, path, raw)
	}
	return a
}

// TestBlockExplorer lists the chain page by page, newest first, and reads blocks back.
func TestBlockExplorer(t *testing.T) {
	app := startApp(t)
	for i := range 3 {
		apiCall(t, app, merchant, "POST", "/api/v1/orders", newOrder("ex-"+strconv.Itoa(i), "buyer-1"))
	}
	first := request(t, app, carrier, "GET", "/api/v1/blocks?pageSize=2", nil)
	require.Equal(t, http.StatusOK, first.status, first.body)
	height := int(first.body["height"].(float64))
	require.GreaterOrEqual(t, height, 4, "genesis and three orders")

	var seen []int
	bookmark := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, height, "the listing ends")
		path := "/api/v1/blocks?pageSize=2"
		if bookmark != "" {
			path += "&bookmark=" + bookmark
		}
		page := request(t, app, carrier, "GET", path, nil)
		require.Equal(t, http.StatusOK, page.status, page.body)
		for _, it := range page.body["items"].([]any) {
			b := it.(map[string]any)
			seen = append(seen, int(b["number"].(float64)))
			require.NotContains(t, b, "transactions", "lists carry summaries only")
		}
		bookmark, _ = page.body["bookmark"].(string)
		if bookmark == "" {
			break
		}
	}
	want := make([]int, height)
	for i := range want {
		want[i] = height - 1 - i
	}
	require.Equal(t, want, seen, "every block once, newest first")

	// The blocks chain by hash; the newest holds the last order's creation.
	var prevHash string
	for n := range height {
		b := request(t, app, customs, "GET", "/api/v1/blocks/"+strconv.Itoa(n), nil)
		require.Equal(t, http.StatusOK, b.status, b.body)
		if n > 0 {
			require.Equal(t, prevHash, b.body["previousHash"], "block %d", n)
		}
		prevHash = b.body["hash"].(string)
	}
	last := request(t, app, customs, "GET", "/api/v1/blocks/"+strconv.Itoa(height-1), nil).body
	tx := last["transactions"].([]any)[0].(map[string]any)
	require.Equal(t, "ENDORSER_TRANSACTION", tx["type"])
	require.Equal(t, "CreateOrder", strings.TrimPrefix(tx["function"].(string), "xborder:"))
	require.Equal(t, "xborder", tx["chaincode"])
	require.Equal(t, "OrderCreated", tx["event"])
	require.Equal(t, map[string]any{"mspId": merchant, "name": "User1@merchant.xborder.example"}, tx["creator"])
	require.Len(t, tx["endorsers"], 2)
	require.Equal(t, "VALID", tx["validationCode"])
	genesis := request(t, app, customs, "GET", "/api/v1/blocks/0", nil).body
	require.Equal(t, "CONFIG", genesis["transactions"].([]any)[0].(map[string]any)["type"])

	missing := request(t, app, customs, "GET", "/api/v1/blocks/"+strconv.Itoa(height+5), nil)
	require.Equal(t, http.StatusNotFound, missing.status)
	bad := request(t, app, customs, "GET", "/api/v1/blocks?bookmark="+strconv.Itoa(height+5), nil)
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Equal(t, "bookmark", bad.body["field"])
}

func newOrder(id, buyer string) map[string]any {
	return map[string]any{
		"orderId": id, "merchantId": "shop-eu-1", "sellerCountry": "DE", "currency": "EUR", "shippingFee": 0,
		"buyer": map[string]any{"id": buyer, "country": "US", "name": "Ann Lee", "address": "1 Main St", "phone": "1"},
		"items": []any{map[string]any{"sku": "s", "name": "n", "hsCode": "090210", "quantity": 1, "unitPrice": 100}},
	}
}

// TestCallersMatchTheChaincode checks each operation's x-xborder-callers (what GET /api/v1/me
// offers) against the chaincode's decisions: every organisation outside the list is refused
// with FORBIDDEN, and every organisation in it is not. Writes go to a cancelled order, so
// that an allowed write is refused by the order's state and changes nothing; their bodies are
// the contract's own examples.
func TestCallersMatchTheChaincode(t *testing.T) {
	app := startApp(t)
	spec, err := httpapi.LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	apiCall(t, app, merchant, "POST", "/api/v1/orders", newOrder("ord-1001", "buyer-7f3a"))
	apiCall(t, app, merchant, "POST", "/api/v1/orders/ord-1001/cancellation", map[string]any{"reason": "test"})
	refused, allowed := 0, 0
	defer func() {
		// Every write but ReleaseEscrow, AnchorDocument and the queries is refused to someone.
		require.Greater(t, refused, 30, "refusals checked")
		require.Greater(t, allowed, 30, "permissions checked")
	}()
	for _, org := range []string{merchant, bank, carrier, customs} {
		me := request(t, app, org, "GET", "/api/v1/me", nil)
		require.Equal(t, http.StatusOK, me.status)
		require.Equal(t, org, me.body["mspId"])
		var ops []string
		for _, o := range me.body["operations"].([]any) {
			ops = append(ops, o.(string))
		}
		for _, op := range spec.Operations() {
			if op.Public {
				continue
			}
			require.Equal(t, op.Permitted(org), slices.Contains(ops, op.ID), "GET /api/v1/me for %s lists %s", org, op.ID)
			a, ok := callAs(t, app, spec, op, org)
			if !ok {
				continue
			}
			if op.Permitted(org) {
				require.NotEqual(t, http.StatusForbidden, a.status, "%s may call %s: %v", org, op.ID, a.body)
				allowed++
			} else {
				require.Equal(t, http.StatusForbidden, a.status, "%s may not call %s: %v", org, op.ID, a.body)
				require.Equal(t, "FORBIDDEN", a.body["code"])
				refused++
			}
		}
	}
}

// readsTheLedger reports whether op reaches the chaincode (others are answered by the gateway).
func readsTheLedger(op *httpapi.Operation) bool {
	return strings.HasPrefix(op.Path, "/api/v1/orders") || strings.HasPrefix(op.Path, "/api/v1/merchants") ||
		strings.HasPrefix(op.Path, "/api/v1/settlements") || strings.HasPrefix(op.Path, "/api/v1/compliance") ||
		strings.HasPrefix(op.Path, "/api/v1/documents")
}

// callAs calls op as org with the contract's example body on order ord-1001. It reports false
// for operations that a permitted organisation cannot call without changing the ledger (they are
// checked for the others only) and for those the chaincode does not decide.
func callAs(t *testing.T, app *devapp.App, spec *httpapi.Spec, op *httpapi.Operation, org string) (answer, bool) {
	t.Helper()
	if !readsTheLedger(op) {
		return answer{}, false
	}
	if op.Permitted(org) && slices.Contains([]string{"createOrder", "setComplianceRules", "anchorDocument"}, op.ID) {
		return answer{}, false
	}
	path := strings.ReplaceAll(op.Path, "{id}", "ord-1001")
	path = strings.ReplaceAll(path, "{sha256}", strings.Repeat("ab", 32))
	if op.ID == "getMerchantCredit" {
		path = strings.ReplaceAll(op.Path, "{id}", "shop-eu-1")
	}
	if op.ID == "getSettlementReport" {
		path += "?merchantId=shop-eu-1&from=2026-01-01&to=2026-01-31"
	}
	var body []byte
	if rb := op.Op.RequestBody; rb != nil && rb.Value != nil {
		mt := rb.Value.Content.Get("application/json")
		ex := mt.Example
		if ex == nil {
			for _, e := range mt.Examples {
				ex = e.Value.Value
				break
			}
		}
		var err error
		body, err = json.Marshal(ex)
		require.NoError(t, err)
	}
	return request(t, app, org, op.Method, path, body), true
}
