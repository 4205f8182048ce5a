// Package api is AkiDB's transport-neutral service: one method per
// operation of the REST contract. It validates input against configurable
// limits, resolves the caller's tenant from the context (never from the
// request body) and calls the engine. REST (serve/rest) and gRPC
// (serve/grpc) only decode, call and encode, and map errors through the one
// status table in errors.go, so the same request gets the same answer on
// both transports.
//
// The request and response structs here are the JSON contract of the REST
// API (field names are the JSON names); gRPC converts its messages to and
// from them.
//
// Quotas: with SetQuotaGuard (serve/limits.Guard, through the QuotaGuard
// interface) writes are checked after validation and before anything is
// written: an upsert by what the engine says it adds (engine.Handle.UpsertCost:
// new ids, memory for a node per record, replacements included, and the
// log's growth), a collection create by one collection and its first log
// segment; a refusal is quota_exceeded (403), the batch is refused whole,
// and a refusal for memory or disk asks the collection for a compaction.
// A full disk is insufficient_storage (507).
package api
