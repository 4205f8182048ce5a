// Package s3 is the MinIO/S3 implementation of tier.ObjectStore, on
// github.com/minio/minio-go/v7. It lives apart from engine/tier because
// it brings net/http: the engine never imports it; serve and cmd build a
// Store from their flags and hand it to the engine as a tier.ObjectStore.
//
// A Store speaks to one bucket: endpoint http://host:port or
// https://host:port (TLS verified against the system roots or CAFile;
// InsecureSkipVerify only when asked for explicitly), path-style or
// virtual-host bucket addressing, a region, static credentials. Open
// checks that the bucket exists and creates it when CreateBucket is set.
//
// Objects larger than PartSize go up as multipart uploads (minio-go
// aborts a failed one itself; one left behind by a killed process is
// found by ListIncompleteUploads and removed by AbortIncompleteUploads).
// The SHA-256 the caller computed is stored as user metadata
// (x-amz-meta-sha256): a multipart upload's ETag is not an MD5 of the
// object, so that is what readers check.
//
// The s3test subpackage starts a real MinIO server for tests.
package s3
