package fabric

// GatewayTLSDir is the directory, under the network's home, of the REST gateway's TLS files
// (WriteGatewayTLS): ca.crt, server.crt, server.key, client.crt and client.key.
const GatewayTLSDir = "gateway-tls"

// WriteGatewayTLS creates the REST gateway's TLS material in opts.Dir: a CA of its own (not an
// organisation's Fabric TLS CA, whose key the Fabric CA mode does not keep on disk), a server
// certificate for opts.Hosts, and one client certificate that mutual TLS accepts. The file
// names are those of WriteChaincodeTLS.
func WriteGatewayTLS(opts ChaincodeTLSOptions) error {
	return writeTLSSet(opts, tlsNames{ca: "xborder REST gateway TLS CA", server: "xborder-gateway", client: "xborder gateway client"})
}
