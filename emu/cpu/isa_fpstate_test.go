package cpu

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// The x87/SSE state rows of the ISA coverage report (issue 4) that the
// form lists of fpdiff_test.go cannot carry, in 64-, 32- and 16-bit mode:
// LDMXCSR (a random MXCSR image would #GP on the host), XGETBV (the
// host's XCR0 is not softvmm's) and the x87 instruction and data
// pointers FXSAVE stores (the host stores them only with an exception
// pending, and its code runs at other addresses). FXSAVE, FXRSTOR and
// the XSAVE family are TestXSaveDiff's (xsave_test.go), XSETBV is
// TestXSaveFaults', EMMS is fpdiff's.

// TestISALDMXCSR loads random valid MXCSR values (the 16 bits of
// MXCSR_MASK softvmm reports: every flag, mask, RC, DAZ and FTZ) with
// LDMXCSR on the host and in the interpreter from the same state, and
// compares the whole state after; then every reserved bit (16-31) must
// #GP(0) and leave MXCSR as it was (SDM Vol. 2 LDMXCSR, "#GP For an
// attempt to set reserved bits in MXCSR"; Vol. 1 §11.6.6: the reserved
// bits are those MXCSR_MASK clears, so bit 17, which this AMD host's
// MXCSR_MASK sets, is reserved for softvmm).
func TestISALDMXCSR(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	rng := rand.New(rand.NewPCG(0xae, 2))
	host := []byte{0x0f, 0xae, 0x56, 0x04} // ldmxcsr 0x4(%rsi)
	for _, mode := range isaModes {
		code := host
		if mode == 16 {
			code = []byte{0x0f, 0xae, 0x54, 0x04} // ldmxcsr 0x4(%si)
		}
		ok := t.Run(fmt.Sprint(mode), func(t *testing.T) {
			c, ram, at := xsModeGuest(t, mode, nil)
			for i := 0; i < 200; i++ {
				var fx hostexec.FX
				randFX(rng, &fx)
				v := rng.Uint32() & mxcsrMask
				if rng.IntN(2) == 0 {
					v |= 0x1f80 // masks set, some flags and modes
				}
				binary.LittleEndian.PutUint32(fx.Mem[4:], v)
				var st hostexec.State
				for _, r := range testRegs {
					st.Regs[r] = randQ(rng)
				}
				in, nat := fx, st
				if err := hostexec.ExecFX(host, &nat, &fx); err != nil {
					t.Skip(err)
				}
				ex, got := interpFX(t, c, ram, at, code, &st, &in)
				if ex.Reason != ExitHLT || c.rip != at+uint64(len(code))+1 {
					t.Fatalf("value %#x: exit %v at %#x", v, ex.Reason, c.rip)
				}
				if mode != 64 {
					copy(got[288:416], fx.Image[288:416]) // no XMM8-15 there
				}
				if d := fxDiff(&fx.Image, &got, false); d != "" {
					t.Fatalf("value %#x: state differs:%s", v, d)
				}
			}
			for bit := 16; bit < 32; bit++ {
				c, ram, _ := xsModeGuest(t, mode, code)
				binary.LittleEndian.PutUint32(ram.b[dataBase+4:], 0x1f80|1<<bit)
				c.fpu.mxcsr = 0x9fc0
				if v := vector(t, c); v != vecGP || c.fpu.mxcsr != 0x9fc0 {
					t.Errorf("bit %d: vector %d MXCSR %#x, want #GP and 0x9fc0", bit, v, c.fpu.mxcsr)
				}
			}
		})
		if ok {
			markVerified(mode, "LDMXCSR m32") // the ISA coverage report
		}
	}
}

// TestISAXGETBV compares XGETBV (ECX = 0, with random upper halves of
// ECX, which the instruction ignores) with the host's, the interpreter's
// XCR0 set to the host's for the comparison: EDX:EAX gets XCR0 (upper
// halves of RAX and RDX zeroed in 64-bit mode), nothing else changes.
// Then by hand (SDM Vol. 2 XGETBV): #GP(0) for ECX = 1 (valid only with
// CPUID.(EAX=0DH,ECX=1):EAX[2], which softvmm clears) and for any other
// XCR, #UD without CR4.OSXSAVE, no #NM with CR0.TS, and it runs at CPL 3
// (the HLT after it is what faults there).
func TestISAXGETBV(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	xgetbv := []byte{0x0f, 0x01, 0xd0}
	var st hostexec.State
	if err := hostexec.Exec(xgetbv, &st); err != nil {
		t.Skip(err)
	}
	hostXCR0 := st.Regs[rDX]<<32 | st.Regs[rAX]&0xffffffff
	rng := rand.New(rand.NewPCG(0xd0, 1))
	for _, mode := range isaModes {
		regMask := ^uint64(0)
		if mode != 64 {
			regMask = 0xffffffff
		}
		ok := t.Run(fmt.Sprint(mode), func(t *testing.T) {
			for i := 0; i < 50; i++ {
				var st hostexec.State
				for _, r := range testRegs {
					st.Regs[r] = randQ(rng)
				}
				st.Regs[rCX] &^= 0xffffffff
				st.Flags = rng.Uint64() & arithFlags
				nat := st
				if err := hostexec.Exec(xgetbv, &nat); err != nil {
					t.Skip(err)
				}
				c, _, at := xsModeGuest(t, mode, xgetbv)
				c.fpu.xcr0 = hostXCR0
				for _, r := range testRegs {
					c.r[r] = st.Regs[r]
				}
				c.setRflags(st.Flags | 2)
				if v := vector(t, c); v != -1 || c.rip != at+4 {
					t.Fatalf("vector %d at %#x", v, c.rip)
				}
				for _, r := range testRegs {
					if (c.r[r]^nat.Regs[r])&regMask != 0 {
						t.Fatalf("ECX %#x: reg %d host %#x got %#x", st.Regs[rCX], r, nat.Regs[r], c.r[r])
					}
				}
				if (c.rflags()^nat.Flags)&arithFlags != 0 {
					t.Fatalf("flags host %#x got %#x", nat.Flags&arithFlags, c.rflags()&arithFlags)
				}
			}
			for _, tc := range []struct {
				name string
				set  func(c *CPU, ram *testRAM)
				want int
				eax  uint64
			}{
				{"ecx 1", func(c *CPU, _ *testRAM) { c.r[rCX] = 1 }, vecGP, 0x5a},
				{"ecx 2", func(c *CPU, _ *testRAM) { c.r[rCX] = 2 }, vecGP, 0x5a},
				{"ecx 0x80000000", func(c *CPU, _ *testRAM) { c.r[rCX] = 0x80000000 }, vecGP, 0x5a},
				{"no OSXSAVE", func(c *CPU, _ *testRAM) { c.cr4 &^= cr4OSXSAVE }, vecUD, 0x5a},
				{"TS", func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS }, -1, 3},
				{"CPL 3", toCPL3, vecGP, 3},
			} {
				c, ram, _ := xsModeGuest(t, mode, xgetbv)
				c.r[rAX], c.r[rCX], c.r[rDX] = 0x5a, 0, 0
				tc.set(c, ram)
				if v := vector(t, c); v != tc.want || c.r[rAX] != tc.eax {
					t.Errorf("%s: vector %d EAX %#x, want %d and %#x", tc.name, v, c.r[rAX], tc.want, tc.eax)
				}
			}
		})
		if ok {
			markVerified(mode, "XGETBV") // the ISA coverage report
		}
	}
}

// TestISAX87Pointers checks by hand what FXSAVE stores as the last x87
// instruction's pointers after an FLD m64 (SDM Vol. 1 §8.1.8, §8.1.9,
// table 10-2 and 10-3): FOP (the low 3 bits of the first opcode byte and
// the ModRM byte, prefixes left out), FIP the instruction's offset (its
// first prefix) and FCS its CS, FDP the operand's offset in its segment
// and FDS that segment's selector: DS, the override's, SS for a BP base.
// DS has a base (and a selector unlike SS's) outside 64-bit mode, so
// the offset and the linear address differ. The legacy FXSAVE image
// has the 32-bit offsets with the selectors, FXSAVE64's the 64-bit
// offsets. In 64-bit mode with FS the offset is what FDP holds, as the
// host shows (its FS is the Go runtime's, so FS:-8 is its g pointer,
// read as a denormal double: DE, unmasked here, leaves the exception
// pending, which this host needs to store pointers at all).
func TestISAX87Pointers(t *testing.T) {
	type ptrCase struct {
		name      string
		fld       []byte
		set       func(c *CPU)
		fop       uint16
		fdp       uint64
		fds       uint16
		hostCheck bool
	}
	const dsBase = 0x10000
	cases := map[int][]ptrCase{
		64: {
			{"fldl 8(%rsi)", []byte{0xdd, 0x46, 0x08}, nil, 0x546, dataBase + 8, 0x10, false}, // newGuest's DS
			{"fldl %fs:-8", []byte{0x64, 0xdd, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff},
				func(c *CPU) { c.seg[segFS].base, c.seg[segFS].sel = dataBase+0x100, 0x18 },
				0x504, 0xfffffffffffffff8, 0x18, true},
		},
		32: {
			{"fldl 8(%esi)", []byte{0xdd, 0x46, 0x08}, nil, 0x546, dataBase - dsBase + 8, selData3, false},
			{"fldl %es:8(%esi)", []byte{0x26, 0xdd, 0x46, 0x08}, nil, 0x546, dataBase - dsBase + 8, selRO, false},
			{"fldl 8(%ebp)", []byte{0xdd, 0x45, 0x08}, func(c *CPU) { c.r[rBP] = dataBase + 0x40 }, 0x545, dataBase + 0x48, selData32, false},
		},
		16: {
			{"fldl 8(%si)", []byte{0xdd, 0x44, 0x08}, nil, 0x544, 8, selData3, false},
			{"fldl %es:8(%si)", []byte{0x26, 0xdd, 0x44, 0x08}, nil, 0x544, 8, selRO, false},
			{"fldl 8(%bp)", []byte{0xdd, 0x46, 0x08}, func(c *CPU) { c.r[rBP] = 0x1230 }, 0x546, 0x1238, selData32, false},
		},
	}
	for _, mode := range isaModes {
		for _, tc := range cases[mode] {
			t.Run(fmt.Sprintf("%d/%s", mode, tc.name), func(t *testing.T) {
				// fld...; fxsave 0x200(%rsi) and, in 64-bit mode,
				// fxsave64 0x400(%rsi).
				code := append([]byte{}, tc.fld...)
				switch mode {
				case 64:
					code = append(code, 0x0f, 0xae, 0x86, 0, 2, 0, 0, 0x48, 0x0f, 0xae, 0x86, 0, 4, 0, 0)
				case 32:
					code = append(code, 0x0f, 0xae, 0x86, 0, 2, 0, 0)
				case 16:
					code = append(code, 0x0f, 0xae, 0x84, 0, 2)
				}
				c, ram, at := xsModeGuest(t, mode, code)
				if mode != 64 {
					c.seg[segDS].sel, c.seg[segDS].access = selData3, c.seg[segDS].access|3<<5
					c.seg[segDS].base = dsBase
					c.r[rSI] = dataBase - dsBase
					c.seg[segES].sel, c.seg[segES].access = selRO, c.seg[segES].access&^2 // read-only data
					c.seg[segES].base = 0
					if mode == 16 {
						c.seg[segDS].base = dataBase
						c.r[rSI] = 0
					}
				}
				if tc.set != nil {
					tc.set(c)
				}
				c.fpu.fcw = 0x37d          // DE unmasked, as for the host
				wantCS := c.seg[segCS].sel // the x87 instruction's CS, set up before it ran
				if v := vector(t, c); v != -1 {
					t.Fatalf("vector %d", v)
				}
				le := binary.LittleEndian
				img := ram.b[dataBase+0x200:]
				if got := [5]uint64{uint64(le.Uint16(img[6:])), uint64(le.Uint32(img[8:])), uint64(le.Uint32(img[12:])),
					uint64(le.Uint32(img[16:])), uint64(le.Uint32(img[20:]))}; got != [5]uint64{uint64(tc.fop), at & 0xffffffff,
					uint64(wantCS), tc.fdp & 0xffffffff, uint64(tc.fds)} {
					t.Errorf("FXSAVE FOP, FIP, FCS, FDP, FDS (with reserved words) %#x, want %#x %#x %#x %#x %#x",
						got, tc.fop, at&0xffffffff, wantCS, tc.fdp&0xffffffff, tc.fds)
				}
				if mode != 64 {
					return
				}
				img = ram.b[dataBase+0x400:]
				if fop, fip, fdp := le.Uint16(img[6:]), le.Uint64(img[8:]), le.Uint64(img[16:]); fop != tc.fop || fip != at || fdp != tc.fdp {
					t.Errorf("FXSAVE64 FOP %#x FIP %#x FDP %#x, want %#x %#x %#x", fop, fip, fdp, tc.fop, at, tc.fdp)
				}
				if !tc.hostCheck {
					return
				}
				if !hostexec.Available {
					t.Skip("no native execution on this host")
				}
				var fx hostexec.FX
				fx.SetCW(0x37d)
				fx.SetMXCSR(0x1f80)
				var st hostexec.State
				if err := hostexec.ExecFX(tc.fld, &st, &fx); err != nil {
					t.Skip(err)
				}
				if fx.SW()&fswES == 0 {
					t.Skipf("the host's FS:-8 is not a denormal (FSW %#x)", fx.SW())
				}
				if fop, fdp := le.Uint16(fx.Image[6:]), le.Uint64(fx.Image[16:]); fop != tc.fop || fdp != tc.fdp {
					t.Errorf("host FOP %#x FDP %#x, want (as softvmm) %#x %#x", fop, fdp, tc.fop, tc.fdp)
				}
			})
		}
	}
}

// TestFPReadOnlySegment: x87, SSE and state instructions that only read
// their memory operand run with it in a read-only data segment; those
// that store to it #GP(0) (SDM Vol. 3 §5.4; each instruction's "#GP(0)
// If the destination is located in a non-writable segment").
func TestFPReadOnlySegment(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		want int
	}{
		{"flds", []byte{0xd9, 0x06}, -1},
		{"fildl", []byte{0xdb, 0x06}, -1},
		{"fadds", []byte{0xd8, 0x06}, -1},
		{"ficoml", []byte{0xda, 0x16}, -1},
		{"fldcw", []byte{0xd9, 0x2e}, -1},
		{"fldenv", []byte{0xd9, 0x26}, -1},
		{"frstor", []byte{0xdd, 0x26}, -1},
		{"ldmxcsr", []byte{0x0f, 0xae, 0x16}, -1},
		{"fxrstor", []byte{0x0f, 0xae, 0x0e}, -1},
		{"xrstor", []byte{0x0f, 0xae, 0x2e}, -1},
		{"fstps", []byte{0xd9, 0x1e}, vecGP},
		{"fnstcw", []byte{0xd9, 0x3e}, vecGP},
		{"stmxcsr", []byte{0x0f, 0xae, 0x1e}, vecGP},
		{"fxsave", []byte{0x0f, 0xae, 0x06}, vecGP},
		{"xsave", []byte{0x0f, 0xae, 0x26}, vecGP},
	} {
		c, _, _ := xsModeGuest(t, 32, tc.code)
		c.seg[segDS].sel, c.seg[segDS].access = selRO, c.seg[segDS].access&^2
		c.r[rAX], c.r[rDX] = 3, 0
		if v := vector(t, c); v != tc.want {
			t.Errorf("%s (% x): vector %d, want %d", tc.name, tc.code, v, tc.want)
		}
	}
}

// TestMOVNTIPrefixUD: MOVNTI is NP 0F C3 (SDM Vol. 2 MOVNTI): a 66, F2
// or F3 prefix makes it #UD in every mode (the host raises SIGILL for
// each in 64-bit mode), and memory stays as it was; without one it
// stores.
func TestMOVNTIPrefixUD(t *testing.T) {
	for _, mode := range isaModes {
		rm := byte(0x06) // movnti %eax,(%rsi)
		if mode == 16 {
			rm = 0x04 // (%si)
		}
		for _, p := range []byte{0x66, 0xf2, 0xf3, 0} {
			code := []byte{p, 0x0f, 0xc3, rm}
			want := vecUD
			if p == 0 {
				code, want = code[1:], -1
			}
			c, ram, _ := xsModeGuest(t, mode, code)
			c.r[rAX] = 0x89abcdef
			if v := vector(t, c); v != want {
				t.Errorf("%d-bit % x: vector %d, want %d", mode, code, v, want)
			}
			if got, stored := ram.r32(dataBase), want == -1; (got == 0x89abcdef) != stored {
				t.Errorf("%d-bit % x: memory %#x", mode, code, got)
			}
		}
	}
}

// TestISAFXFaults: FXSAVE and FXRSTOR faults in each mode (SDM Vol. 2
// FXSAVE, FXRSTOR "Protected Mode Exceptions"): #GP(0) for an area not
// 16-byte aligned and for an FXRSTOR image whose MXCSR sets a bit
// MXCSR_MASK clears (bit 17 too, which this AMD host would take: Vol. 1
// §11.6.6), #NM with CR0.TS or CR0.EM; a fault leaves the state alone.
func TestISAFXFaults(t *testing.T) {
	for _, mode := range isaModes {
		fxsave, fxrstor := xsOp(mode, 0, false), xsOp(mode, 1, false)
		for _, tc := range []struct {
			name string
			code []byte
			set  func(c *CPU, ram *testRAM)
			want int
		}{
			{"fxsave", fxsave, nil, -1},
			{"fxrstor", fxrstor, nil, -1},
			{"fxsave misaligned 8", fxsave, func(c *CPU, _ *testRAM) { c.r[rSI] += 8 }, vecGP},
			{"fxrstor misaligned 4", fxrstor, func(c *CPU, _ *testRAM) { c.r[rSI] += 4 }, vecGP},
			{"fxrstor MXCSR bit 16", fxrstor, func(_ *CPU, r *testRAM) { r.w32(dataBase+24, 0x11f80) }, vecGP},
			{"fxrstor MXCSR bit 17", fxrstor, func(_ *CPU, r *testRAM) { r.w32(dataBase+24, 0x21f80) }, vecGP},
			{"fxrstor MXCSR bit 31", fxrstor, func(_ *CPU, r *testRAM) { r.w32(dataBase+24, 0x80001f80) }, vecGP},
			{"fxrstor MXCSR DAZ", fxrstor, func(_ *CPU, r *testRAM) { r.w32(dataBase+24, 0x1fc0) }, -1},
			{"fxsave TS", fxsave, func(c *CPU, _ *testRAM) { c.cr0 |= cr0TS }, vecNM},
			{"fxrstor EM", fxrstor, func(c *CPU, _ *testRAM) { c.cr0 |= cr0EM }, vecNM},
		} {
			c, ram, _ := xsModeGuest(t, mode, tc.code)
			ram.w32(dataBase+24, 0x1f80)
			if tc.set != nil {
				tc.set(c, ram)
			}
			c.fpu.mxcsr, c.fpu.fcw = 0x9fa0, 0x27f
			if v := vector(t, c); v != tc.want {
				t.Errorf("%d-bit %s: vector %d, want %d", mode, tc.name, v, tc.want)
			}
			if tc.want != -1 && (c.fpu.mxcsr != 0x9fa0 || c.fpu.fcw != 0x27f) {
				t.Errorf("%d-bit %s: MXCSR %#x FCW %#x after the fault", mode, tc.name, c.fpu.mxcsr, c.fpu.fcw)
			}
		}
	}
}
