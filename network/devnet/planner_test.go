package devnet

import (
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
	"github.com/xborder/xborder/network/devnet/validator"
)

const (
	merchantOrg = "MerchantMSP"
	bankOrg     = "BankMSP"
	carrierOrg  = "CarrierMSP"
	customsOrg  = "CustomsMSP"
)

var planOrgs = []string{merchantOrg, bankOrg, carrierOrg, customsOrg}

// planCollections: privA has no endorsement policy of its own (the chaincode's applies),
// privB has one, privC refers to Customs' Endorsement policy in the channel configuration.
const planCollections = `[
  {"name": "privA", "policy": "OR('MerchantMSP.member', 'BankMSP.member')", "maxPeerCount": 3},
  {"name": "privB", "policy": "OR('CarrierMSP.member', 'CustomsMSP.member')", "maxPeerCount": 3,
   "endorsementPolicy": {"signaturePolicy": "OR('CarrierMSP.peer')"}},
  {"name": "privC", "policy": "OR('CarrierMSP.member', 'CustomsMSP.member')", "maxPeerCount": 3,
   "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/CustomsMSP/Endorsement"}}
]`

// newTestPlanner returns a planner for the four default organisations and the chaincodes
// "cc" (implicit majority policy, collections privA, privB and privC), "bankcc" (Bank alone)
// and "nobody" (a policy no channel organisation can satisfy). Collection policies come from
// the validator, as in a running network; the MSP manager is empty because the planner
// checks no identity.
func newTestPlanner(t *testing.T) *endorsementPlanner {
	t.Helper()
	n := &Network{peerOrgs: planOrgs}
	ccs, err := n.loadChaincodes([]ChaincodeDefinition{
		{Name: "cc", Collections: planCollections},
		{Name: "bankcc", EndorsementPolicy: "OR('BankMSP.peer')"},
		{Name: "nobody", EndorsementPolicy: "OR('OtherMSP.peer')"},
	})
	require.NoError(t, err)
	vcfg := validator.Config{ChannelID: DefaultChannel, MSP: msp.NewManager(), ApplicationOrgs: planOrgs}
	for name, cc := range ccs {
		vcfg.Chaincodes = append(vcfg.Chaincodes, validator.Chaincode{Name: name, EndorsementPolicy: cc.policy, Collections: cc.collections})
	}
	v, err := validator.New(vcfg)
	require.NoError(t, err)
	return newEndorsementPlanner(planOrgs, ccs, v)
}

// nsWrites describes the writes of one namespace in a simulated read-write set.
type nsWrites struct {
	ns     string
	public bool     // a public write
	colls  []string // collections with a private write
}

func rwsetOf(t *testing.T, writes ...nsWrites) *rwset.TxReadWriteSet {
	t.Helper()
	rws := &rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV}
	for _, w := range writes {
		kv := &kvrwset.KVRWSet{Reads: []*kvrwset.KVRead{{Key: "r"}}}
		if w.public {
			kv.Writes = []*kvrwset.KVWrite{{Key: "k", Value: []byte("v")}}
		}
		ns := &rwset.NsReadWriteSet{Namespace: w.ns, Rwset: mustMarshal(t, kv)}
		for _, coll := range w.colls {
			h := &kvrwset.HashedRWSet{HashedWrites: []*kvrwset.KVWriteHash{{KeyHash: []byte("kh"), ValueHash: []byte("vh")}}}
			ns.CollectionHashedRwset = append(ns.CollectionHashedRwset, &rwset.CollectionHashedReadWriteSet{
				CollectionName: coll, HashedRwset: mustMarshal(t, h),
			})
		}
		rws.NsRwset = append(rws.NsRwset, ns)
	}
	return rws
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// keyInterest is the chaincode interest of a transaction that wrote keys of "cc" with the
// given key-level policies; disregard says no key without one was written.
func keyInterest(disregard bool, policies ...string) *peer.ChaincodeInterest {
	call := &peer.ChaincodeCall{Name: "cc", DisregardNamespacePolicy: disregard}
	for _, p := range policies {
		call.KeyPolicies = append(call.KeyPolicies, policy.MustParse(p))
	}
	return &peer.ChaincodeInterest{Chaincodes: []*peer.ChaincodeCall{call}}
}

func TestEndorsementPlanner(t *testing.T) {
	malformed := &rwset.TxReadWriteSet{NsRwset: []*rwset.NsReadWriteSet{{Namespace: "cc", Rwset: []byte{0xff}}}}
	tests := []struct {
		name        string
		req         planRequest
		wantLayouts [][]string
		wantCode    codes.Code
		wantMsg     string
	}{
		{
			name: "public write: majority, the simulating organisation first",
			req:  planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true})},
			wantLayouts: [][]string{
				{merchantOrg, bankOrg, carrierOrg},
				{merchantOrg, bankOrg, customsOrg},
				{merchantOrg, carrierOrg, customsOrg},
				{bankOrg, carrierOrg, customsOrg},
			},
		},
		{
			name: "read-only transaction: the chaincode policy",
			req:  planRequest{chaincode: "cc", simulator: customsOrg, local: bankOrg, rwset: rwsetOf(t, nsWrites{ns: "cc"})},
			wantLayouts: [][]string{
				{merchantOrg, bankOrg, customsOrg}, // simulator and local
				{bankOrg, carrierOrg, customsOrg},  // simulator and local
				{merchantOrg, carrierOrg, customsOrg},
				{merchantOrg, bankOrg, carrierOrg},
			},
		},
		{
			name:        "collection with its own policy: that policy alone",
			req:         planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"privB"}})},
			wantLayouts: [][]string{{carrierOrg}},
		},
		{
			name:        "collection with its own policy and transient data: members only",
			req:         planRequest{chaincode: "cc", simulator: carrierOrg, local: carrierOrg, transient: true, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"privB"}})},
			wantLayouts: [][]string{{carrierOrg}},
		},
		{
			name:        "collection with a policy reference: the referenced policy",
			req:         planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, transient: true, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"privC"}})},
			wantLayouts: [][]string{{customsOrg}},
		},
		{
			name:        "own implicit collection with transient data: the organisation alone",
			req:         planRequest{chaincode: "cc", simulator: bankOrg, local: bankOrg, transient: true, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"_implicit_org_BankMSP"}})},
			wantLayouts: [][]string{{bankOrg}},
		},
		{
			name: "public and collection writes: both policies",
			req:  planRequest{chaincode: "cc", simulator: bankOrg, local: bankOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true, colls: []string{"privB"}})},
			wantLayouts: [][]string{
				{merchantOrg, bankOrg, carrierOrg},
				{bankOrg, carrierOrg, customsOrg},
				{merchantOrg, carrierOrg, customsOrg},
			},
		},
		{
			name:     "transient data for a collection whose members cannot satisfy the chaincode policy",
			req:      planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, transient: true, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"privA"}})},
			wantCode: codes.FailedPrecondition,
			wantMsg:  "requires endorsement from organisation(s) that are not in the distribution policy of the private data collection(s): [cc/privA]; retry specifying trusted endorsing organizations to protect transient data",
		},
		{
			name:     "private read by a collection whose members cannot satisfy the policy",
			req:      planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc"}), privateReads: []string{"privA"}},
			wantCode: codes.FailedPrecondition,
			wantMsg:  "no combination of peers that are members of the private data collection(s) [cc/privA] can satisfy the endorsement policy of chaincode cc",
		},
		{
			name:        "private read of a collection whose members can endorse",
			req:         planRequest{chaincode: "bankcc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "bankcc"}), privateReads: []string{"_implicit_org_BankMSP"}},
			wantLayouts: [][]string{{bankOrg}},
		},
		{
			name: "key-level policy replacing the chaincode policy",
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true}),
				interest: keyInterest(true, "OR('CustomsMSP.peer')")},
			wantLayouts: [][]string{{customsOrg}},
		},
		{
			name: "key-level policy and the chaincode policy",
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true}),
				interest: keyInterest(false, "OR('CustomsMSP.peer')")},
			wantLayouts: [][]string{
				{merchantOrg, bankOrg, customsOrg},
				{merchantOrg, carrierOrg, customsOrg},
				{bankOrg, carrierOrg, customsOrg},
			},
		},
		{
			name: "unsatisfiable key-level policies",
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true}),
				interest: keyInterest(true, "OR('CustomsMSP.peer')", "OR('OtherMSP.peer')")},
			wantCode: codes.FailedPrecondition,
			wantMsg:  "no combination of peers can be derived which satisfy the endorsement policy of key-level policy 1 of cc and key-level policy 2 of cc",
		},
		{
			name:        "write to another chaincode: its policy too",
			req:         planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc"}, nsWrites{ns: "bankcc", public: true})},
			wantLayouts: [][]string{{merchantOrg, bankOrg, carrierOrg}, {merchantOrg, bankOrg, customsOrg}, {bankOrg, carrierOrg, customsOrg}},
		},
		{
			name:     "no organisation satisfies the chaincode policy",
			req:      planRequest{chaincode: "nobody", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "nobody", public: true})},
			wantCode: codes.FailedPrecondition,
			wantMsg:  "no combination of peers can be derived which satisfy the endorsement policy of chaincode nobody",
		},
		{
			name: "explicit organisations that satisfy the policies, de-duplicated",
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, transient: true, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"privA"}}),
				explicit: []string{merchantOrg, bankOrg, customsOrg, bankOrg}},
			wantLayouts: [][]string{{bankOrg, customsOrg, merchantOrg}},
		},
		{
			// As in Fabric, the client takes responsibility: validation invalidates the result.
			name: "explicit organisations that do not satisfy the policies, unchecked",
			req: planRequest{chaincode: "cc", simulator: bankOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true, colls: []string{"privB"}}),
				explicit: []string{carrierOrg, bankOrg}},
			wantLayouts: [][]string{{bankOrg, carrierOrg}},
		},
		{
			name:     "malformed read-write set",
			req:      planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: malformed},
			wantCode: codes.Aborted,
			wantMsg:  "failed to analyse the simulation results: unmarshal read-write set of cc: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := newTestPlanner(t).plan(&tc.req)
			if tc.wantMsg != "" {
				require.Error(t, err)
				st := status.Convert(err)
				require.Equal(t, tc.wantCode, st.Code())
				require.Contains(t, st.Message(), tc.wantMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantLayouts, plan.layouts)
			require.Equal(t, tc.wantLayouts[0], plan.orgs())
		})
	}
}

// TestEndorsementPlannerCache checks that plans are remembered for transactions governed by
// the chaincode definitions only, never for key-level policies read from state (which change
// with every write of their keys), and that a remembered failure is answered again.
func TestEndorsementPlannerCache(t *testing.T) {
	cached := func(pl *endorsementPlanner) int {
		n := 0
		pl.plans.Range(func(any, any) bool { n++; return true })
		return n
	}
	tests := []struct {
		name       string
		req        planRequest
		wantCached int
		wantErr    bool
	}{
		{name: "chaincode policy", wantCached: 1,
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true})}},
		{name: "collection policy", wantCached: 1,
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", colls: []string{"privB"}})}},
		{name: "failure", wantCached: 1, wantErr: true,
			req: planRequest{chaincode: "nobody", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "nobody", public: true})}},
		{name: "key-level policy", wantCached: 0,
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true}), interest: keyInterest(false, "OR('CustomsMSP.peer')")}},
		{name: "explicit organisations", wantCached: 0,
			req: planRequest{chaincode: "cc", simulator: merchantOrg, local: merchantOrg, rwset: rwsetOf(t, nsWrites{ns: "cc", public: true}), explicit: planOrgs}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl := newTestPlanner(t)
			first, firstErr := pl.plan(&tc.req)
			second, secondErr := pl.plan(&tc.req)
			require.Equal(t, tc.wantCached, cached(pl))
			require.Equal(t, tc.wantErr, firstErr != nil)
			require.Equal(t, firstErr, secondErr)
			require.Equal(t, first, second)
			if tc.wantCached > 0 && !tc.wantErr {
				require.Same(t, first, second, "answered from the cache")
			}
			// Another simulating organisation is another plan.
			other := tc.req
			other.simulator = customsOrg
			_, _ = pl.plan(&other)
			require.Equal(t, 2*tc.wantCached, cached(pl))
		})
	}
}

// TestEndorsementPlanAgreesWithPolicies checks every layout of a plan against the policies
// directly: each satisfies them all and no proper subset does.
func TestEndorsementPlanAgreesWithPolicies(t *testing.T) {
	pl := newTestPlanner(t)
	plan, err := pl.plan(&planRequest{chaincode: "cc", simulator: carrierOrg, local: bankOrg,
		rwset: rwsetOf(t, nsWrites{ns: "cc", public: true, colls: []string{"privB"}})})
	require.NoError(t, err)
	privB, err := pl.policies.CollectionPolicy("cc", "privB")
	require.NoError(t, err)
	envs := []*common.SignaturePolicyEnvelope{privB, pl.chaincodes["cc"].policy}
	for _, layout := range plan.layouts {
		for _, env := range envs {
			require.True(t, policy.SatisfiedByOrgs(env, layout), "%v", layout)
		}
		for i := range layout {
			smaller := append(append([]string(nil), layout[:i]...), layout[i+1:]...)
			require.False(t, policy.SatisfiedByOrgs(envs[0], smaller) && policy.SatisfiedByOrgs(envs[1], smaller), "%v is not minimal", layout)
		}
	}
}
