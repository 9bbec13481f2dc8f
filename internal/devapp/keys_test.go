package devapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/testkit"
)

// createdKey is the answer of POST /api/v1/admin/keys.
type createdKey struct {
	gateway.APIKey
	Key string `json:"key"`
}

// createKey creates a managed key as org's admin (dev) key.
func (e *env) createKey(org string, body map[string]any) createdKey {
	e.t.Helper()
	r := e.mustStatus(http.StatusCreated, org, http.MethodPost, "/api/v1/admin/keys", body)
	var k createdKey
	require.NoError(e.t, json.Unmarshal(r.Body, &k))
	require.NotEmpty(e.t, k.Key)
	return k
}

// problemOf decodes a problem answer.
func problemOf(t *testing.T, r resp) (code, field string) {
	t.Helper()
	var p struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p), r.String())
	return p.Code, p.Field
}

// TestManagedKeyBoundToMerchant: a key bound to merchant A with its own Fabric identity (from
// the devnet's built-in CA) creates and reads A's orders, is refused B's by the gateway and,
// with a request that bypasses the gateway's check, by the chaincode; the history names its
// user; rotation keeps it working; revocation refuses it at the next request.
func TestManagedKeyBoundToMerchant(t *testing.T) {
	e := startEnv(t, "")
	e.mustStatus(http.StatusCreated, merchant, http.MethodPost, "/api/v1/orders", testkit.NewOrder("ord-keys-b").CreateBody()) // merchant-1

	k := e.createKey(merchant, map[string]any{"label": "shop A", "merchants": []string{"shop-a"}, "ownIdentity": true})
	require.Equal(t, merchant, k.MSPID)
	require.Equal(t, k.ID, k.Identity)
	require.NotEmpty(t, k.IdentitySerial)
	keyed := testkit.NewClient(e.app.URL, map[string]string{"A": k.Key}, testkit.WithCheck(e.check))
	// From the start of the log: the bound key's stream carries its merchant's events only.
	stream := keyed.MustOpenEvents(t, "A", "?after=0-0", "")

	orderA := testkit.NewOrder("ord-keys-a")
	orderA.MerchantID = "shop-a"
	keyed.Must(t, http.StatusCreated, "A", http.MethodPost, "/api/v1/orders", orderA.CreateBody())
	r := keyed.Must(t, http.StatusOK, "A", http.MethodGet, "/api/v1/orders/ord-keys-a", nil)
	require.Contains(t, string(r.Body), orderA.BuyerName, "the bound key reads its merchant's private data")

	t.Run("events of its merchant only", func(t *testing.T) {
		ev := stream.Next(t)
		require.Equal(t, "ord-keys-a", ev.OrderID(), "the event of merchant-1's order ord-keys-b is not sent")
		r := keyed.Must(t, http.StatusForbidden, "A", http.MethodPost, "/api/v1/subscriptions",
			map[string]any{"url": "http://127.0.0.1:9/hooks", "filter": map[string]any{"merchantId": "merchant-1"}})
		_, field := problemOf(t, r)
		require.Equal(t, "filter.merchantId", field)
	})

	t.Run("gateway refuses another merchant", func(t *testing.T) {
		other := testkit.NewOrder("ord-keys-c") // merchant-1
		r := keyed.Must(t, http.StatusForbidden, "A", http.MethodPost, "/api/v1/orders", other.CreateBody())
		code, field := problemOf(t, r)
		require.Equal(t, "FORBIDDEN", code)
		require.Equal(t, "merchantId", field)
		r = keyed.Must(t, http.StatusForbidden, "A", http.MethodGet, "/api/v1/orders/ord-keys-b", nil)
		_, field = problemOf(t, r)
		require.Equal(t, "id", field)
		r = keyed.Must(t, http.StatusForbidden, "A", http.MethodGet, "/api/v1/orders?merchantId=merchant-1", nil)
		_, field = problemOf(t, r)
		require.Equal(t, "merchantId", field)
		keyed.Must(t, http.StatusOK, "A", http.MethodGet, "/api/v1/orders?merchantId=shop-a", nil)
	})

	t.Run("chaincode refuses another merchant", func(t *testing.T) {
		op, ok := gateway.OperationByID("createOrder")
		require.True(t, ok)
		body, err := json.Marshal(testkit.NewOrder("ord-keys-d").CreateBody())
		require.NoError(t, err)
		inv, err := op.Invocation(map[string]string{}, body)
		require.NoError(t, err)
		// The key's caller, as the gateway would sign for it, without the gateway's check.
		caller := gateway.Caller{KeyID: k.ID, MSPID: merchant, Identity: k.Identity}
		_, err = e.app.Ledger.Submit(context.Background(), caller, inv)
		require.Equal(t, gateway.CodeForbidden, gateway.ErrorCode(err), "%v", err)
		require.ErrorContains(t, err, "xborder.merchantId")
	})

	t.Run("history names the user", func(t *testing.T) {
		r := keyed.Must(t, http.StatusOK, "A", http.MethodGet, "/api/v1/orders/ord-keys-a/history", nil)
		var h struct {
			Entries []struct {
				CreatorMSP  string `json:"creatorMsp"`
				CreatorName string `json:"creatorName"`
			} `json:"entries"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &h))
		require.NotEmpty(t, h.Entries)
		require.Equal(t, merchant, h.Entries[0].CreatorMSP)
		require.Equal(t, k.ID, h.Entries[0].CreatorName)
	})

	t.Run("rotation", func(t *testing.T) {
		r := e.mustStatus(http.StatusOK, merchant, http.MethodPost, "/api/v1/admin/keys/"+k.ID+"/rotate-identity", nil)
		var rotated gateway.APIKey
		require.NoError(t, json.Unmarshal(r.Body, &rotated))
		require.NotEqual(t, k.IdentitySerial, rotated.IdentitySerial)
		keyed.Must(t, http.StatusOK, "A", http.MethodGet, "/api/v1/orders/ord-keys-a", nil)
		next := testkit.NewOrder("ord-keys-e")
		next.MerchantID = "shop-a"
		keyed.Must(t, http.StatusCreated, "A", http.MethodPost, "/api/v1/orders", next.CreateBody())
	})

	t.Run("list, label, admin only", func(t *testing.T) {
		e.mustStatus(http.StatusOK, merchant, http.MethodPatch, "/api/v1/admin/keys/"+k.ID, map[string]any{"label": "shop A checkout"})
		r := e.mustStatus(http.StatusOK, merchant, http.MethodGet, "/api/v1/admin/keys", nil)
		require.Contains(t, string(r.Body), "shop A checkout")
		require.NotContains(t, string(r.Body), k.Key)
		e.mustStatus(http.StatusNotFound, bank, http.MethodGet, "/api/v1/admin/keys/"+k.ID, nil)
		keyed.Must(t, http.StatusForbidden, "A", http.MethodGet, "/api/v1/admin/keys", nil)
	})

	t.Run("revocation", func(t *testing.T) {
		e.mustStatus(http.StatusOK, merchant, http.MethodPost, "/api/v1/admin/keys/"+k.ID+"/revoke", nil)
		r := keyed.Must(t, http.StatusUnauthorized, "A", http.MethodGet, "/api/v1/orders/ord-keys-a", nil)
		require.Contains(t, string(r.Body), "revoked")
		// The open stream ends at its next wake-up: the next event of the log.
		e.mustStatus(http.StatusCreated, merchant, http.MethodPost, "/api/v1/orders", testkit.NewOrder("ord-keys-f").CreateBody())
		select {
		case <-stream.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the revoked key's event stream is still open")
		}
	})
}
