package msp

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVerifiedSignatureCache checks that the manager remembers successful verifications only:
// a repeated valid signature is a cache hit, and a bad signature is rejected every time it is
// presented, also after the valid one was cached, for the same identity and message.
func TestVerifiedSignatureCache(t *testing.T) {
	cfg := shared(t)
	merchant := cfg.Org("MerchantMSP").User.Signer
	bank := cfg.Org("BankMSP").User.Signer
	msg := []byte("cached payload")
	sig, err := merchant.Sign(msg)
	require.NoError(t, err)
	bankSig, err := bank.Sign(msg)
	require.NoError(t, err)
	tampered := append([]byte(nil), sig...)
	tampered[len(tampered)-1] ^= 0x01

	type call struct {
		serialized, msg, sig []byte
		wantErr              bool
	}
	tests := []struct {
		name      string
		calls     []call
		wantCache int
	}{
		{"valid twice is cached once", []call{
			{merchant.Serialize(), msg, sig, false},
			{merchant.Serialize(), msg, sig, false},
		}, 1},
		{"failures are not cached", []call{
			{merchant.Serialize(), msg, tampered, true},
			{merchant.Serialize(), msg, tampered, true},
		}, 0},
		{"a cached signature does not vouch for another message", []call{
			{merchant.Serialize(), msg, sig, false},
			{merchant.Serialize(), []byte("other payload"), sig, true},
		}, 1},
		{"a cached signature does not vouch for another identity", []call{
			{merchant.Serialize(), msg, sig, false},
			{bank.Serialize(), msg, sig, true},
			{bank.Serialize(), msg, bankSig, false},
		}, 2},
		{"a tampered signature fails after the valid one is cached", []call{
			{merchant.Serialize(), msg, sig, false},
			{merchant.Serialize(), msg, tampered, true},
			{merchant.Serialize(), msg, sig, false},
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mgr, err := cfg.Manager()
			require.NoError(t, err)
			for i, c := range tc.calls {
				err := mgr.Verify(c.serialized, c.msg, c.sig)
				if c.wantErr {
					require.Error(t, err, "call %d", i)
				} else {
					require.NoError(t, err, "call %d", i)
				}
			}
			require.Equal(t, tc.wantCache, mgr.verified.len())
		})
	}
}

// TestSigCacheBounded checks that the cache keeps at most two generations of entries and that
// recently used entries survive a rotation.
func TestSigCacheBounded(t *testing.T) {
	c := newSigCache()
	key := func(i int) sigKey {
		d := sha256.Sum256([]byte(fmt.Sprint(i)))
		return c.key([]byte("id"), &d, []byte("sig"))
	}
	first := key(-1)
	c.add(first)
	for i := range 3 * maxVerified {
		c.add(key(i))
		if i%1000 == 0 {
			require.True(t, c.contains(first), "entry %d", i)
		}
	}
	require.LessOrEqual(t, c.len(), 2*maxVerified)
	require.False(t, c.contains(key(0)), "the oldest entries are dropped")
	require.True(t, c.contains(key(3*maxVerified-1)))
}

// TestRememberSignature checks that a signature the process made itself and remembered is
// accepted from the cache, and that the record vouches for nothing else: another message, a
// tampered signature or another identity are verified in full and fail.
func TestRememberSignature(t *testing.T) {
	cfg := shared(t)
	peer := cfg.Org("BankMSP").Node.Signer
	other := cfg.Org("CarrierMSP").Node.Signer
	msg := []byte("proposal response payload || endorser")
	sig, err := peer.Sign(msg)
	require.NoError(t, err)
	tampered := append([]byte(nil), sig...)
	tampered[len(tampered)-1] ^= 0x01

	tests := []struct {
		name                 string
		serialized, msg, sig []byte
		wantErr              bool
	}{
		{"the remembered signature", peer.Serialize(), msg, sig, false},
		{"another message", peer.Serialize(), []byte("altered payload"), sig, true},
		{"a tampered signature", peer.Serialize(), msg, tampered, true},
		{"another identity", other.Serialize(), msg, sig, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mgr, err := cfg.Manager()
			require.NoError(t, err)
			mgr.RememberSignature(peer.Serialize(), msg, sig)
			require.Equal(t, 1, mgr.verified.len())
			err = mgr.Verify(tc.serialized, tc.msg, tc.sig)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, 1, mgr.verified.len(), "only successes are cached, and the hit adds nothing")
		})
	}
}
