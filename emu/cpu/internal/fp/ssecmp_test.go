package fp

import (
	"math/rand/v2"
	"testing"
)

func TestSSECompare(t *testing.T) {
	needHost(t)
	type variant struct {
		name string
		f    bfmt
		code func(imm uint8) []byte
		max  uint8
	}
	vs := []variant{
		{"CMPSS", f32, func(imm uint8) []byte { return []byte{0xf3, 0x0f, 0xc2, 0xc1, imm} }, 8},
		{"CMPSD", f64, func(imm uint8) []byte { return []byte{0xf2, 0x0f, 0xc2, 0xc1, imm} }, 8},
		// VEX.128 forms (vcmpss xmm0, xmm0, xmm1, imm): all 32 predicates.
		{"VCMPSS", f32, func(imm uint8) []byte { return []byte{0xc5, 0xfa, 0xc2, 0xc1, imm} }, 32},
		{"VCMPSD", f64, func(imm uint8) []byte { return []byte{0xc5, 0xfb, 0xc2, 0xc1, imm} }, 32},
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(9, uint64(v.max)+uint64(v.f.frac)))
			ed := binEdges(v.f)
			fails := 0
			mask := ^uint64(0)
			if v.f == f32 {
				mask = 0xffffffff
			}
			for imm := uint8(0); imm < v.max; imm++ {
				check := func(a, b uint64, mx uint32) {
					h, hmx, _, _ := sseHost(t, v.code(imm), mx, a, b, 0)
					var ok bool
					var fl uint32
					if v.f == f32 {
						ok, fl = CmpF32(uint32(a), uint32(b), imm, mx)
					} else {
						ok, fl = CmpF64(a, b, imm, mx)
					}
					var got uint64
					if ok {
						got = mask
					}
					if (got != h&mask || mx|fl != hmx) && fails < 10 {
						fails++
						t.Errorf("%s(%x, %x, %d) mxcsr %04x = %x mxcsr %04x, host %x mxcsr %04x",
							v.name, a, b, imm, mx, got, mx|fl, h&mask, hmx)
					}
				}
				for _, a := range ed {
					for _, b := range ed {
						check(a, b, 0x1f80|uint32(imm&1)*MXCSRDAZ)
					}
				}
				for i := 0; i < cases(2000); i++ {
					a := randBin(r, v.f, ^uint64(0))
					check(a, randBin(r, v.f, a), randMX(r))
				}
			}
		})
	}
}

func TestSSEComi(t *testing.T) {
	needHost(t)
	type variant struct {
		name  string
		code  []byte
		f     bfmt
		quiet bool
	}
	vs := []variant{
		{"COMISS", []byte{0x0f, 0x2f, 0xc1}, f32, false},
		{"UCOMISS", []byte{0x0f, 0x2e, 0xc1}, f32, true},
		{"COMISD", []byte{0x66, 0x0f, 0x2f, 0xc1}, f64, false},
		{"UCOMISD", []byte{0x66, 0x0f, 0x2e, 0xc1}, f64, true},
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(10, uint64(v.code[1])+uint64(v.f.frac)))
			fails := 0
			check := func(a, b uint64, mx uint32) {
				_, hmx, hf, _ := sseHost(t, v.code, mx, a, b, 0)
				var ef uint64
				var fl uint32
				if v.f == f32 {
					ef, fl = ComiF32(uint32(a), uint32(b), v.quiet, mx)
				} else {
					ef, fl = ComiF64(a, b, v.quiet, mx)
				}
				if (ef != hf&0x8d5 || mx|fl != hmx) && fails < 10 {
					fails++
					t.Errorf("%s(%x, %x) mxcsr %04x = rflags %x mxcsr %04x, host %x mxcsr %04x",
						v.name, a, b, mx, ef, mx|fl, hf&0x8d5, hmx)
				}
			}
			ed := binEdges(v.f)
			for _, a := range ed {
				for _, b := range ed {
					check(a, b, 0x1f80)
					check(a, b, 0x1fc0)
				}
			}
			for i := 0; i < cases(20000); i++ {
				a := randBin(r, v.f, ^uint64(0))
				check(a, randBin(r, v.f, a), randMX(r))
			}
		})
	}
}

func TestSSEIntConversions(t *testing.T) {
	needHost(t)
	type toInt struct {
		name  string
		code  []byte // cvt*2si rax/eax, xmm1
		f     bfmt
		size  uint
		trunc bool
	}
	tos := []toInt{
		{"CVTSS2SI r32", []byte{0xf3, 0x0f, 0x2d, 0xc1}, f32, 32, false},
		{"CVTTSS2SI r32", []byte{0xf3, 0x0f, 0x2c, 0xc1}, f32, 32, true},
		{"CVTSS2SI r64", []byte{0xf3, 0x48, 0x0f, 0x2d, 0xc1}, f32, 64, false},
		{"CVTTSS2SI r64", []byte{0xf3, 0x48, 0x0f, 0x2c, 0xc1}, f32, 64, true},
		{"CVTSD2SI r32", []byte{0xf2, 0x0f, 0x2d, 0xc1}, f64, 32, false},
		{"CVTTSD2SI r32", []byte{0xf2, 0x0f, 0x2c, 0xc1}, f64, 32, true},
		{"CVTSD2SI r64", []byte{0xf2, 0x48, 0x0f, 0x2d, 0xc1}, f64, 64, false},
		{"CVTTSD2SI r64", []byte{0xf2, 0x48, 0x0f, 0x2c, 0xc1}, f64, 64, true},
	}
	for _, o := range tos {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, uint64(o.size)+uint64(o.code[2])+uint64(o.f.frac)))
			fails := 0
			check := func(b uint64, mx uint32) {
				_, hmx, _, hax := sseHost(t, o.code, mx, 0, b, 0x5a5a5a5a5a5a5a5a)
				var v int64
				var fl uint32
				if o.f == f32 {
					v, fl = F32ToInt(uint32(b), mx, o.size, o.trunc)
				} else {
					v, fl = F64ToInt(b, mx, o.size, o.trunc)
				}
				got := uint64(v) & (^uint64(0) >> (64 - o.size)) // a 32-bit write zero-extends
				if (got != hax || mx|fl != hmx) && fails < 10 {
					fails++
					t.Errorf("%s(%x) mxcsr %04x = %x mxcsr %04x, host %x mxcsr %04x", o.name, b, mx, got, mx|fl, hax, hmx)
				}
			}
			for _, b := range binEdges(o.f) {
				for _, mx := range []uint32{0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x1fc0} {
					check(b, mx)
				}
			}
			for i := 0; i < cases(20000); i++ {
				b := randBin(r, o.f, ^uint64(0))
				if r.IntN(2) == 0 { // the integer range and its ends
					e := uint64(int(o.f.bias) - 2 + r.IntN(int(o.size)+4))
					b = b&^(o.f.expMask()<<o.f.frac) | e<<o.f.frac
				}
				check(b, randMX(r))
			}
		})
	}
	type fromInt struct {
		name string
		code []byte // cvtsi2s* xmm0, eax/rax
		f    bfmt
		size uint
	}
	froms := []fromInt{
		{"CVTSI2SS r32", []byte{0xf3, 0x0f, 0x2a, 0xc0}, f32, 32},
		{"CVTSI2SS r64", []byte{0xf3, 0x48, 0x0f, 0x2a, 0xc0}, f32, 64},
		{"CVTSI2SD r32", []byte{0xf2, 0x0f, 0x2a, 0xc0}, f64, 32},
		{"CVTSI2SD r64", []byte{0xf2, 0x48, 0x0f, 0x2a, 0xc0}, f64, 64},
	}
	for _, o := range froms {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(12, uint64(o.size)+uint64(o.f.frac)))
			fails := 0
			mask := ^uint64(0)
			if o.f == f32 {
				mask = 0xffffffff
			}
			for i := 0; i < cases(20000); i++ {
				ax := r.Uint64() >> uint(r.IntN(64))
				if r.IntN(2) == 0 {
					ax = -ax
				}
				mx := randMX(r)
				h, hmx, _, _ := sseHost(t, o.code, mx, 0, 0, ax)
				v := int64(ax)
				if o.size == 32 {
					v = int64(int32(ax))
				}
				var got uint64
				var fl uint32
				if o.f == f32 {
					g, f := IntToF32(v, mx)
					got, fl = uint64(g), f
				} else {
					got, fl = IntToF64(v, mx)
				}
				if (got != h&mask || mx|fl != hmx) && fails < 10 {
					fails++
					t.Errorf("%s(%x) mxcsr %04x = %x mxcsr %04x, host %x mxcsr %04x", o.name, ax, mx, got, mx|fl, h&mask, hmx)
				}
			}
		})
	}
}
