package keys

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parseEnrollmentCert parses a PEM certificate.
func parseEnrollmentCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return c, nil
}
