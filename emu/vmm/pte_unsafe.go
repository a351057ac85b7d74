package vmm

import (
	"sync/atomic"
	"unsafe"
)

// Page-table entries live in guest RAM, which running vCPUs touch at the
// same time, so the kernel's walk reads them atomically and sets accessed
// and dirty bits with compare-and-swap, as FreeBSD's atomic_cmpset does.
// off must be aligned to the entry's size (it always is: entries are
// indexed, never addressed).

func loadPTE64(page []byte, off int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&page[off])))
}

func casPTE64(page []byte, off int, old, new uint64) bool {
	return atomic.CompareAndSwapUint64((*uint64)(unsafe.Pointer(&page[off])), old, new)
}

func loadPTE32(page []byte, off int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&page[off])))
}

func casPTE32(page []byte, off int, old, new uint32) bool {
	return atomic.CompareAndSwapUint32((*uint32)(unsafe.Pointer(&page[off])), old, new)
}
