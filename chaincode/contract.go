package chaincode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// ContractName is the name of the xborder contract inside the chaincode; it is also the
// default contract, so clients may call "CreateOrder" or "xborder:CreateOrder".
const ContractName = "xborder"

// ContractVersion is the version reported in the contract metadata.
const ContractVersion = "1.0.0"

// Contract is the xborder smart contract: the order lifecycle (this package's *_write.go and
// order_read.go files) and the rules, compliance, credit and document transactions.
type Contract struct {
	contractapi.Contract
	cfg config
}

// NewContract returns the xborder contract with its name and metadata information set. Before
// every transaction it checks the number of arguments (see checkArguments); a function name
// that is not a transaction is refused with a coded error (see unknownTransaction). Options
// configure the endorsement-time clock check of write proposals (WithMaxClockSkew, WithClock).
func NewContract(opts ...Option) *Contract {
	c := &Contract{cfg: defaultConfig()}
	for _, opt := range opts {
		opt(&c.cfg)
	}
	c.Name = ContractName
	c.Info = metadata.InfoMetadata{
		Title:       "xborder",
		Description: "Cross-border e-commerce orders, escrowed payments with FX, customs three-document match, logistics certification and delivery-versus-payment settlement.",
		Version:     ContractVersion,
		License:     &metadata.LicenseMetadata{Name: "Apache-2.0"},
	}
	c.BeforeTransaction = checkArguments
	c.UnknownTransaction = unknownTransaction
	return c
}

// evaluateTransactions are the read-only transactions, tagged "evaluate" in the metadata.
var evaluateTransactions = []string{
	"GetOrder", "ListOrders", "GetOrderHistory",
	"GetComplianceRules", "ListComplianceAlerts", "GetMerchantCredit", "GetSettlementReport",
	"VerifyDocument",
	"GetTrackingView", "GetFXReferenceRate", "GetFXExposureReport",
}

// GetEvaluateTransactions returns the names of the contract's read-only transactions, so that
// the metadata tags them "evaluate" (contractapi.EvaluationContractInterface).
func (c *Contract) GetEvaluateTransactions() []string {
	return append([]string(nil), evaluateTransactions...)
}

// requestArgument names the single argument of every write transaction.
const requestArgument = "request"

// transactionArguments names the arguments of every transaction, in order. Writes take one
// JSON object; queries take plain strings. TestMetadataComplete checks it against the
// metadata, so it cannot drift from the Go signatures.
var transactionArguments = map[string][]string{
	"CreateOrder":          {requestArgument},
	"EscrowPayment":        {requestArgument},
	"RegisterWaybill":      {requestArgument},
	"DeclareCustoms":       {requestArgument},
	"DecideCustoms":        {requestArgument},
	"RecordCheckpoint":     {requestArgument},
	"ConfirmDelivery":      {requestArgument},
	"ReleaseEscrow":        {requestArgument},
	"OpenDispute":          {requestArgument},
	"ResolveDispute":       {requestArgument},
	"CancelOrder":          {requestArgument},
	"SetComplianceRules":   {requestArgument},
	"AnchorDocument":       {requestArgument},
	"GetOrder":             {"orderId"},
	"ListOrders":           {"merchantId", "status", "buyerId", "pageSize", "bookmark", "createdFrom", "createdTo"},
	"GetOrderHistory":      {"orderId"},
	"GetComplianceRules":   {},
	"ListComplianceAlerts": {"pageSize", "bookmark"},
	"GetMerchantCredit":    {"merchantId"},
	"GetSettlementReport":  {"merchantId", "currency", "from", "to"},
	"VerifyDocument":       {"sha256"},
	// The buyer, FX reference rates and payment terms (docs/design.md §10).
	"SubmitBuyerStatement":    {requestArgument},
	"SetTrackingLink":         {requestArgument},
	"PublishFXReferenceRates": {requestArgument},
	"GetTrackingView":         {"tokenHash"},
	"GetFXReferenceRate":      {"orderCurrency", "payerCurrency", "date"},
	"GetFXExposureReport":     {"bankId", "from", "to"},
}

// TransactionArguments returns the argument names of every transaction of the contract, in
// order (a fresh copy). Write transactions take one argument, "request": the request as a
// JSON object.
func TransactionArguments() map[string][]string {
	out := make(map[string][]string, len(transactionArguments))
	for k, v := range transactionArguments {
		out[k] = append([]string{}, v...)
	}
	return out
}

// checkArguments runs before every transaction (the contract's BeforeTransaction). contractapi
// reports too few arguments without an error code ("incorrect number of params. Expected 1,
// received 0") and silently ignores extra ones; this check reports both as
// "INVALID_ARGUMENT: arguments: ...", naming the expected arguments. A caller from outside the
// consortium gets FORBIDDEN instead, whatever its arguments. Unknown transaction names are
// left to unknownTransaction.
func checkArguments(ctx contractapi.TransactionContextInterface) error {
	ns, fn, params := splitFunction(ctx.GetStub())
	return checkArgumentsOf(ctx, ns, fn, params)
}

// checkArgumentsOf is checkArguments on the invoked function as splitFunction returned it.
func checkArgumentsOf(ctx contractapi.TransactionContextInterface, ns, fn string, params []string) error {
	want, known := transactionArguments[fn]
	if ns != ContractName {
		known = false
	}
	if !known || len(params) == len(want) {
		return nil
	}
	if _, err := requireOrg(ctx, fn, Organisations...); err != nil {
		return err
	}
	var shape string
	switch {
	case len(want) == 1 && want[0] == requestArgument:
		shape = "1 argument (the request as a JSON object)"
	case len(want) == 0:
		shape = "no arguments"
	case len(want) == 1:
		shape = "1 argument (" + want[0] + ")"
	default:
		shape = strconv.Itoa(len(want)) + " arguments (" + strings.Join(want, ", ") + ")"
	}
	return errInvalid("arguments", "%s takes %s, got %d", fn, shape, len(params))
}

// splitFunction returns the contract and transaction name of the invoked function as
// contractapi resolves them (no "contract:" prefix = the default contract xborder; the first
// letter of the transaction name is upper-cased, so "getOrder" is GetOrder), and the arguments.
func splitFunction(stub shim.ChaincodeStubInterface) (string, string, []string) {
	fn, params := stub.GetFunctionAndParameters()
	ns := ContractName
	if i := strings.LastIndex(fn, ":"); i >= 0 {
		ns, fn = fn[:i], fn[i+1:]
	}
	if r, size := utf8.DecodeRuneInString(fn); size > 0 {
		fn = string(unicode.ToUpper(r)) + fn[size:]
	}
	return ns, fn, params
}

// unknownTransaction answers a call of a function the contract does not have (the contract's
// UnknownTransaction) with "INVALID_ARGUMENT: function: ..." instead of contractapi's uncoded
// "Function X not found in contract xborder"; a caller from outside the consortium gets
// FORBIDDEN.
func unknownTransaction(ctx contractapi.TransactionContextInterface) error {
	fn, _ := ctx.GetStub().GetFunctionAndParameters()
	if _, err := requireOrg(ctx, fn, Organisations...); err != nil {
		return err
	}
	return errInvalid("function", "%s is not a transaction of contract %s", quoteValue(fn), ContractName)
}

// legacyArgumentCounts lists the transactions that gained trailing optional arguments, with the
// number of arguments they had before: ListOrders took (merchantId, status, buyerId, pageSize,
// bookmark) before createdFrom and createdTo were added. Clients written for the former form keep
// working; the added arguments are then "".
var legacyArgumentCounts = map[string]int{"ListOrders": 5}

// withLegacyArguments returns stub, or for a call in a former argument form (see
// legacyArgumentCounts) a stub whose arguments are padded with "" to the current form.
func withLegacyArguments(stub shim.ChaincodeStubInterface) shim.ChaincodeStubInterface {
	ns, fn, params := splitFunction(stub)
	legacy, ok := legacyArgumentCounts[fn]
	if ns != ContractName || !ok || len(params) != legacy {
		return stub
	}
	args := stub.GetArgs()
	for len(args)-1 < len(transactionArguments[fn]) {
		args = append(args, []byte{})
	}
	return &paddedStub{ChaincodeStubInterface: stub, args: args}
}

// paddedStub is a stub whose arguments were padded by withLegacyArguments; everything else is
// the peer's stub.
type paddedStub struct {
	shim.ChaincodeStubInterface
	args [][]byte
}

// GetArgs returns the padded arguments, the function name first.
func (s *paddedStub) GetArgs() [][]byte { return s.args }

// GetStringArgs returns the padded arguments as strings.
func (s *paddedStub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

// GetArgsSlice returns the padded arguments concatenated, as the shim's stub does.
func (s *paddedStub) GetArgsSlice() ([]byte, error) { return bytes.Join(s.args, nil), nil }

// GetFunctionAndParameters returns the function name and the padded parameters.
func (s *paddedStub) GetFunctionAndParameters() (string, []string) {
	all := s.GetStringArgs()
	return all[0], all[1:]
}

// ChaincodeVersion is the chaincode-level version reported in the metadata's info (the
// contract's own info carries ContractVersion).
const ChaincodeVersion = ContractVersion

// ChaincodeTitle is the chaincode-level title reported in the metadata's info.
const ChaincodeTitle = "xborder"

// chaincodeInfo returns the chaincode-level information of the metadata that
// org.hyperledger.fabric:GetMetadata returns.
func chaincodeInfo() metadata.InfoMetadata {
	return metadata.InfoMetadata{
		Title:       ChaincodeTitle,
		Description: "Cross-border e-commerce payment: orders, escrow with FX, customs, logistics, compliance, merchant credit and document anchoring.",
		Version:     ChaincodeVersion,
		License:     &metadata.LicenseMetadata{Name: "Apache-2.0"},
	}
}

// getMetadataFunction is the name of the metadata transaction of contractapi's system contract
// (contractapi.SystemContractName).
const getMetadataFunction = "GetMetadata"

// Chaincode is the xborder chaincode. It implements shim.Chaincode: serve it with shim.Start
// (classic, peer-launched chaincode) or as the CC of a shim.ChaincodeServer (chaincode as a
// service). Calls go to contractapi's ContractChaincode serving the xborder contract, except
// write transactions called with their one argument, which Invoke runs itself exactly as
// contractapi's router would (see invokeWrite).
// contractapi renders the metadata once, inside contractapi.NewChaincode, with the
// chaincode-level info left at "undefined"/"latest" (its Info field is read only there), so
// Chaincode puts its own info (ChaincodeTitle, ChaincodeVersion) into the answer of
// org.hyperledger.fabric:GetMetadata.
type Chaincode struct {
	cc         *contractapi.ContractChaincode
	contract   *Contract
	identities identityCache
}

// NewChaincode builds the chaincode that serves the xborder contract, configured with opts (see
// NewContract).
func NewChaincode(opts ...Option) (*Chaincode, error) {
	contract := NewContract(opts...)
	cc, err := contractapi.NewChaincode(contract)
	if err != nil {
		return nil, fmt.Errorf("create xborder chaincode: %w", err)
	}
	// Kept for completeness: contractapi rendered the metadata inside NewChaincode already, so
	// Invoke puts the same info into GetMetadata's answer.
	cc.Info = chaincodeInfo()
	cc.TransactionSerializer = &requestSerializer{}
	return &Chaincode{cc: cc, contract: contract}, nil
}

// Init is called when the chaincode is instantiated or upgraded (Fabric 1.x lifecycle, or an
// --init-required definition); it delegates to contractapi.
func (c *Chaincode) Init(stub shim.ChaincodeStubInterface) *peer.Response {
	return c.cc.Init(stub)
}

// Invoke runs one transaction. org.hyperledger.fabric:GetMetadata returns contractapi's
// metadata with the chaincode info (ChaincodeTitle, ChaincodeVersion) as its info. A call of a
// transaction that gained trailing arguments, made with its former number of arguments, gets
// the new ones as "" (see legacyArgumentCounts). Write transactions called with their one
// argument skip contractapi's router and answer exactly as it would (see invokeWrite).
func (c *Chaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	stub = withLegacyArguments(stub)
	if resp, ok := c.invokeWrite(stub); ok {
		return resp
	}
	resp := c.cc.Invoke(stub)
	if ns, fn, _ := splitFunction(stub); ns != contractapi.SystemContractName || fn != getMetadataFunction || resp.GetStatus() != shim.OK {
		return resp
	}
	out, err := withChaincodeInfo(resp.GetPayload(), chaincodeInfo())
	if err != nil {
		return shim.Error(errInternal("set chaincode info in metadata", err).Error())
	}
	return shim.Success(out)
}

// withChaincodeInfo replaces the top-level "info" of a metadata document. The other members keep
// their content (the document is re-encoded compactly, its members in sorted order, so the
// result is deterministic).
func withChaincodeInfo(doc []byte, info metadata.InfoMetadata) ([]byte, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(doc, &members); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("encode info: %w", err)
	}
	members["info"] = b
	out, err := json.Marshal(members)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return out, nil
}

// requestBase is embedded in every write request. It carries a decoding error from the
// serializer to the transaction, so that a malformed request is reported by the transaction
// itself as "INVALID_ARGUMENT: <field>: ..." instead of contractapi's uncoded parameter error.
type requestBase struct {
	argErr error
}

func (b *requestBase) setArgError(err error) { b.argErr = err }

func (b *requestBase) argError() error { return b.argErr }

// argCarrier is implemented by pointers to request structs.
type argCarrier interface {
	setArgError(err error)
	argError() error
}

// requestSerializer decodes struct arguments strictly (unknown fields and trailing data
// rejected, errors coded INVALID_ARGUMENT and naming the field). For requests that embed
// requestBase the decoding error is deferred to the transaction, which reports it after the
// authorisation check; every other type is handled by contractapi's JSON serializer.
type requestSerializer struct {
	serializer.JSONSerializer
}

// FromString converts one transaction argument.
func (s *requestSerializer) FromString(param string, fieldType reflect.Type, pm *metadata.ParameterMetadata, components *metadata.ComponentMetadata) (reflect.Value, error) {
	if fieldType.Kind() != reflect.Struct || fieldType == reflect.TypeOf(time.Time{}) {
		return s.JSONSerializer.FromString(param, fieldType, pm, components)
	}
	v := reflect.New(fieldType)
	if err := decodeRequest(param, v.Interface()); err != nil {
		if _, ok := v.Interface().(argCarrier); !ok {
			// contractapi prefixes this with "error managing parameter paramN. ".
			return reflect.Value{}, err
		}
		v = reflect.New(fieldType)
		carrier, _ := v.Interface().(argCarrier)
		carrier.setArgError(err)
	}
	return v.Elem(), nil
}

// ToString renders a transaction's result as JSON. It does not validate the result against the
// metadata schema as contractapi's serializer does: the results are the contract's own Go
// types, and the validation (gojsonschema over the whole result) dominated the cost of a
// ListOrders page.
func (s *requestSerializer) ToString(result reflect.Value, resultType reflect.Type, _ *metadata.ReturnMetadata, components *metadata.ComponentMetadata) (string, error) {
	return s.JSONSerializer.ToString(result, resultType, nil, components)
}

// decodeRequest decodes one JSON object into v, rejecting unknown fields, trailing data and
// damaged text (invalid UTF-8 or lone surrogates, which the JSON decoder turns into U+FFFD; see
// checkText) in any string field.
func decodeRequest(param string, v any) error {
	dec := json.NewDecoder(strings.NewReader(param))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errInvalid(te.Field, "must be of type %s, got %s", jsonTypeName(te.Type), te.Value)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if f, uerr := strconv.Unquote(name); uerr == nil {
				name = f
			}
			return errInvalid(name, "is not a known field")
		}
		return errInvalid("request", "must be a JSON object: %s", jsonErrorText(err))
	}
	if dec.More() {
		return errInvalid("request", "must be exactly one JSON object")
	}
	return checkStrings("", v)
}

// jsonTypeName names a Go type the way a JSON client thinks of it.
func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}
