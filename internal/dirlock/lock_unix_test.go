//go:build unix

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAcquire(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir, "x.lock")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "x.lock"))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid()), strings.TrimSpace(string(b)), "the lock file names its holder")

	_, err = Acquire(dir, "x.lock")
	var inUse *InUseError
	require.True(t, errors.As(err, &inUse), "%v", err)
	require.Equal(t, os.Getpid(), inUse.PID)
	require.EqualError(t, err, fmt.Sprintf("data directory %s is in use by PID %d", dir, os.Getpid()))

	other, err := Acquire(dir, "y.lock")
	require.NoError(t, err, "another lock file of the same directory is another lock")
	require.NoError(t, other.Release())

	require.NoError(t, l.Release())
	again, err := Acquire(dir, "x.lock")
	require.NoError(t, err, "a released lock can be taken again")
	require.NoError(t, again.Release())
}

func TestInUseErrorWithoutPID(t *testing.T) {
	require.EqualError(t, &InUseError{Dir: "d"}, "data directory d is in use by another process")
}
