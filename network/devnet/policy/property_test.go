package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/xborder/xborder/network/devnet/msp"
)

var propOrgs = []string{"A", "B", "C", "D", "E"}

// genExpr draws a random policy string over propOrgs with the given nesting depth.
func genExpr(t *rapid.T, depth int) string {
	n := rapid.IntRange(1, 4).Draw(t, "n")
	args := make([]string, n)
	for i := range args {
		if depth > 0 && rapid.IntRange(0, 3).Draw(t, "nest") == 0 {
			args[i] = genExpr(t, depth-1)
			continue
		}
		org := rapid.SampledFrom(propOrgs).Draw(t, "org")
		role := rapid.SampledFrom([]string{"member", "peer", "admin", "client"}).Draw(t, "role")
		args[i] = "'" + org + "." + role + "'"
	}
	sep := rapid.SampledFrom([]string{",", ", ", " ,\n\t"}).Draw(t, "sep")
	body := strings.Join(args, sep)
	switch rapid.IntRange(0, 2).Draw(t, "gate") {
	case 0:
		return rapid.SampledFrom([]string{"AND", "and", "And"}).Draw(t, "and") + "(" + body + ")"
	case 1:
		return rapid.SampledFrom([]string{"OR", "or", "Or"}).Draw(t, "or") + "(" + body + ")"
	default:
		k := rapid.IntRange(0, n).Draw(t, "k")
		return fmt.Sprintf("OutOf(%d, %s)", k, body)
	}
}

func TestPropertyFormatRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		expr := genExpr(t, 3)
		env, err := Parse(expr)
		require.NoError(t, err, expr)
		again, err := Parse(Format(env))
		require.NoError(t, err, Format(env))
		require.True(t, proto.Equal(env, again), "%s -> %s", expr, Format(env))

		// De-duplicating identities never changes the outcome.
		var signers []Signer
		for i := rapid.IntRange(0, 6).Draw(t, "signers"); i > 0; i-- {
			signers = append(signers, Signer{
				MSPID: rapid.SampledFrom(propOrgs).Draw(t, "signerOrg"),
				Role:  rapid.SampledFrom([]msp.Role{msp.RolePeer, msp.RoleAdmin, msp.RoleClient}).Draw(t, "signerRole"),
				ID:    fmt.Sprint(i),
			})
		}
		require.Equal(t, Satisfied(env, signers), Satisfied(Dedup(env), signers), "%s with %v", expr, signers)
	})
}

func TestPropertyMinimalOrgSets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env := MustParse(genExpr(t, 2))
		sets := MinimalOrgSets(env, propOrgs)
		peersOf := func(orgs []string) []Signer {
			out := make([]Signer, len(orgs))
			for i, o := range orgs {
				out[i] = Signer{MSPID: o, Role: msp.RolePeer, ID: o}
			}
			return out
		}
		for i, set := range sets {
			require.True(t, Satisfied(env, peersOf(set)), "set %v of %s", set, Format(env))
			if i > 0 {
				require.LessOrEqual(t, len(sets[i-1]), len(set), "smallest first")
			}
		}
		// Every satisfying subset of organisations contains one of the returned sets.
		for mask := 1; mask < 1<<len(propOrgs); mask++ {
			var subset []string
			for i, o := range propOrgs {
				if mask&(1<<i) != 0 {
					subset = append(subset, o)
				}
			}
			if !Satisfied(env, peersOf(subset)) {
				continue
			}
			covered := false
			for _, set := range sets {
				all := true
				for _, o := range set {
					all = all && slices.Contains(subset, o)
				}
				covered = covered || all
			}
			require.True(t, covered, "satisfying subset %v of %s not covered by %v", subset, Format(env), sets)
		}
	})
}

// TestPropertyMinimalOrgSetsAll checks MinimalOrgSetsAll against brute force over two random
// policies: every returned set satisfies both (as SatisfiedByOrgs and Satisfied say), and
// every subset of organisations that satisfies both contains a returned set.
func TestPropertyMinimalOrgSetsAll(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		first, second := MustParse(genExpr(t, 2)), MustParse(genExpr(t, 1))
		both := func(orgs []string) bool {
			return SatisfiedByOrgs(first, orgs) && SatisfiedByOrgs(second, orgs)
		}
		sets := MinimalOrgSetsAll([]*common.SignaturePolicyEnvelope{first, second}, propOrgs)
		for _, set := range sets {
			require.True(t, both(set), "set %v of %s and %s", set, Format(first), Format(second))
			signers := make([]Signer, len(set))
			for i, o := range set {
				signers[i] = Signer{MSPID: o, Role: msp.RolePeer, ID: o}
			}
			require.Equal(t, SatisfiedByOrgs(first, set), Satisfied(first, signers))
		}
		for mask := 1; mask < 1<<len(propOrgs); mask++ {
			var subset []string
			for i, o := range propOrgs {
				if mask&(1<<i) != 0 {
					subset = append(subset, o)
				}
			}
			if !both(subset) {
				continue
			}
			covered := slices.ContainsFunc(sets, func(set []string) bool {
				return !slices.ContainsFunc(set, func(o string) bool { return !slices.Contains(subset, o) })
			})
			require.True(t, covered, "satisfying subset %v of %s and %s not covered by %v", subset, Format(first), Format(second), sets)
		}
	})
}
