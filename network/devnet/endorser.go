package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ccruntime"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// simulation is the successful outcome of one proposal on one peer.
type simulation struct {
	prop   *txutil.Proposal
	cc     *chaincode
	org    string
	result *ccruntime.Result
	prp    []byte
}

// processProposal does what a Fabric peer's endorser does with a signed proposal, short of
// signing the response: validate the proposal and its creator, check for a duplicate
// transaction ID, and simulate it once on a snapshot of the ledger as org's peer.
func (n *Network) processProposal(ctx context.Context, prop *txutil.Proposal, cc *chaincode, org string) (*simulation, *peerFailure) {
	if f := n.checkProposal(prop); f != nil {
		return nil, f
	}
	snap, err := n.ledger.NewSnapshot()
	if err != nil {
		return nil, &peerFailure{codes.Aborted, fmt.Sprintf("failed to obtain a ledger snapshot: %v", err)}
	}
	defer snap.Release()
	ctx, cancel := context.WithTimeout(ctx, n.opts.endorsementTimeout)
	defer cancel()
	res, err := n.runtime.Execute(ctx, &ccruntime.Invocation{
		ChannelID:     prop.ChannelID(),
		TxID:          prop.TxID(),
		Chaincode:     cc.def.Name,
		Signed:        prop.Signed,
		Input:         prop.Input(),
		Transient:     prop.Transient(),
		LocalMSPID:    org,
		Collections:   cc.collections,
		ChannelMSPIDs: n.peerOrgs,
		State:         snap,
		Timestamp:     prop.ChannelHeader.GetTimestamp(),
	})
	if err != nil {
		return nil, &peerFailure{codes.Aborted, fmt.Sprintf("error in simulation: failed to execute transaction %s: %v", prop.TxID(), err)}
	}
	resp := res.Response
	if st := resp.GetStatus(); st < 200 || st >= 400 {
		return nil, &peerFailure{codes.Unknown, fmt.Sprintf("chaincode response %d, %s", st, resp.GetMessage())}
	}
	results, err := proto.Marshal(res.RWSet)
	if err != nil {
		return nil, &peerFailure{codes.Aborted, fmt.Sprintf("error in simulation: failed to marshal read-write set: %v", err)}
	}
	if res.Event != nil {
		res.Event.ChaincodeId = cc.def.Name
		res.Event.TxId = prop.TxID()
	}
	prp, err := txutil.ProposalResponsePayload(prop.Hash, &txutil.Action{
		Response:    resp,
		Results:     results,
		Event:       res.Event,
		ChaincodeID: cc.id(),
	})
	if err != nil {
		return nil, &peerFailure{codes.Aborted, fmt.Sprintf("failed to create the proposal response: %v", err)}
	}
	return &simulation{prop: prop, cc: cc, org: org, result: res, prp: prp}, nil
}

// checkProposal applies the endorser's pre-processing: header checks, the creator's
// signature, the channel's writer policy and the duplicate transaction check.
func (n *Network) checkProposal(prop *txutil.Proposal) *peerFailure {
	if prop.ChannelID() != n.cfg.Channel {
		return &peerFailure{codes.Aborted, fmt.Sprintf("channel '%s' not found", prop.ChannelID())}
	}
	if err := prop.Validate(); err != nil {
		return &peerFailure{codes.FailedPrecondition, "error validating proposal: " + strings.TrimPrefix(err.Error(), txutil.ErrMalformed.Error()+": ")}
	}
	creator, err := n.mgr.Deserialize(prop.Creator())
	if err != nil {
		return &peerFailure{codes.FailedPrecondition, fmt.Sprintf("error validating proposal: access denied: channel [%s] creator org unknown, creator is malformed", prop.ChannelID())}
	}
	if err := creator.Verify(prop.Signed.GetProposalBytes(), prop.Signed.GetSignature()); err != nil {
		return &peerFailure{codes.FailedPrecondition, fmt.Sprintf("error validating proposal: access denied: channel [%s] creator org [%s]", prop.ChannelID(), creator.MSPID)}
	}
	if !n.isWriter(creator) {
		return &peerFailure{codes.FailedPrecondition, fmt.Sprintf("failed evaluating policy on signed data during check policy on channel [%s] with policy [/Channel/Application/Writers]: implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the 'Writers' sub-policies to be satisfied", prop.ChannelID())}
	}
	if _, err := n.ledger.TxStatus(prop.TxID()); err == nil {
		return &peerFailure{codes.FailedPrecondition, fmt.Sprintf("duplicate transaction found [%s]. Creator [%s]", prop.TxID(), hex.EncodeToString(prop.Creator()))}
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return &peerFailure{codes.Aborted, fmt.Sprintf("failed to look up transaction %s: %v", prop.TxID(), err)}
	}
	return nil
}

// endorse signs the simulation's proposal response as each organisation's peer and assembles
// the transaction envelope the client signs.
func (n *Network) endorse(sim *simulation, orgs []string) (*common.Envelope, error) {
	endorsements := make([]*peer.Endorsement, 0, len(orgs))
	for _, id := range orgs {
		p, err := n.peer(id)
		if err != nil {
			return nil, err
		}
		e, err := txutil.Endorse(sim.prp, p.org.Node.Signer)
		if err != nil {
			return nil, fmt.Errorf("endorse as %s: %w", id, err)
		}
		// The peer's own fresh signature: the validator will find it verified.
		n.mgr.RememberSignature(e.Endorser, slices.Concat(sim.prp, e.Endorser), e.Signature)
		endorsements = append(endorsements, e)
	}
	env, err := txutil.AssembleTransaction(sim.prop, sim.prp, endorsements)
	if err != nil {
		return nil, err
	}
	if sim.result.PvtRWSet != nil && len(sim.result.PvtRWSet.GetNsPvtRwset()) > 0 {
		n.transient.put(sim.prop.TxID(), sim.result.PvtRWSet)
	}
	return env, nil
}
