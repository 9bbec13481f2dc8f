package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
)

// mediaExample returns the example of a media type: its example, else its first examples entry.
func mediaExample(mt *openapi3.MediaType) (any, bool) {
	if mt == nil {
		return nil, false
	}
	if mt.Example != nil {
		return mt.Example, true
	}
	names := make([]string, 0, len(mt.Examples))
	for n := range mt.Examples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if ex := mt.Examples[n]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return ex.Value.Value, true
		}
	}
	return nil, false
}

// TestSpecIsDocumented keeps the contract usable as a reference: every parameter says what it
// is, every JSON request body and every JSON success answer has an example, and every example
// is valid against its schema (request examples as the gateway validates requests).
func TestSpecIsDocumented(t *testing.T) {
	spec, err := LoadSpec(api.OpenAPI)
	require.NoError(t, err)
	for _, op := range spec.Operations() {
		t.Run(op.ID, func(t *testing.T) {
			params := append(slices.Clone(op.PathItem.Parameters), op.Op.Parameters...)
			for _, p := range params {
				require.NotEmpty(t, strings.TrimSpace(p.Value.Description), "parameter %s (%s) has no description", p.Value.Name, p.Value.In)
			}
			if rb := op.Op.RequestBody; rb != nil && rb.Value != nil {
				if mt := rb.Value.Content.Get("application/json"); mt != nil {
					ex, ok := mediaExample(mt)
					require.True(t, ok, "the request body has no example")
					raw, err := json.Marshal(ex)
					require.NoError(t, err)
					require.NoError(t, op.validateBody(raw), "the request body example is invalid: %s", raw)
				}
			}
			checkResponseExamples(t, spec, op)
		})
	}
}

func checkResponseExamples(t *testing.T, spec *Spec, op *Operation) {
	t.Helper()
	for code, ref := range op.Op.Responses.Map() {
		status, err := strconv.Atoi(code)
		if err != nil || status < 200 || status > 299 || ref.Value == nil {
			continue
		}
		mt := ref.Value.Content.Get("application/json")
		if mt == nil {
			continue
		}
		ex, ok := mediaExample(mt)
		require.True(t, ok, "answer %s has no example", code)
		raw, err := json.Marshal(ex)
		require.NoError(t, err)
		req := httptest.NewRequest(op.Method, "/", nil)
		h := http.Header{"Content-Type": {"application/json"}}
		for name, hr := range ref.Value.Headers {
			if hr.Value != nil && hr.Value.Required {
				h.Set(name, "x")
			}
		}
		require.NoError(t, spec.ValidateResponse(context.Background(), op, req, map[string]string{}, status, h, raw),
			"answer %s example is invalid: %s", code, raw)
	}
}
