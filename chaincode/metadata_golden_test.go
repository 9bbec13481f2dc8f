package chaincode_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// updateMetadata rewrites testdata/metadata.json from the chaincode (go test -run
// TestMetadataPinned ./chaincode -update-metadata) after a deliberate change of the contract API.
var updateMetadata = flag.Bool("update-metadata", false, "rewrite testdata/metadata.json")

// TestMetadataPinned pins the whole answer of org.hyperledger.fabric:GetMetadata (transactions,
// parameters, return and component schemas, info) to testdata/metadata.json, so that no change
// of how the chaincode dispatches or validates calls changes the contract API clients see.
func TestMetadataPinned(t *testing.T) {
	e := lcNew(t)
	res := e.evaluate(chaincode.RegulatorMSP, "org.hyperledger.fabric:GetMetadata")
	require.Equal(t, int32(200), res.Status, res.Message)
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, res.Payload, "", "  "))
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "metadata.json")
	if *updateMetadata {
		require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o600))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), pretty.String(), "the contract metadata changed; if deliberate, rerun with -update-metadata")
}
