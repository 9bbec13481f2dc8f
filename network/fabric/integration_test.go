package fabric_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/fabric"
)

// TestRealFabricLifecycle runs network.sh up and deploy against Fabric's release binaries, starts
// the REST gateway (`xborder gateway --config gateway.yaml`) on the generated configuration, runs
// the order lifecycles over HTTP through the real peers and orderer, and brings the network down.
// It needs FABRIC_BIN (with config/ and builders/ccaas beside it, as in Fabric's release
// archives) and takes a few minutes: run it with -timeout 20m.
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
			for _, name := range []string{"orderer", "peer0.merchant", "peer0.bank", "peer0.carrier", "peer0.customs", "chaincode"} {
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
		gw.createAndPay(t, id)
		o := gw.documentAndClear(t, id, map[string]any{"decision": "CLEARED", "dutyAmount": 120, "taxAmount": 80})
		require.Equal(t, "CLEARED", o["status"])
		for _, code := range []string{"PICKED_UP", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"} {
			gw.must(t, http.StatusOK, "CarrierMSP", "POST", "/api/v1/orders/"+id+"/checkpoints",
				map[string]any{"code": code, "location": "Hub " + code})
		}
		r := gw.must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/delivery-confirmation", nil)
		o = r.json(t)
		require.Equal(t, "COMPLETED", o["status"])
		require.Equal(t, []float64{3000, 3000, 0}, escrowOf(t, o))
		tx := gw.must(t, http.StatusOK, "CustomsMSP", "GET", "/api/v1/transactions/"+r.header.Get("X-Transaction-Id"), nil).json(t)
		require.Equal(t, "VALID", tx["validationCode"])
		hist := gw.must(t, http.StatusOK, "CustomsMSP", "GET", "/api/v1/orders/"+id+"/history", nil).json(t)
		require.GreaterOrEqual(t, len(hist["entries"].([]any)), 11)
	})
	t.Run("private data by organisation", func(t *testing.T) {
		for _, tc := range []struct {
			org              string
			buyerName, payer bool
		}{
			{"MerchantMSP", true, false}, {"CarrierMSP", true, false}, {"BankMSP", false, true}, {"CustomsMSP", true, true},
		} {
			o := gw.must(t, http.StatusOK, tc.org, "GET", "/api/v1/orders/fab-release", nil).json(t)
			_, hasName := o["buyer"].(map[string]any)["name"]
			require.Equal(t, tc.buyerName, hasName, "%s sees the buyer's name", tc.org)
			_, hasPayer := o["payment"].(map[string]any)["payerName"]
			require.Equal(t, tc.payer, hasPayer, "%s sees the payer's name", tc.org)
		}
	})
	t.Run("customs rejection refunds", func(t *testing.T) {
		id := "fab-reject"
		gw.createAndPay(t, id)
		o := gw.documentAndClear(t, id, map[string]any{"decision": "REJECTED", "reason": "undeclared goods"})
		require.Equal(t, "REJECTED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, escrowOf(t, o))
	})
	t.Run("cancellation refunds", func(t *testing.T) {
		id := "fab-cancel"
		gw.createAndPay(t, id)
		o := gw.must(t, http.StatusOK, "MerchantMSP", "POST", "/api/v1/orders/"+id+"/cancellation", map[string]any{"reason": "out of stock"}).json(t)
		require.Equal(t, "CANCELLED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, escrowOf(t, o))
	})
	t.Run("dispute before delivery refunds in full", func(t *testing.T) {
		id := "fab-dispute"
		gw.createAndPay(t, id)
		o := gw.must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/disputes", map[string]any{"reason": "item damaged"}).json(t)
		require.Equal(t, "DISPUTED", o["status"])
		gw.must(t, http.StatusPreconditionFailed, "BankMSP", "POST", "/api/v1/orders/"+id+"/delivery-confirmation", nil)
		o = gw.must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/disputes/resolution",
			map[string]any{"refundAmount": 3000, "resolution": "refund before delivery"}).json(t)
		require.Equal(t, "REFUNDED", o["status"])
		require.Equal(t, []float64{3000, 0, 3000}, escrowOf(t, o))
	})
	t.Run("chaincode events reach the event stream", func(t *testing.T) {
		events := gw.openEvents(t, "CustomsMSP")
		gw.must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", orderBody("fab-events"))
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				require.True(t, ok, "event stream ended")
				if ev.data["orderId"] == "fab-events" {
					require.Equal(t, "OrderCreated", ev.name)
					require.NotEmpty(t, ev.id)
					return
				}
			case <-deadline:
				require.Fail(t, "no OrderCreated event for fab-events within 30s")
				return
			}
		}
	})
	t.Run("wrong organisation is forbidden by the chaincode", func(t *testing.T) {
		body := orderBody("fab-forbidden")
		gw.must(t, http.StatusForbidden, "CarrierMSP", "POST", "/api/v1/orders", body)
		gw.must(t, http.StatusNotFound, "CustomsMSP", "GET", "/api/v1/orders/fab-forbidden", nil)
	})
	t.Run("idempotent retry makes no second transaction", func(t *testing.T) {
		body := orderBody("fab-idem")
		first := gw.must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", body, "Idempotency-Key", "fab-idem-1")
		again := gw.must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", body, "Idempotency-Key", "fab-idem-1")
		require.Equal(t, first.header.Get("X-Transaction-Id"), again.header.Get("X-Transaction-Id"))
	})
	t.Run("chaincode upgrade keeps the ledger", func(t *testing.T) {
		upgradeEnv := append(slices.Clone(env), "XBORDER_CHAINCODE_LABEL=xborder_1.1", "XBORDER_CHAINCODE_VERSION=1.1")
		runScript(t, upgradeEnv, 5*time.Minute, "deploy", "--upgrade")
		o := gw.must(t, http.StatusOK, "CustomsMSP", "GET", "/api/v1/orders/fab-release", nil).json(t)
		require.Equal(t, "COMPLETED", o["status"])
		gw.createAndPay(t, "fab-after-upgrade")
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

// gateway is a running `xborder gateway` process and its API keys.
type gateway struct {
	url   string
	creds map[string]string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// startGateway builds cmd/xborder (or takes the binary named by XBORDER_BIN) and runs `xborder gateway --config HOME/gateway.yaml` on a free
// loopback port until the test ends.
func startGateway(t *testing.T, home string) *gateway {
	t.Helper()
	bin := os.Getenv("XBORDER_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "xborder")
		build := exec.Command("go", "build", "-o", bin, "../../cmd/xborder")
		out, err := build.CombinedOutput()
		require.NoError(t, err, "go build ./cmd/xborder: %s", out)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	var creds map[string]string
	b, err := os.ReadFile(filepath.Join(home, fabric.CredentialsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &creds))

	logPath := filepath.Join(home, "logs", "gateway.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, "gateway", "--config", filepath.Join(home, fabric.GatewayConfigFile))
	cmd.Env = append(os.Environ(), "XBORDER_LISTEN="+addr, "XBORDER_DATA_DIR="+filepath.Join(t.TempDir(), "gateway-data"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
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
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("tail of gateway.log:\n%s", tail(b, 60000))
			}
		}
	})
	gw := &gateway{url: "http://" + addr, creds: creds}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := http.Get(gw.url + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the gateway was not ready within 2 minutes (last error %v)", err)
		time.Sleep(500 * time.Millisecond)
	}
	return gw
}

// call sends a request as the organisation's API key; headers are name, value pairs.
func (g *gateway) call(t *testing.T, org, method, path string, body any, headers ...string) response {
	t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, g.url+path, reader)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+g.creds[org])
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: out}
}

// must sends a request, requires the status and, for a committed write, waits until every
// organisation's peer has committed the transaction (see visibleEverywhere).
func (g *gateway) must(t *testing.T, status int, org, method, path string, body any, headers ...string) response {
	t.Helper()
	r := g.call(t, org, method, path, body, headers...)
	require.Equal(t, status, r.status, "%s %s as %s: %s", method, path, org, r.body)
	if txID := r.header.Get("X-Transaction-Id"); method == http.MethodPost && r.status < 300 && txID != "" {
		g.visibleEverywhere(t, txID)
	}
	return r
}

// visibleEverywhere waits until the transaction is in the ledger of every organisation's peer.
// On a real network a write is answered once the gateway's own peer has committed it; the
// other organisations' peers commit the same block a little later (with BFT ordering, a few
// hundred milliseconds), so a client that continues the workflow as another organisation
// waits for it there first, as this test does, or retries FAILED_PRECONDITION / NOT_FOUND.
func (g *gateway) visibleEverywhere(t *testing.T, txID string) {
	t.Helper()
	for _, org := range fabric.Orgs() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := g.call(t, org.MSPID, http.MethodGet, "/api/v1/transactions/"+txID, nil)
			if r.status == http.StatusOK {
				require.Equal(t, "VALID", r.json(t)["validationCode"], "transaction %s on %s", txID, org.MSPID)
				break
			}
			require.Equal(t, http.StatusNotFound, r.status, "transaction %s on %s: %s", txID, org.MSPID, r.body)
			require.True(t, time.Now().Before(deadline), "transaction %s not committed on %s's peer within 30s", txID, org.MSPID)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// sseEvent is one Server-Sent Event of GET /api/v1/events.
type sseEvent struct {
	id, name string
	data     map[string]any
}

// openEvents reads the organisation's event stream in the background until the test ends.
func (g *gateway) openEvents(t *testing.T, org string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url+"/api/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+g.creds[org])
	res, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by the reader goroutine
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	out := make(chan sseEvent, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.id != "" {
					select {
					case out <- cur:
					case <-ctx.Done():
						return
					}
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return out
}

// orderBody is a valid order: 2 × 1250 + 500 shipping = 3000 USD cents.
func orderBody(id string) map[string]any {
	return map[string]any{
		"orderId": id, "merchantId": "merchant-1",
		"buyer":         map[string]any{"id": "buyer-" + id, "country": "US", "name": "Ann Lee", "address": "1 Main St, Springfield", "phone": "+1 555 0100"},
		"sellerCountry": "CN", "currency": "USD",
		"items":       []any{map[string]any{"sku": "TEA-1", "name": "Green tea", "hsCode": "090210", "quantity": 2, "unitPrice": 1250}},
		"shippingFee": 500,
	}
}

// createAndPay creates order id as the merchant and escrows 2760 EUR cents at 0.92 as the bank.
func (g *gateway) createAndPay(t *testing.T, id string) {
	t.Helper()
	o := g.must(t, http.StatusCreated, "MerchantMSP", "POST", "/api/v1/orders", orderBody(id)).json(t)
	require.Equal(t, "CREATED", o["status"])
	o = g.must(t, http.StatusOK, "BankMSP", "POST", "/api/v1/orders/"+id+"/payment", map[string]any{
		"paymentId": "pay-" + id, "payerCurrency": "EUR", "payerAmount": 2760, "fxRate": "0.92", "fee": 15,
		"payerName": "Ann Lee", "payerAccount": "DE89370400440532013000"}).json(t)
	require.Equal(t, "PAID", o["status"])
}

// documentAndClear declares the order, registers its waybill and records the customs decision.
func (g *gateway) documentAndClear(t *testing.T, id string, decision map[string]any) map[string]any {
	t.Helper()
	g.must(t, http.StatusOK, "MerchantMSP", "POST", "/api/v1/orders/"+id+"/customs/declaration",
		map[string]any{"declarationId": "dec-" + id, "declaredValue": 3000, "hsCodes": []string{"090210"}})
	g.must(t, http.StatusOK, "CarrierMSP", "POST", "/api/v1/orders/"+id+"/waybill",
		map[string]any{"waybillNo": "wb-" + id, "consigneeName": "Ann Lee", "consigneeAddress": "1 Main St, Springfield"})
	return g.must(t, http.StatusOK, "CustomsMSP", "POST", "/api/v1/orders/"+id+"/customs/decision", decision).json(t)
}

func escrowOf(t *testing.T, order map[string]any) []float64 {
	t.Helper()
	esc, ok := order["escrow"].(map[string]any)
	require.True(t, ok, "order has no escrow: %v", order)
	return []float64{esc["amount"].(float64), esc["released"].(float64), esc["refunded"].(float64)}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return fmt.Sprintf("...%s", b)
}
