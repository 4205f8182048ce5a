package limits

import (
	"errors"
	"io/fs"
	"math"
	"strings"
	"testing"
)

// fakeFiles serves file contents from a map; others do not exist.
func fakeFiles(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := files[name]; ok {
			if v == "EACCES" {
				return nil, fs.ErrPermission
			}
			return []byte(v), nil
		}
		return nil, fs.ErrNotExist
	}
}

const meminfo16G = "MemTotal:       16777216 kB\nMemFree:         1000000 kB\n"

func TestDefaultMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		total uint64
		want  int64
	}{{0, 0}, {100, 75}, {1 << 30, 805306368}, {3, 2}, {math.MaxUint64, math.MaxInt64}} {
		if got := DefaultMemoryLimit(c.total); got != c.want {
			t.Errorf("DefaultMemoryLimit(%d) = %d, want %d", c.total, got, c.want)
		}
	}
}

func TestDetectMemory(t *testing.T) {
	for _, c := range []struct {
		name   string
		files  map[string]string
		want   uint64
		source string
		err    string
	}{
		{
			name:  "cgroup v2 container",
			files: map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "1073741824\n", "/proc/meminfo": meminfo16G},
			want:  1 << 30, source: "/sys/fs/cgroup/memory.max",
		},
		{
			name:  "cgroup v2 without a limit",
			files: map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n", "/proc/meminfo": meminfo16G},
			want:  16 << 30, source: "/proc/meminfo",
		},
		{
			name: "cgroup v2 nested: the smallest limit up the tree",
			files: map[string]string{
				"/proc/self/cgroup": "0::/system.slice/akidb.service\n",
				"/sys/fs/cgroup/system.slice/akidb.service/memory.max": "max\n",
				"/sys/fs/cgroup/system.slice/memory.max":               "536870912\n",
				"/proc/meminfo":                                        meminfo16G,
			},
			want: 512 << 20, source: "/sys/fs/cgroup/system.slice/memory.max",
		},
		{
			name: "cgroup v1 with a limit",
			files: map[string]string{
				"/proc/self/cgroup": "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "2147483648\n",
				"/proc/meminfo": meminfo16G,
			},
			want: 2 << 30, source: "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
		},
		{
			name: "cgroup v1 unlimited (a huge number)",
			files: map[string]string{
				"/proc/self/cgroup":                           "4:memory:/\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
				"/proc/meminfo":                               meminfo16G,
			},
			want: 16 << 30, source: "/proc/meminfo",
		},
		{
			name:  "a limit above physical memory: physical memory",
			files: map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "68719476736\n", "/proc/meminfo": meminfo16G},
			want:  16 << 30, source: "/proc/meminfo",
		},
		{
			name:  "no /proc/self/cgroup: the root files are tried",
			files: map[string]string{"/sys/fs/cgroup/memory.max": "1048576", "/proc/meminfo": meminfo16G},
			want:  1 << 20, source: "/sys/fs/cgroup/memory.max",
		},
		{
			name:  "nothing at all (not Linux)",
			files: map[string]string{},
			err:   "no cgroup limit and no /proc/meminfo",
		},
		{
			name:  "malformed memory.max",
			files: map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "lots\n", "/proc/meminfo": meminfo16G},
			err:   `holds "lots"`,
		},
		{
			name:  "malformed meminfo",
			files: map[string]string{"/proc/meminfo": "MemTotal: many kB\n"},
			err:   "malformed line",
		},
		{
			name:  "meminfo without MemTotal",
			files: map[string]string{"/proc/meminfo": "MemFree: 1 kB\n"},
			err:   "no MemTotal",
		},
		{
			name:  "unreadable cgroup file",
			files: map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "EACCES", "/proc/meminfo": meminfo16G},
			err:   "permission denied",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, source, err := DetectMemory(fakeFiles(c.files))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want || source != c.source {
				t.Fatalf("got %d from %q (%v), want %d from %q", got, source, err, c.want, c.source)
			}
		})
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	var set []int64
	current := int64(math.MaxInt64)
	setLimit := func(n int64) int64 {
		prev := current
		if n >= 0 {
			set = append(set, n)
			current = n
		}
		return prev
	}
	files := fakeFiles(map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "1073741824", "/proc/meminfo": meminfo16G})

	// GOMEMLIMIT set: left alone.
	res, err := ApplyMemoryLimit(MemoryLimitDeps{
		Getenv:         func(k string) string { return map[string]string{"GOMEMLIMIT": "512MiB"}[k] },
		ReadFile:       files,
		SetMemoryLimit: setLimit,
	})
	if err != nil || res.Applied || res.Source != "GOMEMLIMIT" || len(set) != 0 {
		t.Fatalf("with GOMEMLIMIT: %+v, %v, set %v", res, err, set)
	}

	// Unset: 75% of the cgroup limit.
	res, err = ApplyMemoryLimit(MemoryLimitDeps{Getenv: func(string) string { return "" }, ReadFile: files, SetMemoryLimit: setLimit})
	if err != nil {
		t.Fatal(err)
	}
	want := MemoryLimit{Limit: 805306368, Available: 1 << 30, Source: "/sys/fs/cgroup/memory.max", Applied: true}
	if res != want || len(set) != 1 || set[0] != 805306368 {
		t.Fatalf("applied %+v (set %v), want %+v", res, set, want)
	}

	// Nothing detectable: an error, and the limit is left as it was.
	res, err = ApplyMemoryLimit(MemoryLimitDeps{Getenv: func(string) string { return "" }, ReadFile: fakeFiles(nil), SetMemoryLimit: setLimit})
	if err == nil || res.Applied || len(set) != 1 {
		t.Fatalf("nothing detectable: %+v, %v, set %v", res, err, set)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v should explain, not just say a file is missing", err)
	}
}
