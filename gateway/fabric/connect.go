package fabric

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// LoadIdentity reads an organisation's PEM certificate and private key files.
func LoadIdentity(certPath, keyPath string) (*x509.Certificate, identity.Sign, error) {
	certPEM, err := os.ReadFile(certPath) // #nosec G304 -- configured identity file
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate %s: %w", certPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath) // #nosec G304 -- configured identity file
	if err != nil {
		return nil, nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse private key %s: %w", keyPath, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("signer from %s: %w", keyPath, err)
	}
	return cert, sign, nil
}

// DialOptions describe the gRPC connection to one peer.
type DialOptions struct {
	// Endpoint is host:port of the peer's Gateway service.
	Endpoint string
	// HostOverride is the TLS server name, when it differs from the endpoint host.
	HostOverride string
	// TLSCACert is the PEM file of the peer's TLS CA; empty means plaintext (development only).
	TLSCACert string
	// TLSClientCert and TLSClientKey are PEM files of a client TLS certificate, for peers that
	// require mutual TLS (optional).
	TLSClientCert, TLSClientKey string
}

// Dial opens the gRPC connection to a peer's Gateway service; the caller reuses it for every
// request of the organisation and closes it at shutdown.
func Dial(o DialOptions) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if o.TLSCACert != "" {
		pemBytes, err := os.ReadFile(o.TLSCACert) // #nosec G304 -- configured TLS CA file
		if err != nil {
			return nil, fmt.Errorf("read TLS CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("no certificate in %s", o.TLSCACert)
		}
		tlsCfg := &tls.Config{RootCAs: pool, ServerName: o.HostOverride, MinVersion: tls.VersionTLS12}
		if o.TLSClientCert != "" || o.TLSClientKey != "" {
			pair, err := tls.LoadX509KeyPair(o.TLSClientCert, o.TLSClientKey)
			if err != nil {
				return nil, fmt.Errorf("load TLS client certificate: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{pair}
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(o.Endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("dial peer %s: %w", o.Endpoint, err)
	}
	return conn, nil
}
