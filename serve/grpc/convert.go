package grpc

import (
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/payload"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// Conversions between akidb.v1 messages and serve/api types. They only
// copy: every check belongs to the service, so both transports refuse the
// same things with the same words.

// metadataIn turns a Struct into the JSON-shaped map the service takes;
// an absent Struct is no metadata.
func metadataIn(s *structpb.Struct) map[string]any {
	if s == nil {
		return nil
	}
	return s.AsMap()
}

// metadataOut turns stored metadata (decoded JSON) into a Struct; empty
// metadata is absent, as REST omits it.
func metadataOut(m map[string]any) (*structpb.Struct, error) {
	if len(m) == 0 {
		return nil, nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fmt.Errorf("metadata to Struct: %w", err)
	}
	return s, nil
}

func filterIn(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func hnswOut(p api.HNSWParams) *akidbv1.HNSWParams {
	return &akidbv1.HNSWParams{M: int32(p.M), EfConstruction: int32(p.EfConstruction)}
}

func collectionOut(c api.Collection) *akidbv1.Collection {
	out := &akidbv1.Collection{
		Name: c.Name, Dimension: int32(c.Dimension), Metric: c.Metric,
		Hnsw: hnswOut(c.HNSW), CreatedAt: timestamppb.New(c.CreatedAt), TierPolicy: c.TierPolicy, LoadState: c.LoadState,
		Quantization: &akidbv1.Quantization{Type: c.Quantization.Type, Originals: c.Quantization.Originals, Ranges: c.Quantization.Ranges},
	}
	if c.Stats != nil {
		out.Stats = &akidbv1.CollectionStats{Count: int64(c.Stats.Count), Deleted: int64(c.Stats.Deleted), MemoryBytes: c.Stats.MemoryBytes,
			DiskBytes: c.Stats.DiskBytes, MappedBytes: c.Stats.MappedBytes, Quantization: quantizationStatusOut(c.Stats.Quantization)}
	}
	for _, in := range c.Indexes {
		out.Indexes = append(out.Indexes, indexOut(in))
	}
	return out
}

// quantizationIn converts settings; nil stays nil (absent: none at
// create, unchanged in an update).
func quantizationIn(q *akidbv1.Quantization) *api.QuantizationSettings {
	if q == nil {
		return nil
	}
	return &api.QuantizationSettings{Type: q.GetType(), Originals: q.GetOriginals(), Ranges: q.GetRanges()}
}

func quantizationStatusOut(st *api.QuantizationStatus) *akidbv1.QuantizationStatus {
	if st == nil {
		return nil
	}
	out := &akidbv1.QuantizationStatus{
		State: st.State, Step: st.Step, Progress: st.Progress,
		Traversing: st.Traversing, OriginalsOnDisk: st.OriginalsOnDisk,
		RangesInUse: st.RangesInUse, RecallCollection: st.RecallCollection, RecallDimension: st.RecallDimension,
		TrainedOn: int64(st.TrainedOn), ClampedFraction: st.ClampedFraction, Retrains: int64(st.Retrains), Error: st.Error,
	}
	if !st.TrainedAt.IsZero() {
		out.TrainedAt = timestamppb.New(st.TrainedAt)
	}
	return out
}

func indexOut(in api.Index) *akidbv1.Index {
	return &akidbv1.Index{Field: in.Field, Type: in.Type, State: in.State, Values: int64(in.Values),
		Records: int64(in.Records), Unindexed: int64(in.Unindexed), MemoryBytes: in.MemoryBytes}
}

func planOut(ex *engine.Explain) *akidbv1.QueryPlan {
	if ex == nil {
		return nil
	}
	return &akidbv1.QueryPlan{
		Strategy: ex.Strategy, Planned: ex.Planned, Reason: ex.Reason, Filter: ex.Filter,
		IndexedFields: ex.Indexed, UnindexedFields: ex.Unindexed, LiveRecords: int64(ex.LiveRecords),
		Candidates: int64(ex.Candidates), EstimatedMatches: int64(ex.EstimatedMatches), Estimate: ex.Estimate,
		TrueMatches: int64(ex.TrueMatches), Tree: planNodeOut(ex.Tree),
		EntryDensity: ex.Density, Ef: int32(ex.Ef), Reseeded: ex.Reseeded,
	}
}

func planNodeOut(n *payload.ExplainNode) *akidbv1.PlanNode {
	if n == nil {
		return nil
	}
	out := &akidbv1.PlanNode{Filter: n.Filter, Index: n.Index, Sure: int64(n.Sure), Candidates: int64(n.Candidates)}
	for _, k := range n.Children {
		out.Children = append(out.Children, planNodeOut(k))
	}
	return out
}

func vectorsIn(in []*akidbv1.Vector) []api.Vector {
	out := make([]api.Vector, len(in))
	for i, v := range in {
		out[i] = api.Vector{ID: v.GetId(), Vector: v.GetVector(), Metadata: metadataIn(v.GetMetadata())}
	}
	return out
}

func vectorOut(v api.Vector) (*akidbv1.Vector, error) {
	md, err := metadataOut(v.Metadata)
	if err != nil {
		return nil, fmt.Errorf("vector %q: %w", v.ID, err)
	}
	return &akidbv1.Vector{Id: v.ID, Vector: v.Vector, Metadata: md}, nil
}

func queryIn(req *akidbv1.QueryRequest) api.QueryRequest {
	return api.QueryRequest{
		Vector: req.GetVector(), K: int(req.GetK()), Ef: int(req.GetEf()), Rerank: int(req.GetRerank()),
		Filter: filterIn(req.GetFilterJson()), Exact: req.GetExact(),
		IncludeVector: req.GetIncludeVector(), IncludeMetadata: req.IncludeMetadata,
		Explain: req.GetExplain(),
	}
}

func queryOut(r api.QueryResponse) (*akidbv1.QueryResponse, error) {
	out := &akidbv1.QueryResponse{Results: make([]*akidbv1.QueryHit, len(r.Results)), Strategy: r.Strategy, Explain: planOut(r.Explain)}
	for i, h := range r.Results {
		md, err := metadataOut(h.Metadata)
		if err != nil {
			return nil, fmt.Errorf("hit %q: %w", h.ID, err)
		}
		out.Results[i] = &akidbv1.QueryHit{Id: h.ID, Score: h.Score, Metadata: md, Vector: h.Vector}
	}
	return out, nil
}

func statusOut(st api.StatusResponse) *akidbv1.GetStatusResponse {
	return &akidbv1.GetStatusResponse{
		Version: st.Version, Ready: st.Ready, Collections: int64(st.Collections),
		Vectors: int64(st.Vectors), DataDir: st.DataDir, UptimeS: st.UptimeS,
	}
}
