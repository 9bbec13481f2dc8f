package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var deterministic = proto.MarshalOptions{Deterministic: true}

// sha256Empty is the hash of an empty value; a hashed write of it is a delete, as in Fabric.
var sha256Empty = func() []byte { s := sha256.Sum256(nil); return s[:] }()

// Commit validates and commits the next block.
//
// The block must be numbered Height(), carry the header hash of the previous block as its
// PreviousHash (empty for block 0) and a DataHash matching its envelopes; otherwise Commit
// returns an error wrapping ErrBadBlock and changes nothing. preCodes holds the validation
// code from the earlier (signature and endorsement policy) checks for each envelope, nil
// meaning all VALID. A transaction ID seen earlier in the block is DUPLICATE_TXID whatever its
// pre-code (as Fabric's committer marks it). For each transaction still VALID, Commit checks,
// in block order: duplicate transaction IDs already committed (DUPLICATE_TXID), envelope
// structure (ParseTx codes), public read versions and hashed private read versions
// against the state including earlier valid transactions of the block (MVCC_READ_CONFLICT),
// and range queries re-executed against that state (PHANTOM_READ_CONFLICT). Config
// transactions are VALID with no state effect; other header types are UNKNOWN_TX_TYPE.
//
// A valid transaction's writes are applied at version (block, tx): public writes (an empty
// value is a delete, as in Fabric; a value write keeps the key's metadata), metadata writes
// (ignored for absent keys), hashed private writes and metadata, and the private values from
// pvt[txIndex] for each collection whose PvtRwsetHash matches SHA-256 of the supplied rwset.
// History records every public write and delete. Every transaction with an ID is indexed
// with its final code, except that a repeated ID keeps its first index entry. With
// WithBlockToLive, private data expiring at this block is purged in the same transaction.
//
// Commit fills TRANSACTIONS_FILTER, COMMIT_HASH and (when empty) LAST_CONFIG, stores the block,
// all updates and the private write sets supplied for valid transactions (PrivateWriteSets) in
// one fsync'd bbolt transaction, sets block.Metadata to the stored metadata and returns the
// final codes.
func (l *Ledger) Commit(block *common.Block, preCodes []peer.TxValidationCode,
	pvt map[uint64]*rwset.TxPvtReadWriteSet,
) ([]peer.TxValidationCode, error) {
	codes, err := l.CommitBlocks([]BlockCommit{{Block: block, PreCodes: preCodes, Pvt: pvt}})
	if err != nil {
		return nil, err
	}
	return codes[0], nil
}

// BlockCommit is one block for CommitBlocks: the block, the codes of the earlier checks (nil:
// all VALID) and the private write sets supplied for its transactions, as Commit takes them.
// Parsed, when set, is ParseBlock of the same block (shared by ledgers committing it); nil
// means the block is parsed here.
type BlockCommit struct {
	Block    *common.Block
	PreCodes []peer.TxValidationCode
	Pvt      map[uint64]*rwset.TxPvtReadWriteSet
	Parsed   *ParsedBlock
}

// CommitBlocks commits consecutive blocks in one fsync'd bbolt transaction, each exactly as
// Commit commits it after the ones before: a block's checks see the writes of the blocks
// before it. All are committed or none (a block that does not extend the chain the blocks
// before it leave is an error wrapping ErrBadBlock). A peer that is behind commits the blocks
// it has with one fsync instead of one each; every block stays atomic, and after a crash the
// ledger ends at a block boundary. It returns the final codes of each block.
func (l *Ledger) CommitBlocks(blocks []BlockCommit) ([][]peer.TxValidationCode, error) {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	l.mu.RLock()
	closed := l.closed
	head := chainHead{height: l.height, lastHash: l.lastHash, prevHash: l.prevHash, commitHash: l.commitHash, lastConfig: l.lastConfig}
	l.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if len(blocks) == 0 {
		return nil, nil
	}
	tx, err := l.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("commit block %d: begin: %w", head.height, err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after a successful Commit

	out := make([][]peer.TxValidationCode, len(blocks))
	stored := make([]*common.Block, len(blocks))
	var indexed []string
	for i, bc := range blocks {
		var idx []string
		if out[i], stored[i], idx, err = l.commitBlock(tx, bc, &head); err != nil {
			return nil, err
		}
		indexed = append(indexed, idx...)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit block %d: %w", head.height-1, err)
	}
	for i, bc := range blocks {
		bc.Block.Metadata = stored[i].Metadata
	}
	l.publish(head.height, head.lastHash, head.prevHash, head.commitHash, head.lastConfig, indexed)
	for _, bc := range blocks {
		for _, hook := range l.opts.hooks {
			hook(bc.Block)
		}
	}
	return out, nil
}

// commitBlock applies one block inside the read-write transaction tx on top of head, which it
// advances. It returns the final codes, the block as stored and the transaction IDs indexed.
func (l *Ledger) commitBlock(tx *bolt.Tx, bc BlockCommit, head *chainHead) ([]peer.TxValidationCode, *common.Block, []string, error) {
	block := bc.Block
	if err := checkBlock(block, bc.PreCodes, head.height, head.lastHash); err != nil {
		return nil, nil, nil, err
	}
	num := block.GetHeader().GetNumber()
	parsed := bc.Parsed
	if !parsed.fits(block) {
		parsed = ParseBlock(block)
	}
	c := l.newCommitter(tx, num, head.lastConfig)
	codes := make([]peer.TxValidationCode, len(parsed.txs))
	for i := range parsed.txs {
		code := peer.TxValidationCode_VALID
		if bc.PreCodes != nil {
			code = bc.PreCodes[i]
		}
		var err error
		if codes[i], err = c.commitTx(uint64(i), &parsed.txs[i], code, bc.Pvt[uint64(i)]); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := c.purgeExpired(); err != nil {
		return nil, nil, nil, fmt.Errorf("commit block %d: purge expired private data: %w", num, err)
	}
	if err := storePrivateWriteSets(tx, num, codes, bc.Pvt); err != nil {
		return nil, nil, nil, err
	}
	stored, next, err := c.storeBlock(tx, block, codes, head.commitHash)
	if err != nil {
		return nil, nil, nil, err
	}
	next.height, next.lastConfig = num+1, c.lastConfig
	*head = *next
	return codes, stored, c.indexed, nil
}

// newCommitter returns the committer of block num inside the read-write transaction tx.
func (l *Ledger) newCommitter(tx *bolt.Tx, num, lastConfig uint64) *committer {
	return &committer{
		blockNum:   num,
		state:      tx.Bucket(bucketState),
		history:    tx.Bucket(bucketHistory),
		pvt:        tx.Bucket(bucketPvt),
		pvtHash:    tx.Bucket(bucketPvtHash),
		expiry:     tx.Bucket(bucketExpiry),
		index:      tx.Bucket(bucketTxIndex),
		btl:        l.opts.blockToLive,
		updates:    sha256.New(),
		lastConfig: lastConfig,
	}
}

// commitTx decides the final code of the block's transaction txNum (pre-validated with
// code), applies its writes if it is valid and indexes its ID unless that ID is already
// indexed.
func (c *committer) commitTx(txNum uint64, pe *parsedEnvelope, code peer.TxValidationCode, pvt *rwset.TxPvtReadWriteSet) (peer.TxValidationCode, error) {
	txID, code := idForCommit(pe, code)
	duplicate, code, err := c.checkDuplicate(txID, code)
	if err != nil {
		return 0, err
	}
	if code == peer.TxValidationCode_VALID {
		if code, err = c.execute(pe, txNum, pvt); err != nil {
			return 0, fmt.Errorf("commit block %d tx %d (%s): %w", c.blockNum, txNum, txID, err)
		}
	}
	if txID != "" && !duplicate {
		if err := c.index.Put([]byte(txID), encodeTxIndex(txIndexValue{blockNum: c.blockNum, txNum: txNum, code: int32(code)})); err != nil {
			return 0, fmt.Errorf("commit block %d: index tx %s: %w", c.blockNum, txID, err)
		}
		c.indexed = append(c.indexed, txID)
	}
	return code, nil
}

// idForCommit returns the transaction ID of a parsed envelope of the block ("" if it has none
// that can be indexed) and its code: a VALID code becomes the parse failure's code, or
// BAD_PROPOSAL_TXID for an ID too long to index.
func idForCommit(pe *parsedEnvelope, code peer.TxValidationCode) (string, peer.TxValidationCode) {
	txID := ""
	if pe.tx != nil {
		txID = pe.tx.TxID()
	} else if code == peer.TxValidationCode_VALID {
		code = pe.code
	}
	if len(txID) > maxKeyLen {
		// Too long to index; a real transaction ID is a 64-character hex digest.
		txID = ""
		if code == peer.TxValidationCode_VALID {
			code = peer.TxValidationCode_BAD_PROPOSAL_TXID
		}
	}
	return txID, code
}

// checkDuplicate reports whether txID is already indexed and the transaction's code given
// that: a repeat within the block is DUPLICATE_TXID whatever its earlier code, as Fabric's
// committer marks it; a repeat of a committed ID overrides VALID only.
func (c *committer) checkDuplicate(txID string, code peer.TxValidationCode) (bool, peer.TxValidationCode, error) {
	if txID == "" {
		return false, code, nil
	}
	prev := c.index.Get([]byte(txID))
	if prev == nil {
		return false, code, nil
	}
	first, err := decodeTxIndex(prev)
	if err != nil {
		return true, code, fmt.Errorf("commit block %d: tx index of %s: %w", c.blockNum, txID, err)
	}
	if first.blockNum == c.blockNum || code == peer.TxValidationCode_VALID {
		code = peer.TxValidationCode_DUPLICATE_TXID
	}
	return true, code, nil
}

// execute commits a transaction that is valid so far: a config transaction becomes the last
// configuration, an endorser transaction is validated and applied, other types are
// UNKNOWN_TX_TYPE.
func (c *committer) execute(pe *parsedEnvelope, txNum uint64, pvt *rwset.TxPvtReadWriteSet) (peer.TxValidationCode, error) {
	switch pe.tx.HeaderType() {
	case common.HeaderType_CONFIG:
		c.lastConfig = c.blockNum
		return peer.TxValidationCode_VALID, nil
	case common.HeaderType_ENDORSER_TRANSACTION:
		return c.validateAndApply(pe, txNum, pvt)
	default:
		return peer.TxValidationCode_UNKNOWN_TX_TYPE, nil
	}
}

// chainHead is the ledger's head: what the last committed block made it.
type chainHead struct {
	height                         uint64
	lastHash, prevHash, commitHash []byte
	lastConfig                     uint64
}

// storeBlock stores the block with its final metadata (validation flags, commit hash chained
// to prevCommitHash, last config), indexes its header hash and records the new chain head,
// all in tx. It returns the stored block and the new head.
func (c *committer) storeBlock(tx *bolt.Tx, block *common.Block, codes []peer.TxValidationCode, prevCommitHash []byte) (*common.Block, *chainHead, error) {
	num := c.blockNum
	md := buildMetadata(block, codes, c.lastConfig)
	head := &chainHead{
		lastHash:   BlockHeaderHash(block.GetHeader()),
		prevHash:   bytes.Clone(block.GetHeader().GetPreviousHash()),
		commitHash: nextCommitHash(md[common.BlockMetadataIndex_TRANSACTIONS_FILTER], c.updates.Sum(nil), prevCommitHash),
	}
	var err error
	md[common.BlockMetadataIndex_COMMIT_HASH], err = proto.Marshal(&common.Metadata{Value: head.commitHash})
	if err != nil {
		return nil, nil, fmt.Errorf("commit block %d: marshal commit hash: %w", num, err)
	}
	stored := &common.Block{Header: block.GetHeader(), Data: block.GetData(), Metadata: &common.BlockMetadata{Metadata: md}}
	blockBytes, err := deterministic.Marshal(stored)
	if err != nil {
		return nil, nil, fmt.Errorf("commit block %d: marshal: %w", num, err)
	}
	if err := tx.Bucket(bucketBlocks).Put(be64(num), blockBytes); err != nil {
		return nil, nil, fmt.Errorf("commit block %d: store block: %w", num, err)
	}
	if err := tx.Bucket(bucketHashes).Put(head.lastHash, be64(num)); err != nil {
		return nil, nil, fmt.Errorf("commit block %d: index block hash: %w", num, err)
	}
	meta := tx.Bucket(bucketMeta)
	for _, kv := range []struct{ k, v []byte }{
		{metaHeight, be64(num + 1)},
		{metaLastHash, head.lastHash},
		{metaPrevHash, head.prevHash},
		{metaLastConfig, be64(c.lastConfig)},
		{metaCommitHash, head.commitHash},
	} {
		if err := meta.Put(kv.k, kv.v); err != nil {
			return nil, nil, fmt.Errorf("commit block %d: meta %s: %w", num, kv.k, err)
		}
	}
	return stored, head, nil
}

// storePrivateWriteSets keeps the private write sets supplied for the valid transactions of
// block num, for delivery (PrivateWriteSets), in the block's own commit.
func storePrivateWriteSets(tx *bolt.Tx, num uint64, codes []peer.TxValidationCode, pvt map[uint64]*rwset.TxPvtReadWriteSet) error {
	valid := map[uint64]*rwset.TxPvtReadWriteSet{}
	for i, p := range pvt {
		if i < uint64(len(codes)) && codes[i] == peer.TxValidationCode_VALID && len(p.GetNsPvtRwset()) > 0 {
			valid[i] = p
		}
	}
	if len(valid) == 0 {
		return nil
	}
	b, err := deterministic.Marshal(&peer.BlockAndPrivateData{PrivateDataMap: valid})
	if err != nil {
		return fmt.Errorf("commit block %d: marshal private write sets: %w", num, err)
	}
	if err := tx.Bucket(bucketPvtBlocks).Put(be64(num), b); err != nil {
		return fmt.Errorf("commit block %d: store private write sets: %w", num, err)
	}
	return nil
}

// checkBlock verifies that block extends the chain at height with previous hash lastHash.
func checkBlock(block *common.Block, preCodes []peer.TxValidationCode, height uint64, lastHash []byte) error {
	if block.GetHeader() == nil || block.GetData() == nil {
		return fmt.Errorf("block without header or data: %w", ErrBadBlock)
	}
	h := block.GetHeader()
	if h.GetNumber() != height {
		return fmt.Errorf("block number %d, ledger height %d: %w", h.GetNumber(), height, ErrBadBlock)
	}
	if !bytes.Equal(h.GetPreviousHash(), lastHash) {
		return fmt.Errorf("block %d previous hash %x, last block hash %x: %w", h.GetNumber(), h.GetPreviousHash(), lastHash, ErrBadBlock)
	}
	if dh := BlockDataHash(block.GetData()); !bytes.Equal(dh, h.GetDataHash()) {
		return fmt.Errorf("block %d data hash %x, computed %x: %w", h.GetNumber(), h.GetDataHash(), dh, ErrBadBlock)
	}
	if preCodes != nil && len(preCodes) != len(block.GetData().GetData()) {
		return fmt.Errorf("block %d has %d transactions but %d validation codes: %w", h.GetNumber(), len(block.GetData().GetData()), len(preCodes), ErrBadBlock)
	}
	return nil
}

// buildMetadata returns the block's metadata slots with TRANSACTIONS_FILTER set and
// LAST_CONFIG filled if empty. COMMIT_HASH is set by the caller.
func buildMetadata(block *common.Block, codes []peer.TxValidationCode, lastConfig uint64) [][]byte {
	md := make([][]byte, NumMetadataSlots)
	for i, m := range block.GetMetadata().GetMetadata() {
		if i < NumMetadataSlots {
			md[i] = m
		}
	}
	for i := range md {
		if md[i] == nil {
			md[i] = []byte{}
		}
	}
	filter := make([]byte, len(codes))
	for i, c := range codes {
		filter[i] = byte(c)
	}
	md[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	if len(md[common.BlockMetadataIndex_LAST_CONFIG]) == 0 {
		lc, _ := proto.Marshal(&common.LastConfig{Index: lastConfig})
		md[common.BlockMetadataIndex_LAST_CONFIG], _ = proto.Marshal(&common.Metadata{Value: lc})
	}
	return md
}

// nextCommitHash chains the commit hash like Fabric's peer: SHA-256 over the varint length
// of the validation flags, the flags, a digest of the block's public and hashed private state
// updates and the previous commit hash. The update digest is this ledger's own deterministic encoding, so the value is
// reproducible by this ledger but not byte-identical to a Fabric peer's.
func nextCommitHash(filter, updatesDigest, prev []byte) []byte {
	h := sha256.New()
	h.Write(binary.AppendUvarint(nil, uint64(len(filter))))
	h.Write(filter)
	h.Write(updatesDigest)
	h.Write(prev)
	return h.Sum(nil)
}

// committer applies one block's transactions inside a bbolt read-write transaction. Reads
// see the writes of earlier valid transactions of the same block (bbolt read-your-writes).
type committer struct {
	blockNum uint64
	state    *bolt.Bucket
	history  *bolt.Bucket
	pvt      *bolt.Bucket
	pvtHash  *bolt.Bucket
	expiry   *bolt.Bucket
	index    *bolt.Bucket
	btl      func(ns, coll string) uint64 // nil = no private data expiry
	updates  hash.Hash                    // digest of applied updates, for COMMIT_HASH

	lastConfig uint64   // the last configuration block, this one's if it holds a config transaction
	indexed    []string // the transaction IDs whose index entry this block creates
}

// scheduleExpiry records that the private entry under hashKey, written at ver, expires per
// the collection's blockToLive. key is its clear key when the private value was stored.
func (c *committer) scheduleExpiry(ns, coll string, hashKey []byte, ver Height, key *string) error {
	if c.btl == nil {
		return nil
	}
	btl := c.btl(ns, coll)
	if btl == 0 {
		return nil
	}
	v := expiryValue{version: ver}
	if key != nil {
		v.key, v.hasKey = *key, true
	}
	if err := c.expiry.Put(expiryKey(ver.BlockNum+btl+1, hashKey), encodeExpiry(v)); err != nil {
		return fmt.Errorf("schedule expiry of %s/%s: %w", ns, coll, err)
	}
	return nil
}

// purgeExpired deletes the private values and hashes that expire at this block, unless they
// were rewritten since, and drops the block's expiry entries.
func (c *committer) purgeExpired() error {
	prefix := be64(c.blockNum)
	cur := c.expiry.Cursor()
	var done [][]byte
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		done = append(done, bytes.Clone(k))
		if err := c.purgeEntry(k, v); err != nil {
			return err
		}
	}
	for _, k := range done {
		if err := c.expiry.Delete(k); err != nil {
			return fmt.Errorf("drop expiry entry %x: %w", k, err)
		}
	}
	return nil
}

// purgeEntry deletes the private hash named by the expiry entry k (and its clear value when
// stored), unless it was rewritten after the expiring write.
func (c *committer) purgeEntry(k, v []byte) error {
	ev, err := decodeExpiry(v)
	if err != nil {
		return fmt.Errorf("expiry entry %x: %w", k, err)
	}
	hk := bytes.Clone(k[8:])
	hv := c.pvtHash.Get(hk)
	if hv == nil {
		return nil
	}
	h, err := decodeVersion(hv)
	if err != nil {
		return fmt.Errorf("private data hash %x: %w", hk, err)
	}
	if h != ev.version {
		return nil // rewritten after the expiring write
	}
	if ev.hasKey && len(hk) >= sha256.Size {
		pk := append(bytes.Clone(hk[:len(hk)-sha256.Size]), ev.key...)
		if pv := c.pvt.Get(pk); pv != nil {
			if err := c.del(c.pvt, tagPvt, pk); err != nil {
				return err
			}
		}
	}
	return c.del(c.pvtHash, tagPvtHash, hk)
}

// nsSets is one namespace's decoded read-write sets.
type nsSets struct {
	ns     string
	kv     *kvrwset.KVRWSet
	hashed []collHashed
}

type collHashed struct {
	coll       string
	set        *kvrwset.HashedRWSet
	pvtRWSHash []byte
}

// validateAndApply validates an endorser transaction's read-write set and applies its writes
// if valid. A non-nil error is a storage failure that aborts the whole block.
func (c *committer) validateAndApply(pe *parsedEnvelope, txNum uint64, pvt *rwset.TxPvtReadWriteSet) (peer.TxValidationCode, error) {
	p, sets := pe.tx, pe.sets
	if !pe.setsOK {
		return peer.TxValidationCode_BAD_RWSET, nil
	}
	if !keysFit(sets, pvt) {
		return peer.TxValidationCode_INVALID_WRITESET, nil
	}
	// Validate everything before applying anything.
	for _, s := range sets {
		if code, err := c.checkReads(s); code != peer.TxValidationCode_VALID || err != nil {
			return code, err
		}
	}
	ver := Height{BlockNum: c.blockNum, TxNum: txNum}
	ts := p.ChannelHeader.GetTimestamp()
	for _, s := range sets {
		if err := c.applyPublic(s.ns, s.kv, ver, p.TxID(), ts); err != nil {
			return 0, err
		}
		for _, h := range s.hashed {
			if err := c.applyHashed(s.ns, h, ver); err != nil {
				return 0, err
			}
			if err := c.applyPrivate(s.ns, h, pvt, ver); err != nil {
				return 0, err
			}
		}
	}
	return peer.TxValidationCode_VALID, nil
}

// decodeSets decodes the namespaces' read-write sets of a transaction; false if one is not a
// valid KVRWSet or HashedRWSet.
func decodeSets(rws *rwset.TxReadWriteSet) ([]nsSets, bool) {
	sets := make([]nsSets, 0, len(rws.GetNsRwset()))
	for _, ns := range rws.GetNsRwset() {
		s := nsSets{ns: ns.GetNamespace(), kv: &kvrwset.KVRWSet{}}
		if err := proto.Unmarshal(ns.GetRwset(), s.kv); err != nil {
			return nil, false
		}
		for _, ch := range ns.GetCollectionHashedRwset() {
			h := &kvrwset.HashedRWSet{}
			if err := proto.Unmarshal(ch.GetHashedRwset(), h); err != nil {
				return nil, false
			}
			s.hashed = append(s.hashed, collHashed{coll: ch.GetCollectionName(), set: h, pvtRWSHash: ch.GetPvtRwsetHash()})
		}
		sets = append(sets, s)
	}
	return sets, true
}

// checkReads checks one namespace's reads against the current state: read versions and
// hashed private read versions (MVCC_READ_CONFLICT) and range queries
// (PHANTOM_READ_CONFLICT). It returns VALID if they all still hold.
func (c *committer) checkReads(s nsSets) (peer.TxValidationCode, error) {
	for _, r := range s.kv.GetReads() {
		ok, err := c.versionMatches(c.state, stateKey(s.ns, r.GetKey()), r.GetVersion())
		if err != nil || !ok {
			return peer.TxValidationCode_MVCC_READ_CONFLICT, err
		}
	}
	for _, rq := range s.kv.GetRangeQueriesInfo() {
		ok, err := c.rangeStillValid(s.ns, rq)
		if err != nil || !ok {
			return peer.TxValidationCode_PHANTOM_READ_CONFLICT, err
		}
	}
	for _, h := range s.hashed {
		for _, r := range h.set.GetHashedReads() {
			ok, err := c.versionMatches(c.pvtHash, pvtHashKey(s.ns, h.coll, r.GetKeyHash()), r.GetVersion())
			if err != nil || !ok {
				return peer.TxValidationCode_MVCC_READ_CONFLICT, err
			}
		}
	}
	return peer.TxValidationCode_VALID, nil
}

// maxKeyLen bounds the namespace, collection and key lengths of a write so that every
// derived storage key (state, history, private data, expiry) fits bbolt's key size limit.
const maxKeyLen = bolt.MaxKeySize - 64

// keysFit reports whether every written key of a transaction can be stored. A transaction
// writing a longer key (a devnet storage limit of 32 KiB per key), or naming a namespace or
// collection that is empty or contains a 0x00 byte (the storage key separator; Fabric's
// chaincode and collection names never do), is INVALID_WRITESET.
func keysFit(sets []nsSets, pvt *rwset.TxPvtReadWriteSet) bool {
	for _, s := range sets {
		if !nsKeysFit(s) {
			return false
		}
	}
	for _, nsp := range pvt.GetNsPvtRwset() {
		for _, cp := range nsp.GetCollectionPvtRwset() {
			if !pvtKeysFit(nsp.GetNamespace(), cp) {
				return false
			}
		}
	}
	return true
}

// badName reports whether a namespace or collection name cannot be part of a storage key.
func badName(n string) bool { return n == "" || strings.IndexByte(n, 0) >= 0 }

// nsKeysFit applies keysFit to one namespace's public and hashed writes.
func nsKeysFit(s nsSets) bool {
	if badName(s.ns) {
		return false
	}
	for _, h := range s.hashed {
		if badName(h.coll) || len(s.ns)+len(h.coll) > maxKeyLen {
			return false
		}
	}
	for _, w := range s.kv.GetWrites() {
		if len(s.ns)+len(w.GetKey()) > maxKeyLen {
			return false
		}
	}
	return true
}

// pvtKeysFit applies keysFit to the clear private writes of one collection.
func pvtKeysFit(ns string, cp *rwset.CollectionPvtReadWriteSet) bool {
	// The raw key length is bounded by the rwset size; only decode when it could matter.
	if len(ns)+len(cp.GetCollectionName())+len(cp.GetRwset()) <= maxKeyLen {
		return true
	}
	kv := &kvrwset.KVRWSet{}
	if proto.Unmarshal(cp.GetRwset(), kv) != nil {
		return true // not applied anyway
	}
	for _, w := range kv.GetWrites() {
		if len(ns)+len(cp.GetCollectionName())+len(w.GetKey()) > maxKeyLen {
			return false
		}
	}
	return true
}

// versionMatches reports whether the committed version under k equals want (nil = absent).
func (c *committer) versionMatches(b *bolt.Bucket, k []byte, want *kvrwset.Version) (bool, error) {
	v := b.Get(k)
	if v == nil {
		return want == nil, nil
	}
	if want == nil {
		return false, nil
	}
	h, err := decodeVersion(v)
	if err != nil {
		return false, fmt.Errorf("state %q: %w", k, err)
	}
	return h.BlockNum == want.GetBlockNum() && h.TxNum == want.GetTxNum(), nil
}

// rangeStillValid re-executes a range query against the current state and compares its
// results with what the simulation saw (raw reads or merkle summary).
func (c *committer) rangeStillValid(ns string, rq *kvrwset.RangeQueryInfo) (bool, error) {
	scan := c.newRangeScan(ns, rq)
	if summary := rq.GetReadsMerkleHashes(); summary != nil {
		return scan.matchesSummary(rq, summary)
	}
	for _, want := range rq.GetRawReads().GetKvReads() {
		r, err := scan.next()
		if err != nil {
			return false, err
		}
		if r == nil || r.GetKey() != want.GetKey() || r.GetVersion().GetBlockNum() != want.GetVersion().GetBlockNum() ||
			r.GetVersion().GetTxNum() != want.GetVersion().GetTxNum() {
			return false, nil
		}
	}
	r, err := scan.next()
	return r == nil, err
}

// rangeScan re-executes a range query over the committed state of one namespace.
type rangeScan struct {
	prefix     []byte
	end        []byte // nil: to the end of the namespace
	includeEnd bool
	cur        *bolt.Cursor
	k, v       []byte
}

func (c *committer) newRangeScan(ns string, rq *kvrwset.RangeQueryInfo) *rangeScan {
	prefix := nsPrefix(ns)
	start := append(bytes.Clone(prefix), rq.GetStartKey()...)
	var end []byte
	if rq.GetEndKey() != "" {
		end = append(bytes.Clone(prefix), rq.GetEndKey()...)
	}
	s := &rangeScan{prefix: prefix, end: end, includeEnd: !rq.GetItrExhausted(), cur: c.state.Cursor()}
	s.k, s.v = s.cur.Seek(start)
	return s
}

// next returns the next read of the range, nil at its end.
func (s *rangeScan) next() (*kvrwset.KVRead, error) {
	if s.k == nil || !bytes.HasPrefix(s.k, s.prefix) {
		return nil, nil
	}
	if s.end != nil {
		cmp := bytes.Compare(s.k, s.end)
		if cmp > 0 || (cmp == 0 && !s.includeEnd) {
			return nil, nil
		}
	}
	h, err := decodeVersion(s.v)
	if err != nil {
		return nil, fmt.Errorf("range entry %q: %w", s.k, err)
	}
	r := &kvrwset.KVRead{Key: string(s.k[len(s.prefix):]), Version: &kvrwset.Version{BlockNum: h.BlockNum, TxNum: h.TxNum}}
	s.k, s.v = s.cur.Next()
	return r, nil
}

// matchesSummary reports whether the range's reads now hash to the merkle summary the
// simulation recorded.
func (s *rangeScan) matchesSummary(rq *kvrwset.RangeQueryInfo, summary *kvrwset.QueryReadsMerkleSummary) (bool, error) {
	rec, err := newRecorder(rq.GetStartKey(), rq.GetEndKey(), summary.GetMaxDegree())
	if err != nil {
		return false, nil
	}
	for {
		r, err := s.next()
		if err != nil {
			return false, err
		}
		if r == nil {
			break
		}
		rec.add(r)
	}
	got := rec.finish().GetReadsMerkleHashes()
	return got != nil && got.GetMaxDegree() == summary.GetMaxDegree() && got.GetMaxLevel() == summary.GetMaxLevel() &&
		slices.EqualFunc(got.GetMaxLevelHashes(), summary.GetMaxLevelHashes(), bytes.Equal), nil
}

// put stores key -> value in b and feeds the commit-hash digest (except private values: the
// commit hash covers public and hashed updates only, as Fabric's does, so that peers of
// organisations inside and outside a collection compute the same one).
func (c *committer) put(b *bolt.Bucket, tag byte, k, v []byte) error {
	if tag != tagPvt {
		c.digest(tag, k, v, false)
	}
	if err := b.Put(k, v); err != nil {
		return fmt.Errorf("put %q: %w", k, err)
	}
	return nil
}

// del removes key from b and feeds the commit-hash digest (except private values, see put).
func (c *committer) del(b *bolt.Bucket, tag byte, k []byte) error {
	if tag != tagPvt {
		c.digest(tag, k, nil, true)
	}
	if err := b.Delete(k); err != nil {
		return fmt.Errorf("delete %q: %w", k, err)
	}
	return nil
}

func (c *committer) digest(tag byte, k, v []byte, isDelete bool) {
	var hdr []byte
	hdr = append(hdr, tag)
	if isDelete {
		hdr = append(hdr, 1)
	} else {
		hdr = append(hdr, 0)
	}
	hdr = binary.AppendUvarint(hdr, uint64(len(k)))
	hdr = binary.AppendUvarint(hdr, uint64(len(v)))
	c.updates.Write(hdr)
	c.updates.Write(k)
	c.updates.Write(v)
}

// current returns the decoded state under k in b, or nil.
func current(b *bolt.Bucket, k []byte) (*VersionedValue, error) {
	v := b.Get(k)
	if v == nil {
		return nil, nil
	}
	vv, err := decodeState(v)
	if err != nil {
		return nil, fmt.Errorf("state %q: %w", k, err)
	}
	return vv, nil
}

// encodeMetadataEntries serialises metadata entries as Fabric's state database does
// (a marshalled kvrwset.KVMetadataWrite without key); nil entries mean no metadata.
func encodeMetadataEntries(entries []*kvrwset.KVMetadataEntry) ([]byte, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	b, err := proto.Marshal(&kvrwset.KVMetadataWrite{Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("marshal metadata: %w", err)
	}
	return b, nil
}

const (
	tagState   byte = 's'
	tagPvtHash byte = 'h'
	tagPvt     byte = 'p'
)

func (c *committer) applyPublic(ns string, kv *kvrwset.KVRWSet, ver Height, txID string, ts *timestamppb.Timestamp) error {
	for _, w := range kv.GetWrites() {
		if err := c.applyPublicWrite(ns, w, ver, txID, ts); err != nil {
			return err
		}
	}
	for _, mw := range kv.GetMetadataWrites() {
		if _, err := c.applyMetadata(c.state, tagState, stateKey(ns, mw.GetKey()), mw.GetEntries(), ver); err != nil {
			return err
		}
	}
	return nil
}

// applyPublicWrite applies one public write (an empty value deletes; a value keeps the key's
// metadata) and records it in the key's history.
func (c *committer) applyPublicWrite(ns string, w *kvrwset.KVWrite, ver Height, txID string, ts *timestamppb.Timestamp) error {
	k := stateKey(ns, w.GetKey())
	isDelete := w.GetIsDelete() || len(w.GetValue()) == 0
	if isDelete {
		if err := c.del(c.state, tagState, k); err != nil {
			return err
		}
	} else if err := c.putKeepingMetadata(c.state, tagState, k, w.GetValue(), ver); err != nil {
		return err
	}
	hv := historyValue{txID: txID, timestamp: ts, isDelete: isDelete}
	if !isDelete {
		hv.value = w.GetValue()
	}
	if err := c.history.Put(historyKey(ns, w.GetKey(), ver.BlockNum, ver.TxNum), encodeHistory(hv)); err != nil {
		return fmt.Errorf("history %s/%q: %w", ns, w.GetKey(), err)
	}
	return nil
}

// putKeepingMetadata stores value at version ver under k, keeping the entry's metadata.
func (c *committer) putKeepingMetadata(b *bolt.Bucket, tag byte, k, value []byte, ver Height) error {
	cur, err := current(b, k)
	if err != nil {
		return err
	}
	vv := &VersionedValue{Value: value, Version: ver}
	if cur != nil {
		vv.Metadata = cur.Metadata
	}
	return c.put(b, tag, k, encodeState(vv))
}

// applyMetadata replaces the metadata of the entry under k and bumps its version. It reports
// false (and changes nothing) if there is no entry.
func (c *committer) applyMetadata(b *bolt.Bucket, tag byte, k []byte, entries []*kvrwset.KVMetadataEntry, ver Height) (bool, error) {
	cur, err := current(b, k)
	if err != nil || cur == nil {
		return false, err
	}
	md, err := encodeMetadataEntries(entries)
	if err != nil {
		return false, err
	}
	return true, c.put(b, tag, k, encodeState(&VersionedValue{Value: cur.Value, Metadata: md, Version: ver}))
}

func (c *committer) applyHashed(ns string, h collHashed, ver Height) error {
	for _, w := range h.set.GetHashedWrites() {
		k := pvtHashKey(ns, h.coll, w.GetKeyHash())
		if w.GetIsDelete() || w.GetIsPurge() || len(w.GetValueHash()) == 0 || bytes.Equal(w.GetValueHash(), sha256Empty) {
			if err := c.del(c.pvtHash, tagPvtHash, k); err != nil {
				return err
			}
			continue
		}
		if err := c.putKeepingMetadata(c.pvtHash, tagPvtHash, k, w.GetValueHash(), ver); err != nil {
			return err
		}
		if err := c.scheduleExpiry(ns, h.coll, k, ver, nil); err != nil {
			return err
		}
	}
	for _, mw := range h.set.GetMetadataWrites() {
		k := pvtHashKey(ns, h.coll, mw.GetKeyHash())
		applied, err := c.applyMetadata(c.pvtHash, tagPvtHash, k, mw.GetEntries(), ver)
		if err == nil && applied {
			err = c.scheduleExpiry(ns, h.coll, k, ver, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyPrivate stores the private values of collection h.coll if the supplied private rwset
// matches the endorsed hash. Without it the hashes stay committed and GetPrivateData reports
// ErrPrivateDataUnavailable for the affected keys.
func (c *committer) applyPrivate(ns string, h collHashed, pvt *rwset.TxPvtReadWriteSet, ver Height) error {
	kv := endorsedPrivateWrites(ns, h, pvt)
	if kv == nil {
		return nil
	}
	for _, w := range kv.GetWrites() {
		if err := c.applyPrivateWrite(ns, h.coll, w, ver); err != nil {
			return err
		}
	}
	// A metadata-only write bumps the hashed entry's version; carry the unchanged private
	// value to that version when it is the value the hash commits to (as Fabric does).
	for _, mw := range kv.GetMetadataWrites() {
		if err := c.carryPrivateValue(ns, h.coll, mw.GetKey()); err != nil {
			return err
		}
	}
	return nil
}

// endorsedPrivateWrites returns the clear private writes of collection h.coll supplied in
// pvt, or nil if there are none, they do not match the endorsed hash or cannot be decoded.
func endorsedPrivateWrites(ns string, h collHashed, pvt *rwset.TxPvtReadWriteSet) *kvrwset.KVRWSet {
	var raw []byte
	for _, nsp := range pvt.GetNsPvtRwset() {
		if nsp.GetNamespace() != ns {
			continue
		}
		for _, cp := range nsp.GetCollectionPvtRwset() {
			if cp.GetCollectionName() == h.coll {
				raw = cp.GetRwset()
			}
		}
	}
	if raw == nil {
		return nil
	}
	sum := sha256.Sum256(raw)
	if !bytes.Equal(sum[:], h.pvtRWSHash) {
		return nil
	}
	kv := &kvrwset.KVRWSet{}
	if err := proto.Unmarshal(raw, kv); err != nil {
		return nil // the endorsed hash matched garbage: nothing usable to store
	}
	return kv
}

// applyPrivateWrite stores or deletes one clear private value and schedules its expiry.
func (c *committer) applyPrivateWrite(ns, coll string, w *kvrwset.KVWrite, ver Height) error {
	k := pvtKey(ns, coll, w.GetKey())
	if w.GetIsDelete() || len(w.GetValue()) == 0 {
		return c.del(c.pvt, tagPvt, k)
	}
	if err := c.put(c.pvt, tagPvt, k, encodeState(&VersionedValue{Value: w.GetValue(), Version: ver})); err != nil {
		return err
	}
	kh := sha256.Sum256([]byte(w.GetKey()))
	key := w.GetKey()
	return c.scheduleExpiry(ns, coll, pvtHashKey(ns, coll, kh[:]), ver, &key)
}

// carryPrivateValue moves the clear private value of key to the version of its hashed entry
// after a metadata-only write, when the hash commits to that value.
func (c *committer) carryPrivateValue(ns, coll, key string) error {
	kh := sha256.Sum256([]byte(key))
	hv, err := current(c.pvtHash, pvtHashKey(ns, coll, kh[:]))
	if err != nil {
		return err
	}
	k := pvtKey(ns, coll, key)
	pv, err := current(c.pvt, k)
	if err != nil {
		return err
	}
	if hv == nil || pv == nil || pv.Version == hv.Version {
		return nil
	}
	if vh := sha256.Sum256(pv.Value); !bytes.Equal(vh[:], hv.Value) {
		return nil
	}
	if err := c.put(c.pvt, tagPvt, k, encodeState(&VersionedValue{Value: pv.Value, Version: hv.Version})); err != nil {
		return err
	}
	return c.scheduleExpiry(ns, coll, pvtHashKey(ns, coll, kh[:]), hv.Version, &key)
}
