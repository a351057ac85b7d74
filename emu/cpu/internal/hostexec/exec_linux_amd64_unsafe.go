//go:build amd64 && linux

package hostexec

import (
	"errors"
	"sync"
	"syscall"
	"unsafe"
)

var (
	mu   sync.Mutex
	page []byte
)

// Exec runs code (one or more instructions, no RET) natively with st.
func Exec(code []byte, st *State) error {
	mu.Lock()
	defer mu.Unlock()
	if page == nil {
		p, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE|syscall.PROT_EXEC,
			syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return err
		}
		page = p
	}
	if len(code) > len(page)-1 {
		return errors.New("hostexec: code too long")
	}
	n := copy(page, code)
	page[n] = 0xc3 // RET
	st.Flags &= FlagsIn
	st.Flags |= 2
	st.code = uintptr(unsafe.Pointer(&page[0]))
	run(st)
	return nil
}
