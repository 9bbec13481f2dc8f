package txutil

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Signer is a signing identity: a peer's or a client's. Sign signs msg (hashing it first, as
// Fabric's MSP identities do) and Serialize returns the msp.SerializedIdentity bytes. It is
// satisfied by *msp.Identity.
type Signer interface {
	Serialize() []byte
	Sign(msg []byte) ([]byte, error)
}

// Action is the outcome of one chaincode simulation, the content of a proposal response.
type Action struct {
	// Response is the chaincode's response (status, message, payload).
	Response *peer.Response
	// Results is the marshalled rwset.TxReadWriteSet of the simulation.
	Results []byte
	// Event is the chaincode event set by the transaction, nil if none.
	Event *peer.ChaincodeEvent
	// ChaincodeID names the chaincode and its definition's version.
	ChaincodeID *peer.ChaincodeID
}

// ProposalResponsePayload marshals the ProposalResponsePayload a peer endorses:
// {ProposalHash, Extension: ChaincodeAction{Results, Events, Response, ChaincodeId}}.
func ProposalResponsePayload(proposalHash []byte, action *Action) ([]byte, error) {
	var events []byte
	if action.Event != nil {
		b, err := deterministic(action.Event)
		if err != nil {
			return nil, fmt.Errorf("failed to marshal chaincode event: %w", err)
		}
		events = b
	}
	ext, err := deterministic(&peer.ChaincodeAction{
		Results:     action.Results,
		Events:      events,
		Response:    action.Response,
		ChaincodeId: action.ChaincodeID,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal chaincode action: %w", err)
	}
	prp, err := deterministic(&peer.ProposalResponsePayload{ProposalHash: proposalHash, Extension: ext})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal proposal response payload: %w", err)
	}
	return prp, nil
}

// Endorse signs a marshalled proposal response payload as Fabric's default endorsement plugin
// does: the signature covers prp || serialized endorser identity.
func Endorse(prp []byte, endorser Signer) (*peer.Endorsement, error) {
	id := endorser.Serialize()
	msg := make([]byte, 0, len(prp)+len(id))
	msg = append(msg, prp...)
	msg = append(msg, id...)
	sig, err := endorser.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("could not sign the proposal response payload: %w", err)
	}
	return &peer.Endorsement{Endorser: id, Signature: sig}, nil
}

// NewProposalResponse returns the successful, endorsed response a peer sends for a proposal.
func NewProposalResponse(prp []byte, response *peer.Response, endorsement *peer.Endorsement) *peer.ProposalResponse {
	return &peer.ProposalResponse{
		Version:     1,
		Endorsement: endorsement,
		Payload:     prp,
		Response:    response,
	}
}

// SortEndorsements returns the endorsements without duplicates (same endorser identity) and
// ordered by endorser bytes, so the same set always produces the same transaction.
func SortEndorsements(endorsements []*peer.Endorsement) []*peer.Endorsement {
	out := make([]*peer.Endorsement, 0, len(endorsements))
	seen := make(map[string]bool, len(endorsements))
	for _, e := range endorsements {
		if seen[string(e.GetEndorser())] {
			continue
		}
		seen[string(e.GetEndorser())] = true
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return bytes.Compare(out[i].GetEndorser(), out[j].GetEndorser()) < 0
	})
	return out
}

// AssembleTransaction builds the unsigned transaction envelope for an endorsed proposal, as
// Fabric's gateway does: Payload{Header: the proposal header, Data: Transaction{Actions:
// [{Header: signature header bytes, Payload: ChaincodeActionPayload{proposal payload without
// transient data, ChaincodeEndorsedAction{prp, endorsements}}}]}}. The client signs the payload.
func AssembleTransaction(p *Proposal, prp []byte, endorsements []*peer.Endorsement) (*common.Envelope, error) {
	cppBytes, err := PayloadForTx(p.Payload)
	if err != nil {
		return nil, err
	}
	capBytes, err := deterministic(&peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: cppBytes,
		Action: &peer.ChaincodeEndorsedAction{
			ProposalResponsePayload: prp,
			Endorsements:            SortEndorsements(endorsements),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal chaincode action payload: %w", err)
	}
	txBytes, err := deterministic(&peer.Transaction{Actions: []*peer.TransactionAction{{
		Header:  p.Header.GetSignatureHeader(),
		Payload: capBytes,
	}}})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal transaction: %w", err)
	}
	payload, err := deterministic(&common.Payload{Header: p.Header, Data: txBytes})
	if err != nil {
		return nil, fmt.Errorf("failed to marshal payload: %w", err)
	}
	return &common.Envelope{Payload: payload}, nil
}

// SignEnvelope signs an envelope's payload with signer, setting Envelope.Signature.
func SignEnvelope(env *common.Envelope, signer Signer) error {
	sig, err := signer.Sign(env.GetPayload())
	if err != nil {
		return fmt.Errorf("failed to sign envelope: %w", err)
	}
	env.Signature = sig
	return nil
}

// Marshal marshals m deterministically; it is the marshalling used for every message txutil
// builds.
func Marshal(m proto.Message) ([]byte, error) {
	b, err := deterministic(m)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal %T: %w", m, err)
	}
	return b, nil
}
