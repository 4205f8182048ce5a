package grpc

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// FuzzUpsertWire: the record-by-record decoder of an UpsertRequest's wire
// form never panics, refuses only with invalid_argument or too_large, and
// whatever it accepts, protobuf accepts too and the service takes the same
// records from the unmarshalled message.
func FuzzUpsertWire(f *testing.F) {
	md, _ := structpb.NewStruct(map[string]any{"s": "x", "n": 1.5, "b": true, "z": nil, "l": []any{1.0, "two", map[string]any{"k": []any{}}}})
	for _, m := range []*akidbv1.UpsertRequest{
		{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "a", Vector: []float32{1, 2}, Metadata: md}, {Id: "b", Vector: []float32{0, 1}}}},
		{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "a", Vector: []float32{1, 2, 3}}}},
		{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "", Vector: []float32{1, 2}}}},
		{Collection: "c"},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x09, 0x0a, 0x01, 'a', 0x15, 0, 0, 0x80, 0x3f, 0x15}) // an unpacked value cut short
	db := openDB(f)
	svc := api.New(api.Options{})
	svc.SetDB(db)
	if _, err := svc.CreateCollection(context.Background(), api.CreateCollectionRequest{Name: "c", Dimension: 2, Metric: "l2"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		size := func() int64 { return int64(len(data)) }
		b, err := svc.BeginUpsert(ctx, "c", size)
		if err != nil {
			t.Fatal(err)
		}
		// The codec reads the collection field; the rest is the decoder's.
		_, e := upsertCollection(data)
		if e == nil {
			e = decodeUpsertWire(data, b)
		}
		if e != nil {
			if e.Code != api.CodeInvalidArgument && e.Code != api.CodeTooLarge {
				t.Fatalf("code %s for %x", e.Code, data)
			}
			return
		}
		var m akidbv1.UpsertRequest
		if err := proto.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted %x, which protobuf refuses: %v", data, err)
		}
		want, err := svc.BeginUpsert(ctx, "c", size)
		if err != nil {
			t.Fatal(err)
		}
		if e := want.AddAll(vectorsIn(m.GetVectors())); e != nil {
			t.Fatalf("accepted %x, which the service refuses as a message: %v", data, e)
		}
		if want.Len() != b.Len() {
			t.Fatalf("%x: %d records from the wire, %d from the message", data, b.Len(), want.Len())
		}
	})
}
