package cpu

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// Protected-mode harness: a GDT at 0x5000 with the selectors below, an
// IDT of 32-bit interrupt gates (vector 0x40 callable from ring 3) whose
// handlers are "hlt" stubs at handlerVA + vector*16, a 32-bit TSS at
// tssBase with SS0:ESP0 = 0x10:tss0SP, and flat ring-0 state.
const (
	selCode32  = 0x08
	selData32  = 0x10
	selCode3   = 0x1b // ring 3 code (RPL 3)
	selData3   = 0x23 // ring 3 data
	selTSS     = 0x28
	selNP      = 0x30 // data, not present
	selCode16  = 0x38
	selExpDown = 0x40 // expand-down data, limit 0xfff, B=1
	selSmall   = 0x48 // data, base 0, limit 0xfff
	selConf    = 0x50 // conforming code, DPL 0
	selLDT     = 0x58 // LDT at 0x1000, limit 0xff
	selRO      = 0x60 // read-only data, flat
	tss0SP     = 0x9000
)

// mkDesc encodes a segment descriptor from base, 20-bit limit, access
// byte and flags nibble (G, D/B, L, AVL).
func mkDesc(base uint64, limit uint32, access, flags uint64) uint64 {
	return uint64(limit&0xffff) | (base&0xffffff)<<16 | access<<40 |
		uint64(limit>>16&0xf)<<48 | flags<<52 | (base>>24&0xff)<<56
}

func newProt(t testing.TB, code []byte) (*CPU, *testRAM) {
	t.Helper()
	ram := &testRAM{b: make([]byte, ramSize), holes: map[uint64]bool{}}
	gdt := []uint64{0,
		mkDesc(0, 0xfffff, 0x9a, 0xc), mkDesc(0, 0xfffff, 0x92, 0xc),
		mkDesc(0, 0xfffff, 0xfa, 0xc), mkDesc(0, 0xfffff, 0xf2, 0xc),
		mkDesc(tssBase, 0x67, 0x89, 0), mkDesc(0, 0xfffff, 0x12, 0xc),
		mkDesc(0, 0xffff, 0x9a, 0), mkDesc(0, 0xfff, 0x96, 0x4),
		mkDesc(0, 0xfff, 0x92, 0x4), mkDesc(0, 0xfffff, 0x9e, 0xc),
		mkDesc(0x1000, 0xff, 0x82, 0), mkDesc(0, 0xfffff, 0x90, 0xc),
	}
	for i, d := range gdt {
		ram.w64(0x5000+uint64(i)*8, d)
	}
	for v := uint64(0); v < 256; v++ {
		h := handlerVA + v*16
		dpl := uint64(0)
		if v == 0x40 {
			dpl = 3
		}
		ram.w64(idtBase+v*8, h&0xffff|selCode32<<16|(0x8e|dpl<<5)<<40|(h>>16)<<48)
		ram.b[h] = 0xf4
	}
	ram.w64(tssBase+4, tss0SP|selData32<<32) // ESP0, SS0
	copy(ram.b[codeBase:], code)
	c := New(ram, 0)
	must := func(err error) { mustOK(t, err) }
	must(c.SetReg(abi.VM_REG_GUEST_CR0, cr0PE|cr0NE|cr0ET))
	must(c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: uint32(len(gdt))*8 - 1}))
	must(c.SetDesc(abi.VM_REG_GUEST_IDTR, abi.SegDesc{Base: idtBase, Limit: 256*8 - 1}))
	must(c.SetDesc(abi.VM_REG_GUEST_TR, abi.SegDesc{Base: tssBase, Limit: 0x67, Access: 0x8b}))
	must(c.SetReg(abi.VM_REG_GUEST_TR, selTSS))
	setSeg := func(r int32, sel uint16, acc uint32) {
		must(c.SetReg(r, uint64(sel)))
		must(c.SetDesc(r, abi.SegDesc{Limit: 0xffffffff, Access: acc}))
	}
	setSeg(abi.VM_REG_GUEST_CS, selCode32, 0xc09b)
	for _, r := range []int32{abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_SS, abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS} {
		setSeg(r, selData32, 0xc093)
	}
	must(c.SetReg(abi.VM_REG_GUEST_RSP, stackTop))
	must(c.SetReg(abi.VM_REG_GUEST_RIP, codeBase))
	must(c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2))
	return c, ram
}

func (r *testRAM) r32(gpa uint64) uint32 { return uint32(r.r64(gpa)) }

// haltedIn runs to HLT and checks it is the stub of vector vec.
func haltedIn(t *testing.T, c *CPU, vec uint64) {
	t.Helper()
	ex := run(t, c, 1000, ExitHLT)
	if ex.RIP != handlerVA+vec*16 {
		t.Fatalf("halted at %#x, want the handler of vector %d", ex.RIP, vec)
	}
}

// protFrame reads a same-privilege 32-bit frame: [err], EIP, CS, EFLAGS.
func protFrame(c *CPU, ram *testRAM, hasErr bool) (err uint32, eip, cs uint32) {
	sp := uint64(uint32(c.r[rSP]))
	if hasErr {
		err = ram.r32(sp)
		sp += 4
	}
	return err, ram.r32(sp), ram.r32(sp + 4)
}

// Selector error codes of segment loads (SDM MOV Sreg): #GP(sel) beyond
// the GDT limit or for a bad type/privilege, #NP(sel) not present,
// #SS(sel) for SS not present, #GP(0) for a null SS.
func TestProtSegmentLoadFaults(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	for _, tc := range []struct {
		name string
		code []byte
		vec  uint64
		err  uint32
	}{
		{"beyond GDT limit", []byte{0x66, 0xb8, 0x68, 0x00, 0x8e, 0xd8}, vecGP, 0x68},
		{"LDT without LDT", []byte{0x66, 0xb8, 0x0c, 0x00, 0x8e, 0xd8}, vecGP, 0x0c},
		{"not present", []byte{0x66, 0xb8, selNP, 0x00, 0x8e, 0xd8}, vecNP, selNP},
		{"SS not present", []byte{0x66, 0xb8, selNP, 0x00, 0x8e, 0xd0}, vecSS, selNP},
		{"SS null", []byte{0x66, 0x31, 0xc0, 0x8e, 0xd0}, vecGP, 0},
		{"SS ring 3 data", []byte{0x66, 0xb8, selData3, 0x00, 0x8e, 0xd0}, vecGP, selData3 &^ 3},
		{"DS code not readable", []byte{0x66, 0xb8, selTSS, 0x00, 0x8e, 0xd8}, vecGP, selTSS},
		{"SS code", []byte{0x66, 0xb8, selCode32, 0x00, 0x8e, 0xd0}, vecGP, selCode32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := newProt(t, tc.code)
			haltedIn(t, c, tc.vec)
			e, eip, cs := protFrame(c, ram, true)
			at := uint32(codeBase) + uint32(len(tc.code)) - 2
			if e != tc.err || eip != at || cs != selCode32 {
				t.Errorf("err %#x eip %#x cs %#x, want %#x %#x %#x", e, eip, cs, tc.err, at, selCode32)
			}
		})
	}
}

// Limit checks (SDM Vol. 3 §5.3): beyond the limit of a data segment is
// #GP(0); expand-down segments are valid only above the limit; a stack
// access beyond SS's limit is #SS(0).
func TestProtLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		vec  uint64 // 0: no fault (runs into the hlt)
	}{
		// mov ax, sel; mov es, ax; mov eax, es:[disp32]
		{"in limit", []byte{0x66, 0xb8, selSmall, 0, 0x8e, 0xc0, 0x26, 0x8b, 0x05, 0xfc, 0x0f, 0, 0, 0xf4}, 0},
		{"crosses limit", []byte{0x66, 0xb8, selSmall, 0, 0x8e, 0xc0, 0x26, 0x8b, 0x05, 0xfd, 0x0f, 0, 0, 0xf4}, vecGP},
		{"expand-down below", []byte{0x66, 0xb8, selExpDown, 0, 0x8e, 0xc0, 0x26, 0x8b, 0x05, 0xff, 0x0f, 0, 0, 0xf4}, vecGP},
		{"expand-down above", []byte{0x66, 0xb8, selExpDown, 0, 0x8e, 0xc0, 0x26, 0x8b, 0x05, 0x00, 0x10, 0, 0, 0xf4}, 0},
		// mov ax, selSmall; mov ss, ax; mov esp, 0x2000; push eax
		{"stack beyond", []byte{0x66, 0xb8, selSmall, 0, 0x8e, 0xd0, 0xbc, 0, 0x20, 0, 0, 0x50, 0xf4}, vecSS},
		{"stack in", []byte{0x66, 0xb8, selSmall, 0, 0x8e, 0xd0, 0xbc, 0, 0x10, 0, 0, 0x50, 0xf4}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := newProt(t, tc.code)
			if tc.vec == 0 {
				ex := run(t, c, 100, ExitHLT)
				if ex.RIP != codeBase+uint64(len(tc.code))-1 {
					t.Fatalf("halted at %#x", ex.RIP)
				}
				return
			}
			if tc.vec == vecSS {
				// The #SS frame cannot go on the broken stack (same
				// privilege): that is a #DF, then a triple fault.
				ex := run(t, c, 100, ExitTripleFault)
				if ex.RIP != codeBase+uint64(len(tc.code))-2 {
					t.Fatalf("triple fault at %#x", ex.RIP)
				}
				return
			}
			haltedIn(t, c, tc.vec)
			if e, eip, _ := protFrame(c, ram, true); e != 0 || eip != codeBase+6 {
				t.Errorf("err %#x eip %#x", e, eip)
			}
		})
	}
}

// INT n from ring 3 through a DPL-3 gate switches to the TSS's ring-0
// stack and pushes SS, ESP, EFLAGS, CS, EIP (SDM Vol. 3 §6.12.1); IRET
// returns to ring 3; a DPL-0 gate from ring 3 is #GP(vector*8+2).
func TestProtPrivilegeChange(t *testing.T) {
	// ring 3: int 0x40; hlt   (the hlt at CPL 3 is #GP)
	c, ram := newProt(t, []byte{0xcd, 0x40, 0xf4})
	c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
	c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.seg[segDS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.modeChanged()
	c.setRflags(0x202)
	haltedIn(t, c, 0x40)
	if c.cpl != 0 || c.seg[segSS].sel != selData32 {
		t.Fatalf("cpl %d ss %#x", c.cpl, c.seg[segSS].sel)
	}
	sp := uint64(uint32(c.r[rSP]))
	if sp != tss0SP-20 {
		t.Fatalf("esp %#x, want %#x", sp, tss0SP-20)
	}
	got := [5]uint32{ram.r32(sp), ram.r32(sp + 4), ram.r32(sp + 8), ram.r32(sp + 12), ram.r32(sp + 16)}
	want := [5]uint32{codeBase + 2, selCode3, 0x202, stackTop, selData3}
	if got != want {
		t.Errorf("frame %#x, want %#x", got, want)
	}
	// iretd from the handler: back to ring 3 at the hlt, which faults.
	copy(ram.b[handlerVA+0x40*16:], []byte{0xcf})
	c.rip = handlerVA + 0x40*16
	haltedIn(t, c, vecGP)
	e, eip, cs := protFrame(c, ram, true)
	if e != 0 || eip != codeBase+2 || cs != selCode3 {
		t.Errorf("after iret: #GP err %#x eip %#x cs %#x", e, eip, cs)
	}
	if c.seg[segDS].sel != selData3 {
		t.Errorf("ds %#x: a DPL-3 data segment survives the return to ring 3", c.seg[segDS].sel)
	}

	// int 0x41 (DPL 0 gate) from ring 3.
	c, ram = newProt(t, []byte{0xcd, 0x41})
	c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
	c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.modeChanged()
	haltedIn(t, c, vecGP)
	if e := ram.r32(uint64(uint32(c.r[rSP]))); e != 0x41*8+2 {
		t.Errorf("#GP error %#x, want %#x", e, 0x41*8+2)
	}
}

// A bad SS0 in the TSS is #TS(SS0 selector) (EXT clear for INT n). The
// #TS handler is in a conforming segment, so it runs at CPL 3 on the
// ring-3 stack and needs no TSS stack itself.
func TestProtTSSFault(t *testing.T) {
	c, ram := newProt(t, []byte{0xcd, 0x40})
	ram.w64(tssBase+4, tss0SP|selData3<<32) // SS0 = ring 3 data
	h := uint64(handlerVA + vecTS*16)
	ram.w64(idtBase+vecTS*8, h&0xffff|selConf<<16|0x8e<<40|(h>>16)<<48)
	c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
	c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
	c.modeChanged()
	// (hlt at CPL 3 would fault; stop after the handler's first
	// instruction instead: the faulting INT did not retire, the nop did.)
	ram.b[h] = 0x90
	ex := c.Run(1)
	if ex.Reason != ExitBudget || c.rip != h+1 || c.cpl != 3 {
		t.Fatalf("exit %v rip %#x cpl %d, want the #TS handler at CPL 3", ex.Reason, c.rip, c.cpl)
	}
	if e, eip, cs := protFrame(c, ram, true); e != selData3&^3 || eip != codeBase || cs != selCode3 {
		t.Errorf("#TS err %#x eip %#x cs %#x", e, eip, cs)
	}
	if c.seg[segCS].sel != selConf|3 {
		t.Errorf("cs %#x, want the conforming selector with RPL 3", c.seg[segCS].sel)
	}
	// From ring 0 the same INT uses the current stack and only the TSS
	// lookup for ring 0 would have failed: no fault.
	c, _ = newProt(t, []byte{0xcd, 0x40})
	haltedIn(t, c, 0x40)
}

// With no IDT, an exception in protected or real mode escalates to a
// triple fault (SDM Vol. 3 §6.15 "Interrupt 8").
func TestTripleFaultLegacy(t *testing.T) {
	c, _ := newProt(t, []byte{0x90, 0x0f, 0x0b}) // nop; ud2
	c.idtr.limit = 0
	ex := run(t, c, 10, ExitTripleFault)
	if ex.RIP != codeBase+1 || c.Retired() != 1 {
		t.Errorf("rip %#x retired %d", ex.RIP, c.Retired())
	}
	r, _ := newReal(t, []byte{0x0f, 0x0b}, 0x7c00)
	r.idtr.limit = 0
	run(t, r, 10, ExitTripleFault)
}

// Instructions that differ by mode, in 32-bit protected mode, with the
// SDM's pseudocode worked by hand for the BCD cases.
func TestProt32Instructions(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		reg  int
		mask uint64
		want uint64
		cf   int // -1: not checked
		// code16 is the same program for a 16-bit code segment (66
		// toggled), with its result under mask16; nil: 32-bit only.
		code16 []byte
		mask16 uint64
		want16 uint64
	}{
		{"inc eax (40)", []byte{0xb8, 0xff, 0xff, 0xff, 0xff, 0x40}, rAX, ^uint64(0), 0, -1, []byte{0xb8, 0xff, 0xff, 0x40}, 0xffff, 0},
		{"dec ecx (49)", []byte{0x31, 0xc9, 0x49}, rCX, ^uint64(0), 0xffffffff, -1, []byte{0x31, 0xc9, 0x49}, 0xffff, 0xffff},
		{"das 0x35-0x47", []byte{0xb0, 0x35, 0x2c, 0x47, 0x2f}, rAX, 0xff, 0x88, 1, []byte{0xb0, 0x35, 0x2c, 0x47, 0x2f}, 0xff, 0x88},
		{"aaa 8+4", []byte{0x66, 0x31, 0xc0, 0xb0, 0x08, 0x04, 0x04, 0x37}, rAX, 0xffff, 0x0102, 1, []byte{0x31, 0xc0, 0xb0, 0x08, 0x04, 0x04, 0x37}, 0xffff, 0x0102},
		{"aas 12-5", []byte{0x66, 0xb8, 0x02, 0x01, 0x2c, 0x05, 0x3f}, rAX, 0xffff, 0x0007, 1, []byte{0xb8, 0x02, 0x01, 0x2c, 0x05, 0x3f}, 0xffff, 0x0007},
		{"aam 56", []byte{0xb0, 0x38, 0xd4, 0x0a}, rAX, 0xffff, 0x0506, -1, []byte{0xb0, 0x38, 0xd4, 0x0a}, 0xffff, 0x0506},
		{"aad 5,6", []byte{0x66, 0xb8, 0x06, 0x05, 0xd5, 0x0a}, rAX, 0xffff, 0x0038, -1, []byte{0xb8, 0x06, 0x05, 0xd5, 0x0a}, 0xffff, 0x0038},
		{"daa 0x79+0x35", []byte{0xb0, 0x79, 0x04, 0x35, 0x27}, rAX, 0xff, 0x14, 1, []byte{0xb0, 0x79, 0x04, 0x35, 0x27}, 0xff, 0x14},
		// pushad; xor eax,eax; popad (EAX back)
		{"pushad/popad", []byte{0xb8, 0x44, 0x33, 0x22, 0x11, 0x60, 0x31, 0xc0, 0x61}, rAX, ^uint64(0), 0x11223344, -1, nil, 0, 0},
		{"pushad keeps esp", []byte{0x60, 0x61}, rSP, ^uint64(0), stackTop, -1, nil, 0, 0},
		// push es; pop fs; mov eax, fs
		{"push es/pop fs", []byte{0x06, 0x0f, 0xa1, 0x8c, 0xe0}, rAX, 0xffff, selData32, -1, nil, 0, 0},
		// enter 8,0: ebp = esp after the push; esp = ebp - 8
		{"enter", []byte{0xc8, 0x08, 0x00, 0x00, 0x89, 0xe8}, rAX, ^uint64(0), stackTop - 4, -1, nil, 0, 0},
		{"enter esp", []byte{0xc8, 0x08, 0x00, 0x00}, rSP, ^uint64(0), stackTop - 12, -1, nil, 0, 0},
		// mov ebx, dataBase; mov al, 3; xlat  (table byte 3 = 0x33)
		{"xlat", []byte{0xbb, 0x00, 0x00, 0x02, 0x00, 0xb0, 0x03, 0xd7}, rAX, 0xff, 0x33, -1, nil, 0, 0},
		// lds eax, [dataBase+0x10] (far pointer 0x10:0xcafe)
		{"lds", []byte{0xc5, 0x05, 0x10, 0x00, 0x02, 0x00}, rAX, ^uint64(0), 0xcafe, -1, nil, 0, 0},
		// o16 operand size: mov ax, 0x1234 merges
		{"o16 mov", []byte{0xb8, 0xff, 0xff, 0xff, 0xff, 0x66, 0xb8, 0x34, 0x12}, rAX, ^uint64(0), 0xffff1234, -1, nil, 0, 0},
		// LAR/LSL/VERR/VERW/ARPL on the harness GDT
		// (bits 19:16 of the LAR result are undefined)
		{"lar", []byte{0xb8, selData32, 0, 0, 0, 0x0f, 0x02, 0xc8}, rCX, 0xfff0ffff, 0x00c09200, -1, []byte{0xb8, selData32, 0, 0x0f, 0x02, 0xc8}, 0xffff, 0x9200},
		{"lsl", []byte{0xb8, selSmall, 0, 0, 0, 0x0f, 0x03, 0xc8}, rCX, ^uint64(0), 0xfff, -1, []byte{0xb8, selSmall, 0, 0x0f, 0x03, 0xc8}, 0xffff, 0xfff},
		{"lsl beyond gdt", []byte{0xb9, 7, 0, 0, 0, 0xb8, 0x68, 0, 0, 0, 0x0f, 0x03, 0xc8, 0x0f, 0x94, 0xc1}, rCX, ^uint64(0), 0, -1, nil, 0, 0},
		{"verr data", []byte{0xb8, selData32, 0, 0, 0, 0x0f, 0x00, 0xe0, 0x0f, 0x94, 0xc0}, rAX, 0xff, 1, -1, []byte{0xb8, selData32, 0, 0x0f, 0x00, 0xe0, 0x0f, 0x94, 0xc0}, 0xff, 1},
		{"verw code", []byte{0xb8, selCode32, 0, 0, 0, 0x0f, 0x00, 0xe8, 0x0f, 0x94, 0xc0}, rAX, 0xff, 0, -1, []byte{0xb8, selCode32, 0, 0x0f, 0x00, 0xe8, 0x0f, 0x94, 0xc0}, 0xff, 0},
		{"verr tss", []byte{0xb8, selTSS, 0, 0, 0, 0x0f, 0x00, 0xe0, 0x0f, 0x94, 0xc0}, rAX, 0xff, 0, -1, nil, 0, 0},
		{"arpl", []byte{0xb8, 0x10, 0, 0, 0, 0xb9, 3, 0, 0, 0, 0x63, 0xc8}, rAX, 0xffff, 0x13, -1, []byte{0xb8, 0x10, 0, 0xb9, 3, 0, 0x63, 0xc8}, 0xffff, 0x13},
		// jcxz (a16) over an inc when CX is 0 though ECX is not
		{"jcxz", []byte{0xb9, 0, 0, 1, 0, 0x31, 0xc0, 0x67, 0xe3, 0x01, 0x40}, rAX, ^uint64(0), 0, -1, nil, 0, 0},
		{"pushfd/popfd", []byte{0xf9, 0x9c, 0x58}, rAX, 0xfff, 0x003, -1, []byte{0xf9, 0x9c, 0x58}, 0xfff, 0x003},
		// a16 address size: mov eax, [bx+si] with bx+si wrapping at 64 KiB
		{"a16 wrap", []byte{0xbb, 0x00, 0x00, 0x02, 0x00, 0xbe, 0x10, 0x00, 0x00, 0x00, 0x67, 0x8b, 0x00}, rAX, ^uint64(0), 0x11111111, -1, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verifyDecoded(t) // each program's result is checked: counted by the ISA coverage report
			c, ram := newProt(t, append(append([]byte{}, tc.code...), 0xf4))
			for i := uint64(0); i < 8; i++ {
				ram.b[dataBase+i] = byte(i * 0x11)
			}
			ram.w64(dataBase+0x10, 0xcafe|selData32<<32)
			ram.w64(0x10, 0x11111111) // what [bx+si] reaches once bx+si wraps to 0x10
			run(t, c, 100, ExitHLT)
			if got := c.r[tc.reg] & tc.mask; got != tc.want {
				t.Errorf("reg %d = %#x, want %#x", tc.reg, got, tc.want)
			}
			if tc.cf >= 0 && int(c.rflags()&flagCF) != tc.cf {
				t.Errorf("CF %d, want %d", c.rflags()&flagCF, tc.cf)
			}
			if tc.code16 == nil {
				return
			}
			c, ram = newProt(t, nil)
			copy(ram.b[0x8000:], append(append([]byte{}, tc.code16...), 0xf4))
			c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
			c.rip = 0x8000
			c.modeChanged()
			run(t, c, 100, ExitHLT)
			if got := c.r[tc.reg] & tc.mask16; got != tc.want16 {
				t.Errorf("16-bit code: reg %d = %#x, want %#x", tc.reg, got, tc.want16)
			}
			if tc.cf >= 0 && int(c.rflags()&flagCF) != tc.cf {
				t.Errorf("16-bit code: CF %d, want %d", c.rflags()&flagCF, tc.cf)
			}
		})
	}
}

// INT1 (ICEBP) delivers #DB as a trap.
func TestProtIcebp(t *testing.T) {
	c, ram := newProt(t, []byte{0x90, 0xf1})
	haltedIn(t, c, vecDB)
	if _, eip, _ := protFrame(c, ram, false); eip != codeBase+2 {
		t.Errorf("#DB eip %#x, want after ICEBP", eip)
	}
}

// BOUND raises #BR (vector 5) as a fault; INTO raises #OF as a trap.
func TestProtBoundInto(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	// mov eax, 11; bound eax, [dataBase]   (bounds 0..10)
	c, ram := newProt(t, []byte{0xb8, 11, 0, 0, 0, 0x62, 0x05, 0x00, 0x00, 0x02, 0x00})
	ram.w64(dataBase, 10<<32)
	haltedIn(t, c, vecBR)
	if _, eip, _ := protFrame(c, ram, false); eip != codeBase+5 {
		t.Errorf("#BR eip %#x", eip)
	}
	// mov al, 0x7f; inc al (OF); into
	c, ram = newProt(t, []byte{0xb0, 0x7f, 0xfe, 0xc0, 0xce})
	haltedIn(t, c, vecOF)
	if _, eip, _ := protFrame(c, ram, false); eip != codeBase+5 {
		t.Errorf("#OF eip %#x, want after INTO", eip)
	}
}

// LTR marks the TSS descriptor busy; LLDT loads an LDT whose selectors
// then resolve through it; both are #UD in real mode.
func TestProtLTRLLDT(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	// mov ax, selTSS; ltr ax; mov ax, selLDT; lldt ax; mov ax, 0x0c; mov es, ax
	c, ram := newProt(t, []byte{0x66, 0xb8, selTSS, 0, 0x0f, 0x00, 0xd8, 0x66, 0xb8, selLDT, 0, 0x0f, 0x00, 0xd0,
		0x66, 0xb8, 0x0c, 0x00, 0x8e, 0xc0, 0xf4})
	ram.w64(0x1008, mkDesc(0x123000, 0xfff, 0x92, 0x4)) // LDT entry 1
	run(t, c, 100, ExitHLT)
	if ram.b[0x5000+selTSS+5] != 0x8b || c.tr.sel != selTSS || c.tr.access&0xf != 0xb {
		t.Errorf("TSS descriptor type %#x, TR %#x access %#x", ram.b[0x5000+selTSS+5], c.tr.sel, c.tr.access)
	}
	if c.ldtr.base != 0x1000 || c.seg[segES].base != 0x123000 {
		t.Errorf("ldtr base %#x, es base %#x", c.ldtr.base, c.seg[segES].base)
	}
	r, _ := newReal(t, []byte{0x0f, 0x00, 0xd8}, 0x7c00)
	r.idtr.limit = 0
	run(t, r, 10, ExitTripleFault) // #UD, undeliverable without an IVT
}

// MOV to CR0 and WRMSR EFER follow the IA-32e activation rules (SDM Vol.
// 3 §9.8.5 and MOV CR "#GP(0)"): PG with LME needs PAE; LMA follows PG;
// PG cannot be cleared in 64-bit mode; LME cannot change under PG.
func TestModeSwitchRules(t *testing.T) {
	// mov eax, cr0; or eax, 0x80000000; mov cr0, eax; hlt
	setPG := []byte{0x0f, 0x20, 0xc0, 0x0d, 0, 0, 0, 0x80, 0x0f, 0x22, 0xc0, 0xf4}
	c, _ := newProt(t, setPG)
	c.efer = eferLME
	haltedIn(t, c, vecGP) // no PAE
	c, ram := newProt(t, setPG)
	c.efer = eferLME
	c.cr4 = cr4PAEbit
	c.cr3 = 0x2000
	for i := uint64(0); i < 512; i++ { // identity 4-level tables
		ram.w64(0x2000+i*8, 0x3000|3)
		ram.w64(0x3000+i*8, 0x4000|3)
		ram.w64(0x4000+i*8, i<<21|0x83)
	}
	run(t, c, 100, ExitHLT)
	if c.efer&eferLMA == 0 || c.mode64 {
		t.Errorf("efer %#x mode64 %v: want IA-32e compatibility mode", c.efer, c.mode64)
	}
	// Clearing PG from compatibility mode leaves IA-32e mode.
	copy(ram.b[codeBase:], []byte{0x0f, 0x20, 0xc0, 0x25, 0xff, 0xff, 0xff, 0x7f, 0x0f, 0x22, 0xc0, 0xf4})
	c.rip = codeBase
	run(t, c, 100, ExitHLT)
	if c.efer&eferLMA != 0 {
		t.Errorf("LMA still set")
	}
	// 64-bit mode: clearing PG is #GP(0); toggling LME under PG too.
	for _, code := range [][]byte{
		{0x0f, 0x20, 0xc0, 0x25, 0xff, 0xff, 0xff, 0x7f, 0x0f, 0x22, 0xc0},
		{0xb9, 0x80, 0, 0, 0xc0, 0x0f, 0x32, 0x25, 0xff, 0xfe, 0xff, 0xff, 0x0f, 0x30},
	} {
		g, _ := withHandlers(t, code)
		haltedIn(t, g, vecGP)
	}
}

// 32-bit paging (CR4.PAE clear): 4 MiB pages with CR4.PSE, #PF with CR2
// and the error code, read-only and supervisor pages.
func TestPaging32(t *testing.T) {
	// mov eax, [0x400010]
	c, ram := newProt(t, []byte{0xa1, 0x10, 0x00, 0x40, 0x00})
	const pd = 0x100000
	ram.w64(pd, 0x83)                  // PDE 0: 4 MiB page at 0, RW, supervisor
	ram.w64(pd+8, 0x00000000_00000000) // PDE 1 (0x400000): not present
	c.cr3, c.cr4 = pd, cr4PSEbit
	c.cr0 |= cr0PG | cr0WP
	c.tlb.flush()
	haltedIn(t, c, vecPF)
	if e, eip, _ := protFrame(c, ram, true); e != 0 || eip != codeBase || c.cr2 != 0x400010 {
		t.Errorf("err %#x eip %#x cr2 %#x", e, eip, c.cr2)
	}
	if ram.r32(pd)&pteA == 0 {
		t.Errorf("accessed bit not set on the 4 MiB PDE")
	}
	// A 4 KiB page table under PDE 1, read-only: a write is #PF(P|W).
	c, ram = newProt(t, []byte{0xa3, 0x10, 0x00, 0x40, 0x00}) // mov [0x400010], eax
	ram.w64(pd, 0x83)
	ram.w64(pd+4, 0x101000|3)
	ram.w64(0x101000, 0x200000|1) // PTE 0 -> 0x200000, read-only
	c.cr3, c.cr4 = pd, cr4PSEbit
	c.cr0 |= cr0PG | cr0WP
	c.tlb.flush()
	haltedIn(t, c, vecPF)
	if e, _, _ := protFrame(c, ram, true); e != pfP|pfW || c.cr2 != 0x400010 {
		t.Errorf("err %#x cr2 %#x", e, c.cr2)
	}
}

// A fault in compatibility mode goes through the 64-bit IDT with an
// 8-byte frame holding the compatibility-mode CS; IRETQ returns there
// (SDM Vol. 3 §6.14).
func TestCompatModeFault(t *testing.T) {
	// mov ax, 0x58; mov ds, ax (beyond the GDT: #GP(0x58)); hlt
	c, ram := withHandlers(t, []byte{0x66, 0xb8, 0x58, 0x00, 0x8e, 0xd8, 0xf4})
	ram.w64(0x5010, 0x00cf92000000ffff) // writable flat data
	ram.w64(0x5018, 0x00cf9a000000ffff) // 32-bit code: compatibility mode
	c.gdtr.limit = 31
	c.seg[segCS] = seg{sel: 0x18, limit: 0xffffffff, access: 0xc09b}
	c.modeChanged()
	if c.mode64 || c.dmode != 32 {
		t.Fatalf("not in compatibility mode")
	}
	haltedIn(t, c, vecGP)
	if !c.mode64 {
		t.Errorf("handler not in 64-bit mode")
	}
	e, f := frame(c, ram, true)
	if e != 0x58 || f[0] != codeBase+4 || f[1] != 0x18 || f[3] != stackTop {
		t.Errorf("err %#x frame %#x", e, f)
	}
	// Skip the faulting MOV and return: add rsp, 8; iretq.
	ram.w64(c.r[rSP]+8, codeBase+6)
	copy(ram.b[handlerVA+0x200:], []byte{0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf})
	c.rip = handlerVA + 0x200
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != codeBase+6 || c.mode64 || c.seg[segCS].sel != 0x18 || c.r[rSP] != stackTop {
		t.Errorf("after iretq: rip %#x mode64 %v cs %#x rsp %#x", ex.RIP, c.mode64, c.seg[segCS].sel, c.r[rSP])
	}
}

// 16-bit interrupt gates push a frame of words (FLAGS, CS, IP); 16-bit
// code pushes 2 bytes on a 32-bit stack.
func TestProt16(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	c, ram := newProt(t, []byte{0xcd, 0x40})
	const h = 0x9100 // a 16-bit gate reaches only the first 64 KiB
	ram.w64(idtBase+0x40*8, h|selCode32<<16|0x86<<40)
	ram.b[h] = 0xf4
	c.setRflags(0x202)
	if ex := run(t, c, 10, ExitHLT); ex.RIP != h {
		t.Fatalf("halted at %#x", ex.RIP)
	}
	sp := uint64(uint32(c.r[rSP]))
	if sp != stackTop-6 || ram.r16(sp) != (codeBase+2)&0xffff || ram.r16(sp+2) != selCode32 || ram.r16(sp+4) != 0x202 {
		t.Errorf("sp %#x frame %#x %#x %#x", sp, ram.r16(sp), ram.r16(sp+2), ram.r16(sp+4))
	}
	// 16-bit code segment: push 5; hlt (IP within 64 KiB).
	c, ram = newProt(t, nil)
	copy(ram.b[0x8000:], []byte{0x6a, 0x05, 0x66, 0x6a, 0x07, 0xf4})
	c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
	c.rip = 0x8000
	c.modeChanged()
	run(t, c, 10, ExitHLT)
	if c.r[rSP] != stackTop-6 || ram.r16(stackTop-2) != 5 || ram.r32(stackTop-6) != 7 {
		t.Errorf("esp %#x stack %#x %#x", c.r[rSP], ram.r16(stackTop-2), ram.r32(stackTop-6))
	}
	// Beyond the 64 KiB CS limit: #GP(0) on the jump.
	copy(ram.b[0x8000:], []byte{0x66, 0xe9, 0x00, 0x00, 0x01, 0x00}) // jmp near32 +0x10000
	c.rip = 0x8000
	haltedIn(t, c, vecGP)
}

// PAE paging outside IA-32e mode: NX with EFER.NXE (fetch #PF with the
// I/D bit), U/S for CPL 3, and a reserved PDPTE bit (#PF with RSVD).
func TestPagingPAE(t *testing.T) {
	setup := func(code []byte) (*CPU, *testRAM) {
		c, ram := newProt(t, code)
		ram.w64(0x100000, 0x101000|1)          // PDPTE 0
		ram.w64(0x101000, 0x83)                // 0-2 MiB, supervisor
		ram.w64(0x101008, 0x200000|0x87|1<<63) // 2-4 MiB, user, NX
		c.cr3, c.cr4, c.efer = 0x100000, cr4PAEbit, eferNXE
		c.cr0 |= cr0PG
		c.tlb.flush()
		c.hostPDPTEs() // as VM entry loads them
		return c, ram
	}
	// jmp 0x200000
	rel := uint32(0x200000 - (codeBase + 5))
	c, ram := setup([]byte{0xe9, byte(rel), byte(rel >> 8), byte(rel >> 16), byte(rel >> 24)})
	haltedIn(t, c, vecPF)
	if e, eip, _ := protFrame(c, ram, true); e != pfP|pfI || eip != 0x200000 || c.cr2 != 0x200000 {
		t.Errorf("NX fetch: err %#x eip %#x cr2 %#x", e, eip, c.cr2)
	}
	// A data read of the NX page is fine.
	c, _ = setup([]byte{0xa1, 0x00, 0x00, 0x20, 0x00, 0xf4})
	run(t, c, 10, ExitHLT)
	// Reserved bit 1 in a PDPTE (the one for 1-2 GiB), loaded by the
	// host: the walk reports it as #PF with RSVD.
	c, ram = setup([]byte{0xa1, 0x00, 0x00, 0x00, 0x40})
	ram.w64(0x100008, 0x101000|3)
	c.hostPDPTEs()
	haltedIn(t, c, vecPF)
	if e, _, _ := protFrame(c, ram, true); e != pfP|pfRSVD {
		t.Errorf("reserved PDPTE: err %#x", e)
	}
	// The guest's MOV CR3 refuses it: #GP(0), CR3 unchanged.
	c, ram = setup([]byte{0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8}) // mov eax, cr3; mov cr3, eax
	ram.w64(0x100008, 0x101000|3)
	haltedIn(t, c, vecGP)
	if e, eip, _ := protFrame(c, ram, true); e != 0 || eip != codeBase+3 || c.cr3 != 0x100000 {
		t.Errorf("MOV CR3 with a reserved PDPTE: err %#x eip %#x", e, eip)
	}
	// PDPTEs are cached: clearing the one for 0-1 GiB in memory changes
	// nothing until CR3 is reloaded (mov eax, [0x1000]; mov eax, cr3;
	// mov cr3, eax); after that nothing below 1 GiB is mapped, not even
	// the IDT: a triple fault at the next instruction.
	c, ram = setup([]byte{0xa1, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x90})
	ram.w64(0x100000, 0)
	c.tlb.flush()
	ex := run(t, c, 100, ExitTripleFault)
	if ex.RIP != codeBase+11 || c.Retired() != 3 {
		t.Errorf("triple fault at %#x after %d instructions, want %#x after 3", ex.RIP, c.Retired(), codeBase+11)
	}
}

// System and rarer forms in 32-bit protected mode, each checked against
// what the SDM says it leaves.
// protUntouched: newProt's registers and flags as they started (GPRs 0
// but ESP = stackTop and EDX = 0xf00, New's reset value), EFLAGS 2, and
// CR0 with the TS the test set.
func protUntouched(c *CPU, _ *testRAM) bool {
	for r := 0; r < 16; r++ {
		if want := map[int]uint64{rSP: stackTop, rDX: 0xf00}[r]; c.r[r] != want {
			return false
		}
	}
	return c.rflags() == 2 && c.cr0 == cr0PE|cr0NE|cr0ET|cr0TS
}

func TestProt32System(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	for _, tc := range []struct {
		name  string
		code  []byte
		check func(c *CPU, ram *testRAM) bool
	}{
		{"cli/sti/std/cld", []byte{0xfa, 0xfd, 0xfb, 0x90, 0xfc, 0x9c, 0x58}, func(c *CPU, _ *testRAM) bool {
			return c.r[rAX]&(flagIF|flagDF) == flagIF
		}},
		{"clts", []byte{0x0f, 0x06}, func(c *CPU, _ *testRAM) bool { return c.cr0&cr0TS == 0 }},
		// No cache or TLB state is visible here: they retire and change
		// no register, flag or CR0 bit (their TLB effect: legacyTableCases).
		{"invd/wbinvd/fences", []byte{0x0f, 0x08, 0x0f, 0x09, 0x0f, 0xae, 0xe8, 0x0f, 0xae, 0xf0, 0x0f, 0xae, 0xf8}, protUntouched},
		{"invlpg", []byte{0x0f, 0x01, 0x3d, 0x00, 0x10, 0x00, 0x00}, protUntouched},
		{"cpuid", []byte{0x31, 0xc0, 0x0f, 0xa2}, func(c *CPU, _ *testRAM) bool { return uint32(c.r[rBX]) == 0x74666f53 }},
		// the TSC counts retired instructions (sys.go): one nop before
		{"rdtsc", []byte{0x90, 0x0f, 0x31}, func(c *CPU, _ *testRAM) bool { return c.r[rAX] == 1 && c.r[rDX] == 0 }},
		// sgdt [dataBase]; sidt [dataBase+8]
		{"sgdt/sidt", []byte{0x0f, 0x01, 0x05, 0x00, 0x00, 0x02, 0x00, 0x0f, 0x01, 0x0d, 0x08, 0x00, 0x02, 0x00}, func(c *CPU, ram *testRAM) bool {
			return ram.r16(dataBase) == 13*8-1 && ram.r32(dataBase+2) == 0x5000 && // newProt's 13 descriptors
				ram.r16(dataBase+8) == 256*8-1 && ram.r32(dataBase+10) == idtBase
		}},
		// lgdt [dataBase] with limit 0x57, base 0x5000
		{"lgdt", []byte{0x0f, 0x01, 0x15, 0x00, 0x00, 0x02, 0x00}, func(c *CPU, _ *testRAM) bool {
			return c.gdtr.limit == 0x57 && c.gdtr.base == 0x5000
		}},
		{"sldt/str/smsw", []byte{0x0f, 0x00, 0xc2, 0x0f, 0x00, 0xcb, 0x0f, 0x01, 0xe1}, func(c *CPU, _ *testRAM) bool {
			return c.r[rDX] == 0 && c.r[rBX] == selTSS && c.r[rCX]&1 == 1
		}},
		// lmsw ax with TS: CR0.TS set, PE kept
		{"lmsw", []byte{0x66, 0xb8, 0x08, 0x00, 0x0f, 0x01, 0xf0}, func(c *CPU, _ *testRAM) bool {
			return c.cr0&(cr0TS|cr0PE) == cr0TS|cr0PE
		}},
		// mov eax, 0x1234; mov dr0, eax; mov ebx, dr0
		{"mov dr", []byte{0xb8, 0x34, 0x12, 0, 0, 0x0f, 0x23, 0xc0, 0x0f, 0x21, 0xc3}, func(c *CPU, _ *testRAM) bool { return c.r[rBX] == 0x1234 }},
		// lfs/lgs/lss/les ebx, [dataBase+0x10] (0x10:0xcafe)
		{"lfs", []byte{0x0f, 0xb4, 0x1d, 0x10, 0x00, 0x02, 0x00}, func(c *CPU, _ *testRAM) bool { return c.r[rBX] == 0xcafe && c.seg[segFS].sel == 0x10 }},
		{"lgs", []byte{0x0f, 0xb5, 0x1d, 0x10, 0x00, 0x02, 0x00}, func(c *CPU, _ *testRAM) bool { return c.r[rBX] == 0xcafe && c.seg[segGS].sel == 0x10 }},
		{"lss", []byte{0x0f, 0xb2, 0x1d, 0x10, 0x00, 0x02, 0x00}, func(c *CPU, _ *testRAM) bool { return c.r[rBX] == 0xcafe && c.seg[segSS].sel == 0x10 }},
		{"les", []byte{0xc4, 0x1d, 0x10, 0x00, 0x02, 0x00}, func(c *CPU, _ *testRAM) bool { return c.r[rBX] == 0xcafe && c.seg[segES].sel == 0x10 }},
		{"les16", []byte{0x66, 0xc4, 0x1d, 0x18, 0x00, 0x02, 0x00}, func(c *CPU, _ *testRAM) bool {
			return c.r[rBX]&0xffff == 0xbeef && c.seg[segES].sel == 0x10
		}},
		{"bswap", []byte{0xb9, 0x44, 0x33, 0x22, 0x11, 0x0f, 0xc9}, func(c *CPU, _ *testRAM) bool { return c.r[rCX] == 0x44332211 }},
		// cmpxchg8b [dataBase+0x20] with edx:eax = memory: ZF, stores ecx:ebx
		{"cmpxchg8b", []byte{0x31, 0xc0, 0x31, 0xd2, 0xbb, 1, 0, 0, 0, 0xb9, 2, 0, 0, 0, 0x0f, 0xc7, 0x0d, 0x20, 0x00, 0x02, 0x00}, func(c *CPU, ram *testRAM) bool {
			return ram.r64(dataBase+0x20) == 2<<32|1 && c.rflags()&flagZF != 0
		}},
		// o16 leave
		{"leave16", []byte{0x89, 0xe5, 0x66, 0xc9}, func(c *CPU, _ *testRAM) bool { return c.r[rSP] == stackTop+2 }},
		// pop fs / pop gs with o16
		{"pop fs16", []byte{0x66, 0x6a, 0x10, 0x66, 0x0f, 0xa1, 0x66, 0x6a, 0x10, 0x66, 0x0f, 0xa9}, func(c *CPU, _ *testRAM) bool {
			return c.seg[segFS].sel == 0x10 && c.seg[segGS].sel == 0x10 && c.r[rSP] == stackTop
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verifyDecoded(t) // each program's result is checked: counted by the ISA coverage report
			c, ram := newProt(t, append(append([]byte{}, tc.code...), 0xf4))
			ram.w16(dataBase, 0x57)
			ram.w64(dataBase+2, 0x5000)
			ram.w64(dataBase+0x10, 0xcafe|selData32<<32)
			ram.w64(dataBase+0x18, 0xbeef|selData32<<16)
			ram.w64(dataBase+0x20, 0)
			c.cr0 |= cr0TS
			run(t, c, 100, ExitHLT)
			if !tc.check(c, ram) {
				t.Errorf("state after % x is wrong", tc.code)
			}
		})
	}
}

// Vector by vector in 32-bit protected mode and in long mode: the
// handler runs with the frame's return address at the faulting
// instruction (faults) or after it (traps, INT n), and the error code
// where the vector has one (SDM Vol. 3 §6.15). #DF comes from a #GP
// whose gate is not present (#NP while delivering #GP: contributory
// twice), with error code 0. NMI is delivered by deliverVector.
func TestVectorDelivery(t *testing.T) {
	type vcase struct {
		vec     uint64
		code    []byte
		at      uint64 // offset of the expected return address
		hasErr  bool
		err     uint32
		setup   func(c *CPU, ram *testRAM, long bool)
		pmOnly  bool
		nmiCall bool
	}
	cases := []vcase{
		{vec: vecDE, code: []byte{0x31, 0xc9, 0xf7, 0xf1}, at: 2},
		{vec: vecDB, code: []byte{0x90, 0xf1}, at: 2},
		{vec: 2, code: []byte{0x90}, at: 0, nmiCall: true},
		{vec: vecBP, code: []byte{0x90, 0xcc}, at: 2},
		{vec: vecOF, code: []byte{0xb0, 0x7f, 0xfe, 0xc0, 0xce}, at: 5, pmOnly: true},
		{vec: vecBR, code: []byte{0xb8, 11, 0, 0, 0, 0x62, 0x05, 0x00, 0x00, 0x02, 0x00}, at: 5, pmOnly: true},
		{vec: vecUD, code: []byte{0x90, 0x0f, 0x0b}, at: 1},
		{vec: vecDF, code: []byte{0x66, 0xb8, 0x58, 0x00, 0x8e, 0xd8}, at: 4, hasErr: true, err: 0,
			setup: func(c *CPU, ram *testRAM, long bool) {
				if long {
					ram.b[idtBase+vecGP*16+5] &^= 0x80
				} else {
					ram.b[idtBase+vecGP*8+5] &^= 0x80
				}
			}},
		{vec: vecGP, code: []byte{0x66, 0xb8, 0x58, 0x00, 0x8e, 0xd8}, at: 4, hasErr: true, err: 0x58},
	}
	for _, long := range []bool{false, true} {
		for _, tc := range cases {
			if long && tc.pmOnly {
				continue
			}
			t.Run(fmt.Sprintf("long=%v/vec%d", long, tc.vec), func(t *testing.T) {
				var c *CPU
				var ram *testRAM
				if long {
					c, ram = withHandlers(t, tc.code)
				} else {
					c, ram = newProt(t, tc.code)
					ram.w64(dataBase, 10<<32) // BOUND pair 0..10
				}
				if tc.setup != nil {
					tc.setup(c, ram, long)
				}
				if tc.nmiCall {
					if !c.deliverVector(2) {
						t.Fatal("NMI not delivered")
					}
				}
				haltedIn(t, c, tc.vec)
				var ret, e uint64
				if long {
					ee, f := frame(c, ram, tc.hasErr)
					ret, e = f[0], ee
				} else {
					ee, eip, _ := protFrame(c, ram, tc.hasErr)
					ret, e = uint64(eip), uint64(ee)
				}
				if ret != codeBase+tc.at || e != uint64(tc.err) {
					t.Errorf("return %#x err %#x, want %#x %#x", ret, e, codeBase+tc.at, tc.err)
				}
			})
		}
	}
}

// Legacy-mode execution allocates nothing either: a 32-bit and a 16-bit
// loop with segment-checked loads, stores and stack traffic.
func TestLegacyLoopNoAllocs(t *testing.T) {
	// l: mov eax, [ebx]; add eax, 1; mov [ebx], eax; push eax; pop edx; jmp l
	loop := []byte{0x8b, 0x03, 0x83, 0xc0, 0x01, 0x89, 0x03, 0x50, 0x5a, 0xeb, 0xf5}
	for _, mode := range []int{32, 16} {
		c, ram := newProt(t, loop)
		c.r[rBX] = dataBase
		if mode == 16 {
			// 16-bit code: the same bytes address [bp+di] and push ax/dx; keep
			// them in the segment with a 64 KiB CS based at codeBase.
			c.seg[segCS] = seg{sel: selCode16, base: codeBase, limit: 0xffff, access: 0x9b}
			c.rip = 0
			c.modeChanged()
		}
		run(t, c, 1000, ExitBudget)
		calls := ram.calls
		allocs := testing.AllocsPerRun(100, func() {
			if ex := c.Run(10000); ex.Reason != ExitBudget {
				t.Fatalf("exit %v", ex.Reason)
			}
		})
		if allocs != 0 || ram.calls != calls {
			t.Errorf("%d-bit: AllocsPerRun = %v, PhysMem calls %d", mode, allocs, ram.calls-calls)
		}
	}
}

// Writes need a writable data segment in protected mode (SDM Vol. 3
// §5.4): a read-only data segment or a code segment (CS override) takes
// #GP(0) on a write and allows reads; real mode checks nothing.
func TestProtSegmentTypes(t *testing.T) {
	// mov ebx, dataBase; mov ax, selRO; mov es, ax; then the access
	pre := []byte{0xbb, 0x00, 0x00, 0x02, 0x00, 0x66, 0xb8, selRO, 0x00, 0x8e, 0xc0}
	for _, tc := range []struct {
		name  string
		op    []byte
		fault bool
		at    int // offset of the faulting instruction in op
	}{
		{"read ro", []byte{0x26, 0x8b, 0x03}, false, 0},
		{"write ro", []byte{0x26, 0x89, 0x03}, true, 0},
		{"rmw ro", []byte{0x26, 0x01, 0x03}, true, 0},
		{"cmp ro", []byte{0x26, 0x39, 0x03}, false, 0},
		{"read code", []byte{0x2e, 0x8b, 0x03}, false, 0},
		{"write code", []byte{0x2e, 0x89, 0x03}, true, 0},
		{"stos to ro es", []byte{0x89, 0xdf, 0xaa}, true, 2},
		{"scas ro es", []byte{0x89, 0xdf, 0xae}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := newProt(t, append(append(append([]byte{}, pre...), tc.op...), 0xf4))
			if !tc.fault {
				run(t, c, 100, ExitHLT)
				if c.rip != codeBase+uint64(len(pre)+len(tc.op))+1 {
					t.Errorf("halted at %#x", c.rip)
				}
				return
			}
			haltedIn(t, c, vecGP)
			if e, eip, _ := protFrame(c, ram, true); e != 0 || uint64(eip) != codeBase+uint64(len(pre)+tc.at) {
				t.Errorf("err %#x eip %#x", e, eip)
			}
		})
	}
	// Real mode: a CS-override write is fine.
	r, ram := newReal(t, []byte{0xbb, 0x00, 0x90, 0x2e, 0x89, 0x07, 0xf4}, 0x7c00)
	r.r[rAX] = 0x1234
	run(t, r, 10, ExitHLT)
	if ram.r16(0x9000) != 0x1234 {
		t.Errorf("real-mode CS write did not happen")
	}
}

// Alignment checking (#AC(0), vector 17): CR0.AM, RFLAGS.AC and CPL 3
// together make a misaligned data access fault, in protected and long
// mode; with AC clear, or aligned, nothing happens.
func TestAlignmentCheck(t *testing.T) {
	// mov eax, [ebx+1] (misaligned dword); mov eax, [ebx] (aligned)
	mis, al := []byte{0x8b, 0x43, 0x01, 0xf4}, []byte{0x8b, 0x03, 0xf4}
	for _, long := range []bool{false, true} {
		for _, tc := range []struct {
			code  []byte
			ac    bool
			fault bool
		}{{mis, true, true}, {mis, false, false}, {al, true, false}} {
			var c *CPU
			var ram *testRAM
			if long {
				c, ram = withHandlers(t, tc.code)
				ram.w64(0x5018, 0x0020f80000000000) // ring-3 64-bit code
				ram.w64(0x5020, 0x0000f20000000000) // ring-3 data
				c.gdtr.limit = 39
				c.seg[segCS] = seg{sel: 0x1b, access: 0x20fb}
				c.seg[segSS] = seg{sel: 0x23, access: 0xf3}
				// user pages: the harness maps them supervisor-only
				for i := uint64(0); i < 512; i++ {
					ram.w64(0x4000+i*8, i<<21|0x87)
				}
				ram.w64(tssBase+4, stackTop-0x1000) // RSP0
				c.FlushCaches()
			} else {
				c, ram = newProt(t, tc.code)
				c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
				c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
				c.seg[segDS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
			}
			c.r[rBX] = dataBase
			c.cr0 |= cr0AM
			fl := uint64(2)
			if tc.ac {
				fl |= flagAC
			}
			c.setRflags(fl)
			c.modeChanged()
			ex := c.Run(10)
			if tc.fault {
				if ex.Reason != ExitHLT || ex.RIP != handlerVA+vecAC*16 {
					t.Errorf("long=%v: exit %v at %#x (%v), want the #AC handler", long, ex.Reason, ex.RIP, ex.Err)
				}
				continue
			}
			// No fault: the guest reaches its own HLT, which at CPL 3 is #GP.
			if ex.Reason != ExitHLT || ex.RIP != handlerVA+vecGP*16 {
				t.Errorf("long=%v ac=%v % x: exit %v at %#x, want no #AC", long, tc.ac, tc.code, ex.Reason, ex.RIP)
			}
		}
	}
}

// Above IOPL, IN/OUT consult the TSS I/O permission bitmap: a clear bit
// lets the access through (an I/O exit), a set bit or a port beyond the
// TSS limit is #GP(0) (SDM Vol. 1 §19.5).
func TestIOPermissionBitmap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  []byte
		bits  map[uint64]byte // bitmap bytes
		limit uint32
		ok    bool
	}{
		{"allowed", []byte{0xe6, 0x80}, map[uint64]byte{0x10: 0xfe}, 0x68 + 0x20, true},
		{"denied", []byte{0xe6, 0x80}, map[uint64]byte{0x10: 0x01}, 0x68 + 0x20, false},
		{"word straddles", []byte{0x66, 0xe7, 0x87}, map[uint64]byte{0x10: 0x7f, 0x11: 0x01}, 0x68 + 0x20, false},
		{"word ok", []byte{0x66, 0xe7, 0x86}, map[uint64]byte{0x10: 0x3f}, 0x68 + 0x20, true},
		{"beyond limit", []byte{0xe6, 0xf0}, nil, 0x68 + 0x10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := newProt(t, tc.code)
			ram.w16(tssBase+0x66, 0x68)
			for off, b := range tc.bits {
				ram.b[tssBase+0x68+off] = b
			}
			c.tr.limit = tc.limit
			c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
			c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
			c.modeChanged()
			ex := c.Run(10)
			if tc.ok {
				if ex.Reason != ExitInOut {
					t.Errorf("exit %v at %#x, want the I/O exit", ex.Reason, ex.RIP)
				}
				return
			}
			if ex.Reason != ExitHLT || ex.RIP != handlerVA+vecGP*16 {
				t.Errorf("exit %v at %#x, want #GP", ex.Reason, ex.RIP)
			}
		})
	}
}

// RFLAGS.TF: a #DB trap after each instruction (DR6.BS set), taken after
// the instruction following the POPF that sets TF, and owed across an
// I/O exit to the next Run (SDM Vol. 3 §17.3.1.4).
func TestSingleStep(t *testing.T) {
	c, ram := withHandlers(t, []byte{0x90, 0x90, 0xf4})
	c.setRflags(2 | flagTF)
	haltedIn(t, c, vecDB)
	if _, f := frame(c, ram, false); f[0] != codeBase+1 || c.dr[6]&(1<<14) == 0 {
		t.Errorf("#DB return %#x dr6 %#x, want after the first nop", f[0], c.dr[6])
	}
	if _, f := frame(c, ram, false); f[2]&flagTF == 0 {
		t.Errorf("pushed RFLAGS %#x lacks TF", f[2])
	}
	// pushfq; or qword [rsp], 0x100; popfq; nop; nop
	c, ram = withHandlers(t, []byte{0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90, 0x90})
	haltedIn(t, c, vecDB)
	if _, f := frame(c, ram, false); f[0] != codeBase+11 {
		t.Errorf("#DB after popf at %#x, want %#x (after the nop following it)", f[0], codeBase+11)
	}
	// out 0x80, al with TF: the exit first, the trap on the next Run.
	c, ram = withHandlers(t, []byte{0xe6, 0x80, 0x90})
	c.setRflags(2 | flagTF)
	run(t, c, 10, ExitInOut)
	haltedIn(t, c, vecDB)
	if _, f := frame(c, ram, false); f[0] != codeBase+2 {
		t.Errorf("#DB after out at %#x", f[0])
	}
	// A faulting instruction takes its fault, not the trap.
	c, ram = withHandlers(t, []byte{0x0f, 0x0b})
	c.setRflags(2 | flagTF)
	haltedIn(t, c, vecUD)
}

// A REP string instruction with an enormous count yields every repChunk
// iterations, charging the budget, so Run returns: here RCX = 2^40 and a
// budget of 5 gives 5 yields, RIP still at the instruction.
func TestRepYields(t *testing.T) {
	// mov rcx, 1<<40; mov edi, dataBase; rep stosb
	c, _ := newGuest(t, []byte{0x48, 0xb9, 0, 0, 0, 0, 0, 1, 0, 0, 0xbf, 0, 0, 2, 0, 0xf3, 0xaa})
	ex := c.Run(7)
	if ex.Reason != ExitBudget || c.rip != codeBase+15 || c.Retired() != 2 {
		t.Fatalf("exit %v rip %#x retired %d", ex.Reason, c.rip, c.Retired())
	}
	if done := uint64(1)<<40 - c.r[rCX]; done != 5*repChunk || c.r[rDI] != dataBase+5*repChunk {
		t.Errorf("%d iterations done, rdi %#x, want %d", done, c.r[rDI], 5*repChunk)
	}
}

// A REP STOS over a page holding more than smcDropAll decoded blocks
// drops them all: the code written there runs, not the stale blocks.
func TestSMCDropPage(t *testing.T) {
	var code []byte
	for i := 0; i < 20; i++ {
		code = append(code, 0xeb, 0x00) // jmp to the next: 20 one-insn blocks
	}
	back := -(40 + 25)
	rel := uint32(back)
	code = append(code,
		0x85, 0xdb, // test ebx, ebx
		0x75, 21, // jnz done
		0xff, 0xc3, // inc ebx
		0xbf, 0x00, 0x00, 0x01, 0x00, // mov edi, codeBase
		0xb9, 40, 0, 0, 0, // mov ecx, 40
		0xb0, 0x90, // mov al, nop
		0xf3, 0xaa, // rep stosb over the jmps
		0xe9, byte(rel), byte(rel>>8), byte(rel>>16), byte(rel>>24), // jmp codeBase
		0xf4) // done: hlt
	c, _ := newGuest(t, code)
	run(t, c, 1000, ExitHLT)
	if c.Retired() != 20+8+40+3 {
		t.Errorf("retired %d, want %d (the 40 new nops, not the 20 old jmps)", c.Retired(), 20+8+40+3)
	}
}
