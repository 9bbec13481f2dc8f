package chaincode

import (
	"reflect"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"
)

// spyIdentity is the identity contractapi hands to the transaction context, standing in for a
// different organisation than the stub's creator and counting the calls.
type spyIdentity struct {
	cid.ClientIdentity
	msp   string
	calls int
}

func (s *spyIdentity) GetMSPID() (string, error) { s.calls++; return s.msp, nil }

func (s *spyIdentity) GetID() (string, error) { s.calls++; return s.ClientIdentity.GetID() }

// TestCreatorFromContextIdentity checks that the contract takes the creator's MSP ID and
// identity from the transaction context's ClientIdentity (parsed once per transaction by
// contractapi) instead of parsing the creator certificate again on every call; a context built
// without one (as the unit tests of the rules do) falls back to parsing the stub's creator.
func TestCreatorFromContextIdentity(t *testing.T) {
	e := rtNew(t)
	stub := e.l.NewStub(e.opts(MerchantMSP, nil), "SetComplianceRules")
	real, err := cid.New(stub)
	require.NoError(t, err)
	spy := &spyIdentity{ClientIdentity: real, msp: CustomsMSP}
	ctx := &contractapi.TransactionContext{}
	ctx.SetStub(stub)
	ctx.SetClientIdentity(spy)

	rules, err := NewContract(WithMaxClockSkew(0)).SetComplianceRules(ctx, ComplianceRulesRequest{Watchlist: []string{"m-1"}})
	require.NoError(t, err, "the context says CustomsMSP")
	require.Equal(t, CustomsMSP, rules.UpdatedByMSP)
	require.Equal(t, 2, spy.calls, "MSP ID and identity, each read once")

	ctx.SetClientIdentity(nil)
	_, err = NewContract(WithMaxClockSkew(0)).SetComplianceRules(ctx, ComplianceRulesRequest{})
	require.Equal(t, CodeForbidden, CodeOf(err), "without a context identity the stub's creator (MerchantMSP) counts")
}

func TestWithChaincodeInfo(t *testing.T) {
	cases := []struct {
		name, doc, want, wantErr string
	}{
		{"replaces info", `{"info":{"title":"undefined","version":"latest"},"contracts":{"a":1}}`,
			`{"contracts":{"a":1},"info":{"title":"xborder","version":"1.0.0"}}`, ""},
		{"adds info", `{"contracts":{}}`, `{"contracts":{},"info":{"title":"xborder","version":"1.0.0"}}`, ""},
		{"not an object", `[]`, "", "decode metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := chaincodeInfo()
			info.Description, info.License = "", nil
			got, err := withChaincodeInfo([]byte(c.doc), info)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, c.want, string(got))
		})
	}
}

// BenchmarkCreatorIdentity compares what a write transaction spends on the creator's identity
// (MSP ID for the organisation check, identity for the audit fields, the merchant attribute):
// parsing the creator certificate with cid for each read, as the contract did, against the
// context's ClientIdentity that contractapi parses once per transaction (the parse is included).
func BenchmarkCreatorIdentity(b *testing.B) {
	e := rtNew(b)
	stub := e.l.NewStub(e.opts(MerchantMSP, nil), "CreateOrder")
	b.Run("cid-per-read", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := cid.GetMSPID(stub); err != nil {
				b.Fatal(err)
			}
			if _, err := cid.GetID(stub); err != nil {
				b.Fatal(err)
			}
			if _, _, err := cid.GetAttributeValue(stub, MerchantAttribute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("context-identity", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ci, err := cid.New(stub) // what contractapi does once per transaction
			if err != nil {
				b.Fatal(err)
			}
			ctx := &contractapi.TransactionContext{}
			ctx.SetStub(stub)
			ctx.SetClientIdentity(ci)
			if _, err := creatorMSP(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := creatorID(ctx); err != nil {
				b.Fatal(err)
			}
			if _, _, err := creatorAttribute(ctx, MerchantAttribute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestEveryRequestCarriesDecodeErrors checks that the request type of every write transaction
// embeds requestBase, so that the serializer defers a decoding error to the transaction (which
// reports it as INVALID_ARGUMENT after the organisation check) instead of letting contractapi
// report it with its uncoded "error managing parameter" prefix.
func TestEveryRequestCarriesDecodeErrors(t *testing.T) {
	carrier := reflect.TypeOf((*argCarrier)(nil)).Elem()
	ctxType := reflect.TypeOf((*contractapi.TransactionContextInterface)(nil)).Elem()
	ct := reflect.TypeOf(&Contract{})
	requests := 0
	for name, args := range transactionArguments {
		m, ok := ct.MethodByName(name)
		require.True(t, ok, name)
		// Receiver, context, then one parameter per argument.
		require.Equal(t, 2+len(args), m.Type.NumIn(), name)
		require.Equal(t, ctxType, m.Type.In(1), name)
		for i := 2; i < m.Type.NumIn(); i++ {
			p := m.Type.In(i)
			if p.Kind() != reflect.Struct {
				require.Equal(t, reflect.String, p.Kind(), "%s argument %d: queries take strings", name, i-2)
				continue
			}
			requests++
			require.True(t, reflect.PointerTo(p).Implements(carrier), "%s: %s must embed requestBase", name, p.Name())
			require.Equal(t, []string{requestArgument}, args, name)
		}
	}
	require.Equal(t, 16, requests, "write transactions")
}
