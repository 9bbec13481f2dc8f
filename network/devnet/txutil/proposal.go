package txutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed is wrapped by every error reporting a message that cannot be parsed or whose
// fields are inconsistent.
var ErrMalformed = errors.New("malformed message")

// Proposal is a signed transaction proposal unpacked into its parts.
type Proposal struct {
	// Signed is the proposal as it was received.
	Signed *peer.SignedProposal
	// Proposal is the unmarshalled Signed.ProposalBytes.
	Proposal *peer.Proposal
	// Header is the unmarshalled Proposal.Header.
	Header *common.Header
	// ChannelHeader is the unmarshalled Header.ChannelHeader.
	ChannelHeader *common.ChannelHeader
	// SignatureHeader is the unmarshalled Header.SignatureHeader.
	SignatureHeader *common.SignatureHeader
	// Payload is the unmarshalled Proposal.Payload.
	Payload *peer.ChaincodeProposalPayload
	// Spec is the unmarshalled Payload.Input.
	Spec *peer.ChaincodeInvocationSpec
	// Hash is the proposal hash as Fabric computes it (see ProposalHash).
	Hash []byte
}

// ChannelID returns the proposal's channel.
func (p *Proposal) ChannelID() string { return p.ChannelHeader.GetChannelId() }

// TxID returns the proposal's transaction ID.
func (p *Proposal) TxID() string { return p.ChannelHeader.GetTxId() }

// ChaincodeName returns the name of the invoked chaincode.
func (p *Proposal) ChaincodeName() string {
	return p.Spec.GetChaincodeSpec().GetChaincodeId().GetName()
}

// Input returns the chaincode input (function name and arguments).
func (p *Proposal) Input() *peer.ChaincodeInput { return p.Spec.GetChaincodeSpec().GetInput() }

// Transient returns the proposal's transient data map (nil when there is none).
func (p *Proposal) Transient() map[string][]byte { return p.Payload.GetTransientMap() }

// Creator returns the serialized identity of the proposal's creator.
func (p *Proposal) Creator() []byte { return p.SignatureHeader.GetCreator() }

// UnpackProposal parses a signed proposal. It checks only that the message is well formed; see
// (*Proposal).Validate for Fabric's header checks.
func UnpackProposal(signed *peer.SignedProposal) (*Proposal, error) {
	if len(signed.GetProposalBytes()) == 0 {
		return nil, fmt.Errorf("%w: a signed proposal is required", ErrMalformed)
	}
	p := &Proposal{
		Signed:          signed,
		Proposal:        &peer.Proposal{},
		Header:          &common.Header{},
		ChannelHeader:   &common.ChannelHeader{},
		SignatureHeader: &common.SignatureHeader{},
		Payload:         &peer.ChaincodeProposalPayload{},
		Spec:            &peer.ChaincodeInvocationSpec{},
	}
	steps := []struct {
		what string
		data []byte
		msg  proto.Message
	}{
		{"proposal", signed.GetProposalBytes(), p.Proposal},
		{"header", nil, p.Header},
		{"channel header", nil, p.ChannelHeader},
		{"signature header", nil, p.SignatureHeader},
		{"chaincode proposal payload", nil, p.Payload},
		{"chaincode invocation spec", nil, p.Spec},
	}
	for i := range steps {
		switch i {
		case 1:
			steps[i].data = p.Proposal.GetHeader()
		case 2:
			steps[i].data = p.Header.GetChannelHeader()
		case 3:
			steps[i].data = p.Header.GetSignatureHeader()
		case 4:
			steps[i].data = p.Proposal.GetPayload()
		case 5:
			steps[i].data = p.Payload.GetInput()
		}
		if err := proto.Unmarshal(steps[i].data, steps[i].msg); err != nil {
			return nil, fmt.Errorf("%w: error unmarshalling %s: %w", ErrMalformed, steps[i].what, err)
		}
	}
	if p.ChannelHeader.GetChannelId() == "" {
		return nil, fmt.Errorf("%w: no channel id provided", ErrMalformed)
	}
	if p.Spec.GetChaincodeSpec() == nil {
		return nil, fmt.Errorf("%w: no chaincode spec is provided, channel id [%s]", ErrMalformed, p.ChannelID())
	}
	if p.ChaincodeName() == "" {
		return nil, fmt.Errorf("%w: no chaincode name is provided, channel id [%s]", ErrMalformed, p.ChannelID())
	}
	hash, err := ProposalHash(p.Header, p.Proposal.GetPayload())
	if err != nil {
		return nil, err
	}
	p.Hash = hash
	return p, nil
}

// Validate applies the header checks a Fabric endorser makes before it looks at signatures:
// header type, epoch, nonce, creator and the transaction ID derived from nonce and creator.
func (p *Proposal) Validate() error {
	if common.HeaderType(p.ChannelHeader.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return fmt.Errorf("%w: invalid header type %s", ErrMalformed, common.HeaderType(p.ChannelHeader.GetType()))
	}
	if p.ChannelHeader.GetEpoch() != 0 {
		return fmt.Errorf("%w: epoch is non-zero", ErrMalformed)
	}
	if len(p.SignatureHeader.GetNonce()) == 0 {
		return fmt.Errorf("%w: nonce is empty", ErrMalformed)
	}
	if len(p.SignatureHeader.GetCreator()) == 0 {
		return fmt.Errorf("%w: creator is empty", ErrMalformed)
	}
	expected := ComputeTxID(p.SignatureHeader.GetNonce(), p.SignatureHeader.GetCreator())
	if p.TxID() != expected {
		return fmt.Errorf("%w: incorrectly computed txid '%s' -- expected '%s'", ErrMalformed, p.TxID(), expected)
	}
	if len(p.Signed.GetSignature()) == 0 {
		return fmt.Errorf("%w: empty signature bytes", ErrMalformed)
	}
	if len(p.Input().GetArgs()) == 0 {
		return fmt.Errorf("%w: chaincode input did not contain any input", ErrMalformed)
	}
	return nil
}

// ComputeTxID returns Fabric's transaction ID for a nonce and a serialized creator identity:
// the hex-encoded SHA-256 of nonce || creator.
func ComputeTxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// PayloadForTx returns the marshalled chaincode proposal payload without its transient map:
// the form stored in a transaction and covered by the proposal hash.
func PayloadForTx(cpp *peer.ChaincodeProposalPayload) ([]byte, error) {
	b, err := deterministic(&peer.ChaincodeProposalPayload{Input: cpp.GetInput()})
	if err != nil {
		return nil, fmt.Errorf("could not marshal non-transient portion of payload: %w", err)
	}
	return b, nil
}

// ProposalHash computes the hash a proposal response commits to, as Fabric's
// protoutil.GetProposalHash1 does: SHA-256 over the channel header bytes, the signature header
// bytes and the chaincode proposal payload re-marshalled without its transient map.
func ProposalHash(header *common.Header, chaincodeProposalPayload []byte) ([]byte, error) {
	if header == nil || header.GetChannelHeader() == nil || header.GetSignatureHeader() == nil || chaincodeProposalPayload == nil {
		return nil, fmt.Errorf("%w: nil arguments to proposal hash", ErrMalformed)
	}
	cpp := &peer.ChaincodeProposalPayload{}
	if err := proto.Unmarshal(chaincodeProposalPayload, cpp); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling chaincode proposal payload: %w", ErrMalformed, err)
	}
	ppBytes, err := PayloadForTx(cpp)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(header.GetChannelHeader())
	h.Write(header.GetSignatureHeader())
	h.Write(ppBytes)
	return h.Sum(nil), nil
}

func deterministic(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
