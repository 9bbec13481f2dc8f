package devnet_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const anyOrg = "OR('MerchantMSP.peer','BankMSP.peer','CarrierMSP.peer','CustomsMSP.peer')"

func TestPrivateData(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	secret := []byte("buyer: Jane Doe, 1 Main St")
	_, err := tn.contract(merchant).Submit("putPrivate",
		client.WithArguments("privA", "order-1"),
		client.WithTransient(map[string][]byte{"value": secret}))
	require.NoError(t, err)
	tn.sync()
	hash := sha256.Sum256(secret)

	tests := []struct {
		org      string
		member   bool
		wantHash []byte
	}{
		{merchant, true, hash[:]},
		{bank, true, hash[:]},
		{carrier, false, hash[:]},
		{customs, false, hash[:]},
	}
	for _, tc := range tests {
		t.Run(tc.org, func(t *testing.T) {
			c := tn.contract(tc.org)
			got, err := c.EvaluateTransaction("getPrivateHash", "privA", "order-1")
			require.NoError(t, err)
			require.Equal(t, tc.wantHash, got, "every organisation sees the hash")
			value, err := c.EvaluateTransaction("getPrivate", "privA", "order-1")
			if tc.member {
				require.NoError(t, err)
				require.Equal(t, secret, value)
				return
			}
			require.Error(t, err, "a non-member must not read the private value")
			require.NotContains(t, err.Error(), string(secret))
		})
	}
}

func TestBlockAndPrivateDataEvents(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	secret := []byte("consignee: Max Mustermann")
	_, commit, err := tn.contract(carrier).SubmitAsync("putPrivate",
		client.WithArguments("privB", "waybill-1"),
		client.WithTransient(map[string][]byte{"value": secret}))
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.True(t, st.Successful)

	tests := []struct {
		org    string
		member bool
	}{
		{customs, true},
		{carrier, true},
		{merchant, false},
	}
	for _, tc := range tests {
		t.Run(tc.org, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events, err := tn.gateway(tc.org).GetNetwork(tn.net.Channel()).BlockAndPrivateDataEvents(ctx, client.WithStartBlock(st.BlockNumber))
			require.NoError(t, err)
			var ev *peer.BlockAndPrivateData
			select {
			case ev = <-events:
			case <-time.After(20 * time.Second):
				t.Fatal("timed out waiting for the block")
			}
			require.Equal(t, st.BlockNumber, ev.GetBlock().GetHeader().GetNumber())
			var found bool
			for _, txPvt := range ev.GetPrivateDataMap() {
				for _, ns := range txPvt.GetNsPvtRwset() {
					for _, coll := range ns.GetCollectionPvtRwset() {
						require.Equal(t, "privB", coll.GetCollectionName())
						kv := &kvrwset.KVRWSet{}
						require.NoError(t, proto.Unmarshal(coll.GetRwset(), kv))
						require.Equal(t, secret, kv.GetWrites()[0].GetValue())
						found = true
					}
				}
			}
			require.Equal(t, tc.member, found)
		})
	}
}

func TestTransientDataProtection(t *testing.T) {
	const twoOfFour = "OutOf(2,'MerchantMSP.peer','BankMSP.peer','CarrierMSP.peer','CustomsMSP.peer')"
	tests := []struct {
		name      string
		policy    string
		org       string
		endorsers []string
		wantErr   string
		wantCode  codes.Code
	}{
		// MAJORITY needs three organisations but only two are members of privA: the gateway
		// refuses to send the transient data to a non-member.
		{name: "majority cannot be met by members", org: merchant, wantErr: "to protect transient data", wantCode: codes.FailedPrecondition},
		// Two of four can be met by the members MerchantMSP and BankMSP: they are chosen.
		{name: "members chosen", policy: twoOfFour, org: merchant},
		{name: "members chosen from another gateway", policy: twoOfFour, org: bank},
		// Explicit endorsing organisations are trusted by the client.
		{name: "explicit members", policy: twoOfFour, org: merchant, endorsers: []string{merchant, bank}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := startNet(t, withPolicy(tc.policy))
			opts := []client.ProposalOption{
				client.WithArguments("privA", "order-2"),
				client.WithTransient(map[string][]byte{"value": []byte("secret")}),
			}
			if tc.endorsers != nil {
				opts = append(opts, client.WithEndorsingOrganizations(tc.endorsers...))
			}
			_, err := tn.contract(tc.org).Submit("putPrivate", opts...)
			if tc.wantErr == "" {
				require.NoError(t, err)
				tn.sync()
				got, err := tn.contract(bank).EvaluateTransaction("getPrivate", "privA", "order-2")
				require.NoError(t, err)
				require.Equal(t, "secret", string(got))
				return
			}
			var endorseErr *client.EndorseError
			require.ErrorAs(t, err, &endorseErr)
			require.Equal(t, tc.wantCode, status.Code(err))
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestEvaluateTargetOrganizations(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	_, err := tn.contract(carrier).Submit("putPrivate",
		client.WithArguments("privB", "waybill-2"),
		client.WithTransient(map[string][]byte{"value": []byte("dock 7")}))
	require.NoError(t, err)
	tn.sync()
	c := tn.contract(merchant)
	tests := []struct {
		name    string
		targets []string
		want    string
	}{
		{name: "local peer is not a member", want: ""},
		{name: "member peer as target", targets: []string{customs}, want: "dock 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []client.ProposalOption{client.WithArguments("privB", "waybill-2")}
			if tc.targets != nil {
				opts = append(opts, client.WithEndorsingOrganizations(tc.targets...))
			}
			got, err := c.Evaluate("getPrivate", opts...)
			if tc.want == "" {
				// A peer outside the collection has no private data: an empty value or an error.
				if err == nil {
					require.Empty(t, got)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

// TestImplicitCollectionEndorsement writes an organisation's implicit collection with
// transient data under the default (majority) chaincode policy. Validation applies the
// organisation's own Endorsement policy to such a write, so the gateway has the organisation's
// peer endorse alone, never sending the transient data elsewhere, and the write commits.
func TestImplicitCollectionEndorsement(t *testing.T) {
	tn := startNet(t)
	tests := []struct {
		name string
		org  string
	}{
		{name: "bank", org: bank},
		{name: "customs", org: customs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coll := "_implicit_org_" + tc.org
			_, err := tn.contract(tc.org).Submit("putPrivate",
				client.WithArguments(coll, "note"),
				client.WithTransient(map[string][]byte{"value": []byte("for " + tc.org + " only")}))
			require.NoError(t, err)
			got, err := tn.contract(tc.org).EvaluateTransaction("getPrivate", coll, "note")
			require.NoError(t, err)
			require.Equal(t, "for "+tc.org+" only", string(got))
		})
	}
}
