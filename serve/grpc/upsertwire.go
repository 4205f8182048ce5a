package grpc

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/akidb/akidb/serve/api"
)

// Decoding an UpsertRequest from its wire form straight into an
// api.UpsertBatch, record by record, so every limit is checked as the
// records are read and the first violation ends the request (see
// serverCodec). Field numbers are those of proto/akidb/v1/akidb.proto:
//
//	UpsertRequest { string collection = 1; repeated Vector vectors = 2; }
//	Vector        { string id = 1; repeated float vector = 2; google.protobuf.Struct metadata = 3; }
//	Struct        { map<string, Value> fields = 1; }   // entries: key = 1, value = 2
//	Value         { oneof kind { NullValue null_value = 1; double number_value = 2;
//	                string string_value = 3; bool bool_value = 4;
//	                Struct struct_value = 5; ListValue list_value = 6; } }
//	ListValue     { repeated Value values = 1; }
//
// A field given twice in one record is refused (protobuf would merge or
// keep the last; no client sends that). Unknown fields are skipped, as
// protobuf does.

// field is one field of a message in wire form.
type field struct {
	num protowire.Number
	typ protowire.Type
	val []byte // the value's bytes: a length-delimited field's content, else its encoding
}

// fields calls fn for each field of the message m, stopping at the first
// error; malformed wire data is invalid_argument.
func fields(m []byte, fn func(field) *api.Error) *api.Error {
	for len(m) > 0 {
		num, typ, n := protowire.ConsumeTag(m)
		if n < 0 {
			return malformed()
		}
		m = m[n:]
		var val []byte
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(m)
			if k < 0 {
				return malformed()
			}
			val, n = v, k
		} else {
			n = protowire.ConsumeFieldValue(num, typ, m)
			if n < 0 {
				return malformed()
			}
			val = m[:n]
		}
		m = m[n:]
		if err := fn(field{num: num, typ: typ, val: val}); err != nil {
			return err
		}
	}
	return nil
}

// decodeUpsertWire feeds the records of an UpsertRequest to b.
func decodeUpsertWire(raw []byte, b *api.UpsertBatch) *api.Error {
	err := fields(raw, func(f field) *api.Error {
		if f.num != 2 {
			return nil // the collection (read by the codec), or unknown
		}
		if f.typ != protowire.BytesType {
			return malformed()
		}
		return decodeRecordWire(f.val, b)
	})
	if err != nil {
		return err
	}
	return b.Finish()
}

func decodeRecordWire(m []byte, b *api.UpsertBatch) *api.Error {
	if err := b.Next(); err != nil {
		return err
	}
	var vec []float32
	err := fields(m, func(f field) *api.Error {
		switch f.num {
		case 1:
			if f.typ != protowire.BytesType {
				return malformed()
			}
			return b.ID(f.val)
		case 2:
			if vec == nil {
				vec = b.VectorBuffer()
			}
			return appendFloats(b, &vec, f)
		case 3:
			if f.typ != protowire.BytesType {
				return malformed()
			}
			w, err := b.Metadata()
			if err != nil {
				return err
			}
			if err := writeStructWire(w, f.val); err != nil {
				return err
			}
			return b.EndMetadata()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if vec != nil {
		if err := b.Vector(vec); err != nil {
			return err
		}
	}
	return b.End()
}

// appendFloats adds a vector field's values (packed, or one unpacked
// value) to vec, refusing more than the dimension before copying them.
func appendFloats(b *api.UpsertBatch, vec *[]float32, f field) *api.Error {
	v := *vec
	switch f.typ {
	case protowire.BytesType: // packed
		if len(f.val)%4 != 0 {
			return malformed()
		}
		if len(v)+len(f.val)/4 > b.Dimension() {
			return b.TooManyDimensions()
		}
		for p := f.val; len(p) > 0; p = p[4:] {
			u, _ := protowire.ConsumeFixed32(p)
			v = append(v, math.Float32frombits(u))
		}
	case protowire.Fixed32Type:
		if len(v) >= b.Dimension() {
			return b.TooManyDimensions()
		}
		u, _ := protowire.ConsumeFixed32(f.val)
		v = append(v, math.Float32frombits(u))
	default:
		return malformed()
	}
	*vec = v
	return nil
}

// writeStructWire writes a google.protobuf.Struct as a JSON object.
func writeStructWire(w *api.MetadataWriter, m []byte) *api.Error {
	if err := w.BeginObject(); err != nil {
		return err
	}
	err := fields(m, func(f field) *api.Error {
		if f.num != 1 {
			return nil
		}
		if f.typ != protowire.BytesType {
			return malformed()
		}
		var key, value []byte
		if err := fields(f.val, func(e field) *api.Error {
			switch {
			case e.num == 1 && e.typ == protowire.BytesType:
				key = e.val
			case e.num == 2 && e.typ == protowire.BytesType:
				value = e.val
			}
			return nil
		}); err != nil {
			return err
		}
		if err := w.Key(key); err != nil {
			return err
		}
		return writeValueWire(w, value)
	})
	if err != nil {
		return err
	}
	return w.End()
}

// writeValueWire writes a google.protobuf.Value (the last kind set wins,
// as for a oneof; none set is null).
func writeValueWire(w *api.MetadataWriter, m []byte) *api.Error {
	var kind field
	if err := fields(m, func(f field) *api.Error {
		if f.num >= 1 && f.num <= 6 {
			kind = f
		}
		return nil
	}); err != nil {
		return err
	}
	switch kind.num {
	case 2:
		if kind.typ != protowire.Fixed64Type {
			return malformed()
		}
		u, _ := protowire.ConsumeFixed64(kind.val)
		f := math.Float64frombits(u)
		switch {
		// JSON cannot carry these; protobuf's JSON mapping (and so
		// structpb.AsMap) writes them as strings, and so does AkiDB.
		case math.IsNaN(f):
			return w.String([]byte("NaN"))
		case math.IsInf(f, 1):
			return w.String([]byte("Infinity"))
		case math.IsInf(f, -1):
			return w.String([]byte("-Infinity"))
		}
		return w.Number(f)
	case 3:
		if kind.typ != protowire.BytesType {
			return malformed()
		}
		return w.String(kind.val)
	case 4:
		if kind.typ != protowire.VarintType {
			return malformed()
		}
		u, _ := protowire.ConsumeVarint(kind.val)
		return w.Bool(u != 0)
	case 5:
		if kind.typ != protowire.BytesType {
			return malformed()
		}
		return writeStructWire(w, kind.val)
	case 6:
		if kind.typ != protowire.BytesType {
			return malformed()
		}
		if err := w.BeginArray(); err != nil {
			return err
		}
		if err := fields(kind.val, func(f field) *api.Error {
			if f.num != 1 {
				return nil
			}
			if f.typ != protowire.BytesType {
				return malformed()
			}
			return writeValueWire(w, f.val)
		}); err != nil {
			return err
		}
		return w.End()
	}
	return w.Null() // null_value, or no kind
}
