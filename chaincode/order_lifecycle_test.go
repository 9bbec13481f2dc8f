package chaincode_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

func TestLifecycleHappyPath(t *testing.T) {
	e := lcNew(t)
	o := e.create("o-1")
	require.Equal(t, chaincode.StatusCreated, o.Status)
	require.Equal(t, int64(lcTotal), o.Total)
	require.Equal(t, "merchant-1", o.MerchantID)
	require.Equal(t, "buyer-1", o.Buyer.ID)
	require.Empty(t, o.Buyer.Name, "write results carry no private data")
	require.Equal(t, chaincode.DefaultConfirmationWindowSeconds, o.ConfirmationWindowSeconds)
	require.Len(t, o.PrivateHash, 64)

	o = e.escrow("o-1")
	require.Equal(t, chaincode.StatusPaid, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal}, o.Escrow)
	require.Equal(t, int64(3680), o.Payment.PayerAmount)

	o = e.declare("o-1")
	require.Equal(t, chaincode.StatusDocumented, o.Status)
	require.True(t, o.Documents.Declared)
	o = e.waybill("o-1")
	require.Equal(t, chaincode.StatusDocumented, o.Status)
	require.True(t, o.Documents.Waybilled)

	o = e.decide("o-1", chaincode.DecisionCleared)
	require.Equal(t, chaincode.StatusCleared, o.Status)
	require.Equal(t, int64(120), o.Customs.DutyAmount)
	require.Equal(t, int64(250), o.Customs.TaxAmount)

	o = e.checkpoint("o-1", chaincode.CheckpointPickedUp)
	require.Equal(t, chaincode.StatusInTransit, o.Status)
	o = e.ok(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": "o-1", "code": "EXCEPTION", "location": "Leipzig hub", "documentHash": strings.Repeat("AB", 32)}, nil))
	require.Equal(t, chaincode.StatusInTransit, o.Status)
	o = e.deliver("o-1")
	require.Equal(t, chaincode.StatusDelivered, o.Status)
	require.NotEmpty(t, o.Logistics.DeliveredAt)
	require.Equal(t, int64(6), o.Logistics.Checkpoints)

	res := e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "o-1"}, nil)
	o = e.ok(res)
	require.Equal(t, chaincode.StatusCompleted, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal}, o.Escrow)
	require.Equal(t, chaincode.EventPaymentReleased, res.Event.EventName)
	lcConserved(t, o)

	// The merchant's credit report counts the outcome.
	credit := e.evaluate(chaincode.CustomsMSP, "GetMerchantCredit", "merchant-1")
	require.Equal(t, int32(200), credit.Status, credit.Message)
	require.Contains(t, string(credit.Payload), `"merchantId":"merchant-1"`)

	// Unknown orders are NOT_FOUND for queries and writes alike.
	e.fails(e.evaluate(chaincode.MerchantMSP, "GetOrder", "nope"), chaincode.CodeNotFound)
	e.fails(e.evaluate(chaincode.MerchantMSP, "GetOrderHistory", "nope"), chaincode.CodeNotFound)
	e.fails(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": "nope", "code": "PICKED_UP", "location": "X"}, nil), chaincode.CodeNotFound)

	// Every further write is refused.
	e.fails(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "o-1"}, nil), chaincode.CodeFailedPrecondition)

	// An anchored document belongs to the trail too.
	e.ok(e.invoke(chaincode.MerchantMSP, "AnchorDocument", map[string]any{"sha256": strings.Repeat("cd", 32), "orderId": "o-1", "kind": chaincode.DocumentInvoice}, nil))

	// The audit trail lists every transaction, oldest first, with the creator MSP.
	h := e.evaluate(chaincode.CustomsMSP, "GetOrderHistory", "o-1")
	require.Equal(t, int32(200), h.Status, h.Message)
	var hist chaincode.OrderHistory
	require.NoError(t, json.Unmarshal(h.Payload, &hist))
	types := map[string]int{}
	msps := map[string]bool{}
	var last time.Time
	for _, en := range hist.Entries {
		types[en.Type]++
		msps[en.CreatorMSP] = true
		at, err := time.Parse(time.RFC3339Nano, en.Timestamp)
		require.NoError(t, err)
		require.False(t, at.Before(last), "entries oldest first")
		last = at
		require.NotEmpty(t, en.TxID)
		require.NotNil(t, en.Value)
		require.Equal(t, "User1@"+strings.ToLower(strings.TrimSuffix(en.CreatorMSP, "MSP"))+".xborder.test", en.CreatorName, "the identity once, in short form")
		rec, _ := json.Marshal(en.Value)
		require.NotContains(t, string(rec), "x509::", "values carry no full identities")
	}
	// The ledger records still carry the full certifying identity.
	require.Contains(t, string(e.l.State(lcKey("checkpoint", "o-1", "000001"))), `"certifiedBy":"x509::CN=User1@carrier.xborder.test`)
	require.Equal(t, map[string]int{"order": 12, "payment": 1, "escrow": 3, "declaration": 1, "waybill": 1, "customsDecision": 1, "checkpoint": 6, "document": 1}, types)
	require.Equal(t, map[string]bool{chaincode.MerchantMSP: true, chaincode.BankMSP: true, chaincode.CarrierMSP: true, chaincode.CustomsMSP: true}, msps)
	require.Equal(t, chaincode.MerchantMSP, hist.Entries[0].CreatorMSP)
	require.Equal(t, "order", hist.Entries[0].Type)
}

func TestLifecycleCustomsRejection(t *testing.T) {
	e := lcNew(t)
	o := e.to("o-rej", stRejected)
	require.Equal(t, chaincode.StatusRejected, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Refunded: lcTotal}, o.Escrow)
	lcConserved(t, o)
	events := e.l.Events()
	last := events[len(events)-1]
	require.Equal(t, chaincode.EventCustomsDecided, last.EventName)
	require.Contains(t, string(last.Payload), `"status":"REJECTED"`)
	require.Contains(t, string(last.Payload), `"refunded":4000`)

	// A customs hold can be decided again: HELD then CLEARED.
	e.to("o-held", stHeldCustoms)
	require.Equal(t, chaincode.StatusHeld, e.get(chaincode.CustomsMSP, "o-held").Status)
	o = e.decide("o-held", chaincode.DecisionCleared)
	require.Equal(t, chaincode.StatusCleared, o.Status)
	require.Nil(t, o.Hold)
}

func TestLifecycleComplianceHold(t *testing.T) {
	e := lcNew(t)
	e.lcWatchlist()
	res := e.invoke(chaincode.MerchantMSP, "CreateOrder", func() map[string]any {
		r := lcCreateReq("o-w")
		r["merchantId"] = "merchant-watched"
		return r
	}(), lcOrderPrivate())
	o := e.ok(res)
	require.Equal(t, chaincode.StatusHeld, o.Status)
	require.Equal(t, chaincode.HoldCompliance, o.Hold.Kind)
	require.Equal(t, "ComplianceAlert", res.Event.EventName)
	alerts := e.evaluate(chaincode.CustomsMSP, "ListComplianceAlerts", "0", "")
	require.Equal(t, int32(200), alerts.Status, alerts.Message)
	require.Contains(t, string(alerts.Payload), `"orderId":"o-w"`)
	e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("o-w"), lcPaymentPrivate()), chaincode.CodeFailedPrecondition)
	o = e.ok(e.invoke(chaincode.CustomsMSP, "DecideCustoms", map[string]any{"orderId": "o-w", "decision": "CLEARED"}, nil))
	require.Equal(t, chaincode.StatusCreated, o.Status)
	require.Equal(t, chaincode.StatusPaid, e.escrow("o-w").Status)
}

func TestLifecycleCancellation(t *testing.T) {
	e := lcNew(t)
	t.Run("unpaid", func(t *testing.T) {
		o := e.to("c-1", stCancelled)
		require.Equal(t, chaincode.StatusCancelled, o.Status)
		require.Equal(t, chaincode.Escrow{}, o.Escrow)
	})
	t.Run("paid by bank for the buyer", func(t *testing.T) {
		o := e.to("c-2", stCancelledPaid)
		require.Equal(t, chaincode.StatusCancelled, o.Status)
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Refunded: lcTotal}, o.Escrow)
		lcConserved(t, o)
	})
	t.Run("after pickup refused", func(t *testing.T) {
		e.to("c-3", stInTransit)
		msg := e.fails(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": "c-3"}, nil), chaincode.CodeFailedPrecondition)
		require.Contains(t, msg, "IN_TRANSIT")
	})
}

func TestLifecycleDisputePartialRefund(t *testing.T) {
	e := lcNew(t)
	e.to("d-1", stDelivered)
	o := e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "d-1", "reason": "one widget broken"}, nil))
	require.Equal(t, chaincode.StatusDisputed, o.Status)
	e.now = e.now.Add(30 * 24 * time.Hour)
	msg := e.fails(e.invoke(chaincode.CarrierMSP, "ReleaseEscrow", map[string]any{"orderId": "d-1"}, nil), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "DISPUTED")
	e.fails(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "d-1"}, nil), chaincode.CodeFailedPrecondition)
	e.fails(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "d-1", "refundAmount": lcTotal + 1}, nil), chaincode.CodeInvalidArgument)
	res := e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "d-1", "refundAmount": 1500, "resolution": "partial refund"}, nil)
	o = e.ok(res)
	require.Equal(t, chaincode.StatusCompleted, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal - 1500, Refunded: 1500}, o.Escrow)
	require.Equal(t, chaincode.EventDisputeResolved, res.Event.EventName)
	lcConserved(t, o)

	e.to("d-2", stRefunded)
	o = e.get(chaincode.BankMSP, "d-2")
	require.Equal(t, chaincode.StatusRefunded, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Refunded: lcTotal}, o.Escrow)
}

func TestLifecycleAutoRelease(t *testing.T) {
	e := lcNew(t)
	req := lcCreateReq("r-1")
	req["confirmationWindowSeconds"] = 3600
	e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"minConfirmationWindowSeconds": 3600}, nil))
	req["promisedDeliveryBy"] = "2026-12-31"
	e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
	e.escrow("r-1")
	e.declare("r-1")
	e.waybill("r-1")
	e.decide("r-1", chaincode.DecisionCleared)
	e.checkpoint("r-1", chaincode.CheckpointPickedUp)
	o := e.deliver("r-1")
	delivered, err := time.Parse(time.RFC3339Nano, o.Logistics.DeliveredAt)
	require.NoError(t, err)

	e.now = delivered.Add(30 * time.Minute)
	msg := e.fails(e.invoke(chaincode.MerchantMSP, "ReleaseEscrow", map[string]any{"orderId": "r-1"}, nil), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, delivered.Add(time.Hour).Format(time.RFC3339Nano))

	e.now = delivered.Add(time.Hour - time.Second) // the next transaction is exactly at the end of the window
	res := e.invoke(chaincode.CustomsMSP, "ReleaseEscrow", map[string]any{"orderId": "r-1"}, nil)
	o = e.ok(res)
	require.Equal(t, chaincode.StatusCompleted, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal}, o.Escrow)
	require.Equal(t, chaincode.EventPaymentReleased, res.Event.EventName)
}

func TestLifecycleEscrowChecks(t *testing.T) {
	e := lcNew(t)
	e.create("p-1")
	bad := lcEscrowReq("p-1")
	bad["payerAmount"] = 3681
	msg := e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", bad, lcPaymentPrivate()), chaincode.CodeInvalidArgument)
	require.Contains(t, msg, "payerAmount: must be 3680")
	e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("p-1"), nil), chaincode.CodeInvalidArgument)
	e.escrow("p-1")
	second := lcEscrowReq("p-1")
	second["paymentId"] = "pay-other"
	e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", second, lcPaymentPrivate()), chaincode.CodeConflict)
	e.create("p-2")
	e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", func() map[string]any { r := lcEscrowReq("p-2"); r["paymentId"] = "pay-p-1"; return r }(), lcPaymentPrivate()), chaincode.CodeConflict)
	e.fails(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq("nope"), lcPaymentPrivate()), chaincode.CodeNotFound)
	e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("p-1"), lcOrderPrivate()), chaincode.CodeConflict)
}

func TestLifecycleArgumentErrors(t *testing.T) {
	e := lcNew(t)
	cases := []struct {
		name   string
		mutate func(r map[string]any)
		want   string
	}{
		{"unknown field", func(r map[string]any) { r["colour"] = "red" }, "INVALID_ARGUMENT: colour:"},
		{"wrong type", func(r map[string]any) { r["shippingFee"] = "ten" }, "INVALID_ARGUMENT: shippingFee: must be of type integer"},
		{"bad currency", func(r map[string]any) { r["currency"] = "XYZ" }, "INVALID_ARGUMENT: currency:"},
		{"no items", func(r map[string]any) { r["items"] = []any{} }, "INVALID_ARGUMENT: items:"},
		{"bad hs code", func(r map[string]any) {
			r["items"] = []map[string]any{{"sku": "S", "name": "N", "hsCode": "12", "quantity": 1, "unitPrice": 1}}
		}, "INVALID_ARGUMENT: items[0].hsCode:"},
		{"overflow", func(r map[string]any) {
			r["items"] = []map[string]any{{"sku": "S", "name": "N", "hsCode": "850440", "quantity": 4, "unitPrice": int64(1) << 62}}
		}, "INVALID_ARGUMENT: items[0].unitPrice:"},
		{"missing order id", func(r map[string]any) { delete(r, "orderId") }, "INVALID_ARGUMENT: orderId:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := lcCreateReq("a-1")
			c.mutate(r)
			res := e.invoke(chaincode.MerchantMSP, "CreateOrder", r, lcOrderPrivate())
			require.NotEqual(t, int32(200), res.Status)
			require.True(t, strings.HasPrefix(res.Message, c.want), "got %q", res.Message)
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		res := e.l.Invoke(e.cc, e.opts(chaincode.MerchantMSP, lcOrderPrivate()), "CreateOrder", "{not json")
		require.True(t, strings.HasPrefix(res.Message, "INVALID_ARGUMENT: request:"), res.Message)
	})
}
