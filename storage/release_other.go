//go:build !linux

package storage

// releaseMapping does nothing where MADV_DONTNEED may discard nothing
// (it is advisory on the BSDs and macOS): the kernel reclaims the
// mapped pages under memory pressure in any case.
func releaseMapping(addr, size uintptr) error { return nil }
