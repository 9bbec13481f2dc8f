package fabric_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNetworkScriptGuards runs network.sh's argument and safety checks, which need no Fabric
// binaries: it must refuse to run half-configured and never delete a directory it did not create.
func TestNetworkScriptGuards(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      []string
		setup    func(t *testing.T, home string)
		exitCode int
		output   string
		keepHome bool
	}{
		{name: "unknown command prints usage", args: []string{"launch"}, exitCode: 2, output: "network.sh up"},
		{name: "help", args: []string{"help"}, output: "XBORDER_FABRIC_HOME"},
		{name: "up without FABRIC_BIN", args: []string{"up"}, exitCode: 1, output: "FABRIC_BIN must name the directory"},
		{name: "up with an empty FABRIC_BIN", args: []string{"up"}, env: []string{"FABRIC_BIN=" + t.TempDir()}, exitCode: 1, output: "is missing or not executable"},
		{name: "unknown consensus", args: []string{"up"}, env: []string{"XBORDER_FABRIC_CONSENSUS=solo"}, exitCode: 1, output: "must be etcdraft or BFT"},
		{name: "unknown crypto", args: []string{"up"}, env: []string{"XBORDER_FABRIC_CRYPTO=openssl"}, exitCode: 1, output: "must be cryptogen or ca"},
		{name: "bad chaincode TLS flag", args: []string{"up"}, env: []string{"XBORDER_CHAINCODE_TLS=maybe"}, exitCode: 1, output: "must be true or false"},
		{name: "chaincode TLS in docker", args: []string{"generate"}, env: []string{"XBORDER_FABRIC_TARGET=docker", "XBORDER_CHAINCODE_TLS=true"}, exitCode: 1, output: "for the native network"},
		{name: "unknown target", args: []string{"status"}, env: []string{"XBORDER_FABRIC_TARGET=k8s"}, exitCode: 1, output: "must be native or docker"},
		{name: "deploy before up", args: []string{"deploy"}, env: []string{"FABRIC_BIN=" + fakeFabricBin(t)}, exitCode: 1, output: "no network in"},
		{name: "status without a network", args: []string{"status"}, output: "no network in"},
		{name: "down without a network", args: []string{"down"}, output: "nothing to do"},
		{
			name: "down refuses a foreign directory", args: []string{"down"}, exitCode: 1, output: "was not created by network.sh",
			setup: func(t *testing.T, home string) {
				require.NoError(t, os.MkdirAll(home, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(home, "precious.txt"), []byte("keep"), 0o600))
			},
			keepHome: true,
		},
		{
			name: "down removes its own network", args: []string{"down"}, output: "removed",
			setup: func(t *testing.T, home string) {
				require.NoError(t, os.MkdirAll(filepath.Join(home, "run"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(home, ".xborder-fabric"), []byte("target=native\n"), 0o600))
				// A PID file whose process is not the recorded program is never signalled.
				require.NoError(t, os.WriteFile(filepath.Join(home, "run", "orderer.pid"), []byte("1 /nonexistent/orderer\n"), 0o600))
			},
		},
		{
			name: "up refuses a non-empty home", args: []string{"up"}, exitCode: 1, output: "not empty",
			env: []string{"FABRIC_BIN=" + fakeFabricBin(t)},
			setup: func(t *testing.T, home string) {
				require.NoError(t, os.MkdirAll(home, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(home, "precious.txt"), []byte("keep"), 0o600))
			},
			keepHome: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "fabric-data")
			if tc.setup != nil {
				tc.setup(t, home)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", append([]string{"network.sh"}, tc.args...)...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XBORDER_FABRIC_HOME=" + home}, tc.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.exitCode, code, "output: %s", out)
			require.Contains(t, string(out), tc.output)
			_, statErr := os.Stat(filepath.Join(home, "precious.txt"))
			if tc.keepHome {
				require.NoError(t, statErr, "network.sh removed a file it did not create")
			}
			if strings.Contains(tc.name, "removes") {
				_, err := os.Stat(home)
				require.True(t, os.IsNotExist(err), "home is gone")
			}
		})
	}
}

// fakeFabricBin returns a directory with executable stand-ins for Fabric's binaries and the
// config/ and builders/ccaas layout beside it, for checks that stop before any of them runs.
func fakeFabricBin(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	for _, dir := range []string{bin, filepath.Join(root, "config"), filepath.Join(root, "builders", "ccaas", "bin")} {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	for _, b := range []string{"peer", "orderer", "configtxgen", "cryptogen", "osnadmin"} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	}
	for _, b := range []string{"detect", "build", "release"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, "builders", "ccaas", "bin", b), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	}
	for _, f := range []string{"core.yaml", "orderer.yaml"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, "config", f), []byte("{}\n"), 0o644))
	}
	return bin
}
