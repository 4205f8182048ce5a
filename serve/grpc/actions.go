package grpc

import (
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// methodActions maps every akidb.v1 RPC, by full method name, to the one
// auth.Action it performs: the table the guard authorizes against. A test
// walks Methods() and fails on an RPC missing here. Health and reflection
// are public (publicServices) and map to no action.
var methodActions = map[string]auth.Action{
	akidbv1.CollectionService_CreateCollection_FullMethodName:     auth.ActionCollectionCreate,
	akidbv1.CollectionService_ListCollections_FullMethodName:      auth.ActionCollectionList,
	akidbv1.CollectionService_GetCollection_FullMethodName:        auth.ActionCollectionRead,
	akidbv1.CollectionService_DeleteCollection_FullMethodName:     auth.ActionCollectionDelete,
	akidbv1.CollectionService_Upsert_FullMethodName:               auth.ActionVectorUpsert,
	akidbv1.CollectionService_Query_FullMethodName:                auth.ActionVectorQuery,
	akidbv1.CollectionService_Get_FullMethodName:                  auth.ActionVectorRead,
	akidbv1.CollectionService_Delete_FullMethodName:               auth.ActionVectorDelete,
	akidbv1.CollectionService_Scroll_FullMethodName:               auth.ActionVectorRead,
	akidbv1.CollectionService_UpdateCollection_FullMethodName:     auth.ActionCollectionUpdate,
	akidbv1.CollectionService_CreateIndex_FullMethodName:          auth.ActionIndexCreate,
	akidbv1.CollectionService_ListIndexes_FullMethodName:          auth.ActionCollectionRead,
	akidbv1.CollectionService_DropIndex_FullMethodName:            auth.ActionIndexDelete,
	akidbv1.ManagementService_GetStatus_FullMethodName:            auth.ActionStatusRead,
	akidbv1.ManagementService_IssueToken_FullMethodName:           auth.ActionTokenIssue,
	akidbv1.ManagementService_CreateTenant_FullMethodName:         auth.ActionTenantManage,
	akidbv1.ManagementService_ListTenants_FullMethodName:          auth.ActionTenantManage,
	akidbv1.ManagementService_DeleteTenant_FullMethodName:         auth.ActionTenantManage,
	akidbv1.ManagementService_CreateAPIKey_FullMethodName:         auth.ActionKeyCreate,
	akidbv1.ManagementService_ListAPIKeys_FullMethodName:          auth.ActionKeyList,
	akidbv1.ManagementService_RevokeAPIKey_FullMethodName:         auth.ActionKeyRevoke,
	akidbv1.ManagementService_RotateAPIKey_FullMethodName:         auth.ActionKeyRotate,
	akidbv1.ManagementService_ListAuditEvents_FullMethodName:      auth.ActionAuditRead,
	akidbv1.ManagementService_GetTenantQuota_FullMethodName:       auth.ActionQuotaRead,
	akidbv1.ManagementService_SetTenantQuota_FullMethodName:       auth.ActionQuotaWrite,
	akidbv1.ManagementService_GetKeyRateLimit_FullMethodName:      auth.ActionQuotaRead,
	akidbv1.ManagementService_SetKeyRateLimit_FullMethodName:      auth.ActionQuotaWrite,
	akidbv1.ManagementService_ClearKeyRateLimit_FullMethodName:    auth.ActionQuotaWrite,
	akidbv1.ManagementService_GetRuntimeConfig_FullMethodName:     auth.ActionConfigRead,
	akidbv1.ManagementService_SetRateLimitConfig_FullMethodName:   auth.ActionConfigWrite,
	akidbv1.ManagementService_CheckpointCollection_FullMethodName: auth.ActionCollectionCheckpoint,
	akidbv1.ManagementService_LoadCollection_FullMethodName:       auth.ActionCollectionLoad,
	akidbv1.ManagementService_EvictCollection_FullMethodName:      auth.ActionCollectionEvict,
	akidbv1.ManagementService_GetStorageStatus_FullMethodName:     auth.ActionStorageRead,
	akidbv1.ManagementService_ListDLQ_FullMethodName:              auth.ActionStorageRead,
	akidbv1.ManagementService_RetryDLQ_FullMethodName:             auth.ActionStorageAdmin,
	akidbv1.ManagementService_RetryDLQEntry_FullMethodName:        auth.ActionStorageAdmin,
	akidbv1.ManagementService_DiscardDLQEntry_FullMethodName:      auth.ActionStorageAdmin,
	akidbv1.ManagementService_ResetCircuitBreaker_FullMethodName:  auth.ActionStorageAdmin,
}

// publicServices are served without credentials: health (like REST's
// probes) and server reflection (the schema, which docs/grpc.md publishes
// anyway).
var publicServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// MethodAction returns the action of an akidb.v1 RPC; false for anything
// else.
func MethodAction(fullMethod string) (auth.Action, bool) {
	a, ok := methodActions[fullMethod]
	return a, ok
}

// PublicMethod reports whether a full method name belongs to a service
// served without credentials (health, reflection).
func PublicMethod(fullMethod string) bool {
	for _, p := range publicServices {
		if len(fullMethod) > len(p) && fullMethod[:len(p)] == p {
			return true
		}
	}
	return false
}
