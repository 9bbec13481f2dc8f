// Command xborder is the xborder command-line tool. Its subcommands run the embedded
// development network and the other parts of the system, for example:
//
//	xborder dev [--data DIR] [--http ADDR]         the whole system in one process
//	xborder gateway --config FILE                  the REST gateway against a Fabric network
//	xborder devnet --data DIR [--chaincode-address ADDR] [--listen HOST] [--port N] ...
//	xborder buyer keygen|sign ...                  a buyer's key and signed statements
//
// Subcommands register themselves in commands (one file each).
//
// Run "xborder <subcommand> -h" for the flags of a subcommand, "xborder version" (or
// --version) for the build. The exit code is 0 on success, 2 for a usage error (a bad flag, an
// unknown subcommand, a missing or unexpected argument) and 1 for a failure at run time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/xborder/xborder/internal/gcpercent"
)

// command is one subcommand of the CLI.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands holds the subcommands by name.
var commands = map[string]command{
	"devnet": {summary: "run the embedded Fabric-compatible development network", run: runDevnet},
}

func main() {
	gcpercent.Apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "xborder: unknown subcommand %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "xborder %s: %v\n", args[0], err)
	return exitCode(err)
}

// exitCode is the exit code of a subcommand's error: 2 for a usage error (a bad flag, an
// unknown subcommand, a missing or unexpected argument), 1 for a failure at run time.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// parseFlags parses args with fs and accepts no positional arguments: a bad flag or an
// argument is a usageError; -h returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	return nil
}

// usageError marks an error in the command line (exit code 2).
type usageError struct{ err error }

// Error returns the message of the underlying error.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e usageError) Unwrap() error { return e.err }

// textLogger logs text lines to w: info and above, debug too when verbose.
func textLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: xborder <subcommand> [flags]    (xborder --version: the build)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Subcommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-14s %s\n", name, commands[name].summary)
	}
}
