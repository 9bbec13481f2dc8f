package chaincode

import (
	"encoding/json"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// getJSON reads key and unmarshals it into v. It reports found=false when the key is absent.
func getJSON(ctx contractapi.TransactionContextInterface, key string, v any) (bool, error) {
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return false, errInternal("get state", err)
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, errInternal("decode state", err)
	}
	return true, nil
}

// putJSON marshals v (struct fields in declaration order, so the bytes are deterministic) and
// writes it under key.
func putJSON(ctx contractapi.TransactionContextInterface, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errInternal("encode state", err)
	}
	if err := ctx.GetStub().PutState(key, b); err != nil {
		return errInternal("put state", err)
	}
	return nil
}

// emit sets the transaction's single chaincode event. Fabric keeps only the last event set in a
// transaction, so every transaction calls emit at most once. The payload never carries private data.
func emit(ctx contractapi.TransactionContextInterface, name string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return errInternal("encode event", err)
	}
	if err := ctx.GetStub().SetEvent(name, b); err != nil {
		return errInternal("set event", err)
	}
	return nil
}

// txTime returns the transaction timestamp (the client's proposal time, identical on every
// endorser), never the wall clock.
func txTime(ctx contractapi.TransactionContextInterface) (time.Time, error) {
	ts, err := ctx.GetStub().GetTxTimestamp()
	if err != nil {
		return time.Time{}, errInternal("read transaction timestamp", err)
	}
	return ts.AsTime().UTC(), nil
}
