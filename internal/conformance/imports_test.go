package conformance_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/xborder/xborder"

// TestImportRules keeps the layers apart: the gateway speaks to the chaincode only through
// Fabric (so it never links the contract or the development network), and the chaincode knows
// nothing of the gateway or of any network. Test code is exempt (go list -deps follows the
// packages' own imports only).
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	for _, tc := range []struct {
		packages  string
		forbidden []string
	}{
		{module + "/gateway/...", []string{module + "/chaincode", module + "/network/devnet", module + "/internal/"}},
		{module + "/chaincode/...", []string{module + "/gateway", module + "/network/"}},
	} {
		t.Run(tc.packages, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{range .Deps}} {{.}}{{end}}", tc.packages).CombinedOutput()
			require.NoError(t, err, "go list: %s", out)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			require.NotEmpty(t, lines)
			for _, line := range lines {
				pkg, deps, _ := strings.Cut(line, ":")
				for _, dep := range strings.Fields(deps) {
					for _, f := range tc.forbidden {
						require.False(t, dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/"),
							"%s depends on %s, which it must not (rule: %v)", pkg, dep, tc.forbidden)
					}
				}
			}
		})
	}
}
