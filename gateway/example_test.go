package gateway_test

import (
	"fmt"

	"github.com/xborder/xborder/gateway"
)

// A client that talks to the chaincode directly (with the Fabric Gateway SDK) sends what the
// REST gateway sends for the same request: the body without its private fields, and those in
// the transient map.
func ExampleOperation_Invocation() {
	op, _ := gateway.OperationByID("escrowPayment")
	body := []byte(`{"paymentId":"p-1","payerCurrency":"EUR","payerAmount":2760,"fxRate":"0.92","payerName":"Ann Lee","payerAccount":"DE89370400440532013000"}`)
	inv, err := op.Invocation(map[string]string{"id": "o-1"}, body)
	if err != nil {
		panic(err)
	}
	fmt.Println(inv.Transaction)
	fmt.Println(string(inv.Args[0]))
	for key := range inv.Transient {
		fmt.Println("transient:", key)
	}
	// Output:
	// EscrowPayment
	// {"fxRate":"0.92","orderId":"o-1","payerAmount":2760,"payerCurrency":"EUR","paymentId":"p-1"}
	// transient: payment_private
}

// A chaincode error about a private field names the transient value; RequestField names the
// field the REST client sent.
func ExampleOperation_RequestField() {
	op, _ := gateway.OperationByID("createOrder")
	err := op.RequestField(gateway.FieldError("transient.order_private.phone", "must not be empty"))
	fmt.Println(gateway.AsError(err).Field)
	// Output: buyer.phone
}
