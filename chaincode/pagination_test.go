package chaincode_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// lcListAll pages through ListOrders with the given filters and returns the order IDs in page
// order, checking every order against the filters and that pages are disjoint.
func lcListAll(t *testing.T, e *lcEnv, merchant, status, buyer string, pageSize int) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	bookmark := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 2000, "pagination does not terminate")
		res := e.evaluate(chaincode.CustomsMSP, "ListOrders", merchant, status, buyer, strconv.Itoa(pageSize), bookmark)
		require.Equal(t, int32(200), res.Status, res.Message)
		var page chaincode.OrderPage
		require.NoError(t, json.Unmarshal(res.Payload, &page))
		require.Equal(t, int32(len(page.Items)), page.Count)
		want := pageSize
		if want == 0 {
			want = chaincode.DefaultPageSize
		}
		want = min(want, chaincode.MaxPageSize)
		require.LessOrEqual(t, len(page.Items), want)
		for _, o := range page.Items {
			require.False(t, seen[o.OrderID], "order %s on two pages", o.OrderID)
			seen[o.OrderID] = true
			ids = append(ids, o.OrderID)
			if merchant != "" {
				require.Equal(t, merchant, o.MerchantID)
			}
			if status != "" {
				require.Equal(t, status, o.Status)
			}
			if buyer != "" {
				require.Equal(t, buyer, o.Buyer.ID)
			}
			require.Empty(t, o.Buyer.Name, "lists carry no private data")
		}
		if page.Bookmark == "" {
			return ids
		}
		bookmark = page.Bookmark
	}
}

// TestPagination creates 1,000 orders across merchants, buyers and statuses and pages through
// every filter combination: pages are disjoint, complete and match the filters.
func TestPagination(t *testing.T) {
	e := lcNew(t)
	const n = 1000
	type fact struct{ merchant, buyer, status string }
	facts := map[string]fact{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("pg-%04d", i)
		req := map[string]any{
			"orderId": id, "merchantId": fmt.Sprintf("m-%d", i%4),
			"buyer": map[string]any{"id": fmt.Sprintf("b-%d", i%7), "country": "FR"}, "sellerCountry": "JP", "currency": "JPY",
			"items":       []map[string]any{{"sku": "S", "name": "Tea", "hsCode": "090210", "quantity": 1, "unitPrice": 1000 + i}},
			"shippingFee": 0,
		}
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
		f := fact{merchant: req["merchantId"].(string), buyer: fmt.Sprintf("b-%d", i%7), status: chaincode.StatusCreated}
		switch i % 10 {
		case 0:
			e.ok(e.invoke(chaincode.BankMSP, "EscrowPayment", map[string]any{"orderId": id, "paymentId": "p-" + id, "payerCurrency": "JPY", "payerAmount": 1000 + i, "fxRate": "1"}, lcPaymentPrivate()))
			f.status = chaincode.StatusPaid
		case 1:
			e.ok(e.invoke(chaincode.MerchantMSP, "CancelOrder", map[string]any{"orderId": id}, nil))
			f.status = chaincode.StatusCancelled
		}
		facts[id] = f
	}
	expect := func(merchant, status, buyer string) []string {
		var out []string
		for id, f := range facts {
			if (merchant == "" || f.merchant == merchant) && (status == "" || f.status == status) && (buyer == "" || f.buyer == buyer) {
				out = append(out, id)
			}
		}
		return out
	}
	cases := []struct{ merchant, status, buyer string }{
		{"", "", ""},
		{"m-1", "", ""},
		{"", chaincode.StatusPaid, ""},
		{"", chaincode.StatusCreated, ""},
		{"", "", "b-3"},
		{"m-2", chaincode.StatusCancelled, ""},
		{"", chaincode.StatusPaid, "b-0"},
		{"m-3", "", "b-5"},
		{"m-0", chaincode.StatusPaid, "b-2"},
		{"m-9", "", ""},
	}
	for _, c := range cases {
		sizes := []int{0, 100}
		if c.merchant == "" && c.status == "" && c.buyer == "" {
			sizes = []int{0, 1, 37, 100, 500}
		}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("merchant=%s/status=%s/buyer=%s/size=%d", c.merchant, c.status, c.buyer, size), func(t *testing.T) {
				got := lcListAll(t, e, c.merchant, c.status, c.buyer, size)
				want := expect(c.merchant, c.status, c.buyer)
				slices.Sort(want)
				slices.Sort(got)
				require.Equal(t, want, got)
			})
		}
	}
	t.Run("bad arguments", func(t *testing.T) {
		e.fails(e.evaluate(chaincode.MerchantMSP, "ListOrders", "", "SHIPPED", "", "0", ""), chaincode.CodeInvalidArgument)
		e.fails(e.evaluate(chaincode.MerchantMSP, "ListOrders", "", "", "", "-1", ""), chaincode.CodeInvalidArgument)
		e.fails(e.evaluate(chaincode.MerchantMSP, "ListOrders", "bad id", "", "", "0", ""), chaincode.CodeInvalidArgument)
	})
}
