package fp

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// x87Load checks a push from [RSI]: the value loaded into ST(0) (TOP=7)
// and the status word, for memory images from gen.
func x87Load(t *testing.T, name string, code []byte, n int, gen func(r *rand.Rand) []byte, op func(m []byte) (Ext80, uint32)) {
	needHost(t)
	r := rand.New(rand.NewPCG(5, uint64(code[1])*5+uint64(n)))
	fails := 0
	for i := 0; i < cases(20000) && fails < 10; i++ {
		m := gen(r)
		cw := uint16(0x037f) | uint16(r.IntN(4))<<10
		fx := x87Host(t, code, cw, Ext80{}, Ext80{}, m)
		// The push makes the physical register of ST(7) ST(0).
		got, fl := op(m)
		want := st(fx, 0)
		if (got != want || x87SW(fl, cw, 7) != fx.SW()) && fails < 10 {
			fails++
			t.Errorf("%s(% x) = %s sw %04x, host %s sw %04x", name, m, fmtExt(got), x87SW(fl, cw, 7), fmtExt(want), fx.SW())
		}
	}
}

func randBits(r *rand.Rand, n int, f bfmt) []byte {
	b := make([]byte, 8)
	var v uint64
	e := f.expMask()
	switch r.IntN(6) {
	case 0:
		v = r.Uint64() & f.fracMask() // zero or denormal
	case 1:
		v = e<<f.frac | r.Uint64()&f.fracMask()>>uint(r.IntN(int(f.frac)+1)) // inf or NaN
	default:
		v = r.Uint64()
	}
	if r.IntN(2) == 0 {
		v |= f.signBit()
	}
	binary.LittleEndian.PutUint64(b, v)
	return b[:n]
}

func TestX87Loads(t *testing.T) {
	x87Load(t, "FLD m32", []byte{0xd9, 0x06}, 4, func(r *rand.Rand) []byte { return randBits(r, 4, f32) },
		func(m []byte) (Ext80, uint32) { return F32ToExt80(binary.LittleEndian.Uint32(m)) })
	x87Load(t, "FLD m64", []byte{0xdd, 0x06}, 8, func(r *rand.Rand) []byte { return randBits(r, 8, f64) },
		func(m []byte) (Ext80, uint32) { return F64ToExt80(binary.LittleEndian.Uint64(m)) })
	ints := func(n int) func(r *rand.Rand) []byte {
		return func(r *rand.Rand) []byte {
			b := make([]byte, 8)
			binary.LittleEndian.PutUint64(b, r.Uint64()>>uint(r.IntN(64)))
			if r.IntN(2) == 0 {
				binary.LittleEndian.PutUint64(b, -binary.LittleEndian.Uint64(b))
			}
			return b[:n]
		}
	}
	x87Load(t, "FILD m16", []byte{0xdf, 0x06}, 2, ints(2),
		func(m []byte) (Ext80, uint32) { return FromInt64(int64(int16(binary.LittleEndian.Uint16(m)))), 0 })
	x87Load(t, "FILD m32", []byte{0xdb, 0x06}, 4, ints(4),
		func(m []byte) (Ext80, uint32) { return FromInt64(int64(int32(binary.LittleEndian.Uint32(m)))), 0 })
	x87Load(t, "FILD m64", []byte{0xdf, 0x2e}, 8, ints(8),
		func(m []byte) (Ext80, uint32) { return FromInt64(int64(binary.LittleEndian.Uint64(m))), 0 })
	x87Load(t, "FBLD", []byte{0xdf, 0x26}, 10, randBCD,
		func(m []byte) (Ext80, uint32) { return FromBCD([10]byte(m)), 0 })
}

func randBCD(r *rand.Rand) []byte {
	b := make([]byte, 10)
	nd := r.IntN(19)
	for i := 0; i < nd; i++ {
		b[i/2] |= byte(r.IntN(10)) << (4 * uint(i%2))
	}
	if r.IntN(2) == 0 {
		b[9] = 0x80
	}
	return b
}

func TestX87Fbstp(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(6, 6))
	sentinel := make([]byte, 10)
	for i := range sentinel {
		sentinel[i] = 0xa5
	}
	fails := 0
	check := func(a Ext80, cw uint16) {
		fx := x87Host(t, []byte{0xdf, 0x36}, cw, a, Ext80{}, sentinel)
		v, fl := ToBCD(a, cw)
		got := [10]byte(sentinel)
		if fl&^uint32(cw)&0x1f == 0 {
			got = v
		}
		want := [10]byte(fx.Mem[:10])
		sw := x87SW(fl, cw, 0)
		if (got != want || sw != fx.SW()&^0x3800) && fails < 10 {
			fails++
			t.Errorf("FBSTP(%s) cw %04x = % x sw %04x, host % x sw %04x", fmtExt(a), cw, got, sw, want, fx.SW())
		}
	}
	for _, cw := range x87Modes() {
		for _, a := range extEdges {
			check(a, cw)
		}
	}
	for i := 0; i < cases(20000); i++ {
		a := randExt(r)
		if r.IntN(2) == 0 {
			a.SE = a.SE&0x8000 | uint16(0x3fff-3+r.IntN(66))
			a.Mant |= 1 << 63
		}
		if r.IntN(8) == 0 { // around 10^18
			a = FromInt64(bcdMax - 2 + int64(r.IntN(4)))
			a.Mant += uint64(r.IntN(3)) - 1
		}
		check(a, randCW(r))
	}
}
