package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// The organisations of the xborder consortium (DESIGN.md section 2).
const (
	MerchantMSP = "MerchantMSP"
	BankMSP     = "BankMSP"
	CarrierMSP  = "CarrierMSP"
	CustomsMSP  = "CustomsMSP"
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

// privateSpec says which request fields are private: they travel in one transient map entry,
// never in the transaction arguments (DESIGN.md section 4), exactly as the REST gateway sends
// them.
type privateSpec struct {
	transientKey string
	object       string // "" for the top level of the request
	fields       []string
	salted       bool
}

// opSpec describes how an Op is sent by each driver.
type opSpec struct {
	org    string // the organisation allowed to perform it
	method string
	path   string // REST path; "%s" is the order ID
	write  bool
	// private mirrors the REST gateway: private fields travel in the transient map and, as
	// there, the Fabric gateway chooses the endorsing collection members.
	private *privateSpec
}

var opSpecs = map[Op]opSpec{
	OpCreateOrder: {org: MerchantMSP, method: "POST", path: "/api/v1/orders", write: true,
		private: &privateSpec{transientKey: "order_private", object: "buyer", fields: []string{"name", "address", "phone"}, salted: true}},
	OpEscrowPayment: {org: BankMSP, method: "POST", path: "/api/v1/orders/%s/payment", write: true,
		private: &privateSpec{transientKey: "payment_private", fields: []string{"payerName", "payerAccount"}, salted: true}},
	OpRegisterWaybill: {org: CarrierMSP, method: "POST", path: "/api/v1/orders/%s/waybill", write: true,
		private: &privateSpec{transientKey: "waybill_private", fields: []string{"consigneeName", "consigneeAddress"}}},
	OpDeclareCustoms:   {org: MerchantMSP, method: "POST", path: "/api/v1/orders/%s/customs/declaration", write: true},
	OpDecideCustoms:    {org: CustomsMSP, method: "POST", path: "/api/v1/orders/%s/customs/decision", write: true},
	OpRecordCheckpoint: {org: CarrierMSP, method: "POST", path: "/api/v1/orders/%s/checkpoints", write: true},
	OpConfirmDelivery:  {org: BankMSP, method: "POST", path: "/api/v1/orders/%s/delivery-confirmation", write: true},
	OpGetOrder:         {org: CustomsMSP, method: "GET", path: "/api/v1/orders/%s"},
	OpListOrders:       {org: MerchantMSP, method: "GET", path: "/api/v1/orders"},
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

// domainCodes are the chaincode's stable error codes (DESIGN.md section 5).
var domainCodes = []string{"NOT_FOUND", "INVALID_ARGUMENT", "FORBIDDEN", "CONFLICT", "FAILED_PRECONDITION", "COMPLIANCE_REJECTED"}

// domainCode finds the earliest chaincode error code ("CODE: message") in msg.
func domainCode(msg string) (string, bool) {
	best, at := "", -1
	for _, c := range domainCodes {
		i := strings.Index(msg, c+": ")
		for i > 0 && isIdent(msg[i-1]) {
			j := strings.Index(msg[i+1:], c+": ")
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i >= 0 && (at < 0 || i < at) {
			best, at = c, i
		}
	}
	return best, at >= 0
}

func isIdent(b byte) bool {
	return b == '_' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
}
