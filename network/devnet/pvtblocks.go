package devnet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// pvtBlocksFile is the file, in a peer's directory, that keeps the private write sets of the
// blocks the peer committed, for DeliverWithPrivateData and for member peers that missed them
// (Fabric's private data store).
const pvtBlocksFile = "pvtdata.db"

var pvtBlocksBucket = []byte("blocks")

// pvtBlockStore keeps the private write sets of the valid transactions of each block a peer
// committed, for the collections its organisation is a member of, with the block's data
// hash. It is written just before the block is committed, so a client that sees the block
// committed finds its private data; an entry whose data hash does not match the committed
// block (left by a crash before the commit) is ignored.
type pvtBlockStore struct {
	db *bolt.DB
}

func openPvtBlockStore(dir string) (*pvtBlockStore, error) {
	db, err := bolt.Open(filepath.Join(dir, pvtBlocksFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open private data store: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(pvtBlocksBucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init private data store: %w", err)
	}
	return &pvtBlockStore{db: db}, nil
}

func blockKey(num uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, num)
}

// put stores the private write sets of block (keyed by transaction index), replacing any
// earlier entry for its number.
func (s *pvtBlockStore) put(block *common.Block, pvt map[uint64]*rwset.TxPvtReadWriteSet) error {
	num := block.GetHeader().GetNumber()
	var b []byte
	if len(pvt) > 0 {
		var err error
		b, err = proto.MarshalOptions{Deterministic: true}.Marshal(&peer.BlockAndPrivateData{
			Block:          &common.Block{Header: block.GetHeader()},
			PrivateDataMap: pvt,
		})
		if err != nil {
			return fmt.Errorf("marshal private data of block %d: %w", num, err)
		}
	}
	if b == nil {
		// Most blocks carry no private data: write (and fsync) only to clear a stale entry.
		var stale bool
		if err := s.db.View(func(tx *bolt.Tx) error {
			stale = tx.Bucket(pvtBlocksBucket).Get(blockKey(num)) != nil
			return nil
		}); err != nil {
			return fmt.Errorf("read private data of block %d: %w", num, err)
		}
		if !stale {
			return nil
		}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(pvtBlocksBucket)
		if b == nil {
			return bucket.Delete(blockKey(num))
		}
		return bucket.Put(blockKey(num), b)
	}); err != nil {
		return fmt.Errorf("store private data of block %d: %w", num, err)
	}
	return nil
}

// get returns the private write sets stored for the block with header h (nil if none, or if
// the stored entry belongs to another block with that number).
func (s *pvtBlockStore) get(h *common.BlockHeader) (map[uint64]*rwset.TxPvtReadWriteSet, error) {
	num := h.GetNumber()
	var stored *peer.BlockAndPrivateData
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(pvtBlocksBucket).Get(blockKey(num))
		if v == nil {
			return nil
		}
		stored = &peer.BlockAndPrivateData{}
		if err := proto.Unmarshal(v, stored); err != nil {
			return fmt.Errorf("unmarshal private data of block %d: %w", num, err)
		}
		return nil
	})
	if err != nil || stored == nil || !bytes.Equal(stored.GetBlock().GetHeader().GetDataHash(), h.GetDataHash()) {
		return nil, err
	}
	return stored.GetPrivateDataMap(), nil
}

func (s *pvtBlockStore) close() error { return s.db.Close() }

// privateDataFor returns the private write sets of a block the peer committed that reader
// may see: those of valid transactions, for the collections whose member policy it satisfies
// and whose data has not outlived its blockToLive, as Fabric's DeliverWithPrivateData does.
func (p *peerNode) privateDataFor(block *common.Block, reader *msp.Principal) (map[uint64]*rwset.TxPvtReadWriteSet, error) {
	n := p.net
	num := block.GetHeader().GetNumber()
	all, err := p.pvtBlocks.get(block.GetHeader())
	if err != nil {
		return nil, err
	}
	codes := txutil.TxValidationCodes(block)
	height := p.ledger.Height()
	out := map[uint64]*rwset.TxPvtReadWriteSet{}
	for txNum, txPvt := range all {
		if txNum >= uint64(len(codes)) || codes[txNum] != peer.TxValidationCode_VALID {
			continue
		}
		filtered := &rwset.TxPvtReadWriteSet{DataModel: txPvt.GetDataModel()}
		for _, ns := range txPvt.GetNsPvtRwset() {
			keep := &rwset.NsPvtReadWriteSet{Namespace: ns.GetNamespace()}
			for _, coll := range ns.GetCollectionPvtRwset() {
				if n.mayReadCollection(ns.GetNamespace(), coll.GetCollectionName(), reader, num, height) {
					keep.CollectionPvtRwset = append(keep.CollectionPvtRwset, coll)
				}
			}
			if len(keep.GetCollectionPvtRwset()) > 0 {
				filtered.NsPvtRwset = append(filtered.NsPvtRwset, keep)
			}
		}
		if len(filtered.GetNsPvtRwset()) > 0 {
			out[txNum] = filtered
		}
	}
	return out, nil
}

func (n *Network) mayReadCollection(ns, coll string, reader *msp.Principal, blockNum, height uint64) bool {
	cc, ok := n.chaincodes[ns]
	if !ok {
		return false
	}
	c := policy.FindCollection(cc.collections, coll)
	if c == nil {
		return cc.isMember(coll, reader.MSPID)
	}
	if c.BlockToLive > 0 && height > blockNum+c.BlockToLive+1 {
		return false
	}
	env, err := c.MemberPolicy()
	if err != nil {
		return false
	}
	return policy.SatisfiedByPrincipals(env, n.mgr, []*msp.Principal{reader})
}
