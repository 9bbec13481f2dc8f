package gateway

import (
	"context"
	"time"
)

// ChannelExplorer reads the channel's blocks, for the explorer endpoints of the REST API and
// the console. Implementations ask the caller's organisation's peer (qscc) and return *Error
// values with stable codes: NOT_FOUND for a block beyond the chain's height.
type ChannelExplorer interface {
	// ChainHeight returns the number of blocks the caller's peer holds (the newest block is
	// ChainHeight-1).
	ChainHeight(ctx context.Context, caller Caller) (uint64, error)
	// Block returns block number with a summary of each of its transactions.
	Block(ctx context.Context, caller Caller, number uint64) (*Block, error)
}

// Identity names a Fabric identity in short form: its organisation and the common name of its
// certificate (never the whole certificate).
type Identity struct {
	MSPID string `json:"mspId"`
	Name  string `json:"name,omitempty"`
}

// Block is one block of the channel and what it holds.
type Block struct {
	Number uint64 `json:"number"`
	// Hash is the block header hash (as the next block's PreviousHash names it), hex.
	Hash         string `json:"hash"`
	PreviousHash string `json:"previousHash"`
	DataHash     string `json:"dataHash"`
	// Timestamp is the newest transaction timestamp in the block (zero for an empty block).
	Timestamp time.Time `json:"timestamp"`
	// TxCount and ValidCount count the block's transactions and those that committed VALID.
	TxCount    int `json:"txCount"`
	ValidCount int `json:"validCount"`
	// Transactions are the block's transactions in block order (empty in block lists).
	Transactions []BlockTransaction `json:"transactions,omitempty"`
}

// BlockTransaction summarises one transaction of a block: enough to audit who did what, never
// its arguments (which private data never reach anyway) or read-write sets.
type BlockTransaction struct {
	// Index is the transaction's position in the block.
	Index int    `json:"index"`
	TxID  string `json:"txId"`
	// Type is Fabric's header type: ENDORSER_TRANSACTION, CONFIG, ...
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Creator   Identity  `json:"creator"`
	// Endorsers are the peers that endorsed the transaction (endorser transactions only).
	Endorsers []Identity `json:"endorsers,omitempty"`
	// Chaincode and Function name the chaincode and the transaction function called.
	Chaincode string `json:"chaincode,omitempty"`
	Function  string `json:"function,omitempty"`
	// Event is the name of the chaincode event the transaction emitted, if any.
	Event string `json:"event,omitempty"`
	// ValidationCode is Fabric's TxValidationCode name; Valid is true for VALID.
	ValidationCode string `json:"validationCode"`
	Valid          bool   `json:"valid"`
}
