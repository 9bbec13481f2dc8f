package chaincode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The buyer's key: an ECDSA P-256 public key as a JSON Web Key (RFC 7517/7518), as a browser's
// WebCrypto exports it (crypto.subtle.exportKey("jwk", publicKey)) or a wallet holds it.
const (
	// JWKKeyType is the only key type accepted ("kty").
	JWKKeyType = "EC"
	// JWKCurve is the only curve accepted ("crv").
	JWKCurve = "P-256"
	// jwkCoordinateBytes is the length of x and y (RFC 7518 §6.2.1.2: the full field size).
	jwkCoordinateBytes = 32
)

// BuyerKey is the buyer's public key as stored on the order: a canonical JWK with exactly kty,
// crv, x and y (base64url without padding, 32 bytes each).
type BuyerKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// BuyerKeyInput is the buyer's public key in CreateOrderRequest: a JWK. Besides kty, crv, x and
// y it may carry the members WebCrypto and wallets add (ext, key_ops with "verify" only, alg
// "ES256", kid, use "sig"); they are checked and not stored. A private key (member d) is refused.
type BuyerKeyInput struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	D      string   `json:"d,omitempty" metadata:",optional"`
	Ext    bool     `json:"ext,omitempty" metadata:",optional"`
	KeyOps []string `json:"key_ops,omitempty" metadata:",optional"`
	Alg    string   `json:"alg,omitempty" metadata:",optional"`
	Kid    string   `json:"kid,omitempty" metadata:",optional"`
	Use    string   `json:"use,omitempty" metadata:",optional"`
}

// validate checks the JWK (field prefixes the errors, e.g. "buyer.publicKey") and returns the
// canonical key.
func (k *BuyerKeyInput) validate(field string) (*BuyerKey, error) {
	if k.D != "" {
		return nil, errInvalid(field+".d", "must not be sent: this is the buyer's private key, which never leaves the buyer; send the public key (kty, crv, x, y) only")
	}
	if k.Kty != JWKKeyType {
		return nil, errInvalid(field+".kty", "must be %q, got %s", JWKKeyType, quoteValue(k.Kty))
	}
	if k.Crv != JWKCurve {
		return nil, errInvalid(field+".crv", "must be %q, got %s", JWKCurve, quoteValue(k.Crv))
	}
	if k.Alg != "" && k.Alg != "ES256" {
		return nil, errInvalid(field+".alg", "must be \"ES256\" when given, got %s", quoteValue(k.Alg))
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, errInvalid(field+".use", "must be \"sig\" when given, got %s", quoteValue(k.Use))
	}
	for i, op := range k.KeyOps {
		if op != "verify" {
			return nil, errInvalid(field+".key_ops["+strconv.Itoa(i)+"]", "a public key may only \"verify\", got %s", quoteValue(op))
		}
	}
	if k.Kid != "" {
		if err := ValidateText(field+".kid", k.Kid, 200); err != nil {
			return nil, err
		}
	}
	key := &BuyerKey{Kty: k.Kty, Crv: k.Crv, X: k.X, Y: k.Y}
	if _, err := key.publicKey(field); err != nil {
		return nil, err
	}
	return key, nil
}

// publicKey decodes the key; errors are INVALID_ARGUMENT naming field.x, field.y or field.
func (k *BuyerKey) publicKey(field string) (*ecdsa.PublicKey, error) {
	x, err := decodeCoordinate(field+".x", k.X)
	if err != nil {
		return nil, err
	}
	y, err := decodeCoordinate(field+".y", k.Y)
	if err != nil {
		return nil, err
	}
	point := make([]byte, 0, 1+2*jwkCoordinateBytes)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, errInvalid(field, "is not a point of the P-256 curve")
	}
	return pub, nil
}

// decodeCoordinate decodes one JWK coordinate: base64url without padding, exactly 32 bytes.
func decodeCoordinate(field, v string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != jwkCoordinateBytes {
		return nil, errInvalid(field, "must be %d bytes in base64url without padding (%d characters), got %s",
			jwkCoordinateBytes, base64.RawURLEncoding.EncodedLen(jwkCoordinateBytes), quoteValue(v))
	}
	return b, nil
}

// Thumbprint returns the key's RFC 7638 JWK thumbprint: the base64url (no padding) SHA-256 of
// {"crv":"P-256","kty":"EC","x":"…","y":"…"} (the required members in lexicographic order,
// no white space).
func (k *BuyerKey) Thumbprint() string {
	// The members are ASCII (validated base64url and fixed names), so json.Marshal of the
	// strings adds nothing but the quotes.
	x, _ := json.Marshal(k.X)
	y, _ := json.Marshal(k.Y)
	doc := `{"crv":"` + k.Crv + `","kty":"` + k.Kty + `","x":` + string(x) + `,"y":` + string(y) + `}`
	sum := sha256.Sum256([]byte(doc))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Buyer statement actions: what a signed statement asks for.
const (
	// StatementConfirmReceipt confirms receipt of a DELIVERED order: the escrow is released to
	// the merchant (as ConfirmDelivery).
	StatementConfirmReceipt = "CONFIRM_RECEIPT"
	// StatementOpenDispute opens a dispute (as OpenDispute); the reason line is required.
	StatementOpenDispute = "OPEN_DISPUTE"
	// StatementCancelLate cancels an order that missed its shipBy or deliverBy deadline, for a
	// refund of everything still in escrow.
	StatementCancelLate = "CANCEL_LATE"
)

// StatementActions lists the buyer statement actions.
var StatementActions = []string{StatementConfirmReceipt, StatementOpenDispute, StatementCancelLate}

// Limits of a buyer statement.
const (
	// StatementHeader is the first line of every buyer statement (format version 1).
	StatementHeader = "xborder-buyer-statement/v1"
	// MaxStatementBytes bounds the statement text.
	MaxStatementBytes = 2048
	// MinNonceLength and MaxNonceLength bound the nonce (characters of the base64url alphabet).
	MinNonceLength = 16
	MaxNonceLength = 64
	// MaxStatementLifetime is the longest an accepted statement may still be valid after the
	// transaction that relays it: expiresAt must not be later than the transaction time plus
	// this.
	MaxStatementLifetime = 7 * 24 * time.Hour
	// StatementTimeLayout is the layout of expiresAt: UTC, whole seconds, "Z".
	StatementTimeLayout = "2006-01-02T15:04:05Z"
	// maxStatementReason bounds the reason line (characters).
	maxStatementReason = 500
	// statementSignatureBytes is the length of a P-256 signature as r||s.
	statementSignatureBytes = 64
)

// statementKeys are the keys of the statement's lines after the header, in their fixed order.
var statementKeys = []string{"orderId", "action", "orderVersion", "nonce", "expiresAt", "reason"}

// BuyerStatement is a statement the buyer signs: its canonical text (Canonical) is
//
//	xborder-buyer-statement/v1
//	orderId:<order ID>
//	action:<CONFIRM_RECEIPT | OPEN_DISPUTE | CANCEL_LATE>
//	orderVersion:<the order's version, decimal, no leading zeros>
//	nonce:<16 to 64 characters of A-Z a-z 0-9 - _>
//	expiresAt:<UTC time, whole seconds: 2006-01-02T15:04:05Z>
//	reason:<free text, one line; required for OPEN_DISPUTE, empty for CONFIRM_RECEIPT>
//
// seven lines joined by a single LF (0x0A), no trailing line break, UTF-8. The signature is
// ECDSA P-256 over the SHA-256 of these bytes, as the 64 bytes r||s (big-endian, 32 bytes
// each: WebCrypto's format) in base64url without padding.
type BuyerStatement struct {
	OrderID      string
	Action       string
	OrderVersion int64
	Nonce        string
	ExpiresAt    time.Time
	Reason       string
}

// Canonical returns the statement's canonical text, the bytes the buyer signs.
func (s BuyerStatement) Canonical() string {
	values := []string{s.OrderID, s.Action, strconv.FormatInt(s.OrderVersion, 10), s.Nonce,
		s.ExpiresAt.UTC().Format(StatementTimeLayout), s.Reason}
	var b strings.Builder
	b.WriteString(StatementHeader)
	for i, k := range statementKeys {
		b.WriteByte('\n')
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(values[i])
	}
	return b.String()
}

// Validate checks the statement's fields; errors are INVALID_ARGUMENT naming
// "statement.<field>".
func (s BuyerStatement) Validate() error {
	if err := ValidateID("statement.orderId", s.OrderID); err != nil {
		return err
	}
	if err := validateStatementAction(s.Action); err != nil {
		return err
	}
	if s.OrderVersion < 1 {
		return errInvalid("statement.orderVersion", "must be the order's version (1 or more), got %d", s.OrderVersion)
	}
	if err := validateNonce(s.Nonce); err != nil {
		return err
	}
	if s.ExpiresAt.IsZero() || s.ExpiresAt.Nanosecond() != 0 {
		return errInvalid("statement.expiresAt", "must be a UTC time in whole seconds")
	}
	return validateStatementReason(s.Action, s.Reason)
}

// validateStatementAction checks the action line.
func validateStatementAction(action string) error {
	for _, a := range StatementActions {
		if a == action {
			return nil
		}
	}
	return errInvalid("statement.action", "must be one of %s, got %s", strings.Join(StatementActions, ", "), quoteValue(action))
}

// validateNonce checks the nonce line: MinNonceLength to MaxNonceLength characters of the
// base64url alphabet.
func validateNonce(nonce string) error {
	if len(nonce) < MinNonceLength || len(nonce) > MaxNonceLength {
		return errInvalid("statement.nonce", "must be %d to %d characters, got %d", MinNonceLength, MaxNonceLength, len(nonce))
	}
	for i := 0; i < len(nonce); i++ {
		c := nonce[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return errInvalid("statement.nonce", "must contain only A-Z, a-z, 0-9, '-' and '_', got %s", quoteValue(nonce))
		}
	}
	return nil
}

// validateStatementReason checks the reason line for the action.
func validateStatementReason(action, reason string) error {
	switch {
	case action == StatementOpenDispute:
		return ValidateText("statement.reason", reason, maxStatementReason)
	case reason == "":
		return nil
	case action == StatementConfirmReceipt:
		return errInvalid("statement.reason", "must be empty for %s", StatementConfirmReceipt)
	}
	return ValidateText("statement.reason", reason, maxStatementReason)
}

// ParseBuyerStatement parses a statement's canonical text. The text must be exactly canonical
// (Canonical of the result reproduces it byte for byte); errors are INVALID_ARGUMENT naming
// "statement" or "statement.<field>".
func ParseBuyerStatement(text string) (BuyerStatement, error) {
	var s BuyerStatement
	if len(text) > MaxStatementBytes {
		return s, errInvalid("statement", "is %d bytes; at most %d allowed", len(text), MaxStatementBytes)
	}
	if !utf8.ValidString(text) {
		return s, errInvalid("statement", "must be UTF-8 text")
	}
	lines := strings.Split(text, "\n")
	if len(lines) != len(statementKeys)+1 || lines[0] != StatementHeader {
		return s, errInvalid("statement", "must be %d lines joined by LF, the first %q, then %s, each as key:value, without a trailing line break",
			len(statementKeys)+1, StatementHeader, strings.Join(statementKeys, ", "))
	}
	values := make([]string, len(statementKeys))
	for i, k := range statementKeys {
		v, ok := strings.CutPrefix(lines[i+1], k+":")
		if !ok {
			return s, errInvalid("statement", "line %d must start with %q", i+2, k+":")
		}
		values[i] = v
	}
	s.OrderID, s.Action, s.Nonce, s.Reason = values[0], values[1], values[3], values[5]
	var err error
	if s.OrderVersion, err = strconv.ParseInt(values[2], 10, 64); err != nil || strconv.FormatInt(s.OrderVersion, 10) != values[2] {
		return s, errInvalid("statement.orderVersion", "must be a decimal number without sign or leading zeros, got %s", quoteValue(values[2]))
	}
	if s.ExpiresAt, err = time.Parse(StatementTimeLayout, values[4]); err != nil || s.ExpiresAt.Format(StatementTimeLayout) != values[4] {
		return s, errInvalid("statement.expiresAt", "must be a UTC time in whole seconds such as \"2026-03-08T09:00:00Z\", got %s", quoteValue(values[4]))
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	if s.Canonical() != text {
		return s, errInvalid("statement", "is not in canonical form")
	}
	return s, nil
}

// decodeStatementSignature decodes a signature: 64 bytes r||s in base64url without padding.
func decodeStatementSignature(sig string) (*big.Int, *big.Int, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(b) != statementSignatureBytes {
		return nil, nil, errInvalid("signature", "must be the %d-byte ECDSA P-256 signature r||s in base64url without padding (%d characters), got %s",
			statementSignatureBytes, base64.RawURLEncoding.EncodedLen(statementSignatureBytes), quoteValue(sig))
	}
	return new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:]), nil
}

// VerifyBuyerStatement checks that signature (base64url r||s) is the key's ECDSA P-256
// signature of the SHA-256 of text. A malformed key or signature is INVALID_ARGUMENT; a
// signature that does not verify is FORBIDDEN (the relaying party is not the buyer).
// Verification is deterministic: every endorser reaches the same answer.
func VerifyBuyerStatement(key *BuyerKey, text, signature string) error {
	pub, err := key.publicKey("buyer.publicKey")
	if err != nil {
		return err
	}
	r, s, err := decodeStatementSignature(signature)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(text))
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return errForbidden("the signature does not verify with the buyer's key (thumbprint %s): only the buyer can sign this statement", key.Thumbprint())
	}
	return nil
}
