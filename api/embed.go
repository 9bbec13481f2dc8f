// Package api holds the REST contract of the xborder gateway, api/openapi.yaml (OpenAPI 3.1),
// embedded so that the gateway serves and validates against exactly the file in the repository.
package api

import (
	_ "embed"
)

// OpenAPI is the content of openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
