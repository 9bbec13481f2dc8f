package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/config"
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
