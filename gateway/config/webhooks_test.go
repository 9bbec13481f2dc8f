package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWebhooksConfig(t *testing.T) {
	cfg, err := Load("example.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"https://hooks.bank.example/xborder/", "10.20.0.0/16"}, cfg.Webhooks.AllowedTargets)
	require.Equal(t, 12, cfg.Webhooks.Delivery().MaxFailures)
	require.Equal(t, 10*time.Minute, cfg.Webhooks.BackoffMax)
	require.Equal(t, 200, cfg.Webhooks.DeliveryHistory)

	cfg, err = Load("example.yaml", []string{"XBORDER_WEBHOOK_ALLOWED_TARGETS=hooks.partner.example, 127.0.0.1"})
	require.NoError(t, err)
	require.Equal(t, []string{"hooks.partner.example", "127.0.0.1"}, cfg.Webhooks.AllowedTargets)
	require.Zero(t, Defaults().Webhooks.AllowedTargets, "no target is allowed by default")

	base, err := os.ReadFile("example.yaml")
	require.NoError(t, err)
	for bad, want := range map[string]string{
		"  maxFailures: 12":      "  maxFailures: -1",
		"  backoffBase: 1s":      "  backoffBase: 20m",
		"  deliveryHistory: 200": "  deliveryHistory: -5",
		"    - 10.20.0.0/16 ":    "    - 10.20.0.0/99 ",
	} {
		t.Run(want, func(t *testing.T) {
			text := strings.Replace(string(base), bad, want, 1)
			require.NotEqual(t, string(base), text)
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
			_, err := Load(path, nil)
			require.ErrorContains(t, err, "webhooks")
		})
	}
}
