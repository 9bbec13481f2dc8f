package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

// TestExitCodes checks the one convention of every subcommand: 0 for success and help, 2 for a
// usage error (a bad flag, an unknown subcommand, a missing or unexpected argument), 1 for a
// failure at run time.
func TestExitCodes(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no subcommand", nil, 2},
		{"help", []string{"--help"}, 0},
		{"unknown subcommand", []string{"nope"}, 2},
		{"version", []string{"version"}, 0},
		{"--version", []string{"--version"}, 0},
		{"version with an argument", []string{"version", "now"}, 2},
		{"dev help", []string{"dev", "-h"}, 0},
		{"dev bad flag", []string{"dev", "--no-such-flag"}, 2},
		{"dev argument", []string{"dev", "extra"}, 2},
		{"dev busy address", []string{"dev", "--data", missing, "--http", busy.Addr().String()}, 1},
		{"devnet bad flag", []string{"devnet", "--port", "seven"}, 2},
		{"devnet argument", []string{"devnet", "extra"}, 2},
		{"gateway help", []string{"gateway", "--help"}, 0},
		{"gateway bad flag", []string{"gateway", "--no-such-flag"}, 2},
		{"gateway argument", []string{"gateway", "extra"}, 2},
		{"gateway missing configuration file", []string{"gateway", "--config", missing}, 1},
		{"buyer without subcommand", []string{"buyer"}, 2},
		{"buyer unknown subcommand", []string{"buyer", "pay"}, 2},
		{"buyer keygen bad flag", []string{"buyer", "keygen", "--no-such-flag"}, 2},
		{"buyer sign bad flag", []string{"buyer", "sign", "--expires", "soon"}, 2},
		{"buyer sign missing key file", []string{"buyer", "sign", "--key", missing, "--order", "o1", "--version", "1"}, 1},
		{"subscriptions without command", []string{"subscriptions"}, 2},
		{"subscriptions unknown command", []string{"subscriptions", "frobnicate"}, 2},
		{"subscriptions bad flag", []string{"subscriptions", "list", "--no-such-flag"}, 2},
		{"subscriptions missing ID", []string{"subscriptions", "get", "--key", "k"}, 2},
		{"subscriptions receive without secret", []string{"subscriptions", "receive"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			require.Equal(t, tc.code, code, errOut.String())
		})
	}
}

// TestFlagPlaceholders checks that the help of every subcommand shows an upper-case
// placeholder for each flag that takes a value (flag.UnquoteUsage takes the first back-quoted
// word of the usage text, so a stray back quote garbles it).
func TestFlagPlaceholders(t *testing.T) {
	line := regexp.MustCompile(`^  -([a-z-]+)(?: (\S+))?`)
	placeholder := regexp.MustCompile(`^[A-Z][A-Z0-9_:=.,]*$`)
	for _, args := range [][]string{
		{"dev"}, {"devnet"}, {"gateway"}, {"version"}, {"buyer", "keygen"}, {"buyer", "sign"},
		{"subscriptions", "create"}, {"subscriptions", "update"}, {"subscriptions", "deliveries"}, {"subscriptions", "receive"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, 0, run(context.Background(), append(args, "-h"), &out, &errOut))
			for _, l := range strings.Split(errOut.String(), "\n") {
				m := line.FindStringSubmatch(l)
				if m == nil || m[2] == "" {
					continue // not a flag, or a boolean flag
				}
				require.Regexp(t, placeholder, m[2], "placeholder of -%s", m[1])
			}
		})
	}
}

// TestGatewayHelp checks that `xborder gateway --help` lists every variable the configuration
// reads and points to the example configuration, which --example-config prints.
func TestGatewayHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"gateway", "--help"}, &out, &errOut))
	help := errOut.String()
	for _, ev := range config.EnvVars() {
		require.Contains(t, help, ev.Name)
	}
	require.Contains(t, help, "--example-config")
	require.Contains(t, help, "-http HOST:PORT")

	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"gateway", "--example-config"}, &out, &errOut))
	require.Equal(t, string(config.Example()), out.String())
}

func TestVersionText(t *testing.T) {
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{
			name: "go install of a release",
			info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"},
				Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}},
			want: "xborder v1.2.0 go1.26.8 linux/amd64",
		},
		{
			name: "build from a modified checkout",
			info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "2fe9f1a6c0de4b1e9d0c8b7a6f5e4d3c2b1a0f9e"},
				{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
			}},
			want: "xborder (devel) (revision 2fe9f1a6c0de, 2026-12-01T10:00:00Z, modified) go1.26.8",
		},
		{
			name: "no module version",
			info: debug.BuildInfo{GoVersion: "go1.26.8"},
			want: "xborder (devel) go1.26.8",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, versionText(&tc.info))
		})
	}

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--version"}, &out, &errOut), errOut.String())
	require.Regexp(t, `^xborder \S+ .*go1\.`, out.String())
}

// TestGatewayHTTPFlag runs `xborder gateway` against the devnet of a dev system with --http
// overriding the configuration file's listen address, as --http does for `xborder dev`.
func TestGatewayHTTPFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev system")
	}
	dev, err := devapp.Start(context.Background(), devapp.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer dev.Close()
	p, err := dev.Network.Peer("CarrierMSP")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: 127.0.0.1:1
dataDir: %s
channel: %s
organizations:
  - mspId: CarrierMSP
    peerEndpoint: %s
    peerHostOverride: %s
    tlsCACert: %s
    certificate: %s
    privateKey: %s
apiKeys:
  - {id: ops, mspId: CarrierMSP, user: ops, sha256: %s}
`, filepath.Join(dir, "gw"), dev.Network.Channel(), p.Address, p.Name, p.TLSCACertPath, p.ClientCertPath, p.ClientKeyPath,
		config.HashKey("secret"))), 0o600))
	keyLine, err := store.NewKeyLine("k1", rand.Reader)
	require.NoError(t, err)
	t.Setenv("XBORDER_STORE_KEYS", keyLine)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := free.Addr().String()
	require.NoError(t, free.Close())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testkit.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"gateway", "--config", cfg, "--http", addr}, &out, &errOut) }()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), "listening on http://"+addr); {
		require.True(t, time.Now().Before(deadline), "the gateway does not listen on the --http address: %s", out.String())
		select {
		case code := <-done:
			t.Fatalf("gateway exited with %d: %s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not shut down")
	}
}
