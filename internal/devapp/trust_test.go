package devapp_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet/msp"
)

// The attacks of issue 11 that HTTP cannot express: a consortium member controls its own client,
// so it can stamp a proposal with any time, enrol identities of its own organisation, and choose
// which peers endorse. Each test builds the proposal by hand (channel header with the forged
// timestamp, signature header with the member's certificate and a fresh nonce, the chaincode
// invocation), signs it with the member's real ECDSA key and sends it through the Fabric
// Gateway SDK to the devnet running the real chaincode. Every attack is refused, and the
// order's escrow is what it was.

// forger sends hand-built proposals as one identity.
type forger struct {
	t  *testing.T
	e  *env
	id *msp.Identity
	gw *client.Gateway
}

// forgerAs connects a Gateway SDK client to mspID's peer, signing as id (the organisation's
// user when nil).
func (e *env) forgerAs(t *testing.T, mspID string, id *msp.Identity) *forger {
	t.Helper()
	if id == nil {
		var err error
		id, err = e.app.Network.ClientSigner(mspID)
		require.NoError(t, err)
	}
	conn, err := e.app.Network.ClientConnection(mspID)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	xid, err := identity.NewX509Identity(mspID, id.Cert)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(id.Key)
	require.NoError(t, err)
	gw, err := client.Connect(xid, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &forger{t: t, e: e, id: id, gw: gw}
}

// proposal is one hand-built proposal: a transaction, its JSON argument (or a plain string),
// the private data it carries, when it claims to have been made, and which organisations'
// peers are to endorse it (none: the gateway plans).
type proposal struct {
	fn        string
	arg       any
	transient map[string]any
	stamped   time.Time
	endorsers []string
}

// build marshals and signs p, returning it as the SDK's proposal.
func (f *forger) build(p proposal) *client.Proposal {
	f.t.Helper()
	nonce := make([]byte, 24)
	_, err := rand.Read(nonce)
	require.NoError(f.t, err)
	creator := f.id.Serialize()
	txHash := sha256.Sum256(append(append([]byte{}, nonce...), creator...))
	txID := hex.EncodeToString(txHash[:])
	ccID := &peer.ChaincodeID{Name: devapp.ChaincodeName}
	ch := &common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: f.e.app.Network.Channel(),
		TxId:      txID,
		Timestamp: timestamppb.New(p.stamped),
		Extension: mustMarshal(f.t, &peer.ChaincodeHeaderExtension{ChaincodeId: ccID}),
	}
	sh := &common.SignatureHeader{Creator: creator, Nonce: nonce}
	arg, ok := p.arg.(string)
	if !ok {
		raw, err := json.Marshal(p.arg)
		require.NoError(f.t, err)
		arg = string(raw)
	}
	spec := &peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type: peer.ChaincodeSpec_GOLANG, ChaincodeId: ccID,
		Input: &peer.ChaincodeInput{Args: [][]byte{[]byte(p.fn), []byte(arg)}},
	}}
	transient := map[string][]byte{}
	for k, v := range p.transient {
		raw, err := json.Marshal(v)
		require.NoError(f.t, err)
		transient[k] = raw
	}
	cpp := &peer.ChaincodeProposalPayload{Input: mustMarshal(f.t, spec), TransientMap: transient}
	prop := mustMarshal(f.t, &peer.Proposal{
		Header:  mustMarshal(f.t, &common.Header{ChannelHeader: mustMarshal(f.t, ch), SignatureHeader: mustMarshal(f.t, sh)}),
		Payload: mustMarshal(f.t, cpp),
	})
	sig, err := f.id.Sign(prop)
	require.NoError(f.t, err)
	ptx := mustMarshal(f.t, &gateway.ProposedTransaction{
		TransactionId:          txID,
		Proposal:               &peer.SignedProposal{ProposalBytes: prop},
		EndorsingOrganizations: p.endorsers,
	})
	out, err := f.gw.NewSignedProposal(ptx, sig)
	require.NoError(f.t, err)
	return out
}

// refused endorses p and returns the peers' refusal, failing the test if it was endorsed.
func (f *forger) refused(p proposal) string {
	f.t.Helper()
	_, err := f.build(p).Endorse()
	require.Error(f.t, err, "%s stamped %s was endorsed", p.fn, p.stamped)
	var endorseErr *client.EndorseError
	require.True(f.t, errors.As(err, &endorseErr), "%T: %v", err, err)
	return refusal(err)
}

// commit endorses and submits p and returns its validation code.
func (f *forger) commit(p proposal) peer.TxValidationCode {
	f.t.Helper()
	tx, err := f.build(p).Endorse()
	require.NoError(f.t, err)
	c, err := tx.Submit()
	require.NoError(f.t, err)
	st, err := c.Status()
	require.NoError(f.t, err)
	return st.Code
}

// evaluate evaluates p and returns its result.
func (f *forger) evaluate(p proposal) []byte {
	f.t.Helper()
	res, err := f.build(p).Evaluate()
	require.NoError(f.t, err)
	return res
}

// refusal is the gRPC status message of err with the peers' messages of its details, where
// the chaincode's error code and message are.
func refusal(err error) string {
	st := status.Convert(err)
	msgs := []string{st.Message()}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			msgs = append(msgs, ed.GetMspId()+": "+ed.GetMessage())
		}
	}
	return strings.Join(msgs, " | ")
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// money is what an order's escrow holds: its status and escrow amount, released and refunded.
type money struct {
	status string
	escrow []float64
}

func (e *env) money(t *testing.T, id string) money {
	t.Helper()
	o := e.with(t).mustStatus(http.StatusOK, bank, http.MethodGet, "/api/v1/orders/"+id, nil).JSON(t)
	s, _ := o["status"].(string)
	return money{status: s, escrow: testkit.Escrow(t, o)}
}

// delivered takes order id through payment, clearance and every checkpoint.
func (e *env) delivered(t *testing.T, id string) {
	t.Helper()
	v := e.with(t)
	o := testkit.NewOrder(id)
	v.client.CreateAndPay(t, o)
	v.client.DocumentAndClear(t, o, testkit.ClearedDecision())
	v.client.Deliver(t, o)
}

// TestForgedTimestamps reproduces issue 11.1 through the Gateway SDK: proposals whose
// timestamp is far from the endorsing peers' clocks are refused (INVALID_ARGUMENT naming
// "timestamp"), and a timestamp within the allowed skew still cannot move a lifecycle time
// backwards or open the release window early.
func TestForgedTimestamps(t *testing.T) {
	e := startEnv(t, "")
	e.delivered(t, "tt-delivered")
	transit := testkit.NewOrder("tt-transit")
	e.client.CreateAndPay(t, transit)
	e.client.DocumentAndClear(t, transit, testkit.ClearedDecision())
	for _, code := range testkit.Checkpoints[:len(testkit.Checkpoints)-1] {
		e.mustStatus(http.StatusOK, carrier, http.MethodPost, "/api/v1/orders/tt-transit/checkpoints", testkit.CheckpointBody(code))
	}
	// A buyer at the yearly limit: two orders of 3000 USD cents under a limit of 6000.
	e.mustStatus(http.StatusOK, customs, http.MethodPut, "/api/v1/compliance/rules", map[string]any{"yearlyLimit": map[string]any{"USD": 6000}})
	sameBuyer := func(id string) map[string]any {
		b := testkit.NewOrder(id).CreateBody()
		b["buyer"].(map[string]any)["id"] = "buyer-yearly"
		return b
	}
	for _, id := range []string{"tt-year-1", "tt-year-2"} {
		e.mustStatus(http.StatusCreated, merchant, http.MethodPost, "/api/v1/orders", sameBuyer(id))
	}
	r := e.mustStatus(http.StatusUnprocessableEntity, merchant, http.MethodPost, "/api/v1/orders", sameBuyer("tt-year-3"))
	require.Contains(t, r.String(), "COMPLIANCE_REJECTED")

	create := sameBuyer("tt-year-3")
	delete(create["buyer"].(map[string]any), "name")
	delete(create["buyer"].(map[string]any), "address")
	delete(create["buyer"].(map[string]any), "phone")
	now := time.Now()
	tests := []struct {
		name    string
		org     string
		order   string
		p       proposal
		refusal string
	}{
		{"a merchant releases the escrow stamped eight days after delivery", merchant, "tt-delivered",
			proposal{fn: "ReleaseEscrow", arg: map[string]any{"orderId": "tt-delivered"}, stamped: now.Add(8 * 24 * time.Hour)},
			"INVALID_ARGUMENT: timestamp: "},
		{"a merchant releases the escrow stamped within the skew, before the window ends", merchant, "tt-delivered",
			proposal{fn: "ReleaseEscrow", arg: map[string]any{"orderId": "tt-delivered"}, stamped: now.Add(4 * time.Minute)},
			"FAILED_PRECONDITION: "},
		{"a carrier delivers stamped eight days ago, before the pick-up", carrier, "tt-transit",
			proposal{fn: "RecordCheckpoint", arg: map[string]any{"orderId": "tt-transit", "code": "DELIVERED", "location": "Door"}, stamped: now.Add(-8 * 24 * time.Hour)},
			"INVALID_ARGUMENT: timestamp: "},
		{"a carrier delivers stamped within the skew, before the pick-up", carrier, "tt-transit",
			proposal{fn: "RecordCheckpoint", arg: map[string]any{"orderId": "tt-transit", "code": "DELIVERED", "location": "Door"}, stamped: now.Add(-4 * time.Minute)},
			"FAILED_PRECONDITION: "},
		{"a merchant creates an order stamped a year ahead to pass the yearly limit", merchant, "",
			proposal{fn: "CreateOrder", arg: create, transient: orderPrivate(t), stamped: now.AddDate(1, 0, 0),
				endorsers: []string{merchant, carrier}},
			"INVALID_ARGUMENT: timestamp: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before money
			if tc.order != "" {
				before = e.money(t, tc.order)
			}
			msg := e.forgerAs(t, tc.org, nil).refused(tc.p)
			require.Contains(t, msg, tc.refusal)
			if tc.order != "" {
				require.Equal(t, before, e.money(t, tc.order), "the order and its escrow are unchanged")
			}
		})
	}
	e.mustStatus(http.StatusNotFound, merchant, http.MethodGet, "/api/v1/orders/tt-year-3", nil)
}

// orderPrivate is the transient buyer record of a hand-built CreateOrder.
func orderPrivate(t *testing.T) map[string]any {
	salt := make([]byte, 16)
	_, err := rand.Read(salt)
	require.NoError(t, err)
	o := testkit.NewOrder("")
	return map[string]any{"order_private": map[string]any{"name": o.BuyerName, "address": o.Address, "phone": o.Phone, "salt": hex.EncodeToString(salt)}}
}

// TestMerchantBoundIdentity reproduces issue 11.3 with a certificate a merchant platform's CA
// issues with the xborder.merchantId attribute, as Fabric CA does: the identity acts and reads
// the buyer's private data for its own merchant only.
func TestMerchantBoundIdentity(t *testing.T) {
	e := startEnv(t, "")
	e.createAndPay("tb-victim") // merchant-1's order
	id, err := e.app.Network.IssueClient(merchant, "shop-9@merchant.xborder.example", map[string]string{"xborder.merchantId": "merchant-9"})
	require.NoError(t, err)
	f := e.forgerAs(t, merchant, id)
	now := time.Now()
	own := testkit.NewOrder("tb-own")
	own.MerchantID = "merchant-9"
	createOwn := own.CreateBody()
	other := testkit.NewOrder("tb-other").CreateBody()
	for _, b := range []map[string]any{createOwn, other} {
		for _, k := range []string{"name", "address", "phone"} {
			delete(b["buyer"].(map[string]any), k)
		}
	}

	tests := []struct {
		name string
		p    proposal
	}{
		{"creates an order of another merchant", proposal{fn: "CreateOrder", arg: other, transient: orderPrivate(t), stamped: now, endorsers: []string{merchant, carrier}}},
		{"cancels another merchant's paid order", proposal{fn: "CancelOrder", arg: map[string]any{"orderId": "tb-victim"}, stamped: now}},
		{"declares another merchant's order", proposal{fn: "DeclareCustoms", arg: testkit.NewOrder("tb-victim").DeclarationBody(), stamped: now}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.money(t, "tb-victim")
			if tc.p.fn == "DeclareCustoms" {
				tc.p.arg.(map[string]any)["orderId"] = "tb-victim"
			}
			msg := f.refused(tc.p)
			require.Contains(t, msg, "FORBIDDEN: ")
			require.Equal(t, before, e.money(t, "tb-victim"))
		})
	}
	e.mustStatus(http.StatusNotFound, merchant, http.MethodGet, "/api/v1/orders/tb-other", nil)

	t.Run("reads another merchant's order without its buyer's private data", func(t *testing.T) {
		var got struct {
			Buyer map[string]any `json:"buyer"`
		}
		require.NoError(t, json.Unmarshal(f.evaluate(proposal{fn: "GetOrder", arg: "tb-victim", stamped: now}), &got))
		require.Equal(t, "buyer-tb-victim", got.Buyer["id"])
		for _, k := range []string{"name", "address", "phone"} {
			require.Empty(t, got.Buyer[k], k)
		}
	})
	t.Run("acts and reads for its own merchant", func(t *testing.T) {
		require.Equal(t, peer.TxValidationCode_VALID, f.commit(proposal{fn: "CreateOrder", arg: createOwn, transient: orderPrivate(t), stamped: time.Now(),
			endorsers: []string{merchant, carrier}}))
		var got struct {
			Buyer map[string]any `json:"buyer"`
		}
		require.NoError(t, json.Unmarshal(f.evaluate(proposal{fn: "GetOrder", arg: "tb-own", stamped: time.Now()}), &got))
		require.Equal(t, own.BuyerName, got.Buyer["name"])
	})
}

// TestEscrowNeedsTheBank reproduces issue 11.1's last point: money leaves escrow only with the
// endorsement of BankMSP's peer (the escrow key's key-level policy). Members that endorse a
// release or refund among themselves, which the chaincode policy (any two organisations)
// would accept, are invalidated at commit with ENDORSEMENT_POLICY_FAILURE and the escrow is
// unchanged; a write that moves no money needs no bank.
func TestEscrowNeedsTheBank(t *testing.T) {
	e := startEnv(t, "")
	e.delivered(t, "te-delivered")
	e.createAndPay("te-paid")
	rejected := testkit.NewOrder("te-rejected")
	e.client.CreateAndPay(t, rejected)
	e.mustStatus(http.StatusOK, merchant, http.MethodPost, "/api/v1/orders/te-rejected/customs/declaration", rejected.DeclarationBody())
	e.mustStatus(http.StatusOK, carrier, http.MethodPost, "/api/v1/orders/te-rejected/waybill", rejected.WaybillBody())

	tests := []struct {
		name  string
		org   string
		order string
		p     proposal
		want  peer.TxValidationCode
	}{
		{"the bank's own release endorsed by merchant and carrier peers", bank, "te-delivered",
			proposal{fn: "ConfirmDelivery", arg: map[string]any{"orderId": "te-delivered"}, endorsers: []string{merchant, carrier}},
			peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"a merchant's cancellation refund endorsed by merchant and carrier peers", merchant, "te-paid",
			proposal{fn: "CancelOrder", arg: map[string]any{"orderId": "te-paid"}, endorsers: []string{merchant, carrier}},
			peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"a customs rejection refund endorsed by customs and carrier peers", customs, "te-rejected",
			proposal{fn: "DecideCustoms", arg: map[string]any{"orderId": "te-rejected", "decision": "REJECTED", "reason": "prohibited"}, endorsers: []string{customs, carrier}},
			peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the bank's dispute, which moves no money, endorsed by customs and carrier peers", bank, "te-delivered",
			proposal{fn: "OpenDispute", arg: map[string]any{"orderId": "te-delivered", "reason": "damaged"}, endorsers: []string{customs, carrier}},
			peer.TxValidationCode_VALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.money(t, tc.order)
			tc.p.stamped = time.Now()
			require.Equal(t, tc.want, e.forgerAs(t, tc.org, nil).commit(tc.p))
			after := e.money(t, tc.order)
			require.Equal(t, before.escrow, after.escrow, "no money moved")
			if tc.want != peer.TxValidationCode_VALID {
				require.Equal(t, before.status, after.status)
			}
		})
	}
}
