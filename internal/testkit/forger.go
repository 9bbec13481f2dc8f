package testkit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/msp"
)

// Forger sends proposals it builds by hand, as a consortium member that controls its own client
// can: any timestamp in the channel header, any identity of its organisation in the signature
// header, any choice of endorsing organisations. Each proposal is signed with the identity's
// real ECDSA key and goes through the Fabric Gateway SDK to a real gateway peer (devnet or
// Fabric), so the attacks of issue 11 that HTTP cannot express can be shown refused.
type Forger struct {
	gw        *client.Gateway
	id        *msp.Identity
	channel   string
	chaincode string
}

// Forged is one hand-built proposal: the transaction, its argument (a JSON-encoded value, or a
// string sent as is), the private data of its transient map (each value JSON-encoded), the
// time it claims to have been made, and the organisations whose peers are to endorse it (none:
// the gateway plans).
type Forged struct {
	Fn        string
	Arg       any
	Transient map[string]any
	Stamped   time.Time
	Endorsers []string
}

// NewForger connects a Gateway SDK client over conn that signs as id, for chaincode on
// channel. The caller keeps conn; Close closes the SDK client.
func NewForger(conn grpc.ClientConnInterface, id *msp.Identity, channel, chaincode string) (*Forger, error) {
	xid, err := identity.NewX509Identity(id.MSPID, id.Cert)
	if err != nil {
		return nil, fmt.Errorf("forger: identity: %w", err)
	}
	sign, err := identity.NewPrivateKeySign(id.Key)
	if err != nil {
		return nil, fmt.Errorf("forger: signer: %w", err)
	}
	gw, err := client.Connect(xid, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn))
	if err != nil {
		return nil, fmt.Errorf("forger: connect: %w", err)
	}
	return &Forger{gw: gw, id: id, channel: channel, chaincode: chaincode}, nil
}

// Close closes the SDK client.
func (f *Forger) Close() error { return f.gw.Close() }

// Build marshals p into a Fabric proposal (channel header with p.Stamped, signature header with
// the identity's serialized certificate and a fresh nonce, the chaincode invocation), signs it
// and returns it as the SDK's proposal.
func (f *Forger) Build(p Forged) (*client.Proposal, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("forger: nonce: %w", err)
	}
	creator := f.id.Serialize()
	sum := sha256.Sum256(append(append([]byte{}, nonce...), creator...))
	txID := hex.EncodeToString(sum[:])
	ccID := &peer.ChaincodeID{Name: f.chaincode}
	input, err := f.input(p)
	if err != nil {
		return nil, err
	}
	var m marshaller
	ch := m.marshal(&common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: f.channel,
		TxId:      txID,
		Timestamp: timestamppb.New(p.Stamped),
		Extension: m.marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: ccID}),
	})
	sh := m.marshal(&common.SignatureHeader{Creator: creator, Nonce: nonce})
	spec := m.marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type: peer.ChaincodeSpec_GOLANG, ChaincodeId: ccID, Input: input,
	}})
	transient, err := transientMap(p.Transient)
	if err != nil {
		return nil, err
	}
	prop := m.marshal(&peer.Proposal{
		Header:  m.marshal(&common.Header{ChannelHeader: ch, SignatureHeader: sh}),
		Payload: m.marshal(&peer.ChaincodeProposalPayload{Input: spec, TransientMap: transient}),
	})
	ptx := m.marshal(&gateway.ProposedTransaction{
		TransactionId:          txID,
		Proposal:               &peer.SignedProposal{ProposalBytes: prop},
		EndorsingOrganizations: p.Endorsers,
	})
	if m.err != nil {
		return nil, m.err
	}
	sig, err := f.id.Sign(prop)
	if err != nil {
		return nil, fmt.Errorf("forger: sign: %w", err)
	}
	out, err := f.gw.NewSignedProposal(ptx, sig)
	if err != nil {
		return nil, fmt.Errorf("forger: %w", err)
	}
	return out, nil
}

// input is the chaincode input of p: the transaction name and its one argument.
func (f *Forger) input(p Forged) (*peer.ChaincodeInput, error) {
	arg, ok := p.Arg.(string)
	if !ok {
		raw, err := json.Marshal(p.Arg)
		if err != nil {
			return nil, fmt.Errorf("forger: argument of %s: %w", p.Fn, err)
		}
		arg = string(raw)
	}
	return &peer.ChaincodeInput{Args: [][]byte{[]byte(p.Fn), []byte(arg)}}, nil
}

func transientMap(in map[string]any) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	for k, v := range in {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("forger: transient %s: %w", k, err)
		}
		out[k] = raw
	}
	return out, nil
}

// marshaller marshals protobuf messages, keeping the first error.
type marshaller struct{ err error }

func (m *marshaller) marshal(msg proto.Message) []byte {
	if m.err != nil {
		return nil
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		m.err = fmt.Errorf("forger: marshal %T: %w", msg, err)
	}
	return b
}

// Refused endorses p and returns the peers' refusal (Refusal), failing t if p was endorsed or
// failed otherwise than at endorsement.
func (f *Forger) Refused(t T, p Forged) string {
	t.Helper()
	prop, err := f.Build(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	_, err = prop.Endorse()
	if err == nil {
		t.Fatalf("%s stamped %s as %s was endorsed", p.Fn, p.Stamped.Format(time.RFC3339Nano), f.id.MSPID)
	}
	var endorseErr *client.EndorseError
	if !errors.As(err, &endorseErr) {
		t.Fatalf("%s: want an endorsement error, got %T: %v", p.Fn, err, err)
	}
	return Refusal(err)
}

// Commit endorses and submits p and returns its validation code, failing t if it is not
// endorsed or submitted.
func (f *Forger) Commit(t T, p Forged) peer.TxValidationCode {
	t.Helper()
	prop, err := f.Build(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	tx, err := prop.Endorse()
	if err != nil {
		t.Fatalf("endorse %s: %s", p.Fn, Refusal(err))
	}
	commit, err := tx.Submit()
	if err != nil {
		t.Fatalf("submit %s: %s", p.Fn, Refusal(err))
	}
	st, err := commit.Status()
	if err != nil {
		t.Fatalf("commit status of %s: %v", p.Fn, err)
	}
	return st.Code
}

// Evaluate evaluates p and returns its result, failing t on an error.
func (f *Forger) Evaluate(t T, p Forged) []byte {
	t.Helper()
	prop, err := f.Build(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	res, err := prop.Evaluate()
	if err != nil {
		t.Fatalf("evaluate %s: %s", p.Fn, Refusal(err))
	}
	return res
}

// Refusal is the gRPC status message of err followed by each peer's message from its details,
// where the chaincode's error code and message are ("MSP: chaincode response 500, CODE: ...").
func Refusal(err error) string {
	st := status.Convert(err)
	msgs := []string{st.Message()}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			msgs = append(msgs, ed.GetMspId()+": "+ed.GetMessage())
		}
	}
	return strings.Join(msgs, " | ")
}

// BuyerRecord is the transient order_private value of a hand-built CreateOrder of o: the
// buyer's name, address and phone with a fresh random salt.
func BuyerRecord(o Order) (map[string]any, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("buyer record salt: %w", err)
	}
	return map[string]any{"order_private": map[string]any{
		"name": o.BuyerName, "address": o.Address, "phone": o.Phone, "salt": hex.EncodeToString(salt),
	}}, nil
}

// PublicCreateBody is o.CreateBody() without the buyer's private values, which a CreateOrder
// proposal carries in its transient map (BuyerRecord) instead.
func (o Order) PublicCreateBody() map[string]any {
	b := o.CreateBody()
	buyer := b["buyer"].(map[string]any)
	for _, k := range []string{"name", "address", "phone"} {
		delete(buyer, k)
	}
	return b
}
