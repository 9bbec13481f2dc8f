package devnet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/txutil"
)

func wrongSign(t *testing.T) identity.Sign {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(k)
	require.NoError(t, err)
	return sign
}

func TestTamperedProposalSignature(t *testing.T) {
	tn := startNet(t)
	c := tn.gateway(merchant, client.WithSign(wrongSign(t))).GetNetwork(tn.net.Channel()).GetContract("testcc")
	tests := []struct {
		name string
		call func() error
		code codes.Code
		want string
	}{
		{"evaluate", func() error { _, err := c.EvaluateTransaction("get", "k"); return err }, codes.FailedPrecondition, "access denied: channel [xborder] creator org [MerchantMSP]"},
		{"endorse", func() error { _, err := c.SubmitTransaction("put", "k", "v"); return err }, codes.Aborted, "failed to endorse transaction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			require.Equal(t, tc.code, status.Code(err))
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "access denied")
		})
	}
}

func TestTamperedEnvelope(t *testing.T) {
	tn := startNet(t)
	gw := tn.gateway(bank)
	c := gw.GetNetwork(tn.net.Channel()).GetContract("testcc")

	endorse := func(t *testing.T, key string) *gateway.PreparedTransaction {
		t.Helper()
		p, err := c.NewProposal("put", client.WithArguments(key, "v"))
		require.NoError(t, err)
		tx, err := p.Endorse()
		require.NoError(t, err)
		b, err := tx.Bytes()
		require.NoError(t, err)
		pt := &gateway.PreparedTransaction{}
		require.NoError(t, proto.Unmarshal(b, pt))
		return pt
	}
	marshal := func(t *testing.T, m proto.Message) []byte {
		t.Helper()
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return b
	}

	t.Run("signature over other bytes", func(t *testing.T) {
		pt := endorse(t, "t1")
		_, sign := clientIdentity(t, tn.net, bank)
		digest := make([]byte, 32) // a valid signature, but not over this payload
		sig, err := sign(digest)
		require.NoError(t, err)
		tx, err := gw.NewSignedTransaction(marshal(t, pt), sig)
		require.NoError(t, err)
		_, err = tx.Submit()
		var submitErr *client.SubmitError
		require.ErrorAs(t, err, &submitErr)
		require.Equal(t, codes.Aborted, status.Code(err))
		require.Contains(t, err.Error(), "status=FORBIDDEN")
	})
	t.Run("altered result after endorsement", func(t *testing.T) {
		pt := endorse(t, "t2")
		txn, err := txutil.UnpackEnvelope(pt.GetEnvelope())
		require.NoError(t, err)
		// Change the chaincode response inside the endorsed payload; the client then signs
		// the altered envelope, so only the endorsements no longer match.
		txn.Action.Response.Payload = []byte("forged")
		ext := marshal(t, txn.Action)
		txn.ResponsePayload.Extension = ext
		txn.ActionPayload.Action.ProposalResponsePayload = marshal(t, txn.ResponsePayload)
		tx := &peer.Transaction{}
		require.NoError(t, proto.Unmarshal(txn.Payload.GetData(), tx))
		tx.Actions[0].Payload = marshal(t, txn.ActionPayload)
		txn.Payload.Data = marshal(t, tx)
		pt.Envelope = &common.Envelope{Payload: marshal(t, txn.Payload)}
		signed, err := gw.NewTransaction(marshal(t, pt))
		require.NoError(t, err)
		commit, err := signed.Submit()
		require.NoError(t, err)
		st, err := commit.Status()
		require.NoError(t, err)
		require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, st.Code)
	})
	t.Run("transaction ID mismatch", func(t *testing.T) {
		pt := endorse(t, "t3")
		conn := tn.conn[bank]
		_, sign := clientIdentity(t, tn.net, bank)
		sig, err := sign(txDigest(pt.GetEnvelope().GetPayload()))
		require.NoError(t, err)
		pt.Envelope.Signature = sig
		_, err = gateway.NewGatewayClient(conn).Submit(context.Background(), &gateway.SubmitRequest{
			TransactionId:       "not-the-id",
			ChannelId:           tn.net.Channel(),
			PreparedTransaction: pt.GetEnvelope(),
		})
		require.Equal(t, codes.InvalidArgument, status.Code(err))
	})
	t.Run("unsigned", func(t *testing.T) {
		pt := endorse(t, "t4")
		_, err := gateway.NewGatewayClient(tn.conn[bank]).Submit(context.Background(), &gateway.SubmitRequest{
			TransactionId:       pt.GetTransactionId(),
			ChannelId:           tn.net.Channel(),
			PreparedTransaction: pt.GetEnvelope(),
		})
		require.Equal(t, codes.InvalidArgument, status.Code(err))
		require.Contains(t, err.Error(), "prepared transaction must be signed")
	})
}

func TestEndorsementPolicyCannotBeMet(t *testing.T) {
	tests := []struct {
		name      string
		policy    string
		endorsers []string
		wantCode  codes.Code
	}{
		{name: "unknown organisation", policy: "AND('NoSuchMSP.peer')", wantCode: codes.FailedPrecondition},
		{name: "unknown endorsing organisation", policy: "OR('BankMSP.peer')", endorsers: []string{"NoSuchMSP"}, wantCode: codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := startNet(t, withPolicy(tc.policy))
			c := tn.contract(merchant)
			var opts []client.ProposalOption
			opts = append(opts, client.WithArguments("k", "v"))
			if tc.endorsers != nil {
				opts = append(opts, client.WithEndorsingOrganizations(tc.endorsers...))
			}
			_, err := c.Submit("put", opts...)
			var endorseErr *client.EndorseError
			require.ErrorAs(t, err, &endorseErr)
			require.Equal(t, tc.wantCode, status.Code(err))
		})
	}
	t.Run("required organisation excluded by the client", func(t *testing.T) {
		// As in Fabric, the gateway endorses on the organisations the client chose without
		// checking them against the policy; validation invalidates the transaction.
		tn := startNet(t, withPolicy("AND('BankMSP.peer','CarrierMSP.peer')"))
		_, err := tn.contract(merchant).Submit("put", client.WithArguments("k", "v"), client.WithEndorsingOrganizations(bank))
		var commitErr *client.CommitError
		require.ErrorAs(t, err, &commitErr)
		require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, commitErr.Code)
	})
	t.Run("planned across organisations", func(t *testing.T) {
		tn := startNet(t, withPolicy("AND('BankMSP.peer','CarrierMSP.peer')"))
		p, err := tn.contract(merchant).NewProposal("put", client.WithArguments("k", "v"))
		require.NoError(t, err)
		tx, err := p.Endorse()
		require.NoError(t, err)
		require.ElementsMatch(t, []string{bank, carrier}, endorsersOf(t, tx))
		commit, err := tx.Submit()
		require.NoError(t, err)
		st, err := commit.Status()
		require.NoError(t, err)
		require.Equal(t, peer.TxValidationCode_VALID, st.Code)
	})
}

func TestDuplicateTransactionID(t *testing.T) {
	tn := startNet(t)
	gw := tn.gateway(carrier)
	network := gw.GetNetwork(tn.net.Channel())
	c := network.GetContract("testcc")
	p, err := c.NewProposal("put", client.WithArguments("dup", "1"))
	require.NoError(t, err)
	proposalBytes, err := p.Bytes()
	require.NoError(t, err)
	tx, err := p.Endorse()
	require.NoError(t, err)
	txBytes, err := tx.Bytes()
	require.NoError(t, err)
	_, sign := clientIdentity(t, tn.net, carrier)
	sig, err := sign(tx.Digest())
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	blocks, err := network.FilteredBlockEvents(ctx)
	require.NoError(t, err)

	var commits []*client.Commit
	for range 2 {
		signed, err := gw.NewSignedTransaction(txBytes, sig)
		require.NoError(t, err)
		commit, err := signed.Submit()
		require.NoError(t, err)
		commits = append(commits, commit)
		// Wait for the block so that the second copy lands in a later block.
		_, err = commit.Status()
		require.NoError(t, err)
	}
	var codesSeen []peer.TxValidationCode
	for len(codesSeen) < 2 {
		select {
		case b := <-blocks:
			for _, ft := range b.GetFilteredTransactions() {
				if ft.GetTxid() == tx.TransactionID() {
					codesSeen = append(codesSeen, ft.GetTxValidationCode())
				}
			}
		case <-ctx.Done():
			t.Fatal("timed out waiting for blocks")
		}
	}
	require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID, peer.TxValidationCode_DUPLICATE_TXID}, codesSeen)
	st, err := commits[1].Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_VALID, st.Code, "the status of a transaction ID is its first occurrence")

	// The endorser rejects a proposal whose transaction ID is already on the ledger.
	again, err := gw.NewProposal(proposalBytes)
	require.NoError(t, err)
	_, err = again.Endorse()
	var endorseErr *client.EndorseError
	require.ErrorAs(t, err, &endorseErr)
	require.Contains(t, endorseErr.Details()[0].GetMessage(), "duplicate transaction found")
}

func txDigest(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}

func TestChannelAccessControl(t *testing.T) {
	tn := startNet(t)
	crypto, err := msp.Generate(tn.dir, msp.DefaultOrgs())
	require.NoError(t, err)
	connectAs := func(t *testing.T, m *msp.Member, mspID string) *client.Network {
		id, err := identity.NewX509Identity(mspID, m.Signer.Cert)
		require.NoError(t, err)
		sign, err := identity.NewPrivateKeySign(m.Signer.Key)
		require.NoError(t, err)
		conn, err := tn.net.ClientConnection(merchant)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn))
		require.NoError(t, err)
		t.Cleanup(func() { _ = gw.Close() })
		return gw.GetNetwork(tn.net.Channel())
	}
	t.Run("peer identity may not propose", func(t *testing.T) {
		network := connectAs(t, crypto.Org(merchant).Node, merchant)
		_, err := network.GetContract("testcc").SubmitTransaction("put", "k", "v")
		var endorseErr *client.EndorseError
		require.ErrorAs(t, err, &endorseErr)
		require.Contains(t, err.Error(), "/Channel/Application/Writers")
	})
	t.Run("admin may propose", func(t *testing.T) {
		network := connectAs(t, crypto.Org(bank).Admin, bank)
		_, err := network.GetContract("testcc").SubmitTransaction("put", "k", "v")
		require.NoError(t, err)
	})
	t.Run("orderer identity may not read events", func(t *testing.T) {
		network := connectAs(t, crypto.Org("OrdererMSP").Admin, "OrdererMSP")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, err := network.NewChaincodeEventsRequest("testcc")
		require.NoError(t, err)
		events, err := req.Events(ctx)
		require.NoError(t, err)
		waitClosed(t, "chaincode events", events)
	})
}
