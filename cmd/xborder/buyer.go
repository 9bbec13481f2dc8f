package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xborder/xborder/chaincode"
)

func init() {
	commands["buyer"] = command{summary: "a buyer's key: make one (keygen), sign a receipt, dispute or late cancellation (sign)", run: runBuyer}
}

// runBuyer implements `xborder buyer keygen|sign`: what a buyer's wallet or browser does, for
// trying signed statements from a shell.
func runBuyer(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Usage: xborder buyer keygen --out FILE | xborder buyer sign --key FILE --order ID --version N [--action A] [--reason TEXT] [--expires 24h]")
		return usageError{errors.New("a subcommand is required: keygen or sign")}
	}
	switch args[0] {
	case "keygen":
		return runBuyerKeygen(args[1:], stdout, stderr)
	case "sign":
		return runBuyerSign(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q: keygen or sign", args[0])}
}

// privateJWK is a P-256 private key as a JWK (WebCrypto's exportKey("jwk") of a private key).
type privateJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// runBuyerKeygen writes a fresh private key to --out (mode 0600, refusing to overwrite) and
// prints the public key, the JWK to give the merchant as buyer.publicKey.
func runBuyerKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("buyer keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "buyer-key.json", "`FILE` for the private key (a JWK; keep it secret)")
	if err := fs.Parse(args); err != nil {
		return usageErr(err)
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	priv, err := jwkOf(key)
	if err != nil {
		return err
	}
	b, err := json.Marshal(priv)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("write private key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	pub := chaincode.BuyerKey{Kty: priv.Kty, Crv: priv.Crv, X: priv.X, Y: priv.Y}
	if err := json.NewEncoder(stdout).Encode(pub); err != nil {
		return fmt.Errorf("print public key: %w", err)
	}
	fmt.Fprintf(stderr, "private key written to %s; public key above (thumbprint %s)\n", *out, pub.Thumbprint())
	return nil
}

// jwkOf renders a P-256 private key as a JWK.
func jwkOf(key *ecdsa.PrivateKey) (privateJWK, error) {
	pub, err := key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		return privateJWK{}, fmt.Errorf("encode public key: %w", err)
	}
	d, err := key.Bytes()
	if err != nil {
		return privateJWK{}, fmt.Errorf("encode private key: %w", err)
	}
	enc := base64.RawURLEncoding
	return privateJWK{Kty: chaincode.JWKKeyType, Crv: chaincode.JWKCurve, X: enc.EncodeToString(pub[1:33]), Y: enc.EncodeToString(pub[33:]), D: enc.EncodeToString(d)}, nil
}

// readPrivateJWK reads the private key written by keygen (or exported by WebCrypto).
func readPrivateJWK(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	var jwk privateJWK
	if err := json.Unmarshal(b, &jwk); err != nil {
		return nil, fmt.Errorf("read private key %s: %w", path, err)
	}
	if jwk.Kty != chaincode.JWKKeyType || jwk.Crv != chaincode.JWKCurve || jwk.D == "" {
		return nil, fmt.Errorf("read private key %s: not a P-256 private key as a JWK (kty EC, crv P-256, d)", path)
	}
	d, err := base64.RawURLEncoding.DecodeString(jwk.D)
	if err != nil {
		return nil, fmt.Errorf("read private key %s: d: %w", path, err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, fmt.Errorf("read private key %s: %w", path, err)
	}
	return key, nil
}

// runBuyerSign prints the JSON body of a buyer statement request: the canonical statement and
// its signature by the key in --key.
func runBuyerSign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("buyer sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "buyer-key.json", "`FILE` of the buyer's private key (from keygen)")
	order := fs.String("order", "", "the order `ID`")
	action := fs.String("action", chaincode.StatementConfirmReceipt, "`ACTION`: CONFIRM_RECEIPT, OPEN_DISPUTE or CANCEL_LATE")
	version := fs.Int64("version", 0, "the order's current `VERSION` (GET /api/v1/track/{token} shows it)")
	reason := fs.String("reason", "", "the `REASON` (required for OPEN_DISPUTE)")
	expires := fs.Duration("expires", time.Hour, "how long (`DURATION`) the statement stays valid (at most 168h)")
	nonce := fs.String("nonce", "", "the statement's `NONCE` (default: 16 random bytes, base64url)")
	if err := fs.Parse(args); err != nil {
		return usageErr(err)
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	key, err := readPrivateJWK(*keyFile)
	if err != nil {
		return err
	}
	if *nonce == "" {
		var n [16]byte
		if _, err := rand.Read(n[:]); err != nil {
			return fmt.Errorf("make nonce: %w", err)
		}
		*nonce = base64.RawURLEncoding.EncodeToString(n[:])
	}
	st := chaincode.BuyerStatement{OrderID: *order, Action: *action, OrderVersion: *version, Nonce: *nonce,
		ExpiresAt: time.Now().Add(*expires).UTC().Truncate(time.Second), Reason: *reason}
	if err := st.Validate(); err != nil {
		return usageError{err}
	}
	text := st.Canonical()
	sig, err := signStatement(key, text)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]string{"statement": text, "signature": sig}); err != nil {
		return fmt.Errorf("print statement: %w", err)
	}
	return nil
}

// signStatement signs text as WebCrypto's ECDSA with SHA-256 does: r||s, base64url.
func signStatement(key *ecdsa.PrivateKey, text string) (string, error) {
	sum := sha256.Sum256([]byte(text))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign statement: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return base64.RawURLEncoding.EncodeToString(sig), nil
}

// usageErr marks a flag parsing error as a usage error (flag.ErrHelp stays as it is).
func usageErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}
