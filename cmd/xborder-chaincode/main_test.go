package main

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/chaincode"
)

func TestServerConfig(t *testing.T) {
	files := map[string][]byte{"/k.pem": []byte("KEY"), "/c.pem": []byte("CERT"), "/ca.pem": []byte("CA")}
	readFile := func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, fs.ErrNotExist
	}
	cases := []struct {
		name                string
		env                 map[string]string
		server              bool
		disabled            bool
		key, cert, clientCA string
		err                 string
	}{
		{name: "classic", env: map[string]string{"CORE_CHAINCODE_ID_NAME": "xborder:1"}},
		{name: "address only", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:9999"}},
		{name: "ccaas without TLS", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:9999", "CORE_CHAINCODE_ID_NAME": "xborder:1"}, server: true, disabled: true},
		{name: "ccaas TLS disabled explicitly", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_DISABLED": "true", "CHAINCODE_TLS_KEY": "/k.pem"}, server: true, disabled: true},
		{name: "ccaas CHAINCODE_TLS files", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_DISABLED": "false", "CHAINCODE_TLS_KEY": "/k.pem", "CHAINCODE_TLS_CERT": "/c.pem", "CHAINCODE_CLIENT_CA_CERT": "/ca.pem"}, server: true, key: "KEY", cert: "CERT", clientCA: "CA"},
		{name: "ccaas CHAINCODE_TLS without CA", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_KEY": "/k.pem", "CHAINCODE_TLS_CERT": "/c.pem"}, server: true, key: "KEY", cert: "CERT"},
		{name: "ccaas CORE_PEER_TLS files", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CORE_PEER_TLS_ENABLED": "true", "CORE_TLS_CLIENT_KEY_FILE": "/k.pem", "CORE_TLS_CLIENT_CERT_FILE": "/c.pem", "CORE_PEER_TLS_ROOTCERT_FILE": "/ca.pem"}, server: true, key: "KEY", cert: "CERT", clientCA: "CA"},
		{name: "ccaas CORE_PEER_TLS disabled", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CORE_PEER_TLS_ENABLED": "false"}, server: true, disabled: true},
		{name: "missing key file", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_KEY": "/missing.pem", "CHAINCODE_TLS_CERT": "/c.pem"}, err: "read CHAINCODE_TLS_KEY"},
		{name: "missing cert variable", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_KEY": "/k.pem"}, err: "CHAINCODE_TLS_CERT must name a PEM file"},
		{name: "bad boolean", env: map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_DISABLED": "maybe"}, err: "CHAINCODE_TLS_DISABLED must be true or false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			s, err := serverConfig(lookup, readFile)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			if !c.server {
				require.Nil(t, s)
				return
			}
			require.NotNil(t, s)
			require.Equal(t, c.env["CHAINCODE_SERVER_ADDRESS"], s.Address)
			require.Equal(t, c.env["CORE_CHAINCODE_ID_NAME"], s.CCID)
			require.Equal(t, c.disabled, s.TLSProps.Disabled)
			require.Equal(t, c.key, string(s.TLSProps.Key))
			require.Equal(t, c.cert, string(s.TLSProps.Cert))
			require.Equal(t, c.clientCA, string(s.TLSProps.ClientCACerts))
		})
	}
}

func TestRunReportsStartErrors(t *testing.T) {
	env := map[string]string{"CHAINCODE_SERVER_ADDRESS": "a:1", "CORE_CHAINCODE_ID_NAME": "x", "CHAINCODE_TLS_KEY": "/nope"}
	err := run(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, func(string) ([]byte, error) { return nil, errors.New("no such file") })
	require.ErrorContains(t, err, "no such file")
}

func TestMaxClockSkew(t *testing.T) {
	cases := []struct {
		value string
		set   bool
		want  time.Duration
		err   string
	}{
		{set: false, want: chaincode.DefaultMaxClockSkew},
		{value: "", set: true, want: chaincode.DefaultMaxClockSkew},
		{value: "0", set: true, want: 0},
		{value: "90s", set: true, want: 90 * time.Second},
		{value: "1h", set: true, want: time.Hour},
		{value: "-1m", set: true, err: "XBORDER_MAX_CLOCK_SKEW must be a non-negative duration"},
		{value: "five", set: true, err: `got "five"`},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			lookup := func(k string) (string, bool) {
				if k == "XBORDER_MAX_CLOCK_SKEW" && c.set {
					return c.value, true
				}
				return "", false
			}
			got, err := maxClockSkew(lookup)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	_, err := maxClockSkew(func(string) (string, bool) { return "soon", true })
	require.Error(t, err)
	require.ErrorContains(t, run(func(k string) (string, bool) { return "soon", k == "XBORDER_MAX_CLOCK_SKEW" }, nil), "XBORDER_MAX_CLOCK_SKEW", "run refuses a bad skew before starting")
}
