package chaincode

import (
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/shimtest"
)

// dispatchCall is one call of TestWriteTransactionsDirect.
type dispatchCall struct {
	name      string
	msp       string
	transient map[string]any
	fn        string
	args      []string
	commit    bool // commit the contractapi run, so that later calls see its writes
}

// dispatchCalls drives one order through its lifecycle and tries the malformed, misnamed and
// unauthorised variants of the writes along the way.
func dispatchCalls() []dispatchCall {
	const create = `{"orderId":"d-1","merchantId":"merchant-1","buyer":{"id":"buyer-1","country":"DE"},"sellerCountry":"CN","currency":"USD",` +
		`"items":[{"sku":"SKU-1","name":"Widget","hsCode":"850440","quantity":2,"unitPrice":1500}],"shippingFee":300}`
	orderPrivate := map[string]any{TransientOrderPrivate: map[string]any{"name": "Anna Schmidt", "address": "Hauptstrasse 1, 10115 Berlin", "phone": "+49 30 1234567", "salt": "00112233445566778899aabbccddeeff"}}
	paymentPrivate := map[string]any{TransientPaymentPrivate: map[string]any{"payerName": "Anna Schmidt", "payerAccount": "DE89370400440532013000", "salt": "00112233445566778899aabbccddeeff"}}
	waybillPrivate := map[string]any{TransientWaybillPrivate: map[string]any{"consigneeName": "Anna Schmidt", "consigneeAddress": "Hauptstrasse 1, 10115 Berlin"}}
	const escrow = `{"orderId":"d-1","paymentId":"pay-d-1","payerCurrency":"EUR","payerAmount":3036,"fxRate":"0.92","fee":50}`
	return []dispatchCall{
		{name: "malformed JSON", msp: MerchantMSP, fn: "CreateOrder", args: []string{`{"orderId":`}},
		{name: "trailing data", msp: MerchantMSP, fn: "CreateOrder", args: []string{`{} {}`}},
		{name: "unknown field", msp: MerchantMSP, fn: "CreateOrder", args: []string{`{"orderId":"d-1","colour":"red"}`}},
		{name: "wrong type", msp: MerchantMSP, fn: "CreateOrder", args: []string{`{"orderId":7}`}},
		{name: "invalid fields", msp: MerchantMSP, fn: "CreateOrder", args: []string{`{"orderId":"d 1"}`}},
		{name: "wrong organisation", msp: BankMSP, fn: "CreateOrder", args: []string{create}},
		{name: "outsider", msp: rtOutsider, fn: "CreateOrder", args: []string{`{"orderId":`}},
		{name: "no arguments", msp: MerchantMSP, fn: "CreateOrder"},
		{name: "two arguments", msp: MerchantMSP, fn: "CreateOrder", args: []string{create, create}},
		{name: "missing transient", msp: MerchantMSP, fn: "CreateOrder", args: []string{create}},
		{name: "lower-case name", msp: MerchantMSP, transient: orderPrivate, fn: "createOrder", args: []string{create}},
		{name: "other contract", msp: MerchantMSP, transient: orderPrivate, fn: "other:CreateOrder", args: []string{create}},
		{name: "create", msp: MerchantMSP, transient: orderPrivate, fn: "xborder:CreateOrder", args: []string{create}, commit: true},
		{name: "create again", msp: MerchantMSP, transient: orderPrivate, fn: "CreateOrder", args: []string{create}},
		{name: "escrow unknown order", msp: BankMSP, transient: paymentPrivate, fn: "EscrowPayment", args: []string{`{"orderId":"nope","paymentId":"p","payerCurrency":"EUR","payerAmount":1,"fxRate":"1","fee":0}`}},
		{name: "escrow", msp: BankMSP, transient: paymentPrivate, fn: "EscrowPayment", args: []string{escrow}, commit: true},
		{name: "declare", msp: MerchantMSP, fn: "DeclareCustoms", args: []string{`{"orderId":"d-1","declarationId":"decl-1","declaredValue":3300,"hsCodes":["850440"]}`}, commit: true},
		{name: "waybill", msp: CarrierMSP, transient: waybillPrivate, fn: "RegisterWaybill", args: []string{`{"orderId":"d-1","waybillNo":"WB-1"}`}, commit: true},
		{name: "clear", msp: CustomsMSP, fn: "DecideCustoms", args: []string{`{"orderId":"d-1","decision":"CLEARED","dutyAmount":120,"taxAmount":250}`}, commit: true},
		{name: "checkpoint out of order", msp: CarrierMSP, fn: "RecordCheckpoint", args: []string{`{"orderId":"d-1","code":"DELIVERED","location":"Berlin"}`}},
		{name: "checkpoint", msp: CarrierMSP, fn: "RecordCheckpoint", args: []string{`{"orderId":"d-1","code":"PICKED_UP","location":"Shenzhen"}`}, commit: true},
		{name: "query", msp: RegulatorMSP, fn: "GetOrder", args: []string{"d-1"}},
		{name: "metadata", msp: RegulatorMSP, fn: "org.hyperledger.fabric:GetMetadata"},
		{name: "unknown function", msp: MerchantMSP, fn: "DeleteOrder", args: []string{`{}`}},
	}
}

// TestWriteTransactionsDirect checks that Chaincode.Invoke runs exactly the write transactions
// directly (those taking one "request" argument), and that each call answers, writes and emits
// exactly what contractapi's router gives for the same proposal.
func TestWriteTransactionsDirect(t *testing.T) {
	var writes []string
	for fn, args := range transactionArguments {
		if slices.Equal(args, []string{requestArgument}) {
			writes = append(writes, fn)
		}
	}
	require.ElementsMatch(t, writes, slices.Collect(maps.Keys(writeTransactions)))

	e := rtNew(t)
	cc, err := NewChaincode(WithMaxClockSkew(0))
	require.NoError(t, err)
	require.True(t, cc.contract.plainRouting(), "NewContract's routing is the one invokeWrite reproduces")
	other := NewContract()
	other.AfterTransaction = func(contractapi.TransactionContextInterface) error { return nil }
	require.False(t, other.plainRouting(), "an AfterTransaction leaves writes to contractapi")
	other = NewContract()
	other.BeforeTransaction = func(contractapi.TransactionContextInterface) error { return nil }
	require.False(t, other.plainRouting(), "another BeforeTransaction leaves writes to contractapi")
	for _, c := range dispatchCalls() {
		t.Run(c.name, func(t *testing.T) {
			opts := e.opts(c.msp, c.transient)
			router := e.l.NewStub(opts, c.fn, c.args...)
			direct := e.l.NewStub(opts, c.fn, c.args...)
			want := cc.cc.Invoke(router)
			if c.fn == "org.hyperledger.fabric:GetMetadata" {
				want = cc.Invoke(router)
			}
			got := cc.Invoke(direct)
			require.Equal(t, want.GetStatus(), got.GetStatus(), "status (message %q vs %q)", want.GetMessage(), got.GetMessage())
			require.Equal(t, want.GetMessage(), got.GetMessage())
			require.Equal(t, string(want.GetPayload()), string(got.GetPayload()))
			require.Equal(t, string(router.WriteSet()), string(direct.WriteSet()))
			if c.commit {
				require.Equal(t, int32(200), want.GetStatus(), want.GetMessage())
				require.NoError(t, e.l.Commit(router))
			}
		})
	}
}

// TestWriteTransactionsConcurrent runs writes of several creators at once on a chaincode whose
// identity cache starts empty (run with -race).
func TestWriteTransactionsConcurrent(t *testing.T) {
	e := rtNew(t)
	cc, err := NewChaincode(WithMaxClockSkew(0))
	require.NoError(t, err)
	msps := []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP, RegulatorMSP}
	stubs := make([]*shimtest.Stub, 40)
	for i := range stubs {
		stubs[i] = e.l.NewStub(e.opts(msps[i%len(msps)], nil), "AnchorDocument", `{"sha256":"`+string(rune('a'+i%6))+`"}`)
	}
	want := make([]string, len(stubs))
	for i, s := range stubs {
		want[i] = cc.cc.Invoke(e.l.NewStub(shimtest.TxOptions{Creator: e.ids.Creator(msps[i%len(msps)]), TxID: s.TxID()}, "AnchorDocument", `{"sha256":"`+string(rune('a'+i%6))+`"}`)).GetMessage()
	}
	var wg sync.WaitGroup
	got := make([]string, len(stubs))
	for i, s := range stubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = cc.Invoke(s).GetMessage()
		}()
	}
	wg.Wait()
	require.Equal(t, want, got)
}
