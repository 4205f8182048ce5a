package loadtest

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// storageNote warns when dir lives in memory: on tmpfs an fsync costs
// nothing, so write latencies would flatter the device.
func storageNote(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		return ""
	}
	return fmt.Sprintf("the embedded server's data dir %s is on tmpfs (memory): writes and fsyncs never reach a disk; set TMPDIR to a directory on the device's real storage to measure it", dir)
}
