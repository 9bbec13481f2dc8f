package fabric_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/fabric"
)

// untar reads a gzipped tar into name → content, in order, checking every entry is a regular
// file (Fabric's package parser rejects anything else).
func untar(t *testing.T, b []byte) ([]string, map[string][]byte) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var names []string
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, byte(tar.TypeReg), h.Typeflag, h.Name)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		names = append(names, h.Name)
		files[h.Name] = data
	}
	return names, files
}

func TestBuildPackageLayout(t *testing.T) {
	pkg, id, err := fabric.DefaultPackage()
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^xborder_1\.0:[0-9a-f]{64}$`), id)
	require.Equal(t, fabric.PackageID(fabric.ChaincodeLabel, pkg), id)

	names, files := untar(t, pkg)
	require.Equal(t, []string{"metadata.json", "code.tar.gz"}, names)
	var meta fabric.PackageMetadata
	require.NoError(t, json.Unmarshal(files["metadata.json"], &meta))
	require.Equal(t, fabric.PackageMetadata{Type: "ccaas", Label: fabric.ChaincodeLabel}, meta)

	codeNames, code := untar(t, files["code.tar.gz"])
	require.Equal(t, "connection.json", codeNames[0])
	var conn fabric.Connection
	require.NoError(t, json.Unmarshal(code["connection.json"], &conn))
	require.Equal(t, fabric.DefaultConnection(), conn)
	require.Equal(t, "{{.address}}", conn.Address)

	var indexes int
	for _, name := range codeNames[1:] {
		require.True(t, strings.HasPrefix(name, "META-INF/statedb/couchdb/indexes/"), name)
		var idx struct {
			Index struct {
				Fields []string `json:"fields"`
			} `json:"index"`
			DDoc string `json:"ddoc"`
			Name string `json:"name"`
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(code[name], &idx), name)
		require.NotEmpty(t, idx.Index.Fields, name)
		require.NotEmpty(t, idx.DDoc, name)
		require.Equal(t, "json", idx.Type, name)
		indexes++
	}
	require.Positive(t, indexes, "CouchDB indexes are shipped in the package")
}

func TestBuildPackageReproducible(t *testing.T) {
	tests := []struct {
		name  string
		label string
		conn  fabric.Connection
	}{
		{"default", fabric.ChaincodeLabel, fabric.DefaultConnection()},
		{"fixed address", "xborder_2.0", fabric.Connection{Address: "cc.example:9999", DialTimeout: "5s"}},
		{"tls flag", "xborder_tls", fabric.Connection{Address: "{{.address}}", DialTimeout: "10s", TLSRequired: true}},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := fabric.BuildPackage(tc.label, tc.conn)
			require.NoError(t, err)
			b, err := fabric.BuildPackage(tc.label, tc.conn)
			require.NoError(t, err)
			require.Equal(t, a, b, "the same inputs give the same bytes")
			id := fabric.PackageID(tc.label, a)
			require.True(t, strings.HasPrefix(id, tc.label+":"))
			for other, otherID := range seen {
				require.NotEqual(t, otherID, id, "package IDs of %s and %s", tc.name, other)
			}
			seen[tc.name] = id
		})
	}
}

func TestBuildPackageRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		label string
		conn  fabric.Connection
		err   string
	}{
		{"empty label", "", fabric.DefaultConnection(), "chaincode label"},
		{"label with space", "xborder 1", fabric.DefaultConnection(), "chaincode label"},
		{"label starting with dot", ".xborder", fabric.DefaultConnection(), "chaincode label"},
		{"no address", "xborder_1.0", fabric.Connection{DialTimeout: "10s"}, "address is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fabric.BuildPackage(tc.label, tc.conn)
			require.ErrorContains(t, err, tc.err)
		})
	}
}
