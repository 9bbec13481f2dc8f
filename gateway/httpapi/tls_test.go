package httpapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for cn signed by the CA, and its key, into dir as <file>.crt and
// <file>.key; server certificates are for 127.0.0.1.
func (ca *testCA) issue(t *testing.T, dir, file, cn string, server bool) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath = filepath.Join(dir, file+".crt"), filepath.Join(dir, file+".key")
	// Written through temporary files and renamed, as certificate tools replace them.
	writeAtomic(t, certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeAtomic(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certPath, keyPath
}

func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path+".tmp", data, 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

// serveTLS serves s with TLS from r on a free loopback port until the test ends.
func serveTLS(t *testing.T, s *Server, r *CertReloader) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, tls.NewListener(l, r.Config())) }()
	go r.Watch(ctx)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return l.Addr().String()
}

func tlsClient(roots []byte, cfg *tls.Config) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(roots)
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.RootCAs = pool
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// answer is what a test keeps of a response: its status and TLS connection state.
type answer struct {
	StatusCode int
	TLS        *tls.ConnectionState
}

func get(c *http.Client, url, key string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return answer{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return answer{StatusCode: res.StatusCode, TLS: res.TLS}, res.Body.Close()
}

func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "server CA")
	certFile, keyFile := ca.issue(t, dir, "server", "gateway-1", true)
	s, _, _ := newLimitServer(t, nil)
	r, err := NewCertReloader(TLSOptions{CertFile: certFile, KeyFile: keyFile, PollInterval: 20 * time.Millisecond}, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	addr := serveTLS(t, s, r)
	url := "https://" + addr + "/api/v1/orders/o-1"

	t.Run("TLS 1.3 when the client has it, TLS 1.2 with AEAD suites only, nothing older", func(t *testing.T) {
		res, err := get(tlsClient(ca.pem, nil), url, merchantKey)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, uint16(tls.VersionTLS13), res.TLS.Version)

		res, err = get(tlsClient(ca.pem, &tls.Config{MaxVersion: tls.VersionTLS12}), url, merchantKey)
		require.NoError(t, err)
		require.Equal(t, uint16(tls.VersionTLS12), res.TLS.Version)
		require.Contains(t, tls12Suites, res.TLS.CipherSuite)

		_, err = get(tlsClient(ca.pem, &tls.Config{MaxVersion: tls.VersionTLS11}), url, merchantKey)
		require.Error(t, err, "TLS 1.1 is refused")
		_, err = get(tlsClient(ca.pem, &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}), url, merchantKey)
		require.Error(t, err, "CBC suites are refused")
		res, err = get(http.DefaultClient, "http://"+addr+"/api/v1/orders/o-1", merchantKey)
		if err == nil {
			require.Equal(t, http.StatusBadRequest, res.StatusCode, "no plain HTTP on the TLS listener")
		}
	})
	t.Run("a new certificate is served without dropping open connections", func(t *testing.T) {
		client := tlsClient(ca.pem, nil)
		res, err := get(client, url, merchantKey)
		require.NoError(t, err)
		require.Equal(t, "gateway-1", res.TLS.PeerCertificates[0].Subject.CommonName)

		ca.issue(t, dir, "server", "gateway-2", true)
		require.Eventually(t, func() bool {
			res, err := get(tlsClient(ca.pem, nil), url, merchantKey)
			return err == nil && res.TLS.PeerCertificates[0].Subject.CommonName == "gateway-2"
		}, 10*time.Second, 20*time.Millisecond, "the changed files are picked up")
		res, err = get(client, url, merchantKey)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "gateway-1", res.TLS.PeerCertificates[0].Subject.CommonName,
			"the open keep-alive connection goes on with its session")
	})
	t.Run("broken files keep the certificate in force", func(t *testing.T) {
		writeAtomic(t, keyFile, []byte("not a key"))
		require.Error(t, r.Reload())
		res, err := get(tlsClient(ca.pem, nil), url, merchantKey)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		ca.issue(t, dir, "server", "gateway-3", true)
		require.NoError(t, r.Reload(), "an explicit reload (SIGHUP) takes the repaired files")
		res, err = get(tlsClient(ca.pem, nil), url, merchantKey)
		require.NoError(t, err)
		require.Equal(t, "gateway-3", res.TLS.PeerCertificates[0].Subject.CommonName)
	})
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	certFile, keyFile := serverCA.issue(t, dir, "server", "gateway", true)
	clientCAFile := filepath.Join(dir, "clients.pem")
	writeAtomic(t, clientCAFile, clientCA.pem)
	clientCert, err := tls.LoadX509KeyPair(clientCA.issue(t, dir, "client", "settlement-service", false))
	require.NoError(t, err)
	strangerCert, err := tls.LoadX509KeyPair(otherCA.issue(t, dir, "stranger", "stranger", false))
	require.NoError(t, err)

	for _, tc := range []struct {
		name       string
		clientAuth string
		cert       *tls.Certificate
		key        string
		want       int // 0: the handshake fails
	}{
		{"require: certificate and key", ClientAuthRequire, &clientCert, merchantKey, http.StatusOK},
		{"require: a certificate does not replace the key", ClientAuthRequire, &clientCert, "", http.StatusUnauthorized},
		{"require: a key without certificate", ClientAuthRequire, nil, merchantKey, 0},
		{"require: a certificate of another CA", ClientAuthRequire, &strangerCert, merchantKey, 0},
		{"optional: key without certificate", ClientAuthOptional, nil, merchantKey, http.StatusOK},
		{"optional: a certificate of another CA", ClientAuthOptional, &strangerCert, merchantKey, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newLimitServer(t, nil)
			r, err := NewCertReloader(TLSOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: clientCAFile, ClientAuth: tc.clientAuth}, nil, nil)
			require.NoError(t, err)
			addr := serveTLS(t, s, r)
			// The certificate is presented whatever CAs the server names (Go's client would
			// otherwise keep back one the server does not accept).
			cfg := &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if tc.cert == nil {
					return &tls.Certificate{}, nil
				}
				return tc.cert, nil
			}}
			res, err := get(tlsClient(serverCA.pem, cfg), "https://"+addr+"/api/v1/orders/o-1", tc.key)
			if tc.want == 0 {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, res.StatusCode)
		})
	}
}

func TestTLSOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts TLSOptions
		want string
	}{
		{"no key file", TLSOptions{CertFile: "c"}, "certFile and keyFile are required"},
		{"require without CAs", TLSOptions{CertFile: "c", KeyFile: "k", ClientAuth: "require"}, "needs clientCAFile"},
		{"unknown policy", TLSOptions{CertFile: "c", KeyFile: "k", ClientAuth: "maybe"}, "not none, optional or require"},
		{"old version", TLSOptions{CertFile: "c", KeyFile: "k", MinVersion: "1.1"}, "not 1.2 or 1.3"},
		{"missing files", TLSOptions{CertFile: "/nonexistent/c", KeyFile: "/nonexistent/k"}, "/nonexistent/c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCertReloader(tc.opts, nil, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
	o, err := TLSOptions{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, ClientAuthRequire, o.ClientAuth, "a client CA bundle means require unless said otherwise")
}
