package cpu

import (
	"fmt"
	"testing"
)

// Guest tests for the 64-bit system and I/O rows the host cannot run in
// ring 3 (isadiff_test.go rowNotNative). Each checks the SDM's stated
// result at CPL 0 and records its x86.csv rows with markVerified for the
// coverage report; the file sorts before isacov_test.go so that `make
// isa-coverage` (the whole package) sees the records.

// TestISASystemRowsByExistingTests reruns the package's older system
// tests and records the rows each one checks.
func TestISASystemRowsByExistingTests(t *testing.T) {
	for _, e := range []struct {
		name string
		test func(*testing.T)
		rows []string
	}{
		{"SyscallSysret", TestSyscallSysret, []string{"SYSCALL", "SYSRET", "RDMSR", "WRMSR", "HLT"}},
		{"IntIret", TestIntIret, []string{"INT imm8u", "IRETQ"}},
		{"DescriptorTables", TestDescriptorTables, []string{"LGDT m16&64", "LIDT m16&64", "SGDT m", "SIDT m"}},
		{"ControlRegisters", TestControlRegisters, []string{"MOV CR0-CR7, rmf64", "MOV rmf64, CR0-CR7"}},
		{"InterruptShadow", TestInterruptShadow, []string{"STI"}},
		{"SegmentBases", TestSegmentBases, []string{"SWAPGS"}},
		{"PagingInvlpgAndCR3", TestPagingInvlpgAndCR3, []string{"INVLPG m"}},
		{"CPUID", TestCPUID, []string{"CPUID"}},
	} {
		if t.Run(e.name, e.test) {
			for _, r := range e.rows {
				markVerified(64, r)
			}
		}
	}
}

// sysCase is one guest program at CPL 0 with its expected outcome.
type sysCase struct {
	rows  []string
	code  []byte
	setup func(c *CPU, ram *testRAM)
	check func(c *CPU, ram *testRAM, ex Exit) string // "" when right
}

func runSysCases(t *testing.T, cases []sysCase) {
	for _, k := range cases {
		t.Run(k.rows[0], func(t *testing.T) {
			c, ram := withHandlers(t, append(append([]byte{}, k.code...), 0xf4))
			if k.setup != nil {
				k.setup(c, ram)
			}
			ex := c.Run(100)
			if msg := k.check(c, ram, ex); msg != "" {
				t.Fatalf("% x: %s (exit %v at %#x)", k.code, msg, ex.Reason, ex.RIP)
			}
			for _, r := range k.rows {
				markVerified(64, r)
			}
		})
	}
}

func haltedAt(ex Exit, rip uint64) string {
	if ex.Reason != ExitHLT || ex.RIP != rip {
		return fmt.Sprintf("want HLT at %#x", rip)
	}
	return ""
}

// The vector v handler ran with frame RIP want.
func vectorFrame(c *CPU, ram *testRAM, ex Exit, v uint64, want uint64, hasErr bool, wantErr uint64) string {
	if m := haltedAt(ex, handlerVA+v*16); m != "" {
		return m
	}
	e, f := frame(c, ram, hasErr)
	if f[0] != want || hasErr && e != wantErr {
		return fmt.Sprintf("frame rip %#x err %#x, want %#x, %#x", f[0], e, want, wantErr)
	}
	return ""
}

func TestISASystemRows(t *testing.T) {
	end := func(code []byte) uint64 { return codeBase + uint64(len(code)) }
	var cases []sysCase
	add := func(k sysCase) { cases = append(cases, k) }
	// CLI clears IF (SDM CLI, CPL 0); PUSHFQ shows it.
	add(sysCase{rows: []string{"CLI"}, code: []byte{0xfa, 0x9c, 0x58},
		setup: func(c *CPU, _ *testRAM) { c.setRflags(0x202) },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.r[rAX]&flagIF != 0 || c.rflags()&flagIF != 0 {
				return "IF still set"
			}
			return haltedAt(ex, codeBase+3)
		}})
	// CLTS clears CR0.TS only (SDM CLTS).
	add(sysCase{rows: []string{"CLTS"}, code: []byte{0x0f, 0x06},
		setup: func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS | cr0MP },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.cr0&cr0TS != 0 || c.cr0&cr0MP == 0 {
				return fmt.Sprintf("cr0 %#x", c.cr0)
			}
			return haltedAt(ex, codeBase+2)
		}})
	// INT1 (F1) and INT3 are traps: the frame holds the next RIP.
	add(sysCase{rows: []string{"ICEBP"}, code: []byte{0xf1},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrame(c, ram, ex, vecDB, codeBase+1, false, 0)
		}})
	add(sysCase{rows: []string{"INT 3"}, code: []byte{0xcc},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrame(c, ram, ex, vecBP, codeBase+1, false, 0)
		}})
	// INVD and WBINVD: no caches are modelled; they retire at CPL 0.
	for _, k := range []struct {
		row  string
		code []byte
	}{{"INVD", []byte{0x0f, 0x08}}, {"WBINVD", []byte{0x0f, 0x09}}} {
		code := k.code
		add(sysCase{rows: []string{k.row}, code: code,
			check: func(c *CPU, _ *testRAM, ex Exit) string { return haltedAt(ex, end(code)) }})
	}
	// LMSW loads PE MP EM TS from the low four bits but cannot clear PE
	// (SDM LMSW).
	add(sysCase{rows: []string{"LMSW r/m16"}, code: []byte{0x0f, 0x01, 0xf0}, // lmsw ax
		setup: func(c *CPU, _ *testRAM) { c.r[rAX] = 0xfffe },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.cr0&0xf != cr0PE|cr0TS|cr0EM|cr0MP {
				return fmt.Sprintf("cr0 %#x", c.cr0)
			}
			return haltedAt(ex, codeBase+3)
		}})
	// MOV DRn both ways: mov dr1, rax; mov rbx, dr1.
	add(sysCase{rows: []string{"MOV DR0-DR7, rmf64", "MOV rmf64, DR0-DR7"}, code: []byte{0x0f, 0x23, 0xc8, 0x0f, 0x21, 0xcb},
		setup: func(c *CPU, _ *testRAM) { c.r[rAX] = 0x12345678 },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.r[rBX] != 0x12345678 || c.dr[1] != 0x12345678 {
				return fmt.Sprintf("rbx %#x dr1 %#x", c.r[rBX], c.dr[1])
			}
			return haltedAt(ex, codeBase+6)
		}})
	// MOV to and from segment registers, register and memory forms, each
	// operand size: a register destination is zero-extended, a memory one
	// is a word (SDM MOV).
	movSeg := []byte{
		0x66, 0x8e, 0xd8, // mov ds, ax
		0x8e, 0xc0, // mov es, eax
		0x48, 0x8e, 0xe0, // mov fs, rax
		0x8e, 0x2b, // mov gs, [rbx]
		0x66, 0x8c, 0xd9, // mov cx, ds
		0x8c, 0xc2, // mov edx, es
		0x48, 0x8c, 0xe6, // mov rsi, fs
		0x8c, 0x6b, 0x08, // mov [rbx+8], gs
	}
	add(sysCase{rows: []string{"MOV Sreg, r/m16", "MOV Sreg, r32/m16", "MOV Sreg, r64/m16", "MOV r/m16, Sreg", "MOV r32/m16, Sreg", "MOV r64/m16, Sreg"},
		code: movSeg,
		setup: func(c *CPU, ram *testRAM) {
			c.r[rAX], c.r[rBX], c.r[rCX], c.r[rDX], c.r[rSI] = 0x10, dataBase, ^uint64(0), ^uint64(0), ^uint64(0)
			ram.w64(dataBase, 0x10)
			ram.w64(dataBase+8, ^uint64(0))
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			for _, s := range []int{segDS, segES, segFS, segGS} {
				if c.seg[s].sel != 0x10 {
					return fmt.Sprintf("seg %d sel %#x", s, c.seg[s].sel)
				}
			}
			if c.r[rCX] != 0xffffffffffff0010 || c.r[rDX] != 0x10 || c.r[rSI] != 0x10 || ram.r64(dataBase+8) != 0xffffffffffff0010 {
				return fmt.Sprintf("cx %#x edx %#x rsi %#x mem %#x", c.r[rCX], c.r[rDX], c.r[rSI], ram.r64(dataBase+8))
			}
			return haltedAt(ex, end(movSeg))
		}})
	// PUSH/POP FS and GS: 8-byte slots in 64-bit mode, 2 with 66.
	pushPop := []byte{0x0f, 0xa0, 0x0f, 0xa9, 0x66, 0x0f, 0xa8, 0x66, 0x0f, 0xa1} // push fs; pop gs; push gs (16); pop fs (16)
	add(sysCase{rows: []string{"PUSH FS", "PUSH GS", "POP FS", "POP GS"}, code: pushPop,
		setup: func(c *CPU, _ *testRAM) { c.seg[segFS].sel, c.seg[segGS].sel = 0x10, 0 },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.seg[segGS].sel != 0x10 || c.seg[segFS].sel != 0x10 || c.r[rSP] != stackTop {
				return fmt.Sprintf("fs %#x gs %#x rsp %#x", c.seg[segFS].sel, c.seg[segGS].sel, c.r[rSP])
			}
			return haltedAt(ex, end(pushPop))
		}})
	// RDPMC: no counters in softvmm's model (no CPUID leaf 0AH): #GP(0).
	add(sysCase{rows: []string{"RDPMC"}, code: []byte{0x0f, 0x33},
		check: func(c *CPU, ram *testRAM, ex Exit) string { return vectorFrame(c, ram, ex, vecGP, codeBase, true, 0) }})
	// RDTSC reads the virtual clock, instructions retired (sys.go tsc):
	// two reads one instruction apart differ by 2 (the first RDTSC and the
	// MOV retire in between), inside one decoded block.
	add(sysCase{rows: []string{"RDTSC"}, code: []byte{0x0f, 0x31, 0x89, 0xc3, 0x0f, 0x31},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.r[rAX]-c.r[rBX] != 2 || c.r[rDX] != 0 {
				return fmt.Sprintf("tsc %#x then %#x", c.r[rBX], c.r[rAX])
			}
			return haltedAt(ex, codeBase+6)
		}})
	// RDTSCP: EDX:EAX as RDTSC, ECX = IA32_TSC_AUX (written by WRMSR;
	// SDM RDTSCP).
	rdtscp := []byte{
		0xb9, 0x03, 0x01, 0x00, 0xc0, // mov ecx, TSC_AUX
		0xb8, 0x07, 0x00, 0x00, 0x00, // mov eax, 7
		0x31, 0xd2, // xor edx, edx
		0x0f, 0x30, // wrmsr (ends the block: retired 4)
		0x0f, 0x01, 0xf9, // rdtscp
	}
	add(sysCase{rows: []string{"RDTSCP"}, code: rdtscp,
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.r[rCX] != 7 || c.r[rAX] != 4 || c.r[rDX] != 0 {
				return fmt.Sprintf("ecx %#x eax %#x edx %#x", c.r[rCX], c.r[rAX], c.r[rDX])
			}
			return haltedAt(ex, end(rdtscp))
		}})
	// IRETD and 16-bit IRET in 64-bit mode pop 4- and 2-byte slots,
	// zero-extended, SS:RSP included (SDM IRET); 16-bit IRET loads only
	// FLAGS[15:0], so AC (bit 18) survives.
	for _, k := range []struct {
		row            string
		code           []byte
		sz             uint64
		target, newRSP uint64 // within the slot size
	}{{"IRETD", []byte{0xcf}, 4, codeBase + 0x40, stackTop - 0x40}, {"IRET", []byte{0x66, 0xcf}, 2, 0x8000, 0xf000}} {
		k := k
		target := k.target
		add(sysCase{rows: []string{k.row}, code: k.code,
			setup: func(c *CPU, ram *testRAM) {
				// IRET loads SS 0x10 and checks it is writable data
				// (SDM IRET); bhyveload's GDT entry is read-only.
				ram.w64(0x5010, 0x0000920000000000)
				c.setRflags(2 | flagAC)
				sp := uint64(stackTop - 0x100)
				c.r[rSP] = sp
				for i, v := range []uint64{target, 8, 0x2c3 | 0xff0000, k.newRSP, 0x10} {
					for b := uint64(0); b < k.sz; b++ {
						ram.b[sp+uint64(i)*k.sz+b] = byte(v >> (8 * b))
					}
				}
				ram.b[target] = 0xf4
			},
			check: func(c *CPU, _ *testRAM, ex Exit) string {
				wantFl := uint64(0x2c3)
				if k.sz == 2 {
					wantFl |= flagAC
				} else {
					wantFl |= 0xff0000 & c.popfMask()
				}
				if c.r[rSP] != k.newRSP || c.rflags()&^uint64(flagRF) != wantFl || c.seg[segSS].sel != 0x10 {
					return fmt.Sprintf("rsp %#x rflags %#x (want %#x) ss %#x", c.r[rSP], c.rflags(), wantFl, c.seg[segSS].sel)
				}
				return haltedAt(ex, target)
			}})
	}
	// SLDT, STR, SMSW: register forms take the operand size (zero-
	// extended), memory a word.
	store := func(op byte, sub byte, val func(c *CPU) uint64, rows []string) {
		code := []byte{
			0x66, 0x0f, op, 0xc0 | sub<<3, // r16 -> ax
			0x0f, op, 0xc1 | sub<<3, // r32 -> ecx
			0x48, 0x0f, op, 0xc2 | sub<<3, // r64 -> rdx
			0x0f, op, 0x03 | sub<<3, // m16 -> [rbx]
		}
		add(sysCase{rows: rows, code: code,
			setup: func(c *CPU, ram *testRAM) {
				c.r[rAX], c.r[rCX], c.r[rDX], c.r[rBX] = ^uint64(0), ^uint64(0), ^uint64(0), dataBase
				ram.w64(dataBase, ^uint64(0))
				c.ldtr.sel, c.tr.sel = 0x28, 0x40
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				v := val(c)
				if c.r[rAX] != 0xffffffffffff0000|v&0xffff || c.r[rCX] != v&0xffffffff || c.r[rDX] != v ||
					ram.r64(dataBase) != 0xffffffffffff0000|v&0xffff {
					return fmt.Sprintf("ax %#x ecx %#x rdx %#x mem %#x, want %#x", c.r[rAX], c.r[rCX], c.r[rDX], ram.r64(dataBase), v)
				}
				return haltedAt(ex, end(code))
			}})
	}
	store(0x00, 0, func(c *CPU) uint64 { return 0x28 }, []string{"SLDT r/m16", "SLDT r32/m16", "SLDT r64/m16"})
	store(0x00, 1, func(c *CPU) uint64 { return 0x40 }, []string{"STR r/m16", "STR r32/m16", "STR r64/m16"})
	store(0x01, 4, func(c *CPU) uint64 { return c.cr0 }, []string{"SMSW r/m16", "SMSW r32/m16", "SMSW r64/m16"})
	runSysCases(t, cases)
}

// Every IN/OUT form exits to the host with its port, width and direction
// (reference/vmm-interface.md: VM_EXITCODE_INOUT), RIP past it, in 64-,
// 32- and 16-bit mode (CPL 0, so no I/O permission check).
func TestISAInOutRows(t *testing.T) {
	for _, k := range []struct {
		row   string
		code  []byte
		port  uint16
		bytes uint8
		in    bool
	}{
		{"IN AL, imm8u", []byte{0xe4, 0x71}, 0x71, 1, true},
		{"IN AX, imm8u", []byte{0x66, 0xe5, 0x72}, 0x72, 2, true},
		{"IN EAX, imm8u", []byte{0xe5, 0x73}, 0x73, 4, true},
		{"IN AL, DX", []byte{0xec}, 0x3f8, 1, true},
		{"IN AX, DX", []byte{0x66, 0xed}, 0x3f8, 2, true},
		{"IN EAX, DX", []byte{0xed}, 0x3f8, 4, true},
		{"OUT imm8u, AL", []byte{0xe6, 0x80}, 0x80, 1, false},
		{"OUT imm8u, AX", []byte{0x66, 0xe7, 0x81}, 0x81, 2, false},
		{"OUT imm8u, EAX", []byte{0xe7, 0x82}, 0x82, 4, false},
		{"OUT DX, AL", []byte{0xee}, 0x3f8, 1, false},
		{"OUT DX, AX", []byte{0x66, 0xef}, 0x3f8, 2, false},
		{"OUT DX, EAX", []byte{0xef}, 0x3f8, 4, false},
	} {
		for _, mode := range isaModes {
			code := k.code
			if mode == 16 { // 66 selects the other operand size
				if code[0] == 0x66 {
					code = code[1:]
				} else if k.bytes == 4 {
					code = append([]byte{0x66}, code...)
				}
			}
			c, ram, at := branchGuest(t, mode)
			copy(ram.b[at:], code)
			c.rip = at
			c.r[rDX] = 0xffff03f8
			c.r[rAX] = 0x1122334455667788
			ex := c.Run(10)
			want := Exit{Reason: ExitInOut, RIP: at, InstLen: len(code), Port: k.port, Bytes: k.bytes, In: k.in}
			if !k.in {
				want.EAX = uint32(0x55667788) & uint32(sizeMask[k.bytes])
			}
			ex.Insn = nil
			if !exitEq(ex, want) || c.rip != at+uint64(len(code)) {
				t.Errorf("%d-bit %s: exit %+v rip %#x, want %+v", mode, k.row, ex, c.rip, want)
				continue
			}
			markVerified(mode, k.row)
		}
	}
}
