// Package ca is the devnet's built-in certificate authority: for one organisation it registers
// users with attributes and enrols them with certificates its MSP accepts (issued by the
// organisation's CA key, NodeOU of the identity's type, the attributes in the Fabric CA
// extension 1.2.3.4.5.6.7.8.1 as {"attrs":{...}}), and revokes them. It serves the subset of
// the Fabric CA REST API that gateway/fabricca calls (POST /api/v1/enroll with HTTP basic
// authentication, POST /api/v1/register and /api/v1/revoke with a registrar's token), so the
// gateway's code is the same against the devnet and a fabric-ca-server. The registry is kept in
// a JSON file; it is a development CA (no CRL, no affiliations, no identity listing).
package ca

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xborder/xborder/network/devnet/msp"
)

// RegistrarID is the bootstrap registrar of every devnet CA; its secret is in the CA's
// registry file (Registrar).
const RegistrarID = "admin"

// certValidity is how long an enrolment certificate is valid.
const certValidity = 365 * 24 * time.Hour

// Identity is one registered identity.
type Identity struct {
	Secret         string            `json:"secret"`
	Type           string            `json:"type"`
	Attrs          map[string]string `json:"attrs,omitempty"`
	MaxEnrollments int               `json:"maxEnrollments"`
	Enrollments    int               `json:"enrollments"`
	Registrar      bool              `json:"registrar,omitempty"`
	Revoked        bool              `json:"revoked,omitempty"`
	// Serials are the serial numbers (hex) of the certificates issued to the identity.
	Serials []string `json:"serials,omitempty"`
}

// registry is the CA's persistent state.
type registry struct {
	Identities map[string]*Identity `json:"identities"`
	// Revoked are the serial numbers (hex) of revoked certificates.
	Revoked []string `json:"revoked,omitempty"`
}

// CA is one organisation's built-in CA.
type CA struct {
	mspID, domain string
	cert          *x509.Certificate
	key           *ecdsa.PrivateKey
	path          string
	now           func() time.Time

	mu  sync.Mutex
	reg registry
}

// Open loads the CA of an organisation from its certificate and key files and its registry
// from registryPath (created, with a random registrar secret, when missing).
func Open(mspID, domain, certPath, keyPath, registryPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath) // #nosec G304 -- the devnet's own crypto material
	if err != nil {
		return nil, fmt.Errorf("ca %s: %w", mspID, err)
	}
	keyPEM, err := os.ReadFile(keyPath) // #nosec G304 -- the devnet's own crypto material
	if err != nil {
		return nil, fmt.Errorf("ca %s: %w", mspID, err)
	}
	c := &CA{mspID: mspID, domain: domain, path: registryPath, now: time.Now}
	if c.cert, err = msp.ParseCertificatePEM(certPEM); err != nil {
		return nil, fmt.Errorf("ca %s: %w", mspID, err)
	}
	if c.key, err = msp.ParsePrivateKeyPEM(keyPEM); err != nil {
		return nil, fmt.Errorf("ca %s: %w", mspID, err)
	}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("ca %s: %w", mspID, err)
	}
	return c, nil
}

// MSPID returns the organisation of the CA.
func (c *CA) MSPID() string { return c.mspID }

// Certificate returns the CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Registrar returns the bootstrap registrar's enrolment ID and secret.
func (c *CA) Registrar() (id, secret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return RegistrarID, c.reg.Identities[RegistrarID].Secret
}

func (c *CA) load() error {
	raw, err := os.ReadFile(c.path)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &c.reg); err != nil {
			return fmt.Errorf("read registry %s: %w", c.path, err)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read registry: %w", err)
	}
	c.reg = registry{Identities: map[string]*Identity{
		RegistrarID: {Secret: randomSecret(), Type: "admin", MaxEnrollments: -1, Registrar: true},
	}}
	return c.saveLocked()
}

// saveLocked writes the registry (mode 0600) through a renamed temporary file.
func (c *CA) saveLocked() error {
	raw, err := json.MarshalIndent(c.reg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registry: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o750); err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	return nil
}

func randomSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Registration is a register request (the Fabric CA JSON fields the devnet honours).
type Registration struct {
	ID             string `json:"id"`
	Secret         string `json:"secret"`
	Type           string `json:"type"`
	MaxEnrollments int    `json:"max_enrollments"`
	Attrs          []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
		ECert bool   `json:"ecert"`
	} `json:"attrs"`
}

// RequestError is a refused request, with the HTTP status to answer.
type RequestError struct {
	Status  int
	Message string
}

func (e *RequestError) Error() string { return e.Message }

func refuse(status int, format string, args ...any) error {
	return &RequestError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Register registers r as registrar and returns its enrolment secret.
func (c *CA) Register(registrar string, r Registration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reg := c.reg.Identities[registrar]; reg == nil || !reg.Registrar || reg.Revoked {
		return "", refuse(401, "%s is not a registrar of this CA", registrar)
	}
	if r.ID == "" || strings.ContainsAny(r.ID, ":/\x00") {
		return "", refuse(400, "id %q is not a valid enrolment ID", r.ID)
	}
	if _, taken := c.reg.Identities[r.ID]; taken {
		return "", refuse(409, "identity %q is already registered", r.ID)
	}
	if r.Type == "" {
		r.Type = "client"
	}
	if !slices.Contains([]string{"client", "peer", "admin", "orderer"}, r.Type) {
		return "", refuse(400, "type %q is not one of client, peer, admin, orderer", r.Type)
	}
	id := &Identity{Secret: r.Secret, Type: r.Type, MaxEnrollments: r.MaxEnrollments, Attrs: map[string]string{}}
	if id.Secret == "" {
		id.Secret = randomSecret()
	}
	if id.MaxEnrollments == 0 {
		id.MaxEnrollments = -1
	}
	for _, a := range r.Attrs {
		if strings.HasPrefix(a.Name, "hf.") {
			return "", refuse(400, "attribute %s is reserved", a.Name)
		}
		if a.ECert {
			id.Attrs[a.Name] = a.Value
		}
	}
	c.reg.Identities[r.ID] = id
	if err := c.saveLocked(); err != nil {
		delete(c.reg.Identities, r.ID)
		return "", err
	}
	return id.Secret, nil
}

// Enroll issues a certificate for the public key of csrPEM to id, authenticated by secret.
func (c *CA) Enroll(id, secret string, csrPEM []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ident := c.reg.Identities[id]
	if ident == nil || subtle.ConstantTimeCompare([]byte(ident.Secret), []byte(secret)) != 1 {
		return nil, refuse(401, "authentication failure")
	}
	if ident.Revoked {
		return nil, refuse(401, "identity %q is revoked", id)
	}
	if ident.MaxEnrollments >= 0 && ident.Enrollments >= ident.MaxEnrollments {
		return nil, refuse(401, "identity %q has no enrolments left", id)
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, refuse(400, "certificate_request is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return nil, refuse(400, "certificate_request is not a valid certificate request")
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, refuse(400, "the devnet CA issues ECDSA certificates only")
	}
	der, serial, err := c.issue(id, ident, pub)
	if err != nil {
		return nil, err
	}
	ident.Enrollments++
	ident.Serials = append(ident.Serials, serial)
	if err := c.saveLocked(); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// issue signs an enrolment certificate: subject CN=id, OU=<type>, the attributes Fabric CA adds
// (hf.EnrollmentID, hf.Type, hf.Affiliation) and the identity's ecert attributes.
func (c *CA) issue(id string, ident *Identity, pub *ecdsa.PublicKey) ([]byte, string, error) {
	attrs := map[string]string{"hf.EnrollmentID": id, "hf.Type": ident.Type, "hf.Affiliation": ""}
	for k, v := range ident.Attrs {
		attrs[k] = v
	}
	ext, err := json.Marshal(map[string]any{"attrs": attrs})
	if err != nil {
		return nil, "", fmt.Errorf("encode attributes: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, "", fmt.Errorf("serial: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("public key: %w", err)
	}
	ski := sha256.Sum256(pubDER)
	now := c.now().UTC().Add(-time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{c.domain}, OrganizationalUnit: []string{ident.Type}, CommonName: id},
		NotBefore:             now,
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski[:20],
		AuthorityKeyId:        c.cert.SubjectKeyId,
		ExtraExtensions:       []pkix.Extension{{Id: msp.AttributeOID, Value: ext}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, "", fmt.Errorf("sign certificate: %w", err)
	}
	return der, serial.Text(16), nil
}

// Revoke revokes identity id and every certificate issued to it, as registrar.
func (c *CA) Revoke(registrar, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reg := c.reg.Identities[registrar]; reg == nil || !reg.Registrar || reg.Revoked {
		return refuse(401, "%s is not a registrar of this CA", registrar)
	}
	ident := c.reg.Identities[id]
	if ident == nil {
		return refuse(404, "identity %q is not registered", id)
	}
	ident.Revoked = true
	for _, s := range ident.Serials {
		if !slices.Contains(c.reg.Revoked, s) {
			c.reg.Revoked = append(c.reg.Revoked, s)
		}
	}
	return c.saveLocked()
}

// RevokeSerial revokes one certificate (its serial number in hexadecimal), as registrar.
func (c *CA) RevokeSerial(registrar, serial string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reg := c.reg.Identities[registrar]; reg == nil || !reg.Registrar || reg.Revoked {
		return refuse(401, "%s is not a registrar of this CA", registrar)
	}
	n, ok := new(big.Int).SetString(strings.TrimLeft(strings.ToLower(serial), "0"), 16)
	if !ok {
		return refuse(400, "serial %q is not hexadecimal", serial)
	}
	if s := n.Text(16); !slices.Contains(c.reg.Revoked, s) {
		c.reg.Revoked = append(c.reg.Revoked, s)
	}
	return c.saveLocked()
}

// IsRevoked reports whether the certificate with this serial number was revoked.
func (c *CA) IsRevoked(serial *big.Int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.reg.Revoked, serial.Text(16))
}

// authenticateToken checks a Fabric CA token (see gateway/fabricca.Token) of a request and
// returns the enrolment ID of its certificate, which must be issued by this CA and not revoked.
func (c *CA) authenticateToken(token, method, uri string, body []byte) (string, error) {
	b64cert, b64sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", refuse(401, "the Authorization header is not a Fabric CA token")
	}
	certPEM, err1 := base64.StdEncoding.DecodeString(b64cert)
	sig, err2 := base64.StdEncoding.DecodeString(b64sig)
	if err1 != nil || err2 != nil {
		return "", refuse(401, "the Authorization header is not a Fabric CA token")
	}
	cert, err := msp.ParseCertificatePEM(certPEM)
	if err != nil || cert.CheckSignatureFrom(c.cert) != nil {
		return "", refuse(401, "the token's certificate is not issued by this CA")
	}
	if c.IsRevoked(cert.SerialNumber) {
		return "", refuse(401, "the token's certificate is revoked")
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	enc := base64.StdEncoding.EncodeToString
	digest := sha256.Sum256([]byte(method + "." + enc([]byte(uri)) + "." + enc(body) + "." + b64cert))
	if !ok || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return "", refuse(401, "the token's signature does not verify")
	}
	return cert.Subject.CommonName, nil
}

func (c *CA) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}
