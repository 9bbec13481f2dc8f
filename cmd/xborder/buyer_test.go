package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// TestBuyerCommand: keygen writes a private key (never over an existing file) and prints the
// public JWK; sign prints a statement body the chaincode parses and verifies with that key.
func TestBuyerCommand(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "buyer.json")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"buyer", "keygen", "--out", keyFile}, &out, &errOut), errOut.String())
	var pub chaincode.BuyerKey
	require.NoError(t, json.Unmarshal(out.Bytes(), &pub))
	require.Contains(t, errOut.String(), pub.Thumbprint())
	info, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.NotContains(t, out.String(), `"d"`, "the private key is not printed")
	require.Equal(t, 1, run(context.Background(), []string{"buyer", "keygen", "--out", keyFile}, &out, &errOut), "no overwrite")

	for _, action := range []string{chaincode.StatementConfirmReceipt, chaincode.StatementOpenDispute, chaincode.StatementCancelLate} {
		t.Run(action, func(t *testing.T) {
			out.Reset()
			errOut.Reset()
			args := []string{"buyer", "sign", "--key", keyFile, "--order", "order-7", "--version", "4", "--action", action, "--expires", "2h"}
			if action == chaincode.StatementOpenDispute {
				args = append(args, "--reason", "arrived broken")
			}
			require.Equal(t, 0, run(context.Background(), args, &out, &errOut), errOut.String())
			var body struct{ Statement, Signature string }
			require.NoError(t, json.Unmarshal(out.Bytes(), &body))
			st, err := chaincode.ParseBuyerStatement(body.Statement)
			require.NoError(t, err)
			require.Equal(t, "order-7", st.OrderID)
			require.Equal(t, int64(4), st.OrderVersion)
			require.NoError(t, chaincode.VerifyBuyerStatement(&pub, body.Statement, body.Signature))
		})
	}
	require.Equal(t, 2, run(context.Background(), []string{"buyer", "sign", "--key", keyFile, "--order", "o", "--version", "1", "--action", "OPEN_DISPUTE"}, &out, &errOut),
		"a dispute needs a reason")
	require.Equal(t, 2, run(context.Background(), []string{"buyer"}, &out, &errOut))
	require.Equal(t, 2, run(context.Background(), []string{"buyer", "pay"}, &out, &errOut))
}
