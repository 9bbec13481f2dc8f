package chaincode

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequirePayoutAllowed checks the last guard before money reaches a merchant: whatever
// transaction finalizes an order, a release (released > 0) needs a delivered, customs-cleared
// order that is not on hold; refunds need none of it.
func TestRequirePayoutAllowed(t *testing.T) {
	delivered := func() *Order {
		return &Order{OrderID: "o", MerchantID: "m", Customs: CustomsState{Cleared: true}, Logistics: LogisticsState{DeliveredAt: "2026-03-01T00:00:00Z"}}
	}
	cases := []struct {
		name     string
		mutate   func(o *Order)
		released int64
		want     string
	}{
		{"delivered and cleared", func(*Order) {}, 100, ""},
		{"customs hold", func(o *Order) { o.Hold = &Hold{Kind: HoldCustoms} }, 100, "is on CUSTOMS hold"},
		{"not delivered", func(o *Order) { o.Logistics.DeliveredAt = "" }, 1, "was not delivered"},
		{"not cleared", func(o *Order) { o.Customs.Cleared = false }, 1, "is not cleared by customs"},
		{"a refund needs nothing", func(o *Order) { *o = Order{OrderID: "o", Hold: &Hold{Kind: HoldCustoms}} }, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := delivered()
			c.mutate(o)
			err := requirePayoutAllowed(o, c.released)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, CodeFailedPrecondition, CodeOf(err))
			require.ErrorContains(t, err, c.want)
		})
	}
}
