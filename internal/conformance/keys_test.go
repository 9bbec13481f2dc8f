package conformance_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/gateway/keys"
)

// TestKeyIdentityAttribute pins the certificate attribute the gateway enrols a merchant-bound
// key's identity with to the one the chaincode enforces.
func TestKeyIdentityAttribute(t *testing.T) {
	require.Equal(t, chaincode.MerchantAttribute, keys.MerchantAttribute)
}
