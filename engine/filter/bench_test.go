package filter

import "testing"

const benchDoc = `{"color":"red","price":15.5,"tags":["new","sale","eu"],"n":{"x":3,"y":"q"},"ok":true}`

const benchFilter = `{"color":"red","price":{"$gte":10,"$lt":20},"tags":{"$in":["sale","clearance"]},"n.x":{"$exists":true},"ok":{"$ne":false}}`

func BenchmarkMatch(b *testing.B) {
	f := mustParse(b, benchFilter)
	meta := doc(b, benchDoc)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(meta) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(benchFilter)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
