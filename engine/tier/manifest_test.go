package tier_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/tier"
)

func obj(key string, first, last uint64) tier.Object {
	return tier.Object{Key: key, Size: 1, SHA256: strings.Repeat("a", 64), FirstSeq: first, LastSeq: last}
}

func sampleManifest() *tier.Manifest {
	return &tier.Manifest{FormatVersion: 1, CollectionID: "id", TenantID: "default", Tenant: "default", Name: "docs", Dimension: 4, Metric: "l2",
		HNSW:       tier.HNSW{M: 16, EfConstruction: 100},
		Snapshots:  []tier.Object{obj("snapshots/a", 100, 100), obj("snapshots/b", 200, 200)},
		Segments:   []tier.Object{obj("log/1", 101, 150), obj("log/2", 151, 250), obj("log/3", 251, 300)},
		ShippedSeq: 300}
}

func TestManifestValidation(t *testing.T) {
	m := sampleManifest()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := m.Encode()
	if _, err := tier.DecodeManifest(b); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(m *tier.Manifest){
		"version":       func(m *tier.Manifest) { m.FormatVersion = 2 },
		"no name":       func(m *tier.Manifest) { m.Name = "" },
		"escaping key":  func(m *tier.Manifest) { m.Segments[0].Key = "log/../../x" },
		"absolute key":  func(m *tier.Manifest) { m.Segments[0].Key = "/log/1" },
		"foreign key":   func(m *tier.Manifest) { m.Segments[0].Key = "other/1" },
		"bad sha":       func(m *tier.Manifest) { m.Snapshots[0].SHA256 = "zz" },
		"order":         func(m *tier.Manifest) { m.Segments[0], m.Segments[1] = m.Segments[1], m.Segments[0] },
		"shipped lies":  func(m *tier.Manifest) { m.ShippedSeq = 400 },
		"snapshot span": func(m *tier.Manifest) { m.Snapshots[0].FirstSeq = 99 },
		"no dimension":  func(m *tier.Manifest) { m.Dimension = 0 },
		"quantization type": func(m *tier.Manifest) {
			m.Quantization = &tier.Quantization{Type: "int4", Ranges: "auto"}
		},
		"quantization none": func(m *tier.Manifest) {
			m.Quantization = &tier.Quantization{Type: "none", Ranges: "auto"}
		},
		"quantization ranges": func(m *tier.Manifest) {
			m.Quantization = &tier.Quantization{Type: "int8", Ranges: "everywhere"}
		},
		"index type":  func(m *tier.Manifest) { m.PayloadIndexes = []tier.PayloadIndex{{Field: "a", Type: "text"}} },
		"index field": func(m *tier.Manifest) { m.PayloadIndexes = []tier.PayloadIndex{{Field: "", Type: "keyword"}} },
		"index twice": func(m *tier.Manifest) {
			m.PayloadIndexes = []tier.PayloadIndex{{Field: "a", Type: "keyword"}, {Field: "a", Type: "float"}}
		},
		"index order": func(m *tier.Manifest) {
			m.PayloadIndexes = []tier.PayloadIndex{{Field: "b", Type: "keyword"}, {Field: "a", Type: "float"}}
		},
	} {
		m := sampleManifest()
		breakIt(m)
		b, _ := m.Encode()
		if _, err := tier.DecodeManifest(b); !errors.Is(err, tier.ErrBadManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Settings round-trip; a manifest written before they were recorded
	// (no such keys) decodes with none.
	m = sampleManifest()
	m.Settings = tier.Settings{Quantization: &tier.Quantization{Type: "int8", Ranges: "dimension"},
		PayloadIndexes: []tier.PayloadIndex{{Field: "a", Type: "keyword"}, {Field: "b.c", Type: "integer"}}}
	b, _ = m.Encode()
	got, err := tier.DecodeManifest(b)
	if err != nil || !got.Settings.Equal(m.Settings) {
		t.Fatalf("settings round trip: %+v, %v", got, err)
	}
	b, _ = sampleManifest().Encode()
	if strings.Contains(string(b), "quantization") || strings.Contains(string(b), "payload_indexes") {
		t.Fatalf("a manifest without settings names them: %s", b)
	}
	if got, err := tier.DecodeManifest(b); err != nil || got.Quantization != nil || got.PayloadIndexes != nil {
		t.Fatalf("a manifest without settings: %+v, %v", got, err)
	}
	if _, err := tier.DecodeManifest([]byte("{")); !errors.Is(err, tier.ErrBadManifest) {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestManifestPlan(t *testing.T) {
	m := sampleManifest()
	for _, c := range []struct {
		to       uint64
		snap     uint64
		segments string
	}{
		{0, 200, "log/2 log/3"},
		{300, 200, "log/2 log/3"},
		{200, 200, ""},
		{220, 200, "log/2"},
		{150, 100, "log/1"},
		{100, 100, ""},
	} {
		p, err := m.Plan(c.to)
		if err != nil {
			t.Fatalf("to %d: %v", c.to, err)
		}
		var keys []string
		for _, s := range p.Segments {
			keys = append(keys, s.Key)
		}
		if p.Snapshot.LastSeq != c.snap || strings.Join(keys, " ") != c.segments {
			t.Errorf("to %d: snapshot %d, segments %v; want %d, %s", c.to, p.Snapshot.LastSeq, keys, c.snap, c.segments)
		}
	}
	for _, to := range []uint64{99, 301} {
		if _, err := m.Plan(to); !errors.Is(err, tier.ErrNotRestorable) {
			t.Errorf("to %d: %v", to, err)
		}
	}
	// A gap in the log: the older snapshot cannot reach past it.
	m.Segments = []tier.Object{obj("log/1", 101, 150), obj("log/3", 251, 300)}
	m.ShippedSeq = 200 // the newest snapshot reaches only itself: 201..250 are missing
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Plan(180); !errors.Is(err, tier.ErrNotRestorable) {
		t.Errorf("across a gap: %v", err)
	}
}

func TestManifestLists(t *testing.T) {
	m := sampleManifest()
	for key, want := range map[string]bool{"snapshots/a": true, "log/2": true, "log/9": false, "manifest.json": false} {
		if got := tier.ManifestLists(m, key); got != want {
			t.Errorf("lists(%q) = %v", key, got)
		}
	}
	if tier.ManifestLists(nil, "log/2") {
		t.Error("a nil manifest lists something")
	}
}
