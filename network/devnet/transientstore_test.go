package devnet

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func pvtSet(coll string) *rwset.TxPvtReadWriteSet {
	return &rwset.TxPvtReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsPvtRwset: []*rwset.NsPvtReadWriteSet{{
		Namespace: "xborder", CollectionPvtRwset: []*rwset.CollectionPvtReadWriteSet{{CollectionName: coll, Rwset: []byte("rw-" + coll)}},
	}}}
}

// TestTransientStore checks that the private data a peer received at endorsement outlives the
// process (a crash before the commit), is taken once, and expires.
func TestTransientStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transient.db")
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"kept across restarts until purged", func(t *testing.T) {
			s, err := openTransientStore(path, time.Minute, 10)
			require.NoError(t, err)
			require.NoError(t, s.put("tx-1", pvtSet("paymentPrivate")))
			require.NoError(t, s.close()) // the process ends before the block is committed
			s, err = openTransientStore(path, time.Minute, 10)
			require.NoError(t, err)
			defer func() { require.NoError(t, s.close()) }()
			got := s.get("tx-1")
			require.True(t, proto.Equal(pvtSet("paymentPrivate"), got), "got %v", got)
			require.NoError(t, s.close()) // again, after the peer read it but before it committed
			s, err = openTransientStore(path, time.Minute, 10)
			require.NoError(t, err)
			require.NotNil(t, s.get("tx-1"), "kept until the block is committed")
			require.NoError(t, s.purge([]string{"tx-1"}))
			require.Nil(t, s.get("tx-1"), "purged after the commit")
			require.Nil(t, s.get("tx-unknown"))
		}},
		{"expired entries are dropped", func(t *testing.T) {
			s, err := openTransientStore(path, 20*time.Millisecond, 10)
			require.NoError(t, err)
			defer func() { require.NoError(t, s.close()) }()
			require.NoError(t, s.put("tx-old", pvtSet("orderPrivate")))
			time.Sleep(30 * time.Millisecond)
			require.NoError(t, s.sweep(time.Now()))
			require.Nil(t, s.get("tx-old"))
		}},
		{"bounded: the oldest go first", func(t *testing.T) {
			s, err := openTransientStore(path, time.Minute, 2)
			require.NoError(t, err)
			for _, id := range []string{"tx-a", "tx-b", "tx-c"} {
				require.NoError(t, s.put(id, pvtSet("orderPrivate")))
				time.Sleep(2 * time.Millisecond)
			}
			require.NoError(t, s.sweep(time.Now()))
			require.Nil(t, s.get("tx-a"), "dropped from memory too")
			require.NoError(t, s.close())
			s, err = openTransientStore(path, time.Minute, 2) // read what the file holds
			require.NoError(t, err)
			defer func() { require.NoError(t, s.close()) }()
			require.Nil(t, s.get("tx-a"))
			require.NotNil(t, s.get("tx-b"))
			require.NotNil(t, s.get("tx-c"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
}
