package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// SubscriptionState is where a webhook subscription stands.
type SubscriptionState string

// The states of a subscription. An ACTIVE subscription delivers; a PAUSED one waits for a resume;
// a DEAD_LETTER one stopped after too many consecutive failures to deliver the same event
// (FailedEvent), and a resume delivers that event again first.
const (
	SubscriptionActive     SubscriptionState = "ACTIVE"
	SubscriptionPaused     SubscriptionState = "PAUSED"
	SubscriptionDeadLetter SubscriptionState = "DEAD_LETTER"
)

// SubscriptionStates lists the states, in the order metrics and documentation show them.
func SubscriptionStates() []SubscriptionState {
	return []SubscriptionState{SubscriptionActive, SubscriptionPaused, SubscriptionDeadLetter}
}

// EventFilter narrows a subscription to the events whose payload has these values; an empty
// field matches every event. An event whose payload lacks a filtered field does not match.
type EventFilter struct {
	// MerchantID matches the payload's "merchantId".
	MerchantID string `json:"merchantId,omitempty"`
	// OrderID matches the event's order (the payload's "orderId").
	OrderID string `json:"orderId,omitempty"`
	// Status matches the payload's "status", the order's state after the transaction.
	Status string `json:"status,omitempty"`
}

// Subscription is a member's standing request to receive the channel's chaincode events at a URL,
// signed with a secret the gateway keeps (never part of this type). It belongs to the
// organisation of the API key that created it: only keys of that organisation see or change it.
type Subscription struct {
	// ID names the subscription ("sub_" and 24 hexadecimal digits).
	ID string `json:"id"`
	// Org is the MSP ID of the organisation the subscription belongs to.
	Org string `json:"mspId"`
	// CreatedBy is the ID of the API key that created it (never the key).
	CreatedBy string `json:"createdBy"`
	// URL is where events are POSTed.
	URL string `json:"url"`
	// Events are the event names delivered; empty means every event.
	Events []string `json:"events"`
	// Filter narrows the events further.
	Filter EventFilter `json:"filter"`
	// Description is the member's own note.
	Description string `json:"description,omitempty"`
	// State is ACTIVE, PAUSED or DEAD_LETTER.
	State SubscriptionState `json:"state"`
	// Checkpoint is the last event of the log the subscription is done with: delivered, or passed
	// over because it did not match. Delivery resumes after it, also after a restart.
	Checkpoint EventID `json:"checkpoint"`
	// ConsecutiveFailures counts the failed attempts at the event after Checkpoint.
	ConsecutiveFailures int `json:"consecutiveFailures"`
	// FailedEvent is the event that dead-lettered the subscription (zero otherwise).
	FailedEvent EventID `json:"failedEventId,omitzero"`
	// LastError describes the last failed attempt ("" after a success).
	LastError string `json:"lastError,omitempty"`
	// CreatedAt and UpdatedAt are when the subscription was created and last changed.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// LagBlocks is how many blocks the newest event of the gateway's log is ahead of
	// Checkpoint. It is computed when the subscription is read, never stored.
	LagBlocks uint64 `json:"lagBlocks"`
}

// Matches reports whether ev is one of the events s asks for (name and filter). Whether the
// organisation may see the event at all is decided separately.
func (s *Subscription) Matches(ev Event) bool {
	if len(s.Events) > 0 && !slices.Contains(s.Events, ev.Name) {
		return false
	}
	f := s.Filter
	if f.OrderID != "" && ev.OrderID != f.OrderID {
		return false
	}
	if f.MerchantID == "" && f.Status == "" {
		return true
	}
	var p struct {
		MerchantID *string `json:"merchantId"`
		Status     *string `json:"status"`
	}
	if json.Unmarshal(ev.Payload, &p) != nil {
		return false
	}
	return matchField(f.MerchantID, p.MerchantID) && matchField(f.Status, p.Status)
}

// matchField reports whether a payload value matches a filter value ("" matches anything).
func matchField(want string, got *string) bool {
	return want == "" || (got != nil && *got == want)
}

// DeliveryOutcome is the result of one attempt to deliver an event.
type DeliveryOutcome string

// The outcomes of a delivery attempt.
const (
	// DeliverySucceeded: the receiver answered 2xx.
	DeliverySucceeded DeliveryOutcome = "SUCCEEDED"
	// DeliveryHTTPError: the receiver answered another status (redirects are not followed).
	DeliveryHTTPError DeliveryOutcome = "HTTP_ERROR"
	// DeliveryNetworkError: no answer (connection refused, reset, timeout).
	DeliveryNetworkError DeliveryOutcome = "NETWORK_ERROR"
	// DeliveryRefused: the target is outside the gateway's allow-list (for example after its
	// name came to resolve to an internal address); nothing was sent.
	DeliveryRefused DeliveryOutcome = "REFUSED"
)

// DeliveryOutcomes lists the outcomes, in the order metrics and documentation show them.
func DeliveryOutcomes() []DeliveryOutcome {
	return []DeliveryOutcome{DeliverySucceeded, DeliveryHTTPError, DeliveryNetworkError, DeliveryRefused}
}

// Delivery is one attempt to deliver an event to a subscription, as its delivery log keeps it.
type Delivery struct {
	// Seq numbers the subscription's attempts, from 1.
	Seq uint64 `json:"seq"`
	// EventID and EventName identify the event.
	EventID   EventID `json:"eventId"`
	EventName string  `json:"eventName"`
	// Attempt is the attempt's number for this event (1 for the first).
	Attempt int `json:"attempt"`
	// Time is when the attempt started.
	Time    time.Time       `json:"time"`
	Outcome DeliveryOutcome `json:"outcome"`
	// StatusCode is the receiver's HTTP status (0 when it did not answer).
	StatusCode int `json:"statusCode,omitempty"`
	// LatencyMillis is how long the attempt took.
	LatencyMillis int64 `json:"latencyMs"`
	// Error describes a failure ("" on success).
	Error string `json:"error,omitempty"`
}

// SubscriptionRequest is what a member asks for when it creates a subscription.
type SubscriptionRequest struct {
	URL         string      `json:"url"`
	Events      []string    `json:"events"`
	Filter      EventFilter `json:"filter"`
	Description string      `json:"description"`
	// Secret, when not empty, is the signing secret to use; otherwise the gateway generates one.
	Secret string `json:"secret"`
	// After, when set, is the event after which delivery starts ("0-0": from the first event of
	// the log); by default delivery starts after the newest event of the log.
	After *EventID `json:"after"`
}

// SubscriptionPatch changes a subscription: each field that is set replaces the subscription's.
type SubscriptionPatch struct {
	URL         *string      `json:"url"`
	Events      *[]string    `json:"events"`
	Filter      *EventFilter `json:"filter"`
	Description *string      `json:"description"`
	// Secret replaces the signing secret with the given one; RotateSecret with a new one the
	// gateway generates (and answers once).
	Secret       *string `json:"secret"`
	RotateSecret bool    `json:"rotateSecret"`
}

// SubscriptionService manages webhook subscriptions for API callers. Every method acts within
// the caller's organisation: another organisation's subscription is NOT_FOUND. Errors are *Error
// values with stable codes.
type SubscriptionService interface {
	// CreateSubscription registers a subscription and returns it with its signing secret, which
	// is never shown again.
	CreateSubscription(ctx context.Context, caller Caller, req SubscriptionRequest) (Subscription, string, error)
	// ListSubscriptions returns the caller's organisation's subscriptions, by ID.
	ListSubscriptions(ctx context.Context, caller Caller) ([]Subscription, error)
	// GetSubscription returns one subscription.
	GetSubscription(ctx context.Context, caller Caller, id string) (Subscription, error)
	// UpdateSubscription applies patch; the secret is returned when the gateway generated a new
	// one (RotateSecret), else "".
	UpdateSubscription(ctx context.Context, caller Caller, id string, patch SubscriptionPatch) (Subscription, string, error)
	// DeleteSubscription stops and removes a subscription with its delivery log.
	DeleteSubscription(ctx context.Context, caller Caller, id string) error
	// PauseSubscription stops deliveries until ResumeSubscription.
	PauseSubscription(ctx context.Context, caller Caller, id string) (Subscription, error)
	// ResumeSubscription restarts a paused or dead-lettered subscription where it stopped: the
	// event that failed is delivered again first.
	ResumeSubscription(ctx context.Context, caller Caller, id string) (Subscription, error)
	// SubscriptionDeliveries returns up to limit entries of the delivery log, newest first.
	SubscriptionDeliveries(ctx context.Context, caller Caller, id string, limit int) ([]Delivery, error)
}

// SubscriptionStore persists subscriptions, their signing secrets, checkpoints and delivery logs
// durably (a change is on disk when the call returns). Unknown IDs are NOT_FOUND *Error values.
type SubscriptionStore interface {
	// CreateSubscription stores a new subscription and its secret.
	CreateSubscription(sub Subscription, secret []byte) error
	// Subscription returns one subscription.
	Subscription(id string) (Subscription, error)
	// Subscriptions returns every subscription, by ID.
	Subscriptions() ([]Subscription, error)
	// UpdateSubscription applies change to the stored subscription in one transaction and
	// returns the result; when change fails nothing is written.
	UpdateSubscription(id string, change func(*Subscription) error) (Subscription, error)
	// RecordDelivery appends d to the subscription's delivery log (which keeps a bounded number
	// of entries, oldest dropped first, and numbers d) and applies change, in one transaction.
	RecordDelivery(id string, d Delivery, change func(*Subscription) error) (Subscription, error)
	// SubscriptionSecret returns the signing secret.
	SubscriptionSecret(id string) ([]byte, error)
	// SetSubscriptionSecret replaces the signing secret.
	SetSubscriptionSecret(id string, secret []byte) error
	// DeleteSubscription removes the subscription, its secret and its delivery log.
	DeleteSubscription(id string) error
	// Deliveries returns up to limit entries of the delivery log, newest first.
	Deliveries(id string, limit int) ([]Delivery, error)
}
