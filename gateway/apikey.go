package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ManagedKeyPrefix starts every managed API key ("xbk_" and 48 hexadecimal digits), so that a
// key found in a log or a repository is recognisable.
const ManagedKeyPrefix = "xbk_"

// APIKey is a managed API key as the gateway keeps it: never the key itself, only its SHA-256,
// with the organisation it acts for and what narrows it.
type APIKey struct {
	// ID names the key ("k-" and 16 hexadecimal digits); it is not secret.
	ID string `json:"id"`
	// MSPID is the organisation the key acts for.
	MSPID string `json:"mspId"`
	// Label is the operator's note ("checkout frontend").
	Label string `json:"label,omitempty"`
	// Merchants, when not empty, are the only merchant IDs the key may act for.
	Merchants []string `json:"merchants,omitempty"`
	// Admin keys may manage the keys of their organisation (/api/v1/admin/keys).
	Admin bool `json:"admin"`
	// Identity is the enrolment ID of the key's own Fabric identity ("" when the key signs
	// with its organisation's identity); IdentitySerial is its certificate's serial number.
	Identity       string `json:"identity,omitempty"`
	IdentitySerial string `json:"identitySerial,omitempty"`
	// SHA256 is the hex SHA-256 of the key; it never leaves the gateway.
	SHA256 string `json:"-"`
	// CreatedAt, LastUsedAt and RevokedAt are the key's life (LastUsedAt is recorded at most
	// once a minute).
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// Revoked reports whether the key has been revoked.
func (k APIKey) Revoked() bool { return k.RevokedAt != nil }

// Caller returns the principal a request made with the key acts as.
func (k APIKey) Caller() Caller {
	return Caller{KeyID: k.ID, MSPID: k.MSPID, User: k.Label, Merchants: slices.Clone(k.Merchants), Admin: k.Admin, Identity: k.Identity}
}

// APIKeyRequest asks for a new managed key.
type APIKeyRequest struct {
	// MSPID is the organisation (the admin's own when empty; an admin may name no other).
	MSPID     string   `json:"mspId,omitempty"`
	Label     string   `json:"label,omitempty"`
	Merchants []string `json:"merchants,omitempty"`
	Admin     bool     `json:"admin,omitempty"`
	// OwnIdentity enrols a Fabric identity of the key's own, carrying Merchants in its
	// certificate, instead of signing with the organisation's identity.
	OwnIdentity bool `json:"ownIdentity,omitempty"`
}

// KeyService manages API keys. Every method acts within the organisation of caller (who must
// be an admin key of it) and answers *Error values: FORBIDDEN for a non-admin, NOT_FOUND for a
// key of another organisation.
type KeyService interface {
	// CreateKey makes a key and returns it with the key itself, which is shown only once.
	CreateKey(ctx context.Context, caller Caller, req APIKeyRequest) (APIKey, string, error)
	// ListKeys returns the organisation's keys, revoked ones included, oldest first.
	ListKeys(ctx context.Context, caller Caller) ([]APIKey, error)
	// GetKey returns one key.
	GetKey(ctx context.Context, caller Caller, id string) (APIKey, error)
	// LabelKey replaces a key's label.
	LabelKey(ctx context.Context, caller Caller, id, label string) (APIKey, error)
	// RevokeKey revokes a key at once (and its Fabric identity's certificate).
	RevokeKey(ctx context.Context, caller Caller, id string) (APIKey, error)
	// Authenticate returns the caller of a managed key (UNAUTHENTICATED when the key is
	// unknown or revoked) and records its use.
	Authenticate(ctx context.Context, key string) (Caller, error)
	// CheckKey returns UNAUTHENTICATED when keyID names a managed key that was revoked (nil
	// for active keys and for keys it does not manage): for what outlives one request (event
	// streams, stream tickets).
	CheckKey(ctx context.Context, keyID string) error
	// RotateIdentity enrols a fresh certificate and private key for a key's own identity; the
	// key itself does not change and requests in flight finish with the old identity.
	RotateIdentity(ctx context.Context, caller Caller, id string) (APIKey, error)
}

// NewManagedKey returns a fresh random managed key and its ID.
func NewManagedKey() (key, id string, err error) {
	var b [24 + 8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", &Error{Code: CodeInternal, Message: "cannot create an API key", Err: err}
	}
	return ManagedKeyPrefix + hex.EncodeToString(b[:24]), "k-" + hex.EncodeToString(b[24:]), nil
}

// KeyHash returns the hex SHA-256 of an API key, as the gateway stores it.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ValidateKeyRequest checks a key request's fields: a label of at most 200 characters, up to
// 50 merchant IDs as the chaincode accepts them, no duplicates.
func ValidateKeyRequest(req APIKeyRequest) error {
	if err := ValidateLabel(req.Label); err != nil {
		return err
	}
	if len(req.Merchants) > 50 {
		return FieldError("merchants", "at most 50 merchant IDs")
	}
	seen := map[string]bool{}
	for i, m := range req.Merchants {
		if !validMerchantID(m) {
			return FieldError("merchants", "merchants[%d] %q is not a merchant ID (1 to 64 letters, digits, '-', '_', '.' or ':', starting with a letter or digit)", i, m)
		}
		if seen[m] {
			return FieldError("merchants", "merchants[%d] %q is listed twice", i, m)
		}
		seen[m] = true
	}
	if req.OwnIdentity && req.Admin {
		return FieldError("ownIdentity", "an admin key signs with its organisation's identity")
	}
	return nil
}

// ValidateLabel checks a key label: at most 200 characters, no control characters.
func ValidateLabel(label string) error {
	if len([]rune(label)) > 200 {
		return FieldError("label", "at most 200 characters")
	}
	if strings.ContainsFunc(label, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return FieldError("label", "must not contain control characters")
	}
	return nil
}

func validMerchantID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	if strings.ContainsRune("-_.:", rune(s[0])) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '-', r == '_', r == '.', r == ':':
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		default:
			return false
		}
	}
	return true
}

// ActsFor reports whether the caller may act for merchantID: always when the caller is bound
// to no merchant.
func (c Caller) ActsFor(merchantID string) bool {
	return len(c.Merchants) == 0 || slices.Contains(c.Merchants, merchantID)
}

// SeesEvent reports whether the caller may see ev: always when the caller is bound to no
// merchant; otherwise only events whose payload names one of its merchants ("merchantId").
func (c Caller) SeesEvent(ev Event) bool {
	if len(c.Merchants) == 0 {
		return true
	}
	var p struct {
		MerchantID string `json:"merchantId"`
	}
	if json.Unmarshal(ev.Payload, &p) != nil || p.MerchantID == "" {
		return false
	}
	return slices.Contains(c.Merchants, p.MerchantID)
}

// MerchantForbidden is the error of a caller bound to merchants acting for another one, naming
// the request field that carries it.
func MerchantForbidden(field, merchantID string, c Caller) *Error {
	return &Error{Code: CodeForbidden, Field: field,
		Message: "this API key may act only for merchants [" + strings.Join(c.Merchants, ", ") + "], not " + strconv.Quote(merchantID)}
}

// WalletIdentity is a Fabric signing identity the gateway keeps for a managed key: its
// enrolment ID, organisation, certificate and private key (PEM), and the enrolment secret it
// re-enrols with when rotated.
type WalletIdentity struct {
	ID             string
	MSPID          string
	CertificatePEM []byte
	PrivateKeyPEM  []byte
	Secret         string
}

// Wallet holds the Fabric identities of managed keys that sign as their own users.
type Wallet interface {
	// WalletIdentity returns the identity enrolled as id (NOT_FOUND when there is none).
	WalletIdentity(id string) (WalletIdentity, error)
}
