package chaincode

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable error code. Every error the contract returns to a client starts with one,
// followed by ": " and a human message, so gateways can map it without parsing prose.
type Code string

// The error codes of docs/design.md §5, and the codes added since: VERSION_MISMATCH (a write's
// expectedVersion is not the order's version, docs/design.md §9) and FX_OUT_OF_TOLERANCE (an
// escrow payment's FX rate is outside the bounds of the compliance rules).
const (
	CodeNotFound           Code = "NOT_FOUND"
	CodeInvalidArgument    Code = "INVALID_ARGUMENT"
	CodeForbidden          Code = "FORBIDDEN"
	CodeConflict           Code = "CONFLICT"
	CodeFailedPrecondition Code = "FAILED_PRECONDITION"
	CodeComplianceRejected Code = "COMPLIANCE_REJECTED"
	CodeVersionMismatch    Code = "VERSION_MISMATCH"
	CodeFXOutOfTolerance   Code = "FX_OUT_OF_TOLERANCE"
	CodeInternal           Code = "INTERNAL"
)

// Error is a contract error with a stable code. Field names the offending argument for
// INVALID_ARGUMENT errors (a JSON path such as "items[2].hsCode"); Details carries structured
// extras such as the list of three-document mismatches.
type Error struct {
	Code    Code
	Field   string
	Message string
	Details []string
}

// Error renders "CODE: field: message" (the field part only when set) and appends details
// as "; "-separated text so that they survive the trip through a peer.Response message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if len(e.Details) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(e.Details, "; "))
		b.WriteString("]")
	}
	return b.String()
}

// CodeOf returns the code of err if it is (or wraps) an *Error, else CodeInternal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

func errInvalid(field, format string, args ...any) error {
	return &Error{Code: CodeInvalidArgument, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

func errForbidden(format string, args ...any) error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

func errConflict(format string, args ...any) error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

func errPrecondition(format string, args ...any) error {
	return &Error{Code: CodeFailedPrecondition, Message: fmt.Sprintf(format, args...)}
}

// errPreconditionField is a FAILED_PRECONDITION error that names the field the state refuses
// (such as "timestamp").
func errPreconditionField(field, format string, args ...any) error {
	return &Error{Code: CodeFailedPrecondition, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errCompliance(format string, args ...any) error {
	return &Error{Code: CodeComplianceRejected, Message: fmt.Sprintf(format, args...)}
}

// errInternal wraps an unexpected failure (ledger access, marshalling) with context.
func errInternal(context string, err error) error {
	return fmt.Errorf("%s: %s: %w", CodeInternal, context, err)
}
