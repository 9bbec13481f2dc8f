// Package ledger is the devnet's on-disk ledger: a hash-chained store of Fabric blocks
// (common.Block), the versioned world state, key history, private data and private data
// hashes, and the transaction-ID index, all kept in one bbolt file (dir/ledger.db).
//
// Commit validates a block the way a Fabric peer's committer does after endorsement-policy
// validation: duplicate transaction IDs, MVCC read conflicts (public and hashed private reads)
// and phantom reads of range queries. It then writes the block, the TRANSACTIONS_FILTER
// metadata, the state, history, private data (and the private write sets, for delivery) and tx
// index in ONE fsync'd bbolt read-write transaction, so after a crash (even kill -9) the store
// is at the last complete block. CommitBlocks does the same for several consecutive blocks in
// one transaction. The free page list is rebuilt at Open instead of written at every commit.
//
// BlockStore is the ordering service's ledger: an append-only block file with an index.
//
// Reads go through a Snapshot, a consistent point-in-time view backed by a bbolt read
// transaction. Readers never block the committer (within the initial mmap size, see
// WithInitialMmapSize).
//
// Private data: the hashed private writes of a valid transaction are always committed; the
// clear values only when the TxPvtReadWriteSet handed to Commit matches the endorsed
// PvtRwsetHash (SHA-256 of the collection's marshalled KVRWSet). GetPrivateData reports
// ErrPrivateDataUnavailable when a committed hash has no matching value. WithBlockToLive
// enables Fabric's blockToLive purging.
//
// Range query semantics (kvrwset.RangeQueryInfo) follow Fabric's simulator: when the
// chaincode exhausted the iterator, ItrExhausted is true and EndKey is the query's (exclusive)
// end key ("" = end of the namespace); otherwise EndKey is the last key returned to the
// chaincode and the re-executed range includes it. RangeQueryRecorder builds such records.
package ledger
