package devnet

import (
	"crypto/rand"
	"fmt"
	"slices"
	"sort"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// updateChannelOrgs brings the channel's configuration up to the configured organisations
// when a data directory created with fewer is reopened: it orders a config block adding the
// missing application organisations, as a Fabric channel gets a new organisation (a config
// update signed by the admins of a majority of the existing organisations, which the ordering
// service wraps into a CONFIG transaction of a block of its own). The peers commit it like
// any block; cscc and qscc show it. Removing an organisation is not supported.
func (o *orderingService) updateChannelOrgs() error {
	current, err := o.lastConfig()
	if err != nil {
		return err
	}
	app := current.GetChannelGroup().GetGroups()["Application"]
	var existing []string
	for id := range app.GetGroups() {
		existing = append(existing, id)
	}
	sort.Strings(existing)
	var removed, added []string
	for _, id := range existing {
		if !slices.Contains(o.net.peerOrgs, id) {
			removed = append(removed, id)
		}
	}
	for _, id := range o.net.peerOrgs {
		if !slices.Contains(existing, id) {
			added = append(added, id)
		}
	}
	if len(removed) > 0 {
		return fmt.Errorf("devnet: the channel in %s has the organisation(s) %v, which the configuration does not list; "+
			"removing an organisation from a channel is not supported: list them again, or start with a new data directory", o.net.cfg.DataDir, removed)
	}
	if len(added) == 0 {
		return nil
	}
	if err := o.appendOrgs(current, existing, added); err != nil {
		return fmt.Errorf("devnet: add %v to the channel: %w", added, err)
	}
	o.net.logger.Info("channel configuration updated", "added", added, "block", o.store.Height()-1)
	return nil
}

// lastConfig returns the configuration in the last config block the ordering service cut.
func (o *orderingService) lastConfig() (*common.Config, error) {
	o.mu.Lock()
	num := o.lastConfigNum
	o.mu.Unlock()
	block, err := o.store.Block(num)
	if err != nil {
		return nil, fmt.Errorf("devnet: read config block %d: %w", num, err)
	}
	return configOf(block)
}

// configOf returns the configuration a config block holds.
func configOf(block *common.Block) (*common.Config, error) {
	num := block.GetHeader().GetNumber()
	if len(block.GetData().GetData()) != 1 {
		return nil, fmt.Errorf("config block %d has %d transactions", num, len(block.GetData().GetData()))
	}
	tx, err := txutil.UnpackEnvelopeBytes(block.GetData().GetData()[0])
	if err != nil {
		return nil, fmt.Errorf("config block %d: %w", num, err)
	}
	env := &common.ConfigEnvelope{}
	if err := proto.Unmarshal(tx.Payload.GetData(), env); err != nil {
		return nil, fmt.Errorf("config block %d: unmarshal config envelope: %w", num, err)
	}
	return env.GetConfig(), nil
}

// appendOrgs orders the config block that adds the organisations added to the configuration
// current, whose application organisations are existing.
func (o *orderingService) appendOrgs(current *common.Config, existing, added []string) error {
	next := proto.Clone(current).(*common.Config)
	next.Sequence++
	app := next.GetChannelGroup().GetGroups()["Application"]
	app.Version++
	for _, id := range added {
		g, err := applicationOrgGroup(o.net.crypto.Org(id))
		if err != nil {
			return err
		}
		app.Groups[id] = g
	}
	update, err := o.configUpdate(current, app, existing)
	if err != nil {
		return err
	}
	raw, err := o.configTransaction(&common.ConfigEnvelope{Config: next, LastUpdate: update})
	if err != nil {
		return err
	}
	height, lastHash := o.store.ChainInfo()
	return o.appendBlock(ledger.NewBlock(height, lastHash, [][]byte{raw}), true)
}

// configUpdate returns the signed CONFIG_UPDATE envelope that turns current's Application
// group into app: its read set names the group's version and members, its write set the new
// version with every member (the added ones in full), and it carries the signatures of the
// admins of a majority of the existing organisations, which the Application group's Admins
// policy (MAJORITY Admins) requires.
func (o *orderingService) configUpdate(current *common.Config, app *common.ConfigGroup, existing []string) (*common.Envelope, error) {
	old := current.GetChannelGroup().GetGroups()["Application"]
	read := &common.ConfigGroup{Version: old.GetVersion(), Groups: map[string]*common.ConfigGroup{}}
	write := &common.ConfigGroup{Version: app.GetVersion(), Groups: map[string]*common.ConfigGroup{}, ModPolicy: old.GetModPolicy()}
	for id, g := range app.GetGroups() {
		if slices.Contains(existing, id) {
			read.Groups[id] = &common.ConfigGroup{Version: g.GetVersion()}
			write.Groups[id] = &common.ConfigGroup{Version: g.GetVersion()}
		} else {
			write.Groups[id] = g
		}
	}
	channel := o.net.cfg.Channel
	updateBytes, err := txutil.Marshal(&common.ConfigUpdate{
		ChannelId: channel,
		ReadSet:   &common.ConfigGroup{Groups: map[string]*common.ConfigGroup{"Application": read}},
		WriteSet:  &common.ConfigGroup{Groups: map[string]*common.ConfigGroup{"Application": write}},
	})
	if err != nil {
		return nil, err
	}
	signers := o.adminMajority(existing)
	cue := &common.ConfigUpdateEnvelope{ConfigUpdate: updateBytes}
	for _, admin := range signers {
		sig, err := configSignature(admin, updateBytes)
		if err != nil {
			return nil, err
		}
		cue.Signatures = append(cue.Signatures, sig)
	}
	data, err := txutil.Marshal(cue)
	if err != nil {
		return nil, err
	}
	return signedEnvelope(signers[0], common.HeaderType_CONFIG_UPDATE, channel, data)
}

// adminMajority returns the admins of a majority of the organisations orgs (sorted).
func (o *orderingService) adminMajority(orgs []string) []*msp.Identity {
	var out []*msp.Identity
	for _, id := range orgs[:len(orgs)/2+1] {
		out = append(out, o.net.crypto.Org(id).Admin.Signer)
	}
	return out
}

// configSignature is an admin's signature of a config update: over the marshalled signature
// header followed by the marshalled update.
func configSignature(admin *msp.Identity, update []byte) (*common.ConfigSignature, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	sh, err := txutil.Marshal(&common.SignatureHeader{Creator: admin.Serialize(), Nonce: nonce})
	if err != nil {
		return nil, err
	}
	sig, err := admin.Sign(append(append([]byte{}, sh...), update...))
	if err != nil {
		return nil, fmt.Errorf("sign config update: %w", err)
	}
	return &common.ConfigSignature{SignatureHeader: sh, Signature: sig}, nil
}
