package devnet

import "github.com/xborder/xborder/network/devnet/validator"

// ValidateOrdered validates ordered block num against st as a peer's committer does, sharing
// the validation the peers made of it when st answers the same.
func (n *Network) ValidateOrdered(num uint64, st validator.StateMetadata) (*validator.BlockResult, error) {
	ob, err := n.orderer.blocks.get(num)
	if err != nil {
		return nil, err
	}
	return ob.validate(n.validator, n.mgr.Generation(), st)
}
