package cpu

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// State-management and CR0/CR4 gating of the x87/SSE units (SDM Vol. 3
// §2.5 table 2-2, §13.1; Vol. 1 §8.5, §11.5, §10.5.1). Expected values
// are the SDM's, written out here.

// fpGuest returns a guest with an IDT whose handler for vector v is a HLT
// at handlerVA+16*v, and OSFXSR/OSXMMEXCPT set.
func fpGuest(t *testing.T, code []byte) (*CPU, *testRAM) {
	t.Helper()
	c, ram := newGuest(t, append(append([]byte{}, code...), 0xf4))
	setIDT(t, c, ram, handlerVA)
	for v := uint64(0); v < 32; v++ {
		ram.b[handlerVA+16*v] = 0xf4
	}
	c.cr4 |= cr4OSFXSR | cr4OSXMMEXCPT
	c.r[rSI] = dataBase
	return c, ram
}

// vector runs c to its HLT and returns the exception vector taken, or -1
// if the code ran to its own HLT.
func vector(t *testing.T, c *CPU) int {
	t.Helper()
	ex := c.Run(100)
	if ex.Reason != ExitHLT {
		t.Fatalf("exit %v (err %v)", ex.Reason, ex.Err)
	}
	if c.rip > handlerVA && c.rip <= handlerVA+32*16 {
		return int(c.rip-handlerVA-1) / 16
	}
	return -1
}

func TestFPResetState(t *testing.T) {
	c := New(&testRAM{}, 0)
	if c.fpu.fcw != 0x37f || c.fpu.fsw != 0 || c.fpu.ftw != 0 || c.fpu.mxcsr != 0x1f80 {
		t.Errorf("reset: FCW %#x FSW %#x FTW %#x MXCSR %#x, want 0x37f 0 0 (all empty) 0x1f80",
			c.fpu.fcw, c.fpu.fsw, c.fpu.ftw, c.fpu.mxcsr)
	}
}

func TestFPGates(t *testing.T) {
	addps := []byte{0x0f, 0x58, 0xc1}
	fld1 := []byte{0xd9, 0xe8}
	paddb := []byte{0x0f, 0xfc, 0xc1}
	fwait := []byte{0x9b}
	fxsave := []byte{0x0f, 0xae, 0x06}
	for _, tc := range []struct {
		name     string
		code     []byte
		cr0, cr4 uint64 // set, on top of the defaults; cr4 0xffff clears OSFXSR
		want     int
	}{
		{"sse ok", addps, 0, 0, -1},
		{"sse TS", addps, cr0TS, 0, vecNM},
		{"sse EM", addps, cr0EM, 0, vecUD},
		{"sse EM+TS", addps, cr0EM | cr0TS, 0, vecUD},
		{"sse no OSFXSR", addps, 0, 0xffff, vecUD},
		{"x87 ok", fld1, 0, 0, -1},
		{"x87 TS", fld1, cr0TS, 0, vecNM},
		{"x87 EM", fld1, cr0EM, 0, vecNM},
		{"x87 without OSFXSR", fld1, 0, 0xffff, -1},
		{"mmx EM", paddb, cr0EM, 0, vecUD},
		{"mmx TS", paddb, cr0TS, 0, vecNM},
		{"wait TS", fwait, cr0TS, 0, -1},
		{"wait TS+MP", fwait, cr0TS | cr0MP, 0, vecNM},
		{"wait EM", fwait, cr0EM, 0, -1},
		{"fxsave TS", fxsave, cr0TS, 0, vecNM},
		{"fxsave EM", fxsave, cr0EM, 0, vecNM},
		{"lock addps", append([]byte{0xf0}, addps...), 0, 0, vecUD},
		{"lock fld1", append([]byte{0xf0}, fld1...), 0, 0, vecUD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fpGuest(t, tc.code)
			c.cr0 |= tc.cr0
			if tc.cr4 == 0xffff {
				c.cr4 &^= cr4OSFXSR
			}
			if got := vector(t, c); got != tc.want {
				t.Errorf("vector %d, want %d", got, tc.want)
			}
		})
	}
}

// CLTS clears TS without ending the block: the next SSE instruction in the
// same block must see it (the gates run at execute time).
func TestFPCLTS(t *testing.T) {
	c, _ := fpGuest(t, []byte{0x0f, 0x06, 0x0f, 0x58, 0xc1})
	c.cr0 |= cr0TS
	if v := vector(t, c); v != -1 {
		t.Fatalf("vector %d after CLTS", v)
	}
	if c.cr0&cr0TS != 0 {
		t.Error("TS still set")
	}
}

// An unmasked x87 exception stays pending (ES set) and is delivered as
// #MF by the next waiting x87 instruction when CR0.NE is set; with NE
// clear the CPU goes on (no FERR# pin here).
func TestFPMF(t *testing.T) {
	// fldcw [rsi]; fld1; fldz; fdivp st(1) (1/0); fld1
	code := []byte{0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xd9, 0xe8}
	for _, ne := range []bool{true, false} {
		c, ram := fpGuest(t, code)
		binary.LittleEndian.PutUint16(ram.b[dataBase:], 0x037b) // ZE unmasked
		if !ne {
			c.cr0 &^= cr0NE
		}
		v := vector(t, c)
		want := vecMF
		if !ne {
			want = -1
		}
		if v != want {
			t.Errorf("NE=%v: vector %d, want %d", ne, v, want)
		}
		if c.fpu.fsw&(fswES|fswB|4) != fswES|fswB|4 {
			t.Errorf("NE=%v: FSW %#x, want ES, B and ZE", ne, c.fpu.fsw)
		}
		// FNSTSW/FNCLEX are non-waiting: they run with the error pending.
		c2, ram2 := fpGuest(t, append(append([]byte{}, code[:8]...), 0xdf, 0xe0, 0xdb, 0xe2, 0xd9, 0xe8))
		binary.LittleEndian.PutUint16(ram2.b[dataBase:], 0x037b)
		if v := vector(t, c2); v != -1 || c2.r[rAX]&0x80 == 0 || c2.fpu.fsw&0x80ff != 0 {
			t.Errorf("fnstsw/fnclex: vector %d AX %#x FSW %#x", v, c2.r[rAX], c2.fpu.fsw)
		}
	}
}

// An unmasked SIMD exception raises #XM (#UD without CR4.OSXMMEXCPT),
// sets its MXCSR flag and leaves the destination alone.
func TestFPXM(t *testing.T) {
	// ldmxcsr [rsi]; divss xmm0, xmm1
	code := []byte{0x0f, 0xae, 0x16, 0xf3, 0x0f, 0x5e, 0xc1}
	for _, os := range []bool{true, false} {
		c, ram := fpGuest(t, code)
		binary.LittleEndian.PutUint32(ram.b[dataBase:], 0x1f80&^(1<<9)) // ZM clear
		if !os {
			c.cr4 &^= cr4OSXMMEXCPT
		}
		c.fpu.xmm[0] = x128{0x3f800000, 7}
		c.fpu.xmm[1] = x128{0, 0}
		want := vecXM
		if !os {
			want = vecUD
		}
		if v := vector(t, c); v != want {
			t.Errorf("OSXMMEXCPT=%v: vector %d, want %d", os, v, want)
		}
		if c.fpu.xmm[0] != (x128{0x3f800000, 7}) || c.fpu.mxcsr&4 == 0 {
			t.Errorf("xmm0 %x MXCSR %#x: want unchanged and ZE", c.fpu.xmm[0], c.fpu.mxcsr)
		}
	}
}

func TestFPGP(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		mem  uint32
	}{
		{"ldmxcsr reserved bit", []byte{0x0f, 0xae, 0x16}, 0x10000},
		{"fxrstor reserved mxcsr", []byte{0x0f, 0xae, 0x0e}, 0},
		{"fxsave misaligned", []byte{0x0f, 0xae, 0x46, 0x08}, 0},
		{"movaps misaligned", []byte{0x0f, 0x28, 0x46, 0x04}, 0},
		{"paddb m128 misaligned", []byte{0x66, 0x0f, 0xfc, 0x46, 0x01}, 0},
	} {
		c, ram := fpGuest(t, tc.code)
		binary.LittleEndian.PutUint32(ram.b[dataBase:], tc.mem)
		binary.LittleEndian.PutUint32(ram.b[dataBase+24:], 0x40000) // FXRSTOR's MXCSR
		if v := vector(t, c); v != vecGP {
			t.Errorf("%s: vector %d, want #GP", tc.name, v)
		}
	}
	// The unaligned forms do not fault.
	c, _ := fpGuest(t, []byte{0x0f, 0x10, 0x46, 0x04, 0xf3, 0x0f, 0x6f, 0x4e, 0x03})
	if v := vector(t, c); v != -1 {
		t.Errorf("movups/movdqu: vector %d", v)
	}
}

// FXSAVE64 stores the layout of SDM Vol. 1 table 10-2 and FXRSTOR64 reads
// it back; bytes 416-511 stay as they were.
func TestFXSAVELayout(t *testing.T) {
	c, ram := fpGuest(t, []byte{0x48, 0x0f, 0xae, 0x06, 0x48, 0x0f, 0xae, 0x8e, 0x00, 0x02, 0, 0})
	f := &c.fpu
	f.fcw, f.fsw, f.ftw, f.mxcsr = 0x027f, 0x3000|0x21, 0x81, 0x1fa0
	f.st[6].Mant, f.st[6].SE = 0x8000000000000001, 0x4001 // ST0 with TOP 6
	f.st[7].Mant, f.st[7].SE = 0xc000000000000000, 0xbfff // ST1
	for i := range f.xmm {
		f.xmm[i] = x128{uint64(i) * 0x1111, ^uint64(i)}
	}
	for i := 416; i < 512; i++ {
		ram.b[dataBase+uint64(i)] = 0xaa
	}
	// The FXRSTOR image at +0x200: everything different.
	img := ram.b[dataBase+0x200:]
	binary.LittleEndian.PutUint16(img[0:], 0x0e7f)
	binary.LittleEndian.PutUint16(img[2:], 0x0800)
	img[4] = 0x02
	binary.LittleEndian.PutUint32(img[24:], 0x9f80)
	binary.LittleEndian.PutUint64(img[32+16:], 0x9000000000000000) // ST1 = R2
	binary.LittleEndian.PutUint16(img[40+16:], 0x3ffe)
	binary.LittleEndian.PutUint64(img[160+16*15+8:], 0x1234)
	if v := vector(t, c); v != -1 {
		t.Fatalf("vector %d", v)
	}
	b := ram.b[dataBase:]
	le16 := func(o int) uint16 { return binary.LittleEndian.Uint16(b[o:]) }
	le64 := func(o int) uint64 { return binary.LittleEndian.Uint64(b[o:]) }
	if le16(0) != 0x027f || le16(2) != 0x3021 || b[4] != 0x81 || binary.LittleEndian.Uint32(b[24:]) != 0x1fa0 ||
		binary.LittleEndian.Uint32(b[28:]) != 0xffff {
		t.Errorf("header % x", b[:32])
	}
	if le64(32) != 0x8000000000000001 || le16(40) != 0x4001 || le64(48) != 0xc000000000000000 || le16(56) != 0xbfff {
		t.Errorf("ST0/ST1 % x", b[32:64])
	}
	if le64(160+16*15) != 15*0x1111 || le64(168+16*15) != ^uint64(15) {
		t.Errorf("XMM15 % x", b[400:416])
	}
	if b[416] != 0xaa || b[511] != 0xaa {
		t.Error("FXSAVE wrote the available bytes 416-511")
	}
	if f.fcw != 0x0e7f || f.fsw != 0x0800 || f.ftw != 2 || f.mxcsr != 0x9f80 || f.st[2].Mant != 0x9000000000000000 ||
		f.st[2].SE != 0x3ffe || f.xmm[15][1] != 0x1234 {
		t.Errorf("FXRSTOR: FCW %#x FSW %#x FTW %#x MXCSR %#x R2 %x XMM15 %x", f.fcw, f.fsw, f.ftw, f.mxcsr, f.st[2], f.xmm[15])
	}
}

// EMMS empties every tag and, as every MMX instruction, sets TOP to 0,
// leaving the rest of FSW alone (SDM Vol. 3 §12.2, table 12-2); an MMX
// instruction sets TOP 0 and all tags valid.
func TestEMMS(t *testing.T) {
	c, _ := fpGuest(t, []byte{0x0f, 0xfc, 0xc1, 0x0f, 0x77})
	c.fpu.fsw = 0x2821
	c.fpu.ftw = 0x0f
	if v := vector(t, c); v != -1 || c.fpu.ftw != 0 || c.fpu.fsw != 0x0021 {
		t.Errorf("vector %d FTW %#x FSW %#x, want 0 and 0x0021 (TOP 0 from PADDB)", v, c.fpu.ftw, c.fpu.fsw)
	}
	c, _ = fpGuest(t, []byte{0x0f, 0x77})
	c.fpu.fsw = 0x7f7f // TOP 7, C0-C3, SF and every (masked) flag
	c.fpu.ftw = 0x81
	if v := vector(t, c); v != -1 || c.fpu.ftw != 0 || c.fpu.fsw != 0x477f {
		t.Errorf("EMMS alone: vector %d FTW %#x FSW %#x, want 0 and 0x477f", v, c.fpu.ftw, c.fpu.fsw)
	}
}

// The real-mode environment formats (SDM Vol. 1 figures 8-10, 8-12): FIP
// and FDP are linear (segment*16 + offset), their top bits shifted above
// FOP; loading reads them back.
func TestFPEnvRealMode(t *testing.T) {
	c := New(&testRAM{}, 0)
	c.cr0 &^= cr0PE
	f := &c.fpu
	f.fcw, f.fsw, f.ftw = 0x037f, 0x3800, 0
	f.fip, f.fcs, f.fdp, f.fds, f.fop = 0x1234, 0xf000, 0x5678, 0x0040, 0x5e9
	var b [28]byte
	if n := c.envImage(b[:], false); n != 28 {
		t.Fatalf("length %d", n)
	}
	le := binary.LittleEndian
	// FIP = 0xf0000 + 0x1234 = 0xf1234, FDP = 0x400 + 0x5678 = 0x5a78.
	if le.Uint32(b[12:]) != 0xffff1234 || le.Uint32(b[16:]) != 0xf<<12|0x5e9 ||
		le.Uint32(b[20:]) != 0xffff5a78 || le.Uint32(b[24:]) != 0 || le.Uint16(b[8:]) != 0xffff {
		t.Errorf("32-bit image % x", b)
	}
	var s [14]byte
	c.envImage(s[:], true)
	if le.Uint16(s[6:]) != 0x1234 || le.Uint16(s[8:]) != 0xf000|0x5e9 || le.Uint16(s[10:]) != 0x5a78 || le.Uint16(s[12:]) != 0 {
		t.Errorf("16-bit image % x", s)
	}
	c.loadEnv(b[:], false)
	if f.fip != 0xf1234 || f.fdp != 0x5a78 || f.fop != 0x5e9 || f.fcs != 0 {
		t.Errorf("FLDENV: FIP %#x FDP %#x FOP %#x FCS %#x", f.fip, f.fdp, f.fop, f.fcs)
	}
}

// Random SSE, MMX and x87 encodings with SSE enabled must never make the
// interpreter fail internally (as TestRandomBytesNoInternalError, with
// OSFXSR/OSXMMEXCPT set and the bytes biased to 66/F2/F3 0F [38|3A] xx and
// D8-DF).
func TestRandomSIMDNoInternalError(t *testing.T) {
	n := 60000
	if testing.Short() {
		n = 8000
	}
	c, ram := withHandlers(t, nil)
	rng := rand.New(rand.NewPCG(11, seedOffset))
	reasons := map[ExitReason]int{}
	// Random stores land anywhere: restore the page tables, GDT, IDT, TSS
	// and handlers each time, or later iterations only triple-fault.
	sys := append([]byte(nil), ram.b[0x2000:0x8000]...)
	hnd := append([]byte(nil), ram.b[handlerVA:handlerVA+0x1000]...)
	// ... and the descriptor tables and segments (LIDT/LGDT/MOV Sreg).
	idtr, gdtr, tr, segs := c.idtr, c.gdtr, c.tr, c.seg
	var code [48]byte
	for i := 0; i < n; i++ {
		for j := range code {
			code[j] = byte(rng.Uint32())
		}
		k := 0
		if p := rng.IntN(4); p < 3 {
			code[k] = []byte{0x66, 0xf2, 0xf3}[p]
			k++
		}
		if rng.IntN(3) == 0 {
			code[k] = 0x40 | byte(rng.IntN(16))
			k++
		}
		switch rng.IntN(4) {
		case 0:
			code[k] = 0xd8 + byte(rng.IntN(8))
		case 1:
			code[k], code[k+1] = 0x0f, []byte{0x38, 0x3a}[rng.IntN(2)]
		default:
			code[k] = 0x0f
		}
		copy(ram.b[codeBase:], code[:])
		copy(ram.b[0x2000:], sys)
		copy(ram.b[handlerVA:], hnd)
		c.idtr, c.gdtr, c.tr, c.seg = idtr, gdtr, tr, segs
		for r := range c.r {
			c.r[r] = dataBase + uint64(rng.IntN(0x1000))
		}
		c.r[rSP] = stackTop
		c.setRflags(2)
		c.rip = codeBase
		c.cr0, c.cr3, c.cr4, c.efer = 0x80000021, 0x2000, 0x620, 0x500
		c.fpu.fsw = 0
		c.fpu.mxcsr = uint32(rng.Uint32()) & 0xffff
		c.fpu.fcw = uint16(rng.Uint32())
		c.modeChanged()
		c.tlb.flush()
		c.code.init() // the bytes were written behind the code cache's back
		ex := c.Run(20)
		reasons[ex.Reason]++
		if ex.Reason == ExitError && !errors.Is(ex.Err, ErrEventMMIO) {
			t.Fatalf("bytes % x: %v (insn % x)", code[:16], ex.Err, ex.Insn)
		}
	}
	t.Logf("exit reasons %v", reasons)
	if reasons[ExitTripleFault] > n/10 {
		t.Errorf("%d triple faults in %d runs: the harness is broken", reasons[ExitTripleFault], n)
	}
}
