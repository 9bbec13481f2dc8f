package fabric

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"time"
)

// couchDBIndexes are the CouchDB index definitions shipped in the chaincode package. Fabric
// creates them on peers whose state database is CouchDB and ignores them on LevelDB.
//
//go:embed couchdb/indexes/*.json
var couchDBIndexes embed.FS

// AddressTemplate is the chaincode server address in the package's connection.json: Fabric's
// ccaas builder fills it from the peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG variable
// ({"address": "host:port"}), so one package, with one package ID, serves every peer whatever
// the address of the chaincode server it dials.
const AddressTemplate = "{{.address}}"

// Connection is the connection.json of a chaincode-as-a-service package, as Fabric's ccaas
// builder reads it. The builder renders Address, DialTimeout and, with TLS, the three PEM
// fields as Go templates over the peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG.
type Connection struct {
	Address            string `json:"address"`
	DialTimeout        string `json:"dial_timeout"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required,omitempty"`
	RootCert           string `json:"root_cert,omitempty"`
	ClientKey          string `json:"client_key,omitempty"`
	ClientCert         string `json:"client_cert,omitempty"`
}

// PackageMetadata is the metadata.json of a chaincode package.
type PackageMetadata struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

var labelPattern = regexp.MustCompile(`^[[:alnum:]][[:alnum:]_.+-]*$`)

// DefaultConnection is the connection.json xborder deploys: the address comes from the peer's
// builder configuration, and the peer dials the chaincode server in plaintext on loopback (native
// network) or on the compose network.
func DefaultConnection() Connection {
	return Connection{Address: AddressTemplate, DialTimeout: "10s", TLSRequired: false}
}

// TLSConnection is the connection.json of the mutual-TLS variant (network.sh with
// XBORDER_CHAINCODE_TLS=true): the peer verifies the chaincode server against root_cert and
// authenticates with client_cert / client_key, all three taken from the peer's builder
// configuration (see BuilderConfig), so the package still holds no key.
func TLSConnection() Connection {
	return Connection{
		Address: AddressTemplate, DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true,
		RootCert: "{{.root_cert}}", ClientKey: "{{.client_key}}", ClientCert: "{{.client_cert}}",
	}
}

// BuildPackage returns a chaincode-as-a-service package (a gzipped tar holding metadata.json and
// code.tar.gz, which holds connection.json and the CouchDB indexes under META-INF). The bytes
// depend only on the arguments and the embedded indexes: file times, owners and gzip headers
// are fixed, so the package ID is reproducible on any machine.
func BuildPackage(label string, conn Connection) ([]byte, error) {
	if !labelPattern.MatchString(label) {
		return nil, fmt.Errorf("chaincode label %q: must match %s", label, labelPattern)
	}
	if conn.Address == "" {
		return nil, fmt.Errorf("chaincode package %s: connection address is required", label)
	}
	// #nosec G117 -- connection.json holds templates; the keys come from the peer's builder config
	connJSON, err := json.MarshalIndent(conn, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode connection.json: %w", err)
	}
	codeFiles := []tarFile{{name: "connection.json", data: append(connJSON, '\n')}}
	indexes, err := fs.Glob(couchDBIndexes, "couchdb/indexes/*.json")
	if err != nil {
		return nil, fmt.Errorf("list CouchDB indexes: %w", err)
	}
	slices.Sort(indexes)
	for _, name := range indexes {
		b, err := couchDBIndexes.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read CouchDB index %s: %w", name, err)
		}
		codeFiles = append(codeFiles, tarFile{name: path.Join("META-INF", "statedb", "couchdb", "indexes", path.Base(name)), data: b})
	}
	code, err := tarGz(codeFiles)
	if err != nil {
		return nil, fmt.Errorf("build code.tar.gz: %w", err)
	}
	meta, err := json.Marshal(PackageMetadata{Type: "ccaas", Label: label})
	if err != nil {
		return nil, fmt.Errorf("encode metadata.json: %w", err)
	}
	pkg, err := tarGz([]tarFile{{name: "metadata.json", data: meta}, {name: "code.tar.gz", data: code}})
	if err != nil {
		return nil, fmt.Errorf("build chaincode package: %w", err)
	}
	return pkg, nil
}

// PackageID returns the ID Fabric's lifecycle gives an installed package: its label, a colon
// and the hex SHA-256 of the package bytes.
func PackageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

// DefaultPackage builds the package network.sh and docker-compose.yaml deploy
// (ChaincodeLabel, DefaultConnection) and returns it with its package ID.
func DefaultPackage() (pkg []byte, packageID string, err error) {
	pkg, err = BuildPackage(ChaincodeLabel, DefaultConnection())
	if err != nil {
		return nil, "", err
	}
	return pkg, PackageID(ChaincodeLabel, pkg), nil
}

type tarFile struct {
	name string
	data []byte
}

// tarGz writes files, in order, into a gzipped tar with fixed metadata.
func tarGz(files []tarFile) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip writer: %w", err)
	}
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Mode:     0o644,
			Size:     int64(len(f.data)),
			ModTime:  time.Unix(0, 0).UTC(),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("close gzip: %w", err)
	}
	return buf.Bytes(), nil
}
