package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// CapabilityTokenBytes is the entropy of a capability token: 32 random bytes, written as 43
// characters of base64url without padding.
const CapabilityTokenBytes = 32

// Capability has the gateway create a bearer capability for the resource a write makes (an
// order's tracking link): a fresh random token, of which only the SHA-256 goes to the chaincode
// (in the request field HashField) and which only the answer to the client carries, once (in
// TokenField, with URLPrefix+token in URLField). The gateway keeps the token nowhere: the stored
// first answer of an Idempotency-Key has it removed (see Redact).
type Capability struct {
	// HashField is the chaincode request field that receives the token's SHA-256 (hex).
	HashField string
	// TokenField and URLField are the answer fields that carry the token and its URL.
	TokenField string
	URLField   string
	// URLPrefix is the URL path before the token, e.g. "/track/".
	URLPrefix string
	// Choice, when set, is a boolean request field with which the client asks for a capability
	// (true) or for none (false); the gateway removes it before the chaincode sees the request.
	// Without Choice every request gets one.
	Choice string
	// ChosenWith, when set, is a request field ("buyer.publicKey") whose presence makes Choice
	// default to true; otherwise Choice defaults to false, so that requests written before the
	// capability existed get none and are answered exactly as before.
	ChosenWith string
}

// NewCapabilityToken returns a fresh random capability token (CapabilityTokenBytes bytes,
// base64url without padding).
func NewCapabilityToken() (string, error) {
	var b [CapabilityTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", &Error{Code: CodeInternal, Message: "cannot create a capability token", Err: err}
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CapabilityHash returns the SHA-256 of a capability token, as the ledger stores it (64
// lower-case hex digits).
func CapabilityHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Issue creates a token for inv, an invocation of the capability's write made by
// Operation.Invocation: it puts the token's SHA-256 into the chaincode request and returns the
// token, or "" when the request does not ask for one (see Choice; the field is removed either
// way).
func (c *Capability) Issue(inv *Invocation) (string, error) {
	if len(inv.Args) != 1 {
		return "", &Error{Code: CodeInternal, Message: "a capability needs a write request"}
	}
	dec := json.NewDecoder(bytes.NewReader(inv.Args[0]))
	dec.UseNumber()
	var req map[string]any
	if err := dec.Decode(&req); err != nil {
		return "", &Error{Code: CodeInternal, Message: "cannot decode the chaincode request", Err: err}
	}
	want, err := c.wanted(req)
	if err != nil {
		return "", err
	}
	token := ""
	if want {
		if token, err = NewCapabilityToken(); err != nil {
			return "", err
		}
		req[c.HashField] = CapabilityHash(token)
	}
	arg, err := json.Marshal(req)
	if err != nil {
		return "", &Error{Code: CodeInternal, Message: "cannot encode the chaincode request", Err: err}
	}
	inv.Args = [][]byte{arg}
	return token, nil
}

// wanted reports whether the request asks for a capability and removes the Choice field.
func (c *Capability) wanted(req map[string]any) (bool, error) {
	if c.Choice == "" {
		return true, nil
	}
	v, ok := req[c.Choice]
	if !ok {
		return c.ChosenWith != "" && hasField(req, c.ChosenWith), nil
	}
	delete(req, c.Choice)
	b, isBool := v.(bool)
	if !isBool {
		return false, FieldError(c.Choice, "must be a boolean")
	}
	return b, nil
}

// hasField reports whether req has the field path ("buyer.publicKey": one level down) set to
// something other than null.
func hasField(req map[string]any, path string) bool {
	obj := req
	parent, name, nested := strings.Cut(path, ".")
	if nested {
		o, ok := req[parent].(map[string]any)
		if !ok {
			return false
		}
		obj = o
	} else {
		name = parent
	}
	v, ok := obj[name]
	return ok && v != nil
}

// Answer adds the token and its URL to a write's answer (a JSON object); an empty token leaves
// the answer as it is.
func (c *Capability) Answer(result []byte, token string) ([]byte, error) {
	if token == "" {
		return result, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(result, &m); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "the chaincode returned an unreadable result", Err: err}
	}
	m[c.TokenField], _ = json.Marshal(token)
	if c.URLField != "" {
		m[c.URLField], _ = json.Marshal(c.URLPrefix + token)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot encode the answer", Err: err}
	}
	return out, nil
}

// Redact returns an answer without the capability's token and URL, for storage: the gateway
// never keeps a token. An answer that is not a JSON object is returned as it is.
func (c *Capability) Redact(answer []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(answer, &m) != nil {
		return answer
	}
	_, hasToken := m[c.TokenField]
	_, hasURL := m[c.URLField]
	if !hasToken && !hasURL {
		return answer
	}
	delete(m, c.TokenField)
	delete(m, c.URLField)
	out, err := json.Marshal(m)
	if err != nil {
		return answer
	}
	return append(out, '\n')
}

// TokenAccess lets a holder of a capability token call an operation without an API key: the
// token is the path parameter PathParam; the gateway passes its SHA-256 to the chaincode as the
// query parameter or request field HashField (the chaincode finds the resource by it and refuses
// any other), and signs with its own tracking identity, rate-limited per client address.
type TokenAccess struct {
	// PathParam names the path parameter that carries the token, e.g. "token".
	PathParam string
	// HashField names the query argument or request field that receives the token's SHA-256.
	HashField string
	// AnswerFields, when set, are the only top-level members of the chaincode's result the
	// answer keeps (a token holder sees public progress only).
	AnswerFields []string
}

// Filter keeps only the AnswerFields of a result (a JSON object); all of it when none are set.
func (a *TokenAccess) Filter(result []byte) ([]byte, error) {
	if len(a.AnswerFields) == 0 {
		return result, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(result, &m); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "the chaincode returned an unreadable result", Err: err}
	}
	out := make(map[string]json.RawMessage, len(a.AnswerFields))
	for _, f := range a.AnswerFields {
		if v, ok := m[f]; ok {
			out[f] = v
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot encode the answer", Err: err}
	}
	return b, nil
}

// ValidCapabilityToken reports whether s has the form of a capability token (43 characters of
// base64url); a token of another form is never one the gateway issued.
func ValidCapabilityToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(CapabilityTokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}
