package consoletest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/internal/testkit"
)

// These tests need no browser: they check, against the whole dev system, the REST endpoints the
// console is built on.

// TestBlockExplorer lists the chain page by page, newest first, and reads blocks back.
func TestBlockExplorer(t *testing.T) {
	app := startApp(t)
	c := client(t, app)
	for i := range 3 {
		c.Must(t, http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("ex-"+strconv.Itoa(i)))
	}
	first := c.Must(t, http.StatusOK, carrier, "GET", "/api/v1/blocks?pageSize=2", nil).JSON(t)
	height := int(first["height"].(float64))
	require.GreaterOrEqual(t, height, 4, "genesis and three orders")

	var seen []int
	bookmark := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, height, "the listing ends")
		path := "/api/v1/blocks?pageSize=2"
		if bookmark != "" {
			path += "&bookmark=" + bookmark
		}
		page := c.Must(t, http.StatusOK, carrier, "GET", path, nil).JSON(t)
		for _, it := range page["items"].([]any) {
			b := it.(map[string]any)
			seen = append(seen, int(b["number"].(float64)))
			require.NotContains(t, b, "transactions", "lists carry summaries only")
		}
		bookmark, _ = page["bookmark"].(string)
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
		b := c.Must(t, http.StatusOK, customs, "GET", "/api/v1/blocks/"+strconv.Itoa(n), nil).JSON(t)
		if n > 0 {
			require.Equal(t, prevHash, b["previousHash"], "block %d", n)
		}
		prevHash = b["hash"].(string)
	}
	last := c.Must(t, http.StatusOK, customs, "GET", "/api/v1/blocks/"+strconv.Itoa(height-1), nil).JSON(t)
	tx := last["transactions"].([]any)[0].(map[string]any)
	require.Equal(t, "ENDORSER_TRANSACTION", tx["type"])
	require.Equal(t, "CreateOrder", strings.TrimPrefix(tx["function"].(string), "xborder:"))
	require.Equal(t, "xborder", tx["chaincode"])
	require.Equal(t, "OrderCreated", tx["event"])
	require.Equal(t, map[string]any{"mspId": merchant, "name": "User1@merchant.xborder.example"}, tx["creator"])
	require.Len(t, tx["endorsers"], 2)
	require.Equal(t, "VALID", tx["validationCode"])
	genesis := c.Must(t, http.StatusOK, customs, "GET", "/api/v1/blocks/0", nil).JSON(t)
	require.Equal(t, "CONFIG", genesis["transactions"].([]any)[0].(map[string]any)["type"])

	c.Must(t, http.StatusNotFound, customs, "GET", "/api/v1/blocks/"+strconv.Itoa(height+5), nil)
	bad := c.Must(t, http.StatusBadRequest, customs, "GET", "/api/v1/blocks?bookmark="+strconv.Itoa(height+5), nil).JSON(t)
	require.Equal(t, "bookmark", bad["field"])
}

// TestCallersMatchTheChaincode checks each operation's x-xborder-callers (what GET /api/v1/me
// offers) against the chaincode's decisions: every organisation outside the list is refused
// with FORBIDDEN, and every organisation in it is not. Writes go to a cancelled order, so
// that an allowed write is refused by the order's state and changes nothing; their bodies are
// the contract's own examples.
func TestCallersMatchTheChaincode(t *testing.T) {
	app := startApp(t)
	c := client(t, app)
	spec, err := httpapi.LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	c.Must(t, http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("ord-1001"))
	c.Must(t, http.StatusOK, merchant, "POST", "/api/v1/orders/ord-1001/cancellation", map[string]any{"reason": "test"})
	refused, allowed := 0, 0
	defer func() {
		// Every write but ReleaseEscrow, AnchorDocument and the queries is refused to someone.
		require.Greater(t, refused, 30, "refusals checked")
		require.Greater(t, allowed, 30, "permissions checked")
	}()
	for _, org := range []string{merchant, bank, carrier, customs} {
		me := c.Must(t, http.StatusOK, org, "GET", "/api/v1/me", nil).JSON(t)
		require.Equal(t, org, me["mspId"])
		var ops []string
		for _, o := range me["operations"].([]any) {
			ops = append(ops, o.(string))
		}
		for _, op := range spec.Operations() {
			if op.Public {
				continue
			}
			require.Equal(t, op.Permitted(org), slices.Contains(ops, op.ID), "GET /api/v1/me for %s lists %s", org, op.ID)
			a, ok := callAs(t, c, op, org)
			if !ok {
				continue
			}
			if op.Permitted(org) {
				require.NotEqual(t, http.StatusForbidden, a.Status, "%s may call %s: %s", org, op.ID, a)
				allowed++
			} else {
				require.Equal(t, http.StatusForbidden, a.Status, "%s may not call %s: %s", org, op.ID, a)
				require.Equal(t, "FORBIDDEN", a.JSON(t)["code"])
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
func callAs(t *testing.T, c *testkit.Client, op *httpapi.Operation, org string) (testkit.Reply, bool) {
	t.Helper()
	if !readsTheLedger(op) {
		return testkit.Reply{}, false
	}
	if op.Permitted(org) && slices.Contains([]string{"createOrder", "setComplianceRules", "anchorDocument"}, op.ID) {
		return testkit.Reply{}, false
	}
	path := strings.ReplaceAll(op.Path, "{id}", "ord-1001")
	path = strings.ReplaceAll(path, "{sha256}", strings.Repeat("ab", 32))
	if op.ID == "getMerchantCredit" {
		path = strings.ReplaceAll(op.Path, "{id}", testkit.DefaultMerchant)
	}
	if op.ID == "getSettlementReport" {
		path += "?merchantId=" + testkit.DefaultMerchant + "&from=2026-01-01&to=2026-01-31"
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
	return c.Call(t, org, op.Method, path, body), true
}
