// Package fabric implements the gateway's Ledger service with the Hyperledger Fabric Gateway
// SDK: one reused gRPC connection per peer, one signing identity per organisation, transient
// data for private fields (Fabric's gateway picks endorsers that are members of the collections
// the chaincode touches), commit waiting with a timeout, bounded retry of MVCC and phantom read
// conflicts with fresh proposals, read-your-writes across peers that commit on their own
// (Consistency: waiting for the observed peers' heights, bounded retries of stale reads and
// endorsement mismatches), transactions recorded before submission and resumed after a crash,
// the mapping of every SDK error to a gateway.Error, and the chaincode-event feed into the event
// log.
package fabric

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/gateway"
)

// Org is one organisation's identity and the connection to its peer. The connection is owned
// by the caller and shared by every request of the organisation.
type Org struct {
	MSPID       string
	Certificate *x509.Certificate
	Sign        identity.Sign
	Conn        grpc.ClientConnInterface
}

// Timeouts bound each phase of a transaction.
type Timeouts struct {
	Evaluate time.Duration
	Endorse  time.Duration
	Submit   time.Duration
	Commit   time.Duration
}

// Options configure a Client.
type Options struct {
	Channel   string
	Chaincode string
	Orgs      []Org
	Timeouts  Timeouts
	// MaxRetries bounds the fresh proposals made after an MVCC_READ_CONFLICT or a
	// PHANTOM_READ_CONFLICT (0: no retry).
	MaxRetries int
	// Consistency tunes read-your-writes (zero: the defaults).
	Consistency Consistency
	Logger      *slog.Logger
	// Metrics records Fabric outcomes and latencies; nil records nothing.
	Metrics *Metrics
	// Wallet, when set, holds the user identities that callers with an Identity sign with
	// (one SDK gateway each, over their organisation's connection).
	Wallet gateway.Wallet
}

// Client implements gateway.Ledger with the Fabric Gateway SDK.
type Client struct {
	opts        Options
	consistency Consistency
	gateways    map[string]*client.Gateway
	conns       map[string]grpc.ClientConnInterface
	users       userGateways
	orgs        []string
	log         *slog.Logger
	heights     *peerHeights
	writes      *orderWrites
	now         func() time.Time
}

var _ gateway.Ledger = (*Client)(nil)

// New connects one SDK gateway per organisation over the given connections.
func New(opts Options) (*Client, error) {
	if opts.Channel == "" || opts.Chaincode == "" {
		return nil, errors.New("fabric client: channel and chaincode are required")
	}
	if len(opts.Orgs) == 0 {
		return nil, errors.New("fabric client: at least one organisation is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &opts.Timeouts
	for _, d := range []*time.Duration{&t.Evaluate, &t.Endorse, &t.Submit, &t.Commit} {
		if *d <= 0 {
			*d = 30 * time.Second
		}
	}
	cons := opts.Consistency.withDefaults()
	c := &Client{opts: opts, consistency: cons, gateways: map[string]*client.Gateway{}, conns: map[string]grpc.ClientConnInterface{},
		users: userGateways{gateways: map[string]*client.Gateway{}}, log: opts.Logger,
		heights: newPeerHeights(), writes: newOrderWrites(2*cons.LagWindow, time.Now), now: time.Now}
	for _, o := range opts.Orgs {
		if _, dup := c.gateways[o.MSPID]; dup {
			_ = c.Close()
			return nil, fmt.Errorf("fabric client: duplicate organisation %s", o.MSPID)
		}
		gw, err := c.connect(o)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("fabric client: %w", err)
		}
		c.gateways[o.MSPID] = gw
		c.conns[o.MSPID] = o.Conn
		c.orgs = append(c.orgs, o.MSPID)
	}
	sort.Strings(c.orgs)
	return c, nil
}

// connect makes the SDK gateway of an identity over its organisation's connection.
func (c *Client) connect(o Org) (*client.Gateway, error) {
	t := c.opts.Timeouts
	id, err := identity.NewX509Identity(o.MSPID, o.Certificate)
	if err != nil {
		return nil, fmt.Errorf("identity of %s: %w", o.MSPID, err)
	}
	gw, err := client.Connect(id,
		client.WithSign(o.Sign),
		client.WithHash(hash.SHA256),
		client.WithClientConnection(o.Conn),
		client.WithEvaluateTimeout(t.Evaluate),
		client.WithEndorseTimeout(t.Endorse),
		client.WithSubmitTimeout(t.Submit),
		client.WithCommitStatusTimeout(t.Commit),
	)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", o.MSPID, err)
	}
	return gw, nil
}

// Close closes the SDK gateways (not the gRPC connections, which the caller owns).
func (c *Client) Close() error {
	var errs []error
	c.users.mu.Lock()
	for id, gw := range c.users.gateways {
		errs = append(errs, gw.Close())
		delete(c.users.gateways, id)
	}
	c.users.mu.Unlock()
	for _, gw := range c.gateways {
		if err := gw.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close fabric gateways: %w", err)
	}
	return nil
}

// Organizations implements gateway.Ledger.
func (c *Client) Organizations() []string { return slices.Clone(c.orgs) }

func (c *Client) network(mspID string) (*client.Network, error) {
	gw, ok := c.gateways[mspID]
	if !ok {
		return nil, &gateway.Error{Code: gateway.CodeForbidden,
			Message: fmt.Sprintf("this gateway holds no Fabric identity for %s", mspID)}
	}
	return gw.GetNetwork(c.opts.Channel), nil
}

func proposalOptions(inv gateway.Invocation) []client.ProposalOption {
	opts := []client.ProposalOption{client.WithBytesArguments(inv.Args...)}
	if len(inv.Transient) > 0 {
		opts = append(opts, client.WithTransient(inv.Transient))
	}
	return opts
}

// Submit implements gateway.Ledger: endorse, submit and (unless async) wait for the commit.
// Before each proposal it waits for the peers to commit the order's last write (see
// Consistency); it makes a fresh proposal after an MVCC or phantom read conflict (up to
// MaxRetries times) and after a stale read or an endorsement mismatch (up to
// Consistency.StaleRetries times). A transaction to resume (gateway.WithResume) is finished
// first; a fresh proposal follows only when it can never commit.
func (c *Client) Submit(ctx context.Context, caller gateway.Caller, inv gateway.Invocation, opts ...gateway.SubmitOption) (*gateway.SubmitResult, error) {
	o := gateway.NewSubmitOptions(opts...)
	gw, err := c.gatewayOf(caller)
	if err != nil {
		return nil, err
	}
	network := gw.GetNetwork(c.opts.Channel)
	contract := network.GetContract(c.opts.Chaincode)
	if o.Resume != nil {
		res, fresh, err := c.resume(ctx, caller, inv, *o.Resume, o)
		if !fresh {
			c.noteCommitted(inv, res)
			return res, err
		}
	}
	budget := retryBudget{conflicts: c.opts.MaxRetries, stale: c.consistency.StaleRetries}
	for n := 1; ; n++ {
		if err := c.await(ctx, caller.MSPID, inv); err != nil {
			return nil, err
		}
		a := attempt{inv: inv, before: c.heights.snapshot()}
		var res *gateway.SubmitResult
		res, a.err = c.submitOnce(ctx, contract, inv, o)
		if a.err == nil {
			res.Attempts = n
			c.opts.Metrics.outcome(inv.Transaction, "VALID")
			c.noteCommitted(inv, res)
			return res, nil
		}
		a.ge = gateway.AsError(a.err)
		if a.ge.Code == gateway.CodeCommitFailed {
			c.opts.Metrics.outcome(inv.Transaction, a.ge.ValidationCode)
		} else {
			c.opts.Metrics.outcome(inv.Transaction, string(a.ge.Code))
		}
		reason, lagging := c.retryReason(a)
		if reason == "" || ctx.Err() != nil || !budget.take(reason) || !c.retry(ctx, a, reason, lagging, n) {
			return nil, a.ge
		}
	}
}

// noteCommitted remembers the block of a committed write of inv's order.
func (c *Client) noteCommitted(inv gateway.Invocation, res *gateway.SubmitResult) {
	if res != nil && res.Committed {
		c.writes.note(inv.OrderID, res.BlockNumber)
		c.writes.noteOwn(res.BlockNumber)
	}
}

// submitOnce endorses a fresh proposal of inv, records it (o.PrepareHook) and submits it.
func (c *Client) submitOnce(ctx context.Context, contract *client.Contract, inv gateway.Invocation, o gateway.SubmitOptions) (*gateway.SubmitResult, error) {
	proposal, err := contract.NewProposal(inv.Transaction, proposalOptions(inv)...)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot build the transaction proposal", Err: err}
	}
	txID := proposal.TransactionID()
	log := gateway.LoggerFrom(ctx, c.log).With(slog.String("txId", txID), slog.String("transaction", inv.Transaction))

	start := time.Now()
	ectx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Endorse)
	txn, err := proposal.EndorseWithContext(ectx)
	cancel()
	c.opts.Metrics.phase("endorse", start)
	if err != nil {
		ge := mapError(err, txID)
		log.LogAttrs(ctx, slog.LevelInfo, "endorsement failed", slog.String("code", string(ge.Code)), slog.String("grpc", errText(err)))
		// No transaction was made: the proposal's ID stays in the log line above only.
		ge.TxID = ""
		return nil, ge
	}
	if err := recordPrepared(ctx, o.PrepareHook, proposal, inv, txn); err != nil {
		return nil, err
	}

	res := &gateway.SubmitResult{TxID: txID, Payload: txn.Result()}
	status, err := c.submitAndWait(ctx, log, txn, "submit", o.Async)
	if err != nil {
		return nil, err
	}
	if o.Async {
		log.LogAttrs(ctx, slog.LevelInfo, "transaction submitted")
		return res, nil
	}
	if !status.Successful {
		// Whatever invalidated the transaction committed in this block or before: the next
		// proposal waits for it.
		c.writes.note(inv.OrderID, status.BlockNumber)
		ge := &gateway.Error{Code: gateway.CodeCommitFailed, TxID: txID, ValidationCode: status.Code.String(),
			Message: fmt.Sprintf("transaction %s was not committed: %s", txID, status.Code)}
		log.LogAttrs(ctx, slog.LevelWarn, "transaction invalidated", slog.String("validationCode", status.Code.String()),
			slog.Uint64("block", status.BlockNumber))
		return nil, ge
	}
	res.Committed = true
	res.BlockNumber = status.BlockNumber
	log.LogAttrs(ctx, slog.LevelInfo, "transaction committed", slog.Uint64("block", status.BlockNumber))
	return res, nil
}

// submitAndWait is the submit and commit-status phases of an endorsed transaction, fresh or
// resumed: it sends txn to the orderer and, unless async, waits for its commit status (nil when
// async). what names the submission in the log ("submit", "resubmit").
func (c *Client) submitAndWait(ctx context.Context, log *slog.Logger, txn *client.Transaction, what string, async bool) (*client.Status, error) {
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Submit)
	commit, err := txn.SubmitWithContext(sctx)
	cancel()
	c.opts.Metrics.phase("submit", start)
	if err != nil {
		ge := mapError(err, txn.TransactionID())
		log.LogAttrs(ctx, slog.LevelWarn, what+" failed", slog.String("code", string(ge.Code)), slog.String("grpc", errText(err)))
		return nil, ge
	}
	if async {
		return nil, nil
	}
	start = time.Now()
	cctx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Commit)
	status, err := commit.StatusWithContext(cctx)
	cancel()
	c.opts.Metrics.phase("commit", start)
	if err != nil {
		ge := mapError(err, txn.TransactionID())
		log.LogAttrs(ctx, slog.LevelWarn, "commit status failed", slog.String("code", string(ge.Code)), slog.String("grpc", errText(err)))
		return nil, ge
	}
	return status, nil
}

// Evaluate implements gateway.Ledger: it waits for the peers to commit the order's last write
// (see Consistency) and evaluates inv on the caller's organisation's peer, retrying a stale
// read up to Consistency.StaleRetries times.
func (c *Client) Evaluate(ctx context.Context, caller gateway.Caller, inv gateway.Invocation) ([]byte, error) {
	gw, err := c.gatewayOf(caller)
	if err != nil {
		return nil, err
	}
	network := gw.GetNetwork(c.opts.Channel)
	contract := network.GetContract(c.opts.Chaincode)
	budget := retryBudget{stale: c.consistency.StaleRetries}
	for n := 1; ; n++ {
		if err := c.await(ctx, caller.MSPID, inv); err != nil {
			return nil, err
		}
		a := attempt{inv: inv, before: c.heights.snapshot()}
		var out []byte
		out, a.err = c.evaluateOnce(ctx, contract, inv)
		if a.err == nil {
			return out, nil
		}
		a.ge = gateway.AsError(a.err)
		reason, lagging := c.retryReason(a)
		if reason == "" || ctx.Err() != nil || !budget.take(reason) || !c.retry(ctx, a, reason, lagging, n) {
			return nil, a.ge
		}
	}
}

// evaluateOnce evaluates inv once.
func (c *Client) evaluateOnce(ctx context.Context, contract *client.Contract, inv gateway.Invocation) ([]byte, error) {
	proposal, err := contract.NewProposal(inv.Transaction, proposalOptions(inv)...)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot build the query proposal", Err: err}
	}
	start := time.Now()
	ectx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Evaluate)
	defer cancel()
	out, err := proposal.EvaluateWithContext(ectx)
	c.opts.Metrics.phase("evaluate", start)
	if err != nil {
		ge := mapError(err, "")
		gateway.LoggerFrom(ctx, c.log).LogAttrs(ctx, slog.LevelDebug, "evaluate failed", slog.String("transaction", inv.Transaction),
			slog.String("code", string(ge.Code)), slog.String("grpc", errText(err)))
		return nil, ge
	}
	return out, nil
}

// qscc evaluates a query system chaincode function as the first organisation (or caller's).
func (c *Client) qscc(ctx context.Context, mspID, fn string, args ...string) ([]byte, error) {
	network, err := c.network(mspID)
	if err != nil {
		return nil, err
	}
	ectx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Evaluate)
	defer cancel()
	proposal, err := network.GetContract("qscc").NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot build the qscc proposal", Err: err}
	}
	out, err := proposal.EvaluateWithContext(ectx)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Ready implements gateway.Ledger: every organisation's peer answers qscc GetChainInfo.
func (c *Client) Ready(ctx context.Context) error {
	for _, org := range c.orgs {
		out, err := c.qscc(ctx, org, "GetChainInfo", c.opts.Channel)
		if err != nil {
			return mapError(err, "")
		}
		var info common.BlockchainInfo
		if err := proto.Unmarshal(out, &info); err != nil {
			return &gateway.Error{Code: gateway.CodeUnavailable, Message: "peer returned an unreadable chain info", Err: err}
		}
		if info.GetHeight() == 0 {
			return gateway.Errorf(gateway.CodeUnavailable, "channel %s has no blocks yet", c.opts.Channel)
		}
	}
	return nil
}

// TransactionStatus implements gateway.Ledger with qscc GetTransactionByID and GetBlockByTxID,
// on the caller's organisation's peer. When that peer does not know the transaction while it
// is behind another peer the client observes, it waits (bounded) for the peer to catch up and
// asks once more: the transaction may be in a block the peer has not committed yet.
func (c *Client) TransactionStatus(ctx context.Context, caller gateway.Caller, txID string) (*gateway.TxStatus, error) {
	st, err := c.transactionStatus(ctx, caller, txID)
	if gateway.ErrorCode(err) != gateway.CodeNotFound || c.consistency.WaitTimeout <= 0 {
		return st, err
	}
	heights := c.heights.snapshot()
	own, observed := heights[caller.MSPID]
	top := highest(heights)
	if !observed || own >= top {
		return st, err
	}
	const tx = "GetTransactionByID"
	c.opts.Metrics.retry(tx, reasonStaleNotFound)
	gateway.LoggerFrom(ctx, c.log).LogAttrs(ctx, slog.LevelWarn, "retrying with a fresh proposal",
		slog.String("transaction", tx), slog.String("reason", reasonStaleNotFound), slog.String("txId", txID),
		slog.String("peer", caller.MSPID), slog.Uint64("height", own), slog.Uint64("highest", top))
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, c.consistency.WaitTimeout)
	lagging := c.heights.wait(wctx, top, []string{caller.MSPID})
	cancel()
	c.opts.Metrics.consistencyWait(start, len(lagging) == 0)
	return c.transactionStatus(ctx, caller, txID)
}

// transactionStatus asks the caller's peer once.
func (c *Client) transactionStatus(ctx context.Context, caller gateway.Caller, txID string) (*gateway.TxStatus, error) {
	out, err := c.qscc(ctx, caller.MSPID, "GetTransactionByID", c.opts.Channel, txID)
	if err != nil {
		ge := mapError(err, txID)
		if ge.Code == gateway.CodeEndorsementFailed || ge.Code == gateway.CodeNotFound {
			return nil, &gateway.Error{Code: gateway.CodeNotFound, TxID: txID,
				Message: fmt.Sprintf("transaction %s is not in the ledger (yet)", txID), Err: err}
		}
		return nil, ge
	}
	var ptx peer.ProcessedTransaction
	if err := proto.Unmarshal(out, &ptx); err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "peer returned an unreadable transaction", Err: err}
	}
	code := peer.TxValidationCode(ptx.GetValidationCode())
	st := &gateway.TxStatus{TxID: txID, ValidationCode: code.String(), Valid: code == peer.TxValidationCode_VALID}
	out, err = c.qscc(ctx, caller.MSPID, "GetBlockByTxID", c.opts.Channel, txID)
	if err != nil {
		return nil, mapError(err, txID)
	}
	var block common.Block
	if err := proto.Unmarshal(out, &block); err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "peer returned an unreadable block", Err: err}
	}
	st.BlockNumber = block.GetHeader().GetNumber()
	return st, nil
}
