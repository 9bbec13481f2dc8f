package store_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

// TestAPIKeys stores managed keys by hash only, finds them by hash, updates them and keeps
// them across a reopen.
func TestAPIKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	s, err := store.Open(path)
	require.NoError(t, err)
	secret, id, err := gateway.NewManagedKey()
	require.NoError(t, err)
	k := gateway.APIKey{ID: id, MSPID: "MerchantMSP", Label: "shop", Merchants: []string{"m-1"}, SHA256: gateway.KeyHash(secret),
		CreatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	require.NoError(t, s.CreateAPIKey(k))
	require.Equal(t, gateway.CodeConflict, gateway.ErrorCode(s.CreateAPIKey(k)), "the same key twice")

	got, found, err := s.APIKeyByHash(gateway.KeyHash(secret))
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, k, got)
	_, found, err = s.APIKeyByHash(gateway.KeyHash("xbk_other"))
	require.NoError(t, err)
	require.False(t, found)

	now := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	got, err = s.UpdateAPIKey(id, func(k *gateway.APIKey) error { k.RevokedAt, k.ID, k.SHA256 = &now, "k-other", "x"; return nil })
	require.NoError(t, err)
	require.Equal(t, id, got.ID, "the ID cannot change")
	require.True(t, got.Revoked())
	_, err = s.UpdateAPIKey("k-missing", func(*gateway.APIKey) error { return nil })
	require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))

	list, err := s.APIKeys("BankMSP")
	require.NoError(t, err)
	require.Empty(t, list)
	require.NoError(t, s.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.False(t, bytes.Contains(raw, []byte(secret)), "the key itself is never stored")

	s, err = store.Open(path)
	require.NoError(t, err)
	defer s.Close()
	list, err = s.APIKeys("MerchantMSP")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, list[0].Revoked())
}

// TestWalletSealed keeps a wallet identity's private key and enrolment secret sealed with the
// store keys: they are not in the file, and a store without the keys cannot read them.
func TestWalletSealed(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		t.Run(map[bool]string{true: "sealed", false: "clear"}[sealed], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway.db")
			var opts []store.Option
			if sealed {
				line, err := store.NewKeyLine("k1", rand.Reader)
				require.NoError(t, err)
				kr, err := store.ParseKeyring([]byte(line + "\n"))
				require.NoError(t, err)
				opts = append(opts, store.WithKeyring(kr))
			}
			s, err := store.Open(path, opts...)
			require.NoError(t, err)
			id := gateway.WalletIdentity{ID: "k-1", MSPID: "MerchantMSP", CertificatePEM: []byte("CERT"),
				PrivateKeyPEM: []byte("PRIVATE-KEY-MATERIAL"), Secret: "enrolment-secret-123"}
			require.NoError(t, s.PutWalletIdentity(id))
			got, err := s.WalletIdentity("k-1")
			require.NoError(t, err)
			require.Equal(t, id, got)
			_, err = s.WalletIdentity("k-2")
			require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))
			require.NoError(t, s.Close())

			if !sealed {
				return
			}
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.False(t, bytes.Contains(raw, []byte("enrolment-secret-123")))
			s, err = store.Open(path)
			require.NoError(t, err)
			defer s.Close()
			_, err = s.WalletIdentity("k-1")
			require.ErrorContains(t, err, "sealed")
			require.NoError(t, s.DeleteWalletIdentity("k-1"))
			_, err = s.WalletIdentity("k-1")
			require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))
		})
	}
}
