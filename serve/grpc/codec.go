package grpc

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// serverCodec is the server's protobuf codec. gRPC decodes a request
// before any interceptor runs and turns a decoding error into INTERNAL,
// so the codec does two things the default one cannot:
//
//   - An UpsertRequest is not unmarshalled: its collection name is read,
//     and the message's bytes are kept for the handler, which decodes the
//     records itself under the request limits (upsertwire.go), stopping at
//     the first that breaks one. proto.Unmarshal would first build every
//     record of the message (a 31 MiB message of tiny vectors is about
//     700,000 of them).
//   - A request with a string that is not UTF-8 (proto3 refuses those) is
//     left empty, and the problem kept, so that it is answered
//     INVALID_ARGUMENT naming the field once the caller is authenticated.
//
// What the codec keeps is keyed by the message and handed to the RPC's
// context by takeDecoded, the first interceptor, so nothing stays behind.
type serverCodec struct {
	base encoding.CodecV2
	kept sync.Map // proto.Message -> decoded
}

// decoded is what the codec kept of one request.
type decoded struct {
	upsert *keptMessage // an UpsertRequest's bytes; nil for other requests
	err    *api.Error   // why the request could not be decoded
}

// keptMessage is an UpsertRequest's bytes, let go once: by the handler
// as soon as it has decoded the records from them (so that a large upsert
// is not held twice while the engine writes it), or when the RPC ends.
// They are a plain allocation, not from gRPC's buffer pool, so that once
// let go they are garbage rather than a pooled buffer that stays
// reachable.
type keptMessage struct {
	mu  sync.Mutex
	raw []byte
}

// take returns the bytes, nil once they were let go.
func (k *keptMessage) take() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.raw
}

func (k *keptMessage) free() {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.raw = nil
	k.mu.Unlock()
}

func newServerCodec() *serverCodec {
	return &serverCodec{base: encoding.GetCodecV2(protocodec.Name)}
}

func (c *serverCodec) Name() string { return protocodec.Name }

func (c *serverCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c *serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*akidbv1.UpsertRequest); ok {
		raw := data.Materialize()
		name, err := upsertCollection(raw)
		req.Reset()
		req.Collection = name
		c.kept.Store(v, decoded{upsert: &keptMessage{raw: raw}, err: err})
		return nil
	}
	if err := c.base.Unmarshal(data, v); err != nil {
		m, ok := v.(proto.Message)
		if !ok || !strings.Contains(err.Error(), "invalid UTF-8") {
			return err
		}
		proto.Reset(m)
		raw := data.Materialize()
		c.kept.Store(v, decoded{err: invalidUTF8(m.ProtoReflect().Descriptor(), raw)})
	}
	return nil
}

// upsertCollection reads the collection field (1) of an UpsertRequest.
func upsertCollection(raw []byte) (string, *api.Error) {
	var name string
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return "", malformed()
		}
		raw = raw[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(raw)
			if m < 0 {
				return "", malformed()
			}
			if !utf8.Valid(v) {
				return "", api.InvalidField("collection", "must be valid UTF-8")
			}
			name = string(v)
			raw = raw[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, raw)
		if m < 0 {
			return "", malformed()
		}
		raw = raw[m:]
	}
	return name, nil
}

func malformed() *api.Error {
	return api.Errorf(api.CodeInvalidArgument, "the request message is not valid protobuf")
}

// invalidUTF8 finds the string field of a message (in wire form) that is
// not UTF-8 and names it as its JSON field path (keys.collections[2]).
func invalidUTF8(md protoreflect.MessageDescriptor, raw []byte) *api.Error {
	if path := findInvalidUTF8(md, raw, ""); path != "" {
		return api.InvalidField(path, "must be valid UTF-8")
	}
	return api.Errorf(api.CodeInvalidArgument, "the request has a string that is not valid UTF-8")
}

func findInvalidUTF8(md protoreflect.MessageDescriptor, raw []byte, prefix string) string {
	counts := map[protowire.Number]int{}
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return ""
		}
		raw = raw[n:]
		m := protowire.ConsumeFieldValue(num, typ, raw)
		if m < 0 {
			return ""
		}
		value := raw[:m]
		raw = raw[m:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			continue
		}
		name := prefix + fd.JSONName()
		if fd.IsList() {
			name += "[" + strconv.Itoa(counts[num]) + "]"
			counts[num]++
		}
		b, _ := protowire.ConsumeBytes(value)
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.Valid(b) {
				return name
			}
		case protoreflect.MessageKind:
			if fd.IsMap() {
				name = prefix + fd.JSONName()
			}
			if p := findInvalidUTF8(fd.Message(), b, name+"."); p != "" {
				return p
			}
		}
	}
	return ""
}

// decodedKey holds a request's decoded in its context.
type decodedKey struct{}

// takeDecoded is the first interceptor: it moves what the codec kept of
// the request into the context (so it is released with the RPC, whatever
// happens next).
func (s *Server) takeDecoded(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if v, ok := s.codec.kept.LoadAndDelete(req); ok {
		d := v.(decoded)
		defer d.upsert.free()
		ctx = context.WithValue(ctx, decodedKey{}, d)
	}
	return handler(ctx, req)
}

// refuseUndecodable answers a request the codec could not decode, after
// the caller is authenticated (as REST reads a body only then).
func (s *Server) refuseUndecodable(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if d, ok := ctx.Value(decodedKey{}).(decoded); ok && d.err != nil {
		return nil, ErrorStatus(d.err).Err()
	}
	return handler(ctx, req)
}

// keptUpsert is the wire form the codec kept of an UpsertRequest, if it
// came through the codec, and the function that lets its bytes go (they
// must not be used after it).
func keptUpsert(ctx context.Context) ([]byte, func(), bool) {
	d, ok := ctx.Value(decodedKey{}).(decoded)
	if !ok || d.upsert == nil {
		return nil, func() {}, false
	}
	raw := d.upsert.take()
	return raw, d.upsert.free, raw != nil
}
