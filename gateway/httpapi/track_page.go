package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// The buyer's tracking page: static, embedded, one document with its script and style inline,
// allowed by their hashes in the Content-Security-Policy (nothing else may run or load; the page
// talks to this gateway only). It reads GET /api/v1/track/{token} and signs statements with a
// key the buyer pastes, in the browser (WebCrypto), sending them to
// POST /api/v1/track/{token}/statements.
var (
	//go:embed trackpage/index.html
	trackPageHTML string
	//go:embed trackpage/track.js
	trackPageJS string
	//go:embed trackpage/track.css
	trackPageCSS string
)

// trackPage is the rendered page and its Content-Security-Policy.
var trackPage, trackPageCSP = renderTrackPage()

// renderTrackPage puts the script and the style into the page and returns it with the policy
// that allows exactly them.
func renderTrackPage() ([]byte, string) {
	page := strings.Replace(trackPageHTML, "{{STYLE}}", trackPageCSS, 1)
	page = strings.Replace(page, "{{SCRIPT}}", trackPageJS, 1)
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	csp := "default-src 'none'; script-src " + hash(trackPageJS) + "; style-src " + hash(trackPageCSS) +
		"; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return []byte(page), csp
}

// trackPageHandler serves the buyer's tracking page. The token stays in the page's URL only: no
// referrer leaves the page, and nothing may be cached.
func (s *Server) trackPageHandler(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", trackPageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", trackPage)
}
