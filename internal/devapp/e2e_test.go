package devapp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

// TestLifecycles runs the three binding lifecycles and a dispute over HTTP, checking status and
// money conservation at every end, and private data visibility by organisation.
func TestLifecycles(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")

	t.Run("release after delivery", func(t *testing.T) {
		e := env.with(t)
		id := "life-release"
		e.createAndPay(id)
		r := e.documentAndClear(id, map[string]any{"decision": "CLEARED", "dutyAmount": 120, "taxAmount": 80})
		require.Equal(t, "CLEARED", r.JSON(t)["status"])
		for _, code := range []string{"PICKED_UP", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"} {
			e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/"+id+"/checkpoints",
				map[string]any{"code": code, "location": "Hub " + code, "documentHash": strings.Repeat("ab", 32)})
		}
		// Anyone may release, but only after the confirmation window (7 days by default).
		p := e.mustStatus(http.StatusPreconditionFailed, carrier, "POST", "/api/v1/orders/"+id+"/release", nil).JSON(t)
		require.Equal(t, "FAILED_PRECONDITION", p["code"])
		r = e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+id+"/delivery-confirmation", nil)
		o := r.JSON(t)
		require.Equal(t, "COMPLETED", o["status"])
		require.Equal(t, []float64{3000, 3000, 0}, testkit.Escrow(t, o))
		require.NotEmpty(t, r.Header.Get("X-Transaction-Id"))
		require.Equal(t, r.Header.Get("X-Transaction-Id"), o["txId"])

		tx := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/transactions/"+r.Header.Get("X-Transaction-Id"), nil).JSON(t)
		require.Equal(t, "VALID", tx["validationCode"])
		require.Equal(t, true, tx["valid"])

		hist := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders/"+id+"/history", nil).JSON(t)
		require.GreaterOrEqual(t, len(hist["entries"].([]any)), 11)

		credit := e.mustStatus(http.StatusOK, bank, "GET", "/api/v1/merchants/merchant-1/credit", nil).JSON(t)
		require.Equal(t, "merchant-1", credit["merchantId"])
	})

	t.Run("customs rejection refunds", func(t *testing.T) {
		e := env.with(t)
		id := "life-reject"
		e.createAndPay(id)
		r := e.documentAndClear(id, map[string]any{"decision": "REJECTED", "reason": "undeclared goods"})
		o := r.JSON(t)
		require.Equal(t, "REJECTED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, o))
	})

	t.Run("cancellation refunds", func(t *testing.T) {
		e := env.with(t)
		id := "life-cancel"
		e.createAndPay(id)
		o := e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/orders/"+id+"/cancellation", map[string]any{"reason": "out of stock"}).JSON(t)
		require.Equal(t, "CANCELLED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, o))
		// A second cancellation is refused by the state machine.
		e.mustStatus(http.StatusPreconditionFailed, merchant, "POST", "/api/v1/orders/"+id+"/cancellation", nil)
	})

	t.Run("dispute before delivery refunds in full", func(t *testing.T) {
		e := env.with(t)
		id := "life-dispute"
		e.createAndPay(id)
		o := e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+id+"/disputes", map[string]any{"reason": "item damaged"}).JSON(t)
		require.Equal(t, "DISPUTED", o["status"])
		// Release is frozen while the dispute is open.
		e.mustStatus(http.StatusPreconditionFailed, bank, "POST", "/api/v1/orders/"+id+"/delivery-confirmation", nil)
		o = e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+id+"/disputes/resolution",
			map[string]any{"refundAmount": 3000, "resolution": "refund before delivery"}).JSON(t)
		require.Equal(t, "REFUNDED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, o))
	})

	t.Run("three-document match", func(t *testing.T) {
		e := env.with(t)
		id := "life-match"
		salt := strings.Repeat("5a", 16)
		body := testkit.OrderBody(id)
		body["consigneeSalt"] = salt
		e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", body)
		e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+id+"/payment", testkit.PaymentBody(id))
		e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/orders/"+id+"/customs/declaration",
			map[string]any{"declarationId": "dec-" + id, "declaredValue": 3000, "hsCodes": []string{"090210"}})
		waybill := map[string]any{"waybillNo": "wb-" + id, "consigneeName": "Bob Stone", "consigneeAddress": "1 Main St, Springfield", "consigneeSalt": strings.Repeat("a5", 16)}
		p := e.mustStatus(http.StatusBadRequest, carrier, "POST", "/api/v1/orders/"+id+"/waybill", waybill).JSON(t)
		require.Equal(t, "consigneeSalt", p["field"], "the transient field is named as in the REST body")
		delete(waybill, "consigneeSalt")
		e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/"+id+"/waybill", waybill)
		p = e.mustStatus(http.StatusPreconditionFailed, customs, "POST", "/api/v1/orders/"+id+"/customs/decision", map[string]any{"decision": "CLEARED"}).JSON(t)
		require.Equal(t, "FAILED_PRECONDITION", p["code"])
		require.NotEmpty(t, p["details"], "the mismatches are listed")
		waybill["consigneeName"] = "ann  LEE"
		waybill["consigneeSalt"] = salt
		e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/"+id+"/waybill", waybill)
		o := e.mustStatus(http.StatusOK, customs, "POST", "/api/v1/orders/"+id+"/customs/decision", map[string]any{"decision": "CLEARED"}).JSON(t)
		require.Equal(t, "CLEARED", o["status"])
	})

	t.Run("private data by organisation", func(t *testing.T) {
		e := env.with(t)
		id := "life-release"
		for _, tc := range []struct {
			org              string
			buyerName, payer bool
		}{
			{merchant, true, false}, {carrier, true, false}, {bank, false, true}, {customs, true, true},
		} {
			o := e.mustStatus(http.StatusOK, tc.org, "GET", "/api/v1/orders/"+id, nil).JSON(t)
			buyer := o["buyer"].(map[string]any)
			_, hasName := buyer["name"]
			require.Equal(t, tc.buyerName, hasName, "%s sees buyer name", tc.org)
			payment := o["payment"].(map[string]any)
			_, hasPayer := payment["payerName"]
			require.Equal(t, tc.payer, hasPayer, "%s sees payer name", tc.org)
		}
	})

	t.Run("list and filter", func(t *testing.T) {
		e := env.with(t)
		page := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders?merchantId=merchant-1&status=COMPLETED&pageSize=10", nil).JSON(t)
		items := page["items"].([]any)
		require.Len(t, items, 1) // life-release; the dispute before delivery ends REFUNDED
		page = e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders?pageSize=1", nil).JSON(t)
		require.Len(t, page["items"].([]any), 1)
		require.NotEmpty(t, page["bookmark"])
		next := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/orders?pageSize=1&bookmark="+page["bookmark"].(string), nil).JSON(t)
		require.NotEqual(t, page["items"], next["items"])
	})

	t.Run("documents and settlements", func(t *testing.T) {
		e := env.with(t)
		sha := strings.Repeat("c3", 32)
		r := e.mustStatus(http.StatusCreated, carrier, "POST", "/api/v1/documents",
			map[string]any{"sha256": sha, "orderId": "life-release", "kind": "PROOF_OF_DELIVERY"})
		require.Equal(t, "/api/v1/documents/"+sha, r.Header.Get("Location"))
		d := e.mustStatus(http.StatusOK, merchant, "GET", "/api/v1/documents/"+sha, nil).JSON(t)
		require.Equal(t, "CarrierMSP", d["anchoredByMsp"])
		e.mustStatus(http.StatusNotFound, merchant, "GET", "/api/v1/documents/"+strings.Repeat("0", 64), nil)
		from, to := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
		s := e.mustStatus(http.StatusOK, bank, "GET", "/api/v1/settlements?merchantId=merchant-1&currency=USD&from="+from+"&to="+to, nil).JSON(t)
		totals := s["totals"].([]any)
		require.Len(t, totals, 1)
		usd := totals[0].(map[string]any)
		// Finished: release (3000 released), rejection, cancellation and the dispute before
		// delivery (3000 refunded each).
		require.Equal(t, []any{"USD", 12000.0, 3000.0, 9000.0}, []any{usd["currency"], usd["escrowed"], usd["released"], usd["refunded"]})
		e.mustStatus(http.StatusForbidden, carrier, "GET", "/api/v1/settlements?merchantId=merchant-1&from="+from+"&to="+to, nil)
	})
}
