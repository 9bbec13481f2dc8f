package chaincode_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// lcTx is one write transaction with a request that is valid in shape, sent by an organisation
// allowed to send it.
type lcTx struct {
	name      string
	fn        string
	msp       string
	req       func(id string) map[string]any
	transient func() map[string]any
}

func lcWrites() []lcTx {
	none := func() map[string]any { return nil }
	return []lcTx{
		{"EscrowPayment", "EscrowPayment", chaincode.BankMSP, lcEscrowReq, lcPaymentPrivate},
		{"RegisterWaybill", "RegisterWaybill", chaincode.CarrierMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id, "waybillNo": "WB2-" + id}
		}, func() map[string]any { return lcWaybillPrivate(lcBuyerName) }},
		{"DeclareCustoms", "DeclareCustoms", chaincode.MerchantMSP, lcDeclareReq, none},
		{"DecideCustoms", "DecideCustoms", chaincode.CustomsMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id, "decision": "CLEARED"}
		}, none},
		{"RecordCheckpoint/PICKED_UP", "RecordCheckpoint", chaincode.CarrierMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id, "code": "PICKED_UP", "location": "Shenzhen"}
		}, none},
		{"RecordCheckpoint/EXCEPTION", "RecordCheckpoint", chaincode.CarrierMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id, "code": "EXCEPTION", "location": "Shenzhen"}
		}, none},
		{"ConfirmDelivery", "ConfirmDelivery", chaincode.BankMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id}
		}, none},
		{"ReleaseEscrow", "ReleaseEscrow", chaincode.MerchantMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id}
		}, none},
		{"OpenDispute", "OpenDispute", chaincode.BankMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id, "reason": "late"}
		}, none},
		{"ResolveDispute", "ResolveDispute", chaincode.BankMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id, "refundAmount": lcTotal} // before delivery only a full refund
		}, none},
		{"CancelOrder", "CancelOrder", chaincode.MerchantMSP, func(id string) map[string]any {
			return map[string]any{"orderId": id}
		}, none},
	}
}

// TestStateMachine runs every write transaction against an order in every state (simulated,
// not committed, so each order stays in its state) and checks that it succeeds exactly in the
// allowed states and is FAILED_PRECONDITION (CONFLICT for a second payment) everywhere else.
func TestStateMachine(t *testing.T) {
	paidStates := []lcState{stPaid, stDocumented, stCleared, stInTransit, stDelivered, stHeldCustoms, stDisputed, stCompleted, stCancelledPaid, stRejected, stRefunded}
	allowed := map[string][]lcState{
		"EscrowPayment":              {stCreated},
		"RegisterWaybill":            {stPaid, stDocumented, stHeldCustoms},
		"DeclareCustoms":             {stPaid, stDocumented, stHeldCustoms},
		"DecideCustoms":              {stDocumented, stHeldCustoms, stHeldCompl},
		"RecordCheckpoint/PICKED_UP": {stDocumented, stCleared},
		"RecordCheckpoint/EXCEPTION": {stDocumented, stCleared, stInTransit, stDelivered, stHeldCustoms},
		"ConfirmDelivery":            {stDelivered},
		"ReleaseEscrow":              {}, // the confirmation window has not passed
		"OpenDispute":                {stPaid, stDocumented, stCleared, stInTransit, stDelivered, stHeldCustoms},
		"ResolveDispute":             {stDisputed},
		"CancelOrder":                {stCreated, stHeldCompl, stPaid, stDocumented, stCleared, stHeldCustoms},
	}
	e := lcNew(t)
	e.lcWatchlist()
	for _, s := range lcStates {
		o := e.to("sm-"+string(s), s)
		lcConserved(t, o)
	}
	for _, tx := range lcWrites() {
		for _, s := range lcStates {
			t.Run(fmt.Sprintf("%s/%s", tx.name, s), func(t *testing.T) {
				id := "sm-" + string(s)
				before := e.l.State("\x00order\x00" + id + "\x00")
				res := e.l.Evaluate(e.cc, e.opts(tx.msp, tx.transient()), tx.fn, lcJSON(t, tx.req(id)))
				switch {
				case slices.Contains(allowed[tx.name], s):
					require.Equal(t, int32(200), res.Status, res.Message)
				case tx.name == "EscrowPayment" && slices.Contains(paidStates, s):
					require.Equal(t, string(chaincode.CodeConflict), lcCode(res), res.Message)
				default:
					require.Equal(t, string(chaincode.CodeFailedPrecondition), lcCode(res), res.Message)
				}
				require.Equal(t, before, e.l.State("\x00order\x00"+id+"\x00"), "evaluation must not commit")
			})
		}
	}
}

// TestStateMachineCheckpointOrder checks the checkpoint sequence: no gaps, no repeats,
// OUT_FOR_DELIVERY and DELIVERED only after clearance, EXCEPTION any time after the waybill.
func TestStateMachineCheckpointOrder(t *testing.T) {
	e := lcNew(t)
	e.to("cp-1", stDocumented) // declared and waybilled, not cleared
	cp := func(code string) *shimtest.Result {
		return e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": "cp-1", "code": code, "location": "X"}, nil)
	}
	e.fails(cp("DEPARTED"), chaincode.CodeFailedPrecondition)
	e.ok(cp("PICKED_UP"))
	e.fails(cp("PICKED_UP"), chaincode.CodeFailedPrecondition)
	e.fails(cp("ARRIVED"), chaincode.CodeFailedPrecondition)
	e.ok(cp("DEPARTED"))
	e.ok(cp("ARRIVED"))
	msg := e.fails(cp("OUT_FOR_DELIVERY"), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "not cleared")
	e.ok(cp("EXCEPTION"))
	o := e.decide("cp-1", chaincode.DecisionCleared)
	require.Equal(t, chaincode.StatusInTransit, o.Status, "clearance during transit keeps IN_TRANSIT")
	e.fails(cp("DELIVERED"), chaincode.CodeFailedPrecondition)
	e.ok(cp("OUT_FOR_DELIVERY"))
	o = e.ok(cp("DELIVERED"))
	require.Equal(t, chaincode.StatusDelivered, o.Status)
	e.fails(cp("DELIVERED"), chaincode.CodeFailedPrecondition)
	e.fails(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": "cp-1", "code": "LOST", "location": "X"}, nil), chaincode.CodeInvalidArgument)
	e.fails(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": "cp-1", "code": "EXCEPTION", "location": "X", "documentHash": "abc"}, nil), chaincode.CodeInvalidArgument)

	e.to("cp-2", stPaid)
	msg = e.fails(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": "cp-2", "code": "PICKED_UP", "location": "X"}, nil), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "no waybill")
}
