package fabricca_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway/fabricca"
	"github.com/xborder/xborder/network/devnet/ca"
	"github.com/xborder/xborder/network/devnet/msp"
)

// attrsOf returns the Fabric CA attributes of an enrolled certificate.
func attrsOf(t *testing.T, e *fabricca.Enrollment) map[string]string {
	t.Helper()
	for _, ext := range e.Certificate.Extensions {
		if ext.Id.Equal(msp.AttributeOID) {
			var v struct {
				Attrs map[string]string `json:"attrs"`
			}
			require.NoError(t, json.Unmarshal(ext.Value, &v))
			return v.Attrs
		}
	}
	return nil
}

// exercise registers, enrols and revokes a user on the CA at url with the client, as both CAs
// (the devnet's and fabric-ca-server) must behave.
func exercise(t *testing.T, c *fabricca.Client) {
	ctx := context.Background()
	secret, err := c.Register(ctx, fabricca.Registration{ID: "shop-a-user", Type: "client", MaxEnrollments: -1,
		Attributes: []fabricca.Attribute{{Name: "xborder.merchantId", Value: "shop-a,shop-b", ECert: true}, {Name: "xborder.role", Value: "api-user", ECert: true}}})
	require.NoError(t, err)
	require.NotEmpty(t, secret)

	e, err := c.Enroll(ctx, "shop-a-user", secret)
	require.NoError(t, err)
	require.Equal(t, "shop-a-user", e.Certificate.Subject.CommonName)
	require.Contains(t, e.Certificate.Subject.OrganizationalUnit, "client")
	attrs := attrsOf(t, e)
	require.Equal(t, "shop-a,shop-b", attrs["xborder.merchantId"])
	require.Equal(t, "api-user", attrs["xborder.role"])
	require.Equal(t, "shop-a-user", attrs["hf.EnrollmentID"])

	again, err := c.Enroll(ctx, "shop-a-user", secret)
	require.NoError(t, err, "re-enrolment with the secret (rotation)")
	require.NotEqual(t, e.Certificate.SerialNumber, again.Certificate.SerialNumber)
	require.NoError(t, c.RevokeCertificate(ctx, fmt.Sprintf("%x", e.Certificate.SerialNumber), fmt.Sprintf("%x", e.Certificate.AuthorityKeyId), "superseded"))

	_, err = c.Enroll(ctx, "shop-a-user", "wrong")
	var caErr *fabricca.Error
	require.ErrorAs(t, err, &caErr)
	require.Equal(t, http.StatusUnauthorized, caErr.StatusCode)

	_, err = c.Register(ctx, fabricca.Registration{ID: "shop-a-user"})
	require.Error(t, err, "registered twice")

	require.NoError(t, c.Revoke(ctx, "shop-a-user", "key revoked"))
	_, err = c.Enroll(ctx, "shop-a-user", secret)
	require.Error(t, err, "a revoked identity cannot enrol")

	bad := fabricca.New(c.URL(), "admin", "not-the-secret")
	_, err = bad.Register(ctx, fabricca.Registration{ID: "x"})
	require.ErrorAs(t, err, &caErr)
}

// TestDevnetCA runs the client against the devnet's built-in CA, whose certificates the devnet
// MSP accepts.
func TestDevnetCA(t *testing.T) {
	dir := t.TempDir()
	crypto, err := msp.Generate(dir, msp.DefaultOrgs())
	require.NoError(t, err)
	org := crypto.Org("MerchantMSP")
	c, err := ca.Open(org.MSPID, org.Domain, filepath.Join(org.Dir, "ca", "ca."+org.Domain+"-cert.pem"),
		filepath.Join(org.Dir, "ca", "priv_sk"), filepath.Join(dir, "ca.json"))
	require.NoError(t, err)
	srv := httptest.NewServer(ca.Mux(c))
	defer srv.Close()
	id, secret := c.Registrar()
	client := fabricca.New(srv.URL+"/MerchantMSP", id, secret)
	exercise(t, client)

	// An enrolled user is a valid MerchantMSP identity on the devnet.
	s2, err := client.Register(context.Background(), fabricca.Registration{ID: "u2"})
	require.NoError(t, err)
	e, err := client.Enroll(context.Background(), "u2", s2)
	require.NoError(t, err)
	mgr, err := crypto.Manager()
	require.NoError(t, err)
	signer, err := msp.NewIdentity("MerchantMSP", e.CertificatePEM, e.PrivateKeyPEM)
	require.NoError(t, err)
	msg := []byte("proposal")
	sig, err := signer.Sign(msg)
	require.NoError(t, err)
	require.NoError(t, mgr.Verify(signer.Serialize(), msg, sig))

	// The registry survives a restart.
	reopened, err := ca.Open(org.MSPID, org.Domain, filepath.Join(org.Dir, "ca", "ca."+org.Domain+"-cert.pem"),
		filepath.Join(org.Dir, "ca", "priv_sk"), filepath.Join(dir, "ca.json"))
	require.NoError(t, err)
	_, again := reopened.Registrar()
	require.Equal(t, secret, again)
	require.False(t, reopened.IsRevoked(e.Certificate.SerialNumber))
	require.NoError(t, client.Revoke(context.Background(), "u2", "test"))
	reopened, err = ca.Open(org.MSPID, org.Domain, filepath.Join(org.Dir, "ca", "ca."+org.Domain+"-cert.pem"),
		filepath.Join(org.Dir, "ca", "priv_sk"), filepath.Join(dir, "ca.json"))
	require.NoError(t, err)
	require.True(t, reopened.IsRevoked(e.Certificate.SerialNumber))
}

// TestFabricCAServer runs the client against a real fabric-ca-server from $FABRIC_BIN.
func TestFabricCAServer(t *testing.T) {
	bin := os.Getenv("FABRIC_BIN")
	if bin == "" {
		t.Skip("FABRIC_BIN is not set: no fabric-ca-server to run")
	}
	if testing.Short() {
		t.Skip("-short: starts fabric-ca-server")
	}
	port := freePort(t)
	home := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "fabric-ca-server"), "start", "-b", "admin:adminpw", "--address", "127.0.0.1",
		"--port", fmt.Sprint(port), "--home", home) // #nosec G204 -- the test's own binary and arguments
	cmd.Env = append(os.Environ(), "FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS=127.0.0.1:0")
	log, err := os.Create(filepath.Join(home, "server.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = log.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		res, err := http.Get(url + "/api/v1/cainfo")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "fabric-ca-server did not start; see %s", log.Name())
	exercise(t, fabricca.New(url, "admin", "adminpw"))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
