package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
)

const validOrder = `{"orderId":"o-1","merchantId":"m-1","buyer":{"id":"b-1","country":"US","name":"Ann","address":"1 Main St","phone":"+1 555"},` +
	`"sellerCountry":"CN","currency":"USD","items":[{"sku":"s","name":"Tea","hsCode":"090210","quantity":2,"unitPrice":1250}],"shippingFee":500}`

func TestSpecRequestValidation(t *testing.T) {
	spec, err := LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	replace := func(old, new string) string { return strings.Replace(validOrder, old, new, 1) }
	for _, tc := range []struct {
		name, op, method, target, body string
		params                         map[string]string
		headers                        map[string]string
		field                          string // "" = valid
	}{
		{name: "valid order", op: "createOrder", method: "POST", target: "/api/v1/orders", body: validOrder},
		{name: "unknown field", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"shippingFee":500`, `"shippingFee":500,"total":1`), field: "total"},
		{name: "unknown nested field", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"phone":"+1 555"`, `"phone":"+1 555","email":"a@b"`), field: "buyer.email"},
		{name: "wrong type", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"quantity":2`, `"quantity":"2"`), field: "items[0].quantity"},
		{name: "float money", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"shippingFee":500`, `"shippingFee":5.5`), field: "shippingFee"},
		{name: "bad currency", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"USD"`, `"US"`), field: "currency"},
		{name: "bad country", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"CN"`, `"CHN"`), field: "sellerCountry"},
		{name: "missing required", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"currency":"USD",`, ``), field: "currency"},
		{name: "no items", op: "createOrder", method: "POST", target: "/api/v1/orders", body: strings.Replace(strings.SplitN(validOrder, `"items":[`, 2)[0]+`"items":[],"shippingFee":500}`, "", "", 1), field: "items"},
		{name: "malformed JSON", op: "createOrder", method: "POST", target: "/api/v1/orders", body: `{"orderId":`, field: "body"},
		{name: "missing body", op: "createOrder", method: "POST", target: "/api/v1/orders", body: ``, field: "body"},
		{name: "array body", op: "createOrder", method: "POST", target: "/api/v1/orders", body: `[]`, field: "body"},
		{name: "null body", op: "createOrder", method: "POST", target: "/api/v1/orders", body: `null`, field: "body"},
		{name: "string body", op: "createOrder", method: "POST", target: "/api/v1/orders", body: `"s"`, field: "body"},
		{name: "number body", op: "createOrder", method: "POST", target: "/api/v1/orders", body: `1`, field: "body"},
		{name: "empty property name", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"shippingFee":500`, `"shippingFee":500,"":""`), field: `body[""]`},
		{name: "only empty property name", op: "createOrder", method: "POST", target: "/api/v1/orders", body: `{"":1}`, field: `body[""]`},
		{name: "empty nested property name", op: "createOrder", method: "POST", target: "/api/v1/orders", body: replace(`"phone":"+1 555"`, `"phone":"+1 555","":1`), field: `buyer[""]`},
		{name: "array body of empty-body operation", op: "confirmDelivery", method: "POST", target: "/api/v1/orders/o-1/delivery-confirmation",
			params: map[string]string{"id": "o-1"}, body: `[]`, field: "body"},
		{name: "empty property of empty-body operation", op: "confirmDelivery", method: "POST", target: "/api/v1/orders/o-1/delivery-confirmation",
			params: map[string]string{"id": "o-1"}, body: `{"":""}`, field: `body[""]`},
		{name: "fx rate places", op: "escrowPayment", method: "POST", target: "/api/v1/orders/o-1/payment", params: map[string]string{"id": "o-1"},
			body: `{"paymentId":"p","payerCurrency":"EUR","payerAmount":1,"fxRate":"1.123456789","payerName":"A","payerAccount":"B"}`, field: "fxRate"},
		{name: "empty body allowed", op: "confirmDelivery", method: "POST", target: "/api/v1/orders/o-1/delivery-confirmation", params: map[string]string{"id": "o-1"}},
		{name: "non-empty object refused", op: "confirmDelivery", method: "POST", target: "/api/v1/orders/o-1/delivery-confirmation", params: map[string]string{"id": "o-1"}, body: `{"x":1}`, field: "x"},
		{name: "path parameter", op: "getOrder", method: "GET", target: "/api/v1/orders/a%20b", params: map[string]string{"id": "a b"}, field: "id"},
		{name: "query parameter", op: "listOrders", method: "GET", target: "/api/v1/orders?pageSize=500", field: "pageSize"},
		{name: "query enum", op: "listOrders", method: "GET", target: "/api/v1/orders?status=LOST", field: "status"},
		{name: "valid query", op: "listOrders", method: "GET", target: "/api/v1/orders?status=PAID&pageSize=10"},
		{name: "required query", op: "getSettlementReport", method: "GET", target: "/api/v1/settlements?merchantId=m", field: "from"},
		{name: "event filter", op: "streamEvents", method: "GET", target: "/api/v1/events?name=Order%20Created", field: "name"},
		{name: "idempotency key", op: "createOrder", method: "POST", target: "/api/v1/orders", body: validOrder,
			headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, field: "Idempotency-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, ok := spec.Operation(tc.op)
			require.True(t, ok)
			req := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			params := tc.params
			if params == nil {
				params = map[string]string{}
			}
			// The parameters are checked with OpenAPI 3.0 semantics (no per-request schema
			// compilation) and, for comparison, with kin-openapi's 3.1 path: same outcome.
			require.True(t, op.plainParams, "operation %s takes the fast parameter path", op.ID)
			full := *op
			full.plainParams = false
			for _, o := range []*Operation{op, &full} {
				err := spec.ValidateRequest(context.Background(), o, req, params, []byte(tc.body))
				if tc.field == "" {
					require.NoError(t, err)
					continue
				}
				require.Error(t, err)
				ge := gateway.AsError(err)
				require.Equal(t, gateway.CodeInvalidArgument, ge.Code)
				require.Equal(t, tc.field, ge.Field, "message: %s", ge.Message)
				require.NotContains(t, ge.Message, "jsonschema validation failed")
			}
		})
	}
}

// TestPlainParams checks which parameter schemas may be validated with OpenAPI 3.0 semantics:
// every operation of the shipped document, and no schema using a keyword whose meaning differs.
func TestPlainParams(t *testing.T) {
	spec, err := LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	for _, op := range spec.Operations() {
		require.True(t, op.plainParams, "operation %s", op.ID)
	}
	doc := func(schema string) []byte {
		return []byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{"operationId":"x",` +
			`"parameters":[{"name":"q","in":"query","schema":` + schema + `}],"responses":{"200":{"description":"ok"}}}}}}`)
	}
	for _, tc := range []struct {
		name   string
		schema string
		plain  bool
	}{
		{"string with pattern", `{"type":"string","pattern":"^a$","maxLength":3}`, true},
		{"bounded integer", `{"type":"integer","minimum":1,"maximum":9,"default":2}`, true},
		{"enum", `{"type":"string","enum":["A","B"]}`, true},
		{"type list", `{"type":["string","null"]}`, false},
		{"const", `{"const":"a"}`, false},
		{"exclusive bound", `{"type":"integer","exclusiveMinimum":1}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSpec(doc(tc.schema))
			require.NoError(t, err)
			op, ok := s.Operation("x")
			require.True(t, ok)
			require.Equal(t, tc.plain, op.plainParams)
		})
	}
}

func TestSpecOperations(t *testing.T) {
	spec, err := LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	s := &Server{reg: prometheus.NewRegistry()}
	handlers := s.allHandlers()
	for _, op := range spec.Operations() {
		_, ok := handlers[op.ID]
		require.True(t, ok, "operation %s has a handler", op.ID)
		delete(handlers, op.ID)
	}
	require.Empty(t, handlers, "every handler has an operation")
	op, ok := spec.Operation("escrowPayment")
	require.True(t, ok)
	require.Equal(t, "/api/v1/orders/:id/payment", op.GinPath)
	require.False(t, op.Public)
	op, _ = spec.Operation("healthz")
	require.True(t, op.Public)
}

func TestStatusOfEveryCode(t *testing.T) {
	for code, status := range map[gateway.Code]int{
		gateway.CodeInvalidArgument: 400, gateway.CodeUnauthenticated: 401, gateway.CodeForbidden: 403,
		gateway.CodeNotFound: 404, gateway.CodeConflict: 409, gateway.CodeCommitFailed: 409,
		gateway.CodeFailedPrecondition: 412, gateway.CodePayloadTooLarge: 413, gateway.CodeComplianceRejected: 422,
		gateway.CodeIdempotencyMismatch: 422, gateway.CodeRateLimited: 429, gateway.CodeInternal: 500,
		gateway.CodeEndorsementFailed: 502, gateway.CodeUnavailable: 503, gateway.CodeTimeout: 504,
		gateway.CodeVersionMismatch: 412, gateway.CodeFXOutOfTolerance: 422,
	} {
		t.Run(string(code), func(t *testing.T) {
			require.Equal(t, status, StatusOf[code])
			p := NewProblem(&gateway.Error{Code: code, Message: "m", TxID: "tx", ValidationCode: "MVCC_READ_CONFLICT"}, "/x", "rid")
			require.Equal(t, status, p.Status)
			require.Equal(t, http.StatusText(status), p.Title)
			require.Equal(t, string(code), p.Code)
			require.True(t, strings.HasPrefix(p.Type, "urn:xborder:problem:"))
		})
	}
}

func hashOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func TestAuthenticator(t *testing.T) {
	a, err := NewAuthenticator([]APIKey{
		{ID: "k1", MSPID: "BankMSP", User: "alice", SHA256: hashOf("secret-1")},
		{ID: "k2", MSPID: "CustomsMSP", User: "rita", SHA256: hashOf("secret-2")},
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		header string
		want   gateway.Caller
		ok     bool
	}{
		{"Bearer secret-1", gateway.Caller{KeyID: "k1", MSPID: "BankMSP", User: "alice"}, true},
		{"bearer secret-2", gateway.Caller{KeyID: "k2", MSPID: "CustomsMSP", User: "rita"}, true},
		{"", gateway.Caller{}, false},
		{"Bearer", gateway.Caller{}, false},
		{"Basic c2VjcmV0LTE=", gateway.Caller{}, false},
		{"Bearer secret-3", gateway.Caller{}, false},
	} {
		t.Run(tc.header, func(t *testing.T) {
			got, err := a.Authenticate(context.Background(), tc.header)
			if !tc.ok {
				require.Equal(t, gateway.CodeUnauthenticated, gateway.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err = NewAuthenticator([]APIKey{{ID: "x", SHA256: "zz"}})
	require.Error(t, err)
	_, err = NewAuthenticator([]APIKey{{ID: "a", SHA256: hashOf("k")}, {ID: "b", SHA256: hashOf("k")}})
	require.Error(t, err)
}

func TestRateLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewRateLimiter(2, 3, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		ok, _ := l.Allow("k")
		require.True(t, ok, "burst token %d", i)
	}
	ok, wait := l.Allow("k")
	require.False(t, ok)
	require.Equal(t, 500*time.Millisecond, wait)
	ok, _ = l.Allow("other")
	require.True(t, ok, "buckets are per key")
	now = now.Add(500 * time.Millisecond)
	ok, _ = l.Allow("k")
	require.True(t, ok, "refilled")
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		ok, _ = l.Allow("k")
		require.True(t, ok)
	}
	ok, _ = l.Allow("k")
	require.False(t, ok, "never more than the burst")
}

func TestPreferAsync(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for header, want := range map[string]bool{
		"respond-async": true, "Respond-Async; wait=10": true, "return=minimal, respond-async": true,
		"": false, "respond-sync": false, "wait=5": false,
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/", nil)
		if header != "" {
			c.Request.Header.Set("Prefer", header)
		}
		require.Equal(t, want, preferAsync(c), header)
	}
}

func TestStorableAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   gateway.Code
		want   bool
	}{
		{201, "", true}, {202, "", true}, {400, gateway.CodeInvalidArgument, true}, {403, gateway.CodeForbidden, true},
		{409, gateway.CodeConflict, true}, {409, gateway.CodeCommitFailed, false}, {412, gateway.CodeFailedPrecondition, true},
		{422, gateway.CodeComplianceRejected, true}, {429, gateway.CodeRateLimited, false}, {500, gateway.CodeInternal, false},
		{502, gateway.CodeEndorsementFailed, false}, {503, gateway.CodeUnavailable, false}, {504, gateway.CodeTimeout, false},
	} {
		require.Equal(t, tc.want, storable(tc.status, tc.code), "%d %s", tc.status, tc.code)
	}
}
