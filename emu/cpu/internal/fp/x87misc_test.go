package fp

import (
	"math/rand/v2"
	"testing"
)

// x87Pair checks an instruction computing ST(0) (and condition codes)
// from ST(0), ST(1).
func x87Pair(t *testing.T, name string, code []byte, gen func(r *rand.Rand) (Ext80, Ext80),
	op func(a, b Ext80, cw uint16) (Ext80, uint16, uint16, uint32)) {
	needHost(t)
	r := rand.New(rand.NewPCG(13, uint64(code[1])))
	fails := 0
	check := func(a, b Ext80, cw uint16) {
		fx := x87Host(t, code, cw, a, b, nil)
		got, cc, written, fl := op(a, b, cw)
		got = x87Store(a, got, fl, cw)
		want, wsw := st(fx, 0), fx.SW()
		sw := x87SWcc(fl, cw, 0, cc|uint16(fl)&C1, written)
		if (got != want || sw != wsw) && fails < 10 {
			fails++
			t.Errorf("%s(%s, %s) cw %04x = %s sw %04x, host %s sw %04x", name,
				fmtExt(a), fmtExt(b), cw, fmtExt(got), sw, fmtExt(want), wsw)
		}
	}
	for _, cw := range x87Modes() {
		for _, a := range extEdges {
			for _, b := range extEdges {
				check(a, b, cw)
			}
		}
	}
	for i := 0; i < cases(20000); i++ {
		a, b := gen(r)
		check(a, b, randCW(r))
	}
}

func TestX87Scale(t *testing.T) {
	x87Pair(t, "FSCALE", []byte{0xd9, 0xfd}, func(r *rand.Rand) (Ext80, Ext80) {
		a := randExt(r)
		if r.IntN(2) == 0 {
			return a, randExt(r)
		}
		// A scale that reaches the ends of the range, integral or not.
		n := int64(r.IntN(70000)) - 35000
		b := FromInt64(n)
		if r.IntN(3) == 0 {
			b.SE = b.SE&0x8000 | uint16(0x3fff+r.IntN(20)-4)
			b.Mant = r.Uint64() | 1<<63
		}
		return a, b
	}, func(a, b Ext80, cw uint16) (Ext80, uint16, uint16, uint32) {
		r, fl := Scale80(a, b, cw)
		return r, 0, C1, fl
	})
}

func premGen(r *rand.Rand) (Ext80, Ext80) {
	a := randExt(r)
	b := randExt(r)
	if r.IntN(2) == 0 && a.class() == clNormal {
		// Exponents 0..130 apart: the complete and the partial reduction.
		e := int(a.SE&0x7fff) - r.IntN(130)
		if r.IntN(4) == 0 {
			e = int(a.SE&0x7fff) + 1 - r.IntN(3)
		}
		if e > 0 && e < 0x7fff {
			b = Ext80{Mant: r.Uint64() | 1<<63, SE: uint16(r.IntN(2))<<15 | uint16(e)}
			if r.IntN(4) == 0 {
				b.Mant = a.Mant ^ r.Uint64()>>uint(r.IntN(64))
				b.Mant |= 1 << 63
			}
		}
	}
	return a, b
}

func TestX87Prem(t *testing.T) {
	x87Pair(t, "FPREM", []byte{0xd9, 0xf8}, premGen, func(a, b Ext80, cw uint16) (Ext80, uint16, uint16, uint32) {
		return Prem80(a, b, cw, false)
	})
}

func TestX87Prem1(t *testing.T) {
	x87Pair(t, "FPREM1", []byte{0xd9, 0xf5}, premGen, func(a, b Ext80, cw uint16) (Ext80, uint16, uint16, uint32) {
		return Prem80(a, b, cw, true)
	})
}

func TestX87Xtract(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(14, 14))
	fails := 0
	check := func(a Ext80, cw uint16) {
		fx := x87Host(t, []byte{0xd9, 0xf4}, cw, a, Ext80{}, nil)
		sig, exp, fl := Xtract80(a, cw)
		sw := x87SW(fl, cw, 7)
		if fl&^uint32(cw)&(IE|DE|ZE) != 0 {
			sw = x87SW(fl, cw, 0) // nothing pushed
			sig, exp = a, Ext80{}
		}
		if (sig != st(fx, 0) || exp != st(fx, 1) || sw != fx.SW()) && fails < 10 {
			fails++
			t.Errorf("FXTRACT(%s) cw %04x = %s %s sw %04x, host %s %s sw %04x", fmtExt(a), cw,
				fmtExt(sig), fmtExt(exp), sw, fmtExt(st(fx, 0)), fmtExt(st(fx, 1)), fx.SW())
		}
	}
	for _, cw := range x87Modes() {
		for _, a := range extEdges {
			check(a, cw)
		}
	}
	for i := 0; i < cases(20000); i++ {
		check(randExt(r), randCW(r))
	}
}

func TestX87Xam(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(15, 15))
	check := func(a Ext80) {
		fx := x87Host(t, []byte{0xd9, 0xe5}, 0x37f, a, Ext80{}, nil)
		if got := Xam80(a, false); x87SWcc(0, 0x37f, 0, got, C0|C1|C2|C3) != fx.SW() {
			t.Errorf("FXAM(%s) = %04x, host %04x", fmtExt(a), got, fx.SW())
		}
	}
	for _, a := range extEdges {
		check(a)
	}
	for i := 0; i < cases(2000); i++ {
		check(randExt(r))
	}
	// ST(0) empty: FINCSTP makes the empty R1... use FFREE ST(0) first.
	fx := x87Host(t, []byte{0xdd, 0xc0, 0xd9, 0xe5}, 0x37f, Ext80{Mant: 1 << 63, SE: 0xbfff}, Ext80{}, nil)
	if got := Xam80(Ext80{Mant: 1 << 63, SE: 0xbfff}, true); x87SWcc(0, 0x37f, 0, got, C0|C1|C2|C3) != fx.SW() {
		t.Errorf("FXAM(empty) = %04x, host %04x", got, fx.SW())
	}
}

func TestX87Tst(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(16, 16))
	check := func(a Ext80, cw uint16) {
		fx := x87Host(t, []byte{0xd9, 0xe4}, cw, a, Ext80{}, nil)
		cc, fl := Compare80(a, Ext80{}, false)
		if sw := x87SWcc(fl, cw, 0, cc, C0|C1|C2|C3); sw != fx.SW() {
			t.Errorf("FTST(%s) cw %04x = %04x, host %04x", fmtExt(a), cw, sw, fx.SW())
		}
	}
	for _, a := range extEdges {
		check(a, 0x37f)
	}
	for i := 0; i < cases(2000); i++ {
		check(randExt(r), randCW(r))
	}
}

func TestX87Consts(t *testing.T) {
	needHost(t)
	for which := 0; which < 5; which++ {
		for rc := uint16(0); rc < 4; rc++ {
			for _, pc := range []uint16{0, 2, 3} {
				cw := 0x7f | rc<<10 | pc<<8
				fx := x87Host(t, []byte{0xd9, 0xe9 + byte(which)}, cw, Ext80{}, Ext80{}, nil)
				got := Const80(which, cw)
				if got != st(fx, 0) || x87SW(0, cw, 7) != fx.SW() {
					t.Errorf("constant %d cw %04x = %s, host %s sw %04x", which, cw, fmtExt(got), fmtExt(st(fx, 0)), fx.SW())
				}
			}
		}
	}
}
