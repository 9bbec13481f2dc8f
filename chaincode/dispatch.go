package chaincode

import (
	"reflect"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// writeCall runs one write transaction of the contract on its JSON request and renders the
// result with the chaincode's serializer.
type writeCall func(c *Contract, ctx contractapi.TransactionContextInterface, request string, s serializer.TransactionSerializer) (string, error)

// writeTransaction returns the writeCall of a contract method that takes one request (a struct
// embedding requestBase) and returns a result and an error. The request is decoded as
// requestSerializer.FromString decodes it (a decoding error is carried to the transaction); the
// result is rendered by s.ToString as contractapi renders it.
func writeTransaction[R any, P interface {
	*R
	argCarrier
}, O any](method func(*Contract, contractapi.TransactionContextInterface, R) (O, error)) writeCall {
	resultType := reflect.TypeFor[O]()
	return func(c *Contract, ctx contractapi.TransactionContextInterface, request string, s serializer.TransactionSerializer) (string, error) {
		var req R
		if err := decodeRequest(request, P(&req)); err != nil {
			var fresh R
			P(&fresh).setArgError(err)
			req = fresh
		}
		out, err := method(c, ctx, req)
		if err != nil {
			return "", err
		}
		return s.ToString(reflect.ValueOf(&out).Elem(), resultType, nil, nil)
	}
}

// writeTransactions are the contract's write transactions that Chaincode.Invoke runs directly
// (see invokeWrite). TestWriteTransactionsDirect checks that they are exactly the transactions
// taking one "request" argument and that each answers as contractapi's router does.
var writeTransactions = map[string]writeCall{
	"CreateOrder":             writeTransaction((*Contract).CreateOrder),
	"EscrowPayment":           writeTransaction((*Contract).EscrowPayment),
	"RegisterWaybill":         writeTransaction((*Contract).RegisterWaybill),
	"DeclareCustoms":          writeTransaction((*Contract).DeclareCustoms),
	"DecideCustoms":           writeTransaction((*Contract).DecideCustoms),
	"RecordCheckpoint":        writeTransaction((*Contract).RecordCheckpoint),
	"ConfirmDelivery":         writeTransaction((*Contract).ConfirmDelivery),
	"ReleaseEscrow":           writeTransaction((*Contract).ReleaseEscrow),
	"OpenDispute":             writeTransaction((*Contract).OpenDispute),
	"ResolveDispute":          writeTransaction((*Contract).ResolveDispute),
	"CancelOrder":             writeTransaction((*Contract).CancelOrder),
	"SetComplianceRules":      writeTransaction((*Contract).SetComplianceRules),
	"AnchorDocument":          writeTransaction((*Contract).AnchorDocument),
	"SubmitBuyerStatement":    writeTransaction((*Contract).SubmitBuyerStatement),
	"SetTrackingLink":         writeTransaction((*Contract).SetTrackingLink),
	"PublishFXReferenceRates": writeTransaction((*Contract).PublishFXReferenceRates),
}

// invokeWrite runs a write transaction of the xborder contract called with its one argument
// without contractapi's router, and reports whether it did. It does what the router does for
// such a call — a fresh transaction context with the stub and the creator's identity, the
// contract's BeforeTransaction (checkArguments), the strict decoding of requestSerializer, the
// transaction, the result rendered by the serializer, the error as a shim error — without the
// router's per-call costs: parsing the creator's certificate again (the identity comes from
// c.identities), a goroutine and channel per argument, and reflective calls. Every other call
// (queries, GetMetadata, unknown functions, wrong argument counts, creators that cannot be
// parsed) goes to contractapi.
func (c *Chaincode) invokeWrite(stub shim.ChaincodeStubInterface) (*peer.Response, bool) {
	ns, fn, params := splitFunction(stub)
	call, ok := writeTransactions[fn]
	if !ok || ns != ContractName || len(params) != 1 || !c.contract.plainRouting() {
		return nil, false
	}
	ci, ok := c.identities.get(stub)
	if !ok {
		return nil, false
	}
	ctx := new(contractapi.TransactionContext)
	ctx.SetStub(stub)
	ctx.SetClientIdentity(ci)
	if err := checkArgumentsOf(ctx, ns, fn, params); err != nil {
		return shim.Error(err.Error()), true
	}
	out, err := call(c.contract, ctx, params[0], c.cc.TransactionSerializer)
	if err != nil {
		return shim.Error(err.Error()), true
	}
	return shim.Success([]byte(out)), true
}

// plainRouting reports whether the contract is routed as NewContract sets it up — BeforeTransaction
// checkArguments, no AfterTransaction, contractapi's default transaction context — which is
// what invokeWrite reproduces. A contract set up otherwise leaves every call to contractapi.
func (c *Contract) plainRouting() bool {
	before := reflect.ValueOf(c.BeforeTransaction)
	return c.AfterTransaction == nil && c.TransactionContextHandler == nil &&
		before.Kind() == reflect.Func && before.Pointer() == reflect.ValueOf(checkArguments).Pointer()
}
