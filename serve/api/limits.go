package api

import "fmt"

// Limits bound what one request may ask for. They are configurable
// (serve flags / config); the defaults are the documented contract.
type Limits struct {
	MaxBatch         int   // vectors per upsert
	MaxK             int   // k per query
	MaxEf            int   // ef per query
	MaxIDBytes       int   // bytes per record id
	MaxMetadataBytes int   // bytes of metadata JSON per record
	MaxDimension     int   // collection dimension
	MaxBodyBytes     int64 // request body (REST) / message (gRPC)
	MaxDeleteIDs     int   // ids per delete request
	MaxScrollLimit   int   // records per scroll page
	// MaxResponseBytes bounds a response (REST body, gRPC message); 0
	// means DefaultMaxResponseBytes of the other limits.
	MaxResponseBytes int64
}

// DefaultLimits are the limits of the REST contract.
func DefaultLimits() Limits {
	return Limits{
		MaxBatch:         1000,
		MaxK:             1000,
		MaxEf:            10000,
		MaxIDBytes:       256,
		MaxMetadataBytes: 64 << 10,
		MaxDimension:     4096,
		MaxBodyBytes:     32 << 20,
		MaxDeleteIDs:     10000,
		MaxScrollLimit:   1000,
	}
}

// Bytes one record of a response may take at most, per part, on either
// transport: a float32 as JSON ("-1.2345679e-38,"), an id byte escaped
// ("\u0001"), a metadata byte (stored as compact JSON; as a protobuf
// Struct a JSON array of small numbers takes 5.5 bytes an element byte),
// and the fixed fields (id, score and their names).
const (
	responseBytesPerValue    = 16
	responseBytesPerIDByte   = 6
	responseBytesPerMetaByte = 6
	responseBytesPerRecord   = 128
	responseBytesEnvelope    = 4 << 10
)

// DefaultMaxResponseBytes is the largest response the request limits
// allow: a query of MaxK (or a scroll page of MaxScrollLimit) records, each
// with the largest id, vector and metadata. With the default limits it is
// about 440 MiB; smaller limits give a smaller bound.
func DefaultMaxResponseBytes(lim Limits) int64 {
	d := DefaultLimits()
	pick := func(v, def int) int64 {
		if v <= 0 {
			return int64(def)
		}
		return int64(v)
	}
	records := max(pick(lim.MaxK, d.MaxK), pick(lim.MaxScrollLimit, d.MaxScrollLimit))
	perRecord := responseBytesPerValue*pick(lim.MaxDimension, d.MaxDimension) +
		responseBytesPerIDByte*pick(lim.MaxIDBytes, d.MaxIDBytes) +
		responseBytesPerMetaByte*pick(lim.MaxMetadataBytes, d.MaxMetadataBytes) + responseBytesPerRecord
	return records*perRecord + responseBytesEnvelope
}

// MaxResponse is the response bound in force.
func (l Limits) MaxResponse() int64 {
	if l.MaxResponseBytes > 0 {
		return l.MaxResponseBytes
	}
	return DefaultMaxResponseBytes(l)
}

// ResponseTooLarge is the answer to a request whose response would be
// larger than limit bytes.
func ResponseTooLarge(limit int64) *Error {
	return &Error{Code: CodeResponseTooLarge,
		Message: fmt.Sprintf("the response would be larger than %d bytes (the server's --max-response-bytes); ask for fewer records (k, limit) or leave out vectors or metadata", limit),
		Details: map[string]any{"limit": limit}}
}
