package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnvVarsListsEveryVariable checks that every XBORDER_* name the package's code spells out
// is in EnvVars, so a variable read outside the list (and missing from `xborder gateway
// --help`) fails here.
func TestEnvVarsListsEveryVariable(t *testing.T) {
	listed := map[string]bool{}
	for _, ev := range EnvVars() {
		require.False(t, listed[ev.Name], "%s listed twice", ev.Name)
		require.NotEmpty(t, ev.Usage, ev.Name)
		listed[ev.Name] = true
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	name := regexp.MustCompile(`XBORDER_[A-Z0-9_]+`)
	seen := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			for _, v := range name.FindAllString(s, -1) {
				seen++
				require.True(t, listed[v], "%s (in %s) is not in EnvVars", v, file)
			}
			return true
		})
	}
	require.GreaterOrEqual(t, seen, len(listed), "every listed variable is spelled out in the code")
}

// TestEnvVarsTakeEffect checks that each listed variable changes the configuration.
func TestEnvVarsTakeEffect(t *testing.T) {
	candidates := []string{"7", "true", "7s", "back-office:BankMSP:svc:" + strings.Repeat("ab", 32)}
	for _, ev := range EnvVars() {
		t.Run(ev.Name, func(t *testing.T) {
			for _, v := range candidates {
				cfg := Defaults()
				if err := applyEnv(&cfg, []string{ev.Name + "=" + v}); err != nil {
					require.ErrorContains(t, err, ev.Name, "the error names the variable")
					continue
				}
				require.False(t, reflect.DeepEqual(cfg, Defaults()), "%s=%s changed nothing", ev.Name, v)
				return
			}
			t.Fatalf("no value of %v is accepted by %s", candidates, ev.Name)
		})
	}
}

// TestExampleIsTheFile checks that Example is example.yaml and loads.
func TestExampleIsTheFile(t *testing.T) {
	raw, err := os.ReadFile("example.yaml")
	require.NoError(t, err)
	require.Equal(t, raw, Example())
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	require.NoError(t, os.WriteFile(path, Example(), 0o600))
	_, err = Load(path, nil)
	require.NoError(t, err)
}
