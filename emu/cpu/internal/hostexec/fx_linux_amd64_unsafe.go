//go:build amd64 && linux

package hostexec

import (
	"errors"
	"syscall"
	"unsafe"
)

// fxArea is where, in the executable page Exec also uses, ExecFX keeps the
// host's state, the test's state and the scratch memory (runfx's layout).
const fxArea = 1024

//go:noescape
func runfx(st *State, area uintptr)

// ExecFX runs code natively as Exec does, with the x87/SSE state and
// scratch memory of fx loaded before and stored back after (see FX).
func ExecFX(code []byte, st *State, fx *FX) error {
	return execFXWith(code, st, fx, fx.Mem[:])
}

// execFXWith is ExecFX with mem (up to 2048 bytes) as the scratch block
// in place of fx.Mem (ExecXS's larger one).
func execFXWith(code []byte, st *State, fx *FX, mem []byte) error {
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
	if len(code) > fxArea-1 {
		return errors.New("hostexec: code too long")
	}
	n := copy(page, code)
	page[n] = 0xc3 // RET
	fx.SetMXCSR(fx.MXCSR() & 0xffff)
	copy(page[fxArea+512:], fx.Image[:])
	copy(page[fxArea+1024:], mem)
	st.Flags &= FlagsIn
	st.Flags |= 2
	st.code = uintptr(unsafe.Pointer(&page[0]))
	runfx(st, uintptr(unsafe.Pointer(&page[fxArea])))
	copy(fx.Image[:], page[fxArea+512:fxArea+1024])
	copy(mem, page[fxArea+1024:])
	return nil
}
