package cpu

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// XSAVE, XSAVEOPT, XRSTOR, XGETBV and XSETBV (SDM Vol. 1 ch. 13, Vol. 2
// each instruction's page). The host CPU is the oracle for the save and
// restore images; the fault rules and the CPUID leaf are the SDM's,
// written out here.

// xsGuest is fpGuest with CR4.OSXSAVE set and XCR0 = x87|SSE, what a
// kernel leaves after enabling XSAVE.
func xsGuest(t *testing.T, code []byte) (*CPU, *testRAM) {
	t.Helper()
	c, ram := fpGuest(t, code)
	c.cr4 |= cr4OSXSAVE
	c.fpu.xcr0 = 3
	return c, ram
}

// Bytes of a saved area the comparison leaves out: FOP, FIP, FDP (and
// FCS/FDS), which AMD hosts store only with an x87 exception pending, and
// MXCSR_MASK, where AMD hosts also report their misaligned-SSE bit 17.
const xsPtrLo, xsPtrHi = 6, 24
const xsMaskLo, xsMaskHi = 28, 32

// The differential forms, bytes from GNU as. The second area starts at
// RSI+0x280 (640, 64-byte aligned).
var xsForms = []struct {
	text string
	code []byte
}{
	{"xsave64 (%rsi)", []byte{0x48, 0x0f, 0xae, 0x26}},
	{"xsave (%rsi)", []byte{0x0f, 0xae, 0x26}},
	{"xsaveopt64 (%rsi)", []byte{0x48, 0x0f, 0xae, 0x36}},
	{"xsaveopt (%rsi)", []byte{0x0f, 0xae, 0x36}},
	// xrstor64 (%rsi); mov $3,%eax; xsave64 0x280(%rsi)
	{"xrstor64 (%rsi)", []byte{0x48, 0x0f, 0xae, 0x2e, 0xb8, 3, 0, 0, 0, 0x48, 0x0f, 0xae, 0xa6, 0x80, 0x02, 0, 0}},
	// xrstor (%rsi); mov $3,%eax; xsave 0x280(%rsi)
	{"xrstor (%rsi)", []byte{0x0f, 0xae, 0x2e, 0xb8, 3, 0, 0, 0, 0x0f, 0xae, 0xa6, 0x80, 0x02, 0, 0}},
	// FXRSTOR shares XRSTOR's legacy-region loader (FCW's reserved bits).
	{"fxrstor64 (%rsi)", []byte{0x48, 0x0f, 0xae, 0x0e}},
	// xsave64 (%rsi); addps %xmm1,%xmm0; fld1; xsaveopt64 (%rsi)
	{"xsave64; addps; fld1; xsaveopt64", []byte{0x48, 0x0f, 0xae, 0x26, 0x0f, 0x58, 0xc1, 0xd9, 0xe8, 0x48, 0x0f, 0xae, 0x36}},
}

// randXS fills xs with random x87/SSE state and memory whose first area
// (at RSI) is a valid standard-format XSAVE area for XRSTOR: a legacy
// region with an allowed MXCSR, XSTATE_BV within x87|SSE, XCOMP_BV and
// header bytes 16-23 zero, the rest of the header random (XRSTOR's
// standard form ignores it).
func randXS(rng *rand.Rand, xs *hostexec.XS) {
	var fx, area hostexec.FX
	randFX(rng, &fx)
	randFX(rng, &area)
	xs.Image = fx.Image
	for i := 0; i < len(xs.Mem); i += 8 {
		binary.LittleEndian.PutUint64(xs.Mem[i:], randQ(rng))
	}
	copy(xs.Mem[:416], area.Image[:416])
	le := binary.LittleEndian
	if rng.IntN(2) == 0 {
		// Any control and status word: FCW's reserved bits, pending
		// unmasked x87 exceptions (they stay pending), any TOP.
		le.PutUint16(xs.Mem[0:], uint16(rng.Uint32()))
		le.PutUint16(xs.Mem[2:], uint16(rng.Uint32()))
	}
	le.PutUint64(xs.Mem[512:], uint64(rng.IntN(4)))
	le.PutUint64(xs.Mem[520:], 0)
	le.PutUint64(xs.Mem[528:], 0)
}

// xsBV reports how got's XSTATE_BV may differ from the host's: the
// host may report a component in use that is in its initial
// configuration (SDM Vol. 1 §13.6), which this CPU reports as 0. It
// returns the two headers with the permitted difference removed.
func xsBV(host, got []byte, state uint64) (uint64, uint64) {
	h, g := binary.LittleEndian.Uint64(host[512:]), binary.LittleEndian.Uint64(got[512:])
	extra := h &^ g & 3 &^ state
	return h &^ extra, g
}

func TestXSaveDiff(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	rng := rand.New(rand.NewPCG(0xd, 0x576))
	for _, f := range xsForms {
		t.Run(f.text, func(t *testing.T) {
			c, ram := xsGuest(t, nil)
			for i := 0; i < 300; i++ {
				var xs hostexec.XS
				randXS(rng, &xs)
				var st hostexec.State
				for _, r := range testRegs {
					st.Regs[r] = randQ(rng)
				}
				// RFBM within x87|SSE: the host's XCR0 has more.
				st.Regs[rAX] = st.Regs[rAX]&^0xffffffff | uint64(rng.IntN(4))
				st.Regs[rDX] &^= 0xffffffff
				in := xs
				st0 := st
				if err := hostexec.ExecXS(f.code, &st, &xs); err != nil {
					t.Skip(err)
				}
				// The interpreter, from the same state.
				copy(ram.b[codeBase:], append(append([]byte{}, f.code...), 0xf4))
				c.code.init()
				for _, r := range testRegs {
					c.r[r] = st0.Regs[r]
				}
				c.r[rSI] = dataBase
				copy(ram.b[dataBase:], in.Mem[:])
				c.setRflags(2)
				img := in.Image
				c.fxrstorImage(&img, true)
				c.rip = codeBase
				if v := vector(t, c); v != -1 {
					t.Fatalf("case %d: vector %d", i, v)
				}
				var out [512]byte
				c.fxsaveImage(&out, true)
				host := xs.Image
				if d := fxDiff(&host, &out, false); d != "" {
					t.Fatalf("case %d rfbm %d: state differs:%s", i, st0.Regs[rAX]&3, d)
				}
				for _, r := range testRegs {
					if r != rSI && c.r[r] != st.Regs[r] {
						t.Fatalf("case %d: reg %d host %#x got %#x", i, r, st.Regs[r], c.r[r])
					}
				}
				mem := ram.b[dataBase : dataBase+uint64(len(xs.Mem))]
				hm := append([]byte{}, xs.Mem[:]...)
				gm := append([]byte{}, mem...)
				for _, a := range []int{0, 0x280} {
					copy(hm[a+xsPtrLo:a+xsPtrHi], make([]byte, xsPtrHi-xsPtrLo))
					copy(gm[a+xsPtrLo:a+xsPtrHi], make([]byte, xsPtrHi-xsPtrLo))
					if binary.LittleEndian.Uint32(gm[a+xsMaskLo:]) == mxcsrMask {
						copy(hm[a+xsMaskLo:a+xsMaskHi], gm[a+xsMaskLo:a+xsMaskHi])
					}
					h, g := xsBV(hm[a:], gm[a:], c.xinuse())
					binary.LittleEndian.PutUint64(hm[a+512:], h)
					binary.LittleEndian.PutUint64(gm[a+512:], g)
				}
				if !bytes.Equal(hm, gm) {
					for j := range hm {
						if hm[j] != gm[j] {
							t.Fatalf("case %d rfbm %d: memory differs from byte %d: host % x got % x",
								i, st0.Regs[rAX]&3, j, hm[j:min(j+16, len(hm))], gm[j:min(j+16, len(gm))])
						}
					}
				}
			}
		})
	}
}

// Faults (SDM Vol. 2 XSAVE, XRSTOR, XSAVEOPT, XGETBV, XSETBV "Protected
// Mode Exceptions"/"64-Bit Mode Exceptions").
func TestXSaveFaults(t *testing.T) {
	xsave := []byte{0x48, 0x0f, 0xae, 0x26}    // xsave64 (%rsi)
	xsaveopt := []byte{0x48, 0x0f, 0xae, 0x36} // xsaveopt64 (%rsi)
	xrstor := []byte{0x48, 0x0f, 0xae, 0x2e}   // xrstor64 (%rsi)
	xgetbv := []byte{0x0f, 0x01, 0xd0}
	xsetbv := []byte{0x0f, 0x01, 0xd1}
	type setup func(c *CPU, ram *testRAM)
	noOSX := func(c *CPU, _ *testRAM) { c.cr4 &^= cr4OSXSAVE }
	regs := func(a, cx, d uint64) setup {
		return func(c *CPU, _ *testRAM) { c.r[rAX], c.r[rCX], c.r[rDX] = a, cx, d }
	}
	hdr := func(off int, v uint64) setup {
		return func(c *CPU, ram *testRAM) {
			c.r[rAX] = 3
			binary.LittleEndian.PutUint64(ram.b[dataBase+uint64(off):], v)
		}
	}
	for _, tc := range []struct {
		name string
		code []byte
		set  setup
		want int
	}{
		{"xsave ok", xsave, regs(3, 0, 0), -1},
		{"xsave no OSXSAVE", xsave, noOSX, vecUD},
		{"xsaveopt no OSXSAVE", xsaveopt, noOSX, vecUD},
		{"xrstor no OSXSAVE", xrstor, noOSX, vecUD},
		{"xgetbv no OSXSAVE", xgetbv, noOSX, vecUD},
		{"xsetbv no OSXSAVE", xsetbv, func(c *CPU, r *testRAM) { noOSX(c, r); regs(3, 0, 0)(c, r) }, vecUD},
		{"xsave TS", xsave, func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS }, vecNM},
		{"xrstor TS", xrstor, func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS }, vecNM},
		{"xsave TS no OSXSAVE", xsave, func(c *CPU, r *testRAM) { c.cr0 |= cr0TS; noOSX(c, r) }, vecUD},
		{"xsave EM", xsave, func(c *CPU, _ *testRAM) { c.cr0 |= cr0EM }, -1},
		{"xgetbv TS", xgetbv, func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS }, -1},
		{"lock xsave", append([]byte{0xf0}, xsave...), nil, vecUD},
		{"xsave misaligned 16", xsave, func(c *CPU, _ *testRAM) { c.r[rSI] += 16 }, vecGP},
		{"xsave misaligned 32", xsave, func(c *CPU, _ *testRAM) { c.r[rSI] += 32 }, vecGP},
		{"xsaveopt misaligned", xsaveopt, func(c *CPU, _ *testRAM) { c.r[rSI] += 8 }, vecGP},
		{"xrstor misaligned", xrstor, func(c *CPU, _ *testRAM) { c.r[rSI] += 48 }, vecGP},
		{"xsave rfbm 0 misaligned", xsave, func(c *CPU, _ *testRAM) { c.r[rSI] += 8; c.r[rAX] = 0 }, vecGP},
		{"xrstor zero area", xrstor, regs(3, 0, 0), -1},
		{"xrstor XSTATE_BV 3", xrstor, hdr(512, 3), -1},
		{"xrstor XSTATE_BV bit 2", xrstor, hdr(512, 4), vecGP},
		{"xrstor XSTATE_BV bit 63", xrstor, hdr(512, 1<<63), vecGP},
		{"xrstor XSTATE_BV SSE, XCR0 x87 only", xrstor, func(c *CPU, r *testRAM) { hdr(512, 2)(c, r); c.fpu.xcr0 = 1 }, vecGP},
		{"xrstor XSTATE_BV bit 2 not requested", xrstor, func(c *CPU, r *testRAM) { hdr(512, 4)(c, r); c.r[rAX] = 1 }, vecGP},
		{"xrstor XCOMP_BV bit 63", xrstor, hdr(520, 1<<63), vecGP},
		{"xrstor XCOMP_BV bit 0", xrstor, hdr(520, 1), vecGP},
		{"xrstor header bytes 16-23", xrstor, hdr(528, 1<<40), vecGP},
		{"xrstor header bytes 24-31 ignored", xrstor, hdr(536, ^uint64(0)), -1},
		{"xrstor header bytes 56-63 ignored", xrstor, hdr(568, ^uint64(0)), -1},
		{"xrstor MXCSR reserved", xrstor, hdr(24, 1<<16), vecGP},
		{"xrstor MXCSR reserved, SSE not requested", xrstor, func(c *CPU, r *testRAM) { hdr(24, 1<<16)(c, r); c.r[rAX] = 1 }, -1},
		{"xrstor MXCSR reserved, SSE init", xrstor, func(c *CPU, r *testRAM) { hdr(24, 1<<16)(c, r); hdr(512, 1)(c, r) }, vecGP},
		{"xgetbv ecx 1", xgetbv, regs(0, 1, 0), vecGP},
		{"xgetbv ecx 0 high bits ignored", xgetbv, regs(0, 1<<32, 0), -1},
		{"xsetbv 1", xsetbv, regs(1, 0, 0), -1},
		{"xsetbv 3", xsetbv, regs(3, 0, 0), -1},
		{"xsetbv 0", xsetbv, regs(0, 0, 0), vecGP},
		{"xsetbv SSE without x87", xsetbv, regs(2, 0, 0), vecGP},
		{"xsetbv AVX", xsetbv, regs(7, 0, 0), vecGP},
		{"xsetbv bit 9", xsetbv, regs(1|1<<9, 0, 0), vecGP},
		{"xsetbv EDX bit 0", xsetbv, regs(3, 0, 1), vecGP},
		{"xsetbv high halves ignored", xsetbv, regs(3|0xffff<<32, 0xffff<<32, 0xffff<<32), -1},
		{"xsetbv ecx 1", xsetbv, regs(3, 1, 0), vecGP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := xsGuest(t, tc.code)
			c.fpu.xcr0 = 3
			if tc.set != nil {
				tc.set(c, ram)
			}
			xcr0 := c.fpu.xcr0
			if got := vector(t, c); got != tc.want {
				t.Fatalf("vector %d, want %d", got, tc.want)
			}
			if tc.want != -1 && c.fpu.xcr0 != xcr0 {
				t.Errorf("XCR0 %#x after a fault, want %#x", c.fpu.xcr0, xcr0)
			}
		})
	}
}

// XSETBV is #GP(0) outside ring 0 (SDM XSETBV: "If the current privilege
// level is not 0"); XGETBV is not privileged. Both run to the test's
// HLT, which at CPL 3 is #GP too: XGETBV shows it ran by its EAX.
func TestXSETBVCPL3(t *testing.T) {
	for _, tc := range []struct {
		code []byte
		eax  uint64
	}{{[]byte{0x0f, 0x01, 0xd1}, 1}, {[]byte{0x0f, 0x01, 0xd0}, 3}} {
		c, ram := xsGuest(t, tc.code)
		ram.w64(tssBase+4, stackTop)
		c.seg[segCS].access |= 3 << 5
		c.seg[segCS].sel |= 3
		c.seg[segSS].access |= 3 << 5
		c.seg[segSS].sel |= 3
		c.modeChanged()
		c.r[rAX], c.r[rCX], c.r[rDX] = 1, 0, 0
		if c.cpl != 3 {
			t.Fatalf("CPL %d", c.cpl)
		}
		if got := vector(t, c); got != vecGP {
			t.Errorf("% x at CPL 3: vector %d, want #GP", tc.code, got)
		}
		if c.r[rAX] != tc.eax {
			t.Errorf("% x at CPL 3: EAX %#x, want %#x", tc.code, c.r[rAX], tc.eax)
		}
		if c.fpu.xcr0 != 3 {
			t.Errorf("XCR0 %#x, want 3", c.fpu.xcr0)
		}
	}
}

// XGETBV reads back what XSETBV wrote; XCR0 is 1 at reset (SDM Vol. 3
// table 10-1).
func TestXCR0RoundTrip(t *testing.T) {
	if c := New(&testRAM{}, 0); c.fpu.xcr0 != 1 {
		t.Errorf("XCR0 at reset %#x, want 1", c.fpu.xcr0)
	}
	// xsetbv; xor %eax,%eax; xor %edx,%edx; xgetbv
	c, _ := xsGuest(t, []byte{0x0f, 0x01, 0xd1, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x01, 0xd0})
	c.fpu.xcr0 = 1
	c.r[rAX], c.r[rCX], c.r[rDX] = 3, 0, 0
	if v := vector(t, c); v != -1 {
		t.Fatalf("vector %d", v)
	}
	if c.r[rAX] != 3 || c.r[rDX] != 0 {
		t.Errorf("XGETBV EDX:EAX %#x:%#x, want 0:3", c.r[rDX], c.r[rAX])
	}
}

// CPUID describes exactly x87+SSE XSAVE (SDM Vol. 2 CPUID, leaf 0DH):
// sub-leaf 0 EDX:EAX the XCR0 bits that may be set, EBX the size for
// XCR0's components and ECX for all of them, both 512+64; sub-leaf 1 only
// XSAVEOPT; no other sub-leaf. Leaf 1 ECX has XSAVE, and OSXSAVE exactly
// while CR4.OSXSAVE is set; the leaves between 1 and 0xD are zeros.
func TestCPUIDXSave(t *testing.T) {
	c, _ := xsGuest(t, nil)
	want := map[[2]uint32][4]uint32{
		{0xd, 0}: {3, 576, 576, 0}, {0xd, 1}: {1, 0, 0, 0}, {0xd, 2}: {}, {0xd, 63}: {},
	}
	for k, w := range want {
		a, b, cx, d := c.cpuid(k[0], k[1])
		if [4]uint32{a, b, cx, d} != w {
			t.Errorf("CPUID %#x.%d = %#x, want %#x", k[0], k[1], [4]uint32{a, b, cx, d}, w)
		}
	}
	for leaf := uint32(2); leaf <= 0xc; leaf++ {
		if a, b, cx, d := c.cpuid(leaf, 0); a|b|cx|d != 0 {
			t.Errorf("CPUID %#x = %#x %#x %#x %#x, want zeros", leaf, a, b, cx, d)
		}
	}
	if a, _, _, _ := c.cpuid(0, 0); a != 0xd {
		t.Errorf("max basic leaf %#x, want 0xd", a)
	}
	// mov %cr4,%rax; and $~(1<<18),%eax... done by the guest: read CPUID
	// with OSXSAVE set, clear it with MOV CR4, read again.
	code := []byte{
		0x31, 0xc9, 0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x41, 0x89, 0xc8, // xor ecx,ecx; mov eax,1; cpuid; mov r8d,ecx
		0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xf0, 18, 0x0f, 0x22, 0xe0, // mov rax,cr4; btr rax,18; mov cr4,rax
		0x31, 0xc9, 0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x41, 0x89, 0xc9, // xor ecx,ecx; mov eax,1; cpuid; mov r9d,ecx
	}
	c, _ = xsGuest(t, code)
	if v := vector(t, c); v != -1 {
		t.Fatalf("vector %d", v)
	}
	if c.r[r8]>>26&3 != 3 || c.r[r9]>>26&3 != 1 {
		t.Errorf("CPUID.1:ECX[27:26] %b with OSXSAVE, %b without; want 11, 01", c.r[r8]>>26&3, c.r[r9]>>26&3)
	}
}

// Outside 64-bit mode XSAVE stores XMM0-7 only and XRSTOR loads only
// them (SDM Vol. 1 §13.5.2); bytes 288-511 are left alone.
func TestXSave32(t *testing.T) {
	// xsave (%esi); xrstor (%edi)
	c, ram := newProt(t, []byte{0x0f, 0xae, 0x26, 0x0f, 0xae, 0x2f, 0xf4})
	c.cr4 |= cr4OSFXSR | cr4OSXSAVE
	c.fpu.xcr0 = 3
	for i := range c.fpu.xmm {
		c.fpu.xmm[i] = [2]uint64{uint64(i) + 1, ^uint64(i)}
	}
	for i := 0; i < 576; i++ {
		ram.b[dataBase+uint64(i)] = 0xaa
	}
	src := uint64(dataBase + 0x400)
	for i := 0; i < 512; i++ {
		ram.b[src+uint64(i)] = 0x11
	}
	binary.LittleEndian.PutUint32(ram.b[src+24:], 0x1f80)
	binary.LittleEndian.PutUint64(ram.b[src+512:], 2) // SSE only from memory
	c.r[rAX], c.r[rDX], c.r[rSI], c.r[rDI] = 3, 0, dataBase, src
	if ex := c.Run(10); ex.Reason != ExitHLT || c.rip != codeBase+7 {
		t.Fatalf("exit %v at %#x", ex.Reason, c.rip)
	}
	m := ram.b[dataBase:]
	for i := 0; i < 8; i++ {
		if lo := binary.LittleEndian.Uint64(m[160+16*i:]); lo != uint64(i)+1 {
			t.Errorf("XMM%d stored as %#x", i, lo)
		}
	}
	for i := 288; i < 512; i++ {
		if m[i] != 0xaa {
			t.Fatalf("byte %d written (%#x)", i, m[i])
		}
	}
	// x87 is in its initial configuration (XINUSE[0] = 0), SSE is not.
	if bv := binary.LittleEndian.Uint64(m[512:]); bv != 0xaaaaaaaaaaaaaaa8|2 {
		t.Errorf("XSTATE_BV %#x, want the old upper bits with 2", bv)
	}
	for i := 0; i < 16; i++ {
		want := [2]uint64{0x1111111111111111, 0x1111111111111111}
		if i >= 8 {
			want = [2]uint64{uint64(i) + 1, ^uint64(i)}
		}
		if c.fpu.xmm[i] != want {
			t.Errorf("XMM%d after XRSTOR %#x, want %#x", i, c.fpu.xmm[i], want)
		}
	}
	// The x87 component was initialised (XSTATE_BV[0] = 0).
	if c.fpu.fcw != 0x37f || c.fpu.fsw != 0 || c.fpu.ftw != 0 {
		t.Errorf("x87 not initialised: FCW %#x FSW %#x FTW %#x", c.fpu.fcw, c.fpu.fsw, c.fpu.ftw)
	}
}

// XSAVE with RFBM = x87 stores bytes 0-23 and 32-159 and no MXCSR; RFBM =
// SSE stores MXCSR, MXCSR_MASK and XMM and no x87 byte; neither touches
// XCOMP_BV or the rest of the header (SDM Vol. 1 §13.7).
func TestXSaveComponents(t *testing.T) {
	for _, rfbm := range []uint64{0, 1, 2, 3} {
		c, ram := xsGuest(t, []byte{0x48, 0x0f, 0xae, 0x26})
		c.fpu.st[0].Mant = 1 // x87 in use
		c.fpu.xmm[3][1] = 7  // SSE in use
		for i := 0; i < 576; i++ {
			ram.b[dataBase+uint64(i)] = 0xcc
		}
		c.r[rAX] = rfbm
		if v := vector(t, c); v != -1 {
			t.Fatalf("vector %d", v)
		}
		m := ram.b[dataBase : dataBase+576]
		touched := func(lo, hi int) bool { return !bytes.Equal(m[lo:hi], bytes.Repeat([]byte{0xcc}, hi-lo)) }
		for _, r := range []struct {
			lo, hi int
			comp   uint64
		}{{0, 4, 1}, {24, 32, 2}, {32, 42, 1}, {160, 416, 2}, {416, 512, 8}, {520, 576, 8}} {
			if got, want := touched(r.lo, r.hi), rfbm&r.comp != 0; got != want {
				t.Errorf("rfbm %d: bytes %d-%d written %v, want %v", rfbm, r.lo, r.hi-1, got, want)
			}
		}
		wantBV := uint64(0xcccccccccccccccc)&^3 | rfbm
		if bv := binary.LittleEndian.Uint64(m[512:]); bv != wantBV {
			t.Errorf("rfbm %d: XSTATE_BV %#x, want %#x", rfbm, bv, wantBV)
		}
	}
}

// The kernel sequence Linux's fpu__init_cpu_xstate and its context switch
// use (CR4.OSXSAVE, XSETBV XCR0=3, XSAVE, FNINIT and zeroed registers,
// XRSTOR): after the round trip the x87/SSE state is what it was, as
// FXSAVE (an independent path) shows, and XSTATE_BV says both components
// were saved in use.
func TestXSaveLinuxLike(t *testing.T) {
	code := []byte{
		0x0f, 0x20, 0xe0, // mov %cr4,%rax
		0x48, 0x0d, 0, 0, 4, 0, // or $0x40000,%rax
		0x0f, 0x22, 0xe0, // mov %rax,%cr4
		0x31, 0xc9, // xor %ecx,%ecx
		0xb8, 3, 0, 0, 0, // mov $3,%eax
		0x31, 0xd2, // xor %edx,%edx
		0x0f, 0x01, 0xd1, // xsetbv
		0xd9, 0xe8, // fld1
		0xd9, 0xeb, // fldpi
		0xde, 0xc1, // faddp
		0x0f, 0x28, 0x86, 0x00, 0x08, 0, 0, // movaps 0x800(%rsi),%xmm0
		0x44, 0x0f, 0x28, 0xbe, 0x10, 0x08, 0, 0, // movaps 0x810(%rsi),%xmm15
		0x48, 0x0f, 0xae, 0x86, 0x00, 0x06, 0, 0, // fxsave64 0x600(%rsi)
		0x48, 0x0f, 0xae, 0x26, // xsave64 (%rsi)
		0xdb, 0xe3, // fninit
		0x66, 0x0f, 0xef, 0xc0, // pxor %xmm0,%xmm0
		0x66, 0x45, 0x0f, 0xef, 0xff, // pxor %xmm15,%xmm15
		0x48, 0x0f, 0xae, 0x2e, // xrstor64 (%rsi)
		0x48, 0x0f, 0xae, 0x86, 0x00, 0x04, 0, 0, // fxsave64 0x400(%rsi)
	}
	c, ram := fpGuest(t, code)
	for i := 0; i < 32; i++ {
		ram.b[dataBase+0x800+uint64(i)] = byte(i*37 + 1)
	}
	if v := vector(t, c); v != -1 {
		t.Fatalf("vector %d", v)
	}
	m := ram.b[dataBase:]
	if !bytes.Equal(m[0x400:0x400+416], m[0x600:0x600+416]) {
		t.Errorf("state after XSAVE/XRSTOR differs from before:\n% x\n% x", m[0x400:0x400+32], m[0x600:0x600+32])
	}
	if bv := binary.LittleEndian.Uint64(m[512:]); bv != 3 {
		t.Errorf("XSTATE_BV %#x, want 3", bv)
	}
	if c.fpu.xmm[15] == [2]uint64{} || c.fpu.xcr0 != 3 {
		t.Errorf("XMM15 %#x XCR0 %#x", c.fpu.xmm[15], c.fpu.xcr0)
	}
}

// XSAVEC, XSAVES and XRSTORS are not advertised (CPUID.(EAX=0DH,ECX=1):EAX
// bits 1 and 3 clear), so they are #UD even with CR4.OSXSAVE set (SDM
// Vol. 2 XSAVEC/XSAVES/XRSTORS: "#UD If CPUID.(EAX=0DH,ECX=1):EAX.XSAVEC
// [bit 1] = 0", "... XSS[bit 3] = 0"), and the area stays untouched.
func TestXSaveUnadvertisedForms(t *testing.T) {
	c, _ := xsGuest(t, nil)
	if a, _, _, _ := c.cpuid(0xd, 1); a&(1<<1|1<<3) != 0 {
		t.Fatalf("CPUID.(0DH,1):EAX %#x advertises XSAVEC/XSAVES: the test's premise is gone", a)
	}
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"xsavec64", []byte{0x48, 0x0f, 0xc7, 0x26}}, {"xsavec", []byte{0x0f, 0xc7, 0x26}},
		{"xsaves64", []byte{0x48, 0x0f, 0xc7, 0x2e}}, {"xsaves", []byte{0x0f, 0xc7, 0x2e}},
		{"xrstors64", []byte{0x48, 0x0f, 0xc7, 0x1e}}, {"xrstors", []byte{0x0f, 0xc7, 0x1e}},
	} {
		c, ram := xsGuest(t, tc.code)
		c.r[rAX] = 3
		c.fpu.xmm[0][0] = 5
		if v := vector(t, c); v != vecUD {
			t.Errorf("%s: vector %d, want #UD", tc.name, v)
		}
		if !bytes.Equal(ram.b[dataBase:dataBase+576], make([]byte, 576)) || c.fpu.xmm[0][0] != 5 {
			t.Errorf("%s: memory or state changed", tc.name)
		}
	}
}

// RFBM is XCR0 ∧ EDX:EAX (SDM Vol. 1 §13.7, §13.8): with XCR0 = x87 only,
// XSAVE asked for both stores only x87 and leaves XSTATE_BV[1] alone, and
// XRSTOR asked for both leaves XMM and MXCSR alone.
func TestXSaveRFBMIsXCR0AndMask(t *testing.T) {
	// xsave64 (%rsi); xrstor64 0x400(%rsi)
	c, ram := xsGuest(t, []byte{0x48, 0x0f, 0xae, 0x26, 0x48, 0x0f, 0xae, 0xae, 0x00, 0x04, 0, 0})
	c.fpu.xcr0 = 1
	c.fpu.xmm[2] = [2]uint64{9, 9}
	c.fpu.st[0].Mant = 1
	for i := 0; i < 576; i++ {
		ram.b[dataBase+uint64(i)] = 0xee
	}
	src := ram.b[dataBase+0x400:]
	for i := 0; i < 512; i++ {
		src[i] = 0x22
	}
	binary.LittleEndian.PutUint32(src[24:], 0x1f81)
	binary.LittleEndian.PutUint64(src[512:], 1)
	c.r[rAX], c.r[rDX] = 3, 0
	if v := vector(t, c); v != -1 {
		t.Fatalf("vector %d", v)
	}
	m := ram.b[dataBase:]
	if m[24] != 0xee || m[160] != 0xee || m[0] == 0xee {
		t.Errorf("XSAVE with XCR0=1: MXCSR byte %#x XMM0 byte %#x FCW byte %#x", m[24], m[160], m[0])
	}
	if bv := binary.LittleEndian.Uint64(m[512:]); bv != 0xeeeeeeeeeeeeeeee&^1|1 {
		t.Errorf("XSTATE_BV %#x", bv)
	}
	if c.fpu.xmm[2] != [2]uint64{9, 9} || c.fpu.mxcsr != 0x1f80 {
		t.Errorf("XRSTOR with XCR0=1 loaded SSE: XMM2 %#x MXCSR %#x", c.fpu.xmm[2], c.fpu.mxcsr)
	}
	if c.fpu.fcw != fcwLoad(0x2222) {
		t.Errorf("XRSTOR x87: FCW %#x, want %#x", c.fpu.fcw, fcwLoad(0x2222))
	}
}

// In a 16-bit code segment XSAVE/XRSTOR take the 16-bit operand-size
// rows of x86.csv with 16-bit addressing: the alignment rule and the
// XMM0-7 layout are the same.
func TestXSave16(t *testing.T) {
	for _, tc := range []struct {
		si   uint64
		want uint64 // RIP where it stopped
	}{{dataBase & 0xffff, 0x8000 + 4}, {dataBase&0xffff + 8, handlerVA + vecGP*16 + 1}} {
		c, ram := newProt(t, nil)
		copy(ram.b[0x8000:], []byte{0x0f, 0xae, 0x24, 0xf4}) // xsave (%si); hlt
		c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
		c.seg[segDS].base = dataBase &^ 0xffff
		c.rip = 0x8000
		c.modeChanged()
		c.cr4 |= cr4OSFXSR | cr4OSXSAVE
		c.fpu.xcr0 = 3
		c.fpu.xmm[7] = [2]uint64{0x77, 0x78}
		c.r[rAX], c.r[rDX], c.r[rSI] = 2, 0, tc.si
		if ex := c.Run(10); ex.Reason != ExitHLT || c.rip != tc.want {
			t.Fatalf("SI %#x: exit %v at %#x, want HLT at %#x", tc.si, ex.Reason, c.rip, tc.want)
		}
		if tc.want == 0x8004 {
			if lo := binary.LittleEndian.Uint64(ram.b[dataBase+160+16*7:]); lo != 0x77 {
				t.Errorf("XMM7 stored as %#x", lo)
			}
			if bv := binary.LittleEndian.Uint64(ram.b[dataBase+512:]); bv != 2 {
				t.Errorf("XSTATE_BV %#x, want 2", bv)
			}
		}
	}
}

// A kernel context switch (XSAVEOPT out, XRSTOR in, XGETBV) allocates
// nothing.
func TestXSaveNoAlloc(t *testing.T) {
	// xsaveopt64 (%rsi); xrstor64 (%rsi); xor %ecx,%ecx; xgetbv
	c, _ := xsGuest(t, []byte{0x48, 0x0f, 0xae, 0x36, 0x48, 0x0f, 0xae, 0x2e, 0x31, 0xc9, 0x0f, 0x01, 0xd0})
	run := func() {
		c.rip = codeBase
		c.r[rAX], c.r[rDX] = 3, 0
		if ex := c.Run(100); ex.Reason != ExitHLT || c.rip != codeBase+14 {
			t.Fatalf("exit %v at %#x", ex.Reason, c.rip)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
