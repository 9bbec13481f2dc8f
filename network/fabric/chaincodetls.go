package fabric

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files of the chaincode server's TLS material, written by WriteChaincodeTLS.
const (
	// ChaincodeTLSCACert is the CA that signs the server and the peers' client certificates.
	ChaincodeTLSCACert = "ca.crt"
	// ChaincodeTLSServerCert and ChaincodeTLSServerKey are the chaincode server's pair.
	ChaincodeTLSServerCert = "server.crt"
	ChaincodeTLSServerKey  = "server.key"
	// ChaincodeTLSClientCert and ChaincodeTLSClientKey are the pair the peers present.
	ChaincodeTLSClientCert = "client.crt"
	ChaincodeTLSClientKey  = "client.key"
)

// ChaincodeTLSOptions configures WriteChaincodeTLS.
type ChaincodeTLSOptions struct {
	// Dir receives the five PEM files (created if needed; keys get mode 0600).
	Dir string
	// Hosts are the DNS names and IP addresses the peers dial the chaincode server on.
	Hosts []string
	// Random is the source of keys and serial numbers (crypto/rand.Reader).
	Random io.Reader
	// Now is the start of the certificates' validity.
	Now time.Time
	// Validity is how long the certificates are valid.
	Validity time.Duration
}

// WriteChaincodeTLS creates a dedicated CA (ECDSA P-256) for the peer-to-chaincode connection, a
// server certificate for opts.Hosts and one client certificate for the peers, and writes them
// as PEM files into opts.Dir.
func WriteChaincodeTLS(opts ChaincodeTLSOptions) error {
	return writeTLSSet(opts, tlsNames{ca: "xborder chaincode TLS CA", server: ChaincodeServiceHost, client: "xborder peers"})
}

// tlsNames are the common names of a TLS set's CA, server and client certificates.
type tlsNames struct{ ca, server, client string }

// writeTLSSet creates a CA of its own (ECDSA P-256), a server certificate for opts.Hosts and a
// client certificate, and writes them as the five PEM files of WriteChaincodeTLS into opts.Dir.
func writeTLSSet(opts ChaincodeTLSOptions, names tlsNames) error {
	if opts.Dir == "" || len(opts.Hosts) == 0 || opts.Random == nil || opts.Validity <= 0 {
		return errors.New("chaincode TLS: directory, hosts, random source and validity are required")
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return fmt.Errorf("chaincode TLS: %w", err)
	}
	notBefore, notAfter := opts.Now.Add(-time.Minute).UTC(), opts.Now.Add(opts.Validity).UTC()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), opts.Random)
	if err != nil {
		return fmt.Errorf("chaincode TLS: CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{Domain}, CommonName: names.ca},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, caCert, err := sign(opts.Random, caTmpl, nil, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("chaincode TLS: CA certificate: %w", err)
	}
	if err := writePEM(filepath.Join(opts.Dir, ChaincodeTLSCACert), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	ca := issuer{cert: caCert, key: caKey, random: opts.Random, dir: opts.Dir}
	server := leafTemplate(names.server, x509.ExtKeyUsageServerAuth, notBefore, notAfter)
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			server.IPAddresses = append(server.IPAddresses, ip)
		} else {
			server.DNSNames = append(server.DNSNames, h)
		}
	}
	if err := ca.issue(server, ChaincodeTLSServerCert, ChaincodeTLSServerKey); err != nil {
		return err
	}
	client := leafTemplate(names.client, x509.ExtKeyUsageClientAuth, notBefore, notAfter)
	return ca.issue(client, ChaincodeTLSClientCert, ChaincodeTLSClientKey)
}

// leafTemplate is a TLS certificate of the chaincode connection for one use.
func leafTemplate(commonName string, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{Domain}, CommonName: commonName},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
}

// issuer is the chaincode TLS CA, issuing leaf certificates into dir.
type issuer struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	random io.Reader
	dir    string
}

// issue creates a key pair, has tmpl signed by the CA and writes the certificate and the key
// (mode 0600) as PEM files certFile and keyFile.
func (ca issuer) issue(tmpl *x509.Certificate, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), ca.random)
	if err != nil {
		return fmt.Errorf("chaincode TLS: %s key: %w", certFile, err)
	}
	der, _, err := sign(ca.random, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return fmt.Errorf("chaincode TLS: %s: %w", certFile, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("chaincode TLS: encode %s: %w", keyFile, err)
	}
	if err := writePEM(filepath.Join(ca.dir, certFile), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writePEM(filepath.Join(ca.dir, keyFile), "PRIVATE KEY", keyDER, 0o600)
}

// sign issues tmpl (self-signed when parent is nil) with a random serial number.
func sign(random io.Reader, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := randSerial(random)
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(random, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	return der, cert, nil
}

func randSerial(random io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return new(big.Int).SetBytes(b), nil
}

func writePEM(path, kind string, der []byte, perm os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("chaincode TLS: write %s: %w", path, err)
	}
	return nil
}

// BuilderConfig returns the value of a peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG: the
// chaincode server address and, when tlsDir is not empty, the CA certificate and the client
// pair written by WriteChaincodeTLS, which Fabric's ccaas builder substitutes into
// TLSConnection's templates.
func BuilderConfig(address, tlsDir string) (string, error) {
	if address == "" {
		return "", errors.New("builder config: address is required")
	}
	cfg := map[string]string{"address": address}
	if tlsDir != "" {
		for field, file := range map[string]string{
			"root_cert": ChaincodeTLSCACert, "client_cert": ChaincodeTLSClientCert, "client_key": ChaincodeTLSClientKey,
		} {
			b, err := os.ReadFile(filepath.Join(tlsDir, file)) // #nosec G304 -- the operator's network home directory
			if err != nil {
				return "", fmt.Errorf("builder config: %w", err)
			}
			cfg[field] = string(b)
		}
	}
	out, err := json.Marshal(cfg) // map keys are sorted: the output is deterministic
	if err != nil {
		return "", fmt.Errorf("builder config: %w", err)
	}
	return string(out), nil
}
