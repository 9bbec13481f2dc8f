package chaincode_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// TestDeterminism runs the same lifecycle on two independent ledgers (and chaincode instances)
// with the same transaction IDs and timestamps: every transaction must produce byte-identical
// writes (public and private hashes), responses and events. It also simulates each write twice
// on the same ledger state.
func TestDeterminism(t *testing.T) {
	a, b := lcNew(t), lcNew(t)
	a.lcWatchlist()
	b.lcWatchlist()
	type step struct {
		msp, fn   string
		req       map[string]any
		transient map[string]any
	}
	id := "det-1"
	steps := []step{
		{chaincode.MerchantMSP, "CreateOrder", lcCreateReq(id), lcOrderPrivate()},
		{chaincode.BankMSP, "EscrowPayment", lcEscrowReq(id), lcPaymentPrivate()},
		{chaincode.MerchantMSP, "DeclareCustoms", lcDeclareReq(id), nil},
		{chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": id, "waybillNo": "WB-1"}, lcWaybillPrivate(lcBuyerName)},
		{chaincode.CustomsMSP, "DecideCustoms", map[string]any{"orderId": id, "decision": "HELD", "reason": "x-ray"}, nil},
		{chaincode.CustomsMSP, "DecideCustoms", map[string]any{"orderId": id, "decision": "CLEARED", "dutyAmount": 5}, nil},
		{chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": id, "code": "PICKED_UP", "location": "Shenzhen"}, nil},
		{chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": id, "code": "DEPARTED", "location": "Shenzhen"}, nil},
		{chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": id, "code": "ARRIVED", "location": "Leipzig"}, nil},
		{chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": id, "code": "OUT_FOR_DELIVERY", "location": "Berlin"}, nil},
		{chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": id, "code": "DELIVERED", "location": "Berlin"}, nil},
		{chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": id, "reason": "slow"}, nil},
		{chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": id, "refundAmount": 1234}, nil},
	}
	for _, s := range steps {
		t.Run(s.fn, func(t *testing.T) {
			// Same ledger state, same inputs, twice.
			optsA1 := a.opts(s.msp, s.transient)
			optsA2 := optsA1
			sim1 := a.l.Evaluate(a.cc, optsA1, s.fn, lcJSON(t, s.req))
			sim2 := a.l.Evaluate(a.cc, optsA2, s.fn, lcJSON(t, s.req))
			require.Equal(t, int32(200), sim1.Status, sim1.Message)
			require.Equal(t, sim1.Stub.WriteSet(), sim2.Stub.WriteSet())
			require.Equal(t, sim1.Payload, sim2.Payload)

			// Another ledger with the same history.
			optsB := b.opts(s.msp, s.transient)
			optsA := optsA1
			optsA.TxID = optsA1.TxID + "-c"
			optsB.TxID = optsA.TxID
			ra := a.l.Invoke(a.cc, optsA, s.fn, lcJSON(t, s.req))
			rb := b.l.Invoke(b.cc, optsB, s.fn, lcJSON(t, s.req))
			a.ok(ra)
			b.ok(rb)
			require.Equal(t, ra.Stub.WriteSet(), rb.Stub.WriteSet())
			require.NotEmpty(t, ra.Stub.WriteSet())
			require.Equal(t, ra.Payload, rb.Payload)
			require.Equal(t, ra.Event.EventName, rb.Event.EventName)
			require.Equal(t, ra.Event.Payload, rb.Event.Payload)
		})
	}
}
