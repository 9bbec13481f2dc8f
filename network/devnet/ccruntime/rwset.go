package ccruntime

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
)

// rwsetBuilder records the reads and writes of one simulation the way Fabric's
// rwsetutil.RWSetBuilder does: the last write of a key wins, every collection and namespace is
// emitted in name order and every read, write and metadata write in key order; range queries
// keep their execution order (de-duplicated on start key, end key and exhaustion).
type rwsetBuilder struct {
	pub map[string]*nsBuilder
	pvt map[string]map[string]*collPvtBuilder // namespace -> collection
}

type nsBuilder struct {
	reads      map[string]*kvrwset.KVRead
	writes     map[string]*kvrwset.KVWrite
	metaWrites map[string]*kvrwset.KVMetadataWrite
	ranges     []*kvrwset.RangeQueryInfo
	rangeSeen  map[rangeKey]bool
	colls      map[string]*collHashBuilder
}

type rangeKey struct {
	start, end string
	exhausted  bool
}

type collHashBuilder struct {
	reads      map[string]*kvrwset.KVReadHash
	writes     map[string]*kvrwset.KVWriteHash
	metaWrites map[string]*kvrwset.KVMetadataWriteHash
}

type collPvtBuilder struct {
	writes     map[string]*kvrwset.KVWrite
	metaWrites map[string]*kvrwset.KVMetadataWrite
}

func newRWSetBuilder() *rwsetBuilder {
	return &rwsetBuilder{pub: map[string]*nsBuilder{}, pvt: map[string]map[string]*collPvtBuilder{}}
}

func (b *rwsetBuilder) ns(ns string) *nsBuilder {
	n, ok := b.pub[ns]
	if !ok {
		n = &nsBuilder{
			reads:      map[string]*kvrwset.KVRead{},
			writes:     map[string]*kvrwset.KVWrite{},
			metaWrites: map[string]*kvrwset.KVMetadataWrite{},
			rangeSeen:  map[rangeKey]bool{},
			colls:      map[string]*collHashBuilder{},
		}
		b.pub[ns] = n
	}
	return n
}

func (b *rwsetBuilder) collHash(ns, coll string) *collHashBuilder {
	n := b.ns(ns)
	c, ok := n.colls[coll]
	if !ok {
		c = &collHashBuilder{
			reads:      map[string]*kvrwset.KVReadHash{},
			writes:     map[string]*kvrwset.KVWriteHash{},
			metaWrites: map[string]*kvrwset.KVMetadataWriteHash{},
		}
		n.colls[coll] = c
	}
	return c
}

func (b *rwsetBuilder) collPvt(ns, coll string) *collPvtBuilder {
	m, ok := b.pvt[ns]
	if !ok {
		m = map[string]*collPvtBuilder{}
		b.pvt[ns] = m
	}
	c, ok := m[coll]
	if !ok {
		c = &collPvtBuilder{writes: map[string]*kvrwset.KVWrite{}, metaWrites: map[string]*kvrwset.KVMetadataWrite{}}
		m[coll] = c
	}
	return c
}

func (b *rwsetBuilder) addRead(ns, key string, v *kvrwset.Version) {
	b.ns(ns).reads[key] = &kvrwset.KVRead{Key: key, Version: v}
}

func (b *rwsetBuilder) addWrite(ns, key string, value []byte) {
	b.ns(ns).writes[key] = &kvrwset.KVWrite{Key: key, IsDelete: len(value) == 0, Value: value}
}

func (b *rwsetBuilder) addMetadataWrite(ns, key string, md map[string][]byte) {
	b.ns(ns).metaWrites[key] = &kvrwset.KVMetadataWrite{Key: key, Entries: metadataEntries(md)}
}

func (b *rwsetBuilder) addRangeQuery(ns string, rqi *kvrwset.RangeQueryInfo) {
	n := b.ns(ns)
	k := rangeKey{rqi.GetStartKey(), rqi.GetEndKey(), rqi.GetItrExhausted()}
	if n.rangeSeen[k] {
		return
	}
	n.rangeSeen[k] = true
	n.ranges = append(n.ranges, rqi)
}

func (b *rwsetBuilder) addHashedRead(ns, coll, key string, v *kvrwset.Version) {
	b.collHash(ns, coll).reads[key] = &kvrwset.KVReadHash{KeyHash: hashKey(key), Version: v}
}

func (b *rwsetBuilder) addPvtWrite(ns, coll, key string, value []byte, purge bool) {
	w := &kvrwset.KVWrite{Key: key, IsDelete: len(value) == 0, Value: value}
	h := &kvrwset.KVWriteHash{KeyHash: hashKey(key), IsDelete: w.IsDelete, IsPurge: purge}
	if !w.IsDelete {
		sum := sha256.Sum256(value)
		h.ValueHash = sum[:]
	}
	b.collPvt(ns, coll).writes[key] = w
	b.collHash(ns, coll).writes[key] = h
}

func (b *rwsetBuilder) addPvtMetadataWrite(ns, coll, key string, md map[string][]byte) {
	// As on Fabric, the clear private rwset carries the key only; the entries travel in the
	// hashed rwset.
	b.collPvt(ns, coll).metaWrites[key] = &kvrwset.KVMetadataWrite{Key: key}
	b.collHash(ns, coll).metaWrites[key] = &kvrwset.KVMetadataWriteHash{KeyHash: hashKey(key), Entries: metadataEntries(md)}
}

// build returns the public rwset (with hashed private rwsets), the private rwset (nil when
// there are no private writes) and the sorted names of the collections written.
func (b *rwsetBuilder) build() (*rwset.TxReadWriteSet, *rwset.TxPvtReadWriteSet, []string, error) {
	var pvt *rwset.TxPvtReadWriteSet
	var written []string
	pvtHashes := map[string]map[string][]byte{}
	for _, ns := range sortedKeys(b.pvt) {
		nsPvt := &rwset.NsPvtReadWriteSet{Namespace: ns}
		pvtHashes[ns] = map[string][]byte{}
		for _, coll := range sortedKeys(b.pvt[ns]) {
			c := b.pvt[ns][coll]
			kv := &kvrwset.KVRWSet{
				Writes:         sortedValues(c.writes),
				MetadataWrites: sortedValues(c.metaWrites),
			}
			raw, err := proto.Marshal(kv)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("marshal private rwset of %s/%s: %w", ns, coll, err)
			}
			sum := sha256.Sum256(raw)
			pvtHashes[ns][coll] = sum[:]
			nsPvt.CollectionPvtRwset = append(nsPvt.CollectionPvtRwset, &rwset.CollectionPvtReadWriteSet{CollectionName: coll, Rwset: raw})
			written = append(written, coll)
		}
		if pvt == nil {
			pvt = &rwset.TxPvtReadWriteSet{DataModel: rwset.TxReadWriteSet_KV}
		}
		pvt.NsPvtRwset = append(pvt.NsPvtRwset, nsPvt)
	}

	pub := &rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV}
	for _, ns := range sortedKeys(b.pub) {
		n := b.pub[ns]
		kv := &kvrwset.KVRWSet{
			Reads:            sortedValues(n.reads),
			RangeQueriesInfo: n.ranges,
			Writes:           sortedValues(n.writes),
			MetadataWrites:   sortedValues(n.metaWrites),
		}
		raw, err := proto.Marshal(kv)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("marshal rwset of %s: %w", ns, err)
		}
		nsRW := &rwset.NsReadWriteSet{Namespace: ns, Rwset: raw}
		for _, coll := range sortedKeys(n.colls) {
			c := n.colls[coll]
			hashed := &kvrwset.HashedRWSet{
				HashedReads:    sortedValues(c.reads),
				HashedWrites:   sortedValues(c.writes),
				MetadataWrites: sortedValues(c.metaWrites),
			}
			hraw, err := proto.Marshal(hashed)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("marshal hashed rwset of %s/%s: %w", ns, coll, err)
			}
			nsRW.CollectionHashedRwset = append(nsRW.CollectionHashedRwset, &rwset.CollectionHashedReadWriteSet{
				CollectionName: coll,
				HashedRwset:    hraw,
				PvtRwsetHash:   pvtHashes[ns][coll],
			})
		}
		pub.NsRwset = append(pub.NsRwset, nsRW)
	}
	sort.Strings(written)
	return pub, pvt, dedupeSorted(written), nil
}

func hashKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

func toVersion(vv *ledger.VersionedValue) *kvrwset.Version {
	if vv == nil {
		return nil
	}
	return &kvrwset.Version{BlockNum: vv.Version.BlockNum, TxNum: vv.Version.TxNum}
}

func sameVersion(a, b *kvrwset.Version) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.GetBlockNum() == b.GetBlockNum() && a.GetTxNum() == b.GetTxNum()
}

// versionString formats a version as Fabric's version.Height does.
func versionString(v *kvrwset.Version) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{BlockNum: %d, TxNum: %d}", v.GetBlockNum(), v.GetTxNum())
}

func metadataEntries(md map[string][]byte) []*kvrwset.KVMetadataEntry {
	var out []*kvrwset.KVMetadataEntry
	for _, name := range sortedKeys(md) {
		out = append(out, &kvrwset.KVMetadataEntry{Name: name, Value: md[name]})
	}
	return out
}

// decodeMetadata decodes the stored metadata of a key (a marshalled kvrwset.KVMetadataWrite,
// as Fabric's statemetadata package stores it) into a map; nil when there is none.
func decodeMetadata(b []byte) (map[string][]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	m := &kvrwset.KVMetadataWrite{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode state metadata: %w", err)
	}
	out := make(map[string][]byte, len(m.GetEntries()))
	for _, e := range m.GetEntries() {
		out[e.GetName()] = e.GetValue()
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedValues[V any](m map[string]V) []V {
	if len(m) == 0 {
		return nil
	}
	out := make([]V, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func dedupeSorted(s []string) []string {
	if len(s) < 2 {
		return s
	}
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}
