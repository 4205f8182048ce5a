package limits

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryLimitPercent is the share of the memory available to the
// process that the Go runtime is asked to stay under when GOMEMLIMIT is
// not set. The rest is headroom for what the Go heap does not count
// (SQLite's page cache, thread stacks, the kernel's page cache of the WAL)
// and for the collector to act before the kernel's OOM killer does.
const DefaultMemoryLimitPercent = 75

// cgroupV1Unlimited: cgroup v1 reports "no limit" as a huge number (the
// largest page-aligned int64); anything from here up is unlimited.
const cgroupV1Unlimited = 1 << 62

// DefaultMemoryLimit is the soft memory limit for totalRAM bytes of
// memory: DefaultMemoryLimitPercent of it (0 for 0: unknown).
func DefaultMemoryLimit(totalRAM uint64) int64 {
	limit := totalRAM / 100 * DefaultMemoryLimitPercent
	limit += totalRAM % 100 * DefaultMemoryLimitPercent / 100
	if limit > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(limit)
}

// MemoryLimitDeps is what ApplyMemoryLimit touches; nil fields take the
// real ones (os.Getenv, os.ReadFile, debug.SetMemoryLimit), tests pass
// fakes.
type MemoryLimitDeps struct {
	Getenv         func(string) string
	ReadFile       func(string) ([]byte, error)
	SetMemoryLimit func(int64) int64
	Logger         *slog.Logger
}

// MemoryLimit says what ApplyMemoryLimit found and did.
type MemoryLimit struct {
	// Limit is the soft limit in force afterwards, in bytes
	// (math.MaxInt64: none).
	Limit int64
	// Available is the memory detected (the smallest of the cgroup limits
	// and physical memory), 0 if unknown.
	Available uint64
	// Source says where Available (or, with GOMEMLIMIT, the limit) came
	// from: "GOMEMLIMIT", a cgroup file, "/proc/meminfo", or "".
	Source string
	// Applied: this call set the limit.
	Applied bool
}

// ApplyMemoryLimit is called once by `akidb serve` at startup. If the
// GOMEMLIMIT environment variable is set, the runtime has applied it
// already and it is left alone. Otherwise the memory available to the
// process is detected (DetectMemory) and the runtime's soft limit set to
// DefaultMemoryLimit of it. An error means nothing could be detected; the
// server logs it and runs without a limit.
func ApplyMemoryLimit(d MemoryLimitDeps) (MemoryLimit, error) {
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	if d.ReadFile == nil {
		d.ReadFile = os.ReadFile
	}
	if d.SetMemoryLimit == nil {
		d.SetMemoryLimit = debug.SetMemoryLimit
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if v := d.Getenv("GOMEMLIMIT"); v != "" {
		cur := d.SetMemoryLimit(-1) // a negative input reads the limit without changing it
		d.Logger.Info("memory limit from GOMEMLIMIT", "GOMEMLIMIT", v, "limit_bytes", cur)
		return MemoryLimit{Limit: cur, Source: "GOMEMLIMIT"}, nil
	}
	avail, source, err := DetectMemory(d.ReadFile)
	if err != nil {
		return MemoryLimit{Limit: d.SetMemoryLimit(-1)}, err
	}
	limit := DefaultMemoryLimit(avail)
	d.SetMemoryLimit(limit)
	d.Logger.Info("memory limit set", "limit_bytes", limit, "available_bytes", avail, "source", source,
		"percent", DefaultMemoryLimitPercent)
	return MemoryLimit{Limit: limit, Available: avail, Source: source, Applied: true}, nil
}

// DetectMemory returns the memory available to this process: the smallest
// of its cgroup's memory limit (v2: memory.max of its cgroup and every
// ancestor, found through /proc/self/cgroup; v1: memory.limit_in_bytes)
// and the physical memory (/proc/meminfo MemTotal), with the file it came
// from. Missing files are skipped (not Linux, no cgroup); a file that is
// there but unreadable or malformed is an error.
func DetectMemory(readFile func(string) ([]byte, error)) (uint64, string, error) {
	best, source := uint64(0), ""
	consider := func(v uint64, from string) {
		if v > 0 && (best == 0 || v < best) {
			best, source = v, from
		}
	}
	v2, v1, err := cgroupPaths(readFile)
	if err != nil {
		return 0, "", err
	}
	for _, file := range v2 {
		v, ok, err := readLimitFile(readFile, file)
		if err != nil {
			return 0, "", err
		}
		if ok {
			consider(v, file)
		}
	}
	for _, file := range v1 {
		v, ok, err := readLimitFile(readFile, file)
		if err != nil {
			return 0, "", err
		}
		if ok && v < cgroupV1Unlimited {
			consider(v, file)
		}
	}
	total, err := memTotal(readFile)
	if err != nil {
		return 0, "", err
	}
	consider(total, "/proc/meminfo")
	if best == 0 {
		return 0, "", errors.New("detect memory: no cgroup limit and no /proc/meminfo")
	}
	return best, source, nil
}

// cgroupPaths lists the limit files that may apply: for cgroup v2 the
// memory.max of the process's cgroup and each ancestor (a limit anywhere
// up the tree applies), for v1 the memory controller's limit. Inside a
// container with its own cgroup namespace the process's cgroup is "/", so
// this is /sys/fs/cgroup/memory.max.
func cgroupPaths(readFile func(string) ([]byte, error)) (v2, v1 []string, err error) {
	const root = "/sys/fs/cgroup"
	data, err := readFile("/proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return []string{root + "/memory.max"}, []string{root + "/memory/memory.limit_in_bytes"}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("detect memory: %w", err)
	}
	seen := map[string]bool{}
	add := func(list *[]string, file string) {
		if !seen[file] {
			seen[file] = true
			*list = append(*list, file)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		p := path.Clean(parts[2])
		switch {
		case parts[0] == "0" && parts[1] == "":
			for dir := p; ; dir = path.Dir(dir) {
				add(&v2, path.Join(root, dir, "memory.max"))
				if dir == "/" {
					break
				}
			}
		case hasController(parts[1], "memory"):
			add(&v1, path.Join(root, "memory", p, "memory.limit_in_bytes"))
			add(&v1, path.Join(root, "memory", "memory.limit_in_bytes"))
		}
	}
	if len(v2) == 0 && len(v1) == 0 {
		add(&v2, root+"/memory.max")
	}
	return v2, v1, nil
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readLimitFile reads a cgroup limit: a number of bytes, or "max" (no
// limit, ok false). A missing file is no limit too.
func readLimitFile(readFile func(string) ([]byte, error), file string) (uint64, bool, error) {
	data, err := readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("detect memory: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("detect memory: %s holds %q, not a number of bytes or \"max\"", file, s)
	}
	return v, true, nil
}

// memTotal reads MemTotal from /proc/meminfo (0 if the file is missing).
func memTotal(readFile func(string) ([]byte, error)) (uint64, error) {
	data, err := readFile("/proc/meminfo")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("detect memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// MemTotal:       16314544 kB
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "MemTotal:" {
			continue
		}
		kb, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil || len(fields) != 3 || fields[2] != "kB" || kb > math.MaxUint64/1024 {
			return 0, fmt.Errorf("detect memory: /proc/meminfo: malformed line %q", sc.Text())
		}
		return kb * 1024, nil
	}
	return 0, errors.New("detect memory: /proc/meminfo has no MemTotal line")
}
