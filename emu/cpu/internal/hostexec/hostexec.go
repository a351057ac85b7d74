// Package hostexec runs single x86-64 instructions natively on the host
// CPU, so the interpreter's tests can use the host as their oracle
// (DESIGN.md "Correctness oracles"). It exists only for tests.
//
// The instruction runs with RAX, RCX, RDX, RBX, RSI, RDI and R8-R11 loaded
// from State and RFLAGS set from State.Flags; it must not touch RSP, RBP or
// R12-R15, must not fault, and must fall through (a RET is appended).
package hostexec

// State is the register file the instruction sees and leaves; Regs is in
// x86 encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8...).
// Regs[4], Regs[5] and Regs[12..15] are neither loaded nor stored.
type State struct {
	Regs  [16]uint64
	Flags uint64
	code  uintptr
}

// FlagsIn is the set of RFLAGS bits Exec loads; others are cleared so the
// Go runtime never sees TF, AC or DF set.
const FlagsIn = 0x8d5 | 0x400 // CF PF AF ZF SF OF, DF
