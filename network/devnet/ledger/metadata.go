package ledger

import (
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"google.golang.org/protobuf/proto"
)

// MetadataEntries decodes VersionedValue.Metadata (a marshalled kvrwset.KVMetadataWrite, the
// format Fabric's state database keeps) into its entries, in stored order. nil or empty
// metadata yields no entries. The chaincode runtime uses it to answer GET_STATE_METADATA
// (e.g. the VALIDATION_PARAMETER key-level endorsement policy).
func MetadataEntries(md []byte) ([]*kvrwset.KVMetadataEntry, error) {
	if len(md) == 0 {
		return nil, nil
	}
	w := &kvrwset.KVMetadataWrite{}
	if err := proto.Unmarshal(md, w); err != nil {
		return nil, fmt.Errorf("unmarshal state metadata: %w", err)
	}
	return w.GetEntries(), nil
}
