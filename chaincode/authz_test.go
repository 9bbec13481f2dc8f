package chaincode_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/internal/shimtest"
)

// lcWriters are the organisations that may write at all (every member but the regulator).
var lcWriters = []string{chaincode.MerchantMSP, chaincode.BankMSP, chaincode.CarrierMSP, chaincode.CustomsMSP}

// lcWho is THE authorisation matrix of the contract (docs/design.md §2): for each transaction,
// the organisations that may call it. RegulatorMSP reads and never writes.
var lcWho = map[string][]string{
	"CreateOrder":          {chaincode.MerchantMSP},
	"EscrowPayment":        {chaincode.BankMSP},
	"RegisterWaybill":      {chaincode.CarrierMSP},
	"DeclareCustoms":       {chaincode.MerchantMSP},
	"DecideCustoms":        {chaincode.CustomsMSP},
	"RecordCheckpoint":     {chaincode.CarrierMSP},
	"ConfirmDelivery":      {chaincode.BankMSP},
	"ReleaseEscrow":        lcWriters,
	"OpenDispute":          {chaincode.BankMSP},
	"ResolveDispute":       {chaincode.BankMSP},
	"CancelOrder":          {chaincode.MerchantMSP, chaincode.BankMSP},
	"SetComplianceRules":   {chaincode.CustomsMSP},
	"AnchorDocument":       lcWriters,
	"GetOrder":             chaincode.Organisations,
	"ListOrders":           chaincode.Organisations,
	"GetOrderHistory":      chaincode.Organisations,
	"GetComplianceRules":   chaincode.Organisations,
	"ListComplianceAlerts": {chaincode.CustomsMSP, chaincode.RegulatorMSP},
	"GetMerchantCredit":    chaincode.Organisations,
	"GetSettlementReport":  {chaincode.BankMSP, chaincode.MerchantMSP, chaincode.CustomsMSP, chaincode.RegulatorMSP},
	"VerifyDocument":       chaincode.Organisations,
	// The buyer, FX reference rates and payment terms (docs/design.md §10): any writer relays a
	// buyer's signed statement, the merchant sets tracking links, the designated organisation
	// (BankMSP unless the rules name another) publishes reference rates.
	"SubmitBuyerStatement":    lcWriters,
	"SetTrackingLink":         {chaincode.MerchantMSP},
	"PublishFXReferenceRates": {chaincode.BankMSP},
	"GetTrackingView":         chaincode.Organisations,
	"GetFXReferenceRate":      chaincode.Organisations,
	"GetFXExposureReport":     {chaincode.BankMSP, chaincode.CustomsMSP, chaincode.RegulatorMSP},
}

// lcAuthzDoc is a document hash anchored to the matrix's order.
var lcAuthzDoc = strings.Repeat("5e", 32)

// lcArgs returns arguments for fn on order id: a request valid in shape for writes.
func lcArgs(t *testing.T, fn, id string) []string {
	switch fn {
	case "GetOrder", "GetOrderHistory":
		return []string{id}
	case "ListOrders":
		return []string{"", "", "", "0", "", "", ""}
	case "GetComplianceRules":
		return nil
	case "ListComplianceAlerts":
		return []string{"0", ""}
	case "GetMerchantCredit":
		return []string{"merchant-1"}
	case "GetSettlementReport":
		return []string{"merchant-1", "", "2026-01-01", "2026-12-31"}
	case "VerifyDocument":
		return []string{lcAuthzDoc}
	case "CreateOrder":
		return []string{lcJSON(t, lcCreateReq(id))}
	case "SetComplianceRules":
		return []string{`{}`}
	case "AnchorDocument":
		return []string{lcJSON(t, map[string]any{"sha256": strings.Repeat("6f", 32), "orderId": id, "kind": chaincode.DocumentOther})}
	case "SubmitBuyerStatement":
		// The order has no buyer key: FAILED_PRECONDITION for the organisations that may relay.
		return []string{lcJSON(t, lcSignedStatement(t, lcStatement(id, chaincode.StatementConfirmReceipt, 2, "authz-nonce-0001", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))))}
	case "SetTrackingLink":
		return []string{lcJSON(t, map[string]any{"orderId": id, "tokenHash": strings.Repeat("7a", 32)})}
	case "PublishFXReferenceRates":
		return []string{lcJSON(t, map[string]any{"date": "2026-03-01", "rates": map[string]string{"USD/EUR": "0.92"}})}
	case "GetTrackingView":
		return []string{strings.Repeat("7b", 32)}
	case "GetFXReferenceRate":
		return []string{"USD", "EUR", "2026-03-01"}
	case "GetFXExposureReport":
		return []string{chaincode.BankMSP, "2026-01-01", "2026-12-31"}
	}
	for _, w := range lcWrites() {
		if w.fn == fn {
			return []string{lcJSON(t, w.req(id))}
		}
	}
	t.Fatalf("no arguments for %s", fn)
	return nil
}

// TestAuthorisationMatrix calls every transaction as each of the five organisations (and an
// outsider) on an existing order: organisations outside the matrix get FORBIDDEN, allowed ones
// never do. Every write is thereby refused to the read-only regulator.
func TestAuthorisationMatrix(t *testing.T) {
	e := lcNew(t)
	e.to("az-1", stPaid)
	e.ok(e.invoke(chaincode.MerchantMSP, "AnchorDocument", map[string]any{"sha256": lcAuthzDoc, "orderId": "az-1", "kind": chaincode.DocumentInvoice}, nil))
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
	require.Len(t, chaincode.Organisations, 5)
	require.Contains(t, chaincode.Organisations, chaincode.RegulatorMSP)
	fns := make([]string, 0, len(lcWho))
	for fn := range lcWho {
		fns = append(fns, fn)
	}
	slices.Sort(fns)
	var all []string
	for fn := range chaincode.TransactionArguments() {
		all = append(all, fn)
	}
	require.ElementsMatch(t, all, fns, "the matrix covers every transaction")
	orgs := append(slices.Clone(chaincode.Organisations), lcOutsider)
	writes := 0
	for _, fn := range fns {
		if !slices.Contains(lcWho[fn], chaincode.RegulatorMSP) {
			writes++
		}
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
	require.Equal(t, 16, writes, "the regulator may call no write transaction")
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
