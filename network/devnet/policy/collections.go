package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// Collection is one private data collection definition of a chaincode, as in Fabric's
// collections_config.json.
type Collection struct {
	// Name is the collection name.
	Name string
	// Policy is the member organisations policy, an OR of principals.
	Policy string
	// Members are the MSP IDs named by Policy, in order of appearance.
	Members []string
	// RequiredPeerCount and MaxPeerCount are the dissemination settings (defaults 0 and 1).
	RequiredPeerCount int32
	MaxPeerCount      int32
	// BlockToLive is the number of blocks after which private data is purged; 0 keeps it forever.
	BlockToLive uint64
	// MemberOnlyRead and MemberOnlyWrite restrict reads and writes to member organisations' clients.
	MemberOnlyRead  bool
	MemberOnlyWrite bool
	// EndorsementPolicy is the collection-level signature policy; "" means the chaincode's
	// endorsement policy applies (unless EndorsementPolicyRef is set).
	EndorsementPolicy string
	// EndorsementPolicyRef is a channel config policy reference
	// (endorsementPolicy.channelConfigPolicy, e.g. "/Channel/Application/Endorsement").
	EndorsementPolicyRef string

	memberEnv      *common.SignaturePolicyEnvelope
	endorsementEnv *common.SignaturePolicyEnvelope
}

// IsMember reports whether mspID is a member organisation of the collection.
func (c *Collection) IsMember(mspID string) bool {
	return slices.Contains(c.Members, mspID)
}

// MemberPolicy returns the parsed member organisations policy.
func (c *Collection) MemberPolicy() (*common.SignaturePolicyEnvelope, error) {
	if c.memberEnv != nil {
		return c.memberEnv, nil
	}
	env, err := Parse(c.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: collection %s: member policy: %w", c.Name, err)
	}
	return env, nil
}

// EndorsementEnvelope returns the parsed collection-level endorsement signature policy, or nil
// if the collection has none (EndorsementPolicy is "").
func (c *Collection) EndorsementEnvelope() (*common.SignaturePolicyEnvelope, error) {
	if c.EndorsementPolicy == "" {
		return nil, nil
	}
	if c.endorsementEnv != nil {
		return c.endorsementEnv, nil
	}
	env, err := Parse(c.EndorsementPolicy)
	if err != nil {
		return nil, fmt.Errorf("policy: collection %s: endorsement policy: %w", c.Name, err)
	}
	return env, nil
}

// collectionNamePattern is Fabric's lifecycle rule for collection names.
var collectionNamePattern = regexp.MustCompile(`^[A-Za-z0-9-]+([A-Za-z0-9_-]+)*$`)

type endorsementPolicyJSON struct {
	ChannelConfigPolicy string `json:"channelConfigPolicy,omitempty"`
	SignaturePolicy     string `json:"signaturePolicy,omitempty"`
}

type collectionJSON struct {
	Name              string                 `json:"name"`
	Policy            string                 `json:"policy"`
	RequiredPeerCount *int32                 `json:"requiredPeerCount"`
	MaxPeerCount      *int32                 `json:"maxPeerCount"`
	BlockToLive       uint64                 `json:"blockToLive"`
	MemberOnlyRead    bool                   `json:"memberOnlyRead"`
	MemberOnlyWrite   bool                   `json:"memberOnlyWrite"`
	EndorsementPolicy *endorsementPolicyJSON `json:"endorsementPolicy,omitempty"`
}

// LoadCollections reads and parses a collections_config.json file.
func LoadCollections(path string) ([]Collection, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: read collections config: %w", err)
	}
	cols, err := ParseCollections(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cols, nil
}

// ParseCollections parses Fabric's collections_config.json format (a JSON array of
// collections) and validates it as Fabric's lifecycle does: names of alphanumerics, '_' and '-'
// not starting with '_', no duplicates, requiredPeerCount >= 0, maxPeerCount >= requiredPeerCount
// (defaults 0 and 1 as in the peer CLI), a member policy that is an OR of principals, and at most
// one of signaturePolicy and channelConfigPolicy.
func ParseCollections(data []byte) ([]Collection, error) {
	var raw []collectionJSON
	// Unknown fields are ignored, as by Fabric's peer CLI.
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("policy: could not parse the collection configuration: %w", err)
	}
	if dec.More() {
		return nil, errors.New("policy: could not parse the collection configuration: trailing data after the array")
	}
	out := make([]Collection, 0, len(raw))
	seen := map[string]bool{}
	for i, r := range raw {
		c := Collection{
			Name:              r.Name,
			Policy:            r.Policy,
			RequiredPeerCount: 0,
			MaxPeerCount:      1,
			BlockToLive:       r.BlockToLive,
			MemberOnlyRead:    r.MemberOnlyRead,
			MemberOnlyWrite:   r.MemberOnlyWrite,
		}
		if r.RequiredPeerCount != nil {
			c.RequiredPeerCount = *r.RequiredPeerCount
		}
		if r.MaxPeerCount != nil {
			c.MaxPeerCount = *r.MaxPeerCount
		}
		if r.EndorsementPolicy != nil {
			c.EndorsementPolicy = r.EndorsementPolicy.SignaturePolicy
			c.EndorsementPolicyRef = r.EndorsementPolicy.ChannelConfigPolicy
		}
		if err := c.Prepare(); err != nil {
			return nil, fmt.Errorf("policy: collection #%d: %w", i, err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("policy: collection-name: %s -- found duplicate in collection configuration", c.Name)
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out, nil
}

// Prepare validates a collection built in code, parses its policies and derives Members from
// its member policy. ParseCollections calls it for every collection it returns.
func (c *Collection) Prepare() error {
	if !collectionNamePattern.MatchString(c.Name) {
		return fmt.Errorf("invalid collection name '%s'. Names can only consist of alphanumerics, '_', and '-' and cannot begin with '_'", c.Name)
	}
	if c.RequiredPeerCount < 0 {
		return fmt.Errorf("collection-name: %s -- requiredPeerCount (%d) cannot be less than zero", c.Name, c.RequiredPeerCount)
	}
	if c.MaxPeerCount < c.RequiredPeerCount {
		return fmt.Errorf("collection-name: %s -- maximum peer count (%d) cannot be less than the required peer count (%d)",
			c.Name, c.MaxPeerCount, c.RequiredPeerCount)
	}
	if c.Policy == "" {
		return fmt.Errorf("collection member policy is not set for collection '%s'", c.Name)
	}
	env, err := Parse(c.Policy)
	if err != nil {
		return fmt.Errorf("collection-name: %s -- invalid member org policy: %w", c.Name, err)
	}
	if err := orConcat(env.Rule); err != nil {
		return fmt.Errorf("collection-name: %s -- error in member org policy: %w", c.Name, err)
	}
	c.memberEnv = env
	c.Members = Orgs(env)
	if c.EndorsementPolicy != "" && c.EndorsementPolicyRef != "" {
		return fmt.Errorf("collection-name: %s -- cannot specify both signaturePolicy and channelConfigPolicy", c.Name)
	}
	if c.EndorsementPolicy != "" {
		ep, err := Parse(c.EndorsementPolicy)
		if err != nil {
			return fmt.Errorf("collection-name: %s -- invalid endorsement signature policy: %w", c.Name, err)
		}
		c.endorsementEnv = ep
	}
	return nil
}

func orConcat(r *common.SignaturePolicy) error {
	n := r.GetNOutOf()
	if n == nil {
		return nil
	}
	if n.N != 1 {
		return fmt.Errorf("signature policy is not an OR concatenation, NOutOf %d", n.N)
	}
	for _, sub := range n.Rules {
		if err := orConcat(sub); err != nil {
			return err
		}
	}
	return nil
}

// ValidateMembers checks that every member organisation of every collection is one of the
// channel's organisations, as Fabric's lifecycle does when a definition is approved.
func ValidateMembers(cols []Collection, channelOrgs []string) error {
	for _, c := range cols {
		for _, m := range c.Members {
			if !slices.Contains(channelOrgs, m) {
				return fmt.Errorf("policy: collection-name: %s -- collection member '%s' is not part of the channel", c.Name, m)
			}
		}
	}
	return nil
}

// ToProto converts the collection into Fabric's StaticCollectionConfig wrapped in a
// CollectionConfig.
func (c *Collection) ToProto() (*peer.CollectionConfig, error) {
	member, err := c.MemberPolicy()
	if err != nil {
		return nil, err
	}
	scc := &peer.StaticCollectionConfig{
		Name: c.Name,
		MemberOrgsPolicy: &peer.CollectionPolicyConfig{
			Payload: &peer.CollectionPolicyConfig_SignaturePolicy{SignaturePolicy: member},
		},
		RequiredPeerCount: c.RequiredPeerCount,
		MaximumPeerCount:  c.MaxPeerCount,
		BlockToLive:       c.BlockToLive,
		MemberOnlyRead:    c.MemberOnlyRead,
		MemberOnlyWrite:   c.MemberOnlyWrite,
	}
	switch {
	case c.EndorsementPolicy != "":
		ep, err := c.EndorsementEnvelope()
		if err != nil {
			return nil, err
		}
		scc.EndorsementPolicy = &peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_SignaturePolicy{SignaturePolicy: ep}}
	case c.EndorsementPolicyRef != "":
		scc.EndorsementPolicy = &peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_ChannelConfigPolicyReference{
			ChannelConfigPolicyReference: c.EndorsementPolicyRef,
		}}
	}
	return &peer.CollectionConfig{Payload: &peer.CollectionConfig_StaticCollectionConfig{StaticCollectionConfig: scc}}, nil
}

// Collections is a chaincode's collection configuration.
type Collections []Collection

// ToProto converts the collections into Fabric's CollectionConfigPackage, in order.
func (cs Collections) ToProto() (*peer.CollectionConfigPackage, error) {
	return CollectionsToProto(cs)
}

// CollectionsToProto converts collections into Fabric's CollectionConfigPackage, in order.
func CollectionsToProto(cols []Collection) (*peer.CollectionConfigPackage, error) {
	pkg := &peer.CollectionConfigPackage{}
	for i := range cols {
		cc, err := cols[i].ToProto()
		if err != nil {
			return nil, err
		}
		pkg.Config = append(pkg.Config, cc)
	}
	return pkg, nil
}

// FindCollection returns the collection named name, or nil.
func FindCollection(cols []Collection, name string) *Collection {
	for i := range cols {
		if cols[i].Name == name {
			return &cols[i]
		}
	}
	return nil
}
