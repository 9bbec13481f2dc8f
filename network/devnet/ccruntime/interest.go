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
	required := map[string]map[string]bool{} // namespace -> collection ("" = public) -> policy required
	var keyPolicies []*common.SignaturePolicyEnvelope
	if len(tx.written) > 0 {
		required[tx.ns] = map[string]bool{"": false}
		var err error
		if keyPolicies, err = tx.writtenKeyPolicies(required[tx.ns]); err != nil {
			return nil, err
		}
	}
	for _, nsRW := range pub.GetNsRwset() {
		if _, ok := required[nsRW.GetNamespace()]; !ok {
			required[nsRW.GetNamespace()] = map[string]bool{"": true}
		}
	}
	for _, coll := range sortedKeys(tx.privateReads) {
		if _, ok := required[tx.ns]; !ok {
			required[tx.ns] = map[string]bool{}
		}
		required[tx.ns][coll] = true
	}

	interest := &peer.ChaincodeInterest{}
	for _, name := range sortedKeys(required) {
		colls := required[name]
		for _, coll := range sortedKeys(colls) {
			if call := tx.interestCall(name, coll, colls, keyPolicies); call != nil {
				interest.Chaincodes = append(interest.Chaincodes, call)
			}
		}
	}
	return interest, nil
}

// writtenKeyPolicies returns the key-level policies of the keys written, in key order, and
// marks in required the collections ("" = public) with a key written without one.
func (tx *txContext) writtenKeyPolicies(required map[string]bool) ([]*common.SignaturePolicyEnvelope, error) {
	var keyPolicies []*common.SignaturePolicyEnvelope
	for _, coll := range sortedKeys(tx.written) {
		keys := tx.written[coll]
		for _, key := range sortedKeys(keys) {
			raw, ok := keys[key][validationParameterKey]
			if !ok {
				required[coll] = true
				continue
			}
			env := &common.SignaturePolicyEnvelope{}
			if err := proto.Unmarshal(raw, env); err != nil {
				return nil, fmt.Errorf("key-level endorsement policy of %s: %w", key, err)
			}
			keyPolicies = append(keyPolicies, env)
		}
	}
	return keyPolicies, nil
}

// interestCall returns the ChaincodeCall for the policy of collection coll ("" = the
// namespace's) of namespace name, nil if none is needed. colls holds the namespace's
// collections and whether their policy is required.
func (tx *txContext) interestCall(name, coll string, colls map[string]bool, keyPolicies []*common.SignaturePolicyEnvelope) *peer.ChaincodeCall {
	call := &peer.ChaincodeCall{Name: name}
	if coll != "" {
		call.CollectionNames = []string{coll}
		call.NoPrivateReads = !tx.privateReads[coll]
		return call
	}
	switch {
	case name == tx.ns && len(keyPolicies) > 0:
		call.KeyPolicies = keyPolicies
		call.DisregardNamespacePolicy = !colls[""]
	case !colls[""]:
		return nil
	}
	return call
}
