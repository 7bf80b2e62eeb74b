package storage

import "golang.org/x/sys/unix"

// releaseMapping drops the pages of the shared file mapping at addr, size
// bytes long, from the page tables: MADV_DONTNEED on a shared file
// mapping discards no data, and the next access maps the page again.
func releaseMapping(addr, size uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, size, unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
