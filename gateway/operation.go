package gateway

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Operation describes how one ledger operation of the REST contract (api/openapi.yaml) becomes a
// chaincode transaction. The table returned by Operations is the one description of that
// mapping: the HTTP layer serves it, and every client that talks to the chaincode directly with
// the Gateway SDK (the benchmark, tests) sends what it says, so both send the same transaction.
type Operation struct {
	// ID is the OpenAPI operationId, e.g. "createOrder".
	ID string
	// Transaction is the chaincode transaction, e.g. "CreateOrder".
	Transaction string
	// Write is true for a transaction that is submitted (endorsed, ordered, committed), false
	// for a query that is evaluated on one peer.
	Write bool
	// Status is the HTTP status of a successful synchronous write (200 or 201); queries answer
	// 200.
	Status int
	// OrderIDParam names the path parameter that holds the ID of the order the operation is
	// about: a write sends it as its request's "orderId", a query reads that order ("" for
	// none: the body carries it or the operation is not about one order).
	OrderIDParam string
	// Params are, in order, the request parameters (path or query) that are a query's
	// arguments.
	Params []Param
	// Paged is true for a query that has a "bookmark" parameter and whose result is a page with
	// the next page's "bookmark".
	Paged bool
	// IfMatch is true for a write on an existing order that takes the order version the
	// client expects (the If-Match header): params[ExpectedVersionParam] becomes the request's
	// numeric "expectedVersion", and the chaincode refuses the write with VERSION_MISMATCH when
	// the order is at another version.
	IfMatch bool
	// ETag is true when the result is the order: its "version" is the order's entity tag.
	ETag bool
	// Private names the request fields that travel in the transient map, never in the
	// transaction's arguments (nil for none).
	Private *Private
	// Location is the rule for the Location header of a successful write (zero: no header).
	Location Location
	// Capability, when set, has the gateway create a capability token for the written
	// resource (an order's tracking link); see Capability.
	Capability *Capability
	// Token, when set, makes the operation callable with a capability token instead of an API
	// key; see TokenAccess.
	Token *TokenAccess
}

// Param is one argument of a query, taken from the request parameter of that name.
type Param struct {
	// Name is the path or query parameter, e.g. "id" or "merchantId".
	Name string
	// Default is the argument when the request does not have the parameter.
	Default string
}

// Private moves the private fields of a write request into one transient map entry.
type Private struct {
	// TransientKey is the chaincode's transient map key, e.g. "order_private".
	TransientKey string
	// Fields pair each private request field with its name in the transient value.
	Fields []PrivateField
	// Salted adds a fresh random "salt" (64 hexadecimal digits) to the transient value, for the
	// chaincode to hash the private record with.
	Salted bool
}

// PrivateField is one private request field.
type PrivateField struct {
	// Request is the field in the request body: a top-level name ("payerName") or one level
	// down ("buyer.name").
	Request string
	// Transient is its name in the transient JSON object ("name").
	Transient string
}

// ExpectedVersionParam is the params entry of Invocation that carries the order version a write
// expects (from the If-Match header), for operations with IfMatch.
const ExpectedVersionParam = "expectedVersion"

// Location renders the Location header of a created resource: Prefix followed by the result's
// string field Field.
type Location struct {
	Prefix string
	Field  string
}

// operations is the mapping, by operationId.
var operations = []Operation{
	{ID: "createOrder", Transaction: "CreateOrder", Write: true, Status: http.StatusCreated, ETag: true,
		Private: &Private{TransientKey: "order_private", Salted: true, Fields: []PrivateField{
			{Request: "buyer.name", Transient: "name"},
			{Request: "buyer.address", Transient: "address"},
			{Request: "buyer.phone", Transient: "phone"},
			{Request: "consigneeSalt", Transient: "consigneeSalt"},
		}},
		Location: Location{Prefix: "/api/v1/orders/", Field: "orderId"}, Capability: orderTrackingLink},
	{ID: "escrowPayment", Transaction: "EscrowPayment", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true,
		Private: &Private{TransientKey: "payment_private", Salted: true, Fields: []PrivateField{
			{Request: "payerName", Transient: "payerName"},
			{Request: "payerAccount", Transient: "payerAccount"},
		}}},
	{ID: "registerWaybill", Transaction: "RegisterWaybill", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true,
		Private: &Private{TransientKey: "waybill_private", Fields: []PrivateField{
			{Request: "consigneeName", Transient: "consigneeName"},
			{Request: "consigneeAddress", Transient: "consigneeAddress"},
			{Request: "consigneeSalt", Transient: "consigneeSalt"},
		}}},
	{ID: "declareCustoms", Transaction: "DeclareCustoms", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "decideCustoms", Transaction: "DecideCustoms", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "recordCheckpoint", Transaction: "RecordCheckpoint", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "confirmDelivery", Transaction: "ConfirmDelivery", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "releaseEscrow", Transaction: "ReleaseEscrow", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "openDispute", Transaction: "OpenDispute", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "resolveDispute", Transaction: "ResolveDispute", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "cancelOrder", Transaction: "CancelOrder", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true, ETag: true},
	{ID: "setComplianceRules", Transaction: "SetComplianceRules", Write: true, Status: http.StatusOK},
	{ID: "anchorDocument", Transaction: "AnchorDocument", Write: true, Status: http.StatusCreated, IfMatch: true,
		Location: Location{Prefix: "/api/v1/documents/", Field: "sha256"}},

	{ID: "getOrder", Transaction: "GetOrder", Status: http.StatusOK, OrderIDParam: "id", ETag: true, Params: []Param{{Name: "id"}}},
	{ID: "listOrders", Transaction: "ListOrders", Status: http.StatusOK, Paged: true, Params: []Param{
		{Name: "merchantId"}, {Name: "status"}, {Name: "buyerId"}, {Name: "pageSize", Default: "0"}, {Name: "bookmark"},
		{Name: "createdFrom"}, {Name: "createdTo"},
	}},
	{ID: "getOrderHistory", Transaction: "GetOrderHistory", Status: http.StatusOK, OrderIDParam: "id", Params: []Param{{Name: "id"}}},
	{ID: "getMerchantCredit", Transaction: "GetMerchantCredit", Status: http.StatusOK, Params: []Param{{Name: "id"}}},
	{ID: "getSettlementReport", Transaction: "GetSettlementReport", Status: http.StatusOK, Params: []Param{
		{Name: "merchantId"}, {Name: "currency"}, {Name: "from"}, {Name: "to"},
	}},
	{ID: "getComplianceRules", Transaction: "GetComplianceRules", Status: http.StatusOK},
	{ID: "listComplianceAlerts", Transaction: "ListComplianceAlerts", Status: http.StatusOK, Paged: true, Params: []Param{
		{Name: "pageSize", Default: "0"}, {Name: "bookmark"},
	}},
	{ID: "verifyDocument", Transaction: "VerifyDocument", Status: http.StatusOK, Params: []Param{{Name: "sha256"}}},
}

// allOperations is the whole mapping: the lifecycle's operations, then those of the buyer, FX
// reference rates and payment terms (operation_buyer.go).
var allOperations = append(operations[:len(operations):len(operations)], buyerOperations...)

// Operations returns every ledger operation of the REST contract (a fresh copy of the table).
func Operations() []Operation {
	out := make([]Operation, len(allOperations))
	copy(out, allOperations)
	return out
}

// OperationByID returns the operation with the OpenAPI operationId id.
func OperationByID(id string) (Operation, bool) {
	for _, op := range allOperations {
		if op.ID == id {
			return op, true
		}
	}
	return Operation{}, false
}

// OperationByTransaction returns the operation that runs the chaincode transaction tx (the
// first one, when several do).
func OperationByTransaction(tx string) (Operation, bool) {
	for _, op := range allOperations {
		if op.Transaction == tx {
			return op, true
		}
	}
	return Operation{}, false
}

// Invocation turns a REST request into the chaincode invocation: params are the request's path
// and query parameters by name (a query parameter the request lacks is absent from the map),
// body is the request body of a write (JSON; empty for none). A write sends one argument, the
// body as a JSON object with the order ID of the path and without its private fields, which go
// to the transient map (salted where the chaincode hashes them); a write with IfMatch also sends
// params[ExpectedVersionParam], when present, as its numeric "expectedVersion". A query sends
// its parameters in order. An operation with Token access sends the SHA-256 of the path's token
// instead of the token. The invocation names the order it is about (OrderID). The caller's
// params and body are not modified. Errors are *Error values.
func (op Operation) Invocation(params map[string]string, body []byte) (Invocation, error) {
	inv := Invocation{Transaction: op.Transaction}
	if op.Token != nil {
		params = op.Token.withHash(params)
	}
	if !op.Write {
		for _, p := range op.Params {
			v, ok := params[p.Name]
			if !ok {
				v = p.Default
			}
			inv.Args = append(inv.Args, []byte(v))
		}
		if op.OrderIDParam != "" {
			inv.OrderID = params[op.OrderIDParam]
		}
		return inv, nil
	}
	req, err := decodeRequest(body)
	if err != nil {
		return Invocation{}, err
	}
	if op.OrderIDParam != "" {
		req["orderId"] = params[op.OrderIDParam]
	}
	if op.Token != nil {
		req[op.Token.HashField] = params[op.Token.HashField]
	}
	if err := op.expectVersion(params, req); err != nil {
		return Invocation{}, err
	}
	inv.OrderID, _ = req["orderId"].(string)
	if op.Private != nil {
		t, err := op.Private.split(req)
		if err != nil {
			return Invocation{}, err
		}
		inv.Transient = map[string][]byte{op.Private.TransientKey: t}
	}
	arg, err := json.Marshal(req)
	if err != nil {
		return Invocation{}, &Error{Code: CodeInternal, Message: "cannot encode the chaincode request", Err: err}
	}
	inv.Args = [][]byte{arg}
	return inv, nil
}

// expectVersion sends params[ExpectedVersionParam], when present on a write with IfMatch, as
// the request's numeric "expectedVersion".
func (op Operation) expectVersion(params map[string]string, req map[string]any) error {
	v, ok := params[ExpectedVersionParam]
	if !ok || !op.IfMatch {
		return nil
	}
	if _, err := strconv.ParseUint(v, 10, 63); err != nil || v == "0" || v[0] == '0' {
		return FieldError(ExpectedVersionParam, "must be a positive integer, not %q", v)
	}
	req["expectedVersion"] = json.Number(v)
	return nil
}

// decodeRequest decodes a write's JSON body (numbers kept as written) into a fresh object.
func decodeRequest(body []byte) (map[string]any, error) {
	req := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, FieldError("body", "malformed JSON: %v", err)
	}
	if req == nil { // the body was null
		req = map[string]any{}
	}
	return req, nil
}

// split removes the private fields from req and returns them as the transient JSON value.
func (p *Private) split(req map[string]any) ([]byte, error) {
	priv := map[string]any{}
	for _, f := range p.Fields {
		obj, name := req, f.Request
		if parent, child, nested := strings.Cut(f.Request, "."); nested {
			o, ok := req[parent].(map[string]any)
			if !ok {
				return nil, FieldError(parent, "is required")
			}
			obj, name = o, child
		}
		if v, ok := obj[name]; ok {
			priv[f.Transient] = v
			delete(obj, name)
		}
	}
	if p.Salted {
		var salt [32]byte
		if _, err := rand.Read(salt[:]); err != nil {
			return nil, &Error{Code: CodeInternal, Message: "cannot create a salt", Err: err}
		}
		priv["salt"] = hex.EncodeToString(salt[:])
	}
	b, err := json.Marshal(priv)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot encode private data", Err: err}
	}
	return b, nil
}

// RequestField renames the field of a chaincode error about the transient value,
// "transient.<key>.<name>", to the request field it came from ("buyer.name"). Other errors are
// returned unchanged.
func (op Operation) RequestField(err error) error {
	var e *Error
	if op.Private == nil || !errors.As(err, &e) {
		return err
	}
	name, ok := strings.CutPrefix(e.Field, "transient."+op.Private.TransientKey+".")
	if !ok {
		return err
	}
	for _, f := range op.Private.Fields {
		if f.Transient == name {
			c := *e
			c.Field = f.Request
			return &c
		}
	}
	return err
}

// Of returns the Location of the resource a write created, from the chaincode's result ("" when
// the rule is zero or the result lacks the field).
func (l Location) Of(result []byte) string {
	if l.Prefix == "" {
		return ""
	}
	var r map[string]any
	if json.Unmarshal(result, &r) != nil {
		return ""
	}
	v, ok := r[l.Field].(string)
	if !ok {
		return ""
	}
	return l.Prefix + v
}
