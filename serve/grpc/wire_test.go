package grpc

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// rawCodec sends bytes as they are, to play a client that does not
// validate its messages.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestUndecodableRequest: proto3 strings must be UTF-8, and the server
// refuses an id that is not with INVALID_ARGUMENT naming the field
// (grpc-go alone answers INTERNAL without details: so it did before the
// server codec, which this test caught).
func TestUndecodableRequest(t *testing.T) {
	e := newDefaultEnv(t)
	e.mustCreate("c", 2, "l2")
	// GetRequest{collection: "c", id: "\xff"}
	req := protowire.AppendTag(nil, 1, protowire.BytesType)
	req = protowire.AppendString(req, "c")
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendBytes(req, []byte{0xff})
	var resp []byte
	err := e.conn.Invoke(ctxT(t), akidbv1.CollectionService_Get_FullMethodName, &req, &resp, grpc.ForceCodec(rawCodec{}))
	st := status.Convert(err)
	if info := errorInfo(st); st.Code() != codes.InvalidArgument || info == nil || info.GetMetadata()["field"] != "id" {
		t.Fatalf("invalid UTF-8 id = %v %q (details %v)", st.Code(), st.Message(), st.Details())
	}

	// Unknown fields are ignored, as proto3 specifies: this is a valid
	// GetRequest{collection: "c", id: "x"} plus field 99.
	req = protowire.AppendTag(nil, 1, protowire.BytesType)
	req = protowire.AppendString(req, "c")
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendString(req, "x")
	req = protowire.AppendTag(req, 99, protowire.VarintType)
	req = protowire.AppendVarint(req, 1)
	err = e.conn.Invoke(ctxT(t), akidbv1.CollectionService_Get_FullMethodName, &req, &resp, grpc.ForceCodec(rawCodec{}))
	if st := status.Convert(err); st.Code() != codes.NotFound {
		t.Fatalf("unknown field = %v %q, want NotFound for the missing record", st.Code(), st.Message())
	}
}
