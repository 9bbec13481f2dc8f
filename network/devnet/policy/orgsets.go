package policy

import (
	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/xborder/xborder/network/devnet/msp"
)

// maxPlanOrgs bounds the number of organisations MinimalOrgSets enumerates subsets of.
const maxPlanOrgs = 20

// SatisfiedByOrgs reports whether one peer of each organisation in orgs (one peer identity
// per organisation) satisfies env.
func SatisfiedByOrgs(env *common.SignaturePolicyEnvelope, orgs []string) bool {
	if Validate(env) != nil {
		return false
	}
	return newOrgEvaluator(env).satisfiedBy(orgs)
}

// MinimalOrgSets returns every minimal set of organisations whose peers (one peer identity per
// organisation) together satisfy the policy: smallest sets first, and within one size in the
// lexicographic order of the organisations' positions in orgs. A set is minimal when no smaller
// returned set is contained in it; sets are never empty (a policy that needs no signature yields
// every single organisation). Duplicate organisations are ignored; at most the first 20
// distinct organisations are considered.
func MinimalOrgSets(env *common.SignaturePolicyEnvelope, orgs []string) [][]string {
	return MinimalOrgSetsAll([]*common.SignaturePolicyEnvelope{env}, orgs)
}

// MinimalOrgSetsAll is MinimalOrgSets for a transaction that must satisfy every policy in envs,
// each evaluated on its own over the same endorsements (as a committing peer evaluates the
// chaincode, collection and key-level policies of one transaction). With no policy, every
// single organisation is a minimal set. An invalid policy yields no set.
func MinimalOrgSetsAll(envs []*common.SignaturePolicyEnvelope, orgs []string) [][]string {
	evals := make([]orgEvaluator, len(envs))
	for i, env := range envs {
		if Validate(env) != nil {
			return nil
		}
		evals[i] = newOrgEvaluator(env)
	}
	uniq := distinctOrgs(orgs, maxPlanOrgs)
	var found []uint32
	var out [][]string
	for k := 1; k <= len(uniq); k++ {
		forEachCombination(len(uniq), k, func(idx []int) {
			mask := maskOf(idx)
			if coversAny(mask, found) {
				return
			}
			set := pick(uniq, idx)
			for _, e := range evals {
				if !e.satisfiedBy(set) {
					return
				}
			}
			found = append(found, mask)
			out = append(out, set)
		})
	}
	return out
}

// orgEvaluator evaluates one validated policy over one peer per organisation, decoding its
// principals once.
type orgEvaluator struct {
	env   *common.SignaturePolicyEnvelope
	roles []rolePrincipal
}

func newOrgEvaluator(env *common.SignaturePolicyEnvelope) orgEvaluator {
	return orgEvaluator{env: env, roles: decodeRoles(env)}
}

func (e orgEvaluator) satisfiedBy(orgs []string) bool {
	seen := make(map[string]bool, len(orgs))
	uniq := make([]string, 0, len(orgs))
	for _, o := range orgs {
		if !seen[o] {
			seen[o] = true
			uniq = append(uniq, o)
		}
	}
	match := func(identity int32, i int) bool {
		rp := e.roles[identity]
		return rp.ok && rp.mspID == uniq[i] && msp.RolePeer.Satisfies(rp.role)
	}
	return evaluate(e.env.Rule, len(uniq), match, make([]bool, len(uniq)))
}

// distinctOrgs returns the first max distinct non-empty organisations of orgs, in order.
func distinctOrgs(orgs []string, max int) []string {
	var uniq []string
	seen := map[string]bool{}
	for _, o := range orgs {
		if o != "" && !seen[o] && len(uniq) < max {
			seen[o] = true
			uniq = append(uniq, o)
		}
	}
	return uniq
}

// forEachCombination calls fn with every k-combination of the positions 0..n-1, in
// lexicographic order. fn must not keep idx.
func forEachCombination(n, k int, fn func(idx []int)) {
	idx := make([]int, 0, k)
	var rec func(start int)
	rec = func(start int) {
		if len(idx) == k {
			fn(idx)
			return
		}
		for i := start; i <= n-(k-len(idx)); i++ {
			idx = append(idx, i)
			rec(i + 1)
			idx = idx[:len(idx)-1]
		}
	}
	rec(0)
}

func maskOf(idx []int) uint32 {
	var mask uint32
	for _, i := range idx {
		mask |= 1 << uint(i)
	}
	return mask
}

// coversAny reports whether mask contains one of the sets in found.
func coversAny(mask uint32, found []uint32) bool {
	for _, f := range found {
		if f&mask == f {
			return true
		}
	}
	return false
}

func pick(orgs []string, idx []int) []string {
	set := make([]string, len(idx))
	for j, i := range idx {
		set[j] = orgs[i]
	}
	return set
}
