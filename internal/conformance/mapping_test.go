package conformance_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/shimtest"
	"github.com/xborder/xborder/internal/testkit"
)

// TestTransactionsMatchTheChaincode checks that every ledger operation of the REST contract
// runs a transaction of the chaincode with the chaincode's arguments, and that every
// transaction of the chaincode is reachable over REST.
func TestTransactionsMatchTheChaincode(t *testing.T) {
	all, args := chaincode.TransactionArguments(), chaincode.TransactionArguments()
	for _, op := range gateway.Operations() {
		t.Run(op.ID, func(t *testing.T) {
			want, ok := all[op.Transaction]
			require.True(t, ok, "the chaincode has no transaction %s", op.Transaction)
			if op.Write {
				require.Equal(t, []string{"request"}, want, "a write sends one argument, the request object")
				return
			}
			require.Len(t, op.Params, len(want), "arguments of %s: %v", op.Transaction, want)
			for i, p := range op.Params {
				if p.Name == "id" {
					// The path's {id} is the resource's ID: orderId, merchantId.
					require.True(t, strings.HasSuffix(want[i], "Id"), "argument %d of %s is %s, not an ID", i, op.Transaction, want[i])
					continue
				}
				require.Equal(t, want[i], p.Name, "argument %d of %s", i, op.Transaction)
			}
		})
		delete(args, op.Transaction)
	}
	require.Empty(t, args, "chaincode transactions without a REST operation")
}

// channel is the xborder chaincode on an in-memory peer with the real collection definitions.
type channel struct {
	t      *testing.T
	cc     *chaincode.Chaincode
	ids    *shimtest.Identities
	ledger *shimtest.Ledger
}

func newChannel(t *testing.T) *channel {
	t.Helper()
	// The ledger's transactions carry the test's fixed timestamps, not the machine's clock.
	cc, err := chaincode.NewChaincode(chaincode.WithMaxClockSkew(0))
	require.NoError(t, err)
	ids, err := shimtest.NewIdentities(chaincode.Organisations...)
	require.NoError(t, err)
	l := shimtest.NewLedger()
	require.NoError(t, l.DefineCollectionsFromJSON(chaincode.CollectionsConfigJSON))
	return &channel{t: t, cc: cc, ids: ids, ledger: l}
}

// invoke sends what the gateway sends for operation id with the REST request's path
// parameters and body, as org.
func (c *channel) invoke(org, id string, params map[string]string, body map[string]any) *shimtest.Result {
	c.t.Helper()
	op, ok := gateway.OperationByID(id)
	require.True(c.t, ok, id)
	raw, err := jsonBytes(body)
	require.NoError(c.t, err)
	inv, err := op.Invocation(params, raw)
	require.NoError(c.t, err)
	args := make([]string, len(inv.Args))
	for i, a := range inv.Args {
		args[i] = string(a)
	}
	return c.ledger.Invoke(c.cc, shimtest.TxOptions{Creator: c.ids.Creator(org), Transient: inv.Transient}, inv.Transaction, args...)
}

// mustInvoke invokes and requires success.
func (c *channel) mustInvoke(org, id string, params map[string]string, body map[string]any) *shimtest.Result {
	c.t.Helper()
	res := c.invoke(org, id, params, body)
	require.True(c.t, res.OK(), "%s as %s: %d %s (commit: %v)", id, org, res.Status, res.Message, res.Err)
	return res
}

// step is one write of an order's lifecycle over REST.
type step struct {
	org, op string
	body    func(o testkit.Order) map[string]any
}

// lifecycle takes an order from nothing to a registered waybill: every write with private data,
// in an order the chaincode accepts.
var lifecycle = []step{
	{testkit.MerchantMSP, "createOrder", func(o testkit.Order) map[string]any { return o.CreateBody() }},
	{testkit.BankMSP, "escrowPayment", func(o testkit.Order) map[string]any { return o.PaymentBody("pay-" + o.ID) }},
	{testkit.MerchantMSP, "declareCustoms", func(o testkit.Order) map[string]any { return o.DeclarationBody() }},
	{testkit.CarrierMSP, "registerWaybill", func(o testkit.Order) map[string]any { return o.WaybillBody() }},
}

// consigneeSalt is the merchant's choice of the consignee salt, which the carrier repeats.
const consigneeSalt = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

// withEveryPrivateField returns the lifecycle's body with every optional private field set.
func withEveryPrivateField(op string, body map[string]any) map[string]any {
	if op == "createOrder" || op == "registerWaybill" {
		body["consigneeSalt"] = consigneeSalt
	}
	return body
}

// collectionOf is where the chaincode keeps each transient value.
var collectionOf = map[string]string{
	"order_private":   chaincode.CollectionOrderPrivate,
	"payment_private": chaincode.CollectionPaymentPrivate,
	"waybill_private": chaincode.CollectionOrderPrivate,
}

// TestPrivateFieldsReachTheirCollection sends a lifecycle with every private field through the
// mapping: the chaincode accepts each transient value (it rejects unknown fields and requires
// its keys and salts), keeps every private value in the collection of its transient key, and
// never in public state or events.
func TestPrivateFieldsReachTheirCollection(t *testing.T) {
	c := newChannel(t)
	o := testkit.NewOrder("conf-private")
	params := map[string]string{"id": o.ID}
	for _, s := range lifecycle {
		op, _ := gateway.OperationByID(s.op)
		body := withEveryPrivateField(s.op, s.body(o))
		c.mustInvoke(s.org, s.op, params, body)
		if op.Private == nil {
			continue
		}
		coll := collectionOf[op.Private.TransientKey]
		require.NotEmpty(t, coll, "no collection known for transient key %s", op.Private.TransientKey)
		for _, f := range op.Private.Fields {
			v, ok := lookup(body, f.Request)
			require.True(t, ok, "%s: the test body lacks %s", s.op, f.Request)
			require.True(t, c.privateHolds(coll, v), "%s: %s=%q is not in collection %s", s.op, f.Request, v, coll)
		}
	}
	for _, v := range append(o.PrivateStrings(), consigneeSalt) {
		c.requireNotPublic(v)
	}
}

// TestPrivateFieldErrorsNameTheRequestField corrupts each private field in turn: the chaincode
// names the transient field at fault, and the mapping turns that back into the request field.
func TestPrivateFieldErrorsNameTheRequestField(t *testing.T) {
	c := newChannel(t)
	for i, s := range lifecycle {
		op, _ := gateway.OperationByID(s.op)
		if op.Private == nil {
			continue
		}
		for _, f := range op.Private.Fields {
			t.Run(s.op+" "+f.Request, func(t *testing.T) {
				c.t = t
				o := testkit.NewOrder("conf-" + s.op + "-" + strings.ReplaceAll(f.Request, ".", "-"))
				params := map[string]string{"id": o.ID}
				for _, before := range lifecycle[:i] {
					c.mustInvoke(before.org, before.op, params, withEveryPrivateField(before.op, before.body(o)))
				}
				body := withEveryPrivateField(s.op, s.body(o))
				set(body, f.Request, strings.Repeat("x", 1000))
				res := c.invoke(s.org, s.op, params, body)
				require.Equal(t, int32(http.StatusInternalServerError), res.Status, "a corrupt %s is refused", f.Request)
				ce, ok := gateway.ParseChaincodeError(res.Message)
				require.True(t, ok, "chaincode error without a code: %s", res.Message)
				require.Equal(t, gateway.CodeInvalidArgument, ce.Code, res.Message)
				require.Equal(t, f.Request, gateway.AsError(op.RequestField(ce)).Field, "chaincode field %s", ce.Field)
			})
		}
	}
}

// TestLocationOfCreatedResources checks that the Location rule finds its field in the
// chaincode's result.
func TestLocationOfCreatedResources(t *testing.T) {
	c := newChannel(t)
	o := testkit.NewOrder("conf-location")
	res := c.mustInvoke(testkit.MerchantMSP, "createOrder", nil, o.CreateBody())
	op, _ := gateway.OperationByID("createOrder")
	require.Equal(t, "/api/v1/orders/"+o.ID, op.Location.Of(res.Payload))

	sha := strings.Repeat("c3", 32)
	res = c.mustInvoke(testkit.CarrierMSP, "anchorDocument", nil, map[string]any{"sha256": sha, "orderId": o.ID, "kind": "PROOF_OF_DELIVERY"})
	op, _ = gateway.OperationByID("anchorDocument")
	require.Equal(t, "/api/v1/documents/"+sha, op.Location.Of(res.Payload))
}
