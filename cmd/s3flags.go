package cmd

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/akidb/akidb/engine/tier/s3"
)

// The object store settings, shared by `akidb serve` and `akidb
// restore`. Credentials come from AKIDB_S3_ACCESS_KEY and
// AKIDB_S3_SECRET_KEY or from files, never from a flag: a flag's value
// shows in the process list.

func addS3Flags(f *pflag.FlagSet) {
	f.String("s3-endpoint", "", "object store for the memory-s3 tier: http://host:port or https://host:port (empty: local only)")
	f.String("s3-bucket", "", "bucket of the object store")
	f.String("s3-prefix", "", "key prefix inside the bucket (e.g. akidb/edge-1)")
	f.String("s3-region", "us-east-1", "region of the bucket")
	f.String("s3-ca-file", "", "PEM CA bundle trusted for an https endpoint (default: the system roots)")
	f.Bool("s3-insecure-skip-verify", false, "do not verify the endpoint's TLS certificate (testing only; never the default)")
	f.Bool("s3-path-style", true, "address the bucket in the URL path (MinIO); false: as a host name (virtual-hosted, AWS)")
	f.Bool("s3-create-bucket", false, "create the bucket if it does not exist")
	f.String("s3-access-key-file", "", "file holding the access key (default: AKIDB_S3_ACCESS_KEY)")
	f.String("s3-secret-key-file", "", "file holding the secret key (default: AKIDB_S3_SECRET_KEY)")
}

// s3Config builds the store's configuration from the flags; nil when no
// endpoint is set.
func s3Config(c *cli) (*s3.Config, error) {
	v := c.v
	endpoint := v.GetString("s3-endpoint")
	if endpoint == "" {
		for _, f := range []string{"s3-bucket", "s3-ca-file", "s3-access-key-file", "s3-secret-key-file"} {
			if v.GetString(f) != "" {
				return nil, fmt.Errorf("--%s is set but --s3-endpoint is not", f)
			}
		}
		return nil, nil
	}
	if _, _, err := s3.ParseEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("--s3-endpoint: %w", err)
	}
	if v.GetString("s3-bucket") == "" {
		return nil, fmt.Errorf("--s3-bucket is required with --s3-endpoint")
	}
	access, err := secretSetting(c, "s3-access-key-file", "AKIDB_S3_ACCESS_KEY")
	if err != nil {
		return nil, err
	}
	secret, err := secretSetting(c, "s3-secret-key-file", "AKIDB_S3_SECRET_KEY")
	if err != nil {
		return nil, err
	}
	if (access == "") != (secret == "") {
		return nil, fmt.Errorf("the S3 access key and secret key go together: set both (AKIDB_S3_ACCESS_KEY and AKIDB_S3_SECRET_KEY, or the --s3-*-key-file flags)")
	}
	cfg := &s3.Config{Endpoint: endpoint, Bucket: v.GetString("s3-bucket"), Region: v.GetString("s3-region"),
		AccessKey: access, SecretKey: secret, PathStyle: v.GetBool("s3-path-style"), CAFile: v.GetString("s3-ca-file"),
		InsecureSkipVerify: v.GetBool("s3-insecure-skip-verify"), CreateBucket: v.GetBool("s3-create-bucket")}
	if _, err := s3.New(*cfg); err != nil { // checks the settings; connects to nothing
		return nil, err
	}
	return cfg, nil
}

// secretSetting reads a credential from its file flag or its environment
// variable (not both); surrounding whitespace is not part of it.
func secretSetting(c *cli, fileFlag, env string) (string, error) {
	file := c.v.GetString(fileFlag)
	val, inEnv := c.st.LookupEnv(env)
	switch {
	case file != "" && inEnv:
		return "", fmt.Errorf("both --%s and %s are set; use one", fileFlag, env)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", fileFlag, err)
		}
		return string(bytes.TrimSpace(b)), nil
	}
	return strings.TrimSpace(val), nil
}

// parseS3URL splits s3://bucket/prefix.
func parseS3URL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("--from %q: want s3://bucket or s3://bucket/prefix", s)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}
