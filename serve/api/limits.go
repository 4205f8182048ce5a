package api

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
