package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/service"
)

func init() {
	commands["gateway"] = command{summary: "run the REST gateway against a Fabric network (--config FILE, XBORDER_* variables)", run: runGateway}
}

// runGateway implements `xborder gateway --config FILE`: the REST gateway for a real Fabric
// network, configured by a YAML file and XBORDER_* environment variables.
func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration file (XBORDER_* environment variables override it)")
	tlsCert := fs.String("tls-cert", "", "PEM server certificate of the REST listener (overrides tls.certFile)")
	tlsKey := fs.String("tls-key", "", "PEM private key of the REST listener (overrides tls.keyFile)")
	tlsClientCA := fs.String("tls-client-ca", "", "PEM bundle of accepted client certificate CAs: mutual TLS (overrides tls.clientCAFile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if *tlsCert != "" || *tlsKey != "" || *tlsClientCA != "" {
		override(&cfg.TLS.CertFile, *tlsCert)
		override(&cfg.TLS.KeyFile, *tlsKey)
		override(&cfg.TLS.ClientCAFile, *tlsClientCA)
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("logLevel: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	return service.Run(ctx, cfg, logger, func(url string) {
		fmt.Fprintf(stdout, "xborder gateway listening on %s (console at %s, docs at /docs)\n", url, httpapi.ConsolePath)
	})
}

// override sets *dst to v when v is not empty.
func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
