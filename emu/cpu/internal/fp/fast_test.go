package fp

import (
	"math/rand/v2"
	"testing"
)

// The fast paths must agree with the general ones everywhere they apply;
// this needs no host, so it also guards non-amd64 builds.
func TestFastPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 23))
	type pair struct {
		name       string
		f          bfmt
		fast, slow func(a, b uint64, mx uint32) (uint64, uint32)
	}
	ps := []pair{
		{"AddF64", f64, AddF64, func(a, b uint64, mx uint32) (uint64, uint32) { return sseAddSub(f64, a, b, mx, false) }},
		{"SubF64", f64, SubF64, func(a, b uint64, mx uint32) (uint64, uint32) { return sseAddSub(f64, a, b, mx, true) }},
		{"MulF64", f64, MulF64, func(a, b uint64, mx uint32) (uint64, uint32) { return sseMul(f64, a, b, mx) }},
		{"DivF64", f64, DivF64, func(a, b uint64, mx uint32) (uint64, uint32) { return sseDiv(f64, a, b, mx) }},
		{"AddF32", f32, w32(AddF32), func(a, b uint64, mx uint32) (uint64, uint32) { return sseAddSub(f32, a, b, mx, false) }},
		{"SubF32", f32, w32(SubF32), func(a, b uint64, mx uint32) (uint64, uint32) { return sseAddSub(f32, a, b, mx, true) }},
		{"MulF32", f32, w32(MulF32), func(a, b uint64, mx uint32) (uint64, uint32) { return sseMul(f32, a, b, mx) }},
		{"DivF32", f32, w32(DivF32), func(a, b uint64, mx uint32) (uint64, uint32) { return sseDiv(f32, a, b, mx) }},
		{"SqrtF64", f64, func(a, b uint64, mx uint32) (uint64, uint32) { return SqrtF64(b, mx) },
			func(a, b uint64, mx uint32) (uint64, uint32) { return sseSqrt(f64, b, mx) }},
		{"SqrtF32", f32, func(a, b uint64, mx uint32) (uint64, uint32) {
			r, fl := SqrtF32(uint32(b), mx)
			return uint64(r), fl
		}, func(a, b uint64, mx uint32) (uint64, uint32) { return sseSqrt(f32, b, mx) }},
	}
	for _, p := range ps {
		fails := 0
		for i := 0; i < cases(200000) && fails < 10; i++ {
			a := randBin(r, p.f, ^uint64(0))
			b := randBin(r, p.f, a)
			mx := uint32(0x1f80) | uint32(r.IntN(2))*(MXCSRFTZ|MXCSRDAZ)
			g, gf := p.fast(a, b, mx)
			w, wf := p.slow(a, b, mx)
			if g != w || gf != wf {
				fails++
				t.Errorf("%s(%x, %x) mxcsr %04x: fast %x %02x, general %x %02x", p.name, a, b, mx, g, gf, w, wf)
			}
		}
	}
}
