// Package swaggerui embeds Swagger UI (the npm package swagger-ui-dist, vendored unchanged by
// vendor.sh) so that the gateway renders its OpenAPI document at /docs without network access.
package swaggerui

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Version is the vendored swagger-ui-dist version (vendor.sh pins it).
const Version = "5.35.0"

// FS returns the vendored files: swagger-ui-bundle.js, swagger-ui.css, the licence and notice,
// package.json and the favicon.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// "dist" is embedded above; fs.Sub fails only on an invalid name.
		panic(err)
	}
	return sub
}
