package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/testkit"
)

// The organisations of the xborder consortium (docs/design.md §2).
const (
	MerchantMSP = testkit.MerchantMSP
	BankMSP     = testkit.BankMSP
	CarrierMSP  = testkit.CarrierMSP
	CustomsMSP  = testkit.CustomsMSP
)

// Op is one xborder operation, named after its chaincode transaction.
type Op string

// The operations the workloads use.
const (
	OpCreateOrder      Op = "CreateOrder"
	OpEscrowPayment    Op = "EscrowPayment"
	OpRegisterWaybill  Op = "RegisterWaybill"
	OpDeclareCustoms   Op = "DeclareCustoms"
	OpDecideCustoms    Op = "DecideCustoms"
	OpRecordCheckpoint Op = "RecordCheckpoint"
	OpConfirmDelivery  Op = "ConfirmDelivery"
	OpGetOrder         Op = "GetOrder"
	OpListOrders       Op = "ListOrders"
)

// opOrg is the organisation that performs each operation. What each operation sends is the
// gateway's mapping (gateway.OperationByTransaction), so that both drivers send what the REST
// gateway sends.
var opOrg = map[Op]string{
	OpCreateOrder:      MerchantMSP,
	OpEscrowPayment:    BankMSP,
	OpRegisterWaybill:  CarrierMSP,
	OpDeclareCustoms:   MerchantMSP,
	OpDecideCustoms:    CustomsMSP,
	OpRecordCheckpoint: CarrierMSP,
	OpConfirmDelivery:  BankMSP,
	OpGetOrder:         CustomsMSP,
	OpListOrders:       MerchantMSP,
}

// operation returns the gateway's description of op and the organisation that performs it.
func operation(op Op) (gateway.Operation, string, error) {
	o, ok := gateway.OperationByTransaction(string(op))
	org := opOrg[op]
	if !ok || org == "" {
		return gateway.Operation{}, "", &CallError{Op: op, Reason: "UNKNOWN_OP", Err: errors.New("no such operation")}
	}
	return o, org, nil
}

// Request is one operation with its input.
type Request struct {
	// Op is the operation.
	Op Op
	// OrderID is the order the operation is about (the path parameter for REST, the request's
	// "orderId" for the chaincode). CreateOrder carries it in Body.
	OrderID string
	// Body is the REST request body of a write, private fields included.
	Body map[string]any
	// MerchantID and PageSize select the page of a ListOrders.
	MerchantID string
	PageSize   int
}

// params returns the request's REST path and query parameters by name.
func (r Request) params() map[string]string {
	p := map[string]string{}
	if r.OrderID != "" {
		p["id"] = r.OrderID
	}
	if r.MerchantID != "" {
		p["merchantId"] = r.MerchantID
	}
	if r.PageSize > 0 {
		p["pageSize"] = strconv.Itoa(r.PageSize)
	}
	return p
}

// body returns the JSON body of a write (nil for none).
func (r Request) body() ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := json.Marshal(r.Body)
	if err != nil {
		return nil, &CallError{Op: r.Op, Reason: "ENCODE", Err: fmt.Errorf("encode body: %w", err)}
	}
	return b, nil
}

// Driver performs xborder operations against one target. Implementations are safe for
// concurrent use by the workers of a round.
type Driver interface {
	// Name is the target's name in reports ("rest" or "sdk").
	Name() string
	// Do performs req and returns once it is committed (writes) or answered (reads). A failure
	// is a *CallError whose Reason classifies it.
	Do(ctx context.Context, req Request) error
	// Close releases the driver's connections.
	Close() error
}

// RetryCounter is a Driver that counts the operations it (or the gateway behind it) sent
// again: Retries returns the running totals by reason (mvcc_read_conflict, stale_not_found,
// ...), so that a round reports what it took to get its operations through.
type RetryCounter interface {
	Retries() map[string]int64
}

// retriesOf returns d's running retry totals (nil when d does not count them).
func retriesOf(d Driver) map[string]int64 {
	if rc, ok := d.(RetryCounter); ok {
		return rc.Retries()
	}
	return nil
}

// retriesSince returns the retries counted after before, by reason (nil for none).
func retriesSince(before, after map[string]int64) map[string]int64 {
	var out map[string]int64
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[k] = n
		}
	}
	return out
}

// CallError is a failed operation with the reason it is counted under in reports.
type CallError struct {
	// Op is the failed operation.
	Op Op
	// Reason is a short stable classifier: a domain code (CONFLICT, FAILED_PRECONDITION, ...),
	// a validation code (MVCC_READ_CONFLICT, ...), TIMEOUT, UNAVAILABLE, or HTTP_<status>.
	Reason string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *CallError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Op, e.Reason, e.Err)
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

// ReasonOf classifies err for the failure table of a report.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var ce *CallError
	if errors.As(err, &ce) && ce.Reason != "" {
		return ce.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "TIMEOUT"
	}
	if errors.Is(err, context.Canceled) {
		return "CANCELLED"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "NETWORK"
	}
	return "ERROR"
}

// domainCode finds the chaincode error code ("CODE: message") in msg.
func domainCode(msg string) (string, bool) {
	e, ok := gateway.ParseChaincodeError(msg)
	if !ok {
		return "", false
	}
	return string(e.Code), true
}
