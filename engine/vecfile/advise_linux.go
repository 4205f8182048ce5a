package vecfile

import "golang.org/x/sys/unix"

// adviseRandom tells the kernel that f's rows are read in no order (the
// re-rank reads one row per candidate), so that a read that misses the
// page cache brings that row's pages, not a readahead window that pushes
// out pages still in use on a device short of memory. A file that is not
// the operating system's is left alone. Callers ignore the error: it is
// a hint.
func adviseRandom(f any) error {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		return unix.Fadvise(int(fd.Fd()), 0, 0, unix.FADV_RANDOM)
	}
	return nil
}
