package fabric_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/fabric"
)

// realForger connects a testkit.Forger to org's real peer (TLS, its organisation's TLS CA)
// signing as id, or as the organisation's cryptogen user when id is nil.
func realForger(t *testing.T, home string, org fabric.Org, id *msp.Identity) *testkit.Forger {
	t.Helper()
	if id == nil {
		id = loadUser(t, home, org)
	}
	caPEM, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(org.TLSCACert())))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(fabric.HostPort("127.0.0.1", org.PeerPort),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: org.PeerHost(), MinVersion: tls.VersionTLS12})))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	f, err := testkit.NewForger(conn, id, fabric.Channel, fabric.ChaincodeName)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func loadUser(t *testing.T, home string, org fabric.Org) *msp.Identity {
	t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(org.UserCert(fabric.GatewayUser))))
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(org.UserKey(fabric.GatewayUser))))
	require.NoError(t, err)
	id, err := msp.NewIdentity(org.MSPID, certPEM, keyPEM)
	require.NoError(t, err)
	return id
}

// mustOrg returns the organisation with the MSP ID.
func mustOrg(t *testing.T, mspID string) fabric.Org {
	t.Helper()
	o, err := fabric.OrgByMSPID(mspID)
	require.NoError(t, err)
	return o
}

// escrowOf is an order's status and escrow (amount, released, refunded) as the bank reads it.
func escrowOf(t *testing.T, gw *testkit.Client, id string) []any {
	t.Helper()
	o := gw.Must(t, http.StatusOK, "BankMSP", http.MethodGet, "/api/v1/orders/"+id, nil).JSON(t)
	return []any{o["status"], testkit.Escrow(t, o)}
}

// testTrustModel sends the attacks of issue 11 as hand-signed proposals through the Gateway
// SDK to the real peers (the devnet's versions are internal/devapp/trust_test.go): a forged
// timestamp is refused by every endorsing peer, far off by Fabric's own time window and
// within it by the chaincode; an identity a merchant platform's CA bound to
// one merchant cannot act for another; money leaving escrow without the bank's peer is
// ENDORSEMENT_POLICY_FAILURE at commit, as Fabric's validator applies the escrow key's
// key-level policy. Each leaves the order's escrow unchanged. It sets a yearly limit, so it
// runs last.
func testTrustModel(t *testing.T, home string, gw *testkit.Client) {
	delivered := testkit.NewOrder("fab-trust-delivered")
	gw.CreateAndPay(t, delivered)
	gw.DocumentAndClear(t, delivered, testkit.ClearedDecision())
	gw.Deliver(t, delivered)
	gw.CreateAndPay(t, testkit.NewOrder("fab-trust-paid"))

	gw.Must(t, http.StatusOK, "CustomsMSP", http.MethodPut, "/api/v1/compliance/rules", map[string]any{"yearlyLimit": map[string]any{"USD": 6000}})
	yearly := func(id string, public bool) map[string]any {
		b := testkit.NewOrder(id).CreateBody()
		if public {
			b = testkit.NewOrder(id).PublicCreateBody()
		}
		b["buyer"].(map[string]any)["id"] = "buyer-fab-yearly"
		return b
	}
	gw.Must(t, http.StatusCreated, "MerchantMSP", http.MethodPost, "/api/v1/orders", yearly("fab-trust-y1", false))
	gw.Must(t, http.StatusCreated, "MerchantMSP", http.MethodPost, "/api/v1/orders", yearly("fab-trust-y2", false))
	gw.Must(t, http.StatusUnprocessableEntity, "MerchantMSP", http.MethodPost, "/api/v1/orders", yearly("fab-trust-y3", false))
	buyer, err := testkit.BuyerRecord(testkit.NewOrder("fab-trust-y3"))
	require.NoError(t, err)

	merchantOrg := mustOrg(t, "MerchantMSP")
	mspOrg, err := msp.LoadOrg(filepath.Join(home, filepath.FromSlash(merchantOrg.Dir())), msp.OrgSpec{MSPID: merchantOrg.MSPID, Domain: merchantOrg.OrgDomain()})
	require.NoError(t, err)
	bound, err := mspOrg.IssueClient("shop-9@"+merchantOrg.OrgDomain(), map[string]string{"xborder.merchantId": "merchant-9"})
	require.NoError(t, err)

	// A Fabric peer itself refuses a proposal stamped more than peer.authentication.timewindow
	// (15 minutes in Fabric's core.yaml) off its clock; within that window the chaincode's own
	// check (5 minutes by default) refuses it.
	const peerRefusal, chaincodeRefusal = "request unauthorized due to incorrect timestamp", "INVALID_ARGUMENT: timestamp: "
	now := time.Now()
	release := func(d time.Duration) testkit.Forged {
		return testkit.Forged{Fn: "ReleaseEscrow", Arg: map[string]any{"orderId": "fab-trust-delivered"}, Stamped: now.Add(d)}
	}
	deliver := func(d time.Duration) testkit.Forged {
		return testkit.Forged{Fn: "RecordCheckpoint", Arg: map[string]any{"orderId": "fab-trust-delivered", "code": "DELIVERED", "location": "Door"}, Stamped: now.Add(d)}
	}
	create := func(at time.Time) testkit.Forged {
		return testkit.Forged{Fn: "CreateOrder", Arg: yearly("fab-trust-y3", true), Transient: buyer, Stamped: at, Endorsers: []string{"MerchantMSP", "CarrierMSP"}}
	}
	tests := []struct {
		name    string
		org     string
		as      *msp.Identity
		order   string
		p       testkit.Forged
		refusal string
		code    peer.TxValidationCode
	}{
		{name: "a merchant releases the escrow stamped eight days after delivery", org: "MerchantMSP", order: "fab-trust-delivered",
			p: release(8 * 24 * time.Hour), refusal: peerRefusal},
		{name: "a merchant releases the escrow stamped ten minutes ahead", org: "MerchantMSP", order: "fab-trust-delivered",
			p: release(10 * time.Minute), refusal: chaincodeRefusal},
		{name: "a carrier's delivery stamped eight days ago", org: "CarrierMSP", order: "fab-trust-delivered",
			p: deliver(-8 * 24 * time.Hour), refusal: peerRefusal},
		{name: "a carrier's delivery stamped ten minutes ago", org: "CarrierMSP", order: "fab-trust-delivered",
			p: deliver(-10 * time.Minute), refusal: chaincodeRefusal},
		{name: "a merchant creates an order stamped a year ahead to pass the yearly limit", org: "MerchantMSP",
			p: create(now.AddDate(1, 0, 0)), refusal: peerRefusal},
		{name: "a merchant creates an order stamped ten minutes ahead", org: "MerchantMSP",
			p: create(now.Add(10 * time.Minute)), refusal: chaincodeRefusal},
		{name: "an identity bound to another merchant cancels a paid order", org: "MerchantMSP", as: bound, order: "fab-trust-paid",
			p:       testkit.Forged{Fn: "CancelOrder", Arg: map[string]any{"orderId": "fab-trust-paid"}, Stamped: now},
			refusal: "FORBIDDEN: "},
		{name: "the bank's release endorsed by merchant and carrier peers", org: "BankMSP", order: "fab-trust-delivered",
			p:    testkit.Forged{Fn: "ConfirmDelivery", Arg: map[string]any{"orderId": "fab-trust-delivered"}, Endorsers: []string{"MerchantMSP", "CarrierMSP"}},
			code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{name: "a merchant's cancellation refund endorsed by merchant and carrier peers", org: "MerchantMSP", order: "fab-trust-paid",
			p:    testkit.Forged{Fn: "CancelOrder", Arg: map[string]any{"orderId": "fab-trust-paid"}, Endorsers: []string{"MerchantMSP", "CarrierMSP"}},
			code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before []any
			if tc.order != "" {
				before = escrowOf(t, gw, tc.order)
			}
			f := realForger(t, home, mustOrg(t, tc.org), tc.as)
			if tc.refusal != "" {
				require.Contains(t, f.Refused(t, tc.p), tc.refusal)
			} else {
				tc.p.Stamped = time.Now()
				require.Equal(t, tc.code, f.Commit(t, tc.p))
			}
			if tc.order != "" {
				require.Equal(t, before, escrowOf(t, gw, tc.order), "the order and its escrow are unchanged")
			}
		})
	}
	gw.Must(t, http.StatusNotFound, "CustomsMSP", http.MethodGet, "/api/v1/orders/fab-trust-y3", nil)

	t.Run("an identity bound to another merchant reads no buyer data", func(t *testing.T) {
		f := realForger(t, home, merchantOrg, bound)
		var got struct {
			Buyer map[string]any `json:"buyer"`
		}
		require.NoError(t, json.Unmarshal(f.Evaluate(t, testkit.Forged{Fn: "GetOrder", Arg: "fab-trust-paid", Stamped: time.Now()}), &got))
		require.Equal(t, "buyer-fab-trust-paid", got.Buyer["id"])
		for _, k := range []string{"name", "address", "phone"} {
			require.Empty(t, got.Buyer[k], k)
		}
	})
}
