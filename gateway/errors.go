// Package gateway is the domain layer of the xborder REST gateway: the error codes and Error
// type every layer speaks, the Ledger service the HTTP layer calls (implemented with the Fabric
// Gateway SDK in gateway/fabric) with its submit options, the one mapping from REST operations
// to chaincode invocations (Operations), and the idempotency and event-log contracts
// (implemented with bbolt in gateway/store). It imports no transport or storage package, and no
// package under gateway/ imports the chaincode.
package gateway

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Code is a stable, machine-readable error code carried in every problem+json answer.
type Code string

// The error codes of docs/design.md §5 (raised by the chaincode) and §7 (raised by the gateway).
const (
	CodeInvalidArgument    Code = "INVALID_ARGUMENT"
	CodeNotFound           Code = "NOT_FOUND"
	CodeForbidden          Code = "FORBIDDEN"
	CodeConflict           Code = "CONFLICT"
	CodeFailedPrecondition Code = "FAILED_PRECONDITION"
	CodeComplianceRejected Code = "COMPLIANCE_REJECTED"
	// CodeVersionMismatch is a write whose expected version (the If-Match header) is not the
	// order's version: someone else changed the order since the client read it.
	CodeVersionMismatch Code = "VERSION_MISMATCH"
	// CodeFXOutOfTolerance is an escrow payment whose FX rate is outside the bounds the
	// compliance rules set for the currency pair.
	CodeFXOutOfTolerance  Code = "FX_OUT_OF_TOLERANCE"
	CodeUnauthenticated   Code = "UNAUTHENTICATED"
	CodeEndorsementFailed Code = "ENDORSEMENT_FAILED"
	CodeCommitFailed      Code = "COMMIT_FAILED"
	CodeTimeout           Code = "TIMEOUT"
	CodeUnavailable       Code = "UNAVAILABLE"
	// CodeRateLimited is answered when an API key exceeds its request rate.
	CodeRateLimited Code = "RATE_LIMITED"
	// CodePayloadTooLarge is answered when a request body exceeds the gateway's limit.
	CodePayloadTooLarge Code = "PAYLOAD_TOO_LARGE"
	// CodeIdempotencyMismatch is answered when an Idempotency-Key is reused with another request.
	CodeIdempotencyMismatch Code = "IDEMPOTENCY_KEY_REUSED"
	// CodeMethodNotAllowed is answered when a path exists but not with the request's method.
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	// CodeInternal is an unexpected failure inside the gateway; details go to the logs only.
	CodeInternal Code = "INTERNAL"
)

// chaincodeCodes are the codes a chaincode error message may start with, longest first so that
// matching is unambiguous.
var chaincodeCodes = []Code{
	CodeComplianceRejected, CodeFailedPrecondition, CodeFXOutOfTolerance, CodeInvalidArgument,
	CodeVersionMismatch, CodeNotFound, CodeForbidden, CodeConflict,
}

// fieldCodes are the chaincode codes whose message names the offending field first
// ("CODE: field: message").
var fieldCodes = map[Code]bool{CodeInvalidArgument: true, CodeVersionMismatch: true, CodeFXOutOfTolerance: true}

// Error is a failure with a stable code. Message is safe to show to the caller; Err (the
// cause, for example a gRPC status with peer addresses) is for logs only.
type Error struct {
	Code Code
	// Message is the human-readable explanation returned as the problem's detail.
	Message string
	// Field names the offending request field (a JSON path such as "items[0].hsCode").
	Field string
	// TxID is the Fabric transaction ID, when a transaction was made.
	TxID string
	// ValidationCode is the Fabric validation code of a transaction that failed to commit.
	ValidationCode string
	// Details lists structured extras, such as three-document mismatches.
	Details []string
	// Err is the underlying cause; it is logged, never returned to clients.
	Err error
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an INVALID_ARGUMENT *Error naming field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Error renders "CODE: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of err if it is (or wraps) an *Error, else CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns err as an *Error, wrapping an unknown error as CodeInternal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// fieldPattern matches the JSON path a chaincode puts before its message:
// "items[0].hsCode", "buyer.country", "orderId".
var fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?)*$`)

// ParseChaincodeError finds a chaincode error ("CODE: [field: ]message [detail; detail]")
// inside msg, which may carry a prefix added by the peer such as "chaincode response 500, ".
// It reports false when msg carries no known code.
func ParseChaincodeError(msg string) (*Error, bool) {
	start, code := findCode(msg)
	if start < 0 {
		return nil, false
	}
	rest := strings.TrimSpace(msg[start+len(code)+2:])
	e := &Error{Code: code}
	if head, tail, ok := strings.Cut(rest, ": "); ok && fieldCodes[code] && fieldPattern.MatchString(head) {
		e.Field, rest = head, tail
	}
	e.Message, e.Details = cutDetails(rest)
	return e, true
}

// findCode returns where the earliest chaincode code ("CODE: ") starts in msg, and the code; -1
// when there is none. A code counts only at the start or after a non-identifier character.
func findCode(msg string) (int, Code) {
	start, code := -1, Code("")
	for _, c := range chaincodeCodes {
		i := strings.Index(msg, string(c)+": ")
		if i < 0 || (i > 0 && isIdentChar(msg[i-1])) {
			continue
		}
		if start < 0 || i < start {
			start, code = i, c
		}
	}
	return start, code
}

// cutDetails splits "message [detail; detail]" into the message and its details.
func cutDetails(s string) (string, []string) {
	if !strings.HasSuffix(s, "]") {
		return s, nil
	}
	i := strings.LastIndex(s, " [")
	if i < 0 {
		return s, nil
	}
	var details []string
	for _, d := range strings.Split(s[i+2:len(s)-1], "; ") {
		if d = strings.TrimSpace(d); d != "" {
			details = append(details, d)
		}
	}
	return s[:i], details
}

func isIdentChar(c byte) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}
