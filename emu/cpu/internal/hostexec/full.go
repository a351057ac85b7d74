package hostexec

// ExecFull runs instructions natively with every general-purpose register
// (RSP, RBP and R12-R15 included) taken from FullState, and with guest-like
// memory at fixed host addresses, so that stack, string and memory-operand
// instructions can be compared with the interpreter byte for byte: the
// caller maps the same addresses in the guest, and the instruction sees the
// same pointers, the same RIP (its code sits at CodeAddr in both) and the
// same memory in both.
//
// The host layout, identical in the interpreter's test guest:
//
//	WindowBase .. WindowBase+WindowSize   data and stack (read/write)
//	CodePage   .. CodePage+4096           CodePage+0: entry pointer,
//	                                      CodePage+8: return pointer,
//	                                      CodeAddr:   the code, followed by
//	                                      a jump back through CodePage+8
//
// The code must not fault on the host (the caller first runs it in the
// interpreter with only these pages mapped and skips it natively if it
// faults there), must not change segment registers, and must reach its
// end (control transfers must land on the byte after the code).
const (
	WindowBase = 0x100000
	WindowSize = 0x40000
	CodePage   = WindowBase + WindowSize
	CodeAddr   = CodePage + 0x10
	// CodeMax is the longest code ExecFull accepts; the rest of the code
	// page is the caller's (ExecFull copies it from CodeImage).
	CodeMax = 0x100
)

// FullState is the register file for ExecFull, in x86 encoding order.
type FullState struct {
	Regs  [16]uint64
	Flags uint64
}
