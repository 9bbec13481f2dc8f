package devapp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

// keyedOrder is the creation body of order id with the buyer's key, terms and deadlines.
func keyedOrder(id string, buyer *testkit.Buyer, terms map[string]any, deadlines map[string]any) map[string]any {
	body := testkit.OrderBody(id)
	body["buyer"].(map[string]any)["publicKey"] = buyer.PublicJWK()
	if terms != nil {
		body["paymentTerms"] = terms
	}
	if deadlines != nil {
		body["deadlines"] = deadlines
	}
	return body
}

// track reads the tracking view of token without an API key.
func (e *env) track(token string) map[string]any {
	e.t.Helper()
	return e.mustStatus(http.StatusOK, "", "GET", "/api/v1/track/"+token, nil).JSON(e.t)
}

// version is the order's version as its tracking view shows it.
func (e *env) version(token string) int64 {
	e.t.Helper()
	v, ok := e.track(token)["version"].(float64)
	require.True(e.t, ok)
	return int64(v)
}

// TestBuyerOverREST takes orders through the buyer's side of the REST API: a keyed order with
// milestone terms followed and confirmed by its buyer through the tracking link, without an API
// key; forged and replayed statements; a late cancellation; the merchant's revocation; FX
// reference rates with their tolerance and the exposure report.
func TestBuyerOverREST(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)
	buyer := testkit.TestVectorBuyer()
	e.mustStatus(http.StatusOK, customs, "PUT", "/api/v1/compliance/rules", map[string]any{
		"paymentTermsMinScore": map[string]int{"MILESTONES": 500, "AUTO_RELEASE": 500},
	})

	t.Run("milestones, tracked and confirmed by the buyer", func(t *testing.T) {
		e := env.with(t)
		o := testkit.NewOrder("buyer-1")
		r := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders",
			keyedOrder(o.ID, buyer, map[string]any{"kind": "MILESTONES", "clearanceShareBps": 2500}, nil), "Idempotency-Key", "buyer-1")
		created := r.JSON(t)
		token, _ := created["trackingToken"].(string)
		require.NotEmpty(t, token)
		require.Equal(t, "/track/"+token, created["trackingUrl"])
		require.Equal(t, buyer.Thumbprint(), created["buyer"].(map[string]any)["keyThumbprint"])
		replay := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders",
			keyedOrder(o.ID, buyer, map[string]any{"kind": "MILESTONES", "clearanceShareBps": 2500}, nil), "Idempotency-Key", "buyer-1")
		require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
		require.NotContains(t, string(replay.Body), token, "the gateway does not keep the token")

		view := e.track(token)
		require.Equal(t, "CREATED", view["status"])
		require.Equal(t, buyer.Thumbprint(), view["buyerKeyThumbprint"])

		e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID))
		e.client.DocumentAndClear(t, o, testkit.ClearedDecision())
		view = e.track(token)
		require.Equal(t, []float64{3000, 750, 0}, testkit.Escrow(t, view), "a quarter released at clearance")
		require.Equal(t, true, view["payment"].(map[string]any)["held"])
		e.client.Deliver(t, o)
		view = e.track(token)
		require.Equal(t, "DELIVERED", view["status"])
		require.Len(t, view["checkpoints"], 5)
		raw := string(e.mustStatus(http.StatusOK, "", "GET", "/api/v1/track/"+token, nil).Body)
		for _, private := range append(o.PrivateStrings(), o.MerchantID, "buyer-"+o.ID, o.ItemName) {
			require.NotContains(t, raw, private)
		}

		p := e.mustStatus(http.StatusPreconditionFailed, bank, "POST", "/api/v1/orders/"+o.ID+"/delivery-confirmation", nil).JSON(t)
		require.Contains(t, p["detail"], "the buyer holds a key")

		expires := time.Now().Add(time.Hour)
		st := testkit.Statement(o.ID, "CONFIRM_RECEIPT", e.version(token), testkit.Nonce(), expires, "")
		forger, err := testkit.NewBuyer()
		require.NoError(t, err)
		p = e.mustStatus(http.StatusForbidden, "", "POST", "/api/v1/track/"+token+"/statements", forger.StatementBody(st)).JSON(t)
		require.Equal(t, "FORBIDDEN", p["code"])

		body := buyer.StatementBody(st)
		done := e.mustStatus(http.StatusOK, "", "POST", "/api/v1/track/"+token+"/statements", body).JSON(t)
		require.Equal(t, "COMPLETED", done["status"])
		require.Equal(t, []float64{3000, 3000, 0}, testkit.Escrow(t, done))
		require.NotContains(t, done, "merchantId", "a token holder sees public progress only")
		p = e.mustStatus(http.StatusPreconditionFailed, "", "POST", "/api/v1/track/"+token+"/statements", body).JSON(t)
		require.Equal(t, "VERSION_MISMATCH", p["code"])
		require.Equal(t, "statement.orderVersion", p["field"])

		e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/orders/"+o.ID+"/tracking-link/revocation", nil)
		p = e.mustStatus(http.StatusNotFound, "", "GET", "/api/v1/track/"+token, nil).JSON(t)
		require.Equal(t, "NOT_FOUND", p["code"])
		link := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders/"+o.ID+"/tracking-link", nil).JSON(t)
		fresh, _ := link["trackingToken"].(string)
		require.Equal(t, "COMPLETED", e.track(fresh)["status"])
	})

	t.Run("a member relays the buyer's dispute; a late order is cancelled by its buyer", func(t *testing.T) {
		e := env.with(t)
		o := testkit.NewOrder("buyer-2")
		r := e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", keyedOrder(o.ID, buyer, nil, nil)).JSON(t)
		e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID))
		version := int64(r["version"].(float64)) + 1
		st := testkit.Statement(o.ID, "OPEN_DISPUTE", version, testkit.Nonce(), time.Now().Add(time.Hour), "ordered the wrong size")
		d := e.mustStatus(http.StatusOK, carrier, "POST", "/api/v1/orders/"+o.ID+"/buyer-statements", buyer.StatementBody(st)).JSON(t)
		require.Equal(t, "DISPUTED", d["status"])
		require.Equal(t, "ordered the wrong size", d["dispute"].(map[string]any)["reason"])

		late := testkit.NewOrder("buyer-3")
		shipBy := time.Now().Add(4 * time.Second)
		r = e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders",
			keyedOrder(late.ID, buyer, nil, map[string]any{"shipBy": shipBy.UTC().Format(time.RFC3339Nano)})).JSON(t)
		token, _ := r["trackingToken"].(string)
		e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+late.ID+"/payment", late.PaymentBody("pay-"+late.ID))
		cancel := func() testkit.Reply {
			st := testkit.Statement(late.ID, "CANCEL_LATE", e.version(token), testkit.Nonce(), time.Now().Add(time.Hour), "")
			return e.call("", "POST", "/api/v1/track/"+token+"/statements", buyer.StatementBody(st))
		}
		// Only with a clear margin: on a loaded machine the statement may reach the chaincode
		// a second or more after it was made.
		if time.Until(shipBy) > 2*time.Second {
			r := cancel()
			require.Equal(t, http.StatusPreconditionFailed, r.Status, r.String())
			require.Contains(t, string(r.Body), "no deadline")
		}
		time.Sleep(time.Until(shipBy) + 10*time.Millisecond)
		c := cancel()
		require.Equal(t, http.StatusOK, c.Status, c.String())
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, c.JSON(t)))
		credit := e.mustStatus(http.StatusOK, bank, "GET", "/api/v1/merchants/"+testkit.DefaultMerchant+"/credit", nil).JSON(t)
		require.GreaterOrEqual(t, credit["lateShipments"], float64(1))
		require.Equal(t, "xborder-credit-v2", credit["scoreModel"])
	})

	t.Run("FX reference rates and the exposure report", func(t *testing.T) {
		e := env.with(t)
		today := time.Now().UTC().Format("2006-01-02")
		e.mustStatus(http.StatusOK, customs, "PUT", "/api/v1/compliance/rules", map[string]any{"fxToleranceBps": 50, "fxReferenceRequired": true})
		o := testkit.NewOrder("buyer-fx")
		e.mustStatus(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody(o.ID))
		p := e.mustStatus(http.StatusPreconditionFailed, bank, "POST", "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID)).JSON(t)
		require.Equal(t, "FAILED_PRECONDITION", p["code"], p)
		require.Contains(t, p["detail"], "fxRate: no reference rate for USD/EUR on "+today)
		pub := e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/fx/reference-rates", map[string]any{"date": today, "rates": map[string]string{"USD/EUR": "0.95"}}).JSON(t)
		require.EqualValues(t, 1, pub["count"])
		p = e.mustStatus(http.StatusUnprocessableEntity, bank, "POST", "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID)).JSON(t)
		require.Equal(t, "FX_OUT_OF_TOLERANCE", p["code"])
		require.Equal(t, "fxRate", p["field"])
		e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/fx/reference-rates", map[string]any{"date": today, "rates": map[string]string{"USD/EUR": "0.921"}})
		paid := e.mustStatus(http.StatusOK, bank, "POST", "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID)).JSON(t)
		require.Equal(t, "0.921", paid["payment"].(map[string]any)["referenceRate"])
		ref := e.mustStatus(http.StatusOK, merchant, "GET", "/api/v1/fx/reference-rates/USD/EUR/"+today, nil).JSON(t)
		require.Equal(t, "0.921", ref["rate"])
		rep := e.mustStatus(http.StatusOK, customs, "GET", "/api/v1/fx/exposure?bankId=BankMSP&from="+today+"&to="+today, nil).JSON(t)
		require.GreaterOrEqual(t, rep["payments"], float64(1))
		require.True(t, strings.Contains(string(e.mustStatus(http.StatusOK, bank, "GET", "/api/v1/fx/exposure?bankId=BankMSP&from="+today+"&to="+today, nil).Body), `"pair":"USD/EUR"`))
		e.mustStatus(http.StatusOK, customs, "PUT", "/api/v1/compliance/rules", map[string]any{})
	})
}
