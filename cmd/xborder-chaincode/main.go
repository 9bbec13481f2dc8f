// Command xborder-chaincode runs the xborder chaincode.
//
// When CHAINCODE_SERVER_ADDRESS and CORE_CHAINCODE_ID_NAME are set it runs as a chaincode
// server (chaincode-as-a-service): the peer (or the devnet) dials it. TLS for the server is
// configured, in this order of precedence, by
//
//   - CHAINCODE_TLS_DISABLED ("true"/"false"), CHAINCODE_TLS_KEY, CHAINCODE_TLS_CERT and
//     CHAINCODE_CLIENT_CA_CERT (PEM file paths; the client CA enables mutual TLS), as in
//     Fabric's chaincode-as-a-service samples; when CHAINCODE_TLS_DISABLED is unset and none of
//     the files is given, then by
//   - CORE_PEER_TLS_ENABLED, CORE_TLS_CLIENT_KEY_FILE, CORE_TLS_CLIENT_CERT_FILE and
//     CORE_PEER_TLS_ROOTCERT_FILE, as contractapi reads them; TLS is off when none is set.
//
// Otherwise it runs as a classic peer-launched chaincode: the shim dials CORE_PEER_ADDRESS
// and reads its own CORE_PEER_TLS_* / CORE_TLS_CLIENT_* variables.
//
// XBORDER_MAX_CLOCK_SKEW sets how far a write proposal's timestamp may be from this endorsing
// peer's clock (a Go duration such as "5m" or "90s"; default 5m; "0" disables the check, see
// chaincode.WithMaxClockSkew).
package main

import (
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/xborder/xborder/chaincode"
)

func main() {
	if err := run(os.LookupEnv, os.ReadFile); err != nil {
		log.Fatalf("xborder-chaincode: %v", err)
	}
}

// run builds the chaincode and starts it in the mode the environment selects.
func run(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	skew, err := maxClockSkew(lookup)
	if err != nil {
		return err
	}
	cc, err := chaincode.NewChaincode(chaincode.WithMaxClockSkew(skew))
	if err != nil {
		return err
	}
	server, err := serverConfig(lookup, readFile)
	if err != nil {
		return err
	}
	if server == nil {
		if err := shim.Start(cc); err != nil {
			return fmt.Errorf("start classic chaincode: %w", err)
		}
		return nil
	}
	server.CC = cc
	log.Printf("xborder-chaincode: serving %s on %s (TLS disabled: %t)", server.CCID, server.Address, server.TLSProps.Disabled)
	if err := server.Start(); err != nil {
		return fmt.Errorf("serve chaincode on %s: %w", server.Address, err)
	}
	return nil
}

// maxClockSkewVariable names the environment variable of the endorsement-time clock check.
const maxClockSkewVariable = "XBORDER_MAX_CLOCK_SKEW"

// maxClockSkew reads XBORDER_MAX_CLOCK_SKEW: unset or empty means chaincode.DefaultMaxClockSkew,
// "0" disables the check, anything else must be a non-negative Go duration.
func maxClockSkew(lookup func(string) (string, bool)) (time.Duration, error) {
	v, _ := lookup(maxClockSkewVariable)
	if v == "" {
		return chaincode.DefaultMaxClockSkew, nil
	}
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s must be a non-negative duration such as \"5m\" or \"0\" (off), got %q", maxClockSkewVariable, v)
	}
	return d, nil
}

// serverConfig returns the chaincode server configuration when the environment asks for
// chaincode-as-a-service, or nil for classic mode.
func serverConfig(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (*shim.ChaincodeServer, error) {
	env := func(k string) string { v, _ := lookup(k); return v }
	address, ccid := env("CHAINCODE_SERVER_ADDRESS"), env("CORE_CHAINCODE_ID_NAME")
	if address == "" || ccid == "" {
		return nil, nil
	}
	tls, err := tlsProperties(lookup, readFile)
	if err != nil {
		return nil, err
	}
	return &shim.ChaincodeServer{CCID: ccid, Address: address, TLSProps: *tls}, nil
}

// tlsProperties reads the server's TLS material (see the package documentation).
func tlsProperties(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (*shim.TLSProperties, error) {
	e := tlsEnv{lookup: lookup, readFile: readFile}
	_, disabledSet := lookup("CHAINCODE_TLS_DISABLED")
	if disabledSet || e.get("CHAINCODE_TLS_KEY") != "" || e.get("CHAINCODE_TLS_CERT") != "" || e.get("CHAINCODE_CLIENT_CA_CERT") != "" {
		return e.caasTLS()
	}
	return e.peerTLS()
}

// tlsEnv reads TLS settings and PEM files named by environment variables.
type tlsEnv struct {
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
}

func (e tlsEnv) get(k string) string {
	v, _ := e.lookup(k)
	return v
}

// caasTLS follows Fabric's chaincode-as-a-service samples: CHAINCODE_TLS_*.
func (e tlsEnv) caasTLS() (*shim.TLSProperties, error) {
	if raw, set := e.lookup("CHAINCODE_TLS_DISABLED"); set {
		disabled, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("CHAINCODE_TLS_DISABLED must be true or false, got %q", raw)
		}
		if disabled {
			return &shim.TLSProperties{Disabled: true}, nil
		}
	}
	return e.files("CHAINCODE_TLS_KEY", "CHAINCODE_TLS_CERT", "CHAINCODE_CLIENT_CA_CERT")
}

// peerTLS follows contractapi: CORE_PEER_TLS_ENABLED and CORE_TLS_CLIENT_*; TLS is off when
// none is set.
func (e tlsEnv) peerTLS() (*shim.TLSProperties, error) {
	raw := e.get("CORE_PEER_TLS_ENABLED")
	if raw == "" {
		return &shim.TLSProperties{Disabled: true}, nil
	}
	enabled, err := strconv.ParseBool(raw)
	if err != nil {
		return nil, fmt.Errorf("CORE_PEER_TLS_ENABLED must be true or false, got %q", raw)
	}
	if !enabled {
		return &shim.TLSProperties{Disabled: true}, nil
	}
	return e.files("CORE_TLS_CLIENT_KEY_FILE", "CORE_TLS_CLIENT_CERT_FILE", "CORE_PEER_TLS_ROOTCERT_FILE")
}

// files reads the server's key and certificate (required) and the client CA (optional: it
// enables mutual TLS) from the PEM files the variables name.
func (e tlsEnv) files(keyVar, certVar, caVar string) (*shim.TLSProperties, error) {
	key, err := e.read(keyVar, true)
	if err != nil {
		return nil, err
	}
	cert, err := e.read(certVar, true)
	if err != nil {
		return nil, err
	}
	ca, err := e.read(caVar, false)
	if err != nil {
		return nil, err
	}
	return &shim.TLSProperties{Key: key, Cert: cert, ClientCACerts: ca}, nil
}

// read returns the content of the file variable names (nil when it names none and is not
// required).
func (e tlsEnv) read(variable string, required bool) ([]byte, error) {
	path := e.get(variable)
	if path == "" {
		if required {
			return nil, fmt.Errorf("%s must name a PEM file when TLS is enabled", variable)
		}
		return nil, nil
	}
	b, err := e.readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", variable, err)
	}
	return b, nil
}
