package chaincode_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

var lcPrivateStrings = []string{lcBuyerName, lcBuyerAddress, lcBuyerPhone, lcPayerName, lcPayerAccount, "anna schmidt", "hauptstrasse"}

// TestPrivateDataAccess checks who sees which private parts through GetOrder.
func TestPrivateDataAccess(t *testing.T) {
	e := lcNew(t)
	e.to("pv-1", stDocumented)
	cases := []struct {
		msp          string
		buyer, payer bool
	}{
		{chaincode.MerchantMSP, true, false},
		{chaincode.BankMSP, false, true},
		{chaincode.CarrierMSP, true, false},
		{chaincode.CustomsMSP, true, true},
		{chaincode.RegulatorMSP, false, true}, // payment data for AML/FX supervision, not the buyer's address
	}
	for _, c := range cases {
		t.Run(c.msp, func(t *testing.T) {
			o := e.get(c.msp, "pv-1")
			if c.buyer {
				require.Equal(t, lcBuyerName, o.Buyer.Name)
				require.Equal(t, lcBuyerAddress, o.Buyer.Address)
				require.Equal(t, lcBuyerPhone, o.Buyer.Phone)
			} else {
				require.Empty(t, o.Buyer.Name+o.Buyer.Address+o.Buyer.Phone)
			}
			if c.payer {
				require.Equal(t, lcPayerName, o.Payment.PayerName)
				require.Equal(t, lcPayerAccount, o.Payment.PayerAccount)
			} else {
				require.Empty(t, o.Payment.PayerName+o.Payment.PayerAccount)
			}
		})
	}
	t.Run("outsider", func(t *testing.T) {
		e.fails(e.evaluate(lcOutsider, "GetOrder", "pv-1"), chaincode.CodeForbidden)
	})
	t.Run("salted hashes in public state", func(t *testing.T) {
		o := e.get(chaincode.BankMSP, "pv-1")
		rec := e.l.PrivateData(chaincode.CollectionOrderPrivate, "\x00buyer\x00pv-1\x00")
		require.NotNil(t, rec)
		sum := sha256.Sum256(rec)
		require.Equal(t, hex.EncodeToString(sum[:]), o.PrivateHash)
		require.Contains(t, string(rec), lcSalt)
		pay := e.l.PrivateData(chaincode.CollectionPaymentPrivate, "\x00payer\x00pv-1\x00")
		sum = sha256.Sum256(pay)
		require.Equal(t, hex.EncodeToString(sum[:]), o.Payment.PrivateHash)
	})
	t.Run("consignee records canonical and equal", func(t *testing.T) {
		m := e.l.PrivateData(chaincode.CollectionOrderPrivate, "\x00consignee~merchant\x00pv-1\x00")
		c := e.l.PrivateData(chaincode.CollectionOrderPrivate, "\x00consignee~carrier\x00pv-1\x00")
		require.NotNil(t, m)
		require.Equal(t, string(m), string(c))
		require.Contains(t, string(m), `"name":"anna schmidt"`)
	})
	t.Run("transient required and validated", func(t *testing.T) {
		e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("pv-2"), nil), chaincode.CodeInvalidArgument)
		bad := lcOrderPrivate()
		bad[chaincode.TransientOrderPrivate].(map[string]any)["salt"] = "short"
		msg := e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("pv-2"), bad), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "transient.order_private.salt")
	})
}

// TestPublicStateHasNoPrivateData drives orders through every state and scans every public
// key, value, event and block write set for the private strings.
func TestPublicStateHasNoPrivateData(t *testing.T) {
	e := lcNew(t)
	e.lcWatchlist()
	for _, s := range lcStates {
		e.to("ps-"+string(s), s)
	}
	for _, k := range e.l.Keys() {
		v := bytes.ToLower(e.l.State(k))
		for _, p := range lcPrivateStrings {
			require.NotContains(t, string(v), toLower(p), "key %q", k)
			require.NotContains(t, toLower(k), toLower(p))
		}
	}
	for _, ev := range e.l.Events() {
		for _, p := range lcPrivateStrings {
			require.NotContains(t, toLower(string(ev.Payload)), toLower(p), ev.EventName)
		}
	}
}

// TestEventsOnePerWrite checks that every committed write transaction emitted exactly one
// event whose JSON payload names the order and its new status.
func TestEventsOnePerWrite(t *testing.T) {
	e := lcNew(t)
	e.lcWatchlist()
	names := map[string]bool{}
	for _, s := range lcStates {
		e.to("ev-"+string(s), s)
	}
	blocks := e.l.Blocks()
	events := e.l.Events()
	valid := 0
	for _, b := range blocks {
		if b.ValidationCode != peer.TxValidationCode_VALID {
			continue
		}
		valid++
		require.NotNil(t, b.Event, "tx %s has no event", b.TxID)
	}
	require.Len(t, events, valid)
	for _, ev := range events {
		names[ev.EventName] = true
		if ev.EventName == "ComplianceRulesSet" {
			continue
		}
		var p struct {
			OrderID string `json:"orderId"`
			Status  string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(ev.Payload, &p), ev.EventName)
		require.NotEmpty(t, p.OrderID, ev.EventName)
		require.Contains(t, chaincode.Statuses, p.Status, ev.EventName)
		o := e.get(chaincode.CustomsMSP, p.OrderID)
		require.Equal(t, o.OrderID, p.OrderID)
	}
	for _, n := range []string{"OrderCreated", "ComplianceAlert", "PaymentEscrowed", "WaybillRegistered", "CustomsDeclared", "CustomsDecided", "CheckpointRecorded", "PaymentReleased", "DisputeOpened", "Refunded", "OrderCancelled"} {
		require.True(t, names[n], "event %s never emitted", n)
	}
}

// TestCollectionsConfig checks collections_config.json against the collection membership the
// contract enforces.
func TestCollectionsConfig(t *testing.T) {
	defs, members := lcCollections(t)
	require.Len(t, defs, 2)
	require.Equal(t, []string{chaincode.MerchantMSP, chaincode.CarrierMSP, chaincode.CustomsMSP}, members[chaincode.CollectionOrderPrivate])
	require.Equal(t, []string{chaincode.BankMSP, chaincode.CustomsMSP, chaincode.RegulatorMSP}, members[chaincode.CollectionPaymentPrivate])
	require.Equal(t, chaincode.CollectionMembers(), members)
	for _, d := range defs {
		require.Equal(t, 0, d.RequiredPeerCount, d.Name)
		require.Equal(t, 3, d.MaxPeerCount, d.Name)
		require.Equal(t, 0, d.BlockToLive, d.Name)
		require.True(t, d.MemberOnlyRead, d.Name)
		require.True(t, d.MemberOnlyWrite, d.Name)
	}
}

func toLower(s string) string { return string(bytes.ToLower([]byte(s))) }
