package cpu

import (
	"fmt"
	"testing"
)

// SYSENTER and SYSEXIT against the SDM's "Operation" sections (Vol. 2B),
// Intel's definition: valid in protected and IA-32e mode, CS and SS
// loaded as fixed flat descriptors from IA32_SYSENTER_CS (0x174), RSP and
// RIP from IA32_SYSENTER_ESP/EIP (0x175/0x176) or RCX/RDX. The expected
// selectors, access rights (seg_desc form: type, S, DPL, P, D/B, L, G)
// and registers are written out by hand from those pages; #GP(0) and the
// LOCK prefix's #UD come from their "Exceptions" sections.

const (
	seTarget  = 0x40000 // SYSENTER's EIP (physical; a HLT)
	sxTarget  = 0x41000 // SYSEXIT's EIP: "out 0x80, al" (IOPL 3 lets CPL 3 run it)
	seESP     = 0x71000
	sxESP     = 0x7f000
	hiVA      = 0xffffffff_00000000 // 64-bit addresses alias physical memory per 1 GiB (newGuest)
	sysExitFL = 2 | 3<<12 | flagCF  // IOPL 3, CF: SYSEXIT leaves RFLAGS alone
)

// movR32 is "mov r32, imm32" (op B8+r) in mode's code segment.
func movR32(mode int, op byte, v uint32) []byte {
	return cat(osz(mode, 32), []byte{op, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

func wrmsrCode(mode int, msr uint32, v uint64) []byte {
	return cat(movR32(mode, 0xb9, msr), movR32(mode, 0xb8, uint32(v)), movR32(mode, 0xba, uint32(v>>32)), []byte{0x0f, 0x30})
}

func segIs(s seg, sel uint16, access uint32) bool {
	return s == seg{sel: sel, base: 0, limit: 0xffffffff, access: access}
}

func sysenterCases(mode int) []sysCase {
	at := sysAt(mode)
	ia32e := mode == 64
	csAcc, rsp, rip := uint32(0xc09b), uint64(seESP), uint64(seTarget) // 32-bit code: D, G
	espMSR, eipMSR := uint64(2)<<32|seESP, uint64(1)<<32|seTarget      // bits 63:32 ignored outside IA-32e mode
	if ia32e {
		csAcc, rsp, rip = 0xa09b, hiVA|seESP, hiVA|seTarget // 64-bit code: L, G
		espMSR, eipMSR = rsp, rip
	}
	targets := func(ram *testRAM) {
		ram.b[seTarget] = 0xf4
		copy(ram.b[sxTarget:], []byte{0xe6, 0x80})
	}
	// entered checks SYSENTER's result: CS = MSR & FFFCH (0x08), SS = CS
	// + 8, flat, DPL 0; RSP, RIP from the MSRs; VM IF RF clear, the rest
	// of RFLAGS kept.
	entered := func(c *CPU, ex Exit, keptFlags uint64) string {
		if !segIs(c.seg[segCS], 0x08, csAcc) || !segIs(c.seg[segSS], 0x10, 0xc093) {
			return fmt.Sprintf("cs %+v ss %+v", c.seg[segCS], c.seg[segSS])
		}
		if c.r[rSP] != rsp || c.cpl != 0 || c.mode64 != ia32e {
			return fmt.Sprintf("rsp %#x cpl %d mode64 %v", c.r[rSP], c.cpl, c.mode64)
		}
		if c.rflags() != keptFlags {
			return fmt.Sprintf("rflags %#x, want %#x", c.rflags(), keptFlags)
		}
		return haltedAt(ex, rip)
	}
	var cases []sysCase
	add := func(k sysCase) { cases = append(cases, k) }
	// The MSRs written by WRMSR (CS 0x0b: RPL bits dropped), then
	// SYSENTER.
	code := cat(wrmsrCode(mode, 0x174, 0x0b), wrmsrCode(mode, 0x175, espMSR), wrmsrCode(mode, 0x176, eipMSR), []byte{0x0f, 0x34})
	add(sysCase{rows: []string{"SYSENTER", "WRMSR"}, code: code,
		setup: func(c *CPU, ram *testRAM) { targets(ram); c.setRflags(2 | flagIF | flagCF | flagDF | flagRF) },
		check: func(c *CPU, _ *testRAM, ex Exit) string { return entered(c, ex, 2|flagCF|flagDF) }})
	// The MSRs read back by RDMSR: EDX:EAX; CS keeps bits 31:0.
	for _, k := range []struct {
		msr uint32
		v   uint64
	}{{0x174, 0x12345678_0000abcd}, {0x175, espMSR}, {0x176, eipMSR}} {
		k := k
		want := k.v
		if k.msr == 0x174 {
			want &= 0xffffffff
		}
		add(sysCase{rows: []string{"RDMSR"}, code: cat(movR32(mode, 0xb9, k.msr), []byte{0x0f, 0x32}),
			setup: func(c *CPU, _ *testRAM) {
				if _, gp := c.wrmsr(k.msr, k.v); gp {
					panic("wrmsr #GP")
				}
			},
			check: func(c *CPU, _ *testRAM, ex Exit) string {
				if got := uint64(uint32(c.r[rDX]))<<32 | uint64(uint32(c.r[rAX])); got != want {
					return fmt.Sprintf("rdmsr %#x = %#x, want %#x", k.msr, got, want)
				}
				return haltedAt(ex, at+uint64(len(movR32(mode, 0xb9, 0)))+2)
			}})
	}
	// SYSENTER as the first instruction, with RF set: cleared.
	msrs := func(c *CPU, cs, esp, eip uint64) {
		c.sysenterCS, c.sysenterESP, c.sysenterEIP = cs, esp, eip
	}
	add(sysCase{rows: []string{"SYSENTER"}, code: []byte{0x0f, 0x34},
		setup: func(c *CPU, ram *testRAM) {
			targets(ram)
			msrs(c, 0x0b, espMSR, eipMSR)
			c.setRflags(2 | flagIF | flagRF | flagOF)
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string { return entered(c, ex, 2|flagOF) }})
	// IA32_SYSENTER_CS[15:2] = 0: #GP(0), for SYSENTER and SYSEXIT.
	for _, cs := range []uint64{0, 3} {
		cs := cs
		for _, op := range [][]byte{{0x0f, 0x34}, {0x0f, 0x35}} {
			row := map[byte]string{0x34: "SYSENTER", 0x35: "SYSEXIT"}[op[1]]
			add(sysCase{rows: []string{row}, code: op,
				setup: func(c *CPU, ram *testRAM) { targets(ram); msrs(c, cs, espMSR, eipMSR) },
				check: func(c *CPU, ram *testRAM, ex Exit) string {
					return vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0)
				}})
		}
	}
	// A LOCK prefix is #UD.
	for _, op := range []byte{0x34, 0x35} {
		row := map[byte]string{0x34: "SYSENTER", 0x35: "SYSEXIT"}[op]
		add(sysCase{rows: []string{row}, code: []byte{0xf0, 0x0f, op},
			setup: func(c *CPU, ram *testRAM) { targets(ram); msrs(c, 0x08, espMSR, eipMSR) },
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				return vectorFrameIn(mode, c, ram, ex, vecUD, at, false, 0)
			}})
	}
	// SYSEXIT without REX.W: CPL 3 32-bit code (compatibility mode from
	// 64-bit mode), CS = MSR + 16 | 3, SS = CS + 8, ESP = ECX, EIP = EDX
	// (zero-extended), RFLAGS unchanged.
	add(sysCase{rows: []string{"SYSEXIT"}, code: []byte{0x0f, 0x35},
		setup: func(c *CPU, ram *testRAM) {
			targets(ram)
			msrs(c, 0x08, 0, 0)
			c.r[rCX], c.r[rDX] = 0xdead0000_00000000|sxESP, 0xbeef0000_00000000|sxTarget
			c.setRflags(sysExitFL)
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if !segIs(c.seg[segCS], 0x1b, 0xc0fb) || !segIs(c.seg[segSS], 0x23, 0xc0f3) {
				return fmt.Sprintf("cs %+v ss %+v", c.seg[segCS], c.seg[segSS])
			}
			if c.r[rSP] != sxESP || c.cpl != 3 || c.mode64 || c.dmode != 32 || c.rflags() != sysExitFL {
				return fmt.Sprintf("rsp %#x cpl %d mode64 %v dmode %d rflags %#x", c.r[rSP], c.cpl, c.mode64, c.dmode, c.rflags())
			}
			if ex.Reason != ExitInOut || ex.RIP != sxTarget || ex.Port != 0x80 {
				return "the CPL-3 code at EDX did not run"
			}
			return ""
		}})
	// SYSEXIT at CPL 3 (the code SYSEXIT returned to runs SYSEXIT):
	// #GP(0), delivered on the ring-0 stack of the TSS.
	add(sysCase{rows: []string{"SYSEXIT"}, code: []byte{0x0f, 0x35},
		setup: func(c *CPU, ram *testRAM) {
			copy(ram.b[sxTarget:], []byte{0x0f, 0x35})
			if ia32e {
				ram.w64(tssBase+4, stackTop) // RSP0 of the 64-bit TSS; newProt's SS0:ESP0 is 0x10:tss0SP
			}
			msrs(c, 0x08, 0, 0)
			c.r[rCX], c.r[rDX] = sxESP, sxTarget
		},
		check: func(c *CPU, ram *testRAM, ex Exit) string {
			return vectorFrameIn(mode, c, ram, ex, vecGP, sxTarget, true, 0)
		}})
	if !ia32e {
		return cases
	}
	// SYSEXIT with REX.W: 64-bit CPL-3 code, CS = MSR + 32 | 3, RSP = RCX,
	// RIP = RDX; #GP(0) if either is not canonical.
	add(sysCase{rows: []string{"SYSEXIT"}, code: []byte{0x48, 0x0f, 0x35},
		setup: func(c *CPU, ram *testRAM) {
			targets(ram)
			msrs(c, 0x08, 0, 0)
			c.r[rCX], c.r[rDX] = hiVA|sxESP, hiVA|sxTarget
			c.setRflags(sysExitFL)
		},
		check: func(c *CPU, _ *testRAM, ex Exit) string {
			if !segIs(c.seg[segCS], 0x2b, 0xa0fb) || !segIs(c.seg[segSS], 0x33, 0xc0f3) {
				return fmt.Sprintf("cs %+v ss %+v", c.seg[segCS], c.seg[segSS])
			}
			if c.r[rSP] != hiVA|sxESP || c.cpl != 3 || !c.mode64 || c.rflags() != sysExitFL {
				return fmt.Sprintf("rsp %#x cpl %d mode64 %v rflags %#x", c.r[rSP], c.cpl, c.mode64, c.rflags())
			}
			if ex.Reason != ExitInOut || ex.RIP != hiVA|sxTarget || ex.Port != 0x80 {
				return "the CPL-3 code at RDX did not run"
			}
			return ""
		}})
	for _, r := range []int{rCX, rDX} {
		r := r
		add(sysCase{rows: []string{"SYSEXIT"}, code: []byte{0x48, 0x0f, 0x35},
			setup: func(c *CPU, ram *testRAM) {
				msrs(c, 0x08, 0, 0)
				c.r[rCX], c.r[rDX] = sxESP, sxTarget
				c.r[r] = 0x00008000_00000000
			},
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				return vectorFrameIn(mode, c, ram, ex, vecGP, at, true, 0)
			}})
	}
	// WRMSR of a non-canonical IA32_SYSENTER_ESP or _EIP: #GP(0) (SDM
	// WRMSR).
	for _, msr := range []uint32{0x175, 0x176} {
		code := wrmsrCode(mode, msr, 0x00008000_00000000)
		add(sysCase{rows: []string{"WRMSR"}, code: code,
			check: func(c *CPU, ram *testRAM, ex Exit) string {
				return vectorFrameIn(mode, c, ram, ex, vecGP, at+uint64(len(code))-2, true, 0)
			}})
	}
	return cases
}

func TestSysenterSysexit(t *testing.T) {
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) { runSysCasesIn(t, mode, sysenterCases(mode)) })
	}
}

// SYSENTER from compatibility mode enters 64-bit code (IA-32e mode: CS.L,
// whole RIP/RSP); from virtual-8086 mode it clears VM and leaves DS, ES,
// FS, GS as they were; SYSEXIT in virtual-8086 mode (CPL 3) and both in
// real mode are #GP(0) (SDM SYSENTER, SYSEXIT "Operation" and
// "Exceptions").
func TestSysenterSysexitModes(t *testing.T) {
	t.Run("compat", func(t *testing.T) {
		c, ram := withHandlers(t, []byte{0x0f, 0x34})
		ram.w64(0x5018, mkDesc(0, 0xfffff, 0x9a, 0xc)) // 32-bit code
		c.gdtr.limit = 31
		c.seg[segCS] = seg{sel: 0x18, limit: 0xffffffff, access: 0xc09b}
		c.modeChanged()
		ram.b[seTarget] = 0xf4
		c.sysenterCS, c.sysenterESP, c.sysenterEIP = 0x08, hiVA|seESP, hiVA|seTarget
		ex := run(t, c, 10, ExitHLT)
		if ex.RIP != hiVA|seTarget || !c.mode64 || !segIs(c.seg[segCS], 0x08, 0xa09b) || c.r[rSP] != hiVA|seESP {
			t.Errorf("rip %#x mode64 %v cs %+v rsp %#x", ex.RIP, c.mode64, c.seg[segCS], c.r[rSP])
		}
	})
	t.Run("vm86", func(t *testing.T) {
		c, ram := vm86Guest(t, []byte{0x0f, 0x34}, 0)
		ram.b[seTarget] = 0xf4
		c.sysenterCS, c.sysenterESP, c.sysenterEIP = 0x08, seESP, seTarget
		ex := run(t, c, 10, ExitHLT)
		if ex.RIP != seTarget || c.fl&flagVM != 0 || c.cpl != 0 || !segIs(c.seg[segCS], 0x08, 0xc09b) ||
			!segIs(c.seg[segSS], 0x10, 0xc093) || c.r[rSP] != seESP {
			t.Errorf("rip %#x eflags %#x cpl %d cs %+v ss %+v esp %#x", ex.RIP, c.fl, c.cpl, c.seg[segCS], c.seg[segSS], c.r[rSP])
		}
		if c.seg[segDS].sel != vmDS || c.seg[segES].sel != vmES || c.seg[segFS].sel != vmFS || c.seg[segGS].sel != vmGS {
			t.Errorf("data segments changed: ds %#x es %#x fs %#x gs %#x", c.seg[segDS].sel, c.seg[segES].sel, c.seg[segFS].sel, c.seg[segGS].sel)
		}
		c, ram = vm86Guest(t, []byte{0x0f, 0x35}, 3)
		c.sysenterCS = 0x08
		haltedIn(t, c, vecGP)
		vmFrame(t, c, ram, vmFrameBottom, true, 0, vmIP, vmSP)
	})
	for _, op := range []byte{0x34, 0x35} {
		t.Run(fmt.Sprintf("real/0f %x", op), func(t *testing.T) {
			c, ram := newReal(t, []byte{0x0f, op}, 0x7c00)
			ram.w16(vecGP*4, 0x0500) // IVT: 0000:0500, a HLT
			ram.b[0x500] = 0xf4
			c.sysenterCS = 0x08
			ex := run(t, c, 10, ExitHLT)
			if ex.RIP != 0x500 || ram.r16(c.r[rSP]) != 0x7c00 {
				t.Errorf("halted at %#x, pushed IP %#x: want the #GP handler, IP 0x7c00", ex.RIP, ram.r16(c.r[rSP]))
			}
		})
	}
}
