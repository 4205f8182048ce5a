package grpc

import (
	"slices"
	"testing"

	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// TestReflection: grpcurl and friends can list and describe the services.
func TestReflection(t *testing.T) {
	e := newDefaultEnv(t)
	stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctxT(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	ask := func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatalf("Send: %v", err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if e := res.GetErrorResponse(); e != nil {
			t.Fatalf("reflection error: %v", e)
		}
		return res
	}

	res := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range res.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"akidb.v1.CollectionService", "akidb.v1.ManagementService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListServices = %v, missing %s", names, want)
		}
	}

	res = ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "akidb.v1.CollectionService"}})
	var files []string
	var methods []string
	for _, raw := range res.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, fd); err != nil {
			t.Fatalf("descriptor: %v", err)
		}
		files = append(files, fd.GetName())
		for _, s := range fd.GetService() {
			if s.GetName() == "CollectionService" {
				for _, m := range s.GetMethod() {
					methods = append(methods, m.GetName())
				}
			}
		}
	}
	// The file comes with its imports, so a client can decode Struct and
	// Timestamp fields without any local .proto.
	for _, want := range []string{"akidb/v1/akidb.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"} {
		if !slices.Contains(files, want) {
			t.Errorf("FileContainingSymbol files = %v, missing %s", files, want)
		}
	}
	if len(methods) != len(akidbv1.CollectionService_ServiceDesc.Methods) {
		t.Errorf("described methods = %v", methods)
	}
}

// TestMethods: Methods lists exactly the akidb.v1 RPCs the server serves.
func TestMethods(t *testing.T) {
	e := newDefaultEnv(t)
	var served []string
	for name, info := range e.srv.GRPCServer().GetServiceInfo() {
		if name != akidbv1.CollectionService_ServiceDesc.ServiceName && name != akidbv1.ManagementService_ServiceDesc.ServiceName {
			continue
		}
		for _, m := range info.Methods {
			served = append(served, "/"+name+"/"+m.Name)
		}
	}
	got := Methods()
	slices.Sort(got)
	slices.Sort(served)
	if !slices.Equal(got, served) {
		t.Fatalf("Methods() = %v\nserved    = %v", got, served)
	}
	want := []string{
		akidbv1.CollectionService_CreateCollection_FullMethodName, akidbv1.CollectionService_ListCollections_FullMethodName,
		akidbv1.CollectionService_GetCollection_FullMethodName, akidbv1.CollectionService_DeleteCollection_FullMethodName,
		akidbv1.CollectionService_Upsert_FullMethodName, akidbv1.CollectionService_Query_FullMethodName,
		akidbv1.CollectionService_Get_FullMethodName, akidbv1.CollectionService_Delete_FullMethodName,
		akidbv1.CollectionService_Scroll_FullMethodName, akidbv1.ManagementService_GetStatus_FullMethodName,
		akidbv1.CollectionService_CreateIndex_FullMethodName, akidbv1.CollectionService_ListIndexes_FullMethodName,
		akidbv1.CollectionService_DropIndex_FullMethodName,
		akidbv1.ManagementService_IssueToken_FullMethodName,
		akidbv1.ManagementService_CreateTenant_FullMethodName, akidbv1.ManagementService_ListTenants_FullMethodName,
		akidbv1.ManagementService_DeleteTenant_FullMethodName,
		akidbv1.ManagementService_CreateAPIKey_FullMethodName, akidbv1.ManagementService_ListAPIKeys_FullMethodName,
		akidbv1.ManagementService_RevokeAPIKey_FullMethodName, akidbv1.ManagementService_RotateAPIKey_FullMethodName,
		akidbv1.ManagementService_ListAuditEvents_FullMethodName,
		akidbv1.ManagementService_GetTenantQuota_FullMethodName, akidbv1.ManagementService_SetTenantQuota_FullMethodName,
		akidbv1.ManagementService_GetKeyRateLimit_FullMethodName, akidbv1.ManagementService_SetKeyRateLimit_FullMethodName,
		akidbv1.ManagementService_ClearKeyRateLimit_FullMethodName,
		akidbv1.ManagementService_GetRuntimeConfig_FullMethodName, akidbv1.ManagementService_SetRateLimitConfig_FullMethodName,
		akidbv1.CollectionService_UpdateCollection_FullMethodName, akidbv1.ManagementService_CheckpointCollection_FullMethodName,
		akidbv1.ManagementService_LoadCollection_FullMethodName, akidbv1.ManagementService_EvictCollection_FullMethodName,
		akidbv1.ManagementService_GetStorageStatus_FullMethodName, akidbv1.ManagementService_ListDLQ_FullMethodName,
		akidbv1.ManagementService_RetryDLQ_FullMethodName, akidbv1.ManagementService_RetryDLQEntry_FullMethodName,
		akidbv1.ManagementService_DiscardDLQEntry_FullMethodName, akidbv1.ManagementService_ResetCircuitBreaker_FullMethodName,
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Methods() = %v, want %v", got, want)
	}
}
