package chaincode

import (
	"encoding/json"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// scanRecords decodes, in key order, every JSON record of a partial composite key query on the
// world state into a T and calls fn with it; what names the records in errors.
func scanRecords[T any](ctx contractapi.TransactionContextInterface, what, objectType string, attrs []string, fn func(*T) error) error {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(objectType, attrs)
	if err != nil {
		return errInternal("query "+what, err)
	}
	defer it.Close()
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return errInternal("iterate "+what, err)
		}
		var rec T
		if err := json.Unmarshal(kv.GetValue(), &rec); err != nil {
			return errInternal("decode "+what, err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}
