package fabric

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
)

// Names shared by every deployment of the network.
const (
	// Channel is the application channel all five organisations join.
	Channel = "xborder"
	// ChaincodeName is the chaincode's name in the channel's lifecycle.
	ChaincodeName = "xborder"
	// ChaincodeLabel is the label of the chaincode-as-a-service package.
	ChaincodeLabel = "xborder_1.0"
	// Domain is the DNS domain of every node; the organisations use sub-domains of it.
	Domain = "xborder.example"
	// OrdererMSPID is the MSP ID of the ordering service organisation.
	OrdererMSPID = "OrdererMSP"
	// ChaincodeServerPort is the port the chaincode server listens on.
	ChaincodeServerPort = 9999
	// ChaincodeServiceHost is the chaincode server's host name in docker-compose.yaml.
	ChaincodeServiceHost = "xborder-chaincode"
	// EndorsementPolicy is the chaincode's endorsement policy (docs/endorsement-policy.md).
	EndorsementPolicy = "OutOf(2, 'MerchantMSP.peer', 'BankMSP.peer', 'CarrierMSP.peer', 'CustomsMSP.peer')"
	// GatewayUser is the client identity cryptogen creates in every organisation and the
	// gateway signs with.
	GatewayUser = "User1"
	// GatewayRegistrar is the identity network.sh registers at each member organisation's
	// Fabric CA (XBORDER_FABRIC_CRYPTO=ca) for the gateway to register and revoke the
	// identities of managed API keys: it may register client identities with xborder.*
	// attributes and revoke them, nothing else.
	GatewayRegistrar = "gateway-registrar"
	// CADir is the directory, relative to the home directory, of the Fabric CA servers' and
	// clients' state (XBORDER_FABRIC_CRYPTO=ca).
	CADir = "fabric-ca"
)

// Org is one member organisation and its single peer.
type Org struct {
	// MSPID is the organisation's MSP ID, e.g. "MerchantMSP".
	MSPID string
	// Name is the organisation's name in crypto-config.yaml and configtx.yaml, e.g. "Merchant".
	Name string
	// PeerPort is the peer's gRPC port (peer, gateway, deliver and gossip services).
	PeerPort int
	// ChaincodePort is the peer's chaincode listener (unused by chaincode-as-a-service, but
	// every peer binds it).
	ChaincodePort int
	// OperationsPort serves the peer's /healthz and /metrics.
	OperationsPort int
	// CouchDBPort is the host port of the organisation's CouchDB in docker-compose.yaml.
	CouchDBPort int
	// CAPort is the port of the organisation's fabric-ca-server (XBORDER_FABRIC_CRYPTO=ca).
	CAPort int
	// ReadOnly marks the regulator: a channel member whose peer reads and holds the private
	// data it is entitled to, but which the endorsement policy does not name.
	ReadOnly bool
}

// Key returns the lower-case organisation name used in file, process and service names.
func (o Org) Key() string { return strings.ToLower(o.Name) }

// OrgDomain returns the organisation's domain, e.g. "merchant.xborder.example".
func (o Org) OrgDomain() string { return o.Key() + "." + Domain }

// PeerHost returns the peer's host name, e.g. "peer0.merchant.xborder.example".
func (o Org) PeerHost() string { return "peer0." + o.OrgDomain() }

// Dir returns the organisation's crypto directory relative to the network's home directory.
func (o Org) Dir() string { return path.Join("organizations", "peerOrganizations", o.OrgDomain()) }

// MSPDir returns the organisation's (channel) MSP directory relative to the home directory.
func (o Org) MSPDir() string { return path.Join(o.Dir(), "msp") }

// PeerDir returns the peer's crypto directory relative to the home directory.
func (o Org) PeerDir() string { return path.Join(o.Dir(), "peers", o.PeerHost()) }

// TLSCACert returns the organisation's TLS CA certificate relative to the home directory.
func (o Org) TLSCACert() string {
	return path.Join(o.Dir(), "tlsca", "tlsca."+o.OrgDomain()+"-cert.pem")
}

// UserMSPDir returns the MSP directory of a user ("Admin" or "User1") of the organisation.
func (o Org) UserMSPDir(user string) string {
	return path.Join(o.Dir(), "users", user+"@"+o.OrgDomain(), "msp")
}

// UserCert returns the signing certificate of a user of the organisation.
func (o Org) UserCert(user string) string {
	return path.Join(o.UserMSPDir(user), "signcerts", user+"@"+o.OrgDomain()+"-cert.pem")
}

// UserKey returns the private key of a user of the organisation (cryptogen names it priv_sk).
func (o Org) UserKey(user string) string {
	return path.Join(o.UserMSPDir(user), "keystore", "priv_sk")
}

// Orgs returns the organisations of the channel in their fixed order: the four members, then
// the read-only regulator.
func Orgs() []Org {
	return []Org{
		{MSPID: "MerchantMSP", Name: "Merchant", PeerPort: 7051, ChaincodePort: 7052, OperationsPort: 9444, CouchDBPort: 5984, CAPort: 7054},
		{MSPID: "BankMSP", Name: "Bank", PeerPort: 8051, ChaincodePort: 8052, OperationsPort: 9445, CouchDBPort: 6984, CAPort: 8054},
		{MSPID: "CarrierMSP", Name: "Carrier", PeerPort: 9051, ChaincodePort: 9052, OperationsPort: 9446, CouchDBPort: 7984, CAPort: 9054},
		{MSPID: "CustomsMSP", Name: "Customs", PeerPort: 10051, ChaincodePort: 10052, OperationsPort: 9447, CouchDBPort: 8984, CAPort: 10054},
		{MSPID: "RegulatorMSP", Name: "Regulator", PeerPort: 11051, ChaincodePort: 11052, OperationsPort: 9448, CouchDBPort: 9984, CAPort: 12054, ReadOnly: true},
	}
}

// CAName returns the name of the organisation's CA in its fabric-ca-server, e.g. "ca-merchant".
func (o Org) CAName() string { return "ca-" + o.Key() }

// CATLSCert returns the TLS certificate of the organisation's fabric-ca-server relative to the
// home directory (XBORDER_FABRIC_CRYPTO=ca).
func (o Org) CATLSCert() string { return path.Join(CADir, o.Key(), "server", "tls-cert.pem") }

// CARegistrarSecretFile returns the file, relative to the home directory, holding the secret of
// the organisation's GatewayRegistrar (mode 0600, XBORDER_FABRIC_CRYPTO=ca).
func (o Org) CARegistrarSecretFile() string {
	return path.Join(CADir, o.Key(), GatewayRegistrar+".secret")
}

// Members returns the organisations the endorsement policy names: Orgs without the read-only
// regulator.
func Members() []Org {
	var out []Org
	for _, o := range Orgs() {
		if !o.ReadOnly {
			out = append(out, o)
		}
	}
	return out
}

// OrgByMSPID returns the organisation with the given MSP ID.
func OrgByMSPID(mspID string) (Org, error) {
	for _, o := range Orgs() {
		if o.MSPID == mspID {
			return o, nil
		}
	}
	return Org{}, fmt.Errorf("unknown organisation %q", mspID)
}

// Orderer is one ordering node of the orderer organisation.
type Orderer struct {
	// Name is the node's host label, e.g. "orderer" or "orderer2".
	Name string
	// Port serves the broadcast and deliver services and, for Raft and BFT, cluster traffic.
	Port int
	// AdminPort serves the channel participation API (osnadmin).
	AdminPort int
	// OperationsPort serves the node's /healthz and /metrics.
	OperationsPort int
}

// Host returns the node's host name, e.g. "orderer.xborder.example".
func (o Orderer) Host() string { return o.Name + "." + Domain }

// Dir returns the node's crypto directory relative to the home directory.
func (o Orderer) Dir() string {
	return path.Join(OrdererOrgDir(), "orderers", o.Host())
}

// OrdererOrgDir returns the orderer organisation's crypto directory relative to the home directory.
func OrdererOrgDir() string { return path.Join("organizations", "ordererOrganizations", Domain) }

// OrdererTLSCACert returns the orderer organisation's TLS CA certificate relative to the home
// directory.
func OrdererTLSCACert() string {
	return path.Join(OrdererOrgDir(), "tlsca", "tlsca."+Domain+"-cert.pem")
}

// Orderers returns the ordering nodes of a consensus type: "etcdraft" runs one node, "BFT" four
// (the smallest Byzantine fault tolerant set, tolerating one faulty node).
func Orderers(consensus string) ([]Orderer, error) {
	all := []Orderer{
		{Name: "orderer", Port: 7050, AdminPort: 7053, OperationsPort: 9443},
		{Name: "orderer2", Port: 7150, AdminPort: 7153, OperationsPort: 9453},
		{Name: "orderer3", Port: 7250, AdminPort: 7253, OperationsPort: 9463},
		{Name: "orderer4", Port: 7350, AdminPort: 7353, OperationsPort: 9473},
	}
	switch consensus {
	case "etcdraft":
		return all[:1], nil
	case "BFT":
		return all, nil
	default:
		return nil, fmt.Errorf("unknown consensus type %q: want etcdraft or BFT", consensus)
	}
}

// HostPort joins a host and a port.
func HostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
