// Package webhook delivers the channel's chaincode events to members' own systems: durable
// subscriptions that POST each matching event of the gateway's event log to a URL, signed with
// HMAC-SHA256 (Sign, Verify), in block order per subscription, at least once, with exponential
// backoff, a delivery log, pause and resume, and a dead-letter state after too many consecutive
// failures. Targets are limited by an AllowList checked after DNS resolution at registration and
// at every attempt. The Dispatcher implements gateway.SubscriptionService over a
// gateway.SubscriptionStore (gateway/store) and the gateway.EventLog.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/gateway"
)

// Secret lengths: a secret a member supplies has at least minSecretLength printable ASCII
// characters; generated ones are "whsec_" and 32 random bytes, base64url.
const (
	minSecretLength = 32
	maxSecretLength = 256
	secretPrefix    = "whsec_"
	idPrefix        = "sub_"
)

// resolveTimeout bounds the DNS resolution of a target at registration.
const resolveTimeout = 5 * time.Second

// Dispatcher runs the webhook subscriptions of one gateway: it answers the management calls of
// gateway.SubscriptionService and, while Run runs, keeps one delivery worker per ACTIVE
// subscription. It is safe for concurrent use.
type Dispatcher struct {
	cfg      Config
	allow    *AllowList
	resolver Resolver
	store    gateway.SubscriptionStore
	events   gateway.EventLog
	client   *http.Client
	visible  func(org string, ev gateway.Event) bool
	log      *slog.Logger
	now      func() time.Time
	reg      prometheus.Registerer
	metrics  *metrics

	// mu serialises the management calls and guards workers and runCtx: a call stops a
	// subscription's worker, changes the subscription, and starts the worker again.
	mu      sync.Mutex
	workers map[string]*worker
	runCtx  context.Context
}

var _ gateway.SubscriptionService = (*Dispatcher)(nil)

// Option configures a Dispatcher.
type Option func(*Dispatcher)

// WithLogger sends the dispatcher's logs to l (discarded by default). Logs name subscriptions,
// events and outcomes, never secrets, URLs' paths and queries, or event payloads.
func WithLogger(l *slog.Logger) Option { return func(d *Dispatcher) { d.log = l } }

// WithRegisterer registers the dispatcher's metrics with r (not registered by default).
func WithRegisterer(r prometheus.Registerer) Option { return func(d *Dispatcher) { d.reg = r } }

// WithVisibility decides which events an organisation may receive, beyond its subscriptions'
// filters (default: every event; chaincode events carry no private data).
func WithVisibility(visible func(org string, ev gateway.Event) bool) Option {
	return func(d *Dispatcher) { d.visible = visible }
}

// WithClock sets the clock of timestamps and signatures (time.Now by default).
func WithClock(now func() time.Time) Option { return func(d *Dispatcher) { d.now = now } }

// New returns a dispatcher of the subscriptions in store, delivering the events of events.
func New(store gateway.SubscriptionStore, events gateway.EventLog, cfg Config, opts ...Option) (*Dispatcher, error) {
	if store == nil || events == nil {
		return nil, errors.New("webhook: a subscription store and an event log are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	allow, err := ParseAllowList(cfg.AllowedTargets)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	d := &Dispatcher{cfg: cfg, allow: allow, resolver: cfg.Resolver, store: store, events: events,
		visible: func(string, gateway.Event) bool { return true },
		log:     slog.New(slog.DiscardHandler), now: time.Now, workers: map[string]*worker{}}
	for _, o := range opts {
		o(d)
	}
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	d.client = newClient(cfg.AttemptTimeout)
	d.metrics = newMetrics(d)
	if d.reg != nil {
		if err := d.metrics.register(d.reg); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Run delivers until ctx ends: it starts a worker for every ACTIVE subscription, and the
// management calls start and stop workers while it runs. When ctx ends it stops the workers
// (an attempt in flight is abandoned and made again at the next start: at least once) and
// returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.runCtx != nil {
		d.mu.Unlock()
		return errors.New("webhook: the dispatcher is already running")
	}
	subs, err := d.store.Subscriptions()
	if err != nil {
		d.mu.Unlock()
		return fmt.Errorf("webhook: %w", err)
	}
	d.runCtx = ctx
	for _, s := range subs {
		if s.State == gateway.SubscriptionActive {
			d.startWorker(s.ID)
		}
	}
	d.mu.Unlock()
	d.log.Info("webhook delivery started", "subscriptions", len(subs))
	<-ctx.Done()
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.workers {
		d.stopWorker(id)
	}
	return nil
}

// startWorker starts the delivery worker of subscription id (after stopping an earlier one);
// d.mu is held. Nothing starts unless Run is running.
func (d *Dispatcher) startWorker(id string) {
	d.stopWorker(id)
	if d.runCtx == nil || d.runCtx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(d.runCtx)
	w := &worker{d: d, id: id, cancel: cancel, done: make(chan struct{})}
	d.workers[id] = w
	go w.run(ctx)
}

// stopWorker stops the worker of subscription id, if any, and waits for it; d.mu is held.
func (d *Dispatcher) stopWorker(id string) {
	if w, ok := d.workers[id]; ok {
		w.cancel()
		<-w.done
		delete(d.workers, id)
	}
}

// owned returns subscription id if it belongs to the caller's organisation, else NOT_FOUND (an
// organisation cannot tell another's subscriptions from missing ones).
func (d *Dispatcher) owned(caller gateway.Caller, id string) (gateway.Subscription, error) {
	sub, err := d.store.Subscription(id)
	if err == nil && sub.Org != caller.MSPID {
		err = gateway.Errorf(gateway.CodeNotFound, "subscription %s does not exist", id)
	}
	return sub, err
}

// withLag returns sub with LagBlocks: the newest block of the event log minus the checkpoint's.
func (d *Dispatcher) withLag(sub gateway.Subscription) gateway.Subscription {
	head, err := d.events.LastEventID()
	if err == nil && head.Block > sub.Checkpoint.Block {
		sub.LagBlocks = head.Block - sub.Checkpoint.Block
	}
	return sub
}

// CreateSubscription implements gateway.SubscriptionService.
func (d *Dispatcher) CreateSubscription(ctx context.Context, caller gateway.Caller, req gateway.SubscriptionRequest) (gateway.Subscription, string, error) {
	if err := d.checkTarget(ctx, req.URL); err != nil {
		return gateway.Subscription{}, "", err
	}
	if err := checkEvents(req.Events); err != nil {
		return gateway.Subscription{}, "", err
	}
	secret := req.Secret
	if secret == "" {
		secret = newSecret()
	} else if err := checkSecret(secret); err != nil {
		return gateway.Subscription{}, "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	start, err := d.startingPoint(req.After)
	if err != nil {
		return gateway.Subscription{}, "", err
	}
	if err := d.checkQuota(caller.MSPID); err != nil {
		return gateway.Subscription{}, "", err
	}
	now := d.now().UTC()
	sub := gateway.Subscription{ID: newID(), Org: caller.MSPID, CreatedBy: caller.KeyID, URL: req.URL,
		Events: append([]string{}, req.Events...), Filter: req.Filter, Description: req.Description,
		State: gateway.SubscriptionActive, Checkpoint: start, CreatedAt: now, UpdatedAt: now}
	if err := d.store.CreateSubscription(sub, []byte(secret)); err != nil {
		return gateway.Subscription{}, "", err
	}
	d.log.Info("webhook subscription created", "subscription", sub.ID, "org", sub.Org, "keyId", caller.KeyID,
		"target", targetHost(sub.URL), "after", start.String())
	d.startWorker(sub.ID)
	return d.withLag(sub), secret, nil
}

// startingPoint is the checkpoint of a new subscription: after (which must not be past the
// newest event), or the newest event of the log.
func (d *Dispatcher) startingPoint(after *gateway.EventID) (gateway.EventID, error) {
	head, err := d.events.LastEventID()
	if err != nil {
		return gateway.EventID{}, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot read the event log", Err: err}
	}
	if after == nil {
		return head, nil
	}
	if head.Less(*after) {
		return gateway.EventID{}, gateway.FieldError("after", "%s is after the newest event of the log (%s)", after, head)
	}
	return *after, nil
}

// checkQuota refuses a subscription beyond the organisation's maximum; d.mu is held.
func (d *Dispatcher) checkQuota(org string) error {
	all, err := d.store.Subscriptions()
	if err != nil {
		return err
	}
	n := 0
	for _, s := range all {
		if s.Org == org {
			n++
		}
	}
	if n >= d.cfg.MaxPerOrganization {
		return gateway.Errorf(gateway.CodeConflict, "%s already has %d subscriptions, the most this gateway keeps for one organisation: delete one first", org, n)
	}
	return nil
}

// checkTarget refuses a URL outside the allow-list, naming the field "url".
func (d *Dispatcher) checkTarget(ctx context.Context, rawURL string) error {
	if d.allow.Empty() {
		return gateway.FieldError("url", "this gateway delivers webhooks to no target: its operator allows targets with webhooks.allowedTargets")
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	if _, _, err := d.allow.Check(ctx, rawURL, d.resolver); err != nil {
		var te *TargetError
		if errors.As(err, &te) {
			return gateway.FieldError("url", "%s (the gateway delivers only to targets its operator allows in webhooks.allowedTargets)", te.Reason)
		}
		return gateway.FieldError("url", "%v", err)
	}
	return nil
}

func checkEvents(events []string) error {
	for i, e := range events {
		if e == "" {
			return gateway.FieldError(fmt.Sprintf("events[%d]", i), "must not be empty")
		}
		if slices.Contains(events[:i], e) {
			return gateway.FieldError(fmt.Sprintf("events[%d]", i), "%s is listed twice", e)
		}
	}
	return nil
}

func checkSecret(s string) error {
	if len(s) < minSecretLength || len(s) > maxSecretLength {
		return gateway.FieldError("secret", "must be %d to %d characters, got %d", minSecretLength, maxSecretLength, len(s))
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return gateway.FieldError("secret", "must be printable ASCII without spaces")
		}
	}
	return nil
}

func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return idPrefix + hex.EncodeToString(b[:])
}

// ListSubscriptions implements gateway.SubscriptionService.
func (d *Dispatcher) ListSubscriptions(_ context.Context, caller gateway.Caller) ([]gateway.Subscription, error) {
	all, err := d.store.Subscriptions()
	if err != nil {
		return nil, err
	}
	out := []gateway.Subscription{}
	for _, s := range all {
		if s.Org == caller.MSPID {
			out = append(out, d.withLag(s))
		}
	}
	return out, nil
}

// GetSubscription implements gateway.SubscriptionService.
func (d *Dispatcher) GetSubscription(_ context.Context, caller gateway.Caller, id string) (gateway.Subscription, error) {
	sub, err := d.owned(caller, id)
	if err != nil {
		return gateway.Subscription{}, err
	}
	return d.withLag(sub), nil
}

// UpdateSubscription implements gateway.SubscriptionService. The subscription keeps its state
// and checkpoint; an ACTIVE one continues with the new settings from where it was.
func (d *Dispatcher) UpdateSubscription(ctx context.Context, caller gateway.Caller, id string, patch gateway.SubscriptionPatch) (gateway.Subscription, string, error) {
	secret, err := d.checkPatch(ctx, patch)
	if err != nil {
		return gateway.Subscription{}, "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.owned(caller, id); err != nil {
		return gateway.Subscription{}, "", err
	}
	d.stopWorker(id)
	sub, err := d.store.UpdateSubscription(id, func(s *gateway.Subscription) error {
		applyPatch(s, patch)
		s.UpdatedAt = d.now().UTC()
		return nil
	})
	if err == nil && secret != "" {
		err = d.store.SetSubscriptionSecret(id, []byte(secret))
	}
	if cur, rerr := d.store.Subscription(id); rerr == nil && cur.State == gateway.SubscriptionActive {
		d.startWorker(id)
	}
	if err != nil {
		return gateway.Subscription{}, "", err
	}
	d.log.Info("webhook subscription changed", "subscription", id, "org", sub.Org, "keyId", caller.KeyID,
		"target", targetHost(sub.URL), "secretChanged", secret != "")
	if !patch.RotateSecret {
		secret = ""
	}
	return d.withLag(sub), secret, nil
}

// checkPatch validates a patch and returns the new secret it sets ("" for none).
func (d *Dispatcher) checkPatch(ctx context.Context, patch gateway.SubscriptionPatch) (string, error) {
	if patch.URL != nil {
		if err := d.checkTarget(ctx, *patch.URL); err != nil {
			return "", err
		}
	}
	if patch.Events != nil {
		if err := checkEvents(*patch.Events); err != nil {
			return "", err
		}
	}
	switch {
	case patch.Secret != nil && patch.RotateSecret:
		return "", gateway.FieldError("rotateSecret", "give either secret or rotateSecret, not both")
	case patch.Secret != nil:
		return *patch.Secret, checkSecret(*patch.Secret)
	case patch.RotateSecret:
		return newSecret(), nil
	}
	return "", nil
}

func applyPatch(s *gateway.Subscription, p gateway.SubscriptionPatch) {
	if p.URL != nil {
		s.URL = *p.URL
	}
	if p.Events != nil {
		s.Events = append([]string{}, (*p.Events)...)
	}
	if p.Filter != nil {
		s.Filter = *p.Filter
	}
	if p.Description != nil {
		s.Description = *p.Description
	}
}

// DeleteSubscription implements gateway.SubscriptionService.
func (d *Dispatcher) DeleteSubscription(_ context.Context, caller gateway.Caller, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	sub, err := d.owned(caller, id)
	if err != nil {
		return err
	}
	d.stopWorker(id)
	if err := d.store.DeleteSubscription(id); err != nil {
		return err
	}
	d.metrics.forget(id)
	d.log.Info("webhook subscription deleted", "subscription", id, "org", sub.Org, "keyId", caller.KeyID)
	return nil
}

// PauseSubscription implements gateway.SubscriptionService. Pausing a paused or dead-lettered
// subscription leaves it PAUSED; its checkpoint does not move.
func (d *Dispatcher) PauseSubscription(_ context.Context, caller gateway.Caller, id string) (gateway.Subscription, error) {
	return d.setState(caller, id, func(s *gateway.Subscription) { s.State = gateway.SubscriptionPaused })
}

// ResumeSubscription implements gateway.SubscriptionService: the subscription becomes ACTIVE
// with its failure count reset, and continues after its checkpoint (so a dead-lettered
// subscription delivers the event that failed first).
func (d *Dispatcher) ResumeSubscription(_ context.Context, caller gateway.Caller, id string) (gateway.Subscription, error) {
	return d.setState(caller, id, func(s *gateway.Subscription) {
		s.State = gateway.SubscriptionActive
		s.ConsecutiveFailures = 0
		s.FailedEvent = gateway.EventID{}
	})
}

// setState stops the subscription's worker, applies change and starts the worker again if the
// subscription is ACTIVE.
func (d *Dispatcher) setState(caller gateway.Caller, id string, change func(*gateway.Subscription)) (gateway.Subscription, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	before, err := d.owned(caller, id)
	if err != nil {
		return gateway.Subscription{}, err
	}
	d.stopWorker(id)
	sub, err := d.store.UpdateSubscription(id, func(s *gateway.Subscription) error {
		change(s)
		s.UpdatedAt = d.now().UTC()
		return nil
	})
	if err != nil {
		if before.State == gateway.SubscriptionActive {
			d.startWorker(id)
		}
		return gateway.Subscription{}, err
	}
	if sub.State == gateway.SubscriptionActive {
		d.startWorker(id)
	}
	if before.State != sub.State {
		d.log.Info("webhook subscription "+stateVerb(sub.State), "subscription", id, "org", sub.Org, "keyId", caller.KeyID,
			"from", string(before.State), "checkpoint", sub.Checkpoint.String())
	}
	return d.withLag(sub), nil
}

func stateVerb(s gateway.SubscriptionState) string {
	if s == gateway.SubscriptionActive {
		return "resumed"
	}
	return "paused"
}

// SubscriptionDeliveries implements gateway.SubscriptionService.
func (d *Dispatcher) SubscriptionDeliveries(_ context.Context, caller gateway.Caller, id string, limit int) ([]gateway.Delivery, error) {
	if _, err := d.owned(caller, id); err != nil {
		return nil, err
	}
	if limit < 1 {
		limit = 50
	}
	return d.store.Deliveries(id, limit)
}
