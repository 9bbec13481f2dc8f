package service_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/service"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/fabric"
)

// TestRunAgainstDevnet runs the production gateway (one organisation, TLS to the peer, mutual
// TLS on its own listener, store keys, metrics on a listener of their own, configured API keys)
// against the devnet of a dev system, as `xborder gateway --config` would against Fabric.
func TestRunAgainstDevnet(t *testing.T) {
	ctx := context.Background()
	dev, err := devapp.Start(ctx, devapp.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer dev.Close()
	peer, err := dev.Network.Peer("CarrierMSP")
	require.NoError(t, err)

	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "gw")
	cfg.Channel = dev.Network.Channel()
	cfg.Organizations = []config.Organization{{
		MSPID: "CarrierMSP", PeerEndpoint: peer.Address, PeerHostOverride: peer.Name,
		TLSCACert: peer.TLSCACertPath, Certificate: peer.ClientCertPath, PrivateKey: peer.ClientKeyPath,
	}}
	cfg.APIKeys = []config.APIKey{
		{ID: "carrier-ops", MSPID: "CarrierMSP", User: "ops", SHA256: config.HashKey("carrier-secret")},
		{ID: "carrier-monitor", MSPID: "CarrierMSP", User: "monitor", SHA256: config.HashKey("monitor-secret")},
	}
	cfg.RateLimit.RequestsPerSecond, cfg.RateLimit.Burst = 0.01, 3
	tlsDir := filepath.Join(t.TempDir(), "tls")
	writeTLS := func() {
		require.NoError(t, fabric.WriteGatewayTLS(fabric.ChaincodeTLSOptions{Dir: tlsDir, Hosts: []string{"127.0.0.1"},
			Random: rand.Reader, Now: time.Now(), Validity: time.Hour}))
	}
	writeTLS()
	cfg.TLS = config.TLS{CertFile: filepath.Join(tlsDir, "server.crt"), KeyFile: filepath.Join(tlsDir, "server.key"),
		ClientCAFile: filepath.Join(tlsDir, "ca.crt")}
	keyLine, err := store.NewKeyLine("k1", rand.Reader)
	require.NoError(t, err)
	cfg.Store.Keys = keyLine
	cfg.Metrics.Listen = freeAddr(t)
	require.NoError(t, cfg.Validate())

	runCtx, cancel := context.WithCancel(ctx)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(runCtx, cfg, slog.New(slog.DiscardHandler), func(a string) { addr <- a })
	}()
	var base string
	select {
	case base = <-addr:
		require.True(t, strings.HasPrefix(base, "https://"), base)
	case err := <-done:
		t.Fatalf("gateway stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}

	c := testkit.NewClient(base, nil, testkit.WithHTTPClient(mutualTLSClient(t, tlsDir)))
	defer c.Close()
	get := func(path, key string) (int, string) {
		var auth []string
		if key != "" {
			auth = []string{"Authorization", "Bearer " + key}
		}
		r := c.Call(t, "", http.MethodGet, path, nil, auth...)
		return r.Status, string(r.Body)
	}
	require.Eventually(t, func() bool { s, _ := get("/readyz", ""); return s == http.StatusOK }, 20*time.Second, 50*time.Millisecond)
	status, body := get("/api/v1/compliance/rules", "carrier-secret")
	require.Equal(t, http.StatusOK, status, body)
	status, _ = get("/api/v1/compliance/rules", dev.Credentials["CarrierMSP"])
	require.Equal(t, http.StatusUnauthorized, status, "only the configured keys are accepted")

	order := testkit.OrderBody("svc-1")
	r := c.Call(t, "", http.MethodPost, "/api/v1/orders", order, "Authorization", "Bearer carrier-secret")
	require.Equal(t, http.StatusForbidden, r.Status, "the chaincode refuses the carrier: %s", r)

	t.Run("metrics on their own listener, not on the API's", func(t *testing.T) {
		res, err := http.Get("http://" + cfg.Metrics.Listen + "/metrics")
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, string(b), "xborder_store_file_bytes")
		require.Contains(t, string(b), "xborder_tls_certificate_not_after_seconds")
		status, _ := get("/metrics", "")
		require.Equal(t, http.StatusNotFound, status)
	})
	t.Run("without a client certificate the handshake fails", func(t *testing.T) {
		noCert := mutualTLSClient(t, tlsDir)
		noCert.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
		res, err := noCert.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		require.Error(t, err)
	})
	t.Run("SIGHUP reloads the certificate files", func(t *testing.T) {
		old := mutualTLSClient(t, tlsDir)
		writeTLS() // a new CA, server and client certificate
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		require.Eventually(t, func() bool {
			res, err := mutualTLSClient(t, tlsDir).Get(base + "/healthz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusOK
		}, 5*time.Second, 50*time.Millisecond)
		old.CloseIdleConnections()
		res, err := old.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		require.Error(t, err, "new handshakes use the new certificate")
		c.Close() // the test's client reconnects with the new files
		c = testkit.NewClient(base, nil, testkit.WithHTTPClient(mutualTLSClient(t, tlsDir)))
	})

	// The key's bucket (burst 3) is now empty after one more request.
	status, _ = get("/api/v1/orders?pageSize=1", "carrier-secret")
	require.Equal(t, http.StatusOK, status)
	r = c.Call(t, "", http.MethodGet, "/api/v1/orders", nil, "Authorization", "Bearer carrier-secret")
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	require.Equal(t, "100", r.Header.Get("Retry-After"))

	// With the network gone, readiness fails and requests answer 503 UNAVAILABLE.
	require.NoError(t, dev.Close())
	status, body = get("/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	status, body = get("/api/v1/orders/svc-1", "monitor-secret")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, `"code":"UNAVAILABLE"`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not stop")
	}
}

// mutualTLSClient trusts the CA of dir (WriteGatewayTLS) and presents its client certificate.
func mutualTLSClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	require.NoError(t, err)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}
