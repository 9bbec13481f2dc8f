package devapp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/dirlock"
)

// TestStartChecksBeforeCreating checks that a malformed or busy HTTP address and a data
// directory that is a file are refused before anything is created, with an error that names
// the address or the directory.
func TestStartChecksBeforeCreating(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	tests := []struct {
		name    string
		dataDir string
		addr    string
		want    string
	}{
		{"busy address", "", busy.Addr().String(), "HTTP address " + busy.Addr().String() + " is not available"},
		{"no port", "", "127.0.0.1", `HTTP address "127.0.0.1"`},
		{"port out of range", "", "127.0.0.1:70000", `the port "70000" is not a number from 0 to 65535`},
		{"named port", "", "127.0.0.1:http-ish", `the port "http-ish" is not a number`},
		{"data directory is a file", file, "127.0.0.1:0", "data directory " + file + " is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dataDir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "parent", "data")
			}
			app, err := devapp.Start(context.Background(), devapp.Config{DataDir: dir, HTTPAddr: tc.addr})
			if app != nil {
				_ = app.Close()
			}
			require.ErrorContains(t, err, tc.want)
			if tc.dataDir == "" {
				require.NoDirExists(t, filepath.Dir(dir), "nothing is created")
			}
		})
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "x", string(b), "the file is left as it was")
}

// TestStartRefusesADirectoryInUse checks that a second dev system on a data directory in use
// fails at once, naming the holder's process ID, and writes nothing into the directory.
func TestStartRefusesADirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	// The lock another process would hold; flock locks belong to the open file, so a second
	// open in this process is refused just the same.
	held, err := dirlock.Acquire(dir, devapp.LockFile)
	require.NoError(t, err)
	defer held.Release()

	app, err := devapp.Start(context.Background(), devapp.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	if app != nil {
		_ = app.Close()
	}
	var inUse *dirlock.InUseError
	require.True(t, errors.As(err, &inUse), "%v", err)
	require.ErrorContains(t, err, fmt.Sprintf("data directory %s is in use by PID %d", dir, os.Getpid()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the lock file: no keys, no ledger")
	require.Equal(t, devapp.LockFile, entries[0].Name())
}

// TestStartRemovesTheDirectoryItCreated checks that a start failing after the data directory
// was made (here: the first peer's port is taken) removes it again, keys and all, while a
// directory that existed before is kept.
func TestStartRemovesTheDirectoryItCreated(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	start := func(dir string) error {
		app, err := devapp.Start(context.Background(), devapp.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", PeerBasePort: port})
		if app != nil {
			_ = app.Close()
		}
		return err
	}

	fresh := filepath.Join(t.TempDir(), "new", "data")
	require.Error(t, start(fresh))
	require.NoDirExists(t, filepath.Dir(fresh), "the directories this run made are gone")

	existing := t.TempDir()
	require.Error(t, start(existing))
	require.DirExists(t, existing)

	// The lock is released: a later run on the directory is not refused as in use.
	l, err := dirlock.Acquire(existing, devapp.LockFile)
	require.NoError(t, err)
	require.NoError(t, l.Release())
}

// TestSecondDevOnARunningDataDirectory runs two dev systems on one data directory: the second
// is refused at once with the first one's process ID, and the first keeps running.
func TestSecondDevOnARunningDataDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev system")
	}
	dir := t.TempDir()
	first, err := devapp.Start(context.Background(), devapp.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer first.Close()

	_, err = devapp.Start(context.Background(), devapp.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	require.EqualError(t, err, fmt.Sprintf("devapp: data directory %s is in use by PID %d", dir, os.Getpid()))
	require.FileExists(t, filepath.Join(dir, devapp.CredentialsFile), "the first system's keys are kept")
	require.NoError(t, first.Close())

	again, err := devapp.Start(context.Background(), devapp.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err, "after Close the directory is free")
	require.NoError(t, again.Close())
}
