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
	// collPolicy holds the collection-level endorsement policies (only collections that have one).
	collPolicy map[string]*common.SignaturePolicyEnvelope
	// members holds the member organisations of every collection.
	members map[string]map[string]bool
}

func (cc *chaincode) id() *peer.ChaincodeID {
	return &peer.ChaincodeID{Name: cc.def.Name, Version: cc.def.Version}
}

func (n *Network) loadChaincodes(defs []ChaincodeDefinition) (map[string]*chaincode, error) {
	out := make(map[string]*chaincode, len(defs))
	for _, def := range defs {
		cc := &chaincode{def: def, collPolicy: map[string]*common.SignaturePolicyEnvelope{}, members: map[string]map[string]bool{}}
		var err error
		if def.EndorsementPolicy == "" {
			cc.policy = policy.MajorityOf(n.peerOrgs)
		} else if cc.policy, err = policy.Parse(def.EndorsementPolicy); err != nil {
			return nil, fmt.Errorf("devnet: chaincode %s: endorsement policy: %w", def.Name, err)
		}
		switch c := strings.TrimSpace(def.Collections); {
		case c == "":
		case strings.HasPrefix(c, "["):
			if cc.collections, err = policy.ParseCollections([]byte(c)); err != nil {
				return nil, fmt.Errorf("devnet: chaincode %s: collections config: %w", def.Name, err)
			}
		default:
			if cc.collections, err = policy.LoadCollections(c); err != nil {
				return nil, fmt.Errorf("devnet: chaincode %s: collections config %s: %w", def.Name, c, err)
			}
		}
		for _, coll := range cc.collections {
			m := map[string]bool{}
			for _, id := range coll.Members {
				m[id] = true
			}
			cc.members[coll.Name] = m
			if coll.EndorsementPolicy != "" {
				env, err := policy.Parse(coll.EndorsementPolicy)
				if err != nil {
					return nil, fmt.Errorf("devnet: chaincode %s: collection %s endorsement policy: %w", def.Name, coll.Name, err)
				}
				cc.collPolicy[coll.Name] = env
			}
		}
		out[def.Name] = cc
	}
	return out, nil
}

// isMember reports whether org is a member of the chaincode's collection coll (or of the
// implicit collection of org).
func (cc *chaincode) isMember(coll, org string) bool {
	if id, implicit := strings.CutPrefix(coll, validator.ImplicitCollectionPrefix); implicit {
		return id == org
	}
	return cc.members[coll][org]
}
