package cpu

import (
	"encoding/binary"
	"fmt"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// Checks added by the coverage audit: rows whose credited test did not
// look at their result, and edges the mutation sample showed no test
// reaching. Expected values are the SDM's, written out by hand.

// DIV and IDIV at the edges of the quotient range, in every mode and
// operand size (SDM DIV, IDIV "Operation"): a DIV quotient of exactly 2^w
// is #DE, 2^w-1 fits; an IDIV quotient of -2^(w-1) fits, +2^(w-1) (also
// -2^(w-1) / -1) is #DE; the remainder takes the dividend's sign. #DE is
// a fault: the frame holds the DIV's own address.
func TestDivEdges(t *testing.T) {
	for _, mode := range isaModes {
		sizes := []uint8{1, 2, 4}
		if mode == 64 {
			sizes = append(sizes, 8)
		}
		for _, sz := range sizes {
			w := uint(sz) * 8
			m := sizeMask[sz]
			top := uint64(1) << (w - 1) // 2^(w-1)
			for _, k := range []struct {
				name   string
				idiv   bool
				hi, lo uint64 // dividend
				d      uint64 // divisor
				de     bool
				q, r   uint64
			}{
				{"div q=2^w", false, 3, 0, 3, true, 0, 0},
				{"div q=2^w-1", false, 2, m, 3, false, m, 2},
				{"idiv q=-2^(w-1)", true, m, 0, 2, false, top, 0},
				{"idiv q=+2^(w-1)", true, 1, 0, 2, true, 0, 0},
				{"idiv min/-1", true, m, top, m, true, 0, 0},
				{"idiv -7/2", true, m, m - 6, 2, false, m - 2, m},
			} {
				name := fmt.Sprintf("%d/%d/%s", mode, sz, k.name)
				c, ram := sysGuest(t, mode)
				at := sysAt(mode)
				op := byte(0xf7)
				var pre []byte
				switch {
				case sz == 1:
					op = 0xf6
				case sz == 8:
					pre = []byte{0x48}
				default:
					pre = osz(mode, int(w))
				}
				modrm := byte(0xf3) // div ebx
				if k.idiv {
					modrm = 0xfb
				}
				code := cat(pre, []byte{op, modrm, 0xf4})
				copy(ram.b[at:], code)
				if sz == 1 {
					c.r[rAX] = k.hi<<8 | k.lo
				} else {
					c.r[rAX], c.r[rDX] = k.lo, k.hi
				}
				c.r[rBX] = k.d
				ex := c.Run(10)
				if k.de {
					if msg := vectorFrameIn(mode, c, ram, ex, vecDE, at, false, 0); msg != "" {
						t.Errorf("%s: %s (exit %v at %#x)", name, msg, ex.Reason, ex.RIP)
					}
					continue
				}
				q, r := c.r[rAX]&m, c.r[rDX]&m
				if sz == 1 {
					q, r = c.r[rAX]&0xff, c.r[rAX]>>8&0xff
				}
				if ex.Reason != ExitHLT || ex.RIP != at+uint64(len(code))-1 || q != k.q || r != k.r {
					t.Errorf("%s: exit %v at %#x, q %#x r %#x, want %#x %#x", name, ex.Reason, ex.RIP, q, r, k.q, k.r)
				}
			}
		}
	}
}

// WRMSR then RDMSR in 64-bit mode (TestSyscallSysret only writes MSRs and
// reads EFER to modify it): IA32_PAT round-trips through EDX:EAX, RDMSR
// zero-extends into RAX/RDX, and a reserved memory type (2) is #GP(0)
// (SDM Vol. 3 "Page Attribute Table").
func TestISAMsr64(t *testing.T) {
	code := []byte{
		0xb9, 0x77, 0x02, 0x00, 0x00, // mov ecx, 0x277
		0xb8, 0x00, 0x04, 0x07, 0x06, // mov eax, 0x06070400
		0xba, 0x05, 0x04, 0x01, 0x00, // mov edx, 0x00010405
		0x0f, 0x30, // wrmsr
		0x48, 0x83, 0xc8, 0xff, // or rax, -1
		0x48, 0x83, 0xca, 0xff, // or rdx, -1
		0x0f, 0x32, // rdmsr
		0x48, 0x89, 0xc3, // mov rbx, rax
		0x48, 0x89, 0xd6, // mov rsi, rdx
		0xb0, 0x02, 0x0f, 0x30, // mov al, 2; wrmsr
	}
	runSysCases(t, []sysCase{{rows: []string{"RDMSR", "WRMSR"}, code: code,
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if c.r[rBX] != 0x06070400 || c.r[rSI] != 0x00010405 {
				return fmt.Sprintf("rdmsr rdx:rax %#x:%#x", c.r[rSI], c.r[rBX])
			}
			return vectorFrame(c, ram, ex, vecGP, codeBase+uint64(len(code))-2, true, 0)
		}}})
}

// CMPXCHG16B's operand must be 16-byte aligned (SDM CMPXCHG8B/CMPXCHG16B
// "64-Bit Mode Exceptions": #GP(0)); 8-byte alignment is not enough, and
// the fault leaves memory and RDX:RAX alone. CMPXCHG8B has no such rule.
func TestCmpxchg16bAlign(t *testing.T) {
	for _, k := range []struct {
		name string
		code []byte
		addr uint64
		gp   bool
	}{
		{"cmpxchg16b aligned", []byte{0x48, 0x0f, 0xc7, 0x0e}, dataBase, false},
		{"cmpxchg16b 8 mod 16", []byte{0x48, 0x0f, 0xc7, 0x0e}, dataBase + 8, true},
		{"cmpxchg8b 4 mod 8", []byte{0x0f, 0xc7, 0x0e}, dataBase + 4, false},
	} {
		runSysCases(t, []sysCase{{rows: []string{k.name}, code: k.code,
			setup: func(c *CPU, ram *testRAM) {
				ram.w64(k.addr, 0x1111)
				ram.w64(k.addr+8, 0x2222)
				c.r[rSI], c.r[rAX], c.r[rDX], c.r[rBX], c.r[rCX] = k.addr, 0x1111, 0x2222, 0x3333, 0x4444
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				if k.gp {
					if ram.r64(k.addr) != 0x1111 || ram.r64(k.addr+8) != 0x2222 {
						return "memory written before #GP"
					}
					return vectorFrame(c, ram, ex, vecGP, codeBase, true, 0)
				}
				lo, hi := ram.r64(k.addr), ram.r64(k.addr+8)
				if len(k.code) == 3 { // 8b: two doublewords EDX:EAX = 0:0x1111 vs 0x2222... mismatch
					if c.rflags()&flagZF != 0 || c.r[rAX] != 0x1111 || c.r[rDX] != 0 || lo != 0x1111 || hi != 0x2222 {
						return fmt.Sprintf("8b: zf %v edx:eax %#x:%#x mem %#x %#x", c.rflags()&flagZF != 0, c.r[rDX], c.r[rAX], lo, hi)
					}
				} else if c.rflags()&flagZF == 0 || lo != 0x3333 || hi != 0x4444 {
					return fmt.Sprintf("16b: zf %v mem %#x %#x", c.rflags()&flagZF != 0, lo, hi)
				}
				return haltedAt(ex, codeBase+uint64(len(k.code)))
			}}})
	}
}

// A segment override names the source of MOVS, LODS, CMPS (and OUTS,
// TestISAOutsRows); the destination of MOVS/STOS and the second operand
// of CMPS/SCAS stay ES:(E)DI whatever the prefix (SDM Vol. 1 "Segment
// Override Prefixes"; MOVS, CMPS). Outside 64-bit mode with FS, GS and ES
// bases of their own; in 64-bit mode FS and GS keep their bases while an
// ES or DS override adds nothing.
func TestStringSegmentOverride(t *testing.T) {
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			const off = 0x40
			bases := map[int]uint64{segDS: 0x100000, segES: 0x200000, segFS: 0x300000, segGS: 0x380000}
			if mode == 64 {
				bases[segDS], bases[segES] = 0, 0
			}
			for _, k := range []struct {
				name string
				code []byte // after the override
				pre  byte
				src  int // the segment the source comes from
			}{
				{"fs lodsb", []byte{0xac}, 0x64, segFS},
				{"gs lodsb", []byte{0xac}, 0x65, segGS},
				{"es lodsb", []byte{0xac}, 0x26, segES},
				{"fs movsb", []byte{0xa4}, 0x64, segFS},
				{"gs cmpsb", []byte{0xa6}, 0x65, segGS},
				{"fs stosb", []byte{0xaa}, 0x64, -1},
				{"gs scasb", []byte{0xae}, 0x65, -1},
			} {
				c, ram, at := branchGuest(t, mode)
				for _, s := range []int{segDS, segES, segFS, segGS} {
					b := bases[s]
					c.seg[s].base = b
					ram.b[b+off] = byte(0x10 + s) // the byte each segment shows at off
					ram.b[b+off+0x100] = 0x77     // the ES:DI byte before the run
				}
				// (In 64-bit mode DS and ES share address off; ES's byte,
				// written last, is the one there.)
				code := append([]byte{k.pre}, k.code...)
				copy(ram.b[at:], append(code, 0xf4))
				c.rip = at
				c.r[rSI], c.r[rDI], c.r[rAX] = off, off+0x100, 0x55
				c.setRflags(2)
				run(t, c, 10, ExitHLT)
				esDI := ram.b[bases[segES]+off+0x100]
				var bad string
				switch k.code[0] {
				case 0xac:
					if byte(c.r[rAX]) != byte(0x10+k.src) {
						bad = fmt.Sprintf("al %#x, want %#x", byte(c.r[rAX]), 0x10+k.src)
					}
				case 0xa4:
					if esDI != byte(0x10+k.src) {
						bad = fmt.Sprintf("es:[di] %#x, want %#x", esDI, 0x10+k.src)
					}
				case 0xa6: // gs:[si] (0x15) - es:[di] (0x77): borrow
					if c.rflags()&(flagCF|flagZF) != flagCF {
						bad = fmt.Sprintf("flags %#x, want CF (0x15 < 0x77)", c.rflags())
					}
				case 0xaa:
					if esDI != 0x55 || ram.b[bases[segFS]+off+0x100] != 0x77 {
						bad = fmt.Sprintf("es:[di] %#x fs:[di] %#x, want 0x55 0x77", esDI, ram.b[bases[segFS]+off+0x100])
					}
				case 0xae: // al 0x55 - es:[di] 0x77
					if c.rflags()&(flagCF|flagZF) != flagCF {
						bad = fmt.Sprintf("flags %#x, want CF (0x55 < 0x77)", c.rflags())
					}
				}
				if bad != "" {
					t.Errorf("%d-bit %s: %s", mode, k.name, bad)
				}
			}
		})
	}
}

// A far RET to conforming code checks DPL <= RPL (SDM RET "Protected
// mode": "If the return code segment is conforming and the segment's
// DPL is greater than the return code segment selector's RPL, #GP
// (selector)"); DPL equal to RPL returns. At CPL 0, in every mode.
func TestRetfConformingDPL(t *testing.T) {
	const selConf3, selConf0 = 0xf0, 0xf8 // conforming code, DPL 3 and DPL 0
	for _, mode := range isaModes {
		for _, k := range []struct {
			sel uint16
			gp  bool
		}{{selConf3, true}, {selConf0, false}} {
			c, ram := sysGuest(t, mode)
			at := sysAt(mode)
			fl := uint64(0xc)
			if mode == 64 {
				fl = 0xa
			}
			ram.w64(0x5000+selConf3, mkDesc(0, 0xfffff, 0xfe, fl))
			ram.w64(0x5000+selConf0, mkDesc(0, 0xfffff, 0x9e, fl))
			c.gdtr.limit = selConf0 + 7
			code := map[int][]byte{64: {0x48, 0xcb}, 32: {0xcb}, 16: {0xcb}}[mode]
			copy(ram.b[at:], code)
			target := uint64(0x9000)
			ram.b[target] = 0xf4
			sz := uint64(mode / 8)
			sp := uint64(stackTop - 0x100)
			for b := uint64(0); b < sz; b++ {
				ram.b[sp+b] = byte(target >> (8 * b))
				ram.b[sp+sz+b] = byte(uint64(k.sel) >> (8 * b))
			}
			c.r[rSP] = sp
			ex := c.Run(10)
			var msg string
			if k.gp {
				msg = vectorFrameIn(mode, c, ram, ex, vecGP, at, true, uint64(k.sel))
			} else if msg = haltedAt(ex, target); msg == "" && c.seg[segCS].sel != k.sel {
				msg = fmt.Sprintf("cs %#x", c.seg[segCS].sel)
			}
			if msg != "" {
				t.Errorf("%d-bit retf to %#x: %s (exit %v at %#x)", mode, k.sel, msg, ex.Reason, ex.RIP)
			}
		}
	}
}

// Loading SS checks RPL = CPL as well as DPL = CPL (SDM MOV "IF SS is
// loaded": "segment selector's RPL ≠ CPL ... #GP(selector)"): at CPL 0 a
// DPL-0 writable data selector with RPL 3 is #GP(sel &^ 3) for MOV SS,
// POP SS (not in 64-bit mode) and LSS; with RPL 0 it loads.
func TestLoadSSRPL(t *testing.T) {
	for _, mode := range isaModes {
		for _, k := range []struct {
			name string
			code []byte
		}{
			{"mov ss, ax", []byte{0x8e, 0xd0}},
			{"pop ss", []byte{0x17}},
			{"lss", nil},
		} {
			if mode == 64 && k.code != nil && k.code[0] == 0x17 {
				continue // POP SS is #UD in 64-bit mode
			}
			for _, rpl := range []uint16{3, 0} {
				c, ram := sysGuest(t, mode)
				at := sysAt(mode)
				ram.w64(0x5010, mkDesc(0, 0xfffff, 0x92, 0xc)) // writable (bhyveload's entry is read-only)
				sel := uint64(0x10 | rpl)
				code := k.code
				if code == nil { // lss eax/ax, [ebx]/[bx]: offset then selector
					code = []byte{0x0f, 0xb2, modrmBX(mode, 0)}
					ram.w64(0xa000, 0x1234|sel<<16)
					if mode != 16 {
						ram.w64(0xa000, 0x1234|sel<<32)
					}
					c.r[rBX] = 0xa000
				}
				copy(ram.b[at:], append(append([]byte{}, code...), 0xf4))
				c.r[rAX] = sel
				if k.code != nil && k.code[0] == 0x17 {
					c.r[rSP] -= 4
					ram.w64(c.r[rSP], sel)
				}
				ex := c.Run(10)
				var msg string
				if rpl == 3 {
					msg = vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0x10)
				} else if msg = haltedAt(ex, at+uint64(len(code))); msg == "" && c.seg[segSS].sel != 0x10 {
					msg = fmt.Sprintf("ss %#x", c.seg[segSS].sel)
				}
				if msg != "" {
					t.Errorf("%d-bit %s with RPL %d: %s (exit %v at %#x)", mode, k.name, rpl, msg, ex.Reason, ex.RIP)
				}
			}
		}
	}
}

// The CPL-0 rows TestISASystemRows sees only retire at CPL 0 (INVD,
// WBINVD: "no-ops" there) are privileged: at CPL 3 each is #GP(0) before
// it does anything (SDM, each instruction's "Protected Mode Exceptions":
// "#GP(0) If the current privilege level is not 0"), in every mode.
func TestPrivilegedRowsAtCPL3(t *testing.T) {
	for _, mode := range isaModes {
		for _, k := range []struct {
			name string
			code []byte
		}{
			{"invd", []byte{0x0f, 0x08}}, {"wbinvd", []byte{0x0f, 0x09}}, {"hlt", []byte{0xf4}},
			{"clts", []byte{0x0f, 0x06}}, {"lmsw ax", []byte{0x0f, 0x01, 0xf0}},
			{"lgdt [bx]", []byte{0x0f, 0x01, modrmBX(mode, 2)}}, {"lidt [bx]", []byte{0x0f, 0x01, modrmBX(mode, 3)}},
			{"lldt ax", []byte{0x0f, 0x00, 0xd0}}, {"ltr ax", []byte{0x0f, 0x00, 0xd8}},
			{"mov cr0, eax", []byte{0x0f, 0x22, 0xc0}}, {"mov eax, cr0", []byte{0x0f, 0x20, 0xc0}},
			{"mov dr7, eax", []byte{0x0f, 0x23, 0xf8}}, {"mov eax, dr7", []byte{0x0f, 0x21, 0xf8}},
			{"rdmsr", []byte{0x0f, 0x32}}, {"wrmsr", []byte{0x0f, 0x30}}, {"invlpg [bx]", []byte{0x0f, 0x01, modrmBX(mode, 7)}},
			{"sysexit", []byte{0x0f, 0x35}},
		} {
			c, ram := sysGuest(t, mode)
			at := sysAt(mode)
			copy(ram.b[at:], append(append([]byte{}, k.code...), 0xf4))
			c.r[rAX], c.r[rBX], c.r[rCX] = 0, 0xa000, 0x277
			cr0, gdtr := c.cr0, c.gdtr
			c.sysenterCS = 0x08
			toCPL3(c, ram)
			ex := c.Run(10)
			if msg := vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0); msg != "" {
				t.Errorf("%d-bit CPL 3 %s: %s (exit %v at %#x)", mode, k.name, msg, ex.Reason, ex.RIP)
			}
			if c.cr0 != cr0 || c.gdtr != gdtr {
				t.Errorf("%d-bit CPL 3 %s: cr0 %#x gdtr %+v changed", mode, k.name, c.cr0, c.gdtr)
			}
		}
	}
}

// MOV to and from CR0, CR2, CR3 and CR8 in 64-bit mode (TestControlRegisters
// sees only CR4): CR2 holds any 64-bit value; CR8 is TPR[7:4], bits 63:4
// reserved (#GP(0) if set); CR3 and CR0 read back what was written
// (SDM MOV CR; Vol. 3 "CR8").
func TestISAControlRegisters64(t *testing.T) {
	code := []byte{
		0x0f, 0x22, 0xd0, // mov cr2, rax
		0x0f, 0x20, 0xd3, // mov rbx, cr2
		0x44, 0x0f, 0x22, 0xc1, // mov cr8, rcx
		0x44, 0x0f, 0x20, 0xc2, // mov rdx, cr8
		0x0f, 0x20, 0xde, // mov rsi, cr3
		0x0f, 0x22, 0xde, // mov cr3, rsi
		0x0f, 0x20, 0xdf, // mov rdi, cr3
		0x0f, 0x20, 0xc0, // mov rax, cr0
		0x48, 0x0f, 0xba, 0xe8, 0x03, // bts rax, 3 (TS)
		0x0f, 0x22, 0xc0, // mov cr0, rax
		0x41, 0x0f, 0x20, 0xc0, // mov r8, cr0
		0x44, 0x0f, 0x22, 0xc5, // mov cr8, rbp (bit 4 set: #GP(0))
	}
	runSysCases(t, []sysCase{{rows: []string{"MOV CR0-CR7, rmf64", "MOV rmf64, CR0-CR7"}, code: code,
		setup: func(c *CPU, _ *testRAM) {
			c.r[rAX], c.r[rCX], c.r[rBP] = 0xdead_beef_1234_5678, 0xb, 0x1b
			c.cr3 = 0x2000 // newGuest's PML4
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			if c.r[rBX] != 0xdead_beef_1234_5678 || c.r[rDX] != 0xb || c.r[rSI] != 0x2000 || c.r[rDI] != 0x2000 || c.r[r8] != 0x80000039 { // ET reads 1 (SDM Vol. 3 "CR0": hardcoded on P6 and later)
				return fmt.Sprintf("cr2 %#x cr8 %#x cr3 %#x %#x cr0 %#x", c.r[rBX], c.r[rDX], c.r[rSI], c.r[rDI], c.r[r8])
			}
			return vectorFrame(c, ram, ex, vecGP, codeBase+uint64(len(code))-4, true, 0)
		}}})
}

// SYSCALL saves RFLAGS in R11 and then clears every RFLAGS bit set in
// IA32_FMASK (SDM SYSCALL: "RFLAGS <- RFLAGS AND NOT(IA32_FMASK)"), RF
// too; RCX gets the next RIP, CS and SS come from STAR[47:32]
// (TestSyscallSysret runs with IA32_FMASK = 0).
func TestSyscallFMask(t *testing.T) {
	code := cat(wrmsrCode(64, 0xc0000084, flagIF|flagDF|flagAC|flagCF), // IA32_FMASK
		wrmsrCode(64, 0xc0000082, codeBase+0x200),  // LSTAR
		wrmsrCode(64, 0xc0000081, 0x0018_0008<<32), // STAR
		[]byte{0x9d, 0x0f, 0x05})                   // popfq; syscall
	runSysCases(t, []sysCase{{rows: []string{"SYSCALL"}, code: code,
		setup: func(c *CPU, ram *testRAM) {
			c.efer |= eferSCE
			c.r[rSP] -= 8
			ram.w64(c.r[rSP], 2|flagIF|flagDF|flagAC|flagCF|flagOF|flagZF)
			ram.b[codeBase+0x200] = 0xf4
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if c.rflags() != 2|flagOF|flagZF || c.r[r11] != 2|flagIF|flagDF|flagAC|flagCF|flagOF|flagZF ||
				c.r[rCX] != codeBase+uint64(len(code)) || c.seg[segCS].sel != 8 || c.seg[segSS].sel != 0x10 {
				return fmt.Sprintf("rflags %#x r11 %#x rcx %#x cs %#x ss %#x", c.rflags(), c.r[r11], c.r[rCX], c.seg[segCS].sel, c.seg[segSS].sel)
			}
			return haltedAt(ex, codeBase+0x200)
		}}})
}

// AAD and AAM with a base other than 10 (SDM AAD: "AL <- (tempAL +
// (tempAH * imm8)) AND FFH; AH <- 0"; AAM: "AH <- tempAL / imm8; AL <-
// tempAL MOD imm8"; SF, ZF, PF from AL; AAM 0 is #DE), in 32- and 16-bit
// mode (both are #UD in 64-bit mode).
func TestAadAamBase(t *testing.T) {
	for _, mode := range []int{32, 16} {
		for _, k := range []struct {
			name   string
			code   []byte
			ax     uint64
			wantAX uint64
			flags  uint64 // SF ZF PF
			de     bool
		}{
			{"aad 7", []byte{0xd5, 0x07}, 0x0305, 0x001a, 0, false},
			{"aad 16", []byte{0xd5, 0x10}, 0x0f09, 0x00f9, flagSF | flagPF, false},
			{"aad 0", []byte{0xd5, 0x00}, 0x7f00, 0x0000, flagZF | flagPF, false},
			{"aam 7", []byte{0xd4, 0x07}, 0x001a, 0x0305, flagPF, false},
			{"aam 16", []byte{0xd4, 0x10}, 0x00f9, 0x0f09, flagPF, false},
			{"aam 0", []byte{0xd4, 0x00}, 0x0012, 0x0012, 0, true},
		} {
			c, ram := sysGuest(t, mode)
			at := sysAt(mode)
			copy(ram.b[at:], append(append([]byte{}, k.code...), 0xf4))
			c.r[rAX] = 0xabcd0000 | k.ax
			c.setRflags(2 | flagSF | flagZF | flagPF)
			ex := c.Run(10)
			var msg string
			if k.de {
				msg = vectorFrameIn(mode, c, ram, ex, vecDE, at, false, 0)
			} else if msg = haltedAt(ex, at+2); msg == "" &&
				(uint32(c.r[rAX]) != 0xabcd0000|uint32(k.wantAX) || c.rflags()&(flagSF|flagZF|flagPF) != k.flags) {
				msg = fmt.Sprintf("eax %#x flags %#x, want %#x %#x", c.r[rAX], c.rflags()&(flagSF|flagZF|flagPF), 0xabcd0000|k.wantAX, k.flags)
			}
			if msg != "" {
				t.Errorf("%d-bit %s: %s", mode, k.name, msg)
			}
		}
	}
}

// A descriptor that is only partly inside the GDT limit is outside the
// table (SDM Vol. 3 "Segment Descriptor Tables": the limit is the offset
// of the last valid byte; LAR/LSL/VERR/VERW "the selector is not within
// the descriptor table limit" clear ZF; MOV Sreg #GP(selector)): with
// GDTR.limit = sel+3, LAR, LSL, VERR and VERW give ZF=0 and MOV DS
// faults, in every mode.
func TestDescriptorPastGDTLimit(t *testing.T) {
	const sel = 0xf0
	for _, mode := range isaModes {
		for _, k := range []struct {
			name string
			code []byte
		}{
			{"lar", []byte{0x0f, 0x02, 0xc3}}, {"lsl", []byte{0x0f, 0x03, 0xc3}},
			{"verr", []byte{0x0f, 0x00, 0xe3}}, {"verw", []byte{0x0f, 0x00, 0xeb}},
			{"mov ds", []byte{0x8e, 0xdb}},
		} {
			for _, limit := range []uint32{sel + 3, sel + 7} {
				c, ram := sysGuest(t, mode)
				at := sysAt(mode)
				ram.w64(0x5000+sel, mkDesc(0, 0xfffff, 0x92, 0xc)) // writable data, DPL 0
				c.gdtr.limit = limit
				copy(ram.b[at:], append(append([]byte{}, k.code...), 0xf4))
				c.r[rBX], c.r[rAX] = sel, 0x5a5a
				c.setRflags(2)
				ex := c.Run(10)
				inside := limit == sel+7
				var msg string
				switch {
				case k.name == "mov ds" && !inside:
					msg = vectorFrameIn(mode, c, ram, ex, vecGP, at, true, sel)
				case k.name == "mov ds":
					if msg = haltedAt(ex, at+2); msg == "" && c.seg[segDS].sel != sel {
						msg = fmt.Sprintf("ds %#x", c.seg[segDS].sel)
					}
				default:
					if msg = haltedAt(ex, at+3); msg == "" && (c.rflags()&flagZF != 0) != inside {
						msg = fmt.Sprintf("zf %v, want %v", c.rflags()&flagZF != 0, inside)
					}
				}
				if msg != "" {
					t.Errorf("%d-bit %s, GDT limit %#x: %s (exit %v at %#x)", mode, k.name, limit, msg, ex.Reason, ex.RIP)
				}
			}
		}
	}
}

// FXRSTOR keeps only the 11 defined bits of FOP (SDM Vol. 1 "x87 FPU
// Instruction and Data (Operand) Pointers": FOP is an 11-bit field; the
// host masks it): the guest's FXRSTOR of an image with FOP = FFFFH, then
// FXSAVE, stores what the host's FXRSTOR/FXSAVE of the same image store,
// in every mode. (The x87/SSE differential tests load and read state
// through the interpreter's own image functions, so they cannot see
// this.)
func TestFXRstorFOPHost(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	var fx hostexec.FX
	// An unmasked IE pending (FSW.ES): AMD hosts store FOP, FIP and FDP
	// only then (AMD APM FXSAVE), Intel always.
	binary.LittleEndian.PutUint16(fx.Image[0:], 0x037e)
	binary.LittleEndian.PutUint16(fx.Image[2:], 0x0081)
	binary.LittleEndian.PutUint16(fx.Image[6:], 0xffff)
	binary.LittleEndian.PutUint32(fx.Image[24:], 0x1f80)
	host := fx
	var st hostexec.State
	if err := hostexec.ExecFX([]byte{0x90}, &st, &host); err != nil {
		t.Skip(err)
	}
	hostFOP := binary.LittleEndian.Uint16(host.Image[6:])
	for _, mode := range isaModes {
		// fxrstor [esi]; fxsave [esi+0x200] (16-bit: [si], [si+0x200])
		code := []byte{0x0f, 0xae, 0x0e, 0x0f, 0xae, 0x86, 0x00, 0x02, 0x00, 0x00}
		if mode == 16 {
			code = []byte{0x0f, 0xae, 0x0c, 0x0f, 0xae, 0x84, 0x00, 0x02}
		}
		c, ram, at := xsModeGuest(t, mode, code)
		copy(ram.b[dataBase:], fx.Image[:])
		if v := vector(t, c); v != -1 || c.rip != at+uint64(len(code))+1 {
			t.Fatalf("%d-bit: vector %d at %#x", mode, v, c.rip)
		}
		if got := ram.r16(dataBase + 0x200 + 6); got != hostFOP {
			t.Errorf("%d-bit: FOP after FXRSTOR of 0xffff: %#x, host %#x", mode, got, hostFOP)
		}
	}
}

// Outside 64-bit mode FXSAVE stores XMM0-7 only and leaves bytes 288-415
// of the area (the XMM8-15 slots of the 64-bit layout) as they were (SDM
// Vol. 1 §10.5.1, FXSAVE "Table: Non-64-bit-Mode Layout"), even when
// XMM8-15 hold values from an earlier stay in 64-bit mode.
func TestFXSaveLegacyLeavesXMM8to15(t *testing.T) {
	for _, mode := range []int{32, 16} {
		code := []byte{0x0f, 0xae, 0x06} // fxsave [esi]
		if mode == 16 {
			code = []byte{0x0f, 0xae, 0x04} // fxsave [si]
		}
		c, ram, _ := xsModeGuest(t, mode, code)
		for i := 0; i < 512; i++ {
			ram.b[dataBase+uint64(i)] = 0xa5
		}
		for i := range c.fpu.xmm {
			c.fpu.xmm[i] = [2]uint64{uint64(i) * 0x0101010101010101, ^uint64(i)}
		}
		if v := vector(t, c); v != -1 {
			t.Fatalf("%d-bit: vector %d", mode, v)
		}
		for i := 288; i < 416; i++ {
			if ram.b[dataBase+uint64(i)] != 0xa5 {
				t.Fatalf("%d-bit: byte %d written (%#x)", mode, i, ram.b[dataBase+uint64(i)])
			}
		}
		if got := ram.r64(dataBase + 160 + 16*7); got != 7*0x0101010101010101 {
			t.Errorf("%d-bit: XMM7 low %#x", mode, got)
		}
	}
}

// DAA, DAS, AAA and AAS over every AL with each CF and AF (and AH for
// AAA/AAS), in 32- and 16-bit mode, against the SDM's "Operation"
// pseudocode written out here. Compared: AL/AX and the flags the SDM
// defines (DAA/DAS: CF AF SF ZF PF; AAA/AAS: CF AF).
func TestBCDAdjustExhaustive(t *testing.T) {
	type res struct {
		ax, fl uint64
	}
	szp := func(al uint64) uint64 {
		var f uint64
		if al&0x80 != 0 {
			f |= flagSF
		}
		if al == 0 {
			f |= flagZF
		}
		return f | sdmPF(al)
	}
	model := func(op byte, ax uint64, cf, af bool) (res, uint64) {
		al := ax & 0xff
		switch op {
		case 0x27, 0x2f: // DAA, DAS
			oldAL, oldCF := al, cf
			ncf, naf := false, false
			if al&0xf > 9 || af {
				if op == 0x27 {
					ncf = oldCF || al+6 > 0xff
					al = (al + 6) & 0xff
				} else {
					ncf = oldCF || al < 6
					al = (al - 6) & 0xff
				}
				naf = true
			}
			if oldAL > 0x99 || oldCF {
				if op == 0x27 {
					al = (al + 0x60) & 0xff
				} else {
					al = (al - 0x60) & 0xff
				}
				ncf = true
			} else if op == 0x27 {
				ncf = false
			}
			f := szp(al)
			if ncf {
				f |= flagCF
			}
			if naf {
				f |= flagAF
			}
			return res{ax&^0xff | al, f}, flagCF | flagAF | flagSF | flagZF | flagPF
		}
		// AAA, AAS
		var f uint64
		if al&0xf > 9 || af {
			if op == 0x37 {
				ax = (ax + 0x106) & 0xffff
			} else {
				ax = (ax - 6) & 0xffff
				ax = (ax&0xff | ((ax>>8)-1)<<8) & 0xffff
			}
			f = flagAF | flagCF
		}
		return res{ax&0xff00 | ax&0x0f, f}, flagCF | flagAF
	}
	for _, mode := range []int{32, 16} {
		c, ram := sysGuest(t, mode)
		at := sysAt(mode)
		for _, op := range []byte{0x27, 0x2f, 0x37, 0x3f} {
			copy(ram.b[at:], []byte{op, 0xf4})
			bad := 0
			for v := uint64(0); v < 0x10000 && bad < 5; v += 0x3f {
				ax := v&0xff00 | v&0xff
				for fl := 0; fl < 4; fl++ {
					cf, af := fl&1 != 0, fl&2 != 0
					want, mask := model(op, ax, cf, af)
					c.r[rAX] = 0x12340000 | ax
					f0 := uint64(2 | flagOF)
					if cf {
						f0 |= flagCF
					}
					if af {
						f0 |= flagAF
					}
					c.setRflags(f0)
					c.rip = at
					ex := c.Run(5)
					if ex.Reason != ExitHLT || uint32(c.r[rAX]) != 0x12340000|uint32(want.ax) || c.rflags()&mask != want.fl {
						t.Errorf("%d-bit %#x: ax %#x cf %v af %v: exit %v, ax %#x flags %#x, want %#x %#x", mode, op, ax, cf, af,
							ex.Reason, uint32(c.r[rAX]), c.rflags()&mask, want.ax, want.fl)
						bad++
					}
				}
			}
		}
	}
}

// sdmPF is PF for result r as the SDM defines it, counted here rather
// than taken from the interpreter's parity table: set when the low byte
// has an even number of 1 bits.
func sdmPF(r uint64) uint64 {
	ones := 0
	for i := 0; i < 8; i++ {
		ones += int(r >> i & 1)
	}
	if ones%2 == 0 {
		return flagPF
	}
	return 0
}

// MOV to CR4 with a reserved bit, or the bit of a feature the CPU model
// does not advertise (SMEP, bit 20, and PKE, bit 22: CPUID leaf 7 is all
// zeros, TestCPUID), is #GP(0) and leaves CR4 alone (SDM MOV CR "#GP(0)
// If an attempt is made to write a 1 to any reserved bit in CR4"; Vol. 3
// "CR4": bits of unsupported features are reserved), in every mode; in
// 64-bit mode bits 63:32 too.
func TestMovCR4Reserved(t *testing.T) {
	for _, mode := range isaModes {
		bits := []uint{20, 22, 31}
		if mode == 64 {
			bits = append(bits, 32)
		}
		for _, b := range bits {
			c, ram := sysGuest(t, mode)
			at := sysAt(mode)
			code := []byte{0x0f, 0x20, 0xe0, 0x48, 0x09, 0xd8, 0x0f, 0x22, 0xe0} // mov rax, cr4; or rax, rbx; mov cr4, rax
			if mode != 64 {
				code = []byte{0x0f, 0x20, 0xe0, 0x66, 0x09, 0xd8, 0x0f, 0x22, 0xe0} // mov eax, cr4; or eax, ebx
				if mode == 32 {
					code[3] = 0x90 // nop: OR is 32-bit already
				}
			}
			copy(ram.b[at:], append(append([]byte{}, code...), 0xf4))
			c.r[rBX] = 1 << b
			cr4 := c.cr4
			ex := c.Run(10)
			if msg := vectorFrameIn(mode, c, ram, ex, vecGP, at+6, true, 0); msg != "" || c.cr4 != cr4 {
				t.Errorf("%d-bit mov cr4 with bit %d: %s, cr4 %#x (was %#x)", mode, b, msg, c.cr4, cr4)
			}
		}
	}
}

// CMPXCHG writes its destination whether or not it matches (SDM CMPXCHG:
// "the destination operand is written back if the comparison fails"), so
// a read-only data segment is #GP(0) either way and memory is unchanged,
// in 32- and 16-bit mode.
func TestCmpxchgReadOnlySegment(t *testing.T) {
	for _, mode := range []int{32, 16} {
		for _, match := range []bool{true, false} {
			c, ram := sysGuest(t, mode)
			at := sysAt(mode)
			copy(ram.b[at:], []byte{0x0f, 0xb1, modrmBX(mode, 1), 0xf4}) // cmpxchg [ebx]/[bx], ecx/cx
			c.seg[segDS] = seg{sel: selRO, limit: 0xffffffff, access: 0xc091}
			c.r[rBX], c.r[rCX], c.r[rAX] = 0xa000, 0x7777, 0x1111
			if !match {
				c.r[rAX] = 0x2222
			}
			ram.w64(0xa000, 0x1111)
			ex := c.Run(10)
			if msg := vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0); msg != "" || ram.r64(0xa000) != 0x1111 {
				t.Errorf("%d-bit cmpxchg on read-only DS, match %v: %s, mem %#x", mode, match, msg, ram.r64(0xa000))
			}
		}
	}
}

// LAR against the host on the host's own ring-3 selectors (user CS 64-
// and 32-bit, user DS): the guest gets descriptors built from what the
// host's LAR and LSL report, and its LAR must give the host's whole
// doubleword, bits 19:16 included (the SDM leaves them undefined; the
// host returns the descriptor's limit bits 19:16).
func TestLarHost(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	for _, sel := range []uint16{0x33, 0x2b, 0x23} {
		host := func(code []byte) (uint64, uint64) {
			st := hostexec.State{}
			st.Regs[rCX], st.Regs[rAX] = uint64(sel), 0x5a5a5a5a
			if err := hostexec.Exec(code, &st); err != nil {
				t.Skip(err)
			}
			return st.Regs[rAX], st.Flags & flagZF
		}
		lar, zf1 := host([]byte{0x0f, 0x02, 0xc1}) // lar eax, ecx
		lsl, zf2 := host([]byte{0x0f, 0x03, 0xc1}) // lsl eax, ecx
		if zf1 == 0 || zf2 == 0 {
			t.Skipf("host selector %#x not valid for LAR/LSL", sel)
		}
		lim := lsl
		if lar&(1<<23) != 0 { // G: LSL gave the scaled limit
			lim >>= 12
		}
		d := lar<<32 | lim&0xffff // base 0; bits 19:16 of the limit are in lar
		c, ram := sysGuest(t, 64)
		ram.w64(0x5000+uint64(sel&^7), d)
		c.gdtr.limit = 0x3f
		copy(ram.b[codeBase:], []byte{0x0f, 0x02, 0xc1, 0x0f, 0x03, 0xd1, 0xf4}) // lar eax, ecx; lsl edx, ecx
		c.r[rCX], c.r[rAX] = uint64(sel), 0x5a5a5a5a
		ex := c.Run(10) // at CPL 0: the DPL-3, RPL-3 descriptors are visible
		if ex.Reason != ExitHLT || c.r[rAX] != lar || c.r[rDX] != lsl {
			t.Errorf("sel %#x: lar %#x lsl %#x, host %#x %#x (exit %v at %#x)", sel, c.r[rAX], c.r[rDX], lar, lsl, ex.Reason, ex.RIP)
		}
	}
}

// PUSHA/PUSHAD and POPA/POPAD in 32-bit mode (TestProt32Instructions
// looks at EAX and ESP only): AX CX DX BX, the original SP, BP SI DI
// pushed at the operand size; popped in reverse with the SP slot skipped
// and, for words, bits 31:16 kept (SDM PUSHA, POPA).
func TestPushaPopa32(t *testing.T) {
	runSysCasesIn(t, 32, []sysCase{
		pushaCase("PUSHAD", []byte{0x60}, 4, codeBase), pushaCase("PUSHA", []byte{0x66, 0x60}, 2, codeBase),
		popaCase("POPAD", []byte{0x61}, 4, codeBase), popaCase("POPA", []byte{0x66, 0x61}, 2, codeBase),
	})
}
