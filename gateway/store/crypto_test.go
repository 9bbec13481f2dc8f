package store

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKeyring(t *testing.T) {
	keyA := Key{ID: "a", Secret: bytes.Repeat([]byte{1}, KeySize)}
	keyB := Key{ID: "b", Secret: bytes.Repeat([]byte{2}, KeySize)}
	aad := []byte("record-1")

	t.Run("sealed with the newest key, opened by any ring holding that key", func(t *testing.T) {
		old, err := NewKeyring(keyA)
		require.NoError(t, err)
		sealed, err := old.Seal([]byte("Ada Lovelace"), aad)
		require.NoError(t, err)
		require.NotContains(t, string(sealed), "Ada")
		id, err := SealedKeyID(sealed)
		require.NoError(t, err)
		require.Equal(t, "a", id)

		rotated, err := NewKeyring(keyA, keyB)
		require.NoError(t, err)
		require.Equal(t, "b", rotated.Current())
		plain, err := rotated.Open(sealed, aad)
		require.NoError(t, err)
		require.Equal(t, "Ada Lovelace", string(plain))
		fresh, err := rotated.Seal([]byte("Grace Hopper"), aad)
		require.NoError(t, err)
		id, _ = SealedKeyID(fresh)
		require.Equal(t, "b", id, "new values use the newest key")

		retired, err := NewKeyring(keyB)
		require.NoError(t, err)
		_, err = retired.Open(sealed, aad)
		require.ErrorContains(t, err, `key "a" is not in the keyring`)
	})
	t.Run("a value opens only with its own associated data and untouched", func(t *testing.T) {
		k, err := NewKeyring(keyA)
		require.NoError(t, err)
		sealed, err := k.Seal([]byte("secret"), aad)
		require.NoError(t, err)
		_, err = k.Open(sealed, []byte("record-2"))
		require.Error(t, err)
		tampered := bytes.Clone(sealed)
		tampered[len(tampered)-1] ^= 1
		_, err = k.Open(tampered, aad)
		require.Error(t, err)
		_, err = k.Open([]byte("plain"), aad)
		require.ErrorContains(t, err, "not a sealed value")
	})
	t.Run("bad keys are refused with what is wrong", func(t *testing.T) {
		for _, tc := range []struct {
			name, text, want string
		}{
			{"no key", "# only a comment\n", "at least one key"},
			{"no separator", "abc\n", "want <id>:<base64 key>"},
			{"not base64", "k1:***\n", `key "k1" is not valid base64`},
			{"short key", "k1:" + b64(16) + "\n", "must be 32 bytes, got 16"},
			{"duplicate ID", "k1:" + b64(32) + "\nk1:" + b64(32) + "\n", `duplicate key ID "k1"`},
			{"bad ID", "bad id:" + b64(32) + "\n", "must be 1 to 64 letters"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := ParseKeyring([]byte(tc.text))
				require.ErrorContains(t, err, tc.want)
				require.NotContains(t, err.Error(), b64(32), "no key material in errors")
			})
		}
	})
	t.Run("a key file lists keys oldest first, also comma-separated", func(t *testing.T) {
		k, err := ParseKeyring([]byte("# keys\nold:" + b64(32) + "\n\nnew:" + b64(32) + ", newer:" + b64(32) + "\n"))
		require.NoError(t, err)
		require.Equal(t, []string{"old", "new", "newer"}, k.IDs())
		require.Equal(t, "newer", k.Current())
	})
	t.Run("the key file must be private to its owner", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "store.keys")
		line, err := NewKeyLine("k1", rand.Reader)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, []byte(line+"\n"), 0o644))
		_, err = LoadKeyringFile(path)
		require.ErrorContains(t, err, "chmod 600")
		require.NoError(t, os.Chmod(path, 0o600))
		k, err := LoadKeyringFile(path)
		require.NoError(t, err)
		require.Equal(t, "k1", k.Current())
	})
	t.Run("a missing key file is created once with a new key (mode 0600)", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "store.keys")
		now := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
		k1, err := LoadOrCreateKeyringFile(path, rand.Reader, now)
		require.NoError(t, err)
		require.Equal(t, "k20261105", k1.Current())
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		first, err := os.ReadFile(path)
		require.NoError(t, err)

		_, err = LoadOrCreateKeyringFile(path, rand.Reader, now.Add(48*time.Hour))
		require.NoError(t, err)
		again, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, first, again, "the key is kept across restarts")
	})
}

// b64 is the base64 of n bytes of 0x5a.
func b64(n int) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, n))
}
