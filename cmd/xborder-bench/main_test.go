package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunArgumentErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no rounds", []string{"--embedded"}, "no rounds"},
		{"unknown preset", []string{"--preset", "huge"}, "unknown preset"},
		{"bad round", []string{"--round", "workload=create"}, "count or duration"},
		{"no target", []string{"--preset", "smoke"}, "no target"},
		{"rest without credentials", []string{"--target", "rest", "--preset", "smoke"}, "needs --credentials"},
		{"sdk without devnet data", []string{"--target", "sdk", "--preset", "smoke"}, "needs --devnet-data"},
		{"sdk without connection file", []string{"--target", "sdk", "--devnet-data", t.TempDir(), "--preset", "smoke"}, "connection.json"},
		{"unknown target", []string{"--target", "grpc", "--preset", "smoke"}, "unknown target"},
		{"sdk without gateway config", []string{"--target", "sdk", "--gateway-config", t.TempDir() + "/gateway.yaml", "--preset", "smoke"}, "gateway.yaml"},
		{"two systems", []string{"--embedded", "--fabric-home", t.TempDir(), "--preset", "smoke"}, "give one"},
		{"fabric home without a network", []string{"--fabric-home", t.TempDir(), "--preset", "smoke"}, "gateway.yaml"},
		{"stray argument", []string{"--preset", "smoke", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--speed", "3"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, stdout.String())
		})
	}
}

func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"rest", []string{"rest"}},
		{" rest , sdk ,rest,", []string{"rest", "sdk"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, splitList(tc.in))
		})
	}
}

func TestUseProgress(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct {
		mode string
		want bool
	}{{"on", true}, {"off", false}, {"auto", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			require.Equal(t, tc.want, useProgress(tc.mode, &buf), "a buffer is not a terminal")
		})
	}
}
