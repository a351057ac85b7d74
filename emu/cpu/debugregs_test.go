package cpu

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"softvmm/emu/abi"
)

// Debug registers and #DB (SDM Vol. 3 ch. 18: "Debug Registers", "Debug
// Exceptions", "Resume Flag"; debug.go), exercised by CPL-0 guests with
// an IDT in 64-bit and 32-bit protected mode. Every expected frame and
// DR6 value below is written out from the SDM's text, not taken from a
// run: a fault pushes the faulting instruction's address, a trap the
// next one; DR6 keeps its power-up image 0xFFFF0FF0 with the condition
// bits of each #DB ORed in (B0-B3 = bits 0-3, BD 13, BS 14, BT 15).

// DR7 fields, from the SDM's "Debug Control Register (DR7)" figure.
func dr7L(n int) uint32 { return 1 << (2 * n) }
func dr7G(n int) uint32 { return 2 << (2 * n) }
func dr7RW(n int, rw uint32) uint32 {
	return rw << (16 + 4*n)
}
func dr7LEN(n int, l uint32) uint32 { return l << (18 + 4*n) }

const (
	rwExec, rwWrite, rwIO, rwRW = 0, 1, 2, 3 // R/Wn encodings
	len1, len2, len8, len4      = 0, 1, 2, 3 // LENn encodings
	dr6Reset                    = 0xffff0ff0
	rfBit                       = 1 << 16
)

// movDR is "mov $v, %eax; mov %eax, %drN" (the same bytes in 32- and
// 64-bit code; in 64-bit mode RAX is zero-extended).
func movDR(n int, v uint32) []byte {
	b := []byte{0xb8, 0, 0, 0, 0, 0x0f, 0x23, 0xc0 | byte(n)<<3}
	binary.LittleEndian.PutUint32(b[1:], v)
	return b
}

// movImm is "mov $v, %r32" for r in x86 numbering (b8+r).
func movImm(r int, v uint32) []byte {
	b := []byte{0xb8 + byte(r), 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[1:], v)
	return b
}

// iretOf is IRETQ in 64-bit code, IRETD in 32-bit code.
func iretOf(long bool) []byte {
	if long {
		return []byte{0x48, 0xcf}
	}
	return []byte{0xcf}
}

// Two #DB handlers: "hlt; iret" returns with the pushed RFLAGS as they
// are; "hlt; or $RF, RFLAGS-in-frame; iret" is what the SDM tells a
// debugger to do to get past an instruction breakpoint.
func hdlPlain(long bool) []byte { return cat([]byte{0xf4}, iretOf(long)) }
func hdlRF(long bool) []byte {
	if long {
		return cat([]byte{0xf4, 0x48, 0x81, 0x4c, 0x24, 0x10, 0, 0, 1, 0}, iretOf(true)) // orq $0x10000, 16(%rsp)
	}
	return cat([]byte{0xf4, 0x81, 0x4c, 0x24, 0x08, 0, 0, 1, 0}, iretOf(false)) // orl $0x10000, 8(%esp)
}

// dbgGuest is a CPL-0 guest with code at codeBase in 64-bit (long) or
// 32-bit protected mode whose #DB handler is handler (the HLT stubs of
// vecGuest elsewhere; the NMI slot after it is free for a longer one).
func dbgGuest(t *testing.T, long bool, code, handler []byte) (*CPU, *testRAM) {
	t.Helper()
	c, ram := vecGuest(t, code, long)
	if long {
		// A writable data segment for SS, which IRETQ checks (the
		// harness's 0x10 descriptor is read-only data).
		ram.w64(0x5010, 0x0000920000000000)
	}
	if len(handler) > 32 {
		t.Fatal("handler too long")
	}
	copy(ram.b[handlerVA+vecDB*16:], handler)
	return c, ram
}

// pushed returns the return address and RFLAGS of the same-privilege
// frame at the stack pointer (no error code).
func pushed(c *CPU, ram *testRAM, long bool) (ret, fl uint64) {
	if long {
		sp := c.r[rSP]
		return ram.r64(sp), ram.r64(sp + 16)
	}
	sp := uint64(uint32(c.r[rSP]))
	return uint64(ram.r32(sp)), uint64(ram.r32(sp + 8))
}

// haltAt runs to a HLT and checks its address.
func haltAt(t *testing.T, c *CPU, at uint64, what string) {
	t.Helper()
	ex := c.Run(1000)
	if ex.Reason != ExitHLT || ex.RIP != at {
		t.Fatalf("%s: exit %v at %#x (%v), want HLT at %#x", what, ex.Reason, ex.RIP, ex.Err, at)
	}
}

var dbgHandler = uint64(handlerVA + vecDB*16)

func forModes(t *testing.T, f func(t *testing.T, long bool)) {
	for _, long := range []bool{true, false} {
		name := "32"
		if long {
			name = "64"
		}
		t.Run(name, func(t *testing.T) { f(t, long) })
	}
}

// Power-up: DR0-DR3 = 0, DR6 = 0xFFFF0FF0, DR7 = 0x400 (SDM Vol. 3
// "Processor State Following Power-up, Reset, or INIT"), as vmm's
// vmx_vcpu_init sets them for every vCPU (FreeBSD sys/amd64/vmm/intel/
// vmx.c: guest_dr6 = DBREG_DR6_RESERVED1, VMCS_GUEST_DR7 =
// DBREG_DR7_RESERVED1), read by VM_GET_REGISTER and by the guest.
func TestDebugPowerOnValues(t *testing.T) {
	c, _ := newGuest(t, nil)
	want := map[int32]uint64{abi.VM_REG_GUEST_DR0: 0, abi.VM_REG_GUEST_DR1: 0, abi.VM_REG_GUEST_DR2: 0,
		abi.VM_REG_GUEST_DR3: 0, abi.VM_REG_GUEST_DR6: 0xffff0ff0, abi.VM_REG_GUEST_DR7: 0x400}
	for r, v := range want {
		if got := reg(t, c, r); got != v {
			t.Errorf("%s = %#x at power-on, want %#x", abi.RegName(r), got, v)
		}
	}
	forModes(t, func(t *testing.T, long bool) {
		// mov %dr6, %eax; mov %dr7, %ecx; hlt
		c, _ := dbgGuest(t, long, []byte{0x0f, 0x21, 0xf0, 0x0f, 0x21, 0xf9, 0xf4}, hdlPlain(long))
		haltAt(t, c, codeBase+6, "read DR6/DR7")
		if c.r[rAX] != 0xffff0ff0 || c.r[rCX] != 0x400 {
			t.Errorf("guest reads DR6 %#x DR7 %#x, want 0xffff0ff0 0x400", c.r[rAX], c.r[rCX])
		}
	})
}

// Instruction breakpoints (R/W 00, LEN 00): a fault before the
// instruction at DRn with Ln or Gn set, DR6.Bn set, the frame's RIP at
// the instruction and its RF as it was (0: the SDM's one exception to
// "faults push RF = 1"). A handler that returns with RF set in the
// frame gets past it for exactly one instruction; one that does not
// takes the breakpoint again. RF is 0 again once that instruction ran.
func TestDebugInstructionBreakpoint(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		for _, tc := range []struct {
			name   string
			enable uint32
			nop    bool // a NOP first, so the breakpoint is inside the block, not at its start
		}{
			{"L0 at block start", dr7L(0), false},
			{"G0 at block start", dr7G(0), false},
			{"L0 inside the block", dr7L(0), true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pre := 16 // movDR(0, x) + movDR(7, ...); MOV DR7 ends its block
				x := uint32(codeBase + pre)
				if tc.nop {
					x++
				}
				code := cat(movDR(0, x), movDR(7, 0x400|tc.enable))
				if tc.nop {
					code = append(code, 0x90)
				}
				code = append(code, 0xff, 0xc1, 0xf4) // x: inc %ecx; hlt
				c, ram := dbgGuest(t, long, code, hdlRF(long))
				haltAt(t, c, dbgHandler, "breakpoint")
				ret, fl := pushed(c, ram, long)
				if ret != uint64(x) || fl&rfBit != 0 || c.r[rCX] != 0 {
					t.Errorf("#DB frame rip %#x rflags %#x ecx %d, want rip %#x, RF 0, inc not run", ret, fl, c.r[rCX], x)
				}
				if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|1 {
					t.Errorf("DR6 %#x, want %#x (B0)", d6, dr6Reset|1)
				}
				// The handler sets RF and returns: inc runs once, then hlt.
				haltAt(t, c, uint64(x)+2, "past the breakpoint with RF")
				if c.r[rCX] != 1 {
					t.Errorf("ecx %d, want 1", c.r[rCX])
				}
				if fl := reg(t, c, abi.VM_REG_GUEST_RFLAGS); fl&rfBit != 0 {
					t.Errorf("RFLAGS %#x: RF still set after the instruction it exempted", fl)
				}
			})
		}
		t.Run("no RF: taken again", func(t *testing.T) {
			x := uint32(codeBase + 16)
			code := cat(movDR(0, x), movDR(7, 0x400|dr7L(0)), []byte{0xff, 0xc1, 0xf4})
			c, ram := dbgGuest(t, long, code, hdlPlain(long))
			for i := 0; i < 3; i++ {
				haltAt(t, c, dbgHandler, fmt.Sprintf("breakpoint, round %d", i))
				if ret, _ := pushed(c, ram, long); ret != uint64(x) || c.r[rCX] != 0 {
					t.Fatalf("round %d: rip %#x ecx %d", i, ret, c.r[rCX])
				}
			}
		})
		t.Run("disabled", func(t *testing.T) {
			x := uint32(codeBase + 16)
			// R/W0 = 00 and LEN0 = 00 but neither L0 nor G0: nothing.
			code := cat(movDR(0, x), movDR(7, 0x400|dr7G(1)), []byte{0xff, 0xc1, 0xf4})
			c, _ := dbgGuest(t, long, code, hdlPlain(long))
			haltAt(t, c, uint64(x)+2, "no breakpoint")
			if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset || c.r[rCX] != 1 {
				t.Errorf("DR6 %#x ecx %d", d6, c.r[rCX])
			}
		})
		t.Run("RF exempts one instruction only", func(t *testing.T) {
			// DR0 at inc, DR1 at the hlt after it: RF gets the inc past
			// DR0, and DR1 still fires on the next instruction. DR6
			// keeps B0 (the handler does not clear it) and adds B1.
			x := uint32(codeBase + 24)
			code := cat(movDR(0, x), movDR(1, x+2), movDR(7, 0x400|dr7L(0)|dr7L(1)), []byte{0xff, 0xc1, 0xf4})
			c, ram := dbgGuest(t, long, code, hdlRF(long))
			haltAt(t, c, dbgHandler, "DR0")
			haltAt(t, c, dbgHandler, "DR1")
			ret, fl := pushed(c, ram, long)
			if ret != uint64(x)+2 || fl&rfBit != 0 || c.r[rCX] != 1 {
				t.Errorf("second #DB rip %#x rflags %#x ecx %d, want rip %#x", ret, fl, c.r[rCX], x+2)
			}
			if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|3 {
				t.Errorf("DR6 %#x, want %#x (B0 sticky, B1)", d6, dr6Reset|3)
			}
		})
		t.Run("target of a jump", func(t *testing.T) {
			// jmp +1 over a nop to x: the breakpoint at a branch target.
			x := uint32(codeBase + 16 + 3)
			code := cat(movDR(0, x), movDR(7, 0x400|dr7G(0)), []byte{0xeb, 0x01, 0x90, 0xff, 0xc1, 0xf4})
			c, ram := dbgGuest(t, long, code, hdlRF(long))
			haltAt(t, c, dbgHandler, "breakpoint")
			if ret, _ := pushed(c, ram, long); ret != uint64(x) {
				t.Errorf("rip %#x, want %#x", ret, x)
			}
			haltAt(t, c, uint64(x)+2, "past it")
		})
	})
}

// RF in the frames of other events (SDM "Resume Flag"): every
// fault-class exception pushes RF = 1 (here #UD and #DE), a trap
// (INT3) pushes the current RF, which is 0 once an instruction has
// started: even right after an IRET or VM_SET_REGISTER set it.
func TestDebugResumeFlagInFrames(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		for _, tc := range []struct {
			name   string
			code   []byte
			vec    uint64
			ret    uint64
			rf     bool
			initRF bool
		}{
			{"#UD fault", []byte{0x90, 0x0f, 0x0b}, vecUD, codeBase + 1, true, false},
			{"#DE fault", []byte{0x31, 0xc9, 0xf7, 0xf1}, vecDE, codeBase + 2, true, false}, // xor ecx,ecx; div ecx
			{"INT3 trap", []byte{0x90, 0xcc}, vecBP, codeBase + 2, false, false},
			{"INT3 after RF=1", []byte{0xcc}, vecBP, codeBase + 1, false, true},
			{"#UD after RF=1", []byte{0x0f, 0x0b}, vecUD, codeBase, true, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, ram := dbgGuest(t, long, tc.code, hdlPlain(long))
				if tc.initRF {
					mustOK(t, c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2|rfBit))
				}
				haltAt(t, c, handlerVA+tc.vec*16, tc.name)
				ret, fl := pushed(c, ram, long)
				if ret != tc.ret || (fl&rfBit != 0) != tc.rf {
					t.Errorf("frame rip %#x rflags %#x, want rip %#x RF %v", ret, fl, tc.ret, tc.rf)
				}
			})
		}
		t.Run("RF cleared by the next instruction", func(t *testing.T) {
			c, _ := dbgGuest(t, long, []byte{0x90, 0xf4}, hdlPlain(long))
			mustOK(t, c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2|rfBit))
			haltAt(t, c, codeBase+1, "nop; hlt")
			if fl := reg(t, c, abi.VM_REG_GUEST_RFLAGS); fl&rfBit != 0 {
				t.Errorf("RFLAGS %#x after two instructions", fl)
			}
		})
		t.Run("interrupt between REP iterations", func(t *testing.T) {
			// mov $0x100000, %ecx; mov $0x100000, %edi; rep stosb: a
			// budget stop mid-way leaves RF = 1 (an event now is "after
			// an iteration but the last"), and an event delivered then
			// pushes it with RIP at the REP instruction.
			code := cat(movImm(rCX, 0x100000), movImm(rDI, 0x100000), []byte{0xf3, 0xaa, 0xf4})
			c, ram := dbgGuest(t, long, code, hdlPlain(long))
			if ex := c.Run(4); ex.Reason != ExitBudget || c.rip != codeBase+10 {
				t.Fatalf("exit %v at %#x, want a budget stop in the REP", ex.Reason, c.rip)
			}
			if fl := reg(t, c, abi.VM_REG_GUEST_RFLAGS); fl&rfBit == 0 {
				t.Errorf("RFLAGS %#x mid-REP, want RF", fl)
			}
			c.AttachIntr(&fakeCtl{}, &IntrLine{})
			c.InjectEvent(0x40, 0, false, false)
			haltAt(t, c, handlerVA+0x40*16, "injected event")
			if ret, fl := pushed(c, ram, long); ret != codeBase+10 || fl&rfBit == 0 {
				t.Errorf("frame rip %#x rflags %#x, want the REP with RF", ret, fl)
			}
		})
	})
}

// Data breakpoints (R/W 01 write, 11 read or write; LEN 1, 2, 8, 4
// bytes at DRn with its low bits masked): a trap after the instruction
// whose access touches any byte of the range, DR6.Bn set; reads do not
// trigger a write breakpoint.
func TestDebugDataBreakpoint(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		type dcase struct {
			name string
			n    int    // DRn
			addr uint32 // DRn
			dr7  uint32
			insn []byte // with EBX = dataBase, EAX = 0x11223344
			hit  bool
		}
		w4 := func(n int) uint32 { return dr7L(n) | dr7RW(n, rwWrite) | dr7LEN(n, len4) }
		cases := []dcase{
			{"write dword", 0, dataBase + 8, w4(0), []byte{0x89, 0x43, 0x08}, true},                  // mov %eax, 8(%ebx)
			{"read, write-only breakpoint", 0, dataBase + 8, w4(0), []byte{0x8b, 0x43, 0x08}, false}, // mov 8(%ebx), %eax
			{"read, read/write breakpoint", 0, dataBase + 8, dr7G(0) | dr7RW(0, rwRW) | dr7LEN(0, len4), []byte{0x8b, 0x43, 0x08}, true},
			{"LEN 4 masks DRn bits 1:0: last byte", 0, dataBase + 9, w4(0), []byte{0x88, 0x43, 0x0b}, true}, // mov %al, 11(%ebx)
			{"LEN 4: byte after", 0, dataBase + 9, w4(0), []byte{0x88, 0x43, 0x0c}, false},
			{"LEN 4: byte before", 0, dataBase + 9, w4(0), []byte{0x88, 0x43, 0x07}, false},
			{"word overlapping from below", 0, dataBase + 8, w4(0), []byte{0x66, 0x89, 0x43, 0x07}, true}, // mov %ax, 7(%ebx)
			{"LEN 8: last byte", 1, dataBase + 8, dr7L(1) | dr7RW(1, rwWrite) | dr7LEN(1, len8), []byte{0x88, 0x43, 0x0f}, true},
			{"LEN 8: byte after", 1, dataBase + 8, dr7L(1) | dr7RW(1, rwWrite) | dr7LEN(1, len8), []byte{0x88, 0x43, 0x10}, false},
			{"LEN 2: second byte", 2, dataBase + 8, dr7L(2) | dr7RW(2, rwWrite) | dr7LEN(2, len2), []byte{0x88, 0x43, 0x09}, true},
			{"LEN 2: third byte", 2, dataBase + 8, dr7L(2) | dr7RW(2, rwWrite) | dr7LEN(2, len2), []byte{0x88, 0x43, 0x0a}, false},
			{"LEN 1: word over it", 3, dataBase + 8, dr7L(3) | dr7RW(3, rwWrite), []byte{0x66, 0x89, 0x43, 0x07}, true},
			{"LEN 1: next byte", 3, dataBase + 8, dr7L(3) | dr7RW(3, rwWrite), []byte{0x88, 0x43, 0x09}, false},
			{"read-modify-write, write-only", 0, dataBase + 8, w4(0), []byte{0x01, 0x43, 0x08}, true}, // add %eax, 8(%ebx)
			{"not enabled", 0, dataBase + 8, dr7RW(0, rwWrite) | dr7LEN(0, len4), []byte{0x89, 0x43, 0x08}, false},
			{"same page, other bytes", 0, dataBase + 0x100, w4(0), []byte{0x89, 0x43, 0x08}, false},
		}
		sp := uint32(stackTop - 4)
		if long {
			sp = stackTop - 8
		}
		cases = append(cases, dcase{"push", 0, sp, w4(0), []byte{0x50}, true}) // push %rax / %eax
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				code := cat(movDR(tc.n, tc.addr), movDR(7, 0x400|tc.dr7), movImm(rBX, dataBase), movImm(rAX, 0x11223344), tc.insn)
				next := codeBase + uint64(len(code))
				code = append(code, 0xf4)
				c, ram := dbgGuest(t, long, code, hdlPlain(long))
				if !tc.hit {
					haltAt(t, c, next, "no breakpoint")
					if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset {
						t.Errorf("DR6 %#x, want %#x", d6, uint64(dr6Reset))
					}
					return
				}
				haltAt(t, c, dbgHandler, "data breakpoint")
				ret, fl := pushed(c, ram, long)
				if ret != next || fl&rfBit != 0 {
					t.Errorf("trap frame rip %#x rflags %#x, want rip %#x (after the access), RF 0", ret, fl, next)
				}
				if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|1<<tc.n {
					t.Errorf("DR6 %#x, want %#x", d6, dr6Reset|1<<tc.n)
				}
				// The access itself happened (a trap reports it after).
				if tc.insn[0] == 0x89 && ram.r32(dataBase+8) != 0x11223344 {
					t.Errorf("the store did not happen")
				}
				haltAt(t, c, next, "after the handler's iret")
			})
		}
		t.Run("two breakpoints, one access", func(t *testing.T) {
			// DR0 write-only on the low dword, DR1 read/write on the
			// high one, an 8-byte store over both (movq %xmm? no: two
			// stores would be two traps; use a REX-free 8-byte move in
			// 64-bit and a word store spanning both in 32-bit).
			insn := []byte{0x66, 0x89, 0x43, 0x0b} // mov %ax, 11(%ebx): bytes 11 and 12
			code := cat(movDR(0, dataBase+8), movDR(1, dataBase+12),
				movDR(7, 0x400|dr7L(0)|dr7RW(0, rwWrite)|dr7LEN(0, len4)|dr7G(1)|dr7RW(1, rwRW)|dr7LEN(1, len4)),
				movImm(rBX, dataBase), insn)
			next := codeBase + uint64(len(code))
			code = append(code, 0xf4)
			c, ram := dbgGuest(t, long, code, hdlPlain(long))
			haltAt(t, c, dbgHandler, "both")
			if ret, _ := pushed(c, ram, long); ret != next {
				t.Errorf("rip %#x, want %#x", ret, next)
			}
			if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|3 {
				t.Errorf("DR6 %#x, want B0|B1 %#x: one #DB for both", d6, dr6Reset|3)
			}
		})
		t.Run("single step and data breakpoint", func(t *testing.T) {
			// Breakpoints set through VM_SET_REGISTER, TF set: the store
			// owes both conditions, reported by one #DB (BS | B0).
			insn := []byte{0x89, 0x03} // mov %eax, (%ebx)
			c, ram := dbgGuest(t, long, cat(insn, []byte{0xf4}), hdlPlain(long))
			mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR0, dataBase))
			mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR7, uint64(0x400|dr7L(0)|dr7RW(0, rwWrite)|dr7LEN(0, len4))))
			c.r[rBX] = dataBase
			mustOK(t, c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2|flagTF))
			haltAt(t, c, dbgHandler, "step + data")
			if ret, fl := pushed(c, ram, long); ret != codeBase+2 || fl&flagTF == 0 {
				t.Errorf("rip %#x rflags %#x", ret, fl)
			}
			if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|dr6BS|1 {
				t.Errorf("DR6 %#x, want %#x", d6, dr6Reset|dr6BS|1)
			}
		})
	})
}

// REP string instructions with a data breakpoint: the trap comes after
// the iteration that touched the watched byte. After any iteration but
// the last, RIP is the instruction itself with RCX/RDI describing the
// iterations done and the frame's RF = 1, so the handler's IRET resumes
// it; after the last, it is an ordinary trap after the instruction.
func TestDebugDataBreakpointRep(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		for _, tc := range []struct {
			name  string
			watch uint32 // watched byte (LEN 1, write)
			left  uint64 // ECX at the trap
			last  bool
		}{
			{"first iteration", dataBase, 9, false},
			{"fourth iteration", dataBase + 3, 6, false},
			{"last iteration", dataBase + 9, 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := cat(movDR(0, tc.watch), movDR(7, 0x400|dr7L(0)|dr7RW(0, rwWrite)),
					movImm(rDI, dataBase), movImm(rCX, 10), []byte{0xb0, 0x5a}) // mov $0x5a, %al
				rep := codeBase + uint64(len(code))
				code = append(code, 0xf3, 0xaa, 0xf4) // rep stosb; hlt
				c, ram := dbgGuest(t, long, code, hdlPlain(long))
				haltAt(t, c, dbgHandler, "breakpoint")
				ret, fl := pushed(c, ram, long)
				done := 10 - tc.left
				wantRet, wantRF := rep, true
				if tc.last {
					wantRet, wantRF = rep+2, false
				}
				if ret != wantRet || (fl&rfBit != 0) != wantRF {
					t.Errorf("frame rip %#x rflags %#x, want rip %#x RF %v", ret, fl, wantRet, wantRF)
				}
				if c.r[rCX] != tc.left || c.r[rDI] != dataBase+done {
					t.Errorf("ecx %d edi %#x at the trap, want %d %#x", c.r[rCX], c.r[rDI], tc.left, dataBase+done)
				}
				for i := uint64(0); i < 10; i++ {
					if want := byte(0); i < done {
						want = 0x5a
						if ram.b[dataBase+i] != want {
							t.Errorf("byte %d is %#x at the trap", i, ram.b[dataBase+i])
						}
					} else if ram.b[dataBase+i] != want {
						t.Errorf("byte %d written before its iteration", i)
					}
				}
				if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|1 {
					t.Errorf("DR6 %#x", d6)
				}
				// IRET with the pushed RF: the rest runs, no second trap.
				haltAt(t, c, rep+2, "rest of the REP")
				if c.r[rCX] != 0 || c.r[rDI] != dataBase+10 || ram.b[dataBase+9] != 0x5a {
					t.Errorf("ecx %d edi %#x after the REP", c.r[rCX], c.r[rDI])
				}
			})
		}
		t.Run("rep movsb reads the source", func(t *testing.T) {
			// R/W 11 on the fifth source byte; the destination is
			// elsewhere. ESI, EDI, ECX after four... five iterations.
			code := cat(movDR(0, dataBase+4), movDR(7, 0x400|dr7L(0)|dr7RW(0, rwRW)),
				movImm(rSI, dataBase), movImm(rDI, dataBase+0x800), movImm(rCX, 8))
			rep := codeBase + uint64(len(code))
			code = append(code, 0xf3, 0xa4, 0xf4) // rep movsb; hlt
			c, ram := dbgGuest(t, long, code, hdlPlain(long))
			copy(ram.b[dataBase:], "abcdefgh")
			haltAt(t, c, dbgHandler, "breakpoint")
			if ret, fl := pushed(c, ram, long); ret != rep || fl&rfBit == 0 || c.r[rCX] != 3 || c.r[rSI] != dataBase+5 {
				t.Errorf("rip %#x rflags %#x ecx %d esi %#x", ret, fl, c.r[rCX], c.r[rSI])
			}
			haltAt(t, c, rep+2, "rest")
			if string(ram.b[dataBase+0x800:dataBase+0x808]) != "abcdefgh" {
				t.Errorf("copy %q", ram.b[dataBase+0x800:dataBase+0x808])
			}
		})
	})
}

// I/O breakpoints (R/W 10, with CR4.DE): a trap after the IN/OUT whose
// port range overlaps DRn's; IN and OUT leave Run first, the trap comes
// when Run resumes. With CR4.DE clear R/W 10 is undefined: softvmm makes
// it a breakpoint that never fires (and no #UD).
func TestDebugIOBreakpoint(t *testing.T) {
	setDE := []byte{0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xe0} // mov %cr4,%eax; or $8,%eax; mov %eax,%cr4
	forModes(t, func(t *testing.T, long bool) {
		for _, tc := range []struct {
			name string
			de   bool
			len  uint32
			insn []byte
			port uint16
			hit  bool
		}{
			{"out to the port", true, len1, []byte{0xe6, 0x80}, 0x80, true},       // out %al, $0x80
			{"out to the next port", true, len1, []byte{0xe6, 0x81}, 0x81, false}, // out %al, $0x81
			{"word in over it", true, len2, []byte{0x66, 0xe5, 0x7f}, 0x7f, true}, // in $0x7f, %ax: ports 7f, 80
			{"CR4.DE clear", false, len1, []byte{0xe6, 0x80}, 0x80, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var code []byte
				if tc.de {
					code = setDE
				}
				code = cat(code, movDR(0, 0x80), movDR(7, 0x400|dr7L(0)|dr7RW(0, rwIO)|dr7LEN(0, tc.len)), tc.insn)
				next := codeBase + uint64(len(code))
				code = append(code, 0xf4)
				c, ram := dbgGuest(t, long, code, hdlPlain(long))
				ex := c.Run(100)
				if ex.Reason != ExitInOut || ex.Port != tc.port {
					t.Fatalf("exit %v port %#x, want ExitInOut %#x", ex.Reason, ex.Port, tc.port)
				}
				if !tc.hit {
					haltAt(t, c, next, "no breakpoint")
					return
				}
				haltAt(t, c, dbgHandler, "I/O breakpoint")
				if ret, fl := pushed(c, ram, long); ret != next || fl&rfBit != 0 {
					t.Errorf("rip %#x rflags %#x, want %#x", ret, fl, next)
				}
				if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|1 {
					t.Errorf("DR6 %#x", d6)
				}
			})
		}
		t.Run("rep outsb rewound by the caller", func(t *testing.T) {
			// The caller emulates one element and rewinds RIP while
			// ECX != 0 (VM_RESTART_INSTRUCTION): the trap follows an
			// iteration but the last, so RIP is the OUTS and RF = 1.
			code := cat(setDE, movDR(0, 0x80), movDR(7, 0x400|dr7G(0)|dr7RW(0, rwIO)),
				movImm(rSI, dataBase), movImm(rDX, 0x80), movImm(rCX, 3))
			outs := codeBase + uint64(len(code))
			code = append(code, 0xf3, 0x6e, 0xf4) // rep outsb; hlt
			c, ram := dbgGuest(t, long, code, hdlPlain(long))
			ex := c.Run(100)
			if ex.Reason != ExitInOutStr || ex.RIP != outs {
				t.Fatalf("exit %v at %#x", ex.Reason, ex.RIP)
			}
			c.r[rSI]++
			c.r[rCX]--
			c.rip = ex.RIP
			haltAt(t, c, dbgHandler, "I/O breakpoint")
			if ret, fl := pushed(c, ram, long); ret != outs || fl&rfBit == 0 {
				t.Errorf("rip %#x rflags %#x, want the OUTS with RF", ret, fl)
			}
		})
	})
}

// DR7.GD (general detect): any MOV DR while GD is set is a #DB fault
// before it executes, DR6.BD set, GD cleared on entry to the handler
// (which can then use the debug registers), RF = 1 in the frame as for
// any fault but an instruction breakpoint.
func TestDebugGeneralDetect(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		for _, tc := range []struct {
			name string
			insn []byte
		}{
			{"mov %dr0, %ebx", []byte{0x0f, 0x21, 0xc3}},
			{"mov %ebx, %dr7", []byte{0x0f, 0x23, 0xfb}},
			{"mov %dr6, %ebx", []byte{0x0f, 0x21, 0xf3}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := movDR(7, 0x400|dr7GD)
				at := codeBase + uint64(len(code))
				code = cat(code, tc.insn, []byte{0xf4})
				// hlt; mov %dr6, %eax; mov %dr7, %ecx; iret
				h := cat([]byte{0xf4, 0x0f, 0x21, 0xf0, 0x0f, 0x21, 0xf9}, iretOf(long))
				c, ram := dbgGuest(t, long, code, h)
				c.r[rBX] = 0x400
				haltAt(t, c, dbgHandler, "general detect")
				ret, fl := pushed(c, ram, long)
				if ret != at || fl&rfBit == 0 {
					t.Errorf("frame rip %#x rflags %#x, want rip %#x (fault) RF 1", ret, fl, at)
				}
				if d7 := reg(t, c, abi.VM_REG_GUEST_DR7); d7 != 0x400 {
					t.Errorf("DR7 %#x in the handler, want GD cleared (0x400)", d7)
				}
				// The handler reads DR6 and DR7 without another #DB, and
				// its IRET re-executes the MOV, which now works.
				haltAt(t, c, at+3, "after the MOV")
				if c.r[rAX] != dr6Reset|dr6BD || c.r[rCX] != 0x400 {
					t.Errorf("handler read DR6 %#x DR7 %#x, want %#x 0x400", c.r[rAX], c.r[rCX], dr6Reset|dr6BD)
				}
			})
		}
		t.Run("DR4 with CR4.DE is #UD first", func(t *testing.T) {
			code := cat([]byte{0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xe0}, movDR(7, 0x400|dr7GD), []byte{0x0f, 0x21, 0xe0})
			c, _ := dbgGuest(t, long, code, hdlPlain(long))
			haltAt(t, c, handlerVA+vecUD*16, "#UD")
			if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset {
				t.Errorf("DR6 %#x: no BD for a #UD", d6)
			}
		})
	})
}

// DR6: the guest reads the bits sys.go defines (bits 4-11 and 16-31
// as 1, bit 12 as 0) whatever was written; status bits are sticky: a
// single-step trap after an instruction breakpoint shows B0 and BS, and
// only the handler clears them.
func TestDebugDR6(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		// xor %eax,%eax; mov %eax,%dr6; mov %dr6,%ebx; mov $-1,%eax;
		// mov %eax,%dr6; mov %dr6,%ecx; hlt
		code := cat([]byte{0x31, 0xc0, 0x0f, 0x23, 0xf0, 0x0f, 0x21, 0xf3}, movImm(rAX, 0xffffffff), []byte{0x0f, 0x23, 0xf0, 0x0f, 0x21, 0xf1, 0xf4})
		c, _ := dbgGuest(t, long, code, hdlPlain(long))
		haltAt(t, c, codeBase+uint64(len(code))-1, "DR6 writes")
		if c.r[rBX] != 0xffff0ff0 || c.r[rCX] != 0xffffefff {
			t.Errorf("DR6 reads %#x after 0, %#x after ~0; want 0xffff0ff0, 0xffffefff", c.r[rBX], c.r[rCX])
		}

		x := uint32(codeBase + 16)
		code = cat(movDR(0, x), movDR(7, 0x400|dr7L(0)), []byte{0x90, 0x90, 0xf4})
		c, ram := dbgGuest(t, long, code, hdlRF(long))
		haltAt(t, c, dbgHandler, "breakpoint")
		// The handler returns with RF and TF set: the NOP at x runs
		// and single-steps.
		_, fl := pushed(c, ram, long)
		if long {
			ram.w64(c.r[rSP]+16, fl|flagTF)
		} else {
			ram.w32(uint64(uint32(c.r[rSP]))+8, uint32(fl|flagTF))
		}
		haltAt(t, c, dbgHandler, "single step")
		if ret, _ := pushed(c, ram, long); ret != uint64(x)+1 {
			t.Errorf("step trap rip %#x, want %#x", ret, x+1)
		}
		if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|dr6BS|1 {
			t.Errorf("DR6 %#x, want B0 kept and BS %#x", d6, dr6Reset|dr6BS|1)
		}
	})
}

// A task switch to a 32-bit TSS whose T bit (byte 100, bit 0) is set
// raises #DB with DR6.BT before the new task's first instruction, and
// every task switch clears L0-L3 (the G bits stay).
func TestDebugTaskSwitchTrap(t *testing.T) {
	for _, tc := range []struct {
		name string
		insn []byte
	}{
		{"lcall to the TSS", []byte{0x9a, 0, 0, 0, 0, selTSS2, 0}},
		{"ljmp through a task gate", []byte{0xea, 0, 0, 0, 0, selTGate, 0}},
		{"int through an IDT task gate", []byte{0xcd, 0x41}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := cat(movDR(7, 0x400|dr7L(0)|dr7G(1)), tc.insn, []byte{0xf4})
			c, ram := taskProt(t, code)
			ram.w64(idtBase+0x41*8, uint64(selTSS2)<<16|uint64(0x85)<<40) // task gate, DPL 0
			ram.b[tss2Base+0x64] |= 1
			haltAt(t, c, dbgHandler, "T-bit trap")
			if c.tr.sel != selTSS2 {
				t.Fatalf("TR %#x, want the new task", c.tr.sel)
			}
			sp := uint64(uint32(c.r[rSP]))
			if eip, cs := ram.r32(sp), ram.r32(sp+4); eip != task2Code || cs != selCode32 {
				t.Errorf("#DB frame eip %#x cs %#x, want the new task's first instruction %#x", eip, cs, task2Code)
			}
			if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|dr6BT {
				t.Errorf("DR6 %#x, want BT %#x", d6, dr6Reset|dr6BT)
			}
			if d7 := reg(t, c, abi.VM_REG_GUEST_DR7); d7 != 0x400|uint64(dr7G(1)) {
				t.Errorf("DR7 %#x, want L0 cleared, G1 kept", d7)
			}
			// Without the T bit: no trap.
			c, ram = taskProt(t, code)
			ram.w64(idtBase+0x41*8, uint64(selTSS2)<<16|uint64(0x85)<<40)
			haltAt(t, c, task2Code, "no T bit")
		})
	}
}

// An armed breakpoint costs no allocation per instruction either, and
// only the watched page leaves the software TLB's fast path.
func TestDebugNoAllocsArmed(t *testing.T) {
	// loop: mov %eax, (%ebx); mov %eax, 0x1000(%ebx); dec %ecx; jnz loop; hlt
	body := []byte{0x89, 0x03, 0x89, 0x83, 0x00, 0x10, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xf4, 0xf4}
	c, _ := dbgGuest(t, true, body, hdlPlain(true))
	mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR0, dataBase+0x800))  // same page as the first store, other bytes
	mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR1, codeBase+0x4000)) // an instruction breakpoint nobody reaches
	mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR7, uint64(0x400|dr7L(0)|dr7RW(0, rwRW)|dr7L(1))))
	allocs := testing.AllocsPerRun(5, func() {
		c.rip, c.r[rBX], c.r[rCX] = codeBase, dataBase, 1000
		if ex := c.Run(10000); ex.Reason != ExitHLT {
			t.Fatalf("exit %v", ex.Reason)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
	if e := &c.tlb.e[(dataBase>>12)%tlbSize]; e.wtag == dataBase>>12 || e.rtag == dataBase>>12 {
		t.Error("the watched page has a fast TLB entry")
	}
	if e := &c.tlb.e[((dataBase+0x1000)>>12)%tlbSize]; e.wtag != (dataBase+0x1000)>>12 {
		t.Error("an unwatched page lost its fast TLB entry")
	}
	if !c.dbg.on || c.dbg.data != 1 || c.dbg.exec != 2 {
		t.Errorf("decoded DR7: on %v data %#x exec %#x", c.dbg.on, c.dbg.data, c.dbg.exec)
	}
	mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR7, 0x400))
	if c.dbg.on || c.dbg.data != 0 || c.dbg.exec != 0 {
		t.Error("DR7 = 0x400 still arms something")
	}
}

// Alignment checking keeps its pages out of the fast path too: an
// aligned store that fills the TLB must not let a later misaligned one
// to the same page skip #AC (the slow path used to install the entry).
func TestAlignmentCheckAfterAlignedStore(t *testing.T) {
	// mov %eax, (%ebx); mov %eax, 1(%ebx)
	c, _ := newProt(t, []byte{0x89, 0x03, 0x89, 0x43, 0x01, 0xf4})
	c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
	c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.seg[segDS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.r[rBX] = dataBase
	c.cr0 |= cr0AM
	c.setRflags(2 | flagAC)
	c.modeChanged()
	haltedIn(t, c, vecAC)
	if _, eip, _ := protFrame(c, c.mem.(*testRAM), true); eip != codeBase+2 {
		t.Errorf("#AC at %#x, want the misaligned store %#x", eip, codeBase+2)
	}
}

// 16-bit protected-mode code (a 16-bit CS, the 32-bit IDT gates of the
// harness): the instruction breakpoint's linear address is CS.base + IP,
// the fault frame holds IP, and the handler's IRETD with RF returns past
// it.
func TestDebugInstructionBreakpoint16(t *testing.T) {
	c, ram, at := branchGuest(t, 16)
	copy(ram.b[at:], []byte{0x90, 0x41, 0xf4}) // nop; inc %cx; hlt
	copy(ram.b[dbgHandler:], hdlRF(false))
	mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR2, at+1))
	mustOK(t, c.SetReg(abi.VM_REG_GUEST_DR7, uint64(0x400|dr7L(2))))
	c.rip = at
	haltAt(t, c, dbgHandler, "breakpoint")
	if ret, fl := pushed(c, ram, false); ret != at+1 || fl&rfBit != 0 || c.r[rCX] != 0 {
		t.Errorf("frame ip %#x eflags %#x cx %d, want %#x", ret, fl, c.r[rCX], at+1)
	}
	if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|1<<2 {
		t.Errorf("DR6 %#x, want B2", d6)
	}
	haltAt(t, c, at+2, "past it")
	if c.r[rCX] != 1 {
		t.Errorf("cx %d", c.r[rCX])
	}
}

// A single-step trap owed by an instruction that left Run with an exit
// other than I/O (PAUSE with pause exiting, INS/OUTS) comes at the next
// Run, like the one after OUT (TestSingleStep).
func TestDebugSingleStepAfterExits(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		c, ram := dbgGuest(t, long, []byte{0xf3, 0x90, 0x90, 0xf4}, hdlPlain(long)) // pause; nop; hlt
		c.SetPauseExit(true)
		mustOK(t, c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2|flagTF))
		run(t, c, 10, ExitPause)
		haltAt(t, c, dbgHandler, "step after PAUSE")
		if ret, _ := pushed(c, ram, long); ret != codeBase+2 {
			t.Errorf("trap rip %#x, want %#x", ret, codeBase+2)
		}
		// outsb with TF: ExitInOutStr, the caller finishes it, then the trap.
		c, ram = dbgGuest(t, long, []byte{0x6e, 0x90, 0xf4}, hdlPlain(long))
		mustOK(t, c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2|flagTF))
		run(t, c, 10, ExitInOutStr)
		haltAt(t, c, dbgHandler, "step after OUTS")
		if ret, fl := pushed(c, ram, long); ret != codeBase+1 || fl&rfBit != 0 {
			t.Errorf("trap rip %#x rflags %#x, want %#x", ret, fl, codeBase+1)
		}
		if d6 := reg(t, c, abi.VM_REG_GUEST_DR6); d6 != dr6Reset|dr6BS {
			t.Errorf("DR6 %#x", d6)
		}
	})
}

// Random instruction bytes in every mode with breakpoints armed where
// the bytes will execute and the registers point (instruction, data of
// every length and kind, the stack): no internal error, no hang, as
// TestRandomBytesNoInternalError demands without them.
func TestDebugRandomBytesArmed(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 1500
	}
	for _, mode := range fuzzModes {
		t.Run(mode, func(t *testing.T) {
			g := newFuzzGuest(t, mode)
			rng := rand.New(rand.NewPCG(11, 12))
			var code [48]byte
			for i := 0; i < n; i++ {
				for j := range code {
					code[j] = byte(rng.Uint32())
				}
				if rng.IntN(2) == 0 {
					code[0] = 0x0f
				}
				c := g.c
				c.dr[0] = c.csBase + g.at + uint64(rng.IntN(8))
				c.dr[1] = dataBase + uint64(rng.IntN(0x40))
				c.dr[2] = stackTop - uint64(rng.IntN(32))
				c.dr[3] = dataBase + uint64(rng.IntN(0x40))
				c.dr[6] = dr6Reset
				c.dr[7] = 0x400 | uint64(rng.Uint32())&0xffff00ff
				c.dbgUpdate()
				g.runBytes(t, code[:], func(int) uint64 { return dataBase + uint64(rng.IntN(0x40)) })
			}
		})
	}
}

// BenchmarkDebugArmed is what armed breakpoints cost a store loop
// (mov %eax,(%ebx); mov %eax,0x1000(%ebx); dec %ecx; jnz): nothing
// armed, an instruction breakpoint elsewhere (every block entry is
// checked), a data breakpoint on another page, and one on the page the
// first store writes (other bytes: that store takes the slow path).
func BenchmarkDebugArmed(b *testing.B) {
	body := []byte{0x89, 0x03, 0x89, 0x83, 0x00, 0x10, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xf4, 0xf4}
	for _, bc := range []struct {
		name string
		dr0  uint64
		dr7  uint32
	}{
		{"none", 0, 0},
		{"exec elsewhere", codeBase + 0x4000, dr7L(0)},
		{"data other page", dataBase + 0x8000, dr7L(0) | dr7RW(0, rwRW) | dr7LEN(0, len4)},
		{"data same page", dataBase + 0x800, dr7L(0) | dr7RW(0, rwRW) | dr7LEN(0, len4)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, _ := newGuest(b, body)
			mustOK(b, c.SetReg(abi.VM_REG_GUEST_DR0, bc.dr0))
			mustOK(b, c.SetReg(abi.VM_REG_GUEST_DR7, uint64(0x400|bc.dr7)))
			const iters = 10000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.rip, c.r[rBX], c.r[rCX] = codeBase, dataBase, iters
				if ex := c.Run(1 << 20); ex.Reason != ExitHLT {
					b.Fatalf("exit %v", ex.Reason)
				}
			}
			b.ReportMetric(float64(4*iters+1)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MIPS")
		})
	}
}

// An instruction with both an instruction breakpoint and a data
// breakpoint on what it stores: first the fault before it (B0); the
// handler's RF gets it past that, and it then owes the data trap after
// it (B1; B0 still set), not the instruction breakpoint again.
func TestDebugInstructionAndDataBreakpoint(t *testing.T) {
	forModes(t, func(t *testing.T, long bool) {
		x := uint32(codeBase + 24 + 5)
		code := cat(movDR(0, x), movDR(1, dataBase), movDR(7, 0x400|dr7L(0)|dr7L(1)|dr7RW(1, rwWrite)|dr7LEN(1, len4)),
			movImm(rBX, dataBase), []byte{0x89, 0x03, 0xf4}) // x: mov %eax, (%ebx); hlt
		c, ram := dbgGuest(t, long, code, hdlRF(long))
		haltAt(t, c, dbgHandler, "instruction breakpoint")
		if ret, _ := pushed(c, ram, long); ret != uint64(x) || reg(t, c, abi.VM_REG_GUEST_DR6) != dr6Reset|1 {
			t.Fatalf("first #DB rip %#x DR6 %#x, want %#x B0", ret, reg(t, c, abi.VM_REG_GUEST_DR6), x)
		}
		haltAt(t, c, dbgHandler, "data breakpoint")
		if ret, _ := pushed(c, ram, long); ret != uint64(x)+2 || reg(t, c, abi.VM_REG_GUEST_DR6) != dr6Reset|3 {
			t.Errorf("second #DB rip %#x DR6 %#x, want %#x B0|B1", ret, reg(t, c, abi.VM_REG_GUEST_DR6), x+2)
		}
		haltAt(t, c, uint64(x)+2, "after both")
	})
}
