package shimtest_test

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/xborder/xborder/internal/shimtest"
)

// NoteContract is a tiny contract: notes keyed by ID, each signed by the
// creator's MSP ID.
type NoteContract struct {
	contractapi.Contract
}

// Put stores a note and emits a NotePut event.
func (c *NoteContract) Put(ctx contractapi.TransactionContextInterface, id, text string) error {
	existing, err := ctx.GetStub().GetState(id)
	if err != nil {
		return fmt.Errorf("read note %s: %w", id, err)
	}
	if existing != nil {
		return fmt.Errorf("CONFLICT: note %s already exists", id)
	}
	msp, err := ctx.GetClientIdentity().GetMSPID()
	if err != nil {
		return fmt.Errorf("creator MSP: %w", err)
	}
	if err := ctx.GetStub().PutState(id, []byte(msp+": "+text)); err != nil {
		return fmt.Errorf("write note %s: %w", id, err)
	}
	return ctx.GetStub().SetEvent("NotePut", []byte(id))
}

// Get returns a note.
func (c *NoteContract) Get(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	v, err := ctx.GetStub().GetState(id)
	if err != nil {
		return "", fmt.Errorf("read note %s: %w", id, err)
	}
	if v == nil {
		return "", fmt.Errorf("NOT_FOUND: note %s", id)
	}
	return string(v), nil
}

func Example() {
	ids, err := shimtest.NewIdentities("MerchantMSP")
	if err != nil {
		panic(err)
	}
	cc, err := contractapi.NewChaincode(&NoteContract{})
	if err != nil {
		panic(err)
	}
	ledger := shimtest.NewLedger()
	merchant := shimtest.TxOptions{Creator: ids.Creator("MerchantMSP")}

	put := ledger.Invoke(cc, merchant, "Put", "n1", "hello")
	fmt.Println("put:", put.Status, put.Event.EventName, put.Err)

	again := ledger.Invoke(cc, merchant, "Put", "n1", "twice")
	fmt.Println("again:", again.Status, again.Message)

	get := ledger.Evaluate(cc, merchant, "Get", "n1")
	fmt.Println("get:", get.Status, string(get.Payload))
	fmt.Println("committed:", string(ledger.State("n1")), len(ledger.Events()))
	// Output:
	// put: 200 NotePut <nil>
	// again: 500 CONFLICT: note n1 already exists
	// get: 200 MerchantMSP: hello
	// committed: MerchantMSP: hello 1
}

// ExampleLedger_Commit shows two transactions simulated against the same
// state: the first to commit wins, the second fails MVCC validation, as on a
// Fabric peer.
func ExampleLedger_Commit() {
	ledger := shimtest.NewLedger()
	ledger.PutStateDirect("balance", []byte("100"))

	first := ledger.NewStub(shimtest.TxOptions{}, "Withdraw")
	second := ledger.NewStub(shimtest.TxOptions{}, "Withdraw")
	for _, stub := range []*shimtest.Stub{first, second} {
		if _, err := stub.GetState("balance"); err != nil {
			panic(err)
		}
		if err := stub.PutState("balance", []byte("40")); err != nil {
			panic(err)
		}
	}
	fmt.Println("first:", ledger.Commit(first))
	err := ledger.Commit(second)
	fmt.Println("second conflicts:", errors.Is(err, shimtest.ErrMVCCConflict))
	for _, b := range ledger.Blocks() {
		fmt.Println(b.Number, b.ValidationCode)
	}
	// Output:
	// first: <nil>
	// second conflicts: true
	// 1 VALID
	// 2 VALID
	// 3 MVCC_READ_CONFLICT
}
