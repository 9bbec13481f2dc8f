package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/webhook"
	"github.com/xborder/xborder/internal/devapp"
)

func init() {
	commands["subscriptions"] = command{summary: "manage webhook subscriptions on a running gateway (create, list, pause, ...; receive)", run: runSubscriptions}
}

const subscriptionsUsage = `Usage: xborder subscriptions <command> [ID] [flags]

Commands (on the gateway at --api, as the organisation of the API key):
  create --url URL [--events A,B] [--merchant ID] [--order ID] [--status S]
         [--description TEXT] [--secret S] [--after EVENT-ID]
                          subscribe URL; prints the signing secret once
  list                    the organisation's subscriptions
  get ID                  one subscription
  update ID [--url] [--events] [--merchant] [--order] [--status] [--description]
         [--secret S | --rotate-secret]
  pause ID | resume ID | delete ID
  deliveries ID [--limit N]
                          the delivery log, newest first
  receive --listen ADDR --secret S
                          a receiver for development: verifies each delivery and prints it

The API key: --key, else $XBORDER_API_KEY, else --org MSPID with the dev system's
credentials in --data (default ./xborder-data).
`

// apiFlags are the flags every command that calls the API takes.
type apiFlags struct {
	api, key, org, data string
	json                bool
}

func (a *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.api, "api", envOr("XBORDER_API_URL", "http://127.0.0.1:8080"), "the gateway's base `URL` ($XBORDER_API_URL)")
	fs.StringVar(&a.key, "key", "", "API `KEY` (default $XBORDER_API_KEY)")
	fs.StringVar(&a.org, "org", "", "with no key: the organisation (`MSPID`) whose dev key to read from --data")
	fs.StringVar(&a.data, "data", "./xborder-data", "data directory `DIR` of xborder dev (for --org)")
	fs.BoolVar(&a.json, "json", false, "print the API's JSON answers as they are")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// apiKey resolves the key: --key, $XBORDER_API_KEY, or the dev credentials of --org.
func (a *apiFlags) apiKey() (string, error) {
	if a.key != "" {
		return a.key, nil
	}
	if k := os.Getenv("XBORDER_API_KEY"); k != "" {
		return k, nil
	}
	if a.org == "" {
		return "", usageError{errors.New("no API key: give --key, set XBORDER_API_KEY, or name --org with the dev system's --data")}
	}
	raw, err := os.ReadFile(filepath.Join(a.data, devapp.CredentialsFile))
	if err != nil {
		return "", fmt.Errorf("read the dev credentials: %w", err)
	}
	var creds map[string]string
	if err := json.Unmarshal(raw, &creds); err != nil {
		return "", fmt.Errorf("read the dev credentials: %w", err)
	}
	k, ok := creds[a.org]
	if !ok {
		return "", usageError{fmt.Errorf("no dev key for %q in %s", a.org, a.data)}
	}
	return k, nil
}

// subsCommand is one parsed command line: the API, the subscription ID (if any) and the flags.
type subsCommand struct {
	apiFlags
	fs     *flag.FlagSet
	id     string
	stdout io.Writer
}

// filterFlags are the flags of create and update that make the request body.
type filterFlags struct {
	url, events, merchant, order, status, description, secret, after string
	rotate                                                           bool
	limit                                                            int
}

func runSubscriptions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, subscriptionsUsage)
		if len(args) == 0 {
			return usageError{errors.New("a command is required")}
		}
		return nil
	}
	verb := args[0]
	switch verb {
	case "receive":
		return runReceive(ctx, args[1:], stdout, stderr)
	case "create", "list", "get", "update", "pause", "resume", "delete", "deliveries":
	default:
		return usageError{fmt.Errorf("unknown command %q (create, list, get, update, pause, resume, delete, deliveries, receive)", verb)}
	}
	c := &subsCommand{fs: flag.NewFlagSet("subscriptions "+verb, flag.ContinueOnError), stdout: stdout}
	c.fs.SetOutput(stderr)
	c.register(c.fs)
	var f filterFlags
	registerFilterFlags(c.fs, verb, &f)
	if err := c.parse(verb, args[1:]); err != nil {
		return err
	}
	key, err := c.apiKey()
	if err != nil {
		return err
	}
	return c.do(ctx, verb, key, f)
}

// registerFilterFlags adds the flags of verb.
func registerFilterFlags(fs *flag.FlagSet, verb string, f *filterFlags) {
	switch verb {
	case "create", "update":
		fs.StringVar(&f.url, "url", "", "the `URL` to POST events to")
		fs.StringVar(&f.events, "events", "", "`EVENTS`: comma-separated event names (default: every event)")
		fs.StringVar(&f.merchant, "merchant", "", "only events of this merchant (`ID`)")
		fs.StringVar(&f.order, "order", "", "only events of this order (`ID`)")
		fs.StringVar(&f.status, "status", "", "only events leaving the order in this `STATUS`")
		fs.StringVar(&f.description, "description", "", "a note (`TEXT`)")
		fs.StringVar(&f.secret, "secret", "", "a signing `SECRET` of your own (default: generated)")
	}
	switch verb {
	case "create":
		fs.StringVar(&f.after, "after", "", "deliver the events after this event `ID` (0-0: all; default: only new ones)")
	case "update":
		fs.BoolVar(&f.rotate, "rotate-secret", false, "have the gateway generate a new secret")
	case "deliveries":
		fs.IntVar(&f.limit, "limit", 20, "how many attempts to list (`N`)")
	}
}

// parse reads the command's flags and ID, in either order (ID first or last).
func (c *subsCommand) parse(verb string, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.id, args = args[0], args[1:]
	}
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if c.id == "" && c.fs.NArg() > 0 {
		c.id = c.fs.Arg(0)
	} else if c.fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", c.fs.Args())}
	}
	needsID := verb != "create" && verb != "list"
	switch {
	case needsID && c.id == "":
		return usageError{fmt.Errorf("%s needs a subscription ID", verb)}
	case !needsID && c.id != "":
		return usageError{fmt.Errorf("%s takes no subscription ID", verb)}
	}
	return nil
}

// do calls the API for verb and prints the answer.
func (c *subsCommand) do(ctx context.Context, verb, key string, f filterFlags) error {
	path := "/api/v1/subscriptions"
	if c.id != "" {
		path += "/" + c.id
	}
	var method string
	var body any
	switch verb {
	case "create":
		method, body = http.MethodPost, createBody(c.fs, f)
	case "list", "get":
		method = http.MethodGet
	case "update":
		method, body = http.MethodPatch, patchBody(c.fs, f)
	case "pause", "resume":
		method, path = http.MethodPost, path+"/"+verb
	case "delete":
		method = http.MethodDelete
	default: // deliveries
		method, path = http.MethodGet, fmt.Sprintf("%s/deliveries?limit=%d", path, f.limit)
	}
	answer, err := callAPI(ctx, c.api, key, method, path, body)
	if err != nil {
		return err
	}
	return c.print(verb, answer)
}

// createBody is the body of POST /api/v1/subscriptions from the flags.
func createBody(fs *flag.FlagSet, f filterFlags) map[string]any {
	body := map[string]any{"url": f.url}
	set := setFlags(fs)
	if f.events != "" {
		body["events"] = splitComma(f.events)
	}
	if filter := filterOf(f); len(filter) > 0 {
		body["filter"] = filter
	}
	for name, v := range map[string]string{"description": f.description, "secret": f.secret, "after": f.after} {
		if set[name] {
			body[name] = v
		}
	}
	return body
}

// patchBody is the body of PATCH /api/v1/subscriptions/{id}: the flags given. Any of
// --merchant, --order and --status replaces the whole filter.
func patchBody(fs *flag.FlagSet, f filterFlags) map[string]any {
	body := map[string]any{}
	set := setFlags(fs)
	for name, v := range map[string]string{"url": f.url, "description": f.description, "secret": f.secret} {
		if set[name] {
			body[name] = v
		}
	}
	if set["events"] {
		body["events"] = splitComma(f.events)
	}
	if set["merchant"] || set["order"] || set["status"] {
		body["filter"] = filterOf(f)
	}
	if f.rotate {
		body["rotateSecret"] = true
	}
	return body
}

func filterOf(f filterFlags) map[string]any {
	filter := map[string]any{}
	for name, v := range map[string]string{"merchantId": f.merchant, "orderId": f.order, "status": f.status} {
		if v != "" {
			filter[name] = v
		}
	}
	return filter
}

func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func splitComma(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// apiError is a problem answer of the gateway.
type apiError struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (e *apiError) Error() string {
	if e.Field != "" && !strings.HasPrefix(e.Detail, e.Field) {
		return fmt.Sprintf("%d %s: %s: %s", e.Status, e.Code, e.Field, e.Detail)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail)
}

// callAPI sends one request and returns the answer's body, or the problem as an *apiError.
func callAPI(ctx context.Context, base, key, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, rd) //nolint:gosec // G704: the operator names the gateway with --api
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req) //nolint:gosec // G704: the operator names the gateway with --api
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		e := &apiError{Status: res.StatusCode, Detail: strings.TrimSpace(string(out))}
		_ = json.Unmarshal(out, e)
		return nil, e
	}
	return out, nil
}

// print shows an answer: as it is with --json, else as text.
func (c *subsCommand) print(verb string, answer []byte) error {
	if c.json || verb == "delete" {
		if len(answer) > 0 {
			var v any
			if err := json.Unmarshal(answer, &v); err != nil {
				return fmt.Errorf("decode the answer: %w", err)
			}
			enc := json.NewEncoder(c.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		fmt.Fprintf(c.stdout, "deleted %s\n", c.id)
		return nil
	}
	switch verb {
	case "list":
		var page struct{ Items []subscriptionView }
		if err := json.Unmarshal(answer, &page); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
		printSubscriptions(c.stdout, page.Items)
	case "deliveries":
		var page struct{ Items []gateway.Delivery }
		if err := json.Unmarshal(answer, &page); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
		printDeliveries(c.stdout, page.Items)
	default:
		var s subscriptionView
		if err := json.Unmarshal(answer, &s); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
		printSubscription(c.stdout, s)
	}
	return nil
}

// subscriptionView is a subscription as the API answers it (with the secret, once).
type subscriptionView struct {
	gateway.Subscription
	Secret string `json:"secret"`
}

func printSubscriptions(w io.Writer, subs []subscriptionView) {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tSTATE\tLAG\tCHECKPOINT\tEVENTS\tURL")
	for _, s := range subs {
		events := strings.Join(s.Events, ",")
		if events == "" {
			events = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", s.ID, s.State, s.LagBlocks, s.Checkpoint, events, s.URL)
	}
	_ = tw.Flush()
}

func printSubscription(w io.Writer, s subscriptionView) {
	events := strings.Join(s.Events, ", ")
	if events == "" {
		events = "every event"
	}
	rows := [][2]string{
		{"id", s.ID}, {"organisation", s.Org}, {"url", s.URL}, {"events", events},
		{"filter", filterText(s.Filter)}, {"state", string(s.State)},
		{"checkpoint", s.Checkpoint.String()}, {"lag", fmt.Sprintf("%d blocks", s.LagBlocks)},
	}
	if s.ConsecutiveFailures > 0 || s.LastError != "" {
		rows = append(rows, [2]string{"failures", fmt.Sprintf("%d (%s)", s.ConsecutiveFailures, s.LastError)})
	}
	if !s.FailedEvent.IsZero() {
		rows = append(rows, [2]string{"dead letter at", s.FailedEvent.String()})
	}
	if s.Description != "" {
		rows = append(rows, [2]string{"description", s.Description})
	}
	printFields(w, rows)
	printOnce(w, "signing secret (shown once; verify deliveries with it)", s.Secret)
}

func filterText(f gateway.EventFilter) string {
	var parts []string
	for _, p := range [][2]string{{"merchant", f.MerchantID}, {"order", f.OrderID}, {"status", f.Status}} {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

func printDeliveries(w io.Writer, log []gateway.Delivery) {
	tw := newTable(w)
	fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tNAME\tATTEMPT\tOUTCOME\tSTATUS\tLATENCY\tERROR")
	for _, d := range log {
		status := "-"
		if d.StatusCode != 0 {
			status = fmt.Sprint(d.StatusCode)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%dms\t%s\n", d.Seq, d.Time.Format(time.RFC3339), d.EventID, d.EventName,
			d.Attempt, d.Outcome, status, d.LatencyMillis, d.Error)
	}
	_ = tw.Flush()
}

// runReceive implements `xborder subscriptions receive`: an HTTP receiver for development that
// verifies every delivery with the secret, refuses bad or stale signatures (401), prints each
// event once (a repeat is acknowledged and marked) and answers 204.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("subscriptions receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "`HOST:PORT` to listen on")
	secret := fs.String("secret", os.Getenv("XBORDER_WEBHOOK_SECRET"), "the subscription's signing `SECRET` ($XBORDER_WEBHOOK_SECRET)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *secret == "" || fs.NArg() > 0 {
		return usageError{errors.New("receive takes --secret (and --listen), no arguments")}
	}
	r := &devReceiver{secret: []byte(*secret), out: stdout, seen: map[string]bool{}}
	srv := &http.Server{Addr: *listen, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(stdout, "receiving on http://%s/ (Ctrl-C to stop)\n", *listen)
	select {
	case err := <-errc:
		return fmt.Errorf("receive: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	return nil
}

// devReceiver verifies and prints deliveries.
type devReceiver struct {
	secret []byte
	out    io.Writer
	mu     sync.Mutex
	seen   map[string]bool
}

func (r *devReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
		fmt.Fprintf(r.out, "refused %s %s: %v\n", req.Method, req.URL.Path, err)
		http.Error(w, "signature refused", http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	note := ""
	if r.seen[ev.ID] {
		note = " (again: already received)"
	}
	r.seen[ev.ID] = true
	fmt.Fprintf(r.out, "%s %s order=%s tx=%s attempt=%s%s\n  %s\n", ev.ID, ev.Name, ev.OrderID, ev.TxID,
		req.Header.Get(webhook.AttemptHeader), note, ev.Payload)
	w.WriteHeader(http.StatusNoContent)
}
