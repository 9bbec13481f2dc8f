// Package ccruntime is the peer side of Fabric's chaincode protocol for the devnet.
//
// A Runtime dials chaincode-as-a-service servers (protos.Chaincode/Connect), performs the
// REGISTER / REGISTERED / READY handshake exactly as a Fabric v3 peer does, keeps the stream
// open (reconnecting in the background after a chaincode restart) and drives transactions over
// it: Execute sends TRANSACTION and serves every state request of the chaincode (GET_STATE,
// PUT_STATE, range and partial composite key queries with pagination, history, private data
// and its hashes, state metadata, write batches, multi-key reads) from a committed-state
// snapshot, recording the Fabric read-write set (public, hashed private and clear private)
// that the transaction would commit.
//
// Reads see the committed snapshot only, never the transaction's own writes, as on Fabric.
package ccruntime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/policy"
)

// ErrChaincodeUnavailable is wrapped by errors returned when the chaincode cannot be reached:
// it is not attached, its stream is down (the chaincode restarted and the runtime is
// reconnecting) or the stream broke during the transaction.
var ErrChaincodeUnavailable = errors.New("chaincode unavailable")

// ErrChaincodeFailed is wrapped by the error Execute returns when the chaincode answered the
// transaction with an ERROR message (as opposed to a Response with an error status, which is a
// normal Result).
var ErrChaincodeFailed = errors.New("chaincode failed")

// ErrTimeout is wrapped by the error Execute returns when the chaincode did not complete the
// transaction within the execute timeout.
var ErrTimeout = errors.New("timeout expired while executing transaction")

// ErrClosed is returned by Attach and Execute after Close.
var ErrClosed = errors.New("chaincode runtime closed")

// State is the committed world state a transaction is simulated against. *ledger.Snapshot
// satisfies it. Implementations must be safe for use by one transaction at a time.
type State interface {
	GetState(ns, key string) (*ledger.VersionedValue, error)
	// GetStateRange iterates [startKey, endKey) in byte order; an empty endKey means to the
	// end of the namespace.
	GetStateRange(ns, startKey, endKey string) (ledger.StateIterator, error)
	GetPrivateData(ns, coll, key string) (*ledger.VersionedValue, error)
	// GetPrivateDataHash returns the hashed entry of a private key: Value is the SHA-256 of
	// the private value, Version and Metadata those of the private key.
	GetPrivateDataHash(ns, coll string, keyHash []byte) (*ledger.VersionedValue, error)
	// GetHistory iterates the key's modifications, oldest first.
	GetHistory(ns, key string) (ledger.HistoryIterator, error)
}

// PrivateRangeState is implemented by States that can also iterate the clear private data of
// a collection in key order; GetPrivateDataByRange needs it.
type PrivateRangeState interface {
	GetPrivateDataRange(ns, coll, startKey, endKey string) (ledger.StateIterator, error)
}

// Invocation is one chaincode execution (endorsement simulation or evaluation).
type Invocation struct {
	// ChannelID and TxID identify the transaction; concurrent executions of one chaincode
	// must differ in at least one of them.
	ChannelID string
	TxID      string
	// Chaincode is the chaincode name, which is also its ledger namespace.
	Chaincode string
	// Signed is sent to the chaincode in ChaincodeMessage.Proposal; the shim takes the
	// creator, transient map, binding and timestamp from it. The creator's MSP ID is also
	// what memberOnlyRead/memberOnlyWrite are checked against.
	Signed *peer.SignedProposal
	// Input is the chaincode input (arguments and decorations).
	Input *peer.ChaincodeInput
	// Transient is the proposal's transient map, decoded by the caller. The chaincode reads
	// its transient data from Signed, as on Fabric; the runtime does not need this copy.
	Transient map[string][]byte
	// LocalMSPID is the organisation of the peer that simulates. A peer whose organisation is
	// not a member of a collection does not hold its private data.
	LocalMSPID string
	// Collections is the chaincode's explicit collection configuration.
	Collections []policy.Collection
	// ChannelMSPIDs lists the channel's application organisations. When set, Fabric's
	// implicit per-organisation collections (_implicit_org_<MSPID>) are available.
	ChannelMSPIDs []string
	// State is the committed snapshot the transaction reads.
	State State
	// Timestamp is the proposal timestamp. The chaincode reads it from Signed; the runtime
	// does not use it.
	Timestamp *timestamppb.Timestamp
}

// Result is the outcome of a chaincode execution that the chaincode completed.
type Result struct {
	// Response is the chaincode's response; a status >= 400 (shim.Error) is a normal Result.
	Response *peer.Response
	// Event is the chaincode event with ChaincodeId and TxId filled in, nil if none.
	Event *peer.ChaincodeEvent
	// RWSet is the public read-write set including the hashed private read-write sets.
	RWSet *rwset.TxReadWriteSet
	// PvtRWSet holds the clear private writes, nil if the transaction wrote no private data.
	PvtRWSet *rwset.TxPvtReadWriteSet
	// CollectionsWritten lists the collections with private writes, sorted.
	CollectionsWritten []string
	// PrivateReads lists the collections whose clear private data the chaincode read, sorted.
	PrivateReads []string
	// Interest is the chaincode interest a Fabric endorser reports with its proposal
	// response: which chaincode/collection policies and key-level (state-based) endorsement
	// policies the simulated transaction needs.
	Interest *peer.ChaincodeInterest
}

// Default values of the runtime options; they are Fabric's core.yaml defaults.
const (
	DefaultExecuteTimeout        = 30 * time.Second
	DefaultHandshakeTimeout      = 10 * time.Second
	DefaultTotalQueryLimit       = 100000
	DefaultMaxResultsPerResponse = 100
	DefaultMaxSizeWriteBatch     = 1000
	DefaultMaxSizeGetMultiple    = 1000
	// DefaultRangeQueryHashDegree is Fabric's maxDegreeQueryReadsHashing: range queries that
	// read more keys are recorded as a merkle summary instead of raw reads.
	DefaultRangeQueryHashDegree = 50
	// DefaultKeepaliveInterval is how long a chaincode connection may be idle before the
	// runtime pings the server: gRPC's default server enforcement minimum (MinTime, 5 min),
	// which a chaincode server built with grpc.NewServer and no enforcement policy applies.
	// A shorter interval (a Fabric peer uses 1 min, matching the shim's own ChaincodeServer)
	// makes such a server answer GoAway "too_many_pings" after three pings of an idle stream.
	DefaultKeepaliveInterval = 5 * time.Minute
	// DefaultKeepaliveTimeout is how long the runtime waits for a ping's answer before it
	// closes the connection (Fabric's default).
	DefaultKeepaliveTimeout  = 20 * time.Second
	defaultMinReconnectDelay = 50 * time.Millisecond
	defaultMaxReconnectDelay = 2 * time.Second
	maxGRPCMessageSize       = 100 * 1024 * 1024
)

type options struct {
	logger             *slog.Logger
	timeout            time.Duration
	handshakeTimeout   time.Duration
	totalQueryLimit    int32
	maxResults         int
	useWriteBatch      bool
	maxWriteBatch      uint32
	useGetMultiple     bool
	maxGetMultiple     uint32
	minReconnect       time.Duration
	maxReconnect       time.Duration
	expectedChaincodes map[string]string
	rangeHashDegree    uint32
	keepalive          keepalive.ClientParameters
}

// Option configures a Runtime.
type Option func(*options)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTimeout sets the execute timeout of a transaction (default 30 s, Fabric's
// chaincode.executetimeout).
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithHandshakeTimeout bounds the wait for the chaincode's REGISTER after the stream opens
// (default 10 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.handshakeTimeout = d
		}
	}
}

// WithTotalQueryLimit caps the number of records one query returns (default 100000, Fabric's
// ledger.state.totalQueryLimit).
func WithTotalQueryLimit(n int32) Option {
	return func(o *options) {
		if n > 0 {
			o.totalQueryLimit = n
		}
	}
}

// WithWriteBatch sets whether the runtime advertises WRITE_BATCH_STATE support in READY and
// the batch size it advertises (defaults: enabled, 1000). Without it the shim sends every
// write as its own PUT_STATE / DEL_STATE.
func WithWriteBatch(enabled bool, maxSize uint32) Option {
	return func(o *options) {
		o.useWriteBatch = enabled
		if maxSize > 0 {
			o.maxWriteBatch = maxSize
		}
	}
}

// WithGetMultipleKeys sets whether the runtime advertises GET_STATE_MULTIPLE support in READY
// and the keys per request it advertises (defaults: enabled, 1000). Without it the shim reads
// multiple keys with one GET_STATE each.
func WithGetMultipleKeys(enabled bool, maxSize uint32) Option {
	return func(o *options) {
		o.useGetMultiple = enabled
		if maxSize > 0 {
			o.maxGetMultiple = maxSize
		}
	}
}

// WithRangeQueryHashing sets the merkle degree for recording range query reads (default 50,
// as Fabric); 0 records raw reads only. Values of 1 are raised to 2, the smallest tree degree.
func WithRangeQueryHashing(maxDegree uint32) Option {
	return func(o *options) {
		o.rangeHashDegree = maxDegree
		if maxDegree == 1 {
			o.rangeHashDegree = 2
		}
	}
}

// WithReconnectBackoff sets the delay between reconnection attempts after the chaincode's
// stream broke: it starts at minDelay and doubles up to maxDelay (defaults 50 ms and 2 s).
func WithReconnectBackoff(minDelay, maxDelay time.Duration) Option {
	return func(o *options) {
		if minDelay > 0 {
			o.minReconnect = minDelay
		}
		if maxDelay >= o.minReconnect {
			o.maxReconnect = maxDelay
		}
	}
}

// WithKeepalive sets how long a chaincode connection may be idle before the runtime pings the
// server, and how long it waits for the answer (defaults DefaultKeepaliveInterval and
// DefaultKeepaliveTimeout). The interval must not be shorter than the server's keepalive
// enforcement minimum (gRPC's MinTime), or the server ends the connection; gRPC clients ping at
// most every 10 s whatever is asked. The runtime pings only while a chaincode stream is open.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(o *options) {
		if interval > 0 {
			o.keepalive.Time = interval
		}
		if timeout > 0 {
			o.keepalive.Timeout = timeout
		}
	}
}

// WithExpectedPackageID makes the runtime refuse a chaincode whose REGISTER announces a
// package ID other than packageID for the chaincode name (as a peer only accepts the package
// it launched). Without it any non-empty package ID is accepted.
func WithExpectedPackageID(name, packageID string) Option {
	return func(o *options) {
		if o.expectedChaincodes == nil {
			o.expectedChaincodes = map[string]string{}
		}
		o.expectedChaincodes[name] = packageID
	}
}

// Runtime runs chaincodes over Fabric's chaincode protocol. It is safe for concurrent use;
// concurrent Executes of one chaincode are multiplexed over its single stream by channel and
// transaction ID, as on a peer.
type Runtime struct {
	opts options

	mu     sync.Mutex
	conns  map[string]*connection
	closed bool
}

// NewRuntime returns a Runtime with no chaincode attached.
func NewRuntime(opts ...Option) *Runtime {
	o := options{
		logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		timeout:          DefaultExecuteTimeout,
		handshakeTimeout: DefaultHandshakeTimeout,
		totalQueryLimit:  DefaultTotalQueryLimit,
		maxResults:       DefaultMaxResultsPerResponse,
		useWriteBatch:    true,
		maxWriteBatch:    DefaultMaxSizeWriteBatch,
		useGetMultiple:   true,
		maxGetMultiple:   DefaultMaxSizeGetMultiple,
		minReconnect:     defaultMinReconnectDelay,
		maxReconnect:     defaultMaxReconnectDelay,
		rangeHashDegree:  DefaultRangeQueryHashDegree,
		keepalive:        keepalive.ClientParameters{Time: DefaultKeepaliveInterval, Timeout: DefaultKeepaliveTimeout},
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &Runtime{opts: o, conns: map[string]*connection{}}
}

// Attach dials the chaincode-as-a-service server of chaincode name at address (TLS when tlsCfg
// is not nil), waits for its REGISTER, answers REGISTERED and READY, and keeps the stream open:
// if it breaks, the runtime reconnects in the background with backoff. Attach returns once the
// chaincode is ready; if ctx ends first, the chaincode is detached again and the error wraps
// ErrChaincodeUnavailable.
func (r *Runtime) Attach(ctx context.Context, name, address string, tlsCfg *tls.Config) error {
	if name == "" {
		return errors.New("attach chaincode: name must not be empty")
	}
	if address == "" {
		return fmt.Errorf("attach chaincode %s: address must not be empty", name)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("attach chaincode %s: %w", name, ErrClosed)
	}
	if _, ok := r.conns[name]; ok {
		r.mu.Unlock()
		return fmt.Errorf("attach chaincode %s: already attached", name)
	}
	c, err := newConnection(r, name, address, tlsCfg)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("attach chaincode %s at %s: %w", name, address, err)
	}
	r.conns[name] = c
	r.mu.Unlock()

	c.start()
	if err := c.waitReady(ctx); err != nil {
		r.detach(name, c)
		return fmt.Errorf("attach chaincode %s at %s: %w", name, address, err)
	}
	return nil
}

// Detach closes the stream to chaincode name and stops reconnecting to it.
func (r *Runtime) Detach(name string) error {
	r.mu.Lock()
	c, ok := r.conns[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("detach chaincode %s: not attached", name)
	}
	r.detach(name, c)
	return nil
}

func (r *Runtime) detach(name string, c *connection) {
	r.mu.Lock()
	if r.conns[name] == c {
		delete(r.conns, name)
	}
	r.mu.Unlock()
	c.close()
}

// Chaincodes returns the names of the attached chaincodes, sorted.
func (r *Runtime) Chaincodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.conns))
}

// Ready reports whether chaincode name is attached and its stream is up.
func (r *Runtime) Ready(name string) bool {
	c := r.connection(name)
	return c != nil && c.currentSession() != nil
}

// PackageID returns the package ID chaincode name announced in its last REGISTER, "" if it
// has not registered.
func (r *Runtime) PackageID(name string) string {
	c := r.connection(name)
	if c == nil {
		return ""
	}
	return c.packageID()
}

func (r *Runtime) connection(name string) *connection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[name]
}

// Close detaches every chaincode. Executes in flight fail with ErrChaincodeUnavailable.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	conns := make([]*connection, 0, len(r.conns))
	for _, c := range r.conns {
		conns = append(conns, c)
	}
	r.conns = map[string]*connection{}
	r.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return nil
}
