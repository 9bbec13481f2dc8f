package msp

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// OrgSpec describes one organisation to generate or load.
type OrgSpec struct {
	// MSPID is the organisation's MSP ID, e.g. "MerchantMSP".
	MSPID string
	// Domain is the organisation's DNS domain, e.g. "merchant.xborder.example".
	Domain string
	// Orderer marks an orderer organisation (ordererOrganizations/, node "orderer.<domain>").
	Orderer bool
}

// DefaultOrgs returns the xborder consortium: the peer organisations of the design (merchant
// platform, bank, carrier, customs and the read-only financial supervisor, RegulatorMSP) and
// the orderer organisation.
func DefaultOrgs() []OrgSpec {
	return []OrgSpec{
		{MSPID: "MerchantMSP", Domain: "merchant.xborder.example"},
		{MSPID: "BankMSP", Domain: "bank.xborder.example"},
		{MSPID: "CarrierMSP", Domain: "carrier.xborder.example"},
		{MSPID: "CustomsMSP", Domain: "customs.xborder.example"},
		{MSPID: "RegulatorMSP", Domain: "regulator.xborder.example"},
		{MSPID: "OrdererMSP", Domain: "xborder.example", Orderer: true},
	}
}

// Member is one node or user of an organisation as laid out on disk.
type Member struct {
	// Name is the cryptogen name: "peer0.<domain>", "orderer.<domain>", "Admin@<domain>", "User1@<domain>".
	Name string
	// MSPDir is the member's local MSP directory (signcerts, keystore, cacerts, config.yaml).
	MSPDir string
	// TLSDir is the member's TLS directory (ca.crt and server.* for nodes, client.* for users).
	TLSDir string
	// Signer is the member's signing identity.
	Signer *Identity
	// TLSCertPEM and TLSKeyPEM are the member's TLS certificate and key.
	TLSCertPEM, TLSKeyPEM []byte
	// TLS is the parsed TLS key pair.
	TLS tls.Certificate
}

// CertPath returns the path of the member's signing certificate.
func (m *Member) CertPath() string {
	return filepath.Join(m.MSPDir, "signcerts", m.Name+"-cert.pem")
}

// KeyPath returns the path of the member's private signing key.
func (m *Member) KeyPath() string {
	return filepath.Join(m.MSPDir, "keystore", keyFile)
}

// Org is one organisation's loaded crypto material.
type Org struct {
	// MSPID, Domain and Orderer are those of the OrgSpec.
	MSPID   string
	Domain  string
	Orderer bool
	// Dir is the organisation's directory, e.g. dir/crypto/peerOrganizations/<domain>.
	Dir string
	// CACert and TLSCACert are the organisation's root CA certificates (parsed and PEM).
	CACert, TLSCACert       *x509.Certificate
	CACertPEM, TLSCACertPEM []byte
	// Node is peer0.<domain> for peer organisations, orderer.<domain> for orderer organisations.
	Node *Member
	// Admin is Admin@<domain> (NodeOU admin); User is User1@<domain> (NodeOU client).
	Admin, User *Member
}

// MSPDir returns the organisation's verifying MSP directory (cacerts, tlscacerts, config.yaml).
func (o *Org) MSPDir() string {
	return filepath.Join(o.Dir, "msp")
}

// CryptoConfig is the crypto material of every organisation of the network.
type CryptoConfig struct {
	// Dir is the crypto root, <dir>/crypto.
	Dir  string
	Orgs []*Org
}

// Org returns the organisation with the given MSP ID, or nil.
func (c *CryptoConfig) Org(mspID string) *Org {
	for _, o := range c.Orgs {
		if o.MSPID == mspID {
			return o
		}
	}
	return nil
}

// PeerOrgs returns the peer (non-orderer) organisations in configuration order.
func (c *CryptoConfig) PeerOrgs() []*Org {
	var out []*Org
	for _, o := range c.Orgs {
		if !o.Orderer {
			out = append(out, o)
		}
	}
	return out
}

// TLSRootPool returns a pool with every organisation's TLS root CA certificate.
func (c *CryptoConfig) TLSRootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, o := range c.Orgs {
		pool.AddCert(o.TLSCACert)
	}
	return pool
}

// Manager returns an MSP manager trusting every organisation of the configuration.
func (c *CryptoConfig) Manager(opts ...ManagerOption) (*Manager, error) {
	m := NewManager(opts...)
	for _, o := range c.Orgs {
		if err := m.AddOrg(o.MSPID, []*x509.Certificate{o.CACert}, []*x509.Certificate{o.TLSCACert}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

const (
	keyFile       = "priv_sk"
	certValidity  = 10 * 365 * 24 * time.Hour
	dirPermission = 0o755
)

var (
	mspIDPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.\-]*$`)
	domainPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)*$`)
)

// Generate creates, on first call, cryptogen-like material for every organisation under
// dir/crypto (peerOrganizations/<domain> and ordererOrganizations/<domain>) and loads it; on
// later calls it only loads what exists. Each organisation is generated in a temporary
// directory that is renamed into place once complete, so a crash never leaves a partial
// organisation behind.
func Generate(dir string, orgs []OrgSpec) (*CryptoConfig, error) {
	if len(orgs) == 0 {
		return nil, errors.New("msp: generate: no organisations")
	}
	seenID := map[string]bool{}
	seenDomain := map[string]bool{}
	for _, o := range orgs {
		if !mspIDPattern.MatchString(o.MSPID) {
			return nil, fmt.Errorf("msp: generate: invalid MSP ID %q", o.MSPID)
		}
		if !domainPattern.MatchString(o.Domain) {
			return nil, fmt.Errorf("msp: generate: invalid domain %q for %s", o.Domain, o.MSPID)
		}
		if seenID[o.MSPID] || seenDomain[o.Domain] {
			return nil, fmt.Errorf("msp: generate: duplicate organisation %s (%s)", o.MSPID, o.Domain)
		}
		seenID[o.MSPID], seenDomain[o.Domain] = true, true
	}
	root := filepath.Join(dir, "crypto")
	cfg := &CryptoConfig{Dir: root}
	for _, spec := range orgs {
		orgDir := filepath.Join(root, orgKindDir(spec.Orderer), spec.Domain)
		if _, err := os.Stat(orgDir); errors.Is(err, fs.ErrNotExist) {
			if err := generateOrg(orgDir, spec); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, fmt.Errorf("msp: stat %s: %w", orgDir, err)
		}
		org, err := LoadOrg(orgDir, spec)
		if err != nil {
			return nil, err
		}
		cfg.Orgs = append(cfg.Orgs, org)
	}
	return cfg, nil
}

func orgKindDir(orderer bool) string {
	if orderer {
		return "ordererOrganizations"
	}
	return "peerOrganizations"
}

func nodeName(spec OrgSpec) string {
	if spec.Orderer {
		return "orderer." + spec.Domain
	}
	return "peer0." + spec.Domain
}

type ca struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

// generateOrg writes a complete organisation into a sibling temporary directory and renames
// it to orgDir.
func generateOrg(orgDir string, spec OrgSpec) error {
	parent := filepath.Dir(orgDir)
	if err := os.MkdirAll(parent, dirPermission); err != nil {
		return fmt.Errorf("msp: create %s: %w", parent, err)
	}
	// Remove leftovers of an interrupted earlier attempt for this organisation.
	leftovers, err := filepath.Glob(filepath.Join(parent, ".tmp-"+spec.Domain+"-*"))
	if err != nil {
		return fmt.Errorf("msp: glob leftovers: %w", err)
	}
	for _, l := range leftovers {
		if err := os.RemoveAll(l); err != nil {
			return fmt.Errorf("msp: remove leftover %s: %w", l, err)
		}
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+spec.Domain+"-")
	if err != nil {
		return fmt.Errorf("msp: create temporary directory: %w", err)
	}
	if err := os.Chmod(tmp, dirPermission); err != nil {
		return fmt.Errorf("msp: chmod %s: %w", tmp, err)
	}
	if err := writeOrg(tmp, spec); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("msp: generate %s: %w", spec.MSPID, err)
	}
	if err := syncTree(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("msp: generate %s: %w", spec.MSPID, err)
	}
	if err := os.Rename(tmp, orgDir); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("msp: install %s: %w", orgDir, err)
	}
	return syncDir(parent)
}

func writeOrg(dir string, spec OrgSpec) error {
	now := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	signCA, err := newCA(spec.Domain, "ca."+spec.Domain, now)
	if err != nil {
		return err
	}
	tlsCA, err := newCA(spec.Domain, "tlsca."+spec.Domain, now)
	if err != nil {
		return err
	}
	caPEM := encodeCertPEM(signCA.der)
	tlsCAPEM := encodeCertPEM(tlsCA.der)
	caName := "ca." + spec.Domain + "-cert.pem"
	tlsCAName := "tlsca." + spec.Domain + "-cert.pem"

	// CA directories with their keys, as cryptogen leaves them.
	if err := writeCAFiles(filepath.Join(dir, "ca"), caName, signCA); err != nil {
		return err
	}
	if err := writeCAFiles(filepath.Join(dir, "tlsca"), tlsCAName, tlsCA); err != nil {
		return err
	}
	// Organisation (verifying) MSP.
	if err := writeVerifyingMSP(filepath.Join(dir, "msp"), caName, caPEM, tlsCAName, tlsCAPEM); err != nil {
		return err
	}

	node := nodeName(spec)
	nodeOU, nodeKind := OUPeer, "peers"
	if spec.Orderer {
		nodeOU, nodeKind = OUOrderer, "orderers"
	}
	short := strings.SplitN(node, ".", 2)[0]
	members := []member{
		{filepath.Join(dir, nodeKind, node), node, nodeOU, true, []string{node, short, "localhost"}},
		{filepath.Join(dir, "users", "Admin@"+spec.Domain), "Admin@" + spec.Domain, OUAdmin, false, nil},
		{filepath.Join(dir, "users", "User1@"+spec.Domain), "User1@" + spec.Domain, OUClient, false, nil},
	}
	for _, m := range members {
		if err := writeMember(m, signCA, tlsCA, orgCerts{caName, caPEM, tlsCAName, tlsCAPEM}, spec.Domain, now); err != nil {
			return err
		}
	}
	return nil
}

// orgCerts are an organisation's CA certificates with their file names.
type orgCerts struct {
	caName    string
	caPEM     []byte
	tlsCAName string
	tlsCAPEM  []byte
}

// member is one identity cryptogen generates for an organisation: its node or a user.
type member struct {
	base, name, ou string
	server         bool
	hosts          []string
}

// writeMember writes a member's local MSP (with its signing certificate and key) under
// m.base/msp and its TLS material under m.base/tls.
func writeMember(m member, signCA, tlsCA *ca, certs orgCerts, domain string, now time.Time) error {
	mspDir := filepath.Join(m.base, "msp")
	if err := writeVerifyingMSP(mspDir, certs.caName, certs.caPEM, certs.tlsCAName, certs.tlsCAPEM); err != nil {
		return err
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	der, err := issue(signCA, &key.PublicKey, leafTemplate(domain, m.name, []string{m.ou}, now,
		x509.KeyUsageDigitalSignature, nil, nil))
	if err != nil {
		return fmt.Errorf("issue %s: %w", m.name, err)
	}
	if err := writeFile(filepath.Join(mspDir, "signcerts", m.name+"-cert.pem"), encodeCertPEM(der), 0o644); err != nil {
		return err
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(mspDir, "keystore", keyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeTLS(filepath.Join(m.base, "tls"), tlsCA, certs.tlsCAPEM, domain, m.name, m.server, m.hosts, now)
}

func newCA(domain, cn string, notBefore time.Time) (*ca, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject(domain, cn, nil),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", cn, err)
	}
	return &ca{cert: cert, der: der, key: key}, nil
}

func subject(domain, cn string, ous []string) pkix.Name {
	return pkix.Name{
		Country:            []string{"US"},
		Province:           []string{"California"},
		Locality:           []string{"San Francisco"},
		Organization:       []string{domain},
		OrganizationalUnit: ous,
		CommonName:         cn,
	}
}

func leafTemplate(domain, cn string, ous []string, notBefore time.Time, usage x509.KeyUsage,
	ext []x509.ExtKeyUsage, hosts []string) *x509.Certificate {
	t := &x509.Certificate{
		Subject:               subject(domain, cn, ous),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              usage,
		ExtKeyUsage:           ext,
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else {
			t.DNSNames = append(t.DNSNames, h)
		}
	}
	return t
}

func issue(parent *ca, pub *ecdsa.PublicKey, tmpl *x509.Certificate) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.SubjectKeyId = ski(pub)
	tmpl.AuthorityKeyId = parent.cert.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.cert, pub, parent.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return der, nil
}

func writeTLS(dir string, tlsCA *ca, tlsCAPEM []byte, domain, name string, server bool, hosts []string, now time.Time) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	if server {
		hosts = append(hosts, "127.0.0.1", "::1")
	}
	der, err := issue(tlsCA, &key.PublicKey, leafTemplate(domain, name, nil, now,
		x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, hosts))
	if err != nil {
		return fmt.Errorf("issue TLS certificate for %s: %w", name, err)
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return err
	}
	prefix := "client"
	if server {
		prefix = "server"
	}
	if err := writeFile(filepath.Join(dir, "ca.crt"), tlsCAPEM, 0o644); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, prefix+".crt"), encodeCertPEM(der), 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, prefix+".key"), keyPEM, 0o600)
}

func writeCAFiles(dir, certName string, c *ca) error {
	if err := writeFile(filepath.Join(dir, certName), encodeCertPEM(c.der), 0o644); err != nil {
		return err
	}
	keyPEM, err := encodeKeyPEM(c.key)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, keyFile), keyPEM, 0o600)
}

func writeVerifyingMSP(dir, caName string, caPEM []byte, tlsCAName string, tlsCAPEM []byte) error {
	if err := writeFile(filepath.Join(dir, "cacerts", caName), caPEM, 0o644); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "tlscacerts", tlsCAName), tlsCAPEM, 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "config.yaml"), []byte(nodeOUConfig("cacerts/"+caName)), 0o644)
}

// nodeOUConfig returns the config.yaml that enables Fabric NodeOUs bound to the given CA file.
func nodeOUConfig(caPath string) string {
	var b strings.Builder
	b.WriteString("NodeOUs:\n  Enable: true\n")
	for _, ou := range []struct{ key, value string }{
		{"ClientOUIdentifier", OUClient},
		{"PeerOUIdentifier", OUPeer},
		{"AdminOUIdentifier", OUAdmin},
		{"OrdererOUIdentifier", OUOrderer},
	} {
		fmt.Fprintf(&b, "  %s:\n    Certificate: %s\n    OrganizationalUnitIdentifier: %s\n", ou.key, caPath, ou.value)
	}
	return b.String()
}

func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), dirPermission); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	// Set the mode explicitly so that the umask does not change it.
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("msp: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("msp: sync %s: %w", dir, err)
	}
	return nil
}

// syncTree fsyncs every directory under root so that the entries of the files written there
// are durable before root is renamed into place.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", path, err)
		}
		if !d.IsDir() {
			return nil
		}
		return syncDir(path)
	})
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return s, nil
}

// ski computes the subject key identifier as cryptogen does: SHA-256 of the uncompressed point.
func ski(pub *ecdsa.PublicKey) []byte {
	ek, err := pub.ECDH()
	if err != nil {
		// P-256 keys generated by this package always convert.
		panic(fmt.Sprintf("msp: convert public key: %v", err))
	}
	h := sha256.Sum256(ek.Bytes())
	return h[:]
}

// LoadOrg loads one organisation's material from orgDir (as written by Generate or cryptogen,
// with priv_sk key files).
func LoadOrg(orgDir string, spec OrgSpec) (*Org, error) {
	caName := "ca." + spec.Domain + "-cert.pem"
	tlsCAName := "tlsca." + spec.Domain + "-cert.pem"
	org := &Org{MSPID: spec.MSPID, Domain: spec.Domain, Orderer: spec.Orderer, Dir: orgDir}
	var err error
	if org.CACertPEM, org.CACert, err = readCert(filepath.Join(orgDir, "msp", "cacerts", caName)); err != nil {
		return nil, err
	}
	if org.TLSCACertPEM, org.TLSCACert, err = readCert(filepath.Join(orgDir, "msp", "tlscacerts", tlsCAName)); err != nil {
		return nil, err
	}
	nodeKind := "peers"
	if spec.Orderer {
		nodeKind = "orderers"
	}
	node := nodeName(spec)
	if org.Node, err = loadMember(filepath.Join(orgDir, nodeKind, node), node, spec.MSPID, "server"); err != nil {
		return nil, err
	}
	if org.Admin, err = loadMember(filepath.Join(orgDir, "users", "Admin@"+spec.Domain), "Admin@"+spec.Domain, spec.MSPID, "client"); err != nil {
		return nil, err
	}
	if org.User, err = loadMember(filepath.Join(orgDir, "users", "User1@"+spec.Domain), "User1@"+spec.Domain, spec.MSPID, "client"); err != nil {
		return nil, err
	}
	for _, m := range []*Member{org.Node, org.Admin, org.User} {
		if err := m.Signer.Cert.CheckSignatureFrom(org.CACert); err != nil {
			return nil, fmt.Errorf("msp: %s is not issued by %s's CA: %w", m.Name, spec.MSPID, err)
		}
		if err := m.TLS.Leaf.CheckSignatureFrom(org.TLSCACert); err != nil {
			return nil, fmt.Errorf("msp: TLS certificate of %s is not issued by %s's TLS CA: %w", m.Name, spec.MSPID, err)
		}
	}
	return org, nil
}

func loadMember(base, name, mspID, tlsPrefix string) (*Member, error) {
	m := &Member{Name: name, MSPDir: filepath.Join(base, "msp"), TLSDir: filepath.Join(base, "tls")}
	certPEM, err := os.ReadFile(m.CertPath())
	if err != nil {
		return nil, fmt.Errorf("msp: load %s: %w", name, err)
	}
	keyPEM, err := os.ReadFile(m.KeyPath())
	if err != nil {
		return nil, fmt.Errorf("msp: load %s: %w", name, err)
	}
	if m.Signer, err = NewIdentity(mspID, certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("msp: load %s: %w", name, err)
	}
	if m.TLSCertPEM, err = os.ReadFile(filepath.Join(m.TLSDir, tlsPrefix+".crt")); err != nil {
		return nil, fmt.Errorf("msp: load TLS of %s: %w", name, err)
	}
	if m.TLSKeyPEM, err = os.ReadFile(filepath.Join(m.TLSDir, tlsPrefix+".key")); err != nil {
		return nil, fmt.Errorf("msp: load TLS of %s: %w", name, err)
	}
	if m.TLS, err = tls.X509KeyPair(m.TLSCertPEM, m.TLSKeyPEM); err != nil {
		return nil, fmt.Errorf("msp: TLS key pair of %s: %w", name, err)
	}
	return m, nil
}

func readCert(path string) ([]byte, *x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("msp: read %s: %w", path, err)
	}
	c, err := ParseCertificatePEM(b)
	if err != nil {
		return nil, nil, fmt.Errorf("msp: %s: %w", path, err)
	}
	return b, c, nil
}
