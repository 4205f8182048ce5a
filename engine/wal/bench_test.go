package wal

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkAppend measures Append throughput with a 2 KiB payload (a
// 512-dimension float32 vector) for 1 and 8 concurrent writers under
// SyncAlways and SyncNone, on the real filesystem of the test's temp dir.
// It reports records/s and fsyncs per record (group commit at work).
func BenchmarkAppend(b *testing.B) {
	payload := make([]byte, 2048)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, policy := range []SyncPolicy{SyncAlways, SyncNone} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("sync=%v/writers=%d", policy, writers), func(b *testing.B) {
				ffs := NewFaultFS(OSFS{}) // no rules: counts fsyncs
				l := mustOpen(b, b.TempDir(), Options{FS: ffs, Sync: policy})
				syncs0 := ffs.Count(OpSync)
				b.SetBytes(int64(len(payload)))
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range writers {
					n := b.N / writers
					if w < b.N%writers {
						n++
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range n {
							if _, err := l.Append(1, payload); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(ffs.Count(OpSync)-syncs0)/float64(b.N), "fsyncs/record")
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
