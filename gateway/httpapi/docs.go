package httpapi

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/api/swaggerui"
)

// The API reference at /docs is Swagger UI (vendored from the npm registry, see
// api/swaggerui) rendering /openapi.yaml, served from the binary: it needs no network
// access, and its "Try it out" calls this gateway (the document's server is "/").

// docsAssets is where the reference page's scripts and styles are served.
const docsAssets = "/docs/assets"

// docsHTML loads Swagger UI and docs-init.js; no inline script, so the page runs under a strict
// Content-Security-Policy.
const docsHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xborder REST API reference</title>
<link rel="icon" type="image/png" href="` + docsAssets + `/favicon-32x32.png">
<link rel="stylesheet" href="` + docsAssets + `/swagger-ui.css">
<link rel="stylesheet" href="` + docsAssets + `/docs.css">
</head>
<body>
<header class="xb-bar"><a href="/">xborder</a> · <a href="/console/">console</a> · <a href="/openapi.yaml">openapi.yaml</a></header>
<main id="swagger-ui"><noscript>The API reference needs JavaScript; the contract itself is at <a href="/openapi.yaml">/openapi.yaml</a>.</noscript></main>
<script src="` + docsAssets + `/swagger-ui-bundle.js"></script>
<script src="` + docsAssets + `/docs-init.js"></script>
</body>
</html>
`

// docsInit starts Swagger UI on this gateway's document. validatorUrl null keeps the page from
// calling the public validator; authorisations are not persisted (API keys stay in the page).
const docsInit = `"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    defaultModelExpandDepth: 2,
    displayOperationId: true,
    displayRequestDuration: true,
    filter: true,
    showExtensions: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
`

// docsCSS keeps long paths and wide tables inside the page at every width.
const docsCSS = `.xb-bar{font:14px/1.4 system-ui,sans-serif;padding:.5rem 1rem;background:#1b2a3a;color:#fff}
.xb-bar a{color:#cfe3ff}
.swagger-ui .opblock .opblock-summary-path{word-break:break-all}
.swagger-ui table{table-layout:auto;width:100%}
.swagger-ui .model-box,.swagger-ui .highlight-code{overflow-x:auto;max-width:100%}
`

// docsCSP allows the page's own scripts only; Swagger UI sets inline styles and data: images.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (s *Server) docsPage(c *gin.Context) {
	c.Header("Content-Security-Policy", docsCSP)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(docsHTML))
}

// docsAssetsHandler serves Swagger UI's files and the page's own script and styles.
func docsAssetsHandler() gin.HandlerFunc {
	files := http.StripPrefix(docsAssets, http.FileServerFS(swaggerui.FS()))
	own := map[string]struct{ contentType, body string }{
		"/docs-init.js": {"text/javascript; charset=utf-8", docsInit},
		"/docs.css":     {"text/css; charset=utf-8", docsCSS},
	}
	return func(c *gin.Context) {
		c.Header("X-Content-Type-Options", "nosniff")
		c.Header("Cache-Control", "public, max-age=3600")
		if f, ok := own[c.Param("filepath")]; ok {
			c.Data(http.StatusOK, f.contentType, []byte(f.body))
			return
		}
		if _, err := fs.Stat(swaggerui.FS(), strings.TrimLeft(c.Param("filepath"), "/")); err != nil {
			c.Header("Cache-Control", "no-store")
			abortNotFound(c)
			return
		}
		files.ServeHTTP(c.Writer, c.Request)
	}
}
