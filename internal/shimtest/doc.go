// Package shimtest is an in-memory Hyperledger Fabric peer for chaincode unit
// tests: a shim.ChaincodeStubInterface (Stub) backed by a versioned ledger
// (Ledger), plus real X.509 identities (Identities) for the transaction
// creator.
//
// It is a fake at a seam that cannot run in-process in unit tests: the real
// chaincode/peer protocol needs a peer process and a gRPC stream. Everything
// on the chaincode side of that seam (contractapi, the contract code, pkg/cid)
// runs unchanged against it. The development network (network/devnet) and a
// real Fabric network run the real protocol; this package only makes the
// chaincode's own tests fast and exact.
//
// # Using it
//
//	ids, _ := shimtest.NewIdentities("MerchantMSP", "BankMSP")
//	ledger := shimtest.NewLedger()
//	cc, _ := contractapi.NewChaincode(&MyContract{})
//	res := ledger.Invoke(cc, shimtest.TxOptions{Creator: ids.Creator("MerchantMSP")}, "CreateOrder", `{"orderId":"o1"}`)
//	// res.Status, res.Payload, res.Message, res.Event, res.WriteSet, res.Err (commit error)
//	ledger.State("o1")
//
// To enforce the chaincode's real collection configuration (members,
// memberOnlyRead, memberOnlyWrite), load it into the ledger:
//
//	data, _ := os.ReadFile("collections_config.json")
//	err := ledger.DefineCollectionsFromJSON(data)
//
// Invoke simulates and commits (when the chaincode answered below status 400);
// Evaluate simulates only. For finer control create a stub with
// Ledger.NewStub, call cc.Invoke(stub) yourself and Ledger.Commit(stub) later,
// possibly after other transactions committed: conflicts are detected as a
// peer's validator detects them.
//
// # Fabric semantics reproduced
//
//   - A stub reads the committed state as of the block height when it was
//     created (a peer simulates against one consistent committed state). Reads
//     never see the transaction's own writes: GetState after PutState returns
//     the old committed value.
//   - PutState rejects an empty key ("key must not be an empty string"). A nil
//     or empty value deletes the key, which is what a peer does with it (an
//     empty proto3 bytes field arrives as nil, and Fabric's write set records a
//     nil value as a delete). Keys must be valid UTF-8 (the real shim panics
//     when marshalling such a key; the fake returns an error).
//   - Composite keys are built by the shim's own CreateCompositeKey (U+0000
//     namespace prefix and separators, attribute validation). GetStateByRange
//     and GetPrivateDataByRange replace an empty start key with "\x01" and
//     reject bounds starting with U+0000, so they never return composite keys;
//     an empty end key is unbounded. Partial composite key queries cover
//     [prefix, prefix+U+10FFFF), so a query with every attribute of a key
//     returns that key (as a peer does, whatever the interface comment says).
//     Keys are ordered bytewise as in LevelDB.
//   - Range results reach the chaincode as the peer sends them: batches of
//     PeerBatchSize, a total cap of TotalQueryLimit, one page per paginated
//     query. The ...WithPagination variants return QueryResponseMetadata with
//     FetchedRecordsCount and Bookmark (the first key after the page, "" when
//     the range is exhausted); a non-empty bookmark replaces the start key.
//     pageSize 0 with an empty bookmark is an unpaginated query, as on a peer.
//   - As in Fabric's transaction simulator, paginated queries are only allowed
//     before any write and forbid writes after them; private data range
//     queries likewise.
//   - Rich queries (GetQueryResult, GetQueryResultWithPagination,
//     GetPrivateDataQueryResult) fail as on a LevelDB peer.
//   - GetHistoryForKey returns committed modifications newest first, as Fabric
//     does since v2.0, each with TxId, Value (nil on delete), Timestamp (the
//     transaction's) and IsDelete. Metadata-only writes are not history. A
//     chaincode that presents a trail oldest first must reverse it itself.
//   - Private data lives per collection, never in public state;
//     GetPrivateDataHash is the SHA-256 of the committed value and is readable
//     by any organisation. PurgePrivateData deletes the key and erases its
//     earlier values. Optional collection definitions (DefineCollection,
//     DefineCollectionsFromJSON) make undefined collections and non-member
//     reads (memberOnlyRead) and writes (memberOnlyWrite) fail as on a peer.
//     The fake is one peer that is a member of every collection, so members
//     always find the private data.
//   - State metadata (key-level endorsement policies) is a blind write kept
//     with the value: it survives value updates, disappears with a delete, and
//     is dropped for a key that does not exist at commit. Reading it
//     (Get...ValidationParameter) puts the key in the read set. Endorsement
//     policies are stored, not enforced.
//   - SetEvent keeps one event per transaction; the last call wins and the
//     name must not be empty. Ledger.Events lists the events of valid
//     transactions only.
//   - Commit is atomic and serialised: it re-checks the version of every key
//     read (MVCC_READ_CONFLICT) and re-executes every public range read up to
//     where the simulation got (PHANTOM_READ_CONFLICT), rejects a reused
//     transaction ID (DUPLICATE_TXID), and only then applies public and
//     private writes, metadata, history and the event in a new block. Invalid
//     transactions are still recorded in Ledger.Blocks. Each transaction gets
//     a block of its own, so a key's version is the block number that last
//     wrote it.
//   - Proposals are real: GetSignedProposal holds a marshalled peer.Proposal
//     whose header carries the channel, transaction ID, timestamp, creator and
//     nonce, and whose payload carries the arguments and the transient map.
//     GetBinding is computed as the shim computes it. The proposal is signed
//     when TxOptions.Signer is set (Identity.Sign: ECDSA P-256 over SHA-256,
//     low-S DER, as Fabric clients sign); the fake never checks signatures.
//   - InvokeChaincode answers with an error response; write batching
//     (StartWriteBatch) behaves as on a peer without batching support.
//
// Transaction IDs default to a hash of the channel and the ledger's stub
// counter and timestamps to BaseTime plus one second per stub, so a test run
// is deterministic. Stub.WriteSet (and Result.WriteSet) gives a canonical
// encoding of a transaction's writes and event for byte-identical determinism
// tests. Identities issues certificates with fixed subjects, issuers and
// validity (so cid.GetID and attributes are the same in every run); their keys
// and signatures are fresh per NewIdentities, so the serialized creator bytes
// are stable within one Identities value only.
package shimtest
