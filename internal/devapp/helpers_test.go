package devapp_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/webhook"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

const (
	merchant = testkit.MerchantMSP
	bank     = testkit.BankMSP
	carrier  = testkit.CarrierMSP
	customs  = testkit.CustomsMSP
)

// env is a running `xborder dev` and a REST client that checks every answer against the spec.
type env struct {
	t       *testing.T
	dataDir string
	origins []string
	app     *devapp.App
	client  *testkit.Client
	check   func(*http.Request, testkit.Reply) error
	// lastTx is the transaction ID of the last answer that had one.
	lastTx *atomic.Value
	// webhooks configures the dev system's event subscriptions (loopback targets by default).
	webhooks webhook.Config
}

type resp = testkit.Reply

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("XBORDER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startEnv starts the dev system in dataDir (a fresh temp dir when ""), allowing the given CORS
// origins. The end-to-end tests take tens of seconds together: -short skips them.
func startEnv(t *testing.T, dataDir string, origins ...string) *env {
	t.Helper()
	return startEnvWith(t, dataDir, webhook.Config{}, origins...)
}

// startEnvWith is startEnv with the event subscriptions configured by hooks.
func startEnvWith(t *testing.T, dataDir string, hooks webhook.Config, origins ...string) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the end-to-end tests start the whole dev system")
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	spec, err := httpapi.LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	e := &env{t: t, dataDir: dataDir, origins: origins, lastTx: &atomic.Value{}, webhooks: hooks}
	validate := testkit.ResponseChecker(spec)
	e.check = func(req *http.Request, r testkit.Reply) error {
		if tx := r.Header.Get("X-Transaction-Id"); tx != "" {
			e.lastTx.Store(tx)
		}
		return validate(req, r)
	}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) start() {
	e.t.Helper()
	app, err := devapp.Start(context.Background(), devapp.Config{
		DataDir: e.dataDir, HTTPAddr: "127.0.0.1:0", Logger: testLogger(e.t), CommitTimeout: 20 * time.Second,
		AllowedOrigins: e.origins, Webhooks: e.webhooks,
	})
	require.NoError(e.t, err)
	e.app = app
	if e.client == nil {
		e.client = testkit.NewClient(app.URL, app.Credentials, testkit.WithCheck(e.check))
	} else {
		e.client.Retarget(app.URL, app.Credentials)
	}
}

// with returns a view of e reporting to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) stop() {
	if e.app != nil {
		require.NoError(e.t, e.app.Close())
		e.app = nil
	}
}

func (e *env) restart() {
	e.stop()
	e.start()
}

// height is the number of blocks the devnet's ordering service has ordered. A block is ordered
// before any peer commits it, so the height covers the block of every transaction an answer
// named.
func (e *env) height() uint64 { return e.app.Network.OrdererHeight() }

// call sends a request as org ("" for no Authorization); the answer is checked against the
// OpenAPI document.
func (e *env) call(org, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.client.Call(e.t, org, method, path, body, headers...)
}

// mustStatus calls and requires the status.
func (e *env) mustStatus(status int, org, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return e.client.Must(e.t, status, org, method, path, body, headers...)
}

// createAndPay creates order id (testkit.NewOrder) and escrows its payment.
func (e *env) createAndPay(id string) {
	e.t.Helper()
	e.client.CreateAndPay(e.t, testkit.NewOrder(id))
}

// documentAndClear declares, registers the waybill of and decides on order id.
func (e *env) documentAndClear(id string, decision map[string]any) resp {
	e.t.Helper()
	return e.client.DocumentAndClear(e.t, testkit.NewOrder(id), decision)
}

// openEvents follows GET /api/v1/events<query> as org until the test ends.
func (e *env) openEvents(t *testing.T, org, query, lastEventID string) *testkit.Stream {
	t.Helper()
	return e.client.MustOpenEvents(t, org, query, lastEventID)
}

// testkitLoad is a RunLifecycles load of clients for d, its order IDs starting with prefix.
func testkitLoad(prefix string, clients int, d time.Duration) testkit.Load {
	return testkit.Load{Clients: clients, Duration: d, Prefix: prefix}
}
