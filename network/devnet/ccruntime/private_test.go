package ccruntime

import (
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/ledger"
)

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func TestPrivateDataWrites(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	value := map[string][]byte{testcc.TransientValueKey: []byte("secret")}

	t.Run("put records the hashed write and the clear private rwset", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "MerchantMSP", args: []string{"putPrivate", "privA", "k1"}, transient: value})
		require.Equal(t, []string{"privA"}, res.CollectionsWritten)

		hashed, coll := hashedRWSet(t, res, "privA")
		require.NotNil(t, hashed)
		requireProtoSlice(t, []*kvrwset.KVWriteHash{{KeyHash: sha("k1"), ValueHash: sha("secret")}}, hashed.GetHashedWrites())
		require.Empty(t, hashed.GetHashedReads())

		pvt, raw := pvtRWSet(t, res, "privA")
		require.NotNil(t, pvt)
		requireProtoSlice(t, []*kvrwset.KVWrite{{Key: "k1", Value: []byte("secret")}}, pvt.GetWrites())
		require.Equal(t, sha(string(raw)), coll.GetPvtRwsetHash(), "PvtRwsetHash is the SHA-256 of the collection's private rwset")

		// The public rwset of the namespace is present (empty) and carries no clear value.
		kv := nsRWSet(t, res, ns)
		require.NotNil(t, kv)
		require.Empty(t, kv.GetWrites())

		require.Len(t, res.Interest.GetChaincodes(), 1)
		cc := res.Interest.GetChaincodes()[0]
		require.Equal(t, []string{"privA"}, cc.GetCollectionNames())
		require.True(t, cc.GetNoPrivateReads())
	})
	t.Run("delete and purge", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "CarrierMSP", args: []string{"delPrivate", "privB", "d"}})
		hashed, _ := hashedRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVWriteHash{{KeyHash: sha("d"), IsDelete: true}}, hashed.GetHashedWrites())
		pvt, _ := pvtRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVWrite{{Key: "d", IsDelete: true}}, pvt.GetWrites())

		res = executeOK(t, rt, st, call{creator: "CarrierMSP", args: []string{"purgePrivate", "privB", "p"}})
		hashed, _ = hashedRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVWriteHash{{KeyHash: sha("p"), IsDelete: true, IsPurge: true}}, hashed.GetHashedWrites())
	})
	t.Run("memberOnlyWrite refuses a non-member creator at simulation", func(t *testing.T) {
		res := execute(t, rt, st, call{creator: "CarrierMSP", args: []string{"putPrivate", "privA", "k1"}, transient: value})
		require.EqualValues(t, shim.ERROR, res.Response.GetStatus())
		require.Contains(t, res.Response.GetMessage(), "tx creator does not have write access permission on privatedata in chaincodeName:testcc collectionName: privA")
	})
	t.Run("a collection without memberOnlyWrite accepts any creator", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "BankMSP", local: "BankMSP", args: []string{"putPrivate", "privB", "k"}, transient: value})
		require.Equal(t, []string{"privB"}, res.CollectionsWritten)
	})
	t.Run("unknown collection", func(t *testing.T) {
		res := execute(t, rt, st, call{args: []string{"putPrivate", "nope", "k"}, transient: value})
		require.EqualValues(t, shim.ERROR, res.Response.GetStatus())
		require.Contains(t, res.Response.GetMessage(), "collection xborder/testcc/nope could not be found")
	})
	t.Run("implicit organisation collection", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "BankMSP", args: []string{"putPrivate", "_implicit_org_BankMSP", "k"}, transient: value})
		require.Equal(t, []string{"_implicit_org_BankMSP"}, res.CollectionsWritten)
	})
}

func TestPrivateDataReads(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	st.putPrivate(ns, "privA", "a1", "alpha", ledger.Height{BlockNum: 5, TxNum: 1}, true)
	st.putPrivate(ns, "privB", "b1", "beta", ledger.Height{BlockNum: 6, TxNum: 2}, true)
	st.putPrivate(ns, "privB", "b2", "gamma", ledger.Height{BlockNum: 6, TxNum: 3}, true)

	tests := []struct {
		name       string
		creator    string
		local      string
		args       []string
		status     int32
		payload    []byte
		message    string
		hashedRead *kvrwset.KVReadHash
		pvtReads   []string
	}{
		{
			name: "member creator on a member peer reads the value", creator: "MerchantMSP", local: "BankMSP",
			args: []string{"getPrivate", "privA", "a1"}, status: shim.OK, payload: []byte("alpha"),
			hashedRead: &kvrwset.KVReadHash{KeyHash: sha("a1"), Version: ver(5, 1)}, pvtReads: []string{"privA"},
		},
		{
			name: "absent private key reads nil", creator: "MerchantMSP",
			args: []string{"getPrivate", "privA", "none"}, status: shim.OK,
			hashedRead: &kvrwset.KVReadHash{KeyHash: sha("none")}, pvtReads: []string{"privA"},
		},
		{
			name: "memberOnlyRead refuses a non-member creator", creator: "CarrierMSP", local: "MerchantMSP",
			args: []string{"getPrivate", "privA", "a1"}, status: shim.ERROR,
			message: "tx creator does not have read access permission on privatedata in chaincodeName:testcc collectionName: privA",
		},
		{
			name: "a non-member peer does not hold the private data", creator: "MerchantMSP", local: "MerchantMSP",
			args: []string{"getPrivate", "privB", "b1"}, status: shim.ERROR,
			message: "private data matching public hash version is not available. Public hash version = {BlockNum: 6, TxNum: 2}, Private data version = <nil>",
		},
		{
			name: "a non-member peer reads an absent key as nil", creator: "MerchantMSP", local: "MerchantMSP",
			args: []string{"getPrivate", "privB", "none"}, status: shim.OK,
			hashedRead: &kvrwset.KVReadHash{KeyHash: sha("none")}, pvtReads: []string{"privB"},
		},
		{
			name: "the hash is readable by anyone", creator: "MerchantMSP", local: "MerchantMSP",
			args: []string{"getPrivateHash", "privB", "b1"}, status: shim.OK, payload: sha("beta"),
			hashedRead: &kvrwset.KVReadHash{KeyHash: sha("b1"), Version: ver(6, 2)},
		},
		{
			name: "the hash of memberOnlyRead data is readable by a non-member creator", creator: "CustomsMSP", local: "CustomsMSP",
			args: []string{"getPrivateHash", "privA", "a1"}, status: shim.OK, payload: sha("alpha"),
			hashedRead: &kvrwset.KVReadHash{KeyHash: sha("a1"), Version: ver(5, 1)},
		},
		{
			name: "unknown collection on read", args: []string{"getPrivate", "nope", "k"}, status: shim.ERROR,
			message: "collection xborder/testcc/nope could not be found",
		},
		{
			name: "unknown collection on hash read", args: []string{"getPrivateHash", "nope", "k"}, status: shim.ERROR,
			message: "collection [nope] not defined in the collection config for chaincode [testcc]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := execute(t, rt, st, call{creator: tc.creator, local: tc.local, args: tc.args})
			require.EqualValues(t, tc.status, res.Response.GetStatus(), "message: %s", res.Response.GetMessage())
			if tc.status != shim.OK {
				require.Contains(t, res.Response.GetMessage(), tc.message)
				return
			}
			require.Equal(t, tc.payload, nilIfEmpty(res.Response.GetPayload()))
			hashed, coll := hashedRWSet(t, res, tc.args[1])
			require.NotNil(t, hashed)
			requireProtoSlice(t, []*kvrwset.KVReadHash{tc.hashedRead}, hashed.GetHashedReads())
			require.Nil(t, coll.GetPvtRwsetHash(), "no private writes, no private rwset hash")
			require.Nil(t, res.PvtRWSet)
			require.Equal(t, tc.pvtReads, nilIfEmptyStrings(res.PrivateReads))
		})
	}

	t.Run("private reads appear in the chaincode interest", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "MerchantMSP", args: []string{"getPrivate", "privA", "a1"}})
		calls := res.Interest.GetChaincodes()
		require.Len(t, calls, 2)
		require.Equal(t, ns, calls[0].GetName())
		require.Empty(t, calls[0].GetCollectionNames())
		require.Equal(t, []string{"privA"}, calls[1].GetCollectionNames())
		require.False(t, calls[1].GetNoPrivateReads())
	})
	t.Run("multi-key private reads", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "CarrierMSP", args: []string{"getPrivateMany", "privB", "b2", "none", "b1"}})
		require.JSONEq(t, `["gamma",null,"beta"]`, string(res.Response.GetPayload()))
		hashed, _ := hashedRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVReadHash{
			{KeyHash: sha("b1"), Version: ver(6, 2)},
			{KeyHash: sha("b2"), Version: ver(6, 3)},
			{KeyHash: sha("none")},
		}, hashed.GetHashedReads(), "hashed reads are sorted by clear key")
	})
	t.Run("private range query on a member peer", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "CarrierMSP", args: []string{"privateRange", "privB", "b", "c"}})
		var kvs []testcc.KV
		require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &kvs))
		require.Equal(t, []testcc.KV{{Key: "b1", Value: "beta"}, {Key: "b2", Value: "gamma"}}, kvs)
		require.Empty(t, res.RWSet.GetNsRwset(), "Fabric records nothing for private range queries")
	})
	t.Run("private range query on a non-member peer is empty", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "MerchantMSP", local: "MerchantMSP", args: []string{"privateRange", "privB", "b", "c"}})
		require.JSONEq(t, `[]`, string(res.Response.GetPayload()))
	})
	t.Run("private metadata", func(t *testing.T) {
		res := executeOK(t, rt, st, call{creator: "CarrierMSP", args: []string{"setPrivateValidation", "privB", "b1", "policy"}})
		hashed, _ := hashedRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVMetadataWriteHash{{
			KeyHash: sha("b1"),
			Entries: []*kvrwset.KVMetadataEntry{{Name: peer.MetaDataKeys_VALIDATION_PARAMETER.String(), Value: []byte("policy")}},
		}}, hashed.GetMetadataWrites())
		pvt, _ := pvtRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVMetadataWrite{{Key: "b1"}}, pvt.GetMetadataWrites())

		res = executeOK(t, rt, st, call{creator: "CarrierMSP", args: []string{"getPrivateValidation", "privB", "b1"}})
		require.Empty(t, res.Response.GetPayload())
		hashed, _ = hashedRWSet(t, res, "privB")
		requireProtoSlice(t, []*kvrwset.KVReadHash{{KeyHash: sha("b1"), Version: ver(6, 2)}}, hashed.GetHashedReads())
	})
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nilIfEmptyStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
