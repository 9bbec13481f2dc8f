package msp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// Identity is a signing identity: an MSP ID, an X.509 certificate issued by that MSP's CA and
// the matching ECDSA private key.
type Identity struct {
	// MSPID is the MSP the identity belongs to.
	MSPID string
	// Cert is the identity's certificate and CertPEM its PEM encoding (as serialized).
	Cert    *x509.Certificate
	CertPEM []byte
	// Key is the private signing key matching Cert.
	Key *ecdsa.PrivateKey
	// Role is the NodeOU role carried by Cert.
	Role Role
}

// NewIdentity builds an Identity from PEM-encoded certificate and PKCS#8 (or SEC1) private key,
// checking that the key belongs to the certificate.
func NewIdentity(mspID string, certPEM, keyPEM []byte) (*Identity, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("msp: identity of %s: %w", mspID, err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("msp: identity of %s: %w", mspID, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("msp: identity of %s: private key does not match certificate %q", mspID, cert.Subject.CommonName)
	}
	role, err := roleFromOUs(cert.Subject.OrganizationalUnit)
	if err != nil {
		return nil, fmt.Errorf("msp: identity %q of %s: %w", cert.Subject.CommonName, mspID, err)
	}
	return &Identity{MSPID: mspID, Cert: cert, CertPEM: certPEM, Key: key, Role: role}, nil
}

// Serialize returns the marshalled msp.SerializedIdentity (MSP ID and PEM certificate), the
// form Fabric puts into signature headers and endorsements.
func (id *Identity) Serialize() []byte {
	b, err := proto.Marshal(&mspproto.SerializedIdentity{Mspid: id.MSPID, IdBytes: id.CertPEM})
	if err != nil {
		// Marshalling a message of two scalar fields cannot fail.
		panic(fmt.Sprintf("msp: marshal SerializedIdentity: %v", err))
	}
	return b
}

// Sign signs the SHA-256 digest of msg with ECDSA and returns the ASN.1 DER signature with a
// low S value, as Fabric requires.
func (id *Identity) Sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	return signDigest(id.Key, digest[:])
}

// Verify checks sig over msg with the identity's own public key (low-S enforced).
func (id *Identity) Verify(msg, sig []byte) error {
	pub, ok := id.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("msp: certificate key is not ECDSA")
	}
	return verifySignature(pub, msg, sig)
}

type ecdsaSignature struct {
	R, S *big.Int
}

func signDigest(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, key, digest)
	if err != nil {
		return nil, fmt.Errorf("msp: ecdsa sign: %w", err)
	}
	n := key.Params().N
	half := new(big.Int).Rsh(n, 1)
	if s.Cmp(half) > 0 {
		s = new(big.Int).Sub(n, s)
	}
	der, err := asn1.Marshal(ecdsaSignature{R: r, S: s})
	if err != nil {
		return nil, fmt.Errorf("msp: encode signature: %w", err)
	}
	return der, nil
}

// ErrHighS is returned when a signature's S value is above half the curve order; Fabric
// rejects such (malleable) signatures.
var ErrHighS = errors.New("msp: invalid signature: S must be smaller than half the curve order")

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("msp: signature is not valid")

func verifySignature(pub *ecdsa.PublicKey, msg, sig []byte) error {
	digest := sha256.Sum256(msg)
	return verifyDigest(pub, &digest, sig)
}

// verifyDigest is verifySignature with the SHA-256 of the message already computed.
func verifyDigest(pub *ecdsa.PublicKey, digest *[sha256.Size]byte, sig []byte) error {
	var es ecdsaSignature
	rest, err := asn1.Unmarshal(sig, &es)
	if err != nil {
		return fmt.Errorf("msp: malformed signature: %w", err)
	}
	if len(rest) != 0 {
		return errors.New("msp: malformed signature: trailing data")
	}
	if es.R == nil || es.S == nil || es.R.Sign() <= 0 || es.S.Sign() <= 0 {
		return errors.New("msp: malformed signature: R and S must be positive")
	}
	half := new(big.Int).Rsh(pub.Curve.Params().N, 1)
	if es.S.Cmp(half) > 0 {
		return ErrHighS
	}
	if !ecdsa.Verify(pub, digest[:], es.R, es.S) {
		return ErrBadSignature
	}
	return nil
}

// ParseCertificatePEM parses the first PEM block of b, which must be a CERTIFICATE.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

// ParsePrivateKeyPEM parses the first PEM block of b as an ECDSA private key, PKCS#8 (as
// Fabric's tools write it) or SEC 1.
func ParsePrivateKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM private key block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, want ECDSA", k)
		}
		return ek, nil
	}
	ek, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return ek, nil
}

func encodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal PKCS#8 key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func encodeCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate P-256 key: %w", err)
	}
	return k, nil
}
