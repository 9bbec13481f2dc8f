package fabric

import (
	"context"
	"log/slog"
	"testing"
	"time"

	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xborder/xborder/gateway"
)

// clock is a settable clock for the parts of read-your-writes that measure time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// consistencyClient is a Client with the read-your-writes state only: what the retry policy
// reads. No peer is connected; the tests set the observed heights themselves.
func consistencyClient(cons Consistency) (*Client, *clock) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cons = cons.withDefaults()
	return &Client{consistency: cons, log: slog.New(slog.DiscardHandler), heights: newPeerHeights(),
		writes: newOrderWrites(2*cons.LagWindow, clk.now), now: clk.now}, clk
}

// endorseError is the error Fabric's gateway returns when endorsement fails, with one
// ErrorDetail per peer as {mspID, message} pairs.
func endorseError(t *testing.T, msg string, details ...[2]string) error {
	t.Helper()
	return gatewayError(t, codes.Aborted, msg, details...)
}

// gatewayError is a gRPC status error with one ErrorDetail per {mspID, message} pair, as
// Fabric's gateway returns them.
func gatewayError(t *testing.T, code codes.Code, msg string, details ...[2]string) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		st, err = st.WithDetails(&gwproto.ErrorDetail{Address: "peer:7051", MspId: d[0], Message: d[1]})
		require.NoError(t, err)
	}
	return st.Err()
}

func TestPeerHeights(t *testing.T) {
	h := newPeerHeights()
	h.set("MerchantMSP", 10)
	h.set("BankMSP", 8)
	h.set("MerchantMSP", 9)
	require.Equal(t, map[string]uint64{"MerchantMSP": 10, "BankMSP": 8}, h.snapshot(), "a height is never lowered")

	lagging, _ := h.behind(10, nil)
	require.Equal(t, []string{"BankMSP"}, lagging)
	lagging, _ = h.behind(10, []string{"MerchantMSP"})
	require.Empty(t, lagging)

	t.Run("wait returns once every observed peer is there", func(t *testing.T) {
		go func() {
			time.Sleep(10 * time.Millisecond)
			h.set("BankMSP", 10)
		}()
		require.Empty(t, h.wait(context.Background(), 10, nil))
	})
	t.Run("wait gives up with the peers still behind", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		require.Equal(t, []string{"BankMSP", "MerchantMSP"}, h.wait(ctx, 11, nil))
	})
	t.Run("a peer no longer observed is not waited for", func(t *testing.T) {
		h.set("CarrierMSP", 3)
		go func() {
			time.Sleep(10 * time.Millisecond)
			h.forget("CarrierMSP")
		}()
		require.Empty(t, h.wait(context.Background(), 10, nil))
		require.NotContains(t, h.snapshot(), "CarrierMSP")
	})
}

func TestOrderWrites(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := newOrderWrites(time.Minute, clk.now)
	w.note("o-1", 7)
	w.note("o-1", 5)
	w.note("", 9)
	got, ok := w.last("o-1")
	require.True(t, ok)
	require.Equal(t, uint64(7), got.block, "the latest block is kept")
	_, ok = w.last("o-2")
	require.False(t, ok)

	clk.advance(30 * time.Second)
	w.note("o-2", 8)
	clk.advance(31 * time.Second)
	_, ok = w.last("o-1")
	require.False(t, ok, "an entry older than the retention is not used")
	w.note("o-3", 9)
	require.Equal(t, 2, w.size(), "old entries are dropped")
}

func TestVersions(t *testing.T) {
	have, want, ok := versions("order o-1 is at version 6, not 5")
	require.True(t, ok)
	require.Equal(t, []uint64{6, 5}, []uint64{have, want})
	_, _, ok = versions("order o-1 changed")
	require.False(t, ok)
}

// TestRetryReason pins which failed attempts read-your-writes retries, and which it answers at
// once because they are the ledger's real answer.
func TestRetryReason(t *testing.T) {
	const order = "o-1"
	notFound := "chaincode response 500, NOT_FOUND: order o-1 does not exist"
	precondition := "chaincode response 500, FAILED_PRECONDITION: cannot register waybill: order o-1 is CREATED (allowed in [PAID DOCUMENTED])"
	behind := "chaincode response 500, VERSION_MISMATCH: expectedVersion: order o-1 is at version 2, not 3"
	ahead := "chaincode response 500, VERSION_MISMATCH: expectedVersion: order o-1 is at version 4, not 3"
	fail := "failed to endorse transaction, see attached details for more info"
	for _, tc := range []struct {
		name string
		// written is the block of the order's last write the client knows (0: none), age how
		// long ago it learnt of it.
		written uint64
		age     time.Duration
		// heights are the observed peer heights before the attempt.
		heights  map[string]uint64
		minBlock uint64
		err      error
		reason   string
		lagging  string
	}{
		{name: "MVCC conflict", err: &gateway.Error{Code: gateway.CodeCommitFailed, ValidationCode: "MVCC_READ_CONFLICT"}, reason: reasonMVCC},
		{name: "phantom read conflict", err: &gateway.Error{Code: gateway.CodeCommitFailed, ValidationCode: "PHANTOM_READ_CONFLICT"}, reason: reasonPhantom},
		{name: "other invalidation", err: &gateway.Error{Code: gateway.CodeCommitFailed, ValidationCode: "ENDORSEMENT_POLICY_FAILURE"}},
		{name: "endorsers disagree", err: endorseError(t, "failed to collect enough transaction endorsements",
			[2]string{"BankMSP", "ProposalResponsePayloads do not match"}, [2]string{"CustomsMSP", "ProposalResponsePayloads do not match"}),
			reason: reasonMismatch},
		{name: "a disagreement wins over a stale answer of another peer", err: endorseError(t, "failed to collect enough transaction endorsements",
			[2]string{"BankMSP", "ProposalResponsePayloads do not match"}, [2]string{"CustomsMSP", precondition}),
			reason: reasonMismatch},
		{name: "observed peer below the order's last write", written: 10,
			heights: map[string]uint64{"CarrierMSP": 10, "MerchantMSP": 11},
			err:     endorseError(t, fail, [2]string{"CarrierMSP", precondition}), reason: reasonStalePrecondition, lagging: "CarrierMSP"},
		{name: "observed peer with the order's last write answers for the ledger", written: 10,
			heights: map[string]uint64{"CarrierMSP": 11, "MerchantMSP": 12},
			err:     endorseError(t, fail, [2]string{"CarrierMSP", precondition})},
		{name: "order unknown: a peer behind another one is suspect",
			heights: map[string]uint64{"BankMSP": 7, "MerchantMSP": 8},
			err:     endorseError(t, fail, [2]string{"BankMSP", notFound}), reason: reasonStaleNotFound, lagging: "BankMSP"},
		{name: "order unknown: the most advanced peer answers for the ledger",
			heights: map[string]uint64{"BankMSP": 8, "MerchantMSP": 8},
			err:     endorseError(t, fail, [2]string{"BankMSP", notFound})},
		{name: "peer below the caller's minimum block", minBlock: 20,
			heights: map[string]uint64{"BankMSP": 20, "MerchantMSP": 20},
			err:     endorseError(t, fail, [2]string{"BankMSP", notFound}), reason: reasonStaleNotFound, lagging: "BankMSP"},
		{name: "version behind the expected one on a lagging peer", written: 10,
			heights: map[string]uint64{"BankMSP": 11, "MerchantMSP": 12},
			err:     endorseError(t, fail, [2]string{"BankMSP", behind}), reason: reasonStaleVersion, lagging: "BankMSP"},
		{name: "version behind the expected one on the most advanced peer", written: 10,
			heights: map[string]uint64{"BankMSP": 12, "MerchantMSP": 12},
			err:     endorseError(t, fail, [2]string{"BankMSP", behind})},
		{name: "version ahead of the expected one: a lost update", written: 10,
			heights: map[string]uint64{"BankMSP": 10, "MerchantMSP": 12},
			err:     endorseError(t, fail, [2]string{"BankMSP", ahead})},
		{name: "unobserved peer, order written recently", written: 10, age: time.Second,
			heights: map[string]uint64{"MerchantMSP": 11},
			err:     endorseError(t, fail, [2]string{"CustomsMSP", notFound}), reason: reasonStaleNotFound, lagging: "CustomsMSP"},
		{name: "unobserved peer, order written long ago", written: 10, age: 45 * time.Second,
			heights: map[string]uint64{"MerchantMSP": 11},
			err:     endorseError(t, fail, [2]string{"CustomsMSP", notFound})},
		{name: "unobserved peer, order unknown",
			heights: map[string]uint64{"MerchantMSP": 11},
			err:     endorseError(t, fail, [2]string{"CustomsMSP", precondition})},
		{name: "unobserved peer behind the caller's minimum block", minBlock: 30,
			err: endorseError(t, fail, [2]string{"CustomsMSP", notFound}), reason: reasonStaleNotFound, lagging: "CustomsMSP"},
		{name: "evaluation on a lagging peer", written: 10,
			heights: map[string]uint64{"BankMSP": 10, "MerchantMSP": 11},
			err:     gatewayError(t, codes.Unknown, "evaluate call to endorser returned error: "+notFound, [2]string{"BankMSP", notFound}),
			reason:  reasonStaleNotFound, lagging: "BankMSP"},
		{name: "other codes are answers", written: 10, heights: map[string]uint64{"BankMSP": 10, "MerchantMSP": 11},
			err: endorseError(t, fail, [2]string{"BankMSP", "chaincode response 500, CONFLICT: payment p-1 already exists"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, clk := consistencyClient(Consistency{})
			if tc.written > 0 {
				c.writes.note(order, tc.written)
				clk.advance(tc.age)
			}
			for msp, h := range tc.heights {
				c.heights.set(msp, h)
			}
			inv := gateway.Invocation{Transaction: "RegisterWaybill", OrderID: order, MinBlock: tc.minBlock}
			a := attempt{inv: inv, err: tc.err, ge: mapError(tc.err, ""), before: c.heights.snapshot()}
			reason, lagging := c.retryReason(a)
			require.Equal(t, tc.reason, reason)
			require.Equal(t, tc.lagging, lagging)
		})
	}
}

func TestRetryBudget(t *testing.T) {
	b := retryBudget{conflicts: 1, stale: 2}
	require.True(t, b.take(reasonMVCC))
	require.False(t, b.take(reasonPhantom), "MVCC and phantom conflicts share the conflict budget")
	require.True(t, b.take(reasonStaleNotFound))
	require.True(t, b.take(reasonMismatch))
	require.False(t, b.take(reasonStaleVersion))
}

func TestAwait(t *testing.T) {
	inv := gateway.Invocation{Transaction: "EscrowPayment", OrderID: "o-1"}
	t.Run("nothing known, nothing to wait for", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{})
		c.heights.set("BankMSP", 1)
		require.NoError(t, c.await(context.Background(), "BankMSP", inv))
	})
	t.Run("waits for every observed peer to commit the order's last write", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{})
		c.writes.note("o-1", 5)
		c.heights.set("MerchantMSP", 6)
		c.heights.set("BankMSP", 5)
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.heights.set("BankMSP", 6)
		}()
		require.NoError(t, c.await(context.Background(), "BankMSP", inv))
		require.Equal(t, uint64(6), c.heights.snapshot()["BankMSP"])
	})
	t.Run("a call about no order waits for the client's newest own write", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{})
		c.writes.noteOwn(8)
		c.writes.noteOwn(4)
		c.writes.note("o-1", 2)
		c.heights.set("MerchantMSP", 9)
		c.heights.set("BankMSP", 8)
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.heights.set("BankMSP", 9)
		}()
		report := gateway.Invocation{Transaction: "GetMerchantCredit"}
		require.Equal(t, uint64(9), c.required(report))
		require.Equal(t, uint64(3), c.required(inv), "a call about an order needs that order's last write only")
		require.NoError(t, c.await(context.Background(), "BankMSP", report))
		require.Equal(t, uint64(9), c.heights.snapshot()["BankMSP"])
	})
	t.Run("goes ahead when a peer stays behind", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{WaitTimeout: 20 * time.Millisecond})
		c.writes.note("o-1", 5)
		c.heights.set("BankMSP", 5)
		require.NoError(t, c.await(context.Background(), "BankMSP", inv))
	})
	t.Run("a minimum block the caller's peer has not reached is unavailable", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{WaitTimeout: 20 * time.Millisecond})
		c.heights.set("BankMSP", 5)
		c.heights.set("MerchantMSP", 9)
		withMin := inv
		withMin.MinBlock = 7
		err := c.await(context.Background(), "BankMSP", withMin)
		require.Equal(t, gateway.CodeUnavailable, gateway.ErrorCode(err))
		require.NoError(t, c.await(context.Background(), "MerchantMSP", withMin), "the merchant's peer has block 7")
	})
	t.Run("waiting can be turned off", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{WaitTimeout: -1})
		c.writes.note("o-1", 5)
		c.heights.set("BankMSP", 1)
		require.NoError(t, c.await(context.Background(), "BankMSP", inv))
	})
}

func TestPause(t *testing.T) {
	t.Run("waits for the lagging peer to catch up with the others", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{})
		c.heights.set("MerchantMSP", 9)
		c.heights.set("BankMSP", 7)
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.heights.set("BankMSP", 9)
		}()
		require.True(t, c.pause(context.Background(), reasonStaleNotFound, "BankMSP", 1))
		require.Equal(t, uint64(9), c.heights.snapshot()["BankMSP"])
	})
	t.Run("backs off when the peer cannot be observed", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{Backoff: time.Millisecond})
		require.True(t, c.pause(context.Background(), reasonStaleNotFound, "CustomsMSP", 3))
	})
	t.Run("stops when the request ends", func(t *testing.T) {
		c, _ := consistencyClient(Consistency{Backoff: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.False(t, c.pause(ctx, reasonMismatch, "", 1))
	})
}
