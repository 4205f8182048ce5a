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
// written: an upsert by the records it adds (new ids, counted once, with
// EstimateRecordBytes each), a collection create by one; a refusal is
// quota_exceeded (403) and the batch is refused whole.
package api
