package devnet_test

import (
	"sync"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/policy"
	"github.com/xborder/xborder/network/devnet/validator"
)

// TestSharedValidation checks when a peer takes the validation another peer made of a block:
// only when its state answers every metadata read the same. A state where the written key
// carries a key-level policy the transaction does not satisfy gets its own validation, with
// ENDORSEMENT_POLICY_FAILURE, as a Fabric peer with that state would decide.
func TestSharedValidation(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	c := tn.contract(merchant)
	_, commit, err := c.SubmitAsync("put", withArgs("shared-key", "v")...)
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_VALID, st.Code)
	tn.sync()

	noMetadata := validator.MetadataFuncs{}
	peers, err := tn.net.ValidateOrdered(st.BlockNumber, noMetadata)
	require.NoError(t, err)
	again, err := tn.net.ValidateOrdered(st.BlockNumber, noMetadata)
	require.NoError(t, err)
	require.Same(t, peers, again, "a state that answers the same shares the validation")
	require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID}, peers.Codes)

	ep, err := proto.Marshal(policy.MustParse("AND('CarrierMSP.peer')"))
	require.NoError(t, err)
	md, err := proto.Marshal(&kvrwset.KVMetadataWrite{Entries: []*kvrwset.KVMetadataEntry{{Name: "VALIDATION_PARAMETER", Value: ep}}})
	require.NoError(t, err)
	var mu sync.Mutex // the validator reads from several goroutines
	var asked []string
	carrierOnly := validator.MetadataFuncs{Public: func(ns, key string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, key)
		if key == "shared-key" {
			return md, nil
		}
		return nil, nil
	}}
	other, err := tn.net.ValidateOrdered(st.BlockNumber, carrierOnly)
	require.NoError(t, err)
	require.NotSame(t, peers, other, "a state that answers otherwise validates on its own")
	require.Contains(t, asked, "shared-key")
	require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}, other.Codes)

	back, err := tn.net.ValidateOrdered(st.BlockNumber, noMetadata)
	require.NoError(t, err)
	require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID}, back.Codes)
}
