package httpapi

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/xborder/xborder/api"
)

// BenchmarkValidateCreateOrder measures request validation against the spec.
func BenchmarkValidateCreateOrder(b *testing.B) {
	spec, err := LoadSpec(api.OpenAPI)
	if err != nil {
		b.Fatal(err)
	}
	op, _ := spec.Operation("createOrder")
	body := []byte(validOrder)
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/orders", nil)
		req.Header.Set("Content-Type", "application/json")
		if err := spec.ValidateRequest(context.Background(), op, req, map[string]string{}, body); err != nil {
			b.Fatal(err)
		}
	}
}
