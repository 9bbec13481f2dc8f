package config_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/config"
)

func TestLoadOrCreateCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds.json")
	random := bytes.NewReader(bytes.Repeat([]byte{0xab}, 48))
	creds, err := config.LoadOrCreateCredentials(path, []string{"BankMSP", "MerchantMSP"}, random)
	require.NoError(t, err)
	require.Len(t, creds, 2)
	require.Equal(t, "xb_"+string(bytes.Repeat([]byte("ab"), 24)), creds["BankMSP"])
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	t.Run("keys already there are kept; a new organisation gets one", func(t *testing.T) {
		again, err := config.LoadOrCreateCredentials(path, []string{"BankMSP", "MerchantMSP", "CustomsMSP"}, bytes.NewReader(make([]byte, 24)))
		require.NoError(t, err)
		require.Equal(t, creds["BankMSP"], again["BankMSP"])
		require.Equal(t, creds["MerchantMSP"], again["MerchantMSP"])
		require.Len(t, again["CustomsMSP"], 51)
		var onDisk map[string]string
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &onDisk))
		require.Equal(t, again, onDisk)
	})
	for _, tc := range []struct {
		name, content, want string
	}{
		{"corrupt file", "{", "parse"},
		{"no randomness", "{}", "generate API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "creds.json")
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o600))
			_, err := config.LoadOrCreateCredentials(p, []string{"BankMSP"}, bytes.NewReader(nil))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
