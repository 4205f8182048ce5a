package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3"
)

func newRestoreCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Rebuild a collection shipped to MinIO/S3 on a data directory (offline)",
		Long: `Rebuild a collection that a server shipped to object storage (the memory-s3
tiering policy) on a data directory that no server has open: the manifest is
read, the snapshot and the log objects after it are downloaded, every object's
SHA-256 is checked against the manifest, and the collection is opened (which
checks every checksum again and replays the log) before it becomes visible. A
failure leaves nothing behind. An existing collection of that name is never
replaced.

The restored collection gets a new id, keeps its tiering policy, and, if it is
memory-s3 and the server has an object store, ships to its own prefix from its
next pass; the objects it came from are left as they are. The tenant must
exist in the data directory (akidb tenants create NAME).

--to-seq N restores the state after log record N (of the kept snapshots, the
newest at or before N is used). --list shows what the bucket holds. The object
store settings are those of akidb serve (--s3-endpoint, credentials in
AKIDB_S3_ACCESS_KEY / AKIDB_S3_SECRET_KEY); --from s3://bucket/prefix names the
bucket and prefix. See docs/tiering.md.`,
		Example: `  AKIDB_S3_ACCESS_KEY=... AKIDB_S3_SECRET_KEY=... \
    akidb restore --s3-endpoint http://10.0.0.5:9000 --from s3://akidb/edge-1 --list
  akidb restore --s3-endpoint http://10.0.0.5:9000 --from s3://akidb/edge-1 \
    --collection docs --data-dir /var/lib/akidb
  akidb restore ... --collection docs --tenant acme --to-seq 120000 --data-dir ./restored`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := c.v
			if err := checkOutput(c); err != nil {
				return err
			}
			prefix := v.GetString("s3-prefix")
			if from := v.GetString("from"); from != "" {
				bucket, p, err := parseS3URL(from)
				if err != nil {
					return err
				}
				if v.GetString("s3-endpoint") == "" {
					return fmt.Errorf("--from needs --s3-endpoint (the object store's URL)")
				}
				c.v.Set("s3-bucket", bucket)
				prefix = p
			}
			cfg, err := s3Config(c)
			if err != nil {
				return err
			}
			if cfg == nil {
				return fmt.Errorf("set --s3-endpoint and --from s3://bucket/prefix (or --s3-bucket)")
			}
			ctx := cmd.Context()
			store, err := s3.Open(ctx, *cfg)
			if err != nil {
				return err
			}
			if v.GetBool("list") {
				list, err := engine.ListShipped(ctx, store, prefix)
				if err != nil {
					return err
				}
				if jsonOutput(c) {
					return writeJSON(c.st.Stdout, shippedJSON(list))
				}
				return writeShipped(c.st.Stdout, list)
			}
			name := v.GetString("collection")
			if name == "" {
				return fmt.Errorf("--collection is required (or --list to see what is there)")
			}
			toSeq := v.GetInt64("to-seq")
			if toSeq < 0 {
				return fmt.Errorf("--to-seq must not be negative")
			}
			res, err := engine.Restore(ctx, v.GetString("data-dir"), engine.Config{Logger: c.logger}, engine.RestoreOptions{
				Store: store, Prefix: prefix, Tenant: v.GetString("tenant"), Name: name, SourceID: v.GetString("id"), ToSeq: uint64(toSeq)})
			if err != nil {
				return err
			}
			if jsonOutput(c) {
				return writeJSON(c.st.Stdout, res)
			}
			fmt.Fprintf(c.st.Stdout, "restored %s/%s as id %s from %s (%s)\n", res.Tenant, res.Name, res.ID, res.ManifestKey, cfg.Endpoint)
			fmt.Fprintf(c.st.Stdout, "  snapshot at %d, %d log records replayed from %d objects, up to sequence %d\n", res.SnapshotSeq, res.Replayed, res.Segments, res.ToSeq)
			fmt.Fprintf(c.st.Stdout, "  %d records, %d bytes downloaded and verified in %s (download %s, open %s)\n", res.Records, res.Bytes,
				res.Duration.Round(time.Millisecond), res.Download.Round(time.Millisecond), res.Open.Round(time.Millisecond))
			if res.Quantization != "" {
				fmt.Fprintf(c.st.Stdout, "  quantization %s (codes from the snapshot)\n", res.Quantization)
			}
			if len(res.PayloadIndexes) > 0 {
				fmt.Fprintf(c.st.Stdout, "  payload indexes on %s\n", strings.Join(res.PayloadIndexes, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("from", "", "s3://bucket/prefix the collection was shipped to (instead of --s3-bucket and --s3-prefix)")
	f.String("collection", "", "name of the collection to restore")
	f.String("tenant", "default", "tenant name, in the bucket and in the data directory")
	f.String("id", "", "restore this shipped incarnation (an id --list shows; default: the most recently shipped)")
	f.Int64("to-seq", 0, "restore up to this log sequence number (0: everything shipped)")
	f.String("data-dir", "./akidb-data", "data directory to restore into (no server may have it open)")
	f.Bool("list", false, "list the collections shipped under the prefix and exit")
	f.StringP("output", "o", "text", "output format: text or json")
	addS3Flags(f)
	return cmd
}

type shippedEntry struct {
	Key      string         `json:"manifest_key"`
	Manifest *tier.Manifest `json:"manifest,omitempty"`
	Error    string         `json:"error,omitempty"`
}

func shippedJSON(list []tier.ShippedCollection) []shippedEntry {
	out := make([]shippedEntry, 0, len(list))
	for _, s := range list {
		e := shippedEntry{Key: s.Key, Manifest: s.Manifest}
		if s.Err != nil {
			e.Error = s.Err.Error()
		}
		out = append(out, e)
	}
	return out
}

func writeShipped(w io.Writer, list []tier.ShippedCollection) error {
	if len(list) == 0 {
		fmt.Fprintln(w, "no shipped collections under this prefix")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCOLLECTION\tID\tPOLICY\tDIM\tMETRIC\tSNAPSHOTS\tSHIPPED_SEQ\tUPDATED")
	for _, s := range list {
		if s.Err != nil {
			fmt.Fprintf(tw, "?\t?\t?\t\t\t\t\t\tunreadable %s: %v\n", s.Key, s.Err)
			continue
		}
		m := s.Manifest
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", m.Tenant, m.Name, m.CollectionID, m.TierPolicy, m.Dimension, m.Metric,
			len(m.Snapshots), m.ShippedSeq, m.UpdatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}
