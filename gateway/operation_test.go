package gateway_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
)

const validOrder = `{"orderId":"o-1","merchantId":"m-1","buyer":{"id":"b-1","country":"US","name":"Ann","address":"1 Main St","phone":"+1 555"},` +
	`"sellerCountry":"CN","currency":"USD","items":[{"sku":"s","name":"Tea","hsCode":"090210","quantity":2,"unitPrice":1250}],"shippingFee":500,` +
	`"consigneeSalt":"5a5a"}`

func operation(t *testing.T, id string) gateway.Operation {
	t.Helper()
	op, ok := gateway.OperationByID(id)
	require.True(t, ok, id)
	return op
}

func TestWriteInvocation(t *testing.T) {
	tests := []struct {
		name       string
		op         string
		params     map[string]string
		body       string
		wantArg    string
		transient  string
		wantPriv   map[string]any
		wantSalted bool
	}{
		{name: "create order moves the buyer's private fields and the consignee salt", op: "createOrder", body: validOrder,
			wantArg: `{"orderId":"o-1","merchantId":"m-1","buyer":{"id":"b-1","country":"US"},"sellerCountry":"CN","currency":"USD",` +
				`"items":[{"sku":"s","name":"Tea","hsCode":"090210","quantity":2,"unitPrice":1250}],"shippingFee":500}`,
			transient: "order_private", wantSalted: true,
			wantPriv: map[string]any{"name": "Ann", "address": "1 Main St", "phone": "+1 555", "consigneeSalt": "5a5a"}},
		{name: "payment takes the order ID from the path", op: "escrowPayment", params: map[string]string{"id": "o-2"},
			body:      `{"paymentId":"p","payerCurrency":"EUR","payerAmount":2760,"fxRate":"0.92","payerName":"Ann","payerAccount":"DE89"}`,
			wantArg:   `{"orderId":"o-2","paymentId":"p","payerCurrency":"EUR","payerAmount":2760,"fxRate":"0.92"}`,
			transient: "payment_private", wantSalted: true, wantPriv: map[string]any{"payerName": "Ann", "payerAccount": "DE89"}},
		{name: "waybill private data is not salted and keeps the consignee salt", op: "registerWaybill", params: map[string]string{"id": "o-3"},
			body:      `{"waybillNo":"wb","consigneeName":"Ann","consigneeAddress":"1 Main St","consigneeSalt":"a5a5"}`,
			wantArg:   `{"orderId":"o-3","waybillNo":"wb"}`,
			transient: "waybill_private", wantPriv: map[string]any{"consigneeName": "Ann", "consigneeAddress": "1 Main St", "consigneeSalt": "a5a5"}},
		{name: "an empty body becomes the order ID alone", op: "confirmDelivery", params: map[string]string{"id": "o-4"},
			wantArg: `{"orderId":"o-4"}`},
		{name: "large integers are kept as written", op: "setComplianceRules", body: `{"singleOrderLimit":{"USD":9007199254740993}}`,
			wantArg: `{"singleOrderLimit":{"USD":9007199254740993}}`},
		{name: "the expected version becomes a number", op: "confirmDelivery",
			params:  map[string]string{"id": "o-5", gateway.ExpectedVersionParam: "7"},
			wantArg: `{"orderId":"o-5","expectedVersion":7}`},
		{name: "an anchor on an order takes the expected version too", op: "anchorDocument",
			params:  map[string]string{gateway.ExpectedVersionParam: "3"},
			body:    `{"sha256":"ab","orderId":"o-6","kind":"INVOICE"}`,
			wantArg: `{"sha256":"ab","orderId":"o-6","kind":"INVOICE","expectedVersion":3}`},
		{name: "a write that takes no expected version ignores it", op: "createOrder",
			params: map[string]string{gateway.ExpectedVersionParam: "7"}, body: validOrder,
			wantArg: `{"orderId":"o-1","merchantId":"m-1","buyer":{"id":"b-1","country":"US"},"sellerCountry":"CN","currency":"USD",` +
				`"items":[{"sku":"s","name":"Tea","hsCode":"090210","quantity":2,"unitPrice":1250}],"shippingFee":500}`,
			transient: "order_private", wantSalted: true,
			wantPriv: map[string]any{"name": "Ann", "address": "1 Main St", "phone": "+1 555", "consigneeSalt": "5a5a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := operation(t, tc.op).Invocation(tc.params, []byte(tc.body))
			require.NoError(t, err)
			require.Len(t, inv.Args, 1)
			require.JSONEq(t, tc.wantArg, string(inv.Args[0]))
			if tc.transient == "" {
				require.Nil(t, inv.Transient)
				return
			}
			require.Len(t, inv.Transient, 1)
			var priv map[string]any
			require.NoError(t, json.Unmarshal(inv.Transient[tc.transient], &priv))
			if tc.wantSalted {
				require.Len(t, priv["salt"], 64)
				delete(priv, "salt")
			}
			require.Equal(t, tc.wantPriv, priv)
		})
	}
	t.Run("two invocations have different salts", func(t *testing.T) {
		op := operation(t, "createOrder")
		a, err := op.Invocation(nil, []byte(validOrder))
		require.NoError(t, err)
		b, err := op.Invocation(nil, []byte(validOrder))
		require.NoError(t, err)
		require.NotEqual(t, a.Transient["order_private"], b.Transient["order_private"])
	})
}

func TestWriteInvocationErrors(t *testing.T) {
	for _, tc := range []struct {
		name, op, body, field string
	}{
		{"malformed JSON", "createOrder", `{"orderId":`, "body"},
		{"missing private object", "createOrder", `{"orderId":"x"}`, "buyer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := operation(t, tc.op).Invocation(nil, []byte(tc.body))
			e := gateway.AsError(err)
			require.Equal(t, gateway.CodeInvalidArgument, e.Code)
			require.Equal(t, tc.field, e.Field)
		})
	}
	for _, v := range []string{"0", "-1", "07", "1.5", "x", "", "9223372036854775808"} {
		t.Run("expected version "+v, func(t *testing.T) {
			_, err := operation(t, "cancelOrder").Invocation(map[string]string{"id": "o-1", gateway.ExpectedVersionParam: v}, nil)
			e := gateway.AsError(err)
			require.Equal(t, gateway.CodeInvalidArgument, e.Code)
			require.Equal(t, gateway.ExpectedVersionParam, e.Field)
		})
	}
}

func TestInvocationNamesItsOrder(t *testing.T) {
	for _, tc := range []struct {
		op     string
		params map[string]string
		body   string
		want   string
	}{
		{"createOrder", nil, validOrder, "o-1"},
		{"cancelOrder", map[string]string{"id": "o-2"}, "", "o-2"},
		{"anchorDocument", nil, `{"sha256":"ab","orderId":"o-3","kind":"INVOICE"}`, "o-3"},
		{"getOrder", map[string]string{"id": "o-4"}, "", "o-4"},
		{"getOrderHistory", map[string]string{"id": "o-5"}, "", "o-5"},
		{"getMerchantCredit", map[string]string{"id": "m-1"}, "", ""},
		{"listOrders", map[string]string{"merchantId": "m-1"}, "", ""},
		{"setComplianceRules", nil, `{}`, ""},
	} {
		t.Run(tc.op, func(t *testing.T) {
			inv, err := operation(t, tc.op).Invocation(tc.params, []byte(tc.body))
			require.NoError(t, err)
			require.Equal(t, tc.want, inv.OrderID)
		})
	}
}

func TestQueryInvocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     string
		params map[string]string
		want   []string
	}{
		{"path parameter", "getOrder", map[string]string{"id": "o-1"}, []string{"o-1"}},
		{"absent parameters take their defaults", "listOrders", map[string]string{"merchantId": "m-1"}, []string{"m-1", "", "", "0", "", "", ""}},
		{"every parameter in order", "listOrders",
			map[string]string{"bookmark": "b", "pageSize": "5", "buyerId": "x", "status": "PAID", "merchantId": "m",
				"createdFrom": "2026-01-01", "createdTo": "2026-02-01T00:00:00Z"},
			[]string{"m", "PAID", "x", "5", "b", "2026-01-01", "2026-02-01T00:00:00Z"}},
		{"no arguments", "getComplianceRules", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := operation(t, tc.op).Invocation(tc.params, nil)
			require.NoError(t, err)
			var got []string
			for _, a := range inv.Args {
				got = append(got, string(a))
			}
			require.Equal(t, tc.want, got)
			require.Nil(t, inv.Transient)
		})
	}
}

func TestRequestField(t *testing.T) {
	for _, tc := range []struct {
		op, field, want string
	}{
		{"createOrder", "transient.order_private.phone", "buyer.phone"},
		{"createOrder", "transient.order_private.consigneeSalt", "consigneeSalt"},
		{"escrowPayment", "transient.payment_private.payerName", "payerName"},
		{"registerWaybill", "transient.waybill_private.consigneeSalt", "consigneeSalt"},
		{"createOrder", "transient.payment_private.payerName", "transient.payment_private.payerName"},
		{"createOrder", "currency", "currency"},
		{"cancelOrder", "transient.order_private.name", "transient.order_private.name"},
	} {
		t.Run(tc.op+" "+tc.field, func(t *testing.T) {
			in := gateway.FieldError(tc.field, "is wrong")
			err := operation(t, tc.op).RequestField(in)
			require.Equal(t, tc.want, gateway.AsError(err).Field)
			require.Equal(t, tc.field, in.Field, "the original error is not changed")
		})
	}
}

func TestLocation(t *testing.T) {
	for _, tc := range []struct {
		op, result, want string
	}{
		{"createOrder", `{"orderId":"o-1","status":"CREATED"}`, "/api/v1/orders/o-1"},
		{"anchorDocument", `{"sha256":"ab"}`, "/api/v1/documents/ab"},
		{"createOrder", `{"status":"CREATED"}`, ""},
		{"createOrder", `not json`, ""},
		{"escrowPayment", `{"orderId":"o-1"}`, ""},
	} {
		t.Run(tc.op+" "+tc.result, func(t *testing.T) {
			require.Equal(t, tc.want, operation(t, tc.op).Location.Of([]byte(tc.result)))
		})
	}
}

// TestOperationTable checks the table's own consistency; its agreement with the chaincode is
// checked in internal/conformance.
func TestOperationTable(t *testing.T) {
	// Second operations of a transaction: revoking a tracking link is SetTrackingLink without a
	// token hash; a tracking link's holder relays a statement with the token instead of a key.
	// OperationByTransaction gives the first.
	seconds := map[string]bool{"revokeTrackingLink": true, "submitTrackedStatement": true}
	ids, txs := map[string]bool{}, map[string]bool{}
	for _, op := range gateway.Operations() {
		require.False(t, ids[op.ID], "operationId %s twice", op.ID)
		require.Equal(t, seconds[op.ID], txs[op.Transaction], "transaction %s twice (%s)", op.Transaction, op.ID)
		ids[op.ID], txs[op.Transaction] = true, true
		byTx, ok := gateway.OperationByTransaction(op.Transaction)
		require.True(t, ok)
		if !seconds[op.ID] {
			require.Equal(t, op.ID, byTx.ID)
		}
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, op.Status, op.ID)
		if op.OrderIDParam != "" && op.ID != "submitBuyerStatement" { // its statement carries orderVersion
			require.True(t, op.IfMatch || !op.Write, "%s: a write on an existing order takes If-Match", op.ID)
		}
		if op.Write {
			require.Empty(t, op.Params, "%s: a write's arguments are its body", op.ID)
			continue
		}
		require.Nil(t, op.Private, op.ID)
		require.False(t, op.IfMatch, op.ID)
		require.Equal(t, http.StatusOK, op.Status, op.ID)
		if op.OrderIDParam != "" {
			require.Contains(t, op.Params, gateway.Param{Name: op.OrderIDParam}, "%s reads the order of its path", op.ID)
		}
		if op.Paged {
			require.True(t, slices.ContainsFunc(op.Params, func(p gateway.Param) bool { return p.Name == "bookmark" }), op.ID)
		}
	}
	_, ok := gateway.OperationByID("healthz")
	require.False(t, ok, "the gateway's own operations are not ledger operations")
}
