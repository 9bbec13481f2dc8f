package devnet_test

import (
	"context"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	ab "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/txutil"
)

func specified(n uint64) *ab.SeekPosition {
	return &ab.SeekPosition{Type: &ab.SeekPosition_Specified{Specified: &ab.SeekSpecified{Number: n}}}
}

var (
	oldest = &ab.SeekPosition{Type: &ab.SeekPosition_Oldest{Oldest: &ab.SeekOldest{}}}
	newest = &ab.SeekPosition{Type: &ab.SeekPosition_Newest{Newest: &ab.SeekNewest{}}}
)

// seekEnvelope builds a signed deliver request as a client does.
func (tn *testNet) seekEnvelope(t *testing.T, mspID, channel string, seek *ab.SeekInfo, tamper bool) *common.Envelope {
	t.Helper()
	signer, err := tn.net.ClientSigner(mspID)
	require.NoError(t, err)
	ch, err := proto.Marshal(&common.ChannelHeader{Type: int32(common.HeaderType_DELIVER_SEEK_INFO), ChannelId: channel, Timestamp: timestamppb.Now()})
	require.NoError(t, err)
	sh, err := proto.Marshal(&common.SignatureHeader{Creator: signer.Serialize(), Nonce: []byte("nonce")})
	require.NoError(t, err)
	data, err := proto.Marshal(seek)
	require.NoError(t, err)
	payload, err := proto.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: ch, SignatureHeader: sh}, Data: data})
	require.NoError(t, err)
	env := &common.Envelope{Payload: payload}
	require.NoError(t, txutil.SignEnvelope(env, signer))
	if tamper {
		env.Signature[len(env.Signature)-1] ^= 1
	}
	return env
}

func TestDeliverSeek(t *testing.T) {
	tn := startNet(t)
	c := tn.contract(merchant)
	for i := range 3 {
		_, err := c.SubmitTransaction("put", "k", string(rune('a'+i)))
		require.NoError(t, err)
	}
	height := tn.ledger(merchant).Height()
	require.GreaterOrEqual(t, height, uint64(4))
	conn := tn.conn[merchant]

	tests := []struct {
		name       string
		channel    string
		seek       *ab.SeekInfo
		tamper     bool
		wantBlocks []uint64
		wantStatus common.Status
	}{
		{"oldest to 2", "xborder", &ab.SeekInfo{Start: oldest, Stop: specified(2)}, false, []uint64{0, 1, 2}, common.Status_SUCCESS},
		{"newest only", "xborder", &ab.SeekInfo{Start: newest, Stop: newest}, false, []uint64{height - 1}, common.Status_SUCCESS},
		{"start after stop", "xborder", &ab.SeekInfo{Start: specified(3), Stop: specified(1)}, false, nil, common.Status_BAD_REQUEST},
		{"beyond height", "xborder", &ab.SeekInfo{Start: specified(height + 5), Stop: specified(height + 6)}, false, nil, common.Status_NOT_FOUND},
		{"fail if not ready", "xborder", &ab.SeekInfo{Start: specified(height - 1), Stop: specified(height + 3), Behavior: ab.SeekInfo_FAIL_IF_NOT_READY}, false, []uint64{height - 1}, common.Status_NOT_FOUND},
		{"unknown channel", "other", &ab.SeekInfo{Start: oldest, Stop: newest}, false, nil, common.Status_NOT_FOUND},
		{"bad signature", "xborder", &ab.SeekInfo{Start: oldest, Stop: newest}, true, nil, common.Status_FORBIDDEN},
		{"headers only", "xborder", &ab.SeekInfo{Start: specified(1), Stop: specified(1), ContentType: ab.SeekInfo_HEADER_WITH_SIG}, false, []uint64{1}, common.Status_SUCCESS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stream, err := peer.NewDeliverClient(conn).Deliver(ctx)
			require.NoError(t, err)
			require.NoError(t, stream.Send(tn.seekEnvelope(t, merchant, tc.channel, tc.seek, tc.tamper)))
			var got []uint64
			for {
				resp, err := stream.Recv()
				require.NoError(t, err)
				if b := resp.GetBlock(); b != nil {
					got = append(got, b.GetHeader().GetNumber())
					if tc.seek.GetContentType() == ab.SeekInfo_HEADER_WITH_SIG {
						require.Nil(t, b.GetData())
						require.NotEmpty(t, b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_SIGNATURES])
					}
					continue
				}
				require.Equal(t, tc.wantStatus, resp.GetStatus())
				break
			}
			require.Equal(t, tc.wantBlocks, got)
		})
	}
}
