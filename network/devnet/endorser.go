package devnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

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
	peer   *peerNode
	result *ccruntime.Result
	prp    []byte
}

// processProposal does what a Fabric peer's endorser does with a signed proposal, short of
// signing the response: validate the proposal and its creator, check for a duplicate
// transaction ID in the peer's ledger, and simulate it on a snapshot of the peer's ledger.
func (p *peerNode) processProposal(ctx context.Context, prop *txutil.Proposal, cc *chaincode) (*simulation, *peerFailure) {
	n := p.net
	if f := p.checkProposal(prop); f != nil {
		return nil, f
	}
	snap, err := p.ledger.NewSnapshot()
	if err != nil {
		return nil, &peerFailure{codes.Aborted, fmt.Sprintf("failed to obtain a ledger snapshot: %v", err)}
	}
	defer snap.Release()
	ctx, cancel := context.WithTimeout(ctx, n.opts.endorsementTimeout)
	defer cancel()
	res, err := p.runtime.Execute(ctx, &ccruntime.Invocation{
		ChannelID:     prop.ChannelID(),
		TxID:          prop.TxID(),
		Chaincode:     cc.def.Name,
		Signed:        prop.Signed,
		Input:         prop.Input(),
		Transient:     prop.Transient(),
		LocalMSPID:    p.mspID(),
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
	return &simulation{prop: prop, cc: cc, peer: p, result: res, prp: prp}, nil
}

// checkProposal applies the endorser's pre-processing: header checks, the creator's
// signature, the channel's writer policy and the duplicate transaction check against the
// peer's ledger.
func (p *peerNode) checkProposal(prop *txutil.Proposal) *peerFailure {
	n := p.net
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
	if _, err := p.ledger.TxStatus(prop.TxID()); err == nil {
		return &peerFailure{codes.FailedPrecondition, fmt.Sprintf("duplicate transaction found [%s]. Creator [%s]", prop.TxID(), hex.EncodeToString(prop.Creator()))}
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return &peerFailure{codes.Aborted, fmt.Sprintf("failed to look up transaction %s: %v", prop.TxID(), err)}
	}
	return nil
}

// sign signs the simulation's proposal response payload as its peer.
func (sim *simulation) sign() (*peer.Endorsement, error) {
	p := sim.peer
	e, err := txutil.Endorse(sim.prp, p.org.Node.Signer)
	if err != nil {
		return nil, fmt.Errorf("endorse as %s: %w", p.mspID(), err)
	}
	// The peer's own fresh signature: the validators will find it verified.
	p.net.mgr.RememberSignature(e.Endorser, slices.Concat(sim.prp, e.Endorser), e.Signature)
	return e, nil
}

// endorseOn has peer p process the proposal and sign its response, as a peer's
// ProcessProposal does for a gateway, and checks that the response payload matches the
// first endorser's (ref), as Fabric's gateway does.
func (p *peerNode) endorseOn(ctx context.Context, prop *txutil.Proposal, cc *chaincode, ref []byte) (*peer.Endorsement, *peerFailure) {
	sim, fail := p.processProposal(ctx, prop, cc)
	if fail != nil {
		return nil, fail
	}
	if !bytes.Equal(sim.prp, ref) {
		p.net.logger.Warn("ProposalResponsePayloads do not match", "txID", prop.TxID(), "endorser", p.org.Node.Name)
		return nil, &peerFailure{codes.Aborted, "ProposalResponsePayloads do not match"}
	}
	e, err := sim.sign()
	if err != nil {
		return nil, &peerFailure{codes.Aborted, err.Error()}
	}
	return e, nil
}

// distributePrivateData puts the simulation's private write set into the transient store of
// every peer whose organisation is a member of a collection written, restricted to those
// collections, as Fabric's endorsing peer disseminates it to eligible peers by gossip.
func (n *Network) distributePrivateData(sim *simulation) {
	pvt := sim.result.PvtRWSet
	if len(pvt.GetNsPvtRwset()) == 0 {
		return
	}
	for _, q := range n.peers {
		var want []collRef
		for _, ns := range pvt.GetNsPvtRwset() {
			cc, ok := n.chaincodes[ns.GetNamespace()]
			if !ok {
				continue
			}
			for _, c := range ns.GetCollectionPvtRwset() {
				if cc.isMember(c.GetCollectionName(), q.mspID()) {
					want = append(want, collRef{ns.GetNamespace(), c.GetCollectionName()})
				}
			}
		}
		if own := selectCollections(pvt, want); own != nil {
			if err := q.transient.put(sim.prop.TxID(), own); err != nil {
				// As a member peer that gossip did not reach: it pulls the data at commit.
				n.logger.Warn("private data not kept", "peer", q.org.Node.Name, "txID", sim.prop.TxID(), "error", err)
			}
		}
	}
}
