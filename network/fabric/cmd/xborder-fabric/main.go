// Command xborder-fabric builds the artefacts network.sh deploys to a real Fabric network:
//
//	xborder-fabric package --out FILE [--label LABEL] [--tls]
//	    writes the chaincode-as-a-service package and prints its package ID
//	xborder-fabric gateway-config --home DIR [--peer-host HOST] [--listen ADDR] [--data-dir DIR]
//	                              [--tls none|tls|mtls] [--tls-hosts H1,H2] [--fabric-ca]
//	    writes DIR/gateway.yaml, DIR/credentials.json and DIR/store.keys for `xborder gateway
//	    --config` (with TLS, the gateway's own CA and certificates in DIR/gateway-tls; with
//	    --fabric-ca, each organisation's Fabric CA and DIR/gateway.env with the registrars' secrets)
//	xborder-fabric chaincode-tls --dir DIR [--hosts 127.0.0.1,localhost]
//	    writes a CA, the chaincode server's certificate and the peers' client certificate
//	xborder-fabric builder-config --address HOST:PORT [--tls-dir DIR]
//	    prints a peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG
package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/xborder/xborder/network/fabric"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xborder-fabric:", err)
		os.Exit(1)
	}
}

const usage = "usage: xborder-fabric package --out FILE [--label LABEL] [--tls]" +
	" | gateway-config --home DIR [--peer-host HOST] [--listen ADDR] [--data-dir DIR] [--tls none|tls|mtls] [--tls-hosts H1,H2] [--fabric-ca]" +
	" | chaincode-tls --dir DIR [--hosts H1,H2]" +
	" | builder-config --address HOST:PORT [--tls-dir DIR]"

// run executes one subcommand.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "package":
		return runPackage(args[1:], stdout, stderr)
	case "gateway-config":
		return runGatewayConfig(args[1:], stdout, stderr)
	case "chaincode-tls":
		return runChaincodeTLS(args[1:], stderr)
	case "builder-config":
		return runBuilderConfig(args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
}

func runPackage(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the package to")
	label := fs.String("label", fabric.ChaincodeLabel, "package label")
	tls := fs.Bool("tls", false, "mutual TLS between the peers and the chaincode server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New(usage)
	}
	conn := fabric.DefaultConnection()
	if *tls {
		conn = fabric.TLSConnection()
	}
	pkg, err := fabric.BuildPackage(*label, conn)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, pkg, 0o644); err != nil { // #nosec G306 -- a chaincode package is public
		return fmt.Errorf("write package: %w", err)
	}
	_, err = fmt.Fprintln(stdout, fabric.PackageID(*label, pkg))
	return err
}

func runGatewayConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "network home directory (XBORDER_FABRIC_HOME)")
	peerHost := fs.String("peer-host", "127.0.0.1", "host to dial the peers on; empty for their own host names")
	listen := fs.String("listen", "127.0.0.1:8080", "gateway HTTP listen address")
	dataDir := fs.String("data-dir", "gateway-data", "gateway state directory")
	tlsMode := fs.String("tls", "none", "REST listener: none (plain HTTP), tls, or mtls (client certificates too)")
	tlsHosts := fs.String("tls-hosts", "127.0.0.1,localhost", "host names and addresses of the server certificate")
	fabricCA := fs.Bool("fabric-ca", false, "the organisations' Fabric CAs (network.sh XBORDER_FABRIC_CRYPTO=ca): managed API keys get identities of their own")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *home == "" || fs.NArg() > 0 {
		return errors.New(usage)
	}
	mode := *tlsMode
	if mode == "none" {
		mode = fabric.GatewayTLSOff
	}
	creds, err := fabric.WriteGatewayFiles(fabric.GatewayOptions{
		Home: *home, PeerHost: *peerHost, Listen: *listen, DataDir: *dataDir, Random: rand.Reader,
		TLS: mode, TLSHosts: strings.Split(*tlsHosts, ","), FabricCA: *fabricCA,
	})
	if err != nil {
		return err
	}
	orgs := make([]string, 0, len(creds))
	for org := range creds {
		orgs = append(orgs, org)
	}
	sort.Strings(orgs)
	if _, err = fmt.Fprintf(stdout, "wrote %s and %s for %v\n", fabric.GatewayConfigFile, fabric.CredentialsFile, orgs); err != nil {
		return err
	}
	if *fabricCA {
		_, err = fmt.Fprintf(stdout, "wrote %s (mode 0600) with the Fabric CA registrars' secrets\n", fabric.GatewayEnvFile)
	}
	return err
}

func runChaincodeTLS(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaincode-tls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the PEM files")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated names and addresses of the chaincode server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return errors.New(usage)
	}
	return fabric.WriteChaincodeTLS(fabric.ChaincodeTLSOptions{
		Dir: *dir, Hosts: strings.Split(*hosts, ","), Random: rand.Reader, Now: time.Now(), Validity: 5 * 365 * 24 * time.Hour,
	})
}

func runBuilderConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("builder-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	address := fs.String("address", "", "chaincode server address the peer dials")
	tlsDir := fs.String("tls-dir", "", "directory written by chaincode-tls (empty: plaintext)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *address == "" || fs.NArg() > 0 {
		return errors.New(usage)
	}
	cfg, err := fabric.BuilderConfig(*address, *tlsDir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, cfg)
	return err
}
