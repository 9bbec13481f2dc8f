package fabric_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/fabric"
)

// TestRealFabricLifecycle runs network.sh up and deploy (five peers: the four members and the
// read-only regulator) against Fabric's release binaries, starts
// the REST gateway (`xborder gateway --config gateway.yaml`) on the generated configuration, runs
// the order lifecycles over HTTP through the real peers and orderer, sends the trust-model
// attacks as hand-signed proposals (testTrustModel), and brings the network down.
// Every step is sent as soon as the previous one answered, as another organisation when the
// lifecycle says so: the gateway's read-your-writes must hide that each peer commits on its own.
// The concurrent-load subtest runs XBORDER_FABRIC_LOAD_CLIENTS clients (default 64) for
// XBORDER_FABRIC_LOAD_DURATION (default 30s). It needs FABRIC_BIN (with config/ and
// builders/ccaas beside it, as in Fabric's release archives) and takes a few minutes: run it
// with -timeout 20m.
func TestRealFabricLifecycle(t *testing.T) {
	if os.Getenv("FABRIC_BIN") == "" {
		t.Skip("FABRIC_BIN is not set: this test runs a real Hyperledger Fabric v3 network from its release binaries " +
			"(FABRIC_BIN=<dir with peer, orderer, configtxgen, cryptogen, osnadmin>, config/ and builders/ccaas beside it)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the real Fabric network")
	}
	home := filepath.Join(t.TempDir(), "fabric-data")
	env := append(os.Environ(), "XBORDER_FABRIC_HOME="+home)

	script := func(timeout time.Duration, args ...string) {
		t.Helper()
		runScript(t, env, timeout, args...)
	}

	start := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"orderer", "peer0.merchant", "peer0.bank", "peer0.carrier", "peer0.customs", "peer0.regulator", "chaincode"} {
				if b, err := os.ReadFile(filepath.Join(home, "logs", name+".log")); err == nil {
					t.Logf("tail of %s.log:\n%s", name, tail(b, 3000))
				}
			}
		}
		script(2*time.Minute, "down")
	})
	script(10*time.Minute, "up")
	t.Logf("network up in %s", time.Since(start).Round(time.Second))
	deployStart := time.Now()
	script(10*time.Minute, "deploy")
	t.Logf("chaincode deployed in %s", time.Since(deployStart).Round(time.Second))

	gw := startGateway(t, home)
	t.Run("release after delivery", func(t *testing.T) {
		id := "fab-release"
		gw.CreateAndPay(t, testkit.NewOrder(id))
		o := gw.DocumentAndClear(t, testkit.NewOrder(id), map[string]any{"decision": "CLEARED", "dutyAmount": 120, "taxAmount": 80}).JSON(t)
		require.Equal(t, "CLEARED", o["status"])
		gw.Deliver(t, testkit.NewOrder(id))
		r := gw.Must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/delivery-confirmation", nil)
		o = r.JSON(t)
		require.Equal(t, "COMPLETED", o["status"])
		require.Equal(t, []float64{3000, 3000, 0}, testkit.Escrow(t, o))
		tx := gw.Must(t, http.StatusOK, "CustomsMSP", "GET", "/api/v1/transactions/"+r.Header.Get("X-Transaction-Id"), nil).JSON(t)
		require.Equal(t, "VALID", tx["validationCode"])
		hist := gw.Must(t, http.StatusOK, "CustomsMSP", "GET", "/api/v1/orders/"+id+"/history", nil).JSON(t)
		require.GreaterOrEqual(t, len(hist["entries"].([]any)), 11)
	})
	t.Run("private data by organisation", func(t *testing.T) {
		for _, tc := range []struct {
			org              string
			buyerName, payer bool
		}{
			{"MerchantMSP", true, false}, {"CarrierMSP", true, false}, {"BankMSP", false, true}, {"CustomsMSP", true, true},
			// The regulator's own peer holds paymentPrivate, not orderPrivate.
			{"RegulatorMSP", false, true},
		} {
			o := gw.Must(t, http.StatusOK, tc.org, "GET", "/api/v1/orders/fab-release", nil).JSON(t)
			_, hasName := o["buyer"].(map[string]any)["name"]
			require.Equal(t, tc.buyerName, hasName, "%s sees the buyer's name", tc.org)
			_, hasPayer := o["payment"].(map[string]any)["payerName"]
			require.Equal(t, tc.payer, hasPayer, "%s sees the payer's name", tc.org)
		}
	})
	t.Run("customs rejection refunds", func(t *testing.T) {
		id := "fab-reject"
		gw.CreateAndPay(t, testkit.NewOrder(id))
		o := gw.DocumentAndClear(t, testkit.NewOrder(id), map[string]any{"decision": "REJECTED", "reason": "undeclared goods"}).JSON(t)
		require.Equal(t, "REJECTED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, o))
	})
	t.Run("cancellation refunds", func(t *testing.T) {
		id := "fab-cancel"
		gw.CreateAndPay(t, testkit.NewOrder(id))
		o := gw.Must(t, http.StatusOK, "MerchantMSP", "POST", "/api/v1/orders/"+id+"/cancellation", map[string]any{"reason": "out of stock"}).JSON(t)
		require.Equal(t, "CANCELLED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, o))
	})
	t.Run("dispute before delivery refunds in full", func(t *testing.T) {
		id := "fab-dispute"
		gw.CreateAndPay(t, testkit.NewOrder(id))
		o := gw.Must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/disputes", map[string]any{"reason": "item damaged"}).JSON(t)
		require.Equal(t, "DISPUTED", o["status"])
		gw.Must(t, http.StatusPreconditionFailed, "BankMSP", "POST", "/api/v1/orders/"+id+"/delivery-confirmation", nil)
		o = gw.Must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/disputes/resolution",
			map[string]any{"refundAmount": 3000, "resolution": "refund before delivery"}).JSON(t)
		require.Equal(t, "REFUNDED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, testkit.Escrow(t, o))
	})
	t.Run("chaincode events reach the event stream", func(t *testing.T) {
		events := gw.MustOpenEvents(t, "CustomsMSP", "", "")
		gw.Must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", testkit.OrderBody("fab-events"))
		for {
			ev := events.Next(t)
			if ev.OrderID() == "fab-events" {
				require.Equal(t, "OrderCreated", ev.Name)
				require.NotEmpty(t, ev.ID)
				return
			}
		}
	})
	t.Run("wrong organisation is forbidden by the chaincode", func(t *testing.T) {
		body := testkit.OrderBody("fab-forbidden")
		gw.Must(t, http.StatusForbidden, "CarrierMSP", "POST", "/api/v1/orders", body)
		gw.Must(t, http.StatusNotFound, "CustomsMSP", "GET", "/api/v1/orders/fab-forbidden", nil)
	})
	t.Run("idempotent retry makes no second transaction", func(t *testing.T) {
		body := testkit.OrderBody("fab-idem")
		first := gw.Must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", body, "Idempotency-Key", "fab-idem-1")
		again := gw.Must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", body, "Idempotency-Key", "fab-idem-1")
		require.Equal(t, first.Header.Get("X-Transaction-Id"), again.Header.Get("X-Transaction-Id"))
	})
	t.Run("concurrent lifecycles", func(t *testing.T) {
		load := testkit.Load{Clients: envInt(t, "XBORDER_FABRIC_LOAD_CLIENTS", 64),
			Duration: envDuration(t, "XBORDER_FABRIC_LOAD_DURATION", 30*time.Second), Prefix: "fab-load"}
		res := gw.RunLifecycles(context.Background(), load)
		t.Logf("%d clients for %s: %s", load.Clients, load.Duration, res)
		t.Logf("read-your-writes:\n%s", readYourWritesMetrics(t, gw))
		require.Zero(t, res.Failed, "failed requests:\n%s", strings.Join(res.Failures, "\n"))
		require.NotEmpty(t, res.Completed)
		gw.CheckSettled(t, load, res)
	})
	t.Run("chaincode upgrade keeps the ledger", func(t *testing.T) {
		upgradeEnv := append(slices.Clone(env), "XBORDER_CHAINCODE_LABEL=xborder_1.1", "XBORDER_CHAINCODE_VERSION=1.1")
		runScript(t, upgradeEnv, 5*time.Minute, "deploy", "--upgrade")
		o := gw.Must(t, http.StatusOK, "CustomsMSP", "GET", "/api/v1/orders/fab-release", nil).JSON(t)
		require.Equal(t, "COMPLETED", o["status"])
		gw.CreateAndPay(t, testkit.NewOrder("fab-after-upgrade"))
	})
	t.Run("trust model attacks are refused", func(t *testing.T) { testTrustModel(t, home, gw) })
	t.Run("the regulator writes nothing", func(t *testing.T) {
		gw.Must(t, http.StatusForbidden, "RegulatorMSP", "POST", "/api/v1/orders", testkit.OrderBody("fab-regulator"))
	})
	t.Logf("lifecycles ran against real Fabric in %s (total %s)", time.Since(deployStart).Round(time.Second), time.Since(start).Round(time.Second))
}

// runScript runs network.sh with the environment, failing the test if it fails.
func runScript(t *testing.T, env []string, timeout time.Duration, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"network.sh"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("network.sh %s:\n%s", strings.Join(args, " "), out)
	require.NoError(t, err, "network.sh %s", strings.Join(args, " "))
}

// startGateway builds cmd/xborder (or takes the binary named by XBORDER_BIN) and runs `xborder gateway --config HOME/gateway.yaml` on a free
// loopback port until the test ends.
func startGateway(t *testing.T, home string) *testkit.Client {
	t.Helper()
	gw, _ := runGateway(t, home, filepath.Join(t.TempDir(), "gateway-data"), gatewayBinary(t), nil)
	return gw
}

// gatewayBinary builds cmd/xborder, or returns the binary named by XBORDER_BIN.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("XBORDER_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "xborder")
		build := exec.Command("go", "build", "-o", bin, "../../cmd/xborder")
		out, err := build.CombinedOutput()
		require.NoError(t, err, "go build ./cmd/xborder: %s", out)
	}
	return bin
}

// runGateway runs `BIN gateway --config HOME/gateway.yaml` with its state in dataDir and the
// extra environment on a free loopback port, waits until it is ready and returns a client with
// credentials.json's keys and a function that stops it (also called when the test ends).
func runGateway(t *testing.T, home, dataDir, bin string, extraEnv []string) (*testkit.Client, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	var creds map[string]string
	b, err := os.ReadFile(filepath.Join(home, fabric.CredentialsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &creds))

	logPath := filepath.Join(home, "logs", "gateway.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	cmd := exec.Command(bin, "gateway", "--config", filepath.Join(home, fabric.GatewayConfigFile))
	// The load subtest measures correctness under concurrency, not the per-key rate limiter.
	cmd.Env = append(append(os.Environ(), "XBORDER_LISTEN="+addr, "XBORDER_DATA_DIR="+dataDir,
		"XBORDER_RATE_LIMIT_RPS=100000", "XBORDER_RATE_LIMIT_BURST=100000"), extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			_ = logFile.Close()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("tail of gateway.log:\n%s", tail(b, 60000))
			}
		}
	})
	url := "http://" + addr
	gw := testkit.NewClient(url, creds)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := http.Get(url + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the gateway was not ready within 2 minutes (last error %v)", err)
		time.Sleep(500 * time.Millisecond)
	}
	return gw, stop
}

// readYourWritesMetrics returns the gateway's retry, wait and peer-height metrics.
func readYourWritesMetrics(t *testing.T, gw *testkit.Client) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(string(gw.Must(t, http.StatusOK, "", http.MethodGet, "/metrics", nil).Body), "\n") {
		for _, m := range []string{"xborder_fabric_retries_total{", "xborder_fabric_consistency_wait_seconds_count", "xborder_fabric_consistency_wait_seconds_sum", "xborder_fabric_peer_height{"} {
			if strings.HasPrefix(line, m) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// envInt returns the integer environment variable name, or def when it is not set.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	require.Positive(t, n, name)
	return n
}

// envDuration returns the duration environment variable name, or def when it is not set.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, name)
	require.Positive(t, d, name)
	return d
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return fmt.Sprintf("...%s", b)
}
