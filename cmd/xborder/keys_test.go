package main

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/internal/devapp"
)

var keyLine = regexp.MustCompile(`(?m)^\s+(xbk_[0-9a-f]{48})$`)
var idLine = regexp.MustCompile(`(?m)^id:\s+(k-[0-9a-f]{16})$`)

// keysCLI runs `xborder keys args...` and returns its output (stderr when want is not 0).
func keysCLI(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errOut lockedBuffer
	args = append([]string{"keys"}, args...)
	code := run(context.Background(), args, &out, &errOut)
	require.Equal(t, want, code, "xborder %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.String(), errOut.String())
	if want != 0 {
		return errOut.String()
	}
	return out.String()
}

// TestKeysCommandDataDir manages keys in a stopped gateway's data directory: the key is shown
// once, kept hashed, listed, labelled and revoked.
func TestKeysCommandDataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "gateway.db"))
	require.NoError(t, err)
	require.NoError(t, st.Close())

	out := keysCLI(t, 0, "create", "--data-dir", dir, "--org", "MerchantMSP", "--label", "ops", "--admin", "--merchants", "m-1,m-2")
	key, id := keyLine.FindStringSubmatch(out), idLine.FindStringSubmatch(out)
	require.Len(t, key, 2, out)
	require.Len(t, id, 2, out)
	out = keysCLI(t, 0, "list", "--data-dir", dir, "--org", "MerchantMSP")
	require.Contains(t, out, id[1])
	require.Contains(t, out, "m-1,m-2")
	require.NotContains(t, out, key[1], "the key is shown only once")
	require.Contains(t, keysCLI(t, 0, "label", id[1], "--label", "ops team", "--data-dir", dir, "--org", "MerchantMSP"), "ops team")

	authenticate := func() error {
		st, err := store.Open(filepath.Join(dir, "gateway.db"))
		require.NoError(t, err)
		defer st.Close()
		_, err = keys.New(st, []string{"MerchantMSP"}).Authenticate(context.Background(), key[1])
		return err
	}
	require.NoError(t, authenticate())
	require.Contains(t, keysCLI(t, 0, "revoke", id[1], "--data-dir", dir, "--org", "MerchantMSP"), "revoked")
	require.Equal(t, gateway.CodeUnauthenticated, gateway.ErrorCode(authenticate()))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "a command is required"},
		{"unknown command", []string{"drop"}, "unknown command"},
		{"revoke without ID", []string{"revoke", "--data-dir", dir, "--org", "MerchantMSP"}, "needs a key ID"},
		{"label without --label", []string{"label", id[1], "--data-dir", dir, "--org", "MerchantMSP"}, "needs --label"},
		{"data dir without org", []string{"create", "--data-dir", dir}, "needs --org"},
		{"own identity offline", []string{"create", "--data-dir", dir, "--org", "MerchantMSP", "--own-identity"}, "admin API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, keysCLI(t, 2, tc.args...), tc.want)
		})
	}
	require.Contains(t, keysCLI(t, 1, "create", "--data-dir", dir, "--org", "MerchantMSP", "--merchants", "bad merchant"), "merchants")
}

// TestKeysCommandAPI manages keys of a running dev system through the admin API, with an
// identity of the key's own from the devnet's CA.
func TestKeysCommandAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the whole dev system")
	}
	data := t.TempDir()
	app, err := devapp.Start(context.Background(), devapp.Config{DataDir: data, HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer func() { require.NoError(t, app.Close()) }()
	api := []string{"--api", app.URL, "--org", "MerchantMSP", "--data", data}

	out := keysCLI(t, 0, append([]string{"create", "--label", "shop", "--merchants", "shop-a", "--own-identity"}, api...)...)
	key, id := keyLine.FindStringSubmatch(out), idLine.FindStringSubmatch(out)
	require.Len(t, key, 2, out)
	require.Regexp(t, `identity:\s+`+id[1], out)
	require.Contains(t, keysCLI(t, 0, append([]string{"list"}, api...)...), id[1])
	require.Contains(t, keysCLI(t, 0, append([]string{"rotate", id[1]}, api...)...), "certificate serial")

	get := func() int {
		req, err := http.NewRequest(http.MethodGet, app.URL+"/api/v1/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key[1])
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res.StatusCode
	}
	require.Equal(t, http.StatusOK, get())
	keysCLI(t, 0, append([]string{"revoke", id[1]}, api...)...)
	require.Equal(t, http.StatusUnauthorized, get())
	require.Contains(t, keysCLI(t, 1, append([]string{"list", "--key", key[1]}, api...)...), "401")
}
