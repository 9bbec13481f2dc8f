package fabric_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/devapp"
)

var merchantCaller = gateway.Caller{KeyID: "test", MSPID: "MerchantMSP", User: "test"}

// createOrder is the CreateOrder invocation the HTTP layer makes for order id, with salt as its
// private salt (two proposals for one order differ only in it).
func createOrder(t *testing.T, id, salt string) gateway.Invocation {
	t.Helper()
	arg, err := json.Marshal(map[string]any{
		"orderId": id, "merchantId": "m-prepared",
		"buyer":         map[string]any{"id": "b-" + id, "country": "US"},
		"sellerCountry": "CN", "currency": "USD",
		"items":       []any{map[string]any{"sku": "s", "name": "Tea", "hsCode": "090210", "quantity": 2, "unitPrice": 1250}},
		"shippingFee": 500,
	})
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(salt))
	priv, err := json.Marshal(map[string]any{"name": "Ann", "address": "1 Main St", "phone": "+1 555", "salt": hex.EncodeToString(sum[:])})
	require.NoError(t, err)
	return gateway.Invocation{Transaction: "CreateOrder", Args: [][]byte{arg},
		Transient: map[string][]byte{"order_private": priv}}
}

var errCrash = errors.New("the process died before submitting")

// prepareOnly endorses inv and records its prepared transaction without submitting it, as a
// gateway that dies between recording and submitting would.
func prepareOnly(t *testing.T, app *devapp.App, inv gateway.Invocation) gateway.PreparedTx {
	t.Helper()
	var ptx gateway.PreparedTx
	_, err := app.Ledger.Submit(context.Background(), merchantCaller, inv, gateway.WithPrepareHook(func(_ context.Context, tx gateway.PreparedTx) error {
		ptx = tx
		return errCrash
	}))
	require.ErrorIs(t, err, errCrash)
	require.Equal(t, gateway.CodeUnavailable, gateway.ErrorCode(err), "nothing was submitted: the key may be retried")
	require.NotEmpty(t, ptx.TxID)
	require.NotEmpty(t, ptx.Bytes)
	_, err = app.Ledger.TransactionStatus(context.Background(), merchantCaller, ptx.TxID)
	require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err), "the prepared transaction must not have been submitted")
	return ptx
}

func TestResumePreparedTransaction(t *testing.T) {
	dataDir := t.TempDir()
	start := func() *devapp.App {
		app, err := devapp.Start(context.Background(), devapp.Config{DataDir: dataDir, HTTPAddr: "127.0.0.1:0", CommitTimeout: 20 * time.Second})
		require.NoError(t, err)
		return app
	}
	app := start()
	t.Cleanup(func() { require.NoError(t, app.Close()) })
	ctx := context.Background()
	height := func() uint64 { return app.Network.OrdererHeight() }
	// heightAfter returns the ledger's height once it covers block: a commit status can be
	// answered a moment before the devnet's height moves past the block.
	heightAfter := func(t *testing.T, block uint64) uint64 {
		t.Helper()
		require.Eventually(t, func() bool { return height() > block }, 10*time.Second, time.Millisecond)
		return height()
	}

	t.Run("committed before the answer was stored: the ledger answers, nothing is resubmitted", func(t *testing.T) {
		var ptx gateway.PreparedTx
		hooked := gateway.WithPrepareHook(func(_ context.Context, tx gateway.PreparedTx) error {
			ptx = tx
			return nil
		})
		first, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-committed", "salt-1"), hooked)
		require.NoError(t, err)
		require.Equal(t, first.TxID, ptx.TxID, "the hook sees the submitted transaction")
		h := heightAfter(t, first.BlockNumber)

		for _, async := range []bool{false, true} {
			opts := []gateway.SubmitOption{gateway.WithResume(ptx)}
			if async {
				opts = append(opts, gateway.WithAsync())
			}
			again, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-committed", "salt-2"), opts...)
			require.NoError(t, err)
			require.Equal(t, first.TxID, again.TxID)
			require.JSONEq(t, string(first.Payload), string(again.Payload))
			if !async {
				require.True(t, again.Committed)
				require.Equal(t, first.BlockNumber, again.BlockNumber)
			}
		}
		require.Equal(t, h, height(), "no second transaction")
	})

	t.Run("never submitted: the same transaction is submitted", func(t *testing.T) {
		ptx := prepareOnly(t, app, createOrder(t, "prep-unsubmitted", "salt-1"))
		res, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-unsubmitted", "salt-2"), gateway.WithResume(ptx))
		require.NoError(t, err)
		require.Equal(t, ptx.TxID, res.TxID)
		require.True(t, res.Committed)
		var order map[string]any
		require.NoError(t, json.Unmarshal(res.Payload, &order))
		require.Equal(t, "prep-unsubmitted", order["orderId"])
		st, err := app.Ledger.TransactionStatus(ctx, merchantCaller, ptx.TxID)
		require.NoError(t, err)
		require.True(t, st.Valid)
		require.Equal(t, res.BlockNumber, st.BlockNumber)

		h := heightAfter(t, res.BlockNumber)
		again, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-unsubmitted", "salt-3"), gateway.WithResume(ptx))
		require.NoError(t, err)
		require.Equal(t, res.TxID, again.TxID)
		require.Equal(t, res.BlockNumber, again.BlockNumber)
		require.Equal(t, h, height(), "no second transaction")
	})

	t.Run("accepted but never ordered: an async resume submits the same transaction", func(t *testing.T) {
		ptx := prepareOnly(t, app, createOrder(t, "prep-async", "salt-1"))
		res, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-async", "salt-2"), gateway.WithResume(ptx), gateway.WithAsync())
		require.NoError(t, err)
		require.Equal(t, ptx.TxID, res.TxID)
		// A synchronous resume waits for that same transaction (or finds it committed).
		res, err = app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-async", "salt-3"), gateway.WithResume(ptx))
		require.NoError(t, err)
		require.Equal(t, ptx.TxID, res.TxID)
		require.True(t, res.Committed)
		st, err := app.Ledger.TransactionStatus(ctx, merchantCaller, ptx.TxID)
		require.NoError(t, err)
		require.True(t, st.Valid, "the transaction's first copy is the valid one: %s", st.ValidationCode)
	})

	t.Run("outdated: the same proposal, endorsed again, is refused by the chaincode", func(t *testing.T) {
		stale := prepareOnly(t, app, createOrder(t, "prep-stale", "salt-1"))
		// Another transaction creates the order first.
		other, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-stale", "salt-2"))
		require.NoError(t, err)
		h := heightAfter(t, other.BlockNumber)

		var recorded []string
		record := gateway.WithPrepareHook(func(_ context.Context, tx gateway.PreparedTx) error {
			recorded = append(recorded, tx.TxID)
			return nil
		})
		_, err = app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-stale", "salt-3"), gateway.WithResume(stale), record)
		require.Equal(t, gateway.CodeConflict, gateway.ErrorCode(err), "the order exists: %v", err)
		require.Empty(t, recorded, "no new transaction")
		_, err = app.Ledger.TransactionStatus(ctx, merchantCaller, stale.TxID)
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err), "the outdated transaction was never submitted")
		require.Equal(t, h, height())
	})

	t.Run("invalidated by a conflicting commit: a fresh proposal is made and recorded", func(t *testing.T) {
		customs := gateway.Caller{KeyID: "test", MSPID: "CustomsMSP", User: "test"}
		rules := func(watch string) gateway.Invocation {
			return gateway.Invocation{Transaction: "SetComplianceRules", Args: [][]byte{[]byte(`{"watchlist":["` + watch + `"]}`)}}
		}
		var stale gateway.PreparedTx
		_, err := app.Ledger.Submit(ctx, customs, rules("prep-a"), gateway.WithPrepareHook(func(_ context.Context, tx gateway.PreparedTx) error {
			stale = tx
			return errCrash
		}))
		require.ErrorIs(t, err, errCrash)
		require.Empty(t, stale.Proposal, "no private data: the endorsed transaction itself is resubmitted")
		// Another rules update commits first: the stale transaction read the old version.
		_, err = app.Ledger.Submit(ctx, customs, rules("prep-b"))
		require.NoError(t, err)

		var recorded []string
		record := gateway.WithPrepareHook(func(_ context.Context, tx gateway.PreparedTx) error {
			recorded = append(recorded, tx.TxID)
			return nil
		})
		res, err := app.Ledger.Submit(ctx, customs, rules("prep-a"), gateway.WithResume(stale), record)
		require.NoError(t, err)
		require.NotEqual(t, stale.TxID, res.TxID, "a fresh proposal")
		require.Equal(t, []string{res.TxID}, recorded, "the fresh proposal is recorded before it is submitted")
		st, err := app.Ledger.TransactionStatus(ctx, customs, stale.TxID)
		require.NoError(t, err)
		require.Equal(t, "MVCC_READ_CONFLICT", st.ValidationCode, "the stale copy was submitted and can never commit")
		require.Contains(t, string(res.Payload), "prep-a")
	})

	t.Run("recorded before a restart: the private data is endorsed again with the same ID", func(t *testing.T) {
		ptx := prepareOnly(t, app, createOrder(t, "prep-restart", "salt-1"))
		require.NotEmpty(t, ptx.Proposal, "a transaction with private data keeps its proposal")
		// The peers forget the private data of uncommitted transactions when they stop.
		require.NoError(t, app.Close())
		app = start()
		res, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-restart", "salt-2"), gateway.WithResume(ptx))
		require.NoError(t, err)
		require.Equal(t, ptx.TxID, res.TxID)
		require.True(t, res.Committed)
		out, err := app.Ledger.Evaluate(ctx, merchantCaller, gateway.Invocation{Transaction: "GetOrder", Args: [][]byte{[]byte("prep-restart")}})
		require.NoError(t, err)
		require.Contains(t, string(out), "1 Main St", "the private data reached the ledger")

		h := heightAfter(t, res.BlockNumber)
		again, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-restart", "salt-3"), gateway.WithResume(ptx))
		require.NoError(t, err)
		require.Equal(t, res.TxID, again.TxID)
		require.JSONEq(t, string(res.Payload), string(again.Payload))
		require.Equal(t, h, height())
	})

	t.Run("unreadable recorded bytes are refused", func(t *testing.T) {
		_, err := app.Ledger.Submit(ctx, merchantCaller, createOrder(t, "prep-garbage", "salt"),
			gateway.WithResume(gateway.PreparedTx{TxID: "x", Bytes: []byte("not a transaction")}))
		require.Equal(t, gateway.CodeInternal, gateway.ErrorCode(err))
	})
}
