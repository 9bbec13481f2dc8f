package ledger

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCommit commits blocks of 100 endorser transactions with one write each (a fresh
// key, 200-byte value) and one read; each block is one fsync'd bbolt transaction. It reports
// transactions per second.
func BenchmarkCommit(b *testing.B) {
	l, _ := openTest(b)
	const perBlock = 100
	value := strings.Repeat("v", 200)
	var n int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		envs := make([][]byte, perBlock)
		for j := range envs {
			key := fmt.Sprintf("key-%d-%d", i, j)
			envs[j] = tx(fmt.Sprintf("tx-%d-%d", i, j)).read(key, nil).put(key, value).env(b)
		}
		blk := nextBlock(b, l, envs...)
		b.StartTimer()
		codes, err := l.Commit(blk, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if codes[perBlock-1] != valid {
			b.Fatalf("code %v", codes[perBlock-1])
		}
		n += perBlock
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tx/s")
}
