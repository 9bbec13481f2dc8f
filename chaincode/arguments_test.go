package chaincode_test

import (
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
	// The buyer, FX reference rates and payment terms.
	"SubmitBuyerStatement":    chaincode.CarrierMSP,
	"SetTrackingLink":         chaincode.MerchantMSP,
	"PublishFXReferenceRates": chaincode.BankMSP,
}

// lcNoOrderID names, for the write requests without an orderId, a string field to send a number
// in.
var lcNoOrderID = map[string]string{"PublishFXReferenceRates": "date"}

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
				if c.name == "wrong type" && lcNoOrderID[fn] != "" {
					arg = `{"` + lcNoOrderID[fn] + `":42}`
				}
				if fn == "SetComplianceRules" && c.name == "wrong type" {
					arg = `{"watchlist":"merchant-1"}`
				}
				res := e.l.Invoke(e.cc, e.opts(lcWriteCallers[fn], nil), fn, arg)
				require.NotEqual(t, int32(200), res.Status)
				require.NotContains(t, res.Message, "error managing parameter")
				want := c.want
				if c.name == "wrong type" && lcNoOrderID[fn] != "" {
					want = "INVALID_ARGUMENT: " + lcNoOrderID[fn] + ": must be of type"
				}
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
			"INVALID_ARGUMENT: arguments: ListOrders takes 7 arguments (merchantId, status, buyerId, pageSize, bookmark, createdFrom, createdTo), got 3"},
		{"query with six", chaincode.MerchantMSP, "ListOrders", []string{"", "", "", "", "", ""},
			"INVALID_ARGUMENT: arguments: ListOrders takes 7 arguments"},
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
	require.Contains(t, string(res.Payload), `"unitPrice"`)
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
