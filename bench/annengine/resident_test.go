package annengine

import (
	"bufio"
	"strings"
	"testing"

	"github.com/akidb/akidb/bench/ann"
)

func TestParseStatusSplitsResidentMemory(t *testing.T) {
	status := "Name:\takidb\nVmPeak:\t  999 kB\nVmRSS:\t  3000 kB\nRssAnon:\t  1000 kB\nRssFile:\t  1900 kB\nRssShmem:\t  100 kB\nThreads:\t8\n"
	got := parseStatus(bufio.NewScanner(strings.NewReader(status)))
	want := ann.Resident{Total: 3000 << 10, Anon: 1000 << 10, File: 1900 << 10, Shmem: 100 << 10}
	if got != want {
		t.Fatalf("parsed %+v, want %+v", got, want)
	}
	if live := ResidentBytes(); live.Total <= 0 || live.Anon <= 0 || live.Anon > live.Total {
		t.Fatalf("this process's resident memory: %+v", live)
	}
}
