package cpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
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

// Bytes of a saved area the comparison may leave out. FOP, FIP and FDP
// (FCS/FDS in the legacy layout), bytes 6-23: this project's AMD hosts
// store them only while FSW.ES is set (AMD APM Vol. 4 FXSAVE, "if no x87
// exception is pending the pointers are not saved"; the SDM too lets FOP
// be undefined without a pending unmasked exception, Vol. 1 §8.1.9.1,
// and FDP with CPUID.(EAX=07H,ECX=0):EBX[6], §8.1.8), so they are
// compared exactly only with ES set. MXCSR_MASK, bytes 28-31, is the
// processor's own (SDM Vol. 1 §11.6.6): AMD hosts report their
// misaligned-SSE bit 17 there, softvmm 0xffff.
const xsPtrLo, xsPtrHi = 6, 24
const xsMaskLo, xsMaskHi = 28, 32

// An xsForm is a state-management sequence the host runs in 64-bit mode
// (bytes from GNU as) and the interpreter in each mode its code has an
// encoding for: c64 in 64-bit mode (the host's bytes), c32 in 32-bit
// mode (nil: no legacy form, as for REX.W), c16 in 16-bit code ([SI]
// for [RSI], 66 for a 32-bit MOV). rows are the x86.csv rows it checks.
// A second area starts at RSI+0x280 (640, 64-byte aligned). x87 marks a
// sequence that runs an x87 instruction, whose FIP is its own address,
// which differs between the host and the guest.
type xsForm struct {
	text          string
	c64, c32, c16 []byte
	rows          []string
	x87           bool
}

var xsForms = []xsForm{
	{text: "xsave64 (%rsi)", c64: []byte{0x48, 0x0f, 0xae, 0x26}, rows: []string{"XSAVE64 mem"}},
	{text: "xsave (%rsi)", c64: []byte{0x0f, 0xae, 0x26}, c32: []byte{0x0f, 0xae, 0x26},
		c16: []byte{0x0f, 0xae, 0x24}, rows: []string{"XSAVE mem"}},
	{text: "xsaveopt64 (%rsi)", c64: []byte{0x48, 0x0f, 0xae, 0x36}, rows: []string{"XSAVEOPT64 mem"}},
	{text: "xsaveopt (%rsi)", c64: []byte{0x0f, 0xae, 0x36}, c32: []byte{0x0f, 0xae, 0x36},
		c16: []byte{0x0f, 0xae, 0x34}, rows: []string{"XSAVEOPT mem"}},
	// xrstor64 (%rsi); mov $3,%eax; xsave64 0x280(%rsi)
	{text: "xrstor64 (%rsi)", c64: []byte{0x48, 0x0f, 0xae, 0x2e, 0xb8, 3, 0, 0, 0, 0x48, 0x0f, 0xae, 0xa6, 0x80, 0x02, 0, 0},
		rows: []string{"XRSTOR64 mem"}},
	// xrstor (%rsi); mov $3,%eax; xsave 0x280(%rsi)
	{text: "xrstor (%rsi)", c64: []byte{0x0f, 0xae, 0x2e, 0xb8, 3, 0, 0, 0, 0x0f, 0xae, 0xa6, 0x80, 0x02, 0, 0},
		c32:  []byte{0x0f, 0xae, 0x2e, 0xb8, 3, 0, 0, 0, 0x0f, 0xae, 0xa6, 0x80, 0x02, 0, 0},
		c16:  []byte{0x0f, 0xae, 0x2c, 0x66, 0xb8, 3, 0, 0, 0, 0x0f, 0xae, 0xa4, 0x80, 0x02},
		rows: []string{"XRSTOR mem"}},
	{text: "fxrstor64 (%rsi)", c64: []byte{0x48, 0x0f, 0xae, 0x0e}, rows: []string{"FXRSTOR64 m512byte"}},
	{text: "fxrstor (%rsi)", c64: []byte{0x0f, 0xae, 0x0e}, c32: []byte{0x0f, 0xae, 0x0e},
		c16: []byte{0x0f, 0xae, 0x0c}, rows: []string{"FXRSTOR m512byte"}},
	{text: "fxsave64 (%rsi)", c64: []byte{0x48, 0x0f, 0xae, 0x06}, rows: []string{"FXSAVE64 m512byte"}},
	{text: "fxsave (%rsi)", c64: []byte{0x0f, 0xae, 0x06}, c32: []byte{0x0f, 0xae, 0x06},
		c16: []byte{0x0f, 0xae, 0x04}, rows: []string{"FXSAVE m512byte"}},
	// xsave64 (%rsi); addps %xmm1,%xmm0; fld1; xsaveopt64 (%rsi)
	{text: "xsave64; addps; fld1; xsaveopt64", c64: []byte{0x48, 0x0f, 0xae, 0x26, 0x0f, 0x58, 0xc1, 0xd9, 0xe8, 0x48, 0x0f, 0xae, 0x36},
		x87: true},
	// xsave (%rsi); addps %xmm1,%xmm0; fld1; xsaveopt (%rsi)
	{text: "xsave; addps; fld1; xsaveopt", c64: []byte{0x0f, 0xae, 0x26, 0x0f, 0x58, 0xc1, 0xd9, 0xe8, 0x0f, 0xae, 0x36},
		c32: []byte{0x0f, 0xae, 0x26, 0x0f, 0x58, 0xc1, 0xd9, 0xe8, 0x0f, 0xae, 0x36},
		c16: []byte{0x0f, 0xae, 0x24, 0x0f, 0x58, 0xc1, 0xd9, 0xe8, 0x0f, 0xae, 0x34}, x87: true},
}

func (f *xsForm) code(mode int) []byte {
	switch mode {
	case 32:
		return f.c32
	case 16:
		return f.c16
	}
	return f.c64
}

// randXS fills xs with random x87/SSE state and memory whose first area
// (at RSI) is a valid standard-format XSAVE area for XRSTOR: a legacy
// region with an allowed MXCSR, XSTATE_BV within x87|SSE, XCOMP_BV and
// header bytes 16-23 zero, the rest of the header random (XRSTOR's
// standard form ignores it). The x87 pointers are random too, in the
// state and the area; with pending the state may have an unmasked x87
// exception pending (FSW.ES set), which only code without a waiting x87
// instruction can take.
func randXS(rng *rand.Rand, xs *hostexec.XS, pending bool) {
	var fx, area hostexec.FX
	randFX(rng, &fx)
	randFX(rng, &area)
	le := binary.LittleEndian
	if pending && rng.IntN(2) == 0 {
		fx.SetSW(fx.SW() | uint16(rng.IntN(64)))
	}
	randPtrs(rng, fx.Image[:])
	randPtrs(rng, area.Image[:])
	if rng.IntN(6) == 0 {
		// x87 in its initial configuration (SDM Vol. 1 §13.6): FNINIT's
		// control, status and tags, no pointers, zero registers.
		clear(fx.Image[:24])
		fx.SetCW(0x37f)
		clear(fx.Image[32:160])
	}
	if rng.IntN(6) == 0 {
		clear(fx.Image[160:416]) // SSE in its initial configuration
	}
	xs.Image = fx.Image
	for i := 0; i < len(xs.Mem); i += 8 {
		le.PutUint64(xs.Mem[i:], randQ(rng))
	}
	copy(xs.Mem[:416], area.Image[:416])
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

// randPtrs fills FOP, FIP and FDP of a legacy region (bytes 6-23). The
// 64-bit FIP and FDP are canonical addresses (sign-extended from bit 47),
// all an instruction can leave there: a non-canonical one loaded by
// FXRSTOR64 comes back from this host with bits 63-57 copied from bit 56
// (its linear addresses have 57 bits), which softvmm, whose have 48 and
// which keeps all 64, does not model. Read in the legacy layout the same
// bytes are an offset, a selector and a reserved word each.
func randPtrs(rng *rand.Rand, b []byte) {
	if rng.IntN(4) == 0 {
		return
	}
	le := binary.LittleEndian
	le.PutUint16(b[6:], uint16(rng.IntN(0x800)))
	le.PutUint64(b[8:], uint64(int64(rng.Uint64()<<16)>>16))
	le.PutUint64(b[16:], uint64(int64(rng.Uint64()<<16)>>16))
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

// xsMaskLegacy removes from a pair of legacy regions (host h, guest g)
// what xsPtrLo and xsMaskLo describe: the pointers unless both say
// FSW.ES (or, with ip, FIP and FCS always: the code ran at different
// addresses), MXCSR_MASK when softvmm stored its own.
func xsMaskLegacy(h, g []byte, ip bool) {
	if h[2]&g[2]&0x80 == 0 {
		clear(h[xsPtrLo:xsPtrHi])
		clear(g[xsPtrLo:xsPtrHi])
	} else if ip {
		clear(h[8:16])
		clear(g[8:16])
	}
	if binary.LittleEndian.Uint32(g[xsMaskLo:]) == mxcsrMask {
		copy(h[xsMaskLo:xsMaskHi], g[xsMaskLo:xsMaskHi])
	}
}

// TestXSaveDiff runs each xsForm natively and in the interpreter in every
// mode it has an encoding for, from the same registers, x87/SSE state
// (pointers included) and memory: the areas stored, the state loaded and
// the registers must be the host's. In 32- and 16-bit mode the host's
// run is the legacy-layout (non-REX.W) form in 64-bit mode, where FIP,
// FCS, FDP and FDS mean the same; XMM8-15 do not exist there, so the
// guest must leave bytes 288-415 of an area alone (SDM Vol. 1 §10.5.1,
// §13.5.2) and its XMM8-15 are not compared.
func TestXSaveDiff(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	n := 300
	if testing.Short() {
		n = 60
	}
	rng := rand.New(rand.NewPCG(0xd, 0x576))
	for _, mode := range isaModes {
		for _, f := range xsForms {
			code := f.code(mode)
			if code == nil {
				continue
			}
			if !t.Run(fmt.Sprintf("%d/%s", mode, f.text), func(t *testing.T) { xsDiff(t, rng, mode, &f, n) }) {
				continue
			}
			for _, r := range f.rows {
				markVerified(mode, r) // the ISA coverage report
			}
		}
	}
}

func xsDiff(t *testing.T, rng *rand.Rand, mode int, f *xsForm, n int) {
	c, ram, at := branchGuest(t, mode)
	c.cr4 |= cr4OSFXSR | cr4OSXMMEXCPT | cr4OSXSAVE
	c.fpu.xcr0 = 3
	regMask := ^uint64(0)
	if mode != 64 {
		regMask = 0xffffffff
	}
	if mode == 16 {
		c.seg[segDS].base = dataBase // [SI] with SI = dataBase&0xffff = 0
	}
	code := f.code(mode)
	for i := 0; i < n; i++ {
		var xs hostexec.XS
		randXS(rng, &xs, !f.x87)
		var st hostexec.State
		for _, r := range testRegs {
			st.Regs[r] = randQ(rng)
		}
		// RFBM within x87|SSE: the host's XCR0 has more.
		st.Regs[rAX] = st.Regs[rAX]&^0xffffffff | uint64(rng.IntN(4))
		st.Regs[rDX] &^= 0xffffffff
		in := xs
		st0 := st
		if err := hostexec.ExecXS(f.c64, &st, &xs); err != nil {
			t.Skip(err)
		}
		interpLoad(c, ram, at, code, &st0, in.Image, in.Mem[:]) // the interpreter, from the same state
		if ex := c.Run(10); ex.Reason != ExitHLT || c.rip != at+uint64(len(code))+1 {
			t.Fatalf("case %d: exit %v at %#x (err %v)", i, ex.Reason, c.rip, ex.Err)
		}
		var out [512]byte
		c.fxsaveImage(&out, true)
		host := xs.Image
		if mode != 64 {
			copy(out[288:416], host[288:416])
		}
		if d := fxDiff(&host, &out, false); d != "" {
			t.Fatalf("case %d rfbm %d: state differs:%s", i, st0.Regs[rAX]&3, d)
		}
		xsMaskLegacy(host[:], out[:], f.x87)
		if !bytes.Equal(host[xsPtrLo:xsPtrHi], out[xsPtrLo:xsPtrHi]) {
			t.Fatalf("case %d: FOP/FIP/FDP host % x got % x", i, host[xsPtrLo:xsPtrHi], out[xsPtrLo:xsPtrHi])
		}
		for _, r := range testRegs {
			if r != rSI && (c.r[r]^st.Regs[r])&regMask != 0 {
				t.Fatalf("case %d: reg %d host %#x got %#x", i, r, st.Regs[r], c.r[r])
			}
		}
		mem := ram.b[dataBase : dataBase+uint64(len(xs.Mem))]
		compare := func(xs *hostexec.XS) (hm, gm []byte) {
			hm = append([]byte{}, xs.Mem[:]...)
			gm = append([]byte{}, mem...)
			for _, a := range []int{0, 0x280} {
				if mode != 64 {
					if !bytes.Equal(gm[a+288:a+416], in.Mem[a+288:a+416]) {
						t.Fatalf("case %d: area +%#x: XMM8-15 bytes written outside 64-bit mode", i, a)
					}
					copy(gm[a+288:a+416], hm[a+288:a+416])
				}
				xsMaskLegacy(hm[a:], gm[a:], f.x87)
				h, g := xsBV(hm[a:], gm[a:], c.xinuse())
				binary.LittleEndian.PutUint64(hm[a+512:], h)
				binary.LittleEndian.PutUint64(gm[a+512:], g)
			}
			return hm, gm
		}
		hm, gm := compare(&xs)
		// XSAVEOPT may also skip a component the host's own tracking
		// calls unmodified since the last XRSTOR from that address (SDM
		// Vol. 1 13.6 "modified optimization"), which an OS context
		// switch between the host's load and save can make happen now
		// and then; softvmm tracks none and writes it. So a host answer
		// that differs is asked for again, twice.
		for retry := 0; retry < 2 && !bytes.Equal(hm, gm) && strings.Contains(f.text, "xsaveopt"); retry++ {
			again, st1 := in, st0
			if err := hostexec.ExecXS(f.c64, &st1, &again); err != nil {
				t.Skip(err)
			}
			hm, gm = compare(&again)
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
}

// xsModeGuest is xsGuest in mode (64, 32 or 16; branchGuest's 16-bit
// code segment with DS based at dataBase, so [SI] with SI = 0 is the
// area), with the code at the returned address.
func xsModeGuest(t *testing.T, mode int, code []byte) (*CPU, *testRAM, uint64) {
	t.Helper()
	if mode == 64 {
		c, ram := xsGuest(t, code)
		return c, ram, codeBase
	}
	c, ram, at := branchGuest(t, mode)
	copy(ram.b[at:], append(append([]byte{}, code...), 0xf4))
	c.cr4 |= cr4OSFXSR | cr4OSXMMEXCPT | cr4OSXSAVE
	c.fpu.xcr0 = 3
	c.r[rSI] = dataBase
	if mode == 16 {
		c.seg[segDS].base = dataBase
	}
	c.rip = at
	return c, ram, at
}

// xsOp encodes 0F AE /reg with the area at [RSI] (REX.W with w in
// 64-bit mode), [ESI] or [SI].
func xsOp(mode int, reg byte, w bool) []byte {
	switch {
	case mode == 16:
		return []byte{0x0f, 0xae, reg<<3 | 4}
	case mode == 64 && w:
		return []byte{0x48, 0x0f, 0xae, reg<<3 | 6}
	}
	return []byte{0x0f, 0xae, reg<<3 | 6}
}

// toCPL3 moves a guest of xsModeGuest to ring 3 (its cached CS and SS
// with DPL and RPL 3; a fault returns to ring 0 through the TSS).
func toCPL3(c *CPU, ram *testRAM) {
	if c.mode64 {
		ram.w64(tssBase+4, stackTop) // RSP0; newProt's TSS has SS0:ESP0
	}
	for _, s := range []int{segCS, segSS} {
		c.seg[s].access |= 3 << 5
		c.seg[s].sel |= 3
	}
	c.modeChanged()
}

// Faults (SDM Vol. 2 XSAVE, XRSTOR, XSAVEOPT, XGETBV, XSETBV "Protected
// Mode Exceptions"/"64-Bit Mode Exceptions"), in each mode. XSETBV's
// rules are checked here by hand, as the host cannot run it (ring 0):
// #GP(0) at CPL > 0, for ECX other than 0, for XCR0 without x87 (bit 0;
// so SSE without x87), with a bit CPUID.(EAX=0DH,ECX=0):EDX:EAX does not
// report (AVX, bit 9, EDX bits); a valid value is written to XCR0.
func TestXSaveFaults(t *testing.T) {
	for _, mode := range isaModes {
		if t.Run(fmt.Sprint(mode), func(t *testing.T) { xsFaults(t, mode) }) {
			markVerified(mode, "XSETBV") // the ISA coverage report
		}
	}
}

func xsFaults(t *testing.T, mode int) {
	xsave := xsOp(mode, 4, true)    // xsave64 (%rsi)
	xsaveopt := xsOp(mode, 6, true) // xsaveopt64 (%rsi)
	xrstor := xsOp(mode, 5, true)   // xrstor64 (%rsi)
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
		{"xsetbv 1 at CPL 3", xsetbv, func(c *CPU, r *testRAM) { regs(1, 0, 0)(c, r); toCPL3(c, r) }, vecGP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram, _ := xsModeGuest(t, mode, tc.code)
			c.fpu.xcr0 = 3
			if tc.set != nil {
				tc.set(c, ram)
			}
			if strings.HasSuffix(tc.name, "CPL 3") && c.cpl != 3 {
				t.Fatalf("CPL %d", c.cpl)
			}
			xcr0 := c.fpu.xcr0
			if tc.want == -1 && bytes.Equal(tc.code, xsetbv) {
				xcr0 = uint64(uint32(c.r[rDX]))<<32 | uint64(uint32(c.r[rAX]))
			}
			if got := vector(t, c); got != tc.want {
				t.Fatalf("vector %d, want %d", got, tc.want)
			}
			if c.fpu.xcr0 != xcr0 {
				t.Errorf("XCR0 %#x, want %#x", c.fpu.xcr0, xcr0)
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
// XRSTOR asked for both leaves XMM and MXCSR alone; in each mode. (The
// host cannot show this: its XCR0 has components beyond the test's area.)
func TestXSaveRFBMIsXCR0AndMask(t *testing.T) {
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) { xsRFBM(t, mode) })
	}
}

func xsRFBM(t *testing.T, mode int) {
	// xsave64 (%rsi); xrstor64 0x400(%rsi)
	code := []byte{0x48, 0x0f, 0xae, 0x26, 0x48, 0x0f, 0xae, 0xae, 0x00, 0x04, 0, 0}
	switch mode {
	case 32:
		code = []byte{0x0f, 0xae, 0x26, 0x0f, 0xae, 0xae, 0x00, 0x04, 0, 0}
	case 16:
		code = []byte{0x0f, 0xae, 0x24, 0x0f, 0xae, 0xac, 0x00, 0x04}
	}
	c, ram, _ := xsModeGuest(t, mode, code)
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
