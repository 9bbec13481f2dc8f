package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// StatusOf maps each domain error code to its HTTP status.
var StatusOf = map[gateway.Code]int{
	gateway.CodeInvalidArgument:     http.StatusBadRequest,
	gateway.CodeUnauthenticated:     http.StatusUnauthorized,
	gateway.CodeForbidden:           http.StatusForbidden,
	gateway.CodeNotFound:            http.StatusNotFound,
	gateway.CodeConflict:            http.StatusConflict,
	gateway.CodeCommitFailed:        http.StatusConflict,
	gateway.CodeFailedPrecondition:  http.StatusPreconditionFailed,
	gateway.CodeVersionMismatch:     http.StatusPreconditionFailed,
	gateway.CodePayloadTooLarge:     http.StatusRequestEntityTooLarge,
	gateway.CodeComplianceRejected:  http.StatusUnprocessableEntity,
	gateway.CodeFXOutOfTolerance:    http.StatusUnprocessableEntity,
	gateway.CodeIdempotencyMismatch: http.StatusUnprocessableEntity,
	gateway.CodeRateLimited:         http.StatusTooManyRequests,
	gateway.CodeMethodNotAllowed:    http.StatusMethodNotAllowed,
	gateway.CodeInternal:            http.StatusInternalServerError,
	gateway.CodeEndorsementFailed:   http.StatusBadGateway,
	gateway.CodeUnavailable:         http.StatusServiceUnavailable,
	gateway.CodeTimeout:             http.StatusGatewayTimeout,
}

// Problem is an RFC 9457 problem details object with xborder's extensions.
type Problem struct {
	Type           string   `json:"type"`
	Title          string   `json:"title"`
	Status         int      `json:"status"`
	Detail         string   `json:"detail,omitempty"`
	Instance       string   `json:"instance,omitempty"`
	Code           string   `json:"code"`
	Field          string   `json:"field,omitempty"`
	TxID           string   `json:"txId,omitempty"`
	ValidationCode string   `json:"validationCode,omitempty"`
	Details        []string `json:"details,omitempty"`
	RequestID      string   `json:"requestId,omitempty"`
}

// ProblemContentType is the media type of error answers.
const ProblemContentType = "application/problem+json"

// NewProblem renders e as a Problem.
func NewProblem(e *gateway.Error, instance, requestID string) Problem {
	status, ok := StatusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return Problem{
		Type:           "urn:xborder:problem:" + strings.ToLower(strings.ReplaceAll(string(e.Code), "_", "-")),
		Title:          http.StatusText(status),
		Status:         status,
		Detail:         e.Message,
		Instance:       instance,
		Code:           string(e.Code),
		Field:          e.Field,
		TxID:           e.TxID,
		ValidationCode: e.ValidationCode,
		Details:        e.Details,
		RequestID:      requestID,
	}
}

// abortProblem answers err as problem+json, logs its cause and stops the handler chain.
func abortProblem(c *gin.Context, err error) {
	e := gateway.AsError(err)
	p := NewProblem(e, c.Request.URL.Path, requestID(c))
	if e.TxID != "" {
		c.Set(ctxTxID, e.TxID)
	}
	c.Set(ctxErrCode, string(e.Code))
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("code", p.Code), slog.Int("status", p.Status), slog.String("detail", p.Detail)}
	if e.TxID != "" {
		attrs = append(attrs, slog.String("txId", e.TxID))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", strings.ReplaceAll(e.Err.Error(), "\n", " | ")))
	}
	logger(c).LogAttrs(c.Request.Context(), level, "request failed", attrs...)
	body, _ := json.Marshal(p)
	body = append(body, '\n')
	c.Header("Content-Type", ProblemContentType)
	c.Abort()
	c.Status(p.Status)
	_, _ = c.Writer.Write(body)
}
