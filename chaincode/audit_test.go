package chaincode_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// TestAuditIdentityReadable checks that the rules and document records carry the creator
// identity in the same readable form as the order records ("x509::<subject>::<issuer>").
func TestAuditIdentityReadable(t *testing.T) {
	e := lcNew(t)
	o := e.create("ai-1")
	require.True(t, strings.HasPrefix(o.UpdatedBy, "x509::"), o.UpdatedBy)
	cases := []struct {
		name, msp, fn string
		req           map[string]any
		field         string
	}{
		{"SetComplianceRules", chaincode.CustomsMSP, "SetComplianceRules", map[string]any{}, "updatedBy"},
		{"AnchorDocument", chaincode.CarrierMSP, "AnchorDocument", map[string]any{"sha256": strings.Repeat("ef", 32), "orderId": "ai-1", "kind": chaincode.DocumentOther}, "anchoredBy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.invoke(c.msp, c.fn, c.req, nil)
			require.Equal(t, int32(200), res.Status, res.Message)
			var rec map[string]any
			require.NoError(t, json.Unmarshal(res.Payload, &rec))
			who, _ := rec[c.field].(string)
			require.True(t, strings.HasPrefix(who, "x509::CN="), "%s = %q", c.field, who)
		})
	}
}
