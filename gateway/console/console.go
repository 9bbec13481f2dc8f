// Package console holds the xborder web console: plain HTML, CSS and JavaScript modules
// (no build step, no third-party code), embedded in the binary and served by the gateway at
// /console/ (httpapi.Options.Console). It talks only to the gateway's REST API with the API
// key the user signs in with, kept in the browser's sessionStorage; what it offers follows
// GET /api/v1/me, and the chaincode decides every call.
//
// Views are registered in static/js/main.js (routes). A view declares whether it needs a
// signed-in API key; the buyer's tracking page (a capability link, no API key) is meant to be
// added there as a view that does not, with its own credential in static/js/api.js.
package console

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS returns the console's files, index.html at the root.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// "static" is embedded above; fs.Sub fails only on an invalid name.
		panic(err)
	}
	return sub
}
