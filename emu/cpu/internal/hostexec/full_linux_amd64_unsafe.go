//go:build amd64 && linux

package hostexec

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// Saved state of runFull (full_amd64.s); guarded by mu.
var (
	fullState                       *FullState
	goSP, goBP, goR12, goR13, goR14 uintptr
	goR15, codeSP, codeAX           uintptr
	scratch                         [1024 + 64]byte
	fullMapped                      bool
	fullErr                         error
	window, codePage                []byte
)

//go:noescape
func runFull(st *FullState)

func hostret()

const mapFixedNoReplace = 0x100000

func mapFixed(addr, size uintptr) ([]byte, error) {
	p, _, errno := syscall.Syscall6(syscall.SYS_MMAP, addr, size,
		syscall.PROT_READ|syscall.PROT_WRITE|syscall.PROT_EXEC,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|mapFixedNoReplace, ^uintptr(0), 0)
	if errno != 0 {
		return nil, fmt.Errorf("hostexec: mmap %#x: %v", addr, errno)
	}
	if p != addr {
		syscall.Syscall(syscall.SYS_MUNMAP, p, size, 0)
		return nil, fmt.Errorf("hostexec: %#x is taken on this host", addr)
	}
	// The mapping is outside the Go heap; build the slice header by hand
	// (vet rejects converting a uintptr to a pointer).
	var b []byte
	h := (*struct {
		data      uintptr
		len, cap_ int
	})(unsafe.Pointer(&b))
	h.data, h.len, h.cap_ = p, int(size), int(size)
	return b, nil
}

// ExecFull runs code natively at CodeAddr with st and with the window
// memory (len WindowSize) copied in and back out. image (len 4096) is the
// code page the caller's guest sees; its first CodeAddr-CodePage+len(code)
// bytes are replaced by the entry pointer, return pointer and code. It
// fails (without running anything) where the fixed addresses cannot be
// mapped, e.g. in a position-independent binary that sits there.
func ExecFull(code []byte, st *FullState, mem []byte, image []byte) error {
	mu.Lock()
	defer mu.Unlock()
	if !fullMapped {
		fullMapped = true
		window, fullErr = mapFixed(WindowBase, WindowSize)
		if fullErr == nil {
			codePage, fullErr = mapFixed(CodePage, 4096)
		}
	}
	if fullErr != nil {
		return fullErr
	}
	if len(code) > CodeMax || len(mem) != WindowSize || len(image) != 4096 {
		return errors.New("hostexec: ExecFull: bad code, window or image size")
	}
	copy(codePage, image)
	*(*uint64)(unsafe.Pointer(&codePage[0])) = CodeAddr
	n := copy(codePage[CodeAddr-CodePage:], code)
	// jmp qword ptr [CodePage+8]
	copy(codePage[CodeAddr-CodePage+n:], []byte{0xff, 0x24, 0x25, 0x08, 0x00, 0x14, 0x00})
	copy(window, mem)
	st.Flags = st.Flags&FlagsIn | 2
	fullState = st
	runFull(st)
	fullState = nil
	copy(mem, window)
	return nil
}
