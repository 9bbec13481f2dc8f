package msp

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

var (
	sharedOnce sync.Once
	sharedCfg  *CryptoConfig
	sharedErr  error
	sharedDir  string
)

// shared returns one generated network reused by read-only tests.
func shared(t *testing.T) *CryptoConfig {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "msp-test-")
		if sharedErr == nil {
			sharedCfg, sharedErr = Generate(sharedDir, DefaultOrgs())
		}
	})
	require.NoError(t, sharedErr)
	return sharedCfg
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		_ = os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func TestGenerateLayout(t *testing.T) {
	cfg := shared(t)
	root := cfg.Dir
	files := []struct {
		path string
		perm os.FileMode
	}{
		{"peerOrganizations/merchant.xborder.example/ca/ca.merchant.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/merchant.xborder.example/ca/priv_sk", 0o600},
		{"peerOrganizations/merchant.xborder.example/tlsca/tlsca.merchant.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/merchant.xborder.example/msp/cacerts/ca.merchant.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/merchant.xborder.example/msp/tlscacerts/tlsca.merchant.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/merchant.xborder.example/msp/config.yaml", 0o644},
		{"peerOrganizations/bank.xborder.example/peers/peer0.bank.xborder.example/msp/signcerts/peer0.bank.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/bank.xborder.example/peers/peer0.bank.xborder.example/msp/keystore/priv_sk", 0o600},
		{"peerOrganizations/bank.xborder.example/peers/peer0.bank.xborder.example/msp/config.yaml", 0o644},
		{"peerOrganizations/bank.xborder.example/peers/peer0.bank.xborder.example/tls/server.crt", 0o644},
		{"peerOrganizations/bank.xborder.example/peers/peer0.bank.xborder.example/tls/server.key", 0o600},
		{"peerOrganizations/bank.xborder.example/peers/peer0.bank.xborder.example/tls/ca.crt", 0o644},
		{"peerOrganizations/carrier.xborder.example/users/Admin@carrier.xborder.example/msp/signcerts/Admin@carrier.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/carrier.xborder.example/users/Admin@carrier.xborder.example/msp/keystore/priv_sk", 0o600},
		{"peerOrganizations/carrier.xborder.example/users/Admin@carrier.xborder.example/msp/cacerts/ca.carrier.xborder.example-cert.pem", 0o644},
		{"peerOrganizations/customs.xborder.example/users/User1@customs.xborder.example/msp/config.yaml", 0o644},
		{"peerOrganizations/customs.xborder.example/users/User1@customs.xborder.example/tls/client.crt", 0o644},
		{"peerOrganizations/customs.xborder.example/users/User1@customs.xborder.example/tls/client.key", 0o600},
		{"ordererOrganizations/xborder.example/orderers/orderer.xborder.example/msp/signcerts/orderer.xborder.example-cert.pem", 0o644},
		{"ordererOrganizations/xborder.example/orderers/orderer.xborder.example/tls/server.crt", 0o644},
		{"ordererOrganizations/xborder.example/users/Admin@xborder.example/msp/keystore/priv_sk", 0o600},
	}
	for _, f := range files {
		t.Run(f.path, func(t *testing.T) {
			st, err := os.Stat(filepath.Join(root, f.path))
			require.NoError(t, err)
			require.Equal(t, f.perm, st.Mode().Perm())
		})
	}
	t.Run("config.yaml", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, "peerOrganizations/bank.xborder.example/msp/config.yaml"))
		require.NoError(t, err)
		s := string(b)
		require.Contains(t, s, "NodeOUs:\n  Enable: true\n")
		for _, k := range []string{"ClientOUIdentifier", "PeerOUIdentifier", "AdminOUIdentifier", "OrdererOUIdentifier"} {
			require.Contains(t, s, "  "+k+":\n    Certificate: cacerts/ca.bank.xborder.example-cert.pem\n")
		}
		for _, ou := range []string{"client", "peer", "admin", "orderer"} {
			require.Contains(t, s, "OrganizationalUnitIdentifier: "+ou+"\n")
		}
	})
	t.Run("no temporary leftovers", func(t *testing.T) {
		matches, err := filepath.Glob(filepath.Join(root, "*", ".tmp-*"))
		require.NoError(t, err)
		require.Empty(t, matches)
	})
}

func TestSDKLoadsMaterial(t *testing.T) {
	cfg := shared(t)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	for _, org := range cfg.Orgs {
		for _, m := range []*Member{org.Node, org.Admin, org.User} {
			t.Run(m.Name, func(t *testing.T) {
				certPEM, err := os.ReadFile(m.CertPath())
				require.NoError(t, err)
				cert, err := identity.CertificateFromPEM(certPEM)
				require.NoError(t, err)
				keyPEM, err := os.ReadFile(m.KeyPath())
				require.NoError(t, err)
				key, err := identity.PrivateKeyFromPEM(keyPEM)
				require.NoError(t, err)
				sign, err := identity.NewPrivateKeySign(key)
				require.NoError(t, err)
				id, err := identity.NewX509Identity(org.MSPID, cert)
				require.NoError(t, err)
				serialized, err := proto.Marshal(&mspproto.SerializedIdentity{Mspid: id.MspID(), IdBytes: id.Credentials()})
				require.NoError(t, err)

				msg := []byte("signed by the gateway SDK " + m.Name)
				digest := sha256.Sum256(msg)
				sig, err := sign(digest[:])
				require.NoError(t, err)
				require.NoError(t, mgr.Verify(serialized, msg, sig))
				require.Equal(t, m.Signer.Serialize(), serialized)
			})
		}
	}
}

func TestSignVerify(t *testing.T) {
	cfg := shared(t)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	merchant := cfg.Org("MerchantMSP").User.Signer
	msg := []byte("payload")
	sig, err := merchant.Sign(msg)
	require.NoError(t, err)

	other, err := Generate(t.TempDir(), []OrgSpec{{MSPID: "MerchantMSP", Domain: "merchant.xborder.example"}})
	require.NoError(t, err)
	impostor := other.Orgs[0].User.Signer
	impostorSig, err := impostor.Sign(msg)
	require.NoError(t, err)

	wrongMSP, err := proto.Marshal(&mspproto.SerializedIdentity{Mspid: "BankMSP", IdBytes: merchant.CertPEM})
	require.NoError(t, err)
	unknownMSP, err := proto.Marshal(&mspproto.SerializedIdentity{Mspid: "NobodyMSP", IdBytes: merchant.CertPEM})
	require.NoError(t, err)

	tampered := append([]byte(nil), sig...)
	tampered[len(tampered)-1] ^= 0x01

	tests := []struct {
		name       string
		serialized []byte
		msg, sig   []byte
		wantErr    string
	}{
		{"valid", merchant.Serialize(), msg, sig, ""},
		{"tampered signature", merchant.Serialize(), msg, tampered, "not valid"},
		{"tampered message", merchant.Serialize(), []byte("payloaD"), sig, "not valid"},
		{"high S", merchant.Serialize(), msg, highS(t, sig), "half the curve order"},
		{"garbage signature", merchant.Serialize(), msg, []byte{1, 2, 3}, "malformed signature"},
		{"wrong CA", impostor.Serialize(), msg, impostorSig, "does not chain"},
		{"wrong MSP ID", wrongMSP, msg, sig, "does not chain"},
		{"unknown MSP", unknownMSP, msg, sig, "unknown MSP"},
		{"not a serialized identity", []byte{0xff, 0xff}, msg, sig, "SerializedIdentity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mgr.Verify(tc.serialized, tc.msg, tc.sig)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NoError(t, merchant.Verify(tc.msg, tc.sig))
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("signatures are low-S", func(t *testing.T) {
		half := new(big.Int).Rsh(merchant.Key.Params().N, 1)
		for i := 0; i < 64; i++ {
			s, err := merchant.Sign([]byte{byte(i)})
			require.NoError(t, err)
			var es ecdsaSignature
			_, err = asn1.Unmarshal(s, &es)
			require.NoError(t, err)
			require.LessOrEqual(t, es.S.Cmp(half), 0)
		}
	})
}

// highS returns the equivalent signature with S replaced by N-S.
func highS(t *testing.T, sig []byte) []byte {
	t.Helper()
	var es ecdsaSignature
	_, err := asn1.Unmarshal(sig, &es)
	require.NoError(t, err)
	n := ecdsaCurveN()
	es.S = new(big.Int).Sub(n, es.S)
	b, err := asn1.Marshal(es)
	require.NoError(t, err)
	return b
}

func ecdsaCurveN() *big.Int {
	k, err := newKey()
	if err != nil {
		panic(err)
	}
	return k.Params().N
}

func TestRolesAndPrincipals(t *testing.T) {
	cfg := shared(t)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	bank := cfg.Org("BankMSP")
	orderer := cfg.Org("OrdererMSP")
	roles := []struct {
		m     *Member
		mspID string
		want  Role
	}{
		{bank.Node, "BankMSP", RolePeer},
		{bank.Admin, "BankMSP", RoleAdmin},
		{bank.User, "BankMSP", RoleClient},
		{orderer.Node, "OrdererMSP", RoleOrderer},
		{orderer.Admin, "OrdererMSP", RoleAdmin},
	}
	for _, r := range roles {
		t.Run("role of "+r.m.Name, func(t *testing.T) {
			p, err := mgr.Deserialize(r.m.Signer.Serialize())
			require.NoError(t, err)
			require.Equal(t, r.want, p.Role)
			require.Equal(t, r.mspID, p.MSPID)
			require.Equal(t, r.want, r.m.Signer.Role)
		})
	}

	peer, err := mgr.Deserialize(bank.Node.Signer.Serialize())
	require.NoError(t, err)
	admin, err := mgr.Deserialize(bank.Admin.Signer.Serialize())
	require.NoError(t, err)
	client, err := mgr.Deserialize(bank.User.Signer.Serialize())
	require.NoError(t, err)
	ouPrincipal := func(msp, ou string) *mspproto.MSPPrincipal {
		b, err := proto.Marshal(&mspproto.OrganizationUnit{MspIdentifier: msp, OrganizationalUnitIdentifier: ou})
		require.NoError(t, err)
		return &mspproto.MSPPrincipal{PrincipalClassification: mspproto.MSPPrincipal_ORGANIZATION_UNIT, Principal: b}
	}
	tests := []struct {
		name      string
		id        *Principal
		principal *mspproto.MSPPrincipal
		ok        bool
	}{
		{"peer is member", peer, RolePrincipal("BankMSP", RoleMember), true},
		{"admin is member", admin, RolePrincipal("BankMSP", RoleMember), true},
		{"client is member", client, RolePrincipal("BankMSP", RoleMember), true},
		{"peer is peer", peer, RolePrincipal("BankMSP", RolePeer), true},
		{"client is not peer", client, RolePrincipal("BankMSP", RolePeer), false},
		{"admin is admin", admin, RolePrincipal("BankMSP", RoleAdmin), true},
		{"peer is not admin", peer, RolePrincipal("BankMSP", RoleAdmin), false},
		{"client is client", client, RolePrincipal("BankMSP", RoleClient), true},
		{"admin is not client", admin, RolePrincipal("BankMSP", RoleClient), false},
		{"peer is not orderer", peer, RolePrincipal("BankMSP", RoleOrderer), false},
		{"other MSP member", peer, RolePrincipal("MerchantMSP", RoleMember), false},
		{"identity principal", peer, &mspproto.MSPPrincipal{PrincipalClassification: mspproto.MSPPrincipal_IDENTITY, Principal: peer.Serialized}, true},
		{"other identity", peer, &mspproto.MSPPrincipal{PrincipalClassification: mspproto.MSPPrincipal_IDENTITY, Principal: admin.Serialized}, false},
		{"OU principal", peer, ouPrincipal("BankMSP", "peer"), true},
		{"OU principal mismatch", peer, ouPrincipal("BankMSP", "client"), false},
		{"unknown role type", peer, &mspproto.MSPPrincipal{PrincipalClassification: mspproto.MSPPrincipal_ROLE, Principal: mustMarshal(t, &mspproto.MSPRole{MspIdentifier: "BankMSP", Role: 42})}, false},
		{"anonymity unsupported", peer, &mspproto.MSPPrincipal{PrincipalClassification: mspproto.MSPPrincipal_ANONYMITY}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mgr.SatisfiesPrincipal(tc.id, tc.principal)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestValidityPeriod(t *testing.T) {
	cfg := shared(t)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	id := cfg.Org("CarrierMSP").User.Signer
	tests := []struct {
		name    string
		at      time.Time
		wantErr string
	}{
		{"now", time.Now(), ""},
		{"before issue", id.Cert.NotBefore.Add(-time.Hour), "not valid before"},
		{"after expiry", id.Cert.NotAfter.Add(time.Hour), "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mgr.DeserializeAt(id.Serialize(), tc.at)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("clock option", func(t *testing.T) {
		late, err := cfg.Manager(WithClock(func() time.Time { return id.Cert.NotAfter.Add(time.Minute) }))
		require.NoError(t, err)
		_, err = late.Deserialize(id.Serialize())
		require.ErrorContains(t, err, "expired")
	})
}

func TestGenerateIdempotentAndCrashSafe(t *testing.T) {
	dir := t.TempDir()
	specs := []OrgSpec{{MSPID: "Org1MSP", Domain: "org1.example.com"}, {MSPID: "OrdererMSP", Domain: "example.com", Orderer: true}}
	first, err := Generate(dir, specs)
	require.NoError(t, err)

	t.Run("reopen loads the same material", func(t *testing.T) {
		again, err := Generate(dir, specs)
		require.NoError(t, err)
		for i := range specs {
			require.Equal(t, first.Orgs[i].CACertPEM, again.Orgs[i].CACertPEM)
			require.Equal(t, first.Orgs[i].Node.Signer.CertPEM, again.Orgs[i].Node.Signer.CertPEM)
			require.True(t, first.Orgs[i].User.Signer.Key.Equal(again.Orgs[i].User.Signer.Key))
			require.Equal(t, first.Orgs[i].Admin.TLSCertPEM, again.Orgs[i].Admin.TLSCertPEM)
		}
	})
	t.Run("interrupted generation is discarded", func(t *testing.T) {
		leftover := filepath.Join(dir, "crypto", "peerOrganizations", ".tmp-org2.example.com-123")
		require.NoError(t, os.MkdirAll(filepath.Join(leftover, "ca"), 0o755))
		cfg, err := Generate(dir, append(specs, OrgSpec{MSPID: "Org2MSP", Domain: "org2.example.com"}))
		require.NoError(t, err)
		require.Len(t, cfg.Orgs, 3)
		_, err = os.Stat(leftover)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Equal(t, first.Orgs[0].CACertPEM, cfg.Org("Org1MSP").CACertPEM)
	})
	t.Run("corrupted key is reported", func(t *testing.T) {
		d := t.TempDir()
		cfg, err := Generate(d, specs[:1])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(cfg.Orgs[0].User.KeyPath(), []byte("junk"), 0o600))
		_, err = Generate(d, specs[:1])
		require.ErrorContains(t, err, "User1@org1.example.com")
	})
	t.Run("invalid specs", func(t *testing.T) {
		for _, bad := range [][]OrgSpec{
			nil,
			{{MSPID: "", Domain: "a.example"}},
			{{MSPID: "A", Domain: "Bad_Domain"}},
			{{MSPID: "A", Domain: "a.example"}, {MSPID: "A", Domain: "b.example"}},
		} {
			_, err := Generate(t.TempDir(), bad)
			require.Error(t, err)
		}
	})
}

func TestMSPConfigAndTLS(t *testing.T) {
	cfg := shared(t)
	mgr := NewManager()
	for _, org := range cfg.Orgs {
		conf, err := org.MSPConfig()
		require.NoError(t, err)
		require.NoError(t, mgr.AddMSPConfig(conf))
		var fc mspproto.FabricMSPConfig
		require.NoError(t, proto.Unmarshal(conf.Config, &fc))
		require.Equal(t, org.MSPID, fc.Name)
		require.True(t, fc.FabricNodeOus.Enable)
		require.Equal(t, "peer", fc.FabricNodeOus.PeerOuIdentifier.OrganizationalUnitIdentifier)
	}
	require.Equal(t, []string{"BankMSP", "CarrierMSP", "CustomsMSP", "MerchantMSP", "OrdererMSP", "RegulatorMSP"}, mgr.MSPIDs())
	for _, org := range cfg.PeerOrgs() {
		t.Run(org.MSPID, func(t *testing.T) {
			_, err := mgr.Deserialize(org.Node.Signer.Serialize())
			require.NoError(t, err)
			leaf := org.Node.TLS.Leaf
			for _, host := range []string{"127.0.0.1", "localhost", org.Node.Name} {
				_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: mgr.TLSRootPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				require.NoError(t, err, host)
			}
			_, err = org.User.TLS.Leaf.Verify(x509.VerifyOptions{Roots: mgr.TLSRootPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			require.NoError(t, err)
			pub, ok := org.Node.Signer.Cert.PublicKey.(*ecdsa.PublicKey)
			require.True(t, ok)
			require.Equal(t, "P-256", pub.Curve.Params().Name)
			require.True(t, strings.HasSuffix(org.Node.Name, org.Domain))
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range []Role{RoleMember, RoleAdmin, RoleClient, RolePeer, RoleOrderer} {
		got, err := ParseRole(r.String())
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	_, err := ParseRole("auditor")
	require.Error(t, err)
}

func TestManagerConcurrentUse(t *testing.T) {
	cfg := shared(t)
	mgr, err := cfg.Manager()
	require.NoError(t, err)
	msg := []byte("concurrent")
	type signed struct {
		serialized, sig []byte
	}
	var all []signed
	for _, org := range cfg.Orgs {
		for _, m := range []*Member{org.Node, org.Admin, org.User} {
			sig, err := m.Signer.Sign(msg)
			require.NoError(t, err)
			all = append(all, signed{m.Signer.Serialize(), sig})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(all))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range all {
				errs <- mgr.Verify(s.serialized, msg, s.sig)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// BenchmarkVerify compares a signature verified with ECDSA (each message new) with one found in
// the manager's cache of successful verifications (the same signature presented again, or one
// the process made itself and remembered).
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	cfg, err := Generate(dir, []OrgSpec{{MSPID: "Org1MSP", Domain: "org1.example.com"}})
	require.NoError(b, err)
	id := cfg.Orgs[0].User.Signer
	serialized := id.Serialize()
	b.Run("ecdsa", func(b *testing.B) {
		mgr, err := cfg.Manager()
		require.NoError(b, err)
		msgs, sigs := make([][]byte, b.N), make([][]byte, b.N)
		for i := range msgs {
			msgs[i] = make([]byte, 4096)
			msgs[i][0], msgs[i][1], msgs[i][2] = byte(i), byte(i>>8), byte(i>>16)
			sigs[i], err = id.Sign(msgs[i])
			require.NoError(b, err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := mgr.Verify(serialized, msgs[i], sigs[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		mgr, err := cfg.Manager()
		require.NoError(b, err)
		msg := make([]byte, 4096)
		sig, err := id.Sign(msg)
		require.NoError(b, err)
		mgr.RememberSignature(serialized, msg, sig)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := mgr.Verify(serialized, msg, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
