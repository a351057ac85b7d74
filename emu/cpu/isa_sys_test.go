package cpu

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
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
		{"SyscallSysret", TestSyscallSysret, []string{"SYSCALL", "SYSRET", "WRMSR", "HLT"}}, // RDMSR: TestISAMsr64
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

// sysAt is where runSysCasesIn places a case's code in mode: branchGuest's
// code address (codeBase; 0x8000 in the 16-bit code segment).
func sysAt(mode int) uint64 {
	if mode == 16 {
		return 0x8000
	}
	return codeBase
}

// sysGuest is branchGuest's CPL-0 guest with a HLT stub for every vector
// at handlerVA+vector*16: 64-bit interrupt gates in long mode, newProt's
// 32-bit ones in 32- and 16-bit protected mode.
func sysGuest(t *testing.T, mode int) (*CPU, *testRAM) {
	c, ram, at := branchGuest(t, mode)
	if at != sysAt(mode) {
		t.Fatalf("branchGuest(%d) code at %#x, sysAt says %#x", mode, at, sysAt(mode))
	}
	if mode == 64 {
		setIDT(t, c, ram, handlerVA)
		for v := uint64(0); v < 256; v++ {
			ram.b[handlerVA+v*16] = 0xf4
		}
	}
	c.rip = at
	return c, ram
}

// runSysCases runs 64-bit cases (runSysCasesIn).
func runSysCases(t *testing.T, cases []sysCase) { runSysCasesIn(t, 64, cases) }

// runSysCasesIn runs each case's code, then HLT, at sysAt(mode) in
// sysGuest(mode), and marks its rows verified in mode when the check
// passes.
func runSysCasesIn(t *testing.T, mode int, cases []sysCase) {
	for _, k := range cases {
		t.Run(k.rows[0], func(t *testing.T) {
			c, ram := sysGuest(t, mode)
			copy(ram.b[sysAt(mode):], append(append([]byte{}, k.code...), 0xf4))
			if k.setup != nil {
				k.setup(c, ram)
			}
			ex := c.Run(100)
			if msg := k.check(c, ram, ex); msg != "" {
				t.Fatalf("%d-bit % x: %s (exit %v at %#x)", mode, k.code, msg, ex.Reason, ex.RIP)
			}
			for _, r := range k.rows {
				markVerified(mode, r)
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

// The vector v handler ran with frame RIP want (64-bit frame).
func vectorFrame(c *CPU, ram *testRAM, ex Exit, v uint64, want uint64, hasErr bool, wantErr uint64) string {
	return vectorFrameIn(64, c, ram, ex, v, want, hasErr, wantErr)
}

// vectorFrameIn is vectorFrame for sysGuest(mode): a 64-bit frame in
// long mode, a 32-bit one (newProt's gates) in 32- and 16-bit mode.
func vectorFrameIn(mode int, c *CPU, ram *testRAM, ex Exit, v uint64, want uint64, hasErr bool, wantErr uint64) string {
	if m := haltedAt(ex, handlerVA+v*16); m != "" {
		return m
	}
	var e, rip uint64
	if mode == 64 {
		var f [5]uint64
		e, f = frame(c, ram, hasErr)
		rip = f[0]
	} else {
		e32, eip, _ := protFrame(c, ram, hasErr)
		e, rip = uint64(e32), uint64(eip)
	}
	if rip != want || hasErr && e != wantErr {
		return fmt.Sprintf("frame rip %#x err %#x, want %#x, %#x", rip, e, want, wantErr)
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
	cases = append(cases, commonSysCases(64)...)
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
					// At CPL 0 a 32/64-bit IRET loads AC, ID, VIF and
					// VIP from the image; VM is ignored in 64-bit mode
					// and RF is masked above (SDM IRET).
					wantFl |= flagAC | flagID | flagVIF | flagVIP
				}
				if c.r[rSP] != k.newRSP || c.rflags()&^uint64(flagRF) != wantFl || c.seg[segSS].sel != 0x10 {
					return fmt.Sprintf("rsp %#x rflags %#x (want %#x) ss %#x", c.r[rSP], c.rflags(), wantFl, c.seg[segSS].sel)
				}
				return haltedAt(ex, target)
			}})
	}
	// SLDT, STR, SMSW: register forms take the operand size (zero-
	// extended), memory a word.
	store := func(op byte, sub byte, v uint64, rows []string) {
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
				c.cr0 = 0x8000002b // PG NE TS MP PE
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				if c.r[rAX] != 0xffffffffffff0000|v&0xffff || c.r[rCX] != v&0xffffffff || c.r[rDX] != v ||
					ram.r64(dataBase) != 0xffffffffffff0000|v&0xffff {
					return fmt.Sprintf("ax %#x ecx %#x rdx %#x mem %#x, want %#x", c.r[rAX], c.r[rCX], c.r[rDX], ram.r64(dataBase), v)
				}
				return haltedAt(ex, end(code))
			}})
	}
	store(0x00, 0, 0x28, []string{"SLDT r/m16", "SLDT r32/m16", "SLDT r64/m16"})
	store(0x00, 1, 0x40, []string{"STR r/m16", "STR r32/m16", "STR r64/m16"})
	// SMSW r32/r64 store the whole CR0 set in setup (SDM SMSW: bits
	// 63:32 of CR0 are zero), not a value read back from the CPU.
	store(0x01, 4, 0x8000002b, []string{"SMSW r/m16", "SMSW r32/m16", "SMSW r64/m16"})
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

// commonSysCases are the rows whose code and result are the same in
// every mode: only the code address and the frame size differ.
func commonSysCases(mode int) []sysCase {
	at := sysAt(mode)
	end := func(code []byte) uint64 { return at + uint64(len(code)) }
	var cases []sysCase
	add := func(k sysCase) { cases = append(cases, k) }
	// CLTS clears CR0.TS only (SDM CLTS).
	add(sysCase{rows: []string{"CLTS"}, code: []byte{0x0f, 0x06},
		setup: func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS | cr0MP },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.cr0&cr0TS != 0 || c.cr0&cr0MP == 0 {
				return fmt.Sprintf("cr0 %#x", c.cr0)
			}
			return haltedAt(ex, at+2)
		}})
	// INT1 (F1) and INT3 are traps: the frame holds the next EIP (SDM
	// INT n/INTO/INT3/INT1).
	add(sysCase{rows: []string{"ICEBP"}, code: []byte{0xf1},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrameIn(mode, c, ram, ex, vecDB, at+1, false, 0)
		}})
	add(sysCase{rows: []string{"INT 3"}, code: []byte{0xcc},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrameIn(mode, c, ram, ex, vecBP, at+1, false, 0)
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
	// RDPMC: no counters in softvmm's model (no CPUID leaf 0AH): #GP(0).
	add(sysCase{rows: []string{"RDPMC"}, code: []byte{0x0f, 0x33},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0)
		}})
	// DR6 and DR7 read their reserved bits as the SDM fixes them (Vol. 3
	// "Debug Registers", no RTM, no bus-lock detection): DR6 4-11 and 16-31
	// as 1, 12 as 0; DR7 10 as 1, 11, 12, 14, 15 as 0. DR7.GD stays clear
	// here: with it set the next MOV DR would be a #DB.
	drRows := []string{"MOV DR0-DR7, rmf32", "MOV rmf32, DR0-DR7"}
	if mode == 64 {
		drRows = []string{"MOV DR0-DR7, rmf64", "MOV rmf64, DR0-DR7"}
	}
	drFixed := []byte{0x0f, 0x23, 0xf0, 0x0f, 0x21, 0xf3, // mov dr6, eax; mov ebx, dr6
		0x0f, 0x23, 0xf9, 0x0f, 0x21, 0xfa, // mov dr7, ecx; mov edx, dr7
		0x0f, 0x23, 0xf1, 0x0f, 0x21, 0xf6} // mov dr6, ecx; mov esi, dr6
	add(sysCase{rows: drRows, code: drFixed,
		setup: func(c *CPU, _ *testRAM) { c.r[rAX], c.r[rCX] = 0, 0xffffdfff },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.r[rBX] != 0xffff0ff0 || c.r[rDX] != 0xffff07ff || c.r[rSI] != 0xffffcfff {
				return fmt.Sprintf("dr6 %#x dr7 %#x dr6 %#x, want 0xffff0ff0 0xffff07ff 0xffffcfff", c.r[rBX], c.r[rDX], c.r[rSI])
			}
			return haltedAt(ex, end(drFixed))
		}})
	// With CR4.DE set, DR4 and DR5 are #UD rather than DR6/DR7 aliases.
	for i, code := range [][]byte{{0x0f, 0x23, 0xe8}, {0x0f, 0x21, 0xe0}} { // mov dr5, eax; mov eax, dr4
		add(sysCase{rows: drRows[i : i+1], code: code,
			setup: func(c *CPU, _ *testRAM) { c.cr4 |= cr4DE },
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				return vectorFrameIn(mode, c, ram, ex, vecUD, at, false, 0)
			}})
	}
	if mode == 64 {
		// A 1 in bits 63:32 of DR6 or DR7 is #GP(0) (SDM MOV DR).
		for _, code := range [][]byte{{0x0f, 0x23, 0xf0}, {0x0f, 0x23, 0xf8}} { // mov dr6, rax; mov dr7, rax
			add(sysCase{rows: drRows[:1], code: code,
				setup: func(c *CPU, _ *testRAM) { c.r[rAX] = 1 << 32 },
				check: func(c *CPU, ram *testRAM, ex Exit) string { return vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0) }})
		}
	}
	return cases
}

// modrmBX is a ModRM byte naming [EBX] (32-bit addressing) or [BX]
// (16-bit addressing) with reg in bits 5:3.
func modrmBX(mode int, reg byte) byte {
	if mode == 16 {
		return reg<<3 | 7
	}
	return reg<<3 | 3
}

// legacySysCases are the CPL-0 rows checked in 32- and 16-bit protected
// mode: the 64-bit cases of TestISASystemRows re-encoded for the mode,
// with EIP and the 32-bit interrupt frames of newProt's IDT.
func legacySysCases(mode int) []sysCase {
	at := sysAt(mode)
	end := func(code []byte) uint64 { return at + uint64(len(code)) }
	var cases []sysCase
	add := func(k sysCase) { cases = append(cases, k) }
	cases = append(cases, commonSysCases(mode)...)
	// CLFLUSH is a no-op here, but its operand is a byte memory operand
	// with the segment checks of a read (SDM CLFLUSH: #GP(0) for an
	// effective address outside the DS limit): [BX]/[EBX] = 0x1000 in
	// selSmall's 4 KiB retires; 0xfff+1 faults.
	clf := []byte{0x0f, 0xae, modrmBX(mode, 7), // clflush [ebx]
		0x8e, 0xdf, // mov ds, di
		0x0f, 0xae, modrmBX(mode, 7)} // clflush [ebx]
	add(sysCase{rows: []string{"CLFLUSH m8"}, code: clf,
		setup: func(c *CPU, _ *testRAM) { c.r[rBX], c.r[rDI] = 0x1000, selSmall },
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrameIn(mode, c, ram, ex, vecGP, at+5, true, 0)
		}})
	// RDTSC reads the virtual clock, instructions retired (sys.go tsc).
	rdtsc := cat([]byte{0x0f, 0x31}, osz(mode, 32), []byte{0x89, 0xc3, 0x0f, 0x31}) // rdtsc; mov ebx, eax; rdtsc
	add(sysCase{rows: []string{"RDTSC"}, code: rdtsc,
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if uint32(c.r[rAX])-uint32(c.r[rBX]) != 2 || uint32(c.r[rDX]) != 0 {
				return fmt.Sprintf("tsc %#x then %#x", c.r[rBX], c.r[rAX])
			}
			return haltedAt(ex, end(rdtsc))
		}})
	// RDTSCP: EDX:EAX as RDTSC, ECX = IA32_TSC_AUX (SDM RDTSCP).
	rdtscp := cat(osz(mode, 32), []byte{0xb9, 0x03, 0x01, 0x00, 0xc0}, // mov ecx, TSC_AUX
		osz(mode, 32), []byte{0xb8, 0x07, 0x00, 0x00, 0x00}, // mov eax, 7
		osz(mode, 32), []byte{0x31, 0xd2}, // xor edx, edx
		[]byte{0x0f, 0x30, 0x0f, 0x01, 0xf9}) // wrmsr; rdtscp
	add(sysCase{rows: []string{"RDTSCP"}, code: rdtscp,
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if uint32(c.r[rCX]) != 7 || uint32(c.r[rAX]) != 4 || uint32(c.r[rDX]) != 0 {
				return fmt.Sprintf("ecx %#x eax %#x edx %#x", c.r[rCX], c.r[rAX], c.r[rDX])
			}
			return haltedAt(ex, end(rdtscp))
		}})
	// WRMSR then RDMSR of IA32_PAT (0x277): EDX:EAX round-trips; a
	// reserved memory type (2) is #GP(0) (SDM Vol. 3 "Page Attribute Table").
	msr := cat(osz(mode, 32), []byte{0xb9, 0x77, 0x02, 0x00, 0x00}, // mov ecx, 0x277
		osz(mode, 32), []byte{0xb8, 0x00, 0x04, 0x07, 0x06}, // mov eax, 0x06070400
		osz(mode, 32), []byte{0xba, 0x05, 0x04, 0x01, 0x00}, // mov edx, 0x00010405
		[]byte{0x0f, 0x30},                // wrmsr
		osz(mode, 32), []byte{0x31, 0xc0}, // xor eax, eax
		osz(mode, 32), []byte{0x31, 0xd2}, // xor edx, edx
		[]byte{0x0f, 0x32},                // rdmsr
		osz(mode, 32), []byte{0x89, 0xc3}, // mov ebx, eax
		osz(mode, 32), []byte{0x89, 0xd6}, // mov esi, edx
		[]byte{0xb0, 0x02, 0x0f, 0x30}) // mov al, 2; wrmsr
	add(sysCase{rows: []string{"RDMSR", "WRMSR"}, code: msr,
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if uint32(c.r[rBX]) != 0x06070400 || uint32(c.r[rSI]) != 0x00010405 {
				return fmt.Sprintf("rdmsr edx:eax %#x:%#x", c.r[rSI], c.r[rBX])
			}
			return vectorFrameIn(mode, c, ram, ex, vecGP, end(msr)-2, true, 0)
		}})
	// MOV DRn both ways, always 32-bit outside 64-bit mode; DR4 and DR5
	// alias DR6 and DR7 while CR4.DE is clear (SDM MOV DR).
	movDR := []byte{0x0f, 0x23, 0xc8, 0x0f, 0x21, 0xcb, // mov dr1, eax; mov ebx, dr1
		0x0f, 0x23, 0xe2, 0x0f, 0x21, 0xf6, // mov dr4, edx; mov esi, dr6
		0x0f, 0x23, 0xf9, 0x0f, 0x21, 0xef} // mov dr7, ecx; mov edi, dr5
	add(sysCase{rows: []string{"MOV DR0-DR7, rmf32", "MOV rmf32, DR0-DR7"}, code: movDR,
		setup: func(c *CPU, _ *testRAM) { c.r[rAX], c.r[rDX], c.r[rCX] = 0x12345678, 0xffff0ff1, 0x401 },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if uint32(c.r[rBX]) != 0x12345678 || uint32(c.r[rSI]) != 0xffff0ff1 || uint32(c.r[rDI]) != 0x401 {
				return fmt.Sprintf("dr1 %#x dr6 %#x dr5 %#x", c.r[rBX], c.r[rSI], c.r[rDI])
			}
			return haltedAt(ex, end(movDR))
		}})
	// CPUID leaf 0: max basic leaf 0xD and the vendor "SoftvmmGoCPU" in
	// EBX EDX ECX (cpuid.go's table).
	add(sysCase{rows: []string{"CPUID"}, code: []byte{0x0f, 0xa2},
		setup: func(c *CPU, _ *testRAM) { c.r[rAX], c.r[rCX] = 0, 0 },
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			got := [4]uint32{uint32(c.r[rAX]), uint32(c.r[rBX]), uint32(c.r[rDX]), uint32(c.r[rCX])}
			if got != [4]uint32{0xd, 0x74666f53, 0x476d6d76, 0x5550436f} { // "Soft" "vmmG" "oCPU"
				return fmt.Sprintf("cpuid 0 = %#x", got)
			}
			return haltedAt(ex, at+2)
		}})
	return cases
}

func TestISASystemRowsLegacy(t *testing.T) {
	for _, mode := range []int{32, 16} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			runSysCasesIn(t, mode, cat2(legacySysCases(mode), legacyStoreCases(mode), legacyTableCases(mode), legacyBoundCases(mode)))
		})
	}
}

// LAR and LSL on every system-descriptor type and on code and data
// segments, in each mode and operand size. The expected results are the
// SDM's (Vol. 2 LAR, LSL): ZF=1 and, for LAR, the descriptor's second
// doubleword masked by 00FxFF00H (FF00H for a 16-bit operand; bits 19:16
// undefined, so not compared), for LSL the byte-granular limit (scaled by
// 4 KiB with G); ZF=0 and the destination unchanged for a null selector,
// one beyond the table limit, an LDT selector without an LDT, a
// non-conforming segment whose DPL is below the RPL, and the system types
// the tables "Segment and Gate Types" mark invalid, which differ between
// protected mode and IA-32e mode.
func TestISALarLsl(t *testing.T) {
	type desc struct {
		name         string
		d            uint64
		ar, lim      uint32 // LAR (32-bit, bits 19:16 clear) and LSL results
		larLeg, larE bool   // LAR valid in protected / IA-32e mode
		lslLeg, lslE bool
		rpl          uint16
	}
	descs := []desc{
		{"code32 G", mkDesc(0, 0xfffff, 0x9a, 0xc), 0x00c09a00, 0xffffffff, true, true, true, true, 0},
		{"data B byte-granular", mkDesc(0xabcdef, 0x12345, 0x92, 0x4), 0x00409200, 0x12345, true, true, true, true, 0},
		{"data DPL3", mkDesc(0, 0xfffff, 0xf2, 0xc), 0x00c0f200, 0xffffffff, true, true, true, true, 3},
		{"data DPL0 RPL3", mkDesc(0xabcdef, 0x12345, 0x92, 0x4), 0, 0, false, false, false, false, 3},
		{"conforming DPL0 RPL3", mkDesc(0, 0x54321, 0x9e, 0x0), 0x00009e00, 0x54321, true, true, true, true, 3},
		{"code64 L", mkDesc(0, 0xabc, 0x9a, 0x2), 0x00209a00, 0xabc, true, true, true, true, 0},
		{"data AVL not present", mkDesc(0, 0x1, 0x12, 0x9), 0x00901200, 0x1fff, true, true, true, true, 0},
	}
	// System types: access 0x80|type, limit 0x67. LAR valid in protected
	// mode: 16-bit TSS, LDT, busy 16-bit TSS, call gate, task gate, 32-bit
	// TSS, busy 32-bit TSS, 32-bit call gate; IA-32e: 64-bit TSS, busy,
	// 64-bit call gate (not the LDT). LSL: the TSS and LDT types (no gates);
	// IA-32e: LDT, 64-bit TSS, busy, and type 0, "upper 8 bytes of a
	// 16-byte descriptor".
	larLeg := map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 9: true, 0xb: true, 0xc: true}
	larE := map[int]bool{9: true, 0xb: true, 0xc: true}
	lslLeg := map[int]bool{1: true, 2: true, 3: true, 9: true, 0xb: true}
	lslE := map[int]bool{0: true, 2: true, 9: true, 0xb: true}
	for ty := 0; ty < 16; ty++ {
		descs = append(descs, desc{fmt.Sprintf("system type %#x", ty), mkDesc(0, 0x67, uint64(0x80|ty), 0),
			uint32(0x8000 | ty<<8), 0x67, larLeg[ty], larE[ty], lslLeg[ty], lslE[ty], 0})
	}
	const first = 16 // GDT index of descs[0]
	const selAt = 0xa000
	type form struct {
		lsl  bool
		sz   int // destination operand size in bytes
		code map[int][]byte
		row  string
	}
	forms := []form{
		{false, 2, map[int][]byte{64: {0x66, 0x0f, 0x02, 0xc3}, 32: {0x66, 0x0f, 0x02, 0xc3}, 16: {0x0f, 0x02, 0xc3}}, "LAR r16, r/m16"},
		{false, 2, map[int][]byte{64: {0x66, 0x0f, 0x02, 0x06}, 32: {0x66, 0x0f, 0x02, 0x06}, 16: {0x0f, 0x02, 0x04}}, "LAR r16, r/m16"}, // [rsi]/[esi]/[si]
		{false, 4, map[int][]byte{64: {0x0f, 0x02, 0xc3}, 32: {0x0f, 0x02, 0xc3}, 16: {0x66, 0x0f, 0x02, 0xc3}}, "LAR r32, r32/m16"},
		{false, 4, map[int][]byte{64: {0x0f, 0x02, 0x06}, 32: {0x0f, 0x02, 0x06}, 16: {0x66, 0x0f, 0x02, 0x04}}, "LAR r32, r32/m16"},
		{false, 8, map[int][]byte{64: {0x48, 0x0f, 0x02, 0xc3}}, "LAR r64, r64/m16"},
		{true, 2, map[int][]byte{64: {0x66, 0x0f, 0x03, 0xc3}, 32: {0x66, 0x0f, 0x03, 0xc3}, 16: {0x0f, 0x03, 0xc3}}, "LSL r16, r/m16"},
		{true, 2, map[int][]byte{64: {0x66, 0x0f, 0x03, 0x06}, 32: {0x66, 0x0f, 0x03, 0x06}, 16: {0x0f, 0x03, 0x04}}, "LSL r16, r/m16"},
		{true, 4, map[int][]byte{64: {0x0f, 0x03, 0xc3}, 32: {0x0f, 0x03, 0xc3}, 16: {0x66, 0x0f, 0x03, 0xc3}}, "LSL r32, r32/m16"},
		{true, 4, map[int][]byte{64: {0x0f, 0x03, 0x06}, 32: {0x0f, 0x03, 0x06}, 16: {0x66, 0x0f, 0x03, 0x04}}, "LSL r32, r32/m16"},
		{true, 8, map[int][]byte{64: {0x48, 0x0f, 0x03, 0xc3}}, "LSL r64, r32/m16"},
		{true, 8, map[int][]byte{64: {0x48, 0x0f, 0x03, 0x06}}, "LSL r64, r32/m16"},
	}
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			c, ram := sysGuest(t, mode)
			at := sysAt(mode)
			for i, d := range descs {
				ram.w64(0x5000+uint64(first+i)*8, d.d)
			}
			c.gdtr.limit = uint32(first+len(descs))*8 - 1
			// An LDT at 0x1000 whose entry 1 is a flat DPL-0 data segment.
			ram.w64(0x1008, mkDesc(0, 0xfffff, 0x92, 0xc))
			c.ldtr = seg{sel: 0x7f8, base: 0x1000, limit: 0xff, access: 0x82}
			bad := []struct {
				name string
				sel  uint16
				ldt  bool // with the LDT
			}{{"null", 0, true}, {"null RPL3", 3, true}, {"beyond GDT limit", uint16(first+len(descs)) * 8, true},
				{"LDT beyond its limit", 0x104, true}, {"LDT selector without LDT", 0x0c, false}}
			failed := map[string]bool{}
			runForm := func(fi int, f form, sel uint16, wantZF bool, want uint64) {
				t.Helper()
				code := f.code[mode]
				pc := at + uint64(fi)*16
				copy(ram.b[pc:], append(append([]byte{}, code...), 0xf4))
				c.rip = pc
				const sentinel = 0x5a5a5a5a5a5a5a5a
				c.r[rAX], c.r[rBX], c.r[rSI] = sentinel, 0xffff0000|uint64(sel), selAt
				ram.w64(selAt, 0x5a5a0000|uint64(sel))
				zf0 := uint64(flagZF)
				if wantZF {
					zf0 = 0
				}
				c.setRflags(2 | zf0)
				ex := c.Run(10)
				got := c.r[rAX]
				switch {
				case !wantZF:
					want = sentinel
				case f.sz == 2:
					want = sentinel&^0xffff | want&0xffff
				case f.sz == 4 && mode != 64:
					got &= 0xffffffff // bits 63:32 are not visible outside 64-bit mode
				}
				if !f.lsl && wantZF && f.sz > 2 {
					got &^= 0xf0000 // undefined
				}
				if ex.Reason != ExitHLT || ex.RIP != pc+uint64(len(code)) || c.rflags()&flagZF != 0 != wantZF || got != want {
					t.Errorf("% x sel %#x: exit %v at %#x, zf %v rax %#x, want zf %v rax %#x",
						code, sel, ex.Reason, ex.RIP, c.rflags()&flagZF != 0, got, wantZF, want)
					failed[f.row] = true
				}
			}
			for fi, f := range forms {
				if f.code[mode] == nil {
					continue
				}
				for i, d := range descs {
					valid := d.larLeg
					want := uint64(d.ar)
					switch {
					case f.lsl && mode == 64:
						valid, want = d.lslE, uint64(d.lim)
					case f.lsl:
						valid, want = d.lslLeg, uint64(d.lim)
					case mode == 64:
						valid = d.larE
					}
					runForm(fi, f, uint16(first+i)*8|d.rpl, valid, want)
				}
				for _, b := range bad {
					if b.ldt {
						c.ldtr = seg{sel: 0x7f8, base: 0x1000, limit: 0xff, access: 0x82}
					} else {
						c.ldtr = seg{access: segUnusable}
					}
					runForm(fi, f, b.sel, false, 0)
				}
				c.ldtr = seg{sel: 0x7f8, base: 0x1000, limit: 0xff, access: 0x82}
				want := uint64(0x00c09200)
				if f.lsl {
					want = 0xffffffff
				}
				runForm(fi, f, 0x0c, true, want) // LDT entry 1
			}
			for _, f := range forms {
				if f.code[mode] != nil && !failed[f.row] && !t.Failed() {
					markVerified(mode, f.row)
				}
			}
		})
	}
}

// ldtTrCases: LLDT and LTR from the GDT (SDM LLDT, LTR; Vol. 3 "TSS Descriptor in 64-bit mode" for
// the 16-byte IA-32e descriptors, whose upper half holds base 63:32).
// LTR marks the TSS descriptor busy in memory; LLDT with a null selector
// leaves LDTR unusable without a fault; the faults are #GP(sel) for the
// wrong type (LDT for LTR, a TSS for LLDT, a busy TSS) or an LDT
// selector, #NP(sel) for a descriptor not present, #GP(0) for LTR of a
// null selector.
func ldtTrCases(mode int) []sysCase {
	at := sysAt(mode)
	const ldtSel, tssSel, busySel, npSel, npLDTSel = 0x80, 0x90, 0xa0, 0xb0, 0xc0
	hi := uint64(0)
	if mode == 64 {
		hi = 0x12 // base 39:32 of the 16-byte descriptors
	}
	setup := func(c *CPU, ram *testRAM) {
		for _, d := range []struct {
			sel uint16
			d   uint64
		}{
			{ldtSel, mkDesc(0xabc000, 0x1ff, 0x82, 0)}, {tssSel, mkDesc(0xdef000, 0x67, 0x89, 0)},
			{busySel, mkDesc(0xdef000, 0x67, 0x8b, 0)}, {npSel, mkDesc(0xdef000, 0x67, 0x09, 0)},
			{npLDTSel, mkDesc(0xabc000, 0x1ff, 0x02, 0)},
		} {
			ram.w64(0x5000+uint64(d.sel), d.d)
			ram.w64(0x5000+uint64(d.sel)+8, hi)
		}
		c.gdtr.limit = npLDTSel + 15
		c.ldtr = seg{access: segUnusable}
	}
	rmAX, rmCX := byte(0xc0), byte(0xc1) // ModRM r/m fields: AX, CX
	lldt := func(rm byte) []byte { return []byte{0x0f, 0x00, 0x10 | rm} }
	ltr := func(rm byte) []byte { return []byte{0x0f, 0x00, 0x18 | rm} }
	var cases []sysCase
	add := func(k sysCase) { cases = append(cases, k) }
	// lldt ax; ltr [ebx]/[bx]
	code := cat(lldt(rmAX), ltr(modrmBX(mode, 0)&7))
	add(sysCase{rows: []string{"LLDT r/m16", "LTR r/m16"}, code: code,
		setup: func(c *CPU, ram *testRAM) {
			setup(c, ram)
			c.r[rAX], c.r[rBX] = 0xffff0000|ldtSel, 0xa000
			ram.w64(0xa000, 0xffff0000|tssSel)
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if c.ldtr != (seg{sel: ldtSel, base: hi<<32 | 0xabc000, limit: 0x1ff, access: 0x82}) {
				return fmt.Sprintf("ldtr %+v", c.ldtr)
			}
			if c.tr != (seg{sel: tssSel, base: hi<<32 | 0xdef000, limit: 0x67, access: 0x8b}) || ram.b[0x5000+tssSel+5] != 0x8b {
				return fmt.Sprintf("tr %+v, descriptor access byte %#x", c.tr, ram.b[0x5000+tssSel+5])
			}
			return haltedAt(ex, at+uint64(len(code)))
		}})
	// lldt [ebx]/[bx] with a null selector (RPL 3): LDTR unusable.
	add(sysCase{rows: []string{"LLDT r/m16"}, code: lldt(modrmBX(mode, 0) & 7),
		setup: func(c *CPU, ram *testRAM) {
			setup(c, ram)
			c.ldtr = seg{sel: ldtSel, base: 0xabc000, limit: 0x1ff, access: 0x82}
			c.r[rBX] = 0xa000
			ram.w64(0xa000, 3)
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if c.ldtr.access&segUnusable == 0 {
				return fmt.Sprintf("ldtr %+v, want unusable", c.ldtr)
			}
			return haltedAt(ex, at+3)
		}})
	for _, f := range []struct {
		row      string
		code     []byte
		sel      uint16
		vec, err uint64
	}{
		{"LLDT r/m16", lldt(rmCX), tssSel, vecGP, tssSel},
		{"LLDT r/m16", lldt(rmCX), ldtSel | 4, vecGP, ldtSel | 4},
		{"LLDT r/m16", lldt(rmCX), npLDTSel | 3, vecNP, npLDTSel},
		{"LTR r/m16", ltr(rmCX), ldtSel, vecGP, ldtSel},
		{"LTR r/m16", ltr(rmCX), busySel, vecGP, busySel},
		{"LTR r/m16", ltr(rmCX), npSel, vecNP, npSel},
		{"LTR r/m16", ltr(rmCX), 3, vecGP, 0},
	} {
		f := f
		add(sysCase{rows: []string{f.row}, code: f.code,
			setup: func(c *CPU, ram *testRAM) { setup(c, ram); c.r[rCX] = uint64(f.sel) },
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				return vectorFrameIn(mode, c, ram, ex, f.vec, at, true, f.err)
			}})
	}
	return cases
}

func TestISALdtTr(t *testing.T) {
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) { runSysCasesIn(t, mode, ldtTrCases(mode)) })
	}
}

func cat2(parts ...[]sysCase) []sysCase {
	var out []sysCase
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// legacyStoreCases: SLDT, STR and SMSW outside 64-bit mode. A 16-bit
// register takes the selector in bits 15:0 (bits 31:16 kept); a 32-bit
// register takes it zero-extended for SLDT and STR, while SMSW leaves
// bits 31:16 undefined (not compared); memory is a word whatever the
// operand size (SDM SLDT, STR, SMSW).
func legacyStoreCases(mode int) []sysCase {
	at := sysAt(mode)
	var cases []sysCase
	p16, p32 := []byte{0x66}, []byte(nil) // the prefix giving each operand size
	if mode == 16 {
		p16, p32 = nil, []byte{0x66}
	}
	for _, k := range []struct {
		op, sub byte
		want    uint64
		rows    []string
	}{
		{0x00, 0, 0x28, []string{"SLDT r/m16", "SLDT r32/m16"}},
		{0x00, 1, 0x40, []string{"STR r/m16", "STR r32/m16", "STR r64/m16"}}, // r64/m16 is the r/m16 encoding here
		{0x01, 4, 0x3b, []string{"SMSW r/m16", "SMSW r32/m16"}},              // PE MP TS ET NE
	} {
		k := k
		code := cat(p16, []byte{0x0f, k.op, 0xc0 | k.sub<<3}, // ax
			p32, []byte{0x0f, k.op, 0xc1 | k.sub<<3}, // ecx
			[]byte{0x0f, k.op, modrmBX(mode, k.sub)}) // [ebx]/[bx]
		cases = append(cases, sysCase{rows: k.rows, code: code,
			setup: func(c *CPU, ram *testRAM) {
				c.r[rAX], c.r[rCX], c.r[rBX] = 0xffffffff, 0xffffffff, 0xa000
				ram.w64(0xa000, ^uint64(0))
				c.ldtr.sel, c.tr.sel = 0x28, 0x40
				c.cr0 |= cr0TS | cr0MP
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				ecx := uint32(c.r[rCX])
				if k.sub == 4 {
					ecx &= 0xffff
				}
				if uint32(c.r[rAX]) != 0xffff0000|uint32(k.want) || ecx != uint32(k.want) || ram.r64(0xa000) != 0xffffffffffff0000|k.want {
					return fmt.Sprintf("ax %#x ecx %#x mem %#x, want %#x", c.r[rAX], c.r[rCX], ram.r64(0xa000), k.want)
				}
				return haltedAt(ex, at+uint64(len(code)))
			}})
	}
	return cases
}

// legacyTableCases: LMSW, LGDT/LIDT/SGDT/SIDT, INVLPG outside 64-bit mode.
func legacyTableCases(mode int) []sysCase {
	at := sysAt(mode)
	var cases []sysCase
	add := func(k sysCase) { cases = append(cases, k) }
	// LMSW loads PE MP EM TS from the low four bits and cannot clear PE
	// (SDM LMSW); register and memory forms.
	lmsw := []byte{0x0f, 0x01, 0xf0, 0x0f, 0x01, modrmBX(mode, 6)} // lmsw ax; lmsw [bx]
	add(sysCase{rows: []string{"LMSW r/m16"}, code: lmsw,
		setup: func(c *CPU, ram *testRAM) {
			c.r[rAX], c.r[rBX] = 0xfff6, 0xa000 // MP EM set, TS clear
			ram.w64(0xa000, 0xfffc)             // then EM TS, not MP
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.cr0&0xffff != cr0PE|cr0ET|cr0NE|cr0EM|cr0TS {
				return fmt.Sprintf("cr0 %#x", c.cr0)
			}
			return haltedAt(ex, at+uint64(len(lmsw)))
		}})
	// LGDT/LIDT with a 16-bit operand load a 24-bit base (the high byte
	// of the operand's base is ignored, GDTR's zeroed), with a 32-bit one
	// the whole base; SGDT/SIDT store the limit and the 32-bit base for
	// either operand size (SDM LGDT/LIDT, SGDT, SIDT).
	o16, o32 := []byte{0x66}, []byte(nil)
	bx, si, di := byte(3), byte(6), byte(7) // 32-bit addressing r/m
	if mode == 16 {
		o16, o32 = nil, []byte{0x66}
		bx, si, di = 7, 4, 5
	}
	tables := cat(o16, []byte{0x0f, 0x01, 0x10 | bx}, // lgdt [bx] (16-bit operand)
		o32, []byte{0x0f, 0x01, 0x18 | si}, // lidt [si] (32-bit)
		o16, []byte{0x0f, 0x01, di}, // sgdt [di]
		o32, []byte{0x0f, 0x01, 0x48 | di, 0x08}) // sidt [di+8]
	add(sysCase{rows: []string{"LGDT m16&32", "LIDT m16&32", "SGDT m", "SIDT m"}, code: tables,
		setup: func(c *CPU, ram *testRAM) {
			c.r[rBX], c.r[rSI], c.r[rDI] = 0xa000, 0xa010, 0xa020
			ram.w64(0xa000, 0x5678_1234) // limit 0x1234, base 0x12345678
			ram.w64(0xa008, 0x12)        //
			ram.w64(0xa010, 0xdef0_4321) // limit 0x4321, base 0x9abcdef0
			ram.w64(0xa018, 0x9abc)      //
			ram.w64(0xa020, ^uint64(0))  // SGDT image
			ram.w64(0xa028, ^uint64(0))  // SIDT image
			copy(ram.b[0xa002:], []byte{0x78, 0x56, 0x34, 0x12})
			copy(ram.b[0xa012:], []byte{0xf0, 0xde, 0xbc, 0x9a})
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if c.gdtr.base != 0x345678 || c.gdtr.limit != 0x1234 || c.idtr.base != 0x9abcdef0 || c.idtr.limit != 0x4321 {
				return fmt.Sprintf("gdtr %#x/%#x idtr %#x/%#x", c.gdtr.base, c.gdtr.limit, c.idtr.base, c.idtr.limit)
			}
			if g, i := ram.r64(0xa020), ram.r64(0xa028); g != 0xffff_0034_5678_1234 || i != 0xffff_9abc_def0_4321 {
				return fmt.Sprintf("sgdt %#x sidt %#x", g, i)
			}
			return haltedAt(ex, at+uint64(len(tables)))
		}})
	// INVLPG under 32-bit paging: the TLB keeps a translation after its
	// PTE changes until INVLPG drops it (SDM INVLPG; Vol. 3 "Invalidation of TLBs").
	// Linear 0xb000 maps to 0xb000, then (PTE rewritten) to 0xe000.
	inv := cat(o32, []byte{0x8b, bx}, // mov eax, [ebx]: fills the TLB
		o32, []byte{0x89, 0x10 | si}, // mov [esi], edx: the new PTE
		o32, []byte{0x8b, 0x08 | bx}, // mov ecx, [ebx]: stale
		[]byte{0x0f, 0x01, 0x38 | bx}, // invlpg [ebx]
		o32, []byte{0x8b, 0x38 | bx})  // mov edi, [ebx]: the new page
	add(sysCase{rows: []string{"INVLPG m"}, code: inv,
		setup: func(c *CPU, ram *testRAM) {
			const pd, pt = 0xd000, 0xc000
			ram.w64(pd, pt|pteP|pteRW)
			for i := uint64(0); i < 1024; i++ {
				ram.b[pt+i*4], ram.b[pt+i*4+1], ram.b[pt+i*4+2] = byte(i<<12|pteP|pteRW), byte(i<<4), byte(i>>4)
			}
			ram.w64(0xb000, 0x11111111)
			ram.w64(0xe000, 0x22222222)
			c.r[rBX], c.r[rSI], c.r[rDX] = 0xb000, pt+0xb*4, 0xe000|pteP|pteRW
			c.cr3 = pd
			c.cr0 |= cr0PG
			c.tlb.flush()
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if uint32(c.r[rAX]) != 0x11111111 || uint32(c.r[rCX]) != 0x11111111 || uint32(c.r[rDI]) != 0x22222222 {
				return fmt.Sprintf("eax %#x ecx %#x edi %#x, want 0x11111111 0x11111111 0x22222222", c.r[rAX], c.r[rCX], c.r[rDI])
			}
			return haltedAt(ex, at+uint64(len(inv)))
		}})
	return cases
}

// legacyBoundCases: BOUND compares signed, both bounds inclusive, and
// raises #BR as a fault (EIP of the BOUND) when the index is outside;
// INTO raises #OF as a trap (EIP after it) only with OF set (SDM BOUND,
// INTO).
func legacyBoundCases(mode int) []sysCase {
	at := sysAt(mode)
	var cases []sysCase
	o16, o32 := []byte{0x66}, []byte(nil)
	if mode == 16 {
		o16, o32 = nil, []byte{0x66}
	}
	bound := func(pre []byte, reg byte) []byte { return cat(pre, []byte{0x62, modrmBX(mode, reg)}) }
	// Bounds -5..10 (words) and -5..0x10000 (doublewords) at [bx].
	for _, k := range []struct {
		row            string
		pre            []byte
		bounds         uint64
		ax, cx, dx, si uint64 // si is outside
	}{
		{"BOUND r16, m16&16", o16, 0x000a_fffb, 0xfffb, 10, 0xfffd, 0x000b},
		{"BOUND r16, m16&16", o16, 0x000a_fffb, 0xfffb, 10, 0xfffd, 0xfffa},
		{"BOUND r32, m32&32", o32, 0x0001_0000_ffff_fffb, 0xfffffffb, 0x10000, 0x8000, 0x10001},
		{"BOUND r32, m32&32", o32, 0x0001_0000_ffff_fffb, 0xfffffffb, 0x10000, 0x8000, 0xfffffffa},
	} {
		k := k // 32-bit mode too: TestProtBoundInto has one index above the bounds only
		code := cat(bound(k.pre, 0), bound(k.pre, 1), bound(k.pre, 2), bound(k.pre, 6))
		cases = append(cases, sysCase{rows: []string{k.row}, code: code,
			setup: func(c *CPU, ram *testRAM) {
				c.r[rAX], c.r[rCX], c.r[rDX], c.r[rSI], c.r[rBX] = k.ax, k.cx, k.dx, k.si, 0xa000
				ram.w64(0xa000, k.bounds)
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				return vectorFrameIn(mode, c, ram, ex, vecBR, at+uint64(len(code)-len(bound(k.pre, 6))), false, 0)
			}})
	}
	// into (OF clear: nothing); mov al, 0x7f; inc al (OF); into
	into := []byte{0xce, 0xb0, 0x7f, 0xfe, 0xc0, 0xce}
	cases = append(cases, sysCase{rows: []string{"INTO"}, code: into,
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrameIn(mode, c, ram, ex, vecOF, at+uint64(len(into)), false, 0)
		}})
	return cases
}

// OUTSW and OUTSD leave Run with VM_EXITCODE_INOUT_STR's fields
// (reference/vmm-interface.md §3.1): port DX, the element size of the
// form, not IN, REP and count (CX at the address size, or 1), the index
// register and the linear address DS:SI of the first element, RIP past
// the instruction. Moving the data and advancing RSI/RCX is the caller's
// (bhyve's emulate_inout; cmd/softvmm/inoutstr.go), so the interpreter
// leaves them alone.
func TestISAOutsRows(t *testing.T) {
	for _, k := range []struct {
		mode  int
		row   string
		code  []byte
		bytes uint8
	}{
		{64, "OUTSW", []byte{0x66, 0x6f}, 2}, {64, "OUTSW", []byte{0xf3, 0x66, 0x6f}, 2},
		{32, "OUTSD", []byte{0x6f}, 4}, {32, "OUTSD", []byte{0xf3, 0x6f}, 4},
		{16, "OUTSW", []byte{0x6f}, 2}, {16, "OUTSW", []byte{0xf3, 0x6f}, 2},
		{16, "OUTSD", []byte{0x66, 0x6f}, 4}, {16, "OUTSD", []byte{0xf3, 0x66, 0x6f}, 4},
	} {
		k := k
		rep := k.code[0] == 0xf3
		asz := uint8(k.mode / 8)
		const si, cx = 0x1_2345_6789, 0x1_0003_0002
		// Index and count at the address size; DS has base 0x30000
		// outside 64-bit mode and none in it.
		gla, count := uint64(si), uint64(1)
		if rep {
			count = map[int]uint64{64: cx, 32: 0x30002, 16: 2}[k.mode]
		}
		switch k.mode {
		case 32:
			gla = 0x30000 + 0x23456789
		case 16:
			gla = 0x30000 + 0x6789
		}
		cases := []sysCase{{rows: []string{k.row}, code: k.code,
			setup: func(c *CPU, _ *testRAM) {
				c.r[rDX], c.r[rSI], c.r[rCX] = 0xabcd0000|0x3f8, si, cx
				if k.mode != 64 {
					c.seg[segDS].base = 0x30000
				}
			},
			check: func(c *CPU, _ *testRAM, ex Exit) string {
				at := sysAt(k.mode)
				s := ex.Str
				if ex.Reason != ExitInOutStr || ex.RIP != at || ex.InstLen != len(k.code) || c.rip != at+uint64(len(k.code)) {
					return fmt.Sprintf("exit %v rip %#x len %d next %#x", ex.Reason, ex.RIP, ex.InstLen, c.rip)
				}
				if ex.Port != 0x3f8 || ex.Bytes != k.bytes || ex.In || s.Rep != rep || s.AddrSize != asz ||
					s.SegName != abi.VM_REG_GUEST_DS || s.Index != si || s.Count != count || s.GLA != gla {
					return fmt.Sprintf("port %#x bytes %d in %v %+v, want bytes %d rep %v asz %d count %#x gla %#x",
						ex.Port, ex.Bytes, ex.In, s, k.bytes, rep, asz, count, gla)
				}
				if c.r[rSI] != si || c.r[rCX] != cx {
					return "the interpreter moved RSI/RCX: the caller owns them"
				}
				return ""
			}}}
		t.Run(fmt.Sprintf("%d/% x", k.mode, k.code), func(t *testing.T) { runSysCasesIn(t, k.mode, cases) })
	}
}
