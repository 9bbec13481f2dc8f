package testkit_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

// TestBuyerTestVector checks the test kit's buyer against the documented test vector (written
// independently of the chaincode): the key's thumbprint and the canonical statement text.
func TestBuyerTestVector(t *testing.T) {
	b := testkit.TestVectorBuyer()
	if got, want := b.Thumbprint(), "zQZG2mhRi9iBYKfaQtVsjHh9PLzfHVyN-fIcZnj4AvY"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
	jwk := b.PublicJWK()
	if jwk["x"] != "BZcFdcVPXtTS5LpoSaPCDrQ5XzORi6ifztqWHx5bHrU" || jwk["y"] != "iIFmiSzdN5ctYSWqLlxn_qPS3kJk3Z1OAbyREx75XWQ" {
		t.Fatalf("public key %v", jwk)
	}
	st := testkit.Statement("order-1001", "CONFIRM_RECEIPT", 9, "Q2hlY2tOb25jZTAwMDE", time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC), "")
	want := "xborder-buyer-statement/v1\norderId:order-1001\naction:CONFIRM_RECEIPT\norderVersion:9\nnonce:Q2hlY2tOb25jZTAwMDE\nexpiresAt:2026-03-08T09:00:00Z\nreason:"
	if st != want {
		t.Fatalf("statement %q, want %q", st, want)
	}
	if sig := b.Sign(st); len(sig) != 86 {
		t.Fatalf("signature %q is not 64 bytes in base64url", sig)
	}
}
