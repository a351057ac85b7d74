//go:build linux

package mem

import "syscall"

// allocBacking reserves n bytes of private anonymous memory. MAP_NORESERVE
// keeps a large, mostly untouched guest from being charged against the
// host's commit limit: pages appear, zero-filled, when first touched, as a
// fresh vm_object's do.
func allocBacking(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
}

func freeBacking(b []byte) error { return syscall.Munmap(b) }
