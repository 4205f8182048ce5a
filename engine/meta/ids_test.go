package meta

import (
	"errors"
	"testing"
)

func TestNewIDIsCanonicalV4(t *testing.T) {
	s := &Store{rand: seededRand(7)}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id, err := s.newID()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidCollectionID(id) {
			t.Fatalf("id %q is not canonical", id)
		}
		if id[14] != '4' {
			t.Fatalf("id %q: version nibble %c, want 4", id, id[14])
		}
		if v := id[19]; v != '8' && v != '9' && v != 'a' && v != 'b' {
			t.Fatalf("id %q: variant nibble %c, want one of 89ab", id, v)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
	// Same seed, same ids.
	a, _ := (&Store{rand: seededRand(3)}).newID()
	b, _ := (&Store{rand: seededRand(3)}).newID()
	if a != b {
		t.Fatalf("seeded ids differ: %s %s", a, b)
	}
}

func TestNewIDShortRead(t *testing.T) {
	s := &Store{rand: &shortReader{}}
	if _, err := s.newID(); err == nil {
		t.Fatal("newID succeeded on a reader that runs dry")
	}
}

type shortReader struct{}

func (*shortReader) Read(p []byte) (int, error) { return 0, errors.New("dry") }

func TestValidCollectionID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"3b241101-e2bb-4255-8caf-4136c566a962", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"3B241101-E2BB-4255-8CAF-4136C566A962", false}, // uppercase: not canonical
		{"3b241101e2bb42558caf4136c566a962", false},
		{"3b241101-e2bb-4255-8caf-4136c566a96", false},
		{"3b241101-e2bb-4255-8caf-4136c566a9622", false},
		{"3b241101-e2bb-4255-8caf_4136c566a962", false},
		{"../../../../../../../../../etc/passwd", false},
		{"3b241101-e2bb-4255-8caf-4136c566a9/2", false},
		{"", false},
		{"default", false},
	} {
		if got := ValidCollectionID(tc.id); got != tc.want {
			t.Errorf("ValidCollectionID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
