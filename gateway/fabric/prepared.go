package fabric

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/xborder/xborder/gateway"
)

// recordPrepared hands the endorsed, not yet submitted txn to hook (gateway.WithPrepareHook; nil
// for none), so that the caller can durably remember it before it may reach the orderer. When
// the hook fails the transaction is not submitted: no transaction was made. For an invocation
// with transient data the signed proposal is recorded too (see gateway.PreparedTx.Proposal).
func recordPrepared(ctx context.Context, hook gateway.PrepareHook, proposal *client.Proposal, inv gateway.Invocation, txn *client.Transaction) error {
	if hook == nil {
		return nil
	}
	ptx := gateway.PreparedTx{TxID: txn.TransactionID()}
	var err error
	if ptx.Bytes, err = txn.Bytes(); err != nil {
		return &gateway.Error{Code: gateway.CodeInternal, Message: "cannot serialise the endorsed transaction", Err: err}
	}
	if len(inv.Transient) > 0 {
		if ptx.Proposal, err = proposal.Bytes(); err != nil {
			return &gateway.Error{Code: gateway.CodeInternal, Message: "cannot serialise the transaction proposal", Err: err}
		}
	}
	if err := hook(ctx, ptx); err != nil {
		ge := gateway.AsError(err)
		if ge.Code == gateway.CodeInternal {
			return &gateway.Error{Code: gateway.CodeUnavailable,
				Message: "cannot record the transaction before submitting it", Err: err}
		}
		return ge
	}
	return nil
}

// resume finishes ptx, a transaction prepared (endorsed and recorded) by an earlier request
// with the same Idempotency-Key, possibly in a process that died. When ptx committed VALID the
// result is built from the ledger and the transaction's own endorsement result, as the first
// submission would have returned it; when the ledger does not know ptx, the same transaction
// (same ID, so at most one copy can commit) is submitted again and, unless async, its commit
// awaited. fresh is true when ptx was committed invalid, so that it can never commit: the
// caller then makes a fresh proposal, as after an MVCC conflict.
func (c *Client) resume(ctx context.Context, caller gateway.Caller, inv gateway.Invocation, ptx gateway.PreparedTx, o gateway.SubmitOptions) (res *gateway.SubmitResult, fresh bool, err error) {
	gw, err := c.gatewayOf(caller)
	if err != nil {
		return nil, false, err
	}
	txn, err := gw.NewTransaction(ptx.Bytes)
	if err != nil {
		return nil, false, &gateway.Error{Code: gateway.CodeInternal, TxID: ptx.TxID, Message: "cannot re-create the recorded transaction", Err: err}
	}
	if txn.TransactionID() != ptx.TxID {
		return nil, false, gateway.Errorf(gateway.CodeInternal, "the recorded transaction is %s, not %s", txn.TransactionID(), ptx.TxID)
	}
	log := gateway.LoggerFrom(ctx, c.log).With(slog.String("txId", ptx.TxID), slog.String("transaction", inv.Transaction))
	res = &gateway.SubmitResult{TxID: ptx.TxID, Payload: txn.Result(), Attempts: 1}

	st, err := c.TransactionStatus(ctx, caller, ptx.TxID)
	switch {
	case err == nil:
		return c.resumed(ctx, log, inv, res, st, o.Async)
	case gateway.ErrorCode(err) != gateway.CodeNotFound:
		return nil, false, err
	}

	if len(ptx.Proposal) > 0 {
		// The peers' copy of the private data may be gone (they keep it until commit only):
		// endorse the same proposal again, which distributes it anew under the same ID.
		again, err := c.reendorse(ctx, gw, ptx)
		if err != nil {
			if st, serr := c.committedElsewhere(ctx, caller, ptx.TxID, err); serr == nil {
				// It committed meanwhile (the peer refuses a duplicate transaction ID).
				return c.resumed(ctx, log, inv, res, st, o.Async)
			}
			ge := mapError(err, "")
			log.LogAttrs(ctx, slog.LevelInfo, "endorsement of the recorded proposal failed", slog.String("code", string(ge.Code)), slog.String("grpc", errText(err)))
			return nil, false, ge
		}
		txn = again
		res.Payload = txn.Result()
	}

	status, err := c.submitAndWait(ctx, log, txn, "resubmit", o.Async)
	if err != nil {
		return nil, false, err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "recorded transaction resubmitted")
	if o.Async {
		return res, false, nil
	}
	st = &gateway.TxStatus{TxID: ptx.TxID, ValidationCode: status.Code.String(),
		Valid: status.Code == peer.TxValidationCode_VALID, BlockNumber: status.BlockNumber}
	if status.Code == peer.TxValidationCode_DUPLICATE_TXID {
		// Both copies reached the ledger; the first one's status is the transaction's.
		if st, err = c.TransactionStatus(ctx, caller, ptx.TxID); err != nil {
			return nil, false, err
		}
	}
	return c.resumed(ctx, log, inv, res, st, o.Async)
}

// committedElsewhere asks the caller's peer for the status of txID after its endorsement
// failed with endorseErr. An endorser that refuses the proposal as a duplicate transaction has
// committed it; the caller's peer, committing on its own, may not have yet: then the status is
// asked again, with backoff, until the caller's peer knows it or the commit timeout passes.
func (c *Client) committedElsewhere(ctx context.Context, caller gateway.Caller, txID string, endorseErr error) (*gateway.TxStatus, error) {
	st, err := c.TransactionStatus(ctx, caller, txID)
	if err == nil || !slices.ContainsFunc(messages(endorseErr), func(m string) bool { return strings.Contains(m, duplicateTxText) }) {
		return st, err
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Commit)
	defer cancel()
	for pause := 20 * time.Millisecond; gateway.ErrorCode(err) == gateway.CodeNotFound; pause = min(2*pause, time.Second) {
		select {
		case <-wctx.Done():
			return nil, err
		case <-time.After(pause):
		}
		st, err = c.TransactionStatus(wctx, caller, txID)
	}
	return st, err
}

// duplicateTxText is how a peer refuses to endorse a proposal whose transaction ID it has
// already committed.
const duplicateTxText = "duplicate transaction found"

// resumed completes res from the ledger status st of a recorded transaction.
func (c *Client) resumed(ctx context.Context, log *slog.Logger, inv gateway.Invocation, res *gateway.SubmitResult, st *gateway.TxStatus, async bool) (*gateway.SubmitResult, bool, error) {
	if async {
		// The first answer was (or would have been) 202 with this transaction ID.
		return res, false, nil
	}
	if !st.Valid {
		log.LogAttrs(ctx, slog.LevelWarn, "recorded transaction was invalidated; making a fresh proposal",
			slog.String("validationCode", st.ValidationCode), slog.Uint64("block", st.BlockNumber))
		c.opts.Metrics.outcome(inv.Transaction, st.ValidationCode)
		return nil, true, nil
	}
	res.Committed = true
	res.BlockNumber = st.BlockNumber
	c.opts.Metrics.outcome(inv.Transaction, "VALID")
	log.LogAttrs(ctx, slog.LevelInfo, "recorded transaction committed", slog.Uint64("block", st.BlockNumber))
	return res, false, nil
}

// reendorse endorses the recorded proposal of ptx again: the same transaction ID, the same
// private data.
func (c *Client) reendorse(ctx context.Context, gw *client.Gateway, ptx gateway.PreparedTx) (*client.Transaction, error) {
	proposal, err := gw.NewProposal(ptx.Proposal)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, TxID: ptx.TxID, Message: "cannot re-create the recorded proposal", Err: err}
	}
	if proposal.TransactionID() != ptx.TxID {
		return nil, gateway.Errorf(gateway.CodeInternal, "the recorded proposal is %s, not %s", proposal.TransactionID(), ptx.TxID)
	}
	start := time.Now()
	ectx, cancel := context.WithTimeout(ctx, c.opts.Timeouts.Endorse)
	defer cancel()
	txn, err := proposal.EndorseWithContext(ectx)
	c.opts.Metrics.phase("endorse", start)
	if err != nil {
		return nil, fmt.Errorf("endorse recorded proposal %s: %w", ptx.TxID, err)
	}
	return txn, nil
}
