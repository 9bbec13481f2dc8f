package ledger

import (
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/encoding/protowire"
)

// NumMetadataSlots is the number of block metadata entries Fabric blocks carry
// (SIGNATURES, LAST_CONFIG, TRANSACTIONS_FILTER, ORDERER, COMMIT_HASH).
const NumMetadataSlots = 5

// NewBlock builds an unsigned block: header (number, previous hash, data hash over the
// envelopes), data and NumMetadataSlots empty metadata entries. The orderer fills
// SIGNATURES; Commit fills TRANSACTIONS_FILTER, LAST_CONFIG (if empty) and COMMIT_HASH.
func NewBlock(number uint64, previousHash []byte, envelopes [][]byte) *common.Block {
	data := &common.BlockData{Data: envelopes}
	md := make([][]byte, NumMetadataSlots)
	for i := range md {
		md[i] = []byte{}
	}
	return &common.Block{
		Header: &common.BlockHeader{
			Number:       number,
			PreviousHash: previousHash,
			DataHash:     BlockDataHash(data),
		},
		Data:     data,
		Metadata: &common.BlockMetadata{Metadata: md},
	}
}

// BlockDataHash returns the data hash of a block as Fabric v2/v3 computes it
// (protoutil.ComputeBlockDataHash): SHA-256 over the concatenation of the envelope bytes.
func BlockDataHash(data *common.BlockData) []byte {
	h := sha256.New()
	for _, d := range data.GetData() {
		h.Write(d)
	}
	return h.Sum(nil)
}

// asn1BlockHeader is the ASN.1 structure Fabric hashes for a block header.
type asn1BlockHeader struct {
	Number       *big.Int
	PreviousHash []byte
	DataHash     []byte
}

// BlockHeaderBytes returns the ASN.1 DER encoding of a block header that Fabric hashes:
// SEQUENCE { number INTEGER, previousHash OCTET STRING, dataHash OCTET STRING }.
func BlockHeaderBytes(h *common.BlockHeader) []byte {
	b, err := asn1.Marshal(asn1BlockHeader{
		Number:       new(big.Int).SetUint64(h.GetNumber()),
		PreviousHash: h.GetPreviousHash(),
		DataHash:     h.GetDataHash(),
	})
	if err != nil {
		// A big.Int and two byte slices always encode; anything else is a bug in encoding/asn1.
		panic(fmt.Sprintf("ledger: asn1 encoding of a block header failed: %v", err))
	}
	return b
}

// BlockHeaderHash returns the hash of a block header as Fabric computes it
// (protoutil.BlockHeaderHash): SHA-256 of BlockHeaderBytes.
func BlockHeaderHash(h *common.BlockHeader) []byte {
	sum := sha256.Sum256(BlockHeaderBytes(h))
	return sum[:]
}

// TxValidationFlags returns the TRANSACTIONS_FILTER metadata of a block (one byte per
// transaction, the peer.TxValidationCode), or nil if the block has none.
func TxValidationFlags(b *common.Block) []byte {
	md := b.GetMetadata().GetMetadata()
	if len(md) <= int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		return nil
	}
	return md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
}

// envelopeAt extracts the i-th envelope of a marshalled common.Block without unmarshalling
// the whole block. It walks the protobuf wire format: Block.data (field 2) is a BlockData
// whose field 1 is the repeated envelope bytes.
func envelopeAt(blockBytes []byte, i uint64) ([]byte, error) {
	data, err := wireField(blockBytes, 2)
	if err != nil {
		return nil, fmt.Errorf("block data: %w", err)
	}
	var idx uint64
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil, fmt.Errorf("block data tag: %w", protowire.ParseError(n))
		}
		data = data[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(data)
			if m < 0 {
				return nil, fmt.Errorf("block data envelope: %w", protowire.ParseError(m))
			}
			if idx == i {
				return v, nil
			}
			idx++
			data = data[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, data)
		if m < 0 {
			return nil, fmt.Errorf("block data field: %w", protowire.ParseError(m))
		}
		data = data[m:]
	}
	return nil, fmt.Errorf("envelope %d not in block (%d envelopes): %w", i, idx, ErrNotFound)
}

// wireField returns the (last) length-delimited value of field num in a protobuf message.
func wireField(msg []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		msg = msg[l:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			out = v
			msg = msg[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n, typ, msg)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		msg = msg[m:]
	}
	return out, nil
}
