package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no subcommand", nil, 2},
		{"help", []string{"help"}, 0},
		{"unknown", []string{"nope"}, 2},
		{"bad flag", []string{"devnet", "--no-such-flag"}, 2},
		{"extra argument", []string{"devnet", "extra"}, 2},
		{"bad commit delay", []string{"devnet", "--commit-delay", "BankMSP=soon"}, 2},
		{"commit delay without organisation", []string{"devnet", "--commit-delay", "300ms"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			require.Equal(t, tc.code, code, errOut.String())
		})
	}
}

func TestDevnetCommand(t *testing.T) {
	tests := []struct {
		name  string
		args  func(t *testing.T) []string
		check func(t *testing.T, contract *client.Contract)
	}{
		{
			name: "external chaincode server",
			args: func(t *testing.T) []string {
				return []string{"--chaincode", "kv", "--chaincode-address", startKV(t), "--endorsement-policy", "OR('MerchantMSP.peer')",
					"--commit-delay", "BankMSP=0,CustomsMSP=10ms"}
			},
			check: func(t *testing.T, contract *client.Contract) {
				_, err := contract.SubmitTransaction("put", "cli", "works")
				require.NoError(t, err)
				v, err := contract.EvaluateTransaction("get", "cli")
				require.NoError(t, err)
				require.Equal(t, "works", string(v))
			},
		},
		{
			name: "in-process xborder chaincode",
			args: func(*testing.T) []string { return nil },
			check: func(t *testing.T, contract *client.Contract) {
				md, err := contract.EvaluateTransaction("org.hyperledger.fabric:GetMetadata")
				require.NoError(t, err)
				require.Contains(t, string(md), "xborder")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := t.TempDir()
			var out, errOut testkit.SyncBuffer
			done := make(chan int, 1)
			args := append([]string{"devnet", "--data", dir, "--port", "0"}, tc.args(t)...)
			go func() { done <- run(ctx, args, &out, &errOut) }()
			info := waitConnectionInfo(t, filepath.Join(dir, "connection.json"), done, &errOut)
			require.Equal(t, "xborder", info.Channel)
			require.Len(t, info.Peers, 5, "Merchant, Bank, Carrier, Customs and Regulator")
			require.Equal(t, "MerchantMSP", info.Peers[0].MSPID)
			tc.check(t, connect(t, info, info.Peers[0]))
			cancel()
			select {
			case code := <-done:
				require.Equal(t, 0, code, errOut.String())
			case <-time.After(30 * time.Second):
				t.Fatal("devnet did not shut down")
			}
			require.Contains(t, out.String(), "devnet ready")
		})
	}
}

func waitConnectionInfo(t *testing.T, path string, done <-chan int, errOut *testkit.SyncBuffer) connectionInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var raw []byte
	var err error
	for time.Now().Before(deadline) {
		if raw, err = os.ReadFile(path); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("devnet exited with %d: %s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.NoError(t, err)
	var info connectionInfo
	require.NoError(t, json.Unmarshal(raw, &info))
	return info
}

// connect connects the Gateway SDK to a peer using only the files the command printed.
func connect(t *testing.T, info connectionInfo, p devnet.PeerInfo) *client.Contract {
	t.Helper()
	caPEM, err := os.ReadFile(p.TLSCACertPath)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(p.Address, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, p.Name)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	certPEM, err := os.ReadFile(p.ClientCertPath)
	require.NoError(t, err)
	cert, err := identity.CertificateFromPEM(certPEM)
	require.NoError(t, err)
	id, err := identity.NewX509Identity(p.MSPID, cert)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(p.ClientKeyPath)
	require.NoError(t, err)
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(key)
	require.NoError(t, err)
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw.GetNetwork(info.Channel).GetContract(info.Chaincode)
}

// kv is a minimal chaincode: put(key, value) and get(key).
type kv struct{}

func (kv) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (kv) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch {
	case fn == "put" && len(args) == 2:
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case fn == "get" && len(args) == 1:
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(v)
	}
	return shim.Error("INVALID_ARGUMENT: unknown function " + fn)
}

// startKV serves kv as a chaincode-as-a-service server on a free loopback port.
func startKV(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	peer.RegisterChaincodeServer(gs, &shim.ChaincodeServer{
		CCID:     "kv_1.0:0000",
		Address:  lis.Addr().String(),
		CC:       kv{},
		TLSProps: shim.TLSProperties{Disabled: true},
	})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// TestGatewayTLSFlags checks that the TLS flags of `xborder gateway` apply over the
// configuration file and are validated with it.
func TestGatewayTLSFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`organizations:
  - mspId: BankMSP
    peerEndpoint: 127.0.0.1:1
    certificate: cert.pem
    privateKey: key.pem
`), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"certificate without key", []string{"--tls-cert", "server.crt"}, "certFile and keyFile go together"},
		{"client CAs without a certificate", []string{"--tls-client-ca", "clients.pem"}, "need certFile and keyFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"gateway", "--config", cfg}, tc.args...), &out, &errOut)
			require.Equal(t, 1, code)
			require.Contains(t, errOut.String(), tc.want)
		})
	}
}
