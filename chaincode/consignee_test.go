package chaincode_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// TestMultilineAddress checks that a postal address may span lines (LF, or CR LF normalised to
// LF) while every other control character is still refused, and that the consignee match
// treats line breaks like spaces.
func TestMultilineAddress(t *testing.T) {
	e := lcNew(t)
	withAddress := func(address string) map[string]any {
		p := lcOrderPrivate()
		p[chaincode.TransientOrderPrivate].(map[string]any)["address"] = address
		return p
	}
	t.Run("CR LF normalised and stored", func(t *testing.T) {
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("ml-1"), withAddress("Anna Schmidt\r\nHauptstrasse 1\r\n10115 Berlin")))
		o := e.get(chaincode.CustomsMSP, "ml-1")
		require.Equal(t, "Anna Schmidt\nHauptstrasse 1\n10115 Berlin", o.Buyer.Address)
	})
	t.Run("refused control characters", func(t *testing.T) {
		for _, bad := range []string{"Hauptstrasse 1\t10115 Berlin", "Hauptstrasse 1\r10115 Berlin", "Haupt\x00strasse", "\n\r\n "} {
			msg := e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("ml-bad"), withAddress(bad)), chaincode.CodeInvalidArgument)
			require.Contains(t, msg, "transient.order_private.address: ")
		}
	})
	t.Run("other text fields stay single-line", func(t *testing.T) {
		p := lcOrderPrivate()
		p[chaincode.TransientOrderPrivate].(map[string]any)["name"] = "Anna\nSchmidt"
		msg := e.fails(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("ml-name"), p), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "transient.order_private.name: must contain only printable characters; found U+000A")
	})
	t.Run("multi-line waybill address matches", func(t *testing.T) {
		e.create("ml-2")
		e.escrow("ml-2")
		e.declare("ml-2")
		e.ok(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": "ml-2", "waybillNo": "WB-ml-2"},
			map[string]any{chaincode.TransientWaybillPrivate: map[string]any{
				"consigneeName": "Anna Schmidt", "consigneeAddress": "Hauptstrasse 1,\r\n10115 Berlin\n",
			}}))
		require.Equal(t, chaincode.StatusCleared, e.decide("ml-2", chaincode.DecisionCleared).Status)
	})
}

// lcConsigneeRecord reads a consignee record of an order straight from the ledger.
func lcConsigneeRecord(t *testing.T, e *lcEnv, side, id string) (map[string]string, []byte) {
	t.Helper()
	raw := e.l.PrivateData(chaincode.CollectionOrderPrivate, lcKey("consignee~"+side, id))
	require.NotNil(t, raw, "consignee~%s %s", side, id)
	var rec map[string]string
	require.NoError(t, json.Unmarshal(raw, &rec))
	return rec, raw
}

// TestConsigneeAlwaysSalted checks that the consignee records compared by the three-document
// match are salted even when nobody shares a consignee salt, so a channel member cannot confirm
// a guessed name and address against the public private-data hash.
func TestConsigneeAlwaysSalted(t *testing.T) {
	e := lcNew(t)
	t.Run("derived salt", func(t *testing.T) {
		e.to("cs-1", stCleared) // waybill without consigneeSalt; the match passes
		m, mraw := lcConsigneeRecord(t, e, "merchant", "cs-1")
		c, craw := lcConsigneeRecord(t, e, "carrier", "cs-1")
		derived := sha256.Sum256([]byte("xborder/consignee-salt/v1\x00" + lcSalt))
		require.Equal(t, hex.EncodeToString(derived[:]), m["salt"], "the documented derivation")
		require.NotEqual(t, lcSalt, m["salt"], "a dedicated salt, not the buyer record's")
		require.Equal(t, string(mraw), string(craw))
		require.Equal(t, "anna schmidt", c["name"])

		// A guess of the right name and address without the salt does not confirm the hash.
		guess, err := json.Marshal(map[string]string{"orderId": "cs-1", "name": "anna schmidt", "address": "hauptstrasse 1, 10115 berlin", "salt": ""})
		require.NoError(t, err)
		guessSum := sha256.Sum256(guess)
		require.NotEqual(t, guessSum[:], e.l.PrivateDataHash(chaincode.CollectionOrderPrivate, lcKey("consignee~merchant", "cs-1")))
		ledgerSum := sha256.Sum256(mraw)
		require.Equal(t, ledgerSum[:], e.l.PrivateDataHash(chaincode.CollectionOrderPrivate, lcKey("consignee~merchant", "cs-1")))
	})
	t.Run("derived salt differs per order salt", func(t *testing.T) {
		p := lcOrderPrivate()
		p[chaincode.TransientOrderPrivate].(map[string]any)["salt"] = strings.Repeat("ab", 16)
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq("cs-2"), p))
		m1, _ := lcConsigneeRecord(t, e, "merchant", "cs-1")
		m2, _ := lcConsigneeRecord(t, e, "merchant", "cs-2")
		require.NotEqual(t, m1["salt"], m2["salt"])
	})
	merchantSalt := strings.Repeat("5a", 20)
	withMerchantSalt := func(id string) {
		p := lcOrderPrivate()
		p[chaincode.TransientOrderPrivate].(map[string]any)["consigneeSalt"] = strings.ToUpper(merchantSalt)
		e.ok(e.invoke(chaincode.MerchantMSP, "CreateOrder", lcCreateReq(id), p))
		e.escrow(id)
		e.declare(id)
	}
	waybill := func(id, salt string) map[string]any {
		w := lcWaybillPrivate("Anna Schmidt")
		if salt != "" {
			w[chaincode.TransientWaybillPrivate].(map[string]any)["consigneeSalt"] = salt
		}
		return w
	}
	t.Run("merchant salt used without sharing it", func(t *testing.T) {
		withMerchantSalt("cs-3")
		e.ok(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": "cs-3", "waybillNo": "WB-3"}, waybill("cs-3", "")))
		m, _ := lcConsigneeRecord(t, e, "merchant", "cs-3")
		require.Equal(t, merchantSalt, m["salt"])
		require.Equal(t, chaincode.StatusCleared, e.decide("cs-3", chaincode.DecisionCleared).Status)
	})
	t.Run("carrier salt accepted when equal", func(t *testing.T) {
		withMerchantSalt("cs-4")
		e.ok(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": "cs-4", "waybillNo": "WB-4"}, waybill("cs-4", merchantSalt)))
		require.Equal(t, chaincode.StatusCleared, e.decide("cs-4", chaincode.DecisionCleared).Status)
	})
	t.Run("carrier salt refused when different", func(t *testing.T) {
		withMerchantSalt("cs-5")
		msg := e.fails(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": "cs-5", "waybillNo": "WB-5"}, waybill("cs-5", strings.Repeat("77", 16))), chaincode.CodeInvalidArgument)
		require.Contains(t, msg, "transient.waybill_private.consigneeSalt: does not match the consignee salt of order cs-5")
	})
	t.Run("merchant consignee record not on this peer", func(t *testing.T) {
		// An order whose private data this peer never received: only its public state exists.
		o := e.to("cs-6", stPaid)
		o.OrderID = "cs-7"
		raw, err := json.Marshal(o)
		require.NoError(t, err)
		e.l.PutStateDirect(lcKey("order", "cs-7"), raw)
		msg := e.fails(e.invoke(chaincode.CarrierMSP, "RegisterWaybill", map[string]any{"orderId": "cs-7", "waybillNo": "WB-7"}, waybill("cs-7", "")), chaincode.CodeFailedPrecondition)
		require.Contains(t, msg, "consignee record of order cs-7 is not available")
	})
}
