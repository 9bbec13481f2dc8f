package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/gateway/httpapi"
)

// Limits are the gateway's limits for every client and its metrics access (see the fields of
// the same names in httpapi.Options).
type Limits struct {
	AddressRateLimit float64
	AddressBurst     int
	AuthFailureRate  float64
	AuthFailureBurst int
	TrustedProxies   []string
	MaxStreamsPerKey int
	Metrics          httpapi.MetricsAccess
}

// listen opens the API listener (with TLS when configured) and, when configured, serves the
// metrics on their own listener until ctx ends.
func (g *Gateway) listen(ctx context.Context, o Options, reg *prometheus.Registry) (net.Listener, error) {
	var cfg *tls.Config
	if o.TLS != nil {
		r, err := httpapi.NewCertReloader(*o.TLS, o.Logger.With("component", "tls"), reg)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		g.TLS, cfg = r, r.Config()
	}
	if o.MetricsListen != "" {
		if err := g.serveMetrics(ctx, o.MetricsListen); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", o.Listen, err)
	}
	g.Addr = l.Addr().String()
	if cfg == nil {
		return l, nil
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.TLS.Watch(ctx)
	}()
	return tls.NewListener(l, cfg), nil
}

// serveMetrics serves GET /metrics in plain HTTP on addr until ctx ends.
func (g *Gateway) serveMetrics(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: metrics listener on %s: %w", addr, err)
	}
	g.MetricsAddr = l.Addr().String()
	srv := &http.Server{Handler: g.Server.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("metrics listener stopped", "error", err)
		}
	}()
	go func() {
		defer g.wg.Done()
		<-ctx.Done()
		_ = srv.Close()
	}()
	return nil
}

// ReloadTLS reads the listener's certificate files again (on SIGHUP); without TLS it does
// nothing. On error the certificate in force stays.
func (g *Gateway) ReloadTLS() error {
	if g.TLS == nil {
		return nil
	}
	return g.TLS.Reload()
}
