package devnet

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/policy"
)

// endorsementPlanner chooses the organisations whose peers endorse a transaction, from what one
// peer's simulation of the proposal reports, as Fabric's gateway does with the endorser's
// chaincode interest and the discovery service's endorsement layouts.
//
// It knows the channel's organisations and chaincode definitions (endorsement policies,
// collection membership) and nothing of ledgers or peers: a plan names organisations, and the
// caller maps each to one of its peers. It is safe for concurrent use.
type endorsementPlanner struct {
	orgs       []string // the channel's peer organisations, in configuration order
	chaincodes map[string]*chaincode
	policies   collectionPolicies
	// plans remembers outcomes of transactions governed only by stable policies, by the key
	// needs.key makes of them.
	plans sync.Map
}

// collectionPolicies says which endorsement policy governs writes to a collection, as
// validation will evaluate it (*validator.Validator does): the collection's own, or nil when
// the chaincode's applies. The policies must not change during the planner's life.
type collectionPolicies interface {
	CollectionPolicy(ns, coll string) (*common.SignaturePolicyEnvelope, error)
}

func newEndorsementPlanner(orgs []string, chaincodes map[string]*chaincode, policies collectionPolicies) *endorsementPlanner {
	return &endorsementPlanner{orgs: orgs, chaincodes: chaincodes, policies: policies}
}

// planRequest is what the planner needs to know about one simulated proposal.
type planRequest struct {
	// chaincode is the invoked chaincode.
	chaincode string
	// simulator is the organisation whose peer simulated the proposal; local is the gateway's.
	// Layouts with them rank first, so that the simulation's own result can be reused.
	simulator, local string
	// transient reports whether the proposal carries transient data, which must reach only
	// members of the collections written.
	transient bool
	// rwset, interest and privateReads are the simulation's read-write set, chaincode interest
	// and the collections it read in clear.
	rwset        *rwset.TxReadWriteSet
	interest     *peer.ChaincodeInterest
	privateReads []string
	// explicit are the organisations the client chose (WithEndorsingOrganizations), if any.
	explicit []string
}

// endorsementPlan is the planner's answer: the sets of organisations (layouts) whose peers,
// one per organisation, can endorse the transaction, best first. Every layout satisfies every
// policy the transaction must meet at validation and, when needed, contains only members of
// the collections involved. Plans are remembered and shared: callers must not modify them.
type endorsementPlan struct {
	layouts [][]string
}

// orgs returns the preferred layout.
func (p *endorsementPlan) orgs() []string { return p.layouts[0] }

// plan returns the endorsement plan for a simulated proposal. With explicit organisations it
// returns them as the only layout, unchecked (explicitPlan). Otherwise the
// layouts are the minimal satisfying sets whose members may see the private data involved:
// smallest first, then those with the simulating organisation, then those with the gateway's.
// Errors are gRPC statuses with Fabric's gateway messages.
func (pl *endorsementPlanner) plan(req *planRequest) (*endorsementPlan, error) {
	if len(req.explicit) > 0 {
		return explicitPlan(req.explicit), nil
	}
	needs, err := pl.needsOf(req)
	if err != nil {
		return nil, status.Errorf(codes.Aborted, "failed to analyse the simulation results: %v", err)
	}
	key, stable := needs.key(req)
	if stable {
		if v, ok := pl.plans.Load(key); ok {
			o := v.(planOutcome)
			return o.plan, o.err
		}
	}
	p, err := pl.choose(req, needs)
	if stable {
		pl.plans.Store(key, planOutcome{p, err})
	}
	return p, err
}

// planOutcome is a remembered plan or planning error.
type planOutcome struct {
	plan *endorsementPlan
	err  error
}

// requirement is one endorsement policy a transaction must satisfy, with a name for messages.
type requirement struct {
	what string
	env  *common.SignaturePolicyEnvelope
	// stable marks policies of the channel's chaincode definitions (not key-level policies
	// read from state), whose plans may be remembered.
	stable bool
}

// needs is what a transaction requires of its endorsers: policies to satisfy, and the
// collections ("namespace/collection") whose members alone may endorse it.
type needs struct {
	reqs    []requirement
	members []string
}

// needsOf derives the transaction's needs from its simulation. The policies are those the
// validator will evaluate: the chaincode policy for public writes, for writes to collections
// without their own policy and for write-free transactions; the collection policy for the
// other collection writes; the key-level policies the chaincode interest reports. Members
// only may endorse for collections read in clear, and for collections written when the
// proposal carries transient data.
func (pl *endorsementPlanner) needsOf(req *planRequest) (*needs, error) {
	sum, err := summarize(req.rwset)
	if err != nil {
		return nil, err
	}
	keyPolicies, disregard := keyLevelPolicies(req.interest)
	nd := &needs{}
	for _, ns := range sum.namespaces(req.chaincode) {
		if cc, ok := pl.chaincodes[ns]; ok {
			nd.addNamespace(req, cc, pl.policies, sum, keyPolicies[ns], disregard[ns])
		}
	}
	for _, coll := range req.privateReads {
		nd.members = append(nd.members, req.chaincode+"/"+coll)
	}
	nd.members = dedup(nd.members)
	return nd, nil
}

// addNamespace adds the needs of the writes to one chaincode's namespace: its collection
// policies, its key-level policies and, when needed, its chaincode policy.
func (nd *needs) addNamespace(req *planRequest, cc *chaincode, policies collectionPolicies, sum *rwsetSummary, keyPolicies []*common.SignaturePolicyEnvelope, disregard bool) {
	ns := cc.def.Name
	needCC := (sum.publicWrites[ns] && !disregard) ||
		(ns == req.chaincode && !sum.publicWrites[ns] && len(sum.collWrites[ns]) == 0)
	for _, coll := range sum.collWrites[ns] {
		// An undefined collection (which validation rejects anyway) needs the chaincode policy.
		if env, err := policies.CollectionPolicy(ns, coll); err == nil && env != nil {
			nd.reqs = append(nd.reqs, requirement{fmt.Sprintf("collection %s/%s", ns, coll), env, true})
		} else {
			needCC = true
		}
		if req.transient {
			nd.members = append(nd.members, ns+"/"+coll)
		}
	}
	for i, env := range keyPolicies {
		nd.reqs = append(nd.reqs, requirement{fmt.Sprintf("key-level policy %d of %s", i+1, ns), env, false})
	}
	if needCC {
		nd.reqs = append(nd.reqs, requirement{"chaincode " + ns, cc.policy, true})
	}
}

// keyLevelPolicies returns the key-level policies a chaincode interest lists per namespace,
// and the namespaces whose own policy it says may be disregarded (every key written has a
// key-level policy).
func keyLevelPolicies(interest *peer.ChaincodeInterest) (map[string][]*common.SignaturePolicyEnvelope, map[string]bool) {
	policies := map[string][]*common.SignaturePolicyEnvelope{}
	disregard := map[string]bool{}
	for _, call := range interest.GetChaincodes() {
		if len(call.GetCollectionNames()) > 0 {
			continue
		}
		policies[call.GetName()] = append(policies[call.GetName()], call.GetKeyPolicies()...)
		if call.GetDisregardNamespacePolicy() {
			disregard[call.GetName()] = true
		}
	}
	return policies, disregard
}

// explicitPlan is the client's choice of organisations as the only layout. As in Fabric's
// gateway, the client takes responsibility for it: neither the policies nor collection
// membership are checked here, and a transaction whose endorsements do not satisfy its
// policies is committed as ENDORSEMENT_POLICY_FAILURE.
func explicitPlan(explicit []string) *endorsementPlan {
	return &endorsementPlan{layouts: [][]string{dedup(slices.Clone(explicit))}}
}

// key returns the cache key of the plan for req: the choice depends only on the policies, the
// protected collections, the simulating and the local organisation and whether transient data
// is present. stable is false when a policy was read from state.
func (nd *needs) key(req *planRequest) (key string, stable bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%t|%v|", req.simulator, req.local, req.transient, nd.members)
	for _, r := range nd.reqs {
		if !r.stable {
			return "", false
		}
		b.WriteString(r.what)
		b.WriteByte(',')
	}
	return b.String(), true
}

// choose computes the layouts for needs, or the error Fabric's gateway gives when there are
// none.
func (pl *endorsementPlanner) choose(req *planRequest, nd *needs) (*endorsementPlan, error) {
	envs := make([]*common.SignaturePolicyEnvelope, len(nd.reqs))
	for i, r := range nd.reqs {
		envs[i] = r.env
	}
	sets := policy.MinimalOrgSetsAll(envs, pl.orgs)
	var layouts [][]string
	for _, set := range sets {
		if pl.allMembers(set, nd.members) {
			layouts = append(layouts, set)
		}
	}
	switch {
	case len(layouts) > 0:
		rank(layouts, req.simulator, req.local)
		return &endorsementPlan{layouts: layouts}, nil
	case len(sets) > 0 && req.transient:
		return nil, status.Errorf(codes.FailedPrecondition, "requires endorsement from organisation(s) that are not in the distribution policy of the private data collection(s): %v; retry specifying trusted endorsing organizations to protect transient data", nd.members)
	case len(sets) > 0:
		return nil, status.Errorf(codes.FailedPrecondition, "no combination of peers that are members of the private data collection(s) %v can satisfy the endorsement policy of %s", nd.members, nd.describe())
	default:
		return nil, status.Errorf(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy of %s", nd.describe())
	}
}

// rank orders layouts best first: smaller sets first, then sets with the simulating
// organisation, then sets with the local one, then in their given order.
func rank(layouts [][]string, simulator, local string) {
	score := func(set []string) int {
		s := 0
		if slices.Contains(set, simulator) {
			s += 2
		}
		if slices.Contains(set, local) {
			s++
		}
		return s
	}
	sort.SliceStable(layouts, func(i, j int) bool {
		if len(layouts[i]) != len(layouts[j]) {
			return len(layouts[i]) < len(layouts[j])
		}
		return score(layouts[i]) > score(layouts[j])
	})
}

// allMembers reports whether every organisation of set is a member of every collection.
func (pl *endorsementPlanner) allMembers(set, collections []string) bool {
	for _, coll := range collections {
		for _, org := range set {
			if !pl.isMember(coll, org) {
				return false
			}
		}
	}
	return true
}

// isMember reports whether org is a member of the collection "ns/coll".
func (pl *endorsementPlanner) isMember(nsColl, org string) bool {
	ns, coll, ok := strings.Cut(nsColl, "/")
	if !ok {
		return false
	}
	cc, ok := pl.chaincodes[ns]
	return ok && cc.isMember(coll, org)
}

// describe names the policies, for messages.
func (nd *needs) describe() string {
	names := make([]string, len(nd.reqs))
	for i, r := range nd.reqs {
		names[i] = r.what
	}
	return strings.Join(names, " and ")
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
		if err := s.addCollectionWrites(ns); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *rwsetSummary) addCollectionWrites(ns *rwset.NsReadWriteSet) error {
	for _, coll := range ns.GetCollectionHashedRwset() {
		h := &kvrwset.HashedRWSet{}
		if err := proto.Unmarshal(coll.GetHashedRwset(), h); err != nil {
			return fmt.Errorf("unmarshal hashed read-write set of %s/%s: %w", ns.GetNamespace(), coll.GetCollectionName(), err)
		}
		if len(h.GetHashedWrites()) > 0 || len(h.GetMetadataWrites()) > 0 {
			s.collWrites[ns.GetNamespace()] = append(s.collWrites[ns.GetNamespace()], coll.GetCollectionName())
		}
	}
	return nil
}

// namespaces returns the invoked chaincode and every namespace written, sorted.
func (s *rwsetSummary) namespaces(invoked string) []string {
	set := map[string]bool{invoked: true}
	for ns := range s.publicWrites {
		set[ns] = true
	}
	for ns := range s.collWrites {
		set[ns] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// dedup sorts in and removes repeated elements, in place.
func dedup(in []string) []string {
	sort.Strings(in)
	return slices.Compact(in)
}
