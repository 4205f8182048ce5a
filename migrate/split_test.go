package migrate

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

var splitSeeds = []string{
	`{"id": "a", "vector": [1, 2, 3], "metadata": {"x": 1}}`,
	`{"id":"a","vector":[1e-3,-2E2 , 3.5],"metadata":null}`,
	`{"vector": [0.125, -0, 12.5e+3], "id": "b", "extra": [1, {"y": "}"}], "deleted": false}`,
	`{"id": "a", "deleted": true}`,
	`{"id": "a\"b", "vector": [1]}`,
	`{"ID": "a", "vector": [1]}`,
	`{"id": "a", "id": "b", "vector": [1]}`,
	`{"id": "a", "vector": [01, 2]}`,
	`{"id": "a", "vector": [1., 2]}`,
	`{"id": "a", "vector": [NaN]}`,
	`{"id": "a", "vector": [1, 2]} x`,
	`{"id": "a", "vector": [1, 2], "metadata": {"k": "v", "k": "w"}}`,
	`{"id": "a", "vector": [1, 2], "metadata": {"s": "\u00e9\n"}}`,
	`{}`,
	` { "id" : "a" , "vector" : [ 1 , 2 ] } `,
}

// FuzzSplitLine checks the fast path against encoding/json: whatever
// splitLine accepts, json.Unmarshal accepts too and gives the same raw
// values.
func FuzzSplitLine(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkSplit(t, line) })
}

// TestSplitLineMutations runs the same check over random edits of the
// seeds, so the suite covers it without a fuzzing run.
func TestSplitLineMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = `{}[]",:.-+eE0123456789 aidvectorml\nNtrufs`
	accepted := 0
	for n := 0; n < 50000; n++ {
		line := []byte(splitSeeds[r.IntN(len(splitSeeds))])
		for e := r.IntN(4); e >= 0; e-- {
			at := r.IntN(len(line) + 1)
			c := alphabet[r.IntN(len(alphabet))]
			switch r.IntN(3) {
			case 0: // insert
				line = append(line[:at], append([]byte{c}, line[at:]...)...)
			case 1: // delete
				if at < len(line) {
					line = append(line[:at], line[at+1:]...)
				}
			default: // replace
				if at < len(line) {
					line[at] = c
				}
			}
		}
		if checkSplit(t, line) {
			accepted++
		}
	}
	// The check only means something if the fast path takes many lines.
	if accepted < 5000 {
		t.Fatalf("the fast path accepted only %d of 50000 lines", accepted)
	}
}

func checkSplit(t *testing.T, line []byte) bool {
	t.Helper()
	got, ok := splitLine(line)
	if !ok {
		return false
	}
	var want v1Line
	if err := json.Unmarshal(line, &want); err != nil {
		t.Fatalf("splitLine accepted %q, json.Unmarshal refuses it: %v", line, err)
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{{"id", got.ID, want.ID}, {"vector", got.Vector, want.Vector}, {"metadata", got.Metadata, want.Metadata}, {"deleted", got.Deleted, want.Deleted}} {
		if !bytes.Equal(f.got, f.want) || (f.got == nil) != (f.want == nil) {
			t.Fatalf("%q: %s = %q, json.Unmarshal gives %q", line, f.name, f.got, f.want)
		}
	}
	return true
}
