package devnet

import (
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/xborder/xborder/network/devnet/policy"
	"github.com/xborder/xborder/network/devnet/validator"
)

// chaincode is a chaincode definition resolved for endorsement and validation.
type chaincode struct {
	def         ChaincodeDefinition
	policy      *common.SignaturePolicyEnvelope // the chaincode endorsement policy
	collections []policy.Collection
	// members holds the member organisations of every collection.
	members map[string]map[string]bool
}

func (cc *chaincode) id() *peer.ChaincodeID {
	return &peer.ChaincodeID{Name: cc.def.Name, Version: cc.def.Version}
}

// loadChaincodes resolves the chaincode definitions of the configuration.
func (n *Network) loadChaincodes(defs []ChaincodeDefinition) (map[string]*chaincode, error) {
	out := make(map[string]*chaincode, len(defs))
	for _, def := range defs {
		cc, err := n.loadChaincode(def)
		if err != nil {
			return nil, fmt.Errorf("devnet: chaincode %s: %w", def.Name, err)
		}
		out[def.Name] = cc
	}
	return out, nil
}

// loadChaincode parses a definition's endorsement policy (the channel's majority by default)
// and its collections (whose endorsement policies the validator resolves) with their
// membership.
func (n *Network) loadChaincode(def ChaincodeDefinition) (*chaincode, error) {
	cc := &chaincode{def: def, members: map[string]map[string]bool{}}
	var err error
	if def.EndorsementPolicy == "" {
		cc.policy = policy.MajorityOf(n.peerOrgs)
	} else if cc.policy, err = policy.Parse(def.EndorsementPolicy); err != nil {
		return nil, fmt.Errorf("endorsement policy: %w", err)
	}
	if cc.collections, err = loadCollections(def.Collections); err != nil {
		return nil, err
	}
	for _, coll := range cc.collections {
		m := map[string]bool{}
		for _, id := range coll.Members {
			m[id] = true
		}
		cc.members[coll.Name] = m
	}
	return cc, nil
}

// loadCollections parses ChaincodeDefinition.Collections: none, the JSON itself or a file.
func loadCollections(config string) ([]policy.Collection, error) {
	switch c := strings.TrimSpace(config); {
	case c == "":
		return nil, nil
	case strings.HasPrefix(c, "["):
		colls, err := policy.ParseCollections([]byte(c))
		if err != nil {
			return nil, fmt.Errorf("collections config: %w", err)
		}
		return colls, nil
	default:
		colls, err := policy.LoadCollections(c)
		if err != nil {
			return nil, fmt.Errorf("collections config %s: %w", c, err)
		}
		return colls, nil
	}
}

// isMember reports whether org is a member of the chaincode's collection coll (or of the
// implicit collection of org).
func (cc *chaincode) isMember(coll, org string) bool {
	if id, implicit := strings.CutPrefix(coll, validator.ImplicitCollectionPrefix); implicit {
		return id == org
	}
	return cc.members[coll][org]
}
