package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/akidb/akidb/engine/tier"
)

// Defaults.
const (
	DefaultPartSize   = 16 << 20
	MinPartSize       = 5 << 20 // S3's minimum
	DefaultMaxRetries = 3
)

// Config configures a Store.
type Config struct {
	// Endpoint is http://host:port or https://host:port.
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey are static credentials (from the
	// environment or files, never from a flag).
	AccessKey, SecretKey string
	// PathStyle addresses the bucket in the path (MinIO's default) rather
	// than in the host name.
	PathStyle bool
	// CAFile is a PEM bundle trusted for an https endpoint instead of the
	// system roots.
	CAFile string
	// InsecureSkipVerify turns certificate verification off (testing
	// only; the CLI refuses it unless set explicitly).
	InsecureSkipVerify bool
	// CreateBucket creates a missing bucket; otherwise Open refuses it.
	CreateBucket bool
	// PartSize is the multipart part size (default 16 MiB, at least 5
	// MiB); objects up to it go up in one PUT.
	PartSize uint64
	// MaxRetries is minio-go's retries of one request (default 3); the
	// tier's DLQ retries failed uploads on its own schedule.
	MaxRetries int
}

// Store is a tier.ObjectStore on one S3 bucket.
type Store struct {
	cfg    Config
	client *minio.Client
	core   minio.Core
	name   string
}

var _ tier.ObjectStore = (*Store)(nil)

// ParseEndpoint splits http://host:port or https://host:port.
func ParseEndpoint(endpoint string) (host string, secure bool, err error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("s3 endpoint %q: want http://host:port or https://host:port", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

// ErrBucketMissing: the bucket does not exist and CreateBucket is off.
var ErrBucketMissing = errors.New("bucket does not exist")

// Open is New then CheckBucket.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.CheckBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Unreachable reports whether err is the store not answering (a network
// error, a timeout) rather than the store answering no (a missing bucket,
// refused credentials) or a TLS handshake that failed on our side (a
// certificate we do not trust, an https endpoint that speaks http): those
// are settings to fix, not an outage to wait out.
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, ErrBucketMissing) || tlsFailure(err) {
		return false
	}
	return minio.ToErrorResponse(errors.Unwrap(err)).Code == "" && minio.ToErrorResponse(err).Code == ""
}

// New checks the configuration and makes the client; it does not connect.
func New(cfg Config) (*Store, error) {
	host, secure, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3: a bucket is required")
	}
	// A name S3 refuses would start the server and then fail every upload
	// (the breaker open, the DLQ filling) instead of failing here.
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3: bucket %q: %w (3 to 63 lowercase letters, digits, dots and hyphens)", cfg.Bucket, err)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3: access key and secret key go together")
	}
	if !secure && (cfg.CAFile != "" || cfg.InsecureSkipVerify) {
		return nil, fmt.Errorf("s3: a CA file or skipping verification needs an https endpoint, not %s", cfg.Endpoint)
	}
	if cfg.CAFile != "" && cfg.InsecureSkipVerify {
		return nil, errors.New("s3: a CA file and skipping certificate verification contradict each other: give one")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of %d", cfg.PartSize, MinPartSize)
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("s3: transport: %w", err)
	}
	tr.Proxy = nil // credentials never go through a proxy picked up from the environment
	if secure {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // only when asked for
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("s3: read CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("s3: CA file %s holds no PEM certificate", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	}
	client, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Transport: tr, Region: cfg.Region, BucketLookup: lookup, MaxRetries: cfg.MaxRetries})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return &Store{cfg: cfg, client: client, core: minio.Core{Client: client}, name: "s3://" + cfg.Bucket}, nil
}

// tlsFailure reports whether err is a TLS handshake that failed on the
// client's side: the certificate did not verify, or the endpoint did not
// speak TLS.
func tlsFailure(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &record)
}

// CheckBucket checks that the bucket exists, creating it if CreateBucket
// is set.
func (s *Store) CheckBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		if tlsFailure(err) {
			return fmt.Errorf("s3: TLS with %s failed (%w): trust its certificate's CA with --s3-ca-file, check that the endpoint speaks https, "+
				"or, for a test only, turn verification off with --s3-insecure-skip-verify", s.cfg.Endpoint, err)
		}
		return fmt.Errorf("s3: check bucket %s at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
	}
	if ok {
		return nil
	}
	if !s.cfg.CreateBucket {
		return fmt.Errorf("s3: %w: %s at %s (create it, or let akidb create it with --s3-create-bucket)", ErrBucketMissing, s.cfg.Bucket, s.cfg.Endpoint)
	}
	if err := s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region}); err != nil {
		if code := minio.ToErrorResponse(err).Code; code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("s3: create bucket %s: %w", s.cfg.Bucket, err)
		}
	}
	return nil
}

// Name implements tier.ObjectStore.
func (s *Store) Name() string { return s.name }

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// mapErr turns "no such key" answers into tier.ErrNotFound.
func mapErr(what, key string, err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	if r.Code == "NoSuchKey" || r.Code == "NotFound" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket" {
		return fmt.Errorf("%s %s: %w", what, key, tier.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", what, key, err)
}

// Put implements tier.ObjectStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts tier.PutOptions) error {
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, key, r, size, minio.PutObjectOptions{
		UserMetadata: map[string]string{tier.MetaSHA256: opts.SHA256},
		ContentType:  opts.ContentType,
		PartSize:     s.cfg.PartSize,
	})
	return mapErr("put", key, err)
}

func infoOf(o minio.ObjectInfo) tier.ObjectInfo {
	info := tier.ObjectInfo{Key: o.Key, Size: o.Size, LastModified: o.LastModified}
	for k, v := range o.UserMetadata {
		if strings.EqualFold(k, tier.MetaSHA256) {
			info.SHA256 = v
		}
	}
	if info.SHA256 == "" && o.Metadata != nil {
		info.SHA256 = o.Metadata.Get("X-Amz-Meta-" + tier.MetaSHA256)
	}
	return info
}

// Get implements tier.ObjectStore.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, tier.ObjectInfo, error) {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, tier.ObjectInfo{}, mapErr("get", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, tier.ObjectInfo{}, mapErr("get", key, err)
	}
	return obj, infoOf(st), nil
}

// Head implements tier.ObjectStore.
func (s *Store) Head(ctx context.Context, key string) (tier.ObjectInfo, error) {
	st, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return tier.ObjectInfo{}, mapErr("head", key, err)
	}
	return infoOf(st), nil
}

// List implements tier.ObjectStore.
func (s *Store) List(ctx context.Context, prefix string) ([]tier.ObjectInfo, error) {
	var out []tier.ObjectInfo
	for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		out = append(out, tier.ObjectInfo{Key: o.Key, Size: o.Size, LastModified: o.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements tier.ObjectStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{})
	if err := mapErr("delete", key, err); err != nil && !errors.Is(err, tier.ErrNotFound) {
		return err
	}
	return nil
}

// ListIncompleteUploads implements tier.ObjectStore. It lists the whole
// bucket's uploads and filters them here: MinIO answers a prefix that is
// not a whole object key with nothing (there are few unfinished uploads).
func (s *Store) ListIncompleteUploads(ctx context.Context, prefix string) ([]tier.IncompleteUpload, error) {
	var out []tier.IncompleteUpload
	for u := range s.client.ListIncompleteUploads(ctx, s.cfg.Bucket, "", true) {
		if u.Err != nil {
			return nil, fmt.Errorf("list incomplete uploads under %s: %w", prefix, u.Err)
		}
		if strings.HasPrefix(u.Key, prefix) {
			out = append(out, tier.IncompleteUpload{Key: u.Key, UploadID: u.UploadID})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Key < out[j].Key || out[i].Key == out[j].Key && out[i].UploadID < out[j].UploadID
	})
	return out, nil
}

// AbortIncompleteUploads implements tier.ObjectStore.
func (s *Store) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	ups, err := s.ListIncompleteUploads(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range ups {
		if err := s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, u.Key, u.UploadID); err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
				continue
			}
			return n, fmt.Errorf("abort upload %s of %s: %w", u.UploadID, u.Key, err)
		}
		n++
	}
	return n, nil
}

// StartMultipartUpload begins a multipart upload of key and leaves it
// unfinished (tests of the clean-up of what a killed process leaves).
func (s *Store) StartMultipartUpload(ctx context.Context, key string) (string, error) {
	return s.core.NewMultipartUpload(ctx, s.cfg.Bucket, key, minio.PutObjectOptions{})
}
