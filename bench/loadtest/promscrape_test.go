package loadtest

import (
	"strings"
	"testing"
)

func TestParseProcessMetrics(t *testing.T) {
	const text = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.5056e+07 1700000000000
process_cpu_seconds_total_other 99
akidb_http_requests_total{route="/x",method="GET",status="200"} 3
`
	pm, err := parseProcessMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !pm.HasCPU || pm.CPUSeconds != 12.5 || !pm.HasRSS || pm.RSSBytes != 45056000 {
		t.Fatalf("got %+v", pm)
	}
	pm, err = parseProcessMetrics(strings.NewReader("go_goroutines 5\n"))
	if err != nil || pm.HasCPU || pm.HasRSS {
		t.Fatalf("absent metrics: %+v %v", pm, err)
	}
	if _, err := parseProcessMetrics(strings.NewReader("process_cpu_seconds_total abc\n")); err == nil {
		t.Fatal("a bad value must be an error")
	}
}
