package chaincode_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// lcListPeriod pages through ListOrders filtered by merchant and creation period and returns the
// order IDs in page order.
func lcListPeriod(t *testing.T, e *lcEnv, msp, merchant, from, to string, pageSize int) []string {
	t.Helper()
	var ids []string
	bookmark := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 200, "pagination does not terminate")
		res := e.evaluate(msp, "ListOrders", merchant, "", "", strconv.Itoa(pageSize), bookmark, from, to)
		require.Equal(t, int32(200), res.Status, res.Message)
		var page chaincode.OrderPage
		require.NoError(t, json.Unmarshal(res.Payload, &page))
		require.LessOrEqual(t, len(page.Items), pageSize)
		for _, o := range page.Items {
			ids = append(ids, o.OrderID)
		}
		if page.Bookmark == "" {
			return ids
		}
		bookmark = page.Bookmark
	}
}

// TestListOrdersByCreationPeriod creates orders over several days for two merchants and lists
// them by creation period (dates and RFC 3339 instants, open and closed), alone and with a
// merchant, in pages of several sizes: each listing is exactly the orders created in the period,
// oldest first.
func TestListOrdersByCreationPeriod(t *testing.T) {
	e := lcNew(t)
	type made struct {
		id, merchant string
		at           time.Time
	}
	var orders []made
	start := time.Date(2026, 4, 1, 22, 0, 0, 0, time.UTC)
	for i := 0; i < 24; i++ {
		e.now = start.Add(time.Duration(i) * 3 * time.Hour) // eight a day, across three days
		req := lcCreateReq(fmt.Sprintf("cp-%02d", i))
		req["merchantId"] = fmt.Sprintf("merchant-%d", i%2)
		o := e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", req, lcOrderPrivate()))
		at, err := time.Parse(time.RFC3339Nano, o.CreatedAt)
		require.NoError(t, err)
		orders = append(orders, made{o.OrderID, o.MerchantID, at})
	}
	want := func(merchant string, from, to time.Time) []string {
		var out []string
		for _, o := range orders {
			if (merchant == "" || o.merchant == merchant) && !o.at.Before(from) && !o.at.After(to) {
				out = append(out, o.id)
			}
		}
		return out
	}
	never := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	day2 := time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, merchant, from, to string
		wantFrom, wantTo         time.Time
	}{
		{"one day by date", "", "2026-04-02", "2026-04-02", day2, day2.Add(24*time.Hour - time.Nanosecond)},
		{"instants", "", orders[3].at.Format(time.RFC3339), orders[10].at.Format(time.RFC3339), orders[3].at, orders[10].at},
		{"open end", "", "2026-04-03", "", day2.Add(24 * time.Hour), never},
		{"open start", "", "", "2026-04-01", time.Time{}, day2.Add(-time.Nanosecond)},
		{"one merchant, two days", "merchant-1", "2026-04-01", "2026-04-02", time.Time{}, day2.Add(24*time.Hour - time.Nanosecond)},
		{"nothing in the period", "", "2026-05-01", "2026-05-31", never, never},
	}
	for _, c := range cases {
		for _, size := range []int{1, 3, 8, 100} {
			t.Run(fmt.Sprintf("%s/page %d", c.name, size), func(t *testing.T) {
				got := lcListPeriod(t, e, chaincode.RegulatorMSP, c.merchant, c.from, c.to, size)
				require.Equal(t, want(c.merchant, c.wantFrom, c.wantTo), got)
			})
		}
	}

	t.Run("argument errors", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"", "", "", "10", "", "yesterday", ""}, `INVALID_ARGUMENT: createdFrom: must be an RFC 3339 timestamp`},
			{[]string{"", "", "", "10", "", "", "2026-04-31"}, `INVALID_ARGUMENT: createdTo: must be an RFC 3339 timestamp`},
			{[]string{"", "", "", "10", "", "2026-04-03", "2026-04-02"}, "INVALID_ARGUMENT: createdTo: must not be before createdFrom"},
			{[]string{"", "CREATED", "", "10", "", "2026-04-01", ""}, "INVALID_ARGUMENT: status: cannot be combined with createdFrom/createdTo"},
			{[]string{"", "", "buyer-1", "10", "", "", "2026-04-01"}, "INVALID_ARGUMENT: buyerId: cannot be combined"},
			{[]string{"", "", "", "10", lcKey("ord~c", "2026-04-02T00:00:00.000000000Z", "x"), "2026-04-03", ""}, "INVALID_ARGUMENT: bookmark: lies before createdFrom"},
			{[]string{"merchant-1", "", "", "10", lcKey("ord~c", "2026-04-03T00:00:00.000000000Z", "x"), "2026-04-03", ""}, "INVALID_ARGUMENT: bookmark: is not a bookmark of this query"},
			{[]string{"", "", "", "10", lcKey("order", "cp-01"), "2026-04-03", ""}, "INVALID_ARGUMENT: bookmark: is not a bookmark of this query"},
		} {
			msg := e.fails(e.evaluate(chaincode.CustomsMSP, "ListOrders", c.args...), chaincode.CodeInvalidArgument)
			require.True(t, strings.HasPrefix(msg, c.want), msg)
		}
	})

	t.Run("the five-argument form still works", func(t *testing.T) {
		old := e.evaluate(chaincode.BankMSP, "ListOrders", "merchant-0", "", "", "5", "")
		cur := e.evaluate(chaincode.BankMSP, "ListOrders", "merchant-0", "", "", "5", "", "", "")
		require.Equal(t, int32(200), old.Status, old.Message)
		require.Equal(t, string(cur.Payload), string(old.Payload))
	})

	t.Run("orders keep their place when their status changes", func(t *testing.T) {
		e.escrow("cp-05")
		got := lcListPeriod(t, e, chaincode.CarrierMSP, "", "2026-04-02", "2026-04-02", 4)
		require.True(t, slices.Contains(got, "cp-05"))
		require.Equal(t, want("", day2, day2.Add(24*time.Hour-time.Nanosecond)), got)
	})
}
