package devnet_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet"
	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// TestAddOrganisationToExistingChannel reopens a data directory created with four peer
// organisations with the default five: the ordering service orders one config block that adds
// RegulatorMSP (a config update signed by a majority of the existing organisations' admins),
// every peer commits it, cscc and qscc show it, and the new organisation's peer catches up
// with the whole chain. Reopening does not add it twice; dropping it again is refused.
func TestAddOrganisationToExistingChannel(t *testing.T) {
	dir := t.TempDir()
	cc, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(cc.Stop)
	four := slices.DeleteFunc(msp.DefaultOrgs(), func(o msp.OrgSpec) bool { return o.MSPID == regulator })
	start := func(orgs []msp.OrgSpec) (*testNet, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cfg := testConfig(dir, withPolicy(anyOrg))
		cfg.Orgs = orgs
		cfg.Chaincodes[0].Address = cc.Addr()
		n, err := devnet.Start(ctx, cfg)
		if err != nil {
			return nil, err
		}
		tn := &testNet{t: t, net: n, cc: cc, dir: dir, conn: map[string]*grpc.ClientConn{}}
		t.Cleanup(func() {
			for _, c := range tn.conn {
				_ = c.Close()
			}
			_ = n.Close()
		})
		return tn, nil
	}

	first, err := start(four)
	require.NoError(t, err)
	_, err = first.contract(merchant).Submit("put", client.WithArguments("before", "b"))
	require.NoError(t, err)
	height := first.net.OrdererHeight()
	require.NoError(t, first.net.Close())

	second, err := start(nil)
	require.NoError(t, err)
	require.Equal(t, height+1, second.net.OrdererHeight(), "one config block")
	second.sync()
	requireConverged(t, second.net)
	cscc := second.gateway(regulator).GetNetwork(second.net.Channel()).GetContract("cscc")

	t.Run("the config block", func(t *testing.T) {
		b, err := cscc.EvaluateTransaction("GetConfigBlock", second.net.Channel())
		require.NoError(t, err)
		block := unmarshalBlock(t, b)
		require.Equal(t, height, block.GetHeader().GetNumber())
		require.Len(t, block.GetData().GetData(), 1)
		tx, err := txutil.UnpackEnvelopeBytes(block.GetData().GetData()[0])
		require.NoError(t, err)
		require.Equal(t, common.HeaderType_CONFIG, tx.HeaderType())
		env := &common.ConfigEnvelope{}
		require.NoError(t, proto.Unmarshal(tx.Payload.GetData(), env))
		update, err := txutil.UnpackEnvelope(env.GetLastUpdate())
		require.NoError(t, err)
		require.Equal(t, common.HeaderType_CONFIG_UPDATE, update.HeaderType())
		cue := &common.ConfigUpdateEnvelope{}
		require.NoError(t, proto.Unmarshal(update.Payload.GetData(), cue))
		require.Len(t, cue.GetSignatures(), 3, "the admins of a majority of the four organisations")
	})
	t.Run("the channel configuration", func(t *testing.T) {
		b, err := cscc.EvaluateTransaction("GetChannelConfig", second.net.Channel())
		require.NoError(t, err)
		cfg := &common.Config{}
		require.NoError(t, proto.Unmarshal(b, cfg))
		require.Equal(t, uint64(1), cfg.GetSequence())
		app := cfg.GetChannelGroup().GetGroups()["Application"]
		require.Equal(t, uint64(1), app.GetVersion())
		require.ElementsMatch(t, []string{merchant, bank, carrier, customs, regulator}, slices.Collect(maps.Keys(app.GetGroups())))
		require.Contains(t, app.GetGroups()[regulator].GetValues(), "MSP")
	})
	t.Run("the new organisation's peer", func(t *testing.T) {
		got, err := second.contract(regulator).EvaluateTransaction("get", "before")
		require.NoError(t, err)
		require.Equal(t, "b", string(got))
		require.Equal(t, height+1, chainInfo(t, second, regulator).GetHeight())
	})
	require.NoError(t, second.net.Close())

	third, err := start(nil)
	require.NoError(t, err)
	require.Equal(t, height+1, third.net.OrdererHeight(), "no second config block")
	require.NoError(t, third.net.Close())

	_, err = start(four)
	require.ErrorContains(t, err, "has the organisation(s) [RegulatorMSP], which the configuration does not list")
}
