package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
)

// Files of a BlockStore, inside its directory.
const (
	// BlockFileName is the append-only file of block records.
	BlockFileName = "blocks.dat"
	// BlockIndexName is the index of the block file: the offset of block n's record at 8n.
	BlockIndexName = "blocks.idx"
)

// recordHeaderLen is the size of a block record's header: the length of the marshalled
// block (4 bytes, big endian) and the CRC-32C of those bytes (4 bytes).
const recordHeaderLen = 8

// maxRecordLen bounds one block record (the ordering service's absolute maximum batch size
// plus room for headers and metadata).
const maxRecordLen = 128 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BlockStore is an append-only store of hash-chained blocks, as the ordering service keeps
// them (Fabric's orderer ledger, a block file with an index). Each block is one record in
// blocks.dat, fsync'd before Append returns; blocks.idx maps block numbers to record offsets
// and is rebuilt from the block file when it lags behind (it is written after the block and
// not fsync'd, since the block file alone is authoritative). A record cut short by a crash is
// truncated at Open, so the store always ends at the last complete block.
//
// All methods are safe for concurrent use; appends are serialised.
type BlockStore struct {
	dir   string
	data  *os.File
	index *os.File

	appendMu sync.Mutex // serialises Append

	mu       sync.RWMutex // guards the fields below
	offsets  []int64      // offsets[n] is the start of block n's record
	size     int64        // end of the last complete record
	lastHash []byte
	notify   chan struct{} // closed and replaced after every append and on Close
	closed   bool
}

// OpenBlockStore opens (creating if needed) the block store in dir, truncating a record a
// crash left incomplete and bringing the index up to date.
func OpenBlockStore(dir string) (*BlockStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create block store directory %s: %w", dir, err)
	}
	data, err := os.OpenFile(filepath.Join(dir, BlockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open block file: %w", err)
	}
	index, err := os.OpenFile(filepath.Join(dir, BlockIndexName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		_ = data.Close()
		return nil, fmt.Errorf("open block index: %w", err)
	}
	s := &BlockStore{dir: dir, data: data, index: index, notify: make(chan struct{})}
	if err := s.recover(); err != nil {
		_ = data.Close()
		_ = index.Close()
		return nil, fmt.Errorf("open block store %s: %w", dir, err)
	}
	return s, nil
}

// recover loads the index, keeps its entries that point at intact records numbered as
// expected, scans the block file past them for records the index misses, truncates what
// follows the last complete record and rewrites the index tail.
func (s *BlockStore) recover() error {
	fi, err := s.data.Stat()
	if err != nil {
		return fmt.Errorf("stat block file: %w", err)
	}
	dataSize := fi.Size()
	offsets, err := s.readIndex()
	if err != nil {
		return err
	}
	offsets = s.trustedIndex(offsets, dataSize)
	offsets, last := s.scanRecords(offsets, dataSize)
	if s.size < dataSize {
		if err := s.data.Truncate(s.size); err != nil {
			return fmt.Errorf("truncate incomplete block record: %w", err)
		}
		if err := s.data.Sync(); err != nil {
			return fmt.Errorf("sync block file: %w", err)
		}
	}
	s.offsets = offsets
	if err := s.writeIndexFrom(0); err != nil {
		return err
	}
	if len(offsets) == 0 {
		return nil
	}
	if last == nil {
		if last, err = s.Block(uint64(len(offsets) - 1)); err != nil {
			return err
		}
	}
	s.lastHash = BlockHeaderHash(last.GetHeader())
	return nil
}

// trustedIndex returns the longest prefix of the index's offsets that increases from 0 and
// ends at an intact record of the right block, and sets s.size to the end of that record.
func (s *BlockStore) trustedIndex(offsets []int64, dataSize int64) []int64 {
	for i, off := range offsets {
		if (i == 0 && off != 0) || (i > 0 && off <= offsets[i-1]) {
			offsets = offsets[:i]
			break
		}
	}
	s.size = 0
	for len(offsets) > 0 {
		n := len(offsets) - 1
		if _, end, err := s.readRecordAt(offsets[n], dataSize, uint64(n)); err == nil {
			s.size = end
			break
		}
		offsets = offsets[:n]
	}
	return offsets
}

// scanRecords appends to offsets the complete records that follow s.size in the block file,
// advancing s.size past them, and returns the last block read (nil if none).
func (s *BlockStore) scanRecords(offsets []int64, dataSize int64) ([]int64, *common.Block) {
	var last *common.Block
	for {
		b, end, err := s.readRecordAt(s.size, dataSize, uint64(len(offsets)))
		if err != nil {
			return offsets, last
		}
		offsets = append(offsets, s.size)
		s.size, last = end, b
	}
}

// readIndex returns the offsets the index file lists (a torn last entry is ignored).
func (s *BlockStore) readIndex() ([]int64, error) {
	raw, err := io.ReadAll(io.NewSectionReader(s.index, 0, 1<<62))
	if err != nil {
		return nil, fmt.Errorf("read block index: %w", err)
	}
	offsets := make([]int64, 0, len(raw)/8)
	for i := 0; i+8 <= len(raw); i += 8 {
		offsets = append(offsets, int64(binary.BigEndian.Uint64(raw[i:])))
	}
	return offsets, nil
}

// writeIndexFrom writes the index entries from block from on and cuts the file after the last.
func (s *BlockStore) writeIndexFrom(from int) error {
	buf := make([]byte, 0, 8*(len(s.offsets)-from))
	for _, off := range s.offsets[from:] {
		buf = binary.BigEndian.AppendUint64(buf, uint64(off))
	}
	if _, err := s.index.WriteAt(buf, int64(8*from)); err != nil {
		return fmt.Errorf("write block index: %w", err)
	}
	if err := s.index.Truncate(int64(8 * len(s.offsets))); err != nil {
		return fmt.Errorf("truncate block index: %w", err)
	}
	return nil
}

// errBadRecord marks a record that is incomplete, fails its checksum or is not the block
// expected at its position.
var errBadRecord = errors.New("bad block record")

// readRecordAt reads the record at off (the file holds size bytes) and checks that it is
// intact and holds block num. It returns the block and the offset after the record.
func (s *BlockStore) readRecordAt(off, size int64, num uint64) (*common.Block, int64, error) {
	raw, end, err := s.recordBytes(off, size)
	if err != nil {
		return nil, 0, err
	}
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	if b.GetHeader().GetNumber() != num {
		return nil, 0, fmt.Errorf("%w: block %d where %d belongs", errBadRecord, b.GetHeader().GetNumber(), num)
	}
	return b, end, nil
}

// recordBytes returns the marshalled block of the record at off if it is complete and its
// checksum matches, and the offset after it.
func (s *BlockStore) recordBytes(off, size int64) ([]byte, int64, error) {
	if off < 0 || off+recordHeaderLen > size {
		return nil, 0, fmt.Errorf("%w: no record header at %d", errBadRecord, off)
	}
	var hdr [recordHeaderLen]byte
	if _, err := s.data.ReadAt(hdr[:], off); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if n > maxRecordLen || off+recordHeaderLen+n > size {
		return nil, 0, fmt.Errorf("%w: record at %d overruns the file", errBadRecord, off)
	}
	raw := make([]byte, n)
	if _, err := s.data.ReadAt(raw, off+recordHeaderLen); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	if crc32.Checksum(raw, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
		return nil, 0, fmt.Errorf("%w: checksum mismatch at %d", errBadRecord, off)
	}
	return raw, off + recordHeaderLen + n, nil
}

// Append adds the next block: it must be numbered Height(), carry the header hash of the last
// block as its previous hash (empty for block 0) and a data hash matching its envelopes
// (otherwise an error wrapping ErrBadBlock, nothing written). The block is durable (fsync'd)
// when Append returns.
func (s *BlockStore) Append(block *common.Block) error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.RLock()
	closed, height, lastHash, off := s.closed, uint64(len(s.offsets)), s.lastHash, s.size
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if err := checkBlock(block, nil, height, lastHash); err != nil {
		return err
	}
	raw, err := deterministic.Marshal(block)
	if err != nil {
		return fmt.Errorf("marshal block %d: %w", height, err)
	}
	if len(raw) > maxRecordLen {
		return fmt.Errorf("block %d is %d bytes, more than %d: %w", height, len(raw), maxRecordLen, ErrBadBlock)
	}
	rec := make([]byte, recordHeaderLen, recordHeaderLen+len(raw))
	binary.BigEndian.PutUint32(rec[:4], uint32(len(raw)))
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(raw, castagnoli))
	rec = append(rec, raw...)
	if _, err := s.data.WriteAt(rec, off); err != nil {
		return fmt.Errorf("write block %d: %w", height, err)
	}
	if err := s.data.Sync(); err != nil {
		return fmt.Errorf("sync block %d: %w", height, err)
	}
	var entry [8]byte
	binary.BigEndian.PutUint64(entry[:], uint64(off))
	if _, err := s.index.WriteAt(entry[:], int64(8*height)); err != nil {
		return fmt.Errorf("index block %d: %w", height, err)
	}
	s.mu.Lock()
	s.offsets = append(s.offsets, off)
	s.size = off + int64(len(rec))
	s.lastHash = BlockHeaderHash(block.GetHeader())
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// Height returns the number of blocks in the store.
func (s *BlockStore) Height() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return uint64(len(s.offsets))
}

// ChainInfo returns the height and the header hash of the last block.
func (s *BlockStore) ChainInfo() (height uint64, lastHash []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return uint64(len(s.offsets)), bytes.Clone(s.lastHash)
}

// BlockBytes returns the marshalled block num, or an error wrapping ErrNotFound.
func (s *BlockStore) BlockBytes(num uint64) ([]byte, error) {
	s.mu.RLock()
	closed, height := s.closed, uint64(len(s.offsets))
	var off, end int64
	if num < height {
		off, end = s.offsets[num], s.size
		if num+1 < height {
			end = s.offsets[num+1]
		}
	}
	s.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if num >= height {
		return nil, fmt.Errorf("block %d (height %d): %w", num, height, ErrNotFound)
	}
	raw, _, err := s.recordBytes(off, end)
	switch {
	case errors.Is(err, os.ErrClosed):
		return nil, fmt.Errorf("block %d: %w", num, ErrClosed)
	case err != nil:
		return nil, fmt.Errorf("block %d: %w: %w", num, ErrCorrupt, err)
	}
	return raw, nil
}

// Block returns block num, or an error wrapping ErrNotFound.
func (s *BlockStore) Block(num uint64) (*common.Block, error) {
	raw, err := s.BlockBytes(num)
	if err != nil {
		return nil, err
	}
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("unmarshal block %d: %w", num, err)
	}
	return b, nil
}

// Changed returns a channel that is closed at the next append (or Close), the current height
// and whether the store is closed.
func (s *BlockStore) Changed() (<-chan struct{}, uint64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.notify, uint64(len(s.offsets)), s.closed
}

// WaitForHeight blocks until the store holds at least h blocks, ctx is done (its error is
// returned) or the store is closed (ErrClosed).
func (s *BlockStore) WaitForHeight(ctx context.Context, h uint64) error {
	return waitForHeight(ctx, h, "block store", s.Changed)
}

// Verify reads every block and checks the hash chain: numbers in order, data hashes matching
// the envelopes, previous hashes matching the header hash of the block before.
func (s *BlockStore) Verify() error {
	height, last := s.ChainInfo()
	var prev []byte
	for n := range height {
		b, err := s.Block(n)
		if err != nil {
			return err
		}
		if err := checkBlock(b, nil, n, prev); err != nil {
			return fmt.Errorf("block store: %w", err)
		}
		prev = BlockHeaderHash(b.GetHeader())
	}
	if !bytes.Equal(prev, last) {
		return fmt.Errorf("block store ends at %x, recorded %x: %w", prev, last, ErrCorrupt)
	}
	return nil
}

// Close closes the store's files and wakes waiters with ErrClosed. It is safe to call more
// than once.
func (s *BlockStore) Close() error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.notify)
	s.mu.Unlock()
	return errors.Join(s.data.Close(), s.index.Close())
}
