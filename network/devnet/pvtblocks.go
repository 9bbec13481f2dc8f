package devnet

import (
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"

	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/policy"
)

// privateDataFor returns the private write sets of a block the peer committed (its ledger
// keeps those of valid transactions, for the collections of the peer's organisation) that
// reader may see: the collections whose member policy it satisfies and whose data has not
// outlived its blockToLive, as Fabric's DeliverWithPrivateData does.
func (p *peerNode) privateDataFor(block *common.Block, reader *msp.Principal) (map[uint64]*rwset.TxPvtReadWriteSet, error) {
	n := p.net
	num := block.GetHeader().GetNumber()
	all, err := p.ledger.PrivateWriteSets(num)
	if err != nil {
		return nil, err
	}
	height := p.ledger.Height()
	out := map[uint64]*rwset.TxPvtReadWriteSet{}
	for txNum, txPvt := range all {
		filtered := &rwset.TxPvtReadWriteSet{DataModel: txPvt.GetDataModel()}
		for _, ns := range txPvt.GetNsPvtRwset() {
			keep := &rwset.NsPvtReadWriteSet{Namespace: ns.GetNamespace()}
			for _, coll := range ns.GetCollectionPvtRwset() {
				if n.mayReadCollection(ns.GetNamespace(), coll.GetCollectionName(), reader, num, height) {
					keep.CollectionPvtRwset = append(keep.CollectionPvtRwset, coll)
				}
			}
			if len(keep.GetCollectionPvtRwset()) > 0 {
				filtered.NsPvtRwset = append(filtered.NsPvtRwset, keep)
			}
		}
		if len(filtered.GetNsPvtRwset()) > 0 {
			out[txNum] = filtered
		}
	}
	return out, nil
}

func (n *Network) mayReadCollection(ns, coll string, reader *msp.Principal, blockNum, height uint64) bool {
	cc, ok := n.chaincodes[ns]
	if !ok {
		return false
	}
	c := policy.FindCollection(cc.collections, coll)
	if c == nil {
		return cc.isMember(coll, reader.MSPID)
	}
	if c.BlockToLive > 0 && height > blockNum+c.BlockToLive+1 {
		return false
	}
	env, err := c.MemberPolicy()
	if err != nil {
		return false
	}
	return policy.SatisfiedByPrincipals(env, n.mgr, []*msp.Principal{reader})
}
