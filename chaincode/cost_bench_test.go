package chaincode_test

import (
	"fmt"
	"testing"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// costCall is one transaction measured by BenchmarkContractCall: who submits it, its transient
// data and, for the i-th call, its request.
type costCall struct {
	msp       string
	fn        string
	transient map[string]any
	// seed, when set, drives a template order to the state the call needs; lcSeed then writes
	// b.N copies of it (IDs prefix-000000...).
	seed    lcState
	prefix  string
	request func(id string) any
}

// BenchmarkContractCall measures the cost of one write inside the chaincode, as a peer invokes
// it: the shim stub handed to Chaincode.Invoke, contractapi's router, the serializer and the
// contract. Proposals (stubs) are built before the timer starts and nothing is committed, so
// the figures are the chaincode's own work against an in-memory ledger (no I/O). allocs/op is
// deterministic and the figure to compare; ns/op depends on the machine's load.
func BenchmarkContractCall(b *testing.B) {
	calls := []costCall{
		{msp: chaincode.MerchantMSP, fn: "CreateOrder", transient: lcOrderPrivate(), prefix: "cc",
			request: func(id string) any { return lcCreateReq(id) }},
		{msp: chaincode.BankMSP, fn: "EscrowPayment", transient: lcPaymentPrivate(), seed: stCreated, prefix: "ce",
			request: func(id string) any { return lcEscrowReq(id) }},
		{msp: chaincode.CarrierMSP, fn: "RecordCheckpoint", seed: stCleared, prefix: "cr",
			request: func(id string) any {
				return map[string]any{"orderId": id, "code": chaincode.CheckpointPickedUp, "location": "Shenzhen"}
			}},
	}
	for _, c := range calls {
		b.Run(c.fn, func(b *testing.B) {
			e := lcNew(b)
			if c.seed != "" {
				lcSeed(b, e, e.to("template", c.seed), c.prefix, b.N, 10)
			}
			// One proposal timestamp for every call, so that the endorsement-time clock check
			// passes however many calls the benchmark makes.
			opts := e.opts(c.msp, c.transient)
			stubs := make([]*shimtest.Stub, b.N)
			for i := range stubs {
				o := opts
				o.TxID = fmt.Sprintf("%s-tx-%06d", c.prefix, i)
				stubs[i] = e.l.NewStub(o, c.fn, lcJSON(b, c.request(fmt.Sprintf("%s-%06d", c.prefix, i))))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res := e.cc.Invoke(stubs[i]); res.GetStatus() != 200 {
					b.Fatalf("%s: %d %s", c.fn, res.GetStatus(), res.GetMessage())
				}
			}
		})
	}
}
