package devapp

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/xborder/xborder/gateway/fabricca"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/network/devnet/ca"
)

// startCAs opens the devnet's built-in CA of every peer organisation (registries under
// <data>/devnet/ca) and serves them on a loopback port, each under /<MSP ID>, speaking the
// Fabric CA REST subset; it returns the gateway's clients of them.
func (a *App) startCAs(dataDir string) (map[string]keys.CA, error) {
	var cas []*ca.CA
	for _, org := range a.Network.Crypto().PeerOrgs() {
		c, err := ca.Open(org.MSPID, org.Domain,
			filepath.Join(org.Dir, "ca", "ca."+org.Domain+"-cert.pem"), filepath.Join(org.Dir, "ca", "priv_sk"),
			filepath.Join(dataDir, "devnet", "ca", org.MSPID+".json"))
		if err != nil {
			return nil, fmt.Errorf("devapp: %w", err)
		}
		cas = append(cas, c)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devapp: CA listener: %w", err)
	}
	srv := &http.Server{Handler: ca.Mux(cas...), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }() // returns http.ErrServerClosed at Close
	a.caServer = srv
	a.CAURL = "http://" + l.Addr().String()
	clients := map[string]keys.CA{}
	for _, c := range cas {
		id, secret := c.Registrar()
		clients[c.MSPID()] = fabricca.New(a.CAURL+"/"+c.MSPID(), id, secret)
	}
	return clients, nil
}
