//go:build unix && !linux

package mem

import "syscall"

// allocBacking reserves n bytes of private anonymous memory, zero-filled
// and populated lazily on first touch (these systems overcommit anonymous
// mappings without MAP_NORESERVE).
func allocBacking(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func freeBacking(b []byte) error { return syscall.Munmap(b) }
