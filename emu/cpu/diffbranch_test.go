package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// branchGuest returns a vCPU in 64-, 32- or 16-bit mode and the address
// its code runs at.
func branchGuest(t *testing.T, mode int) (*CPU, *testRAM, uint64) {
	switch mode {
	case 64:
		c, ram := newGuest(t, nil)
		return c, ram, codeBase
	case 32:
		c, ram := newProt(t, nil)
		return c, ram, codeBase
	}
	c, ram := newProt(t, nil)
	c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
	c.modeChanged()
	return c, ram, 0x8000
}

// Jcc in its short and near forms, in every mode, against the host's
// SETcc for the same flags: the branch must be taken exactly when the
// host's condition is true.
func TestDiffBranches(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	verifyDecoded(t) // every run is checked: the ISA coverage report counts what ran
	rng := rand.New(rand.NewPCG(5, 6))
	for _, mode := range []int{64, 32, 16} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			c, ram, at := branchGuest(t, mode)
			for cc := byte(0); cc < 16; cc++ {
				short := []byte{0x70 + cc, 0x03, 0xb0, 0x00, 0xf4, 0xb0, 0x01, 0xf4}
				near := []byte{0x0f, 0x80 + cc, 0x03, 0, 0, 0, 0xb0, 0x00, 0xf4, 0xb0, 0x01, 0xf4}
				// The other near form, with 66: rel16 in 32-bit code
				// (EIP truncated to 16 bits, so it runs below 64 KiB),
				// rel32 in 16-bit code; 64-bit mode has only rel32.
				var other []byte
				switch mode {
				case 16:
					near = []byte{0x0f, 0x80 + cc, 0x03, 0, 0xb0, 0x00, 0xf4, 0xb0, 0x01, 0xf4}
					other = []byte{0x66, 0x0f, 0x80 + cc, 0x03, 0, 0, 0, 0xb0, 0x00, 0xf4, 0xb0, 0x01, 0xf4}
				case 32:
					other = []byte{0x66, 0x0f, 0x80 + cc, 0x03, 0, 0xb0, 0x00, 0xf4, 0xb0, 0x01, 0xf4}
				}
				for i := 0; i < 64; i++ {
					st := hostexec.State{Flags: rng.Uint64() & arithFlags}
					if err := hostexec.Exec([]byte{0x0f, 0x90 + cc, 0xc0}, &st); err != nil {
						t.Skip(err)
					}
					for _, code := range [][]byte{short, near, other} {
						if code == nil {
							continue
						}
						pc := at
						if code[0] == 0x66 {
							pc = 0x8000
						}
						copy(ram.b[pc:], code)
						c.FlushCaches()
						c.r[rAX] = 0xff
						c.setRflags(st.Flags&arithFlags | 2)
						c.rip = pc
						run(t, c, 10, ExitHLT)
						if c.r[rAX]&0xff != st.Regs[rAX]&0xff {
							t.Fatalf("% x with flags %#x: taken=%d, host setcc %d", code[:2], st.Flags&arithFlags, c.r[rAX]&0xff, st.Regs[rAX]&0xff)
						}
					}
				}
			}
		})
	}
}

// LOOP, LOOPE, LOOPNE and JCXZ/JECXZ/JRCXZ count with the address size
// (CX, ECX or RCX; 67 toggles), per the SDM's LOOPcc and Jcc pseudocode
// written out here independently of the interpreter.
func TestLoopJcxzSizes(t *testing.T) {
	verifyDecoded(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, mode := range []int{64, 32, 16} {
		c, ram, at := branchGuest(t, mode)
		for _, a67 := range []bool{false, true} {
			asz := map[int]int{64: 8, 32: 4, 16: 2}[mode]
			if a67 {
				asz = map[int]int{64: 4, 32: 2, 16: 4}[mode]
			}
			mask := sizeMask[asz]
			for op := byte(0xe0); op <= 0xe3; op++ {
				for i := 0; i < 40; i++ {
					cx := []uint64{0, 1, 2, 0x10000, 0x10001, 0x100000000, 0x100000001, rng.Uint64()}[i%8]
					zf := uint64(rng.IntN(2)) * flagZF
					code := []byte{op, 0x03, 0xb0, 0x00, 0xf4, 0xb0, 0x01, 0xf4}
					if a67 {
						code = append([]byte{0x67}, code...)
						code[2] = 0x03
					}
					copy(ram.b[at:], code)
					c.r[rCX], c.r[rAX] = cx, 0xff
					c.setRflags(zf | 2)
					c.rip = at
					run(t, c, 10, ExitHLT)
					n := (cx - 1) & mask
					var taken bool
					wantCX := cx&^mask | n // a 16-bit count merges into RCX
					if asz == 4 {
						wantCX = n // a 32-bit one zero-extends, as every 32-bit write
					}
					switch op {
					case 0xe0: // LOOPNE
						taken = n != 0 && zf == 0
					case 0xe1: // LOOPE
						taken = n != 0 && zf != 0
					case 0xe2:
						taken = n != 0
					case 0xe3:
						taken, wantCX = cx&mask == 0, cx // JCXZ does not write
					}
					if mode != 64 {
						wantCX &= 0xffffffff
					}
					gotCX := c.r[rCX]
					if mode != 64 {
						gotCX &= 0xffffffff
					}
					if (c.r[rAX]&0xff == 1) != taken || gotCX != wantCX {
						t.Fatalf("mode %d a67 %v op %#x cx %#x zf %d: taken %v cx %#x, want %v %#x",
							mode, a67, op, cx, zf>>6, c.r[rAX]&0xff == 1, gotCX, taken, wantCX)
					}
				}
			}
		}
	}
}
