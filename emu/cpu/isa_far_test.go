package cpu

import (
	"encoding/binary"
	"fmt"
	"sort"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// Far transfers, segment loads and the operand-size forms of the near
// stack and branch instructions, row by row in 64-, 32- and 16-bit mode
// (issue 3 "Modes and transitions"). Every expected value is written here
// by hand from the SDM: Vol. 2 CALL, JMP, RET, IRET, LDS/LES/LFS/LGS/LSS,
// MOV (segment registers), PUSH, POP and LEAVE "Operation" sections, Vol.
// 3 §3.4 (descriptor caches), §5.5-5.8 (privilege checks) and §6.15 (the
// error codes). A row is marked verified in a mode only when every case
// naming it passed there.

// Descriptors the cases load, appended to both harness GDTs (newGuest's
// and newProt's end at 0x67). All have the accessed bit set, so the
// caches below are what the descriptor says whether or not a load sets A.
const (
	fC64    = 0x68 // 64-bit code, DPL 0
	fC32B   = 0x70 // 32-bit code, base 0x1000
	fC16B   = 0x78 // 16-bit code, base 0x2000, limit 0xffff
	fData   = 0x80 // data, base 0x123000, byte-granular limit 0xabcd, B
	fRO     = 0x88 // read-only data
	fNP     = 0x90 // data, not present
	fCodeNP = 0x98 // 32-bit code, not present
	fXO     = 0xa0 // execute-only code
	fC64r3  = 0xa8 // 64-bit code, DPL 3
	fD3     = 0xb0 // data, DPL 3
	fC32r3  = 0xb8 // 32-bit code, DPL 3
	fSS16   = 0xc0 // data, limit 0xffff, B clear (a 16-bit stack)
	fC32    = 0xc8 // 32-bit code, base 0
	fC16    = 0xd0 // 16-bit code, base 0, limit 0xffff
	fConf64 = 0xd8 // 64-bit conforming code, DPL 0
	fConf32 = 0xe0 // 32-bit conforming code, DPL 0
	fC16r3  = 0xe8 // 16-bit code, DPL 3, limit 0xffff
)

var farDescs = []uint64{
	mkDesc(0, 0xfffff, 0x9b, 0xa),
	mkDesc(0x1000, 0xfffff, 0x9b, 0xc),
	mkDesc(0x2000, 0xffff, 0x9b, 0),
	mkDesc(0x123000, 0xabcd, 0x93, 0x4),
	mkDesc(0, 0xfffff, 0x91, 0xc),
	mkDesc(0, 0xfffff, 0x13, 0xc),
	mkDesc(0, 0xfffff, 0x1b, 0xc),
	mkDesc(0, 0xfffff, 0x99, 0xc),
	mkDesc(0, 0xfffff, 0xfb, 0xa),
	mkDesc(0, 0xfffff, 0xf3, 0xc),
	mkDesc(0, 0xfffff, 0xfb, 0xc),
	mkDesc(0, 0xffff, 0x93, 0),
	mkDesc(0, 0xfffff, 0x9b, 0xc),
	mkDesc(0, 0xffff, 0x9b, 0),
	mkDesc(0, 0xfffff, 0x9f, 0xa),
	mkDesc(0, 0xfffff, 0x9f, 0xc),
	mkDesc(0, 0xffff, 0xfb, 0),
}

// The caches those descriptors give (VT-x access-rights format: type,
// S, DPL, P in bits 7:0, AVL, L, D/B, G in 15:12), written out by hand.
var (
	cacheC64   = seg{sel: fC64, limit: 0xffffffff, access: 0xa09b}
	cacheC32B  = seg{sel: fC32B, base: 0x1000, limit: 0xffffffff, access: 0xc09b}
	cacheC16B  = seg{sel: fC16B, base: 0x2000, limit: 0xffff, access: 0x9b}
	cacheData  = seg{sel: fData, base: 0x123000, limit: 0xabcd, access: 0x4093}
	cacheC32   = seg{sel: fC32, limit: 0xffffffff, access: 0xc09b}
	cacheC16   = seg{sel: fC16, limit: 0xffff, access: 0x9b}
	cacheC64r3 = seg{sel: fC64r3 | 3, limit: 0xffffffff, access: 0xa0fb}
	cacheD3    = seg{sel: fD3 | 3, limit: 0xffffffff, access: 0xc0f3}
	cacheC32r3 = seg{sel: fC32r3 | 3, limit: 0xffffffff, access: 0xc0fb}
	cacheSS16  = seg{sel: fSS16, limit: 0xffff, access: 0x93}
)

// farEnv is one case's guest: code runs at at, far pointers and memory
// operands are at ptr (in RBX/EBX/BX), the stack is flat.
type farEnv struct {
	t    *testing.T
	mode int
	c    *CPU
	ram  *testRAM
	at   uint64
	ptr  uint64
}

func newFarEnv(t *testing.T, mode int) *farEnv {
	e := &farEnv{t: t, mode: mode, at: codeBase, ptr: dataBase}
	switch mode {
	case 64:
		e.c, e.ram = withHandlers(t, nil)
		// #SS and #GP on IST1, so a fault with a broken RSP is still
		// delivered (the stack tests); the 64-bit TSS's RSP0 for returns
		// to ring 3 that then fault.
		for _, v := range []uint64{vecSS, vecGP} {
			e.ram.b[idtBase+v*16+4] = 1
		}
		e.ram.w64(tssBase+0x24, stackTop-0x2000)
		e.ram.w64(tssBase+4, stackTop-0x1000)
	case 32:
		e.c, e.ram = newProt(t, nil)
	default:
		e.c, e.ram = newProt(t, nil)
		e.c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
		e.c.modeChanged()
		e.at, e.ptr = 0x8000, 0x8800
	}
	for i, d := range farDescs {
		e.ram.w64(0x5000+fC64+uint64(i)*8, d)
	}
	if fC64+len(farDescs)*8 != fC16r3+8 {
		t.Fatal("farDescs and the selector constants disagree")
	}
	e.c.gdtr.limit = fC64 + uint32(len(farDescs))*8 - 1
	e.c.r[rBX] = e.ptr
	return e
}

func (e *farEnv) w(addr uint64, sz int, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	copy(e.ram.b[addr:], b[:sz])
}

func (e *farEnv) r(addr uint64, sz int) uint64 {
	var b [8]byte
	copy(b[:sz], e.ram.b[addr:])
	return binary.LittleEndian.Uint64(b[:])
}

// farPtr writes an m16:sz far pointer (offset first) at ptr.
func (e *farEnv) farPtr(sz int, off uint64, sel uint16) {
	e.w(e.ptr, sz, off)
	e.w(e.ptr+uint64(sz), 2, uint64(sel))
}

// stack writes values of sz bytes from the stack pointer up (the first
// is what the next pop reads) below stackTop-0x100 and points RSP there.
func (e *farEnv) stack(sz int, vals ...uint64) uint64 {
	sp := uint64(stackTop - 0x100)
	for i, v := range vals {
		e.w(sp+uint64(i*sz), sz, v)
	}
	e.c.r[rSP] = sp
	return sp
}

func (e *farEnv) sp() uint64 {
	if e.mode == 64 {
		return e.c.r[rSP]
	}
	return e.c.r[rSP] & 0xffffffff
}

func (e *farEnv) eq(what string, got, want uint64) {
	e.t.Helper()
	if got != want {
		e.t.Errorf("%s = %#x, want %#x", what, got, want)
	}
}

func (e *farEnv) segIs(s uint8, want seg) {
	e.t.Helper()
	if got := e.c.seg[s]; got != want {
		e.t.Errorf("segment %d cache {sel %#x base %#x limit %#x access %#x}, want {%#x %#x %#x %#x}",
			s, got.sel, got.base, got.limit, got.access, want.sel, want.base, want.limit, want.access)
	}
}

// codeSize is the default operand size CS now gives (64, 32 or 16).
func (e *farEnv) codeSize() int { return int(e.c.dmode) }

// farCase is one check of one or more rows in one mode: setup builds the
// state, code runs once (Run(1)) at the mode's code address; then either
// fault names the exception the SDM says (taken at the instruction, with
// its error code and no state change) or rip is where it went and check
// looks at the rest.
type farCase struct {
	name  string
	rows  []string
	code  []byte
	setup func(e *farEnv)
	fault bool
	vec   uint64
	err   uint32
	rip   uint64 // success: the RIP after the instruction (0: after code)
	check func(e *farEnv)
}

// runFarCases runs cases in mode and marks each row whose every case
// passed.
func runFarCases(t *testing.T, mode int, cases []farCase) {
	ok := map[string]bool{}
	for _, fc := range cases {
		pass := t.Run(fmt.Sprintf("%d/%s", mode, fc.name), func(t *testing.T) {
			e := newFarEnv(t, mode)
			if fc.setup != nil {
				fc.setup(e)
			}
			copy(e.ram.b[e.at:], fc.code)
			e.ram.b[e.at+uint64(len(fc.code))] = 0xf4
			e.c.rip = e.at
			sp0, cs0 := e.sp(), e.c.seg[segCS].sel
			if fc.fault {
				farFaultIs(e, fc.vec, fc.err, sp0, cs0)
				return
			}
			ex := e.c.Run(1)
			if ex.Reason != ExitBudget {
				t.Fatalf("exit %v at %#x, want the instruction to retire", ex.Reason, ex.RIP)
			}
			want := fc.rip
			if want == 0 {
				want = e.at + uint64(len(fc.code))
			}
			e.eq("rip", e.c.rip, want)
			if fc.check != nil {
				fc.check(e)
			}
		})
		for _, r := range fc.rows {
			if _, seen := ok[r]; !seen {
				ok[r] = true
			}
			ok[r] = ok[r] && pass
		}
	}
	rows := make([]string, 0, len(ok))
	for r := range ok {
		rows = append(rows, r)
	}
	sort.Strings(rows)
	for _, r := range rows {
		if ok[r] {
			markVerified(mode, r)
		}
	}
}

// farFaultIs runs to the handler's hlt and checks the fault: vector, error
// code, the faulting instruction's CS:RIP in the frame, and the stack
// pointer at the fault (unchanged by the faulting instruction).
func farFaultIs(e *farEnv, vec uint64, code uint32, sp0 uint64, cs0 uint16) {
	t, c := e.t, e.c
	t.Helper()
	ex := c.Run(100)
	if ex.Reason != ExitHLT || ex.RIP != handlerVA+vec*16 {
		t.Fatalf("exit %v at %#x, want the hlt of vector %d", ex.Reason, ex.RIP, vec)
	}
	hasErr := hasErrCode(uint8(vec))
	if e.mode == 64 {
		err, f := frame(c, e.ram, hasErr)
		e.eq("error code", err, uint64(code))
		e.eq("frame rip", f[0], e.at)
		e.eq("frame cs", f[1], uint64(cs0))
		e.eq("frame rsp", f[3], sp0)
		return
	}
	err, eip, cs := protFrame(c, e.ram, hasErr)
	e.eq("error code", uint64(err), uint64(code))
	e.eq("frame eip", uint64(eip), e.at)
	e.eq("frame cs", uint64(cs), uint64(cs0))
	n := uint64(12)
	if hasErr {
		n = 16
	}
	if cs0&3 != 0 {
		// From ring 3: on the TSS's ring-0 stack, with SS:ESP pushed.
		e.eq("esp at the handler", e.sp(), tss0SP-n-8)
		e.eq("frame esp", e.r(tss0SP-8, 4), sp0)
		return
	}
	e.eq("esp at the handler", e.sp(), sp0-n)
}

// ring3 makes the case start at CPL 3: ring-3 code of the mode's size and
// a flat ring-3 stack.
func (e *farEnv) ring3() {
	switch e.mode {
	case 64:
		e.c.seg[segCS] = cacheC64r3
	case 32:
		e.c.seg[segCS] = cacheC32r3
	default:
		e.c.seg[segCS] = seg{sel: fC16r3 | 3, limit: 0xffff, access: 0xfb}
	}
	e.c.seg[segSS] = cacheD3
	e.c.modeChanged()
}

func faultCase(name string, rows []string, code []byte, setup func(*farEnv), vec uint64, err uint32) farCase {
	return farCase{name: name, rows: rows, code: code, setup: setup, fault: true, vec: vec, err: err}
}

// TestFarTransfers64 covers LJMP/LCALL m16:16 and m16:32 and LRET (with
// and without imm16) in 64-bit mode (SDM CALL/JMP/RET, IA-32e paths).
func TestFarTransfers64(t *testing.T) {
	const lj32, lj16 = "LJMP m16:32", "LJMP m16:16"
	const lc32, lc16 = "LCALL m16:32", "LCALL m16:16"
	const lret, lreti = "LRET", "LRET imm16u"
	ljmp32 := []byte{0xff, 0x2b} // ljmp [rbx]: m16:32 by default (no REX.W)
	ljmp16 := []byte{0x66, 0xff, 0x2b}
	lcall32 := []byte{0xff, 0x1b}
	lcall16 := []byte{0x66, 0xff, 0x1b}
	ptr := func(sz int, off uint64, sel uint16) func(*farEnv) {
		return func(e *farEnv) {
			e.farPtr(sz, off, sel)
			e.w(e.ptr+uint64(sz)+2, 4, 0xffffffff) // a misread takes these
		}
	}
	cases := []farCase{
		{name: "ljmp m16:32 to 64-bit code", rows: []string{lj32}, code: ljmp32, setup: ptr(4, codeBase+0x100, fC64),
			rip: codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("code size", uint64(e.codeSize()), 64)
				e.eq("rsp", e.sp(), stackTop)
			}},
		{name: "ljmp m16:32 to compatibility mode", rows: []string{lj32}, code: ljmp32, setup: ptr(4, 0x10100, fC32),
			rip: 0x10100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC32)
				e.eq("code size", uint64(e.codeSize()), 32)
			}},
		{name: "ljmp m16:32 high offset zero-extends", rows: []string{lj32}, code: ljmp32, setup: ptr(4, 0x80001000, fC64),
			rip: 0x80001000, check: func(e *farEnv) { e.segIs(segCS, cacheC64) }},
		{name: "ljmp m16:16 to 64-bit code", rows: []string{lj16}, code: ljmp16, setup: ptr(2, 0x1800, fC64),
			rip: 0x1800, check: func(e *farEnv) { e.segIs(segCS, cacheC64) }},
		{name: "ljmp m16:16 to based 32-bit code", rows: []string{lj16}, code: ljmp16, setup: ptr(2, 0x800, fC32B),
			rip: 0x800, check: func(e *farEnv) {
				e.segIs(segCS, cacheC32B)
				e.eq("code size", uint64(e.codeSize()), 32)
			}},
		{name: "ljmp m16:16 to 16-bit code", rows: []string{lj16}, code: ljmp16, setup: ptr(2, 0x100, fC16B),
			rip: 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC16B)
				e.eq("code size", uint64(e.codeSize()), 16)
			}},
		faultCase("ljmp m16:32 null selector", []string{lj32}, ljmp32, ptr(4, codeBase, 0), vecGP, 0),
		faultCase("ljmp m16:32 data segment", []string{lj32}, ljmp32, ptr(4, codeBase, fData), vecGP, fData),
		faultCase("ljmp m16:32 not present", []string{lj32}, ljmp32, ptr(4, codeBase, fCodeNP), vecNP, fCodeNP),
		faultCase("ljmp m16:32 RPL above CPL", []string{lj32}, ljmp32, ptr(4, codeBase, fC64|3), vecGP, fC64),
		faultCase("ljmp m16:16 data segment", []string{lj16}, ljmp16, ptr(2, 0x1800, fRO), vecGP, fRO),
		faultCase("ljmp m16:16 DPL 3 code", []string{lj16}, ljmp16, ptr(2, 0x1800, fC64r3), vecGP, fC64r3),
		faultCase("ljmp m16:16 beyond the 16-bit limit", []string{lj16}, ljmp16,
			func(e *farEnv) { e.farPtr(2, 0xffff, fC16B); e.ram.w64(0x5000+fC16B, mkDesc(0x2000, 0xfff, 0x9b, 0)) }, vecGP, 0),
		{name: "lcall m16:32", rows: []string{lc32}, code: lcall32, setup: ptr(4, codeBase+0x100, fC64),
			rip: codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-8)
				e.eq("pushed eip", e.r(stackTop-8, 4), codeBase+2)
				e.eq("pushed cs", e.r(stackTop-4, 2), 8)
			}},
		{name: "lcall m16:32 to compatibility mode", rows: []string{lc32}, code: lcall32, setup: ptr(4, 0x10100, fC32),
			rip: 0x10100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC32)
				e.eq("code size", uint64(e.codeSize()), 32)
				e.eq("rsp", e.sp(), stackTop-8)
				e.eq("pushed eip", e.r(stackTop-8, 4), codeBase+2)
				e.eq("pushed cs", e.r(stackTop-4, 2), 8)
			}},
		{name: "lcall m16:16 pushes IP and CS as words", rows: []string{lc16}, code: lcall16,
			setup: func(e *farEnv) { ptr(2, 0x1800, fC64)(e); e.w(stackTop-8, 8, 0x5555555555555555) },
			rip:   0x1800, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-4)
				e.eq("pushed ip", e.r(stackTop-4, 2), (codeBase+3)&0xffff)
				e.eq("pushed cs", e.r(stackTop-2, 2), 8)
				e.eq("below the pushes", e.r(stackTop-8, 4), 0x55555555)
			}},
		{name: "lcall m16:16 to based 32-bit code", rows: []string{lc16}, code: lcall16, setup: ptr(2, 0x800, fC32B),
			rip: 0x800, check: func(e *farEnv) {
				e.segIs(segCS, cacheC32B)
				e.eq("rsp", e.sp(), stackTop-4)
			}},
		faultCase("lcall m16:32 null selector", []string{lc32}, lcall32, ptr(4, codeBase, 0), vecGP, 0),
		faultCase("lcall m16:32 not present", []string{lc32}, lcall32, ptr(4, codeBase, fCodeNP), vecNP, fCodeNP),
		faultCase("lcall m16:32 data segment", []string{lc32}, lcall32, ptr(4, codeBase, fD3|3), vecGP, fD3),
		faultCase("lcall m16:32 non-conforming DPL 3", []string{lc32}, lcall32, ptr(4, codeBase, fC64r3), vecGP, fC64r3),
		faultCase("lcall m16:16 data segment", []string{lc16}, lcall16, ptr(2, 0x1800, fData), vecGP, fData),
		faultCase("lcall m16:16 not present", []string{lc16}, lcall16, ptr(2, 0x1800, fCodeNP), vecNP, fCodeNP),
		// Execute-only code is a valid target (readability is for data
		// accesses).
		{name: "lcall m16:16 to execute-only code", rows: []string{lc16}, code: lcall16, setup: ptr(2, 0x1800, fXO),
			rip: 0x1800, check: func(e *farEnv) {
				e.segIs(segCS, seg{sel: fXO, limit: 0xffffffff, access: 0xc099})
				e.eq("rsp", e.sp(), stackTop-4)
			}},
		// The far pointer read through RBP: a #GP(0) for the null
		// selector stays #GP(0) (only a non-canonical address is #SS).
		faultCase("ljmp [rbp] null selector is #GP(0)", []string{lj32}, []byte{0xff, 0x6d, 0x00},
			func(e *farEnv) { e.c.r[rBP] = e.ptr; e.farPtr(4, codeBase, 0) }, vecGP, 0),

		// Conforming code runs at the caller's CPL: the new CS takes
		// RPL = CPL (SDM JMP/CALL, "conforming code segment").
		{name: "ljmp m16:32 to conforming code", rows: []string{lj32}, code: ljmp32, setup: ptr(4, codeBase+0x100, fConf64),
			rip: codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, seg{sel: fConf64, limit: 0xffffffff, access: 0xa09f})
			}},
		{name: "lcall m16:32 from ring 3 to conforming DPL 0", rows: []string{lc32}, code: lcall32,
			setup: func(e *farEnv) { e.ring3(); ptr(4, codeBase+0x100, fConf64)(e) },
			rip:   codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, seg{sel: fConf64 | 3, limit: 0xffffffff, access: 0xa09f})
				e.eq("cpl", uint64(e.c.cpl), 3)
				e.eq("pushed cs", e.r(stackTop-4, 2), fC64r3|3)
			}},
		{name: "ljmp m16:16 from ring 3 to conforming DPL 0", rows: []string{lj16}, code: ljmp16,
			setup: func(e *farEnv) { e.ring3(); ptr(2, 0x1800, fConf32)(e) },
			rip:   0x1800, check: func(e *farEnv) {
				e.segIs(segCS, seg{sel: fConf32 | 3, limit: 0xffffffff, access: 0xc09f})
				e.eq("cpl", uint64(e.c.cpl), 3)
			}},
		faultCase("ljmp m16:32 from ring 3 to DPL 0", []string{lj32}, ljmp32,
			func(e *farEnv) { e.ring3(); ptr(4, codeBase, fC64)(e) }, vecGP, fC64),
		faultCase("lcall m16:16 from ring 3 to DPL 0", []string{lc16}, lcall16,
			func(e *farEnv) { e.ring3(); ptr(2, 0x1800, fC32|3)(e) }, vecGP, fC32),
		// Far returns. The default operand size of RETF in 64-bit mode
		// is 32 bits; REX.W makes it 64, 66 makes it 16.
		{name: "lret", rows: []string{lret}, code: []byte{0xcb},
			setup: func(e *farEnv) { e.stack(4, codeBase+0x100, 0xffff0000|fC64) },
			rip:   codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-0x100+8)
			}},
		{name: "lret to compatibility mode", rows: []string{lret}, code: []byte{0xcb},
			setup: func(e *farEnv) { e.stack(4, 0x10100, fC32) },
			rip:   0x10100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC32)
				e.eq("code size", uint64(e.codeSize()), 32)
				e.eq("rsp", e.sp(), stackTop-0x100+8)
			}},
		{name: "rex.w lret", rows: []string{lret}, code: []byte{0x48, 0xcb},
			setup: func(e *farEnv) { e.stack(8, 0x0000012345678000, fC64) },
			rip:   0x0000012345678000, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-0x100+16)
			}},
		{name: "o16 lret", rows: []string{lret}, code: []byte{0x66, 0xcb},
			setup: func(e *farEnv) { e.stack(2, 0x1800, fC64, 0xffff, 0xffff) },
			rip:   0x1800, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-0x100+4)
			}},
		{name: "lret imm16", rows: []string{lreti}, code: []byte{0xca, 0x10, 0x00},
			setup: func(e *farEnv) { e.stack(4, codeBase+0x100, fC64) },
			rip:   codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-0x100+8+0x10)
			}},
		{name: "rex.w lret imm16", rows: []string{lreti}, code: []byte{0x48, 0xca, 0x08, 0x01},
			setup: func(e *farEnv) { e.stack(8, codeBase+0x100, fC64) },
			rip:   codeBase + 0x100, check: func(e *farEnv) { e.eq("rsp", e.sp(), stackTop-0x100+16+0x108) }},
		// Return to ring 3 (SDM RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL):
		// EIP, CS, then (after the imm16 bytes) ESP and SS are popped;
		// imm16 is added to the new stack pointer too.
		{name: "lret to ring 3", rows: []string{lret}, code: []byte{0xcb},
			setup: func(e *farEnv) { e.stack(4, codeBase+0x100, fC64r3|3, 0x7f000, fD3|3) },
			rip:   codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64r3)
				e.segIs(segSS, cacheD3)
				e.eq("cpl", uint64(e.c.cpl), 3)
				e.eq("rsp", e.c.r[rSP], 0x7f000)
				// DS held DPL-0 data: invalid at CPL 3, so nulled.
				e.eq("ds", uint64(e.c.seg[segDS].sel), 0)
			}},
		{name: "lret imm16 to ring 3", rows: []string{lreti}, code: []byte{0xca, 0x08, 0x00},
			setup: func(e *farEnv) { e.stack(4, codeBase+0x100, fC64r3|3, 0xaaaa, 0xbbbb, 0x7f000, fD3|3) },
			rip:   codeBase + 0x100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64r3)
				e.segIs(segSS, cacheD3)
				e.eq("rsp", e.c.r[rSP], 0x7f008)
			}},
		{name: "lret to ring-3 compatibility mode", rows: []string{lret}, code: []byte{0xcb},
			setup: func(e *farEnv) { e.stack(4, 0x10100, fC32r3|3, 0x7f000, fD3|3) },
			rip:   0x10100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC32r3)
				e.segIs(segSS, cacheD3)
				e.eq("code size", uint64(e.codeSize()), 32)
			}},
		faultCase("lret from ring 3 to RPL 0", []string{lret}, []byte{0xcb},
			func(e *farEnv) { e.ring3(); e.stack(4, codeBase, fC64) }, vecGP, fC64),
		faultCase("lret imm16 from ring 3 to RPL 0", []string{lreti}, []byte{0xca, 0x08, 0x00},
			func(e *farEnv) { e.ring3(); e.stack(4, codeBase, fConf64) }, vecGP, fConf64),
		{name: "lret from ring 3 to conforming DPL 0, RPL 3", rows: []string{lret}, code: []byte{0xcb},
			setup: func(e *farEnv) { e.ring3(); e.stack(4, codeBase+0x100, fConf64|3) }, rip: codeBase + 0x100,
			check: func(e *farEnv) {
				e.segIs(segCS, seg{sel: fConf64 | 3, limit: 0xffffffff, access: 0xa09f})
				e.eq("cpl", uint64(e.c.cpl), 3)
			}},
		faultCase("lret null CS", []string{lret}, []byte{0xcb}, func(e *farEnv) { e.stack(4, codeBase, 0) }, vecGP, 0),
		faultCase("lret to a data segment", []string{lret}, []byte{0xcb}, func(e *farEnv) { e.stack(4, codeBase, fData) }, vecGP, fData),
		faultCase("lret DPL 0 code with RPL 3", []string{lret}, []byte{0xcb}, func(e *farEnv) { e.stack(4, codeBase, fC64|3) }, vecGP, fC64),
		faultCase("lret not present", []string{lret}, []byte{0xcb}, func(e *farEnv) { e.stack(4, codeBase, fCodeNP) }, vecNP, fCodeNP),
		faultCase("lret imm16 not present", []string{lreti}, []byte{0xca, 0x04, 0x00}, func(e *farEnv) { e.stack(4, codeBase, fCodeNP) }, vecNP, fCodeNP),
		faultCase("lret imm16 null CS", []string{lreti}, []byte{0xca, 0x04, 0x00}, func(e *farEnv) { e.stack(4, codeBase, 0) }, vecGP, 0),
		faultCase("lret to ring 3 with a null SS", []string{lret}, []byte{0xcb},
			func(e *farEnv) { e.stack(4, codeBase, fC64r3|3, 0x7f000, 3) }, vecGP, 0),
		faultCase("lret to ring 3 with a DPL 0 SS", []string{lret}, []byte{0xcb},
			func(e *farEnv) { e.stack(4, codeBase, fC64r3|3, 0x7f000, fData|3) }, vecGP, fData),
		faultCase("lret imm16 to ring 3, SS not present", []string{lreti}, []byte{0xca, 0x04, 0x00},
			func(e *farEnv) {
				e.ram.w64(0x5000+fNP, mkDesc(0, 0xfffff, 0x73, 0xc)) // DPL 3, not present
				e.stack(4, codeBase, fC64r3|3, 0, 0x7f000, fNP|3)
			}, vecSS, fNP),
	}
	runFarCases(t, 64, cases)
}

// loadFarCases are the LDS/LES/LFS/LGS/LSS checks of one mode: the offset
// goes to the register (16-bit writes merge, 32-bit ones zero-extend in
// 64-bit mode), the selector and its descriptor to the segment register;
// a null selector is legal except for SS (in 64-bit mode SS may be null
// at CPL 0 with RPL 0); the faults are MOV Sreg's (SDM LDS/LES/LFS/LGS/
// LSS "Operation"). modrm is the [rBX] operand with AX (or EAX, RAX) as
// the register: 0x03, or 0x07 in 16-bit code.
func loadFarCases(mode int) []farCase {
	modrm := byte(0x03)
	if mode == 16 {
		modrm = 0x07
	}
	type op struct {
		name string
		s    uint8
		enc  []byte
	}
	ops := []op{{"LDS", segDS, []byte{0xc5}}, {"LES", segES, []byte{0xc4}},
		{"LFS", segFS, []byte{0x0f, 0xb4}}, {"LGS", segGS, []byte{0x0f, 0xb5}}, {"LSS", segSS, []byte{0x0f, 0xb2}}}
	if mode == 64 {
		ops = ops[2:] // LDS and LES are invalid
	}
	type size struct {
		sz  int
		row string // "r16, m16:16"
		pfx []byte
	}
	o16, o32 := []byte{0x66}, []byte(nil)
	if mode == 16 {
		o16, o32 = nil, []byte{0x66}
	}
	sizes := []size{{2, "r16, m16:16", o16}, {4, "r32, m16:32", o32}}
	if mode == 64 {
		sizes = append(sizes, size{8, "r64, m16:64", []byte{0x48}})
	}
	const rax0 = 0x1111222233334444
	var cases []farCase
	for _, o := range ops {
		for _, s := range sizes {
			o, s := o, s
			row := o.name + " " + s.row
			code := cat(s.pfx, o.enc, []byte{modrm})
			off := uint64(0xfedcba9876543210) & sizeMask[s.sz]
			ld := func(sel uint16) func(*farEnv) {
				return func(e *farEnv) {
					e.c.r[rAX] = rax0
					e.farPtr(s.sz, off, sel)
				}
			}
			cases = append(cases, farCase{name: row, rows: []string{row}, code: code, setup: ld(fData),
				check: func(e *farEnv) {
					want := rax0&^sizeMask[s.sz] | off
					if s.sz == 4 && mode == 64 {
						want = off // a 32-bit write zero-extends
					}
					if mode != 64 {
						want &= 0xffffffff
						e.eq("eax", e.c.r[rAX]&0xffffffff, want)
					} else {
						e.eq("rax", e.c.r[rAX], want)
					}
					e.segIs(o.s, cacheData)
				}})
			if o.s == segSS {
				cases = append(cases,
					faultCase(row+" read-only", []string{row}, code, ld(fRO), vecGP, fRO),
					faultCase(row+" not present", []string{row}, code, ld(fNP), vecSS, fNP),
					faultCase(row+" code", []string{row}, code, ld(fC32), vecGP, fC32),
					faultCase(row+" DPL 3", []string{row}, code, ld(fD3|3), vecGP, fD3),
					faultCase(row+" null RPL 3", []string{row}, code, ld(3), vecGP, 0),
					faultCase(row+" DPL 0 from ring 3", []string{row}, code, func(e *farEnv) { e.ring3(); ld(fData | 3)(e) }, vecGP, fData),
					farCase{name: row + " DPL 3 from ring 3", rows: []string{row}, code: code,
						setup: func(e *farEnv) { e.ring3(); ld(fD3 | 3)(e) }, check: func(e *farEnv) { e.segIs(segSS, cacheD3) }})
				if mode == 64 {
					// 64-bit mode at CPL 0: a null SS with RPL = CPL loads.
					cases = append(cases, farCase{name: row + " null", rows: []string{row}, code: code, setup: ld(0),
						check: func(e *farEnv) {
							e.eq("ss", uint64(e.c.seg[segSS].sel), 0)
							e.eq("ss unusable", uint64(e.c.seg[segSS].access&segUnusable), segUnusable)
						}})
				} else {
					cases = append(cases, faultCase(row+" null", []string{row}, code, ld(0), vecGP, 0))
				}
				continue
			}
			cases = append(cases,
				faultCase(row+" not present", []string{row}, code, ld(fNP), vecNP, fNP),
				faultCase(row+" execute-only code", []string{row}, code, ld(fXO), vecGP, fXO),
				faultCase(row+" beyond the GDT", []string{row}, code, ld(0x1f8), vecGP, 0x1f8),
				faultCase(row+" system descriptor", []string{row}, code, ld(selTSS), vecGP, selTSS),
				farCase{name: row + " null", rows: []string{row}, code: code, setup: ld(2),
					check: func(e *farEnv) {
						e.eq("selector", uint64(e.c.seg[o.s].sel), 2)
						e.eq("unusable", uint64(e.c.seg[o.s].access&segUnusable), segUnusable)
					}},
				faultCase(row+" DPL 0 from ring 3", []string{row}, code, func(e *farEnv) { e.ring3(); ld(fData | 3)(e) }, vecGP, fData),
				farCase{name: row + " DPL 3 from ring 3", rows: []string{row}, code: code,
					setup: func(e *farEnv) { e.ring3(); ld(fD3 | 3)(e) }, check: func(e *farEnv) { e.segIs(o.s, cacheD3) }},
				// Conforming readable code is usable at any CPL.
				farCase{name: row + " conforming code from ring 3", rows: []string{row}, code: code,
					setup: func(e *farEnv) { e.ring3(); ld(fConf32)(e) },
					check: func(e *farEnv) { e.segIs(o.s, seg{sel: fConf32, limit: 0xffffffff, access: 0xc09f}) }},
				// A readable code segment is a legal data segment.
				farCase{name: row + " readable code", rows: []string{row}, code: code, setup: ld(fC16B),
					check: func(e *farEnv) { e.segIs(o.s, cacheC16B) }})
		}
	}
	return cases
}

func TestLoadFarPointer(t *testing.T) {
	for _, mode := range []int{64, 32, 16} {
		runFarCases(t, mode, loadFarCases(mode))
	}
	// LSS through [RBP] with a null selector of RPL 3: #GP(0), not the
	// #SS(0) of a non-canonical stack operand.
	runFarCases(t, 64, []farCase{faultCase("lss rax, [rbp] null RPL 3", nil, []byte{0x48, 0x0f, 0xb2, 0x45, 0x00},
		func(e *farEnv) { e.c.r[rBP] = e.ptr; e.farPtr(8, 0, 3) }, vecGP, 0)})
}

// legacyFar are the far JMP/CALL checks of 32- and 16-bit code with the
// operand size that is not the mode's default (66): m16:16 and ptr16:16
// in 32-bit code, m16:32 and ptr16:32 in 16-bit code.
func legacyFarCases(mode int) []farCase {
	sz, modrmJ, modrmC := 2, byte(0x2b), byte(0x1b)
	if mode == 16 {
		sz, modrmJ, modrmC = 4, 0x2f, 0x1f
	}
	form := fmt.Sprintf("m16:%d", sz*8)
	pform := fmt.Sprintf("ptr16:%d", sz*8)
	ljm, lcm, ljp, lcp := "LJMP "+form, "LCALL "+form, "LJMP "+pform, "LCALL "+pform
	mem := func(enc byte) []byte { return []byte{0x66, 0xff, enc} }
	imm := func(op byte, off uint64, sel uint16) []byte {
		b := []byte{0x66, op}
		for i := 0; i < sz; i++ {
			b = append(b, byte(off>>(8*i)))
		}
		return append(b, byte(sel), byte(sel>>8))
	}
	ptr := func(off uint64, sel uint16) func(*farEnv) {
		return func(e *farEnv) {
			e.farPtr(sz, off, sel)
			e.w(e.ptr+uint64(sz)+2, 4, 0xffffffff)
		}
	}
	// Targets: in 32-bit code with a 16-bit offset, 0x1800 in flat 32-bit
	// code or 0x100 in 16-bit code at 0x2000; in 16-bit code with a 32-bit
	// offset, 0x10100 in flat 32-bit code (beyond 64 KiB).
	type tgt struct {
		name  string
		off   uint64
		sel   uint16
		cache seg
		size  int
	}
	tgts := []tgt{{"32-bit code", 0x1800, fC32, cacheC32, 32}, {"based 32-bit code", 0x800, fC32B, cacheC32B, 32},
		{"16-bit code", 0x100, fC16B, cacheC16B, 16}}
	if mode == 16 {
		tgts = []tgt{{"32-bit code", 0x10100, fC32, cacheC32, 32}, {"based 32-bit code", 0x12345, fC32B, cacheC32B, 32},
			{"16-bit code", 0xff00, fC16, cacheC16, 16}}
	}
	var cases []farCase
	for _, g := range tgts {
		g := g
		jmpCheck := func(e *farEnv) {
			e.segIs(segCS, g.cache)
			e.eq("code size", uint64(e.codeSize()), uint64(g.size))
			e.eq("esp", e.sp(), stackTop)
		}
		callCheck := func(n uint64) func(e *farEnv) {
			return func(e *farEnv) {
				e.segIs(segCS, g.cache)
				e.eq("esp", e.sp(), stackTop-2*uint64(sz))
				e.eq("pushed return offset", e.r(stackTop-2*uint64(sz), sz), (e.at+n)&sizeMask[uint8(sz)])
				e.eq("pushed cs", e.r(stackTop-uint64(sz), 2), modeCS(mode))
				e.eq("below the pushes", e.r(stackTop-2*uint64(sz)-4, 4), 0x55555555)
			}
		}
		pre := func(f func(*farEnv)) func(*farEnv) {
			return func(e *farEnv) { f(e); e.w(stackTop-2*uint64(sz)-4, 4, 0x55555555) }
		}
		ic := imm(0x9a, g.off, g.sel)
		cases = append(cases,
			farCase{name: ljm + " to " + g.name, rows: []string{ljm}, code: mem(modrmJ), setup: ptr(g.off, g.sel), rip: g.off, check: jmpCheck},
			farCase{name: ljp + " to " + g.name, rows: []string{ljp}, code: imm(0xea, g.off, g.sel), rip: g.off, check: jmpCheck},
			farCase{name: lcm + " to " + g.name, rows: []string{lcm}, code: mem(modrmC), setup: pre(ptr(g.off, g.sel)), rip: g.off, check: callCheck(3)},
			farCase{name: lcp + " to " + g.name, rows: []string{lcp}, code: ic, setup: pre(func(*farEnv) {}), rip: g.off, check: callCheck(uint64(len(ic)))},
		)
	}
	for _, f := range []struct {
		name string
		sel  uint16
		vec  uint64
		err  uint32
	}{
		{"null selector", 0, vecGP, 0}, {"data segment", fData, vecGP, fData}, {"not present", fCodeNP, vecNP, fCodeNP},
		{"DPL 3 code", fC32r3, vecGP, fC32r3}, {"RPL 3", fC32 | 3, vecGP, fC32}, {"beyond the GDT", 0x1f8, vecGP, 0x1f8},
	} {
		off := uint64(0x1800)
		cases = append(cases,
			faultCase(ljm+" "+f.name, []string{ljm}, mem(modrmJ), ptr(off, f.sel), f.vec, f.err),
			faultCase(ljp+" "+f.name, []string{ljp}, imm(0xea, off, f.sel), nil, f.vec, f.err),
			faultCase(lcm+" "+f.name, []string{lcm}, mem(modrmC), ptr(off, f.sel), f.vec, f.err),
			faultCase(lcp+" "+f.name, []string{lcp}, imm(0x9a, off, f.sel), nil, f.vec, f.err))
	}
	// With a 16-bit stack (SS.B clear) the pushes use SP and leave ESP's
	// upper half (SDM CALL: the stack-address size is SS.B's).
	stack16 := func(e *farEnv) {
		e.c.seg[segSS] = cacheSS16
		e.c.modeChanged()
		e.c.r[rSP] = 0x12340100
	}
	cases = append(cases, farCase{name: lcm + " on a 16-bit stack", rows: []string{lcm}, code: mem(modrmC),
		setup: func(e *farEnv) { stack16(e); ptr(tgts[0].off, tgts[0].sel)(e) }, rip: tgts[0].off,
		check: func(e *farEnv) {
			e.eq("esp", e.c.r[rSP], 0x12340100-2*uint64(sz))
			e.eq("pushed return offset", e.r(0x100-2*uint64(sz), sz), (e.at+3)&sizeMask[uint8(sz)])
			e.eq("pushed cs", e.r(0x100-uint64(sz), 2), modeCS(mode))
		}})
	// From ring 3: conforming DPL-0 code keeps CPL 3 (CS.RPL = 3);
	// non-conforming DPL-0 code is #GP(sel).
	confOff := uint64(0x1800)
	if mode == 16 {
		confOff = 0x10100
	}
	confOK := func(e *farEnv) {
		e.segIs(segCS, seg{sel: fConf32 | 3, limit: 0xffffffff, access: 0xc09f})
		e.eq("cpl", uint64(e.c.cpl), 3)
	}
	cases = append(cases,
		farCase{name: ljp + " from ring 3 to conforming code", rows: []string{ljp}, code: imm(0xea, confOff, fConf32),
			setup: func(e *farEnv) { e.ring3() }, rip: confOff, check: confOK},
		farCase{name: lcm + " from ring 3 to conforming code", rows: []string{lcm}, code: mem(modrmC),
			setup: func(e *farEnv) { e.ring3(); ptr(confOff, fConf32)(e) }, rip: confOff, check: func(e *farEnv) {
				confOK(e)
				e.eq("pushed cs", e.r(stackTop-uint64(sz), 2), uint64(modeCS3(mode)))
			}},
		faultCase(lcp+" from ring 3 to DPL 0", []string{lcp}, imm(0x9a, 0x1800, fC32|3), func(e *farEnv) { e.ring3() }, vecGP, fC32),
		faultCase(ljm+" from ring 3 to DPL 0", []string{ljm}, mem(modrmJ), func(e *farEnv) { e.ring3(); ptr(0x1800, fC32)(e) }, vecGP, fC32),
	)
	// The offset is checked against the target's limit: #GP(0).
	lim := func(e *farEnv) { e.ram.w64(0x5000+fC16, mkDesc(0, 0xfff, 0x9b, 0)) }
	if mode == 16 {
		// A 32-bit offset beyond a 16-bit segment's 64 KiB limit.
		lim = func(e *farEnv) {}
	}
	bad := uint64(0x1000)
	if mode == 16 {
		bad = 0x10000
	}
	cases = append(cases,
		faultCase(ljp+" beyond the limit", []string{ljp}, imm(0xea, bad, fC16), lim, vecGP, 0),
		faultCase(lcp+" beyond the limit", []string{lcp}, imm(0x9a, bad, fC16), lim, vecGP, 0),
		faultCase(ljm+" beyond the limit", []string{ljm}, mem(modrmJ), func(e *farEnv) { lim(e); ptr(bad, fC16)(e) }, vecGP, 0),
		faultCase(lcm+" beyond the limit", []string{lcm}, mem(modrmC), func(e *farEnv) { lim(e); ptr(bad, fC16)(e) }, vecGP, 0))
	return cases
}

// modeCS3 is the CS selector ring3 gives in mode.
func modeCS3(mode int) uint16 {
	switch mode {
	case 64:
		return fC64r3 | 3
	case 32:
		return fC32r3 | 3
	}
	return fC16r3 | 3
}

// modeCS is the CS selector of the harness in mode.
func modeCS(mode int) uint64 {
	if mode == 16 {
		return selCode16
	}
	return 8
}

func TestFarTransfersLegacy(t *testing.T) {
	for _, mode := range []int{32, 16} {
		runFarCases(t, mode, legacyFarCases(mode))
	}
}

// A stack reference through RSP or RBP at a non-canonical address is
// #SS(0) in 64-bit mode (SDM Vol. 3 §6.15, "Interrupt 12—Stack Fault
// Exception (#SS)"; Vol. 2 PUSH, POP, CALL, RET, ENTER, LEAVE, IRET
// "64-Bit Mode Exceptions"), for the implicit stack accesses as well as
// for RSP/RBP-based operands; a non-canonical data operand stays #GP(0).
// #SS and #GP are delivered on IST1 here, so the frame shows the broken
// RSP unchanged.
func TestNonCanonicalStackIsSS(t *testing.T) {
	const nc = 0x8000000000000010
	onStack := func(e *farEnv) { e.c.r[rSP] = nc }
	var cases []farCase
	for _, k := range []struct {
		name string
		code []byte
	}{
		{"push rax", []byte{0x50}}, {"pop rax", []byte{0x58}}, {"push [rbx]", []byte{0xff, 0x33}},
		{"pop [rbx]", []byte{0x8f, 0x03}}, {"push imm", []byte{0x6a, 0x01}}, {"push fs", []byte{0x0f, 0xa0}},
		{"pop fs", []byte{0x0f, 0xa1}}, {"pushf", []byte{0x9c}}, {"popf", []byte{0x9d}},
		{"call rel32", []byte{0xe8, 0, 0, 0, 0}}, {"call [rbx]", []byte{0xff, 0x13}},
		{"ret", []byte{0xc3}}, {"ret imm16", []byte{0xc2, 0x08, 0x00}}, {"lret", []byte{0xcb}},
		{"lcall m16:32", []byte{0xff, 0x1b}}, {"iretq", []byte{0x48, 0xcf}}, {"enter", []byte{0xc8, 0x08, 0x00, 0x00}},
		{"enter nested", []byte{0xc8, 0x08, 0x00, 0x02}},
	} {
		setup := onStack
		if k.name == "lcall m16:32" {
			setup = func(e *farEnv) { onStack(e); e.farPtr(4, codeBase+0x100, fC64) }
		}
		if k.name == "call [rbx]" {
			setup = func(e *farEnv) { onStack(e); e.w(e.ptr, 8, codeBase+0x100) }
		}
		cases = append(cases, faultCase(k.name, nil, k.code, setup, vecSS, 0))
	}
	cases = append(cases,
		// LEAVE loads RSP from a non-canonical RBP, then pops.
		faultCase("leave", nil, []byte{0xc9}, func(e *farEnv) { e.c.r[rBP] = nc }, vecSS, 0),
		// ENTER with a nesting level reads the old frame through RBP.
		faultCase("enter nested, bad rbp", nil, []byte{0xc8, 0x08, 0x00, 0x02}, func(e *farEnv) { e.c.r[rBP] = nc }, vecSS, 0),
		// The data operand, not the stack, is non-canonical: #GP(0).
		faultCase("push [rbx] non-canonical rbx", nil, []byte{0xff, 0x33}, func(e *farEnv) { e.c.r[rBX] = nc }, vecGP, 0),
		faultCase("pop [rbx] non-canonical rbx", nil, []byte{0x8f, 0x03}, func(e *farEnv) { e.c.r[rBX] = nc }, vecGP, 0),
		faultCase("call [rbx] non-canonical target", nil, []byte{0xff, 0x13}, func(e *farEnv) { e.w(e.ptr, 8, nc) }, vecGP, 0),
	)
	runFarCases(t, 64, cases)
}

// nearCases are the near CALL/JMP/PUSH/POP/LEAVE forms with the operand
// size that is not the mode's default (66 prefix): 16-bit in 32-bit code,
// 32-bit in 16-bit code (SDM CALL/JMP "near", PUSH, POP, LEAVE).
func nearCases(mode int) []farCase {
	sz := 2
	call, jmp, push, pop := "CALL r/m16", "JMP r/m16", "PUSH r/m16", "POP r/m16"
	mb := func(r byte) byte { return r<<3 | 3 } // [ebx]
	if mode == 16 {
		sz = 4
		call, jmp, push, pop = "CALL r/m32", "JMP r/m32", "PUSH r/m32", "POP r/m32"
		mb = func(r byte) byte { return r<<3 | 7 } // [bx]
	}
	popESP := []byte{0x66, 0x8f, 0x04, 0x24} // pop [esp]
	if mode == 16 {
		popESP = append([]byte{0x67}, popESP...) // a 32-bit address in 16-bit code
	}
	m := sizeMask[uint8(sz)]
	below := uint64(1)<<(8*(8-sz)) - 1 // the bytes of a quadword below a push
	const filler = 0xaaaaaaaa
	pre := func(e *farEnv) { e.w(stackTop-8, 8, 0x5555555555555555) }
	var cases []farCase
	// Targets: 0x1800 in 32-bit code (EIP is truncated to 16 bits from
	// 0x12341800); 0x8100 in 16-bit code, from a full 32-bit register.
	tgtReg, tgt := uint64(0x12341800), uint64(0x1800)
	if mode == 16 {
		tgtReg, tgt = 0x8100, 0x8100
	}
	callOK := func(n uint64) func(e *farEnv) {
		return func(e *farEnv) {
			e.eq("esp", e.sp(), stackTop-uint64(sz))
			e.eq("pushed return", e.r(stackTop-uint64(sz), sz), (e.at+n)&m)
			e.eq("below the push", e.r(stackTop-8, 8-sz), 0x5555555555555555&below)
		}
	}
	jmpOK := func(e *farEnv) { e.eq("esp", e.sp(), stackTop) }
	cases = append(cases,
		farCase{name: call + " register", rows: []string{call}, code: []byte{0x66, 0xff, 0xd0},
			setup: func(e *farEnv) { pre(e); e.c.r[rAX] = tgtReg }, rip: tgt, check: callOK(3)},
		farCase{name: call + " memory", rows: []string{call}, code: []byte{0x66, 0xff, mb(2)},
			setup: func(e *farEnv) { pre(e); e.w(e.ptr, 8, 0xffffffff00000000|tgtReg) }, rip: tgt, check: callOK(3)},
		farCase{name: jmp + " register", rows: []string{jmp}, code: []byte{0x66, 0xff, 0xe0},
			setup: func(e *farEnv) { e.c.r[rAX] = tgtReg }, rip: tgt, check: jmpOK},
		farCase{name: jmp + " memory", rows: []string{jmp}, code: []byte{0x66, 0xff, mb(4)},
			setup: func(e *farEnv) { e.w(e.ptr, 8, 0xffffffff00000000|tgtReg) }, rip: tgt, check: jmpOK},
		farCase{name: push + " register", rows: []string{push}, code: []byte{0x66, 0xff, 0xf0},
			setup: func(e *farEnv) { pre(e); e.c.r[rAX] = 0x87654321 }, check: func(e *farEnv) {
				e.eq("esp", e.sp(), stackTop-uint64(sz))
				e.eq("pushed", e.r(stackTop-uint64(sz), sz), 0x87654321&m)
				e.eq("below the push", e.r(stackTop-8, 8-sz), 0x5555555555555555&below)
			}},
		farCase{name: push + " memory", rows: []string{push}, code: []byte{0x66, 0xff, mb(6)},
			setup: func(e *farEnv) { pre(e); e.w(e.ptr, 8, 0x1122334455667788) }, check: func(e *farEnv) {
				e.eq("esp", e.sp(), stackTop-uint64(sz))
				e.eq("pushed", e.r(stackTop-uint64(sz), sz), 0x1122334455667788&m)
			}},
		farCase{name: pop + " register", rows: []string{pop}, code: []byte{0x66, 0x8f, 0xc0},
			setup: func(e *farEnv) { e.stack(8, 0x1122334455667788); e.c.r[rAX] = 0xffffffff }, check: func(e *farEnv) {
				e.eq("esp", e.sp(), stackTop-0x100+uint64(sz))
				e.eq("eax", e.c.r[rAX]&0xffffffff, 0xffffffff&^m|0x55667788&m)
			}},
		farCase{name: pop + " memory", rows: []string{pop}, code: []byte{0x66, 0x8f, mb(0)},
			setup: func(e *farEnv) { e.stack(8, 0x1122334455667788); e.w(e.ptr, 8, filler|filler<<32) }, check: func(e *farEnv) {
				e.eq("esp", e.sp(), stackTop-0x100+uint64(sz))
				e.eq("written", e.r(e.ptr, 8), (filler|filler<<32)&^m|0x55667788&m)
			}},
		// POP r/m computes a [ESP]-based address after the pop (SDM POP).
		farCase{name: pop + " to [esp]", rows: []string{pop}, code: popESP,
			setup: func(e *farEnv) { e.stack(4, 0x55667788, filler, filler) }, check: func(e *farEnv) {
				e.eq("esp", e.sp(), stackTop-0x100+uint64(sz))
				e.eq("written", e.r(stackTop-0x100+uint64(sz), sz), 0x55667788&m)
			}},
	)
	if mode == 32 {
		// rel16: EIP = (EIP + rel16) AND 0FFFFH (SDM CALL/JMP).
		cases = append(cases,
			farCase{name: "CALL rel16", rows: []string{"CALL rel16"}, code: []byte{0x66, 0xe8, 0xfc, 0x17}, setup: pre,
				rip: 0x1800, check: callOK(4)},
			farCase{name: "CALL rel16 backwards", rows: []string{"CALL rel16"}, code: []byte{0x66, 0xe8, 0xfe, 0xff}, setup: pre,
				rip: 0x0002, check: callOK(4)},
			farCase{name: "JMP rel16", rows: []string{"JMP rel16"}, code: []byte{0x66, 0xe9, 0xfc, 0x17}, rip: 0x1800, check: jmpOK},
			farCase{name: "JMP rel16 backwards", rows: []string{"JMP rel16"}, code: []byte{0x66, 0xe9, 0x00, 0xf0}, rip: 0xf004, check: jmpOK},
			// The operand beyond DS's limit: #GP(0).
			faultCase(call+" operand beyond DS limit", []string{call}, []byte{0x66, 0xff, mb(2)},
				func(e *farEnv) { e.c.seg[segDS] = cacheData; e.c.r[rBX] = 0xabcd }, vecGP, 0),
			faultCase(jmp+" operand beyond DS limit", []string{jmp}, []byte{0x66, 0xff, mb(4)},
				func(e *farEnv) { e.c.seg[segDS] = cacheData; e.c.r[rBX] = 0xabcd }, vecGP, 0),
			faultCase(push+" operand beyond DS limit", []string{push}, []byte{0x66, 0xff, mb(6)},
				func(e *farEnv) { e.c.seg[segDS] = cacheData; e.c.r[rBX] = 0xabcd }, vecGP, 0),
			faultCase(pop+" to read-only data", []string{pop}, []byte{0x66, 0x8f, mb(0)},
				func(e *farEnv) { e.c.seg[segDS] = seg{sel: fRO, limit: 0xffffffff, access: 0xc091} }, vecGP, 0),
			// A 16-bit target beyond a small CS limit.
			faultCase("JMP rel16 beyond the CS limit", []string{"JMP rel16"}, []byte{0x66, 0xe9, 0xfc, 0x17},
				func(e *farEnv) { e.c.seg[segCS].limit = 0x17ff; e.c.seg[segCS].base = 0; e.at = 0x1000 }, vecGP, 0),
		)
	} else {
		// A 32-bit target beyond the 16-bit code segment's limit: #GP(0),
		// nothing pushed.
		beyond := func(e *farEnv) { e.c.r[rAX] = 0x10000; e.w(e.ptr, 4, 0x10000) }
		cases = append(cases,
			faultCase(call+" beyond the CS limit", []string{call}, []byte{0x66, 0xff, 0xd0}, beyond, vecGP, 0),
			faultCase(call+" memory beyond the CS limit", []string{call}, []byte{0x66, 0xff, mb(2)}, beyond, vecGP, 0),
			faultCase(jmp+" beyond the CS limit", []string{jmp}, []byte{0x66, 0xff, 0xe0}, beyond, vecGP, 0),
			faultCase(jmp+" memory beyond the CS limit", []string{jmp}, []byte{0x66, 0xff, mb(4)}, beyond, vecGP, 0),
			faultCase(pop+" to read-only data", []string{pop}, []byte{0x66, 0x8f, mb(0)},
				func(e *farEnv) { e.c.seg[segDS] = seg{sel: fRO, limit: 0xffffffff, access: 0xc091} }, vecGP, 0),
			faultCase(push+" operand beyond DS limit", []string{push}, []byte{0x66, 0xff, mb(6)},
				func(e *farEnv) { e.c.seg[segDS] = cacheData; e.c.r[rBX] = 0xabcc }, vecGP, 0),
		)
		// LEAVE: ESP <- EBP with a 32-bit stack (SP <- BP with a 16-bit
		// one), then BP (or EBP with 66) is popped.
		cases = append(cases,
			farCase{name: "leave", rows: []string{"LEAVE"}, code: []byte{0xc9},
				setup: func(e *farEnv) { e.c.r[rBP] = 0x7f000; e.w(0x7f000, 4, 0x11223344) }, check: func(e *farEnv) {
					e.eq("esp", e.sp(), 0x7f002)
					e.eq("ebp", e.c.r[rBP], 0x73344)
				}},
			farCase{name: "o32 leave", rows: []string{"LEAVE"}, code: []byte{0x66, 0xc9},
				setup: func(e *farEnv) { e.c.r[rBP] = 0x7f000; e.w(0x7f000, 4, 0x11223344) }, check: func(e *farEnv) {
					e.eq("esp", e.sp(), 0x7f004)
					e.eq("ebp", e.c.r[rBP], 0x11223344)
				}},
			farCase{name: "leave, 16-bit stack", rows: []string{"LEAVE"}, code: []byte{0xc9},
				setup: func(e *farEnv) {
					e.c.seg[segSS] = cacheSS16
					e.c.modeChanged()
					e.c.r[rSP], e.c.r[rBP] = 0x12340100, 0x5678f000
					e.w(0xf000, 2, 0xbeef)
				}, check: func(e *farEnv) {
					e.eq("esp", e.c.r[rSP], 0x1234f002)
					e.eq("ebp", e.c.r[rBP], 0x5678beef)
				}},
		)
	}
	return cases
}

func TestNearOperandSizes(t *testing.T) {
	for _, mode := range []int{32, 16} {
		runFarCases(t, mode, nearCases(mode))
	}
}

// segRegCases are MOV to and from segment registers, PUSH CS and POP
// FS/GS with the operand size that is not the mode's default where the
// row needs it (SDM MOV "Move to/from Segment Registers", PUSH, POP).
func segRegCases(mode int) []farCase {
	movS := "MOV Sreg, r/m16" // 66 8E in 32-bit code
	if mode == 16 {
		movS = "MOV Sreg, r32/m16" // 66 8E in 16-bit code
	}
	mb := byte(0x03) // [ebx]
	if mode == 16 {
		mb = 0x07 // [bx]
	}
	modrm := func(sreg uint8, rmb byte) byte { return sreg<<3 | rmb }
	var cases []farCase
	for _, s := range []uint8{segES, segSS, segDS, segFS, segGS} {
		s := s
		name := fmt.Sprintf("%s sreg %d", movS, s)
		reg := []byte{0x66, 0x8e, 0xc0 | modrm(s, 0)}
		mem := []byte{0x66, 0x8e, modrm(s, mb)}
		cases = append(cases,
			farCase{name: name + " register", rows: []string{movS}, code: reg,
				setup: func(e *farEnv) { e.c.r[rAX] = 0xffff0000 | fData }, check: func(e *farEnv) { e.segIs(s, cacheData) }},
			farCase{name: name + " memory", rows: []string{movS}, code: mem,
				setup: func(e *farEnv) { e.w(e.ptr, 4, 0xffff0000|fData) }, check: func(e *farEnv) { e.segIs(s, cacheData) }})
		if s == segSS {
			cases = append(cases,
				faultCase(name+" read-only", []string{movS}, reg, func(e *farEnv) { e.c.r[rAX] = fRO }, vecGP, fRO),
				faultCase(name+" not present", []string{movS}, reg, func(e *farEnv) { e.c.r[rAX] = fNP }, vecSS, fNP),
				faultCase(name+" null", []string{movS}, mem, func(e *farEnv) { e.w(e.ptr, 2, 0) }, vecGP, 0))
			continue
		}
		cases = append(cases,
			faultCase(name+" not present", []string{movS}, reg, func(e *farEnv) { e.c.r[rAX] = fNP }, vecNP, fNP),
			faultCase(name+" execute-only", []string{movS}, mem, func(e *farEnv) { e.w(e.ptr, 2, fXO) }, vecGP, fXO),
			faultCase(name+" DPL 0 with RPL 3", []string{movS}, reg, func(e *farEnv) { e.c.r[rAX] = fData | 3 }, vecGP, fData),
			faultCase(name+" DPL 0 from ring 3", []string{movS}, reg, func(e *farEnv) { e.ring3(); e.c.r[rAX] = fData }, vecGP, fData))
	}
	// MOV CS is #UD (SDM MOV: "the MOV instruction cannot be used to
	// load the CS register").
	cases = append(cases, faultCase(movS+" CS", []string{movS}, []byte{0x66, 0x8e, 0xc8},
		func(e *farEnv) { e.c.r[rAX] = fC32 }, vecUD, 0))
	if mode == 16 {
		// 66 8C to a register writes the selector zero-extended to 32
		// bits (P6 and later; the host agrees: TestMovFromSregHost); to
		// memory it writes 16 bits whatever the operand size.
		const movR = "MOV r32/m16, Sreg"
		for _, s := range []uint8{segES, segCS, segSS, segDS, segFS, segGS} {
			s := s
			cases = append(cases,
				farCase{name: fmt.Sprintf("%s sreg %d register", movR, s), rows: []string{movR}, code: []byte{0x66, 0x8c, 0xc0 | modrm(s, 0)},
					setup: func(e *farEnv) { e.c.r[rAX] = 0xffffffffffffffff }, check: func(e *farEnv) {
						// Bits 63:32 are not architectural outside 64-bit mode.
						e.eq("eax", e.c.r[rAX]&0xffffffff, uint64(e.c.seg[s].sel))
					}},
				farCase{name: fmt.Sprintf("%s sreg %d memory", movR, s), rows: []string{movR}, code: []byte{0x66, 0x8c, modrm(s, mb)},
					setup: func(e *farEnv) { e.w(e.ptr, 4, 0xaaaaaaaa) }, check: func(e *farEnv) {
						e.eq("written", e.r(e.ptr, 4), 0xaaaa0000|uint64(e.c.seg[s].sel))
					}})
		}
		// POP FS/GS: 16 bits popped (66: 32 bits, the selector in the low
		// word), the segment loaded with MOV's checks; on a fault ESP is
		// unchanged.
		for _, p := range []struct {
			row string
			s   uint8
			op  byte
		}{{"POP FS", segFS, 0xa1}, {"POP GS", segGS, 0xa9}} {
			p := p
			cases = append(cases,
				farCase{name: p.row, rows: []string{p.row}, code: []byte{0x0f, p.op},
					setup: func(e *farEnv) { e.stack(2, fData, fNP) }, check: func(e *farEnv) {
						e.segIs(p.s, cacheData)
						e.eq("esp", e.sp(), stackTop-0x100+2)
					}},
				farCase{name: "o32 " + p.row, rows: []string{p.row}, code: []byte{0x66, 0x0f, p.op},
					setup: func(e *farEnv) { e.stack(4, 0xdead0000|fData) }, check: func(e *farEnv) {
						e.segIs(p.s, cacheData)
						e.eq("esp", e.sp(), stackTop-0x100+4)
					}},
				farCase{name: p.row + " null", rows: []string{p.row}, code: []byte{0x0f, p.op},
					setup: func(e *farEnv) { e.stack(2, 0) }, check: func(e *farEnv) {
						e.eq("selector", uint64(e.c.seg[p.s].sel), 0)
						e.eq("unusable", uint64(e.c.seg[p.s].access&segUnusable), segUnusable)
					}},
				faultCase(p.row+" not present", []string{p.row}, []byte{0x0f, p.op}, func(e *farEnv) { e.stack(2, fNP) }, vecNP, fNP),
				faultCase("o32 "+p.row+" execute-only", []string{p.row}, []byte{0x66, 0x0f, p.op}, func(e *farEnv) { e.stack(4, fXO) }, vecGP, fXO),
			)
		}
	}
	// PUSH CS: the mode's operand size, or the other with 66. A 32-bit
	// push of a segment register writes the low word and may leave the
	// high one (SDM PUSH: "either a zero-extended value is pushed ... or
	// the segment selector is written on the stack using a 16-bit move").
	cs := modeCS(mode)
	pushCS := func(n int) func(e *farEnv) {
		return func(e *farEnv) {
			e.eq("esp", e.sp(), stackTop-uint64(n))
			e.eq("pushed", e.r(stackTop-uint64(n), 2), cs)
			if hi := e.r(stackTop-uint64(n)+2, 2); n == 4 && hi != 0 && hi != 0xaaaa {
				e.t.Errorf("high word %#x, want 0 or the old 0xaaaa", hi)
			}
			e.eq("below the push", e.r(stackTop-8, 8-n), 0xaaaaaaaaaaaaaaaa&(uint64(1)<<(8*(8-n))-1))
		}
	}
	fill := func(e *farEnv) { e.w(stackTop-8, 8, 0xaaaaaaaaaaaaaaaa) }
	n, n66 := 4, 2
	if mode == 16 {
		n, n66 = 2, 4
	}
	cases = append(cases,
		farCase{name: "PUSH CS", rows: []string{"PUSH CS"}, code: []byte{0x0e}, setup: fill, check: pushCS(n)},
		farCase{name: "o16/o32 PUSH CS", rows: []string{"PUSH CS"}, code: []byte{0x66, 0x0e}, setup: fill, check: pushCS(n66)},
	)
	return cases
}

func TestSegmentRegisterRows(t *testing.T) {
	for _, mode := range []int{32, 16} {
		runFarCases(t, mode, segRegCases(mode))
	}
}

// The host's answer to what MOV r32, Sreg leaves in bits 31:16 (the SDM
// leaves it to the processor; P6 and later zero them): the upper half is
// zero, a 16-bit MOV r16, Sreg leaves the rest of the register.
func TestMovFromSregHost(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	for _, tc := range []struct {
		code []byte
		keep uint64 // the bits the destination keeps
	}{
		{[]byte{0x8c, 0xd8}, 0},                        // mov eax, ds
		{[]byte{0x66, 0x8c, 0xd8}, 0xffffffffffff0000}, // mov ax, ds
	} {
		st := hostexec.State{}
		st.Regs[rAX] = ^uint64(0)
		if err := hostexec.Exec(tc.code, &st); err != nil {
			t.Skip(err)
		}
		if st.Regs[rAX]&^0xffff != tc.keep {
			t.Errorf("host % x: rax %#x, want the bits %#x kept and the selector zero-extended", tc.code, st.Regs[rAX], tc.keep)
		}
		// The same in a 64-bit guest.
		c, _ := newGuest(t, append(append([]byte{}, tc.code...), 0xf4))
		c.r[rAX] = ^uint64(0)
		c.seg[segDS].sel = 0x10
		run(t, c, 10, ExitHLT)
		if want := tc.keep | 0x10; c.r[rAX] != want {
			t.Errorf("guest % x: rax %#x, want %#x", tc.code, c.r[rAX], want)
		}
	}
}

// iretCases: IRET with the operand size that is not the mode's default
// (16-bit IRET in 32-bit code, IRETD in 16-bit code), same privilege and
// to ring 3, and its CS/SS faults (SDM IRET, PROTECTED-MODE-RETURN).
func iretCases(mode int) []farCase {
	row, sz := "IRET", 2
	if mode == 16 {
		row, sz = "IRETD", 4
	}
	code := []byte{0x66, 0xcf}
	// Flags before: AC, ID and IF set. A 16-bit IRET replaces bits 15:0
	// only; a 32-bit one at CPL 0 loads AC, ID and IOPL too (not VM: the
	// image has VM clear). It loads VIF and VIP as well, which the
	// interpreter does not yet do: the image leaves them clear.
	const before = 0x240202
	img, want := uint64(0x08d7), uint64(0x2408d7) // OF SF ZF AF PF CF; IF clear
	if sz == 4 {
		img, want = 0x0430d7, 0x0430d7 // AC, IOPL 3, the arithmetic flags (ID now clear)
	}
	tgt := struct {
		off   uint64
		sel   uint16
		cache seg
		size  uint64
	}{0x1800, fC32, cacheC32, 32}
	if mode == 16 {
		tgt.off = 0x10100
	}
	same := func(e *farEnv) {
		e.c.setRflags(before)
		e.stack(sz, tgt.off, 0xdead0000|uint64(tgt.sel), img)
	}
	var cases []farCase
	cases = append(cases,
		farCase{name: row + " same privilege", rows: []string{row}, code: code, setup: same, rip: tgt.off,
			check: func(e *farEnv) {
				e.segIs(segCS, tgt.cache)
				e.eq("code size", uint64(e.codeSize()), tgt.size)
				e.eq("eflags", e.c.rflags(), want)
				e.eq("esp", e.sp(), stackTop-0x100+3*uint64(sz))
			}},
		farCase{name: row + " to 16-bit code", rows: []string{row}, code: code,
			setup: func(e *farEnv) { e.stack(sz, 0x100, fC16B, 0x2) }, rip: 0x100,
			check: func(e *farEnv) {
				e.segIs(segCS, cacheC16B)
				e.eq("code size", uint64(e.codeSize()), 16)
				e.eq("esp", e.sp(), stackTop-0x100+3*uint64(sz))
			}},
		// To ring 3: SS:ESP popped too; DS, ES, FS, GS held DPL-0 data
		// and are nulled.
		farCase{name: row + " to ring 3", rows: []string{row}, code: code,
			setup: func(e *farEnv) {
				e.c.setRflags(before)
				e.stack(sz, 0x1800, fC32r3|3, 0x0202, 0x7ffc, fD3|3)
			}, rip: 0x1800,
			check: func(e *farEnv) {
				e.segIs(segCS, cacheC32r3)
				e.segIs(segSS, cacheD3)
				e.eq("cpl", uint64(e.c.cpl), 3)
				e.eq("sp", e.c.r[rSP]&sizeMask[uint8(sz)], 0x7ffc)
				fl := uint64(0x202)
				if sz == 2 {
					fl |= before &^ 0xffff
				}
				e.eq("eflags", e.c.rflags(), fl)
				for _, s := range []uint8{segES, segDS, segFS, segGS} {
					e.eq(fmt.Sprintf("segment %d selector", s), uint64(e.c.seg[s].sel), 0)
				}
			}},
		faultCase(row+" from ring 3 to RPL 0", []string{row}, code, func(e *farEnv) { e.ring3(); e.stack(sz, 0x1800, fC32, 2) }, vecGP, fC32),
		faultCase(row+" null CS", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, 0, 2) }, vecGP, 0),
		faultCase(row+" data CS", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, fData, 2) }, vecGP, fData),
		faultCase(row+" CS not present", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, fCodeNP, 2) }, vecNP, fCodeNP),
		faultCase(row+" DPL 0 CS with RPL 3", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, fC32|3, 2) }, vecGP, fC32),
		faultCase(row+" beyond the CS limit", []string{row}, code, func(e *farEnv) {
			e.stack(sz, 0xff00, fC16B, 2)
			e.ram.w64(0x5000+fC16B, mkDesc(0x2000, 0xfff, 0x9b, 0))
		}, vecGP, 0),
		faultCase(row+" to ring 3, null SS", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, fC32r3|3, 2, 0x7ffc, 3) }, vecGP, 0),
		faultCase(row+" to ring 3, SS RPL 0", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, fC32r3|3, 2, 0x7ffc, fD3) }, vecGP, fD3),
		faultCase(row+" to ring 3, DPL 0 SS", []string{row}, code, func(e *farEnv) { e.stack(sz, 0x1800, fC32r3|3, 2, 0x7ffc, fData|3) }, vecGP, fData),
	)
	return cases
}

func TestIretOperandSizes(t *testing.T) {
	for _, mode := range []int{32, 16} {
		runFarCases(t, mode, iretCases(mode))
	}
}

// Loading a segment register sets the accessed bit of its descriptor in
// the GDT (SDM Vol. 3 §3.4.5.1), so the cache and the table both show it;
// a descriptor with the bit already set is not written (the read-only
// GDT case).
func TestSegmentLoadSetsAccessed(t *testing.T) {
	const slot = fC16r3 + 8 // one past farDescs: a fresh descriptor per case
	type tc struct {
		name string
		desc uint64
		code []byte
		prep func(e *farEnv)
		s    uint8
	}
	for _, mode := range []int{64, 32} {
		mb := byte(0x03)
		cases := []tc{
			{"mov ds", mkDesc(0x4000, 0xffff, 0x92, 0x4), []byte{0x8e, 0xdb}, func(e *farEnv) { e.c.r[rBX] = slot }, segDS},
			{"lfs", mkDesc(0x4000, 0xffff, 0x92, 0x4), []byte{0x0f, 0xb4, mb}, func(e *farEnv) { e.farPtr(4, 0, slot) }, segFS},
			{"lss", mkDesc(0x4000, 0xffff, 0x92, 0x4), []byte{0x0f, 0xb2, mb}, func(e *farEnv) { e.farPtr(4, 0, slot) }, segSS},
			{"ljmp", mkDesc(0, 0xfffff, 0x9a, 0xc), []byte{0xff, 0x2b}, func(e *farEnv) { e.farPtr(4, 0x1800, slot) }, segCS},
			{"lret", mkDesc(0, 0xfffff, 0x9a, 0xc), []byte{0xcb}, func(e *farEnv) { e.stack(4, 0x1800, slot) }, segCS},
			{"lret to ring 3 (SS)", mkDesc(0, 0xfffff, 0xf2, 0xc), []byte{0xcb},
				func(e *farEnv) { e.stack(4, 0x1800, fC32r3|3, 0x7000, slot|3) }, segSS},
		}
		for _, k := range cases {
			t.Run(fmt.Sprintf("%d/%s", mode, k.name), func(t *testing.T) {
				e := newFarEnv(t, mode)
				e.c.gdtr.limit = slot + 7
				e.ram.w64(0x5000+slot, k.desc)
				k.prep(e)
				copy(e.ram.b[e.at:], k.code)
				e.c.rip = e.at
				if ex := e.c.Run(1); ex.Reason != ExitBudget {
					t.Fatalf("exit %v at %#x", ex.Reason, ex.RIP)
				}
				e.eq("descriptor", e.ram.r64(0x5000+slot), k.desc|1<<40)
				e.eq("cache type", uint64(e.c.seg[k.s].access&0xff), k.desc>>40&0xff|1)
			})
		}
	}
	// Interrupt delivery loads the handler's CS (and, from ring 3, the
	// TSS's SS0) the same way: newProt's selCode32 and selData32, and
	// newGuest's CS 8, are built with the bit clear.
	t.Run("int from ring 3", func(t *testing.T) {
		c, ram := newProt(t, []byte{0xcd, 0x40})
		c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
		c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
		c.modeChanged()
		haltedIn(t, c, 0x40)
		if ram.b[0x5000+selCode32+5] != 0x9b || ram.b[0x5000+selData32+5] != 0x93 {
			t.Errorf("CS access byte %#x, SS %#x: want the accessed bit set", ram.b[0x5000+selCode32+5], ram.b[0x5000+selData32+5])
		}
		if c.seg[segCS].access&1 == 0 || c.seg[segSS].access&1 == 0 {
			t.Errorf("caches CS %#x SS %#x", c.seg[segCS].access, c.seg[segSS].access)
		}
	})
	// A call gate: the target CS (selCode32) and, into ring 1, the TSS's
	// SS1 (gateProt's selData1, built with the bit clear).
	t.Run("call gate", func(t *testing.T) {
		c, ram := gateProt(t, mkGate(0xc, 3, selCode1, gateCode, 0, true), lcallGate)
		ram.b[gateCode] = 0xf4
		run(t, c, 10, ExitHLT) // HLT at ring 1 is #GP: its handler's hlt
		if ram.b[0x5000+selCode1+5] != 0xbb || ram.b[0x5000+selData1+5] != 0xb3 {
			t.Errorf("CS access byte %#x, SS %#x: want the accessed bit set", ram.b[0x5000+selCode1+5], ram.b[0x5000+selData1+5])
		}
	})
	// A task switch loads CS and the data segments from the new TSS
	// (taskProt's: selCode32 and selData32, built with the bit clear).
	t.Run("task switch", func(t *testing.T) {
		c, ram := taskProt(t, []byte{0x9a, 0, 0, 0, 0, selTSS2, 0})
		run(t, c, 10, ExitHLT)
		if ram.b[0x5000+selCode32+5] != 0x9b || ram.b[0x5000+selData32+5] != 0x93 {
			t.Errorf("CS access byte %#x, data %#x: want the accessed bit set", ram.b[0x5000+selCode32+5], ram.b[0x5000+selData32+5])
		}
		if c.seg[segCS].access&1 == 0 || c.seg[segDS].access&1 == 0 {
			t.Errorf("caches CS %#x DS %#x", c.seg[segCS].access, c.seg[segDS].access)
		}
	})
	t.Run("int 64-bit", func(t *testing.T) {
		c, ram := withHandlers(t, []byte{0xcd, 0x40})
		run(t, c, 10, ExitHLT)
		if ram.b[0x5008+5] != 0x99 || c.seg[segCS].access&1 == 0 {
			t.Errorf("CS access byte %#x, cache %#x: want the accessed bit set", ram.b[0x5008+5], c.seg[segCS].access)
		}
	})
	// A selector with TI set names the LDT: the descriptor and its
	// accessed bit are the LDT's.
	t.Run("LDT", func(t *testing.T) {
		e := newFarEnv(t, 32)
		e.c.ldtr = seg{sel: selLDT, base: 0x1000, limit: 0xff, access: 0x82}
		e.ram.w64(0x1008, mkDesc(0x4000, 0xffff, 0x92, 0x4))
		e.c.r[rAX] = 0x0c                        // index 1, TI, RPL 0
		copy(e.ram.b[e.at:], []byte{0x8e, 0xe0}) // mov fs, ax
		e.c.rip = e.at
		if ex := e.c.Run(1); ex.Reason != ExitBudget {
			t.Fatalf("exit %v at %#x", ex.Reason, ex.RIP)
		}
		e.segIs(segFS, seg{sel: 0x0c, base: 0x4000, limit: 0xffff, access: 0x4093})
		e.eq("LDT descriptor", e.ram.r64(0x1008), mkDesc(0x4000, 0xffff, 0x93, 0x4))
	})
	// The write is an implicit supervisor write: with CR0.WP a GDT on a
	// read-only page takes a #PF (P, W; CR2 the access byte) and the load
	// does not happen.
	t.Run("read-only GDT", func(t *testing.T) {
		e := newFarEnv(t, 64)
		const gdt = 0x200000
		copy(e.ram.b[gdt:], e.ram.b[0x5000:0x5000+slot])
		e.ram.w64(gdt+slot, mkDesc(0x4000, 0xffff, 0x92, 0x4))
		// The #PF handler's CS (8) is loaded through the same table: as
		// an OS would, the bit is set there beforehand, or the delivery
		// faults too (and the guest shuts down).
		e.ram.b[gdt+8+5] |= 1
		e.c.gdtr.base, e.c.gdtr.limit = gdt, slot+7
		e.ram.w64(0x4000+8, 1<<21|0x85) // the 2 MiB page at gdt: read-only
		e.c.cr0 |= cr0WP
		e.c.r[rAX] = slot
		copy(e.ram.b[e.at:], []byte{0x8e, 0xe0}) // mov fs, ax
		e.c.rip = e.at
		fs := e.c.seg[segFS]
		farFaultIs(e, vecPF, pfP|pfW, stackTop, 8)
		e.eq("cr2", e.c.ev.cr2, gdt+slot+5)
		if e.c.seg[segFS] != fs {
			t.Errorf("FS loaded: %+v", e.c.seg[segFS])
		}
		// With the bit already set nothing is written: the load succeeds.
		e2 := newFarEnv(t, 64)
		copy(e2.ram.b[gdt:], e2.ram.b[0x5000:0x5000+slot])
		e2.ram.w64(gdt+slot, mkDesc(0x4000, 0xffff, 0x93, 0x4))
		e2.c.gdtr.base, e2.c.gdtr.limit = gdt, slot+7
		e2.ram.w64(0x4000+8, 1<<21|0x85)
		e2.c.cr0 |= cr0WP
		e2.c.r[rAX] = slot
		copy(e2.ram.b[e2.at:], []byte{0x8e, 0xe0})
		e2.c.rip = e2.at
		if ex := e2.c.Run(1); ex.Reason != ExitBudget || e2.c.seg[segFS].sel != slot {
			t.Fatalf("exit %v, fs %#x", ex.Reason, e2.c.seg[segFS].sel)
		}
	})
}

// Compatibility mode (32-bit code under EFER.LMA) leaves and enters
// 64-bit mode by far transfers: JMP ptr16:32 (valid outside 64-bit mode)
// and RETF with the 32-bit default operand size, to a 64-bit code
// segment; and back by LJMP m16:32 (SDM Vol. 3 §9.8.5 and JMP/RET).
func TestCompatModeFarTransfers(t *testing.T) {
	compat := func(e *farEnv) {
		// Flat caches for SS and DS: newGuest's have limit 0, which
		// only 64-bit mode ignores.
		flat := seg{sel: 0x10, limit: 0xffffffff, access: 0xc093}
		e.c.seg[segCS], e.c.seg[segSS], e.c.seg[segDS] = cacheC32, flat, flat
		e.c.modeChanged()
	}
	cases := []farCase{
		{name: "ljmp ptr16:32 to 64-bit code", code: []byte{0xea, 0x00, 0x01, 0x01, 0x00, fC64, 0x00}, setup: compat,
			rip: 0x10100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("code size", uint64(e.codeSize()), 64)
			}},
		{name: "lcall ptr16:32 to 64-bit code", code: []byte{0x9a, 0x00, 0x01, 0x01, 0x00, fC64, 0x00}, setup: compat,
			rip: 0x10100, check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("esp", e.sp(), stackTop-8)
				e.eq("pushed eip", e.r(stackTop-8, 4), codeBase+7)
				e.eq("pushed cs", e.r(stackTop-4, 2), fC32)
			}},
		{name: "lret to 64-bit code", code: []byte{0xcb},
			setup: func(e *farEnv) { compat(e); e.stack(4, 0x10100, fC64) }, rip: 0x10100,
			check: func(e *farEnv) {
				e.segIs(segCS, cacheC64)
				e.eq("rsp", e.sp(), stackTop-0x100+8)
			}},
		{name: "ljmp m16:32 to 16-bit code", code: []byte{0xff, 0x2b},
			setup: func(e *farEnv) { compat(e); e.farPtr(4, 0x100, fC16B) }, rip: 0x100,
			check: func(e *farEnv) { e.segIs(segCS, cacheC16B) }},
		// A code segment with both L and D set is reserved in IA-32e
		// mode: #GP(sel) (SDM JMP, IA-32e mode).
		faultCase("ljmp ptr16:32 to L and D code", nil, []byte{0xea, 0x00, 0x01, 0x01, 0x00, fC64, 0x00},
			func(e *farEnv) { compat(e); e.ram.w64(0x5000+fC64, mkDesc(0, 0xfffff, 0x9b, 0xe)) }, vecGP, fC64),
	}
	runFarCases(t, 64, cases)
}

// Event delivery in 64-bit mode onto a non-canonical stack is #SS too
// (SDM INT n, "64-Bit Mode Exceptions"): the exception (UD2's #UD here)
// cannot be pushed, and the #SS, on IST1, reports the original RIP. EXT
// is set: the #SS arose delivering an earlier exception (SDM Vol. 3
// §6.13).
func TestDeliveryNonCanonicalStack(t *testing.T) {
	const nc = 0x8000000000000010
	for _, k := range []struct {
		name  string
		setup func(e *farEnv)
		err   uint32
		sp0   uint64
		cs0   uint16
	}{
		{"same privilege", func(e *farEnv) { e.c.r[rSP] = nc }, 1, nc, 8},
		{"from ring 3, RSP0 non-canonical", func(e *farEnv) {
			e.ring3()
			e.ram.w64(tssBase+4, nc)
		}, 1, stackTop, fC64r3 | 3},
	} {
		t.Run(k.name, func(t *testing.T) {
			e := newFarEnv(t, 64)
			k.setup(e)
			copy(e.ram.b[e.at:], []byte{0x0f, 0x0b})
			e.c.rip = e.at
			farFaultIs(e, vecSS, k.err, k.sp0, k.cs0)
		})
	}
	// INT n is a software interrupt: no EXT.
	t.Run("int n", func(t *testing.T) {
		e := newFarEnv(t, 64)
		e.c.r[rSP] = nc
		copy(e.ram.b[e.at:], []byte{0xcd, 0x40})
		e.c.rip = e.at
		farFaultIs(e, vecSS, 0, nc, 8)
	})
}

// A far CALL through a 64-bit call gate at the same privilege pushes on
// the current stack: non-canonical there, #SS(0) (SDM CALL, 64-bit mode
// exceptions; the gate's other paths are gate_test.go's).
func TestCallGate64NonCanonicalStack(t *testing.T) {
	const gateSel = fC16r3 + 8
	e := newFarEnv(t, 64)
	e.ram.w64(0x5000+gateSel, mkGate(0xc, 0, fC64, codeBase+0x100, 0, true))
	e.ram.w64(0x5000+gateSel+8, 0)
	e.c.gdtr.limit = gateSel + 15
	e.farPtr(4, 0, gateSel)
	e.c.r[rSP] = 0x8000000000000010
	copy(e.ram.b[e.at:], []byte{0xff, 0x1b})
	e.c.rip = e.at
	farFaultIs(e, vecSS, 0, 0x8000000000000010, 8)
}
