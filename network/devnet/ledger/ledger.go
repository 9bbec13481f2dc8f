package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
)

// FileName is the name of the bbolt file Open creates inside its directory.
const FileName = "ledger.db"

var (
	// ErrNotFound is returned when a block or transaction is not in the ledger.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by operations on a closed ledger.
	ErrClosed = errors.New("ledger closed")
	// ErrReleased is returned by operations on a released snapshot or its iterators.
	ErrReleased = errors.New("snapshot released")
	// ErrBadBlock is returned by Commit for a block that does not extend the chain
	// (wrong number, previous hash or data hash, or malformed structure).
	ErrBadBlock = errors.New("block does not extend the chain")
	// ErrPrivateDataUnavailable is returned when the hash of a private key is committed but the
	// matching private value is not (the private data was not supplied at commit).
	ErrPrivateDataUnavailable = errors.New("private data matching the committed hash is not available")
)

// Height is a position in the chain: a block number and a transaction number within that
// block. It is the version of a state entry (the transaction that last wrote it).
type Height struct{ BlockNum, TxNum uint64 }

// VersionedValue is a state value with the version of its last write.
type VersionedValue struct {
	Value    []byte
	Metadata []byte // marshalled kvrwset.KVMetadataWrite entries, nil if none
	Version  Height
}

// KV is one entry of a state range.
type KV struct {
	Key   string
	Value *VersionedValue
}

// StateIterator iterates state entries in key byte order. Next returns nil, nil at the end.
type StateIterator interface {
	Next() (*KV, error)
	Close()
}

// HistoryIterator iterates the modifications of one key, oldest first. Next returns nil, nil
// at the end.
type HistoryIterator interface {
	Next() (*queryresult.KeyModification, error)
	Close()
}

// TxRecord is the tx-index entry of a transaction: where it is and its final validation code.
// For a transaction ID that occurs more than once, it is the first occurrence.
type TxRecord struct {
	BlockNum, TxNum uint64
	Code            peer.TxValidationCode
	Envelope        *common.Envelope
}

// Option configures Open.
type Option func(*options)

type options struct {
	hooks       []func(*common.Block)
	blockToLive func(ns, coll string) uint64
	mmapSize    int
	lockTimeout time.Duration
	fileMode    os.FileMode
}

// WithCommitHook registers a function called after every successful commit with the
// committed block (metadata filled in). Hooks run synchronously in block order while the
// commit lock is held: they may read the ledger but must not call Commit or Close, and should
// be quick.
func WithCommitHook(fn func(*common.Block)) Option {
	return func(o *options) { o.hooks = append(o.hooks, fn) }
}

// WithBlockToLive makes Commit purge private data as Fabric's blockToLive does: fn returns
// the collection's blockToLive (0 = keep forever) and is called at commit time for each
// private write. A private key written in block b of a collection with blockToLive n is
// readable up to block b+n and purged (value and hash) when block b+n+1 is committed, unless
// a later transaction has written it again.
func WithBlockToLive(fn func(ns, coll string) uint64) Option {
	return func(o *options) { o.blockToLive = fn }
}

// WithInitialMmapSize sets bbolt's initial memory map size in bytes (default 1 GiB). While
// the file stays below it, open snapshots never delay a commit; beyond it, a commit that grows
// the map waits for open snapshots to be released.
func WithInitialMmapSize(n int) Option {
	return func(o *options) { o.mmapSize = n }
}

// WithLockTimeout sets how long Open waits for the file lock held by another process
// (default 5 s).
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// Ledger is the devnet's block store and state database. All methods are safe for
// concurrent use; commits are serialised.
type Ledger struct {
	db   *bolt.DB
	path string
	opts options

	commitMu sync.Mutex // serialises Commit

	mu         sync.RWMutex // guards the fields below
	height     uint64
	lastHash   []byte
	prevHash   []byte
	lastConfig uint64
	commitHash []byte
	notify     chan struct{} // closed and replaced after every commit and on Close
	closed     bool
	subs       map[uint64]chan uint64
	nextSub    uint64
	// txWaiters are the transaction-status waiters by transaction ID: a commit wakes only the
	// waiters of the transactions it indexes, not every waiter of every transaction.
	txWaiters map[string]*txWaiter
}

// txWaiter is shared by the waiters of one transaction ID; ch is closed when a block indexes
// the transaction or the ledger closes.
type txWaiter struct {
	ch   chan struct{}
	refs int
}

// Open opens (creating if needed) the ledger in dir/ledger.db. The file is locked against
// other processes; commits are fsync'd.
func Open(dir string, opts ...Option) (*Ledger, error) {
	o := options{mmapSize: 1 << 30, lockTimeout: 5 * time.Second, fileMode: 0o600}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create ledger directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, o.fileMode, &bolt.Options{
		Timeout:      o.lockTimeout,
		FreelistType: bolt.FreelistMapType,
		// The free page list is not written at every commit but rebuilt when the file is
		// opened (as etcd runs bbolt): fewer pages per commit, a longer Open on a large file.
		NoFreelistSync:  true,
		InitialMmapSize: o.mmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	l := &Ledger{db: db, path: path, opts: o, notify: make(chan struct{}), subs: map[uint64]chan uint64{},
		txWaiters: map[string]*txWaiter{}}
	if err := l.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return l, nil
}

func (l *Ledger) init() error {
	return l.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := checkFormat(meta); err != nil {
			return err
		}
		if err := l.loadHead(meta); err != nil {
			return err
		}
		if err := checkTip(tx, l.height, l.lastHash); err != nil {
			return err
		}
		if l.height > 0 && tx.Bucket(bucketHashes).Get(l.lastHash) == nil {
			return indexBlockHashes(tx)
		}
		return nil
	})
}

// checkFormat records the storage format of a new ledger, or checks that of an existing one.
func checkFormat(meta *bolt.Bucket) error {
	f := meta.Get(metaFormat)
	if f == nil {
		if err := meta.Put(metaFormat, []byte(formatVersion)); err != nil {
			return fmt.Errorf("write format version: %w", err)
		}
		return nil
	}
	if string(f) != formatVersion {
		return fmt.Errorf("unsupported ledger format %q (want %q)", f, formatVersion)
	}
	return nil
}

// loadHead reads the chain head records (height, hashes, last config) into l.
func (l *Ledger) loadHead(meta *bolt.Bucket) error {
	if h := meta.Get(metaHeight); h != nil {
		if len(h) != 8 {
			return fmt.Errorf("height record: %w", ErrCorrupt)
		}
		l.height = binary.BigEndian.Uint64(h)
	}
	l.lastHash = bytes.Clone(meta.Get(metaLastHash))
	l.prevHash = bytes.Clone(meta.Get(metaPrevHash))
	l.commitHash = bytes.Clone(meta.Get(metaCommitHash))
	if c := meta.Get(metaLastConfig); c != nil {
		if len(c) != 8 {
			return fmt.Errorf("last config record: %w", ErrCorrupt)
		}
		l.lastConfig = binary.BigEndian.Uint64(c)
	}
	return nil
}

// checkTip verifies in O(1) that the height and last-hash records agree with the stored
// blocks: block height-1 exists with that header hash and block height does not.
func checkTip(tx *bolt.Tx, height uint64, lastHash []byte) error {
	blocks := tx.Bucket(bucketBlocks)
	if blocks.Get(be64(height)) != nil {
		return fmt.Errorf("block %d stored beyond height %d: %w", height, height, ErrCorrupt)
	}
	if height == 0 {
		return nil
	}
	v := blocks.Get(be64(height - 1))
	if v == nil {
		return fmt.Errorf("last block %d missing: %w", height-1, ErrCorrupt)
	}
	hdr, err := wireField(v, 1)
	if err != nil {
		return fmt.Errorf("last block %d header: %w", height-1, err)
	}
	h := &common.BlockHeader{}
	if err := proto.Unmarshal(hdr, h); err != nil {
		return fmt.Errorf("last block %d header: %w", height-1, err)
	}
	if !bytes.Equal(BlockHeaderHash(h), lastHash) {
		return fmt.Errorf("last block %d hash %x, recorded %x: %w", height-1, BlockHeaderHash(h), lastHash, ErrCorrupt)
	}
	return nil
}

// indexBlockHashes (re)builds the block-hash index from the stored blocks (for ledgers
// written before the index existed).
func indexBlockHashes(tx *bolt.Tx) error {
	idx := tx.Bucket(bucketHashes)
	c := tx.Bucket(bucketBlocks).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		hdr, err := wireField(v, 1)
		if err != nil {
			return fmt.Errorf("block %x header: %w", k, err)
		}
		h := &common.BlockHeader{}
		if err := proto.Unmarshal(hdr, h); err != nil {
			return fmt.Errorf("block %x header: %w", k, err)
		}
		if err := idx.Put(BlockHeaderHash(h), bytes.Clone(k)); err != nil {
			return fmt.Errorf("index block %x: %w", k, err)
		}
	}
	return nil
}

// Path returns the path of the bbolt file.
func (l *Ledger) Path() string { return l.path }

// Close closes the ledger: waiters and subscribers are released with ErrClosed / a closed
// channel. It waits until all open snapshots are released.
func (l *Ledger) Close() error {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.notify)
	for id, ch := range l.subs {
		close(ch)
		delete(l.subs, id)
	}
	for id, w := range l.txWaiters {
		close(w.ch)
		delete(l.txWaiters, id)
	}
	l.mu.Unlock()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// Height returns the number of committed blocks.
func (l *Ledger) Height() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.height
}

// LastConfigIndex returns the number of the last committed block holding a config
// transaction (0 before any).
func (l *Ledger) LastConfigIndex() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastConfig
}

// CommitHash returns the COMMIT_HASH of the last block: a running hash of every block's
// validation flags and its public and hashed private state updates. Two ledgers that
// committed the same blocks with the same outcome have the same commit hash, whatever private
// data each holds.
func (l *Ledger) CommitHash() []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return bytes.Clone(l.commitHash)
}

// ChainInfo returns the height and the hashes of the last block (its header hash and its
// previous hash), as Fabric's qscc GetChainInfo reports them.
func (l *Ledger) ChainInfo() (*common.BlockchainInfo, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	return &common.BlockchainInfo{
		Height:            l.height,
		CurrentBlockHash:  bytes.Clone(l.lastHash),
		PreviousBlockHash: bytes.Clone(l.prevHash),
	}, nil
}

func (l *Ledger) view(fn func(tx *bolt.Tx) error) error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return closedErr(l.db.View(fn))
}

// closedErr turns bbolt's "database not open" (a race with Close) into ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// Block returns committed block num, with its metadata.
func (l *Ledger) Block(num uint64) (*common.Block, error) {
	b, err := l.BlockBytes(num)
	if err != nil {
		return nil, err
	}
	blk := &common.Block{}
	if err := proto.Unmarshal(b, blk); err != nil {
		return nil, fmt.Errorf("unmarshal block %d: %w", num, err)
	}
	return blk, nil
}

// BlockByHash returns the committed block whose header hash (BlockHeaderHash) is hash, as
// qscc GetBlockByHash does, or an error wrapping ErrNotFound.
func (l *Ledger) BlockByHash(hash []byte) (*common.Block, error) {
	var num uint64
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHashes).Get(hash)
		if len(v) != 8 {
			return fmt.Errorf("block with hash %x: %w", hash, ErrNotFound)
		}
		num = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l.Block(num)
}

// BlockBytes returns the stored (marshalled) common.Block num.
func (l *Ledger) BlockBytes(num uint64) ([]byte, error) {
	var b []byte
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBlocks).Get(be64(num))
		if v == nil {
			return fmt.Errorf("block %d: %w", num, ErrNotFound)
		}
		b = bytes.Clone(v)
		return nil
	})
	return b, err
}

// PrivateWriteSets returns the private write sets that were supplied to Commit for the valid
// transactions of committed block num, by transaction number (nil if there were none), as
// Fabric's private data store keeps them for DeliverWithPrivateData and for peers that pull
// them.
func (l *Ledger) PrivateWriteSets(num uint64) (map[uint64]*rwset.TxPvtReadWriteSet, error) {
	var stored *peer.BlockAndPrivateData
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPvtBlocks).Get(be64(num))
		if v == nil {
			return nil
		}
		stored = &peer.BlockAndPrivateData{}
		if err := proto.Unmarshal(v, stored); err != nil {
			return fmt.Errorf("private write sets of block %d: %w", num, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored.GetPrivateDataMap(), nil
}

// TxByID returns the index entry and envelope of a committed transaction, or an error
// wrapping ErrNotFound. Invalid transactions are indexed too, with their validation code.
func (l *Ledger) TxByID(txID string) (*TxRecord, error) {
	var rec *TxRecord
	var envBytes []byte
	err := l.view(func(tx *bolt.Tx) error {
		var err error
		if rec, err = txIndexEntry(tx, txID); err != nil {
			return err
		}
		bb := tx.Bucket(bucketBlocks).Get(be64(rec.BlockNum))
		if bb == nil {
			return fmt.Errorf("block %d of transaction %q: %w", rec.BlockNum, txID, ErrCorrupt)
		}
		e, err := envelopeAt(bb, rec.TxNum)
		if err != nil {
			return fmt.Errorf("transaction %q in block %d: %w", txID, rec.BlockNum, err)
		}
		envBytes = bytes.Clone(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rec.Envelope = &common.Envelope{}
	if err := proto.Unmarshal(envBytes, rec.Envelope); err != nil {
		return nil, fmt.Errorf("unmarshal envelope of transaction %q: %w", txID, err)
	}
	return rec, nil
}

// TxStatus is TxByID without the envelope (Envelope is nil): one index lookup, no block read.
// It is what duplicate checks and commit-status waiters need.
func (l *Ledger) TxStatus(txID string) (*TxRecord, error) {
	var rec *TxRecord
	err := l.view(func(tx *bolt.Tx) error {
		var err error
		rec, err = txIndexEntry(tx, txID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// txIndexEntry reads the tx-ID index entry of txID (Envelope left nil).
func txIndexEntry(tx *bolt.Tx, txID string) (*TxRecord, error) {
	v := tx.Bucket(bucketTxIndex).Get([]byte(txID))
	if v == nil {
		return nil, fmt.Errorf("transaction %q: %w", txID, ErrNotFound)
	}
	iv, err := decodeTxIndex(v)
	if err != nil {
		return nil, fmt.Errorf("transaction %q: %w", txID, err)
	}
	return &TxRecord{BlockNum: iv.blockNum, TxNum: iv.txNum, Code: peer.TxValidationCode(iv.code)}, nil
}

// changed returns a channel closed at the next commit (or Close), the current height and
// whether the ledger is already closed.
func (l *Ledger) changed() (<-chan struct{}, uint64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.notify, l.height, l.closed
}

// WaitForHeight blocks until at least h blocks are committed, ctx is done (its error is
// returned) or the ledger is closed (ErrClosed).
func (l *Ledger) WaitForHeight(ctx context.Context, h uint64) error {
	return waitForHeight(ctx, h, "ledger", l.changed)
}

// waitForHeight waits until changed reports a height of at least h, the store closes
// (ErrClosed) or ctx is done. changed returns a channel closed at the next change, the
// height and whether the store is closed; what names the store in errors.
func waitForHeight(ctx context.Context, h uint64, what string, changed func() (<-chan struct{}, uint64, bool)) error {
	for {
		ch, height, closed := changed()
		if height >= h {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s height %d (at %d): %w", what, h, height, ctx.Err())
		case <-ch:
		}
	}
}

// WaitForTx blocks until transaction txID is committed (valid or not) and returns its
// record, or returns ctx's error or ErrClosed.
func (l *Ledger) WaitForTx(ctx context.Context, txID string) (*TxRecord, error) {
	return l.waitForTx(ctx, txID, l.TxByID)
}

// WaitForTxStatus is WaitForTx without the envelope (see TxStatus): every commit wakes every
// waiter, so each wake-up costs one index lookup instead of a block read and an envelope
// decode. This is what Gateway CommitStatus needs.
func (l *Ledger) WaitForTxStatus(ctx context.Context, txID string) (*TxRecord, error) {
	return l.waitForTx(ctx, txID, l.TxStatus)
}

func (l *Ledger) waitForTx(ctx context.Context, txID string, lookup func(string) (*TxRecord, error)) (*TxRecord, error) {
	for {
		// Register before looking up, so that a commit between the lookup and the wait
		// is not missed.
		w, closed := l.addTxWaiter(txID)
		rec, err := lookup(txID)
		if err == nil || !errors.Is(err, ErrNotFound) || closed {
			l.removeTxWaiter(txID, w)
			if err == nil {
				return rec, nil
			}
			if closed {
				return nil, ErrClosed
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			l.removeTxWaiter(txID, w)
			return nil, fmt.Errorf("wait for transaction %q: %w", txID, ctx.Err())
		case <-w.ch:
			l.removeTxWaiter(txID, w)
		}
	}
}

// addTxWaiter registers interest in txID (w is nil and closed true on a closed ledger).
func (l *Ledger) addTxWaiter(txID string) (w *txWaiter, closed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, true
	}
	w, ok := l.txWaiters[txID]
	if !ok {
		w = &txWaiter{ch: make(chan struct{})}
		l.txWaiters[txID] = w
	}
	w.refs++
	return w, false
}

// removeTxWaiter drops one reference to w; the last one removes it if it is still registered.
func (l *Ledger) removeTxWaiter(txID string, w *txWaiter) {
	if w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w.refs--
	if cur, ok := l.txWaiters[txID]; ok && cur == w && w.refs == 0 {
		delete(l.txWaiters, txID)
	}
}

// Subscribe returns a channel that receives the ledger height after commits, and a function
// that ends the subscription. Heights may be coalesced (a slow reader sees only the latest)
// but the latest height is always delivered. The channel is closed by cancel or Close.
func (l *Ledger) Subscribe() (<-chan uint64, func()) {
	ch := make(chan uint64, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		close(ch)
		return ch, func() {}
	}
	id := l.nextSub
	l.nextSub++
	l.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if c, ok := l.subs[id]; ok {
				close(c)
				delete(l.subs, id)
			}
		})
	}
}

// publish records a committed block in memory and wakes waiters, the transaction-status
// waiters of the indexed transaction IDs only; l.mu must not be held.
func (l *Ledger) publish(height uint64, lastHash, prevHash, commitHash []byte, lastConfig uint64, indexed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range indexed {
		if w, ok := l.txWaiters[id]; ok {
			close(w.ch)
			delete(l.txWaiters, id)
		}
	}
	l.height = height
	l.lastHash = lastHash
	l.prevHash = prevHash
	l.commitHash = commitHash
	l.lastConfig = lastConfig
	close(l.notify)
	l.notify = make(chan struct{})
	for _, ch := range l.subs {
		select {
		case <-ch: // drop a stale height so the latest fits
		default:
		}
		select {
		case ch <- height:
		default:
		}
	}
}

// BlockIterator reads committed blocks in order, waiting for new ones (for Deliver).
type BlockIterator struct {
	l    *Ledger
	next uint64
}

// Blocks returns an iterator starting at block number from.
func (l *Ledger) Blocks(from uint64) *BlockIterator {
	return &BlockIterator{l: l, next: from}
}

// Next returns the next block, waiting until it is committed, ctx is done or the ledger is
// closed.
func (it *BlockIterator) Next(ctx context.Context) (*common.Block, error) {
	if err := it.l.WaitForHeight(ctx, it.next+1); err != nil {
		return nil, err
	}
	b, err := it.l.Block(it.next)
	if err != nil {
		return nil, err
	}
	it.next++
	return b, nil
}

// Position returns the number of the block Next returns.
func (it *BlockIterator) Position() uint64 { return it.next }

// VerifyChain walks all committed blocks in one consistent view and checks that they are
// numbered in order, that every data hash matches the block's envelopes, that every previous
// hash is the header hash of the block before, that the last hash and height records match,
// that the TRANSACTIONS_FILTER covers every transaction, that every block is in the
// block-hash index and that every transaction ID in a block is in the tx index at or before
// its position.
func (l *Ledger) VerifyChain() error {
	return l.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var height uint64
		if h := meta.Get(metaHeight); h != nil {
			height = binary.BigEndian.Uint64(h)
		}
		idx := tx.Bucket(bucketTxIndex)
		hashes := tx.Bucket(bucketHashes)
		c := tx.Bucket(bucketBlocks).Cursor()
		var prev []byte
		var n uint64
		for k, v := c.First(); k != nil; k, v = c.Next() {
			b, err := verifyStoredBlock(k, v, n, prev)
			if err != nil {
				return err
			}
			if err := verifyTxIndexed(idx, b, n); err != nil {
				return err
			}
			prev = BlockHeaderHash(b.GetHeader())
			if hn := hashes.Get(prev); len(hn) != 8 || binary.BigEndian.Uint64(hn) != n {
				return fmt.Errorf("block %d missing from the block-hash index: %w", n, ErrCorrupt)
			}
			n++
		}
		if n != height {
			return fmt.Errorf("%d blocks stored, height record says %d: %w", n, height, ErrCorrupt)
		}
		if !bytes.Equal(meta.Get(metaLastHash), prev) {
			return fmt.Errorf("last hash record %x, chain ends at %x: %w", meta.Get(metaLastHash), prev, ErrCorrupt)
		}
		return nil
	})
}

// verifyStoredBlock decodes the block stored under key k at position n of the chain and
// checks its number, its previous hash (prev), its data hash and its validation flags.
func verifyStoredBlock(k, v []byte, n uint64, prev []byte) (*common.Block, error) {
	if binary.BigEndian.Uint64(k) != n {
		return nil, fmt.Errorf("block key %x at position %d: %w", k, n, ErrCorrupt)
	}
	b := &common.Block{}
	if err := proto.Unmarshal(v, b); err != nil {
		return nil, fmt.Errorf("unmarshal block %d: %w", n, err)
	}
	if b.GetHeader().GetNumber() != n {
		return nil, fmt.Errorf("block %d has header number %d: %w", n, b.GetHeader().GetNumber(), ErrCorrupt)
	}
	if !bytes.Equal(b.GetHeader().GetPreviousHash(), prev) {
		return nil, fmt.Errorf("block %d previous hash %x, want %x: %w", n, b.GetHeader().GetPreviousHash(), prev, ErrCorrupt)
	}
	if dh := BlockDataHash(b.GetData()); !bytes.Equal(dh, b.GetHeader().GetDataHash()) {
		return nil, fmt.Errorf("block %d data hash %x, computed %x: %w", n, b.GetHeader().GetDataHash(), dh, ErrCorrupt)
	}
	if f := TxValidationFlags(b); len(f) != len(b.GetData().GetData()) {
		return nil, fmt.Errorf("block %d has %d validation flags for %d transactions: %w", n, len(f), len(b.GetData().GetData()), ErrCorrupt)
	}
	return b, nil
}

// verifyTxIndexed checks that every indexable transaction ID of block n is in the tx index at
// or before its position.
func verifyTxIndexed(idx *bolt.Bucket, b *common.Block, n uint64) error {
	for i, env := range b.GetData().GetData() {
		p, _, err := ParseTx(env)
		if err != nil || p.TxID() == "" || len(p.TxID()) > maxKeyLen {
			continue // not indexed
		}
		iv := idx.Get([]byte(p.TxID()))
		if iv == nil {
			return fmt.Errorf("block %d tx %d (%s) missing from the tx index: %w", n, i, p.TxID(), ErrCorrupt)
		}
		rec, err := decodeTxIndex(iv)
		if err != nil {
			return err
		}
		if rec.blockNum > n || (rec.blockNum == n && rec.txNum > uint64(i)) {
			return fmt.Errorf("block %d tx %d (%s) indexed at %d/%d: %w", n, i, p.TxID(), rec.blockNum, rec.txNum, ErrCorrupt)
		}
	}
	return nil
}
