package store

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// KeySize is the size of a store encryption key: AES-256.
const KeySize = 32

// sealedMagic starts every sealed value: format version 1 (key ID length, key ID, 12-byte
// nonce, AES-256-GCM ciphertext and tag).
var sealedMagic = []byte("xbs1")

// keyIDPattern is what a key ID may look like: it is stored in every sealed value and shown in
// logs and metrics, so it is short and plain.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Key is one store encryption key.
type Key struct {
	// ID names the key; it is stored beside every value sealed with it, so that the key can
	// be found again after newer keys were added.
	ID string
	// Secret is the AES-256 key (KeySize bytes).
	Secret []byte
}

// Keyring holds the keys that seal the private data the store must keep (the signed proposals
// of writes with transient data, see gateway.PreparedTx): new values are sealed with the
// newest key (the last one given), and values sealed with any key of the ring can be opened,
// so that keys can rotate while older records stay readable until they are dropped or purged.
type Keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// NewKeyring returns a keyring of keys, the last being the newest. Key IDs must be unique.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("store keyring: at least one key is required")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range keys {
		if !keyIDPattern.MatchString(key.ID) {
			return nil, fmt.Errorf("store keyring: key %d: ID %q must be 1 to 64 letters, digits, '.', '_' or '-'", i+1, key.ID)
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("store keyring: duplicate key ID %q", key.ID)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("store keyring: key %q: must be %d bytes, got %d", key.ID, KeySize, len(key.Secret))
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("store keyring: key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("store keyring: key %q: %w", key.ID, err)
		}
		k.ids = append(k.ids, key.ID)
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// ParseKeyring reads keys in the key file format: one key a line as `<id>:<base64 of 32
// bytes>`, the newest last; blank lines and lines starting with '#' are ignored. Commas also
// separate keys, so that a list fits in one environment variable.
func ParseKeyring(text []byte) (*Keyring, error) {
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "#") {
			continue
		}
		for _, item := range strings.Split(sc.Text(), ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			id, enc, ok := strings.Cut(item, ":")
			if !ok {
				return nil, fmt.Errorf("store keyring: line %d: want <id>:<base64 key>", line)
			}
			secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
			if err != nil {
				// The error would quote the key material: say only where it is.
				return nil, fmt.Errorf("store keyring: line %d: key %q is not valid base64", line, strings.TrimSpace(id))
			}
			keys = append(keys, Key{ID: strings.TrimSpace(id), Secret: secret})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("store keyring: %w", err)
	}
	return NewKeyring(keys...)
}

// LoadKeyringFile reads a key file (ParseKeyring). The file must not be readable or writable by
// group or others.
func LoadKeyringFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store keyring: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("store keyring: %s has mode %04o: it must be accessible to its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store keyring: %w", err)
	}
	k, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateKeyringFile reads the key file at path, first writing one with a new random key
// (ID "k" and the UTC date, mode 0600) when there is none. `xborder dev` keeps its key so in
// its data directory.
func LoadOrCreateKeyringFile(path string, random io.Reader, now time.Time) (*Keyring, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		line, err := NewKeyLine("k"+now.UTC().Format("20060102"), random)
		if err != nil {
			return nil, err
		}
		text := "# AES-256-GCM keys sealing private data in gateway.db: <id>:<base64>, newest last.\n" + line + "\n"
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store keyring: %w", err)
		}
		// O_EXCL: two processes starting at once do not overwrite each other's key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(text)
			err = errors.Join(err, f.Sync(), f.Close())
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("store keyring: write %s: %w", path, err)
		}
	}
	return LoadKeyringFile(path)
}

// NewKeyLine returns a key file line `<id>:<base64>` with a fresh key from random
// (crypto/rand.Reader when nil).
func NewKeyLine(id string, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	if !keyIDPattern.MatchString(id) {
		return "", fmt.Errorf("store keyring: ID %q must be 1 to 64 letters, digits, '.', '_' or '-'", id)
	}
	secret := make([]byte, KeySize)
	if _, err := io.ReadFull(random, secret); err != nil {
		return "", fmt.Errorf("store keyring: generate a key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(secret), nil
}

// Current returns the ID of the key new values are sealed with.
func (k *Keyring) Current() string { return k.ids[len(k.ids)-1] }

// IDs returns the key IDs, oldest first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// Seal encrypts plaintext with the current key, binding it to aad (which Open must be given
// again).
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	id := k.Current()
	aead := k.aeads[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := make([]byte, 0, len(sealedMagic)+1+len(id)+len(nonce)+len(plaintext)+aead.Overhead())
	out = append(out, sealedMagic...)
	out = append(out, byte(len(id)))
	out = append(out, id...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, aad), nil
}

// SealedKeyID returns the ID of the key sealed was sealed with.
func SealedKeyID(sealed []byte) (string, error) {
	id, _, err := splitSealed(sealed)
	return id, err
}

func splitSealed(sealed []byte) (id string, rest []byte, err error) {
	if !bytes.HasPrefix(sealed, sealedMagic) || len(sealed) < len(sealedMagic)+1 {
		return "", nil, errors.New("not a sealed value")
	}
	n := int(sealed[len(sealedMagic)])
	rest = sealed[len(sealedMagic)+1:]
	if len(rest) < n {
		return "", nil, errors.New("truncated sealed value")
	}
	return string(rest[:n]), rest[n:], nil
}

// Open decrypts a value sealed with any key of the ring and aad.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	id, rest, err := splitSealed(sealed)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("open: key %q is not in the keyring (keys: %s)", id, strings.Join(k.ids, ", "))
	}
	if len(rest) < aead.NonceSize() {
		return nil, errors.New("open: truncated sealed value")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("open with key %q: %w", id, err)
	}
	return plain, nil
}
