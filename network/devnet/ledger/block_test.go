package ledger

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/stretchr/testify/require"
)

func TestBlockHashes(t *testing.T) {
	dh := bytes.Repeat([]byte{0xab}, 32)
	ph := bytes.Repeat([]byte{0xcd}, 32)
	tests := []struct {
		name   string
		header *common.BlockHeader
		der    []byte
	}{
		{
			name:   "genesis without previous hash",
			header: &common.BlockHeader{Number: 0, DataHash: dh},
			der:    append([]byte{0x30, 0x27, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x20}, dh...),
		},
		{
			name:   "number needing a sign byte",
			header: &common.BlockHeader{Number: 128, PreviousHash: ph, DataHash: dh},
			der:    append(append([]byte{0x30, 0x48, 0x02, 0x02, 0x00, 0x80, 0x04, 0x20}, ph...), append([]byte{0x04, 0x20}, dh...)...),
		},
		{
			name:   "largest uint64",
			header: &common.BlockHeader{Number: 1<<64 - 1, PreviousHash: ph, DataHash: dh},
			der: append(append([]byte{0x30, 0x4f, 0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x04, 0x20}, ph...),
				append([]byte{0x04, 0x20}, dh...)...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.der, BlockHeaderBytes(tc.header))
			want := sha256.Sum256(tc.der)
			require.Equal(t, want[:], BlockHeaderHash(tc.header))
		})
	}
}

func TestNewBlock(t *testing.T) {
	envs := [][]byte{[]byte("first"), []byte("second"), {}}
	b := NewBlock(7, []byte("prev"), envs)
	want := sha256.Sum256([]byte("firstsecond"))
	require.Equal(t, uint64(7), b.GetHeader().GetNumber())
	require.Equal(t, []byte("prev"), b.GetHeader().GetPreviousHash())
	require.Equal(t, want[:], b.GetHeader().GetDataHash())
	require.Equal(t, envs, b.GetData().GetData())
	require.Len(t, b.GetMetadata().GetMetadata(), NumMetadataSlots)
	empty := sha256.Sum256(nil)
	require.Equal(t, empty[:], NewBlock(0, nil, nil).GetHeader().GetDataHash())
}

func TestEnvelopeAt(t *testing.T) {
	envs := [][]byte{[]byte("a"), []byte("bb"), []byte("ccc")}
	b := NewBlock(3, []byte("p"), envs)
	raw := mustMarshal(t, b)
	for i, e := range envs {
		got, err := envelopeAt(raw, uint64(i))
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
	_, err := envelopeAt(raw, 3)
	require.ErrorIs(t, err, ErrNotFound)
}
