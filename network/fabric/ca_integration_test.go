package fabric_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/fabricca"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/fabric"
)

// fabricCAAttrsOID is the certificate extension in which Fabric CA puts an identity's
// attributes ({"attrs":{"name":"value",...}}).
var fabricCAAttrsOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// TestRealFabricCAIdentities runs network.sh up and deploy with XBORDER_FABRIC_CRYPTO=ca (one
// fabric-ca-server per organisation) and the REST gateway on the gateway.yaml and gateway.env
// that deploy wrote, and follows a managed API key with an identity of its own through the
// real network: the organisation's admin key creates it bound to merchant shop-a, the gateway
// registers and enrols its identity at MerchantMSP's real Fabric CA (xborder.merchantId=shop-a
// in the certificate), the key creates and reads shop-a's order with the buyer's private data,
// the gateway refuses it merchant-1's; a proposal signed with the key's own certificate and
// private key (taken from the gateway's wallet) for merchant-1, sent straight to the peers, is
// refused FORBIDDEN by the chaincode; the order's history names the key's identity; revoked,
// the key is 401 and its identity can no longer enrol at the CA. It needs FABRIC_BIN and FABRIC_CA_BIN and takes a few minutes.
func TestRealFabricCAIdentities(t *testing.T) {
	if os.Getenv("FABRIC_BIN") == "" || os.Getenv("FABRIC_CA_BIN") == "" {
		t.Skip("FABRIC_BIN and FABRIC_CA_BIN are not both set: this test runs a real Hyperledger Fabric v3 network " +
			"with one fabric-ca-server per organisation (FABRIC_CA_BIN=<dir with fabric-ca-server and fabric-ca-client>)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the real Fabric network")
	}
	home := filepath.Join(t.TempDir(), "fabric-data")
	env := append(os.Environ(), "XBORDER_FABRIC_HOME="+home, "XBORDER_FABRIC_CRYPTO=ca")
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"peer0.merchant", "peer0.carrier", "chaincode", "ca.merchant"} {
				if b, err := os.ReadFile(filepath.Join(home, "logs", name+".log")); err == nil {
					t.Logf("tail of %s.log:\n%s", name, tail(b, 3000))
				}
			}
		}
		runScript(t, env, 2*time.Minute, "down")
	})
	runScript(t, env, 10*time.Minute, "up")
	runScript(t, env, 10*time.Minute, "deploy")

	dataDir := filepath.Join(t.TempDir(), "gateway-data")
	bin := gatewayBinary(t)
	caEnv := readGatewayEnv(t, home)
	gw, stop := runGateway(t, home, dataDir, bin, caEnv)
	const merchantMSP = "MerchantMSP"
	gw.Must(t, http.StatusCreated, merchantMSP, http.MethodPost, "/api/v1/orders", testkit.NewOrder("fab-ca-b").CreateBody()) // merchant-1

	r := gw.Must(t, http.StatusCreated, merchantMSP, http.MethodPost, "/api/v1/admin/keys",
		map[string]any{"label": "shop A", "merchants": []string{"shop-a"}, "ownIdentity": true})
	var k struct {
		gateway.APIKey
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &k))
	require.Equal(t, k.ID, k.Identity, "the key has an identity of its own")
	require.NotEmpty(t, k.IdentitySerial)

	// The key's identity as the gateway holds it: read from its wallet while it is stopped.
	stop()
	id := walletIdentity(t, home, dataDir, k.ID)
	require.Equal(t, map[string]string{"xborder.merchantId": "shop-a", "xborder.role": "api-user"},
		caAttributes(t, id.CertificatePEM, "xborder.merchantId", "xborder.role"), "issued by MerchantMSP's Fabric CA")
	gw, _ = runGateway(t, home, dataDir, bin, caEnv)
	keyed := testkit.NewClient(gw.BaseURL(), map[string]string{"A": k.Key})

	orderA := testkit.NewOrder("fab-ca-a")
	orderA.MerchantID = "shop-a"
	t.Run("the key creates and reads its merchant's order", func(t *testing.T) {
		keyed.Must(t, http.StatusCreated, "A", http.MethodPost, "/api/v1/orders", orderA.CreateBody())
		o := keyed.Must(t, http.StatusOK, "A", http.MethodGet, "/api/v1/orders/fab-ca-a", nil).JSON(t)
		require.Equal(t, orderA.BuyerName, o["buyer"].(map[string]any)["name"], "the buyer's private data")
	})

	t.Run("the gateway refuses another merchant", func(t *testing.T) {
		keyed.Must(t, http.StatusForbidden, "A", http.MethodPost, "/api/v1/orders", testkit.NewOrder("fab-ca-c").CreateBody())
		keyed.Must(t, http.StatusForbidden, "A", http.MethodGet, "/api/v1/orders/fab-ca-b", nil)
	})

	t.Run("the chaincode refuses the key's identity another merchant", func(t *testing.T) {
		signer, err := msp.NewIdentity(merchantMSP, id.CertificatePEM, id.PrivateKeyPEM)
		require.NoError(t, err)
		f := realForger(t, home, mustOrg(t, merchantMSP), signer)
		other := testkit.NewOrder("fab-ca-d") // merchant-1
		buyer, err := testkit.BuyerRecord(other)
		require.NoError(t, err)
		refusal := f.Refused(t, testkit.Forged{Fn: "CreateOrder", Arg: other.PublicCreateBody(), Transient: buyer,
			Stamped: time.Now(), Endorsers: []string{merchantMSP, "CarrierMSP"}})
		require.Contains(t, refusal, "FORBIDDEN: ")
		require.Contains(t, refusal, "xborder.merchantId")
		gw.Must(t, http.StatusNotFound, merchantMSP, http.MethodGet, "/api/v1/orders/fab-ca-d", nil)
	})

	t.Run("the history names the key's identity", func(t *testing.T) {
		var h struct {
			Entries []struct {
				CreatorMSP  string `json:"creatorMsp"`
				CreatorName string `json:"creatorName"`
			} `json:"entries"`
		}
		require.NoError(t, json.Unmarshal(keyed.Must(t, http.StatusOK, "A", http.MethodGet, "/api/v1/orders/fab-ca-a/history", nil).Body, &h))
		require.NotEmpty(t, h.Entries)
		require.Equal(t, merchantMSP, h.Entries[0].CreatorMSP)
		require.Equal(t, k.ID, h.Entries[0].CreatorName)
	})

	t.Run("revoked, the key is refused and its identity revoked at the CA", func(t *testing.T) {
		ca := merchantCA(t, home)
		_, err := ca.Enroll(context.Background(), id.ID, id.Secret)
		require.NoError(t, err, "before the revocation the identity enrols")
		gw.Must(t, http.StatusOK, merchantMSP, http.MethodPost, "/api/v1/admin/keys/"+k.ID+"/revoke", nil)
		require.Contains(t, string(keyed.Must(t, http.StatusUnauthorized, "A", http.MethodGet, "/api/v1/orders/fab-ca-a", nil).Body), "revoked")
		_, err = ca.Enroll(context.Background(), id.ID, id.Secret)
		require.Error(t, err, "the gateway's registrar revoked the identity at the Fabric CA")
	})
}

// merchantCA is a client of MerchantMSP's fabric-ca-server, over TLS with the CA's TLS
// certificate as gateway.yaml names it.
func merchantCA(t *testing.T, home string) *fabricca.Client {
	t.Helper()
	o := mustOrg(t, "MerchantMSP")
	caPEM, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(o.CATLSCert())))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	h := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return fabricca.New(fmt.Sprintf("https://127.0.0.1:%d", o.CAPort), "", "", fabricca.WithCAName(o.CAName()), fabricca.WithHTTPClient(h))
}

// readGatewayEnv returns gateway.env's variables, as `set -a; . gateway.env` exports them.
func readGatewayEnv(t *testing.T, home string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, fabric.GatewayEnvFile))
	require.NoError(t, err)
	var vars []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			vars = append(vars, line)
		}
	}
	require.Len(t, vars, len(fabric.Orgs()))
	return vars
}

// walletIdentity reads a key's identity from a stopped gateway's gateway.db.
func walletIdentity(t *testing.T, home, dataDir, id string) gateway.WalletIdentity {
	t.Helper()
	keys, err := store.LoadKeyringFile(filepath.Join(home, fabric.StoreKeyFile))
	require.NoError(t, err)
	s, err := store.Open(filepath.Join(dataDir, "gateway.db"), store.WithKeyring(keys))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	w, err := s.WalletIdentity(id)
	require.NoError(t, err)
	return w
}

// caAttributes returns the named Fabric CA attributes of a certificate.
func caAttributes(t *testing.T, certPEM []byte, names ...string) map[string]string {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(fabricCAAttrsOID) {
			continue
		}
		var v struct {
			Attrs map[string]string `json:"attrs"`
		}
		require.NoError(t, json.Unmarshal(ext.Value, &v))
		out := map[string]string{}
		for _, n := range names {
			out[n] = v.Attrs[n]
		}
		return out
	}
	t.Fatal("the certificate has no Fabric CA attributes")
	return nil
}
