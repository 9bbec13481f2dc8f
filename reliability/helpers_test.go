// Package reliability_test holds the xborder reliability suite: a soak with money invariants,
// kill -9 crash recovery of `xborder dev`, chaincode and gateway faults, request fuzzing and
// security checks. See docs/reliability.md.
package reliability_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

// Flags for longer runs; the defaults keep the package bounded for CI.
var (
	soakOrders   = flag.Int("soak.orders", 0, "orders in the soak test (default 40, 400 with XBORDER_SOAK=long)")
	soakClients  = flag.Int("soak.clients", 4, "concurrent clients in the soak test")
	soakDuration = flag.Duration("soak.duration", 0, "keep the soak running for at least this long (repeating batches of orders)")
	crashRounds  = flag.Int("crash.rounds", 0, "kill -9 rounds in the crash test (default 3, 20 with XBORDER_SOAK=long)")
	relSeed      = flag.Uint64("rel.seed", 20261127, "seed of the random lifecycles, kill moments and fuzz-free choices")
)

const (
	merchant = "MerchantMSP"
	bank     = "BankMSP"
	carrier  = "CarrierMSP"
	customs  = "CustomsMSP"
)

var allOrgs = []string{merchant, bank, carrier, customs}

// skipShort skips a test that takes tens of seconds (a soak, kill -9 rounds, a chaincode
// process killed under load) when -short asks for the quick tests only.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs the dev system under load for tens of seconds")
	}
}

// longRun reports whether XBORDER_SOAK=long asks for the long versions.
func longRun() bool { return os.Getenv("XBORDER_SOAK") == "long" }

func soakOrderCount() int {
	switch {
	case *soakOrders > 0:
		return *soakOrders
	case longRun():
		return 400
	default:
		return 40
	}
}

func crashRoundCount() int {
	switch {
	case *crashRounds > 0:
		return *crashRounds
	case longRun():
		return 20
	default:
		return 3
	}
}

// reply is one HTTP answer.
type reply = testkit.Reply

// newRESTClient returns a client of the gateway at base that never fails the test itself, so
// that load goroutines can use it; callers decide what an error means.
func newRESTClient(base string, keys map[string]string) *testkit.Client {
	return testkit.NewClient(base, keys,
		testkit.WithHTTPClient(&http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}))
}

// mustObject sends a request, requires the status and decodes the object (exact numbers).
func mustObject(t *testing.T, c *testkit.Client, status int, org, method, path string, body any, headers ...string) map[string]any {
	t.Helper()
	m, err := c.Must(t, status, org, method, path, body, headers...).Object()
	require.NoError(t, err)
	return m
}

// requireProblem checks that r is an RFC 9457 problem with the code (and the field, if not "").
func requireProblem(t *testing.T, r reply, status int, code, field string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "answer: %s", r)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "answer: %s", r)
	p, err := r.Object()
	require.NoError(t, err)
	require.Equal(t, code, p["code"], "answer: %s", r)
	if field != "" {
		require.Equal(t, field, p["field"], "answer: %s", r)
	}
	for _, k := range []string{"type", "title", "status", "detail"} {
		require.Contains(t, p, k, "problem member %s: %s", k, r)
	}
	return p
}

// num reads an integer JSON number (decoded with UseNumber) at a dotted path of m.
func num(m map[string]any, path string) (int64, error) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("%s: not an object at %q", path, k)
		}
		cur = o[k]
	}
	n, ok := cur.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: not a number: %v", path, cur)
	}
	v, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func mustNum(t *testing.T, m map[string]any, path string) int64 {
	t.Helper()
	v, err := num(m, path)
	require.NoError(t, err)
	return v
}

// newOrderSpec builds order id of merchantID with distinctive private strings (scanned for in
// the logs).
func newOrderSpec(id, merchantID string, quantity, unit, shipping int64) testkit.Order {
	return testkit.Order{
		ID: id, MerchantID: merchantID, SKU: "SKU-1", ItemName: "Tea set", HSCode: "691200",
		Quantity: quantity, UnitPrice: unit, ShippingFee: shipping, Fee: 10,
		BuyerName: "Quilla Vantongeren " + id, Address: id + " Zephyrine Lane, Oldcastle",
		Phone:     "+44 7700 9" + fmt.Sprintf("%05d", len(id)*7919%100000),
		PayerName: "Ignatius Marrowby " + id, PayerAccount: "GB29NWBK60161331" + fmt.Sprintf("%06d", len(id)*104729%1000000),
	}
}

// captureLogger logs everything at debug level as JSON to buf (and to stderr with
// XBORDER_TEST_LOG set).
func captureLogger(buf io.Writer) *slog.Logger {
	w := buf
	if os.Getenv("XBORDER_TEST_LOG") != "" {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// requireNoSecrets fails for every secret found in logs.
func requireNoSecrets(t *testing.T, logs string, secrets []string) {
	t.Helper()
	require.NotEmpty(t, logs, "no log output captured")
	var found []string
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			found = append(found, s)
		}
	}
	require.Empty(t, found, "secrets or private data in the logs")
}
