package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
)

// keyedOrder is validOrder with the buyer's public key.
var keyedOrder = strings.Replace(validOrder, `"phone":"+1 555"`,
	`"phone":"+1 555","publicKey":{"kty":"EC","crv":"P-256","x":"BZcFdcVPXtTS5LpoSaPCDrQ5XzORi6ifztqWHx5bHrU","y":"iIFmiSzdN5ctYSWqLlxn_qPS3kJk3Z1OAbyREx75XWQ"}`, 1)

// TestCapabilityIssue: the creation of an order with the buyer's key (or that asks for a link)
// gets a fresh token whose SHA-256 is the chaincode's trackingTokenHash; the answer carries the
// token and its page URL, the stored copy neither; an order without either, or that says
// "trackingLink": false, gets none, and the field never reaches the chaincode.
func TestCapabilityIssue(t *testing.T) {
	op := operation(t, "createOrder")
	require.NotNil(t, op.Capability)
	inv, err := op.Invocation(nil, []byte(keyedOrder))
	require.NoError(t, err)
	token, err := op.Capability.Issue(&inv)
	require.NoError(t, err)
	require.True(t, gateway.ValidCapabilityToken(token), token)
	var req map[string]any
	require.NoError(t, json.Unmarshal(inv.Args[0], &req))
	require.Equal(t, gateway.CapabilityHash(token), req["trackingTokenHash"])
	require.NotContains(t, string(inv.Args[0]), token, "the chaincode never sees the token")

	answer, err := op.Capability.Answer([]byte(`{"orderId":"o-1","status":"CREATED"}`), token)
	require.NoError(t, err)
	var a map[string]any
	require.NoError(t, json.Unmarshal(answer, &a))
	require.Equal(t, token, a["trackingToken"])
	require.Equal(t, "/track/"+token, a["trackingUrl"])
	stored := op.Capability.Redact(answer)
	require.NotContains(t, string(stored), token)
	require.JSONEq(t, `{"orderId":"o-1","status":"CREATED"}`, string(stored))

	second, err := op.Invocation(nil, []byte(strings.Replace(validOrder, `"shippingFee":500`, `"shippingFee":500,"trackingLink":true`, 1)))
	require.NoError(t, err)
	other, err := op.Capability.Issue(&second)
	require.NoError(t, err)
	require.NotEqual(t, token, other, "every token is fresh")

	for _, body := range []string{validOrder, strings.Replace(keyedOrder, `"shippingFee":500`, `"shippingFee":500,"trackingLink":false`, 1)} {
		inv, err = op.Invocation(nil, []byte(body))
		require.NoError(t, err)
		before := string(inv.Args[0])
		token, err = op.Capability.Issue(&inv)
		require.NoError(t, err)
		require.Empty(t, token)
		require.NotContains(t, string(inv.Args[0]), "tracking")
		if body == validOrder {
			require.Equal(t, before, string(inv.Args[0]), "an order of before is sent as before")
		}
	}
	answer, err = op.Capability.Answer([]byte(`{"orderId":"o-1"}`), token)
	require.NoError(t, err)
	require.JSONEq(t, `{"orderId":"o-1"}`, string(answer))

	bad := strings.Replace(validOrder, `"shippingFee":500`, `"shippingFee":500,"trackingLink":"no"`, 1)
	inv, err = op.Invocation(nil, []byte(bad))
	require.NoError(t, err)
	_, err = op.Capability.Issue(&inv)
	require.Equal(t, "trackingLink", gateway.AsError(err).Field)
}

// TestTokenAccess: the token-holder operations send the token's SHA-256, never the token; the
// statement answer keeps the public progress only.
func TestTokenAccess(t *testing.T) {
	token, err := gateway.NewCapabilityToken()
	require.NoError(t, err)
	track := operation(t, "trackOrder")
	inv, err := track.Invocation(map[string]string{"token": token}, nil)
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte(gateway.CapabilityHash(token))}, inv.Args)

	relay := operation(t, "submitTrackedStatement")
	inv, err = relay.Invocation(map[string]string{"token": token}, []byte(`{"statement":"s","signature":"x"}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"statement":"s","signature":"x","trackingTokenHash":"`+gateway.CapabilityHash(token)+`"}`, string(inv.Args[0]))
	out, err := relay.Token.Filter([]byte(`{"orderId":"o-1","merchantId":"m-1","status":"COMPLETED","version":9,` +
		`"items":[{"sku":"s"}],"buyer":{"id":"b-1"},"payment":{"paymentId":"p"},"escrow":{"amount":1,"released":1,"refunded":0},"txId":"t"}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"orderId":"o-1","status":"COMPLETED","version":9,"escrow":{"amount":1,"released":1,"refunded":0},"txId":"t"}`, string(out))

	for _, s := range []string{"", "short", strings.Repeat("A", 44), strings.Repeat("=", 43), token[:42] + "B"} {
		require.False(t, gateway.ValidCapabilityToken(s), s)
	}
}
