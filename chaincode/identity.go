package chaincode

import (
	"bytes"
	"sync"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
)

// identityCacheSize bounds the identities an identityCache keeps. A channel has few submitting
// identities (a gateway's, an organisation's clients); when more than this many appear, the
// cache starts over rather than growing without bound.
const identityCacheSize = 256

// identityCache keeps the parsed creator identity of each serialized creator (msp.SerializedIdentity
// bytes) seen, so that a transaction does not parse the same X.509 certificate (and render its
// subject and issuer) again. Parsing is a pure function of the bytes, so every transaction sees
// exactly what cid.New would have given it. It is safe for concurrent use.
type identityCache struct {
	mu         sync.Mutex
	identities map[string]*cachedIdentity
}

// creatorBytes is the part of a stub cid reads: the serialized creator.
type creatorBytes []byte

// GetCreator returns the serialized creator.
func (c creatorBytes) GetCreator() ([]byte, error) { return c, nil }

// get returns the identity of the stub's creator, or false when the creator cannot be read or
// parsed (the caller then leaves the transaction to contractapi, which reports it as before).
func (c *identityCache) get(stub cid.ChaincodeStubInterface) (*cachedIdentity, bool) {
	creator, err := stub.GetCreator()
	if err != nil || creator == nil {
		return nil, false
	}
	c.mu.Lock()
	ci := c.identities[string(creator)]
	c.mu.Unlock()
	if ci != nil {
		return ci, true
	}
	owned := bytes.Clone(creator)
	parsed, err := cid.New(creatorBytes(owned))
	if err != nil {
		return nil, false
	}
	ci = &cachedIdentity{ClientID: parsed}
	ci.id, ci.idErr = parsed.GetID()
	c.mu.Lock()
	if c.identities == nil || len(c.identities) >= identityCacheSize {
		c.identities = make(map[string]*cachedIdentity)
	}
	c.identities[string(owned)] = ci
	c.mu.Unlock()
	return ci, true
}

// cachedIdentity is a parsed creator identity (cid.ClientID) with its ID rendered once.
type cachedIdentity struct {
	*cid.ClientID
	id    string
	idErr error
}

// GetID returns the identity's ID as cid.ClientID.GetID renders it.
func (c *cachedIdentity) GetID() (string, error) { return c.id, c.idErr }
