package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/export"
)

// exportFormats are the formats `akidb export --format` writes.
var exportFormats = []string{"parquet"}

func newExportCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a collection's records to a Parquet file (offline, on a data directory)",
		Long: `Write every live record of one collection to a file other tools read: Parquet
with the columns id (string), vector (list of float32; a cosine collection's
vectors are stored, and so exported, normalised to unit length) and metadata
(a JSON string), and the collection's sequence number, tenant, name, dimension
and metric in the file's key-value metadata. docs/export.md shows how to read
it with DuckDB.

It works offline on --data-dir: it takes the directory's lock (so it refuses
while a server has the directory open), loads the collection from its newest
snapshot and log as a server would, and changes nothing in the directory. The
file is written beside --out under a temporary name and renamed into place
once complete, so --out never holds a partial export. An existing --out is
refused unless --force is given.`,
		Example: `  akidb export --collection docs --format parquet --out docs.parquet --data-dir /var/lib/akidb
  akidb export --collection docs --tenant acme --out /tmp/docs.parquet --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd.Context(), c, exportRequest{
				dataDir: c.v.GetString("data-dir"), tenant: c.v.GetString("tenant"),
				collection: c.v.GetString("collection"), format: c.v.GetString("format"),
				out: c.v.GetString("out"), force: c.v.GetBool("force"),
				rowGroupBytes: c.v.GetInt64("row-group-bytes"), json: c.v.GetBool("json"),
			})
		},
	}
	f := cmd.Flags()
	f.String("data-dir", "./akidb-data", "the data directory (no server may have it open)")
	f.String("collection", "", "the collection to export (required)")
	f.String("tenant", "", "the collection's tenant, by id or name (default: the default tenant)")
	f.String("format", "parquet", "output format: "+strings.Join(exportFormats, ", "))
	f.String("out", "", "the file to write (required)")
	f.Bool("force", false, "overwrite --out if it exists")
	f.Int64("row-group-bytes", export.DefaultRowGroupBytes, "bound on a Parquet row group's raw record bytes; the export holds about one row group in memory")
	f.Bool("json", false, "print the summary as JSON")
	return cmd
}

type exportRequest struct {
	dataDir, tenant, collection, format, out string
	force, json                              bool
	rowGroupBytes                            int64
}

// exportSummary is what `akidb export` prints.
type exportSummary struct {
	Tenant     string `json:"tenant"`
	Collection string `json:"collection"`
	Format     string `json:"format"`
	Out        string `json:"out"`
	export.Summary
}

func runExport(ctx context.Context, c *cli, req exportRequest) error {
	if err := req.validate(); err != nil {
		return err
	}
	if err := checkExportTarget(req.out, req.dataDir, req.force); err != nil {
		return err
	}
	db, err := engine.OpenReadOnly(req.dataDir, engine.ReadOnlyOptions{Logger: c.logger})
	if err != nil {
		var held *dirlock.HeldError
		if errors.As(err, &held) {
			return fmt.Errorf("%w; akidb export reads a data directory offline: stop the server first (or export from a copy of the directory)", err)
		}
		return err
	}
	defer db.Close()
	view, err := db.View(req.tenant, req.collection)
	if err != nil {
		return err
	}
	vi := currentVersion()
	var sum export.Summary
	err = writeFileAtomically(req.out, req.force, func(w io.Writer) error {
		var err error
		sum, err = export.WriteParquet(ctx, w, view, export.Options{RowGroupBytes: req.rowGroupBytes, Version: vi.Version, Build: vi.Commit})
		return err
	})
	if err != nil {
		return err
	}
	info := view.Info()
	out := exportSummary{Tenant: info.Tenant, Collection: info.Name, Format: req.format, Out: req.out, Summary: sum}
	if req.json {
		return writeJSON(c.st.Stdout, out)
	}
	_, err = fmt.Fprintf(c.st.Stdout, "exported %d records of %s/%s at seq %d to %s (%s, %d row groups, %d bytes, sha256 %s)\n",
		sum.Rows, info.Tenant, info.Name, sum.Seq, req.out, req.format, sum.RowGroups, sum.Bytes, sum.SHA256)
	return err
}

func (req exportRequest) validate() error {
	switch {
	case req.collection == "":
		return errors.New("--collection is required")
	case req.out == "":
		return errors.New("--out is required: the file to write")
	case req.rowGroupBytes < 1:
		return fmt.Errorf("--row-group-bytes must be positive, got %d", req.rowGroupBytes)
	}
	for _, f := range exportFormats {
		if req.format == f {
			return engine.ValidateName(req.collection)
		}
	}
	return fmt.Errorf("--format %q is not supported: use %s", req.format, strings.Join(exportFormats, ", "))
}

// checkExportTarget refuses an --out that exists (unless force) or that is
// a directory, and one inside the data directory: an export is never
// written over the data it reads (--force --out DATA/akidb.db would
// otherwise replace the catalog).
func checkExportTarget(out, dataDir string, force bool) error {
	fi, err := os.Lstat(out)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("--out %s is a directory: name the file to write", out)
	case err == nil && !force:
		return fmt.Errorf("--out %s already exists: pass --force to overwrite it", out)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--out %s: %w", out, err)
	}
	outDir, err := realDir(filepath.Dir(out))
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	data, err := realDir(dataDir)
	if err != nil {
		// OpenReadOnly reports a missing data directory.
		return nil
	}
	if rel, err := filepath.Rel(data, outDir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("--out %s is inside the data directory %s: write the export somewhere else", out, dataDir)
	}
	return nil
}

// realDir is dir made absolute with symbolic links resolved.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// writeFileAtomically has write fill a temporary file beside path (mode
// 0600: an export holds the collection's data), syncs it and moves it to
// path: renamed over it with overwrite, otherwise hard-linked, which fails
// if path appeared meanwhile (where the file system has no hard links, a
// rename after checking again). On any error the temporary file is
// removed and path is untouched.
func writeFileAtomically(path string, overwrite bool, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("create a temporary file beside %s: %w", path, err)
	}
	name, closed := tmp.Name(), false
	defer func() {
		if !closed {
			_ = tmp.Close()
		}
		if err != nil {
			_ = os.Remove(name)
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := moveIntoPlace(name, path, overwrite); err != nil {
		return err
	}
	return syncDirOf(path)
}

func moveIntoPlace(tmp, path string, overwrite bool) error {
	exists := func() error {
		return fmt.Errorf("--out %s appeared while exporting: pass --force to overwrite it", path)
	}
	if !overwrite {
		err := os.Link(tmp, path)
		if err == nil {
			_ = os.Remove(tmp) // path holds the export; a leftover name is harmless
			return nil
		}
		if errors.Is(err, fs.ErrExist) {
			return exists()
		}
		if _, serr := os.Lstat(path); serr == nil {
			return exists()
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("move the export to %s: %w", path, err)
	}
	return nil
}

func syncDirOf(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}
