package devnet

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/devnet/ledger"
)

// TestOrderedBlocks checks the peers' shared copies of ordered blocks: a block is loaded once
// and shared, peek finds only loaded blocks, each peer gets its own common.Block, and only the
// most recent maxSharedBlocks are kept.
func TestOrderedBlocks(t *testing.T) {
	store, err := ledger.OpenBlockStore(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	n := uint64(maxSharedBlocks + 4)
	for i := range n {
		h, last := store.ChainInfo()
		require.Equal(t, i, h)
		require.NoError(t, store.Append(ledger.NewBlock(h, last, [][]byte{[]byte(fmt.Sprintf("tx-%d", i))})))
	}
	c := newOrderedBlocks(store)

	t.Run("loaded once, shared", func(t *testing.T) {
		require.Nil(t, c.peek(1), "not loaded yet")
		a, err := c.get(1)
		require.NoError(t, err)
		b, err := c.get(1)
		require.NoError(t, err)
		require.Same(t, a, b)
		require.Same(t, a, c.peek(1))
		require.Equal(t, uint64(1), a.block.GetHeader().GetNumber())
	})
	t.Run("each peer has its own block", func(t *testing.T) {
		ob, err := c.get(2)
		require.NoError(t, err)
		p1, p2 := ob.forPeer(), ob.forPeer()
		require.NotSame(t, p1, p2)
		require.Same(t, ob.block.GetData(), p1.GetData(), "the data is shared")
		p1.Metadata = nil
		require.NotNil(t, ob.block.GetMetadata(), "a peer's metadata does not change the shared block")
	})
	t.Run("a block not ordered is an error and not kept", func(t *testing.T) {
		_, err := c.get(n)
		require.Error(t, err)
		require.Nil(t, c.peek(n))
	})
	t.Run("only the most recent are kept", func(t *testing.T) {
		for i := range n {
			_, err := c.get(i)
			require.NoError(t, err)
		}
		c.mu.Lock()
		held := len(c.blocks)
		c.mu.Unlock()
		require.Equal(t, maxSharedBlocks, held)
		require.Nil(t, c.peek(0), "the oldest went first")
		require.NotNil(t, c.peek(n-1))
	})
}
