package cpu

import (
	"fmt"
	"testing"
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
