package chaincode_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// TestThreeDocumentMatch checks that a clearance attempt lists every mismatch between order,
// payment, waybill and declaration, and that fixing the documents lets the order clear.
func TestThreeDocumentMatch(t *testing.T) {
	clear := map[string]any{"decision": "CLEARED", "dutyAmount": 10, "taxAmount": 20}
	decide := func(e *lcEnv, id string) *shimtest.Result {
		req := map[string]any{"orderId": id}
		for k, v := range clear {
			req[k] = v
		}
		return e.invoke(chaincode.CustomsMSP, "DecideCustoms", req, nil)
	}
	cases := []struct {
		name    string
		setup   func(e *lcEnv, id string)
		details []string
	}{
		{"declared value differs", func(e *lcEnv, id string) {
			r := lcDeclareReq(id)
			r["declaredValue"] = 3500
			e.ok(e.invoke(chaincode.MerchantMSP, "DeclareCustoms", r, nil))
			e.waybill(id)
		}, []string{"declaredValue 3500 != total 4000", "declaredValue 3500 != payment amount 4000"}},
		{"consignee differs", func(e *lcEnv, id string) {
			e.declare(id)
			e.ok(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": id, "waybillNo": "WB-" + id}, lcWaybillPrivate("Someone Else")))
		}, []string{"consignee differs between order and waybill"}},
		{"waybill missing", func(e *lcEnv, id string) {
			e.declare(id)
		}, []string{"waybill missing"}},
		{"hs codes differ", func(e *lcEnv, id string) {
			r := lcDeclareReq(id)
			r["hsCodes"] = []string{"850440", "940510"}
			e.ok(e.invoke(chaincode.MerchantMSP, "DeclareCustoms", r, nil))
			e.waybill(id)
		}, []string{"hsCode 940510 declared but not in the order items", "hsCode 854442 of the order items not declared"}},
		{"everything at once", func(e *lcEnv, id string) {
			r := lcDeclareReq(id)
			r["declaredValue"] = 1
			r["hsCodes"] = []string{"850440"}
			e.ok(e.invoke(chaincode.MerchantMSP, "DeclareCustoms", r, nil))
		}, []string{"declaredValue 1 != total 4000", "hsCode 854442 of the order items not declared", "waybill missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := lcNew(t)
			e.to("m-1", stPaid)
			c.setup(e, "m-1")
			res := decide(e, "m-1")
			msg := e.fails(res, chaincode.CodeFailedPrecondition)
			require.Contains(t, msg, "three-document match failed")
			for _, d := range c.details {
				require.Contains(t, msg, d)
			}
			o := e.get(chaincode.CustomsMSP, "m-1")
			require.False(t, o.Customs.Cleared)
			require.Equal(t, chaincode.StatusDocumented, o.Status)

			// Amend the documents; the order then clears.
			e.declare("m-1")
			e.waybill("m-1")
			o = e.ok(decide(e, "m-1"))
			require.Equal(t, chaincode.StatusCleared, o.Status)
		})
	}
}

// TestThreeDocumentMatchDetails checks the structured details of the error value itself.
func TestThreeDocumentMatchDetails(t *testing.T) {
	err := &chaincode.Error{Code: chaincode.CodeFailedPrecondition, Message: "three-document match failed for order x", Details: []string{"waybill missing", "consignee differs between order and waybill"}}
	require.Equal(t, "FAILED_PRECONDITION: three-document match failed for order x [waybill missing; consignee differs between order and waybill]", err.Error())
}
