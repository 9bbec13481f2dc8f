package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

func init() {
	commands["version"] = command{summary: "print the version of xborder, its source revision and Go version (also --version)", run: runVersion}
}

// runVersion implements `xborder version` (and `xborder --version`).
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("this binary carries no build information")
	}
	fmt.Fprintln(stdout, versionText(info))
	return nil
}

// versionText describes a build: the module version ("(devel)" when built from a source
// tree), the VCS revision and time and whether the tree was modified, when the build recorded
// them, and the Go version, e.g.
//
//	xborder v1.2.0 (revision 2fe9f1a6c0de, 2026-12-01T10:00:00Z, modified) go1.26.8 linux/amd64
func versionText(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	text := "xborder " + version
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		text += " (revision " + rev
		if t := settings["vcs.time"]; t != "" {
			text += ", " + t
		}
		if settings["vcs.modified"] == "true" {
			text += ", modified"
		}
		text += ")"
	}
	text += " " + info.GoVersion
	if goos, goarch := settings["GOOS"], settings["GOARCH"]; goos != "" && goarch != "" {
		text += " " + goos + "/" + goarch
	}
	return text
}
