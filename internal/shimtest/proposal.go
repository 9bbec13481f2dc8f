package shimtest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// proposal is what a client sends: the signed proposal plus the fields the
// shim extracts from it (creator, transient map, binding).
type proposal struct {
	signed  *peer.SignedProposal
	binding []byte
}

// buildProposal assembles a real endorser-transaction proposal the way a
// Fabric client does: channel header (type, channel, tx ID, timestamp,
// chaincode extension), signature header (creator, nonce), and the chaincode
// proposal payload (invocation spec with the arguments, transient map). The
// caller signs it if it has a signer; the fake peer does not check signatures.
func buildProposal(channelID, chaincodeName, txID string, ts *timestamppb.Timestamp, creator, nonce []byte,
	args [][]byte, transient map[string][]byte) (*proposal, error) {
	ext, err := proto.Marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: chaincodeName}})
	if err != nil {
		return nil, fmt.Errorf("marshal chaincode header extension: %w", err)
	}
	chdr, err := proto.Marshal(&common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		Version:   0,
		Timestamp: ts,
		ChannelId: channelID,
		TxId:      txID,
		Epoch:     0,
		Extension: ext,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal channel header: %w", err)
	}
	shdr, err := proto.Marshal(&common.SignatureHeader{Creator: creator, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("marshal signature header: %w", err)
	}
	hdr, err := proto.Marshal(&common.Header{ChannelHeader: chdr, SignatureHeader: shdr})
	if err != nil {
		return nil, fmt.Errorf("marshal header: %w", err)
	}
	cis, err := proto.Marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type:        peer.ChaincodeSpec_GOLANG,
		ChaincodeId: &peer.ChaincodeID{Name: chaincodeName},
		Input:       &peer.ChaincodeInput{Args: args},
	}})
	if err != nil {
		return nil, fmt.Errorf("marshal chaincode invocation spec: %w", err)
	}
	payload, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: cis, TransientMap: transient})
	if err != nil {
		return nil, fmt.Errorf("marshal chaincode proposal payload: %w", err)
	}
	prop, err := proto.Marshal(&peer.Proposal{Header: hdr, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("marshal proposal: %w", err)
	}
	// The binding is computed exactly as the shim does: SHA-256 over the
	// nonce, the creator and the little-endian epoch.
	epoch := make([]byte, 8)
	binary.LittleEndian.PutUint64(epoch, 0)
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	h.Write(epoch)
	return &proposal{signed: &peer.SignedProposal{ProposalBytes: prop}, binding: h.Sum(nil)}, nil
}

// creatorMSPID extracts the MSP ID from a serialized identity ("" if it
// cannot be parsed).
func creatorMSPID(creator []byte) string {
	if len(creator) == 0 {
		return ""
	}
	sid := &msp.SerializedIdentity{}
	if err := proto.Unmarshal(creator, sid); err != nil {
		return ""
	}
	return sid.GetMspid()
}
