package payload

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchSet is 60,000 records (MNIST's size) with a 10-value keyword and a
// uniform integer in [0, 1000), as in `akidb bench filter`.
func benchSet(b *testing.B) *Set {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	m := &model{}
	for i := range 60000 {
		m.docs = append(m.docs, []byte(fmt.Sprintf(`{"digit":"%d","r":%d}`, i%10, r.IntN(1000))))
		m.live = append(m.live, true)
	}
	return m.build(b, map[string]Type{"digit": Keyword, "r": Integer})
}

// threadCPU is the calling thread's CPU time: on a machine other work
// loads, it moves far less than the wall clock.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkPlan plans each filter and makes the dense bitsets a search
// admits with, as the engine does for a search that is not kept
// (SearchPlan keeps plans; BenchmarkSearchPlan); cpu-ns/op is the
// thread's CPU time.
func BenchmarkPlan(b *testing.B) {
	s := benchSet(b)
	for _, fs := range []string{`{"digit":"3"}`, `{"digit":{"$ne":"3"}}`, `{"r":{"$lt":10}}`, `{"r":{"$lt":100}}`, `{"r":{"$lt":500}}`, `{"r":{"$lt":900}}`,
		`{"digit":"3","r":{"$lt":100}}`, `{"r":{"$gte":300,"$lt":400}}`, `{"r":{"$gte":100,"$lt":900}}`} {
		f := parseString(b, fs)
		b.Run(fs, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := threadCPU()
			for b.Loop() {
				_ = s.Plan(f, false)
			}
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkPlanManyValues: 50,000 records with a uniform integer of 10,000
// distinct values (as `akidb loadtest` writes), ranges of 0.1% to 50%.
func BenchmarkPlanManyValues(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	m := &model{}
	for range 50000 {
		m.docs = append(m.docs, []byte(fmt.Sprintf(`{"bucket":%d}`, r.IntN(10000))))
		m.live = append(m.live, true)
	}
	s := m.build(b, map[string]Type{"bucket": Integer})
	for _, w := range []int{10, 100, 1000, 5000} {
		f := parseString(b, fmt.Sprintf(`{"bucket":{"$gte":3000,"$lt":%d}}`, 3000+w))
		b.Run(fmt.Sprintf("window=%d", w), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := threadCPU()
			for b.Loop() {
				_ = s.Plan(f, false)
			}
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkSearchPlan is BenchmarkPlan's 50% range through SearchPlan: the
// same filter again, no write in between (the plan is kept), and with a
// write before each search (it is not).
func BenchmarkSearchPlan(b *testing.B) {
	s := benchSet(b)
	f := parseString(b, `{"r":{"$lt":500}}`)
	for _, write := range []bool{false, true} {
		b.Run(fmt.Sprintf("write=%v", write), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			doc := []byte(`{"digit":"1","r":7}`)
			t0 := threadCPU()
			for b.Loop() {
				if write {
					s.Update(func(tx Tx) { tx.Publish(0, doc) })
				}
				_ = s.SearchPlan(f)
			}
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
}
