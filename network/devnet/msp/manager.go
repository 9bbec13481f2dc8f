package msp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// Principal is a deserialised, validated identity: the MSP it belongs to, its NodeOU role and
// its certificate.
type Principal struct {
	// MSPID is the MSP the identity belongs to.
	MSPID string
	// Role is the NodeOU role of the certificate.
	Role Role
	// Cert is the identity's certificate.
	Cert *x509.Certificate
	// Serialized is the msp.SerializedIdentity it was decoded from.
	Serialized []byte
	// ID identifies the identity uniquely: MSP ID and the hex SHA-256 of the certificate.
	ID string

	// verified is the issuing Manager's cache of successful verifications (nil for a
	// Principal built by hand: every Verify then runs the ECDSA check).
	verified *sigCache
}

// Verify checks sig (ASN.1 ECDSA, low-S) over msg with the principal's public key. For a
// Principal returned by a Manager, a successful verification of the same (identity, message,
// signature) is remembered in a bounded cache, so the second check of a signature (for example
// a transaction creator's, at broadcast and again at commit) costs a hash instead of an ECDSA
// verification; failures are never remembered.
func (p *Principal) Verify(msg, sig []byte) error {
	pub, ok := p.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("msp: identity %s: certificate key is %T, want ECDSA", p.ID, p.Cert.PublicKey)
	}
	if err := p.verified.verifyCached(p.Serialized, pub, msg, sig); err != nil {
		return fmt.Errorf("msp: identity %s of %s: %w", p.Cert.Subject.CommonName, p.MSPID, err)
	}
	return nil
}

// ErrUnknownMSP is returned when a serialized identity names an MSP the manager does not know.
var ErrUnknownMSP = errors.New("msp: unknown MSP")

// ManagerOption configures a Manager.
type ManagerOption func(*Manager)

// WithClock sets the clock used to check certificate validity periods (default time.Now).
func WithClock(now func() time.Time) ManagerOption {
	return func(m *Manager) { m.now = now }
}

type orgTrust struct {
	mspID    string
	roots    []*x509.Certificate
	pool     *x509.CertPool
	tlsRoots []*x509.Certificate
}

// maxCache bounds the number of validated identities the manager remembers.
const maxCache = 4096

// Manager verifies identities of every organisation of the channel: it holds each MSP's root
// CA and TLS root CA certificates. It is safe for concurrent use.
type Manager struct {
	now func() time.Time

	mu    sync.RWMutex
	orgs  map[string]*orgTrust
	cache map[string]*Principal
	// verified remembers successful signature verifications of the principals it issued.
	verified *sigCache
	// gen counts trust changes, so that a validation racing with AddOrg is not cached.
	gen uint64
}

// NewManager returns an empty manager; add organisations with AddOrg or AddMSPConfig.
func NewManager(opts ...ManagerOption) *Manager {
	m := &Manager{now: time.Now, orgs: map[string]*orgTrust{}, cache: map[string]*Principal{}, verified: newSigCache()}
	for _, o := range opts {
		o(m)
	}
	return m
}

// AddOrg trusts roots as the identity CAs and tlsRoots as the TLS CAs of mspID.
func (m *Manager) AddOrg(mspID string, roots, tlsRoots []*x509.Certificate) error {
	if mspID == "" {
		return errors.New("msp: add org: empty MSP ID")
	}
	if len(roots) == 0 {
		return fmt.Errorf("msp: add org %s: no root CA certificates", mspID)
	}
	t := &orgTrust{mspID: mspID, roots: roots, pool: x509.NewCertPool(), tlsRoots: tlsRoots}
	for _, r := range roots {
		if !r.IsCA {
			return fmt.Errorf("msp: add org %s: root %q is not a CA certificate", mspID, r.Subject.CommonName)
		}
		t.pool.AddCert(r)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.orgs[mspID] = t
	m.cache = map[string]*Principal{}
	m.verified = newSigCache()
	m.gen++
	return nil
}

// Generation counts the changes of the manager's trust (AddOrg, AddMSPConfig): a result that
// depends on which organisations are trusted holds only while the generation is unchanged.
func (m *Manager) Generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.gen
}

// AddMSPConfig trusts the organisation described by a channel-config MSP definition.
func (m *Manager) AddMSPConfig(conf *mspproto.MSPConfig) error {
	if conf == nil {
		return errors.New("msp: add MSP config: nil config")
	}
	if conf.Type != 0 {
		return fmt.Errorf("msp: add MSP config: unsupported MSP type %d (want FABRIC)", conf.Type)
	}
	var fc mspproto.FabricMSPConfig
	if err := proto.Unmarshal(conf.Config, &fc); err != nil {
		return fmt.Errorf("msp: add MSP config: unmarshal FabricMSPConfig: %w", err)
	}
	parse := func(pems [][]byte) ([]*x509.Certificate, error) {
		out := make([]*x509.Certificate, 0, len(pems))
		for _, p := range pems {
			c, err := ParseCertificatePEM(p)
			if err != nil {
				return nil, fmt.Errorf("msp: add MSP config %s: %w", fc.Name, err)
			}
			out = append(out, c)
		}
		return out, nil
	}
	roots, err := parse(fc.RootCerts)
	if err != nil {
		return err
	}
	tlsRoots, err := parse(fc.TlsRootCerts)
	if err != nil {
		return err
	}
	return m.AddOrg(fc.Name, roots, tlsRoots)
}

// MSPIDs returns the known MSP IDs, sorted.
func (m *Manager) MSPIDs() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.orgs))
}

// TLSRootPool returns a pool with every organisation's TLS root CA certificates.
func (m *Manager) TLSRootPool() *x509.CertPool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	pool := x509.NewCertPool()
	for _, t := range m.orgs {
		for _, c := range t.tlsRoots {
			pool.AddCert(c)
		}
	}
	return pool
}

// Deserialize parses a marshalled msp.SerializedIdentity and validates it: the MSP must be
// known, the certificate must chain to that MSP's root CA, be within its validity period now,
// and carry exactly one NodeOU role. The returned Principal is shared and must not be modified.
func (m *Manager) Deserialize(serialized []byte) (*Principal, error) {
	return m.DeserializeAt(serialized, m.now())
}

// DeserializeAt is Deserialize with the validity period checked at the given time. A zero time
// skips the validity period check, as Fabric's committer does when it validates transactions.
func (m *Manager) DeserializeAt(serialized []byte, at time.Time) (*Principal, error) {
	key := string(serialized)
	m.mu.RLock()
	p, ok := m.cache[key]
	gen := m.gen
	m.mu.RUnlock()
	if !ok {
		var err error
		if p, err = m.validate(serialized); err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.gen == gen {
			if len(m.cache) >= maxCache {
				m.cache = map[string]*Principal{}
			}
			m.cache[key] = p
		}
		m.mu.Unlock()
	}
	if at.IsZero() {
		return p, nil
	}
	if at.Before(p.Cert.NotBefore) {
		return nil, fmt.Errorf("msp: identity %q of %s is not valid before %s", p.Cert.Subject.CommonName, p.MSPID, p.Cert.NotBefore.Format(time.RFC3339))
	}
	if at.After(p.Cert.NotAfter) {
		return nil, fmt.Errorf("msp: identity %q of %s expired at %s", p.Cert.Subject.CommonName, p.MSPID, p.Cert.NotAfter.Format(time.RFC3339))
	}
	return p, nil
}

func (m *Manager) validate(serialized []byte) (*Principal, error) {
	var sid mspproto.SerializedIdentity
	if err := proto.Unmarshal(serialized, &sid); err != nil {
		return nil, fmt.Errorf("msp: could not deserialize a SerializedIdentity: %w", err)
	}
	m.mu.RLock()
	t, ok := m.orgs[sid.Mspid]
	verified := m.verified
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownMSP, sid.Mspid)
	}
	cert, err := ParseCertificatePEM(sid.IdBytes)
	if err != nil {
		return nil, fmt.Errorf("msp: identity of %s: %w", sid.Mspid, err)
	}
	if cert.IsCA {
		return nil, fmt.Errorf("msp: identity %q of %s is a CA certificate", cert.Subject.CommonName, sid.Mspid)
	}
	// The validity period is checked separately (DeserializeAt); chain validation uses a time
	// inside the certificate's own period, as Fabric's MSP does.
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:       t.pool,
		CurrentTime: cert.NotBefore.Add(time.Second),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("msp: identity %q does not chain to %s's CA: %w", cert.Subject.CommonName, sid.Mspid, err)
	}
	if len(chains) == 0 || len(chains[0]) < 2 {
		return nil, fmt.Errorf("msp: identity %q of %s: empty certification chain", cert.Subject.CommonName, sid.Mspid)
	}
	role, err := roleFromOUs(cert.Subject.OrganizationalUnit)
	if err != nil {
		return nil, fmt.Errorf("msp: identity %q of %s: %w", cert.Subject.CommonName, sid.Mspid, err)
	}
	sum := sha256.Sum256(cert.Raw)
	return &Principal{
		MSPID:      sid.Mspid,
		Role:       role,
		Cert:       cert,
		Serialized: bytes.Clone(serialized),
		ID:         sid.Mspid + ":" + hex.EncodeToString(sum[:]),
		verified:   verified,
	}, nil
}

// Verify deserialises the identity and checks sig (ASN.1 ECDSA over the SHA-256 of msg, low-S)
// with its key.
func (m *Manager) Verify(serialized, msg, sig []byte) error {
	_, err := m.Authenticate(serialized, msg, sig)
	return err
}

// Authenticate is Verify that also returns the validated principal on success.
func (m *Manager) Authenticate(serialized, msg, sig []byte) (*Principal, error) {
	p, err := m.Deserialize(serialized)
	if err != nil {
		return nil, err
	}
	if err := p.Verify(msg, sig); err != nil {
		return nil, err
	}
	return p, nil
}

// SatisfiesPrincipal reports, as a nil error, whether id satisfies the MSP principal with
// Fabric's semantics: ROLE principals (member matches every valid identity of the MSP, the other
// roles need the matching NodeOU), IDENTITY principals (the same certificate, issued by a known
// MSP) and ORGANIZATION_UNIT principals (certificate OU of that MSP).
func (m *Manager) SatisfiesPrincipal(id *Principal, principal *mspproto.MSPPrincipal) error {
	if id == nil || principal == nil {
		return errors.New("msp: satisfies principal: nil argument")
	}
	switch principal.PrincipalClassification {
	case mspproto.MSPPrincipal_ROLE:
		return satisfiesRole(id, principal.Principal)
	case mspproto.MSPPrincipal_IDENTITY:
		want, err := m.DeserializeAt(principal.Principal, time.Time{})
		if err != nil {
			return fmt.Errorf("msp: invalid identity principal: %w", err)
		}
		if !bytes.Equal(want.Cert.Raw, id.Cert.Raw) {
			return errors.New("msp: the identities do not match")
		}
		return nil
	case mspproto.MSPPrincipal_ORGANIZATION_UNIT:
		return satisfiesOU(id, principal.Principal)
	default:
		return fmt.Errorf("msp: unsupported principal classification %s", principal.PrincipalClassification)
	}
}

// satisfiesRole checks id against a marshalled MSPRole principal.
func satisfiesRole(id *Principal, raw []byte) error {
	var r mspproto.MSPRole
	if err := proto.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("msp: could not unmarshal MSPRole: %w", err)
	}
	if r.MspIdentifier != id.MSPID {
		return fmt.Errorf("msp: the identity is a member of a different MSP (expected %s, got %s)", r.MspIdentifier, id.MSPID)
	}
	required := Role(r.Role)
	switch required {
	case RoleMember, RoleAdmin, RoleClient, RolePeer, RoleOrderer:
	default:
		return fmt.Errorf("msp: invalid MSP role type %d", int32(r.Role))
	}
	if !id.Role.Satisfies(required) {
		return fmt.Errorf("msp: identity of %s has role %s, principal requires %s", id.MSPID, id.Role, required)
	}
	return nil
}

// satisfiesOU checks id against a marshalled OrganizationUnit principal.
func satisfiesOU(id *Principal, raw []byte) error {
	var ou mspproto.OrganizationUnit
	if err := proto.Unmarshal(raw, &ou); err != nil {
		return fmt.Errorf("msp: could not unmarshal OrganizationUnit: %w", err)
	}
	if ou.MspIdentifier != id.MSPID {
		return fmt.Errorf("msp: the identity is a member of a different MSP (expected %s, got %s)", ou.MspIdentifier, id.MSPID)
	}
	if slices.Contains(id.Cert.Subject.OrganizationalUnit, ou.OrganizationalUnitIdentifier) {
		return nil
	}
	return fmt.Errorf("msp: identity of %s is not in organisational unit %q", id.MSPID, ou.OrganizationalUnitIdentifier)
}

// RolePrincipal builds the MSPPrincipal 'mspID.role'.
func RolePrincipal(mspID string, role Role) *mspproto.MSPPrincipal {
	b, err := proto.Marshal(&mspproto.MSPRole{MspIdentifier: mspID, Role: role.Proto()})
	if err != nil {
		panic(fmt.Sprintf("msp: marshal MSPRole: %v", err))
	}
	return &mspproto.MSPPrincipal{PrincipalClassification: mspproto.MSPPrincipal_ROLE, Principal: b}
}
