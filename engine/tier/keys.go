package tier

import (
	"fmt"
	"strings"
)

// Object layout in the bucket. Every collection lives under its own
// prefix, named for people and made unique by the collection's id (a
// collection dropped and created again under the same name, or restored,
// is a new id and never mixes its objects with the old ones):
//
//	<prefix>/<tenant name>/<collection name>/<collection id>/manifest.json
//	                                          .../snapshots/<seq:020d>.snap
//	                                          .../log/<first:020d>-<last:020d>.wal
//	                                          .../parquet/<seq:020d>.parquet
//
// The manifest refers to the other objects by their keys relative to the
// collection's prefix, so a copy of the prefix elsewhere still restores.
const (
	ManifestName  = "manifest.json"
	snapshotDir   = "snapshots/"
	logDir        = "log/"
	parquetDir    = "parquet/"
	snapshotExt   = ".snap"
	logExt        = ".wal"
	parquetExt    = ".parquet"
	manifestCType = "application/json"
)

// NormalizePrefix trims slashes; "" is the bucket's root.
func NormalizePrefix(p string) string { return strings.Trim(p, "/") }

// CollectionPrefix is the prefix of one collection's objects, ending in /.
func CollectionPrefix(prefix, tenantName, name, id string) string {
	p := NormalizePrefix(prefix)
	rel := tenantName + "/" + name + "/" + id + "/"
	if p == "" {
		return rel
	}
	return p + "/" + rel
}

func snapshotKey(seq uint64) string { return fmt.Sprintf("%s%020d%s", snapshotDir, seq, snapshotExt) }
func logKey(first, last uint64) string {
	return fmt.Sprintf("%s%020d-%020d%s", logDir, first, last, logExt)
}
func parquetKey(seq uint64) string { return fmt.Sprintf("%s%020d%s", parquetDir, seq, parquetExt) }

// validRelKey accepts the relative keys this package writes into
// manifests, and nothing that could reach outside the collection's prefix.
func validRelKey(k string) bool {
	if k == "" || strings.HasPrefix(k, "/") || strings.Contains(k, "..") || strings.Contains(k, "//") || len(k) > 512 {
		return false
	}
	return strings.HasPrefix(k, snapshotDir) || strings.HasPrefix(k, logDir) || strings.HasPrefix(k, parquetDir)
}
