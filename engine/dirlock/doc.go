// Package dirlock owns the data directory's single-server lock: the file
// <data-dir>/LOCK, held with an exclusive, non-blocking flock(2) for as long
// as an akidb process uses the directory.
//
// The lock is the flock, not the file: the file's existence means nothing
// and it is never removed (removing it would let a second process lock a new
// inode while the first still holds the old one). Its content is the
// holder's pid in decimal followed by a newline, written after the lock is
// taken (truncate, write, fsync) and truncated again on Release; it is only
// read to name the holder in a HeldError, so a stale or empty content is
// harmless.
//
// flock locks belong to an open file description, so the kernel drops the
// lock when the holder exits or is killed, however it dies, and a second
// Acquire of the same directory in the same process also fails (it opens a
// new description): opening one data dir twice in one process is a bug this
// catches. flock is advisory and does not work across NFS on every system;
// the data dir is expected to be on a local file system.
package dirlock
