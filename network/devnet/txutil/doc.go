// Package txutil builds and parses the Fabric messages that flow between a client, the devnet's
// endorsing peers and its ordering service: signed proposals, proposal responses with their
// endorsements, transaction envelopes, blocks and their transaction filters.
//
// Every function produces or accepts exactly the bytes a Fabric v3 peer would, so the unmodified
// Fabric Gateway SDK and Fabric's own tools can read what the devnet writes. The proposal hash,
// for example, is computed as Fabric does: SHA-256 over the channel header bytes, the signature
// header bytes and the chaincode proposal payload with its transient map removed.
package txutil
