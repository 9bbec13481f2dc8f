package fabric_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/fabric"
)

func writeTLS(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "chaincode-tls")
	require.NoError(t, fabric.WriteChaincodeTLS(fabric.ChaincodeTLSOptions{
		Dir: dir, Hosts: []string{"127.0.0.1", "localhost"}, Random: rand.Reader, Now: time.Now(), Validity: time.Hour,
	}))
	return dir
}

// TestChaincodeTLSHandshake proves the generated material works the way the peer and the
// chaincode server use it: the server requires a client certificate from the CA, the client
// verifies the server's name.
func TestChaincodeTLSHandshake(t *testing.T) {
	dir := writeTLS(t)
	for _, f := range []string{fabric.ChaincodeTLSServerKey, fabric.ChaincodeTLSClientKey} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, fabric.ChaincodeTLSCACert))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	serverPair, err := tls.LoadX509KeyPair(filepath.Join(dir, fabric.ChaincodeTLSServerCert), filepath.Join(dir, fabric.ChaincodeTLSServerKey))
	require.NoError(t, err)
	clientPair, err := tls.LoadX509KeyPair(filepath.Join(dir, fabric.ChaincodeTLSClientCert), filepath.Join(dir, fabric.ChaincodeTLSClientKey))
	require.NoError(t, err)

	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})
	require.NoError(t, err)
	defer l.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.Close()
	wg.Add(1)
	go func() { // echo four bytes on every connection until the listener closes
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, io.LimitReader(c, 4))
			}()
		}
	}()

	tests := []struct {
		name       string
		serverName string
		certs      []tls.Certificate
		ok         bool
	}{
		{"peer with the client certificate", "127.0.0.1", []tls.Certificate{clientPair}, true},
		{"wrong server name", "chaincode.example", []tls.Certificate{clientPair}, false},
		{"server certificate as client certificate", "127.0.0.1", []tls.Certificate{serverPair}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), &tls.Config{
				RootCAs: pool, ServerName: tc.serverName, Certificates: tc.certs, MinVersion: tls.VersionTLS12,
			})
			if !tc.ok {
				if err == nil {
					// TLS 1.3 reports a rejected client certificate on the first read.
					_, err = c.Write([]byte("ping"))
					if err == nil {
						_, err = c.Read(make([]byte, 4))
					}
					_ = c.Close()
				}
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte("ping"))
			require.NoError(t, err)
			echo := make([]byte, 4)
			_, err = io.ReadFull(c, echo)
			require.NoError(t, err)
			require.Equal(t, "ping", string(echo))
		})
	}
}

// TestBuilderConfig renders the packages' connection.json the way Fabric's ccaas builder does.
func TestBuilderConfig(t *testing.T) {
	dir := writeTLS(t)
	tests := []struct {
		name   string
		tlsDir string
		conn   fabric.Connection
	}{
		{"plaintext", "", fabric.DefaultConnection()},
		{"mutual TLS", dir, fabric.TLSConnection()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := fabric.BuilderConfig("127.0.0.1:9999", tc.tlsDir)
			require.NoError(t, err)
			var cfg map[string]any
			require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
			render := func(field string) string {
				tmpl, err := template.New(field).Option("missingkey=error").Parse(field)
				require.NoError(t, err)
				var out bytes.Buffer
				require.NoError(t, tmpl.Execute(&out, cfg))
				return out.String()
			}
			require.Equal(t, "127.0.0.1:9999", render(tc.conn.Address))
			if tc.conn.TLSRequired {
				require.True(t, tc.conn.ClientAuthRequired)
				for field, file := range map[string]string{
					tc.conn.RootCert: fabric.ChaincodeTLSCACert, tc.conn.ClientCert: fabric.ChaincodeTLSClientCert, tc.conn.ClientKey: fabric.ChaincodeTLSClientKey,
				} {
					want, err := os.ReadFile(filepath.Join(dir, file))
					require.NoError(t, err)
					require.Equal(t, string(want), render(field))
				}
			} else {
				require.Len(t, cfg, 1)
			}
		})
	}
	_, err := fabric.BuilderConfig("", "")
	require.ErrorContains(t, err, "address is required")
	_, err = fabric.BuilderConfig("127.0.0.1:9999", t.TempDir())
	require.ErrorContains(t, err, "builder config")
	require.ErrorContains(t, fabric.WriteChaincodeTLS(fabric.ChaincodeTLSOptions{Dir: t.TempDir()}), "required")
}

func TestTLSPackageDiffers(t *testing.T) {
	plain, err := fabric.BuildPackage(fabric.ChaincodeLabel, fabric.DefaultConnection())
	require.NoError(t, err)
	withTLS, err := fabric.BuildPackage(fabric.ChaincodeLabel, fabric.TLSConnection())
	require.NoError(t, err)
	require.NotEqual(t, fabric.PackageID(fabric.ChaincodeLabel, plain), fabric.PackageID(fabric.ChaincodeLabel, withTLS))
	_, files := untar(t, withTLS)
	_, code := untar(t, files["code.tar.gz"])
	var conn fabric.Connection
	require.NoError(t, json.Unmarshal(code["connection.json"], &conn))
	require.Equal(t, fabric.TLSConnection(), conn)
	require.NotContains(t, string(code["connection.json"]), "PRIVATE KEY", "no key material in the package")
}
