package fabric

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/store"
)

// Names of the files WriteGatewayFiles writes into the network's home directory.
const (
	// GatewayConfigFile is the REST gateway configuration (`xborder gateway --config`).
	GatewayConfigFile = "gateway.yaml"
	// CredentialsFile maps each MSP ID to its API key, like the devnet's dev-credentials.json.
	CredentialsFile = "credentials.json"
	// StoreKeyFile holds the key that seals the private data the gateway keeps in gateway.db.
	StoreKeyFile = "store.keys"
	// GatewayEnvFile (XBORDER_FABRIC_CRYPTO=ca) holds XBORDER_CA_SECRET_<MSPID>=<secret> lines,
	// the secrets of the organisations' GatewayRegistrar, mode 0600: a systemd EnvironmentFile,
	// or `set -a; . gateway.env; set +a` in a shell, before `xborder gateway`.
	GatewayEnvFile = "gateway.env"
)

// TLS modes of GatewayOptions.TLS.
const (
	// GatewayTLSOff writes a plain-HTTP gateway (behind a TLS-terminating proxy, or loopback).
	GatewayTLSOff = ""
	// GatewayTLSServer serves TLS with a server certificate from the gateway's own CA.
	GatewayTLSServer = "tls"
	// GatewayTLSMutual also requires a client certificate of that CA (gateway-tls/client.*).
	GatewayTLSMutual = "mtls"
)

// GatewayOptions configures WriteGatewayFiles.
type GatewayOptions struct {
	// Home is the network's home directory (XBORDER_FABRIC_HOME), holding organizations/.
	// The files are written there and name the crypto files relative to it.
	Home string
	// PeerHost is the host the gateway dials each peer on: "127.0.0.1" for the native
	// network; empty for the peers' own host names (docker-compose.yaml).
	PeerHost string
	// Listen is the gateway's HTTP listen address.
	Listen string
	// DataDir is the gateway's state directory; relative paths are relative to the process's
	// working directory, as `xborder gateway` reads them.
	DataDir string
	// Random is the source of new API keys and keys (crypto/rand.Reader).
	Random io.Reader
	// TLS is GatewayTLSOff, GatewayTLSServer or GatewayTLSMutual. With TLS, the gateway's TLS
	// material is written into GatewayTLSDir unless it is there (WriteGatewayTLS), for TLSHosts.
	TLS      string
	TLSHosts []string
	// Now is the start of the certificates' validity (time.Now when zero).
	Now time.Time
	// FabricCA (XBORDER_FABRIC_CRYPTO=ca) gives every organisation its Fabric CA (ca: url,
	// caName, tlsCACert, registrarId) so that managed API keys may have identities of their
	// own, and writes the registrars' secrets into GatewayEnvFile, never into gateway.yaml.
	FabricCA bool
	// CAHost is the host of the CA URLs (127.0.0.1 when empty).
	CAHost string
}

// gatewayFile is the subset of config.Config that network.sh fills in; everything else keeps
// the gateway's defaults. The tags are those of config.Config.
type gatewayFile struct {
	Listen        string       `yaml:"listen"`
	DataDir       string       `yaml:"dataDir"`
	Channel       string       `yaml:"channel"`
	Chaincode     string       `yaml:"chaincode"`
	Organizations []gatewayOrg `yaml:"organizations"`
	APIKeys       []gatewayKey `yaml:"apiKeys"`
	TLS           *gatewayTLS  `yaml:"tls,omitempty"`
	Store         gatewayStore `yaml:"store"`
}

type gatewayTLS struct {
	CertFile     string `yaml:"certFile"`
	KeyFile      string `yaml:"keyFile"`
	ClientCAFile string `yaml:"clientCAFile,omitempty"`
}

type gatewayStore struct {
	KeyFile string `yaml:"keyFile"`
}

type gatewayOrg struct {
	MSPID        string     `yaml:"mspId"`
	PeerEndpoint string     `yaml:"peerEndpoint"`
	TLSCACert    string     `yaml:"tlsCACert"`
	Certificate  string     `yaml:"certificate"`
	PrivateKey   string     `yaml:"privateKey"`
	CA           *gatewayCA `yaml:"ca,omitempty"`
}

type gatewayCA struct {
	URL         string `yaml:"url"`
	CAName      string `yaml:"caName"`
	TLSCACert   string `yaml:"tlsCACert"`
	RegistrarID string `yaml:"registrarId"`
}

type gatewayKey struct {
	ID     string `yaml:"id"`
	MSPID  string `yaml:"mspId"`
	User   string `yaml:"user"`
	SHA256 string `yaml:"sha256"`
	Admin  bool   `yaml:"admin"`
}

// WriteGatewayFiles writes gateway.yaml (the five organisations, each with its own peer
// endpoint, TLS CA, client certificate and key, and one admin API key per organisation, stored
// as its SHA-256, that may manage the organisation's keys) and credentials.json ({"MerchantMSP": "<key>", ...}, file mode 0600) into opts.Home,
// then loads gateway.yaml with the gateway's own loader to prove it valid. Keys already in
// credentials.json are kept, so redeploying does not invalidate clients' keys. It returns the
// credentials.
func WriteGatewayFiles(opts GatewayOptions) (map[string]string, error) {
	if opts.Home == "" || opts.Listen == "" || opts.DataDir == "" || opts.Random == nil {
		return nil, errors.New("gateway files: home, listen, data directory and random source are required")
	}
	file := gatewayFile{Listen: opts.Listen, DataDir: opts.DataDir, Channel: Channel, Chaincode: ChaincodeName,
		Store: gatewayStore{KeyFile: StoreKeyFile}}
	var mspIDs []string
	for _, o := range Orgs() {
		org, err := gatewayOrgOf(opts, o)
		if err != nil {
			return nil, err
		}
		file.Organizations = append(file.Organizations, org)
		mspIDs = append(mspIDs, o.MSPID)
	}
	if opts.FabricCA {
		if err := writeGatewayEnv(opts.Home); err != nil {
			return nil, err
		}
	}
	creds, err := config.LoadOrCreateCredentials(filepath.Join(opts.Home, CredentialsFile), mspIDs, opts.Random)
	if err != nil {
		return nil, fmt.Errorf("gateway files: %w", err)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if _, err := store.LoadOrCreateKeyringFile(filepath.Join(opts.Home, StoreKeyFile), opts.Random, opts.Now); err != nil {
		return nil, fmt.Errorf("gateway files: %w", err)
	}
	if file.TLS, err = gatewayTLSOf(opts); err != nil {
		return nil, err
	}
	for _, o := range Orgs() {
		file.APIKeys = append(file.APIKeys, gatewayKey{
			ID: o.Key() + "-admin", MSPID: o.MSPID, User: o.Key() + "-admin", SHA256: config.HashKey(creds[o.MSPID]), Admin: true,
		})
	}
	out, err := yaml.Marshal(file)
	if err != nil {
		return nil, fmt.Errorf("gateway files: encode %s: %w", GatewayConfigFile, err)
	}
	header := "# xborder REST gateway configuration, written by network/fabric/network.sh deploy.\n" +
		"# Run: xborder gateway --config " + GatewayConfigFile + "\n" +
		"# File paths are relative to this file; API keys are in " + CredentialsFile + ".\n"
	if opts.FabricCA {
		header += "# The Fabric CA registrars' secrets are in " + GatewayEnvFile + ": set -a; . ./" + GatewayEnvFile + "; set +a\n"
	}
	cfgPath := filepath.Join(opts.Home, GatewayConfigFile)
	if err := config.WriteFileAtomic(cfgPath, append([]byte(header), out...), 0o600); err != nil {
		return nil, fmt.Errorf("gateway files: %w", err)
	}
	if _, err := config.Load(cfgPath, nil); err != nil {
		return nil, fmt.Errorf("gateway files: %s does not load: %w", cfgPath, err)
	}
	return creds, nil
}

// gatewayTLSOf writes the gateway's TLS material when it is missing and returns the tls
// section of gateway.yaml (nil without TLS).
func gatewayTLSOf(opts GatewayOptions) (*gatewayTLS, error) {
	switch opts.TLS {
	case GatewayTLSOff:
		return nil, nil
	case GatewayTLSServer, GatewayTLSMutual:
	default:
		return nil, fmt.Errorf("gateway files: TLS mode %q is not %q, %q or %q", opts.TLS, GatewayTLSOff, GatewayTLSServer, GatewayTLSMutual)
	}
	dir := filepath.Join(opts.Home, GatewayTLSDir)
	if _, err := os.Stat(filepath.Join(dir, ChaincodeTLSServerCert)); errors.Is(err, os.ErrNotExist) {
		hosts := opts.TLSHosts
		if len(hosts) == 0 {
			hosts = []string{"127.0.0.1", "localhost"}
		}
		if err := WriteGatewayTLS(ChaincodeTLSOptions{Dir: dir, Hosts: hosts, Random: opts.Random, Now: opts.Now, Validity: 365 * 24 * time.Hour}); err != nil {
			return nil, fmt.Errorf("gateway files: %w", err)
		}
	}
	t := &gatewayTLS{CertFile: GatewayTLSDir + "/" + ChaincodeTLSServerCert, KeyFile: GatewayTLSDir + "/" + ChaincodeTLSServerKey}
	if opts.TLS == GatewayTLSMutual {
		t.ClientCAFile = GatewayTLSDir + "/" + ChaincodeTLSCACert
	}
	return t, nil
}

// gatewayOrgOf is the configuration of organisation o's gateway connection; its crypto files
// must exist under opts.Home.
func gatewayOrgOf(opts GatewayOptions, o Org) (gatewayOrg, error) {
	for _, p := range []string{o.TLSCACert(), o.UserCert(GatewayUser), o.UserKey(GatewayUser)} {
		if _, err := os.Stat(filepath.Join(opts.Home, filepath.FromSlash(p))); err != nil {
			return gatewayOrg{}, fmt.Errorf("gateway files: organisation %s: %w", o.MSPID, err)
		}
	}
	host := opts.PeerHost
	if host == "" {
		host = o.PeerHost()
	}
	org := gatewayOrg{
		MSPID:        o.MSPID,
		PeerEndpoint: HostPort(host, o.PeerPort),
		TLSCACert:    o.TLSCACert(),
		Certificate:  o.UserCert(GatewayUser),
		PrivateKey:   o.UserKey(GatewayUser),
	}
	if opts.FabricCA {
		if _, err := os.Stat(filepath.Join(opts.Home, filepath.FromSlash(o.CATLSCert()))); err != nil {
			return gatewayOrg{}, fmt.Errorf("gateway files: organisation %s's Fabric CA: %w", o.MSPID, err)
		}
		caHost := opts.CAHost
		if caHost == "" {
			caHost = "127.0.0.1"
		}
		org.CA = &gatewayCA{URL: "https://" + HostPort(caHost, o.CAPort), CAName: o.CAName(), TLSCACert: o.CATLSCert(), RegistrarID: GatewayRegistrar}
	}
	return org, nil
}

// CASecretEnv is the environment variable the gateway reads organisation mspID's Fabric CA
// registrar secret from.
func CASecretEnv(mspID string) string { return "XBORDER_CA_SECRET_" + mspID }

// writeGatewayEnv writes GatewayEnvFile (mode 0600) from the registrars' secret files that
// network.sh wrote when it enrolled the organisations with their Fabric CAs.
func writeGatewayEnv(home string) error {
	var b strings.Builder
	b.WriteString("# Secrets of the Fabric CA registrars the xborder gateway registers API keys' identities with.\n" +
		"# Written by network/fabric/network.sh deploy; keep it private (mode 0600).\n" +
		"# Load it before `xborder gateway`: set -a; . ./" + GatewayEnvFile + "; set +a (or systemd EnvironmentFile=).\n")
	for _, o := range Orgs() {
		raw, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(o.CARegistrarSecretFile())))
		if err != nil {
			return fmt.Errorf("gateway files: organisation %s's registrar secret: %w", o.MSPID, err)
		}
		secret := strings.TrimSpace(string(raw))
		if secret == "" || strings.ContainsAny(secret, " \t\n'\"$\\`") {
			return fmt.Errorf("gateway files: organisation %s's registrar secret in %s is empty or not a plain token", o.MSPID, o.CARegistrarSecretFile())
		}
		fmt.Fprintf(&b, "%s=%s\n", CASecretEnv(o.MSPID), secret)
	}
	if err := config.WriteFileAtomic(filepath.Join(home, GatewayEnvFile), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("gateway files: %w", err)
	}
	return nil
}
