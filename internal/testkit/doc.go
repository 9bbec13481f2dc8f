// Package testkit is what the xborder test suites (internal/devapp, reliability, network/fabric,
// internal/conformance) and the benchmark share to talk to the system as a client would: the
// REST bodies of a valid order's lifecycle (Order), a REST client holding one API key per
// organisation (Client), and a reader of the gateway's Server-Sent Events (Stream).
//
// It imports no test framework: helpers that fail a test take a T, which *testing.T and
// *testing.B satisfy, so that the benchmark tool can use the fixtures too.
package testkit

// The organisations of the xborder consortium, by MSP ID.
const (
	MerchantMSP = "MerchantMSP"
	BankMSP     = "BankMSP"
	CarrierMSP  = "CarrierMSP"
	CustomsMSP  = "CustomsMSP"
)

// Organizations lists the four organisations.
func Organizations() []string { return []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP} }

// T is what the helpers that fail a test need of a *testing.T or *testing.B.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}
