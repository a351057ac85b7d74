package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// String instructions in every mode, with and without REP/REPE/REPNE,
// forwards and backwards, against a reference model written from the
// SDM's MOVS/STOS/LODS/CMPS/SCAS pseudocode: the source is DS:(E)SI
// (here with a DS base of 1 MiB outside 64-bit mode), the destination
// ES:(E)DI (ES base 2 MiB), counts and pointers at the address size.
func TestStringModes(t *testing.T) {
	verifyDecoded(t) // every run is checked against the model: the ISA coverage report counts what ran
	rng := rand.New(rand.NewPCG(11, 12))
	type op struct {
		name string
		b    byte // byte-sized opcode; +1 is the word/dword/qword form
	}
	ops := []op{{"movs", 0xa4}, {"cmps", 0xa6}, {"stos", 0xaa}, {"lods", 0xac}, {"scas", 0xae}}
	for _, mode := range []int{64, 32, 16} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			c, ram, at := branchGuest(t, mode)
			// In 64-bit mode DS and ES have no base: the pointers carry it.
			dsBase, esBase := uint64(0x100000), uint64(0x200000)
			var siAdd, diAdd uint64
			regMask := uint64(0xffffffff)
			if mode == 64 {
				siAdd, diAdd, regMask = dsBase, esBase, ^uint64(0)
			} else {
				c.seg[segDS].base, c.seg[segES].base = dsBase, esBase
			}
			sizes := []int{1, 2, 4}
			if mode == 64 {
				sizes = append(sizes, 8)
			}
			for _, o := range ops {
				for _, sz := range sizes {
					for _, rep := range []byte{0, 0xf3, 0xf2} {
						for i := 0; i < 12; i++ {
							df := i&1 == 1
							var code []byte
							if rep != 0 {
								code = append(code, rep)
							}
							b := o.b
							if sz > 1 {
								b++
								if (sz == 2) != (mode == 16) && sz != 8 {
									code = append(code, 0x66)
								}
								if sz == 8 {
									code = append(code, 0x48)
								}
							}
							code = append(code, b, 0xf4)
							// Offsets 0x100..0x200 into the segments, count 0..7.
							si, di := uint64(0x100+rng.IntN(0x100)), uint64(0x100+rng.IntN(0x100))
							cx := uint64(rng.IntN(8))
							for j := uint64(0); j < 0x400; j++ {
								v := byte(rng.IntN(3)) // small alphabet: CMPS/SCAS stop at varied places
								ram.b[dsBase+j], ram.b[esBase+j] = v, byte(rng.IntN(3))
							}
							ax := uint64(rng.IntN(3)) * 0x0101010101010101
							// The model.
							mem := append([]byte(nil), ram.b[esBase:esBase+0x400]...)
							src := ram.b[dsBase : dsBase+0x400]
							get := func(p []byte, off uint64) uint64 { return load(p[off:], uint8(sz)) }
							mSI, mDI, mCX, mAX := si, di, cx, ax
							var zf, cf bool
							step := uint64(sz)
							if df {
								step = -step
							}
							for n := 0; ; n++ {
								if rep != 0 && mCX == 0 {
									break
								}
								switch o.name {
								case "movs":
									store(mem[mDI:], uint8(sz), get(src, mSI))
									mSI, mDI = mSI+step, mDI+step
								case "stos":
									store(mem[mDI:], uint8(sz), mAX)
									mDI += step
								case "lods":
									mAX = mAX&^sizeMask[sz] | get(src, mSI)
									if sz == 4 {
										mAX = get(src, mSI) // a 32-bit write zero-extends
									}
									mSI += step
								case "cmps":
									a, b := get(src, mSI), get(mem, mDI)
									zf, cf = a == b, a < b
									mSI, mDI = mSI+step, mDI+step
								case "scas":
									a, b := mAX&sizeMask[sz], get(mem, mDI)
									zf, cf = a == b, a < b
									mDI += step
								}
								if rep == 0 {
									break
								}
								mCX--
								if (o.name == "cmps" || o.name == "scas") && (rep == 0xf3 && !zf || rep == 0xf2 && zf) {
									break
								}
							}
							copy(ram.b[at:], code)
							c.r[rSI], c.r[rDI], c.r[rCX], c.r[rAX] = si+siAdd, di+diAdd, cx, ax
							mSI, mDI = mSI+siAdd, mDI+diAdd
							fl := uint64(2)
							if df {
								fl |= flagDF
							}
							c.setRflags(fl)
							c.rip = at
							run(t, c, 10, ExitHLT)
							name := fmt.Sprintf("%x % x si %#x di %#x cx %d df %v", mode, code, si, di, cx, df)
							if (c.r[rSI]^mSI|c.r[rDI]^mDI|c.r[rCX]^mCX|c.r[rAX]^mAX)&regMask != 0 {
								t.Fatalf("%s: si %#x di %#x cx %#x ax %#x, want %#x %#x %#x %#x", name,
									c.r[rSI], c.r[rDI], c.r[rCX], c.r[rAX], mSI, mDI, mCX, mAX)
							}
							if string(ram.b[esBase:esBase+0x400]) != string(mem) {
								t.Fatalf("%s: destination memory differs", name)
							}
							if (o.name == "cmps" || o.name == "scas") && (rep == 0 || cx != 0) {
								f := c.rflags()
								if (f&flagZF != 0) != zf || (f&flagCF != 0) != cf {
									t.Fatalf("%s: flags %#x, want zf %v cf %v", name, f, zf, cf)
								}
							}
						}
					}
				}
			}
		})
	}
}
