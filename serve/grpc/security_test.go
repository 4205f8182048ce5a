package grpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/access/accesstest"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// newGuardedEnv serves the fixture's service with its guard on loopback.
func newGuardedEnv(t *testing.T, f *accesstest.Fixture) *env {
	t.Helper()
	e := &env{t: t, svc: f.Svc, db: f.DB}
	e.srv = NewServer(f.Svc, Options{Guard: f.Guard})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(lis) }()
	t.Cleanup(func() {
		e.srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	e.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.conn.Close() })
	e.col = akidbv1.NewCollectionServiceClient(e.conn)
	e.mgmt = akidbv1.NewManagementServiceClient(e.conn)
	return e
}

// bearer is a context carrying the credential ("" carries none).
func bearer(t *testing.T, cred string) context.Context {
	if cred == "" {
		return ctxT(t)
	}
	return metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+cred)
}

// TestEveryMethodHasAnAction walks Methods(): each akidb.v1 RPC maps to a
// known action, and the table names no RPC that does not exist.
func TestEveryMethodHasAnAction(t *testing.T) {
	known := map[auth.Action]bool{}
	for _, a := range auth.Actions() {
		known[a] = true
	}
	methods := Methods()
	for _, m := range methods {
		a, ok := MethodAction(m)
		switch {
		case !ok:
			t.Errorf("%s has no action", m)
		case !known[a]:
			t.Errorf("%s maps to unknown action %q", m, a)
		}
		if PublicMethod(m) {
			t.Errorf("%s is public", m)
		}
	}
	for m := range methodActions {
		if !slices.Contains(methods, m) {
			t.Errorf("methodActions lists %s, which is not served", m)
		}
	}
	for _, m := range []string{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"} {
		if !PublicMethod(m) {
			t.Errorf("%s should be public", m)
		}
	}
	if PublicMethod("/grpc.health.v1.Health/") || PublicMethod("/akidb.v1.CollectionService/Query") {
		t.Error("PublicMethod too generous")
	}
}

type grpcOp struct {
	method string
	call   func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error
}

var grpcOps = map[string]grpcOp{
	"collection.create": {akidbv1.CollectionService_CreateCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: f.NewCollection(r, s), Dimension: accesstest.Dim})
		return err
	}},
	"collection.list": {akidbv1.CollectionService_ListCollections_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.ListCollections(ctx, &akidbv1.ListCollectionsRequest{})
		return err
	}},
	"collection.get": {akidbv1.CollectionService_GetCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: f.Collection(r, s)})
		return err
	}},
	"collection.delete": {akidbv1.CollectionService_DeleteCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.DeleteCollection(ctx, &akidbv1.DeleteCollectionRequest{Name: f.Collection(r, s)})
		return err
	}},
	"index.create": {akidbv1.CollectionService_CreateIndex_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.CreateIndex(ctx, &akidbv1.CreateIndexRequest{Collection: f.Collection(r, s), Field: "made", Type: "integer"})
		return err
	}},
	"index.list": {akidbv1.CollectionService_ListIndexes_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.ListIndexes(ctx, &akidbv1.ListIndexesRequest{Collection: f.Collection(r, s)})
		return err
	}},
	"index.delete": {akidbv1.CollectionService_DropIndex_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.DropIndex(ctx, &akidbv1.DropIndexRequest{Collection: f.Collection(r, s), Field: accesstest.IndexField})
		return err
	}},
	"vector.upsert": {akidbv1.CollectionService_Upsert_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.Upsert(ctx, &akidbv1.UpsertRequest{Collection: f.Collection(r, s), Vectors: []*akidbv1.Vector{{Id: "v2", Vector: []float32{0, 1}}}})
		return err
	}},
	"vector.query": {akidbv1.CollectionService_Query_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.Query(ctx, &akidbv1.QueryRequest{Collection: f.Collection(r, s), Vector: []float32{1, 0}, K: 1})
		return err
	}},
	"vector.get": {akidbv1.CollectionService_Get_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.Get(ctx, &akidbv1.GetRequest{Collection: f.Collection(r, s), Id: accesstest.VectorID})
		return err
	}},
	// gRPC has one Delete for ids and filters; deleting one id is the
	// twin of REST's DELETE .../vectors/{id}.
	"vector.delete_one": {akidbv1.CollectionService_Delete_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.Delete(ctx, &akidbv1.DeleteRequest{Collection: f.Collection(r, s), Ids: []string{accesstest.VectorID}})
		return err
	}},
	"vector.delete": {akidbv1.CollectionService_Delete_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.Delete(ctx, &akidbv1.DeleteRequest{Collection: f.Collection(r, s), FilterJson: `{"x": 1}`})
		return err
	}},
	"vector.scroll": {akidbv1.CollectionService_Scroll_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.col.Scroll(ctx, &akidbv1.ScrollRequest{Collection: f.Collection(r, s), Limit: 10})
		return err
	}},
	"status": {akidbv1.ManagementService_GetStatus_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.GetStatus(ctx, &akidbv1.GetStatusRequest{})
		return err
	}},
	"token.issue": {akidbv1.ManagementService_IssueToken_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.IssueToken(ctx, &akidbv1.IssueTokenRequest{})
		return err
	}},
	"tenant.create": {akidbv1.ManagementService_CreateTenant_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.CreateTenant(ctx, &akidbv1.CreateTenantRequest{Name: fmt.Sprintf("t-%s-%s", r, s)})
		return err
	}},
	"tenant.list": {akidbv1.ManagementService_ListTenants_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.ListTenants(ctx, &akidbv1.ListTenantsRequest{})
		return err
	}},
	"tenant.delete": {akidbv1.ManagementService_DeleteTenant_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.DeleteTenant(ctx, &akidbv1.DeleteTenantRequest{Id: f.Scratch()})
		return err
	}},
	"key.create": {akidbv1.ManagementService_CreateAPIKey_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.CreateAPIKey(ctx, &akidbv1.CreateAPIKeyRequest{Tenant: f.TenantRef(s), Role: "reader", Name: "made"})
		return err
	}},
	"key.list": {akidbv1.ManagementService_ListAPIKeys_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.ListAPIKeys(ctx, &akidbv1.ListAPIKeysRequest{Tenant: f.TenantRef(s)})
		return err
	}},
	"key.revoke": {akidbv1.ManagementService_RevokeAPIKey_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.RevokeAPIKey(ctx, &akidbv1.RevokeAPIKeyRequest{Id: f.Victim(r, s)})
		return err
	}},
	"key.rotate": {akidbv1.ManagementService_RotateAPIKey_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.RotateAPIKey(ctx, &akidbv1.RotateAPIKeyRequest{Id: f.Victim(r, s), Overlap: "1h"})
		return err
	}},
	"audit.list": {akidbv1.ManagementService_ListAuditEvents_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.ListAuditEvents(ctx, &akidbv1.ListAuditEventsRequest{Tenant: f.TenantRef(s), Limit: 5})
		return err
	}},
	"quota.get": {akidbv1.ManagementService_GetTenantQuota_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.GetTenantQuota(ctx, &akidbv1.GetTenantQuotaRequest{Tenant: f.ScopeTenant(r, s)})
		return err
	}},
	"quota.set": {akidbv1.ManagementService_SetTenantQuota_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		n := int64(1000)
		_, err := e.mgmt.SetTenantQuota(ctx, &akidbv1.SetTenantQuotaRequest{Tenant: f.ScopeTenant(r, s), MaxVectors: &n})
		return err
	}},
	"keyrate.get": {akidbv1.ManagementService_GetKeyRateLimit_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.GetKeyRateLimit(ctx, &akidbv1.GetKeyRateLimitRequest{Id: f.RatedVictim(r, s)})
		return err
	}},
	"keyrate.set": {akidbv1.ManagementService_SetKeyRateLimit_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.SetKeyRateLimit(ctx, &akidbv1.SetKeyRateLimitRequest{Id: f.Victim(r, s), QpsLimit: 5})
		return err
	}},
	"keyrate.clear": {akidbv1.ManagementService_ClearKeyRateLimit_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.ClearKeyRateLimit(ctx, &akidbv1.ClearKeyRateLimitRequest{Id: f.RatedVictim(r, s)})
		return err
	}},
	"config.get": {akidbv1.ManagementService_GetRuntimeConfig_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.GetRuntimeConfig(ctx, &akidbv1.GetRuntimeConfigRequest{})
		return err
	}},
	"config.set": {akidbv1.ManagementService_SetRateLimitConfig_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		qps := 100.0
		_, err := e.mgmt.SetRateLimitConfig(ctx, &akidbv1.SetRateLimitConfigRequest{DefaultQps: &qps})
		return err
	}},
	"collection.update": {akidbv1.CollectionService_UpdateCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		p := "memory"
		_, err := e.col.UpdateCollection(ctx, &akidbv1.UpdateCollectionRequest{Name: f.Collection(r, s), TierPolicy: &p})
		return err
	}},
	"collection.checkpoint": {akidbv1.ManagementService_CheckpointCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.CheckpointCollection(ctx, &akidbv1.CheckpointCollectionRequest{Name: f.Collection(r, s)})
		return err
	}},
	"collection.load": {akidbv1.ManagementService_LoadCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.LoadCollection(ctx, &akidbv1.LoadCollectionRequest{Name: f.Collection(r, s)})
		return err
	}},
	"collection.evict": {akidbv1.ManagementService_EvictCollection_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.EvictCollection(ctx, &akidbv1.EvictCollectionRequest{Name: f.Collection(r, s)})
		// The fixture's collections have the memory policy: an eviction
		// the guard lets through is refused by the engine.
		if errorInfo(status.Convert(err)).GetReason() == string(api.CodeFailedPrecondition) {
			return nil
		}
		return err
	}},
	"storage.status": {akidbv1.ManagementService_GetStorageStatus_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.GetStorageStatus(ctx, &akidbv1.GetStorageStatusRequest{})
		return err
	}},
	"dlq.list": {akidbv1.ManagementService_ListDLQ_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.ListDLQ(ctx, &akidbv1.ListDLQRequest{Status: "pending"})
		return err
	}},
	"dlq.retry": {akidbv1.ManagementService_RetryDLQ_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.RetryDLQ(ctx, &akidbv1.RetryDLQRequest{})
		return err
	}},
	"dlq.retry_entry": {akidbv1.ManagementService_RetryDLQEntry_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.RetryDLQEntry(ctx, &akidbv1.RetryDLQEntryRequest{Id: dlqID(f.DLQEntry(r, s))})
		return err
	}},
	"dlq.discard": {akidbv1.ManagementService_DiscardDLQEntry_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.DiscardDLQEntry(ctx, &akidbv1.DiscardDLQEntryRequest{Id: dlqID(f.DLQEntry(r, s))})
		return err
	}},
	"breaker.reset": {akidbv1.ManagementService_ResetCircuitBreaker_FullMethodName, func(ctx context.Context, e *env, f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) error {
		_, err := e.mgmt.ResetCircuitBreaker(ctx, &akidbv1.ResetCircuitBreakerRequest{})
		return err
	}},
}

// TestAccessMatrix calls every akidb.v1 RPC as every role, on the own
// tenant's objects and another tenant's, against accesstest.Matrix (the
// table REST is held to as well).
func TestAccessMatrix(t *testing.T) {
	covered := map[string]bool{}
	for _, op := range grpcOps {
		covered[op.method] = true
	}
	for _, m := range Methods() {
		if !covered[m] {
			t.Errorf("method %s is not in the access matrix", m)
		}
	}
	f := accesstest.New(t)
	e := newGuardedEnv(t, f)
	for _, exp := range accesstest.Matrix {
		op, ok := grpcOps[exp.Op]
		if !ok {
			if exp.Op != "openapi" && exp.Op != "metrics" { // REST only
				t.Errorf("matrix operation %s has no gRPC call", exp.Op)
			}
			continue
		}
		for _, scope := range []accesstest.Scope{accesstest.Own, accesstest.Other} {
			for _, role := range accesstest.Roles() {
				want, err := accesstest.Want(exp, role, scope)
				if err != nil {
					t.Fatal(err)
				}
				f.Reset()
				err = op.call(bearer(t, f.Credential(role)), e, f, role, scope)
				cell := fmt.Sprintf("%s %s as %s (%s)", exp.Op, scope, role, op.method)
				st := status.Convert(err)
				if want == "" {
					if err != nil {
						t.Errorf("%s: %v", cell, err)
					}
					continue
				}
				info := errorInfo(st)
				if st.Code() != api.StatusOf(want).GRPC || info.GetReason() != string(want) {
					t.Errorf("%s: %v (reason %q), want %v %s", cell, st.Code(), info.GetReason(), api.StatusOf(want).GRPC, want)
				}
			}
		}
	}
}

// TestAdminRPCs checks the admin RPCs' answers: the key shown once, lists
// scoped, revocation on the next call, audit events.
func TestAdminRPCs(t *testing.T) {
	f := accesstest.New(t)
	e := newGuardedEnv(t, f)
	op := bearer(t, f.Credential(accesstest.Operator))

	tn, err := e.mgmt.CreateTenant(op, &akidbv1.CreateTenantRequest{Name: "acme"})
	if err != nil || tn.GetId() == "" || tn.GetName() != "acme" || tn.GetCreatedAt() == nil {
		t.Fatalf("CreateTenant = %v, %v", tn, err)
	}
	_, err = e.mgmt.CreateTenant(op, &akidbv1.CreateTenantRequest{Name: "acme"})
	wantCode(t, err, codes.AlreadyExists, api.CodeAlreadyExists)
	list, err := e.mgmt.ListTenants(op, &akidbv1.ListTenantsRequest{})
	if err != nil || len(list.GetTenants()) != 4 { // default, alpha, beta, acme
		t.Fatalf("ListTenants = %v, %v", list, err)
	}

	made, err := e.mgmt.CreateAPIKey(op, &akidbv1.CreateAPIKeyRequest{Tenant: "acme", Role: "writer", Collections: []string{"docs"}, ExpiresIn: "24h"})
	if err != nil || !strings.HasPrefix(made.GetKey(), "ak_"+made.GetKeyInfo().GetId()+"_") || made.GetKeyInfo().GetTenant() != tn.GetId() ||
		!made.GetKeyInfo().GetExpiresAt().AsTime().Equal(f.Clock.Now().Add(24*time.Hour)) || made.GetKeyInfo().GetRevokedAt() != nil {
		t.Fatalf("CreateAPIKey = %v, %v", made, err)
	}
	_, err = e.mgmt.CreateAPIKey(op, &akidbv1.CreateAPIKeyRequest{Role: "writer", ExpiresIn: "-1h"})
	wantCode(t, err, codes.InvalidArgument, api.CodeInvalidArgument)
	keys, err := e.mgmt.ListAPIKeys(op, &akidbv1.ListAPIKeysRequest{Tenant: "acme"})
	if err != nil || len(keys.GetKeys()) != 1 || keys.GetKeys()[0].GetId() != made.GetKeyInfo().GetId() {
		t.Fatalf("ListAPIKeys = %v, %v", keys, err)
	}
	if strings.Contains(keys.String(), made.GetKey()) {
		t.Fatal("ListAPIKeys shows a secret")
	}

	// Tokens through IssueToken work like keys, and die with their key.
	writer := bearer(t, made.GetKey())
	tok, err := e.mgmt.IssueToken(writer, &akidbv1.IssueTokenRequest{})
	if err != nil || tok.GetTokenType() != "Bearer" || tok.GetToken() == "" || tok.GetExpiresAt() == nil {
		t.Fatalf("IssueToken = %v, %v", tok, err)
	}
	withTok := bearer(t, tok.GetToken())
	if _, err := e.col.CreateCollection(withTok, &akidbv1.CreateCollectionRequest{Name: "docs", Dimension: 2}); err != nil {
		t.Fatalf("create with token: %v", err)
	}
	_, err = e.mgmt.IssueToken(withTok, &akidbv1.IssueTokenRequest{})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)

	rot, err := e.mgmt.RotateAPIKey(op, &akidbv1.RotateAPIKeyRequest{Id: made.GetKeyInfo().GetId()})
	if err != nil || rot.GetOldKey().GetRevokedAt() == nil || rot.GetNewKey().GetKey() == "" {
		t.Fatalf("RotateAPIKey without overlap = %v, %v", rot, err)
	}
	_, err = e.col.ListCollections(writer, &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)
	_, err = e.col.ListCollections(withTok, &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)
	fresh := bearer(t, rot.GetNewKey().GetKey())
	if _, err := e.col.GetCollection(fresh, &akidbv1.GetCollectionRequest{Name: "docs"}); err != nil {
		t.Fatalf("the rotated key: %v", err)
	}
	if _, err := e.mgmt.RevokeAPIKey(op, &akidbv1.RevokeAPIKeyRequest{Id: rot.GetNewKey().GetKeyInfo().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.col.GetCollection(fresh, &akidbv1.GetCollectionRequest{Name: "docs"})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)

	_, err = e.mgmt.DeleteTenant(op, &akidbv1.DeleteTenantRequest{Id: "acme"})
	wantCode(t, err, codes.FailedPrecondition, api.CodeFailedPrecondition)
	del, err := e.mgmt.DeleteTenant(op, &akidbv1.DeleteTenantRequest{Id: "acme", Force: true})
	if err != nil || !del.GetDeleted() || !slices.Equal(del.GetDroppedCollections(), []string{"docs"}) {
		t.Fatalf("DeleteTenant force = %v, %v", del, err)
	}

	page, err := e.mgmt.ListAuditEvents(op, &akidbv1.ListAuditEventsRequest{Limit: 1000})
	if err != nil || len(page.GetEvents()) == 0 {
		t.Fatalf("ListAuditEvents = %v, %v", page, err)
	}
	var sawCreate, sawDenied bool
	for _, ev := range page.GetEvents() {
		sawCreate = sawCreate || ev.GetAction() == string(auth.ActionKeyCreate) && ev.GetResult() == "ok" && ev.GetTarget() == made.GetKeyInfo().GetId()
		sawDenied = sawDenied || ev.GetResult() == "denied" && ev.GetAction() == string(auth.ActionCollectionList)
		if ev.GetRemoteAddr() == "" || ev.GetTime() == nil {
			t.Errorf("event without address or time: %v", ev)
		}
	}
	if !sawCreate || !sawDenied {
		t.Fatalf("audit trail lacks the key creation (%v) or the refused call (%v): %v", sawCreate, sawDenied, page)
	}
	_, err = e.mgmt.ListAuditEvents(op, &akidbv1.ListAuditEventsRequest{Limit: -1})
	wantCode(t, err, codes.InvalidArgument, api.CodeInvalidArgument)
}

// TestGuardedPublicAndCredentials: health needs no credential; x-api-key
// works; a credential sent twice, another scheme and a server without
// its database are refused.
func TestGuardedPublicAndCredentials(t *testing.T) {
	f := accesstest.New(t)
	e := newGuardedEnv(t, f)
	res, err := healthpb.NewHealthClient(e.conn).Check(ctxT(t), &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", res, err)
	}
	key := f.Credential(accesstest.Reader)
	if _, err := e.col.ListCollections(metadata.AppendToOutgoingContext(ctxT(t), "x-api-key", key), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("x-api-key: %v", err)
	}
	for _, md := range [][]string{
		{"authorization", "Basic " + key},
		{"authorization", "Bearer " + key, "authorization", "Bearer " + key},
		{"authorization", "Bearer " + key, "x-api-key", f.Credential(accesstest.Writer)},
	} {
		_, err := e.col.ListCollections(metadata.AppendToOutgoingContext(ctxT(t), md...), &akidbv1.ListCollectionsRequest{})
		wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)
	}

	// Without its database the guard answers UNAVAILABLE, like the service.
	bare := newEnv(t, api.Options{}, Options{Guard: access.New(access.Options{})}, false)
	_, err = bare.col.ListCollections(bearer(t, key), &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.Unavailable, api.CodeUnavailable)
	// Without a guard the admin RPCs are unavailable.
	plain := newDefaultEnv(t)
	_, err = plain.mgmt.ListTenants(ctxT(t), &akidbv1.ListTenantsRequest{})
	wantCode(t, err, codes.Unavailable, api.CodeUnavailable)
}

func dlqID(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
