package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/fabric"
)

func TestRunPackage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "xborder.tar.gz")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run([]string{"package", "--out", out}, &stdout, &stderr))
	pkg, id, err := fabric.DefaultPackage()
	require.NoError(t, err)
	require.Equal(t, id+"\n", stdout.String())
	written, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, pkg, written)
}

func TestRunGatewayConfig(t *testing.T) {
	home := t.TempDir()
	for _, o := range fabric.Orgs() {
		for _, p := range []string{o.TLSCACert(), o.UserCert(fabric.GatewayUser), o.UserKey(fabric.GatewayUser)} {
			full := filepath.Join(home, filepath.FromSlash(p))
			require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
			require.NoError(t, os.WriteFile(full, []byte("pem"), 0o600))
		}
	}
	var stdout, stderr bytes.Buffer
	require.NoError(t, run([]string{"gateway-config", "--home", home, "--listen", "127.0.0.1:18080"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "[BankMSP CarrierMSP CustomsMSP MerchantMSP RegulatorMSP]")
	b, err := os.ReadFile(filepath.Join(home, fabric.GatewayConfigFile))
	require.NoError(t, err)
	require.Contains(t, string(b), "peerEndpoint: 127.0.0.1:7051")
}

func TestRunChaincodeTLSAndBuilderConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run([]string{"chaincode-tls", "--dir", dir}, &stdout, &stderr))
	for _, f := range []string{fabric.ChaincodeTLSCACert, fabric.ChaincodeTLSServerCert, fabric.ChaincodeTLSServerKey, fabric.ChaincodeTLSClientCert, fabric.ChaincodeTLSClientKey} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	require.NoError(t, run([]string{"builder-config", "--address", "127.0.0.1:9999", "--tls-dir", dir}, &stdout, &stderr))
	want, err := fabric.BuilderConfig("127.0.0.1:9999", dir)
	require.NoError(t, err)
	require.Equal(t, want+"\n", stdout.String())

	stdout.Reset()
	out := filepath.Join(t.TempDir(), "tls.tar.gz")
	require.NoError(t, run([]string{"package", "--out", out, "--tls"}, &stdout, &stderr))
	pkg, err := fabric.BuildPackage(fabric.ChaincodeLabel, fabric.TLSConnection())
	require.NoError(t, err)
	require.Equal(t, fabric.PackageID(fabric.ChaincodeLabel, pkg)+"\n", stdout.String())
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"install"}, "unknown command"},
		{"package without --out", []string{"package"}, "usage"},
		{"package with a bad label", []string{"package", "--out", "x", "--label", "bad label"}, "chaincode label"},
		{"gateway-config without --home", []string{"gateway-config"}, "usage"},
		{"stray argument", []string{"gateway-config", "--home", "h", "extra"}, "usage"},
		{"chaincode-tls without --dir", []string{"chaincode-tls"}, "usage"},
		{"builder-config without --address", []string{"builder-config"}, "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tc.err), "error %q does not mention %q", err, tc.err)
		})
	}
}
