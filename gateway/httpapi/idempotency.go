package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// captureWriter tees the response body so that it can be stored as the first answer. before,
// if set, runs once just before the first byte (and so the header) is written.
type captureWriter struct {
	gin.ResponseWriter
	buf    bytes.Buffer
	before func()
}

func (w *captureWriter) runBefore() {
	if w.before != nil {
		f := w.before
		w.before = nil
		f()
	}
}

func (w *captureWriter) WriteHeaderNow() {
	w.runBefore()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.runBefore()
	w.buf.Write(b)
	n, err := w.ResponseWriter.Write(b)
	return n, err
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.runBefore()
	w.buf.WriteString(s)
	n, err := w.ResponseWriter.WriteString(s)
	return n, err
}

// storable reports whether an answer is final for its Idempotency-Key: successes and
// deterministic client errors are; transient failures (5xx, commit failures, timeouts) are not,
// so the key may be retried.
func storable(status int, code gateway.Code) bool {
	if status >= 500 || status == http.StatusTooManyRequests {
		return false
	}
	return code != gateway.CodeCommitFailed
}

// fingerprint identifies a write: method, path, the async preference, the If-Match condition
// (when there is one) and the body.
func fingerprint(c *gin.Context) string {
	h := sha256.New()
	h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
	h.Write([]byte(strconv.FormatBool(preferAsync(c)) + "\n"))
	if cond := c.Request.Header.Values(headerIfMatch); len(cond) > 0 {
		h.Write([]byte(headerIfMatch + ": " + strings.Join(cond, ",") + "\n"))
	}
	h.Write(bodyOf(c))
	return hex.EncodeToString(h.Sum(nil))
}

// idempotencyMiddleware gives a write with an Idempotency-Key exactly-once semantics, also
// across a crash of the gateway: the endorsed transaction is recorded durably before it is
// submitted (gateway.WithPrepareHook), and a later request with the key that finds such a record
// without an answer finishes that same transaction (gateway.WithResume) instead of making a new
// one, then answers as the first request would have. A stored 202 whose transaction never
// reached the ledger is resubmitted the same way. The middleware hands those submit options to
// the write handler (submitOptions).
func (s *Server) idempotencyMiddleware(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		c.Next()
		return
	}
	w := &idempotentWrite{s: s, c: c, caller: callerOf(c), key: key, fp: fingerprint(c)}
	rec, release, err := s.opts.Idempotency.Begin(c.Request.Context(), w.caller.KeyID, key, w.fp)
	if err != nil {
		abortProblem(c, err)
		return
	}
	if release == nil {
		replayAnswer(c, rec)
		return
	}
	w.release = release
	defer w.releaseUnanswered()
	var opts []gateway.SubmitOption
	if rec != nil {
		if w.replayAccepted(rec) {
			return
		}
		w.prepared = rec.Prepared
		opts = append(opts, gateway.WithResume(*rec.Prepared))
	}
	opts = append(opts, gateway.WithPrepareHook(w.recordPrepared))
	c.Set(ctxSubmitOptions, opts)
	answer := w.captureAnswer()
	c.Next()
	w.store(answer)
}

// submitOptions returns the options the idempotency middleware asks the write handler to submit
// with (a fresh slice; none without an Idempotency-Key).
func submitOptions(c *gin.Context) []gateway.SubmitOption {
	v, _ := c.Get(ctxSubmitOptions)
	opts, _ := v.([]gateway.SubmitOption)
	return slices.Clone(opts)
}

// idempotentWrite is one write holding the claim of its Idempotency-Key.
type idempotentWrite struct {
	s       *Server
	c       *gin.Context
	caller  gateway.Caller
	key, fp string
	// release stores the final answer (nil: none, the key may be retried); stored is true once
	// it was called.
	release func(*gateway.IdempotencyRecord) error
	stored  bool
	// prepared is the write's transaction: the one resumed, or the last one recorded.
	prepared *gateway.PreparedTx
}

// releaseUnanswered gives the claim up when no answer was stored.
func (w *idempotentWrite) releaseUnanswered() {
	if !w.stored {
		_ = w.release(nil)
	}
}

// replayAccepted handles a claim found with a prepared transaction: for a stored 202 whose
// transaction reached the ledger (or whose status cannot be learnt now) it replays the stored
// answer and reports true; otherwise (no answer yet, or a 202 never ordered) the transaction is
// to be finished.
func (w *idempotentWrite) replayAccepted(rec *gateway.IdempotencyRecord) bool {
	c := w.c
	if !rec.Answered() {
		logger(c).Info("finishing the transaction recorded for this Idempotency-Key", "txId", rec.Prepared.TxID)
		return false
	}
	st, err := w.s.ledger.TransactionStatus(c.Request.Context(), w.caller, rec.Prepared.TxID)
	if gateway.ErrorCode(err) == gateway.CodeNotFound {
		logger(c).Warn("accepted transaction is not on the ledger; resubmitting it", "txId", rec.Prepared.TxID)
		return false
	}
	if err == nil {
		logger(c).Info("accepted transaction reached the ledger", "txId", st.TxID, "validationCode", st.ValidationCode)
		final := *rec
		final.Prepared = nil
		if err := w.release(&final); err != nil {
			logger(c).Error("cannot update the idempotent answer", "error", err)
		}
		w.stored = true
	}
	replayAnswer(c, rec)
	return true
}

// recordPrepared is the write's PrepareHook: it records tx durably under the key before it is
// submitted.
func (w *idempotentWrite) recordPrepared(_ context.Context, tx gateway.PreparedTx) error {
	if err := w.s.opts.Idempotency.Prepare(w.caller.KeyID, w.key, w.fp, tx); err != nil {
		return fmt.Errorf("record transaction %s for Idempotency-Key: %w", tx.TxID, err)
	}
	w.prepared = &tx
	return nil
}

// captureAnswer makes the response writer keep a copy of the answer. An answer that belongs to
// the transaction an earlier request made is a replay and says so.
func (w *idempotentWrite) captureAnswer() *captureWriter {
	c := w.c
	cw := &captureWriter{ResponseWriter: c.Writer}
	if w.prepared != nil {
		resumed := w.prepared.TxID
		cw.before = func() {
			if c.GetString(ctxTxID) == resumed {
				cw.Header().Set("Idempotent-Replayed", "true")
			}
		}
	}
	c.Writer = cw
	return cw
}

// store keeps the answer as the key's final answer when it is one (see storable).
func (w *idempotentWrite) store(answer *captureWriter) {
	c := w.c
	if !storable(answer.Status(), gateway.Code(c.GetString(ctxErrCode))) {
		return
	}
	w.stored = true
	final := &gateway.IdempotencyRecord{
		Status:      answer.Status(),
		ContentType: answer.Header().Get("Content-Type"),
		Body:        bytes.Clone(redactStored(c, answer.buf.Bytes())),
		TxID:        c.GetString(ctxTxID),
		Created:     w.s.opts.Now().UTC(),
	}
	if final.Status == http.StatusAccepted && w.prepared != nil && w.prepared.TxID == final.TxID {
		final.Prepared = w.prepared
	}
	if err := w.release(final); err != nil {
		logger(c).Error("cannot store the idempotent answer", "error", err)
	}
}

// replayAnswer answers rec, the stored first answer (with the entity tag of the order it
// returned).
func replayAnswer(c *gin.Context, rec *gateway.IdempotencyRecord) {
	if rec.TxID != "" {
		c.Header("X-Transaction-Id", rec.TxID)
		c.Set(ctxTxID, rec.TxID)
	}
	if op, ok := ledgerOperation(c); ok && op.ETag && rec.Status < http.StatusMultipleChoices {
		if etag := etagOf(rec.Body); etag != "" {
			c.Header(headerETag, etag)
		}
	}
	c.Header("Idempotent-Replayed", "true")
	c.Abort()
	c.Data(rec.Status, rec.ContentType, rec.Body)
	logger(c).Info("idempotent replay", "txId", rec.TxID)
}

// ledgerOperation returns the ledger operation the request is for, if it is one.
func ledgerOperation(c *gin.Context) (gateway.Operation, bool) {
	op := opOf(c)
	if op == nil {
		return gateway.Operation{}, false
	}
	return gateway.OperationByID(op.ID)
}
