package grpc

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// FuzzRequests feeds arbitrary request bytes (as a client could send) to
// the handlers, on a real engine. Whatever the bytes, a handler returns a
// response or a status that the shared table can produce, with an
// ErrorInfo whose reason maps to that very code; it never panics.
func FuzzRequests(f *testing.F) {
	seed := func(kind byte, m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kind, b)
	}
	md, _ := structpb.NewStruct(map[string]any{"color": "red", "n": 3.0})
	seed(0, &akidbv1.UpsertRequest{Vectors: []*akidbv1.Vector{{Id: "a", Vector: []float32{1, 0, 0, 0}, Metadata: md}}})
	seed(0, &akidbv1.UpsertRequest{Vectors: []*akidbv1.Vector{{Id: "b", Vector: []float32{1, 0}}}})
	seed(1, &akidbv1.QueryRequest{Vector: []float32{1, 0, 0, 0}, K: 3, FilterJson: `{"color": "red"}`})
	seed(1, &akidbv1.QueryRequest{Vector: []float32{1, 0, 0, 0}, K: 3, Ef: -1, FilterJson: `{"$or": []}`})
	seed(2, &akidbv1.DeleteRequest{Ids: []string{"a", ""}})
	seed(2, &akidbv1.DeleteRequest{FilterJson: `{"n": {"$gt": 1}}`})
	seed(3, &akidbv1.ScrollRequest{Limit: 2, Cursor: "AAAA"})
	seed(4, &akidbv1.GetRequest{Id: "a"})
	seed(5, &akidbv1.CreateCollectionRequest{Name: "x", Dimension: 3, Metric: "dot"})
	f.Add(byte(1), []byte{0x12, 0x04, 0x00, 0x00, 0xc0, 0x7f}) // vector = [NaN] (packed)
	f.Add(byte(0), []byte{0xff, 0xff, 0xff})                   // not a message

	db := openDB(f)
	svc := api.New(api.Options{})
	svc.SetDB(db)
	srv := NewServer(svc, Options{})
	cs := &collectionServer{s: srv}
	if _, err := cs.CreateCollection(context.Background(), &akidbv1.CreateCollectionRequest{Name: "c", Dimension: 4, Metric: "l2"}); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		ctx := context.Background()
		var err error
		switch kind % 6 {
		case 0:
			req := &akidbv1.UpsertRequest{}
			if proto.Unmarshal(data, req) != nil {
				return
			}
			req.Collection = "c"
			_, err = cs.Upsert(ctx, req)
		case 1:
			req := &akidbv1.QueryRequest{}
			if proto.Unmarshal(data, req) != nil {
				return
			}
			req.Collection = "c"
			_, err = cs.Query(ctx, req)
		case 2:
			req := &akidbv1.DeleteRequest{}
			if proto.Unmarshal(data, req) != nil {
				return
			}
			req.Collection = "c"
			_, err = cs.Delete(ctx, req)
		case 3:
			req := &akidbv1.ScrollRequest{}
			if proto.Unmarshal(data, req) != nil {
				return
			}
			req.Collection = "c"
			_, err = cs.Scroll(ctx, req)
		case 4:
			req := &akidbv1.GetRequest{}
			if proto.Unmarshal(data, req) != nil {
				return
			}
			req.Collection = "c"
			_, err = cs.Get(ctx, req)
		case 5:
			req := &akidbv1.CreateCollectionRequest{}
			if proto.Unmarshal(data, req) != nil {
				return
			}
			if req.GetName() == "c" {
				return
			}
			_, err = cs.CreateCollection(ctx, req)
			if err == nil {
				if _, derr := cs.DeleteCollection(ctx, &akidbv1.DeleteCollectionRequest{Name: req.GetName()}); derr != nil {
					t.Fatalf("drop %q: %v", req.GetName(), derr)
				}
			}
		}
		if err == nil {
			return
		}
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("not a status: %v", err)
		}
		info := errorInfo(st)
		if info == nil {
			t.Fatalf("%v %q without ErrorInfo", st.Code(), st.Message())
		}
		if want := api.StatusOf(api.Code(info.GetReason())).GRPC; st.Code() != want {
			t.Fatalf("code %v for reason %q, table says %v", st.Code(), info.GetReason(), want)
		}
		if st.Code() == codes.Internal {
			t.Fatalf("internal error for client input: %q", st.Message())
		}
	})
}
