package chaincode_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// lcT is what the helpers need from *testing.T, *testing.B and *rapid.T.
type lcT interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
}

// lcOutsider is an MSP that is not a member of the consortium.
const lcOutsider = "OutsiderMSP"

var (
	lcCCOnce sync.Once
	lcCC     *chaincode.Chaincode
	lcCCErr  error

	lcIDsOnce sync.Once
	lcIDs     *shimtest.Identities
	lcIDsErr  error

	// lcPeerClock is the endorsing peer's clock (Unix nanoseconds) of the shared test chaincode:
	// lcEnv.opts sets it to each transaction's timestamp, so honest proposals are never off the
	// clock; the clock tests bend the proposal's timestamp instead.
	lcPeerClock atomic.Int64
)

// lcNow is the clock of the shared test chaincode.
func lcNow() time.Time { return time.Unix(0, lcPeerClock.Load()).UTC() }

// lcIdentities returns identities for the four organisations and an outsider, shared by all
// tests (issuing certificates is the slow part).
func lcIdentities(t lcT) *shimtest.Identities {
	t.Helper()
	lcIDsOnce.Do(func() {
		lcIDs, lcIDsErr = shimtest.NewIdentities(append(append([]string{}, chaincode.Organisations...), lcOutsider)...)
	})
	require.NoError(t, lcIDsErr)
	return lcIDs
}

// lcCollectionDef is one entry of collections_config.json.
type lcCollectionDef struct {
	Name              string `json:"name"`
	Policy            string `json:"policy"`
	RequiredPeerCount int    `json:"requiredPeerCount"`
	MaxPeerCount      int    `json:"maxPeerCount"`
	BlockToLive       int    `json:"blockToLive"`
	MemberOnlyRead    bool   `json:"memberOnlyRead"`
	MemberOnlyWrite   bool   `json:"memberOnlyWrite"`
}

// lcCollections parses the embedded collections_config.json and returns the definitions with
// the member MSP IDs parsed from each OR policy.
func lcCollections(t lcT) ([]lcCollectionDef, map[string][]string) {
	t.Helper()
	var defs []lcCollectionDef
	require.NoError(t, json.Unmarshal(chaincode.CollectionsConfigJSON, &defs))
	members := map[string][]string{}
	for _, d := range defs {
		p := strings.TrimSpace(d.Policy)
		require.True(t, strings.HasPrefix(p, "OR(") && strings.HasSuffix(p, ")"), "policy %q", p)
		for _, part := range strings.Split(p[3:len(p)-1], ",") {
			part = strings.Trim(strings.TrimSpace(part), "'")
			msp, role, ok := strings.Cut(part, ".")
			require.True(t, ok, "principal %q", part)
			require.Equal(t, "member", role)
			members[d.Name] = append(members[d.Name], msp)
		}
	}
	return defs, members
}

// lcEnv is a fake channel with the xborder chaincode.
type lcEnv struct {
	t   lcT
	cc  *chaincode.Chaincode
	ids *shimtest.Identities
	l   *shimtest.Ledger
	now time.Time
	seq int
	// createChange, when set, adjusts the request of every order create makes (for example
	// random payment terms in the property tests).
	createChange func(req map[string]any)
}

// lcNew returns a fresh ledger with the collections of collections_config.json defined.
func lcNew(t lcT) *lcEnv {
	t.Helper()
	lcCCOnce.Do(func() { lcCC, lcCCErr = chaincode.NewChaincode(chaincode.WithClock(lcNow)) })
	require.NoError(t, lcCCErr)
	cc := lcCC
	l := shimtest.NewLedger()
	defs, members := lcCollections(t)
	for _, d := range defs {
		l.DefineCollection(d.Name, shimtest.CollectionPolicy{Members: members[d.Name], MemberOnlyRead: d.MemberOnlyRead, MemberOnlyWrite: d.MemberOnlyWrite})
	}
	return &lcEnv{t: t, cc: cc, ids: lcIdentities(t), l: l, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

// opts returns transaction options for msp at the env's clock, which advances one second per
// transaction.
func (e *lcEnv) opts(msp string, transient map[string]any) shimtest.TxOptions {
	e.t.Helper()
	e.now = e.now.Add(time.Second)
	e.seq++
	lcPeerClock.Store(e.now.UnixNano())
	o := shimtest.TxOptions{Creator: e.ids.Creator(msp), Timestamp: e.now, TxID: fmt.Sprintf("tx%08d", e.seq)}
	if len(transient) > 0 {
		o.Transient = map[string][]byte{}
		for k, v := range transient {
			b, err := json.Marshal(v)
			require.NoError(e.t, err)
			o.Transient[k] = b
		}
	}
	return o
}

// lcJSON marshals v.
func lcJSON(t lcT, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// invoke submits fn(req) as msp and commits it when the chaincode succeeds.
func (e *lcEnv) invoke(msp, fn string, req any, transient map[string]any) *shimtest.Result {
	e.t.Helper()
	return e.l.Invoke(e.cc, e.opts(msp, transient), fn, lcJSON(e.t, req))
}

// evaluate runs a query as msp.
func (e *lcEnv) evaluate(msp, fn string, args ...string) *shimtest.Result {
	e.t.Helper()
	return e.l.Evaluate(e.cc, e.opts(msp, nil), fn, args...)
}

// ok asserts success (chaincode and commit) and decodes the returned order.
func (e *lcEnv) ok(res *shimtest.Result) chaincode.Order {
	e.t.Helper()
	require.Equal(e.t, int32(200), res.Status, "chaincode error: %s", res.Message)
	require.NoError(e.t, res.Err)
	var o chaincode.Order
	if len(res.Payload) > 0 && res.Payload[0] == '{' {
		require.NoError(e.t, json.Unmarshal(res.Payload, &o))
	}
	return o
}

// lcCode returns the error code at the start of a chaincode error message ("" on success).
func lcCode(res *shimtest.Result) string {
	if res.Status == 200 {
		return ""
	}
	code, _, ok := strings.Cut(res.Message, ": ")
	if !ok {
		return res.Message
	}
	return code
}

// fails asserts a chaincode error with the given code and returns its message.
func (e *lcEnv) fails(res *shimtest.Result, code chaincode.Code) string {
	e.t.Helper()
	require.NotEqual(e.t, int32(200), res.Status, "expected %s, got success", code)
	require.Equal(e.t, string(code), lcCode(res), "message: %s", res.Message)
	return res.Message
}

// get returns the order as msp sees it.
func (e *lcEnv) get(msp, id string) chaincode.Order {
	e.t.Helper()
	return e.ok(e.evaluate(msp, "GetOrder", id))
}

// Private test values; the privacy tests scan the ledger and events for them.
const (
	lcBuyerName    = "Anna Schmidt"
	lcBuyerAddress = "Hauptstrasse 1, 10115 Berlin"
	lcBuyerPhone   = "+49 30 1234567"
	lcPayerName    = "Anna M. Schmidt-Payer"
	lcPayerAccount = "DE89370400440532013000"
	lcSalt         = "00112233445566778899aabbccddeeff"
)

func lcCreateReq(id string) map[string]any {
	return map[string]any{
		"orderId": id, "merchantId": "merchant-1",
		"buyer":         map[string]any{"id": "buyer-1", "country": "DE"},
		"sellerCountry": "CN", "currency": "USD",
		"items": []map[string]any{
			{"sku": "SKU-1", "name": "Widget", "hsCode": "850440", "quantity": 2, "unitPrice": 1500},
			{"sku": "SKU-2", "name": "Cable", "hsCode": "854442", "quantity": 1, "unitPrice": 700},
		},
		"shippingFee": 300,
	}
}

// lcTotal is the total of lcCreateReq: 2×1500 + 700 + 300.
const lcTotal = 4000

func lcOrderPrivate() map[string]any {
	return map[string]any{chaincode.TransientOrderPrivate: map[string]any{
		"name": lcBuyerName, "address": lcBuyerAddress, "phone": lcBuyerPhone, "salt": lcSalt,
	}}
}

func lcEscrowReq(id string) map[string]any {
	// 4000 USD cents × 0.92 = 3680 EUR cents.
	return map[string]any{"orderId": id, "paymentId": "pay-" + id, "payerCurrency": "EUR", "payerAmount": 3680, "fxRate": "0.92", "fee": 50}
}

func lcPaymentPrivate() map[string]any {
	return map[string]any{chaincode.TransientPaymentPrivate: map[string]any{
		"payerName": lcPayerName, "payerAccount": lcPayerAccount, "salt": lcSalt,
	}}
}

func lcWaybillPrivate(name string) map[string]any {
	return map[string]any{chaincode.TransientWaybillPrivate: map[string]any{
		"consigneeName": name, "consigneeAddress": "  hauptstrasse 1,   10115 BERLIN ",
	}}
}

func lcDeclareReq(id string) map[string]any {
	return map[string]any{"orderId": id, "declarationId": "decl-" + id, "declaredValue": lcTotal, "hsCodes": []string{"854442", "850440"}}
}

// Steps that move an order forward; each asserts success.
func (e *lcEnv) create(id string) chaincode.Order {
	e.t.Helper()
	req := lcCreateReq(id)
	if e.createChange != nil {
		e.createChange(req)
	}
	return e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
}

func (e *lcEnv) escrow(id string) chaincode.Order {
	e.t.Helper()
	return e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", lcEscrowReq(id), lcPaymentPrivate()))
}

func (e *lcEnv) declare(id string) chaincode.Order {
	e.t.Helper()
	return e.ok(e.invoke(chaincode.MerchantMSP, "DeclareCustoms", lcDeclareReq(id), nil))
}

func (e *lcEnv) waybill(id string) chaincode.Order {
	e.t.Helper()
	return e.ok(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": id, "waybillNo": "WB-" + id}, lcWaybillPrivate(" ANNA   schmidt")))
}

func (e *lcEnv) decide(id, decision string) chaincode.Order {
	e.t.Helper()
	req := map[string]any{"orderId": id, "decision": decision}
	if decision == chaincode.DecisionCleared {
		req["dutyAmount"], req["taxAmount"] = 120, 250
	} else {
		req["reason"] = "inspection"
	}
	return e.ok(e.invoke(chaincode.CustomsMSP, "DecideCustoms", req, nil))
}

func (e *lcEnv) checkpoint(id, code string) chaincode.Order {
	e.t.Helper()
	return e.ok(e.invoke(chaincode.CarrierMSP, "RecordCheckpoint", map[string]any{"orderId": id, "code": code, "location": "Hub " + code}, nil))
}

func (e *lcEnv) deliver(id string) chaincode.Order {
	e.t.Helper()
	var o chaincode.Order
	for _, c := range chaincode.CheckpointSequence[1:] {
		o = e.checkpoint(id, c)
	}
	return o
}

// lcState names a state an order can be driven to by lcEnv.to.
type lcState string

const (
	stCreated       lcState = "CREATED"
	stHeldCompl     lcState = "HELD_COMPLIANCE"
	stPaid          lcState = "PAID"
	stDocumented    lcState = "DOCUMENTED"
	stCleared       lcState = "CLEARED"
	stInTransit     lcState = "IN_TRANSIT"
	stDelivered     lcState = "DELIVERED"
	stHeldCustoms   lcState = "HELD_CUSTOMS"
	stDisputed      lcState = "DISPUTED"
	stCompleted     lcState = "COMPLETED"
	stCancelled     lcState = "CANCELLED"
	stCancelledPaid lcState = "CANCELLED_PAID"
	stRejected      lcState = "REJECTED"
	stRefunded      lcState = "REFUNDED"
)

var lcStates = []lcState{stCreated, stHeldCompl, stPaid, stDocumented, stCleared, stInTransit, stDelivered,
	stHeldCustoms, stDisputed, stCompleted, stCancelled, stCancelledPaid, stRejected, stRefunded}

// to creates order id and drives it to state s.
func (e *lcEnv) to(id string, s lcState) chaincode.Order {
	e.t.Helper()
	if s == stHeldCompl {
		req := lcCreateReq(id)
		req["merchantId"] = "merchant-watched"
		return e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
	}
	o := e.create(id)
	switch s {
	case stCreated:
		return o
	case stCancelled:
		return e.ok(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": id}, nil))
	}
	o = e.escrow(id)
	switch s {
	case stPaid:
		return o
	case stDisputed:
		return e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": id, "reason": "item not as described"}, nil))
	case stRefunded:
		e.ok(e.invoke(chaincode.BankMSP, "OpenDispute", map[string]any{"orderId": id, "reason": "never arrived"}, nil))
		return e.ok(e.invoke(chaincode.BankMSP, "ResolveDispute", map[string]any{"orderId": id, "refundAmount": lcTotal}, nil))
	case stCancelledPaid:
		return e.ok(e.invoke(chaincode.BankMSP, "CancelOrder", map[string]any{"orderId": id, "reason": "buyer changed mind"}, nil))
	}
	e.declare(id)
	o = e.waybill(id)
	switch s {
	case stDocumented:
		return o
	case stHeldCustoms:
		return e.decide(id, chaincode.DecisionHeld)
	case stRejected:
		return e.decide(id, chaincode.DecisionRejected)
	}
	o = e.decide(id, chaincode.DecisionCleared)
	if s == stCleared {
		return o
	}
	o = e.checkpoint(id, chaincode.CheckpointPickedUp)
	if s == stInTransit {
		return o
	}
	o = e.deliver(id)
	if s == stDelivered {
		return o
	}
	if s == stCompleted {
		return e.ok(e.invoke(chaincode.BankMSP, "ConfirmDelivery", map[string]any{"orderId": id}, nil))
	}
	e.t.Fatalf("unknown state %s", s)
	return o
}

// lcWatchlist sets compliance rules that watch-list "merchant-watched".
func (e *lcEnv) lcWatchlist() {
	e.t.Helper()
	e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"watchlist": []string{"merchant-watched"}}, nil))
}

// lcConserved asserts the money invariant of an order.
func lcConserved(t lcT, o chaincode.Order) {
	t.Helper()
	require.GreaterOrEqual(t, o.Escrow.Amount, int64(0))
	require.GreaterOrEqual(t, o.Escrow.Released, int64(0))
	require.GreaterOrEqual(t, o.Escrow.Refunded, int64(0))
	require.LessOrEqual(t, o.Escrow.Released+o.Escrow.Refunded, o.Escrow.Amount)
	if chaincode.IsFinalStatus(o.Status) {
		require.Equal(t, o.Escrow.Amount, o.Escrow.Released+o.Escrow.Refunded, "order %s final %s", o.OrderID, o.Status)
	}
}
