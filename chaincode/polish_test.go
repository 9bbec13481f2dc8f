package chaincode_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

// lcWriteCallers names, for every write transaction, an organisation allowed to call it.
var lcWriteCallers = map[string]string{
	"CreateOrder":        chaincode.MerchantMSP,
	"EscrowPayment":      chaincode.BankMSP,
	"RegisterWaybill":    chaincode.CarrierMSP,
	"DeclareCustoms":     chaincode.MerchantMSP,
	"DecideCustoms":      chaincode.CustomsMSP,
	"RecordCheckpoint":   chaincode.CarrierMSP,
	"ConfirmDelivery":    chaincode.BankMSP,
	"ReleaseEscrow":      chaincode.BankMSP,
	"OpenDispute":        chaincode.BankMSP,
	"ResolveDispute":     chaincode.BankMSP,
	"CancelOrder":        chaincode.MerchantMSP,
	"SetComplianceRules": chaincode.CustomsMSP,
	"AnchorDocument":     chaincode.MerchantMSP,
}

// lcWriteNames returns the names of the write transactions, sorted.
func lcWriteNames() []string {
	var out []string
	for name := range lcWriteCallers {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestWriteRequestDecodeErrorsAreCoded sends malformed requests to every write transaction: the
// transaction itself reports them as INVALID_ARGUMENT naming the field (never contractapi's
// uncoded "error managing parameter"), and only after the organisation check.
func TestWriteRequestDecodeErrorsAreCoded(t *testing.T) {
	e := lcNew(t)
	require.ElementsMatch(t, lcWriteNames(), lcWriteTransactions(), "every write transaction has a caller")
	bad := []struct {
		name, arg, want string
	}{
		{"malformed JSON", `{not json`, "INVALID_ARGUMENT: request: must be a JSON object"},
		{"not an object", `[1,2]`, "INVALID_ARGUMENT: request: must be a JSON object"},
		{"unknown field", `{"colour":"red"}`, "INVALID_ARGUMENT: colour: is not a known field"},
		{"wrong type", `{"orderId":42}`, "INVALID_ARGUMENT: orderId: must be of type string, got number"},
		{"two objects", `{} {}`, "INVALID_ARGUMENT: request: must be exactly one JSON object"},
	}
	for _, fn := range lcWriteNames() {
		for _, c := range bad {
			t.Run(fn+"/"+c.name, func(t *testing.T) {
				arg := c.arg
				if fn == "SetComplianceRules" && c.name == "wrong type" {
					arg = `{"watchlist":"merchant-1"}`
				}
				res := e.l.Invoke(e.cc, e.opts(lcWriteCallers[fn], nil), fn, arg)
				require.NotEqual(t, int32(200), res.Status)
				require.NotContains(t, res.Message, "error managing parameter")
				want := c.want
				if fn == "SetComplianceRules" && c.name == "wrong type" {
					want = "INVALID_ARGUMENT: watchlist: must be of type array"
				}
				require.True(t, strings.HasPrefix(res.Message, want), "got %q", res.Message)

				// An organisation from outside the consortium gets FORBIDDEN, whatever it sends.
				res = e.l.Invoke(e.cc, e.opts(lcOutsider, nil), fn, arg)
				require.Equal(t, string(chaincode.CodeForbidden), lcCode(res), res.Message)
			})
		}
	}
}

// TestAuditIdentityReadable checks that the rules and document records carry the creator
// identity in the same readable form as the order records ("x509::<subject>::<issuer>").
func TestAuditIdentityReadable(t *testing.T) {
	e := lcNew(t)
	o := e.create("ai-1")
	require.True(t, strings.HasPrefix(o.UpdatedBy, "x509::"), o.UpdatedBy)
	cases := []struct {
		name, msp, fn string
		req           map[string]any
		field         string
	}{
		{"SetComplianceRules", chaincode.CustomsMSP, "SetComplianceRules", map[string]any{}, "updatedBy"},
		{"AnchorDocument", chaincode.CarrierMSP, "AnchorDocument", map[string]any{"sha256": strings.Repeat("ef", 32), "orderId": "ai-1", "kind": chaincode.DocumentOther}, "anchoredBy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.invoke(c.msp, c.fn, c.req, nil)
			require.Equal(t, int32(200), res.Status, res.Message)
			var rec map[string]any
			require.NoError(t, json.Unmarshal(res.Payload, &rec))
			who, _ := rec[c.field].(string)
			require.True(t, strings.HasPrefix(who, "x509::CN="), "%s = %q", c.field, who)
		})
	}
}

// lcWriteTransactions returns the transactions whose single argument is a request object.
func lcWriteTransactions() []string {
	var out []string
	for name, args := range chaincode.TransactionArguments() {
		if len(args) == 1 && args[0] == "request" {
			out = append(out, name)
		}
	}
	return out
}

// TestArgumentCount checks that a wrong number of arguments is a coded INVALID_ARGUMENT naming
// the expected arguments (contractapi would report too few without a code and ignore extras).
func TestArgumentCount(t *testing.T) {
	e := lcNew(t)
	e.create("ac-1")
	cases := []struct {
		name string
		msp  string
		fn   string
		args []string
		want string
	}{
		{"write without request", chaincode.MerchantMSP, "CreateOrder", nil,
			"INVALID_ARGUMENT: arguments: CreateOrder takes 1 argument (the request as a JSON object), got 0"},
		{"write with two", chaincode.BankMSP, "ConfirmDelivery", []string{`{"orderId":"ac-1"}`, "x"},
			"INVALID_ARGUMENT: arguments: ConfirmDelivery takes 1 argument (the request as a JSON object), got 2"},
		{"query with too few", chaincode.MerchantMSP, "ListOrders", []string{"", "", ""},
			"INVALID_ARGUMENT: arguments: ListOrders takes 5 arguments (merchantId, status, buyerId, pageSize, bookmark), got 3"},
		{"query with too many", chaincode.MerchantMSP, "GetOrder", []string{"ac-1", "ac-2"},
			"INVALID_ARGUMENT: arguments: GetOrder takes 1 argument (orderId), got 2"},
		{"query without arguments given one", chaincode.BankMSP, "GetComplianceRules", []string{"x"},
			"INVALID_ARGUMENT: arguments: GetComplianceRules takes no arguments, got 1"},
		{"lower-case name", chaincode.BankMSP, "getOrder", nil,
			"INVALID_ARGUMENT: arguments: GetOrder takes 1 argument (orderId), got 0"},
		{"namespaced name", chaincode.BankMSP, chaincode.ContractName + ":GetOrder", nil,
			"INVALID_ARGUMENT: arguments: GetOrder takes 1 argument (orderId), got 0"},
		{"outsider", lcOutsider, "GetOrder", nil, "FORBIDDEN: "},
		{"unknown transaction", chaincode.BankMSP, "NoSuchThing", []string{"x"},
			`INVALID_ARGUMENT: function: "NoSuchThing" is not a transaction of contract xborder`},
		{"unknown transaction, namespaced", chaincode.BankMSP, chaincode.ContractName + ":noSuchThing", nil,
			`INVALID_ARGUMENT: function: "xborder:noSuchThing" is not a transaction of contract xborder`},
		{"unknown transaction from an outsider", lcOutsider, "NoSuchThing", nil, "FORBIDDEN: "},
		{"unknown contract left to contractapi", chaincode.BankMSP, "other:GetOrder", nil,
			"Contract not found with name other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.l.Evaluate(e.cc, e.opts(c.msp, nil), c.fn, c.args...)
			require.NotEqual(t, int32(200), res.Status)
			require.True(t, strings.HasPrefix(res.Message, c.want), "got %q", res.Message)
		})
	}
	// The right number of arguments still works, with or without the namespace.
	e.ok(e.evaluate(chaincode.BankMSP, chaincode.ContractName+":GetOrder", "ac-1"))
	e.ok(e.evaluate(chaincode.BankMSP, "GetComplianceRules"))
}

// TestPageSizeArgument checks that ListOrders and ListComplianceAlerts parse pageSize
// themselves, so that a bad value is a coded error naming the argument.
func TestPageSizeArgument(t *testing.T) {
	e := lcNew(t)
	for _, id := range []string{"ps-1", "ps-2", "ps-3"} {
		e.create(id)
	}
	list := func(fn, pageSize string) []string {
		if fn == "ListOrders" {
			return []string{"merchant-1", "", "", pageSize, ""}
		}
		return []string{pageSize, ""}
	}
	for _, fn := range []string{"ListOrders", "ListComplianceAlerts"} {
		cases := []struct {
			pageSize string
			want     string // error prefix; "" = success
		}{
			{"", ""}, {"0", ""}, {"2", ""}, {"007", ""}, {"100000000000000000000", ""}, {"-0", ""},
			{"abc", "INVALID_ARGUMENT: pageSize: must be a whole number (decimal digits), got \"abc\""},
			{"1.5", "INVALID_ARGUMENT: pageSize: must be a whole number"},
			{"1e3", "INVALID_ARGUMENT: pageSize: must be a whole number"},
			{" 5", "INVALID_ARGUMENT: pageSize: must be a whole number"},
			{"+5", "INVALID_ARGUMENT: pageSize: must be a whole number"},
			{"-", "INVALID_ARGUMENT: pageSize: must be a whole number"},
			{"-1", "INVALID_ARGUMENT: pageSize: must not be negative, got -1"},
		}
		for _, c := range cases {
			t.Run(fn+"/"+c.pageSize, func(t *testing.T) {
				res := e.evaluate(chaincode.CustomsMSP, fn, list(fn, c.pageSize)...)
				if c.want == "" {
					require.Equal(t, int32(200), res.Status, res.Message)
					return
				}
				require.True(t, strings.HasPrefix(res.Message, c.want), "got %q", res.Message)
			})
		}
	}
	res := e.evaluate(chaincode.MerchantMSP, "ListOrders", "merchant-1", "", "", "2", "")
	require.Equal(t, int32(200), res.Status, res.Message)
	var page chaincode.OrderPage
	require.NoError(t, json.Unmarshal(res.Payload, &page))
	require.Equal(t, int32(2), page.Count)
	require.NotEmpty(t, page.Bookmark)
}

func TestParsePageSize(t *testing.T) {
	cases := []struct {
		in      string
		want    int32
		wantErr string
	}{
		{"", 20, ""}, {"0", 20, ""}, {"-0", 20, ""}, {"1", 1, ""}, {"99", 99, ""}, {"100", 100, ""},
		{"101", 100, ""}, {"2147483648", 100, ""}, {"99999999999999999999999", 100, ""},
		{"-5", 0, "must not be negative"}, {"5x", 0, "must be a whole number"}, {"٣", 0, "must be a whole number"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := chaincode.ParsePageSize("pageSize", c.in, 20, 100)
			if c.wantErr != "" {
				require.Error(t, err)
				require.Equal(t, chaincode.CodeInvalidArgument, chaincode.CodeOf(err))
				require.Contains(t, err.Error(), "pageSize: "+c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

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

func TestValidateMultilineText(t *testing.T) {
	cases := []struct {
		in, want, wantErr string
	}{
		{"a\nb", "a\nb", ""},
		{"a\r\nb\r\n", "a\nb\n", ""},
		{"Straße 1\n東", "Straße 1\n東", ""},
		{"a\rb", "", "found U+000D at position 1"},
		{"a\tb", "", "found U+0009 at position 1"},
		{"a\u200bb", "", "found U+200B"},
		{"\r\n\n ", "", "is required"},
		{strings.Repeat("x\r\n", 5), strings.Repeat("x\n", 5), ""},
		{strings.Repeat("x\n", 6), "", "must be at most 10 characters, got 12"},
		{"\xff", "", "must be valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := chaincode.ValidateMultilineText("address", c.in, 10)
			if c.wantErr != "" {
				require.Error(t, err)
				require.Equal(t, chaincode.CodeInvalidArgument, chaincode.CodeOf(err))
				require.Contains(t, err.Error(), c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	require.Error(t, chaincode.ValidateText("location", "a\nb", 10), "single-line text still refuses line breaks")
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

// TestMetadataComplete checks org.hyperledger.fabric:GetMetadata: the chaincode-level info is
// xborder's, and every transaction is listed with its arguments (each with a schema) and the
// evaluate or submit tag.
func TestMetadataComplete(t *testing.T) {
	e := lcNew(t)
	res := e.evaluate(chaincode.BankMSP, "org.hyperledger.fabric:GetMetadata")
	require.Equal(t, int32(200), res.Status, res.Message)
	lower := e.evaluate(chaincode.BankMSP, "org.hyperledger.fabric:getMetadata")
	require.Equal(t, string(res.Payload), string(lower.Payload), "contractapi accepts the lower-case name too")
	var md struct {
		Info      struct{ Title, Version string }
		Contracts map[string]struct {
			Info         struct{ Title, Version string }
			Default      bool
			Transactions []struct {
				Name       string
				Tag        []string
				Parameters []struct {
					Name   string
					Schema map[string]any
				}
				Returns map[string]any
			}
		}
		Components struct {
			Schemas map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(res.Payload, &md))
	require.Equal(t, chaincode.ChaincodeTitle, md.Info.Title)
	require.Equal(t, chaincode.ChaincodeVersion, md.Info.Version)
	require.Contains(t, md.Components.Schemas, "CreateOrderRequest")
	c, ok := md.Contracts[chaincode.ContractName]
	require.True(t, ok)
	require.True(t, c.Default)
	require.Equal(t, chaincode.ContractVersion, c.Info.Version)

	want := chaincode.TransactionArguments()
	evaluate := chaincode.NewContract().GetEvaluateTransactions()
	var listed []string
	for _, tx := range c.Transactions {
		listed = append(listed, tx.Name)
		args, known := want[tx.Name]
		require.True(t, known, "transaction %s missing from TransactionArguments", tx.Name)
		require.Len(t, tx.Parameters, len(args), tx.Name)
		for _, p := range tx.Parameters {
			require.NotEmpty(t, p.Schema, "%s %s", tx.Name, p.Name)
		}
		require.NotEmpty(t, tx.Returns, "%s returns", tx.Name)
		if slices.Contains(evaluate, tx.Name) {
			require.Contains(t, tx.Tag, "evaluate", tx.Name)
			require.NotContains(t, tx.Tag, "submit", tx.Name)
			for i, p := range tx.Parameters {
				require.Equal(t, "string", p.Schema["type"], "%s argument %s is a string", tx.Name, args[i])
			}
		} else {
			require.Contains(t, tx.Tag, "submit", tx.Name)
			require.NotContains(t, tx.Tag, "evaluate", tx.Name)
			require.Equal(t, []string{"request"}, args, tx.Name)
		}
	}
	var names []string
	for name := range want {
		names = append(names, name)
	}
	require.ElementsMatch(t, names, listed)
}
