package fp

import (
	"math"
	"math/bits"
)

// f128 is the working precision of the transcendental instructions: a
// 128-bit significand (bit 127 set unless zero), the exponent of bit 127
// and a sign. Operations truncate, so each is good to about 2^-126
// relative; the results are rounded to 64 bits once, at the end.
type f128 struct {
	neg    bool
	exp    int32
	hi, lo uint64
}

func (a f128) zero() bool { return a.hi == 0 }

func (a f128) negate() f128 {
	a.neg = !a.neg
	return a
}

func (a f128) scale(n int32) f128 {
	if !a.zero() {
		a.exp += n
	}
	return a
}

func f128FromUnpacked(u unpacked) f128 {
	if u.cl == clZero {
		return f128{neg: u.neg}
	}
	return f128{neg: u.neg, exp: u.exp, hi: u.mant}
}

func f128FromInt(v int64) f128 {
	if v == 0 {
		return f128{}
	}
	neg := v < 0
	m := uint64(v)
	if neg {
		m = -m
	}
	hi, _, n := norm128(m, 0)
	return f128{neg: neg, exp: 63 - n, hi: hi}
}

var f128One = f128{hi: 1 << 63}

// f128FromFloat converts a normal float64.
func f128FromFloat(x float64) f128 {
	b := math.Float64bits(x)
	return f128{neg: b>>63 != 0, exp: int32(b>>52&0x7ff) - 1023, hi: (1<<52 | b&(1<<52-1)) << 11}
}

// approx is a's significand as a float64 in [1, 2).
func (a f128) approx() float64 { return float64(a.hi>>11) / (1 << 52) }

func (a f128) mul(b f128) f128 {
	if a.zero() || b.zero() {
		return f128{neg: a.neg != b.neg}
	}
	h, l := bits.Mul64(a.hi, b.hi)
	h2, _ := bits.Mul64(a.hi, b.lo)
	h3, _ := bits.Mul64(a.lo, b.hi)
	var c uint64
	l, c = bits.Add64(l, h2, 0)
	h += c
	l, c = bits.Add64(l, h3, 0)
	h += c
	r := f128{neg: a.neg != b.neg, exp: a.exp + b.exp + 1, hi: h, lo: l}
	if h>>63 == 0 {
		r.hi, r.lo = h<<1|l>>63, l<<1
		r.exp--
	}
	return r
}

func (a f128) add(b f128) f128 {
	if b.zero() {
		return a
	}
	if a.zero() {
		return b
	}
	if b.exp > a.exp || (b.exp == a.exp && (b.hi > a.hi || (b.hi == a.hi && b.lo > a.lo))) {
		a, b = b, a
	}
	// Bits of b shifted out are dropped from a sum (a truncation, so the
	// result is at or below the truth) but round b's magnitude up for a
	// difference, so that both stay at or below: round's sticky bit then
	// always points the right way, which the directed roundings of
	// x - tiny need.
	d := a.exp - b.exp
	bh, bl := b.hi, b.lo
	lost := false
	switch {
	case d >= 128:
		bh, bl, lost = 0, 0, true
	case d >= 64:
		lost = bl != 0 || bh<<(128-uint(d)) != 0
		bh, bl = 0, bh>>(uint(d)-64)
	case d > 0:
		lost = bl<<(64-uint(d)) != 0
		bh, bl = bh>>uint(d), bl>>uint(d)|bh<<(64-uint(d))
	}
	if lost && a.neg != b.neg {
		var c uint64
		bl, c = bits.Add64(bl, 1, 0)
		bh += c
	}
	if a.neg == b.neg {
		l, c := bits.Add64(a.lo, bl, 0)
		h, c2 := bits.Add64(a.hi, bh, c)
		if c2 != 0 {
			return f128{neg: a.neg, exp: a.exp + 1, hi: 1<<63 | h>>1, lo: l>>1 | h<<63}
		}
		return f128{neg: a.neg, exp: a.exp, hi: h, lo: l}
	}
	l, bw := bits.Sub64(a.lo, bl, 0)
	h, _ := bits.Sub64(a.hi, bh, bw)
	if h|l == 0 {
		return f128{}
	}
	h, l, n := norm128(h, l)
	return f128{neg: a.neg, exp: a.exp - n, hi: h, lo: l}
}

func (a f128) sub(b f128) f128 { return a.add(b.negate()) }

// recip is 1/a by Newton's iteration from a float64 estimate.
func (a f128) recip() f128 {
	x := f128FromFloat(1 / a.approx()).scale(-a.exp)
	x.neg = a.neg
	two := f128{exp: 1, hi: 1 << 63}
	for i := 0; i < 2; i++ {
		x = x.mul(two.sub(a.mul(x)))
	}
	return x
}

func (a f128) div(b f128) f128 { return a.mul(b.recip()) }

// divU divides by a small positive integer exactly to 128 bits.
func (a f128) divU(n uint64) f128 {
	if a.zero() {
		return a
	}
	q1, r := bits.Div64(0, a.hi, n)
	q2, r := bits.Div64(r, a.lo, n)
	q3, _ := bits.Div64(r, 0, n)
	h, l, s := norm128(q1, q2)
	if s > 0 {
		l |= q3 >> (64 - uint(s))
	}
	return f128{neg: a.neg, exp: a.exp - s, hi: h, lo: l}
}

// sqrt of a non-negative a, through 1/sqrt(a) by Newton's iteration.
func (a f128) sqrt() f128 {
	if a.zero() {
		return a
	}
	e := a.exp
	m := a.approx()
	if e&1 != 0 {
		m *= 2
		e--
	}
	y := f128FromFloat(1 / math.Sqrt(m)).scale(-e / 2)
	three := f128{exp: 1, hi: 3 << 62}
	for i := 0; i < 2; i++ {
		y = y.mul(three.sub(a.mul(y).mul(y))).scale(-1)
	}
	return a.mul(y)
}

// round packs a (an inexact approximation) as an 80-bit result.
func (a f128) round(c rctl) (Ext80, uint32) {
	if a.zero() {
		return extZero(a.neg), 0
	}
	r := roundPack(a.neg, a.exp, a.hi, a.lo|1, c)
	return r.ext(a.neg), r.flags
}

// 128-bit constants.
var (
	f128Pi   = f128{exp: 1, hi: 0xc90fdaa22168c234, lo: 0xc4c6628b80dc1cd1}
	f128Ln2  = f128{exp: -1, hi: 0xb17217f7d1cf79ab, lo: 0xc9e3b39803f2f6af}
	f128L2E  = f128{exp: 0, hi: 0xb8aa3b295c17f0bb, lo: 0xbe87fed0691d3e88}
	f128Pi66 = f128{exp: 1, hi: 0xc90fdaa22168c234, lo: 0xc000000000000000} // the x87's reduction constant
)
