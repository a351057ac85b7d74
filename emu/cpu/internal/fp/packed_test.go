package fp

import (
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// Packed SSE forms are the lane functions applied to every lane, with the
// flags ORed (SDM Vol. 1 §11.5.1, all exceptions masked): pinned here for
// a few instructions so the interpreter can rely on it.
func TestSSEPacked(t *testing.T) {
	needHost(t)
	type pk struct {
		name string
		code []byte
		f    bfmt
		op   func(a, b uint64, mx uint32) (uint64, uint32)
	}
	ops := []pk{
		{"ADDPS", []byte{0x0f, 0x58, 0xc1}, f32, w32(AddF32)},
		{"SUBPS", []byte{0x0f, 0x5c, 0xc1}, f32, w32(SubF32)},
		{"MULPD", []byte{0x66, 0x0f, 0x59, 0xc1}, f64, MulF64},
		{"DIVPD", []byte{0x66, 0x0f, 0x5e, 0xc1}, f64, DivF64},
		{"MINPS", []byte{0x0f, 0x5d, 0xc1}, f32, w32(MinF32)},
		{"MAXPD", []byte{0x66, 0x0f, 0x5f, 0xc1}, f64, MaxF64},
		{"SQRTPS", []byte{0x0f, 0x51, 0xc1}, f32, func(a, b uint64, mx uint32) (uint64, uint32) {
			r, fl := SqrtF32(uint32(b), mx)
			return uint64(r), fl
		}},
		{"CMPLTPS", []byte{0x0f, 0xc2, 0xc1, 0x01}, f32, func(a, b uint64, mx uint32) (uint64, uint32) {
			ok, fl := CmpF32(uint32(a), uint32(b), 1, mx)
			if ok {
				return 0xffffffff, fl
			}
			return 0, fl
		}},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(19, uint64(len(o.code))*31+uint64(o.code[len(o.code)-2])))
			lanes, width := 4, uint(32)
			if o.f == f64 {
				lanes, width = 2, 64
			}
			mask := ^uint64(0) >> (64 - width)
			fails := 0
			for i := 0; i < cases(4000); i++ {
				var a, b [2]uint64
				var want [2]uint64
				mx := randMX(r)
				var fl uint32
				for l := 0; l < lanes; l++ {
					x := randBin(r, o.f, ^uint64(0))
					y := randBin(r, o.f, x)
					q, sh := l*int(width)/64, uint(l*int(width)%64)
					a[q] |= x << sh
					b[q] |= y << sh
					v, f := o.op(x, y, mx)
					want[q] |= (v & mask) << sh
					fl |= f
				}
				fx := &hostexec.FX{}
				fx.SetCW(0x37f)
				fx.SetMXCSR(mx)
				fx.SetXMM(0, a[0], a[1])
				fx.SetXMM(1, b[0], b[1])
				if err := execFX(t, o.code, &hostexec.State{}, fx); err != nil {
					t.Fatal(err)
				}
				lo, hi := fx.XMM(0)
				if (lo != want[0] || hi != want[1] || fx.MXCSR() != mx|fl) && fails < 10 {
					fails++
					t.Errorf("%s(%x:%x, %x:%x) mxcsr %04x = %x:%x mxcsr %04x, host %x:%x mxcsr %04x", o.name,
						a[1], a[0], b[1], b[0], mx, want[1], want[0], mx|fl, hi, lo, fx.MXCSR())
				}
			}
		})
	}
}

func TestSSERound(t *testing.T) {
	needHost(t)
	for _, f := range []bfmt{f32, f64} {
		name, opc := "ROUNDSS", byte(0x0a)
		if f == f64 {
			name, opc = "ROUNDSD", 0x0b
		}
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, uint64(opc)))
			fails := 0
			mask := ^uint64(0)
			if f == f32 {
				mask = 0xffffffff
			}
			check := func(b uint64, imm uint8, mx uint32) {
				h, hmx, _, _ := sseHost(t, []byte{0x66, 0x0f, 0x3a, opc, 0xc1, imm}, mx, 0, b, 0)
				var got uint64
				var fl uint32
				if f == f32 {
					g, fl2 := RoundF32(uint32(b), imm, mx)
					got, fl = uint64(g), fl2
				} else {
					got, fl = RoundF64(b, imm, mx)
				}
				if (got != h&mask || mx|fl != hmx) && fails < 10 {
					fails++
					t.Errorf("%s(%x, imm %d) mxcsr %04x = %x mxcsr %04x, host %x mxcsr %04x", name, b, imm, mx, got, mx|fl, h&mask, hmx)
				}
			}
			for imm := uint8(0); imm < 16; imm++ {
				for _, b := range binEdges(f) {
					check(b, imm, 0x1f80)
				}
				for i := 0; i < cases(2000); i++ {
					b := randBin(r, f, ^uint64(0))
					if r.IntN(2) == 0 {
						e := uint64(int(f.bias) - 2 + r.IntN(int(f.frac)+4))
						b = b&^(f.expMask()<<f.frac) | e<<f.frac
					}
					check(b, imm, randMX(r))
				}
			}
		})
	}
}

func TestSSEDot(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(24, 24))
	fails := 0
	for i := 0; i < cases(20000); i++ {
		imm := uint8(r.Uint32())
		mx := randMX(r)
		dpd := i%2 == 1
		f := f32
		if dpd {
			f = f64
		}
		var a, b [2]uint64
		var want [2]uint64
		var fl uint32
		if dpd {
			for l := 0; l < 2; l++ {
				a[l] = randBin(r, f, ^uint64(0))
				b[l] = randBin(r, f, a[l])
			}
			want, fl = DotF64(a, b, imm, mx)
		} else {
			var a4, b4 [4]uint32
			for l := 0; l < 4; l++ {
				a4[l] = uint32(randBin(r, f, ^uint64(0)))
				b4[l] = uint32(randBin(r, f, uint64(a4[l])))
				a[l/2] |= uint64(a4[l]) << (32 * uint(l%2))
				b[l/2] |= uint64(b4[l]) << (32 * uint(l%2))
			}
			w4, f4 := DotF32(a4, b4, imm, mx)
			want = [2]uint64{uint64(w4[0]) | uint64(w4[1])<<32, uint64(w4[2]) | uint64(w4[3])<<32}
			fl = f4
		}
		opc := byte(0x40)
		if dpd {
			opc = 0x41
		}
		fx := &hostexec.FX{}
		fx.SetCW(0x37f)
		fx.SetMXCSR(mx)
		fx.SetXMM(0, a[0], a[1])
		fx.SetXMM(1, b[0], b[1])
		if err := execFX(t, []byte{0x66, 0x0f, 0x3a, opc, 0xc1, imm}, &hostexec.State{}, fx); err != nil {
			t.Fatal(err)
		}
		lo, hi := fx.XMM(0)
		if (lo != want[0] || hi != want[1] || fx.MXCSR() != mx|fl) && fails < 10 {
			fails++
			t.Errorf("DPP%c(%x:%x, %x:%x, %#x) mxcsr %04x = %x:%x mxcsr %04x, host %x:%x mxcsr %04x", "SD"[i%2],
				a[1], a[0], b[1], b[0], imm, mx, want[1], want[0], mx|fl, hi, lo, fx.MXCSR())
		}
	}
}

// The packed conversions are the scalar lane functions (doc.go's table).
func TestSSEPackedConversions(t *testing.T) {
	needHost(t)
	type conv struct {
		name string
		code []byte
		in   bfmt // source lane format (f32 lanes for int32 sources too)
		out  func(src [4]uint32, src64 [2]uint64, mx uint32) ([2]uint64, uint32)
		d64  bool // source lanes are 64-bit
	}
	i32 := func(v int64) uint64 { return uint64(uint32(v)) }
	convs := []conv{
		{"CVTPS2DQ", []byte{0x66, 0x0f, 0x5b, 0xc1}, f32, func(s [4]uint32, _ [2]uint64, mx uint32) ([2]uint64, uint32) {
			var r [4]uint64
			var fl uint32
			for i := range s {
				v, f := F32ToInt(s[i], mx, 32, false)
				r[i], fl = i32(v), fl|f
			}
			return [2]uint64{r[0] | r[1]<<32, r[2] | r[3]<<32}, fl
		}, false},
		{"CVTTPS2DQ", []byte{0xf3, 0x0f, 0x5b, 0xc1}, f32, func(s [4]uint32, _ [2]uint64, mx uint32) ([2]uint64, uint32) {
			var r [4]uint64
			var fl uint32
			for i := range s {
				v, f := F32ToInt(s[i], mx, 32, true)
				r[i], fl = i32(v), fl|f
			}
			return [2]uint64{r[0] | r[1]<<32, r[2] | r[3]<<32}, fl
		}, false},
		{"CVTDQ2PS", []byte{0x0f, 0x5b, 0xc1}, f32, func(s [4]uint32, _ [2]uint64, mx uint32) ([2]uint64, uint32) {
			var r [4]uint64
			var fl uint32
			for i := range s {
				v, f := IntToF32(int64(int32(s[i])), mx)
				r[i], fl = uint64(v), fl|f
			}
			return [2]uint64{r[0] | r[1]<<32, r[2] | r[3]<<32}, fl
		}, false},
		{"CVTPS2PD", []byte{0x0f, 0x5a, 0xc1}, f32, func(s [4]uint32, _ [2]uint64, mx uint32) ([2]uint64, uint32) {
			a, f1 := F32ToF64(s[0], mx)
			b, f2 := F32ToF64(s[1], mx)
			return [2]uint64{a, b}, f1 | f2
		}, false},
		{"CVTPD2PS", []byte{0x66, 0x0f, 0x5a, 0xc1}, f64, func(_ [4]uint32, s [2]uint64, mx uint32) ([2]uint64, uint32) {
			a, f1 := F64ToF32(s[0], mx)
			b, f2 := F64ToF32(s[1], mx)
			return [2]uint64{uint64(a) | uint64(b)<<32, 0}, f1 | f2
		}, true},
		{"CVTPD2DQ", []byte{0xf2, 0x0f, 0xe6, 0xc1}, f64, func(_ [4]uint32, s [2]uint64, mx uint32) ([2]uint64, uint32) {
			a, f1 := F64ToInt(s[0], mx, 32, false)
			b, f2 := F64ToInt(s[1], mx, 32, false)
			return [2]uint64{i32(a) | i32(b)<<32, 0}, f1 | f2
		}, true},
		{"CVTTPD2DQ", []byte{0x66, 0x0f, 0xe6, 0xc1}, f64, func(_ [4]uint32, s [2]uint64, mx uint32) ([2]uint64, uint32) {
			a, f1 := F64ToInt(s[0], mx, 32, true)
			b, f2 := F64ToInt(s[1], mx, 32, true)
			return [2]uint64{i32(a) | i32(b)<<32, 0}, f1 | f2
		}, true},
		{"CVTDQ2PD", []byte{0xf3, 0x0f, 0xe6, 0xc1}, f32, func(s [4]uint32, _ [2]uint64, mx uint32) ([2]uint64, uint32) {
			a, _ := IntToF64(int64(int32(s[0])), mx)
			b, _ := IntToF64(int64(int32(s[1])), mx)
			return [2]uint64{a, b}, 0
		}, false},
	}
	for _, c := range convs {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(25, uint64(c.code[len(c.code)-2])+uint64(len(c.code))))
			fails := 0
			for i := 0; i < cases(4000); i++ {
				var s4 [4]uint32
				var s2 [2]uint64
				var src [2]uint64
				if c.d64 {
					for l := range s2 {
						s2[l] = randBin(r, f64, ^uint64(0))
						if r.IntN(2) == 0 {
							e := uint64(1023 - 2 + r.IntN(36))
							s2[l] = s2[l]&^(0x7ff<<52) | e<<52
						}
					}
					src = s2
				} else {
					for l := range s4 {
						s4[l] = uint32(randBin(r, f32, ^uint64(0)))
						if r.IntN(2) == 0 {
							e := uint32(127 - 2 + r.IntN(36))
							s4[l] = s4[l]&^(0xff<<23) | e<<23
						}
					}
					src = [2]uint64{uint64(s4[0]) | uint64(s4[1])<<32, uint64(s4[2]) | uint64(s4[3])<<32}
				}
				mx := randMX(r)
				want, fl := c.out(s4, s2, mx)
				fx := &hostexec.FX{}
				fx.SetCW(0x37f)
				fx.SetMXCSR(mx)
				fx.SetXMM(0, 0x5555555555555555, 0x6666666666666666)
				fx.SetXMM(1, src[0], src[1])
				if err := execFX(t, c.code, &hostexec.State{}, fx); err != nil {
					t.Fatal(err)
				}
				lo, hi := fx.XMM(0)
				if (lo != want[0] || hi != want[1] || fx.MXCSR() != mx|fl) && fails < 10 {
					fails++
					t.Errorf("%s(%x:%x) mxcsr %04x = %x:%x mxcsr %04x, host %x:%x mxcsr %04x", c.name,
						src[1], src[0], mx, want[1], want[0], mx|fl, hi, lo, fx.MXCSR())
				}
			}
		})
	}
}

// FCHS and FABS change only the sign bit, of NaNs too, raise nothing and
// clear C1 (doc.go).
func TestX87ChsAbs(t *testing.T) {
	needHost(t)
	for _, a := range extEdges {
		for _, c := range []struct {
			code []byte
			want Ext80
		}{{[]byte{0xd9, 0xe0}, Ext80{Mant: a.Mant, SE: a.SE ^ 0x8000}}, {[]byte{0xd9, 0xe1}, Ext80{Mant: a.Mant, SE: a.SE &^ 0x8000}}} {
			fx := x87Host(t, c.code, 0x37f, a, Ext80{}, nil)
			if st(fx, 0) != c.want || fx.SW() != x87SW(0, 0x37f, 0) {
				t.Errorf("% x on %s = %s sw %04x, want %s sw %04x", c.code, fmtExt(a), fmtExt(st(fx, 0)), fx.SW(), fmtExt(c.want), x87SW(0, 0x37f, 0))
			}
		}
	}
}
