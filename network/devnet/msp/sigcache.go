package msp

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// maxVerified bounds the number of successful signature verifications one generation of the
// verified-signature cache remembers; the cache holds at most two generations.
const maxVerified = 16384

// sigKey identifies one (identity, message, signature) triple: the SHA-256 of the
// length-prefixed serialized identity, the SHA-256 of the message and the signature.
type sigKey [sha256.Size]byte

// sigCache remembers signatures that verified, so that a signature checked twice on its way
// through the network (the transaction creator's signature at broadcast and again at commit
// validation) costs one ECDSA verification. Only successes are stored: a signature that did
// not verify is verified again every time it is presented. It keeps two generations of at
// most maxVerified entries each and drops the older one when the newer is full, so memory is
// bounded and recently used entries survive a rotation.
type sigCache struct {
	mu   sync.Mutex
	cur  map[sigKey]struct{}
	prev map[sigKey]struct{}
}

func newSigCache() *sigCache {
	return &sigCache{cur: make(map[sigKey]struct{}, 64)}
}

// key derives the cache key of (identity, digest, sig); digest is the SHA-256 of the message.
func (c *sigCache) key(identity []byte, digest *[sha256.Size]byte, sig []byte) sigKey {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(identity)))
	h.Write(n[:])
	h.Write(identity)
	h.Write(digest[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(sig)))
	h.Write(n[:])
	h.Write(sig)
	var k sigKey
	h.Sum(k[:0])
	return k
}

func (c *sigCache) contains(k sigKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	if _, ok := c.prev[k]; ok {
		c.addLocked(k)
		return true
	}
	return false
}

func (c *sigCache) add(k sigKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(k)
}

func (c *sigCache) addLocked(k sigKey) {
	if len(c.cur) >= maxVerified {
		c.prev, c.cur = c.cur, make(map[sigKey]struct{}, maxVerified)
	}
	c.cur[k] = struct{}{}
}

func (c *sigCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}

// verifyCached checks sig over msg with pub, consulting and filling c (nil: no cache) for the
// identity serialized as identity.
func (c *sigCache) verifyCached(identity []byte, pub *ecdsa.PublicKey, msg, sig []byte) error {
	digest := sha256.Sum256(msg)
	if c == nil {
		return verifyDigest(pub, &digest, sig)
	}
	k := c.key(identity, &digest, sig)
	if c.contains(k) {
		return nil
	}
	if err := verifyDigest(pub, &digest, sig); err != nil {
		return err
	}
	c.add(k)
	return nil
}

// RememberSignature records that sig is a valid signature over msg by the identity serialized
// as serialized, without verifying it. It is for signatures this process has just made itself
// with that identity's own private key (the devnet's peers endorsing a proposal response):
// the commit-time check of such an endorsement then costs no second ECDSA operation, while an
// endorsement altered on its way back (a different identity, message or signature) misses the
// cache and is verified in full. Never call it with a signature received from elsewhere.
func (m *Manager) RememberSignature(serialized, msg, sig []byte) {
	digest := sha256.Sum256(msg)
	m.verified.add(m.verified.key(serialized, &digest, sig))
}
