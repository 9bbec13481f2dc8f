// Package chaincode is the xborder smart contract: cross-border e-commerce orders, escrowed
// payments with foreign exchange, customs declaration and decision with a three-document match,
// logistics certification, delivery-versus-payment release, disputes, compliance rules and
// alerts, merchant credit, settlement reports and document anchoring.
//
// Every rule is enforced here from the transaction creator's MSP ID; errors start with a stable
// code (see Code). The package imports only the contract API, the shim, cid and Fabric's protos,
// so the same binary runs on the devnet and on real Fabric. docs/chaincode.md describes every
// transaction; docs/chaincode-rules.md the money, FX, compliance and credit rules.
package chaincode
