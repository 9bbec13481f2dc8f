// Command vulnreport reads the JSON stream of `govulncheck -format json` on standard input and
// fails (exit 1) when the code calls a vulnerable function of a module (or "stdlib") for which
// the allow file has no line "<OSV ID> <module> <why>" ('#' starts a comment): an allowance is
// for one module, so that the same vulnerability in another module still fails. It prints every called vulnerability,
// allowed or not, with the fixed version, and counts the ones only imported or required.
//
//	govulncheck -db file://DIR -format json ./... | go run ./internal/tools/vulnreport -allow .ci/vuln-allow.txt
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// message is one object of govulncheck's JSON stream (only the parts read here).
type message struct {
	Config *struct {
		DB      string `json:"db"`
		Scanner string `json:"scanner_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

// vuln is one vulnerability the code calls.
type vuln struct {
	id, summary string
	found       map[string]string // module@version → fixed version
}

func main() {
	allowPath := flag.String("allow", "", "file of allowed OSV IDs (one a line, then the reason)")
	flag.Parse()
	code, err := run(os.Stdin, os.Stdout, *allowPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulnreport:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// run reports the stream in and returns the exit code.
func run(in io.Reader, out io.Writer, allowPath string) (int, error) {
	allowed, err := readAllow(allowPath)
	if err != nil {
		return 0, err
	}
	called, reachable, err := readFindings(in)
	if err != nil {
		return 0, err
	}
	ids := make([]string, 0, len(called))
	for id := range called {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	failing := 0
	for _, id := range ids {
		v := called[id]
		fmt.Fprintf(out, "%s: %s\n", id, v.summary)
		mods := make([]string, 0, len(v.found))
		for mod := range v.found {
			mods = append(mods, mod)
		}
		sort.Strings(mods)
		for _, mod := range mods {
			verdict := "CALLED"
			if reason, ok := allowed[id+" "+modulePath(mod)]; ok {
				verdict = "allowed: " + reason
				delete(allowed, id+" "+modulePath(mod))
			} else {
				failing++
			}
			fmt.Fprintf(out, "    %s, fixed in %s: %s\n", mod, v.found[mod], verdict)
		}
	}
	fmt.Fprintf(out, "vulnerabilities: %d called (%d findings not allowed), %d more only imported or required\n",
		len(called), failing, len(reachable))
	for k := range allowed {
		fmt.Fprintf(out, "note: allowed %s is no longer called; remove it from the allow file\n", k)
	}
	if failing > 0 {
		return 1, nil
	}
	return 0, nil
}

// readFindings reads the stream: the vulnerabilities the code calls (a finding whose trace
// starts at a function), and the IDs of the others.
func readFindings(in io.Reader) (map[string]*vuln, map[string]bool, error) {
	called, other := map[string]*vuln{}, map[string]bool{}
	summaries := map[string]string{}
	dec := json.NewDecoder(bufio.NewReader(in))
	sawConfig := false
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("read govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			sawConfig = true
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			if f.Trace[0].Function == "" {
				other[f.OSV] = true
				continue
			}
			v := called[f.OSV]
			if v == nil {
				v = &vuln{id: f.OSV, found: map[string]string{}}
				called[f.OSV] = v
			}
			mod := f.Trace[0].Module
			if f.Trace[0].Version != "" {
				mod += "@" + f.Trace[0].Version
			}
			v.found[mod] = f.FixedVersion
		}
	}
	if !sawConfig {
		return nil, nil, errors.New("the input is not govulncheck's JSON output (no config message)")
	}
	for id, v := range called {
		v.summary = summaries[id]
		delete(other, id)
	}
	return called, other, nil
}

// modulePath is the module of "module@version".
func modulePath(mod string) string {
	path, _, _ := strings.Cut(mod, "@")
	return path
}

// readAllow reads the allow file: "<OSV ID> <module>" → reason.
func readAllow(path string) (map[string]string, error) {
	allowed := map[string]string{}
	if path == "" {
		return allowed, nil
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the CI script names the file
	if err != nil {
		return nil, fmt.Errorf("allow file: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("allow file %s:%d: want <OSV ID> <module> <reason>", path, i+1)
		}
		allowed[fields[0]+" "+fields[1]] = strings.Join(fields[2:], " ")
	}
	return allowed, nil
}
