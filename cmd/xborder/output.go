package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// newTable returns a writer that aligns tab-separated columns, as the listing commands print
// them; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// printFields prints one record as aligned "name: value" lines.
func printFields(w io.Writer, rows [][2]string) {
	tw := newTable(w)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}

// printOnce prints a secret the gateway answers only once (what says what it is), if any.
func printOnce(w io.Writer, what, value string) {
	if value != "" {
		fmt.Fprintf(w, "\n%s:\n  %s\n", what, value)
	}
}
