package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/internal/devapp"
)

func init() {
	commands["dev"] = command{summary: "run the devnet, the chaincode and the REST gateway in one process", run: runDev}
}

// runDev implements `xborder dev`: the whole system in one process, for development.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./xborder-data", "data directory `DIR` (devnet, gateway store and dev-credentials.json; reused across restarts)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "REST listen address `HOST:PORT` (port 0: a free port)")
	peerPort := fs.Int("peer-port", 0, "`PORT` of the first devnet peer; peer i listens on port+i (0 = free ports)")
	cors := fs.String("cors-origins", "", "`ORIGINS` (comma-separated) of browsers allowed to call the API")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger := textLogger(stderr, *verbose)
	var origins []string
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	app, err := devapp.Start(ctx, devapp.Config{
		DataDir:        *data,
		HTTPAddr:       *httpAddr,
		PeerBasePort:   *peerPort,
		AllowedOrigins: origins,
		Logger:         logger,
	})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// The same connection file as `xborder devnet`, so Gateway SDK clients (and xborder-bench
	// --target sdk) can reach the peers of the dev system directly.
	connPath := filepath.Join(*data, "connection.json")
	info := connectionInfo{Channel: app.Network.Channel(), Chaincode: devapp.ChaincodeName, Peers: app.Network.Peers()}
	if err := writeConnectionInfo(connPath, info); err != nil {
		return errors.Join(err, app.Close())
	}
	fmt.Fprintf(stdout, "xborder is ready\n\n")
	fmt.Fprintf(stdout, "  console:   %s%s (sign in with an API key below)\n", app.URL, httpapi.ConsolePath)
	fmt.Fprintf(stdout, "  API:       %s/api/v1\n", app.URL)
	fmt.Fprintf(stdout, "  API docs:  %s/docs\n", app.URL)
	fmt.Fprintf(stdout, "  OpenAPI:   %s/openapi.yaml\n", app.URL)
	fmt.Fprintf(stdout, "  events:    %s/api/v1/events\n", app.URL)
	fmt.Fprintf(stdout, "  peers:     %s (for Fabric Gateway SDK clients)\n\n", connPath)
	fmt.Fprintf(stdout, "API keys (also in %s):\n", filepath.Join(*data, devapp.CredentialsFile))
	for _, org := range app.Ledger.Organizations() {
		fmt.Fprintf(stdout, "  %-12s %s\n", org, app.Credentials[org])
	}
	fmt.Fprintf(stdout, "\ntry: curl -H \"Authorization: Bearer %s\" %s/api/v1/orders\n", app.Credentials["MerchantMSP"], app.URL)

	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case serveErr = <-app.Done():
	}
	closeErr := app.Close()
	if err := errors.Join(serveErr, closeErr); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	return nil
}
