package validator

import (
	"crypto/rand"
	"crypto/sha256"
	"os"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/msp"
)

const (
	testChannel = "xborder"
	testCC      = "testcc"
)

var (
	testCrypto *msp.CryptoConfig
	testDir    string
)

func TestMain(m *testing.M) {
	var err error
	testDir, err = os.MkdirTemp("", "validator-test-")
	if err != nil {
		panic(err)
	}
	testCrypto, err = msp.Generate(testDir, msp.DefaultOrgs())
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(testDir)
	os.Exit(code)
}

func peerOf(mspID string) *msp.Identity  { return testCrypto.Org(mspID).Node.Signer }
func userOf(mspID string) *msp.Identity  { return testCrypto.Org(mspID).User.Signer }
func adminOf(mspID string) *msp.Identity { return testCrypto.Org(mspID).Admin.Signer }

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// txSpec describes an endorser transaction to build; the hooks tamper with single layers.
type txSpec struct {
	creator   *msp.Identity
	endorsers []*msp.Identity
	nsRWSets  []*rwset.NsReadWriteSet
	event     *peer.ChaincodeEvent
	actionCC  *peer.ChaincodeID

	chdr         func(*common.ChannelHeader)
	shdr         func(*common.SignatureHeader)
	action       func(*peer.ChaincodeAction)
	prp          func(*peer.ProposalResponsePayload)
	endorsements func([]*peer.Endorsement) []*peer.Endorsement
	cap          func(*peer.ChaincodeActionPayload)
	tx           func(*peer.Transaction)
	payload      func(*common.Payload)
	env          func(*common.Envelope)
}

// publicWrite is the read-write set of a transaction writing one public key of ns.
func publicWrite(t testing.TB, ns string) *rwset.NsReadWriteSet {
	return &rwset.NsReadWriteSet{Namespace: ns, Rwset: mustMarshal(t, &kvrwset.KVRWSet{
		Reads:  []*kvrwset.KVRead{{Key: "r", Version: &kvrwset.Version{BlockNum: 1}}},
		Writes: []*kvrwset.KVWrite{{Key: "k", Value: []byte("v")}},
	})}
}

// readOnly is the read-write set of a transaction that only reads ns.
func readOnly(t testing.TB, ns string) *rwset.NsReadWriteSet {
	return &rwset.NsReadWriteSet{Namespace: ns, Rwset: mustMarshal(t, &kvrwset.KVRWSet{
		Reads: []*kvrwset.KVRead{{Key: "r"}},
	})}
}

// privateWrite is the read-write set of a transaction writing one key of a collection of ns.
func privateWrite(t testing.TB, ns, coll string) *rwset.NsReadWriteSet {
	kh := sha256.Sum256([]byte("pk"))
	vh := sha256.Sum256([]byte("pv"))
	return &rwset.NsReadWriteSet{
		Namespace: ns,
		Rwset:     mustMarshal(t, &kvrwset.KVRWSet{}),
		CollectionHashedRwset: []*rwset.CollectionHashedReadWriteSet{{
			CollectionName: coll,
			HashedRwset:    mustMarshal(t, &kvrwset.HashedRWSet{HashedWrites: []*kvrwset.KVWriteHash{{KeyHash: kh[:], ValueHash: vh[:]}}}),
			PvtRwsetHash:   vh[:],
		}},
	}
}

func signEndorsement(t testing.TB, id *msp.Identity, prp []byte) *peer.Endorsement {
	t.Helper()
	endorser := id.Serialize()
	sig, err := id.Sign(append(append([]byte(nil), prp...), endorser...))
	require.NoError(t, err)
	return &peer.Endorsement{Endorser: endorser, Signature: sig}
}

func buildTx(t testing.TB, s txSpec) *common.Envelope {
	t.Helper()
	if s.creator == nil {
		s.creator = userOf("MerchantMSP")
	}
	if s.endorsers == nil {
		s.endorsers = []*msp.Identity{peerOf("MerchantMSP"), peerOf("BankMSP"), peerOf("CarrierMSP")}
	}
	if s.nsRWSets == nil {
		s.nsRWSets = []*rwset.NsReadWriteSet{publicWrite(t, testCC)}
	}
	if s.actionCC == nil {
		s.actionCC = &peer.ChaincodeID{Name: testCC, Version: "1.0"}
	}
	nonce := make([]byte, 24)
	_, err := rand.Read(nonce)
	require.NoError(t, err)
	creator := s.creator.Serialize()

	chdr := &common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: testChannel,
		TxId:      ComputeTxID(nonce, creator),
		Timestamp: timestamppb.Now(),
		Extension: mustMarshal(t, &peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: testCC}}),
	}
	if s.chdr != nil {
		s.chdr(chdr)
	}
	shdr := &common.SignatureHeader{Creator: creator, Nonce: nonce}
	if s.shdr != nil {
		s.shdr(shdr)
	}
	chdrBytes, shdrBytes := mustMarshal(t, chdr), mustMarshal(t, shdr)

	input := mustMarshal(t, &peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type:        peer.ChaincodeSpec_GOLANG,
		ChaincodeId: &peer.ChaincodeID{Name: testCC},
		Input:       &peer.ChaincodeInput{Args: [][]byte{[]byte("put"), []byte("k"), []byte("v")}},
	}})
	ccpp := mustMarshal(t, &peer.ChaincodeProposalPayload{Input: input})

	action := &peer.ChaincodeAction{
		Results:     mustMarshal(t, &rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsRwset: s.nsRWSets}),
		Response:    &peer.Response{Status: 200, Payload: []byte("ok")},
		ChaincodeId: s.actionCC,
	}
	if s.event != nil {
		action.Events = mustMarshal(t, s.event)
	}
	if s.action != nil {
		s.action(action)
	}
	prp := &peer.ProposalResponsePayload{
		ProposalHash: ProposalHash(chdrBytes, shdrBytes, ccpp),
		Extension:    mustMarshal(t, action),
	}
	if s.prp != nil {
		s.prp(prp)
	}
	prpBytes := mustMarshal(t, prp)
	var endorsements []*peer.Endorsement
	for _, e := range s.endorsers {
		endorsements = append(endorsements, signEndorsement(t, e, prpBytes))
	}
	if s.endorsements != nil {
		endorsements = s.endorsements(endorsements)
	}
	cap := &peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: ccpp,
		Action:                   &peer.ChaincodeEndorsedAction{ProposalResponsePayload: prpBytes, Endorsements: endorsements},
	}
	if s.cap != nil {
		s.cap(cap)
	}
	tx := &peer.Transaction{Actions: []*peer.TransactionAction{{Header: shdrBytes, Payload: mustMarshal(t, cap)}}}
	if s.tx != nil {
		s.tx(tx)
	}
	payload := &common.Payload{
		Header: &common.Header{ChannelHeader: chdrBytes, SignatureHeader: shdrBytes},
		Data:   mustMarshal(t, tx),
	}
	if s.payload != nil {
		s.payload(payload)
	}
	payloadBytes := mustMarshal(t, payload)
	sig, err := s.creator.Sign(payloadBytes)
	require.NoError(t, err)
	env := &common.Envelope{Payload: payloadBytes, Signature: sig}
	if s.env != nil {
		s.env(env)
	}
	return env
}
