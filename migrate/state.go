package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/akidb/akidb/engine/wal"
)

// The migration keeps two files in the target directory beside the
// database: the state (its progress checkpoint, rewritten atomically as
// batches are acknowledged) and, once it has finished, the report.
const (
	StateFile  = "migrate-v1-state.json"
	ReportFile = "migrate-v1-report.json"
)

// Phases of the state file.
const (
	phaseLoading   = "loading"
	phaseVerifying = "verifying"
	phaseDone      = "done"
)

// stateFormat is the state file's version; a different one is refused.
const stateFormat = 1

// state is the progress checkpoint: enough to resume without duplicates or
// losses, and to refuse resuming something else.
type state struct {
	Format int    `json:"format"`
	V1Dir  string `json:"v1_dir"`
	// Fingerprint digests the size and mtime of every v1 file the plan
	// read; Files lists them.
	Fingerprint string      `json:"fingerprint"`
	Files       []fileStamp `json:"files"`
	// The options that change what is migrated.
	OnInvalid             OnInvalid `json:"on_invalid"`
	IncludeDeletedTenants bool      `json:"include_deleted_tenants"`
	MaxDimension          int       `json:"max_dimension"`
	Phase                 string    `json:"phase"`
	// Loaded counts, per collection (tenant/name), the records (in file
	// order of the v1 lines that become records) whose batch the engine
	// has acknowledged. Records past it may be there too (a batch
	// acknowledged after the last save); resuming skips them by id.
	Loaded    map[string]int64 `json:"loaded"`
	StartedAt time.Time        `json:"started_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, StateFile), err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("%s has format %d; this akidb reads format %d", filepath.Join(dir, StateFile), st.Format, stateFormat)
	}
	if st.Loaded == nil {
		st.Loaded = map[string]int64{}
	}
	return &st, nil
}

// writeState replaces the state file atomically: a temporary file,
// fsynced, renamed over the old one, then the directory fsynced. A crash
// leaves the old state or the new one, never a mix.
func writeState(dir string, st *state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, StateFile, data)
}

func writeFileAtomic(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	if err := (wal.OSFS{}).SyncDir(dir); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps deletes temporary state files a crash left behind.
func removeStaleTemps(dir string) {
	for _, name := range []string{StateFile, ReportFile} {
		matches, _ := filepath.Glob(filepath.Join(dir, name+".tmp-*"))
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
}

// checkResumable says why st cannot be resumed with this plan and these
// options ("" when it can).
func checkResumable(st *state, p *Plan, opts Options) error {
	switch {
	case st.OnInvalid != opts.OnInvalid:
		return fmt.Errorf("the interrupted run used --on-invalid=%s; resume with the same", st.OnInvalid)
	case st.IncludeDeletedTenants != opts.IncludeDeletedTenants:
		return fmt.Errorf("the interrupted run used --include-deleted-tenants=%v; resume with the same", st.IncludeDeletedTenants)
	case st.MaxDimension != opts.MaxDimension:
		return fmt.Errorf("the interrupted run used --max-dimension=%d; resume with the same", st.MaxDimension)
	case st.Fingerprint != p.fp.sum():
		old := fingerprint{files: st.Files}
		changed := old.changed(opts.V1Dir)
		return fmt.Errorf("the v1 data changed since the interrupted run started (%v): resuming would not match what was loaded; start again into an empty --data-dir", changedList(changed, &old, &p.fp))
	}
	return nil
}

func changedList(changed []string, old, cur *fingerprint) any {
	if len(changed) > 0 {
		return changed
	}
	// Same files changed in number (one added).
	return fmt.Sprintf("%d files then, %d now", len(old.files), len(cur.files))
}

var errNoState = errors.New("no migration state")
