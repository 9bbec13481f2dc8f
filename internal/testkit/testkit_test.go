package testkit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

func TestHalfEven(t *testing.T) {
	for _, tc := range []struct{ n, d, want int64 }{
		{250, 100, 2}, {350, 100, 4}, {251, 100, 3}, {249, 100, 2}, {0, 100, 0}, {276000, 100, 2760},
	} {
		t.Run(fmt.Sprint(tc.n, "/", tc.d), func(t *testing.T) {
			require.Equal(t, tc.want, testkit.HalfEven(tc.n, tc.d))
		})
	}
}

func TestOrderBodies(t *testing.T) {
	o := testkit.NewOrder("o-1")
	require.Equal(t, int64(3000), o.Total())
	require.Equal(t, int64(2760), o.PaymentBody("p")["payerAmount"], "3000 USD cents at 0.92")
	require.Equal(t, o.Total(), o.DeclarationBody()["declaredValue"])
	buyer := o.CreateBody()["buyer"].(map[string]any)
	require.Equal(t, o.BuyerName, buyer["name"])
	require.Equal(t, o.BuyerName, o.WaybillBody()["consigneeName"], "the consignee is the buyer")
}

func TestReadEvents(t *testing.T) {
	stream := ": keep-alive\n\n" +
		"id: 3-0\nevent: OrderCreated\ndata: {\"txId\":\"tx1\",\"orderId\":\"o-1\"}\n\n" +
		"event: ignored without an id\n\n" +
		"id: 3-1\nevent: PaymentEscrowed\ndata: {\"txId\":\"tx2\"}\n\n" +
		"id: 4-0\nevent: cut short\n"
	var got []testkit.Event
	testkit.ReadEvents(strings.NewReader(stream), func(ev testkit.Event) { got = append(got, ev) })
	require.Len(t, got, 2)
	require.Equal(t, "3-0", got[0].ID)
	require.Equal(t, "OrderCreated", got[0].Name)
	require.Equal(t, "tx1", got[0].TxID())
	require.Equal(t, "o-1", got[0].OrderID())
	require.Equal(t, `{"txId":"tx2"}`, got[1].Raw)
	require.Empty(t, got[1].OrderID())
}
