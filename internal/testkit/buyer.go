package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// TestVectorBuyerKey is the private key (d, base64url) of the buyer-statement test vector of
// docs/chaincode.md: the SHA-256 of "xborder buyer statement test vector v1".
const TestVectorBuyerKey = "xMnklxeNNgiDGqzfA55Oh7M2s-CMELR8FNDOrLHlPTU"

// Buyer is a buyer holding an ECDSA P-256 key, as a browser's WebCrypto would: it gives its
// public key as a JWK and signs statements in the documented canonical form. It is written from
// the documentation, independently of the chaincode, so the tests that use it check the
// documented format.
type Buyer struct {
	key *ecdsa.PrivateKey
}

// NewBuyer returns a buyer with a fresh random key.
func NewBuyer() (*Buyer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate buyer key: %w", err)
	}
	return &Buyer{key: k}, nil
}

// TestVectorBuyer returns the buyer of the documented test vector.
func TestVectorBuyer() *Buyer {
	d, err := base64.RawURLEncoding.DecodeString(TestVectorBuyerKey)
	if err != nil {
		panic(err)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		panic(err)
	}
	return &Buyer{key: k}
}

// coordinates returns x and y of the public key, base64url without padding.
func (b *Buyer) coordinates() (string, string) {
	pub, err := b.key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(pub[1:33]), base64.RawURLEncoding.EncodeToString(pub[33:])
}

// PublicJWK is the public key as WebCrypto exports it (exportKey("jwk")), for CreateOrder's
// buyer.publicKey.
func (b *Buyer) PublicJWK() map[string]any {
	x, y := b.coordinates()
	return map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y, "ext": true, "key_ops": []string{"verify"}}
}

// PrivateJWK is the private key as `xborder buyer keygen` writes it and the tracking page
// imports it into WebCrypto.
func (b *Buyer) PrivateJWK() map[string]any {
	d, err := b.key.Bytes()
	if err != nil {
		panic(err)
	}
	jwk := b.PublicJWK()
	jwk["d"] = base64.RawURLEncoding.EncodeToString(d)
	jwk["key_ops"] = []string{"sign"}
	return jwk
}

// Thumbprint is the key's RFC 7638 thumbprint.
func (b *Buyer) Thumbprint() string {
	x, y := b.coordinates()
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Statement renders a buyer statement in its canonical form: seven lines joined by LF.
func Statement(orderID, action string, version int64, nonce string, expires time.Time, reason string) string {
	return strings.Join([]string{
		"xborder-buyer-statement/v1",
		"orderId:" + orderID,
		"action:" + action,
		fmt.Sprintf("orderVersion:%d", version),
		"nonce:" + nonce,
		"expiresAt:" + expires.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z"),
		"reason:" + reason,
	}, "\n")
}

// Sign returns the signature of statement: ECDSA P-256 over its SHA-256, r||s, base64url.
func (b *Buyer) Sign(statement string) string {
	sum := sha256.Sum256([]byte(statement))
	r, s, err := ecdsa.Sign(rand.Reader, b.key, sum[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return base64.RawURLEncoding.EncodeToString(sig)
}

// StatementBody is the body of POST .../buyer-statements or /api/v1/track/{token}/statements:
// the statement and the buyer's signature of it.
func (b *Buyer) StatementBody(statement string) map[string]any {
	return map[string]any{"statement": statement, "signature": b.Sign(statement)}
}

// Nonce returns a fresh statement nonce.
func Nonce() string {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(n[:])
}
