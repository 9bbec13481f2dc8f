package devnet_test

import (
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/txutil"
)

func TestQSCC(t *testing.T) {
	tn := startNet(t)
	_, commit, err := tn.contract(merchant).SubmitAsync("put")
	require.Error(t, err, "put needs arguments")
	_ = commit
	_, commit, err = tn.contract(merchant).SubmitAsync("event", withArgs("Created", "x")...)
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	tn.sync()
	qscc := tn.gateway(customs).GetNetwork(tn.net.Channel()).GetContract("qscc")
	ch := tn.net.Channel()

	t.Run("GetChainInfo", func(t *testing.T) {
		b, err := qscc.EvaluateTransaction("GetChainInfo", ch)
		require.NoError(t, err)
		info := &common.BlockchainInfo{}
		require.NoError(t, proto.Unmarshal(b, info))
		require.Equal(t, st.BlockNumber+1, info.GetHeight())
		last, err := tn.ledger(customs).Block(st.BlockNumber)
		require.NoError(t, err)
		require.Equal(t, ledger.BlockHeaderHash(last.GetHeader()), info.GetCurrentBlockHash())
	})
	t.Run("GetBlockByNumber genesis", func(t *testing.T) {
		b, err := qscc.EvaluateTransaction("GetBlockByNumber", ch, "0")
		require.NoError(t, err)
		block := &common.Block{}
		require.NoError(t, proto.Unmarshal(b, block))
		tx, err := txutil.UnpackEnvelopeBytes(block.GetData().GetData()[0])
		require.NoError(t, err)
		require.Equal(t, common.HeaderType_CONFIG, tx.HeaderType())
		cfg := &common.ConfigEnvelope{}
		require.NoError(t, proto.Unmarshal(tx.Payload.GetData(), cfg))
		app := cfg.GetConfig().GetChannelGroup().GetGroups()["Application"]
		require.ElementsMatch(t, []string{merchant, bank, carrier, customs, regulator}, slices.Collect(maps.Keys(app.GetGroups())))
		require.Contains(t, app.GetGroups(), merchant)
		require.Contains(t, app.GetGroups()[merchant].GetValues(), "MSP")
		require.Contains(t, cfg.GetConfig().GetChannelGroup().GetGroups()["Orderer"].GetGroups(), "OrdererMSP")
	})
	t.Run("GetBlockByNumber", func(t *testing.T) {
		b, err := qscc.EvaluateTransaction("GetBlockByNumber", ch, strconv.FormatUint(st.BlockNumber, 10))
		require.NoError(t, err)
		block := &common.Block{}
		require.NoError(t, proto.Unmarshal(b, block))
		require.Equal(t, st.BlockNumber, block.GetHeader().GetNumber())
		hb, err := qscc.EvaluateTransaction("GetBlockByHash", ch, string(ledger.BlockHeaderHash(block.GetHeader())))
		require.NoError(t, err)
		require.True(t, proto.Equal(block, unmarshalBlock(t, hb)))
	})
	t.Run("GetTransactionByID", func(t *testing.T) {
		b, err := qscc.EvaluateTransaction("GetTransactionByID", ch, st.TransactionID)
		require.NoError(t, err)
		pt := &peer.ProcessedTransaction{}
		require.NoError(t, proto.Unmarshal(b, pt))
		require.Equal(t, int32(peer.TxValidationCode_VALID), pt.GetValidationCode())
		tx, err := txutil.UnpackEnvelope(pt.GetTransactionEnvelope())
		require.NoError(t, err)
		require.Equal(t, st.TransactionID, tx.TxID())
		bb, err := qscc.EvaluateTransaction("GetBlockByTxID", ch, st.TransactionID)
		require.NoError(t, err)
		require.Equal(t, st.BlockNumber, unmarshalBlock(t, bb).GetHeader().GetNumber())
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			args []string
			want string
		}{
			{[]string{"GetTransactionByID", ch, "nope"}, "Failed to get transaction with id nope"},
			{[]string{"GetBlockByNumber", ch, "999"}, "Failed to get block number 999"},
			{[]string{"GetChainInfo", "otherchannel"}, "Invalid chain ID, otherchannel"},
			{[]string{"NoSuchFunction", ch, "x"}, "Requested function NoSuchFunction not found."},
		}
		for _, tc := range tests {
			_, err := qscc.EvaluateTransaction(tc.args[0], tc.args[1:]...)
			require.Equal(t, codes.Unknown, status.Code(err))
			require.Contains(t, err.Error(), tc.want)
		}
	})
}

func TestCSCC(t *testing.T) {
	tn := startNet(t)
	cscc := tn.gateway(bank).GetNetwork(tn.net.Channel()).GetContract("cscc")
	t.Run("GetConfigBlock", func(t *testing.T) {
		b, err := cscc.EvaluateTransaction("GetConfigBlock", tn.net.Channel())
		require.NoError(t, err)
		require.Equal(t, uint64(0), unmarshalBlock(t, b).GetHeader().GetNumber())
	})
	t.Run("GetChannelConfig", func(t *testing.T) {
		b, err := cscc.EvaluateTransaction("GetChannelConfig", tn.net.Channel())
		require.NoError(t, err)
		cfg := &common.Config{}
		require.NoError(t, proto.Unmarshal(b, cfg))
		require.ElementsMatch(t, []string{merchant, bank, carrier, customs, regulator}, slices.Collect(maps.Keys(cfg.GetChannelGroup().GetGroups()["Application"].GetGroups())))
	})
	t.Run("GetChannels", func(t *testing.T) {
		b, err := cscc.EvaluateTransaction("GetChannels")
		require.NoError(t, err)
		resp := &peer.ChannelQueryResponse{}
		require.NoError(t, proto.Unmarshal(b, resp))
		require.Equal(t, tn.net.Channel(), resp.GetChannels()[0].GetChannelId())
	})
	t.Run("unknown channel", func(t *testing.T) {
		_, err := cscc.EvaluateTransaction("GetConfigBlock", "other")
		require.Equal(t, codes.Unknown, status.Code(err))
		require.Contains(t, err.Error(), "Unknown channel ID, other")
	})
}

func unmarshalBlock(t *testing.T, b []byte) *common.Block {
	t.Helper()
	block := &common.Block{}
	require.NoError(t, proto.Unmarshal(b, block))
	return block
}
