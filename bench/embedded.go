package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/xborder/xborder/internal/devapp"
)

// EmbeddedRateLimit is the per-key REST rate limit of the embedded dev system: high enough
// that the gateway's limiter (500/s by default in `xborder dev`) never shapes a round.
const EmbeddedRateLimit = 1e6

// Embedded is the whole dev system (devnet, chaincode, REST gateway) running in this process,
// with a REST and an SDK driver on the same devnet.
type Embedded struct {
	// App is the running dev system.
	App *devapp.App
	// REST and SDK are the two targets.
	REST *RESTDriver
	SDK  *SDKDriver
	// Dir is the data directory; removed by Close when the system created it.
	Dir     string
	tempDir bool
}

// StartEmbedded starts the dev system in dir (a fresh temporary directory when ""), and
// connects both drivers. maxConns sizes the REST driver's connection pool; restOpts configure
// it.
func StartEmbedded(ctx context.Context, dir string, maxConns int, logger *slog.Logger, restOpts ...RESTOption) (*Embedded, error) {
	e := &Embedded{Dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "xborder-bench-")
		if err != nil {
			return nil, fmt.Errorf("embedded: temporary directory: %w", err)
		}
		e.Dir, e.tempDir = d, true
	}
	app, err := devapp.Start(ctx, devapp.Config{
		DataDir:   e.Dir,
		HTTPAddr:  "127.0.0.1:0",
		RateLimit: EmbeddedRateLimit,
		Burst:     int(EmbeddedRateLimit),
		Logger:    logger,
	})
	if err != nil {
		e.removeDir()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	e.App = app
	if e.REST, err = NewRESTDriver(app.URL, app.Credentials, maxConns, restOpts...); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if e.SDK, err = NewSDKDriverForNetwork(app.Network, devapp.ChaincodeName); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return e, nil
}

func (e *Embedded) removeDir() {
	if e.tempDir {
		_ = os.RemoveAll(e.Dir)
	}
}

// Close closes the drivers and the dev system, and removes a temporary data directory.
func (e *Embedded) Close() error {
	var errs []error
	if e.REST != nil {
		errs = append(errs, e.REST.Close())
	}
	if e.SDK != nil {
		errs = append(errs, e.SDK.Close())
	}
	if e.App != nil {
		errs = append(errs, e.App.Close())
	}
	e.removeDir()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	return nil
}
