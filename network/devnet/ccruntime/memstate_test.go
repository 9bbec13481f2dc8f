package ccruntime

import (
	"crypto/sha256"
	"sort"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/ledger"
)

// memState is an in-memory committed state for the tests: public keys, private keys with their
// hashes, and key histories. It implements State and PrivateRangeState.
type memState struct {
	mu      sync.Mutex
	pub     map[string]map[string]*ledger.VersionedValue            // ns -> key
	pvt     map[string]map[string]map[string]*ledger.VersionedValue // ns -> coll -> key
	hashes  map[string]map[string]map[string]*ledger.VersionedValue // ns -> coll -> string(keyHash)
	history map[string]map[string][]*queryresult.KeyModification    // ns -> key
}

func newMemState() *memState {
	return &memState{
		pub:     map[string]map[string]*ledger.VersionedValue{},
		pvt:     map[string]map[string]map[string]*ledger.VersionedValue{},
		hashes:  map[string]map[string]map[string]*ledger.VersionedValue{},
		history: map[string]map[string][]*queryresult.KeyModification{},
	}
}

func (m *memState) put(ns, key, value string, v ledger.Height) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pub[ns] == nil {
		m.pub[ns] = map[string]*ledger.VersionedValue{}
	}
	m.pub[ns][key] = &ledger.VersionedValue{Value: []byte(value), Version: v}
}

// setMetadata stores metadata entries of a public key as the ledger does (a marshalled
// KVMetadataWrite without key).
func (m *memState) setMetadata(ns, key string, entries map[string][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := proto.Marshal(&kvrwset.KVMetadataWrite{Entries: metadataEntries(entries)})
	if err != nil {
		panic(err)
	}
	m.pub[ns][key].Metadata = b
}

// putPrivate commits a private value and its hash; storeValue false commits the hash only (a
// peer that did not receive the private data).
func (m *memState) putPrivate(ns, coll, key, value string, v ledger.Height, storeValue bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pvt[ns] == nil {
		m.pvt[ns] = map[string]map[string]*ledger.VersionedValue{}
		m.hashes[ns] = map[string]map[string]*ledger.VersionedValue{}
	}
	if m.pvt[ns][coll] == nil {
		m.pvt[ns][coll] = map[string]*ledger.VersionedValue{}
		m.hashes[ns][coll] = map[string]*ledger.VersionedValue{}
	}
	if storeValue {
		m.pvt[ns][coll][key] = &ledger.VersionedValue{Value: []byte(value), Version: v}
	}
	vh := sha256.Sum256([]byte(value))
	m.hashes[ns][coll][string(hashKey(key))] = &ledger.VersionedValue{Value: vh[:], Version: v}
}

func (m *memState) addHistory(ns, key, txID, value string, deleted bool, seconds int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.history[ns] == nil {
		m.history[ns] = map[string][]*queryresult.KeyModification{}
	}
	m.history[ns][key] = append(m.history[ns][key], &queryresult.KeyModification{
		TxId: txID, Value: []byte(value), IsDelete: deleted, Timestamp: &timestamppb.Timestamp{Seconds: seconds},
	})
}

func clone(vv *ledger.VersionedValue) *ledger.VersionedValue {
	if vv == nil {
		return nil
	}
	c := *vv
	return &c
}

func (m *memState) GetState(ns, key string) (*ledger.VersionedValue, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clone(m.pub[ns][key]), nil
}

func (m *memState) GetStateRange(ns, startKey, endKey string) (ledger.StateIterator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return newMemIterator(m.pub[ns], startKey, endKey), nil
}

func (m *memState) GetPrivateData(ns, coll, key string) (*ledger.VersionedValue, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clone(m.pvt[ns][coll][key]), nil
}

func (m *memState) GetPrivateDataHash(ns, coll string, keyHash []byte) (*ledger.VersionedValue, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clone(m.hashes[ns][coll][string(keyHash)]), nil
}

func (m *memState) GetPrivateDataRange(ns, coll, startKey, endKey string) (ledger.StateIterator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return newMemIterator(m.pvt[ns][coll], startKey, endKey), nil
}

func (m *memState) GetHistory(ns, key string) (ledger.HistoryIterator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mods := append([]*queryresult.KeyModification(nil), m.history[ns][key]...)
	return &memHistory{mods: mods}, nil
}

type memIterator struct {
	kvs    []*ledger.KV
	closed bool
}

func newMemIterator(values map[string]*ledger.VersionedValue, startKey, endKey string) *memIterator {
	it := &memIterator{}
	for k, v := range values {
		if k >= startKey && (endKey == "" || k < endKey) {
			it.kvs = append(it.kvs, &ledger.KV{Key: k, Value: clone(v)})
		}
	}
	sort.Slice(it.kvs, func(i, j int) bool { return it.kvs[i].Key < it.kvs[j].Key })
	return it
}

func (it *memIterator) Next() (*ledger.KV, error) {
	if it.closed || len(it.kvs) == 0 {
		return nil, nil
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}

func (it *memIterator) Close() { it.closed = true }

type memHistory struct {
	mods []*queryresult.KeyModification
}

func (h *memHistory) Next() (*queryresult.KeyModification, error) {
	if len(h.mods) == 0 {
		return nil, nil
	}
	m := h.mods[0]
	h.mods = h.mods[1:]
	return m, nil
}

func (h *memHistory) Close() { h.mods = nil }
