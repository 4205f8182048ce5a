package loadtest

import (
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix(" query=70, insert=20,get=5,list=5,delete=0,create-drop=2.5")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "query=70,insert=20,get=5,list=5,delete=0,create-drop=2.5"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if s := m.Share(OpQuery); s < 0.682 || s > 0.683 {
		t.Fatalf("query share %g, want 70/102.5", s)
	}
	if m.Share(OpDelete) != 0 {
		t.Fatalf("delete share %g, want 0", m.Share(OpDelete))
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no operations"},
		{"query", "want op=weight"},
		{"qury=1", `unknown operation "qury"`},
		{"query=1,query=2", "given twice"},
		{"query=-1", "not a non-negative number"},
		{"query=x", "not a non-negative number"},
		{"query=NaN", "not a non-negative number"},
		{"query=0,insert=0", "all weights are zero"},
	} {
		_, err := ParseMix(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMix(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}
