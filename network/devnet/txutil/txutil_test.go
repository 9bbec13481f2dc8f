package txutil_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/txutil"
)

type keySigner struct {
	id  []byte
	key *ecdsa.PrivateKey
}

func (s *keySigner) Serialize() []byte { return s.id }

func (s *keySigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, s.key, d[:])
}

func newSigner(t *testing.T, name string) *keySigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &keySigner{id: []byte(name), key: k}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func signedProposal(t *testing.T, transient map[string][]byte, mutate func(*common.ChannelHeader, *common.SignatureHeader)) *peer.SignedProposal {
	t.Helper()
	creator := []byte("creator")
	nonce := []byte("nonce-123")
	ch := &common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: "xborder",
		TxId:      txutil.ComputeTxID(nonce, creator),
	}
	sh := &common.SignatureHeader{Creator: creator, Nonce: nonce}
	if mutate != nil {
		mutate(ch, sh)
	}
	spec := &peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		ChaincodeId: &peer.ChaincodeID{Name: "cc"},
		Input:       &peer.ChaincodeInput{Args: [][]byte{[]byte("put"), []byte("k"), []byte("v")}},
	}}
	cpp := &peer.ChaincodeProposalPayload{Input: mustMarshal(t, spec), TransientMap: transient}
	prop := &peer.Proposal{
		Header:  mustMarshal(t, &common.Header{ChannelHeader: mustMarshal(t, ch), SignatureHeader: mustMarshal(t, sh)}),
		Payload: mustMarshal(t, cpp),
	}
	return &peer.SignedProposal{ProposalBytes: mustMarshal(t, prop), Signature: []byte("sig")}
}

func TestUnpackProposalValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*common.ChannelHeader, *common.SignatureHeader)
		wantErr string
	}{
		{name: "valid"},
		{name: "wrong txid", mutate: func(ch *common.ChannelHeader, _ *common.SignatureHeader) { ch.TxId = "abc" }, wantErr: "incorrectly computed txid"},
		{name: "epoch", mutate: func(ch *common.ChannelHeader, _ *common.SignatureHeader) { ch.Epoch = 1 }, wantErr: "epoch is non-zero"},
		{name: "header type", mutate: func(ch *common.ChannelHeader, _ *common.SignatureHeader) { ch.Type = int32(common.HeaderType_CONFIG) }, wantErr: "invalid header type"},
		{name: "no nonce", mutate: func(_ *common.ChannelHeader, sh *common.SignatureHeader) { sh.Nonce = nil }, wantErr: "nonce is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := txutil.UnpackProposal(signedProposal(t, nil, tc.mutate))
			require.NoError(t, err)
			err = p.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "xborder", p.ChannelID())
				require.Equal(t, "cc", p.ChaincodeName())
				return
			}
			require.ErrorIs(t, err, txutil.ErrMalformed)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestUnpackProposalMalformed(t *testing.T) {
	tests := []struct {
		name   string
		signed *peer.SignedProposal
	}{
		{name: "empty", signed: &peer.SignedProposal{}},
		{name: "garbage", signed: &peer.SignedProposal{ProposalBytes: []byte{0xff, 0xff, 0xff}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := txutil.UnpackProposal(tc.signed)
			require.ErrorIs(t, err, txutil.ErrMalformed)
		})
	}
}

func TestProposalHashIgnoresTransient(t *testing.T) {
	a, err := txutil.UnpackProposal(signedProposal(t, nil, nil))
	require.NoError(t, err)
	b, err := txutil.UnpackProposal(signedProposal(t, map[string][]byte{"secret": []byte("x")}, nil))
	require.NoError(t, err)
	require.Equal(t, a.Hash, b.Hash)
	require.Len(t, a.Hash, sha256.Size)
}

func TestAssembleAndUnpackTransaction(t *testing.T) {
	p, err := txutil.UnpackProposal(signedProposal(t, map[string][]byte{"secret": []byte("x")}, nil))
	require.NoError(t, err)
	action := &txutil.Action{
		Response:    &peer.Response{Status: 200, Payload: []byte("result")},
		Results:     []byte("rwset"),
		Event:       &peer.ChaincodeEvent{ChaincodeId: "cc", TxId: p.TxID(), EventName: "Put", Payload: []byte("e")},
		ChaincodeID: &peer.ChaincodeID{Name: "cc", Version: "1.0"},
	}
	prp, err := txutil.ProposalResponsePayload(p.Hash, action)
	require.NoError(t, err)
	s1, s2 := newSigner(t, "org2"), newSigner(t, "org1")
	e1, err := txutil.Endorse(prp, s1)
	require.NoError(t, err)
	e2, err := txutil.Endorse(prp, s2)
	require.NoError(t, err)
	d := sha256.Sum256(append(append([]byte{}, prp...), s1.id...))
	require.True(t, ecdsa.VerifyASN1(&s1.key.PublicKey, d[:], e1.GetSignature()))
	pr := txutil.NewProposalResponse(prp, action.Response, e1)
	require.Equal(t, int32(1), pr.GetVersion())
	require.Equal(t, prp, pr.GetPayload())

	env, err := txutil.AssembleTransaction(p, prp, []*peer.Endorsement{e1, e2, e1})
	require.NoError(t, err)
	require.NoError(t, txutil.SignEnvelope(env, s1))

	tx, err := txutil.UnpackEnvelope(env)
	require.NoError(t, err)
	require.Equal(t, p.TxID(), tx.TxID())
	require.Equal(t, "cc", tx.ChaincodeName())
	require.Equal(t, []byte("result"), tx.Action.GetResponse().GetPayload())
	require.Equal(t, "Put", tx.Event.GetEventName())
	require.Equal(t, p.Hash, tx.ResponsePayload.GetProposalHash())
	ends := tx.ActionPayload.GetAction().GetEndorsements()
	require.Len(t, ends, 2)
	require.Equal(t, []byte("org1"), ends[0].GetEndorser())
	cpp := &peer.ChaincodeProposalPayload{}
	require.NoError(t, proto.Unmarshal(tx.ActionPayload.GetChaincodeProposalPayload(), cpp))
	require.Nil(t, cpp.GetTransientMap())

	block := &common.Block{
		Header:   &common.BlockHeader{Number: 3},
		Data:     &common.BlockData{Data: [][]byte{mustMarshal(t, env), mustMarshal(t, env)}},
		Metadata: &common.BlockMetadata{Metadata: [][]byte{{}, {}, {byte(peer.TxValidationCode_VALID), byte(peer.TxValidationCode_MVCC_READ_CONFLICT)}, {}, {}}},
	}
	require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID, peer.TxValidationCode_MVCC_READ_CONFLICT}, txutil.TxValidationCodes(block))
	fb, err := txutil.FilteredBlock("xborder", block)
	require.NoError(t, err)
	require.Len(t, fb.GetFilteredTransactions(), 2)
	require.Equal(t, peer.TxValidationCode_MVCC_READ_CONFLICT, fb.GetFilteredTransactions()[1].GetTxValidationCode())
	ev := fb.GetFilteredTransactions()[0].GetTransactionActions().GetChaincodeActions()[0].GetChaincodeEvent()
	require.Equal(t, "Put", ev.GetEventName())
	require.Nil(t, ev.GetPayload())
	events, err := txutil.ChaincodeEvents(block, "cc")
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, uint64(0), events[0].TxNum)
}
