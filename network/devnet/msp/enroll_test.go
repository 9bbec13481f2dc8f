package msp

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIssueClient checks that an issued client identity is a valid member of its organisation
// for the MSP manager, has the client role, and carries its attributes where cid reads them.
func TestIssueClient(t *testing.T) {
	cfg := shared(t)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	tests := []struct {
		name  string
		attrs map[string]string
	}{
		{"bound to a merchant", map[string]string{"xborder.merchantId": "merchant-1"}},
		{"without attributes", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := cfg.Org("MerchantMSP").IssueClient("shop@merchant.xborder.example", tc.attrs)
			require.NoError(t, err)
			require.Equal(t, RoleClient, id.Role)
			p, err := mgr.Deserialize(id.Serialize())
			require.NoError(t, err)
			require.Equal(t, "MerchantMSP", p.MSPID)
			sig, err := id.Sign([]byte("m"))
			require.NoError(t, err)
			require.NoError(t, mgr.Verify(id.Serialize(), []byte("m"), sig))

			var found []byte
			for _, e := range id.Cert.Extensions {
				if e.Id.Equal(AttributeOID) {
					found = e.Value
				}
			}
			if tc.attrs == nil {
				require.Nil(t, found)
				return
			}
			var doc struct {
				Attrs map[string]string `json:"attrs"`
			}
			require.NoError(t, json.Unmarshal(found, &doc))
			require.Equal(t, tc.attrs, doc.Attrs)
		})
	}
	_, err = cfg.Org("MerchantMSP").IssueClient("", nil)
	require.Error(t, err)
}
