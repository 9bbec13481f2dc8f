// Package fabric describes xborder's production network on Hyperledger Fabric v3 and builds the
// artefacts its deployment needs: the chaincode-as-a-service package (with a reproducible
// package ID) and the REST gateway's configuration and credentials.
//
// The network itself is configured by the files beside this package: configtx.yaml (channel
// xborder, Raft and BFT orderer profiles, the five organisations), crypto-config.yaml (cryptogen)
// and network.sh, which runs it from Fabric's native release binaries; docker-compose.yaml at the
// repository root runs the same configuration in containers. The command xborder-fabric
// (cmd/xborder-fabric) exposes this package to network.sh.
package fabric
