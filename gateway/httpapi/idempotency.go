package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

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
	return n, err //nolint:wrapcheck // a ResponseWriter passes errors through unchanged
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.runBefore()
	w.buf.WriteString(s)
	n, err := w.ResponseWriter.WriteString(s)
	return n, err //nolint:wrapcheck // a ResponseWriter passes errors through unchanged
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

// fingerprint identifies a write: method, path, the async preference and the body.
func fingerprint(c *gin.Context) string {
	h := sha256.New()
	h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
	h.Write([]byte(strconv.FormatBool(preferAsync(c)) + "\n"))
	h.Write(bodyOf(c))
	return hex.EncodeToString(h.Sum(nil))
}

// idempotencyMiddleware gives a write with an Idempotency-Key exactly-once semantics, also
// across a crash of the gateway: the endorsed transaction is recorded durably before it is
// submitted (a PrepareHook), and a later request with the key that finds such a record without
// an answer finishes that same transaction (gateway.WithResume) instead of making a new one,
// then answers as the first request would have. A stored 202 whose transaction never reached
// the ledger is resubmitted the same way.
func (s *Server) idempotencyMiddleware(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		c.Next()
		return
	}
	caller := callerOf(c)
	fp := fingerprint(c)
	rec, release, err := s.opts.Idempotency.Begin(c.Request.Context(), caller.KeyID, key, fp)
	if err != nil {
		abortProblem(c, err)
		return
	}
	if release == nil {
		replayAnswer(c, rec)
		return
	}
	stored := false
	defer func() {
		if !stored {
			_ = release(nil)
		}
	}()
	ctx := c.Request.Context()
	var prepared *gateway.PreparedTx
	if rec != nil {
		if rec.Answered() {
			// A 202: resubmit only if the transaction never reached the ledger.
			st, err := s.ledger.TransactionStatus(ctx, caller, rec.Prepared.TxID)
			if err == nil || gateway.ErrorCode(err) != gateway.CodeNotFound {
				if err == nil {
					logger(c).Info("accepted transaction reached the ledger", "txId", st.TxID, "validationCode", st.ValidationCode)
					final := *rec
					final.Prepared = nil
					if err := release(&final); err != nil {
						logger(c).Error("cannot update the idempotent answer", "error", err)
					}
					stored = true
				}
				replayAnswer(c, rec)
				return
			}
			logger(c).Warn("accepted transaction is not on the ledger; resubmitting it", "txId", rec.Prepared.TxID)
		} else {
			logger(c).Info("finishing the transaction recorded for this Idempotency-Key", "txId", rec.Prepared.TxID)
		}
		prepared = rec.Prepared
		ctx = gateway.WithResume(ctx, *rec.Prepared)
	}
	ctx = gateway.WithPrepareHook(ctx, func(_ context.Context, tx gateway.PreparedTx) error {
		if err := s.opts.Idempotency.Prepare(caller.KeyID, key, fp, tx); err != nil {
			return fmt.Errorf("record transaction %s for Idempotency-Key: %w", tx.TxID, err)
		}
		prepared = &tx
		return nil
	})
	c.Request = c.Request.WithContext(ctx)
	w := &captureWriter{ResponseWriter: c.Writer}
	if prepared != nil {
		resumed := prepared.TxID
		w.before = func() {
			// The answer belongs to the transaction an earlier request made: a replay.
			if c.GetString(ctxTxID) == resumed {
				w.Header().Set("Idempotent-Replayed", "true")
			}
		}
	}
	c.Writer = w
	c.Next()
	code := gateway.Code(c.GetString(ctxErrCode))
	if !storable(w.Status(), code) {
		return
	}
	stored = true
	final := &gateway.IdempotencyRecord{
		Status:      w.Status(),
		ContentType: w.Header().Get("Content-Type"),
		Body:        bytes.Clone(w.buf.Bytes()),
		TxID:        c.GetString(ctxTxID),
		Created:     s.opts.Now().UTC(),
	}
	if final.Status == http.StatusAccepted && prepared != nil && prepared.TxID == final.TxID {
		final.Prepared = prepared
	}
	if err := release(final); err != nil {
		logger(c).Error("cannot store the idempotent answer", "error", err)
	}
}

// replayAnswer answers rec, the stored first answer.
func replayAnswer(c *gin.Context, rec *gateway.IdempotencyRecord) {
	if rec.TxID != "" {
		c.Header("X-Transaction-Id", rec.TxID)
		c.Set(ctxTxID, rec.TxID)
	}
	c.Header("Idempotent-Replayed", "true")
	c.Abort()
	c.Data(rec.Status, rec.ContentType, rec.Body)
	logger(c).Info("idempotent replay", "txId", rec.TxID)
}
