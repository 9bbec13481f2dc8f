// Package fabricca is a client of the Hyperledger Fabric CA REST API, the subset the gateway
// needs to give API keys Fabric identities of their own: register a user with attributes,
// enrol it (a fresh P-256 key and a certificate signing request), and revoke it. It speaks the
// protocol of fabric-ca-server (enrolment with HTTP basic authentication, registration and
// revocation with the registrar's token: its certificate and an ECDSA signature over the
// request) and of the devnet's built-in CA, which implements the same subset.
package fabricca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Attribute is a Fabric CA attribute of a registered identity; ECert puts it in the
// certificates the identity is enrolled with.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	ECert bool   `json:"ecert"`
}

// Registration registers an identity.
type Registration struct {
	// ID is the enrolment ID; Secret its enrolment secret (the CA generates one when empty).
	ID     string
	Secret string
	// Type is the identity type, which becomes its certificate's NodeOU ("client" when empty).
	Type        string
	Affiliation string
	Attributes  []Attribute
	// MaxEnrollments bounds how often the identity may enrol (-1: without bound, 0: the
	// CA's default).
	MaxEnrollments int
}

// Enrollment is an enrolled identity: its certificate and private key (PEM).
type Enrollment struct {
	CertificatePEM []byte
	PrivateKeyPEM  []byte
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
}

// Error is an answer of the CA that is not a success; it keeps the HTTP status and the CA's
// messages.
type Error struct {
	Op         string
	StatusCode int
	Messages   []string
	Err        error
}

// Error describes the failed operation.
func (e *Error) Error() string {
	msg := strings.Join(e.Messages, "; ")
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("fabric ca %s: HTTP %d: %s", e.Op, e.StatusCode, msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Client calls one Fabric CA as a registrar.
type Client struct {
	url                          string
	caName                       string
	http                         *http.Client
	registrarID, registrarSecret string

	mu        sync.Mutex
	registrar *Enrollment
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (for TLS to the CA; http.DefaultClient otherwise).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithCAName names the CA of a server that hosts several.
func WithCAName(name string) Option { return func(c *Client) { c.caName = name } }

// New returns a client of the CA at url (e.g. https://ca.merchant.example:7054) that
// registers and revokes as the registrar enrolled with registrarID and registrarSecret (enrolled
// at its first use).
func New(url, registrarID, registrarSecret string, opts ...Option) *Client {
	c := &Client{url: strings.TrimSuffix(url, "/"), http: http.DefaultClient, registrarID: registrarID, registrarSecret: registrarSecret}
	for _, o := range opts {
		o(c)
	}
	return c
}

// URL returns the CA's base URL.
func (c *Client) URL() string { return c.url }

// Enroll enrols id with its secret: it makes a P-256 key, sends a certificate signing request
// and returns the certificate the CA issues, carrying the identity's ecert attributes.
func (c *Client) Enroll(ctx context.Context, id, secret string) (*Enrollment, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: generate key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: certificate request: %w", err)
	}
	body, err := json.Marshal(map[string]any{
		"certificate_request": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})),
		"caname":              c.caName,
	})
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/api/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: %w", err)
	}
	req.SetBasicAuth(id, secret)
	var result struct {
		Cert string `json:"Cert"`
	}
	if err := c.do(req, "enroll", &result); err != nil {
		return nil, err
	}
	certPEM, err := base64.StdEncoding.DecodeString(result.Cert)
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: certificate: %w", err)
	}
	return newEnrollment(certPEM, key)
}

// ParseCertificatePEM parses a certificate in PEM, as the CA answers it and an Enrollment
// keeps it.
func ParseCertificatePEM(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

func newEnrollment(certPEM []byte, key *ecdsa.PrivateKey) (*Enrollment, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: the answer's certificate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("fabric ca enroll: private key: %w", err)
	}
	return &Enrollment{CertificatePEM: certPEM, Certificate: cert,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}, nil
}

// Register registers r as the registrar and returns its enrolment secret.
func (c *Client) Register(ctx context.Context, r Registration) (string, error) {
	if r.Type == "" {
		r.Type = "client"
	}
	attrs := r.Attributes
	if attrs == nil {
		attrs = []Attribute{}
	}
	var result struct {
		Secret string `json:"secret"`
	}
	err := c.registrarCall(ctx, "register", "/api/v1/register", map[string]any{
		"id": r.ID, "secret": r.Secret, "type": r.Type, "affiliation": r.Affiliation,
		"max_enrollments": r.MaxEnrollments, "attrs": attrs, "caname": c.caName,
	}, &result)
	return result.Secret, err
}

// Revoke revokes every certificate of identity id (and the identity: it cannot enrol again).
func (c *Client) Revoke(ctx context.Context, id, reason string) error {
	return c.registrarCall(ctx, "revoke", "/api/v1/revoke", map[string]any{"id": id, "reason": reason, "caname": c.caName}, nil)
}

// RevokeCertificate revokes one certificate of an identity (by its serial number and the
// CA's key identifier, hexadecimal), leaving the identity and its other certificates valid.
func (c *Client) RevokeCertificate(ctx context.Context, serial, aki, reason string) error {
	return c.registrarCall(ctx, "revoke", "/api/v1/revoke", map[string]any{"serial": serial, "aki": aki, "reason": reason, "caname": c.caName}, nil)
}

// registrarCall POSTs body to path with the registrar's token.
func (c *Client) registrarCall(ctx context.Context, op, path string, body any, result any) error {
	reg, err := c.registrarEnrollment(ctx)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("fabric ca %s: %w", op, err)
	}
	token, err := Token(reg, http.MethodPost, path, raw)
	if err != nil {
		return fmt.Errorf("fabric ca %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("fabric ca %s: %w", op, err)
	}
	req.Header.Set("Authorization", token)
	return c.do(req, op, result)
}

// registrarEnrollment enrols the registrar once.
func (c *Client) registrarEnrollment(ctx context.Context) (*Enrollment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.registrar != nil && time.Now().Before(c.registrar.Certificate.NotAfter) {
		return c.registrar, nil
	}
	e, err := c.Enroll(ctx, c.registrarID, c.registrarSecret)
	if err != nil {
		return nil, fmt.Errorf("enrol the registrar %s: %w", c.registrarID, err)
	}
	c.registrar = e
	return e, nil
}

// do sends req and decodes the CA's {"success","result","errors","messages"} answer.
func (c *Client) do(req *http.Request, op string, result any) error {
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &Error{Op: op, StatusCode: resp.StatusCode, Err: err}
	}
	var answer struct {
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return &Error{Op: op, StatusCode: resp.StatusCode, Err: fmt.Errorf("unreadable answer: %w", err)}
	}
	if !answer.Success || resp.StatusCode/100 != 2 {
		e := &Error{Op: op, StatusCode: resp.StatusCode}
		for _, m := range answer.Errors {
			e.Messages = append(e.Messages, fmt.Sprintf("%d: %s", m.Code, m.Message))
		}
		return e
	}
	if result != nil && len(answer.Result) > 0 {
		if err := json.Unmarshal(answer.Result, result); err != nil {
			return &Error{Op: op, StatusCode: resp.StatusCode, Err: fmt.Errorf("unreadable result: %w", err)}
		}
	}
	return nil
}

// Token is the Fabric CA authorization token of a request by identity e: the base64 of its
// certificate, a dot, and the base64 of its ECDSA signature (low-S) over the SHA-256 of
// method.base64(uri).base64(body).base64(certificate).
func Token(e *Enrollment, method, uri string, body []byte) (string, error) {
	block, _ := pem.Decode(e.PrivateKeyPEM)
	if block == nil {
		return "", errors.New("token: no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("token: private key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return "", errors.New("token: the private key is not ECDSA")
	}
	b64cert := base64.StdEncoding.EncodeToString(e.CertificatePEM)
	digest := sha256.Sum256([]byte(TokenPayload(method, uri, body, b64cert)))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	half := new(big.Int).Rsh(key.Params().N, 1)
	if s.Cmp(half) > 0 {
		s.Sub(key.Params().N, s)
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		return "", fmt.Errorf("token: encode signature: %w", err)
	}
	return b64cert + "." + base64.StdEncoding.EncodeToString(sig), nil
}

// TokenPayload is the text a token signs.
func TokenPayload(method, uri string, body []byte, b64cert string) string {
	enc := base64.StdEncoding.EncodeToString
	return method + "." + enc([]byte(uri)) + "." + enc(body) + "." + b64cert
}
