package gateway

import (
	"context"
	"encoding/json"
	"time"
)

// Caller is the authenticated principal of a request: the API key's organisation (an MSP ID
// whose Fabric identity the gateway signs with) and user name.
type Caller struct {
	// KeyID names the API key (never the key itself).
	KeyID string
	// MSPID is the organisation the key belongs to, e.g. "MerchantMSP".
	MSPID string
	// User is the user name the key was issued to (a managed key's label).
	User string
	// Merchants, when not empty, are the only merchant IDs the caller may act for: the
	// gateway refuses writes and private reads for other merchants (see ActsFor).
	Merchants []string
	// Admin callers may manage their organisation's API keys.
	Admin bool
	// Identity, when set, is the enrolment ID of the caller's own Fabric identity (in the
	// gateway's wallet), which the ledger signs its transactions with instead of the
	// organisation's.
	Identity string
}

// Invocation is one chaincode transaction as the ledger service runs it.
type Invocation struct {
	// Transaction is the chaincode transaction name, e.g. "CreateOrder".
	Transaction string
	// Args are the transaction arguments; xborder write transactions take one JSON object.
	Args [][]byte
	// Transient carries private values (never written to the block).
	Transient map[string][]byte
	// OrderID is the order the transaction reads or writes ("" when it is not about one
	// order). The ledger service uses it for read-your-writes: before it endorses or evaluates
	// the transaction, it waits until the peers it can observe have committed the last write
	// of that order it knows of.
	OrderID string
	// MinBlock, when not zero, is a block the caller needs committed on the peers before the
	// transaction runs: a consistency token, such as the block of a write another gateway
	// answered (X-Min-Block-Number).
	MinBlock uint64
}

// SubmitOption tunes one Ledger.Submit.
type SubmitOption func(*SubmitOptions)

// SubmitOptions are what the SubmitOption values given to one Submit ask for; implementations of
// Ledger read them with NewSubmitOptions.
type SubmitOptions struct {
	// Async returns as soon as the orderer accepted the transaction, without waiting for commit.
	Async bool
	// PrepareHook, when not nil, is called with every endorsed transaction before it is
	// submitted.
	PrepareHook PrepareHook
	// Resume, when not nil, is a transaction prepared earlier to finish instead of endorsing a
	// new one.
	Resume *PreparedTx
}

// NewSubmitOptions applies opts in order.
func NewSubmitOptions(opts ...SubmitOption) SubmitOptions {
	var o SubmitOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithAsync asks Submit to return as soon as the orderer accepted the transaction, without
// waiting for its commit (the result is not Committed).
func WithAsync() SubmitOption {
	return func(o *SubmitOptions) { o.Async = true }
}

// WithPrepareHook asks Submit to call hook with every endorsed transaction before submitting it
// (again for each fresh proposal after an MVCC conflict).
func WithPrepareHook(hook PrepareHook) SubmitOption {
	return func(o *SubmitOptions) { o.PrepareHook = hook }
}

// WithResume asks Submit to finish tx, a transaction prepared earlier (possibly by a process
// that died), instead of endorsing a new one: when tx committed VALID, Submit answers from the
// ledger as the first submission would have; when the ledger does not know tx, Submit submits
// the same transaction again; when tx committed invalid, Submit makes a fresh proposal as for a
// retry after an MVCC conflict.
func WithResume(tx PreparedTx) SubmitOption {
	return func(o *SubmitOptions) { o.Resume = &tx }
}

// SubmitResult is the outcome of a submitted transaction.
type SubmitResult struct {
	TxID string
	// Payload is the chaincode's response payload (from the endorsement).
	Payload []byte
	// Committed is true when the transaction committed as VALID; false for Async submissions.
	Committed bool
	// BlockNumber is the block the transaction committed in (Committed only).
	BlockNumber uint64
	// Attempts counts proposals made (more than one after MVCC_READ_CONFLICT retries).
	Attempts int
}

// TxStatus is the ledger's record of one transaction.
type TxStatus struct {
	TxID           string `json:"txId"`
	ValidationCode string `json:"validationCode"`
	Valid          bool   `json:"valid"`
	BlockNumber    uint64 `json:"blockNumber"`
}

// Ledger is the service the HTTP layer calls. Implementations sign with the caller's
// organisation identity and return *Error values with stable codes.
type Ledger interface {
	// Submit endorses, orders and (unless WithAsync) waits for the commit of inv.
	Submit(ctx context.Context, caller Caller, inv Invocation, opts ...SubmitOption) (*SubmitResult, error)
	// Evaluate runs a query transaction on a peer without ordering it.
	Evaluate(ctx context.Context, caller Caller, inv Invocation) ([]byte, error)
	// TransactionStatus returns the validation code and block of a transaction, NOT_FOUND if
	// the ledger does not know it.
	TransactionStatus(ctx context.Context, caller Caller, txID string) (*TxStatus, error)
	// Ready reports whether the ledger is reachable (qscc GetChainInfo succeeds).
	Ready(ctx context.Context) error
	// Organizations lists the MSP IDs this gateway holds identities for.
	Organizations() []string
}

// Event is one chaincode event as the gateway stores and streams it.
type Event struct {
	// ID is "<block>-<index>", index being the event's position among the block's events.
	ID EventID `json:"-"`
	// Name is the chaincode event name, e.g. "OrderCreated".
	Name string `json:"name"`
	// TxID is the transaction that emitted the event.
	TxID string `json:"txId"`
	// BlockNumber is the block the transaction committed in.
	BlockNumber uint64 `json:"blockNumber"`
	// OrderID is the payload's orderId, if any, for filtering.
	OrderID string `json:"orderId,omitempty"`
	// Payload is the chaincode event payload (JSON, never private data).
	Payload json.RawMessage `json:"payload"`
	// Received is when the gateway stored the event.
	Received time.Time `json:"received"`
}

// EventLog is the gateway's durable, ordered copy of the channel's chaincode events.
type EventLog interface {
	// EventsAfter returns up to limit events strictly after cursor, oldest first. The zero
	// EventID means "from the beginning".
	EventsAfter(cursor EventID, limit int) ([]Event, error)
	// LastEventID returns the ID of the newest stored event (zero if none).
	LastEventID() (EventID, error)
	// Changed returns a channel closed at the next append.
	Changed() <-chan struct{}
}

// IdempotencyRecord is the first answer given to a write with an Idempotency-Key.
type IdempotencyRecord struct {
	// Fingerprint identifies the request (method, path and body hash).
	Fingerprint string    `json:"fingerprint"`
	Status      int       `json:"status"`
	ContentType string    `json:"contentType"`
	Body        []byte    `json:"body"`
	TxID        string    `json:"txId,omitempty"`
	Created     time.Time `json:"created"`
	// Prepared is the endorsed transaction of the request, recorded before it was submitted.
	// A record with Prepared and Status 0 is a claim whose answer is not known yet (the
	// process died or the commit was not confirmed); a 202 record keeps it so that a replay
	// can resubmit a transaction that never reached the ledger.
	Prepared *PreparedTx `json:"prepared,omitempty"`
}

// Answered reports whether r holds a final answer (not only a claim).
func (r *IdempotencyRecord) Answered() bool { return r.Status != 0 }

// IdempotencyStore persists first answers by (scope, key).
type IdempotencyStore interface {
	// Begin claims (scope, key) for a request with fingerprint. It returns the stored record
	// when the key was already answered (same fingerprint), an IDEMPOTENCY_KEY_REUSED *Error
	// when it was answered for another fingerprint, and otherwise a release function that the
	// caller must call with the final record (nil: do not store, the key may be retried). When
	// the stored record has a Prepared transaction that may still have to be finished (a claim
	// without answer, or a 202 answer), Begin returns both the record and a release function:
	// the caller resumes that transaction. A concurrent request with the same key waits for
	// the in-flight one or for ctx.
	Begin(ctx context.Context, scope, key, fingerprint string) (*IdempotencyRecord, func(*IdempotencyRecord) error, error)
	// Prepare durably records (fsync'd before it returns) that the request holding the claim
	// of (scope, key) is about to submit tx, keeping any answer already stored.
	Prepare(scope, key, fingerprint string, tx PreparedTx) error
}

// PreparedTx is an endorsed transaction, ready to be submitted to the orderer: its ID and its
// serialized form, from which the ledger service can re-create and resubmit exactly the same
// transaction (the same ID: at most one copy can ever commit).
type PreparedTx struct {
	TxID  string `json:"txId"`
	Bytes []byte `json:"bytes"`
	// Proposal is the signed proposal, kept only for transactions with private (transient)
	// data: the peers hold that data between endorsement and commit only, so a transaction
	// that never reached the ledger is endorsed again from this same proposal (same ID) before
	// it is resubmitted. It holds private values: it lives only as long as the claim.
	Proposal []byte `json:"proposal,omitempty"`
}

// PrepareHook is called by Ledger.Submit (see WithPrepareHook) after endorsement and before the
// transaction is submitted. It must record tx durably; when it returns an error the transaction
// is not submitted and Submit fails with that error.
type PrepareHook func(ctx context.Context, tx PreparedTx) error
