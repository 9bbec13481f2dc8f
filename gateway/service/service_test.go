package service_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/service"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

// TestRunAgainstDevnet runs the production gateway (one organisation, TLS, a configured API
// key) against the devnet of a dev system, as `xborder gateway --config` would against Fabric.
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
	cfg.RateLimit = config.RateLimit{RequestsPerSecond: 0.01, Burst: 3}
	require.NoError(t, cfg.Validate())

	runCtx, cancel := context.WithCancel(ctx)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(runCtx, cfg, slog.New(slog.DiscardHandler), func(a string) { addr <- a })
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("gateway stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}

	c := testkit.NewClient(base, nil)
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
