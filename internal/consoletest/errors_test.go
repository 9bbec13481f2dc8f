package consoletest

import (
	"context"
	"fmt"
	"sync"

	"github.com/chromedp/chromedp"
)

// pageErrors collects a tab's uncaught exceptions, console errors and browser log errors
// (Content-Security-Policy violations among them).
type pageErrors struct {
	mu   sync.Mutex
	list []string
}

// watch collects the errors of the tab of ctx until ctx ends.
func (p *pageErrors) watch(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// A failed request is the API's answer to a refused action, which the console
			// shows; it is no page error.
			if (m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException) || m.Source == "network" {
				continue
			}
			p.mu.Lock()
			p.list = append(p.list, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
			p.mu.Unlock()
		}
	}()
}

// all returns the errors collected so far.
func (p *pageErrors) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}
