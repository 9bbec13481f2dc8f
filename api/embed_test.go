package api

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.True(t, doc.IsOpenAPI31OrLater())
	require.NoError(t, doc.Validate(context.Background()))
	ids := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			require.NotEmpty(t, op.OperationID, "%s %s", method, path)
			require.False(t, ids[op.OperationID], "duplicate operationId %s", op.OperationID)
			ids[op.OperationID] = true
			require.NotEmpty(t, op.Summary, op.OperationID)
		}
	}
	// Every endpoint of docs/design.md §7.
	for _, path := range []string{
		"/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/orders/{id}/history", "/api/v1/orders/{id}/payment",
		"/api/v1/orders/{id}/waybill", "/api/v1/orders/{id}/customs/declaration", "/api/v1/orders/{id}/customs/decision",
		"/api/v1/orders/{id}/checkpoints", "/api/v1/orders/{id}/delivery-confirmation", "/api/v1/orders/{id}/release",
		"/api/v1/orders/{id}/disputes", "/api/v1/orders/{id}/disputes/resolution", "/api/v1/orders/{id}/cancellation",
		"/api/v1/merchants/{id}/credit", "/api/v1/settlements", "/api/v1/compliance/rules", "/api/v1/compliance/alerts",
		"/api/v1/documents", "/api/v1/documents/{sha256}", "/api/v1/transactions/{txId}", "/api/v1/events",
		"/healthz", "/readyz", "/metrics", "/openapi.yaml",
	} {
		require.NotNil(t, doc.Paths.Value(path), path)
	}
}
