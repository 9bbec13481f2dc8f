package swaggerui_test

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api/swaggerui"
)

// TestVendoredVersion checks that the files are there and that Version names the vendored
// package, so that a re-vendoring cannot leave the constant stale.
func TestVendoredVersion(t *testing.T) {
	files := swaggerui.FS()
	for _, name := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"} {
		info, err := fs.Stat(files, name)
		require.NoError(t, err, name)
		require.Positive(t, info.Size(), name)
	}
	raw, err := fs.ReadFile(files, "package.json")
	require.NoError(t, err)
	var pkg struct{ Name, Version string }
	require.NoError(t, json.Unmarshal(raw, &pkg))
	require.Equal(t, "swagger-ui-dist", pkg.Name)
	require.Equal(t, swaggerui.Version, pkg.Version)
}
