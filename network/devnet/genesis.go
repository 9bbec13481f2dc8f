package devnet

import (
	"crypto/rand"
	"fmt"
	"math"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer/etcdraft"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
	"github.com/xborder/xborder/network/devnet/txutil"
)

const adminsPolicy = "Admins"

// Batch size limits of the ordering service (configtxgen's defaults).
const (
	absoluteMaxBytes  = 99 << 20
	preferredMaxBytes = 2 << 20
)

// ordererPort is the port the channel configuration names for the (embedded) ordering node.
const ordererPort = 7050

// appendGenesis orders block 0: a CONFIG transaction whose ConfigEnvelope describes the
// channel as configtxgen would (application organisations with their MSPs and policies,
// the Raft orderer organisation, capabilities, batch parameters), signed by the ordering node.
// Every peer joins the channel by committing it.
func (o *orderingService) appendGenesis() error {
	group, err := o.net.channelGroup()
	if err != nil {
		return fmt.Errorf("devnet: genesis: %w", err)
	}
	raw, err := o.configTransaction(&common.ConfigEnvelope{Config: &common.Config{ChannelGroup: group}})
	if err != nil {
		return fmt.Errorf("devnet: genesis: %w", err)
	}
	if err := o.appendBlock(ledger.NewBlock(0, nil, [][]byte{raw}), true); err != nil {
		return fmt.Errorf("devnet: genesis block: %w", err)
	}
	return nil
}

// configTransaction returns the marshalled CONFIG transaction of a config envelope, signed by
// the ordering node, as Fabric's orderer writes a config block.
func (o *orderingService) configTransaction(cfg *common.ConfigEnvelope) ([]byte, error) {
	data, err := txutil.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	env, err := signedEnvelope(o.net.ordOrg.Node.Signer, common.HeaderType_CONFIG, o.net.cfg.Channel, data)
	if err != nil {
		return nil, err
	}
	return txutil.Marshal(env)
}

// signedEnvelope wraps data in a payload of type typ for channel, with a fresh nonce and
// transaction ID, signed by signer.
func signedEnvelope(signer txutil.Signer, typ common.HeaderType, channel string, data []byte) (*common.Envelope, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	creator := signer.Serialize()
	ch, err := txutil.Marshal(&common.ChannelHeader{
		Type:      int32(typ),
		ChannelId: channel,
		TxId:      txutil.ComputeTxID(nonce, creator),
		Timestamp: timestamppb.Now(),
	})
	if err != nil {
		return nil, err
	}
	sh, err := txutil.Marshal(&common.SignatureHeader{Creator: creator, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	payload, err := txutil.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: ch, SignatureHeader: sh}, Data: data})
	if err != nil {
		return nil, err
	}
	env := &common.Envelope{Payload: payload}
	if err := txutil.SignEnvelope(env, signer); err != nil {
		return nil, err
	}
	return env, nil
}

// channelGroup is the channel's configuration tree, as configtxgen writes it for a channel
// with the devnet's organisations and orderer settings.
func (n *Network) channelGroup() (*common.ConfigGroup, error) {
	app, ord, err := n.orgGroups()
	if err != nil {
		return nil, err
	}
	if err := configureApplication(app); err != nil {
		return nil, err
	}
	if err := n.configureOrderer(ord); err != nil {
		return nil, err
	}
	ch := &common.ConfigGroup{
		Groups:    map[string]*common.ConfigGroup{"Application": app, "Orderer": ord},
		Values:    map[string]*common.ConfigValue{},
		Policies:  map[string]*common.ConfigPolicy{},
		ModPolicy: adminsPolicy,
	}
	chValues := map[string]proto.Message{
		"HashingAlgorithm":          &common.HashingAlgorithm{Name: "SHA256"},
		"BlockDataHashingStructure": &common.BlockDataHashingStructure{Width: math.MaxUint32},
		"Capabilities":              capabilities("V3_0"),
	}
	if err := setValues(ch, chValues); err != nil {
		return nil, err
	}
	if err := setImplicit(ch, map[string][2]any{
		"Readers": {"Readers", common.ImplicitMetaPolicy_ANY},
		"Writers": {"Writers", common.ImplicitMetaPolicy_ANY},
		"Admins":  {"Admins", common.ImplicitMetaPolicy_MAJORITY},
	}); err != nil {
		return nil, err
	}
	return ch, nil
}

// orgGroups returns the Application and Orderer groups holding the organisations' groups:
// peer organisations with their anchor peer, the orderer organisation with its endpoint.
func (n *Network) orgGroups() (app, ord *common.ConfigGroup, err error) {
	app = &common.ConfigGroup{Groups: map[string]*common.ConfigGroup{}, Values: map[string]*common.ConfigValue{}, Policies: map[string]*common.ConfigPolicy{}, ModPolicy: adminsPolicy}
	ord = &common.ConfigGroup{Groups: map[string]*common.ConfigGroup{}, Values: map[string]*common.ConfigValue{}, Policies: map[string]*common.ConfigPolicy{}, ModPolicy: adminsPolicy}
	for _, org := range n.crypto.Orgs {
		if !org.Orderer {
			g, err := applicationOrgGroup(org)
			if err != nil {
				return nil, nil, err
			}
			app.Groups[org.MSPID] = g
			continue
		}
		g, err := orgGroup(org)
		if err == nil {
			err = setValue(g, "Endpoints", &common.OrdererAddresses{Addresses: []string{fmt.Sprintf("%s:%d", org.Node.Name, ordererPort)}})
		}
		if err != nil {
			return nil, nil, err
		}
		ord.Groups[org.MSPID] = g
	}
	return app, ord, nil
}

// applicationOrgGroup is a peer organisation's config group, with its anchor peer.
func applicationOrgGroup(org *msp.Org) (*common.ConfigGroup, error) {
	g, err := orgGroup(org)
	if err != nil {
		return nil, err
	}
	if err := setValue(g, "AnchorPeers", &peer.AnchorPeers{AnchorPeers: []*peer.AnchorPeer{{Host: org.Node.Name, Port: 7051}}}); err != nil {
		return nil, err
	}
	return g, nil
}

// configureApplication sets the Application group's implicit policies and capabilities.
func configureApplication(app *common.ConfigGroup) error {
	if err := setImplicit(app, map[string][2]any{
		"Readers":              {"Readers", common.ImplicitMetaPolicy_ANY},
		"Writers":              {"Writers", common.ImplicitMetaPolicy_ANY},
		"Admins":               {"Admins", common.ImplicitMetaPolicy_MAJORITY},
		"Endorsement":          {"Endorsement", common.ImplicitMetaPolicy_MAJORITY},
		"LifecycleEndorsement": {"Endorsement", common.ImplicitMetaPolicy_MAJORITY},
	}); err != nil {
		return err
	}
	return setValue(app, "Capabilities", capabilities("V2_5"))
}

// configureOrderer sets the Orderer group's implicit policies, its single-node Raft consenter
// and its batch settings.
func (n *Network) configureOrderer(ord *common.ConfigGroup) error {
	if err := setImplicit(ord, map[string][2]any{
		"Readers":         {"Readers", common.ImplicitMetaPolicy_ANY},
		"Writers":         {"Writers", common.ImplicitMetaPolicy_ANY},
		"Admins":          {"Admins", common.ImplicitMetaPolicy_MAJORITY},
		"BlockValidation": {"Writers", common.ImplicitMetaPolicy_ANY},
	}); err != nil {
		return err
	}
	raft, err := txutil.Marshal(&etcdraft.ConfigMetadata{
		Consenters: []*etcdraft.Consenter{{
			Host:          n.ordOrg.Node.Name,
			Port:          ordererPort,
			ClientTlsCert: n.ordOrg.Node.TLSCertPEM,
			ServerTlsCert: n.ordOrg.Node.TLSCertPEM,
		}},
		Options: &etcdraft.Options{TickInterval: "500ms", ElectionTick: 10, HeartbeatTick: 1, MaxInflightBlocks: 5, SnapshotIntervalSize: 16 << 20},
	})
	if err != nil {
		return err
	}
	return setValues(ord, map[string]proto.Message{
		"ConsensusType": &orderer.ConsensusType{Type: "etcdraft", Metadata: raft},
		"BatchSize": &orderer.BatchSize{
			MaxMessageCount:   uint32(n.cfg.MaxBatch),
			AbsoluteMaxBytes:  absoluteMaxBytes,
			PreferredMaxBytes: preferredMaxBytes,
		},
		"BatchTimeout":        &orderer.BatchTimeout{Timeout: n.cfg.BatchTimeout.String()},
		"ChannelRestrictions": &orderer.ChannelRestrictions{},
		"Capabilities":        capabilities("V2_0"),
	})
}

// setValues sets every value of values in g.
func setValues(g *common.ConfigGroup, values map[string]proto.Message) error {
	for k, v := range values {
		if err := setValue(g, k, v); err != nil {
			return err
		}
	}
	return nil
}

// orgGroup is an organisation's config group: its MSP and the signature policies configtxgen
// writes for it (Readers, Writers, Admins and, for peer organisations, Endorsement).
func orgGroup(org *msp.Org) (*common.ConfigGroup, error) {
	g := &common.ConfigGroup{Values: map[string]*common.ConfigValue{}, Policies: map[string]*common.ConfigPolicy{}, ModPolicy: adminsPolicy}
	conf, err := org.MSPConfig()
	if err != nil {
		return nil, err
	}
	if err := setValue(g, "MSP", conf); err != nil {
		return nil, err
	}
	id := org.MSPID
	policies := map[string]string{
		"Readers": fmt.Sprintf("OR('%s.admin','%s.peer','%s.client')", id, id, id),
		"Writers": fmt.Sprintf("OR('%s.admin','%s.client')", id, id),
		"Admins":  fmt.Sprintf("OR('%s.admin')", id),
	}
	if org.Orderer {
		policies["Readers"] = fmt.Sprintf("OR('%s.member')", id)
		policies["Writers"] = fmt.Sprintf("OR('%s.member')", id)
	} else {
		policies["Endorsement"] = fmt.Sprintf("OR('%s.peer')", id)
	}
	for name, expr := range policies {
		env, err := policy.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("policy %s of %s: %w", name, id, err)
		}
		b, err := txutil.Marshal(env)
		if err != nil {
			return nil, err
		}
		g.Policies[name] = &common.ConfigPolicy{ModPolicy: adminsPolicy, Policy: &common.Policy{Type: int32(common.Policy_SIGNATURE), Value: b}}
	}
	return g, nil
}

func setValue(g *common.ConfigGroup, key string, m proto.Message) error {
	b, err := txutil.Marshal(m)
	if err != nil {
		return fmt.Errorf("config value %s: %w", key, err)
	}
	g.Values[key] = &common.ConfigValue{Value: b, ModPolicy: adminsPolicy}
	return nil
}

func setImplicit(g *common.ConfigGroup, policies map[string][2]any) error {
	for name, p := range policies {
		b, err := txutil.Marshal(&common.ImplicitMetaPolicy{SubPolicy: p[0].(string), Rule: p[1].(common.ImplicitMetaPolicy_Rule)})
		if err != nil {
			return fmt.Errorf("config policy %s: %w", name, err)
		}
		g.Policies[name] = &common.ConfigPolicy{ModPolicy: adminsPolicy, Policy: &common.Policy{Type: int32(common.Policy_IMPLICIT_META), Value: b}}
	}
	return nil
}

func capabilities(name string) *common.Capabilities {
	return &common.Capabilities{Capabilities: map[string]*common.Capability{name: {}}}
}
