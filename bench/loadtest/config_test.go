package loadtest

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	mix := func(s string) Mix {
		m, err := ParseMix(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	failOn := func(s string) []Threshold {
		ts, err := ParseFailOn(s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"qps zero", func(c *Config) { c.QPS = 0 }, "--qps must be positive"},
		{"qps negative", func(c *Config) { c.QPS = -5 }, "--qps must be positive"},
		{"duration", func(c *Config) { c.Duration = 0 }, "--duration must be positive"},
		{"bad ramp", func(c *Config) { c.Ramp = &Ramp{Start: 10, End: 5, Step: time.Second} }, "--ramp"},
		{"target scheme", func(c *Config) { c.Target = "ftp://x" }, "--target"},
		{"target no host", func(c *Config) { c.Target = "http://" }, "--target"},
		{"target query", func(c *Config) { c.Target = "http://h:1/?a=b" }, "without a query"},
		{"ca on http", func(c *Config) { c.Target, c.CAFile = "http://h:1", "ca.pem" }, "https"},
		{"insecure embedded", func(c *Config) { c.Insecure = true }, "https"},
		{"dim", func(c *Config) { c.Dim = 0 }, "--dim"},
		{"preload batch", func(c *Config) { c.PreloadBatch = 5000 }, "--preload-batch"},
		{"metric", func(c *Config) { c.Metric = "hamming" }, "--metric"},
		{"collection", func(c *Config) { c.Collection = "bad name" }, "--collection"},
		{"k", func(c *Config) { c.K = 0 }, "--k"},
		{"selectivity", func(c *Config) { c.FilterSelectivity = 1.5 }, "--filter-selectivity"},
		{"tiny selectivity", func(c *Config) { c.FilterSelectivity = 1e-6 }, "--filter-selectivity"},
		{"insert batch", func(c *Config) { c.InsertBatch = 0 }, "--insert-batch"},
		{"output", func(c *Config) { c.Output = "xml" }, "--output"},
		{"quantization", func(c *Config) { c.Quantization = "int4" }, "--quantization"},
		{"originals", func(c *Config) { c.Quantization, c.Originals = "int8", "tape" }, "--originals"},
		{"disk without int8", func(c *Config) { c.Originals = "disk" }, "needs --quantization int8"},
		{"rerank", func(c *Config) { c.Rerank = -1 }, "--rerank"},
		{"slo success", func(c *Config) { c.SLO.SuccessPct = 120 }, "--slo-success"},
		{"get without preload", func(c *Config) { c.Preload = 0 }, "needs preloaded records"},
		{"too many deletes", func(c *Config) {
			c.Mix, c.Preload, c.QPS, c.Duration = mix("query=50,delete=50"), 1000, 100, 10*time.Second
		}, "raise --preload to at least"},
		{"recall threshold without recall", func(c *Config) { c.RecallSample, c.FailOn = 0, failOn("recall<0.9") }, "--recall-sample"},
		{"threshold on absent op", func(c *Config) { c.FailOn = failOn("delete.p99>1ms") }, "sends no delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Deletes fit when the preload is large enough.
	c := DefaultConfig()
	c.Mix, c.Preload, c.QPS, c.Duration = mix("query=50,delete=50"), 3000, 100, 10*time.Second
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := c.maxDeletes(); d < 501 || d > c.Preload/2 {
		t.Fatalf("maxDeletes %d for ~500 expected deletes", d)
	}
}
