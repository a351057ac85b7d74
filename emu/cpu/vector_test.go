package cpu

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// Vector delivery for the exceptions TestVectorDelivery leaves out, in
// 32-bit protected mode and 64-bit mode. Each case's expected vector,
// return address (fault: the faulting instruction) and error code come
// from the SDM's exception reference (Vol. 3 §6.15):
//   - #NM (7): an x87 instruction with CR0.TS or CR0.EM, an SSE one with
//     CR0.TS (CR0.EM makes it #UD), WAIT with CR0.MP and CR0.TS; no code.
//   - #MF (16): a pending unmasked x87 exception with CR0.NE, raised at the
//     next waiting x87 instruction, not at the one that caused it; no code.
//   - #XM (19): an unmasked SIMD exception with CR4.OSXMMEXCPT, #UD without
//     it; no code.
//   - #SS (12): a stack-segment limit violation or a non-canonical stack
//     address, code 0; loading SS with a not-present segment, code = sel.
//   - #NP (11): a not-present data segment, code = sel; a not-present IDT
//     gate reached by INT n, code = vector*8 + 2 (IDT bit, EXT clear).
//   - #TS (10): IRET with NT to a TSS that is not busy (code = back link),
//     a 64-bit IST slot beyond the TSS limit (code = TR selector).
func TestVectorDeliveryMore(t *testing.T) {
	type vcase struct {
		name   string
		vec    uint64
		code   []byte
		at     uint64
		hasErr bool
		err    uint32
		setup  func(c *CPU, ram *testRAM, long bool)
		only   int // 32 or 64: the case exists in that mode only
		pushes int // stack slots the code pushes before it faults
	}
	ts := func(c *CPU, _ *testRAM, _ bool) { c.cr0 |= cr0TS }
	em := func(c *CPU, _ *testRAM, _ bool) { c.cr0 |= cr0EM }
	sse := func(bits uint64) func(c *CPU, _ *testRAM, _ bool) {
		return func(c *CPU, _ *testRAM, _ bool) { c.cr4 |= cr4OSFXSR | bits }
	}
	// fninit; push 0x37b (ZM clear); fldcw [esp]; fld1; fldz;
	// fdivp st1, st0 (1/0: #Z pending); fwait (#MF here, offset 16).
	mfCode := []byte{0xdb, 0xe3, 0x68, 0x7b, 0x03, 0, 0, 0xd9, 0x2c, 0x24,
		0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b}
	// push 0 (MXCSR: every exception unmasked); ldmxcsr [esp];
	// xorps xmm0, xmm0; xorps xmm1, xmm1; divss xmm0, xmm1 (0/0: #I, offset 12).
	xmCode := []byte{0x6a, 0x00, 0x0f, 0xae, 0x14, 0x24, 0x0f, 0x57, 0xc0,
		0x0f, 0x57, 0xc9, 0xf3, 0x0f, 0x5e, 0xc1}
	// Long mode: a not-present writable data segment at GDT 0x18.
	longNP := func(c *CPU, ram *testRAM, long bool) {
		if long {
			ram.w64(0x5018, mkDesc(0, 0xfffff, 0x12, 0xc))
			mustOK(t, c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: 31}))
		}
	}
	gateNP := func(c *CPU, ram *testRAM, long bool) {
		if long {
			ram.b[idtBase+0x41*16+5] &^= 0x80
		} else {
			ram.b[idtBase+0x41*8+5] &^= 0x80
		}
	}
	cases := []vcase{
		{name: "NM-x87-TS", vec: vecNM, code: []byte{0x90, 0xdb, 0xe3}, at: 1, setup: ts},
		{name: "NM-x87-EM", vec: vecNM, code: []byte{0x90, 0xd9, 0xe8}, at: 1, setup: em},
		{name: "NM-wait-MP-TS", vec: vecNM, code: []byte{0x90, 0x9b}, at: 1,
			setup: func(c *CPU, _ *testRAM, _ bool) { c.cr0 |= cr0TS | cr0MP }},
		// WAIT ignores TS without MP: it retires and the next insn faults.
		{name: "NM-wait-TS-noMP", vec: vecUD, code: []byte{0x9b, 0x0f, 0x0b}, at: 1, setup: ts},
		{name: "NM-sse-TS", vec: vecNM, code: []byte{0x90, 0x0f, 0x58, 0xc1}, at: 1,
			setup: func(c *CPU, _ *testRAM, _ bool) { c.cr4 |= cr4OSFXSR; c.cr0 |= cr0TS }},
		{name: "UD-sse-EM", vec: vecUD, code: []byte{0x90, 0x0f, 0x58, 0xc1}, at: 1,
			setup: func(c *CPU, _ *testRAM, _ bool) { c.cr4 |= cr4OSFXSR; c.cr0 |= cr0EM }},
		{name: "UD-sse-noOSFXSR", vec: vecUD, code: []byte{0x90, 0x0f, 0x58, 0xc1}, at: 1},
		{name: "MF", vec: vecMF, code: mfCode, at: 16, pushes: 1},
		{name: "XM", vec: vecXM, code: xmCode, at: 12, pushes: 1, setup: sse(cr4OSXMMEXCPT)},
		{name: "XM-noOSXMMEXCPT-UD", vec: vecUD, code: xmCode, at: 12, pushes: 1, setup: sse(0)},
		// mov ax, 0x40 (expand-down, offsets 0..0xfff invalid); mov ss, ax;
		// xor ebp, ebp; mov eax, [ebp+0]: #SS(0).
		{name: "SS-limit", vec: vecSS, code: []byte{0x66, 0xb8, 0x40, 0x00, 0x8e, 0xd0, 0x31, 0xed, 0x8b, 0x45, 0x00},
			at: 8, hasErr: true, only: 32},
		// mov ax, selNP; mov ss, ax: #SS(0x30).
		{name: "SS-notpresent", vec: vecSS, code: []byte{0x66, 0xb8, selNP, 0x00, 0x8e, 0xd0}, at: 4, hasErr: true,
			err: selNP, only: 32},
		// mov rbp, 1<<63; mov rax, [rbp+0]: #SS(0) for a non-canonical stack reference.
		{name: "SS-noncanonical", vec: vecSS, code: []byte{0x48, 0xbd, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x48, 0x8b, 0x45, 0x00},
			at: 10, hasErr: true, only: 64},
		// mov ax, sel; mov ds, ax: #NP(sel).
		{name: "NP-data", vec: vecNP, code: []byte{0x66, 0xb8, selNP, 0x00, 0x8e, 0xd8}, at: 4, hasErr: true, err: selNP, only: 32},
		{name: "NP-data", vec: vecNP, code: []byte{0x66, 0xb8, 0x18, 0x00, 0x8e, 0xd8}, at: 4, hasErr: true, err: 0x18,
			setup: longNP, only: 64},
		{name: "NP-gate", vec: vecNP, code: []byte{0x90, 0xcd, 0x41}, at: 1, hasErr: true, err: 0x41<<3 | 2, setup: gateNP},
		// pushfd; or dword [esp], NT; popfd; iretd: back link 0x28 names an
		// available (not busy) TSS: #TS(0x28).
		{name: "TS-iret-notbusy", vec: vecTS, code: []byte{0x9c, 0x81, 0x0c, 0x24, 0x00, 0x40, 0x00, 0x00, 0x9d, 0xcf},
			at: 9, hasErr: true, err: selTSS, only: 32,
			setup: func(_ *CPU, ram *testRAM, _ bool) { ram.w64(tssBase, selTSS) }},
		// INT 0x41 through a gate with IST 1 while TR's limit ends before
		// IST1 (offset 0x24): #TS(TR selector), EXT clear.
		{name: "TS-ist-limit", vec: vecTS, code: []byte{0x90, 0xcd, 0x41}, at: 1, hasErr: true, err: 0x28, only: 64,
			setup: func(c *CPU, ram *testRAM, _ bool) {
				ram.b[idtBase+0x41*16+4] = 1
				mustOK(t, c.SetReg(abi.VM_REG_GUEST_TR, 0x28))
				mustOK(t, c.SetDesc(abi.VM_REG_GUEST_TR, abi.SegDesc{Base: tssBase, Limit: 0x23, Access: 0x8b}))
			}},
	}
	for _, long := range []bool{false, true} {
		for _, tc := range cases {
			if tc.only == 32 && long || tc.only == 64 && !long {
				continue
			}
			t.Run(fmt.Sprintf("long=%v/%s", long, tc.name), func(t *testing.T) {
				c, ram := vecGuest(t, tc.code, long)
				if tc.setup != nil {
					tc.setup(c, ram, long)
				}
				haltedIn(t, c, tc.vec)
				checkFrame(t, c, ram, long, tc.hasErr, codeBase+tc.at, tc.err, tc.pushes)
			})
		}
	}
}

func vecGuest(t *testing.T, code []byte, long bool) (*CPU, *testRAM) {
	if long {
		return withHandlers(t, code)
	}
	return newProt(t, code)
}

// checkFrame checks a same-privilege frame at the handler: the return
// address, the error code, and (through the stack pointer) that an error
// code was pushed exactly when the SDM says so.
func checkFrame(t *testing.T, c *CPU, ram *testRAM, long, hasErr bool, ret uint64, err uint32, pushes int) {
	t.Helper()
	var gotRet, gotErr, wantSP uint64
	if long {
		e, f := frame(c, ram, hasErr)
		// 64-bit delivery aligns RSP down to 16 before pushing.
		gotRet, gotErr, wantSP = f[0], e, (stackTop-8*uint64(pushes))&^15-40
		if hasErr {
			wantSP -= 8
		}
	} else {
		e, eip, _ := protFrame(c, ram, hasErr)
		gotRet, gotErr, wantSP = uint64(eip), uint64(e), stackTop-12-4*uint64(pushes)
		if hasErr {
			wantSP -= 4
		}
	}
	if gotRet != ret || gotErr != uint64(err) {
		t.Errorf("return %#x err %#x, want %#x %#x", gotRet, gotErr, ret, err)
	}
	if sp := c.r[rSP] & 0xffffffffffff; sp != wantSP {
		t.Errorf("stack pointer %#x, want %#x (error code pushed: %v)", sp, wantSP, hasErr)
	}
}

// Vectors this CPU model never raises: 9 (coprocessor segment overrun,
// 386 only), 15 and 22-31 (reserved), 18 (#MC: CPUID advertises neither
// MCE nor MCA), 20 (#VE: no EPT), 21 (#CP: no CET). INT n to them, and to
// vectors that have an error code when the CPU raises them (8, 10-14,
// 17), delivers like any software interrupt: a trap with RIP after the
// INT and no error code (SDM Vol. 3 §6.4.2, INT n reference).
func TestVectorSoftIntNoErrorCode(t *testing.T) {
	vecs := []uint64{8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 20, 21, 22, 31}
	for _, long := range []bool{false, true} {
		for _, v := range vecs {
			t.Run(fmt.Sprintf("long=%v/int%d", long, v), func(t *testing.T) {
				c, ram := vecGuest(t, []byte{0x90, 0xcd, byte(v)}, long)
				haltedIn(t, c, v)
				checkFrame(t, c, ram, long, false, codeBase+3, 0, 0)
			})
		}
	}
}
