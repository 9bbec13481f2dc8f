package consoletest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

const regulator = "RegulatorMSP"

// testRegulator signs in as the read-only financial supervisor: it reads every order, the
// alerts and the channel, and is offered no action anywhere.
func testRegulator(t *testing.T, app *devapp.App, tb *tab, orderID string) {
	require.NotEmpty(t, app.Credentials[regulator], "the dev system issues a key to the regulator")
	tb.signIn(app, regulator)
	nav := eval[[]string](tb, `Array.from(document.querySelectorAll("#nav a")).map(a => a.textContent)`)
	require.NotContains(t, nav, "New order", "the regulator writes nothing")
	require.Contains(t, nav, "Channel")

	tb.goTo("/orders/" + orderID)
	tb.run(waitStatus("COMPLETED"))
	require.Zero(t, eval[int](tb, `document.querySelectorAll("#actions form").length`), "no action forms for a read-only organisation")

	tb.goTo("/compliance")
	tb.run(waitJS(`document.querySelector("#alerts tbody") && document.querySelector("#alerts tbody").textContent.includes("ord-watch-1")`))
	require.Zero(t, eval[int](tb, `document.querySelectorAll("#form-setComplianceRules").length`), "customs alone edits the rules")

	tb.goTo("/channel")
	tb.run(chromedp.WaitVisible(css(`#blocks table tbody tr`)))
	tb.screenshot("regulator")
}

// testTrackingPage follows an order from its buyer's tracking link, with no API key, and has
// the buyer confirm receipt from the page: the statement is signed in the browser (WebCrypto)
// with the buyer's own key, which never leaves the page.
func testTrackingPage(t *testing.T, app *devapp.App, tb *tab) {
	c := client(t, app)
	buyer, err := testkit.NewBuyer()
	require.NoError(t, err)
	o := testkit.NewOrder("track-page")
	body := o.CreateBody()
	body["buyer"].(map[string]any)["publicKey"] = buyer.PublicJWK()
	created := c.Must(t, http.StatusCreated, merchant, "POST", "/api/v1/orders", body).JSON(t)
	link, _ := created["trackingUrl"].(string)
	require.True(t, strings.HasPrefix(link, "/track/"), "trackingUrl %q", link)
	c.Must(t, http.StatusOK, bank, "POST", "/api/v1/orders/"+o.ID+"/payment", o.PaymentBody("pay-"+o.ID))
	c.DocumentAndClear(t, o, testkit.ClearedDecision())
	c.Deliver(t, o)

	tb.run(chromedp.Navigate(app.URL+link), chromedp.WaitVisible(css(`#progress`)),
		waitJS(`document.getElementById("order-status").textContent === "DELIVERED"`))
	page := tb.textOf("main")
	for _, private := range append(o.PrivateStrings(), o.MerchantID) {
		require.NotContains(t, page, private, "the tracking page shows public progress only")
	}
	require.Equal(t, buyer.Thumbprint(), tb.textOf("#thumbprint"))
	jwk, err := json.Marshal(buyer.PrivateJWK())
	require.NoError(t, err)
	tb.run(chromedp.SetValue(css(`#key`), string(jwk)),
		chromedp.Click(css(`button[data-action="CONFIRM_RECEIPT"]`)),
		waitJS(`document.getElementById("sign-result").textContent.includes("COMPLETED")`),
		waitJS(`document.getElementById("order-status").textContent === "COMPLETED"`))
	tb.screenshot("tracking-page")
	order := c.Must(t, http.StatusOK, bank, "GET", "/api/v1/orders/"+o.ID, nil).JSON(t)
	require.Equal(t, "COMPLETED", order["status"])
	require.Equal(t, []float64{float64(o.Total()), float64(o.Total()), 0}, testkit.Escrow(t, order), "the whole escrow released on the buyer's word")
}
