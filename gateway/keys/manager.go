// Package keys manages the gateway's API keys (gateway.KeyService): operators create, list,
// label and revoke keys kept hashed in the gateway's store, each bound to its organisation and
// optionally to merchants; a key may sign with a Fabric identity of its own, registered and
// enrolled through its organisation's Fabric CA (carrying the merchants in the certificate's
// xborder.merchantId attribute, so the chaincode enforces them too) and kept in the store's
// wallet. Revocation takes effect at the next request; rotation re-enrols the key's identity
// while requests in flight finish with the old one.
package keys

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/fabricca"
)

// MerchantAttribute and RoleAttribute are the certificate attributes of a key's own identity:
// the merchants it acts for (comma-separated, as the chaincode reads them) and its role.
const (
	MerchantAttribute = "xborder.merchantId"
	RoleAttribute     = "xborder.role"
	// RoleUser is the role of an API key's identity.
	RoleUser = "api-user"
)

// touchEvery is how often a key's last use is written to the store at most.
const touchEvery = time.Minute

// Store keeps keys and the wallet (implemented by gateway/store.Store).
type Store interface {
	gateway.Wallet
	CreateAPIKey(k gateway.APIKey) error
	APIKey(id string) (gateway.APIKey, error)
	APIKeyByHash(hash string) (gateway.APIKey, bool, error)
	APIKeys(mspID string) ([]gateway.APIKey, error)
	UpdateAPIKey(id string, fn func(*gateway.APIKey) error) (gateway.APIKey, error)
	PutWalletIdentity(id gateway.WalletIdentity) error
	DeleteWalletIdentity(id string) error
}

// CA is an organisation's Fabric CA as the manager uses it (implemented by fabricca.Client).
type CA interface {
	Register(ctx context.Context, r fabricca.Registration) (string, error)
	Enroll(ctx context.Context, id, secret string) (*fabricca.Enrollment, error)
	Revoke(ctx context.Context, id, reason string) error
	RevokeCertificate(ctx context.Context, serial, aki, reason string) error
}

// IdentityCache drops the signing state of a user identity (implemented by fabric.Client).
type IdentityCache interface {
	ForgetIdentity(id string)
}

// Manager implements gateway.KeyService.
type Manager struct {
	store      Store
	cas        map[string]CA
	identities IdentityCache
	orgs       map[string]bool
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time
}

var _ gateway.KeyService = (*Manager)(nil)

// Option configures a Manager.
type Option func(*Manager)

// WithCA registers the Fabric CA of organisation mspID (keys of it may then have identities).
func WithCA(mspID string, ca CA) Option { return func(m *Manager) { m.cas[mspID] = ca } }

// WithIdentityCache has the manager drop the signing state of identities it rotates or revokes.
func WithIdentityCache(c IdentityCache) Option { return func(m *Manager) { m.identities = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// New returns a manager of the keys in store for the organisations orgs.
func New(store Store, orgs []string, opts ...Option) *Manager {
	m := &Manager{store: store, cas: map[string]CA{}, orgs: map[string]bool{}, log: slog.New(slog.DiscardHandler),
		now: time.Now, touched: map[string]time.Time{}}
	for _, o := range orgs {
		m.orgs[o] = true
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// HasCA reports whether keys of mspID may have identities of their own.
func (m *Manager) HasCA(mspID string) bool { return m.cas[mspID] != nil }

// Authenticate implements gateway.KeyService.
func (m *Manager) Authenticate(_ context.Context, key string) (gateway.Caller, error) {
	k, found, err := m.store.APIKeyByHash(gateway.KeyHash(key))
	if err != nil {
		return gateway.Caller{}, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot read the API keys", Err: err}
	}
	if !found {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "unknown API key")
	}
	if k.Revoked() {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "this API key was revoked")
	}
	m.touch(k.ID)
	return k.Caller(), nil
}

// CheckKey implements gateway.KeyService.
func (m *Manager) CheckKey(_ context.Context, keyID string) error {
	k, err := m.store.APIKey(keyID)
	switch {
	case gateway.ErrorCode(err) == gateway.CodeNotFound:
		return nil
	case err != nil:
		return &gateway.Error{Code: gateway.CodeInternal, Message: "cannot read the API keys", Err: err}
	case k.Revoked():
		return gateway.Errorf(gateway.CodeUnauthenticated, "this API key was revoked")
	}
	return nil
}

// touch records a key's use, at most once every touchEvery.
func (m *Manager) touch(id string) {
	now := m.now()
	m.mu.Lock()
	last, ok := m.touched[id]
	if ok && now.Sub(last) < touchEvery {
		m.mu.Unlock()
		return
	}
	m.touched[id] = now
	m.mu.Unlock()
	t := now.UTC().Truncate(time.Second)
	if _, err := m.store.UpdateAPIKey(id, func(k *gateway.APIKey) error { k.LastUsedAt = &t; return nil }); err != nil {
		m.log.Warn("cannot record an API key's use", "keyId", id, "error", err)
	}
}

// requireAdmin refuses callers that are not admin keys.
func requireAdmin(caller gateway.Caller) error {
	if !caller.Admin {
		return gateway.Errorf(gateway.CodeForbidden, "only an admin API key of %s may manage its keys", caller.MSPID)
	}
	return nil
}

// CreateKey implements gateway.KeyService.
func (m *Manager) CreateKey(ctx context.Context, caller gateway.Caller, req gateway.APIKeyRequest) (gateway.APIKey, string, error) {
	if err := requireAdmin(caller); err != nil {
		return gateway.APIKey{}, "", err
	}
	if req.MSPID == "" {
		req.MSPID = caller.MSPID
	}
	if req.MSPID != caller.MSPID {
		return gateway.APIKey{}, "", &gateway.Error{Code: gateway.CodeForbidden, Field: "mspId",
			Message: fmt.Sprintf("an admin key of %s may create keys of %s only", caller.MSPID, caller.MSPID)}
	}
	return m.Create(ctx, req)
}

// Create makes a key of req.MSPID without an admin caller: the operator's path (xborder keys
// create on the data directory).
func (m *Manager) Create(ctx context.Context, req gateway.APIKeyRequest) (gateway.APIKey, string, error) {
	if err := gateway.ValidateKeyRequest(req); err != nil {
		return gateway.APIKey{}, "", err
	}
	if !m.orgs[req.MSPID] {
		return gateway.APIKey{}, "", gateway.FieldError("mspId", "%q is not an organisation of this gateway", req.MSPID)
	}
	if req.OwnIdentity && m.cas[req.MSPID] == nil {
		return gateway.APIKey{}, "", gateway.FieldError("ownIdentity", "no Fabric CA is configured for %s", req.MSPID)
	}
	secret, id, err := gateway.NewManagedKey()
	if err != nil {
		return gateway.APIKey{}, "", err
	}
	k := gateway.APIKey{ID: id, MSPID: req.MSPID, Label: req.Label, Merchants: req.Merchants, Admin: req.Admin,
		SHA256: gateway.KeyHash(secret), CreatedAt: m.now().UTC().Truncate(time.Second)}
	if req.OwnIdentity {
		if err := m.enrolNew(ctx, &k); err != nil {
			return gateway.APIKey{}, "", err
		}
	}
	if err := m.store.CreateAPIKey(k); err != nil {
		return gateway.APIKey{}, "", err
	}
	m.log.Info("API key created", "keyId", k.ID, "org", k.MSPID, "merchants", strings.Join(k.Merchants, ","), "identity", k.Identity)
	return k, secret, nil
}

// enrolNew registers and enrols the key's own identity (enrolment ID: the key's ID) and keeps
// it in the wallet.
func (m *Manager) enrolNew(ctx context.Context, k *gateway.APIKey) error {
	ca := m.cas[k.MSPID]
	attrs := []fabricca.Attribute{{Name: RoleAttribute, Value: RoleUser, ECert: true}}
	if len(k.Merchants) > 0 {
		attrs = append(attrs, fabricca.Attribute{Name: MerchantAttribute, Value: strings.Join(k.Merchants, ","), ECert: true})
	}
	secret, err := ca.Register(ctx, fabricca.Registration{ID: k.ID, Type: "client", Attributes: attrs, MaxEnrollments: -1})
	if err != nil {
		return &gateway.Error{Code: gateway.CodeUnavailable, Message: "the Fabric CA refused to register the key's identity", Err: err}
	}
	return m.enrol(ctx, k, secret)
}

// enrol enrols identity k.ID with secret, stores it in the wallet and notes its serial.
func (m *Manager) enrol(ctx context.Context, k *gateway.APIKey, secret string) error {
	e, err := m.cas[k.MSPID].Enroll(ctx, k.ID, secret)
	if err != nil {
		return &gateway.Error{Code: gateway.CodeUnavailable, Message: "the Fabric CA refused to enrol the key's identity", Err: err}
	}
	if err := m.store.PutWalletIdentity(gateway.WalletIdentity{ID: k.ID, MSPID: k.MSPID, CertificatePEM: e.CertificatePEM,
		PrivateKeyPEM: e.PrivateKeyPEM, Secret: secret}); err != nil {
		return &gateway.Error{Code: gateway.CodeInternal, Message: "cannot keep the key's identity", Err: err}
	}
	k.Identity, k.IdentitySerial = k.ID, e.Certificate.SerialNumber.Text(16)
	return nil
}

// ListKeys implements gateway.KeyService.
func (m *Manager) ListKeys(_ context.Context, caller gateway.Caller) ([]gateway.APIKey, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	return m.store.APIKeys(caller.MSPID)
}

// GetKey implements gateway.KeyService.
func (m *Manager) GetKey(_ context.Context, caller gateway.Caller, id string) (gateway.APIKey, error) {
	if err := requireAdmin(caller); err != nil {
		return gateway.APIKey{}, err
	}
	return m.ownKey(caller.MSPID, id)
}

// ownKey returns key id when it belongs to mspID (NOT_FOUND otherwise: an admin does not learn
// another organisation's key IDs).
func (m *Manager) ownKey(mspID, id string) (gateway.APIKey, error) {
	k, err := m.store.APIKey(id)
	if err != nil {
		return gateway.APIKey{}, err
	}
	if mspID != "" && k.MSPID != mspID {
		return gateway.APIKey{}, gateway.Errorf(gateway.CodeNotFound, "no API key %s", id)
	}
	return k, nil
}

// LabelKey implements gateway.KeyService.
func (m *Manager) LabelKey(_ context.Context, caller gateway.Caller, id, label string) (gateway.APIKey, error) {
	if err := requireAdmin(caller); err != nil {
		return gateway.APIKey{}, err
	}
	return m.Label(caller.MSPID, id, label)
}

// Label replaces the label of key id of organisation mspID (any organisation when empty).
func (m *Manager) Label(mspID, id, label string) (gateway.APIKey, error) {
	if err := gateway.ValidateLabel(label); err != nil {
		return gateway.APIKey{}, err
	}
	if _, err := m.ownKey(mspID, id); err != nil {
		return gateway.APIKey{}, err
	}
	return m.store.UpdateAPIKey(id, func(k *gateway.APIKey) error { k.Label = label; return nil })
}

// RevokeKey implements gateway.KeyService.
func (m *Manager) RevokeKey(ctx context.Context, caller gateway.Caller, id string) (gateway.APIKey, error) {
	if err := requireAdmin(caller); err != nil {
		return gateway.APIKey{}, err
	}
	if id == caller.KeyID {
		return gateway.APIKey{}, gateway.Errorf(gateway.CodeFailedPrecondition, "an admin key cannot revoke itself")
	}
	return m.Revoke(ctx, caller.MSPID, id)
}

// Revoke revokes key id of organisation mspID (any organisation when empty) at once, then its
// identity at the CA (a failure there is logged: the key is refused either way) and drops the
// identity from the wallet. Revoking a revoked key changes nothing.
func (m *Manager) Revoke(ctx context.Context, mspID, id string) (gateway.APIKey, error) {
	if _, err := m.ownKey(mspID, id); err != nil {
		return gateway.APIKey{}, err
	}
	now := m.now().UTC().Truncate(time.Second)
	k, err := m.store.UpdateAPIKey(id, func(k *gateway.APIKey) error {
		if k.RevokedAt == nil {
			k.RevokedAt = &now
		}
		return nil
	})
	if err != nil {
		return gateway.APIKey{}, err
	}
	if k.Identity == "" {
		return k, nil
	}
	if m.identities != nil {
		m.identities.ForgetIdentity(k.Identity)
	}
	if ca := m.cas[k.MSPID]; ca != nil {
		if err := ca.Revoke(ctx, k.Identity, "key revoked"); err != nil {
			m.log.Warn("the Fabric CA did not revoke the key's identity", "keyId", k.ID, "identity", k.Identity, "error", err)
		}
	}
	if err := m.store.DeleteWalletIdentity(k.Identity); err != nil {
		m.log.Warn("cannot drop a revoked key's identity from the wallet", "keyId", k.ID, "error", err)
	}
	m.log.Info("API key revoked", "keyId", k.ID, "org", k.MSPID)
	return k, nil
}

// RotateIdentity implements gateway.KeyService.
func (m *Manager) RotateIdentity(ctx context.Context, caller gateway.Caller, id string) (gateway.APIKey, error) {
	if err := requireAdmin(caller); err != nil {
		return gateway.APIKey{}, err
	}
	return m.Rotate(ctx, caller.MSPID, id)
}

// Rotate re-enrols the identity of key id of organisation mspID (any when empty): a new key
// pair and certificate replace the old ones in the wallet, the next request signs with them,
// and the old certificate is revoked at the CA.
func (m *Manager) Rotate(ctx context.Context, mspID, id string) (gateway.APIKey, error) {
	k, err := m.ownKey(mspID, id)
	if err != nil {
		return gateway.APIKey{}, err
	}
	switch {
	case k.Revoked():
		return gateway.APIKey{}, gateway.Errorf(gateway.CodeFailedPrecondition, "API key %s is revoked", id)
	case k.Identity == "":
		return gateway.APIKey{}, gateway.Errorf(gateway.CodeFailedPrecondition, "API key %s signs with its organisation's identity", id)
	case m.cas[k.MSPID] == nil:
		return gateway.APIKey{}, gateway.Errorf(gateway.CodeUnavailable, "no Fabric CA is configured for %s", k.MSPID)
	}
	old, err := m.store.WalletIdentity(k.Identity)
	if err != nil {
		return gateway.APIKey{}, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot read the key's identity", Err: err}
	}
	if err := m.enrol(ctx, &k, old.Secret); err != nil {
		return gateway.APIKey{}, err
	}
	serial := k.IdentitySerial
	k, err = m.store.UpdateAPIKey(id, func(s *gateway.APIKey) error { s.IdentitySerial = serial; return nil })
	if err != nil {
		return gateway.APIKey{}, err
	}
	if m.identities != nil {
		m.identities.ForgetIdentity(k.Identity)
	}
	m.revokeOldCertificate(ctx, k, old.CertificatePEM)
	m.log.Info("API key identity rotated", "keyId", k.ID, "identity", k.Identity, "serial", serial)
	return k, nil
}

// revokeOldCertificate revokes a rotated-out certificate (a failure is logged).
func (m *Manager) revokeOldCertificate(ctx context.Context, k gateway.APIKey, certPEM []byte) {
	e, err := fabricca.ParseCertificatePEM(certPEM)
	if err != nil {
		m.log.Warn("cannot read a rotated-out certificate", "keyId", k.ID, "error", err)
		return
	}
	serial := e.SerialNumber.Text(16)
	if err := m.cas[k.MSPID].RevokeCertificate(ctx, serial, hex.EncodeToString(e.AuthorityKeyId), "superseded"); err != nil {
		m.log.Warn("the Fabric CA did not revoke a rotated-out certificate", "keyId", k.ID, "serial", serial, "error", err)
	}
}
