package fp

import (
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// sseHost runs code with XMM0's low quadword a, XMM1's b, RAX ax and
// MXCSR mx (flags clear), and returns XMM0's low quadword, MXCSR, RFLAGS
// and RAX afterwards.
func sseHost(t *testing.T, code []byte, mx uint32, a, b, ax uint64) (x0 uint64, mxOut uint32, rflags, rax uint64) {
	t.Helper()
	fx := &hostexec.FX{}
	fx.SetCW(0x37f)
	fx.SetMXCSR(mx)
	fx.SetXMM(0, a, 0x1111111111111111)
	fx.SetXMM(1, b, 0x2222222222222222)
	s := hostexec.State{}
	s.Regs[0] = ax
	if err := execFX(t, code, &s, fx); err != nil {
		t.Fatal(err)
	}
	x0, _ = fx.XMM(0)
	return x0, fx.MXCSR(), s.Flags, s.Regs[0]
}

// randMX is MXCSR with every exception masked and random rounding, FTZ
// and DAZ.
func randMX(r *rand.Rand) uint32 {
	mx := uint32(0x1f80) | uint32(r.IntN(4))<<13
	if r.IntN(3) == 0 {
		mx |= MXCSRFTZ
	}
	if r.IntN(3) == 0 {
		mx |= MXCSRDAZ
	}
	return mx
}

// binEdges are f's edge encodings.
func binEdges(f bfmt) []uint64 {
	one := uint64(f.bias) << f.frac
	var v []uint64
	for _, s := range []uint64{0, f.signBit()} {
		v = append(v, s, s|1, s|f.fracMask(), s|1<<f.frac, s|1<<f.frac|1,
			s|one, s|one|1, s|one|f.fracMask(), s|one-1,
			s|(f.expMask()-1)<<f.frac|f.fracMask(), s|f.inf(false),
			s|f.inf(false)|f.quietBit(), s|f.inf(false)|f.quietBit()|1,
			s|f.inf(false)|1, s|f.inf(false)|2,
			s|uint64(f.frac+1)<<f.frac, s|2<<f.frac|f.fracMask()>>1)
	}
	return v
}

// randBin draws an operand of f, biased to edges, the ends of the range
// and values near b (when b is not ^0) for cancellation and rounding.
func randBin(r *rand.Rand, f bfmt, near uint64) uint64 {
	s := uint64(r.IntN(2)) * f.signBit()
	e := f.expMask()
	switch r.IntN(10) {
	case 0:
		ed := binEdges(f)
		return ed[r.IntN(len(ed))]
	case 1:
		return s | r.Uint64()&f.fracMask()>>uint(r.IntN(int(f.frac))) // denormal
	case 2:
		return s | uint64(1+r.IntN(int(f.frac)+4))<<f.frac | r.Uint64()&f.fracMask() // just above
	case 3:
		return s | (e-1-uint64(r.IntN(int(f.frac)+4)))<<f.frac | r.Uint64()&f.fracMask() // near the top
	case 4, 5:
		if near != ^uint64(0) {
			ne := near >> f.frac & e
			ne += uint64(r.IntN(5)) - 2
			if ne > 0 && ne < e {
				return s | ne<<f.frac | (near^r.Uint64()>>uint(r.IntN(64)))&f.fracMask()
			}
		}
	case 6:
		return s | e<<f.frac | r.Uint64()&f.fracMask()>>uint(r.IntN(int(f.frac)))
	case 7:
		// Middling exponents with few low bits: exact and halfway products.
		ex := uint64(int(f.bias) + r.IntN(40) - 20)
		return s | ex<<f.frac | (r.Uint64()&f.fracMask())&^(f.fracMask()>>uint(r.IntN(int(f.frac))))
	}
	return s | (r.Uint64() & (e<<f.frac | f.fracMask()))
}

type sseBinop struct {
	name string
	code []byte
	f    bfmt
	op   func(a, b uint64, mx uint32) (uint64, uint32)
}

func w32(op func(a, b, mx uint32) (uint32, uint32)) func(a, b uint64, mx uint32) (uint64, uint32) {
	return func(a, b uint64, mx uint32) (uint64, uint32) {
		r, fl := op(uint32(a), uint32(b), mx)
		return uint64(r), fl
	}
}

var sseBinops = []sseBinop{
	{"ADDSS", []byte{0xf3, 0x0f, 0x58, 0xc1}, f32, w32(AddF32)},
	{"SUBSS", []byte{0xf3, 0x0f, 0x5c, 0xc1}, f32, w32(SubF32)},
	{"MULSS", []byte{0xf3, 0x0f, 0x59, 0xc1}, f32, w32(MulF32)},
	{"DIVSS", []byte{0xf3, 0x0f, 0x5e, 0xc1}, f32, w32(DivF32)},
	{"MINSS", []byte{0xf3, 0x0f, 0x5d, 0xc1}, f32, w32(MinF32)},
	{"MAXSS", []byte{0xf3, 0x0f, 0x5f, 0xc1}, f32, w32(MaxF32)},
	{"SQRTSS", []byte{0xf3, 0x0f, 0x51, 0xc1}, f32, func(a, b uint64, mx uint32) (uint64, uint32) {
		r, fl := SqrtF32(uint32(b), mx)
		return uint64(r), fl
	}},
	{"ADDSD", []byte{0xf2, 0x0f, 0x58, 0xc1}, f64, AddF64},
	{"SUBSD", []byte{0xf2, 0x0f, 0x5c, 0xc1}, f64, SubF64},
	{"MULSD", []byte{0xf2, 0x0f, 0x59, 0xc1}, f64, MulF64},
	{"DIVSD", []byte{0xf2, 0x0f, 0x5e, 0xc1}, f64, DivF64},
	{"MINSD", []byte{0xf2, 0x0f, 0x5d, 0xc1}, f64, MinF64},
	{"MAXSD", []byte{0xf2, 0x0f, 0x5f, 0xc1}, f64, MaxF64},
	{"SQRTSD", []byte{0xf2, 0x0f, 0x51, 0xc1}, f64, func(a, b uint64, mx uint32) (uint64, uint32) { return SqrtF64(b, mx) }},
	{"CVTSS2SD", []byte{0xf3, 0x0f, 0x5a, 0xc1}, f32, func(a, b uint64, mx uint32) (uint64, uint32) { return F32ToF64(uint32(b), mx) }},
	{"CVTSD2SS", []byte{0xf2, 0x0f, 0x5a, 0xc1}, f64, func(a, b uint64, mx uint32) (uint64, uint32) {
		r, fl := F64ToF32(b, mx)
		return a&^0xffffffff | uint64(r), fl
	}},
}

func TestSSEBinops(t *testing.T) {
	needHost(t)
	for _, o := range sseBinops {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(8, uint64(o.code[0])<<8|uint64(o.code[2])))
			mask := ^uint64(0)
			if o.f == f32 && o.name != "CVTSS2SD" {
				mask = 0xffffffff
			}
			fails := 0
			check := func(a, b uint64, mx uint32) {
				if o.f == f32 {
					a |= 0x7ff8123400000000 // the upper half of the lane must survive
				}
				h, hmx, _, _ := sseHost(t, o.code, mx, a, b, 0)
				got, fl := o.op(a, b, mx)
				if o.name == "CVTSS2SD" {
					mask = ^uint64(0)
				}
				if (got&mask != h&mask || mx|fl != hmx) && fails < 10 {
					fails++
					t.Errorf("%s(%x, %x) mxcsr %04x = %x mxcsr %04x, host %x mxcsr %04x",
						o.name, a&mask, b, mx, got&mask, mx|fl, h&mask, hmx)
				}
			}
			ed := binEdges(o.f)
			for _, mx := range []uint32{0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0xbf80, 0x1fc0} {
				for _, a := range ed {
					for _, b := range ed {
						check(a, b, mx)
					}
				}
			}
			for i := 0; i < cases(20000); i++ {
				a := randBin(r, o.f, ^uint64(0))
				check(a, randBin(r, o.f, a), randMX(r))
			}
		})
	}
}
