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

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
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
}

// NewContract returns the xborder contract with its name and metadata information set.
func NewContract() *Contract {
	c := &Contract{}
	c.Name = ContractName
	c.Info = metadata.InfoMetadata{
		Title:       "xborder",
		Description: "Cross-border e-commerce orders, escrowed payments with FX, customs three-document match, logistics certification and delivery-versus-payment settlement.",
		Version:     ContractVersion,
		License:     &metadata.LicenseMetadata{Name: "Apache-2.0"},
	}
	return c
}

// evaluateTransactions are the read-only transactions, tagged "evaluate" in the metadata.
var evaluateTransactions = []string{
	"GetOrder", "ListOrders", "GetOrderHistory",
	"GetComplianceRules", "ListComplianceAlerts", "GetMerchantCredit", "GetSettlementReport",
	"VerifyDocument",
}

// GetEvaluateTransactions returns the names of the contract's read-only transactions, so that
// the metadata tags them "evaluate" (contractapi.EvaluationContractInterface).
func (c *Contract) GetEvaluateTransactions() []string {
	return append([]string(nil), evaluateTransactions...)
}

// NewChaincode builds the chaincode that serves the xborder contract. The result implements
// shim.Chaincode: it can be started with its Start method (classic or chaincode-as-a-service,
// chosen by contractapi from the environment) or served by a shim.ChaincodeServer.
func NewChaincode() (*contractapi.ContractChaincode, error) {
	cc, err := contractapi.NewChaincode(NewContract())
	if err != nil {
		return nil, fmt.Errorf("create xborder chaincode: %w", err)
	}
	cc.TransactionSerializer = &requestSerializer{}
	return cc, nil
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

// decodeRequest decodes one JSON object into v, rejecting unknown fields and trailing data.
func decodeRequest(param string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(param)))
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
	return nil
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
