package fabric

import (
	"fmt"
	"sync"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"

	"github.com/xborder/xborder/gateway"
)

// userGateways holds one SDK gateway per user identity of the wallet (gateway.Caller.Identity),
// made at the identity's first request over its organisation's connection and kept until
// ForgetIdentity.
type userGateways struct {
	mu       sync.Mutex
	gateways map[string]*client.Gateway
}

// gatewayOf returns the SDK gateway a caller's requests are signed by: the caller's own
// identity's when it has one, else its organisation's.
func (c *Client) gatewayOf(caller gateway.Caller) (*client.Gateway, error) {
	if caller.Identity == "" {
		gw, ok := c.gateways[caller.MSPID]
		if !ok {
			return nil, &gateway.Error{Code: gateway.CodeForbidden,
				Message: fmt.Sprintf("this gateway holds no Fabric identity for %s", caller.MSPID)}
		}
		return gw, nil
	}
	c.users.mu.Lock()
	defer c.users.mu.Unlock()
	if gw, ok := c.users.gateways[caller.Identity]; ok {
		return gw, nil
	}
	gw, err := c.connectUser(caller)
	if err != nil {
		return nil, err
	}
	c.users.gateways[caller.Identity] = gw
	return gw, nil
}

// connectUser loads a user identity from the wallet and connects an SDK gateway for it.
func (c *Client) connectUser(caller gateway.Caller) (*client.Gateway, error) {
	if c.opts.Wallet == nil {
		return nil, gateway.Errorf(gateway.CodeUnavailable, "this gateway keeps no wallet of user identities")
	}
	conn, ok := c.conns[caller.MSPID]
	if !ok {
		return nil, &gateway.Error{Code: gateway.CodeForbidden,
			Message: fmt.Sprintf("this gateway holds no Fabric identity for %s", caller.MSPID)}
	}
	wi, err := c.opts.Wallet.WalletIdentity(caller.Identity)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeUnavailable, Message: "the API key's Fabric identity is not in the wallet", Err: err}
	}
	if wi.MSPID != caller.MSPID {
		return nil, gateway.Errorf(gateway.CodeForbidden, "the API key's Fabric identity belongs to %s, not %s", wi.MSPID, caller.MSPID)
	}
	cert, err := identity.CertificateFromPEM(wi.CertificatePEM)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "the wallet identity's certificate is unreadable", Err: err}
	}
	key, err := identity.PrivateKeyFromPEM(wi.PrivateKeyPEM)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "the wallet identity's private key is unreadable", Err: err}
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "the wallet identity cannot sign", Err: err}
	}
	gw, err := c.connect(Org{MSPID: caller.MSPID, Certificate: cert, Sign: sign, Conn: conn})
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot connect the API key's Fabric identity", Err: err}
	}
	return gw, nil
}

// ForgetIdentity closes the SDK gateway of a user identity, if one is open: its next request
// loads the identity from the wallet again (after a rotation, the new certificate; after a
// revocation, none). Requests in flight finish with the identity they started with.
func (c *Client) ForgetIdentity(id string) {
	c.users.mu.Lock()
	gw, ok := c.users.gateways[id]
	delete(c.users.gateways, id)
	c.users.mu.Unlock()
	if ok {
		// The connection is the organisation's (not closed); Close releases the gateway only.
		_ = gw.Close()
	}
}
