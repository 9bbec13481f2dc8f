package chaincode_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// lcTermsRules sets compliance rules that let a merchant with the neutral score (no history)
// offer every kind of terms, with a milestone share of up to maxShare basis points.
func (e *lcEnv) lcTermsRules(minScore int64, maxShare int64) {
	e.t.Helper()
	e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{
		"paymentTermsMinScore": map[string]int64{chaincode.TermsMilestones: minScore, chaincode.TermsAutoRelease: minScore},
		"maxMilestoneShareBps": maxShare,
	}, nil))
}

// lcResult is one transaction's result with the env's assertions.
type lcResult struct {
	e   *lcEnv
	res *shimtest.Result
}

// ok asserts success and returns the order.
func (r *lcResult) ok() chaincode.Order {
	r.e.t.Helper()
	return r.e.ok(r.res)
}

// fails asserts the error code and returns the message.
func (r *lcResult) fails(code chaincode.Code) string {
	r.e.t.Helper()
	return r.e.fails(r.res, code)
}

// createTerms creates order id under terms.
func (e *lcEnv) createTerms(id string, terms map[string]any) *lcResult {
	e.t.Helper()
	req := lcCreateReq(id)
	req["paymentTerms"] = terms
	return &lcResult{e: e, res: e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate())}
}

// TestTermsAreCreditGated: a merchant may offer MILESTONES or AUTO_RELEASE only with a credit
// score at or above the rules' minimum (by default a merchant without history may not); the
// order records the terms and the score they were granted at.
func TestTermsAreCreditGated(t *testing.T) {
	e := lcNew(t)
	milestones := map[string]any{"kind": chaincode.TermsMilestones, "clearanceShareBps": 3000}
	msg := e.createTerms("tg-1", milestones).fails(chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "paymentTerms.kind: merchant merchant-1 scores 500 (xborder-credit-v2, 0 finished orders); MILESTONES terms need at least 700")
	msg = e.createTerms("tg-1", map[string]any{"kind": chaincode.TermsAutoRelease, "autoReleaseDays": 3}).fails(chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "AUTO_RELEASE terms need at least 600")
	o := e.createTerms("tg-0", map[string]any{"kind": chaincode.TermsFullEscrow}).ok()
	require.Equal(t, &chaincode.PaymentTerms{Kind: chaincode.TermsFullEscrow}, o.PaymentTerms)

	e.lcTermsRules(501, 5000)
	e.createTerms("tg-1", milestones).fails(chaincode.CodeFailedPrecondition)
	e.lcTermsRules(500, 2000)
	msg = e.createTerms("tg-1", milestones).fails(chaincode.CodeInvalidArgument)
	require.Contains(t, msg, "paymentTerms.clearanceShareBps: must be at most 2000")
	e.lcTermsRules(500, 5000)
	o = e.createTerms("tg-1", milestones).ok()
	require.Equal(t, &chaincode.PaymentTerms{Kind: chaincode.TermsMilestones, ClearanceShareBps: 3000, GrantedAtScore: 500}, o.PaymentTerms)

	for _, c := range []struct {
		name  string
		terms map[string]any
		field string
	}{
		{"unknown kind", map[string]any{"kind": "NET_30"}, "paymentTerms.kind"},
		{"share of 100 %", map[string]any{"kind": chaincode.TermsMilestones, "clearanceShareBps": 10000}, "paymentTerms.clearanceShareBps"},
		{"no share", map[string]any{"kind": chaincode.TermsMilestones}, "paymentTerms.clearanceShareBps"},
		{"too many days", map[string]any{"kind": chaincode.TermsAutoRelease, "autoReleaseDays": 31}, "paymentTerms.autoReleaseDays"},
		{"days on milestones", map[string]any{"kind": chaincode.TermsMilestones, "clearanceShareBps": 10, "autoReleaseDays": 2}, "paymentTerms.autoReleaseDays"},
		{"share on full escrow", map[string]any{"kind": chaincode.TermsFullEscrow, "clearanceShareBps": 10}, "paymentTerms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := e.createTerms("tg-bad", c.terms).fails(chaincode.CodeInvalidArgument)
			require.Contains(t, msg, "INVALID_ARGUMENT: "+c.field+": ")
		})
	}
	req := lcCreateReq("tg-bad")
	req["paymentTerms"] = map[string]any{"kind": chaincode.TermsAutoRelease, "autoReleaseDays": 2}
	req["confirmationWindowSeconds"] = 86400
	msg = e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()), chaincode.CodeInvalidArgument)
	require.Contains(t, msg, "confirmationWindowSeconds: must be omitted with AUTO_RELEASE")
}

// TestMilestoneTerms: customs clearance releases the share in the same transaction (writing the
// escrow key); refunds afterwards return only what is still held; the merchant cannot cancel
// and keep the share; released + refunded = amount at the end, on every path.
func TestMilestoneTerms(t *testing.T) {
	e := lcNew(t)
	e.lcTermsRules(0, 5000)
	share := int64(lcTotal * 3000 / 10000)
	clear := func(id string) chaincode.Order {
		e.createTerms(id, map[string]any{"kind": chaincode.TermsMilestones, "clearanceShareBps": 3000}).ok()
		e.escrow(id)
		e.declare(id)
		e.waybill(id)
		res := e.invoke(chaincode.CustomsMSP, "DecideCustoms", map[string]any{"orderId": id, "decision": chaincode.DecisionCleared}, nil)
		o := e.ok(res)
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: share}, o.Escrow)
		require.Equal(t, chaincode.StatusCleared, o.Status)
		h := e.l.History(lcKey("escrow", id))
		require.Equal(t, res.TxID, h[0].GetTxId(), "the clearance writes the escrow key (the bank's side endorses it)")
		var dec chaincode.DecisionRecord
		require.NoError(t, json.Unmarshal(e.l.State(lcKey("decision", id)), &dec))
		require.Equal(t, share, dec.Released)
		lcConserved(t, o)
		return o
	}

	t.Run("released on delivery", func(t *testing.T) {
		clear("mt-1")
		e.checkpoint("mt-1", chaincode.CheckpointPickedUp)
		e.deliver("mt-1")
		o := e.ok(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "mt-1"}, nil))
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal}, o.Escrow)
	})
	t.Run("merchant may not cancel, the bank refunds what is held", func(t *testing.T) {
		clear("mt-2")
		msg := e.fails(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": "mt-2"}, nil), chaincode.CodeFailedPrecondition)
		require.Contains(t, msg, "only the bank may cancel it")
		o := e.ok(e.invoke(chaincode.BankMSP, "CancelOrder", map[string]any{"orderId": "mt-2"}, nil))
		require.Equal(t, chaincode.StatusCancelled, o.Status)
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: share, Refunded: lcTotal - share}, o.Escrow)
		lcConserved(t, o)
	})
	t.Run("dispute before delivery refunds what is held", func(t *testing.T) {
		clear("mt-3")
		e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": "mt-3", "reason": "never shipped"}, nil))
		msg := e.fails(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "mt-3", "refundAmount": lcTotal}, nil), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, fmt.Sprintf("must be between 0 and the escrow amount %d still held", lcTotal-share))
		o := e.ok(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": "mt-3", "refundAmount": lcTotal - share}, nil))
		require.Equal(t, chaincode.StatusRefunded, o.Status)
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: share, Refunded: lcTotal - share}, o.Escrow)
		credit := lcCredit(t, e, "merchant-1")
		// mt-1 completed (0), mt-2 cancelled and mt-3 refunded count 1000 each although part was
		// released at clearance: the buyer did not keep the goods.
		require.Equal(t, int64(2000/3), credit.RefundRatioPermille)
	})
	t.Run("a compliance hold lifted is no clearance", func(t *testing.T) {
		e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{
			"watchlist": []string{"merchant-watched"}, "paymentTermsMinScore": map[string]int64{chaincode.TermsMilestones: 0},
		}, nil))
		req := lcCreateReq("mt-4")
		req["merchantId"] = "merchant-watched"
		req["paymentTerms"] = map[string]any{"kind": chaincode.TermsMilestones, "clearanceShareBps": 3000}
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
		o := e.decide("mt-4", chaincode.DecisionCleared)
		require.Equal(t, chaincode.Escrow{}, o.Escrow)
	})
}

// TestAutoReleaseTerms: anyone may release N days after delivery (the order's window is N days,
// even below the rules' minimum window), not before.
func TestAutoReleaseTerms(t *testing.T) {
	e := lcNew(t)
	e.lcTermsRules(0, 5000)
	o := e.createTerms("ar-1", map[string]any{"kind": chaincode.TermsAutoRelease, "autoReleaseDays": 2}).ok()
	require.Equal(t, int64(2*24*3600), o.ConfirmationWindowSeconds)
	e.escrow("ar-1")
	e.declare("ar-1")
	e.waybill("ar-1")
	e.decide("ar-1", chaincode.DecisionCleared)
	e.checkpoint("ar-1", chaincode.CheckpointPickedUp)
	e.deliver("ar-1")
	e.now = e.now.Add(47 * time.Hour)
	msg := e.fails(e.invoke(chaincode.CarrierMSP, "ReleaseEscrow", map[string]any{"orderId": "ar-1"}, nil), chaincode.CodeFailedPrecondition)
	require.Contains(t, msg, "the automatic release after 2 days (AUTO_RELEASE terms) ends at")
	e.now = e.now.Add(time.Hour)
	o = e.ok(e.invoke(chaincode.CarrierMSP, "ReleaseEscrow", map[string]any{"orderId": "ar-1"}, nil))
	require.Equal(t, chaincode.StatusCompleted, o.Status)
	require.Equal(t, chaincode.Escrow{Amount: lcTotal, Released: lcTotal}, o.Escrow)
}

// TestDeadlines: deadlines are checked against the creation time; a missed one lets the buyer
// (signed CANCEL_LATE) or the bank (also after pickup, for deliverBy) cancel for a refund of what
// is held, never before; the credit report counts missed deadlines.
func TestDeadlines(t *testing.T) {
	e := lcNew(t)
	at := func(d time.Duration) string { return e.now.Add(d).Format(time.RFC3339) }
	withDeadlines := func(ship, deliver string) func(map[string]any) {
		return func(req map[string]any) { req["deadlines"] = map[string]any{"shipBy": ship, "deliverBy": deliver} }
	}
	for _, c := range []struct {
		name, ship, deliver, field string
	}{
		{"shipBy in the past", at(-time.Hour), at(48 * time.Hour), "deadlines.shipBy"},
		{"deliverBy before shipBy", at(48 * time.Hour), at(24 * time.Hour), "deadlines.deliverBy"},
		{"too far", at(time.Hour), at(400 * 24 * time.Hour), "deadlines.deliverBy"},
		{"not a time", "tomorrow", "", "deadlines.shipBy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := lcCreateReq("dl-bad")
			withDeadlines(c.ship, c.deliver)(req)
			msg := e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()), chaincode.CodeInvalidArgument)
			require.Contains(t, msg, "INVALID_ARGUMENT: "+c.field+": ")
		})
	}

	t.Run("buyer cancels a shipment that is late", func(t *testing.T) {
		o := e.createKeyed("dl-1", withDeadlines(at(24*time.Hour), at(72*time.Hour)))
		require.NotNil(t, o.Deadlines)
		o = e.escrow("dl-1")
		st := lcStatement("dl-1", chaincode.StatementCancelLate, o.Version, e.nonce(), e.now.Add(time.Hour))
		msg := e.fails(e.statement(chaincode.BankMSP, st), chaincode.CodeFailedPrecondition)
		require.Contains(t, msg, "cannot cancel order dl-1 as late: no deadline")
		e.now = e.now.Add(25 * time.Hour)
		st = lcStatement("dl-1", chaincode.StatementCancelLate, o.Version, e.nonce(), e.now.Add(time.Hour))
		res := e.statement(chaincode.BankMSP, st)
		o = e.ok(res)
		require.Equal(t, chaincode.StatusCancelled, o.Status)
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Refunded: lcTotal}, o.Escrow)
		require.Equal(t, chaincode.EventOrderCancelled, res.Event.GetEventName())
	})
	t.Run("bank cancels a delivery that is late, after pickup", func(t *testing.T) {
		req := lcCreateReq("dl-3")
		withDeadlines(at(24*time.Hour), at(48*time.Hour))(req)
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
		e.escrow("dl-3")
		e.declare("dl-3")
		e.waybill("dl-3")
		e.decide("dl-3", chaincode.DecisionCleared)
		e.checkpoint("dl-3", chaincode.CheckpointPickedUp)
		msg := e.fails(e.invoke(chaincode.BankMSP, "CancelOrder", map[string]any{"orderId": "dl-3"}, nil), chaincode.CodeFailedPrecondition)
		require.Contains(t, msg, "after pickup the bank may cancel only an order that missed its deliverBy deadline")
		e.now = e.now.Add(49 * time.Hour)
		e.fails(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": "dl-3"}, nil), chaincode.CodeFailedPrecondition)
		o := e.ok(e.invoke(chaincode.BankMSP, "CancelOrder", map[string]any{"orderId": "dl-3", "reason": "not delivered in time"}, nil))
		require.Equal(t, chaincode.StatusCancelled, o.Status)
		require.Equal(t, chaincode.Escrow{Amount: lcTotal, Refunded: lcTotal}, o.Escrow)
		var out chaincode.OutcomeRecord
		require.NoError(t, json.Unmarshal(e.l.State(lcKey("outcome", "merchant-1", "dl-3")), &out))
		require.True(t, out.LateDelivery)
		require.False(t, out.LateShipment, "it was picked up in time")
	})
	t.Run("a late delivery counts in the credit report", func(t *testing.T) {
		req := lcCreateReq("dl-4")
		withDeadlines("", at(time.Hour))(req)
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
		e.escrow("dl-4")
		e.declare("dl-4")
		e.waybill("dl-4")
		e.decide("dl-4", chaincode.DecisionCleared)
		e.checkpoint("dl-4", chaincode.CheckpointPickedUp)
		e.now = e.now.Add(2 * time.Hour)
		e.deliver("dl-4")
		e.fails(e.invoke(chaincode.BankMSP, "CancelOrder", map[string]any{"orderId": "dl-4"}, nil), chaincode.CodeFailedPrecondition)
		e.ok(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": "dl-4"}, nil))
		credit := lcCredit(t, e, "merchant-1")
		// dl-1 shipped late (cancelled), dl-3 and dl-4 delivered late.
		require.Equal(t, int64(3), credit.Late)
		require.Equal(t, int64(2), credit.LateDeliveries)
		require.Equal(t, int64(1), credit.LateShipments)
		require.Equal(t, int64(0), credit.OnTime, "a late delivery is not on time")
		require.Equal(t, chaincode.CreditScore(credit.Orders, credit.CompletionRatePermille, credit.OnTimeRatePermille,
			credit.DisputeRatePermille, credit.RefundRatioPermille, credit.LateRatePermille), credit.Score)
	})
}

// lcCredit reads a merchant's credit report.
func lcCredit(t *testing.T, e *lcEnv, merchant string) chaincode.MerchantCredit {
	t.Helper()
	res := e.evaluate(chaincode.BankMSP, "GetMerchantCredit", merchant)
	require.Equal(t, int32(200), res.Status, res.Message)
	var c chaincode.MerchantCredit
	require.NoError(t, json.Unmarshal(res.Payload, &c))
	return c
}
