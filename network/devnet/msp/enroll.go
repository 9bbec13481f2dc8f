package msp

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// AttributeOID is the object identifier of the X.509 extension in which Fabric CA puts an
// identity's attributes (1.2.3.4.5.6.7.8.1), as the JSON document {"attrs":{"name":"value"}};
// fabric-chaincode-go's cid reads them from there.
var AttributeOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// IssueClient issues a new client identity (NodeOU client) of the organisation, signed by its
// CA key as Generate left it in the organisation's ca directory, with the given attributes in
// the Fabric CA attribute extension (none: no extension). It writes nothing: the identity lives
// only in memory, as an enrolment a test or a tool makes on the spot.
func (o *Org) IssueClient(name string, attrs map[string]string) (*Identity, error) {
	if name == "" {
		return nil, errors.New("msp: issue client: name is required")
	}
	signCA, err := o.loadCA()
	if err != nil {
		return nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	tmpl := leafTemplate(o.Domain, name, []string{OUClient}, now, x509.KeyUsageDigitalSignature, nil, nil)
	if len(attrs) > 0 {
		value, err := json.Marshal(map[string]map[string]string{"attrs": attrs})
		if err != nil {
			return nil, fmt.Errorf("msp: issue client %s: encode attributes: %w", name, err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: AttributeOID, Value: value}}
	}
	der, err := issue(signCA, &key.PublicKey, tmpl)
	if err != nil {
		return nil, fmt.Errorf("msp: issue client of %s: %w", o.MSPID, err)
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("msp: issue client %s: %w", name, err)
	}
	return NewIdentity(o.MSPID, encodeCertPEM(der), keyPEM)
}

// loadCA reads the organisation's signing CA certificate and key from its ca directory.
func (o *Org) loadCA() (*ca, error) {
	dir := filepath.Join(o.Dir, "ca")
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("msp: CA key of %s: %w", o.MSPID, err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("msp: CA key of %s: %w", o.MSPID, err)
	}
	if !key.PublicKey.Equal(o.CACert.PublicKey) {
		return nil, fmt.Errorf("msp: CA key of %s does not match its CA certificate", o.MSPID)
	}
	return &ca{cert: o.CACert, der: o.CACert.Raw, key: key}, nil
}
