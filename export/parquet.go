package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// FormatVersion is the version of the export layout described in doc.go.
// It changes when a column or a key changes meaning; readers check it.
const FormatVersion = 1

// Keys of the file's key-value metadata.
const (
	KeyFormatVersion = "akidb.format_version"
	// KeySeq is the collection's applied sequence number the records are
	// at: every write up to it is in the file and none after.
	KeySeq        = "akidb.seq"
	KeyTenant     = "akidb.tenant"
	KeyCollection = "akidb.collection"
	KeyDimension  = "akidb.dimension"
	KeyMetric     = "akidb.metric"
	// KeyNormalized is "true" when the vectors are normalised to unit
	// length (cosine collections), "false" otherwise.
	KeyNormalized = "akidb.vectors_normalized"
	KeyRecords    = "akidb.records"
)

// Column names.
const (
	ColumnID       = "id"
	ColumnVector   = "vector"
	ColumnMetadata = "metadata"
)

// DefaultRowGroupBytes is the default bound on a row group's raw record
// bytes (ids, 4 bytes a vector value, metadata JSON). The writer holds one
// row group in memory before it writes it out, so this bounds its memory;
// 32 MiB is large enough for readers to scan efficiently (16k rows of
// 512-d vectors) and small enough for an edge device.
const DefaultRowGroupBytes = 32 << 20

// Source is one collection's records at one sequence number.
// *engine.RecordView is one.
type Source interface {
	Info() engine.ViewInfo
	// Each calls fn for each of Info().Count records and returns fn's
	// first error or its own. A record's Vector need only be valid
	// during the call.
	Each(fn func(engine.Record) error) error
}

// Options tune WriteParquet. The zero value is usable.
type Options struct {
	// RowGroupBytes bounds a row group's raw record bytes (see
	// DefaultRowGroupBytes); 0 means the default. A row group always holds
	// at least one record.
	RowGroupBytes int64
	// Version and Build name the akidb that wrote the file in the
	// footer's created_by ("akidb version V (build B)"); without a Version
	// the footer names parquet-go.
	Version, Build string
}

// Summary describes a written file.
type Summary struct {
	Rows      int64  `json:"rows"`
	RowGroups int    `json:"row_groups"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"` // hex, of the Bytes written
	Seq       uint64 `json:"seq"`
}

// ErrSourceMismatch is returned when a source's records disagree with its
// Info (a vector of the wrong length, or another number of records). It
// means a bug or damage upstream; the output must be discarded.
var ErrSourceMismatch = errors.New("export: records do not match the source's description")

// row is one record as written. The list tag makes vector the standard
// three-level LIST that every reader understands.
type row struct {
	ID       string    `parquet:"id"`
	Vector   []float32 `parquet:"vector,list"`
	Metadata string    `parquet:"metadata,json"`
}

// writeBatch is how many rows go to the parquet writer per call.
const writeBatch = 128

// WriteParquet writes src's records to w as one Parquet file (layout in
// doc.go) and returns what it wrote. It streams: it holds at most one row
// group in memory. On error what was written to w is not a valid file and
// must be discarded. ctx is checked between batches.
func WriteParquet(ctx context.Context, w io.Writer, src Source, opts Options) (Summary, error) {
	info := src.Info()
	if opts.RowGroupBytes <= 0 {
		opts.RowGroupBytes = DefaultRowGroupBytes
	}
	if info.Dimension < 1 || info.Dimension > engine.MaxDimension || info.Count < 0 {
		return Summary{}, fmt.Errorf("export %s: %w: dimension %d, %d records", info.Name, ErrSourceMismatch, info.Dimension, info.Count)
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	hash := sha256.New()
	out := &countingWriter{w: io.MultiWriter(w, hash)}
	pw := parquet.NewGenericWriter[row](out, writerOptions(info, opts)...)
	sum := Summary{Seq: info.Seq}
	dim := info.Dimension
	var (
		batch = make([]row, 0, writeBatch)
		// The batch's vectors: Source vectors are only valid during the
		// call, and parquet-go copies rows when they are written, so one
		// buffer serves the whole export.
		vectors    = make([]float32, writeBatch*dim)
		groupBytes int64
		groupRows  int64
		metaEnc    = newMetaEncoder()
	)
	flushBatch := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := pw.Write(batch); err != nil {
			return fmt.Errorf("write rows: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	endGroup := func() error {
		if err := flushBatch(); err != nil {
			return err
		}
		if groupRows == 0 {
			return nil
		}
		if err := pw.Flush(); err != nil {
			return fmt.Errorf("write row group: %w", err)
		}
		sum.RowGroups++
		groupBytes, groupRows = 0, 0
		return nil
	}
	err := src.Each(func(rec engine.Record) error {
		if len(rec.Vector) != dim {
			return fmt.Errorf("%w: record %q has %d values, the collection's dimension is %d", ErrSourceMismatch, rec.ID, len(rec.Vector), dim)
		}
		if sum.Rows == int64(info.Count) {
			return fmt.Errorf("%w: more than the %d records the source said", ErrSourceMismatch, info.Count)
		}
		meta, err := metaEnc.encode(rec.Metadata)
		if err != nil {
			return fmt.Errorf("metadata of %q: %w", rec.ID, err)
		}
		vec := vectors[len(batch)*dim : (len(batch)+1)*dim : (len(batch)+1)*dim]
		copy(vec, rec.Vector)
		batch = append(batch, row{ID: rec.ID, Vector: vec, Metadata: meta})
		sum.Rows++
		groupRows++
		groupBytes += int64(len(rec.ID) + 4*dim + len(meta))
		switch {
		case groupBytes >= opts.RowGroupBytes:
			if err := ctx.Err(); err != nil {
				return err
			}
			return endGroup()
		case len(batch) == writeBatch:
			if err := ctx.Err(); err != nil {
				return err
			}
			return flushBatch()
		}
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("export %s: %w", info.Name, err)
	}
	if sum.Rows != int64(info.Count) {
		return sum, fmt.Errorf("export %s: %w: %d records read, the source said %d", info.Name, ErrSourceMismatch, sum.Rows, info.Count)
	}
	if err := endGroup(); err != nil {
		return sum, fmt.Errorf("export %s: %w", info.Name, err)
	}
	if err := pw.Close(); err != nil {
		return sum, fmt.Errorf("export %s: close parquet writer: %w", info.Name, err)
	}
	sum.Bytes = out.n
	sum.SHA256 = hex.EncodeToString(hash.Sum(nil))
	return sum, nil
}

func writerOptions(info engine.ViewInfo, opts Options) []parquet.WriterOption {
	o := []parquet.WriterOption{
		// Snappy: cheap on a small CPU and read by every Parquet reader.
		// Float vectors barely compress; metadata JSON and ids do.
		parquet.Compression(&parquet.Snappy),
		parquet.KeyValueMetadata(KeyFormatVersion, strconv.Itoa(FormatVersion)),
		parquet.KeyValueMetadata(KeySeq, strconv.FormatUint(info.Seq, 10)),
		parquet.KeyValueMetadata(KeyTenant, info.Tenant),
		parquet.KeyValueMetadata(KeyCollection, info.Name),
		parquet.KeyValueMetadata(KeyDimension, strconv.Itoa(info.Dimension)),
		parquet.KeyValueMetadata(KeyMetric, info.Metric.String()),
		parquet.KeyValueMetadata(KeyNormalized, strconv.FormatBool(info.Metric == distance.Cosine)),
		parquet.KeyValueMetadata(KeyRecords, strconv.Itoa(info.Count)),
	}
	if opts.Version != "" {
		by := "akidb version " + opts.Version
		if opts.Build != "" {
			by += " (build " + opts.Build + ")"
		}
		o = append(o, createdBy(by))
	}
	return o
}

// createdBy sets the footer's created_by as the Parquet spec spells it
// ("<application> version <version> (build <build>)"); parquet.CreatedBy
// leaves out the space before "(build".
type createdBy string

func (c createdBy) ConfigureWriter(cfg *parquet.WriterConfig) { cfg.CreatedBy = string(c) }

// metaEncoder renders metadata as compact JSON without HTML escaping
// (readers see "<" as "<"), "{}" for none, reusing one buffer and encoder.
type metaEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newMetaEncoder() *metaEncoder {
	m := &metaEncoder{}
	m.enc = json.NewEncoder(&m.buf)
	m.enc.SetEscapeHTML(false)
	return m
}

func (m *metaEncoder) encode(meta map[string]any) (string, error) {
	if len(meta) == 0 {
		return "{}", nil
	}
	m.buf.Reset()
	if err := m.enc.Encode(meta); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(m.buf.Bytes(), []byte("\n"))), nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
