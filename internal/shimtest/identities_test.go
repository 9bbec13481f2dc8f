package shimtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/internal/shimtest"
)

func TestIdentitiesWorkWithCID(t *testing.T) {
	ids, err := shimtest.NewIdentities("MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP")
	require.NoError(t, err)
	l := shimtest.NewLedger()

	tests := []struct {
		name    string
		creator []byte
		mspID   string
		wantID  string
		attrs   map[string]string
	}{
		{
			name:    "merchant default user",
			creator: ids.Creator("MerchantMSP"),
			mspID:   "MerchantMSP",
			wantID:  "x509::CN=User1@merchant.xborder.test,OU=client,C=US::CN=ca.merchant.xborder.test,O=merchant.xborder.test,C=US",
		},
		{
			name:    "bank default user",
			creator: ids.Creator("BankMSP"),
			mspID:   "BankMSP",
			wantID:  "x509::CN=User1@bank.xborder.test,OU=client,C=US::CN=ca.bank.xborder.test,O=bank.xborder.test,C=US",
		},
		{
			name:    "customs officer with attributes",
			creator: ids.CreatorWithAttrs("CustomsMSP", "officer7", map[string]string{"role": "inspector", "hf.EnrollmentID": "officer7"}),
			mspID:   "CustomsMSP",
			wantID:  "x509::CN=officer7@customs.xborder.test,OU=client,C=US::CN=ca.customs.xborder.test,O=customs.xborder.test,C=US",
			attrs:   map[string]string{"role": "inspector", "hf.EnrollmentID": "officer7"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stub := l.NewStub(shimtest.TxOptions{Creator: tc.creator}, "f")

			mspID, err := cid.GetMSPID(stub)
			require.NoError(t, err)
			require.Equal(t, tc.mspID, mspID)

			id, err := cid.GetID(stub)
			require.NoError(t, err)
			// cid base64-encodes the "x509::subject::issuer" string.
			ci, err := cid.New(stub)
			require.NoError(t, err)
			cert, err := ci.GetX509Certificate()
			require.NoError(t, err)
			require.NotEmpty(t, id)
			require.Equal(t, tc.wantID, decodeCIDID(t, id))
			require.Equal(t, ids.CACertificate(tc.mspID).Subject.String(), cert.Issuer.String())
			require.NoError(t, cert.CheckSignatureFrom(ids.CACertificate(tc.mspID)))

			ok, err := cid.HasOUValue(stub, "client")
			require.NoError(t, err)
			require.True(t, ok)

			for name, want := range tc.attrs {
				got, found, err := cid.GetAttributeValue(stub, name)
				require.NoError(t, err)
				require.True(t, found, name)
				require.Equal(t, want, got)
				require.NoError(t, cid.AssertAttributeValue(stub, name, want))
			}
			_, found, err := cid.GetAttributeValue(stub, "absent")
			require.NoError(t, err)
			require.False(t, found)
		})
	}
}

func TestIdentitiesStableAndDistinct(t *testing.T) {
	ids, err := shimtest.NewIdentities("MerchantMSP", "BankMSP")
	require.NoError(t, err)
	require.Equal(t, []string{"BankMSP", "MerchantMSP"}, ids.MSPIDs())

	a1 := ids.Creator("MerchantMSP")
	a2 := ids.Creator("MerchantMSP")
	require.Equal(t, a1, a2, "same identity must serialize identically on every call")
	require.NotEqual(t, a1, ids.Creator("BankMSP"))
	withAttrs := ids.CreatorWithAttrs("MerchantMSP", "User1", map[string]string{"a": "b"})
	require.NotEqual(t, a1, withAttrs)
	require.Equal(t, withAttrs, ids.CreatorWithAttrs("MerchantMSP", "User1", map[string]string{"a": "b"}))

	sid := &msp.SerializedIdentity{}
	require.NoError(t, proto.Unmarshal(a1, sid))
	require.Equal(t, "MerchantMSP", sid.Mspid)
	block, _ := pem.Decode(sid.IdBytes)
	require.NotNil(t, block)
	require.Equal(t, "CERTIFICATE", block.Type)

	caPEM, _ := pem.Decode(ids.CACertificatePEM("BankMSP"))
	require.NotNil(t, caPEM)
	require.Nil(t, ids.CACertificatePEM("NopeMSP"))
	require.Nil(t, ids.CACertificate("NopeMSP"))
}

func TestIdentitiesErrors(t *testing.T) {
	tests := []struct {
		name string
		msps []string
	}{
		{name: "empty MSP ID", msps: []string{""}},
		{name: "duplicate MSP ID", msps: []string{"AMSP", "AMSP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := shimtest.NewIdentities(tc.msps...)
			require.Error(t, err)
		})
	}

	ids, err := shimtest.NewIdentities("AMSP")
	require.NoError(t, err)
	_, err = ids.Issue("BMSP", "User1", nil)
	require.ErrorContains(t, err, "unknown MSP ID")
	_, err = ids.Issue("AMSP", "", nil)
	require.ErrorContains(t, err, "user must not be empty")
	require.Panics(t, func() { ids.Creator("BMSP") })
}

func TestSignedProposalSignature(t *testing.T) {
	ids, err := shimtest.NewIdentities("BankMSP")
	require.NoError(t, err)
	id, err := ids.Issue("BankMSP", "teller", nil)
	require.NoError(t, err)
	l := shimtest.NewLedger()

	tests := []struct {
		name   string
		signer shimtest.Signer
	}{
		{name: "signed", signer: id},
		{name: "unsigned"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := l.NewStub(shimtest.TxOptions{Creator: id.Serialized, Signer: tc.signer}, "f")
			sp, err := s.GetSignedProposal()
			require.NoError(t, err)
			if tc.signer == nil {
				require.Empty(t, sp.Signature)
				return
			}
			digest := sha256.Sum256(sp.ProposalBytes)
			require.True(t, ecdsa.VerifyASN1(&id.PrivateKey.PublicKey, digest[:], sp.Signature))
			var sig struct{ R, S *big.Int }
			_, err = asn1.Unmarshal(sp.Signature, &sig)
			require.NoError(t, err)
			halfN := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
			require.LessOrEqual(t, sig.S.Cmp(halfN), 0, "signature must be low-S")
		})
	}
}
