package msp

import (
	"fmt"

	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// FabricMSPConfig returns the organisation's MSP definition for a channel configuration:
// root and TLS root CA certificates, SHA-256 crypto configuration and NodeOUs enabled with
// the client, peer, admin and orderer OUs bound to the root CA.
func (o *Org) FabricMSPConfig() *mspproto.FabricMSPConfig {
	ou := func(name string) *mspproto.FabricOUIdentifier {
		return &mspproto.FabricOUIdentifier{Certificate: o.CACertPEM, OrganizationalUnitIdentifier: name}
	}
	return &mspproto.FabricMSPConfig{
		Name:         o.MSPID,
		RootCerts:    [][]byte{o.CACertPEM},
		TlsRootCerts: [][]byte{o.TLSCACertPEM},
		CryptoConfig: &mspproto.FabricCryptoConfig{
			SignatureHashFamily:            "SHA2",
			IdentityIdentifierHashFunction: "SHA256",
		},
		FabricNodeOus: &mspproto.FabricNodeOUs{
			Enable:              true,
			ClientOuIdentifier:  ou(OUClient),
			PeerOuIdentifier:    ou(OUPeer),
			AdminOuIdentifier:   ou(OUAdmin),
			OrdererOuIdentifier: ou(OUOrderer),
		},
	}
}

// MSPConfig returns the organisation's MSP definition wrapped as an msp.MSPConfig of type
// FABRIC (0), the value of the "MSP" config value in a channel configuration group.
func (o *Org) MSPConfig() (*mspproto.MSPConfig, error) {
	b, err := proto.Marshal(o.FabricMSPConfig())
	if err != nil {
		return nil, fmt.Errorf("msp: marshal FabricMSPConfig of %s: %w", o.MSPID, err)
	}
	return &mspproto.MSPConfig{Type: 0, Config: b}, nil
}
