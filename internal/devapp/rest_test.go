package devapp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

// TestAuthorizationMatrix checks through REST that every organisation may do exactly what
// docs/design.md §2 allows: a wrong organisation gets 403 FORBIDDEN from the chaincode, a missing or
// unknown key 401.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)
	e.createAndPay("authz-1")
	e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("authz-2"))

	for _, tc := range []struct {
		name, method, path string
		body               any
		denied             []string
	}{
		{"create order", "POST", "/api/v1/orders", testkit.OrderBody("authz-x"), []string{bank, carrier, customs}},
		{"escrow payment", "POST", "/api/v1/orders/authz-2/payment", testkit.PaymentBody("authz-2"), []string{merchant, carrier, customs}},
		{"register waybill", "POST", "/api/v1/orders/authz-1/waybill", map[string]any{"waybillNo": "wb", "consigneeName": "A", "consigneeAddress": "B"}, []string{merchant, bank, customs}},
		{"declare", "POST", "/api/v1/orders/authz-1/customs/declaration", map[string]any{"declarationId": "d", "declaredValue": 3000, "hsCodes": []string{"090210"}}, []string{bank, carrier, customs}},
		{"decide", "POST", "/api/v1/orders/authz-1/customs/decision", map[string]any{"decision": "HELD", "reason": "check"}, []string{merchant, bank, carrier}},
		{"checkpoint", "POST", "/api/v1/orders/authz-1/checkpoints", map[string]any{"code": "PICKED_UP", "location": "X"}, []string{merchant, bank, customs}},
		{"confirm delivery", "POST", "/api/v1/orders/authz-1/delivery-confirmation", nil, []string{merchant, carrier, customs}},
		{"open dispute", "POST", "/api/v1/orders/authz-1/disputes", map[string]any{"reason": "r"}, []string{merchant, carrier, customs}},
		{"resolve dispute", "POST", "/api/v1/orders/authz-1/disputes/resolution", map[string]any{"refundAmount": 0}, []string{merchant, carrier, customs}},
		{"cancel", "POST", "/api/v1/orders/authz-1/cancellation", nil, []string{carrier, customs}},
		{"set rules", "PUT", "/api/v1/compliance/rules", map[string]any{"sanctionedCountries": []string{"KP"}}, []string{merchant, bank, carrier}},
		{"list alerts", "GET", "/api/v1/compliance/alerts", nil, []string{merchant, bank, carrier}},
		{"settlements", "GET", "/api/v1/settlements?merchantId=merchant-1&from=2026-01-01&to=2026-12-31", nil, []string{carrier}},
		// The buyer, FX reference rates and payment terms (a statement may be relayed by any
		// organisation that writes, so it has no row here: its forgeries are refused by the
		// signature, see TestBuyerOverREST).
		{"issue tracking link", "POST", "/api/v1/orders/authz-1/tracking-link", nil, []string{bank, carrier, customs}},
		{"revoke tracking link", "POST", "/api/v1/orders/authz-1/tracking-link/revocation", nil, []string{bank, carrier, customs}},
		{"publish FX reference rates", "POST", "/api/v1/fx/reference-rates", map[string]any{"date": time.Now().UTC().Format("2006-01-02"), "rates": map[string]string{"USD/EUR": "0.92"}}, []string{merchant, carrier, customs}},
		{"FX exposure", "GET", "/api/v1/fx/exposure?bankId=BankMSP&from=2026-01-01&to=2026-12-31", nil, []string{merchant, carrier}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := env.with(t)
			for _, org := range tc.denied {
				before := e.height()
				r := e.mustStatus(http.StatusForbidden, org, tc.method, tc.path, tc.body)
				p := r.JSON(t)
				require.Equal(t, "FORBIDDEN", p["code"])
				require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
				require.Equal(t, before, e.height(), "a refused write must not reach the ledger")
			}
		})
	}

	t.Run("allowed reads for all", func(t *testing.T) {
		e := env.with(t)
		for _, org := range []string{merchant, bank, carrier, customs} {
			e.mustStatus(http.StatusOK, org, "GET", "/api/v1/orders/authz-1", nil)
			e.mustStatus(http.StatusOK, org, "GET", "/api/v1/compliance/rules", nil)
			e.mustStatus(http.StatusOK, org, "GET", "/api/v1/orders?pageSize=5", nil)
		}
		e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/compliance/alerts", nil)
	})

	t.Run("unauthenticated", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusUnauthorized, "", "GET", "/api/v1/orders/authz-1", nil)
		require.Equal(t, "UNAUTHENTICATED", r.JSON(t)["code"])
		require.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer")
		r = e.mustStatus(http.StatusUnauthorized, "", "GET", "/api/v1/orders/authz-1", nil, "Authorization", "Bearer not-a-key")
		require.Equal(t, "UNAUTHENTICATED", r.JSON(t)["code"])
		// Health, readiness, metrics, the spec and the docs need no key.
		e.mustStatus(http.StatusOK, "", "GET", "/healthz", nil)
		e.mustStatus(http.StatusOK, "", "GET", "/readyz", nil)
		m := e.mustStatus(http.StatusOK, "", "GET", "/metrics", nil)
		require.Contains(t, string(m.Body), `xborder_http_requests_total{method="GET",route="/api/v1/orders/:id",status="401"}`)
		require.Contains(t, string(m.Body), `xborder_fabric_transactions_total{outcome="VALID",transaction="CreateOrder"}`)
		require.Contains(t, string(m.Body), `xborder_fabric_phase_duration_seconds_bucket{phase="commit"`)
		s := e.mustStatus(http.StatusOK, "", "GET", "/openapi.yaml", nil)
		require.Contains(t, string(s.Body), "openapi: 3.1.0")
		require.Contains(t, string(s.Body), "/api/v1/orders/{id}/payment")
		// The reference page is Swagger UI rendering that document, served from the binary.
		d := e.mustStatus(http.StatusOK, "", "GET", "/docs", nil)
		require.Contains(t, string(d.Body), "/docs/assets/swagger-ui-bundle.js")
	})
}

// TestBadInputs checks that malformed requests get 400 (or 413) naming the field and leave the
// ledger unchanged.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)
	e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("bad-0"))

	with := func(mut func(m map[string]any)) map[string]any {
		m := testkit.OrderBody("bad-1")
		mut(m)
		return m
	}
	for _, tc := range []struct {
		name   string
		org    string
		path   string
		body   any
		status int
		field  string
	}{
		{"wrong type", merchant, "/api/v1/orders", with(func(m map[string]any) { m["shippingFee"] = "500" }), 400, "shippingFee"},
		{"negative amount", merchant, "/api/v1/orders", with(func(m map[string]any) { m["shippingFee"] = -1 }), 400, "shippingFee"},
		{"fractional amount", merchant, "/api/v1/orders", with(func(m map[string]any) { m["shippingFee"] = 1.5 }), 400, "shippingFee"},
		{"unknown field", merchant, "/api/v1/orders", with(func(m map[string]any) { m["total"] = 1 }), 400, "total"},
		{"unknown nested field", merchant, "/api/v1/orders", with(func(m map[string]any) { m["buyer"].(map[string]any)["email"] = "x@y" }), 400, "buyer.email"},
		{"malformed JSON", merchant, "/api/v1/orders", `{"orderId": "bad-1",`, 400, "body"},
		{"not an object", merchant, "/api/v1/orders", `[1,2]`, 400, ""},
		{"bad currency format", merchant, "/api/v1/orders", with(func(m map[string]any) { m["currency"] = "usd" }), 400, "currency"},
		{"unknown currency", merchant, "/api/v1/orders", with(func(m map[string]any) { m["currency"] = "XYZ" }), 400, "currency"},
		{"bad hs code", merchant, "/api/v1/orders", with(func(m map[string]any) { m["items"].([]any)[0].(map[string]any)["hsCode"] = "12" }), 400, "items[0].hsCode"},
		{"missing field", merchant, "/api/v1/orders", with(func(m map[string]any) { delete(m, "currency") }), 400, "currency"},
		{"bad fx rate", bank, "/api/v1/orders/bad-0/payment", func() any { p := testkit.PaymentBody("bad-0"); p["fxRate"] = "0.123456789"; return p }(), 400, "fxRate"},
		{"fx mismatch", bank, "/api/v1/orders/bad-0/payment", func() any { p := testkit.PaymentBody("bad-0"); p["payerAmount"] = 2761; return p }(), 400, "payerAmount"},
		{"bad decision", customs, "/api/v1/orders/bad-0/customs/decision", map[string]any{"decision": "MAYBE"}, 400, "decision"},
		{"bad path id", merchant, "/api/v1/orders/bad%20id/cancellation", nil, 400, "id"},
		{"2 MiB body", merchant, "/api/v1/orders", `{"orderId":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := env.with(t)
			before := e.height()
			r := e.mustStatus(tc.status, tc.org, "POST", tc.path, tc.body)
			p := r.JSON(t)
			if tc.field != "" {
				require.Equal(t, tc.field, p["field"], "problem: %s", r)
			}
			if tc.status == 400 {
				require.Equal(t, "INVALID_ARGUMENT", p["code"])
			} else {
				require.Equal(t, "PAYLOAD_TOO_LARGE", p["code"])
			}
			require.Equal(t, before, e.height())
			require.NotContains(t, p, "txId", "no transaction was made")
		})
	}
	t.Run("ledger unchanged", func(t *testing.T) {
		e := env.with(t)
		e.mustStatus(http.StatusNotFound, merchant, "GET", "/api/v1/orders/bad-1", nil)
		o := e.mustStatus(http.StatusOK, merchant, "GET", "/api/v1/orders/bad-0", nil).JSON(t)
		require.Equal(t, "CREATED", o["status"])
	})
	t.Run("bad query", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusBadRequest, merchant, "GET", "/api/v1/orders?pageSize=0", nil)
		require.Equal(t, "pageSize", r.JSON(t)["field"])
		r = e.mustStatus(http.StatusBadRequest, merchant, "GET", "/api/v1/orders?status=LOST", nil)
		require.Equal(t, "status", r.JSON(t)["field"])
		r = e.mustStatus(http.StatusBadRequest, merchant, "GET", "/api/v1/orders?bookmark=***", nil)
		require.Equal(t, "bookmark", r.JSON(t)["field"])
	})
}

// TestIdempotencyAndAsync checks Idempotency-Key replays (also after a restart), key reuse with
// another body, and Prefer: respond-async with transaction polling.
func TestIdempotencyAndAsync(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)

	first := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("idem-1"), "Idempotency-Key", "k-1")
	height := e.height()
	txID := first.Header.Get("X-Transaction-Id")
	require.NotEmpty(t, txID)

	replay := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("idem-1"), "Idempotency-Key", "k-1")
	require.Equal(t, first.Body, replay.Body)
	require.Equal(t, txID, replay.Header.Get("X-Transaction-Id"))
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, height, e.height(), "a replay makes no transaction")

	r := e.mustStatus(http.StatusUnprocessableEntity, merchant, "POST", "/api/v1/orders", testkit.OrderBody("idem-2"), "Idempotency-Key", "k-1")
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.JSON(t)["code"])

	// Keys are per API key: another organisation's k-1 is a different key.
	e.mustStatus(http.StatusForbidden, bank, "POST", "/api/v1/orders", testkit.OrderBody("idem-3"), "Idempotency-Key", "k-1")

	// A deterministic chaincode refusal is a final answer too.
	conflict := e.mustStatus(http.StatusConflict, merchant, "POST", "/api/v1/orders", testkit.OrderBody("idem-1"), "Idempotency-Key", "k-2")
	again := e.mustStatus(http.StatusConflict, merchant, "POST", "/api/v1/orders", testkit.OrderBody("idem-1"), "Idempotency-Key", "k-2")
	require.Equal(t, conflict.JSON(t)["detail"], again.JSON(t)["detail"])
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))

	env.restart()
	e = env.with(t)
	height = e.height()
	replay = e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("idem-1"), "Idempotency-Key", "k-1")
	require.Equal(t, first.Body, replay.Body)
	require.Equal(t, txID, replay.Header.Get("X-Transaction-Id"))
	require.Equal(t, height, e.height())

	t.Run("async", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusAccepted, merchant, "POST", "/api/v1/orders", testkit.OrderBody("async-1"), "Prefer", "respond-async")
		acc := r.JSON(t)
		txID := acc["txId"].(string)
		require.Equal(t, "SUBMITTED", acc["status"])
		require.Equal(t, "/api/v1/transactions/"+txID, r.Header.Get("Location"))
		require.Equal(t, "respond-async", r.Header.Get("Preference-Applied"))
		var st map[string]any
		require.Eventually(t, func() bool {
			res := e.call(customs, "GET", "/api/v1/transactions/"+txID, nil)
			if res.Status != http.StatusOK {
				require.Equal(t, http.StatusNotFound, res.Status, "%s", res)
				return false
			}
			st = res.JSON(t)
			return true
		}, 20*time.Second, 50*time.Millisecond)
		require.Equal(t, "VALID", st["validationCode"])
		require.Greater(t, st["blockNumber"].(float64), 0.0)
		e.mustStatus(http.StatusOK, merchant, "GET", "/api/v1/orders/async-1", nil)
		e.mustStatus(http.StatusNotFound, merchant, "GET", "/api/v1/transactions/"+strings.Repeat("0", 64), nil)
	})

	t.Run("concurrent duplicates make one transaction", func(t *testing.T) {
		e := env.with(t)
		height := e.height()
		const n = 8
		results := make(chan resp, n)
		body, err := json.Marshal(testkit.OrderBody("idem-concurrent"))
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			go func() { results <- e.call(merchant, "POST", "/api/v1/orders", body, "Idempotency-Key", "k-concurrent") }()
		}
		var txIDs []string
		for i := 0; i < n; i++ {
			r := <-results
			require.Equal(t, http.StatusCreated, r.Status, "%s", r)
			txIDs = append(txIDs, r.Header.Get("X-Transaction-Id"))
		}
		for _, id := range txIDs {
			require.Equal(t, txIDs[0], id)
		}
		require.Equal(t, height+1, e.height(), fmt.Sprintf("one block for one transaction, txIds %v", txIDs))
	})
}

// TestConcurrentWritesAndCORS sends concurrent writes of the same ledger key (MVCC read
// conflicts in one block), which the gateway retries with fresh proposals, and checks CORS.
func TestConcurrentWritesAndCORS(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "", "https://portal.example")
	const n = 4
	results := make(chan resp, n)
	for i := 0; i < n; i++ {
		go func() {
			results <- env.call(customs, "PUT", "/api/v1/compliance/rules", map[string]any{
				"singleOrderLimit": map[string]any{"USD": 1000000 + i},
				"watchlist":        []string{fmt.Sprintf("buyer-watch-%d", i)},
			})
		}()
	}
	attempts := 0
	for i := 0; i < n; i++ {
		r := <-results
		require.Equal(t, http.StatusOK, r.Status, "%s", r)
		if a := r.Header.Get("X-Fabric-Attempts"); a != "" {
			attempts++
		}
	}
	rules := env.with(t).mustStatus(http.StatusOK, bank, "GET", "/api/v1/compliance/rules", nil).JSON(t)
	require.Equal(t, float64(n), rules["version"], "every change applied once")
	t.Logf("%d of %d writes needed more than one proposal", attempts, n)

	t.Run("watch list hold and alert", func(t *testing.T) {
		e := env.with(t)
		body := testkit.OrderBody("watched-1")
		body["buyer"].(map[string]any)["id"] = rules["watchlist"].([]any)[0]
		o := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", body).JSON(t)
		require.Equal(t, "HELD", o["status"])
		alerts := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/compliance/alerts", nil).JSON(t)
		require.NotEmpty(t, alerts["items"])
	})

	t.Run("cors", func(t *testing.T) {
		req, err := http.NewRequest("OPTIONS", env.app.URL+"/api/v1/orders", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"), "only configured origins are allowed")

		req.Header.Set("Origin", "https://portal.example")
		res, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		require.Equal(t, "https://portal.example", res.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Idempotency-Key")

		r := env.with(t).call(bank, "GET", "/api/v1/compliance/rules", nil, "Origin", "https://portal.example")
		require.Equal(t, "https://portal.example", r.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, r.Header.Get("Access-Control-Expose-Headers"), "X-Transaction-Id")
	})
}
