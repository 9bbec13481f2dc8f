package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// appendBlocks appends n blocks of two transactions each to s.
func appendBlocks(t *testing.T, s *BlockStore, n int) []*common.Block {
	t.Helper()
	var out []*common.Block
	for range n {
		height, last := s.ChainInfo()
		b := NewBlock(height, last, [][]byte{
			tx(fmt.Sprintf("b%d-0", height)).put("k", "v").env(t),
			tx(fmt.Sprintf("b%d-1", height)).put("k2", "v").env(t),
		})
		require.NoError(t, s.Append(b))
		out = append(out, b)
	}
	return out
}

func openStore(t *testing.T, dir string) *BlockStore {
	t.Helper()
	s, err := OpenBlockStore(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBlockStoreAppendAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	blocks := appendBlocks(t, s, 5)
	require.Equal(t, uint64(5), s.Height())
	require.NoError(t, s.Verify())
	for i, want := range blocks {
		got, err := s.Block(uint64(i))
		require.NoError(t, err)
		require.Equal(t, want.GetHeader().GetDataHash(), got.GetHeader().GetDataHash())
	}
	_, err := s.Block(5)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Close())

	again := openStore(t, dir)
	require.Equal(t, uint64(5), again.Height())
	_, last := again.ChainInfo()
	require.Equal(t, BlockHeaderHash(blocks[4].GetHeader()), last)
	require.NoError(t, again.Verify())
	appendBlocks(t, again, 1)
	require.NoError(t, again.Verify())
}

func TestBlockStoreRejectsBlocksThatDoNotExtendTheChain(t *testing.T) {
	s := openStore(t, t.TempDir())
	appendBlocks(t, s, 2)
	_, last := s.ChainInfo()
	envs := [][]byte{tx("x").put("k", "v").env(t)}
	tests := []struct {
		name  string
		block *common.Block
	}{
		{"wrong number", NewBlock(5, last, envs)},
		{"wrong previous hash", NewBlock(2, []byte("not the last hash"), envs)},
		{"wrong data hash", func() *common.Block {
			b := NewBlock(2, last, envs)
			b.Header.DataHash = []byte("tampered")
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, s.Append(tc.block), ErrBadBlock)
			require.Equal(t, uint64(2), s.Height())
		})
	}
}

// TestBlockStoreRecovery damages the files the way a crash can and checks that the store
// reopens at its last complete block, with an index that serves every block.
func TestBlockStoreRecovery(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   uint64
	}{
		{"half-written last record", func(t *testing.T, dir string) { truncateBy(t, filepath.Join(dir, BlockFileName), 10) }, 3},
		{"record header only", func(t *testing.T, dir string) {
			appendGarbage(t, filepath.Join(dir, BlockFileName), []byte{0, 0, 1, 0, 1, 2, 3, 4})
		}, 4},
		{"index lost", func(t *testing.T, dir string) { require.NoError(t, os.Truncate(filepath.Join(dir, BlockIndexName), 0)) }, 4},
		{"index behind", func(t *testing.T, dir string) { truncateBy(t, filepath.Join(dir, BlockIndexName), 16) }, 4},
		{"torn index entry", func(t *testing.T, dir string) { truncateBy(t, filepath.Join(dir, BlockIndexName), 3) }, 4},
		{"index ahead of the blocks", func(t *testing.T, dir string) {
			appendGarbage(t, filepath.Join(dir, BlockIndexName), []byte{0, 0, 0, 0, 0, 1, 0, 0})
		}, 4},
		{"zeroed index page", func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, BlockIndexName), os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(make([]byte, 8), 16)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			blocks := appendBlocks(t, s, 4)
			require.NoError(t, s.Close())
			tc.damage(t, dir)

			again := openStore(t, dir)
			require.Equal(t, tc.want, again.Height())
			require.NoError(t, again.Verify())
			for n := range tc.want {
				b, err := again.Block(n)
				require.NoError(t, err)
				require.Equal(t, blocks[n].GetHeader().GetDataHash(), b.GetHeader().GetDataHash())
			}
			appendBlocks(t, again, 1)
			require.NoError(t, again.Close())
			third := openStore(t, dir)
			require.Equal(t, tc.want+1, third.Height())
			require.NoError(t, third.Verify())
		})
	}
}

func TestBlockStoreWaitForHeight(t *testing.T) {
	s := openStore(t, t.TempDir())
	done := make(chan error, 1)
	go func() { done <- s.WaitForHeight(context.Background(), 2) }()
	appendBlocks(t, s, 2)
	require.NoError(t, <-done)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.WaitForHeight(ctx, 3), context.DeadlineExceeded)

	go func() { done <- s.WaitForHeight(context.Background(), 3) }()
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-done, ErrClosed)
	_, err := s.Block(0)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.Append(NewBlock(2, nil, nil)), ErrClosed)
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, fi.Size()-n))
}

func appendGarbage(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestCommitHashIgnoresPrivateValues commits the same block with and without its private
// data: the two ledgers, like the peers of a member and of a non-member organisation, end
// with the same commit hash.
func TestCommitHashIgnoresPrivateValues(t *testing.T) {
	member, _ := openTest(t)
	other, _ := openTest(t)
	b := tx("t0").put("a", "1")
	pvt := b.private(t, pvtColl{coll: "c", writes: []*kvrwset.KVWrite{{Key: "p", Value: []byte("secret")}}})
	commitTxs(t, member, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, b)
	commitTxs(t, other, nil, b)
	require.Len(t, member.CommitHash(), 32)
	require.Equal(t, member.CommitHash(), other.CommitHash())

	v, err := getPrivate(member, "c", "p")
	require.NoError(t, err)
	require.Equal(t, "secret", string(v.Value))
	_, err = getPrivate(other, "c", "p")
	require.ErrorIs(t, err, ErrPrivateDataUnavailable)
}

func getPrivate(l *Ledger, coll, key string) (*VersionedValue, error) {
	snap, err := l.NewSnapshot()
	if err != nil {
		return nil, err
	}
	defer snap.Release()
	return snap.GetPrivateData(testNS, coll, key)
}

// TestPrivateWriteSetsKeptForValidTransactions checks that Commit keeps, in the block's own
// transaction, the private write sets supplied for valid transactions only.
func TestPrivateWriteSetsKeptForValidTransactions(t *testing.T) {
	l, _ := openTest(t)
	ok := tx("ok").put("a", "1")
	okPvt := ok.private(t, pvtColl{coll: "c", writes: []*kvrwset.KVWrite{{Key: "p", Value: []byte("kept")}}})
	bad := tx("bad").put("b", "1")
	badPvt := bad.private(t, pvtColl{coll: "c", writes: []*kvrwset.KVWrite{{Key: "q", Value: []byte("dropped")}}})
	block := nextBlock(t, l, ok.env(t), bad.env(t))
	_, err := l.Commit(block, []peer.TxValidationCode{peer.TxValidationCode_VALID, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		map[uint64]*rwset.TxPvtReadWriteSet{0: okPvt, 1: badPvt})
	require.NoError(t, err)

	got, err := l.PrivateWriteSets(0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.True(t, proto.Equal(okPvt, got[0]))
	commitTxs(t, l, nil, tx("public").put("x", "1"))
	got, err = l.PrivateWriteSets(1)
	require.NoError(t, err)
	require.Nil(t, got, "a block without private data keeps none")
}

// TestCommitBlocks commits two blocks in one transaction: the second block's checks see the
// first's writes; a group with a block that does not extend the chain commits nothing.
func TestCommitBlocks(t *testing.T) {
	l, _ := openTest(t)
	first := nextBlock(t, l, tx("w").put("k", "1").env(t))
	second := NewBlock(1, BlockHeaderHash(first.GetHeader()), [][]byte{tx("r").read("k", ver(0, 0)).put("k", "2").env(t)})
	codes, err := l.CommitBlocks([]BlockCommit{{Block: first}, {Block: second}})
	require.NoError(t, err)
	require.Equal(t, [][]peer.TxValidationCode{codesOf(valid), codesOf(valid)}, codes)
	require.Equal(t, uint64(2), l.Height())
	require.Equal(t, "2", string(getState(t, l, testNS, "k").Value))
	require.NoError(t, l.VerifyChain())
	b, err := l.Block(1)
	require.NoError(t, err)
	require.Len(t, TxValidationFlags(b), 1)

	good := nextBlock(t, l, tx("g").put("g", "1").env(t))
	bad := NewBlock(9, []byte("elsewhere"), [][]byte{tx("b").put("b", "1").env(t)})
	_, err = l.CommitBlocks([]BlockCommit{{Block: good}, {Block: bad}})
	require.ErrorIs(t, err, ErrBadBlock)
	require.Equal(t, uint64(2), l.Height(), "nothing of the group is committed")
	require.Nil(t, getState(t, l, testNS, "g"))
	_, err = l.TxStatus("g")
	require.ErrorIs(t, err, ErrNotFound)
}
