package validator

import (
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
)

var appOrgs = []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP"}

func newValidator(t testing.TB, ccs ...Chaincode) *Validator {
	t.Helper()
	mgr, err := testCrypto.Manager()
	require.NoError(t, err)
	if len(ccs) == 0 {
		ccs = []Chaincode{{Name: testCC}}
	}
	v, err := New(Config{ChannelID: testChannel, MSP: mgr, ApplicationOrgs: appOrgs, Chaincodes: ccs})
	require.NoError(t, err)
	return v
}

// highS rewrites an ECDSA signature to its equivalent with S replaced by N-S.
func highS(t testing.TB, sig []byte) []byte {
	t.Helper()
	var es struct{ R, S *big.Int }
	_, err := asn1.Unmarshal(sig, &es)
	require.NoError(t, err)
	es.S = new(big.Int).Sub(peerOf("BankMSP").Key.Params().N, es.S)
	b, err := asn1.Marshal(es)
	require.NoError(t, err)
	return b
}

func TestValidateEndorserTransactions(t *testing.T) {
	v := newValidator(t)
	other, err := msp.Generate(t.TempDir(), []msp.OrgSpec{{MSPID: "MerchantMSP", Domain: "merchant.xborder.example"}})
	require.NoError(t, err)
	impostor := other.Orgs[0].User.Signer
	three := []*msp.Identity{peerOf("MerchantMSP"), peerOf("BankMSP"), peerOf("CarrierMSP")}

	tests := []struct {
		name string
		spec func() txSpec
		want peer.TxValidationCode
	}{
		{"valid majority", func() txSpec { return txSpec{} }, peer.TxValidationCode_VALID},
		{"valid all four", func() txSpec {
			return txSpec{endorsers: append(three, peerOf("CustomsMSP"))}
		}, peer.TxValidationCode_VALID},
		{"valid read only still needs the policy", func() txSpec {
			return txSpec{nsRWSets: []*rwset.NsReadWriteSet{readOnly(t, testCC)}}
		}, peer.TxValidationCode_VALID},
		{"valid with event", func() txSpec {
			return txSpec{event: &peer.ChaincodeEvent{ChaincodeId: testCC, TxId: "x", EventName: "Created"}}
		}, peer.TxValidationCode_VALID},

		{"bad payload", func() txSpec {
			return txSpec{env: func(e *common.Envelope) { e.Payload = []byte{0xff, 0xff} }}
		}, peer.TxValidationCode_BAD_PAYLOAD},
		{"nil header", func() txSpec {
			return txSpec{payload: func(p *common.Payload) { p.Header = nil }}
		}, peer.TxValidationCode_BAD_COMMON_HEADER},
		{"garbage channel header", func() txSpec {
			return txSpec{payload: func(p *common.Payload) { p.Header.ChannelHeader = []byte{0xff} }}
		}, peer.TxValidationCode_BAD_COMMON_HEADER},
		{"invalid header type", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.Type = int32(common.HeaderType_MESSAGE) }}
		}, peer.TxValidationCode_BAD_COMMON_HEADER},
		{"non-zero epoch", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.Epoch = 1 }}
		}, peer.TxValidationCode_BAD_COMMON_HEADER},
		{"empty nonce", func() txSpec {
			return txSpec{shdr: func(h *common.SignatureHeader) { h.Nonce = nil }}
		}, peer.TxValidationCode_BAD_COMMON_HEADER},
		{"empty creator", func() txSpec {
			return txSpec{shdr: func(h *common.SignatureHeader) { h.Creator = nil }}
		}, peer.TxValidationCode_BAD_COMMON_HEADER},

		{"tampered creator signature", func() txSpec {
			return txSpec{env: func(e *common.Envelope) { e.Signature[len(e.Signature)-1] ^= 1 }}
		}, peer.TxValidationCode_BAD_CREATOR_SIGNATURE},
		{"high-S creator signature", func() txSpec {
			return txSpec{env: func(e *common.Envelope) { e.Signature = highS(t, e.Signature) }}
		}, peer.TxValidationCode_BAD_CREATOR_SIGNATURE},
		{"creator from a foreign CA", func() txSpec { return txSpec{creator: impostor} }, peer.TxValidationCode_BAD_CREATOR_SIGNATURE},
		{"payload signed by someone else", func() txSpec {
			return txSpec{env: func(e *common.Envelope) {
				sig, err := userOf("BankMSP").Sign(e.Payload)
				require.NoError(t, err)
				e.Signature = sig
			}}
		}, peer.TxValidationCode_BAD_CREATOR_SIGNATURE},
		{"config update type", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.Type = int32(common.HeaderType_CONFIG_UPDATE) }}
		}, peer.TxValidationCode_UNSUPPORTED_TX_PAYLOAD},
		{"wrong tx ID", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.TxId = "0123" + h.TxId[4:] }}
		}, peer.TxValidationCode_BAD_PROPOSAL_TXID},

		{"two actions", func() txSpec {
			return txSpec{tx: func(tx *peer.Transaction) { tx.Actions = append(tx.Actions, tx.Actions[0]) }}
		}, peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION},
		{"garbage transaction", func() txSpec {
			return txSpec{payload: func(p *common.Payload) { p.Data = []byte{0xff, 0xff} }}
		}, peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION},
		{"proposal hash mismatch", func() txSpec {
			return txSpec{prp: func(p *peer.ProposalResponsePayload) { p.ProposalHash[0] ^= 1 }}
		}, peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION},
		{"proposal payload swapped", func() txSpec {
			return txSpec{cap: func(c *peer.ChaincodeActionPayload) { c.ChaincodeProposalPayload = []byte("other input") }}
		}, peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION},
		{"nil endorsed action", func() txSpec {
			return txSpec{cap: func(c *peer.ChaincodeActionPayload) { c.Action = nil }}
		}, peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION},

		{"other channel", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.ChannelId = "elsewhere" }}
		}, peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND},
		{"garbage header extension", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.Extension = []byte{0xff, 0xff} }}
		}, peer.TxValidationCode_BAD_HEADER_EXTENSION},
		{"garbage chaincode action", func() txSpec {
			return txSpec{prp: func(p *peer.ProposalResponsePayload) { p.Extension = []byte{0xff, 0xff} }}
		}, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD},
		{"garbage rwset", func() txSpec {
			return txSpec{action: func(a *peer.ChaincodeAction) { a.Results = []byte{0xff, 0xff} }}
		}, peer.TxValidationCode_BAD_RWSET},
		{"garbage namespace rwset", func() txSpec {
			return txSpec{nsRWSets: []*rwset.NsReadWriteSet{{Namespace: testCC, Rwset: []byte{0xff, 0xff}}}}
		}, peer.TxValidationCode_BAD_RWSET},
		{"no chaincode ID in header extension", func() txSpec {
			return txSpec{chdr: func(h *common.ChannelHeader) { h.Extension = mustMarshal(t, &peer.ChaincodeHeaderExtension{}) }}
		}, peer.TxValidationCode_INVALID_OTHER_REASON},
		{"no chaincode ID in action", func() txSpec {
			return txSpec{action: func(a *peer.ChaincodeAction) { a.ChaincodeId = nil }}
		}, peer.TxValidationCode_INVALID_OTHER_REASON},
		{"event of another chaincode", func() txSpec {
			return txSpec{event: &peer.ChaincodeEvent{ChaincodeId: "othercc", EventName: "E"}}
		}, peer.TxValidationCode_INVALID_OTHER_REASON},
		{"action chaincode differs", func() txSpec {
			return txSpec{actionCC: &peer.ChaincodeID{Name: "othercc", Version: "1.0"}}
		}, peer.TxValidationCode_INVALID_CHAINCODE},
		{"empty chaincode version", func() txSpec {
			return txSpec{actionCC: &peer.ChaincodeID{Name: testCC}}
		}, peer.TxValidationCode_INVALID_CHAINCODE},
		{"unknown chaincode", func() txSpec {
			return txSpec{
				chdr: func(h *common.ChannelHeader) {
					h.Extension = mustMarshal(t, &peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: "nope"}})
				},
				actionCC: &peer.ChaincodeID{Name: "nope", Version: "1"},
				nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, "nope")},
			}
		}, peer.TxValidationCode_INVALID_CHAINCODE},
		{"writes to an undefined namespace", func() txSpec {
			return txSpec{nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, testCC), publicWrite(t, "undefined")}}
		}, peer.TxValidationCode_INVALID_CHAINCODE},
		{"duplicate namespace", func() txSpec {
			return txSpec{nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, testCC), publicWrite(t, testCC)}}
		}, peer.TxValidationCode_ILLEGAL_WRITESET},

		{"two endorsements for a majority of four", func() txSpec {
			return txSpec{endorsers: three[:2]}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"no endorsements", func() txSpec {
			return txSpec{endorsements: func([]*peer.Endorsement) []*peer.Endorsement { return nil }}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"tampered endorsement signature", func() txSpec {
			return txSpec{endorsements: func(es []*peer.Endorsement) []*peer.Endorsement {
				es[1].Signature[len(es[1].Signature)-1] ^= 1
				return es
			}}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"high-S endorsement signature", func() txSpec {
			return txSpec{endorsements: func(es []*peer.Endorsement) []*peer.Endorsement {
				es[2].Signature = highS(t, es[2].Signature)
				return es
			}}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"endorsement over other bytes", func() txSpec {
			return txSpec{endorsements: func(es []*peer.Endorsement) []*peer.Endorsement {
				es[0] = signEndorsement(t, peerOf("MerchantMSP"), []byte("something else"))
				return es
			}}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"duplicate endorser counts once", func() txSpec {
			return txSpec{endorsers: []*msp.Identity{peerOf("BankMSP"), peerOf("BankMSP"), peerOf("CarrierMSP")}}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"client identities are not peers", func() txSpec {
			return txSpec{endorsers: []*msp.Identity{peerOf("MerchantMSP"), userOf("BankMSP"), adminOf("CarrierMSP")}}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"endorser from a foreign CA", func() txSpec {
			return txSpec{endorsers: []*msp.Identity{peerOf("BankMSP"), peerOf("CarrierMSP"), other.Orgs[0].Node.Signer}}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"extra invalid endorsement is ignored", func() txSpec {
			return txSpec{endorsements: func(es []*peer.Endorsement) []*peer.Endorsement {
				return append(es, &peer.Endorsement{Endorser: []byte("junk"), Signature: []byte("junk")})
			}}
		}, peer.TxValidationCode_VALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := buildTx(t, tc.spec())
			txID, err := v.Check(env)
			require.Equal(t, tc.want, CodeOf(err), "error: %v", err)
			id2, code := v.Validate(env)
			require.Equal(t, tc.want, code)
			require.Equal(t, txID, id2)
			if tc.want != peer.TxValidationCode_BAD_PAYLOAD && tc.want != peer.TxValidationCode_BAD_COMMON_HEADER {
				require.NotEmpty(t, txID)
			}
		})
	}
	t.Run("nil envelope", func(t *testing.T) {
		_, code := v.Validate(nil)
		require.Equal(t, peer.TxValidationCode_NIL_ENVELOPE, code)
	})
}

func TestEndorsementPoliciesAndCollections(t *testing.T) {
	cols, err := policy.ParseCollections([]byte(`[
		{"name": "bankOnly", "policy": "OR('MerchantMSP.member', 'BankMSP.member')", "memberOnlyWrite": true,
		 "endorsementPolicy": {"signaturePolicy": "OR('BankMSP.peer')"}},
		{"name": "shared", "policy": "OR('MerchantMSP.member', 'CarrierMSP.member')"},
		{"name": "majority", "policy": "OR('CustomsMSP.member')",
		 "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/Endorsement"}}
	]`))
	require.NoError(t, err)
	v := newValidator(t,
		Chaincode{Name: testCC, Collections: cols},
		Chaincode{Name: "bankcc", EndorsementPolicy: policy.MustParse("OR('BankMSP.peer')")},
		Chaincode{Name: "othercc", EndorsementPolicy: policy.MustParse("AND('CustomsMSP.peer', 'CarrierMSP.peer')")},
	)
	bankcc := func(h *common.ChannelHeader) {
		h.Extension = mustMarshal(t, &peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: "bankcc"}})
	}
	bank := []*msp.Identity{peerOf("BankMSP")}
	majority := []*msp.Identity{peerOf("MerchantMSP"), peerOf("BankMSP"), peerOf("CarrierMSP")}
	tests := []struct {
		name string
		spec txSpec
		want peer.TxValidationCode
	}{
		{"chaincode policy met by one org", txSpec{chdr: bankcc, actionCC: &peer.ChaincodeID{Name: "bankcc", Version: "2"},
			endorsers: bank, nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, "bankcc")}}, peer.TxValidationCode_VALID},
		{"chaincode policy not met", txSpec{chdr: bankcc, actionCC: &peer.ChaincodeID{Name: "bankcc", Version: "2"},
			endorsers: []*msp.Identity{peerOf("MerchantMSP")}, nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, "bankcc")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"collection policy replaces chaincode policy", txSpec{endorsers: bank,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "bankOnly")}}, peer.TxValidationCode_VALID},
		{"collection policy not met", txSpec{endorsers: []*msp.Identity{peerOf("MerchantMSP"), peerOf("CarrierMSP"), peerOf("CustomsMSP")},
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "bankOnly")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"public and private writes need both policies", txSpec{endorsers: bank,
			nsRWSets: []*rwset.NsReadWriteSet{func() *rwset.NsReadWriteSet {
				ns := privateWrite(t, testCC, "bankOnly")
				ns.Rwset = publicWrite(t, testCC).Rwset
				return ns
			}()}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"collection without policy uses chaincode policy", txSpec{endorsers: majority,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "shared")}}, peer.TxValidationCode_VALID},
		{"collection without policy, chaincode policy unmet", txSpec{endorsers: bank,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "shared")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"collection policy reference", txSpec{endorsers: majority, creator: userOf("CustomsMSP"),
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "majority")}}, peer.TxValidationCode_VALID},
		{"collection policy reference unmet", txSpec{endorsers: majority[:2],
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "majority")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"undefined collection", txSpec{endorsers: majority,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "missing")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"implicit collection of the endorsing org", txSpec{endorsers: bank,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "_implicit_org_BankMSP")}}, peer.TxValidationCode_VALID},
		{"implicit collection of another org", txSpec{endorsers: bank,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "_implicit_org_CarrierMSP")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"implicit collection of an unknown org", txSpec{endorsers: bank,
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "_implicit_org_NobodyMSP")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"memberOnlyWrite by a non-member creator", txSpec{endorsers: bank, creator: userOf("CarrierMSP"),
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "bankOnly")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"memberOnlyWrite by a member creator", txSpec{endorsers: bank, creator: userOf("BankMSP"),
			nsRWSets: []*rwset.NsReadWriteSet{privateWrite(t, testCC, "bankOnly")}}, peer.TxValidationCode_VALID},
		{"chaincode-to-chaincode write checks the callee policy", txSpec{endorsers: majority,
			nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, testCC), publicWrite(t, "othercc")}}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"chaincode-to-chaincode write with both policies met", txSpec{endorsers: append(majority, peerOf("CustomsMSP")),
			nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, testCC), publicWrite(t, "othercc")}}, peer.TxValidationCode_VALID},
		{"chaincode-to-chaincode read only ignores the callee", txSpec{endorsers: majority,
			nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, testCC), readOnly(t, "othercc")}}, peer.TxValidationCode_VALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Check(buildTx(t, tc.spec))
			require.Equal(t, tc.want, CodeOf(err), "error: %v", err)
		})
	}
}

func TestCollectionPolicy(t *testing.T) {
	cols, err := policy.ParseCollections([]byte(`[
		{"name": "own", "policy": "OR('MerchantMSP.member')", "endorsementPolicy": {"signaturePolicy": "OR('BankMSP.peer')"}},
		{"name": "plain", "policy": "OR('MerchantMSP.member')"},
		{"name": "ref", "policy": "OR('CustomsMSP.member')", "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/CarrierMSP/Endorsement"}},
		{"name": "badref", "policy": "OR('CustomsMSP.member')", "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/OtherMSP/Endorsement"}}
	]`))
	require.NoError(t, err)
	v := newValidator(t, Chaincode{Name: testCC, Collections: cols})
	tests := []struct {
		name    string
		ns      string
		coll    string
		want    string // policy.Format of the policy; "" for nil
		wantErr string
	}{
		{name: "own signature policy", ns: testCC, coll: "own", want: "OR('BankMSP.peer')"},
		{name: "no policy: the chaincode's applies", ns: testCC, coll: "plain"},
		{name: "organisation reference", ns: testCC, coll: "ref", want: "OR('CarrierMSP.peer')"},
		{name: "implicit collection: its organisation's", ns: testCC, coll: ImplicitCollectionPrefix + "BankMSP", want: "OR('BankMSP.peer')"},
		{name: "reference to an organisation outside the channel", ns: testCC, coll: "badref", wantErr: "not in the channel"},
		{name: "implicit collection of an organisation outside the channel", ns: testCC, coll: ImplicitCollectionPrefix + "OtherMSP", wantErr: "not in the channel"},
		{name: "undefined collection", ns: testCC, coll: "nope", wantErr: "no such collection 'nope'"},
		{name: "undefined chaincode", ns: "nope", coll: "own", wantErr: "chaincode nope is not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := v.CollectionPolicy(tc.ns, tc.coll)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, env)
				return
			}
			require.Equal(t, tc.want, policy.Format(env))
		})
	}
}

func TestConfigBytesAndBlocks(t *testing.T) {
	v := newValidator(t)
	config := func(channel string) *common.Envelope {
		payload := &common.Payload{
			Header: &common.Header{ChannelHeader: mustMarshal(t, &common.ChannelHeader{
				Type: int32(common.HeaderType_CONFIG), ChannelId: channel, TxId: "genesis",
			})},
			Data: mustMarshal(t, &common.ConfigEnvelope{Config: &common.Config{Sequence: 0}}),
		}
		return &common.Envelope{Payload: mustMarshal(t, payload)}
	}
	t.Run("genesis config", func(t *testing.T) {
		_, code := v.Validate(config(testChannel))
		require.Equal(t, peer.TxValidationCode_VALID, code)
		_, code = v.Validate(config("other"))
		require.Equal(t, peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND, code)
	})
	t.Run("bytes", func(t *testing.T) {
		_, code := v.ValidateBytes(nil)
		require.Equal(t, peer.TxValidationCode_NIL_ENVELOPE, code)
		_, code = v.ValidateBytes([]byte{0xff, 0xff})
		require.Equal(t, peer.TxValidationCode_INVALID_OTHER_REASON, code)
	})
	t.Run("block", func(t *testing.T) {
		good := buildTx(t, txSpec{})
		bad := buildTx(t, txSpec{endorsers: []*msp.Identity{peerOf("BankMSP")}})
		var data [][]byte
		var wantCodes []peer.TxValidationCode
		var wantIDs []string
		for i := 0; i < 9; i++ {
			env := good
			want := peer.TxValidationCode_VALID
			if i%3 == 1 {
				env, want = bad, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE
			}
			data = append(data, mustMarshal(t, env))
			wantCodes = append(wantCodes, want)
			h, err := UnpackHeader(env)
			require.NoError(t, err)
			wantIDs = append(wantIDs, h.ChannelHeader.TxId)
		}
		ids, codes := v.ValidateBlock(&common.Block{Data: &common.BlockData{Data: data}})
		require.Equal(t, wantCodes, codes)
		require.Equal(t, wantIDs, ids)
		ids, codes = v.ValidateBlock(&common.Block{})
		require.Empty(t, ids)
		require.Empty(t, codes)
	})
}

func TestUnpackEndorserTx(t *testing.T) {
	env := buildTx(t, txSpec{
		event:    &peer.ChaincodeEvent{ChaincodeId: testCC, EventName: "Created", Payload: []byte("p")},
		nsRWSets: []*rwset.NsReadWriteSet{publicWrite(t, testCC), privateWrite(t, "other", "c1")},
	})
	tx, err := UnpackEndorserTx(env)
	require.NoError(t, err)
	require.Equal(t, testChannel, tx.ChannelHeader.ChannelId)
	require.Equal(t, ComputeTxID(tx.SignatureHeader.Nonce, tx.SignatureHeader.Creator), tx.TxID())
	require.Equal(t, testCC, tx.Chaincode())
	require.Equal(t, "1.0", tx.Action.ChaincodeId.Version)
	require.Equal(t, int32(200), tx.Action.Response.Status)
	require.Equal(t, "Created", tx.Event.EventName)
	require.Len(t, tx.Endorsements, 3)
	require.Equal(t, [][]byte{[]byte("put"), []byte("k"), []byte("v")}, tx.Input().Args)
	require.Len(t, tx.NsRWSets, 2)
	require.Equal(t, "k", tx.NsRWSets[0].KV.Writes[0].Key)
	require.True(t, tx.NsRWSets[0].Writes())
	require.Equal(t, "c1", tx.NsRWSets[1].Collections[0].Name)
	require.True(t, tx.NsRWSets[1].Writes())
	require.Len(t, tx.RWSet.NsRwset, 2)
	require.True(t, proto.Equal(env, tx.Envelope))

	t.Run("errors carry codes", func(t *testing.T) {
		_, err := UnpackEndorserTx(nil)
		require.Equal(t, peer.TxValidationCode_NIL_ENVELOPE, CodeOf(err))
		_, err = UnpackEndorserTx(buildTx(t, txSpec{action: func(a *peer.ChaincodeAction) { a.Results = []byte{0xff} }}))
		require.Equal(t, peer.TxValidationCode_BAD_RWSET, CodeOf(err))
		_, err = UnpackEndorserTx(buildTx(t, txSpec{chdr: func(h *common.ChannelHeader) { h.Type = int32(common.HeaderType_CONFIG) }}))
		require.Equal(t, peer.TxValidationCode_UNSUPPORTED_TX_PAYLOAD, CodeOf(err))
		require.Equal(t, peer.TxValidationCode_VALID, CodeOf(nil))
		require.Equal(t, peer.TxValidationCode_INVALID_OTHER_REASON, CodeOf(errBare))
	})
}

var errBare = errors.New("an error without a code")

func TestNewAndDefine(t *testing.T) {
	mgr, err := testCrypto.Manager()
	require.NoError(t, err)
	_, err = New(Config{MSP: mgr, ApplicationOrgs: appOrgs})
	require.Error(t, err)
	_, err = New(Config{ChannelID: testChannel, ApplicationOrgs: appOrgs})
	require.Error(t, err)
	_, err = New(Config{ChannelID: testChannel, MSP: mgr})
	require.Error(t, err)
	v, err := New(Config{ChannelID: testChannel, MSP: mgr, ApplicationOrgs: appOrgs})
	require.NoError(t, err)
	require.Error(t, v.Define(Chaincode{}))
	require.Error(t, v.Define(Chaincode{Name: "x", EndorsementPolicy: &common.SignaturePolicyEnvelope{}}))
	require.Error(t, v.Define(Chaincode{Name: "x", Collections: []policy.Collection{{Name: "_bad", Policy: "OR('A.member')"}}}))
	c := policy.Collection{Name: "c", Policy: "OR('A.member')", MaxPeerCount: 1}
	require.Error(t, v.Define(Chaincode{Name: "x", Collections: []policy.Collection{c, c}}))

	// Redefining a chaincode takes effect for later validations.
	env := buildTx(t, txSpec{endorsers: []*msp.Identity{peerOf("CustomsMSP")}})
	require.NoError(t, v.Define(Chaincode{Name: testCC}))
	_, code := v.Validate(env)
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, code)
	require.NoError(t, v.Define(Chaincode{Name: testCC, EndorsementPolicy: policy.MustParse("OR('CustomsMSP.peer')")}))
	_, code = v.Validate(env)
	require.Equal(t, peer.TxValidationCode_VALID, code)
}

func BenchmarkValidate(b *testing.B) {
	v := newValidator(b)
	env := buildTx(b, txSpec{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, code := v.Validate(env); code != peer.TxValidationCode_VALID {
			b.Fatal(code)
		}
	}
}
