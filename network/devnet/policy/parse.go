// Package policy implements Fabric signature policies for the devnet: parsing the policy
// language ("AND('A.peer', OR('B.member', 'C.admin'))", "OutOf(2, ...)"), the implicit
// MAJORITY Endorsement policy, evaluation over a set of signers with Fabric's semantics,
// endorsement planning (minimal satisfying sets of organisations) and private data collection
// configuration (collections_config.json).
package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
)

// ParseError reports where a policy string could not be parsed.
type ParseError struct {
	// Expr is the policy string.
	Expr string
	// Offset is the byte offset in Expr where parsing failed.
	Offset int
	// Msg describes the problem.
	Msg string
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("policy: parse error at offset %d: %s (in %q)", e.Offset, e.Msg, e.Expr)
}

// principalPattern is Fabric's principal syntax: MSP ID (alphanumerics, dots, dashes), a dot, a role.
var principalPattern = regexp.MustCompile(`^([[:alnum:].-]+)[.](admin|member|client|peer|orderer)$`)

type gate int

const (
	gateAnd gate = iota
	gateOr
	gateOutOf
)

// gates lists the spellings Fabric's policy language accepts.
var gates = map[string]gate{
	"And": gateAnd, "and": gateAnd, "AND": gateAnd,
	"Or": gateOr, "or": gateOr, "OR": gateOr,
	"OutOf": gateOutOf, "outof": gateOutOf, "OUTOF": gateOutOf,
}

type parser struct {
	src        string
	pos        int
	depth      int
	identities []*mspproto.MSPPrincipal
}

// Parse converts a Fabric signature policy string into a SignaturePolicyEnvelope exactly as
// Fabric's policydsl does: AND(...) is an n-out-of-n gate, OR(...) a 1-out-of-n gate,
// OutOf(t, ...) a t-out-of-n gate; every principal occurrence 'MSPID.role' (role member, admin,
// client, peer or orderer) adds one identity, in order of appearance.
func Parse(expr string) (*common.SignaturePolicyEnvelope, error) {
	p := &parser{src: expr}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errorf("empty policy")
	}
	if c := p.src[p.pos]; c == '\'' || c == '"' {
		return nil, p.errorf("a policy must be a gate (AND, OR, OutOf), not a bare principal")
	}
	rule, err := p.parseGate()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errorf("unexpected %q after the policy", p.src[p.pos:])
	}
	return &common.SignaturePolicyEnvelope{Version: 0, Rule: rule, Identities: p.identities}, nil
}

// MustParse is Parse that panics on error; for policies that are constants of the program.
func MustParse(expr string) *common.SignaturePolicyEnvelope {
	env, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return env
}

func (p *parser) errorf(format string, args ...any) error {
	return &ParseError{Expr: p.src, Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return p.errorf("expected %q, got end of policy", c)
	}
	if p.src[p.pos] != c {
		return p.errorf("expected %q, got %q", c, p.src[p.pos])
	}
	p.pos++
	return nil
}

func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (p *parser) parseGate() (*common.SignaturePolicy, error) {
	start, g, err := p.parseGateName()
	if err != nil {
		return nil, err
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		p.pos = start
		return nil, p.errorf("gates nested deeper than %d", maxDepth)
	}
	if err := p.expect('('); err != nil {
		return nil, err
	}
	threshold := -1
	if g == gateOutOf {
		n, err := p.parseThreshold()
		if err != nil {
			return nil, err
		}
		threshold = n
		p.skipSpace()
		if err := p.expect(','); err != nil {
			return nil, err
		}
	}
	rules, err := p.parseOperands()
	if err != nil {
		return nil, err
	}
	switch g {
	case gateAnd:
		threshold = len(rules)
	case gateOr:
		threshold = 1
	}
	// Fabric accepts 0 <= t <= n+1.
	if threshold > len(rules)+1 {
		p.pos = start
		return nil, p.errorf("invalid t-out-of-n predicate, t %d, n %d", threshold, len(rules))
	}
	return nOutOf(int32(threshold), rules), nil
}

// parseGateName reads a gate name (AND, OR, OutOf in any case) and returns where it starts.
func (p *parser) parseGateName() (int, gate, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	name := p.src[start:p.pos]
	if name == "" {
		if p.pos >= len(p.src) {
			return start, 0, p.errorf("expected AND, OR or OutOf, got end of policy")
		}
		return start, 0, p.errorf("expected AND, OR or OutOf, got %q", p.src[p.pos])
	}
	g, ok := gates[name]
	if !ok {
		p.pos = start
		return start, 0, p.errorf("unrecognized token %q (want AND, OR or OutOf)", name)
	}
	return start, g, nil
}

// parseOperands reads a gate's comma-separated operands up to and including the closing ')'.
func (p *parser) parseOperands() ([]*common.SignaturePolicy, error) {
	var rules []*common.SignaturePolicy
	for {
		r, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errorf("expected ',' or ')', got end of policy")
		}
		if p.src[p.pos] == ')' {
			p.pos++
			return rules, nil
		}
		if p.src[p.pos] != ',' {
			return nil, p.errorf("expected ',' or ')', got %q", p.src[p.pos])
		}
		p.pos++
	}
}

func (p *parser) parseThreshold() (int, error) {
	p.skipSpace()
	start := p.pos
	text := ""
	if p.pos < len(p.src) && (p.src[p.pos] == '\'' || p.src[p.pos] == '"') {
		s, err := p.parseString()
		if err != nil {
			return 0, err
		}
		text = strings.TrimSpace(s)
	} else {
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		text = p.src[start:p.pos]
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		p.pos = start
		return 0, p.errorf("expected a non-negative number as the first argument of OutOf")
	}
	return n, nil
}

func (p *parser) parseString() (string, error) {
	quote := p.src[p.pos]
	start := p.pos
	end := strings.IndexByte(p.src[p.pos+1:], quote)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	p.pos = start + 1 + end + 1
	return p.src[start+1 : start+1+end], nil
}

func (p *parser) parseOperand() (*common.SignaturePolicy, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errorf("expected a principal or a gate, got end of policy")
	}
	c := p.src[p.pos]
	if c != '\'' && c != '"' {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return nil, p.errorf("expected a principal or a gate, got %q", c)
		}
		return p.parseGate()
	}
	start := p.pos
	s, err := p.parseString()
	if err != nil {
		return nil, err
	}
	m := principalPattern.FindStringSubmatch(s)
	if m == nil {
		p.pos = start
		return nil, p.errorf("invalid principal %q (want 'MSPID.role' with role member, admin, client, peer or orderer)", s)
	}
	role, err := msp.ParseRole(m[2])
	if err != nil {
		p.pos = start
		return nil, p.errorf("%v", err)
	}
	idx := int32(len(p.identities))
	p.identities = append(p.identities, msp.RolePrincipal(m[1], role))
	return signedBy(idx), nil
}

func signedBy(idx int32) *common.SignaturePolicy {
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: idx}}
}

func nOutOf(n int32, rules []*common.SignaturePolicy) *common.SignaturePolicy {
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{
		NOutOf: &common.SignaturePolicy_NOutOf{N: n, Rules: rules},
	}}
}

// MajorityOf returns the signature policy equivalent to Fabric's default implicit
// "MAJORITY Endorsement" policy for a channel whose application organisations are orgs, each
// with the default Endorsement policy OR('Org.peer'): more than half of the organisations must
// endorse with a peer. Duplicate organisations are ignored; the order of orgs is kept.
func MajorityOf(orgs []string) *common.SignaturePolicyEnvelope {
	seen := map[string]bool{}
	var rules []*common.SignaturePolicy
	var ids []*mspproto.MSPPrincipal
	for _, o := range orgs {
		if seen[o] {
			continue
		}
		seen[o] = true
		rules = append(rules, signedBy(int32(len(ids))))
		ids = append(ids, msp.RolePrincipal(o, msp.RolePeer))
	}
	return &common.SignaturePolicyEnvelope{Version: 0, Rule: nOutOf(int32(len(rules)/2+1), rules), Identities: ids}
}

// Format renders a signature policy envelope in the policy language (AND for n-out-of-n, OR for
// 1-out-of-n, OutOf otherwise). Principals other than ROLE are rendered descriptively.
func Format(env *common.SignaturePolicyEnvelope) string {
	if env == nil || env.Rule == nil {
		return "<nil>"
	}
	var b strings.Builder
	formatRule(&b, env, env.Rule)
	return b.String()
}

func formatRule(b *strings.Builder, env *common.SignaturePolicyEnvelope, r *common.SignaturePolicy) {
	switch t := r.Type.(type) {
	case *common.SignaturePolicy_SignedBy:
		if t.SignedBy < 0 || int(t.SignedBy) >= len(env.Identities) {
			fmt.Fprintf(b, "'<identity %d missing>'", t.SignedBy)
			return
		}
		b.WriteString(formatPrincipal(env.Identities[t.SignedBy]))
	case *common.SignaturePolicy_NOutOf_:
		n, rules := t.NOutOf.N, t.NOutOf.Rules
		switch {
		case int(n) == len(rules) && n > 1:
			b.WriteString("AND(")
		case n == 1:
			b.WriteString("OR(")
		default:
			fmt.Fprintf(b, "OutOf(%d, ", n)
		}
		for i, sub := range rules {
			if i > 0 {
				b.WriteString(", ")
			}
			formatRule(b, env, sub)
		}
		b.WriteString(")")
	default:
		b.WriteString("'<invalid rule>'")
	}
}

func formatPrincipal(p *mspproto.MSPPrincipal) string {
	switch p.PrincipalClassification {
	case mspproto.MSPPrincipal_ROLE:
		var r mspproto.MSPRole
		if err := proto.Unmarshal(p.Principal, &r); err != nil {
			return "'<invalid role principal>'"
		}
		return "'" + r.MspIdentifier + "." + msp.Role(r.Role).String() + "'"
	default:
		return "'<" + strings.ToLower(p.PrincipalClassification.String()) + " principal>'"
	}
}

// Dedup returns an equivalent envelope in which equal identities appear once (SignedBy indices
// are rewritten; the first occurrence keeps its place). Parse keeps one identity per principal
// occurrence, byte for byte as Fabric's policydsl; Dedup gives the compact form.
func Dedup(env *common.SignaturePolicyEnvelope) *common.SignaturePolicyEnvelope {
	if env == nil {
		return nil
	}
	out := &common.SignaturePolicyEnvelope{Version: env.Version}
	index := map[string]int32{}
	remap := make([]int32, len(env.Identities))
	for i, p := range env.Identities {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			// An MSPPrincipal of a class and a byte string always marshals; keep it distinct.
			b = []byte(fmt.Sprintf("\x00unmarshalable-%d", i))
		}
		key := string(b)
		j, ok := index[key]
		if !ok {
			j = int32(len(out.Identities))
			index[key] = j
			out.Identities = append(out.Identities, p)
		}
		remap[i] = j
	}
	out.Rule = remapRule(env.Rule, remap)
	return out
}

func remapRule(r *common.SignaturePolicy, remap []int32) *common.SignaturePolicy {
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		if t.SignedBy >= 0 && int(t.SignedBy) < len(remap) {
			return signedBy(remap[t.SignedBy])
		}
		return signedBy(t.SignedBy)
	case *common.SignaturePolicy_NOutOf_:
		rules := make([]*common.SignaturePolicy, len(t.NOutOf.GetRules()))
		for i, sub := range t.NOutOf.GetRules() {
			rules[i] = remapRule(sub, remap)
		}
		return nOutOf(t.NOutOf.GetN(), rules)
	default:
		return proto.Clone(r).(*common.SignaturePolicy)
	}
}
