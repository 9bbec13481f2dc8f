package ledger

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// FuzzParseTx checks that arbitrary envelope bytes never panic and that a failure always
// comes with a non-VALID code.
func FuzzParseTx(f *testing.F) {
	f.Add(tx("seed").put("k", "v").read("r", ver(1, 2)).env(f))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, code, err := ParseTx(b)
		if err != nil {
			require.NotEqual(t, valid, code)
			require.Nil(t, p)
			return
		}
		require.Equal(t, valid, code)
		require.NotNil(t, p.ChannelHeader)
	})
}

// FuzzRecords checks that the record decoders never panic and round-trip what they encode.
func FuzzRecords(f *testing.F) {
	f.Add(uint64(3), uint64(7), []byte("meta"), []byte("value"), "tx", int64(1700000000), int32(5), true)
	f.Add(uint64(0), uint64(0), []byte(nil), []byte(nil), "", int64(-1), int32(0), false)
	f.Fuzz(func(t *testing.T, blk, txn uint64, md, value []byte, txID string, sec int64, nanos int32, del bool) {
		vv := &VersionedValue{Value: value, Metadata: md, Version: Height{blk, txn}}
		got, err := decodeState(encodeState(vv))
		require.NoError(t, err)
		require.Equal(t, vv.Version, got.Version)
		require.Equal(t, string(value), string(got.Value))
		require.Equal(t, string(md), string(got.Metadata))

		hv := historyValue{txID: txID, timestamp: &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}, isDelete: del, value: value}
		h, err := decodeHistory(encodeHistory(hv))
		require.NoError(t, err)
		require.Equal(t, txID, h.txID)
		require.Equal(t, del, h.isDelete)
		require.Equal(t, sec, h.timestamp.GetSeconds())
		require.Equal(t, nanos, h.timestamp.GetNanos())
		if !del {
			require.Equal(t, string(value), string(h.value))
		}

		iv, err := decodeTxIndex(encodeTxIndex(txIndexValue{blockNum: blk, txNum: txn, code: nanos}))
		require.NoError(t, err)
		require.Equal(t, txIndexValue{blockNum: blk, txNum: txn, code: nanos}, iv)

		// Arbitrary bytes must decode or fail cleanly.
		_, _ = decodeState(value)
		_, _ = decodeHistory(value)
		_, _ = decodeTxIndex(value)
		_, _ = decodeExpiry(value)
		_, _ = envelopeAt(value, blk%4)
	})
}
