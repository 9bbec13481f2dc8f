// Package conformance pins the gateway's REST↔chaincode mapping (gateway.Operations) to the
// chaincode it describes. The gateway's production packages never import the chaincode; these
// tests are where the two meet: every transaction and its arguments, every transient key and
// private field, run through the real contract on an in-memory peer (internal/shimtest). The
// package has no code of its own.
package conformance
