package ccruntime

import (
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// validationParameterKey is the metadata key of a key-level endorsement policy.
var validationParameterKey = peer.MetaDataKeys_VALIDATION_PARAMETER.String()

// chaincodeInterest builds the ChaincodeInterest a Fabric endorser attaches to its proposal
// response (endorser.buildChaincodeInterest): the namespace policy is required when a key
// without a key-level policy was written or when the namespace was only read; collection
// policies are required for collections written without key-level policies and for
// collections read privately; key-level policies of written keys are listed. Unlike Fabric,
// entries are emitted in a deterministic order.
func (tx *txContext) chaincodeInterest(pub *rwset.TxReadWriteSet) (*peer.ChaincodeInterest, error) {
	ns := tx.ns
	required := map[string]map[string]bool{} // namespace -> collection ("" = public) -> policy required
	var keyPolicies []*common.SignaturePolicyEnvelope
	if len(tx.written) > 0 {
		required[ns] = map[string]bool{"": false}
		for _, coll := range sortedKeys(tx.written) {
			keys := tx.written[coll]
			for _, key := range sortedKeys(keys) {
				md := keys[key]
				if raw, ok := md[validationParameterKey]; ok {
					env := &common.SignaturePolicyEnvelope{}
					if err := proto.Unmarshal(raw, env); err != nil {
						return nil, fmt.Errorf("key-level endorsement policy of %s: %w", key, err)
					}
					keyPolicies = append(keyPolicies, env)
				} else {
					required[ns][coll] = true
				}
			}
		}
	}
	for _, nsRW := range pub.GetNsRwset() {
		if _, ok := required[nsRW.GetNamespace()]; !ok {
			required[nsRW.GetNamespace()] = map[string]bool{"": true}
		}
	}
	for _, coll := range sortedKeys(tx.privateReads) {
		if _, ok := required[ns]; !ok {
			required[ns] = map[string]bool{}
		}
		required[ns][coll] = true
	}

	interest := &peer.ChaincodeInterest{}
	for _, name := range sortedKeys(required) {
		colls := required[name]
		for _, coll := range sortedKeys(colls) {
			call := &peer.ChaincodeCall{Name: name}
			if coll == "" {
				switch {
				case name == ns && len(keyPolicies) > 0:
					call.KeyPolicies = keyPolicies
					call.DisregardNamespacePolicy = !colls[""]
				case !colls[""]:
					continue
				}
			} else {
				call.CollectionNames = []string{coll}
				call.NoPrivateReads = !tx.privateReads[coll]
			}
			interest.Chaincodes = append(interest.Chaincodes, call)
		}
	}
	return interest, nil
}
