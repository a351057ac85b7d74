package cpu

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// Rows of 16-bit protected mode that only real-mode runs had checked:
// real mode loads segment registers without descriptors, has no IDT
// gates, no privilege and a 16-bit stack, so it says nothing about a
// 16-bit code segment in protected mode (isacov_test.go verifyDecoded
// therefore no longer counts real-mode and virtual-8086 code). Each case
// is a CPL-0 guest in sysGuest(16) (CS = selCode16, SS the 32-bit flat
// selData32, so ESP is the stack pointer, unless a case loads a 16-bit
// SS), with its results written out by hand from the SDM's "Operation"
// sections.

const (
	pm16Data  = 0xe0 // data, base 0x123000, limit 0xffff
	pm16Stack = 0xe8 // 16-bit stack (B = 0), base 0, limit 0xffff
)

func pm16Guest(c *CPU, ram *testRAM) {
	ram.w64(0x5000+pm16Data, mkDesc(0x123000, 0xffff, 0x92, 0))
	ram.w64(0x5000+pm16Stack, mkDesc(0, 0xffff, 0x92, 0))
	c.gdtr.limit = pm16Stack + 7
}

// stackWords checks the words (or, with sz 4, doublewords) at ESP
// upwards and ESP itself.
func stackWords(c *CPU, ram *testRAM, esp uint64, sz int, want ...uint64) string {
	if uint32(c.r[rSP]) != uint32(esp) {
		return fmt.Sprintf("esp %#x, want %#x", uint32(c.r[rSP]), esp)
	}
	for i, w := range want {
		a := esp + uint64(i*sz)
		got := uint64(ram.r16(a))
		if sz == 4 {
			got = uint64(ram.r32(a))
		}
		if got != w {
			return fmt.Sprintf("stack+%d %#x, want %#x", i*sz, got, w)
		}
	}
	return ""
}

func pm16Cases() []sysCase {
	const at, sp0 = 0x8000, stackTop
	var cases []sysCase
	add := func(k sysCase) {
		setup := k.setup
		k.setup = func(c *CPU, ram *testRAM) {
			pm16Guest(c, ram)
			if setup != nil {
				setup(c, ram)
			}
		}
		cases = append(cases, k)
	}
	end := func(code []byte) uint64 { return at + uint64(len(code)) }
	// PUSH: a word without 66, a doubleword with it; segment registers
	// push their selector as a word (SDM PUSH).
	push := []byte{0x50, 0x66, 0x50, 0xff, 0x37, 0x68, 0x34, 0x12, 0x66, 0x68, 0x78, 0x56, 0x34, 0x12,
		0x1e, 0x06, 0x16, 0x0f, 0xa0, 0x0f, 0xa8}
	add(sysCase{rows: []string{"PUSH r16op", "PUSH r32op", "PUSH r/m16", "PUSH imm16", "PUSH imm32",
		"PUSH DS", "PUSH ES", "PUSH SS", "PUSH FS", "PUSH GS"}, code: push,
		setup: func(c *CPU, ram *testRAM) {
			c.r[rAX], c.r[rBX] = 0xdead1234, 0xa000
			ram.w16(0xa000, 0xbeef)
			c.seg[segES].sel, c.seg[segFS].sel, c.seg[segGS].sel = 0x60, 0x48, 0x40
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if m := stackWords(c, ram, sp0-24, 2, 0x40, 0x48, 0x10, 0x60, 0x10, 0x5678, 0x1234, 0x1234, 0xbeef, 0x1234, 0xdead, 0x1234); m != "" {
				return m
			}
			return haltedAt(ex, end(push))
		}})
	// PUSHA/PUSHAD and POPA/POPAD (pushaCase, popaCase).
	add(pushaCase("PUSHA", []byte{0x60}, 2, at))
	add(pushaCase("PUSHAD", []byte{0x66, 0x60}, 4, at))
	add(popaCase("POPA", []byte{0x61}, 2, at))
	add(popaCase("POPAD", []byte{0x66, 0x61}, 4, at))
	// PUSHFD stores EFLAGS with VM and RF cleared; POPF loads FLAGS[15:0]
	// (IOPL, IF at CPL 0) and keeps the high half; POPFD at CPL 0 loads
	// all but VIP, VIF (kept) and VM, and clears RF (SDM PUSHF, POPF).
	add(sysCase{rows: []string{"PUSHFD"}, code: []byte{0x66, 0x9c},
		setup: func(c *CPU, _ *testRAM) { c.setRflags(2 | flagCF | flagZF | flagAC | flagID | flagRF) },
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if m := stackWords(c, ram, sp0-4, 4, 2|flagCF|flagZF|flagAC|flagID); m != "" {
				return m
			}
			return haltedAt(ex, at+2)
		}})
	add(sysCase{rows: []string{"POPF"}, code: []byte{0x9d},
		setup: func(c *CPU, ram *testRAM) {
			c.setRflags(2 | flagAC)
			c.r[rSP] = sp0 - 2
			ram.w16(sp0-2, 0xf6d5) // bit 15 (reserved), NT, IOPL 3, DF, IF, SF ZF AF PF CF
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.rflags() != 0x76d7|flagAC || uint32(c.r[rSP]) != sp0 {
				return fmt.Sprintf("eflags %#x esp %#x, want %#x", c.rflags(), c.r[rSP], 0x76d7|flagAC)
			}
			return haltedAt(ex, at+1)
		}})
	add(sysCase{rows: []string{"POPFD"}, code: []byte{0x66, 0x9d},
		setup: func(c *CPU, ram *testRAM) {
			c.setRflags(2 | flagVIP)
			c.r[rSP] = sp0 - 4
			ram.w32(sp0-4, uint32(flagID|flagVIF|flagAC|flagVM|flagRF|0x36d5))
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if want := uint64(2 | flagID | flagVIP | flagAC | 0x36d5); c.rflags() != want || uint32(c.r[rSP]) != sp0 {
				return fmt.Sprintf("eflags %#x esp %#x, want %#x", c.rflags(), c.r[rSP], want)
			}
			return haltedAt(ex, at+2)
		}})
	// POP r/m16, POP r32, POP DS/ES/SS: segment pops load the descriptor
	// (SDM POP).
	pops := []byte{0x8f, 0x07, 0x66, 0x58, 0x1f, 0x07, 0x17}
	add(sysCase{rows: []string{"POP r/m16", "POP r32op", "POP DS", "POP ES", "POP SS"}, code: pops,
		setup: func(c *CPU, ram *testRAM) {
			c.r[rBX], c.r[rSP] = 0xa000, sp0-12
			ram.w16(sp0-12, 0xbeef)
			ram.w32(sp0-10, 0xcafe1234)
			ram.w16(sp0-6, pm16Data)
			ram.w16(sp0-4, pm16Data)
			ram.w16(sp0-2, selData32)
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			want := seg{sel: pm16Data, base: 0x123000, limit: 0xffff, access: 0x93}
			if ram.r16(0xa000) != 0xbeef || uint32(c.r[rAX]) != 0xcafe1234 || c.seg[segDS] != want || c.seg[segES] != want ||
				c.seg[segSS].sel != selData32 || uint32(c.r[rSP]) != sp0 {
				return fmt.Sprintf("[bx] %#x eax %#x ds %+v es %+v ss %#x esp %#x", ram.r16(0xa000), c.r[rAX], c.seg[segDS], c.seg[segES], c.seg[segSS].sel, c.r[rSP])
			}
			return haltedAt(ex, end(pops))
		}})
	// MOV Sreg loads the descriptor; MOV r16/m16, Sreg stores the
	// selector as a word, keeping bits 31:16 of a register (SDM MOV).
	movs := []byte{0x8e, 0x07, 0x8e, 0xd8, 0x8c, 0xd9, 0x8c, 0x1f} // mov es, [bx]; mov ds, ax; mov cx, ds; mov [bx], ds
	add(sysCase{rows: []string{"MOV Sreg, r/m16", "MOV r/m16, Sreg"}, code: movs,
		setup: func(c *CPU, ram *testRAM) {
			c.r[rAX], c.r[rBX], c.r[rCX] = 0xffff0000|pm16Data, 0xa000, 0xffffffff
			ram.w16(0xa000, pm16Data)
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			want := seg{sel: pm16Data, base: 0x123000, limit: 0xffff, access: 0x93}
			if c.seg[segDS] != want || c.seg[segES] != want || uint32(c.r[rCX]) != 0xffff0000|pm16Data || ram.r16(0x123000+0xa000) != pm16Data {
				return fmt.Sprintf("ds %+v es %+v ecx %#x ds:[bx] %#x", c.seg[segDS], c.seg[segES], c.r[rCX], ram.r16(0x12d000))
			}
			return haltedAt(ex, end(movs))
		}})
	// MOV CRn is 32-bit whatever the operand size (SDM MOV CR).
	add(sysCase{rows: []string{"MOV CR0-CR7, rmf32", "MOV rmf32, CR0-CR7"}, code: []byte{0x0f, 0x22, 0xd0, 0x0f, 0x20, 0xd3},
		setup: func(c *CPU, _ *testRAM) { c.r[rAX], c.r[rBX] = 0x12345678, 0 },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if uint32(c.r[rBX]) != 0x12345678 || c.cr2 != 0x12345678 {
				return fmt.Sprintf("ebx %#x cr2 %#x", c.r[rBX], c.cr2)
			}
			return haltedAt(ex, at+6)
		}})
	// CLI and STI at CPL 0 (SDM CLI, STI).
	add(sysCase{rows: []string{"CLI"}, code: []byte{0xfa}, setup: func(c *CPU, _ *testRAM) { c.setRflags(2 | flagIF | flagCF) },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.rflags() != 2|flagCF {
				return fmt.Sprintf("eflags %#x", c.rflags())
			}
			return haltedAt(ex, at+1)
		}})
	add(sysCase{rows: []string{"STI"}, code: []byte{0xfb}, setup: func(c *CPU, _ *testRAM) { c.setRflags(2 | flagCF) },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.rflags() != 2|flagCF|flagIF {
				return fmt.Sprintf("eflags %#x", c.rflags())
			}
			return haltedAt(ex, at+1)
		}})
	// Near branches: a 16-bit operand size wraps the target to 16 bits
	// (EIP bits 31:16 cleared); CALL pushes the return offset at the
	// operand size, RET pops it and releases imm16 more bytes (SDM JMP,
	// CALL, RET).
	for _, k := range []struct {
		rows   []string
		code   []byte
		target uint64
		ax     uint64
		pushed []uint64 // the stack words (or doublewords, sz 4) after the run
		sz     int
		stack  []uint64 // words at ESP before the run
		esp    uint64
	}{
		{[]string{"JMP rel8"}, []byte{0xeb, 0x10}, 0x8012, 0, nil, 2, nil, sp0},
		{[]string{"JMP rel16"}, []byte{0xe9, 0xfd, 0x80}, 0x0100, 0, nil, 2, nil, sp0}, // 0x8003 + 0x80fd wraps to 0x100
		{[]string{"JMP r/m16"}, []byte{0xff, 0xe0}, 0x9000, 0xffff9000, nil, 2, nil, sp0},
		{[]string{"CALL rel16"}, []byte{0xe8, 0xfd, 0x0f}, 0x9000, 0, []uint64{0x8003}, 2, nil, sp0 - 2},
		{[]string{"CALL rel32"}, []byte{0x66, 0xe8, 0xfa, 0x0f, 0x00, 0x00}, 0x9000, 0, []uint64{0x8006}, 4, nil, sp0 - 4},
		{[]string{"CALL r/m16"}, []byte{0xff, 0xd0}, 0x9000, 0xffff9000, []uint64{0x8002}, 2, nil, sp0 - 2},
		{[]string{"RET"}, []byte{0xc3}, 0x9000, 0, nil, 2, []uint64{0x9000}, sp0},
		{[]string{"RET imm16u"}, []byte{0xc2, 0x08, 0x00}, 0x9000, 0, nil, 2, []uint64{0x9000}, sp0 + 8},
		// Far: CS:IP as words; the 16-bit code segment selCode16 (0x38).
		{[]string{"LJMP ptr16:16"}, []byte{0xea, 0x00, 0x90, 0x38, 0x00}, 0x9000, 0, nil, 2, nil, sp0},
		{[]string{"LJMP m16:16"}, []byte{0xff, 0x2f}, 0x9000, 0, nil, 2, nil, sp0},
		{[]string{"LCALL ptr16:16"}, []byte{0x9a, 0x00, 0x90, 0x38, 0x00}, 0x9000, 0, []uint64{0x8005, 0x38}, 2, nil, sp0 - 4},
		{[]string{"LCALL m16:16"}, []byte{0xff, 0x1f}, 0x9000, 0, []uint64{0x8002, 0x38}, 2, nil, sp0 - 4},
		{[]string{"LRET"}, []byte{0xcb}, 0x9000, 0, nil, 2, []uint64{0x9000, 0x38}, sp0},
		{[]string{"LRET imm16u"}, []byte{0xca, 0x04, 0x00}, 0x9000, 0, nil, 2, []uint64{0x9000, 0x38}, sp0 + 4},
	} {
		k := k
		add(sysCase{rows: k.rows, code: k.code,
			setup: func(c *CPU, ram *testRAM) {
				c.r[rAX], c.r[rBX] = k.ax, 0xa000
				ram.w32(0xa000, 0x00389000) // m16:16 = 0x38:0x9000
				ram.b[k.target] = 0xf4
				c.r[rSP] = sp0 - uint64(2*len(k.stack))
				for i, w := range k.stack {
					ram.w16(c.r[rSP]+uint64(2*i), uint16(w))
				}
				c.seg[segCS].sel = selCode16 // as the GDT has it: a far transfer reloads it
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				if m := stackWords(c, ram, k.esp, k.sz, k.pushed...); m != "" {
					return m
				}
				if c.seg[segCS].sel != selCode16 || c.seg[segCS].limit != 0xffff || c.seg[segCS].access&segDB != 0 {
					return fmt.Sprintf("cs %+v", c.seg[segCS])
				}
				return haltedAt(ex, k.target)
			}})
	}
	// ENTER on a 16-bit stack (SS.B = 0): BP pushed at SS:SP-2, BP =
	// the frame, SP lowered by the size; nesting level 1 also pushes the
	// frame pointer; bits 31:16 of ESP and EBP stay (SDM ENTER).
	for _, k := range []struct {
		code       []byte
		bp, sp     uint64
		wantStack  []uint64
		wantStackA uint64
	}{
		{[]byte{0xc8, 0x08, 0x00, 0x00}, 0xfefe, 0xfef6, []uint64{0x5555}, 0xfefe},
		{[]byte{0xc8, 0x08, 0x00, 0x01}, 0xfefe, 0xfef4, []uint64{0xfefe, 0x5555}, 0xfefc},
	} {
		k := k
		add(sysCase{rows: []string{"ENTER imm16u, imm8u"}, code: k.code,
			setup: func(c *CPU, _ *testRAM) {
				c.seg[segSS] = seg{sel: pm16Stack, limit: 0xffff, access: 0x93}
				c.modeChanged()
				c.r[rSP], c.r[rBP] = 0x1234ff00, 0xabcd5555
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				if uint32(c.r[rSP]) != 0x12340000|uint32(k.sp) || uint32(c.r[rBP]) != 0xabcd0000|uint32(k.bp) {
					return fmt.Sprintf("esp %#x ebp %#x, want SP %#x BP %#x", c.r[rSP], c.r[rBP], k.sp, k.bp)
				}
				for i, w := range k.wantStack {
					if got := ram.r16(k.wantStackA + uint64(2*i)); uint64(got) != w {
						return fmt.Sprintf("ss:[%#x] %#x, want %#x", k.wantStackA+uint64(2*i), got, w)
					}
				}
				return haltedAt(ex, end(k.code))
			}})
	}
	// INT n through newProt's 32-bit interrupt gate: a 32-bit frame with
	// the next IP and the 16-bit CS, IF cleared (SDM INT n; Vol. 3
	// "Interrupt and exception handling").
	add(sysCase{rows: []string{"INT imm8u"}, code: []byte{0xcd, 0x41},
		setup: func(c *CPU, _ *testRAM) { c.setRflags(2 | flagIF | flagCF) },
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if m := vectorFrameIn(16, c, ram, ex, 0x41, at+2, false, 0); m != "" {
				return m
			}
			if _, _, cs := protFrame(c, ram, false); cs != selCode16 || ram.r32(uint64(uint32(c.r[rSP]))+8) != 2|flagIF|flagCF || c.rflags()&flagIF != 0 {
				return fmt.Sprintf("frame cs %#x eflags %#x, IF in the handler %v", cs, ram.r32(uint64(uint32(c.r[rSP]))+8), c.rflags()&flagIF != 0)
			}
			return ""
		}})
	// IRET with a 16-bit operand size pops IP, CS, FLAGS as words and
	// keeps EFLAGS[31:16] (SDM IRET).
	add(sysCase{rows: []string{"IRET"}, code: []byte{0xcf},
		setup: func(c *CPU, ram *testRAM) {
			c.setRflags(2 | flagAC)
			c.r[rSP] = sp0 - 6
			ram.w16(sp0-6, 0x9000)
			ram.w16(sp0-4, selCode16)
			ram.w16(sp0-2, 0x0ad5) // OF DF IF ... CF
			ram.b[0x9000] = 0xf4
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.rflags() != 0x0ad7|flagAC || uint32(c.r[rSP]) != sp0 || c.seg[segCS].sel != selCode16 {
				return fmt.Sprintf("eflags %#x esp %#x cs %#x", c.rflags(), c.r[rSP], c.seg[segCS].sel)
			}
			return haltedAt(ex, 0x9000)
		}})
	// INSB leaves Run with VM_EXITCODE_INOUT_STR: in, port DX, ES:DI
	// with a 16-bit address size (reference/vmm-interface.md §3.1).
	add(sysCase{rows: []string{"INSB"}, code: []byte{0x6c},
		setup: func(c *CPU, _ *testRAM) {
			c.r[rDX], c.r[rDI] = 0xabcd0060, 0x5a5a1234
			c.seg[segES].base = 0x40000
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			s := ex.Str
			if ex.Reason != ExitInOutStr || ex.RIP != at || ex.Port != 0x60 || ex.Bytes != 1 || !ex.In || s.Rep || s.AddrSize != 2 ||
				s.SegName != abi.VM_REG_GUEST_ES || s.Index != 0x5a5a1234 || s.Count != 1 || s.GLA != 0x41234 || c.rip != at+1 {
				return fmt.Sprintf("exit %v at %#x port %#x bytes %d in %v %+v", ex.Reason, ex.RIP, ex.Port, ex.Bytes, ex.In, s)
			}
			return ""
		}})
	return cases
}

func TestISAProt16Rows(t *testing.T) { runSysCasesIn(t, 16, pm16Cases()) }

// pushaRegs gives register i the value 0x11110000*(i+1) + 0x101*(i+1)
// (ESP aside).
func pushaRegs(c *CPU) {
	for i := 0; i < 8; i++ {
		if i != rSP {
			c.r[i] = uint64(0x11110000*(i+1) + 0x101*(i+1))
		}
	}
}

// pushaCase: PUSHA (sz 2) or PUSHAD (4) from ESP = stackTop pushes AX CX
// DX BX, the original SP, BP SI DI at the operand size (SDM PUSHA).
func pushaCase(row string, code []byte, sz int, at uint64) sysCase {
	return sysCase{rows: []string{row}, code: code, setup: func(c *CPU, _ *testRAM) { pushaRegs(c) },
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			want := []uint64{0x88880808, 0x77770707, 0x66660606, stackTop, 0x44440404, 0x33330303, 0x22220202, 0x11110101}
			if sz == 2 {
				for i := range want {
					want[i] &= 0xffff
				}
			}
			if m := stackWords(c, ram, stackTop-8*uint64(sz), sz, want...); m != "" {
				return m
			}
			return haltedAt(ex, at+uint64(len(code)))
		}}
}

// popaCase: POPA (sz 2) or POPAD (4) pops DI SI BP, skips the SP slot,
// then BX DX CX AX; a word pop keeps bits 31:16 (SDM POPA).
func popaCase(row string, code []byte, sz uint64, at uint64) sysCase {
	return sysCase{rows: []string{row}, code: code,
		setup: func(c *CPU, ram *testRAM) {
			pushaRegs(c)
			c.r[rSP] = stackTop - 8*sz
			for i := uint64(0); i < 8; i++ {
				v := 0xa0a0a0a0 + i*0x01010101
				for b := uint64(0); b < sz; b++ {
					ram.b[stackTop-8*sz+i*sz+b] = byte(v >> (8 * b))
				}
			}
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			for i, r := range []int{rDI, rSI, rBP, -1, rBX, rDX, rCX, rAX} {
				if r < 0 {
					continue
				}
				v := uint32(0xa0a0a0a0 + uint64(i)*0x01010101)
				if sz == 2 {
					v = uint32(0x11110000*(r+1))&0xffff0000 | v&0xffff
				}
				if uint32(c.r[r]) != v {
					return fmt.Sprintf("r%d %#x, want %#x", r, uint32(c.r[r]), v)
				}
			}
			if uint32(c.r[rSP]) != stackTop {
				return fmt.Sprintf("esp %#x", c.r[rSP])
			}
			return haltedAt(ex, at+uint64(len(code)))
		}}
}
