package shimtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// AttrOID is the object identifier of the Fabric CA attribute extension
// (1.2.3.4.5.6.7.8.1). Its value is the JSON document {"attrs":{name:value}},
// which is what fabric-chaincode-go's pkg/attrmgr and pkg/cid read.
var AttrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// DefaultUser is the user name Identities.Creator issues certificates for.
const DefaultUser = "User1"

// certificate validity window: fixed, so that certificates never depend on the
// wall clock of the machine running the tests.
var (
	certNotBefore = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(2045, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// Identities is a set of test certificate authorities, one per MSP ID, each a
// self-signed ECDSA P-256 CA that issues real X.509 client certificates. The
// serialized identities it returns are what a Fabric client puts in the
// SignatureHeader.Creator of a proposal, so pkg/cid works on them unchanged.
// Identities is safe for concurrent use.
type Identities struct {
	mu     sync.Mutex
	orgs   map[string]*testCA
	serial int64
}

type testCA struct {
	mspID string
	key   *ecdsa.PrivateKey
	cert  *x509.Certificate
	der   []byte
	users map[string]*Identity
}

// Identity is one issued client identity: its MSP ID, certificate and
// private key (so tests can sign with it when they need to).
type Identity struct {
	// MSPID is the membership service provider the identity belongs to.
	MSPID string
	// Certificate is the parsed client certificate.
	Certificate *x509.Certificate
	// CertificatePEM is the PEM encoding of Certificate.
	CertificatePEM []byte
	// PrivateKey is the client's ECDSA P-256 private key.
	PrivateKey *ecdsa.PrivateKey
	// Serialized is the marshalled msp.SerializedIdentity (MSP ID and PEM).
	Serialized []byte
}

// NewIdentities creates one self-signed ECDSA P-256 certificate authority per
// MSP ID. MSP IDs must be non-empty and distinct.
func NewIdentities(mspIDs ...string) (*Identities, error) {
	ids := &Identities{orgs: make(map[string]*testCA)}
	for _, mspID := range mspIDs {
		if mspID == "" {
			return nil, fmt.Errorf("shimtest: new identities: MSP ID must not be empty")
		}
		if _, dup := ids.orgs[mspID]; dup {
			return nil, fmt.Errorf("shimtest: new identities: duplicate MSP ID %q", mspID)
		}
		ca, err := ids.newCA(mspID)
		if err != nil {
			return nil, fmt.Errorf("shimtest: new identities: %w", err)
		}
		ids.orgs[mspID] = ca
	}
	return ids, nil
}

// MSPIDs returns the MSP IDs of the authorities, sorted.
func (ids *Identities) MSPIDs() []string {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	out := make([]string, 0, len(ids.orgs))
	for id := range ids.orgs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// CACertificate returns the CA certificate of mspID, or nil if mspID is unknown.
func (ids *Identities) CACertificate(mspID string) *x509.Certificate {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ca, ok := ids.orgs[mspID]
	if !ok {
		return nil
	}
	return ca.cert
}

// CACertificatePEM returns the PEM encoding of the CA certificate of mspID,
// or nil if mspID is unknown.
func (ids *Identities) CACertificatePEM(mspID string) []byte {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ca, ok := ids.orgs[mspID]
	if !ok {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der})
}

// Creator returns the serialized identity (msp.SerializedIdentity with the
// PEM certificate) of user "User1" of mspID. The same bytes are returned on
// every call. It panics if mspID was not given to NewIdentities, since that is
// a mistake in the test itself.
func (ids *Identities) Creator(mspID string) []byte {
	return ids.CreatorWithAttrs(mspID, DefaultUser, nil)
}

// CreatorWithAttrs returns the serialized identity of user in mspID whose
// certificate carries the Fabric CA attribute extension with attrs (omitted
// when attrs is empty). Identical arguments return identical bytes. It panics
// if mspID is unknown or the certificate cannot be issued.
func (ids *Identities) CreatorWithAttrs(mspID, user string, attrs map[string]string) []byte {
	id, err := ids.Issue(mspID, user, attrs)
	if err != nil {
		panic(err)
	}
	return id.Serialized
}

// Issue returns the identity of user in mspID with the given attributes,
// issuing its certificate on first use and returning the cached identity
// afterwards.
func (ids *Identities) Issue(mspID, user string, attrs map[string]string) (*Identity, error) {
	if user == "" {
		return nil, fmt.Errorf("shimtest: issue identity in %s: user must not be empty", mspID)
	}
	attrJSON := []byte(nil)
	if len(attrs) > 0 {
		var err error
		// encoding/json sorts map keys, so equal attribute sets give equal bytes.
		attrJSON, err = json.Marshal(struct {
			Attrs map[string]string `json:"attrs"`
		}{Attrs: attrs})
		if err != nil {
			return nil, fmt.Errorf("shimtest: issue identity %s@%s: encode attributes: %w", user, mspID, err)
		}
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ca, ok := ids.orgs[mspID]
	if !ok {
		return nil, fmt.Errorf("shimtest: issue identity %s@%s: unknown MSP ID", user, mspID)
	}
	cacheKey := user + "\x00" + string(attrJSON)
	if id, ok := ca.users[cacheKey]; ok {
		return id, nil
	}
	id, err := ids.issueLocked(ca, user, attrJSON)
	if err != nil {
		return nil, fmt.Errorf("shimtest: issue identity %s@%s: %w", user, mspID, err)
	}
	ca.users[cacheKey] = id
	return id, nil
}

func orgDomain(mspID string) string {
	d := strings.ToLower(strings.TrimSuffix(mspID, "MSP"))
	if d == "" {
		d = strings.ToLower(mspID)
	}
	return d + ".xborder.test"
}

func (ids *Identities) nextSerial() *big.Int {
	ids.serial++
	return big.NewInt(ids.serial)
}

func (ids *Identities) newCA(mspID string) (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key for %s: %w", mspID, err)
	}
	domain := orgDomain(mspID)
	tmpl := &x509.Certificate{
		SerialNumber: ids.nextSerial(),
		Subject: pkix.Name{
			Country:      []string{"US"},
			Organization: []string{domain},
			CommonName:   "ca." + domain,
		},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          subjectKeyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate for %s: %w", mspID, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate for %s: %w", mspID, err)
	}
	return &testCA{mspID: mspID, key: key, cert: cert, der: der, users: make(map[string]*Identity)}, nil
}

func (ids *Identities) issueLocked(ca *testCA, user string, attrJSON []byte) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	domain := orgDomain(ca.mspID)
	tmpl := &x509.Certificate{
		SerialNumber: ids.nextSerial(),
		Subject: pkix.Name{
			Country:            []string{"US"},
			OrganizationalUnit: []string{"client"},
			CommonName:         user + "@" + domain,
		},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          subjectKeyID(&key.PublicKey),
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}
	if len(attrJSON) > 0 {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: AttrOID, Critical: false, Value: attrJSON}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	serialized, err := proto.Marshal(&msp.SerializedIdentity{Mspid: ca.mspID, IdBytes: certPEM})
	if err != nil {
		return nil, fmt.Errorf("marshal serialized identity: %w", err)
	}
	return &Identity{
		MSPID:          ca.mspID,
		Certificate:    cert,
		CertificatePEM: certPEM,
		PrivateKey:     key,
		Serialized:     serialized,
	}, nil
}

// Signer signs messages the way a Fabric client signs a proposal.
type Signer interface {
	// Sign returns the signature of message.
	Sign(message []byte) ([]byte, error)
}

// Sign returns an ECDSA signature over SHA-256(message), ASN.1 DER encoded
// with a low S value, which is what Fabric clients produce and peers accept.
func (id *Identity) Sign(message []byte) ([]byte, error) {
	digest := sha256.Sum256(message)
	r, sig, err := ecdsa.Sign(rand.Reader, id.PrivateKey, digest[:])
	if err != nil {
		return nil, fmt.Errorf("shimtest: sign as %s: %w", id.MSPID, err)
	}
	// Normalise to low-S: s and N-s are both valid; Fabric accepts only the lower.
	n := id.PrivateKey.Curve.Params().N
	if sig.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		sig = new(big.Int).Sub(n, sig)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, sig})
	if err != nil {
		return nil, fmt.Errorf("shimtest: encode signature as %s: %w", id.MSPID, err)
	}
	return der, nil
}

func subjectKeyID(pub *ecdsa.PublicKey) []byte {
	raw, err := pub.Bytes()
	if err != nil {
		// P-256 public keys produced by ecdsa.GenerateKey always encode.
		panic(fmt.Sprintf("shimtest: encode public key: %v", err))
	}
	sum := sha256.Sum256(raw)
	return sum[:]
}
