package ccruntime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/policy"
)

type (
	ledgerValue = ledger.VersionedValue
	ledgerKV    = ledger.KV
)

// ImplicitCollectionPrefix starts the name of Fabric's implicit per-organisation collections,
// _implicit_org_<MSPID>.
const ImplicitCollectionPrefix = "_implicit_org_"

func valueOf(vv *ledgerValue) []byte {
	if vv == nil {
		return nil
	}
	return vv.Value
}

// collectionConfig finds a collection as Fabric's collection store does: an explicit
// collection of the chaincode, or an implicit collection of any organisation (anyone may read
// and write an implicit collection; only its organisation's peers hold the data).
func (tx *txContext) collectionConfig(coll string) (*policy.Collection, bool) {
	for i := range tx.inv.Collections {
		if tx.inv.Collections[i].Name == coll {
			return &tx.inv.Collections[i], true
		}
	}
	if mspID, ok := strings.CutPrefix(coll, ImplicitCollectionPrefix); ok && mspID != "" {
		return &policy.Collection{Name: coll, Members: []string{mspID}}, true
	}
	return nil, false
}

// validateCollName mirrors the ledger's collection name check: the collection must be one of
// the chaincode's explicit collections or the implicit collection of a channel organisation.
func (tx *txContext) validateCollName(coll string) error {
	for i := range tx.inv.Collections {
		if tx.inv.Collections[i].Name == coll {
			return nil
		}
	}
	if mspID, ok := strings.CutPrefix(coll, ImplicitCollectionPrefix); ok && slices.Contains(tx.inv.ChannelMSPIDs, mspID) {
		return nil
	}
	return fmt.Errorf("collection [%s] not defined in the collection config for chaincode [%s]", coll, tx.ns)
}

// localMember reports whether the simulating peer's organisation is a member of coll, i.e.
// whether the peer holds the collection's private data.
func (tx *txContext) localMember(coll string) bool {
	c, ok := tx.collectionConfig(coll)
	return ok && slices.Contains(c.Members, tx.inv.LocalMSPID)
}

// permissions mirrors Fabric's RetrieveReadWritePermission for the transaction creator.
func (tx *txContext) permissions(coll string) (read, write bool, err error) {
	c, ok := tx.collectionConfig(coll)
	if !ok {
		return false, false, fmt.Errorf("collection %s/%s/%s could not be found", tx.inv.ChannelID, tx.ns, coll)
	}
	if !c.MemberOnlyRead && !c.MemberOnlyWrite {
		return true, true, nil
	}
	creator, err := tx.creatorMSPID()
	if err != nil {
		return false, false, err
	}
	if creator != "" && slices.Contains(c.Members, creator) {
		return true, true, nil
	}
	return !c.MemberOnlyRead, !c.MemberOnlyWrite, nil
}

func (tx *txContext) checkReadPermission(coll string) error {
	read, _, err := tx.permissions(coll)
	if err != nil {
		return err
	}
	if !read {
		return fmt.Errorf("tx creator does not have read access permission on privatedata in chaincodeName:%s collectionName: %s", tx.ns, coll)
	}
	return nil
}

func (tx *txContext) checkWritePermission(coll string) error {
	_, write, err := tx.permissions(coll)
	if err != nil {
		return err
	}
	if !write {
		return fmt.Errorf("tx creator does not have write access permission on privatedata in chaincodeName:%s collectionName: %s", tx.ns, coll)
	}
	return nil
}
