package tier_test

import (
	"testing"

	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/tiertest"
)

func memHarness(wrap func(tier.ObjectStore) tier.ObjectStore) tiertest.Harness {
	return tiertest.Harness{
		New: func(t *testing.T) tier.ObjectStore {
			m := tier.NewMemStore()
			m.PartSize = 64 << 10
			return wrap(m)
		},
		LargeSize: 200 << 10,
		LeaveIncompleteUpload: func(t *testing.T, s tier.ObjectStore, key string) {
			if f, ok := s.(*tier.FaultStore); ok {
				s = f.Inner()
			}
			s.(*tier.MemStore).LeaveIncompleteUpload(key)
		},
	}
}

func TestMemStoreConformance(t *testing.T) {
	tiertest.Run(t, memHarness(func(s tier.ObjectStore) tier.ObjectStore { return s }))
}

func TestFaultStoreConformance(t *testing.T) {
	tiertest.Run(t, memHarness(func(s tier.ObjectStore) tier.ObjectStore { return tier.NewFaultStore(s) }))
}
