package grpc

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// agreeCase is one request made twice: over gRPC and as a direct call of
// the service with the api request a REST handler would build. The gRPC
// status must be exactly what the shared table gives for the direct
// call's error, so REST (which maps the same error through the same
// table) and gRPC agree.
type agreeCase struct {
	name   string
	grpc   func(ctx context.Context, c akidbv1.CollectionServiceClient, m akidbv1.ManagementServiceClient) error
	direct func(ctx context.Context, s *api.Service) error
}

func agreeCases() []agreeCase {
	nan := float32(math.NaN())
	longID := strings.Repeat("i", 300)
	tru := true
	return []agreeCase{
		{"create ok",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "g", Dimension: 3, Metric: "dot"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateCollection(ctx, api.CreateCollectionRequest{Name: "r", Dimension: 3, Metric: "dot"})
				return err
			}},
		{"create duplicate",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "c", Dimension: 4})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateCollection(ctx, api.CreateCollectionRequest{Name: "c", Dimension: 4})
				return err
			}},
		{"create bad name",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "x.y", Dimension: 4})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateCollection(ctx, api.CreateCollectionRequest{Name: "x.y", Dimension: 4})
				return err
			}},
		{"create bad metric",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "m", Dimension: 4, Metric: "hamming"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateCollection(ctx, api.CreateCollectionRequest{Name: "m", Dimension: 4, Metric: "hamming"})
				return err
			}},
		{"list",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.ListCollections(ctx, &akidbv1.ListCollectionsRequest{})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.ListCollections(ctx)
				return err
			}},
		{"get collection unknown",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "nope"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.GetCollection(ctx, "nope")
				return err
			}},
		{"delete collection bad name",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.DeleteCollection(ctx, &akidbv1.DeleteCollectionRequest{Name: ""})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				return s.DeleteCollection(ctx, "")
			}},
		{"upsert ok",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "k", Vector: []float32{1, 2, 3, 4}}}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Upsert(ctx, "c", api.UpsertRequest{Vectors: []api.Vector{{ID: "k", Vector: []float32{1, 2, 3, 4}}}})
				return err
			}},
		{"upsert wrong dimension",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "k", Vector: []float32{1}}}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Upsert(ctx, "c", api.UpsertRequest{Vectors: []api.Vector{{ID: "k", Vector: []float32{1}}}})
				return err
			}},
		{"upsert NaN",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "k", Vector: []float32{1, 2, nan, 4}}}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Upsert(ctx, "c", api.UpsertRequest{Vectors: []api.Vector{{ID: "k", Vector: []float32{1, 2, nan, 4}}}})
				return err
			}},
		{"upsert long id",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: longID, Vector: []float32{1, 2, 3, 4}}}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Upsert(ctx, "c", api.UpsertRequest{Vectors: []api.Vector{{ID: longID, Vector: []float32{1, 2, 3, 4}}}})
				return err
			}},
		{"upsert oversize metadata",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				md := map[string]any{"s": strings.Repeat("m", 70000)}
				_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "k", Vector: []float32{1, 2, 3, 4}, Metadata: structOrNil(md)}}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				md := map[string]any{"s": strings.Repeat("m", 70000)}
				_, err := s.Upsert(ctx, "c", api.UpsertRequest{Vectors: []api.Vector{{ID: "k", Vector: []float32{1, 2, 3, 4}, Metadata: md}}})
				return err
			}},
		{"upsert batch too large",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "c", Vectors: batch(1001, 4)})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				vs := make([]api.Vector, 1001)
				for i := range vs {
					vs[i] = api.Vector{ID: "v" + itoa(i), Vector: vec(4, i)}
				}
				_, err := s.Upsert(ctx, "c", api.UpsertRequest{Vectors: vs})
				return err
			}},
		{"query ok",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Query(ctx, &akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 1), K: 3, IncludeMetadata: &tru})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Query(ctx, "c", api.QueryRequest{Vector: vec(4, 1), K: 3, IncludeMetadata: &tru})
				return err
			}},
		{"query k too big",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Query(ctx, &akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 1), K: 5000})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Query(ctx, "c", api.QueryRequest{Vector: vec(4, 1), K: 5000})
				return err
			}},
		{"query bad filter",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Query(ctx, &akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 1), K: 1, FilterJson: `{"a": 1, "a": 2}`})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Query(ctx, "c", api.QueryRequest{Vector: vec(4, 1), K: 1, Filter: json.RawMessage(`{"a": 1, "a": 2}`)})
				return err
			}},
		{"query null filter",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Query(ctx, &akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 1), K: 1, FilterJson: `null`})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Query(ctx, "c", api.QueryRequest{Vector: vec(4, 1), K: 1, Filter: json.RawMessage(`null`)})
				return err
			}},
		{"query unknown collection",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Query(ctx, &akidbv1.QueryRequest{Collection: "nope", Vector: vec(4, 1), K: 1})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Query(ctx, "nope", api.QueryRequest{Vector: vec(4, 1), K: 1})
				return err
			}},
		{"get ok",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "c", Id: "v0"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.GetVector(ctx, "c", "v0")
				return err
			}},
		{"get missing",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "c", Id: "missing"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.GetVector(ctx, "c", "missing")
				return err
			}},
		{"get long id",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "c", Id: longID})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.GetVector(ctx, "c", longID)
				return err
			}},
		{"delete missing ids",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", Ids: []string{"gone"}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.DeleteVectors(ctx, "c", api.DeleteRequest{IDs: []string{"gone"}})
				return err
			}},
		{"delete both",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", Ids: []string{"v0"}, FilterJson: `{"a": 1}`})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.DeleteVectors(ctx, "c", api.DeleteRequest{IDs: []string{"v0"}, Filter: json.RawMessage(`{"a": 1}`)})
				return err
			}},
		{"delete bad filter",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", FilterJson: `{"$or": 3}`})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.DeleteVectors(ctx, "c", api.DeleteRequest{Filter: json.RawMessage(`{"$or": 3}`)})
				return err
			}},
		{"scroll ok",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "c", Limit: 1})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Scroll(ctx, "c", api.ScrollRequest{Limit: 1})
				return err
			}},
		{"scroll bad limit",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "c", Limit: 100000})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Scroll(ctx, "c", api.ScrollRequest{Limit: 100000})
				return err
			}},
		{"scroll bad cursor",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "c", Cursor: "zz"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Scroll(ctx, "c", api.ScrollRequest{Cursor: "zz"})
				return err
			}},
		{"index bad type",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateIndex(ctx, &akidbv1.CreateIndexRequest{Collection: "c", Field: "x", Type: "text"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateIndex(ctx, "c", api.CreateIndexRequest{Field: "x", Type: "text"})
				return err
			}},
		{"index bad field",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateIndex(ctx, &akidbv1.CreateIndexRequest{Collection: "c", Field: "a.$b", Type: "keyword"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateIndex(ctx, "c", api.CreateIndexRequest{Field: "a.$b", Type: "keyword"})
				return err
			}},
		{"drop missing index",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.DropIndex(ctx, &akidbv1.DropIndexRequest{Collection: "c", Field: "none"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.DropIndex(ctx, "c", "none")
				return err
			}},
		{"list indexes unknown collection",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.ListIndexes(ctx, &akidbv1.ListIndexesRequest{Collection: "nope"})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.ListIndexes(ctx, "nope")
				return err
			}},
		{"create with a bad index",
			func(ctx context.Context, c akidbv1.CollectionServiceClient, _ akidbv1.ManagementServiceClient) error {
				_, err := c.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "bi", Dimension: 4, Indexes: map[string]string{"..": "keyword"}})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.CreateCollection(ctx, api.CreateCollectionRequest{Name: "bi", Dimension: 4, Indexes: map[string]string{"..": "keyword"}})
				return err
			}},
		{"status",
			func(ctx context.Context, _ akidbv1.CollectionServiceClient, m akidbv1.ManagementServiceClient) error {
				_, err := m.GetStatus(ctx, &akidbv1.GetStatusRequest{})
				return err
			},
			func(ctx context.Context, s *api.Service) error {
				_, err := s.Status(ctx)
				return err
			}},
	}
}

// checkAgreement compares one case's gRPC status with the table's answer
// for the direct call.
func checkAgreement(t *testing.T, e *env, tc agreeCase) {
	t.Helper()
	gerr := tc.grpc(ctxT(t), e.col, e.mgmt)
	derr := api.AsError(tc.direct(ctxT(t), e.svc))
	st := status.Convert(gerr)
	if derr == nil {
		if st.Code() != codes.OK {
			t.Fatalf("direct call succeeded, gRPC = %v %q", st.Code(), st.Message())
		}
		return
	}
	if want := api.StatusOf(derr.Code).GRPC; st.Code() != want || st.Message() != derr.Message {
		t.Fatalf("gRPC = %v %q, table says %v %q (api code %s)", st.Code(), st.Message(), want, derr.Message, derr.Code)
	}
	info := errorInfo(st)
	if info.GetReason() != string(derr.Code) || info.GetDomain() != ErrorDomain {
		t.Fatalf("ErrorInfo = %v, want reason %q", info, derr.Code)
	}
	if want := detailStrings(derr.Details); !maps.Equal(info.GetMetadata(), want) {
		t.Fatalf("ErrorInfo metadata = %v, want %v", info.GetMetadata(), want)
	}
}

// TestTransportAgreement: with a database.
func TestTransportAgreement(t *testing.T) {
	e := newDefaultEnv(t)
	seedBadInput(t, e)
	for _, tc := range agreeCases() {
		t.Run(tc.name, func(t *testing.T) { checkAgreement(t, e, tc) })
	}
}

// TestTransportAgreementUnavailable: before the database is handed over,
// every data RPC is unavailable on both transports.
func TestTransportAgreementUnavailable(t *testing.T) {
	e := newEnv(t, api.Options{}, Options{}, false)
	for _, tc := range agreeCases() {
		t.Run(tc.name, func(t *testing.T) { checkAgreement(t, e, tc) })
	}
	_, err := e.col.ListCollections(ctxT(t), &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.Unavailable, api.CodeUnavailable)
	st, err := e.mgmt.GetStatus(ctxT(t), &akidbv1.GetStatusRequest{})
	if err != nil || st.GetReady() {
		t.Fatalf("GetStatus before SetDB = %v, %v", st, err)
	}
}
