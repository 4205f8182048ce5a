package s3_test

import (
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
	bad := srv.Config("b")
	bad.SecretKey = "wrong-secret-key"
	if _, err := s3.Open(ctx, bad); err == nil {
		t.Fatal("wrong credentials accepted")
	}
	for _, ep := range []string{"127.0.0.1:9000", "ftp://x:1", "http://x:1/path", "http://user:pw@x:1"} {
		c := srv.Config("b")
		c.Endpoint = ep
		if _, err := s3.Open(ctx, c); err == nil || !strings.Contains(err.Error(), "want http://host:port") {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	c := srv.Config("b")
	c.CAFile = "/nonexistent"
	if _, err := s3.Open(ctx, c); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("CA file with http: %v", err)
	}
	c = srv.Config("b")
	c.PartSize = 1 << 20
	if _, err := s3.Open(ctx, c); err == nil {
		t.Error("a part size below 5 MiB was accepted")
	}
}
