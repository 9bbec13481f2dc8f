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
	fs.Usage = func() { gatewayUsage(fs) }
	cfgPath := fs.String("config", "", "YAML configuration `FILE` (XBORDER_* environment variables override it)")
	httpAddr := fs.String("http", "", "REST listen address `HOST:PORT` (overrides listen and XBORDER_LISTEN)")
	example := fs.Bool("example-config", false, "print the commented example configuration file and exit")
	tlsCert := fs.String("tls-cert", "", "PEM server certificate `FILE` of the REST listener (overrides tls.certFile)")
	tlsKey := fs.String("tls-key", "", "PEM private key `FILE` of the REST listener (overrides tls.keyFile)")
	tlsClientCA := fs.String("tls-client-ca", "", "PEM `FILE` of accepted client certificate CAs: mutual TLS (overrides tls.clientCAFile)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *example {
		_, err := stdout.Write(config.Example())
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if *httpAddr != "" || *tlsCert != "" || *tlsKey != "" || *tlsClientCA != "" {
		override(&cfg.Listen, *httpAddr)
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

// gatewayUsage prints the flags of `xborder gateway`, every XBORDER_* variable the
// configuration reads (config.EnvVars, the list it applies) and where the example is.
func gatewayUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintln(w, "Usage: xborder gateway --config FILE [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs the REST gateway of one consortium member against a Fabric network.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fs.PrintDefaults()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Environment variables (each overrides the configuration file's field in parentheses; flags override both):")
	for _, ev := range config.EnvVars() {
		fmt.Fprintf(w, "  %-38s %s\n", ev.Name, ev.Usage)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Example configuration: xborder gateway --example-config > gateway.yaml")
	fmt.Fprintln(w, "(the same file as gateway/config/example.yaml in the source; docs/architecture.md describes the settings).")
}

// override sets *dst to v when v is not empty.
func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
