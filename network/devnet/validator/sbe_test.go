package validator

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
)

// stateMetadata is committed key metadata keyed like keyID.
type stateMetadata map[string][]byte

func (m stateMetadata) funcs(fail error) MetadataFuncs {
	return MetadataFuncs{
		Public: func(ns, key string) ([]byte, error) {
			if fail != nil {
				return nil, fail
			}
			return m[keyID(ns, "", key)], nil
		},
		Private: func(ns, coll string, keyHash []byte) ([]byte, error) {
			if fail != nil {
				return nil, fail
			}
			return m[keyID(ns, coll, string(keyHash))], nil
		},
	}
}

func vpMetadata(t testing.TB, expr string) []byte {
	return mustMarshal(t, &kvrwset.KVMetadataWrite{Entries: []*kvrwset.KVMetadataEntry{
		{Name: "OTHER", Value: []byte("x")},
		{Name: peer.MetaDataKeys_VALIDATION_PARAMETER.String(), Value: mustMarshal(t, policy.MustParse(expr))},
	}})
}

func writeKeys(t testing.TB, ns string, keys ...string) *rwset.NsReadWriteSet {
	kv := &kvrwset.KVRWSet{}
	for _, k := range keys {
		kv.Writes = append(kv.Writes, &kvrwset.KVWrite{Key: k, Value: []byte("v")})
	}
	return &rwset.NsReadWriteSet{Namespace: ns, Rwset: mustMarshal(t, kv)}
}

func setKeyPolicy(t testing.TB, ns, key, expr string) *rwset.NsReadWriteSet {
	return &rwset.NsReadWriteSet{Namespace: ns, Rwset: mustMarshal(t, &kvrwset.KVRWSet{
		MetadataWrites: []*kvrwset.KVMetadataWrite{{Key: key, Entries: []*kvrwset.KVMetadataEntry{
			{Name: peer.MetaDataKeys_VALIDATION_PARAMETER.String(), Value: mustMarshal(t, policy.MustParse(expr))},
		}}},
	})}
}

func TestKeyLevelEndorsementPolicies(t *testing.T) {
	cols, err := policy.ParseCollections([]byte(`[{"name": "shared", "policy": "OR('MerchantMSP.member', 'CarrierMSP.member')"}]`))
	require.NoError(t, err)
	pkHash := sha256.Sum256([]byte("pk"))
	state := stateMetadata{
		keyID(testCC, "", "k"):                     vpMetadata(t, "OR('CustomsMSP.peer')"),
		keyID(testCC, "", "junk"):                  []byte{0xff, 0xff},
		keyID(testCC, "", "badpolicy"):             mustMarshal(t, &kvrwset.KVMetadataWrite{Entries: []*kvrwset.KVMetadataEntry{{Name: "VALIDATION_PARAMETER", Value: []byte{0xff}}}}),
		keyID(testCC, "", "nopolicy"):              mustMarshal(t, &kvrwset.KVMetadataWrite{Entries: []*kvrwset.KVMetadataEntry{{Name: "OTHER", Value: []byte("x")}}}),
		keyID(testCC, "shared", string(pkHash[:])): vpMetadata(t, "OR('BankMSP.peer')"),
	}
	mgr, err := testCrypto.Manager()
	require.NoError(t, err)
	v, err := New(Config{ChannelID: testChannel, MSP: mgr, ApplicationOrgs: appOrgs,
		Chaincodes: []Chaincode{{Name: testCC, Collections: cols}}, State: state.funcs(nil)})
	require.NoError(t, err)
	customs := []*msp.Identity{peerOf("CustomsMSP")}
	majority := []*msp.Identity{peerOf("MerchantMSP"), peerOf("BankMSP"), peerOf("CarrierMSP")}

	tests := []struct {
		name string
		spec txSpec
		want peer.TxValidationCode
	}{
		{"key policy replaces chaincode policy", txSpec{endorsers: customs, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "k")}}, peer.TxValidationCode_VALID},
		{"key policy not met by a majority", txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "k")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"other key needs the chaincode policy", txSpec{endorsers: customs, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "k", "plain")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"both policies met", txSpec{endorsers: append(majority, peerOf("CustomsMSP")), nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "k", "plain")}}, peer.TxValidationCode_VALID},
		{"metadata without policy", txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "nopolicy")}}, peer.TxValidationCode_VALID},
		{"changing a key policy needs the current one", txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{setKeyPolicy(t, testCC, "k", "OR('BankMSP.peer')")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"private key policy", txSpec{endorsers: []*msp.Identity{peerOf("BankMSP")}, nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "shared")}}, peer.TxValidationCode_VALID},
		{"private key policy not met", txSpec{endorsers: majority[:1], nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "shared")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"unparseable policy", txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "badpolicy")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"unparseable metadata", txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "junk")}}, peer.TxValidationCode_INVALID_OTHER_REASON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Check(buildTx(t, tc.spec))
			require.Equal(t, tc.want, CodeOf(err), "error: %v", err)
		})
	}

	t.Run("state read failure", func(t *testing.T) {
		boom := errors.New("disk on fire")
		env := buildTx(t, txSpec{endorsers: majority})
		block := &common.Block{Data: &common.BlockData{Data: [][]byte{mustMarshal(t, env)}}}
		res, err := v.ValidateBlockWithState(block, state.funcs(boom))
		require.ErrorIs(t, err, boom)
		var se *StateError
		require.ErrorAs(t, err, &se)
		require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_INVALID_OTHER_REASON}, res.Codes)
		require.ErrorIs(t, res.Reasons[0], boom)
		res, err = v.ValidateBlockWithState(block, nil)
		require.NoError(t, err)
		require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID}, res.Codes)
		require.Equal(t, []error{nil}, res.Reasons)
	})

	t.Run("policy changed earlier in the block", func(t *testing.T) {
		setter := buildTx(t, txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{setKeyPolicy(t, testCC, "fresh", "OR('BankMSP.peer')")}})
		badSetter := buildTx(t, txSpec{endorsers: majority[:1], nsRWSets: []*rwset.NsReadWriteSet{setKeyPolicy(t, testCC, "fresh", "OR('BankMSP.peer')")}})
		writer := buildTx(t, txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "fresh")}})
		other := buildTx(t, txSpec{endorsers: majority, nsRWSets: []*rwset.NsReadWriteSet{writeKeys(t, testCC, "unrelated")}})
		tests := []struct {
			name string
			envs []*common.Envelope
			want []peer.TxValidationCode
		}{
			{"valid setter invalidates later writer", []*common.Envelope{setter, other, writer}, []peer.TxValidationCode{
				peer.TxValidationCode_VALID, peer.TxValidationCode_VALID, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}},
			{"writer before setter", []*common.Envelope{writer, setter}, []peer.TxValidationCode{
				peer.TxValidationCode_VALID, peer.TxValidationCode_VALID}},
			{"invalid setter is no dependency", []*common.Envelope{badSetter, writer}, []peer.TxValidationCode{
				peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, peer.TxValidationCode_VALID}},
			{"second setter also depends", []*common.Envelope{setter, setter}, []peer.TxValidationCode{
				peer.TxValidationCode_VALID, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var data [][]byte
				for _, e := range tc.envs {
					data = append(data, mustMarshal(t, e))
				}
				res, err := v.ValidateBlockWithState(&common.Block{Data: &common.BlockData{Data: data}}, state.funcs(nil))
				require.NoError(t, err)
				require.Equal(t, tc.want, res.Codes)
				for i, code := range res.Codes {
					require.Equal(t, code, CodeOf(res.Reasons[i]))
				}
			})
		}
	})
}
