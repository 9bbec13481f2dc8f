package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// captureWriter tees the response body so that it can be stored as the first answer.
type captureWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	n, err := w.ResponseWriter.Write(b)
	return n, err //nolint:wrapcheck // a ResponseWriter passes errors through unchanged
}

func (w *captureWriter) WriteString(s string) (int, error) {
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

func (s *Server) idempotencyMiddleware(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		c.Next()
		return
	}
	caller := callerOf(c)
	rec, release, err := s.opts.Idempotency.Begin(c.Request.Context(), caller.KeyID, key, fingerprint(c))
	if err != nil {
		abortProblem(c, err)
		return
	}
	if rec != nil {
		if rec.TxID != "" {
			c.Header("X-Transaction-Id", rec.TxID)
			c.Set(ctxTxID, rec.TxID)
		}
		c.Header("Idempotent-Replayed", "true")
		c.Abort()
		c.Data(rec.Status, rec.ContentType, rec.Body)
		logger(c).Info("idempotent replay", "txId", rec.TxID)
		return
	}
	w := &captureWriter{ResponseWriter: c.Writer}
	c.Writer = w
	stored := false
	defer func() {
		if !stored {
			_ = release(nil)
		}
	}()
	c.Next()
	code := gateway.Code(c.GetString(ctxErrCode))
	if !storable(w.Status(), code) {
		return
	}
	stored = true
	err = release(&gateway.IdempotencyRecord{
		Status:      w.Status(),
		ContentType: w.Header().Get("Content-Type"),
		Body:        bytes.Clone(w.buf.Bytes()),
		TxID:        c.GetString(ctxTxID),
		Created:     s.opts.Now().UTC(),
	})
	if err != nil {
		logger(c).Error("cannot store the idempotent answer", "error", err)
	}
}
