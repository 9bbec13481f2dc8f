package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
)

func principals(t *testing.T, env *common.SignaturePolicyEnvelope) []string {
	t.Helper()
	out := make([]string, len(env.Identities))
	for i, p := range env.Identities {
		require.Equal(t, mspproto.MSPPrincipal_ROLE, p.PrincipalClassification)
		var r mspproto.MSPRole
		require.NoError(t, proto.Unmarshal(p.Principal, &r))
		out[i] = r.MspIdentifier + "." + msp.Role(r.Role).String()
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		expr       string
		format     string
		identities []string
	}{
		{"AND('A.peer', 'B.peer')", "AND('A.peer', 'B.peer')", []string{"A.peer", "B.peer"}},
		{"OR('A.member')", "OR('A.member')", []string{"A.member"}},
		{"and('A.admin','B.client')", "AND('A.admin', 'B.client')", []string{"A.admin", "B.client"}},
		{"or ( 'A.orderer' , \"B.peer\" )", "OR('A.orderer', 'B.peer')", []string{"A.orderer", "B.peer"}},
		{"OutOf(2, 'A.peer', 'B.peer', 'C.peer')", "OutOf(2, 'A.peer', 'B.peer', 'C.peer')", []string{"A.peer", "B.peer", "C.peer"}},
		{"outof('1', 'A.peer', 'B.peer')", "OR('A.peer', 'B.peer')", []string{"A.peer", "B.peer"}},
		{"OUTOF(0, 'A.peer')", "OutOf(0, 'A.peer')", []string{"A.peer"}},
		{"\n\tAND(\n 'Org1.example.MSP.peer',\n OR('Org-2.admin', OutOf(1, 'Org3.client'))\n)\n",
			"AND('Org1.example.MSP.peer', OR('Org-2.admin', OR('Org3.client')))",
			[]string{"Org1.example.MSP.peer", "Org-2.admin", "Org3.client"}},
		// Like Fabric's policydsl, every principal occurrence is its own identity.
		{"AND('A.peer', 'A.peer')", "AND('A.peer', 'A.peer')", []string{"A.peer", "A.peer"}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			env, err := Parse(tc.expr)
			require.NoError(t, err)
			require.NoError(t, Validate(env))
			require.Equal(t, int32(0), env.Version)
			require.Equal(t, tc.format, Format(env))
			require.Equal(t, tc.identities, principals(t, env))
		})
	}
	t.Run("proto shape", func(t *testing.T) {
		env := MustParse("OutOf(1, 'A.member', AND('B.peer', 'C.peer'))")
		want := &common.SignaturePolicyEnvelope{
			Rule: nOutOf(1, []*common.SignaturePolicy{signedBy(0), nOutOf(2, []*common.SignaturePolicy{signedBy(1), signedBy(2)})}),
			Identities: []*mspproto.MSPPrincipal{
				msp.RolePrincipal("A", msp.RoleMember), msp.RolePrincipal("B", msp.RolePeer), msp.RolePrincipal("C", msp.RolePeer),
			},
		}
		require.True(t, proto.Equal(want, env))
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr   string
		offset int
		msg    string
	}{
		{"", 0, "empty policy"},
		{"   ", 3, "empty policy"},
		{"'A.peer'", 0, "bare principal"},
		{"XOR('A.peer')", 0, "unrecognized token \"XOR\""},
		{"AND 'A.peer'", 4, "expected '('"},
		{"AND()", 4, "expected a principal or a gate"},
		{"AND('A.peer'", 12, "expected ',' or ')', got end"},
		{"AND('A.peer' 'B.peer')", 13, "expected ',' or ')'"},
		{"AND('A.peer',)", 13, "expected a principal or a gate"},
		{"AND('A.boss')", 4, "invalid principal \"A.boss\""},
		{"AND('Apeer')", 4, "invalid principal"},
		{"AND('A b.peer')", 4, "invalid principal"},
		{"AND('A.peer)", 4, "unterminated string"},
		{"OutOf('A.peer')", 6, "non-negative number"},
		{"OutOf(x, 'A.peer')", 6, "non-negative number"},
		{"OutOf(-1, 'A.peer')", 6, "non-negative number"},
		{"OutOf(1 'A.peer')", 8, "expected ','"},
		{"OutOf(3, 'A.peer')", 0, "invalid t-out-of-n predicate, t 3, n 1"},
		{"AND('A.peer') OR('B.peer')", 14, "unexpected"},
		{"AND('A.peer', 12)", 14, "expected a principal or a gate, got '1'"},
		{"AND('A.peer', NOT('B.peer'))", 14, "unrecognized token \"NOT\""},
		{strings.Repeat("OR(", 65) + "'A.peer'" + strings.Repeat(")", 65), 192, "nested deeper than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr)
			require.Error(t, err)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "%T", err)
			require.Equal(t, tc.offset, pe.Offset, err.Error())
			require.Contains(t, pe.Msg, tc.msg)
			require.Contains(t, err.Error(), "offset")
		})
	}
	t.Run("MustParse panics", func(t *testing.T) {
		require.Panics(t, func() { MustParse("AND(") })
	})
}

func TestSatisfied(t *testing.T) {
	peer := func(org string) Signer { return Signer{MSPID: org, Role: msp.RolePeer, ID: org + "/peer0"} }
	admin := func(org string) Signer { return Signer{MSPID: org, Role: msp.RoleAdmin, ID: org + "/admin"} }
	client := func(org string) Signer { return Signer{MSPID: org, Role: msp.RoleClient, ID: org + "/user1"} }
	tests := []struct {
		name    string
		policy  string
		signers []Signer
		want    bool
	}{
		{"and both", "AND('A.peer', 'B.peer')", []Signer{peer("A"), peer("B")}, true},
		{"and one missing", "AND('A.peer', 'B.peer')", []Signer{peer("A")}, false},
		{"and wrong role", "AND('A.peer', 'B.peer')", []Signer{peer("A"), client("B")}, false},
		{"or one", "OR('A.peer', 'B.peer')", []Signer{peer("B")}, true},
		{"or none", "OR('A.peer', 'B.peer')", []Signer{peer("C")}, false},
		{"member matches peer", "OR('A.member')", []Signer{peer("A")}, true},
		{"member matches admin", "OR('A.member')", []Signer{admin("A")}, true},
		{"member matches client", "OR('A.member')", []Signer{client("A")}, true},
		{"member of another MSP", "OR('A.member')", []Signer{peer("B")}, false},
		{"admin needs admin", "OR('A.admin')", []Signer{peer("A")}, false},
		{"outof 2 of 3 met", "OutOf(2, 'A.peer', 'B.peer', 'C.peer')", []Signer{peer("C"), peer("A")}, true},
		{"outof 2 of 3 unmet", "OutOf(2, 'A.peer', 'B.peer', 'C.peer')", []Signer{peer("C"), client("A")}, false},
		{"outof 0", "OutOf(0, 'A.peer')", nil, true},
		{"outof n+1 never", "OutOf(2, 'A.peer')", []Signer{peer("A")}, false},
		{"nested met", "AND('A.peer', OR('B.admin', OutOf(2, 'C.peer', 'D.peer')))", []Signer{peer("A"), peer("C"), peer("D")}, true},
		{"nested unmet", "AND('A.peer', OR('B.admin', OutOf(2, 'C.peer', 'D.peer')))", []Signer{peer("A"), peer("C"), peer("B")}, false},
		{"one signature satisfies one principal", "AND('A.member', 'A.member')", []Signer{peer("A")}, false},
		{"two identities of one org", "AND('A.member', 'A.member')", []Signer{peer("A"), admin("A")}, true},
		{"duplicate signer counts once", "AND('A.member', 'A.member')", []Signer{peer("A"), peer("A")}, false},
		{"signers without ID are distinct", "AND('A.member', 'A.member')", []Signer{{MSPID: "A", Role: msp.RolePeer}, {MSPID: "A", Role: msp.RolePeer}}, true},
		// Fabric's greedy evaluation: 'A.member' consumes the admin first, so 'A.admin' is unmet.
		{"greedy consumption as Fabric", "AND('A.member', 'A.admin')", []Signer{admin("A"), peer("A")}, false},
		{"greedy order that works", "AND('A.member', 'A.admin')", []Signer{peer("A"), admin("A")}, true},
		{"majority style", "OutOf(3, 'A.peer', 'B.peer', 'C.peer', 'D.peer')", []Signer{peer("A"), peer("B"), peer("D")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Satisfied(MustParse(tc.policy), tc.signers))
		})
	}
	t.Run("invalid envelopes are never satisfied", func(t *testing.T) {
		require.False(t, Satisfied(nil, []Signer{peer("A")}))
		require.False(t, Satisfied(&common.SignaturePolicyEnvelope{}, []Signer{peer("A")}))
		bad := &common.SignaturePolicyEnvelope{Rule: signedBy(3), Identities: []*mspproto.MSPPrincipal{msp.RolePrincipal("A", msp.RolePeer)}}
		require.Error(t, Validate(bad))
		require.False(t, Satisfied(bad, []Signer{peer("A")}))
	})
}

func TestMajorityOf(t *testing.T) {
	orgs := []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP"}
	env := MajorityOf(orgs)
	require.Equal(t, "OutOf(3, 'MerchantMSP.peer', 'BankMSP.peer', 'CarrierMSP.peer', 'CustomsMSP.peer')", Format(env))
	tests := []struct {
		orgs []string
		n    int32
	}{
		{[]string{"A"}, 1},
		{[]string{"A", "B"}, 2},
		{[]string{"A", "B", "C"}, 2},
		{[]string{"A", "B", "C", "D"}, 3},
		{[]string{"A", "B", "C", "D", "E"}, 3},
		{[]string{"A", "A", "B"}, 2},
	}
	for _, tc := range tests {
		t.Run(Format(MajorityOf(tc.orgs)), func(t *testing.T) {
			require.Equal(t, tc.n, MajorityOf(tc.orgs).Rule.GetNOutOf().N)
		})
	}
}

func TestMinimalOrgSets(t *testing.T) {
	four := []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP"}
	tests := []struct {
		name   string
		policy *common.SignaturePolicyEnvelope
		orgs   []string
		want   [][]string
	}{
		{"majority of four", MajorityOf(four), four, [][]string{
			{"MerchantMSP", "BankMSP", "CarrierMSP"},
			{"MerchantMSP", "BankMSP", "CustomsMSP"},
			{"MerchantMSP", "CarrierMSP", "CustomsMSP"},
			{"BankMSP", "CarrierMSP", "CustomsMSP"},
		}},
		{"or", MustParse("OR('BankMSP.peer', 'CustomsMSP.member')"), four, [][]string{{"BankMSP"}, {"CustomsMSP"}}},
		{"and", MustParse("AND('BankMSP.peer', 'MerchantMSP.peer')"), four, [][]string{{"MerchantMSP", "BankMSP"}}},
		{"mixed sizes, supersets dropped", MustParse("OR('CarrierMSP.peer', AND('MerchantMSP.peer', 'BankMSP.peer'))"), four,
			[][]string{{"CarrierMSP"}, {"MerchantMSP", "BankMSP"}}},
		{"admin cannot be met by peers", MustParse("OR('BankMSP.admin')"), four, nil},
		{"org outside the list", MustParse("OR('OtherMSP.peer')"), four, nil},
		{"no signature needed", MustParse("OutOf(0, 'BankMSP.peer')"), []string{"A", "B"}, [][]string{{"A"}, {"B"}}},
		{"duplicates ignored", MustParse("OR('A.peer')"), []string{"A", "A", "B"}, [][]string{{"A"}}},
		{"invalid policy", &common.SignaturePolicyEnvelope{}, four, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, MinimalOrgSets(tc.policy, tc.orgs))
		})
	}
}

func TestMinimalOrgSetsAll(t *testing.T) {
	four := []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP"}
	bank := MustParse("OR('BankMSP.peer')")
	tests := []struct {
		name     string
		policies []*common.SignaturePolicyEnvelope
		orgs     []string
		want     [][]string
	}{
		{"one policy is MinimalOrgSets", []*common.SignaturePolicyEnvelope{MustParse("OR('BankMSP.peer', 'CustomsMSP.peer')")}, four,
			[][]string{{"BankMSP"}, {"CustomsMSP"}}},
		{"majority and a collection policy", []*common.SignaturePolicyEnvelope{MajorityOf(four), bank}, four, [][]string{
			{"MerchantMSP", "BankMSP", "CarrierMSP"},
			{"MerchantMSP", "BankMSP", "CustomsMSP"},
			{"BankMSP", "CarrierMSP", "CustomsMSP"},
		}},
		{"each policy evaluated on its own", []*common.SignaturePolicyEnvelope{bank, bank}, four, [][]string{{"BankMSP"}}},
		{"disjoint policies need both", []*common.SignaturePolicyEnvelope{bank, MustParse("OR('CarrierMSP.peer')")}, four,
			[][]string{{"BankMSP", "CarrierMSP"}}},
		{"no policy: every single organisation", nil, []string{"A", "B"}, [][]string{{"A"}, {"B"}}},
		{"one unsatisfiable policy", []*common.SignaturePolicyEnvelope{bank, MustParse("OR('OtherMSP.peer')")}, four, nil},
		{"one invalid policy", []*common.SignaturePolicyEnvelope{bank, {}}, four, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, MinimalOrgSetsAll(tc.policies, tc.orgs))
		})
	}
}

func TestSatisfiedByOrgs(t *testing.T) {
	tests := []struct {
		name   string
		policy *common.SignaturePolicyEnvelope
		orgs   []string
		want   bool
	}{
		{"member satisfied by a peer", MustParse("OR('BankMSP.member')"), []string{"BankMSP"}, true},
		{"peer satisfied", MustParse("AND('BankMSP.peer', 'CarrierMSP.peer')"), []string{"CarrierMSP", "BankMSP"}, true},
		{"one org missing", MustParse("AND('BankMSP.peer', 'CarrierMSP.peer')"), []string{"BankMSP"}, false},
		{"an organisation counts once", MustParse("OutOf(2, 'BankMSP.peer', 'BankMSP.member')"), []string{"BankMSP", "BankMSP"}, false},
		{"admin not satisfied by a peer", MustParse("OR('BankMSP.admin')"), []string{"BankMSP"}, false},
		{"no organisation", MustParse("OR('BankMSP.peer')"), nil, false},
		{"invalid policy", &common.SignaturePolicyEnvelope{}, []string{"BankMSP"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, SatisfiedByOrgs(tc.policy, tc.orgs))
		})
	}
}

const sampleCollections = `[
  {
    "name": "orderPrivate",
    "policy": "OR('MerchantMSP.member', 'BankMSP.member')",
    "requiredPeerCount": 0,
    "maxPeerCount": 3,
    "blockToLive": 1000000,
    "memberOnlyRead": true,
    "memberOnlyWrite": true,
    "endorsementPolicy": {"signaturePolicy": "OR('MerchantMSP.peer', 'BankMSP.peer')"}
  },
  {
    "name": "customs_only",
    "policy": "OR('CustomsMSP.member')",
    "endorsementPolicy": {"channelConfigPolicy": "/Channel/Application/Endorsement"},
    "futureField": 1
  },
  {
    "name": "plain",
    "policy": "OR('CarrierMSP.peer', OR('CustomsMSP.admin', 'CarrierMSP.member'))",
    "requiredPeerCount": 1,
    "maxPeerCount": 1
  }
]`

func TestParseCollections(t *testing.T) {
	cols, err := ParseCollections([]byte(sampleCollections))
	require.NoError(t, err)
	require.Len(t, cols, 3)

	c := cols[0]
	require.Equal(t, "orderPrivate", c.Name)
	require.Equal(t, []string{"MerchantMSP", "BankMSP"}, c.Members)
	require.Equal(t, int32(3), c.MaxPeerCount)
	require.Equal(t, uint64(1000000), c.BlockToLive)
	require.True(t, c.MemberOnlyRead)
	require.True(t, c.MemberOnlyWrite)
	require.True(t, c.IsMember("BankMSP"))
	require.False(t, c.IsMember("CarrierMSP"))
	ep, err := c.EndorsementEnvelope()
	require.NoError(t, err)
	require.Equal(t, "OR('MerchantMSP.peer', 'BankMSP.peer')", Format(ep))

	require.Equal(t, int32(0), cols[1].RequiredPeerCount)
	require.Equal(t, int32(1), cols[1].MaxPeerCount, "Fabric's default maxPeerCount")
	require.Equal(t, "/Channel/Application/Endorsement", cols[1].EndorsementPolicyRef)
	ep, err = cols[1].EndorsementEnvelope()
	require.NoError(t, err)
	require.Nil(t, ep)
	require.Equal(t, []string{"CarrierMSP", "CustomsMSP"}, cols[2].Members)
	require.Same(t, &cols[2], FindCollection(cols, "plain"))
	require.Nil(t, FindCollection(cols, "missing"))

	require.NoError(t, ValidateMembers(cols, []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP"}))
	require.ErrorContains(t, ValidateMembers(cols, []string{"MerchantMSP", "BankMSP"}), "is not part of the channel")

	pkg, err := Collections(cols).ToProto()
	require.NoError(t, err)
	same, err := CollectionsToProto(cols)
	require.NoError(t, err)
	require.True(t, proto.Equal(pkg, same))
	require.Len(t, pkg.Config, 3)
	s0 := pkg.Config[0].GetStaticCollectionConfig()
	require.Equal(t, "orderPrivate", s0.Name)
	require.Equal(t, int32(3), s0.MaximumPeerCount)
	require.True(t, s0.MemberOnlyWrite)
	require.Equal(t, "OR('MerchantMSP.member', 'BankMSP.member')", Format(s0.MemberOrgsPolicy.GetSignaturePolicy()))
	require.Equal(t, "OR('MerchantMSP.peer', 'BankMSP.peer')", Format(s0.EndorsementPolicy.GetSignaturePolicy()))
	require.Equal(t, "/Channel/Application/Endorsement", pkg.Config[1].GetStaticCollectionConfig().EndorsementPolicy.GetChannelConfigPolicyReference())
	require.Nil(t, pkg.Config[2].GetStaticCollectionConfig().EndorsementPolicy)
	b, err := proto.Marshal(pkg)
	require.NoError(t, err)
	var decoded peer.CollectionConfigPackage
	require.NoError(t, proto.Unmarshal(b, &decoded))
	require.True(t, proto.Equal(pkg, &decoded))

	t.Run("load from file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "collections_config.json")
		require.NoError(t, os.WriteFile(path, []byte(sampleCollections), 0o600))
		loaded, err := LoadCollections(path)
		require.NoError(t, err)
		require.Len(t, loaded, 3)
		_, err = LoadCollections(filepath.Join(t.TempDir(), "missing.json"))
		require.Error(t, err)
	})
	t.Run("built in code", func(t *testing.T) {
		c := Collection{Name: "x", Policy: "OR('A.member', 'B.member')", MaxPeerCount: 1}
		require.NoError(t, c.Prepare())
		require.Equal(t, []string{"A", "B"}, c.Members)
		_, err := c.ToProto()
		require.NoError(t, err)
	})
}

func TestParseCollectionsErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "could not parse"},
		{"not an array", `{"name":"a"}`, "could not parse"},
		{"trailing data", `[] []`, "trailing data"},
		{"bad name", `[{"name":"_a","policy":"OR('A.member')"}]`, "invalid collection name '_a'"},
		{"empty name", `[{"name":"","policy":"OR('A.member')"}]`, "invalid collection name ''"},
		{"name with dot", `[{"name":"a.b","policy":"OR('A.member')"}]`, "invalid collection name"},
		{"duplicate", `[{"name":"a","policy":"OR('A.member')"},{"name":"a","policy":"OR('B.member')"}]`, "found duplicate"},
		{"negative required", `[{"name":"a","policy":"OR('A.member')","requiredPeerCount":-1,"maxPeerCount":1}]`, "cannot be less than zero"},
		{"max below required", `[{"name":"a","policy":"OR('A.member')","requiredPeerCount":2,"maxPeerCount":1}]`, "maximum peer count (1) cannot be less than the required peer count (2)"},
		{"missing policy", `[{"name":"a"}]`, "member policy is not set"},
		{"bad policy", `[{"name":"a","policy":"OR('A.member'"}]`, "invalid member org policy"},
		{"and member policy", `[{"name":"a","policy":"AND('A.member','B.member')"}]`, "not an OR concatenation"},
		{"nested outof member policy", `[{"name":"a","policy":"OR('A.member', OutOf(2,'B.member','C.member'))"}]`, "not an OR concatenation"},
		{"both endorsement policies", `[{"name":"a","policy":"OR('A.member')","endorsementPolicy":{"signaturePolicy":"OR('A.peer')","channelConfigPolicy":"/Channel/Application/Endorsement"}}]`, "cannot specify both"},
		{"bad endorsement policy", `[{"name":"a","policy":"OR('A.member')","endorsementPolicy":{"signaturePolicy":"OR("}}]`, "invalid endorsement signature policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCollections([]byte(tc.json))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSatisfiedByPrincipals(t *testing.T) {
	cfg, err := msp.Generate(t.TempDir(), []msp.OrgSpec{{MSPID: "A", Domain: "a.example"}, {MSPID: "B", Domain: "b.example"}})
	require.NoError(t, err)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	deser := func(m *msp.Member) *msp.Principal {
		p, err := mgr.Deserialize(m.Signer.Serialize())
		require.NoError(t, err)
		return p
	}
	aPeer, aAdmin, bPeer := deser(cfg.Org("A").Node), deser(cfg.Org("A").Admin), deser(cfg.Org("B").Node)
	identityEnv := &common.SignaturePolicyEnvelope{
		Rule: signedBy(0),
		Identities: []*mspproto.MSPPrincipal{{
			PrincipalClassification: mspproto.MSPPrincipal_IDENTITY, Principal: aAdmin.Serialized,
		}},
	}
	tests := []struct {
		name string
		env  *common.SignaturePolicyEnvelope
		ids  []*msp.Principal
		want bool
	}{
		{"and peers", MustParse("AND('A.peer', 'B.peer')"), []*msp.Principal{bPeer, aPeer}, true},
		{"duplicate identity counts once", MustParse("AND('A.member', 'A.member')"), []*msp.Principal{aPeer, aPeer}, false},
		{"two identities of one org", MustParse("AND('A.member', 'A.member')"), []*msp.Principal{aPeer, aAdmin}, true},
		{"identity principal", identityEnv, []*msp.Principal{aAdmin}, true},
		{"identity principal other", identityEnv, []*msp.Principal{aPeer}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, SatisfiedByPrincipals(tc.env, mgr, tc.ids))
			signers := make([]Signer, len(tc.ids))
			for i, id := range tc.ids {
				signers[i] = SignerOf(id)
			}
			if tc.env != identityEnv {
				require.Equal(t, tc.want, Satisfied(tc.env, signers))
			}
		})
	}
	require.Equal(t, []string{"A"}, Orgs(identityEnv))
}

func TestDedup(t *testing.T) {
	env := MustParse("AND('A.peer', OR('B.member', 'A.peer'), OutOf(1, 'B.member', 'C.admin'))")
	require.Len(t, env.Identities, 5)
	d := Dedup(env)
	require.Equal(t, []string{"A.peer", "B.member", "C.admin"}, principals(t, d))
	require.Equal(t, Format(env), Format(d))
	signers := []Signer{{MSPID: "A", Role: msp.RolePeer, ID: "a"}, {MSPID: "B", Role: msp.RoleClient, ID: "b"}}
	require.Equal(t, Satisfied(env, signers), Satisfied(d, signers))
	require.Nil(t, Dedup(nil))
}

// TestRepositoryCollectionsConfig parses the collection configurations shipped in the
// repository, which the devnet loads unchanged.
func TestRepositoryCollectionsConfig(t *testing.T) {
	for _, path := range []string{
		"../../../chaincode/collections_config.json",
		"../internal/testcc/collections_config.json",
	} {
		t.Run(path, func(t *testing.T) {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s not present", path)
			}
			cols, err := LoadCollections(path)
			require.NoError(t, err)
			require.NotEmpty(t, cols)
			for _, c := range cols {
				require.NotEmpty(t, c.Members, c.Name)
			}
			require.NoError(t, ValidateMembers(cols, []string{"MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP", "RegulatorMSP"}))
			_, err = Collections(cols).ToProto()
			require.NoError(t, err)
		})
	}
}

func TestDeepestPolicy(t *testing.T) {
	env, err := Parse(strings.Repeat("OR(", 64) + "'A.peer'" + strings.Repeat(")", 64))
	require.NoError(t, err)
	require.NoError(t, Validate(env))
	require.True(t, Satisfied(env, []Signer{{MSPID: "A", Role: msp.RolePeer}}))
}
