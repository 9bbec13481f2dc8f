package main

import (
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
	"time"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/internal/devapp"
)

func init() {
	commands["keys"] = command{summary: "manage API keys (create, list, label, revoke, rotate) through the admin API or on a data directory", run: runKeys}
}

const keysUsage = `Usage: xborder keys <command> [ID] [flags]

Commands:
  create [--label TEXT] [--merchants A,B] [--admin] [--own-identity]
                  a new key of the organisation; prints the key once
  list            the organisation's managed keys (revoked ones too)
  get ID          one key
  label ID --label TEXT
                  replace a key's label
  revoke ID       refuse the key from its next request on (and revoke its Fabric identity)
  rotate ID       re-enrol the key's own Fabric identity (the key itself does not change)

Through the admin API (default): --api URL and an admin key of the organisation (--key,
else $XBORDER_API_KEY, else --org MSPID with the dev system's credentials in --data).

On a gateway's data directory, with the gateway stopped (to make the first admin key of a
production gateway, for instance): --data-dir DIR --org MSPID. Keys made there cannot have
an identity of their own (the Fabric CA is called by the running gateway), and a revocation
there does not reach the CA.
`

// keysCommand is one parsed command line.
type keysCommand struct {
	apiFlags
	fs      *flag.FlagSet
	id      string
	dataDir string
	stdout  io.Writer

	label, merchants   string
	admin, ownIdentity bool
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, keysUsage)
		if len(args) == 0 {
			return usageError{errors.New("a command is required")}
		}
		return nil
	}
	verb := args[0]
	switch verb {
	case "create", "list", "get", "label", "revoke", "rotate":
	default:
		return usageError{fmt.Errorf("unknown command %q (create, list, get, label, revoke, rotate)", verb)}
	}
	c := &keysCommand{fs: flag.NewFlagSet("keys "+verb, flag.ContinueOnError), stdout: stdout}
	c.fs.SetOutput(stderr)
	c.register(c.fs)
	c.fs.StringVar(&c.dataDir, "data-dir", "", "work on this gateway data directory (gateway.db; the gateway must be stopped) instead of the API")
	switch verb {
	case "create":
		c.fs.StringVar(&c.label, "label", "", "a note for operators")
		c.fs.StringVar(&c.merchants, "merchants", "", "comma-separated merchant IDs the key may act for (default: every merchant)")
		c.fs.BoolVar(&c.admin, "admin", false, "the key may manage the organisation's keys")
		c.fs.BoolVar(&c.ownIdentity, "own-identity", false, "sign with a Fabric identity of the key's own (API only)")
	case "label":
		c.fs.StringVar(&c.label, "label", "", "the new label")
	}
	if err := c.parse(verb, args[1:]); err != nil {
		return err
	}
	if c.dataDir != "" {
		return c.offline(ctx, verb)
	}
	key, err := c.apiKey()
	if err != nil {
		return err
	}
	return c.online(ctx, verb, key)
}

// parse reads the flags and the key ID, in either order.
func (c *keysCommand) parse(verb string, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.id, args = args[0], args[1:]
	}
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if c.id == "" && c.fs.NArg() == 1 {
		c.id = c.fs.Arg(0)
	} else if c.fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", c.fs.Args())}
	}
	needsID := verb != "create" && verb != "list"
	switch {
	case needsID && c.id == "":
		return usageError{fmt.Errorf("%s needs a key ID", verb)}
	case !needsID && c.id != "":
		return usageError{fmt.Errorf("%s takes no key ID", verb)}
	case verb == "label" && !setFlags(c.fs)["label"]:
		return usageError{errors.New("label needs --label")}
	}
	return nil
}

// request is the key request of create's flags.
func (c *keysCommand) request() gateway.APIKeyRequest {
	req := gateway.APIKeyRequest{Label: c.label, Admin: c.admin, OwnIdentity: c.ownIdentity}
	if c.merchants != "" {
		req.Merchants = splitComma(c.merchants)
	}
	return req
}

// online runs verb through the admin API.
func (c *keysCommand) online(ctx context.Context, verb, key string) error {
	path := "/api/v1/admin/keys"
	if c.id != "" {
		path += "/" + c.id
	}
	method := http.MethodGet
	var body any
	switch verb {
	case "create":
		method, body = http.MethodPost, c.request()
	case "label":
		method, body = http.MethodPatch, map[string]string{"label": c.label}
	case "revoke":
		method, path = http.MethodPost, path+"/revoke"
	case "rotate":
		method, path = http.MethodPost, path+"/rotate-identity"
	}
	answer, err := callAPI(ctx, c.api, key, method, path, body)
	if err != nil {
		return err
	}
	if c.json {
		return printJSON(c.stdout, answer)
	}
	if verb == "list" {
		var page struct{ Items []gateway.APIKey }
		if err := json.Unmarshal(answer, &page); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
		printKeys(c.stdout, page.Items)
		return nil
	}
	var k keyView
	if err := json.Unmarshal(answer, &k); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	printKey(c.stdout, k)
	return nil
}

// offline runs verb on the data directory's gateway.db.
func (c *keysCommand) offline(ctx context.Context, verb string) error {
	if c.org == "" && verb != "list" && verb != "get" {
		return usageError{errors.New("--data-dir needs --org MSPID")}
	}
	if c.ownIdentity || verb == "rotate" {
		return usageError{errors.New("own identities are enrolled by the running gateway: use the admin API (--api)")}
	}
	st, err := openStore(c.dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	m := keys.New(st, []string{c.org})
	var k gateway.APIKey
	var secret string
	switch verb {
	case "list":
		list, err := st.APIKeys(c.org)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		printKeys(c.stdout, list)
		return nil
	case "create":
		req := c.request()
		req.MSPID = c.org
		k, secret, err = m.Create(ctx, req)
	case "get":
		k, err = st.APIKey(c.id)
	case "label":
		k, err = m.Label(c.org, c.id, c.label)
	case "revoke":
		k, err = m.Revoke(ctx, c.org, c.id)
	}
	if err != nil {
		return err
	}
	if c.json {
		b, _ := json.Marshal(keyView{APIKey: k, Key: secret})
		return printJSON(c.stdout, b)
	}
	printKey(c.stdout, keyView{APIKey: k, Key: secret})
	return nil
}

// openStore opens dir/gateway.db, with the store keys of dir/<devapp.StoreKeyFile> when present (as
// `xborder dev` makes them); a running gateway holds the file's lock.
func openStore(dir string) (*store.Store, error) {
	path := filepath.Join(dir, "gateway.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no gateway store in %s: %w", dir, err)
	}
	var opts []store.Option
	if kr, err := store.LoadKeyringFile(filepath.Join(dir, devapp.StoreKeyFile)); err == nil {
		opts = append(opts, store.WithKeyring(kr))
	}
	st, err := store.Open(path, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (is the gateway running? stop it, or use the admin API)", err)
	}
	return st, nil
}

// keyView is a key as the API answers it (with the key itself, once).
type keyView struct {
	gateway.APIKey
	Key string `json:"key,omitempty"`
}

func printJSON(w io.Writer, answer []byte) error {
	var v any
	if err := json.Unmarshal(answer, &v); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printKeys(w io.Writer, list []gateway.APIKey) {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tSTATE\tADMIN\tMERCHANTS\tIDENTITY\tLAST USED\tLABEL")
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%s\n", k.ID, keyState(k), k.Admin, orAll(k.Merchants), orDash(k.Identity), timeOrDash(k.LastUsedAt), k.Label)
	}
	_ = tw.Flush()
}

func printKey(w io.Writer, k keyView) {
	rows := [][2]string{
		{"id", k.ID}, {"organisation", k.MSPID}, {"label", k.Label}, {"state", keyState(k.APIKey)},
		{"admin", fmt.Sprint(k.Admin)}, {"merchants", orAll(k.Merchants)}, {"identity", orDash(k.Identity)},
		{"created", k.CreatedAt.Format(time.RFC3339)}, {"last used", timeOrDash(k.LastUsedAt)},
	}
	if k.IdentitySerial != "" {
		rows = append(rows, [2]string{"certificate serial", k.IdentitySerial})
	}
	printFields(w, rows)
	printOnce(w, "API key (shown once; the gateway keeps only its hash)", k.Key)
}

func keyState(k gateway.APIKey) string {
	if k.RevokedAt != nil {
		return "revoked " + k.RevokedAt.Format(time.RFC3339)
	}
	return "active"
}

func orAll(m []string) string {
	if len(m) == 0 {
		return "*"
	}
	return strings.Join(m, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
