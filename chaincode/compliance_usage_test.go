package chaincode_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// TestCancelledOrdersReleaseYearlyUsage checks that an order that ends without the merchant
// keeping the money (CANCELLED, REJECTED, REFUNDED) no longer counts toward the buyer's yearly
// compliance limit, while a COMPLETED one still does.
func TestCancelledOrdersReleaseYearlyUsage(t *testing.T) {
	cases := []struct {
		final    lcState
		released bool
	}{
		{stCancelled, true}, {stCancelledPaid, true}, {stRejected, true}, {stRefunded, true}, {stCompleted, false},
	}
	for _, c := range cases {
		t.Run(string(c.final), func(t *testing.T) {
			e := lcNew(t)
			// Room for exactly two orders of lcTotal per year.
			e.ok(e.invoke(chaincode.CustomsMSP, "SetComplianceRules", map[string]any{"yearlyLimit": map[string]int64{"USD": 2 * lcTotal}}, nil))
			e.to("yu-1", c.final)
			e.create("yu-2")
			usageKey := lcKey("compliance~usage", "buyer-1", "2026", "USD", "yu-1")
			res := e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("yu-3"), lcOrderPrivate())
			if c.released {
				e.ok(res)
				require.Nil(t, e.l.State(usageKey), "usage of yu-1 deleted")
			} else {
				msg := e.fails(res, chaincode.CodeComplianceRejected)
				require.Contains(t, msg, "already used 8000")
				require.NotNil(t, e.l.State(usageKey))
			}
		})
	}
}
