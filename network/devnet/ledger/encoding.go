package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Bucket names inside ledger.db.
var (
	bucketBlocks  = []byte("blocks")  // be64(blockNum) -> marshalled common.Block
	bucketTxIndex = []byte("txids")   // txID -> txIndexValue
	bucketState   = []byte("state")   // ns 0x00 key -> stateValue
	bucketHistory = []byte("history") // ns 0x00 be32(len(key)) key be64(block) be64(tx) -> historyValue
	bucketPvt     = []byte("pvt")     // ns 0x00 coll 0x00 key -> stateValue (value)
	bucketPvtHash = []byte("pvthash") // ns 0x00 coll 0x00 sha256(key) -> stateValue (value hash)
	bucketMeta    = []byte("meta")    // see meta keys
	bucketExpiry  = []byte("expiry")  // be64(expiring block) ns 0x00 coll 0x00 sha256(key) -> expiryValue
	bucketHashes  = []byte("hashes")  // block header hash -> be64(blockNum)
	// be64(blockNum) -> marshalled peer.BlockAndPrivateData (PrivateDataMap only): the private
	// write sets supplied for the block's valid transactions, for delivery
	bucketPvtBlocks = []byte("pvtblocks")

	allBuckets = [][]byte{bucketBlocks, bucketTxIndex, bucketState, bucketHistory, bucketPvt, bucketPvtHash, bucketMeta, bucketExpiry, bucketHashes, bucketPvtBlocks}
)

// Keys inside the meta bucket.
var (
	metaHeight     = []byte("height")     // be64 number of blocks
	metaLastHash   = []byte("lasthash")   // header hash of the last block
	metaPrevHash   = []byte("prevhash")   // previous hash of the last block
	metaLastConfig = []byte("lastconfig") // be64 number of the last block holding a config tx
	metaCommitHash = []byte("commithash") // running commit hash (COMMIT_HASH metadata)
	metaFormat     = []byte("format")     // storage format version
)

// formatVersion is the storage layout version written to the meta bucket.
const formatVersion = "xborder-devnet-ledger/1"

// ErrCorrupt is returned when stored ledger data is inconsistent (a record that does not
// decode, a broken hash chain, a missing index entry).
var ErrCorrupt = errors.New("corrupt ledger data")

func be64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func stateKey(ns, key string) []byte {
	b := make([]byte, 0, len(ns)+1+len(key))
	b = append(b, ns...)
	b = append(b, 0)
	return append(b, key...)
}

func nsPrefix(ns string) []byte {
	b := make([]byte, 0, len(ns)+1)
	b = append(b, ns...)
	return append(b, 0)
}

func collPrefix(ns, coll string) []byte {
	b := make([]byte, 0, len(ns)+len(coll)+2)
	b = append(b, ns...)
	b = append(b, 0)
	b = append(b, coll...)
	return append(b, 0)
}

func pvtKey(ns, coll, key string) []byte {
	return append(collPrefix(ns, coll), key...)
}

func pvtHashKey(ns, coll string, keyHash []byte) []byte {
	return append(collPrefix(ns, coll), keyHash...)
}

func historyPrefix(ns, key string) []byte {
	b := make([]byte, 0, len(ns)+5+len(key)+16)
	b = append(b, ns...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	return append(b, key...)
}

func historyKey(ns, key string, blockNum, txNum uint64) []byte {
	b := historyPrefix(ns, key)
	b = binary.BigEndian.AppendUint64(b, blockNum)
	return binary.BigEndian.AppendUint64(b, txNum)
}

// encodeState encodes a versioned value: uvarint block, uvarint tx, uvarint len(meta), meta, value.
func encodeState(vv *VersionedValue) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+binary.MaxVarintLen32+len(vv.Metadata)+len(vv.Value))
	b = binary.AppendUvarint(b, vv.Version.BlockNum)
	b = binary.AppendUvarint(b, vv.Version.TxNum)
	b = binary.AppendUvarint(b, uint64(len(vv.Metadata)))
	b = append(b, vv.Metadata...)
	return append(b, vv.Value...)
}

// decodeState decodes encodeState's output, copying the bytes (bbolt memory is only valid
// inside its transaction).
func decodeState(b []byte) (*VersionedValue, error) {
	vv := &VersionedValue{}
	var n int
	if vv.Version.BlockNum, n = binary.Uvarint(b); n <= 0 {
		return nil, fmt.Errorf("state record block number: %w", ErrCorrupt)
	}
	b = b[n:]
	if vv.Version.TxNum, n = binary.Uvarint(b); n <= 0 {
		return nil, fmt.Errorf("state record tx number: %w", ErrCorrupt)
	}
	b = b[n:]
	ml, n := binary.Uvarint(b)
	if n <= 0 || ml > uint64(len(b)-n) {
		return nil, fmt.Errorf("state record metadata length: %w", ErrCorrupt)
	}
	b = b[n:]
	if ml > 0 {
		vv.Metadata = append([]byte(nil), b[:ml]...)
	}
	vv.Value = append([]byte{}, b[ml:]...)
	return vv, nil
}

// decodeVersion decodes only the version of a state record.
func decodeVersion(b []byte) (Height, error) {
	var h Height
	var n int
	if h.BlockNum, n = binary.Uvarint(b); n <= 0 {
		return h, fmt.Errorf("state record block number: %w", ErrCorrupt)
	}
	if h.TxNum, n = binary.Uvarint(b[n:]); n <= 0 {
		return h, fmt.Errorf("state record tx number: %w", ErrCorrupt)
	}
	return h, nil
}

type txIndexValue struct {
	blockNum, txNum uint64
	code            int32
}

func encodeTxIndex(v txIndexValue) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, v.blockNum)
	b = binary.AppendUvarint(b, v.txNum)
	return binary.AppendUvarint(b, uint64(uint32(v.code)))
}

func decodeTxIndex(b []byte) (txIndexValue, error) {
	var v txIndexValue
	var n int
	if v.blockNum, n = binary.Uvarint(b); n <= 0 {
		return v, fmt.Errorf("tx index block number: %w", ErrCorrupt)
	}
	b = b[n:]
	if v.txNum, n = binary.Uvarint(b); n <= 0 {
		return v, fmt.Errorf("tx index tx number: %w", ErrCorrupt)
	}
	b = b[n:]
	c, n := binary.Uvarint(b)
	if n <= 0 {
		return v, fmt.Errorf("tx index code: %w", ErrCorrupt)
	}
	v.code = int32(uint32(c))
	return v, nil
}

// historyValue is one history record of a key.
type historyValue struct {
	txID      string
	timestamp *timestamppb.Timestamp
	isDelete  bool
	value     []byte
}

func encodeHistory(h historyValue) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(h.txID)+len(h.value)+binary.MaxVarintLen32)
	var flags byte
	if h.isDelete {
		flags |= 1
	}
	if h.timestamp != nil {
		flags |= 2
	}
	b = append(b, flags)
	if h.timestamp != nil {
		b = binary.AppendVarint(b, h.timestamp.GetSeconds())
		b = binary.AppendUvarint(b, uint64(uint32(h.timestamp.GetNanos())))
	}
	b = binary.AppendUvarint(b, uint64(len(h.txID)))
	b = append(b, h.txID...)
	return append(b, h.value...)
}

func decodeHistory(b []byte) (historyValue, error) {
	var h historyValue
	if len(b) < 1 {
		return h, fmt.Errorf("history record: %w", ErrCorrupt)
	}
	flags := b[0]
	b = b[1:]
	h.isDelete = flags&1 != 0
	if flags&2 != 0 {
		sec, n := binary.Varint(b)
		if n <= 0 {
			return h, fmt.Errorf("history record timestamp: %w", ErrCorrupt)
		}
		b = b[n:]
		nanos, n := binary.Uvarint(b)
		if n <= 0 {
			return h, fmt.Errorf("history record timestamp: %w", ErrCorrupt)
		}
		b = b[n:]
		h.timestamp = &timestamppb.Timestamp{Seconds: sec, Nanos: int32(uint32(nanos))}
	}
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return h, fmt.Errorf("history record tx id: %w", ErrCorrupt)
	}
	b = b[n:]
	h.txID = string(b[:l])
	if !h.isDelete {
		h.value = append([]byte{}, b[l:]...)
	}
	return h, nil
}

// expiryKey is the key of a private-data expiry entry: the block at whose commit the entry
// expires, then the hashed-state key.
func expiryKey(expiringBlock uint64, hashKey []byte) []byte {
	b := make([]byte, 0, 8+len(hashKey))
	b = binary.BigEndian.AppendUint64(b, expiringBlock)
	return append(b, hashKey...)
}

// expiryValue is the version an expiry entry applies to and, when the private value was
// stored, its clear key.
type expiryValue struct {
	version Height
	key     string
	hasKey  bool
}

func encodeExpiry(v expiryValue) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+1+len(v.key))
	b = binary.AppendUvarint(b, v.version.BlockNum)
	b = binary.AppendUvarint(b, v.version.TxNum)
	if v.hasKey {
		b = append(b, 1)
		b = append(b, v.key...)
	}
	return b
}

func decodeExpiry(b []byte) (expiryValue, error) {
	var v expiryValue
	var n int
	if v.version.BlockNum, n = binary.Uvarint(b); n <= 0 {
		return v, fmt.Errorf("expiry record block number: %w", ErrCorrupt)
	}
	b = b[n:]
	if v.version.TxNum, n = binary.Uvarint(b); n <= 0 {
		return v, fmt.Errorf("expiry record tx number: %w", ErrCorrupt)
	}
	b = b[n:]
	if len(b) > 0 {
		if b[0] != 1 {
			return v, fmt.Errorf("expiry record key flag: %w", ErrCorrupt)
		}
		v.hasKey = true
		v.key = string(b[1:])
	}
	return v, nil
}
