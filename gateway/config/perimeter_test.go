package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const perimeterYAML = `
tls:
  certFile: tls/server.crt
  keyFile: /etc/xborder/server.key
  clientCAFile: tls/clients.pem
  clientAuth: optional
  minVersion: "1.3"
store:
  keyFile: store.keys
  sweepInterval: 10s
  abandonAfter: 30m
  compactInterval: 0s
events:
  maxStreamsPerKey: 2
metrics:
  requireKey: true
  keyIds: [back-office]
`

func TestPerimeterConfig(t *testing.T) {
	hash := HashKey("secret-key")
	base := strings.Replace(validYAML, "%s", hash, 1)
	t.Run("file, relative to it", func(t *testing.T) {
		dir := t.TempDir()
		limits := "rateLimit:\n  requestsPerSecond: 20\n  burst: 40\n  perAddress: {requestsPerSecond: 9, burst: 18}\n" +
			"  authFailures: {perMinute: 6, burst: 3}\n  trustedProxies: [10.0.0.0/8]\n"
		yaml := strings.Replace(base, "rateLimit:\n  requestsPerSecond: 20\n  burst: 40\n", limits, 1)
		require.NotEqual(t, base, yaml)
		cfg, err := Load(writeFile(t, dir, "gw.yaml", yaml+perimeterYAML), nil)
		require.NoError(t, err)
		require.Equal(t, TLS{CertFile: filepath.Join(dir, "tls/server.crt"), KeyFile: "/etc/xborder/server.key",
			ClientCAFile: filepath.Join(dir, "tls/clients.pem"), ClientAuth: "optional", MinVersion: "1.3"}, cfg.TLS)
		require.Equal(t, Store{KeyFile: filepath.Join(dir, "store.keys"), SweepInterval: 10 * time.Second, AbandonAfter: 30 * time.Minute}, cfg.Store)
		require.Equal(t, 2, cfg.Events.MaxStreamsPerKey)
		require.Equal(t, Metrics{RequireKey: true, KeyIDs: []string{"back-office"}}, cfg.Metrics)
		require.Equal(t, Bucket{RequestsPerSecond: 9, Burst: 18}, cfg.RateLimit.PerAddress)
		require.Equal(t, FailureBucket{PerMinute: 6, Burst: 3}, cfg.RateLimit.AuthFailures)
		require.Equal(t, []string{"10.0.0.0/8"}, cfg.RateLimit.TrustedProxies)
	})
	t.Run("defaults: no TLS, no store keys, limits for every client", func(t *testing.T) {
		cfg, err := Load(writeFile(t, t.TempDir(), "gw.yaml", base), nil)
		require.NoError(t, err)
		require.False(t, cfg.TLS.Enabled())
		require.Empty(t, cfg.Store.KeyFile)
		require.Positive(t, cfg.RateLimit.PerAddress.RequestsPerSecond)
		require.Positive(t, cfg.RateLimit.AuthFailures.PerMinute)
		require.Equal(t, 8, cfg.Events.MaxStreamsPerKey)
		require.Equal(t, 24*time.Hour, cfg.Store.CompactInterval)
	})
	t.Run("environment", func(t *testing.T) {
		cfg, err := Load(writeFile(t, t.TempDir(), "gw.yaml", base), []string{
			"XBORDER_TLS_CERT_FILE=/c.pem", "XBORDER_TLS_KEY_FILE=/k.pem", "XBORDER_TLS_CLIENT_CA_FILE=/ca.pem",
			"XBORDER_STORE_KEYS=k1:" + strings.Repeat("A", 43) + "=", "XBORDER_METRICS_LISTEN=127.0.0.1:9464",
			"XBORDER_RATE_LIMIT_PER_ADDRESS_RPS=7", "XBORDER_RATE_LIMIT_PER_ADDRESS_BURST=14",
			"XBORDER_TRUSTED_PROXIES=192.0.2.1, 192.0.2.2", "XBORDER_MAX_STREAMS_PER_KEY=3", "XBORDER_METRICS_REQUIRE_KEY=true",
		})
		require.NoError(t, err)
		require.Equal(t, TLS{CertFile: "/c.pem", KeyFile: "/k.pem", ClientCAFile: "/ca.pem"}, cfg.TLS)
		require.Equal(t, "k1:"+strings.Repeat("A", 43)+"=", cfg.Store.Keys)
		require.Equal(t, "127.0.0.1:9464", cfg.Metrics.Listen)
		require.True(t, cfg.Metrics.RequireKey)
		require.Equal(t, Bucket{RequestsPerSecond: 7, Burst: 14}, cfg.RateLimit.PerAddress)
		require.Equal(t, []string{"192.0.2.1", "192.0.2.2"}, cfg.RateLimit.TrustedProxies)
		require.Equal(t, 3, cfg.Events.MaxStreamsPerKey)
	})
	t.Run("errors name the setting", func(t *testing.T) {
		for _, tc := range []struct {
			name, yaml string
			env        []string
			want       string
		}{
			{"certificate without key", "tls:\n  certFile: c.pem\n", nil, "certFile and keyFile go together"},
			{"client auth without CAs", "tls:\n  certFile: c\n  keyFile: k\n  clientAuth: require\n", nil, "needs tls.clientCAFile"},
			{"unknown client auth", "tls:\n  certFile: c\n  keyFile: k\n  clientCAFile: ca\n  clientAuth: sometimes\n", nil, "not none, optional or require"},
			{"old TLS", "tls:\n  certFile: c\n  keyFile: k\n  minVersion: \"1.0\"\n", nil, "tls.minVersion"},
			{"client CAs without TLS", "tls:\n  clientCAFile: ca\n", nil, "need certFile and keyFile"},
			{"keys twice", "store:\n  keyFile: k\n", []string{"XBORDER_STORE_KEYS=a:b"}, "both set"},
			{"no sweep", "store:\n  sweepInterval: 0s\n", nil, "sweepInterval"},
			{"address limit off", "", []string{"XBORDER_RATE_LIMIT_PER_ADDRESS_RPS=0"}, "rateLimit.perAddress"},
			{"no streams", "events:\n  maxStreamsPerKey: 0\n", nil, "events.maxStreamsPerKey"},
			{"metric keys without requireKey", "metrics:\n  keyIds: [back-office]\n", nil, "needs metrics.requireKey"},
			{"unknown metric key", "metrics:\n  requireKey: true\n  keyIds: [nobody]\n", nil, `"nobody" is not the id of an API key`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := Load(writeFile(t, t.TempDir(), "gw.yaml", base+tc.yaml), tc.env)
				require.ErrorContains(t, err, tc.want)
			})
		}
	})
}
