// Package httpapi is the HTTP layer of the xborder REST gateway: a Gin router built from the
// OpenAPI contract (every operation of api/openapi.yaml is routed to its handler, and requests
// are validated against it), bearer-key authentication, per-key rate limiting, idempotent
// writes, problem+json errors, Server-Sent Events, Prometheus metrics and the API reference page.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xborder/xborder/gateway"
)

// Context keys set on the Gin context.
const (
	ctxCaller    = "xborder.caller"
	ctxLogger    = "xborder.logger"
	ctxRequestID = "xborder.requestId"
	ctxTxID      = "xborder.txId"
	ctxBody      = "xborder.body"
	ctxOp        = "xborder.operation"
	ctxErrCode   = "xborder.errorCode"
	// ctxSubmitOptions holds the []gateway.SubmitOption of a write (see submitOptions).
	ctxSubmitOptions = "xborder.submitOptions"
)

// Options configure a Server.
type Options struct {
	// Spec is the OpenAPI document (api.OpenAPI).
	Spec []byte
	// Ledger runs transactions and queries.
	Ledger gateway.Ledger
	// Idempotency persists first answers; Events is the chaincode event log.
	Idempotency gateway.IdempotencyStore
	Events      gateway.EventLog
	// Keys are the accepted API keys.
	Keys []APIKey
	// RateLimit and Burst configure the per-key token bucket.
	RateLimit float64
	Burst     int
	// AllowedOrigins lists the browser origins allowed by CORS (none when empty).
	AllowedOrigins []string
	// MaxBodyBytes bounds request bodies (413 above).
	MaxBodyBytes int64
	// DrainLimit and DrainTimeout bound how much of a refused body is read and discarded so
	// that its 413 reaches clients that send the whole body first (16 MiB and 15 s when zero).
	DrainLimit   int64
	DrainTimeout time.Duration
	// AddressRateLimit and AddressBurst are a token bucket per client address, applied to every
	// request before authentication (none when zero).
	AddressRateLimit float64
	AddressBurst     int
	// AuthFailureRate and AuthFailureBurst are a token bucket per client address that only
	// failed authentications take from: an address without tokens left is refused (429)
	// before authentication (none when zero).
	AuthFailureRate  float64
	AuthFailureBurst int
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose X-Forwarded-For names
	// the client address (none: the peer's address is the client's).
	TrustedProxies []string
	// MaxStreamsPerKey caps the event streams open at once per API key (none when zero).
	MaxStreamsPerKey int
	// Metrics is who may read GET /metrics (anyone by default).
	Metrics MetricsAccess
	// Logger receives structured logs; Registry receives metrics (a new registry when nil).
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// KeepAlive is the SSE comment interval (15 s when zero).
	KeepAlive time.Duration
	// Explorer reads blocks for the channel explorer. When nil, the Ledger serves if it
	// implements gateway.ChannelExplorer; otherwise the explorer operations answer UNAVAILABLE.
	Explorer gateway.ChannelExplorer
	// Console, when set, holds the web console's files, served at ConsolePath.
	Console fs.FS
	// KeysHint tells visitors of the landing page where API keys come from (DefaultKeysHint
	// when empty).
	KeysHint string
	// Tracking configures the endpoints buyers call with a tracking token.
	Tracking TrackingOptions
	// Subscriptions manages webhook subscriptions; when nil, their operations answer
	// UNAVAILABLE.
	Subscriptions gateway.SubscriptionService
	// KeyService manages API keys: keys not among Keys are looked up there, and the admin key
	// operations answer with it (UNAVAILABLE when nil).
	KeyService gateway.KeyService
}

// Server is the REST gateway's HTTP server.
type Server struct {
	opts    Options
	spec    *Spec
	ledger  gateway.Ledger
	auth    *Authenticator
	limiter *RateLimiter
	orgs    map[string]bool
	log     *slog.Logger
	metrics *httpMetrics
	reg     *prometheus.Registry
	engine  *gin.Engine
	lim     *limits
	// explorer reads blocks; tickets holds the event-stream tickets.
	explorer gateway.ChannelExplorer
	tickets  *TicketStore
	// trackLimiter rate-limits the token-holder endpoints per client address.
	trackLimiter *RateLimiter
}

// withDefaults fills the unset options.
func (opts Options) withDefaults() Options {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.DrainLimit <= 0 {
		opts.DrainLimit = defaultDrainLimit
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = defaultDrainTimeout
	}
	if opts.Explorer == nil {
		if x, ok := opts.Ledger.(gateway.ChannelExplorer); ok {
			opts.Explorer = x
		} else {
			opts.Explorer = noExplorer{}
		}
	}
	if opts.Tracking.RateLimit <= 0 || opts.Tracking.Burst < 1 {
		opts.Tracking.RateLimit, opts.Tracking.Burst = DefaultTrackingRate, DefaultTrackingBurst
	}
	return opts
}

// New builds the server and its router from the OpenAPI document. It fails if an operation of
// the document has no handler or a handler no operation.
func New(opts Options) (*Server, error) {
	if opts.Ledger == nil || opts.Idempotency == nil || opts.Events == nil {
		return nil, errors.New("httpapi: Ledger, Idempotency and Events are required")
	}
	if opts.RateLimit <= 0 || opts.Burst < 1 {
		return nil, errors.New("httpapi: RateLimit > 0 and Burst >= 1 are required")
	}
	opts = opts.withDefaults()
	spec, err := LoadSpec(opts.Spec)
	if err != nil {
		return nil, err
	}
	if err := spec.checkCallers(); err != nil {
		return nil, err
	}
	auth, err := NewAuthenticator(opts.Keys)
	if err != nil {
		return nil, err
	}
	auth.managed = opts.KeyService
	s := &Server{
		opts:    opts,
		spec:    spec,
		ledger:  opts.Ledger,
		auth:    auth,
		limiter: NewRateLimiter(opts.RateLimit, opts.Burst, opts.Now),
		orgs:    map[string]bool{},
		log:     opts.Logger,
		reg:     opts.Registry,
		metrics: newHTTPMetrics(opts.Registry),
		lim:     newLimits(opts),

		explorer:     opts.Explorer,
		tickets:      NewTicketStore(TicketTTL, opts.Now),
		trackLimiter: NewRateLimiter(opts.Tracking.RateLimit, opts.Tracking.Burst, opts.Now),
	}
	for _, o := range opts.Ledger.Organizations() {
		s.orgs[o] = true
	}
	if err := s.buildRouter(); err != nil {
		return nil, err
	}
	return s, nil
}

// Spec returns the loaded OpenAPI document.
func (s *Server) Spec() *Spec { return s.spec }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) buildRouter() error {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(s.opts.TrustedProxies); err != nil {
		return fmt.Errorf("httpapi: trusted proxies: %w", err)
	}
	e.Use(s.recoverMiddleware, s.requestMiddleware, s.addressLimitMiddleware, s.noStoreMiddleware, s.corsMiddleware)
	e.NoRoute(func(c *gin.Context) {
		abortProblem(c, gateway.Errorf(gateway.CodeNotFound, "no such endpoint: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(methodNotAllowed)
	handlers := s.allHandlers()
	for _, op := range s.spec.Operations() {
		h, ok := handlers[op.ID]
		if !ok {
			return fmt.Errorf("httpapi: operation %s (%s %s) has no handler", op.ID, op.Method, op.Path)
		}
		delete(handlers, op.ID)
		chain := []gin.HandlerFunc{s.operationMiddleware(op)}
		chain = append(chain, s.guardsOf(op)...)
		chain = append(chain, s.bodyMiddleware, s.validateMiddleware)
		if gop, ok := gateway.OperationByID(op.ID); ok && !op.Public {
			chain = append(chain, s.merchantGuard(gop))
		}
		if op.declaresHeader("Idempotency-Key") {
			chain = append(chain, s.idempotencyMiddleware)
		}
		chain = append(chain, h)
		e.Handle(op.Method, op.GinPath, chain...)
	}
	if len(handlers) > 0 {
		ids := make([]string, 0, len(handlers))
		for id := range handlers {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return fmt.Errorf("httpapi: handlers without an operation in the spec: %v", ids)
	}
	s.staticRoutes(e)
	s.engine = e
	return nil
}

// Serve answers HTTP on l until ctx ends, then shuts down gracefully (waiting up to 10 s for
// requests in flight; event streams end at once).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	cancelBase() // ends event streams
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts a client's X-Request-Id of 1 to 64 letters, digits, '-', '_' or '.'.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r == '-', r == '_', r == '.':
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		default:
			return false
		}
	}
	return true
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// setLogger makes l the request's logger, for this layer and (through the request context)
// for the ledger client.
func setLogger(c *gin.Context, l *slog.Logger) {
	c.Set(ctxLogger, l)
	c.Request = c.Request.WithContext(gateway.WithLogger(c.Request.Context(), l))
}

func logger(c *gin.Context) *slog.Logger {
	if v, ok := c.Get(ctxLogger); ok {
		if l, ok := v.(*slog.Logger); ok {
			return l
		}
	}
	return slog.New(slog.DiscardHandler)
}

// requestMiddleware assigns the request ID, a request logger and records the access log line
// and HTTP metrics.
func (s *Server) requestMiddleware(c *gin.Context) {
	start := s.opts.Now()
	id := c.GetHeader("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	setLogger(c, s.log.With("requestId", id))
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	s.metrics.observe(c.Request.Method, route, status, s.opts.Now().Sub(start))
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", s.opts.Now().Sub(start)),
	}
	if tx := c.GetString(ctxTxID); tx != "" {
		attrs = append(attrs, slog.String("txId", tx))
	}
	logger(c).LogAttrs(c.Request.Context(), slog.LevelInfo, "http request", attrs...)
}

func (s *Server) recoverMiddleware(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler { //nolint:errorlint // sentinel compared by identity, as net/http does
				panic(r)
			}
			abortProblem(c, &gateway.Error{Code: gateway.CodeInternal, Message: "internal error", Err: fmt.Errorf("panic: %v", r)})
		}
	}()
	c.Next()
}

func (s *Server) corsMiddleware(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" || !slices.Contains(s.opts.AllowedOrigins, origin) {
		if c.Request.Method == http.MethodOptions && origin != "" {
			abortProblem(c, corsRefusal(origin))
			return
		}
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, X-Transaction-Id, Location, Retry-After, Idempotent-Replayed, ETag, X-Block-Number")
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Prefer, Last-Event-ID, X-Request-Id, If-Match, If-None-Match, X-Min-Block-Number")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

func (s *Server) operationMiddleware(op *Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(ctxOp, op)
		c.Next()
	}
}

// bodyMiddleware reads the body up to the limit (413 above it).
func (s *Server) bodyMiddleware(c *gin.Context) {
	if c.Request.Body == nil || c.Request.Method == http.MethodGet {
		c.Next()
		return
	}
	if c.Request.ContentLength > s.opts.MaxBodyBytes {
		s.tooLarge(c, c.Request.Body)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.tooLarge(c, c.Request.Body)
			return
		}
		abortProblem(c, &gateway.Error{Code: gateway.CodeInvalidArgument, Field: "body", Message: "cannot read the request body", Err: err})
		return
	}
	c.Set(ctxBody, body)
	c.Next()
}

func bodyOf(c *gin.Context) []byte {
	v, _ := c.Get(ctxBody)
	b, _ := v.([]byte)
	return b
}

func opOf(c *gin.Context) *Operation {
	v, _ := c.Get(ctxOp)
	op, _ := v.(*Operation)
	return op
}

func (s *Server) validateMiddleware(c *gin.Context) {
	params := map[string]string{}
	for _, p := range c.Params {
		params[p.Key] = p.Value
	}
	body := bodyOf(c)
	if len(body) > 0 && c.ContentType() != "application/json" {
		abortProblem(c, gateway.FieldError("Content-Type", "must be application/json, got %q", c.ContentType()))
		return
	}
	if err := s.spec.ValidateRequest(c.Request.Context(), opOf(c), c.Request, params, body); err != nil {
		abortProblem(c, err)
		return
	}
	c.Next()
}

// preferAsync reports whether the Prefer header asks for respond-async.
func preferAsync(c *gin.Context) bool {
	for _, v := range c.Request.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(strings.SplitN(p, ";", 2)[0]), "respond-async") {
				return true
			}
		}
	}
	return false
}

// metricsHandler serves Prometheus metrics.
func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	return gin.WrapH(h)
}
