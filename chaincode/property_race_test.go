//go:build race

package chaincode_test

// lcPropSteps is the longest operation sequence of TestPropertyConservation. The race detector
// makes every step about ten times slower, so race builds run shorter sequences.
const lcPropSteps = 30
