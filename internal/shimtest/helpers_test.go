package shimtest_test

import (
	"encoding/base64"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
)

// ccFunc adapts a function to shim.Chaincode, for tests that drive the stub
// directly.
type ccFunc func(stub shim.ChaincodeStubInterface) *peer.Response

func (f ccFunc) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (f ccFunc) Invoke(stub shim.ChaincodeStubInterface) *peer.Response { return f(stub) }

func decodeCIDID(t *testing.T, id string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(id)
	require.NoError(t, err)
	return string(raw)
}

// drain reads every key/value of a state iterator and closes it.
func drain(t *testing.T, it shim.StateQueryIteratorInterface) (keys []string, values []string) {
	t.Helper()
	defer func() { require.NoError(t, it.Close()) }()
	for it.HasNext() {
		kv, err := it.Next()
		require.NoError(t, err)
		keys = append(keys, kv.Key)
		values = append(values, string(kv.Value))
	}
	return keys, values
}
