// Package devnet is xborder's embedded development network: a single-process,
// Fabric-compatible network with one peer per organisation and an ordering service, which the
// unmodified Fabric Gateway SDK and the unmodified chaincode shim cannot tell from a Fabric v3
// network.
//
// Start creates the organisations' crypto material (first run), the ordering service's block
// store (with the channel's configuration block) and each peer's own ledger in a data
// directory, and serves Fabric's gateway.Gateway and peer.Deliver gRPC services on one
// listener per organisation (TLS by default). Chaincodes run as chaincode-as-a-service servers
// that each peer dials, exactly as a Fabric peer does.
//
// Every peer validates and commits the ordered blocks on its own, into its own ledger (world
// state, history, transaction index, blocks, and private data only for the collections its
// organisation is a member of), so peers can be at different heights, as on Fabric. Each
// service answers from the peer it is called on. Config.CommitDelay, SetCommitDelay,
// PausePeerCommits and ResumePeerCommits make a peer lag on purpose; PeerLedger,
// OrdererHeight, WaitForHeight and WaitForPeers let tests observe it.
//
// Each gateway call behaves as Fabric's:
//
//   - Evaluate simulates a proposal on the gateway's own peer (or the highest target
//     organisation's peer) and returns the chaincode response; the query system chaincode "qscc"
//     answers GetChainInfo, GetBlockByNumber, GetBlockByHash, GetTransactionByID and
//     GetBlockByTxID, the configuration system chaincode "cscc" GetConfigBlock,
//     GetChannelConfig and GetChannels.
//   - Endorse verifies the proposal and its creator and simulates it on the gateway's own peer,
//     picks the smallest set of organisations that satisfies the chaincode's endorsement
//     policy, the collection policies and key-level policies (never sending transient data to
//     organisations outside the collections written), and has each of their peers process the
//     proposal on its own ledger; their proposal response payloads must match, as Fabric's
//     gateway requires.
//   - Submit verifies the signed envelope and hands it to the ordering service, which cuts
//     blocks by batch timeout and size, signs them and appends them, fsync'd, to its block
//     store; every peer validates each block (signatures, policies, MVCC, duplicate
//     transaction IDs) and commits it atomically with fsync.
//   - CommitStatus waits for a transaction's validation code on the gateway's own peer;
//     ChaincodeEvents and Deliver stream events and blocks of the peer's ledger from any
//     position, then live. DeliverWithPrivateData adds the private write sets of the
//     collections the requester's organisation is a member of.
//
// Chaincode definitions (endorsement policy, collections) are taken from Config at every
// Start: there is no lifecycle to run, and a changed definition applies from the next start.
// The private write set of an endorsed transaction is held in the transient store of each
// member organisation's peer (a file next to its ledger, written without sync as Fabric's
// LevelDB store is, so it survives a crash of the process) until the peer commits the
// transaction; a peer that lacks it then pulls it from a member peer that committed it.
//
// Errors carry the gRPC status codes and gateway.ErrorDetail details Fabric's gateway uses,
// so client code written against a real network handles them the same way:
//
//   - Evaluate: a chaincode error response is Unknown, "evaluate call to endorser returned
//     error: chaincode response 500, <message>"; a rejected proposal (bad signature, no write
//     access, duplicate transaction ID) is FailedPrecondition; a chaincode that cannot be
//     reached is Aborted, "failed to evaluate transaction, see attached details for more info".
//   - Endorse: every failure of the simulation is Aborted, "failed to endorse transaction, see
//     attached details for more info" (with WithEndorsingOrganizations: "failed to collect
//     enough transaction endorsements, ..."), the peer's message in the ErrorDetail (for a
//     chaincode error "chaincode response 500, <message>"); when a further endorser's peer
//     fails or answers a different payload ("ProposalResponsePayloads do not match") and no
//     other organisations can replace it, Aborted, "failed to collect enough transaction
//     endorsements, ...", with one detail per failed peer; a policy no organisations can
//     satisfy, or transient data that would reach a non-member, is FailedPrecondition.
//   - Submit: an envelope the ordering service rejects is Aborted, "received unsuccessful
//     response from orderer: status=FORBIDDEN|BAD_REQUEST, info=..."; malformed requests are
//     InvalidArgument.
//   - CommitStatus and ChaincodeEvents: a bad signature or an identity outside the channel is
//     PermissionDenied; Unavailable while the network shuts down.
//
// Invalid transactions are committed with their validation code (MVCC_READ_CONFLICT,
// DUPLICATE_TXID, ENDORSEMENT_POLICY_FAILURE, ...), which CommitStatus returns.
package devnet
