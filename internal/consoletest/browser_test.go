package consoletest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds a Chromium binary: XBORDER_CHROMIUM when set, else the usual names on
// PATH; "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("XBORDER_CHROMIUM"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// requireBrowser returns the Chromium binary, or skips the test when there is none, unless CI
// or XBORDER_REQUIRE_BROWSER=1 demands that the browser tests run.
func requireBrowser(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p != "" {
		return p
	}
	msg := "no Chromium found (install Debian's chromium package, or set XBORDER_CHROMIUM to a Chromium binary): the console's browser tests did not run"
	if os.Getenv("CI") != "" || os.Getenv("XBORDER_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + "; CI and XBORDER_REQUIRE_BROWSER=1 require them")
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium with a fresh profile; tabs are its pages, each with its own
// sessionStorage (so each can be signed in as another organisation).
type browser struct {
	t        *testing.T
	ctx      context.Context
	shotsDir string
	shots    int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := requireBrowser(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1366, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	require.NoError(t, chromedp.Do(ctx), "start Chromium at %s", bin)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	dir := os.Getenv("XBORDER_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o750))
	return &browser{t: t, ctx: ctx, shotsDir: dir}
}

// tab is one browser page.
type tab struct {
	b *browser
	// t is the test the tab reports to (see in).
	t    *testing.T
	name string
	ctx  context.Context
	// errors collects the page's console errors and uncaught exceptions.
	errors *pageErrors
}

// newTab opens a page named name (for messages and screenshots).
func (b *browser) newTab(name string) *tab {
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	// The first action on a context opens its tab, which lives as long as the context of
	// that call: it must not have a timeout.
	require.NoError(b.t, chromedp.Do(ctx), "open a tab")
	tb := &tab{b: b, t: b.t, name: name, ctx: ctx, errors: &pageErrors{}}
	tb.run(chromedp.EmulateViewport(1366, 900))
	tb.errors.watch(ctx)
	return tb
}

// in returns tb reporting to t, a subtest.
func (tb *tab) in(t *testing.T) *tab {
	c := *tb
	c.t = t
	return &c
}

// stepTimeout bounds one step of a browser test. Steps take well under a second on an idle
// machine; the bound is generous because a loaded 2-core CI machine runs the race-enabled suite
// beside Chromium, and a slow step is not what these tests check.
const stepTimeout = 90 * time.Second

// run performs actions, failing the test after stepTimeout.
func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail(err)
	}
}

// get runs one action that returns a value, failing the test after stepTimeout.
func get[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.fail(err)
	}
	return v
}

func (tb *tab) fail(err error) {
	tb.t.Helper()
	p := tb.screenshot("failure")
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	tb.t.Fatalf("%s: %v\nscreenshot: %s\npage text:\n%s\npage errors: %v", tb.name, err, p, text, tb.errors.all())
}

// screenshot saves a full-page PNG named after the tab and what it shows, and returns its path.
func (tb *tab) screenshot(what string) string {
	return tb.shoot(what, chromedp.FullScreenshot(100))
}

// viewShot saves a PNG of what the viewport shows.
func (tb *tab) viewShot(what string) string {
	return tb.shoot(what, chromedp.CaptureScreenshot())
}

func (tb *tab) shoot(what string, shot chromedp.Action[[]byte]) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, shot)
	if err != nil {
		tb.t.Logf("screenshot %s: %v", what, err)
		return ""
	}
	tb.b.shots++
	name := fmt.Sprintf("%02d-%s-%s.png", tb.b.shots, strings.ToLower(tb.name), what)
	p := filepath.Join(tb.b.shotsDir, name)
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		tb.t.Logf("screenshot %s: %v", what, err)
		return ""
	}
	return p
}
