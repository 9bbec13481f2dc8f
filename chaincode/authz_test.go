package chaincode_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// lcWho is THE authorisation matrix of the order lifecycle (docs/design.md §2): for each transaction,
// the organisations that may call it.
var lcWho = map[string][]string{
	"CreateOrder":      {chaincode.MerchantMSP},
	"EscrowPayment":    {chaincode.BankMSP},
	"RegisterWaybill":  {chaincode.CarrierMSP},
	"DeclareCustoms":   {chaincode.MerchantMSP},
	"DecideCustoms":    {chaincode.CustomsMSP},
	"RecordCheckpoint": {chaincode.CarrierMSP},
	"ConfirmDelivery":  {chaincode.BankMSP},
	"ReleaseEscrow":    chaincode.Organisations,
	"OpenDispute":      {chaincode.BankMSP},
	"ResolveDispute":   {chaincode.BankMSP},
	"CancelOrder":      {chaincode.MerchantMSP, chaincode.BankMSP},
	"GetOrder":         chaincode.Organisations,
	"ListOrders":       chaincode.Organisations,
	"GetOrderHistory":  chaincode.Organisations,
}

// lcArgs returns arguments for fn on order id: a request valid in shape for writes.
func lcArgs(t *testing.T, fn, id string) []string {
	switch fn {
	case "GetOrder", "GetOrderHistory":
		return []string{id}
	case "ListOrders":
		return []string{"", "", "", "0", ""}
	case "CreateOrder":
		return []string{lcJSON(t, lcCreateReq(id))}
	}
	for _, w := range lcWrites() {
		if w.fn == fn {
			return []string{lcJSON(t, w.req(id))}
		}
	}
	t.Fatalf("no arguments for %s", fn)
	return nil
}

// TestAuthorisationMatrix calls every transaction as every organisation (and an outsider) on
// an existing order: organisations outside the matrix get FORBIDDEN, allowed ones never do.
func TestAuthorisationMatrix(t *testing.T) {
	e := lcNew(t)
	e.to("az-1", stPaid)
	transient := map[string]any{}
	for k, v := range lcOrderPrivate() {
		transient[k] = v
	}
	for k, v := range lcPaymentPrivate() {
		transient[k] = v
	}
	for k, v := range lcWaybillPrivate(lcBuyerName) {
		transient[k] = v
	}
	orgs := append(slices.Clone(chaincode.Organisations), lcOutsider)
	fns := make([]string, 0, len(lcWho))
	for fn := range lcWho {
		fns = append(fns, fn)
	}
	slices.Sort(fns)
	for _, fn := range fns {
		for _, msp := range orgs {
			t.Run(fmt.Sprintf("%s/%s", fn, msp), func(t *testing.T) {
				id := "az-1"
				if fn == "CreateOrder" {
					id = "az-new"
				}
				res := e.l.Evaluate(e.cc, e.opts(msp, transient), fn, lcArgs(t, fn, id)...)
				if slices.Contains(lcWho[fn], msp) {
					require.NotEqual(t, string(chaincode.CodeForbidden), lcCode(res), res.Message)
				} else {
					require.Equal(t, string(chaincode.CodeForbidden), lcCode(res), res.Message)
					require.Contains(t, res.Message, msp)
				}
			})
		}
	}
}

// TestMerchantAttributeBinding checks that a MerchantMSP identity whose certificate carries the
// xborder.merchantId attribute acts only for that merchant, while identities without it act for
// any merchant of the organisation.
func TestMerchantAttributeBinding(t *testing.T) {
	e := lcNew(t)
	bound := e.ids.CreatorWithAttrs(chaincode.MerchantMSP, "seller-1", map[string]string{chaincode.MerchantAttribute: "merchant-1"})
	other := e.ids.CreatorWithAttrs(chaincode.MerchantMSP, "seller-2", map[string]string{chaincode.MerchantAttribute: "merchant-2"})
	as := func(creator []byte, fn string, req map[string]any, transient map[string]any) *shimtest.Result {
		o := e.opts(chaincode.MerchantMSP, transient)
		o.Creator = creator
		return e.l.Invoke(e.cc, o, fn, lcJSON(t, req))
	}
	e.ok(as(bound, "CreateOrder", lcCreateReq("mb-1"), lcOrderPrivate()))
	msg := e.fails(as(other, "CreateOrder", lcCreateReq("mb-2"), lcOrderPrivate()), chaincode.CodeForbidden)
	require.Contains(t, msg, `"merchant-2"`)
	e.escrow("mb-1")
	e.fails(as(other, "DeclareCustoms", lcDeclareReq("mb-1"), nil), chaincode.CodeForbidden)
	e.ok(as(bound, "DeclareCustoms", lcDeclareReq("mb-1"), nil))
	e.fails(as(other, "CancelOrder", map[string]any{"orderId": "mb-1"}, nil), chaincode.CodeForbidden)
	e.ok(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": "mb-1"}, nil)) // no attribute: any merchant
}
