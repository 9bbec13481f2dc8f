package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

// journalLedger keeps a journal of committed transactions and follows the Ledger contract for
// prepared transactions (gateway.WithPrepareHook, gateway.WithResume) as gateway/fabric does on
// a real network (tested there against the devnet). It can lose the commit confirmation after
// committing (a commit-status timeout, or a process dying after the commit) and lose an
// accepted transaction before ordering (an orderer dying with its batch).
type journalLedger struct {
	mu        sync.Mutex
	committed map[string][]byte // txID → result payload
	blocks    map[string]uint64
	submits   int // transactions sent to the "orderer", resubmissions included
	seq       int
	// loseConfirmation commits the next transaction but answers TIMEOUT.
	loseConfirmation bool
	// loseAccepted accepts the next async transaction without ever committing it.
	loseAccepted bool
}

func newJournalLedger() *journalLedger {
	return &journalLedger{committed: map[string][]byte{}, blocks: map[string]uint64{}}
}

func (l *journalLedger) Submit(ctx context.Context, _ gateway.Caller, inv gateway.Invocation, options ...gateway.SubmitOption) (*gateway.SubmitResult, error) {
	opts := gateway.NewSubmitOptions(options...)
	if ptx := opts.Resume; ptx != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, done := l.committed[ptx.TxID]; !done {
			l.submitLocked(ptx.TxID, ptx.Bytes, opts.Async)
		}
		return l.resultLocked(ptx.TxID, ptx.Bytes, opts.Async), nil
	}
	l.mu.Lock()
	l.seq++
	txID := fmt.Sprintf("%064x", l.seq)
	l.mu.Unlock()
	// The "endorsement result": the request object with a sequence number, as the chaincode
	// would answer with the created record.
	var req map[string]any
	if err := json.Unmarshal(inv.Args[0], &req); err != nil {
		return nil, fmt.Errorf("decode the request: %w", err)
	}
	req["seq"] = txID
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode the result: %w", err)
	}
	if hook := opts.PrepareHook; hook != nil {
		// The fabric client serialises the endorsed transaction; here the payload stands in.
		if err := hook(ctx, gateway.PreparedTx{TxID: txID, Bytes: payload}); err != nil {
			return nil, &gateway.Error{Code: gateway.CodeUnavailable, Message: "cannot record", Err: err}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.submitLocked(txID, payload, opts.Async)
	if l.loseConfirmation && !opts.Async {
		l.loseConfirmation = false
		return nil, &gateway.Error{Code: gateway.CodeTimeout, TxID: txID, Message: "the commit status did not arrive"}
	}
	return l.resultLocked(txID, payload, opts.Async), nil
}

func (l *journalLedger) submitLocked(txID string, payload []byte, async bool) {
	l.submits++
	if async && l.loseAccepted {
		l.loseAccepted = false
		return
	}
	l.committed[txID] = payload
	l.blocks[txID] = uint64(len(l.blocks) + 1)
}

func (l *journalLedger) resultLocked(txID string, payload []byte, async bool) *gateway.SubmitResult {
	res := &gateway.SubmitResult{TxID: txID, Payload: payload, Attempts: 1}
	if !async {
		res.Committed = true
		res.BlockNumber = l.blocks[txID]
	}
	return res
}

func (l *journalLedger) Evaluate(context.Context, gateway.Caller, gateway.Invocation) ([]byte, error) {
	return []byte(`{}`), nil
}

func (l *journalLedger) TransactionStatus(_ context.Context, _ gateway.Caller, txID string) (*gateway.TxStatus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.committed[txID]; !ok {
		return nil, &gateway.Error{Code: gateway.CodeNotFound, TxID: txID, Message: "not in the ledger"}
	}
	return &gateway.TxStatus{TxID: txID, ValidationCode: "VALID", Valid: true, BlockNumber: l.blocks[txID]}, nil
}

func (l *journalLedger) Ready(context.Context) error { return nil }

func (l *journalLedger) Organizations() []string {
	return []string{"BankMSP", "CarrierMSP", "CustomsMSP", "MerchantMSP"}
}

func (l *journalLedger) counts() (commits, submits int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.committed), l.submits
}

// idemEnv is the real HTTP layer and bbolt store over a journalLedger; restart reopens the
// store and builds a new server, as a gateway process restart does.
type idemEnv struct {
	t      *testing.T
	path   string
	ledger *journalLedger
	st     *store.Store
	h      http.Handler
}

const merchantKey = "merchant-secret"

func newIdemEnv(t *testing.T) *idemEnv {
	e := &idemEnv{t: t, path: filepath.Join(t.TempDir(), "gateway.db"), ledger: newJournalLedger()}
	e.start()
	t.Cleanup(func() { require.NoError(t, e.st.Close()) })
	return e
}

func (e *idemEnv) start() {
	st, err := store.Open(e.path)
	require.NoError(e.t, err)
	srv, err := New(Options{Spec: api.OpenAPI, Ledger: e.ledger, Idempotency: st, Events: st,
		Keys:      []APIKey{{ID: "k-merchant", MSPID: "MerchantMSP", User: "m", SHA256: hashOf(merchantKey)}},
		RateLimit: 1e6, Burst: 1 << 20, MaxBodyBytes: 1 << 20})
	require.NoError(e.t, err)
	e.st, e.h = st, srv.Handler()
}

func (e *idemEnv) restart() {
	require.NoError(e.t, e.st.Close())
	e.start()
}

func (e *idemEnv) create(key, body string, async bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+merchantKey)
	req.Header.Set("Idempotency-Key", key)
	if async {
		req.Header.Set("Prefer", "respond-async")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

func TestIdempotencyAcrossLostAnswers(t *testing.T) {
	t.Run("a commit whose answer was lost is answered from the ledger, also after a restart", func(t *testing.T) {
		for _, restart := range []bool{false, true} {
			t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
				e := newIdemEnv(t)
				e.ledger.loseConfirmation = true
				first := e.create("k1", validOrder, false)
				require.Equal(t, http.StatusGatewayTimeout, first.Code, first.Body.String())
				var problem struct {
					TxID string `json:"txId"`
				}
				require.NoError(t, json.Unmarshal(first.Body.Bytes(), &problem))
				txID := problem.TxID
				require.NotEmpty(t, txID, "the problem names the transaction")
				if restart {
					e.restart()
				}
				retry := e.create("k1", validOrder, false)
				require.Equal(t, http.StatusCreated, retry.Code, retry.Body.String())
				require.Equal(t, txID, retry.Header().Get("X-Transaction-Id"))
				require.Equal(t, "true", retry.Header().Get("Idempotent-Replayed"))
				require.Equal(t, "/api/v1/orders/o-1", retry.Header().Get("Location"))
				var order map[string]any
				require.NoError(t, json.Unmarshal(retry.Body.Bytes(), &order))
				require.Equal(t, txID, order["seq"], "the first transaction's own result")

				replay := e.create("k1", validOrder, false)
				require.Equal(t, http.StatusCreated, replay.Code)
				require.Equal(t, retry.Body.String(), replay.Body.String())
				require.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
				commits, submits := e.ledger.counts()
				require.Equal(t, 1, commits, "one transaction")
				require.Equal(t, 1, submits, "never resubmitted: it was on the ledger")

				other := e.create("k1", strings.Replace(validOrder, `"o-1"`, `"o-2"`, 1), false)
				require.Equal(t, http.StatusUnprocessableEntity, other.Code, other.Body.String())
			})
		}
	})
	t.Run("a 202 whose transaction never reached the ledger is resubmitted on replay", func(t *testing.T) {
		e := newIdemEnv(t)
		e.ledger.loseAccepted = true
		first := e.create("k2", validOrder, true)
		require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
		txID := first.Header().Get("X-Transaction-Id")
		commits, _ := e.ledger.counts()
		require.Zero(t, commits, "lost before ordering")
		e.restart()

		replay := e.create("k2", validOrder, true)
		require.Equal(t, http.StatusAccepted, replay.Code, replay.Body.String())
		require.Equal(t, first.Body.String(), replay.Body.String())
		require.Equal(t, txID, replay.Header().Get("X-Transaction-Id"))
		require.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
		commits, submits := e.ledger.counts()
		require.Equal(t, 1, commits)
		require.Equal(t, 2, submits, "the same transaction, submitted again")

		again := e.create("k2", validOrder, true)
		require.Equal(t, http.StatusAccepted, again.Code)
		require.Equal(t, first.Body.String(), again.Body.String())
		commits, submits = e.ledger.counts()
		require.Equal(t, 1, commits)
		require.Equal(t, 2, submits, "on the ledger now: replayed without a submission")
	})
	t.Run("a 202 already on the ledger is replayed without a submission", func(t *testing.T) {
		e := newIdemEnv(t)
		first := e.create("k3", validOrder, true)
		require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
		for range 2 {
			replay := e.create("k3", validOrder, true)
			require.Equal(t, http.StatusAccepted, replay.Code)
			require.Equal(t, first.Body.String(), replay.Body.String())
			require.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
		}
		_, submits := e.ledger.counts()
		require.Equal(t, 1, submits)
	})
	t.Run("concurrent duplicates make one transaction", func(t *testing.T) {
		e := newIdemEnv(t)
		const n = 6
		var wg sync.WaitGroup
		codes := make(chan int, n)
		bodies := make(chan string, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := e.create("k4", validOrder, false)
				codes <- w.Code
				bodies <- w.Body.String()
			}()
		}
		wg.Wait()
		close(codes)
		close(bodies)
		for c := range codes {
			require.Equal(t, http.StatusCreated, c)
		}
		var first string
		for b := range bodies {
			if first == "" {
				first = b
			}
			require.Equal(t, first, b)
		}
		commits, submits := e.ledger.counts()
		require.Equal(t, 1, commits)
		require.Equal(t, 1, submits)
	})
}
