package policy

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
)

// Signer is what one valid signature contributes to a policy evaluation: the signer's MSP, its
// NodeOU role and, for de-duplication, a unique identity key.
type Signer struct {
	MSPID string
	Role  msp.Role
	// ID identifies the signing identity (for example msp.Principal.ID). Signers with the same
	// non-empty ID count once, as Fabric de-duplicates signatures by identity.
	ID string
}

// Endorsement is what an endorsing signer contributes; it is the same type as Signer.
type Endorsement = Signer

// SignerOf returns the Signer for a validated principal.
func SignerOf(p *msp.Principal) Signer {
	return Signer{MSPID: p.MSPID, Role: p.Role, ID: p.ID}
}

// Validate checks that env is well formed: a rule is present, every SignedBy references an
// existing identity, and every N is within 0..len(rules)+1 (Fabric's accepted range).
func Validate(env *common.SignaturePolicyEnvelope) error {
	if env == nil {
		return errors.New("policy: nil signature policy envelope")
	}
	if env.Rule == nil {
		return errors.New("policy: signature policy envelope has no rule")
	}
	return validateRule(env, env.Rule, 0)
}

const maxDepth = 64

func validateRule(env *common.SignaturePolicyEnvelope, r *common.SignaturePolicy, depth int) error {
	if depth > maxDepth {
		return errors.New("policy: rule nesting too deep")
	}
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		if t.SignedBy < 0 || int(t.SignedBy) >= len(env.Identities) {
			return fmt.Errorf("policy: identity index %d out of range (%d identities)", t.SignedBy, len(env.Identities))
		}
		return nil
	case *common.SignaturePolicy_NOutOf_:
		if t.NOutOf == nil {
			return errors.New("policy: nil NOutOf rule")
		}
		if t.NOutOf.N < 0 || int(t.NOutOf.N) > len(t.NOutOf.Rules)+1 {
			return fmt.Errorf("policy: invalid t-out-of-n predicate, t %d, n %d", t.NOutOf.N, len(t.NOutOf.Rules))
		}
		for _, sub := range t.NOutOf.Rules {
			if err := validateRule(env, sub, depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("policy: unknown rule type %T", r.GetType())
	}
}

// evaluate runs Fabric's signature policy algorithm: gates are evaluated left to right, a
// SignedBy rule consumes the first not-yet-used signer that satisfies its principal, and the
// signers consumed by a sub-rule stay consumed only if that sub-rule is satisfied.
func evaluate(r *common.SignaturePolicy, n int, match func(identity int32, signer int) bool, used []bool) bool {
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		for i := 0; i < n; i++ {
			if used[i] {
				continue
			}
			if match(t.SignedBy, i) {
				used[i] = true
				return true
			}
		}
		return false
	case *common.SignaturePolicy_NOutOf_:
		verified := int32(0)
		scratch := make([]bool, len(used))
		for _, sub := range t.NOutOf.Rules {
			copy(scratch, used)
			if evaluate(sub, n, match, scratch) {
				verified++
				copy(used, scratch)
			}
		}
		return verified >= t.NOutOf.N
	default:
		return false
	}
}

type rolePrincipal struct {
	ok    bool
	mspID string
	role  msp.Role
}

func decodeRoles(env *common.SignaturePolicyEnvelope) []rolePrincipal {
	out := make([]rolePrincipal, len(env.Identities))
	for i, p := range env.Identities {
		if p.GetPrincipalClassification() != mspproto.MSPPrincipal_ROLE {
			continue
		}
		var r mspproto.MSPRole
		if err := proto.Unmarshal(p.Principal, &r); err != nil {
			continue
		}
		out[i] = rolePrincipal{ok: true, mspID: r.MspIdentifier, role: msp.Role(r.Role)}
	}
	return out
}

// Satisfied reports whether the signers satisfy the policy with Fabric's semantics: signers
// with the same identity count once, each signer satisfies at most one principal per
// evaluation, and a principal 'MSP.role' is satisfied by a signer of that MSP whose role is the
// required one (every role satisfies member). Only ROLE principals can be satisfied by a
// Signer; use SatisfiedByPrincipals for IDENTITY and ORGANIZATION_UNIT principals.
func Satisfied(env *common.SignaturePolicyEnvelope, signers []Signer) bool {
	if Validate(env) != nil {
		return false
	}
	signers = dedupSigners(signers)
	roles := decodeRoles(env)
	match := func(identity int32, i int) bool {
		rp := roles[identity]
		return rp.ok && rp.mspID == signers[i].MSPID && signers[i].Role.Satisfies(rp.role)
	}
	return evaluate(env.Rule, len(signers), match, make([]bool, len(signers)))
}

func dedupSigners(signers []Signer) []Signer {
	seen := map[string]bool{}
	out := make([]Signer, 0, len(signers))
	for _, s := range signers {
		if s.ID != "" {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
		}
		out = append(out, s)
	}
	return out
}

// SatisfiedByPrincipals evaluates the policy over validated identities with the MSP manager's
// principal matching (ROLE, IDENTITY and ORGANIZATION_UNIT principals). Identities with the same
// ID count once. The caller must have verified each identity's signature.
func SatisfiedByPrincipals(env *common.SignaturePolicyEnvelope, mgr *msp.Manager, ids []*msp.Principal) bool {
	if Validate(env) != nil || mgr == nil {
		return false
	}
	seen := map[string]bool{}
	uniq := make([]*msp.Principal, 0, len(ids))
	for _, id := range ids {
		if id == nil || seen[id.ID] {
			continue
		}
		seen[id.ID] = true
		uniq = append(uniq, id)
	}
	match := func(identity int32, i int) bool {
		return mgr.SatisfiesPrincipal(uniq[i], env.Identities[identity]) == nil
	}
	return evaluate(env.Rule, len(uniq), match, make([]bool, len(uniq)))
}

// Orgs returns the distinct MSP IDs named by the envelope's ROLE and ORGANIZATION_UNIT
// principals, in order of first appearance.
func Orgs(env *common.SignaturePolicyEnvelope) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, p := range env.GetIdentities() {
		switch p.PrincipalClassification {
		case mspproto.MSPPrincipal_ROLE:
			var r mspproto.MSPRole
			if proto.Unmarshal(p.Principal, &r) == nil {
				add(r.MspIdentifier)
			}
		case mspproto.MSPPrincipal_ORGANIZATION_UNIT:
			var ou mspproto.OrganizationUnit
			if proto.Unmarshal(p.Principal, &ou) == nil {
				add(ou.MspIdentifier)
			}
		case mspproto.MSPPrincipal_IDENTITY:
			var sid mspproto.SerializedIdentity
			if proto.Unmarshal(p.Principal, &sid) == nil {
				add(sid.Mspid)
			}
		}
	}
	return out
}
