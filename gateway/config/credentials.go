package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// LoadOrCreateCredentials reads the API key file at path ({"MerchantMSP": "<key>", ...}; a
// missing file is empty) and adds a key made from random ("xb_" and 48 hexadecimal digits) for
// every organisation of orgs that has none, rewriting the file (mode 0600) when it changed. Keys
// already in the file are kept, so a restart or a redeployment does not invalidate the keys
// clients hold. The gateway itself keeps only their hashes (HashKey).
func LoadOrCreateCredentials(path string, orgs []string, random io.Reader) (map[string]string, error) {
	creds := map[string]string{}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator's data directory
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &creds); err != nil {
			return nil, fmt.Errorf("credentials: parse %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("credentials: read %s: %w", path, err)
	}
	changed := false
	for _, org := range orgs {
		if creds[org] != "" {
			continue
		}
		var k [24]byte
		if _, err := io.ReadFull(random, k[:]); err != nil {
			return nil, fmt.Errorf("credentials: generate API key: %w", err)
		}
		creds[org] = "xb_" + hex.EncodeToString(k[:])
		changed = true
	}
	if !changed {
		return creds, nil
	}
	out, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("credentials: encode: %w", err)
	}
	if err := WriteFileAtomic(path, append(out, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return creds, nil
}

// WriteFileAtomic writes data to path through a temporary file renamed over it, so that a
// reader never sees half a file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
