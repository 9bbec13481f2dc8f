package consoletest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

const (
	merchant = "MerchantMSP"
	bank     = "BankMSP"
	carrier  = "CarrierMSP"
	customs  = "CustomsMSP"
)

// startApp runs the dev system on a free port in a fresh data directory.
func startApp(t *testing.T) *devapp.App {
	t.Helper()
	app, err := devapp.Start(context.Background(), devapp.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", CommitTimeout: 20 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, app.Close()) })
	return app
}

// client is a REST client of app with every organisation's key, checking every answer against
// the contract.
func client(t *testing.T, app *devapp.App) *testkit.Client {
	t.Helper()
	spec, err := httpapi.LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	c := testkit.NewClient(app.URL, app.Credentials, testkit.WithCheck(testkit.ResponseChecker(spec)))
	t.Cleanup(c.Close)
	return c
}

type css = chromedp.CSS

// void runs an action for its effect only.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// open loads a console page in tb and waits for its heading.
func (tb *tab) open(app *devapp.App, hash string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(app.URL+"/console/#"+hash), chromedp.WaitVisible(css("main h1")))
}

// goTo follows a console route without reloading the page (the live stream stays open).
func (tb *tab) goTo(hash string) {
	tb.t.Helper()
	tb.run(void(chromedp.Evaluate[string](fmt.Sprintf("location.hash = %q", "#"+hash))), chromedp.WaitVisible(css("main h1")))
}

// signIn signs tb in with org's key and waits for the orders board and the live stream.
func (tb *tab) signIn(app *devapp.App, org string) {
	tb.t.Helper()
	tb.open(app, "/signin")
	tb.run(
		chromedp.SetValue(css(`#signin-form input[name="Authorization"]`), app.Credentials[org]),
		chromedp.Click(css(`#signin-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#order-list table`)),
		chromedp.WaitVisible(css(`#live-indicator[data-state="live"]`)),
	)
	require.Equal(tb.t, org, tb.textOf(`.who .org`))
}

// typeInto replaces the value of the input sel by typing text (input events fire).
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	clear := void(chromedp.Evaluate[bool](fmt.Sprintf(`(() => { document.querySelector(%q).value = ""; return true; })()`, sel)))
	return chromedp.Steps(clear, chromedp.SendKeys(css(sel), text))
}

// fill sets the named fields of form id (inputs, selects and text areas), as a user's typing
// would: an input event follows each value.
func fill(id string, values map[string]string) chromedp.Action[chromedp.Void] {
	raw, err := json.Marshal(values)
	if err != nil {
		panic(err)
	}
	return chromedp.Steps(chromedp.WaitVisible(css("#"+id)), void(chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
		const form = document.getElementById(%q);
		for (const [name, value] of Object.entries(%s)) {
			const el = form.querySelector("[name=" + JSON.stringify(name) + "]");
			if (!el) throw new Error("no field " + name + " in form " + form.id);
			el.value = value;
			el.dispatchEvent(new Event("input", {bubbles: true}));
		}
		return true;
	})()`, id, raw))))
}

func submit(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(css(fmt.Sprintf(`#%s button[type=submit]`, id)))
}

func waitStatus(status string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(css(`#order-status .status-` + strings.ToLower(status)))
}

// waitJS polls a JavaScript expression until it is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
}

func (tb *tab) textOf(sel string) string {
	tb.t.Helper()
	return get(tb, chromedp.Text(css(sel)))
}

func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return get(tb, chromedp.Evaluate[T](expr))
}

// TestConsole drives the console as the four organisations: sign-in, a whole order lifecycle
// done from the console with live updates arriving in the other organisations' pages, a
// refused action shown next to its field, compliance rules and alerts, the channel explorer
// and the reports; then the read-only regulator, and a buyer on the tracking page.
func TestConsole(t *testing.T) {
	b := newBrowser(t)
	app := startApp(t)
	tabs := map[string]*tab{}
	for _, org := range []string{merchant, bank, carrier, customs} {
		tabs[org] = b.newTab(strings.TrimSuffix(org, "MSP"))
	}
	defer func() {
		for org, tb := range tabs {
			require.Empty(t, tb.errors.all(), "page errors in %s's tab", org)
		}
	}()

	t.Run("sign-in", func(t *testing.T) { testSignIn(t, app, tabs[merchant].in(t)) })
	t.Run("money", func(t *testing.T) { testMoney(t, tabs[merchant].in(t)) })
	for _, org := range []string{bank, carrier, customs} {
		tabs[org].signIn(app, org)
	}
	if testing.Short() {
		t.Log("-short: the lifecycle, explorer, compliance and report checks are skipped")
		return
	}
	var orderID string
	t.Run("order lifecycle by the four organisations", func(t *testing.T) { orderID = testLifecycle(t, app, in(t, tabs)) })
	t.Run("channel explorer", func(t *testing.T) { testExplorer(t, app, tabs[customs].in(t), orderID) })
	t.Run("compliance rules and alerts", func(t *testing.T) { testCompliance(t, app, in(t, tabs)) })
	t.Run("reports", func(t *testing.T) { testReports(t, tabs[bank].in(t)) })
	t.Run("the regulator reads and acts on nothing", func(t *testing.T) {
		tb := b.newTab("Regulator").in(t)
		defer func() { require.Empty(t, tb.errors.all(), "page errors in the regulator's tab") }()
		testRegulator(t, app, tb, orderID)
	})
	t.Run("the buyer's tracking page", func(t *testing.T) {
		tb := b.newTab("buyer").in(t)
		defer func() { require.Empty(t, tb.errors.all(), "page errors on the tracking page") }()
		testTrackingPage(t, app, tb)
	})
	t.Run("API reference", func(t *testing.T) {
		tb := b.newTab("docs").in(t)
		defer func() { require.Empty(t, tb.errors.all(), "page errors on /docs") }()
		testDocs(t, app, tb)
	})
}

// in returns the tabs reporting to t.
func in(t *testing.T, tabs map[string]*tab) map[string]*tab {
	out := map[string]*tab{}
	for org, tb := range tabs {
		out[org] = tb.in(t)
	}
	return out
}

func testSignIn(t *testing.T, app *devapp.App, tb *tab) {
	tb.open(app, "/orders")
	// Not signed in: the console asks for a key and names where the user was going.
	tb.run(chromedp.WaitVisible(css(`#signin-form`)))
	require.Equal(t, "#/signin?next=%2Forders", eval[string](tb, `location.hash`))
	tb.screenshot("signin")

	// A wrong key: the gateway's problem appears next to the key field.
	tb.run(
		chromedp.SetValue(css(`#signin-form input[name="Authorization"]`), "xb_not-a-key"),
		submit("signin-form"),
		chromedp.WaitVisible(css(`#signin-form [data-field="Authorization"] .field-error`)),
	)
	require.Contains(t, tb.textOf(`#signin-form [data-field="Authorization"] .field-error`), "unknown API key")

	// The right key, with the keyboard only: the key field has the focus, Enter submits.
	require.Equal(t, "Authorization", eval[string](tb, `document.activeElement.name`))
	tb.run(
		void(chromedp.Evaluate[bool](`(() => { document.activeElement.value = ""; return true; })()`)),
		chromedp.KeyEvent(app.Credentials[merchant]+kb.Enter),
		chromedp.WaitVisible(css(`#order-list table`)),
		chromedp.WaitVisible(css(`#live-indicator[data-state="live"]`)))
	require.Equal(t, merchant, tb.textOf(`.who .org`))
	require.Equal(t, "Orders", eval[string](tb, `document.activeElement.textContent`), "the focus moves to the page's heading")
	// The key is in this tab's session storage only, and never in the address.
	require.Equal(t, app.Credentials[merchant], eval[string](tb, `sessionStorage.getItem("xborder.apiKey")`))
	require.Equal(t, "{}", eval[string](tb, `JSON.stringify(localStorage)`))
	require.NotContains(t, eval[string](tb, `location.href`), app.Credentials[merchant])
	// The navigation offers what MerchantMSP may do: create orders, not the alerts of customs.
	nav := tb.textOf("#nav")
	require.Contains(t, nav, "New order")
	require.Contains(t, nav, "Channel")
	require.Equal(t, []string{"Orders", "New order", "Compliance", "Audit trail", "Channel", "Reports"},
		eval[[]string](tb, `Array.from(document.querySelectorAll("#nav a")).map(a => a.textContent)`))
}

func testLifecycle(t *testing.T, app *devapp.App, tabs map[string]*tab) string {
	m, bk, c, x := tabs[merchant], tabs[bank], tabs[carrier], tabs[customs]
	id := fmt.Sprintf("ord-%d", time.Now().UnixNano()%1e9)

	// The merchant creates the order from the console; the bank's board shows it without a reload.
	m.goTo("/orders/new")
	m.run(
		fill("form-createOrder", map[string]string{
			"orderId": id, "merchantId": "shop-eu-1", "sellerCountry": "DE", "shippingFee": "5.00",
			"buyer.id": "buyer-7f3a", "buyer.country": "US", "buyer.name": "Ann Lee",
			"buyer.address": "1 Main St, Springfield", "buyer.phone": "+1 555 0100",
			"items[0].sku": "TEA-250", "items[0].name": "Green tea 250 g", "items[0].hsCode": "090210",
			"items[0].quantity": "2", "items[0].unitPrice": "12.50",
		}),
	)
	m.screenshot("new-order")
	m.run(submit("form-createOrder"), waitStatus("CREATED"))
	require.Contains(t, m.textOf("#order-page .lead"), "30.00 EUR")
	bk.run(chromedp.WaitVisible(css(fmt.Sprintf(`#order-list tr[data-key=%q]`, id))))
	bk.screenshot("board-live")

	// The bank pays in USD. A payer amount that is not total × rate is refused by the
	// chaincode, and the problem appears next to the payer amount.
	bk.run(chromedp.Click(css(fmt.Sprintf(`#order-list tr[data-key=%q] a`, id))), waitStatus("CREATED"),
		typeInto(`#form-escrowPayment [name="payerCurrency"]`, "USD"),
		typeInto(`#form-escrowPayment [name="fxRate"]`, "1.08"),
		fill("form-escrowPayment", map[string]string{"payerName": "Ann Lee", "payerAccount": "US12 3456 7890"}))
	require.Equal(t, "32.40", get(bk, chromedp.Value(css(`#form-escrowPayment [name="payerAmount"]`))), "the console proposes total × rate")
	bk.run(typeInto(`#form-escrowPayment [name="payerAmount"]`, "30.00"), submit("form-escrowPayment"),
		chromedp.WaitVisible(css(`#form-escrowPayment [data-field="payerAmount"] .field-error`)))
	require.Contains(t, bk.textOf(`#form-escrowPayment [data-field="payerAmount"] .field-error`), "must be 3240")
	require.Equal(t, "true", get(bk, chromedp.AttributeValue(css(`#form-escrowPayment [name="payerAmount"]`), "aria-invalid")).Value)
	bk.screenshot("refused-payment")
	bk.run(typeInto(`#form-escrowPayment [name="payerAmount"]`, "32.40"), submit("form-escrowPayment"), waitStatus("PAID"))
	// The merchant's open order page follows without a reload.
	m.run(waitStatus("PAID"))

	m.run(submit("form-declareCustoms"), waitStatus("DOCUMENTED"))
	c.goTo("/orders/" + id)
	c.run(fill("form-registerWaybill", map[string]string{"consigneeName": "Ann Lee", "consigneeAddress": "1 Main St, Springfield"}),
		submit("form-registerWaybill"), waitJS(`document.querySelectorAll("#timeline li").length >= 4`))
	x.goTo("/orders/" + id)
	x.run(waitJS(`document.querySelectorAll("#timeline li").length >= 4`),
		fill("form-decideCustoms", map[string]string{"decision": "CLEARED", "dutyAmount": "1.20", "taxAmount": "0.80"}),
		submit("form-decideCustoms"), waitStatus("CLEARED"))
	require.Zero(t, eval[int](x, `document.querySelectorAll("#three-document-match li.bad, #three-document-match li.pending").length`),
		"every check of the three-document match passes once cleared")
	x.screenshot("cleared")

	for i, code := range []string{"PICKED_UP", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"} {
		c.run(waitJS(`!!document.querySelector("#form-recordCheckpoint")`),
			fill("form-recordCheckpoint", map[string]string{"code": code, "location": "Hub " + code}),
			submit("form-recordCheckpoint"),
			waitJS(fmt.Sprintf(`document.querySelectorAll("#timeline li").length >= %d`, 6+i)))
	}
	c.run(waitStatus("DELIVERED"))
	bk.run(waitStatus("DELIVERED"), submit("form-confirmDelivery"), waitStatus("COMPLETED"))
	for _, tb := range []*tab{m, c, x} {
		tb.run(waitStatus("COMPLETED"))
	}

	// The timeline names the four organisations that signed the steps, with their users.
	by := eval[[]string](m, `Array.from(document.querySelectorAll("#timeline .by")).map(e => e.textContent)`)
	require.Len(t, by, 11)
	joined := strings.Join(by, "\n")
	for _, org := range []string{merchant, bank, carrier, customs} {
		require.Contains(t, joined, "("+org+")")
	}
	require.Contains(t, joined, "User1@bank.xborder.example")
	m.screenshot("order-completed")

	// The board's creation-period filter: today's orders include this one, tomorrow's none.
	localDay := func(offset int) string {
		return eval[string](m, fmt.Sprintf(`(() => { const d = new Date(Date.now() + %d * 86400000);
			return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); })()`, offset))
	}
	today, tomorrow := localDay(0), localDay(1)
	m.goTo("/orders?merchant=shop-eu-1&from=" + today + "&to=" + today)
	m.run(chromedp.WaitVisible(css(fmt.Sprintf(`#order-list tr[data-key=%q]`, id))))
	m.goTo("/orders?from=" + tomorrow)
	m.run(chromedp.WaitVisible(css(`#order-list td.empty`)))
	m.goTo("/orders?status=COMPLETED&from=" + today)
	m.run(chromedp.WaitVisible(css(fmt.Sprintf(`#order-list tr[data-key=%q]`, id))))
	m.goTo("/orders/" + id)
	m.run(waitStatus("COMPLETED"))
	// Readable at a phone's width too: nothing but the tables' own scroll regions is wider
	// than the screen.
	overflows := `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`
	require.False(t, eval[bool](m, overflows), "the order page fits the laptop width")
	m.run(chromedp.EmulateViewport(390, 844), void(chromedp.Evaluate[bool](`(() => { window.scrollTo(0, 0); return true; })()`)))
	m.viewShot("order-phone")
	require.False(t, eval[bool](m, overflows), "the order page fits a phone's width")
	m.run(chromedp.EmulateViewport(1366, 900))
	return id
}

func testExplorer(t *testing.T, app *devapp.App, tb *tab, orderID string) {
	order := client(t, app).Must(t, http.StatusOK, customs, "GET", "/api/v1/orders/"+orderID, nil).JSON(t)
	txID, _ := order["txId"].(string)
	require.Len(t, txID, 64)

	tb.goTo("/channel")
	tb.run(chromedp.WaitVisible(css(`#blocks table tbody tr`)))
	require.Contains(t, tb.textOf("#chain-height"), "The chain has")
	// Search the last transaction of the lifecycle: its block opens with the row marked.
	tb.run(typeInto(`#tx-search`, txID), chromedp.Click(css(`#tx-search-form button[type=submit]`)),
		chromedp.WaitVisible(css(fmt.Sprintf(`tr.highlight[data-key=%q]`, txID))))
	row := tb.textOf(fmt.Sprintf(`tr[data-key=%q]`, txID))
	require.Contains(t, row, "xborder:ConfirmDelivery")
	require.Contains(t, row, "BankMSP")
	require.Contains(t, row, "User1@bank.xborder.example")
	require.Contains(t, row, "PaymentReleased")
	require.Contains(t, row, "VALID")
	endorsers := eval[int](tb, fmt.Sprintf(`document.querySelectorAll('tr[data-key=%q] td:nth-child(5) div').length`, txID))
	require.GreaterOrEqual(t, endorsers, 2, "the endorsement policy needs two organisations")
	tb.screenshot("explorer-block")
	// The genesis block is a CONFIG transaction of the orderer organisation.
	tb.goTo("/channel/0")
	require.Contains(t, tb.textOf("table.txs"), "OrdererMSP")
	tb.goTo("/channel")
	tb.run(chromedp.WaitVisible(css(`#blocks table tbody tr`)))
	tb.screenshot("explorer")
}

func testCompliance(t *testing.T, app *devapp.App, tabs map[string]*tab) {
	x, m := tabs[customs], tabs[merchant]
	// Customs edits the rules from the console: the watch list now names a buyer.
	x.goTo("/compliance")
	x.run(chromedp.WaitVisible(css(`#form-setComplianceRules`)),
		fill("form-setComplianceRules", map[string]string{"watchlist": "buyer-watched", "sanctionedCountries": "KP, X1"}),
		submit("form-setComplianceRules"),
		chromedp.WaitVisible(css(`#form-setComplianceRules [data-field="sanctionedCountries"] .field-error`)))
	require.Contains(t, x.textOf(`#form-setComplianceRules [data-field="sanctionedCountries"] .field-error`), "sanctionedCountries[1]")
	x.run(fill("form-setComplianceRules", map[string]string{"sanctionedCountries": "KP"}), submit("form-setComplianceRules"),
		waitJS(`document.querySelector("#rules dl").textContent.includes("buyer-watched")`))

	// The merchant sees the rules but is offered no editor and no alerts.
	m.goTo("/compliance")
	m.run(waitJS(`document.querySelector("#rules dl") && document.querySelector("#rules dl").textContent.includes("buyer-watched")`))
	require.Zero(t, eval[int](m, `document.querySelectorAll("#form-setComplianceRules").length`))
	require.Zero(t, eval[int](m, `document.querySelectorAll("#alerts").length`))

	// An order for the watched buyer is recorded on hold; its alert reaches customs live.
	watched := testkit.OrderBody("ord-watch-1")
	watched["buyer"].(map[string]any)["id"] = "buyer-watched"
	client(t, app).Must(t, http.StatusCreated, merchant, "POST", "/api/v1/orders", watched)
	x.run(waitJS(`document.querySelector("#alerts tbody") && document.querySelector("#alerts tbody").textContent.includes("ord-watch-1")`),
		typeInto(`#al-buyer`, "buyer-watched"),
		chromedp.Click(css(`#alerts tbody tr button`)),
		chromedp.WaitVisible(css(`#alert-detail .badge.status-held`)))
	x.screenshot("compliance")
}

func testReports(t *testing.T, tb *tab) {
	tb.goTo("/reports")
	tb.run(waitJS(`document.querySelectorAll("svg.chart").length >= 4`))
	text := tb.textOf("main")
	require.Contains(t, text, "Time from payment to release")
	require.Contains(t, text, "Completed orders")
	require.Contains(t, text, "Released to merchants")
	require.Contains(t, text, "Credit score")
	tb.screenshot("reports")
}

// testDocs opens the API reference (Swagger UI served from the binary) and runs "Try it out"
// on the readiness probe against the gateway itself.
func testDocs(t *testing.T, app *devapp.App, tb *tab) {
	tb.run(chromedp.Navigate(app.URL+"/docs"), chromedp.WaitVisible(css(`#operations-operations-readyz`)))
	require.Contains(t, tb.textOf(".swagger-ui .info"), "xborder REST API")
	tb.screenshot("docs")
	tb.run(
		chromedp.Click(css(`#operations-operations-readyz .opblock-summary-control`)),
		chromedp.WaitVisible(css(`#operations-operations-readyz .try-out__btn`)),
		chromedp.Click(css(`#operations-operations-readyz .try-out__btn`)),
		chromedp.WaitVisible(css(`#operations-operations-readyz .execute`)),
		chromedp.Click(css(`#operations-operations-readyz .execute`)),
		chromedp.WaitVisible(css(`#operations-operations-readyz .live-responses-table tbody .response-col_status`)),
	)
	require.Contains(t, tb.textOf(`#operations-operations-readyz .live-responses-table tbody .response-col_status`), "200")
}

// testMoney checks the console's money arithmetic (static/js/format.js) in the browser: minor
// units by ISO 4217 exponent, and the FX conversion rounded half to even as the chaincode
// requires it (design §3), so that the payment form proposes the amount the chaincode expects.
func testMoney(t *testing.T, tb *tab) {
	got := get(tb, chromedp.Evaluate[map[string]string](`import("./js/format.js").then(f => ({
		eur: f.money(123456, "EUR"), jpy: f.money(1500, "JPY"), kwd: f.money(1234, "KWD"), neg: f.money(-5, "USD"),
		halfDown: String(f.convert(5, "EUR", "0.5", "EUR")), halfUp: String(f.convert(15, "EUR", "0.5", "EUR")),
		toJPY: String(f.convert(1000, "USD", "150.25", "JPY")), fromJPY: String(f.convert(100, "JPY", "0.0067", "USD")),
		fx: String(f.convert(3000, "EUR", "1.08", "USD")), toKWD: String(f.convert(1001, "USD", "0.3075", "KWD")),
		parsed: String(f.parseMoney("12.5", "EUR").value), tooFine: f.parseMoney("1.234", "EUR").error,
	}))`, chromedp.EvalAwaitPromise))
	require.Equal(t, map[string]string{
		"eur": "1,234.56 EUR", "jpy": "1,500 JPY", "kwd": "1.234 KWD", "neg": "-0.05 USD",
		"halfDown": "2", "halfUp": "8", "toJPY": "1502", "fromJPY": "67", "fx": "3240", "toKWD": "3078",
		"parsed": "1250", "tooFine": "EUR has 2 decimals",
	}, got)
}
