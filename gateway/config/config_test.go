package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const validYAML = `
listen: 0.0.0.0:9090
dataDir: /var/lib/xborder
channel: xborder
chaincode: xborder
organizations:
  - mspId: BankMSP
    peerEndpoint: peer0.bank.example.com:7051
    peerHostOverride: peer0.bank.example.com
    tlsCACert: tls/ca.pem
    certificate: /etc/xborder/cert.pem
    privateKey: keys/key.pem
    ca:
      url: https://ca.bank.example.com:7054
      tlsCACert: ca/tls-cert.pem
      registrarId: gateway-registrar
apiKeys:
  - id: back-office
    mspId: BankMSP
    user: alice
    sha256: ` + "%s" + `
rateLimit:
  requestsPerSecond: 20
  burst: 40
cors:
  allowedOrigins: [https://app.example.com]
timeouts:
  evaluate: 2s
  endorse: 10s
  submit: 3s
  commit: 45s
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoad(t *testing.T) {
	hash := HashKey("secret-key")
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		path := writeFile(t, dir, "gw.yaml", strings.Replace(validYAML, "%s", hash, 1))
		cfg, err := Load(path, nil)
		require.NoError(t, err)
		require.Equal(t, "0.0.0.0:9090", cfg.Listen)
		require.Equal(t, filepath.Join(dir, "tls/ca.pem"), cfg.Organizations[0].TLSCACert, "relative to the file")
		require.Equal(t, "/etc/xborder/cert.pem", cfg.Organizations[0].Certificate)
		require.Equal(t, filepath.Join(dir, "keys/key.pem"), cfg.Organizations[0].PrivateKey)
		require.Equal(t, filepath.Join(dir, "ca/tls-cert.pem"), cfg.Organizations[0].CA.TLSCACert, "the CA's TLS root too")
		require.Equal(t, 45*time.Second, cfg.Timeouts.Commit)
		require.Equal(t, []string{"https://app.example.com"}, cfg.CORS.AllowedOrigins)
		require.Equal(t, int64(1<<20), cfg.MaxBodyBytes, "default kept")
		require.Equal(t, hash, cfg.APIKeys[0].SHA256)
	})
	t.Run("environment overrides the file", func(t *testing.T) {
		dir := t.TempDir()
		path := writeFile(t, dir, "gw.yaml", strings.Replace(validYAML, "%s", hash, 1))
		other := HashKey("other")
		cfg, err := Load(path, []string{
			"XBORDER_LISTEN=127.0.0.1:1",
			"XBORDER_PEER_ENDPOINT=localhost:7051",
			"XBORDER_API_KEYS=ops:BankMSP:bob:" + other + ", ci:BankMSP:ci:" + hash,
			"XBORDER_RATE_LIMIT_RPS=2.5",
			"XBORDER_CORS_ORIGINS=https://a.example, https://b.example",
			"XBORDER_COMMIT_TIMEOUT=5s",
			"UNRELATED=1",
		})
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:1", cfg.Listen)
		require.Equal(t, "localhost:7051", cfg.Organizations[0].PeerEndpoint)
		require.Len(t, cfg.APIKeys, 2)
		require.Equal(t, APIKey{ID: "ops", MSPID: "BankMSP", User: "bob", SHA256: other}, cfg.APIKeys[0])
		require.InDelta(t, 2.5, cfg.RateLimit.RequestsPerSecond, 1e-9)
		require.Equal(t, []string{"https://a.example", "https://b.example"}, cfg.CORS.AllowedOrigins)
		require.Equal(t, 5*time.Second, cfg.Timeouts.Commit)
	})
	t.Run("environment only", func(t *testing.T) {
		cfg, err := Load("", []string{
			"XBORDER_MSP_ID=CustomsMSP", "XBORDER_PEER_ENDPOINT=peer:7051",
			"XBORDER_CERTIFICATE=/c.pem", "XBORDER_PRIVATE_KEY=/k.pem",
			"XBORDER_API_KEYS=reg:CustomsMSP:rita:" + hash,
		})
		require.NoError(t, err)
		require.Equal(t, "CustomsMSP", cfg.Organizations[0].MSPID)
		require.Equal(t, "xborder", cfg.Channel)
	})
	t.Run("errors", func(t *testing.T) {
		dir := t.TempDir()
		for _, tc := range []struct {
			name, yaml string
			env        []string
			want       string
		}{
			{"unknown field", strings.Replace(validYAML, "%s", hash, 1) + "bogus: 1\n", nil, "field bogus not found"},
			{"bad hash", strings.Replace(validYAML, "%s", "abc", 1), nil, "sha256 must be 64 hex digits"},
			{"key for an unknown org", strings.Replace(strings.Replace(validYAML, "%s", hash, 1), "    mspId: BankMSP\n    user", "    mspId: CarrierMSP\n    user", 1), nil, "has no organization"},
			{"no organisations", "listen: a:1\n", nil, "at least one required"},
			{"bad env number", strings.Replace(validYAML, "%s", hash, 1), []string{"XBORDER_RATE_LIMIT_BURST=many"}, "XBORDER_RATE_LIMIT_BURST"},
			{"bad env key list", strings.Replace(validYAML, "%s", hash, 1), []string{"XBORDER_API_KEYS=a:b"}, "want id:mspId:user:sha256hex"},
			{"bad log level", strings.Replace(validYAML, "%s", hash, 1) + "logLevel: loud\n", nil, "logLevel"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := writeFile(t, dir, "c.yaml", tc.yaml)
				_, err := Load(path, tc.env)
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.want)
			})
		}
		_, err := Load(filepath.Join(dir, "missing.yaml"), nil)
		require.Error(t, err)
	})
	t.Run("empty file uses defaults and the environment", func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "empty.yaml", "")
		_, err := Load(path, []string{"XBORDER_MSP_ID=BankMSP", "XBORDER_PEER_ENDPOINT=p:1", "XBORDER_CERTIFICATE=c", "XBORDER_PRIVATE_KEY=k"})
		require.NoError(t, err)
	})
}

func TestHashKey(t *testing.T) {
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HashKey(""))
	require.Len(t, HashKey("xb_123"), 64)
}

func TestExampleConfig(t *testing.T) {
	cfg, err := Load("example.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, "BankMSP", cfg.Organizations[0].MSPID)
	require.Equal(t, HashKey("test"), cfg.APIKeys[0].SHA256)
	require.Equal(t, 168*time.Hour, cfg.IdempotencyRetention)
}
