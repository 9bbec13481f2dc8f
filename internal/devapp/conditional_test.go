package devapp_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

// TestConditionalRequests checks the order's entity tag (its version) on reads and writes,
// If-Match on writes (lost-update protection, checked by the chaincode), If-None-Match on reads
// and the consistency token of writes.
func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)
	o := testkit.NewOrder("cond-1")
	created := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", o.CreateBody())
	require.Equal(t, `"1"`, created.Header.Get("ETag"))
	block, err := strconv.ParseUint(created.Header.Get("X-Block-Number"), 10, 64)
	require.NoError(t, err, "a committed write answers its block")
	require.Positive(t, block)

	t.Run("a read answers the version as ETag, and 304 while it is unchanged", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders/cond-1", nil)
		require.Equal(t, `"1"`, r.Header.Get("ETag"))
		require.EqualValues(t, 1, r.JSON(t)["version"])
		r = e.mustStatus(http.StatusNotModified, customs, "GET", "/api/v1/orders/cond-1", nil, "If-None-Match", `W/"1"`)
		require.Empty(t, r.Body)
		require.Equal(t, `"1"`, r.Header.Get("ETag"))
		e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders/cond-1", nil, "If-None-Match", `"2"`)
	})
	t.Run("a write with the current version succeeds and answers the next one", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/cond-1/payment", o.PaymentBody("pay-cond-1"), "If-Match", `"1"`)
		require.Equal(t, `"2"`, r.Header.Get("ETag"))
		require.EqualValues(t, 2, r.JSON(t)["version"])
	})
	t.Run("a stale version is refused with VERSION_MISMATCH and changes nothing", func(t *testing.T) {
		e := env.with(t)
		before := e.height()
		r := e.mustStatus(http.StatusPreconditionFailed, merchant, "POST", "/api/v1/orders/cond-1/cancellation",
			map[string]any{"reason": "changed my mind"}, "If-Match", `"1"`)
		p := r.JSON(t)
		require.Equal(t, "VERSION_MISMATCH", p["code"])
		require.Equal(t, "If-Match", p["field"])
		require.Contains(t, p["detail"], "is at version 2, not 1")
		require.Equal(t, before, e.height())
		require.Equal(t, "PAID", e.mustStatus(http.StatusOK, merchant, "GET", "/api/v1/orders/cond-1", nil).JSON(t)["status"])
	})
	t.Run("a lifecycle precondition keeps its own code", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusPreconditionFailed, bank, "POST", "/api/v1/orders/cond-1/delivery-confirmation", nil, "If-Match", `"2"`)
		require.Equal(t, "FAILED_PRECONDITION", r.JSON(t)["code"])
	})
	t.Run("If-Match: * requires the order to exist", func(t *testing.T) {
		e := env.with(t)
		e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/orders/cond-1/customs/declaration", o.DeclarationBody(), "If-Match", "*")
		r := e.mustStatus(http.StatusPreconditionFailed, merchant, "POST", "/api/v1/orders/cond-none/cancellation", nil, "If-Match", "*")
		require.Equal(t, "VERSION_MISMATCH", r.JSON(t)["code"])
		e.mustStatus(http.StatusNotFound, merchant, "POST", "/api/v1/orders/cond-none/cancellation", nil)
	})
	t.Run("an anchor may be conditional on the order's version", func(t *testing.T) {
		e := env.with(t)
		doc := map[string]any{"sha256": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "orderId": "cond-1", "kind": "INVOICE"}
		r := e.mustStatus(http.StatusPreconditionFailed, merchant, "POST", "/api/v1/documents", doc, "If-Match", `"1"`)
		require.Equal(t, "VERSION_MISMATCH", r.JSON(t)["code"])
		r = e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/documents", doc, "If-Match", `"3"`)
		require.Empty(t, r.Header.Get("ETag"), "the anchor is not the order")
	})
	t.Run("bad conditions", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, header, value, code string
			status                          int
		}{
			{"weak tag never matches", "/api/v1/orders/cond-1/cancellation", "If-Match", `W/"3"`, "VERSION_MISMATCH", 412},
			{"unquoted", "/api/v1/orders/cond-1/cancellation", "If-Match", `3`, "INVALID_ARGUMENT", 400},
			{"two tags", "/api/v1/orders/cond-1/cancellation", "If-Match", `"3", "4"`, "INVALID_ARGUMENT", 400},
			{"version zero", "/api/v1/orders/cond-1/cancellation", "If-Match", `"0"`, "INVALID_ARGUMENT", 400},
			{"a create has no version to match", "/api/v1/orders", "If-Match", `"1"`, "INVALID_ARGUMENT", 400},
			{"bad block number", "/api/v1/orders/cond-1/cancellation", "X-Min-Block-Number", "-1", "INVALID_ARGUMENT", 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := env.with(t)
				before := e.height()
				var body any
				if tc.path == "/api/v1/orders" {
					body = testkit.OrderBody("cond-2")
				}
				r := e.mustStatus(tc.status, merchant, "POST", tc.path, body, tc.header, tc.value)
				p := r.JSON(t)
				require.Equal(t, tc.code, p["code"], "%s", r)
				require.Equal(t, tc.header, p["field"])
				require.Equal(t, before, e.height())
			})
		}
	})
	t.Run("a token of a committed block is served at once", func(t *testing.T) {
		e := env.with(t)
		r := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders/cond-1", nil, "X-Min-Block-Number", strconv.FormatUint(block, 10))
		require.Equal(t, "cond-1", r.JSON(t)["orderId"])
	})
	t.Run("the gateway observes every peer's height", func(t *testing.T) {
		e := env.with(t)
		heights := func() map[string]uint64 {
			out := map[string]uint64{}
			metrics := string(e.mustStatus(http.StatusOK, "", "GET", "/metrics", nil).Body)
			for _, line := range strings.Split(metrics, "\n") {
				var msp string
				var h float64
				if _, err := fmt.Sscanf(line, "xborder_fabric_peer_height{msp=%q} %g", &msp, &h); err == nil {
					out[msp] = uint64(h)
				}
			}
			return out
		}
		require.Eventually(t, func() bool {
			h := heights()
			for _, org := range testkit.Organizations() {
				if h[org] <= block {
					return false
				}
			}
			return true
		}, 30*time.Second, 20*time.Millisecond, "every peer's height passes the block of the first write: %v", heights())
	})
	t.Run("an idempotent replay answers the entity tag too", func(t *testing.T) {
		e := env.with(t)
		first := e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/cond-1/waybill", o.WaybillBody(), "Idempotency-Key", "cond-wb", "If-Match", `"3"`)
		again := e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/cond-1/waybill", o.WaybillBody(), "Idempotency-Key", "cond-wb", "If-Match", `"3"`)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
		r := e.mustStatus(http.StatusUnprocessableEntity, carrier, "POST", "/api/v1/orders/cond-1/waybill", o.WaybillBody(), "Idempotency-Key", "cond-wb", "If-Match", `"4"`)
		require.Equal(t, "IDEMPOTENCY_KEY_REUSED", r.JSON(t)["code"], "the condition is part of the request")
	})
}
