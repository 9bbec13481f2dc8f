package devnet_test

import (
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/policy"
)

// TestKeyLevelEndorsement checks that the gateway plans endorsements for a key-level
// (state-based) endorsement policy reported in the simulation's chaincode interest.
func TestKeyLevelEndorsement(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	c := tn.contract(merchant)
	// Key-level policies apply to existing keys only, as in Fabric.
	_, err := c.SubmitTransaction("put", "sbe-key", "v0")
	require.NoError(t, err)
	ep, err := proto.Marshal(policy.MustParse("AND('CarrierMSP.peer')"))
	require.NoError(t, err)
	_, err = c.Submit("setValidation", client.WithBytesArguments([]byte("sbe-key"), ep))
	require.NoError(t, err)
	tn.sync()

	p, err := c.NewProposal("put", client.WithArguments("sbe-key", "v"))
	require.NoError(t, err)
	tx, err := p.Endorse()
	require.NoError(t, err)
	require.Contains(t, endorsersOf(t, tx), carrier)
	commit, err := tx.Submit()
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_VALID, st.Code)
}

// TestKeyLevelPolicyAtCommit checks that validation applies the key-level policy committed
// when the transaction's block is validated, as a Fabric peer does: a write endorsed before
// the key's policy required CarrierMSP, and committed after, is ENDORSEMENT_POLICY_FAILURE and
// leaves the value unchanged; the same write endorsed afterwards is planned with CarrierMSP and
// is valid. In the second case BankMSP's peer is held while both blocks are ordered: peers
// validate blocks ahead of their commits, but not past a block that may change a key-level
// policy, so once resumed it marks the write as the others did and ends in the same state.
func TestKeyLevelPolicyAtCommit(t *testing.T) {
	tests := []struct {
		name    string
		lagging string
	}{
		{"every peer commits each block as it comes", ""},
		{"a peer resumes two blocks behind", bank},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := startNet(t, withPolicy(anyOrg))
			c := tn.contract(merchant)
			_, err := c.SubmitTransaction("put", "sbe-late", "v0")
			require.NoError(t, err)
			tn.sync()
			p, err := c.NewProposal("put", client.WithArguments("sbe-late", "stale"))
			require.NoError(t, err)
			stale, err := p.Endorse()
			require.NoError(t, err)

			if tc.lagging != "" {
				require.NoError(t, tn.net.PausePeerCommits(tc.lagging))
			}
			ep, err := proto.Marshal(policy.MustParse("AND('CarrierMSP.peer')"))
			require.NoError(t, err)
			_, err = c.Submit("setValidation", client.WithBytesArguments([]byte("sbe-late"), ep))
			require.NoError(t, err)
			commit, err := stale.Submit()
			require.NoError(t, err)
			st, err := commit.Status()
			require.NoError(t, err)
			require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, st.Code)
			got, err := c.EvaluateTransaction("get", "sbe-late")
			require.NoError(t, err)
			require.Equal(t, "v0", string(got))

			if tc.lagging != "" {
				require.NoError(t, tn.net.ResumePeerCommits(tc.lagging))
				tn.sync()
				rec, err := tn.ledger(tc.lagging).TxStatus(stale.TransactionID())
				require.NoError(t, err)
				require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, rec.Code)
				requireConverged(t, tn.net)
			}
			_, err = c.SubmitTransaction("put", "sbe-late", "fresh")
			require.NoError(t, err)
			got, err = c.EvaluateTransaction("get", "sbe-late")
			require.NoError(t, err)
			require.Equal(t, "fresh", string(got))
		})
	}
}
