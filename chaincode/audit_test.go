package chaincode_test

import (
	"encoding/json"
	"fmt"
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

// TestHistoryIdentityShortForm checks issue 15's history size: every entry names its creator
// once, in short form (MSP and certificate common name), and the values leave out the full
// identities their records store, so a whole lifecycle's trail shrinks by a large part.
func TestHistoryIdentityShortForm(t *testing.T) {
	e := lcNew(t)
	e.to("hs-1", stCompleted)
	e.ok(e.invoke(chaincode.CarrierMSP, "AnchorDocument", map[string]any{"sha256": strings.Repeat("7a", 32), "orderId": "hs-1", "kind": chaincode.DocumentProofOfDelivery}, nil))
	res := e.evaluate(chaincode.RegulatorMSP, "GetOrderHistory", "hs-1")
	require.Equal(t, int32(200), res.Status, res.Message)
	var hist chaincode.OrderHistory
	require.NoError(t, json.Unmarshal(res.Payload, &hist))
	saved := 0
	for _, en := range hist.Entries {
		require.NotEmpty(t, en.CreatorMSP, en.Type)
		require.Equal(t, "User1@"+strings.ToLower(strings.TrimSuffix(en.CreatorMSP, "MSP"))+".xborder.test", en.CreatorName, en.Type)
		raw, err := json.Marshal(en.Value)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "x509::", en.Type)
		require.NotContains(t, string(raw), `"updatedBy"`, en.Type)
		found := false
		for _, m := range e.l.History(lcHistoryKey(t, en)) {
			if m.GetTxId() == en.TxID {
				found = true
				require.Less(t, len(raw), len(m.GetValue()), "%s: the value without the identity is shorter than the record", en.Type)
				saved += len(m.GetValue()) - len(raw) - len(en.CreatorName)
			}
		}
		require.True(t, found, "%s %s is a modification of the order's keys", en.Type, en.TxID)
	}
	t.Logf("history of a completed order: %d entries, %d bytes; with every value's full identities it would be %d bytes",
		len(hist.Entries), len(res.Payload), len(res.Payload)+saved)
}

// lcHistoryKey returns the ledger key a history entry of order hs-1 belongs to.
func lcHistoryKey(t *testing.T, en chaincode.HistoryEntry) string {
	t.Helper()
	var v map[string]any
	raw, err := json.Marshal(en.Value)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &v))
	switch en.Type {
	case "checkpoint":
		return lcKey("checkpoint", "hs-1", fmt.Sprintf("%06d", int(v["seq"].(float64))))
	case "customsDecision":
		return lcKey("decision", "hs-1")
	case "document":
		return lcKey("order~doc", "hs-1", v["sha256"].(string), v["kind"].(string))
	}
	return lcKey(en.Type, "hs-1")
}

func TestCommonName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"x509::CN=User1@bank.example,OU=client,O=Bank,C=US::CN=ca.bank.example,O=Bank", "User1@bank.example"},
		{"x509::OU=client,CN=peer0,C=US::CN=ca", "peer0"},
		{`x509::CN=Doe\, Jane,OU=client::CN=ca`, "Doe, Jane"},
		{"x509::OU=client,C=US::CN=ca", ""},
		{"eDUwOTo6Q049VXNlcjE=", ""},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, chaincode.CommonName(c.in), c.in)
	}
}
