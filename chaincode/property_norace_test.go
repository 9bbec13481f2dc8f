//go:build !race

package chaincode_test

// lcPropSteps is the longest operation sequence of TestPropertyConservation.
const lcPropSteps = 70
