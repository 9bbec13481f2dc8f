package keys_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/gateway/store"
)

// An operator makes a key bound to one merchant, the gateway authenticates it, and revoking it
// refuses it at once.
func Example() {
	dir, _ := os.MkdirTemp("", "keys-example")
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "gateway.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	ctx := context.Background()
	m := keys.New(st, []string{"MerchantMSP"})

	k, secret, err := m.Create(ctx, gateway.APIKeyRequest{MSPID: "MerchantMSP", Label: "checkout", Merchants: []string{"tea-shop"}})
	if err != nil {
		panic(err)
	}
	caller, err := m.Authenticate(ctx, secret)
	fmt.Println(caller.MSPID, caller.Merchants, caller.ActsFor("tea-shop"), caller.ActsFor("other-shop"), err)

	if _, err := m.Revoke(ctx, "MerchantMSP", k.ID); err != nil {
		panic(err)
	}
	_, err = m.Authenticate(ctx, secret)
	fmt.Println(gateway.ErrorCode(err))
	// Output:
	// MerchantMSP [tea-shop] true false <nil>
	// UNAUTHENTICATED
}
