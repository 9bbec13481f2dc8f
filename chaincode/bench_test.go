package chaincode_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// lcKey builds a composite key as the shim does.
func lcKey(objectType string, attrs ...string) string {
	return "\x00" + objectType + "\x00" + strings.Join(attrs, "\x00") + "\x00"
}

// lcSeed writes n copies of template straight into the ledger (order key and every index
// entry), with IDs prefix-000000..., merchants cycling through merchants and the given status.
func lcSeed(b testing.TB, e *lcEnv, template chaincode.Order, prefix string, n, merchants int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		o := template
		o.OrderID = fmt.Sprintf("%s-%06d", prefix, i)
		o.MerchantID = fmt.Sprintf("bm-%d", i%merchants)
		v, err := json.Marshal(o)
		require.NoError(b, err)
		e.l.PutStateDirect(lcKey("order", o.OrderID), v)
		for _, k := range []string{
			lcKey("ord~s", o.Status, o.OrderID),
			lcKey("ord~m~s", o.MerchantID, o.Status, o.OrderID),
			lcKey("ord~b~s", o.Buyer.ID, o.Status, o.OrderID),
			lcKey("ord~m~b~s", o.MerchantID, o.Buyer.ID, o.Status, o.OrderID),
		} {
			e.l.PutStateDirect(k, []byte{0})
		}
		if o.Payment != nil {
			rec, err := json.Marshal(chaincode.PaymentRecord{OrderID: o.OrderID, PaymentID: "pay-" + o.OrderID, Currency: o.Currency, Amount: o.Total})
			require.NoError(b, err)
			e.l.PutStateDirect(lcKey("payment", o.OrderID), rec)
		}
		ids[i] = o.OrderID
	}
	return ids
}

func BenchmarkCreateOrder(b *testing.B) {
	e := lcNew(b)
	reqs := make([]string, b.N)
	for i := range reqs {
		reqs[i] = lcJSON(b, lcCreateReq("bc-"+strconv.Itoa(i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := e.l.Invoke(e.cc, e.opts(chaincode.MerchantMSP, lcOrderPrivate()), "CreateOrder", reqs[i])
		if !res.OK() {
			b.Fatal(res.Message, res.Err)
		}
	}
}

func BenchmarkEscrowPayment(b *testing.B) {
	e := lcNew(b)
	template := e.create("template")
	lcSeed(b, e, template, "be", b.N, 10)
	reqs := make([]string, b.N)
	for i := range reqs {
		reqs[i] = lcJSON(b, lcEscrowReq(fmt.Sprintf("be-%06d", i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := e.l.Invoke(e.cc, e.opts(chaincode.BankMSP, lcPaymentPrivate()), "EscrowPayment", reqs[i])
		if !res.OK() {
			b.Fatal(res.Message, res.Err)
		}
	}
}

func BenchmarkConfirmDelivery(b *testing.B) {
	e := lcNew(b)
	template := e.to("template", stDelivered)
	lcSeed(b, e, template, "bd", b.N, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := e.l.Invoke(e.cc, e.opts(chaincode.BankMSP, nil), "ConfirmDelivery", fmt.Sprintf(`{"orderId":"bd-%06d"}`, i))
		if !res.OK() {
			b.Fatal(res.Message, res.Err)
		}
	}
}

// BenchmarkListOrdersPage pages through one merchant's orders (pageSize 50) on ledgers of 1,000
// and 100,000 orders: the cost of a page must not grow with the ledger.
func BenchmarkListOrdersPage(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("orders=%d", n), func(b *testing.B) {
			e := lcNew(b)
			template := e.create("template")
			lcSeed(b, e, template, "bl", n, 10)
			// Warm up: the fake ledger sorts its key index on the first range scan.
			if res := e.l.Evaluate(e.cc, e.opts(chaincode.MerchantMSP, nil), "ListOrders", "bm-3", "", "", "50", ""); res.Status != 200 {
				b.Fatal(res.Message)
			}
			runtime.GC()
			bookmark := ""
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res := e.l.Evaluate(e.cc, e.opts(chaincode.MerchantMSP, nil), "ListOrders", "bm-3", "", "", "50", bookmark)
				if res.Status != 200 {
					b.Fatal(res.Message)
				}
				var page struct {
					Bookmark string `json:"bookmark"`
					Count    int    `json:"count"`
				}
				if err := json.Unmarshal(res.Payload, &page); err != nil || page.Count == 0 {
					b.Fatalf("bad page %v: %s", err, res.Payload)
				}
				bookmark = page.Bookmark
			}
		})
	}
}
