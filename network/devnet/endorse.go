package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/xborder/xborder/network/devnet/ccruntime"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/txutil"
	"github.com/xborder/xborder/network/devnet/validator"
)

// peerFailure is a proposal that one organisation's peer did not endorse, classified the way
// Fabric's gateway classifies a peer's answer (internal/pkg/gateway responseStatus):
//   - codes.FailedPrecondition: the peer rejected the proposal (validation, access, duplicate).
//   - codes.Aborted: the peer failed to process it (simulation error, chaincode unreachable).
//   - codes.Unknown: the chaincode answered with an error status.
type peerFailure struct {
	code    codes.Code
	message string
}

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

// rwsetSummary is what endorsement planning needs to know about a simulation's read-write set.
type rwsetSummary struct {
	// publicWrites holds the namespaces with public (value or metadata) writes.
	publicWrites map[string]bool
	// collWrites lists the collections written, per namespace.
	collWrites map[string][]string
}

func summarize(rws *rwset.TxReadWriteSet) (*rwsetSummary, error) {
	s := &rwsetSummary{publicWrites: map[string]bool{}, collWrites: map[string][]string{}}
	for _, ns := range rws.GetNsRwset() {
		kv := &kvrwset.KVRWSet{}
		if err := proto.Unmarshal(ns.GetRwset(), kv); err != nil {
			return nil, fmt.Errorf("unmarshal read-write set of %s: %w", ns.GetNamespace(), err)
		}
		if len(kv.GetWrites()) > 0 || len(kv.GetMetadataWrites()) > 0 {
			s.publicWrites[ns.GetNamespace()] = true
		}
		for _, coll := range ns.GetCollectionHashedRwset() {
			h := &kvrwset.HashedRWSet{}
			if err := proto.Unmarshal(coll.GetHashedRwset(), h); err != nil {
				return nil, fmt.Errorf("unmarshal hashed read-write set of %s/%s: %w", ns.GetNamespace(), coll.GetCollectionName(), err)
			}
			if len(h.GetHashedWrites()) > 0 || len(h.GetMetadataWrites()) > 0 {
				s.collWrites[ns.GetNamespace()] = append(s.collWrites[ns.GetNamespace()], coll.GetCollectionName())
			}
		}
	}
	return s, nil
}

// requirement is one endorsement policy a transaction must satisfy, with a name for messages.
type requirement struct {
	what string
	env  *common.SignaturePolicyEnvelope
	// stable marks policies from the channel's definitions (not key-level policies read from
	// state), which planEndorsers may cache decisions for.
	stable bool
}

// requirements returns the policies the simulated transaction must satisfy at validation
// (the chaincode policy for public writes, writes to collections without their own policy and
// write-free transactions; the collection policy for the others; the key-level policies the
// simulation reports in its chaincode interest), and the collections whose members alone may
// endorse (collections read in clear, plus collections written when the proposal carries
// transient data), as "namespace/collection".
func (n *Network) requirements(sim *simulation) ([]requirement, []string, error) {
	sum, err := summarize(sim.result.RWSet)
	if err != nil {
		return nil, nil, err
	}
	keyPolicies := map[string][]*common.SignaturePolicyEnvelope{}
	disregard := map[string]bool{}
	for _, call := range sim.result.Interest.GetChaincodes() {
		if len(call.GetCollectionNames()) > 0 {
			continue
		}
		keyPolicies[call.GetName()] = append(keyPolicies[call.GetName()], call.GetKeyPolicies()...)
		if call.GetDisregardNamespacePolicy() {
			disregard[call.GetName()] = true
		}
	}
	var reqs []requirement
	var member []string
	namespaces := map[string]bool{sim.cc.def.Name: true}
	for ns := range sum.publicWrites {
		namespaces[ns] = true
	}
	for ns := range sum.collWrites {
		namespaces[ns] = true
	}
	names := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	transient := len(sim.prop.Transient()) > 0
	for _, ns := range names {
		cc, ok := n.chaincodes[ns]
		if !ok {
			continue
		}
		needCC := (sum.publicWrites[ns] && !disregard[ns]) || (ns == sim.cc.def.Name && !sum.publicWrites[ns] && len(sum.collWrites[ns]) == 0)
		for _, coll := range sum.collWrites[ns] {
			if env, ok := cc.collPolicy[coll]; ok {
				reqs = append(reqs, requirement{fmt.Sprintf("collection %s/%s", ns, coll), env, true})
			} else {
				needCC = true
			}
			if transient {
				member = append(member, ns+"/"+coll)
			}
		}
		for i, env := range keyPolicies[ns] {
			reqs = append(reqs, requirement{fmt.Sprintf("key-level policy %d of %s", i+1, ns), env, false})
		}
		if needCC {
			reqs = append(reqs, requirement{"chaincode " + ns, cc.policy, true})
		}
	}
	for _, coll := range sim.result.PrivateReads {
		member = append(member, sim.cc.def.Name+"/"+coll)
	}
	return reqs, dedup(member), nil
}

func dedup(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// isMember reports whether org is a member of the collection "ns/coll".
func (n *Network) isMember(nsColl, org string) bool {
	ns, coll, ok := strings.Cut(nsColl, "/")
	if !ok {
		return false
	}
	if id, implicit := strings.CutPrefix(coll, validator.ImplicitCollectionPrefix); implicit {
		return id == org
	}
	cc, ok := n.chaincodes[ns]
	return ok && cc.members[coll][org]
}

// planEndorsers chooses the organisations whose peers endorse a simulated transaction. With
// explicit organisations (WithEndorsingOrganizations) it checks that they satisfy the
// policies; otherwise it picks the smallest satisfying set whose members may see the private
// data involved, preferring sets with the simulating and the gateway's own organisation.
func (n *Network) planEndorsers(sim *simulation, local string, explicit []string) ([]string, error) {
	reqs, member, err := n.requirements(sim)
	if err != nil {
		return nil, status.Errorf(codes.Aborted, "failed to analyse the simulation results: %v", err)
	}
	satisfies := func(orgs []string) bool {
		for _, r := range reqs {
			if !satisfiedBy(r.env, orgs) {
				return false
			}
		}
		return true
	}
	if len(explicit) > 0 {
		orgs := dedup(append([]string(nil), explicit...))
		if !satisfies(orgs) {
			return nil, status.Errorf(codes.FailedPrecondition, "the endorsing organizations %v cannot satisfy the endorsement policy of %s", orgs, describe(reqs))
		}
		return orgs, nil
	}
	// The choice depends only on the policies, the protected collections, the simulating and
	// the local organisation and whether transient data is present: remember it.
	cacheable := true
	key := fmt.Sprintf("%s|%s|%t|%v|", sim.org, local, len(sim.prop.Transient()) > 0, member)
	for _, r := range reqs {
		if !r.stable {
			cacheable = false
			break
		}
		key += fmt.Sprintf("%p,", r.env)
	}
	if cacheable {
		if v, ok := n.plans.Load(key); ok {
			p := v.(cachedPlan)
			return p.orgs, p.err
		}
	}
	orgs, err := n.choosePlan(sim, local, reqs, member, satisfies)
	if cacheable {
		n.plans.Store(key, cachedPlan{orgs, err})
	}
	return orgs, err
}

// cachedPlan is a remembered planEndorsers outcome.
type cachedPlan struct {
	orgs []string
	err  error
}

func (n *Network) choosePlan(sim *simulation, local string, reqs []requirement, member []string, satisfies func([]string) bool) ([]string, error) {
	var best, bestUnprotected []string
	score := func(set []string) int {
		s := 0
		if contains(set, sim.org) {
			s += 2
		}
		if contains(set, local) {
			s++
		}
		return s
	}
	better := func(cand, cur []string) bool {
		if cur == nil {
			return true
		}
		if len(cand) != len(cur) {
			return len(cand) < len(cur)
		}
		return score(cand) > score(cur)
	}
	for _, set := range subsets(n.peerOrgs) {
		if !satisfies(set) {
			continue
		}
		if better(set, bestUnprotected) {
			bestUnprotected = set
		}
		ok := true
		for _, coll := range member {
			for _, org := range set {
				if !n.isMember(coll, org) {
					ok = false
				}
			}
		}
		if ok && better(set, best) {
			best = set
		}
	}
	switch {
	case best != nil:
		return best, nil
	case bestUnprotected != nil && len(sim.prop.Transient()) > 0:
		return nil, status.Errorf(codes.FailedPrecondition, "requires endorsement from organisation(s) that are not in the distribution policy of the private data collection(s): %v; retry specifying trusted endorsing organizations to protect transient data", member)
	case bestUnprotected != nil:
		return nil, status.Errorf(codes.FailedPrecondition, "no combination of peers that are members of the private data collection(s) %v can satisfy the endorsement policy of %s", member, describe(reqs))
	default:
		return nil, status.Errorf(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy of %s", describe(reqs))
	}
}

func describe(reqs []requirement) string {
	s := ""
	for i, r := range reqs {
		if i > 0 {
			s += " and "
		}
		s += r.what
	}
	return s
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
		n.pvt.put(sim.prop.TxID(), sim.result.PvtRWSet)
	}
	return env, nil
}

// rpcError returns a gRPC status error with gateway.ErrorDetail details, as Fabric's gateway.
func rpcError(code codes.Code, message string, details ...*gateway.ErrorDetail) error {
	st := status.New(code, message)
	if len(details) == 0 {
		return st.Err()
	}
	ds := make([]protoadapt.MessageV1, len(details))
	for i, d := range details {
		ds[i] = protoadapt.MessageV1Of(d)
	}
	withDetails, err := st.WithDetails(ds...)
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}

// detail returns the ErrorDetail naming an organisation's peer.
func (n *Network) detail(org, message string) *gateway.ErrorDetail {
	d := &gateway.ErrorDetail{MspId: org, Message: message}
	if p, err := n.peer(org); err == nil {
		d.Address = p.address
	}
	return d
}

// isWriter reports whether id satisfies the channel's /Channel/Application/Writers policy:
// an admin or client of an application organisation.
func (n *Network) isWriter(id *msp.Principal) bool {
	return contains(n.peerOrgs, id.MSPID) && (id.Role == msp.RoleClient || id.Role == msp.RoleAdmin)
}

// isReader reports whether id satisfies the channel's /Channel/Application/Readers policy:
// an admin, peer or client of an application organisation.
func (n *Network) isReader(id *msp.Principal) bool {
	return contains(n.peerOrgs, id.MSPID) && (id.Role == msp.RoleClient || id.Role == msp.RoleAdmin || id.Role == msp.RolePeer)
}
