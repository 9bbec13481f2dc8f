package devnet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/devnet"
)

// TestIdleCut checks how the devnet cuts blocks with Config.CutWhenIdle (the batch timeout is
// an hour here, so no block is cut by it): a lone transaction is cut at once; transactions
// that arrive while no peer has committed the last block are held and cut together as soon as
// a peer commits it.
func TestIdleCut(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg), withBatch(time.Hour, 0), func(c *devnet.Config) { c.CutWhenIdle = true })
	c := tn.contract(merchant)
	all := []string{merchant, bank, carrier, customs, regulator}

	_, commit, err := c.SubmitAsync("put", client.WithArguments("lone", "v"))
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err, "a lone transaction is cut at once, not after the batch timeout")
	require.True(t, st.Successful)
	tn.sync()

	for _, org := range all {
		require.NoError(t, tn.net.PausePeerCommits(org))
	}
	h := tn.net.OrdererHeight()
	_, first, err := c.SubmitAsync("put", client.WithArguments("first", "v"))
	require.NoError(t, err)
	waitHeight(t, tn.net, h+1) // every peer had committed the last block: cut at once
	commits := []*client.Commit{first}
	for i := range 3 {
		_, commit, err := c.SubmitAsync("put", client.WithArguments(fmt.Sprintf("held-%d", i), "v"))
		require.NoError(t, err)
		commits = append(commits, commit)
	}
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, h+1, tn.net.OrdererHeight(), "held while no peer has committed block %d", h)

	require.NoError(t, tn.net.ResumePeerCommits(merchant))
	waitHeight(t, tn.net, h+2)
	block, err := tn.net.OrdererBlockStore().Block(h + 1)
	require.NoError(t, err)
	require.Len(t, block.GetData().GetData(), 3, "the held transactions share one block")
	for _, org := range all[1:] {
		require.NoError(t, tn.net.ResumePeerCommits(org))
	}
	for _, commit := range commits {
		st, err := commit.Status()
		require.NoError(t, err)
		require.True(t, st.Successful)
	}
}

// waitHeight waits until the ordering service has ordered height blocks.
func waitHeight(t *testing.T, n *devnet.Network, height uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n.OrdererHeight() < height {
		select {
		case <-ctx.Done():
			t.Fatalf("ordering service at height %d, want %d", n.OrdererHeight(), height)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
