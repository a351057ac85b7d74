package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// String instructions in every mode and both address sizes of the mode
// (67 selects the other: 32 in 64-bit mode, 16 in 32-bit mode, 32 in
// 16-bit mode), with and without REP/REPE/REPNE, forwards and backwards,
// against a reference model written here from the SDM's
// MOVS/STOS/LODS/CMPS/SCAS pseudocode (no interpreter helper): the source
// is DS:(E)SI (here with a DS base of 1 MiB outside 64-bit mode), the
// destination ES:(E)DI (ES base 2 MiB), counts and pointers at the address
// size. Only the address-size part of RSI/RDI/RCX changes: with a 16-bit
// address size the pointers wrap at 64 KiB and bits 31:16 stay, with a
// 32-bit one in 64-bit mode bits 63:32 are ignored and then cleared (a
// 32-bit register write); the high bits start non-zero to show it. CMPS
// and SCAS set all six arithmetic flags as SUB does.
func TestStringModes(t *testing.T) {
	verifyDecoded(t) // every run is checked against the model: the ISA coverage report counts what ran
	rng := rand.New(rand.NewPCG(11, 12))
	type op struct {
		name string
		b    byte // byte-sized opcode; +1 is the word/dword/qword form
	}
	ops := []op{{"movs", 0xa4}, {"cmps", 0xa6}, {"stos", 0xaa}, {"lods", 0xac}, {"scas", 0xae}}
	// Little-endian element access and the SUB flags, written out.
	get := func(p []byte, off uint64, sz int) uint64 {
		var v uint64
		for i := sz - 1; i >= 0; i-- {
			v = v<<8 | uint64(p[off+uint64(i)])
		}
		return v
	}
	put := func(p []byte, off uint64, sz int, v uint64) {
		for i := 0; i < sz; i++ {
			p[off+uint64(i)] = byte(v >> (8 * i))
		}
	}
	subFlags := func(a, b uint64, sz int) uint64 {
		w := uint(sz) * 8
		msk := uint64(1)<<w - 1
		if sz == 8 {
			msk = ^uint64(0)
		}
		r := (a - b) & msk
		var f uint64
		if a < b {
			f |= flagCF
		}
		if r == 0 {
			f |= flagZF
		}
		if r>>(w-1)&1 != 0 {
			f |= flagSF
		}
		if ((a^b)&(a^r))>>(w-1)&1 != 0 {
			f |= flagOF
		}
		f |= (a ^ b ^ r) & flagAF
		return f | sdmPF(r)
	}
	const arith = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF
	const win = 0x10400 // a 64 KiB offset space plus room
	for _, mode := range []int{64, 32, 16} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			c, ram, at := branchGuest(t, mode)
			// In 64-bit mode DS and ES have no base: the pointers carry it.
			dsBase, esBase := uint64(0x100000), uint64(0x200000)
			if mode != 64 {
				c.seg[segDS].base, c.seg[segES].base = dsBase, esBase
			}
			sizes := []int{1, 2, 4}
			if mode == 64 {
				sizes = append(sizes, 8)
			}
			other := map[int]int{64: 32, 32: 16, 16: 32}[mode]
			for _, asz := range []int{mode, other} {
				amask := uint64(1)<<asz - 1
				if asz == 64 {
					amask = ^uint64(0)
				}
				for _, o := range ops {
					for _, sz := range sizes {
						for _, rep := range []byte{0, 0xf3, 0xf2} {
							for i := 0; i < 16; i++ {
								df := i&1 == 1
								var code []byte
								if asz != mode {
									code = append(code, 0x67)
								}
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
								// Offsets 0x100..0x200 into the segments, or
								// (16-bit addresses, every fourth run) at the
								// 64 KiB wrap, element-aligned; count 0..7.
								pick := func() uint64 {
									if asz == 16 && i%4 >= 2 {
										return uint64(0x10000-4*sz+rng.IntN(8)*sz) & 0xffff
									}
									return uint64(0x100 + rng.IntN(0x100))
								}
								si, di := pick(), pick()
								cx := uint64(rng.IntN(8))
								// Random contents around both pointers (a small
								// alphabet: CMPS/SCAS stop at varied places).
								for j := uint64(0); j < 0x80; j++ {
									ram.b[dsBase+(si-0x40+j)&0xffff] = byte(rng.IntN(3))
									ram.b[esBase+(di-0x40+j)&0xffff] = byte(rng.IntN(3))
									if asz != 16 {
										ram.b[dsBase+si-0x40+j], ram.b[esBase+di-0x40+j] = byte(rng.IntN(3)), byte(rng.IntN(3))
									}
								}
								ax := uint64(rng.IntN(3)) * 0x0101010101010101
								// Initial registers: the offsets in the
								// address-size bits, junk above them.
								hiSI, hiDI, hiCX := uint64(0x5a5a_0000_abcd_0000), uint64(0x3c3c_0000_1234_0000), uint64(0x7777_0000_0042_0000)
								switch asz {
								case 32:
									hiSI, hiDI, hiCX = hiSI&^0xffffffff, hiDI&^0xffffffff, hiCX&^0xffffffff
								case 64:
									hiSI, hiDI, hiCX = 0, 0, 0
								}
								// The model, on offsets.
								mem := append([]byte(nil), ram.b[esBase:esBase+win]...)
								src := ram.b[dsBase : dsBase+win]
								mSI, mDI, mCX, mAX := si, di, cx, ax
								var fl uint64
								step := uint64(sz)
								if df {
									step = -step
								}
								emask := uint64(1)<<(8*sz) - 1
								if sz == 8 {
									emask = ^uint64(0)
								}
								for {
									if rep != 0 && mCX == 0 {
										break
									}
									switch o.name {
									case "movs":
										put(mem, mDI, sz, get(src, mSI, sz))
										mSI, mDI = (mSI+step)&amask, (mDI+step)&amask
									case "stos":
										put(mem, mDI, sz, mAX&emask)
										mDI = (mDI + step) & amask
									case "lods":
										mAX = mAX&^emask | get(src, mSI, sz)
										if sz == 4 {
											mAX = get(src, mSI, sz) // a 32-bit write zero-extends
										}
										mSI = (mSI + step) & amask
									case "cmps":
										fl = subFlags(get(src, mSI, sz), get(mem, mDI, sz), sz)
										mSI, mDI = (mSI+step)&amask, (mDI+step)&amask
									case "scas":
										fl = subFlags(mAX&emask, get(mem, mDI, sz), sz)
										mDI = (mDI + step) & amask
									}
									if rep == 0 {
										break
									}
									mCX = (mCX - 1) & amask
									zf := fl&flagZF != 0
									if (o.name == "cmps" || o.name == "scas") && (rep == 0xf3 && !zf || rep == 0xf2 && zf) {
										break
									}
								}
								copy(ram.b[at:], code)
								add := uint64(0)
								if mode == 64 && asz == 64 {
									add = dsBase
								}
								c.r[rSI], c.r[rCX], c.r[rAX] = hiSI|si+add, hiCX|cx, ax
								if mode == 64 && asz == 64 {
									add = esBase
								}
								c.r[rDI] = hiDI | di + add
								if mode == 64 && asz == 32 {
									// DS and ES have no base: the 32-bit offsets
									// themselves point into the windows.
									c.r[rSI], c.r[rDI] = hiSI|(dsBase+si), hiDI|(esBase+di)
								}
								wSI, wDI, wCX := hiSI|mSI, hiDI|mDI, hiCX|mCX
								switch {
								case mode == 64 && asz == 64:
									wSI, wDI = mSI+dsBase, mDI+esBase
								case mode == 64 && asz == 32:
									// A register the run writes is zero-extended;
									// one it does not touch keeps its high bits.
									ran := rep == 0 || cx != 0
									wSI, wDI, wCX = c.r[rSI], c.r[rDI], c.r[rCX]
									if ran && o.name != "stos" && o.name != "scas" {
										wSI = (dsBase + mSI) & 0xffffffff
									}
									if ran && o.name != "lods" {
										wDI = (esBase + mDI) & 0xffffffff
									}
									if ran && rep != 0 {
										wCX = mCX
									}
								}
								c.setRflags(2 | map[bool]uint64{true: flagDF}[df] | arith&^fl0(i))
								c.rip = at
								run(t, c, 10, ExitHLT)
								name := fmt.Sprintf("%d % x si %#x di %#x cx %d df %v", mode, code, si, di, cx, df)
								regMask := ^uint64(0)
								if mode != 64 {
									regMask = 0xffffffff
								}
								if (c.r[rSI]^wSI|c.r[rDI]^wDI|c.r[rCX]^wCX|c.r[rAX]^mAX)&regMask != 0 {
									t.Fatalf("%s: rsi %#x rdi %#x rcx %#x rax %#x, want %#x %#x %#x %#x", name,
										c.r[rSI], c.r[rDI], c.r[rCX], c.r[rAX], wSI, wDI, wCX, mAX)
								}
								if string(ram.b[esBase:esBase+win]) != string(mem) {
									t.Fatalf("%s: destination memory differs", name)
								}
								if (o.name == "cmps" || o.name == "scas") && (rep == 0 || cx != 0) {
									if f := c.rflags() & arith; f != fl {
										t.Fatalf("%s: flags %#x, want %#x", name, f, fl)
									}
								}
							}
						}
					}
				}
			}
		})
	}
}

// fl0 varies the arithmetic flags a run starts with, so that a flag a
// CMPS/SCAS forgets to write shows.
func fl0(i int) uint64 {
	if i&2 != 0 {
		return 0
	}
	return flagCF | flagPF | flagAF | flagZF | flagSF | flagOF
}
