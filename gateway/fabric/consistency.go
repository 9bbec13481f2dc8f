package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/status"

	"github.com/xborder/xborder/gateway"
)

// Consistency tunes read-your-writes (docs/design.md §9). Every organisation's peer commits
// the ordered blocks on its own, so a write answered after its commit on one peer may not be on
// another peer yet: a next step endorsed or evaluated there would read the order as it was. The
// client therefore remembers the block of each order's last write it saw committed (its own
// commit statuses and the chaincode-event feed), observes the height of every peer it is
// connected to (FollowPeers), and before it endorses or evaluates anything about an order it
// waits until those peers have committed that block. What waiting cannot cover (a peer it
// cannot observe, a write it did not see) it retries: a stale read (NOT_FOUND,
// FAILED_PRECONDITION, or VERSION_MISMATCH with the peer's version behind the expected one)
// from a peer that may be lagging, and an endorsement whose endorsers disagreed
// ("ProposalResponsePayloads do not match"), with fresh proposals, a bounded number of times.
// The zero value means the defaults.
type Consistency struct {
	// WaitTimeout bounds each wait for the observed peers to commit a block (default 5 s;
	// negative: never wait).
	WaitTimeout time.Duration
	// StaleRetries bounds the fresh proposals made after stale reads and endorsement mismatches
	// (default 5; negative: none).
	StaleRetries int
	// Backoff is the pause before the first retry when the peer that answered cannot be
	// observed; it doubles at each retry, up to 1 s (default 50 ms).
	Backoff time.Duration
	// LagWindow is how long after a write the client saw committed another organisation's peer
	// that it cannot observe may still lack it, so that a stale read from such a peer about
	// that order is retried (default 30 s).
	LagWindow time.Duration
}

// withDefaults fills in the zero fields.
func (c Consistency) withDefaults() Consistency {
	if c.WaitTimeout == 0 {
		c.WaitTimeout = 5 * time.Second
	}
	if c.StaleRetries == 0 {
		c.StaleRetries = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 50 * time.Millisecond
	}
	if c.LagWindow <= 0 {
		c.LagWindow = 30 * time.Second
	}
	return c
}

// Retry reasons, as counted in xborder_fabric_retries_total.
const (
	reasonMVCC               = "mvcc_read_conflict"
	reasonPhantom            = "phantom_read_conflict"
	reasonMismatch           = "endorsement_mismatch"
	reasonStaleNotFound      = "stale_not_found"
	reasonStalePrecondition  = "stale_failed_precondition"
	reasonStaleVersion       = "stale_version_mismatch"
	payloadMismatchIndicator = "ProposalResponsePayloads do not match"
)

// required returns the height the peers need for inv (0 for none): the block of the order's
// last known write, or for a call about no order in particular (a list, a report) the block of
// the client's newest committed write, and the caller's minimum block, committed.
func (c *Client) required(inv gateway.Invocation) uint64 {
	var h uint64
	if w, ok := c.writes.last(inv.OrderID); ok {
		h = w.block + 1
	} else if b, ok := c.writes.latestOwn(); ok && inv.OrderID == "" {
		h = b + 1
	}
	if inv.MinBlock > 0 {
		h = max(h, inv.MinBlock+1)
	}
	return h
}

// await waits, before inv is endorsed or evaluated as mspID, until every peer the client
// observes has committed the blocks inv needs (see required), for at most WaitTimeout. When the
// wait ends with peers behind it goes ahead anyway (the retries cover it), except that a
// minimum block the caller asked for that mspID's own peer has not reached is UNAVAILABLE: the
// caller asked not to be answered from an older ledger.
func (c *Client) await(ctx context.Context, mspID string, inv gateway.Invocation) error {
	need := c.required(inv)
	if need == 0 || c.consistency.WaitTimeout < 0 {
		return nil
	}
	if lagging, _ := c.heights.behind(need, nil); len(lagging) == 0 {
		return nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, c.consistency.WaitTimeout)
	lagging := c.heights.wait(wctx, need, nil)
	cancel()
	c.opts.Metrics.consistencyWait(start, len(lagging) == 0)
	if len(lagging) == 0 {
		return nil
	}
	gateway.LoggerFrom(ctx, c.log).LogAttrs(ctx, slog.LevelWarn, "peers have not committed the block this call needs; going ahead",
		slog.String("transaction", inv.Transaction), slog.String("orderId", inv.OrderID), slog.Uint64("height", need),
		slog.Any("lagging", lagging), slog.Duration("waited", time.Since(start)))
	if inv.MinBlock > 0 {
		if h, ok := c.heights.snapshot()[mspID]; ok && h <= inv.MinBlock {
			return &gateway.Error{Code: gateway.CodeUnavailable,
				Message: fmt.Sprintf("the peer has not committed block %d yet (it has %d blocks); retry later", inv.MinBlock, h)}
		}
	}
	return nil
}

// retryBudget counts the fresh proposals a call may still make, by kind.
type retryBudget struct {
	conflicts, stale int
}

// take uses one retry of reason's kind, reporting false when none is left.
func (b *retryBudget) take(reason string) bool {
	n := &b.stale
	if reason == reasonMVCC || reason == reasonPhantom {
		n = &b.conflicts
	}
	if *n <= 0 {
		return false
	}
	*n--
	return true
}

// attempt is what a failed attempt at inv tells the retry policy.
type attempt struct {
	inv gateway.Invocation
	err error
	ge  *gateway.Error
	// before are the observed peer heights just before the attempt.
	before map[string]uint64
}

// retryReason says whether the failed attempt a is worth a fresh proposal, and why ("" for
// no), and names the peer that answered from a stale ledger ("" for none known).
func (c *Client) retryReason(a attempt) (reason, lagging string) {
	if r, ok := conflictReasons[a.ge.ValidationCode]; ok {
		return r, ""
	}
	details := endorserErrors(a.err)
	if endorsersDisagreed(a.err, details) {
		return reasonMismatch, ""
	}
	reason, ok := staleReasons[a.ge.Code]
	if !ok {
		return "", ""
	}
	behindExpected := false
	if a.ge.Code == gateway.CodeVersionMismatch {
		have, want, ok := versions(a.ge.Message)
		if !ok || have > want {
			// The order moved past the version the caller expected: a real lost update.
			return "", ""
		}
		behindExpected = true
	}
	msp := endorserOf(details, a.ge.Code)
	if !c.mayBeStale(a, msp, behindExpected) {
		return "", ""
	}
	return reason, msp
}

// conflictReasons are the validation codes of transactions invalidated by a concurrent write,
// retried with a fresh proposal.
var conflictReasons = map[string]string{
	peer.TxValidationCode_MVCC_READ_CONFLICT.String():    reasonMVCC,
	peer.TxValidationCode_PHANTOM_READ_CONFLICT.String(): reasonPhantom,
}

// staleReasons are the chaincode codes a peer that has not committed the order's last write may
// answer, with the retry reason of each.
var staleReasons = map[gateway.Code]string{
	gateway.CodeNotFound:           reasonStaleNotFound,
	gateway.CodeFailedPrecondition: reasonStalePrecondition,
	gateway.CodeVersionMismatch:    reasonStaleVersion,
}

// endorsersDisagreed reports whether Fabric's gateway refused the endorsement because the
// endorsers returned different results (endorsers at different heights).
func endorsersDisagreed(err error, details []*gwproto.ErrorDetail) bool {
	for _, d := range details {
		if strings.Contains(d.GetMessage(), payloadMismatchIndicator) {
			return true
		}
	}
	return strings.Contains(err.Error(), payloadMismatchIndicator)
}

// mayBeStale reports whether the peer of mspID ("" when unknown) may have answered a from a
// ledger that lacks a write the caller depends on. behindExpected is true when the peer's
// version of the order is behind the one the caller expects.
//
// An observed peer is known to be stale when it had not committed the block a needed, and
// suspected to be when it was behind another observed peer while the client knows no write of
// the order to compare with (or the caller saw a newer version elsewhere). A peer the client
// cannot observe is suspected when the caller asked for a minimum block, saw a newer version,
// or the order was written within LagWindow.
func (c *Client) mayBeStale(a attempt, mspID string, behindExpected bool) bool {
	if h, observed := a.before[mspID]; observed {
		if h < c.required(a.inv) {
			return true
		}
		_, known := c.writes.last(a.inv.OrderID)
		return (!known || behindExpected) && h < highest(c.heights.snapshot())
	}
	if behindExpected || a.inv.MinBlock > 0 {
		return true
	}
	w, ok := c.writes.last(a.inv.OrderID)
	return ok && c.now().Sub(w.at) < c.consistency.LagWindow
}

// pause waits before the retry of a failed attempt: until the lagging peer (or, after an
// endorsement mismatch, every observed peer) has committed every block the client has seen,
// bounded by WaitTimeout; when there is no observed peer to wait for, it backs off instead.
// It reports false when ctx ended.
func (c *Client) pause(ctx context.Context, reason, lagging string, retry int) bool {
	if reason == reasonMVCC || reason == reasonPhantom {
		return ctx.Err() == nil
	}
	top := highest(c.heights.snapshot())
	var orgs []string
	if lagging != "" {
		orgs = []string{lagging}
	}
	if lagging, _ := c.heights.behind(top, orgs); len(lagging) > 0 && c.consistency.WaitTimeout > 0 {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, c.consistency.WaitTimeout)
		still := c.heights.wait(wctx, top, orgs)
		cancel()
		c.opts.Metrics.consistencyWait(start, len(still) == 0)
		return ctx.Err() == nil
	}
	d := min(c.consistency.Backoff<<min(retry-1, 10), time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// retry records a retry of inv for reason (metrics and log) and pauses before it; it reports
// false when ctx ended.
func (c *Client) retry(ctx context.Context, a attempt, reason, lagging string, n int) bool {
	c.opts.Metrics.retry(a.inv.Transaction, reason)
	attrs := []slog.Attr{slog.String("transaction", a.inv.Transaction), slog.String("reason", reason),
		slog.Int("attempt", n), slog.String("code", string(a.ge.Code))}
	if a.inv.OrderID != "" {
		attrs = append(attrs, slog.String("orderId", a.inv.OrderID))
	}
	if lagging != "" {
		attrs = append(attrs, slog.String("peer", lagging))
	}
	if a.ge.TxID != "" {
		attrs = append(attrs, slog.String("txId", a.ge.TxID))
	}
	gateway.LoggerFrom(ctx, c.log).LogAttrs(ctx, slog.LevelWarn, "retrying with a fresh proposal", attrs...)
	return c.pause(ctx, reason, lagging, n)
}

// versionPattern finds the versions in the chaincode's VERSION_MISMATCH message ("order o-1 is
// at version 6, not 5").
var versionPattern = regexp.MustCompile(`is at version ([0-9]+), not ([0-9]+)`)

// versions returns the order's version at the peer and the version the caller expected, from
// a VERSION_MISMATCH message.
func versions(msg string) (have, want uint64, ok bool) {
	m := versionPattern.FindStringSubmatch(msg)
	if m == nil {
		return 0, 0, false
	}
	have, err1 := strconv.ParseUint(m[1], 10, 64)
	want, err2 := strconv.ParseUint(m[2], 10, 64)
	return have, want, err1 == nil && err2 == nil
}

// endorserErrors returns the per-peer details (address, MSP ID, message) that Fabric's gateway
// attaches to a failed endorsement or evaluation.
func endorserErrors(err error) []*gwproto.ErrorDetail {
	var te *client.TransactionError
	if errors.As(err, &te) {
		return te.Details()
	}
	var out []*gwproto.ErrorDetail
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if ed, ok := d.(*gwproto.ErrorDetail); ok {
				out = append(out, ed)
			}
		}
	}
	return out
}

// endorserOf returns the MSP ID of the first peer whose error carries the chaincode code ("" if
// none does).
func endorserOf(details []*gwproto.ErrorDetail, code gateway.Code) string {
	for _, d := range details {
		if e, ok := gateway.ParseChaincodeError(d.GetMessage()); ok && e.Code == code {
			return d.GetMspId()
		}
	}
	return ""
}
