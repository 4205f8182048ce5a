package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
	"github.com/akidb/akidb/engine/tier/tiertest"
)

func TestConformanceAgainstMinIO(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int32
	tiertest.Run(t, tiertest.Harness{
		New: func(t *testing.T) tier.ObjectStore {
			return srv.Store(t, fmt.Sprintf("conformance-%d", n.Add(1)))
		},
		LargeSize: s3.MinPartSize*2 + 12345, // three parts
		LeaveIncompleteUpload: func(t *testing.T, s tier.ObjectStore, key string) {
			if _, err := s.(*s3.Store).StartMultipartUpload(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestOpenChecksItsConfiguration(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	cfg := srv.Config("missing-bucket")
	cfg.CreateBucket = false
	if _, err := s3.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing bucket without --s3-create-bucket: %v", err)
	}
	cfg.CreateBucket = true
	if _, err := s3.Open(ctx, cfg); err != nil {
		t.Fatalf("with create: %v", err)
	}
	bad := srv.Config("bkt")
	bad.SecretKey = "wrong-secret-key"
	if _, err := s3.Open(ctx, bad); err == nil {
		t.Fatal("wrong credentials accepted")
	}
	for _, ep := range []string{"127.0.0.1:9000", "ftp://x:1", "http://x:1/path", "http://user:pw@x:1"} {
		c := srv.Config("bkt")
		c.Endpoint = ep
		if _, err := s3.Open(ctx, c); err == nil || !strings.Contains(err.Error(), "want http://host:port") {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	c := srv.Config("bkt")
	c.CAFile = "/nonexistent"
	if _, err := s3.Open(ctx, c); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("CA file with http: %v", err)
	}
	for _, name := range []string{"bm", "Upper_Case", "-dash-first", "a..b"} {
		if _, err := s3.Open(ctx, srv.Config(name)); err == nil || !strings.Contains(err.Error(), "bucket \""+name+"\"") {
			t.Errorf("bucket %q: %v", name, err)
		}
	}
	c = srv.Config("bkt")
	c.PartSize = 1 << 20
	if _, err := s3.Open(ctx, c); err == nil {
		t.Error("a part size below 5 MiB was accepted")
	}
}

// A MinIO on https with a certificate from a private CA: trusted with
// --s3-ca-file, refused without it, accepted with an explicit skip of the
// verification.
func TestTLSWithACAFile(t *testing.T) {
	srv := s3test.StartTLS(t)
	ctx := context.Background()
	cfg := srv.Config("tls")
	st, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
	data, sum := tiertest.Data(1, 1000)
	if err := st.Put(ctx, "k", bytes.NewReader(data), 1000, tier.PutOptions{SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	if info, err := st.Head(ctx, "k"); err != nil || info.SHA256 != sum {
		t.Fatalf("head over TLS: %+v %v", info, err)
	}
	cfg.CAFile = ""
	_, err = s3.Open(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA file: %v, want a certificate error", err)
	}
	// A server that starts with a store it cannot reach waits for it; one
	// whose certificate it cannot verify must not start at all.
	if s3.Unreachable(err) {
		t.Fatalf("an unverified certificate counts as an unreachable store: %v", err)
	}
	cfg.InsecureSkipVerify = true
	if _, err := s3.Open(ctx, cfg); err != nil {
		t.Fatalf("with verification skipped: %v", err)
	}
}
