package httpapi

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// ConsolePath is where the web console is served when Options.Console is set.
const ConsolePath = "/console/"

// DefaultKeysHint tells a visitor of the landing page where API keys come from on a gateway
// whose assembly says nothing more precise.
const DefaultKeysHint = "API keys are issued by this gateway's operator (apiKeys in the gateway configuration, or XBORDER_API_KEYS)."

// consoleCSP lets the console load only its own files and talk only to this gateway.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// gatewayHandlers are the handlers of the operations that the gateway answers itself, without
// the ledger's chaincode: who the caller is, stream tickets, the channel explorer, the landing
// page and the API index.
func (s *Server) gatewayHandlers() map[string]gin.HandlerFunc {
	return map[string]gin.HandlerFunc{
		"getMe":             s.getMe,
		"createEventTicket": s.createEventTicket,
		"listBlocks":        s.listBlocks,
		"getBlock":          s.getBlock,
		"landing":           s.landing,
		"apiIndex":          s.apiIndex,
		"docs":              s.docsPage,
	}
}

// allHandlers returns the handler of every operation of the spec: the ledger's (handlers) and
// the gateway's own (gatewayHandlers).
func (s *Server) allHandlers() map[string]gin.HandlerFunc {
	h := s.handlers()
	maps.Copy(h, s.gatewayHandlers())
	maps.Copy(h, s.subscriptionHandlers())
	maps.Copy(h, s.adminKeyHandlers())
	return h
}

// staticRoutes adds the routes that are files rather than API operations: Swagger UI's assets
// and the console.
func (s *Server) staticRoutes(e *gin.Engine) {
	e.GET(docsAssets+"/*filepath", docsAssetsHandler())
	if s.opts.Console != nil {
		e.GET(ConsolePath+"*filepath", consoleHandler(s.opts.Console))
	}
}

// consoleHandler serves the console's files; unknown paths are NOT_FOUND problems, directory
// paths serve their index.html.
func consoleHandler(files fs.FS) gin.HandlerFunc {
	server := http.StripPrefix(strings.TrimSuffix(ConsolePath, "/"), http.FileServerFS(files))
	return func(c *gin.Context) {
		name := strings.Trim(c.Param("filepath"), "/")
		if name == "" {
			name = "."
		}
		info, err := fs.Stat(files, name)
		if err == nil && info.IsDir() {
			_, err = fs.Stat(files, strings.TrimPrefix(name+"/index.html", "./"))
		}
		if err != nil {
			abortNotFound(c)
			return
		}
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		server.ServeHTTP(c.Writer, c.Request)
	}
}

func abortNotFound(c *gin.Context) {
	abortProblem(c, gateway.Errorf(gateway.CodeNotFound, "no such file: %s", c.Request.URL.Path))
}

// link is one entry of the landing page and the API index.
type link struct {
	Rel, Href, Title string
}

func (s *Server) links() []link {
	var out []link
	if s.opts.Console != nil {
		out = append(out, link{"console", ConsolePath, "Web console: orders, compliance, channel explorer and reports (sign in with an API key)"})
	}
	return append(out,
		link{"docs", "/docs", "API reference, with \"Try it out\" against this gateway"},
		link{"openapi", "/openapi.yaml", "The OpenAPI 3.1 contract"},
		link{"index", "/api/v1", "API index (JSON)"},
		link{"me", "/api/v1/me", "Who an API key is and what its organisation may do"},
		link{"events", "/api/v1/events", "Server-Sent Events of chaincode events"},
		link{"health", "/healthz", "Liveness"},
		link{"ready", "/readyz", "Readiness: every peer answers"},
		link{"metrics", "/metrics", "Prometheus metrics"},
	)
}

func (s *Server) keysHint() string {
	if s.opts.KeysHint != "" {
		return s.opts.KeysHint
	}
	return DefaultKeysHint
}

var landingTemplate = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xborder gateway</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#17202a;background:#f6f8fa}
main{max-width:44rem;margin:0 auto;padding:2rem 1rem}
h1{margin:0 0 .25rem}
ul{padding:0;list-style:none}
li{margin:.5rem 0;padding:.75rem 1rem;background:#fff;border:1px solid #d0d7de;border-radius:6px}
a{color:#0b5cad;font-weight:600}
code{background:#eef1f4;padding:0 .25rem;border-radius:3px}
.keys{padding:.75rem 1rem;border-left:4px solid #0b5cad;background:#fff}
</style>
</head>
<body>
<main>
<h1>xborder gateway</h1>
<p>Cross-border e-commerce orders, escrow, customs and logistics on Hyperledger Fabric. The REST API is under <code>/api/v1</code>; every call needs <code>Authorization: Bearer &lt;API key&gt;</code>.</p>
<ul>
{{range .Links}}<li><a href="{{.Href}}">{{.Href}}</a> — {{.Title}}</li>
{{end}}</ul>
<p class="keys"><strong>API keys.</strong> {{.Keys}}</p>
</main>
</body>
</html>
`))

// landing serves GET /: where to go from here.
func (s *Server) landing(c *gin.Context) {
	var buf bytes.Buffer
	if err := landingTemplate.Execute(&buf, map[string]any{"Links": s.links(), "Keys": s.keysHint()}); err != nil {
		abortProblem(c, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot render the landing page", Err: err})
		return
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// indexOperation is one operation in the API index.
type indexOperation struct {
	OperationID string `json:"operationId"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Summary     string `json:"summary"`
	Public      bool   `json:"public,omitempty"`
}

// apiIndex serves GET /api/v1: links and every operation of the contract.
func (s *Server) apiIndex(c *gin.Context) {
	links := map[string]string{}
	for _, l := range s.links() {
		links[l.Rel] = l.Href
	}
	ops := make([]indexOperation, 0, len(s.spec.Operations()))
	for _, op := range s.spec.Operations() {
		ops = append(ops, indexOperation{OperationID: op.ID, Method: op.Method, Path: op.Path, Summary: op.Op.Summary, Public: op.Public})
	}
	info := s.spec.Doc.Info
	c.JSON(http.StatusOK, gin.H{
		"name":           info.Title,
		"version":        info.Version,
		"authentication": "Authorization: Bearer <API key>; GET /api/v1/events also takes ?ticket= from POST /api/v1/events/tickets",
		"keys":           s.keysHint(),
		"links":          links,
		"operations":     ops,
	})
}

// corsRefusal is the problem answered to a preflight from an origin that is not allowed.
func corsRefusal(origin string) *gateway.Error {
	return &gateway.Error{Code: gateway.CodeForbidden, Field: "Origin", Message: fmt.Sprintf(
		"the origin %s may not call this API from a browser: allow it with `xborder dev --cors-origins %s`, "+
			"or for `xborder gateway` with XBORDER_CORS_ORIGINS=%s or cors.allowedOrigins in the configuration file "+
			"(comma-separated origins, scheme://host[:port], no path)", origin, origin, origin)}
}
