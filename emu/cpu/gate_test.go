package cpu

import (
	"testing"

	"softvmm/emu/abi"
)

// Call gates (SDM Vol. 3 §5.8.3-§5.8.6, Vol. 2 CALL/JMP/RET "Operation").
// Expected frames and error codes are the SDM's: a CALL to an inner ring
// pushes, on the TSS stack of that ring, the caller's SS, ESP, the gate's
// parameter count of stack items (copied in order), CS and EIP, each of
// the gate's size; RETF n to the outer ring releases n bytes on both
// stacks.

const (
	selGate   = 0x68 // the gate under test (16 bytes in IA-32e mode)
	selCode1  = 0x78 // ring 1 code, flat 32-bit
	selData1  = 0x80 // ring 1 data
	selCodeNP = 0x88 // ring 0 code, not present
	gateCode  = 0x20000
	ring3Code = 0x21000
	tss1SP    = 0xa000
)

// mkGate encodes a call gate: type 0xC (32/64-bit) or 4 (16-bit).
func mkGate(typ, dpl uint64, sel uint16, off uint64, params uint64, present bool) uint64 {
	p := uint64(0)
	if present {
		p = 0x80
	}
	return off&0xffff | uint64(sel)<<16 | params<<32 | (typ|p|dpl<<5)<<40 | (off>>16&0xffff)<<48
}

// gateProt is newProt with the gate at selGate and the caller at ring 3
// (code at ring3Code, ESP 0x8000 in a flat ring-3 stack; IOPL 3 so OUT
// ends Run in ring 3).
func gateProt(t *testing.T, gate uint64, code []byte) (*CPU, *testRAM) {
	c, ram := newProt(t, nil)
	ram.w64(0x5000+selGate, gate)
	ram.w64(0x5000+0x70, 0)
	ram.w64(0x5000+selCode1, mkDesc(0, 0xfffff, 0xba, 0xc))
	ram.w64(0x5000+selData1, mkDesc(0, 0xfffff, 0xb2, 0xc))
	ram.w64(0x5000+selCodeNP, mkDesc(0, 0xfffff, 0x1a, 0xc))
	mustOK(t, c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: selCodeNP + 7}))
	ram.w32(tssBase+12, tss1SP) // ESP1, SS1 (RPL 1)
	ram.w32(tssBase+16, selData1|1)
	copy(ram.b[ring3Code:], code)
	c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
	c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.modeChanged()
	c.rip, c.r[rSP] = ring3Code, 0x8000
	c.setRflags(2 | 3<<12)
	return c, ram
}

func (r *testRAM) w32(gpa uint64, v uint32) {
	r.b[gpa], r.b[gpa+1], r.b[gpa+2], r.b[gpa+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// lcall $selGate,$0 in 32-bit code.
var lcallGate = []byte{0x9a, 0, 0, 0, 0, selGate, 0}

func TestCallGate32(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	// push $0x22222222; push $0x11111111; lcall gate; out %al,$0x80
	code := []byte{0x68, 0x22, 0x22, 0x22, 0x22, 0x68, 0x11, 0x11, 0x11, 0x11}
	code = append(code, lcallGate...)
	retAddr := uint64(ring3Code + len(code))
	code = append(code, 0xe6, 0x80)
	c, ram := gateProt(t, mkGate(0xc, 3, selCode32, gateCode, 2, true), code)
	copy(ram.b[gateCode:], []byte{0xf4, 0xca, 0x08, 0x00}) // hlt; lret $8
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != gateCode || c.cpl != 0 || c.seg[segCS].sel != selCode32 || c.seg[segSS].sel != selData32 {
		t.Fatalf("at %#x cpl %d cs %#x ss %#x, want the gate target in ring 0 on SS0", ex.RIP, c.cpl, c.seg[segCS].sel, c.seg[segSS].sel)
	}
	sp := uint64(tss0SP - 24)
	if c.r[rSP] != sp {
		t.Fatalf("esp %#x, want ESP0-24 = %#x", c.r[rSP], sp)
	}
	want := []uint32{uint32(retAddr), selCode3, 0x11111111, 0x22222222, 0x8000 - 8, selData3}
	for i, w := range want {
		if got := ram.r32(sp + uint64(i)*4); got != w {
			t.Errorf("frame[%d] = %#x, want %#x", i, got, w)
		}
	}
	// lret $8 back to ring 3: the caller's stack minus the parameters.
	ex = run(t, c, 100, ExitInOut)
	if ex.RIP != retAddr || c.cpl != 3 || c.r[rSP] != 0x8000 || c.seg[segSS].sel != selData3 || c.seg[segCS].sel != selCode3 {
		t.Errorf("after lret: rip %#x cpl %d esp %#x ss %#x cs %#x", ex.RIP, c.cpl, c.r[rSP], c.seg[segSS].sel, c.seg[segCS].sel)
	}
}

func TestCallGate16(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	// push $0x1234 (o16); lcall gate
	code := append([]byte{0x66, 0x68, 0x34, 0x12}, lcallGate...)
	retAddr := uint64(ring3Code + len(code))
	c, ram := gateProt(t, mkGate(0x4, 3, selCode32, 0x1000, 1, true), code)
	ram.b[0x1000] = 0xf4
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != 0x1000 || c.cpl != 0 || c.r[rSP] != tss0SP-10 {
		t.Fatalf("at %#x cpl %d esp %#x, want 0x1000, 0, ESP0-10", ex.RIP, c.cpl, c.r[rSP])
	}
	want := []uint16{uint16(retAddr), selCode3, 0x1234, 0x8000 - 2, selData3}
	for i, w := range want {
		if got := ram.r16(tss0SP - 10 + uint64(i)*2); got != w {
			t.Errorf("frame[%d] = %#x, want %#x", i, got, w)
		}
	}
}

// A gate to a conforming or same-ring segment changes no privilege: CALL
// pushes CS:EIP on the current stack, JMP pushes nothing.
func TestCallGateSamePrivilege(t *testing.T) {
	for _, jmp := range []bool{false, true} {
		code := append([]byte(nil), lcallGate...)
		if jmp {
			code[0] = 0xea
		}
		c, ram := gateProt(t, mkGate(0xc, 3, selConf, gateCode, 3, true), code)
		ram.b[gateCode] = 0xe6 // out %al,$0x80 in ring 3
		ram.b[gateCode+1] = 0x80
		ex := run(t, c, 100, ExitInOut)
		if ex.RIP != gateCode || c.cpl != 3 || c.seg[segCS].sel != selConf|3 || c.seg[segSS].sel != selData3 {
			t.Fatalf("jmp %v: at %#x cpl %d cs %#x ss %#x", jmp, ex.RIP, c.cpl, c.seg[segCS].sel, c.seg[segSS].sel)
		}
		wantSP := uint64(0x8000 - 8)
		if jmp {
			wantSP = 0x8000
		}
		if c.r[rSP] != wantSP {
			t.Fatalf("jmp %v: esp %#x, want %#x", jmp, c.r[rSP], wantSP)
		}
		if !jmp && (ram.r32(wantSP) != ring3Code+7 || ram.r32(wantSP+4) != selCode3) {
			t.Errorf("frame %#x %#x", ram.r32(wantSP), ram.r32(wantSP+4))
		}
	}
}

// Each check of the gate path with the SDM's error code. The ring-1
// target keeps the #TS/#SS cases deliverable: the handler runs in ring 0
// on the intact SS0.
func TestCallGateFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gate  uint64
		jmp   bool
		setup func(c *CPU, ram *testRAM)
		vec   uint64
		errc  uint32
		rpl   uint16 // RPL of the gate selector
	}{
		{"gate DPL < CPL", mkGate(0xc, 0, selCode32, gateCode, 0, true), false, nil, vecGP, selGate, 0},
		{"gate DPL < RPL", mkGate(0xc, 2, selCode1, gateCode, 0, true), false, nil, vecGP, selGate, 3},
		{"gate not present", mkGate(0xc, 3, selCode32, gateCode, 0, false), false, nil, vecNP, selGate, 0},
		{"null code selector", mkGate(0xc, 3, 0, gateCode, 0, true), false, nil, vecGP, 0, 0},
		{"code selector is data", mkGate(0xc, 3, selData32, gateCode, 0, true), false, nil, vecGP, selData32, 0},
		{"code selector beyond GDT", mkGate(0xc, 3, 0x400, gateCode, 0, true), false, nil, vecGP, 0x400, 0},
		{"code not present", mkGate(0xc, 3, selCodeNP, gateCode, 0, true), false, nil, vecNP, selCodeNP, 0},
		{"jmp to inner non-conforming", mkGate(0xc, 3, selCode32, gateCode, 0, true), true, nil, vecGP, selCode32, 0},
		{"offset beyond limit", mkGate(0xc, 3, selCode16, 0x10000, 0, true), false, nil, vecGP, 0, 0},
		{"TSS SS1 null", mkGate(0xc, 3, selCode1, gateCode, 0, true), false,
			func(c *CPU, ram *testRAM) { ram.w32(tssBase+16, 0) }, vecTS, 0, 0},
		{"TSS SS1 RPL != 1", mkGate(0xc, 3, selCode1, gateCode, 0, true), false,
			func(c *CPU, ram *testRAM) { ram.w32(tssBase+16, selData1) }, vecTS, selData1, 0},
		{"TSS SS1 DPL 0", mkGate(0xc, 3, selCode1, gateCode, 0, true), false,
			func(c *CPU, ram *testRAM) { ram.w32(tssBase+16, selData32|1) }, vecTS, selData32, 0},
		{"TSS SS1 not present", mkGate(0xc, 3, selCode1, gateCode, 0, true), false,
			func(c *CPU, ram *testRAM) {
				ram.w64(0x5000+selData1, mkDesc(0, 0xfffff, 0x32, 0xc))
			}, vecSS, selData1, 0},
		{"new stack beyond its limit", mkGate(0xc, 3, selCode1, gateCode, 2, true), false,
			func(c *CPU, ram *testRAM) {
				ram.w64(0x5000+0x70, mkDesc(0, 0xfff, 0xb2, 0x4)) // ring 1 data, limit 0xfff
				ram.w32(tssBase+12, 0x2000)
				ram.w32(tssBase+16, 0x71)
			}, vecSS, 0x70, 0},
		{"TSS too short for SS1", mkGate(0xc, 3, selCode1, gateCode, 0, true), false,
			func(c *CPU, ram *testRAM) { c.tr.limit = 0x10 }, vecTS, selTSS, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := append([]byte(nil), lcallGate...)
			code[5] |= byte(tc.rpl)
			if tc.jmp {
				code[0] = 0xea
			}
			c, ram := gateProt(t, tc.gate, code)
			if tc.setup != nil {
				tc.setup(c, ram)
			}
			ex := run(t, c, 100, ExitHLT)
			if ex.RIP != handlerVA+tc.vec*16 {
				t.Fatalf("halted at %#x, want the handler of vector %d", ex.RIP, tc.vec)
			}
			// The fault came from ring 3: the handler's frame is on SS0.
			sp := uint64(uint32(c.r[rSP]))
			if e, eip := ram.r32(sp), ram.r32(sp+4); e != tc.errc || eip != ring3Code {
				t.Errorf("error code %#x eip %#x, want %#x at the lcall %#x", e, eip, tc.errc, ring3Code)
			}
			if ram.r32(sp+16) != 0x8000 {
				t.Errorf("caller ESP in the frame %#x: the faulting CALL committed stack changes", ram.r32(sp+16))
			}
		})
	}
}

// 64-bit call gates in IA-32e mode: a 16-byte descriptor, the target
// must be 64-bit code; CALL to ring 0 takes RSP0, loads a null SS with
// RPL 0 and pushes SS, RSP, CS, RIP as quadwords; no parameters.
func TestCallGate64(t *testing.T) {
	setup := func(t *testing.T, lo, hi uint64) (*CPU, *testRAM) {
		// lcall *(%rip+0): m16:32 far pointer {0, selGate}
		code := []byte{0xff, 0x1d, 0x02, 0, 0, 0, 0xeb, 0x06, 0, 0, 0, 0, selGate, 0}
		c, ram := withHandlers(t, nil)
		ram.w64(0x5018, mkDesc(0, 0xfffff, 0xf2, 0xc)) // 0x18 data DPL3
		ram.w64(0x5020, 0x0020fa0000000000)            // 0x20 code64 DPL3
		ram.w64(0x5000+selGate, lo)
		ram.w64(0x5000+selGate+8, hi)
		ram.w64(0x5078, 0x00209a0000000000) // 0x78 code64 DPL0 (=selCode1 slot)
		ram.w64(0x5080, 0x00cf9a000000ffff) // 0x80 32-bit code DPL0
		mustOK(t, c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: 0x87}))
		ram.w64(tssBase+4, 0x60008) // RSP0
		copy(ram.b[ring3Code:], code)
		ram.b[ring3Code+6+8] = 0xf4 // past the pointer; not reached
		c.seg[segCS] = seg{sel: 0x23, limit: 0xffffffff, access: 0x20fb}
		c.seg[segSS] = seg{sel: 0x1b, limit: 0xffffffff, access: 0xc0f3}
		c.modeChanged()
		c.rip, c.r[rSP] = ring3Code, 0x1_0000_8000&0xffffffff
		ram.b[gateCode] = 0xf4
		return c, ram
	}
	gate := mkGate(0xc, 3, 0x78, gateCode, 0, true)
	t.Run("call", func(t *testing.T) {
		c, ram := setup(t, gate, 0)
		ex := run(t, c, 100, ExitHLT)
		if ex.RIP != gateCode || c.cpl != 0 || !c.mode64 || c.seg[segCS].sel != 0x78 {
			t.Fatalf("at %#x cpl %d cs %#x", ex.RIP, c.cpl, c.seg[segCS].sel)
		}
		if c.seg[segSS].sel != 0 || c.seg[segSS].access&segUnusable == 0 || c.r[rSP] != 0x60008-32 {
			t.Fatalf("ss %#x/%#x rsp %#x, want null SS and RSP0-32", c.seg[segSS].sel, c.seg[segSS].access, c.r[rSP])
		}
		want := []uint64{ring3Code + 6, 0x23, 0x8000, 0x1b}
		for i, w := range want {
			if got := ram.r64(0x60008 - 32 + uint64(i)*8); got != w {
				t.Errorf("frame[%d] = %#x, want %#x", i, got, w)
			}
		}
		// lretq to ring 3.
		copy(ram.b[ex.RIP+1:], []byte{0x48, 0xcb})
		ram.b[ring3Code+6] = 0xf4 // hlt in ring 3: #GP
		c.rip = ex.RIP + 1
		ex = run(t, c, 100, ExitHLT)
		if ex.RIP != handlerVA+vecGP*16 {
			t.Fatalf("after lretq: halted at %#x, want ring 3's hlt to #GP", ex.RIP)
		}
		if _, f := frame(c, ram, true); f[0] != ring3Code+6 || f[1] != 0x23 || f[3] != 0x8000 || f[4] != 0x1b {
			t.Errorf("#GP frame %#x, want the ring-3 state after lretq", f)
		}
	})
	for _, tc := range []struct {
		name   string
		lo, hi uint64
		errc   uint32
	}{
		{"upper type nonzero", gate, 0xc << 40, selGate},
		{"target 32-bit code", mkGate(0xc, 3, 0x80, gateCode, 0, true), 0, 0x80},
		{"non-canonical target", gate, 0x8000, 0},
		{"16-bit gate type", mkGate(0x4, 3, 0x78, gateCode, 0, true), 0, selGate},
		{"task gate", mkGate(0x5, 3, 0x78, gateCode, 0, true), 0, selGate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := setup(t, tc.lo, tc.hi)
			ex := run(t, c, 100, ExitHLT)
			if ex.RIP != handlerVA+vecGP*16 {
				t.Fatalf("halted at %#x, want #GP", ex.RIP)
			}
			if e, f := frame(c, ram, true); e != uint64(tc.errc) || f[0] != ring3Code {
				t.Errorf("error code %#x rip %#x, want %#x at %#x", e, f[0], tc.errc, ring3Code)
			}
		})
	}
}
