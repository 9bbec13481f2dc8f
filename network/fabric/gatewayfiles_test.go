package fabric_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/network/fabric"
)

// fakeHome lays out the crypto files WriteGatewayFiles refers to, as cryptogen names them.
func fakeHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, o := range fabric.Orgs() {
		for _, p := range []string{o.TLSCACert(), o.UserCert(fabric.GatewayUser), o.UserKey(fabric.GatewayUser)} {
			full := filepath.Join(home, filepath.FromSlash(p))
			require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
			require.NoError(t, os.WriteFile(full, []byte("-----BEGIN TEST-----\n"), 0o600))
		}
	}
	return home
}

func TestWriteGatewayFiles(t *testing.T) {
	tests := []struct {
		name     string
		peerHost string
		endpoint func(fabric.Org) string
	}{
		{"native network on loopback", "127.0.0.1", func(o fabric.Org) string { return fabric.HostPort("127.0.0.1", o.PeerPort) }},
		{"compose network by host name", "", func(o fabric.Org) string { return fabric.HostPort(o.PeerHost(), o.PeerPort) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := fakeHome(t)
			random := bytes.NewReader(sequence(24*len(fabric.Orgs()) + store.KeySize))
			creds, err := fabric.WriteGatewayFiles(fabric.GatewayOptions{
				Home: home, PeerHost: tc.peerHost, Listen: "127.0.0.1:18080", DataDir: "/var/lib/xborder", Random: random,
			})
			require.NoError(t, err)
			require.Len(t, creds, len(fabric.Orgs()))

			cfg, err := config.Load(filepath.Join(home, fabric.GatewayConfigFile), nil)
			require.NoError(t, err)
			require.Equal(t, "127.0.0.1:18080", cfg.Listen)
			require.Equal(t, "/var/lib/xborder", cfg.DataDir)
			require.Equal(t, fabric.Channel, cfg.Channel)
			require.Equal(t, fabric.ChaincodeName, cfg.Chaincode)
			require.Len(t, cfg.Organizations, len(fabric.Orgs()))
			require.Len(t, cfg.APIKeys, len(fabric.Orgs()))
			for i, o := range fabric.Orgs() {
				got := cfg.Organizations[i]
				require.Equal(t, o.MSPID, got.MSPID)
				require.Equal(t, tc.endpoint(o), got.PeerEndpoint)
				require.Equal(t, filepath.Join(home, o.TLSCACert()), got.TLSCACert)
				require.Equal(t, filepath.Join(home, o.UserCert(fabric.GatewayUser)), got.Certificate)
				require.Equal(t, filepath.Join(home, o.UserKey(fabric.GatewayUser)), got.PrivateKey)
				require.Equal(t, o.MSPID, cfg.APIKeys[i].MSPID)
				require.Equal(t, config.HashKey(creds[o.MSPID]), cfg.APIKeys[i].SHA256)
				require.True(t, cfg.APIKeys[i].Admin, "the organisation's key manages its keys")
			}

			b, err := os.ReadFile(filepath.Join(home, fabric.CredentialsFile))
			require.NoError(t, err)
			var onDisk map[string]string
			require.NoError(t, json.Unmarshal(b, &onDisk))
			require.Equal(t, creds, onDisk)
			for _, f := range []string{fabric.GatewayConfigFile, fabric.CredentialsFile} {
				st, err := os.Stat(filepath.Join(home, f))
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
			}

			// Redeploying keeps the keys clients already hold.
			again, err := fabric.WriteGatewayFiles(fabric.GatewayOptions{
				Home: home, PeerHost: tc.peerHost, Listen: "127.0.0.1:18080", DataDir: "/var/lib/xborder", Random: bytes.NewReader(nil),
			})
			require.NoError(t, err)
			require.Equal(t, creds, again)
		})
	}
}

func TestWriteGatewayFilesErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) fabric.GatewayOptions
		err   string
	}{
		{"missing crypto material", func(t *testing.T) fabric.GatewayOptions {
			return fabric.GatewayOptions{Home: t.TempDir(), Listen: "127.0.0.1:8080", DataDir: "d", Random: bytes.NewReader(sequence(96))}
		}, "organisation MerchantMSP"},
		{"no randomness", func(t *testing.T) fabric.GatewayOptions {
			return fabric.GatewayOptions{Home: fakeHome(t), Listen: "127.0.0.1:8080", DataDir: "d", Random: bytes.NewReader(nil)}
		}, "generate API key"},
		{"corrupt credentials", func(t *testing.T) fabric.GatewayOptions {
			home := fakeHome(t)
			require.NoError(t, os.WriteFile(filepath.Join(home, fabric.CredentialsFile), []byte("{"), 0o600))
			return fabric.GatewayOptions{Home: home, Listen: "127.0.0.1:8080", DataDir: "d", Random: bytes.NewReader(sequence(96))}
		}, "parse"},
		{"missing options", func(t *testing.T) fabric.GatewayOptions {
			return fabric.GatewayOptions{Home: fakeHome(t)}
		}, "required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fabric.WriteGatewayFiles(tc.setup(t))
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestTopology(t *testing.T) {
	seen := map[int]string{}
	claim := func(port int, what string) {
		t.Helper()
		other, dup := seen[port]
		require.False(t, dup, "port %d used by %s and %s", port, what, other)
		seen[port] = what
	}
	for _, o := range fabric.Orgs() {
		claim(o.PeerPort, o.MSPID+" peer")
		claim(o.ChaincodePort, o.MSPID+" chaincode listener")
		claim(o.OperationsPort, o.MSPID+" operations")
		got, err := fabric.OrgByMSPID(o.MSPID)
		require.NoError(t, err)
		require.Equal(t, o, got)
	}
	all, err := fabric.Orderers("BFT")
	require.NoError(t, err)
	for _, o := range all {
		claim(o.Port, o.Name)
		claim(o.AdminPort, o.Name+" admin")
		claim(o.OperationsPort, o.Name+" operations")
	}
	claim(fabric.ChaincodeServerPort, "chaincode server")
	_, err = fabric.Orderers("solo")
	require.ErrorContains(t, err, "unknown consensus type")
	_, err = fabric.OrgByMSPID("OtherMSP")
	require.ErrorContains(t, err, "unknown organisation")
	m, err := fabric.OrgByMSPID("MerchantMSP")
	require.NoError(t, err)
	require.Equal(t, "organizations/peerOrganizations/merchant.xborder.example/users/User1@merchant.xborder.example/msp/signcerts/User1@merchant.xborder.example-cert.pem",
		m.UserCert(fabric.GatewayUser))
	require.Equal(t, "organizations/peerOrganizations/merchant.xborder.example/tlsca/tlsca.merchant.xborder.example-cert.pem", m.TLSCACert())
}

// sequence returns n deterministic, pairwise distinct-per-key bytes for API key generation.
func sequence(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestWriteGatewayFilesTLSAndStoreKey(t *testing.T) {
	for _, mode := range []string{fabric.GatewayTLSOff, fabric.GatewayTLSServer, fabric.GatewayTLSMutual} {
		t.Run("tls="+mode, func(t *testing.T) {
			home := fakeHome(t)
			opts := fabric.GatewayOptions{Home: home, Listen: "0.0.0.0:8443", DataDir: "d", Random: rand.Reader,
				TLS: mode, TLSHosts: []string{"127.0.0.1", "gateway.bank.example"}}
			_, err := fabric.WriteGatewayFiles(opts)
			require.NoError(t, err)
			cfg, err := config.Load(filepath.Join(home, fabric.GatewayConfigFile), nil)
			require.NoError(t, err)

			require.Equal(t, filepath.Join(home, fabric.StoreKeyFile), cfg.Store.KeyFile)
			keys, err := store.LoadKeyringFile(cfg.Store.KeyFile)
			require.NoError(t, err, "the key file is private (0600) and valid")
			require.Len(t, keys.IDs(), 1)

			if mode == fabric.GatewayTLSOff {
				require.False(t, cfg.TLS.Enabled())
				return
			}
			require.Equal(t, filepath.Join(home, fabric.GatewayTLSDir, "server.crt"), cfg.TLS.CertFile)
			pair, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
			require.NoError(t, err)
			leaf, err := x509.ParseCertificate(pair.Certificate[0])
			require.NoError(t, err)
			require.NoError(t, leaf.VerifyHostname("gateway.bank.example"))
			require.NoError(t, leaf.VerifyHostname("127.0.0.1"))
			if mode == fabric.GatewayTLSMutual {
				require.Equal(t, filepath.Join(home, fabric.GatewayTLSDir, "ca.crt"), cfg.TLS.ClientCAFile)
			} else {
				require.Empty(t, cfg.TLS.ClientCAFile)
			}

			before, err := os.ReadFile(cfg.TLS.CertFile)
			require.NoError(t, err)
			keyFile, err := os.ReadFile(cfg.Store.KeyFile)
			require.NoError(t, err)
			_, err = fabric.WriteGatewayFiles(opts)
			require.NoError(t, err)
			after, err := os.ReadFile(cfg.TLS.CertFile)
			require.NoError(t, err)
			require.Equal(t, before, after, "a redeployment keeps the certificate clients trust")
			keyAfter, err := os.ReadFile(cfg.Store.KeyFile)
			require.NoError(t, err)
			require.Equal(t, keyFile, keyAfter, "and the store key")
		})
	}
	_, err := fabric.WriteGatewayFiles(fabric.GatewayOptions{Home: fakeHome(t), Listen: "l", DataDir: "d", Random: rand.Reader, TLS: "maybe"})
	require.ErrorContains(t, err, `TLS mode "maybe"`)
}

// fakeCAHome adds what network.sh's CA mode leaves for WriteGatewayFiles: each CA's TLS
// certificate and its gateway registrar's secret.
func fakeCAHome(t *testing.T) string {
	t.Helper()
	home := fakeHome(t)
	for _, o := range fabric.Orgs() {
		full := filepath.Join(home, filepath.FromSlash(o.CATLSCert()))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte("-----BEGIN TEST-----\n"), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(home, filepath.FromSlash(o.CARegistrarSecretFile())), []byte("secret-"+o.Key()+"\n"), 0o600))
	}
	return home
}

func TestWriteGatewayFilesFabricCA(t *testing.T) {
	home := fakeCAHome(t)
	_, err := fabric.WriteGatewayFiles(fabric.GatewayOptions{
		Home: home, PeerHost: "127.0.0.1", Listen: "127.0.0.1:18080", DataDir: "data", Random: rand.Reader, FabricCA: true,
	})
	require.NoError(t, err)

	cfg, err := config.Load(filepath.Join(home, fabric.GatewayConfigFile), nil)
	require.NoError(t, err)
	for i, o := range fabric.Orgs() {
		t.Run(o.MSPID, func(t *testing.T) {
			ca := cfg.Organizations[i].CA
			require.Equal(t, fmt.Sprintf("https://127.0.0.1:%d", o.CAPort), ca.URL)
			require.Equal(t, "ca-"+o.Key(), ca.CAName)
			require.Equal(t, filepath.Join(home, o.CATLSCert()), ca.TLSCACert)
			require.Equal(t, fabric.GatewayRegistrar, ca.RegistrarID)
			require.Empty(t, ca.RegistrarSecret, "the secret is not in gateway.yaml")
		})
	}
	yml, err := os.ReadFile(filepath.Join(home, fabric.GatewayConfigFile))
	require.NoError(t, err)
	require.NotContains(t, string(yml), "secret-merchant")

	env, err := os.ReadFile(filepath.Join(home, fabric.GatewayEnvFile))
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(home, fabric.GatewayEnvFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	for _, o := range fabric.Orgs() {
		require.Contains(t, string(env), "\n"+fabric.CASecretEnv(o.MSPID)+"=secret-"+o.Key()+"\n")
	}
	require.Equal(t, "XBORDER_CA_SECRET_MerchantMSP", fabric.CASecretEnv("MerchantMSP"), "the variable the gateway reads")
}

func TestWriteGatewayFilesFabricCARefuses(t *testing.T) {
	tests := []struct {
		name    string
		mangle  func(t *testing.T, home string, o fabric.Org)
		message string
	}{
		{"a registrar secret is missing", func(t *testing.T, home string, o fabric.Org) {
			require.NoError(t, os.Remove(filepath.Join(home, filepath.FromSlash(o.CARegistrarSecretFile()))))
		}, "registrar secret"},
		{"a registrar secret is not a plain token", func(t *testing.T, home string, o fabric.Org) {
			require.NoError(t, os.WriteFile(filepath.Join(home, filepath.FromSlash(o.CARegistrarSecretFile())), []byte("a b$(x)\n"), 0o600))
		}, "not a plain token"},
		{"a CA's TLS certificate is missing", func(t *testing.T, home string, o fabric.Org) {
			require.NoError(t, os.Remove(filepath.Join(home, filepath.FromSlash(o.CATLSCert()))))
		}, "Fabric CA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := fakeCAHome(t)
			tc.mangle(t, home, fabric.Orgs()[1])
			_, err := fabric.WriteGatewayFiles(fabric.GatewayOptions{
				Home: home, Listen: "127.0.0.1:18080", DataDir: "data", Random: rand.Reader, FabricCA: true,
			})
			require.ErrorContains(t, err, tc.message)
			require.ErrorContains(t, err, fabric.Orgs()[1].MSPID)
			for _, f := range []string{fabric.GatewayConfigFile, fabric.GatewayEnvFile} {
				_, err := os.Stat(filepath.Join(home, f))
				require.ErrorIs(t, err, os.ErrNotExist, "%s is not written", f)
			}
		})
	}
}
