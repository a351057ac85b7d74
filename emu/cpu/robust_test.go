package cpu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Random instruction bytes, in every mode, must never make the
// interpreter fail internally (a Go panic becomes ExitError), hang (Run
// is budget-bounded) or touch memory outside guest RAM (testRAM has no
// other memory to give): whatever it does not implement is #UD, whatever
// faults is delivered through the mode's IVT or IDT.

// fuzzModes are the modes the random-byte tests run in.
var fuzzModes = []string{"real", "pm16", "pm32", "compat", "long"}

// fuzzGuest is one reusable vCPU per mode; reset puts back the state
// before every input.
type fuzzGuest struct {
	c     *CPU
	ram   *testRAM
	at    uint64
	reset func()
}

func newFuzzGuest(t testing.TB, mode string) *fuzzGuest {
	g := &fuzzGuest{at: codeBase}
	switch mode {
	case "real":
		g.c, g.ram = newReal(t, nil, 0)
		g.at = 0x7c00
		for v := uint64(0); v < 256; v++ {
			g.ram.w64(v*4, 0x0500) // 0000:0500
		}
		g.ram.b[0x500] = 0xf4
		g.reset = func() {
			g.c.realSeg(segCS, 0)
			g.c.seg[segCS].limit, g.c.seg[segCS].access = 0xffff, 0x93
			for _, s := range []uint8{segDS, segES, segSS, segFS, segGS} {
				g.c.seg[s] = seg{limit: 0xffff, access: 0x93}
			}
			g.c.cr0, g.c.efer = cr0NE|cr0ET, 0
			g.c.idtr = seg{limit: 0x3ff}
			g.c.r[rSP] = 0x7000
		}
	case "pm16", "pm32":
		g.c, g.ram = newProt(t, nil)
		cs := seg{sel: selCode32, limit: 0xffffffff, access: 0xc09b}
		if mode == "pm16" {
			cs = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
		}
		g.reset = func() {
			g.c.seg[segCS] = cs
			for _, s := range []uint8{segDS, segES, segSS, segFS, segGS} {
				g.c.seg[s] = seg{sel: selData32, limit: 0xffffffff, access: 0xc093}
			}
			g.c.cr0, g.c.cr4, g.c.efer = cr0PE|cr0NE|cr0ET, 0, 0
			g.c.idtr = seg{base: idtBase, limit: 256*8 - 1}
			g.c.gdtr = seg{base: 0x5000, limit: 12*8 - 1}
			g.c.r[rSP] = stackTop
		}
	default:
		g.c, g.ram = withHandlers(t.(*testing.T), nil)
		cs := seg{sel: 8, access: 0x209b}
		if mode == "compat" {
			cs = seg{sel: 0x18, limit: 0xffffffff, access: 0xc09b}
		}
		g.reset = func() {
			g.c.seg[segCS] = cs
			g.c.cr0, g.c.cr4, g.c.efer = 0x80000021, 0x20, 0x500
			g.c.idtr = seg{base: idtBase, limit: 256*16 - 1}
			g.c.gdtr = seg{base: 0x5000, limit: 23}
			g.c.r[rSP] = stackTop
		}
	}
	return g
}

// runBytes runs code from the mode's entry point and fails on an
// internal error.
func (g *fuzzGuest) runBytes(t testing.TB, code []byte, regs func(i int) uint64) {
	copy(g.ram.b[g.at:], code)
	for r := range g.c.r {
		g.c.r[r] = regs(r)
	}
	g.reset()
	g.c.setRflags(2)
	g.c.rip = g.at
	g.c.intrShadow = false
	g.c.modeChanged()
	g.c.tlb.flush()
	ex := g.c.Run(20)
	if ex.Reason == ExitError && !errors.Is(ex.Err, ErrEventMMIO) && ex.Err != errGateTask {
		t.Fatalf("bytes % x: %v (insn % x)", code[:16], ex.Err, ex.Insn)
	}
}

func TestRandomBytesNoInternalError(t *testing.T) {
	n := 40000
	if testing.Short() {
		n = 4000
	}
	for _, mode := range fuzzModes {
		t.Run(mode, func(t *testing.T) {
			g := newFuzzGuest(t, mode)
			rng := rand.New(rand.NewPCG(7, seedOffset))
			var code [48]byte
			for i := 0; i < n; i++ {
				for j := range code {
					code[j] = byte(rng.Uint32())
				}
				// Bias towards the one- and two-byte opcode maps with prefixes.
				switch rng.IntN(4) {
				case 0:
					code[0] = 0x0f
				case 1:
					code[0] = [...]byte{0x48, 0x66, 0x67, 0xf3}[rng.IntN(4)]
				}
				g.runBytes(t, code[:], func(int) uint64 { return dataBase + uint64(rng.IntN(0x1000)) })
			}
		})
	}
}

var seedOffset uint64 = 8

// FuzzInsnBytes is the open-ended form: the first byte picks the mode.
// `go test` runs the seeds; `go test -fuzz FuzzInsnBytes` explores.
func FuzzInsnBytes(f *testing.F) {
	for i := range fuzzModes {
		f.Add(append([]byte{byte(i)}, 0x0f, 0x0b))
		f.Add(append([]byte{byte(i)}, 0xcf, 0xcb, 0xea, 1, 2, 3, 4, 5, 6))
		f.Add(append([]byte{byte(i)}, 0x8e, 0xd0, 0x66, 0x61, 0xcd, 0x10))
	}
	guests := map[string]*fuzzGuest{}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		mode := fuzzModes[int(data[0])%len(fuzzModes)]
		g := guests[mode]
		if g == nil {
			g = newFuzzGuest(t, mode)
			guests[mode] = g
		}
		var code [48]byte
		copy(code[:], data[1:])
		// A hang is a failure too: crash the worker so the fuzzer keeps
		// the input (Run of 20 instructions takes microseconds; 30 s leaves room for a loaded machine).
		dog := time.AfterFunc(30*time.Second, func() { panic(fmt.Sprintf("hang in %s on % x", mode, code)) })
		defer dog.Stop()
		g.runBytes(t, code[:], func(r int) uint64 { return dataBase + uint64(r)*0x40 })
	})
}
