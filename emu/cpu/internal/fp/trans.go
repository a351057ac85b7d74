package fp

import "math/bits"

// The x87 transcendental instructions. Each is evaluated in f128 and
// rounded once to 64 bits under the rounding control (precision control
// does not apply). FSIN, FCOS, FSINCOS and FPTAN reduce their argument by
// multiples of π/2 using the x87's own 66-bit π (0xC90FDAA22168C234C ×
// 2^-66) exactly, as the host does, so results near multiples of π match
// the hardware rather than the true function.

// evalSin is the Taylor series of sin r for |r| <= π/4.
func evalSin(r f128) f128 {
	r2 := r.mul(r)
	term, sum := r, r
	for n := uint64(2); n < 60; n += 2 {
		term = term.mul(r2).divU(n * (n + 1)).negate()
		sum = sum.add(term)
		if term.zero() || term.exp < sum.exp-132 {
			break
		}
	}
	return sum
}

// evalCos is the Taylor series of cos r for |r| <= π/4.
func evalCos(r f128) f128 {
	r2 := r.mul(r)
	term, sum := f128One, f128One
	for n := uint64(1); n < 60; n += 2 {
		term = term.mul(r2).divU(n * (n + 1)).negate()
		sum = sum.add(term)
		if term.zero() || term.exp < sum.exp-132 {
			break
		}
	}
	return sum
}

// pio2 is the x87's π/2 as a 66-bit integer scaled by 2^-65.
const (
	pio2Hi = 0x3
	pio2Lo = 0x243f6a8885a308d3
)

// reduce returns r = |x| - k·π66/2 with |r| <= about π/4, exactly, and
// k. x is finite, non-zero, with exp < 63; the callers apply x's sign.
func reduce(u unpacked) (f128, uint64) {
	r := f128FromUnpacked(u)
	r.neg = false
	// |x| <= π/4 (0xc90fdaa22168c235 × 2^-64, a bound just above it) needs nothing.
	if u.exp < -1 || (u.exp == -1 && u.mant <= 0xc90fdaa22168c234) {
		return r, 0
	}
	// X = |x| × 2^65 as a 128-bit integer (exp <= 62 keeps it in range).
	s := uint(u.exp + 2)
	xh, xl := u.mant>>(64-s), u.mant<<s
	if s == 64 {
		xh, xl = u.mant, 0
	}
	// k ≈ X / C' from the f128 quotient, then corrected exactly.
	c := f128{exp: 65, hi: pio2Hi<<62 | pio2Lo>>2, lo: uint64(pio2Lo&3) << 62}
	q := r.div(c.scale(-65))
	var k uint64
	if q.exp >= 0 {
		k = q.hi >> uint(63-q.exp)
		if q.exp < 63 && (q.hi>>uint(62-q.exp))&1 != 0 {
			k++
		}
	} else if q.exp == -1 {
		k = 1
	}
	rh, rl := remC(xh, xl, k)
	// Keep |R| <= C'/2: adjust k by one if the estimate missed.
	for i := 0; i < 2; i++ {
		if int64(rh) >= 0 && (rh > pio2Hi>>1 || (rh == pio2Hi>>1 && rl > (pio2Hi&1)<<63|pio2Lo>>1)) {
			k++
			rh, rl = remC(xh, xl, k)
		} else if int64(rh) < 0 {
			nh, nl := neg128(rh, rl)
			if nh > pio2Hi>>1 || (nh == pio2Hi>>1 && nl > (pio2Hi&1)<<63|pio2Lo>>1) {
				k--
				rh, rl = remC(xh, xl, k)
			}
		}
	}
	neg := int64(rh) < 0
	if neg {
		rh, rl = neg128(rh, rl)
	}
	if rh|rl == 0 {
		return f128{}, k
	}
	h, l, n := norm128(rh, rl)
	return f128{neg: neg, exp: 127 - n - 65, hi: h, lo: l}, k
}

// remC is X - k·C' modulo 2^128 (the true value is small).
func remC(xh, xl, k uint64) (uint64, uint64) {
	ph, pl := bits.Mul64(k, pio2Lo)
	ph += k * pio2Hi
	l, b := bits.Sub64(xl, pl, 0)
	h, _ := bits.Sub64(xh, ph, b)
	return h, l
}

func neg128(h, l uint64) (uint64, uint64) {
	l, b := bits.Sub64(0, l, 0)
	h, _ = bits.Sub64(0, h, b)
	return h, l
}

// trigPre handles FSIN/FCOS/FSINCOS/FPTAN operands: NaNs, infinities,
// unsupported encodings and |x| >= 2^63 (C2 set, the operand unchanged:
// outOfRange) end it.
func trigPre(a Ext80, cw uint16) (u unpacked, r Ext80, fl uint32, done, outOfRange bool) {
	u = a.unpack()
	switch u.cl {
	case clUnsupported, clInf:
		return u, Indefinite, IE, true, false
	case clSNaN:
		return u, a.quiet(), IE, true, false
	case clQNaN:
		return u, a, 0, true, false
	case clDenormal:
		fl = DE
		if cw&DE == 0 {
			return u, a, fl, true, false
		}
	}
	if u.cl != clZero && u.exp >= 63 {
		return u, a, 0, true, true
	}
	return u, r, fl, false, false
}

// sinCos returns sin x (or cos x) from the reduced argument r and quadrant k.
func sinCos(r f128, k uint64, cos bool) f128 {
	if cos {
		k++
	}
	var v f128
	if k&1 == 0 {
		v = evalSin(r)
	} else {
		v = evalCos(r)
	}
	if k&2 != 0 {
		v = v.negate()
	}
	return v
}

// Sin80 is FSIN; cc is C2 (set when |x| >= 2^63 left x unreduced).
func Sin80(a Ext80, cw uint16) (Ext80, uint16, uint32) {
	u, r, fl, done, oor := trigPre(a, cw)
	if oor {
		return a, C2, 0
	}
	if done {
		return r, 0, fl
	}
	if u.cl == clZero {
		return a, 0, fl
	}
	x, k := reduce(u)
	v := sinCos(x, k, false)
	v.neg = v.neg != u.neg
	r, f := v.round(x87ctl64(cw))
	return r, 0, fl | f
}

// Cos80 is FCOS.
func Cos80(a Ext80, cw uint16) (Ext80, uint16, uint32) {
	u, r, fl, done, oor := trigPre(a, cw)
	if oor {
		return a, C2, 0
	}
	if done {
		return r, 0, fl
	}
	if u.cl == clZero {
		return Ext80{Mant: 1 << 63, SE: extBias}, 0, fl
	}
	x, k := reduce(u)
	r, f := sinCos(x, k, true).round(x87ctl64(cw))
	return r, 0, fl | f
}

// SinCos80 is FSINCOS: sin replaces ST(0), then cos is pushed. The flags
// (and C1) are the two roundings' together.
func SinCos80(a Ext80, cw uint16) (sin, cos Ext80, cc uint16, fl uint32) {
	u, r, fl, done, oor := trigPre(a, cw)
	if oor {
		return a, a, C2, 0
	}
	if done {
		return r, r, 0, fl
	}
	if u.cl == clZero {
		return a, Ext80{Mant: 1 << 63, SE: extBias}, 0, fl
	}
	x, k := reduce(u)
	c := x87ctl64(cw)
	sv := sinCos(x, k, false)
	sv.neg = sv.neg != u.neg
	s, f1 := sv.round(c)
	co, f2 := sinCos(x, k, true).round(c)
	return s, co, 0, fl | f1 | f2&^C1
}

// Tan80 is FPTAN: tan replaces ST(0), then 1.0 is pushed.
func Tan80(a Ext80, cw uint16) (Ext80, uint16, uint32) {
	u, r, fl, done, oor := trigPre(a, cw)
	if oor {
		return a, C2, 0
	}
	if done {
		return r, 0, fl
	}
	if u.cl == clZero {
		return a, 0, fl
	}
	x, k := reduce(u)
	s, co := evalSin(x), evalCos(x)
	var t f128
	switch {
	case x.exp < -40 && k&1 == 0:
		// tan r = r + r³/3 + ...: the quotient would lose which side
		// of r the value lies, which the directed roundings need.
		t = x.add(x.mul(x).mul(x).divU(3))
	case k&1 == 0:
		t = s.div(co)
	default:
		t = co.div(s).negate()
	}
	t.neg = t.neg != u.neg
	r, f := t.round(x87ctl64(cw))
	return r, 0, fl | f
}

// F2xm1 is F2XM1: 2^x - 1, for -1 <= x <= 1.
func F2xm1(a Ext80, cw uint16) (Ext80, uint32) {
	u := a.unpack()
	switch u.cl {
	case clUnsupported:
		return Indefinite, IE
	case clSNaN:
		return a.quiet(), IE
	case clQNaN, clZero:
		return a, 0
	case clInf:
		if u.neg {
			return Ext80{Mant: 1 << 63, SE: 0x8000 | extBias}, 0
		}
		return a, 0
	}
	var fl uint32
	if u.cl == clDenormal {
		fl = DE
		if cw&DE == 0 {
			return a, fl
		}
	}
	if u.exp > 0 || (u.exp == 0 && u.mant != 1<<63) {
		// Outside [-1, 1] the SDM leaves the result undefined; the host
		// returns the operand and reports PE.
		return a, fl | PE
	}
	// expm1(x·ln2) by its Taylor series.
	y := f128FromUnpacked(u).mul(f128Ln2)
	term, sum := y, y
	for n := uint64(2); n < 80; n++ {
		term = term.mul(y).divU(n)
		sum = sum.add(term)
		if term.zero() || term.exp < sum.exp-132 {
			break
		}
	}
	r, f := sum.round(x87ctl64(cw))
	return r, fl | f
}

// lnSeries is 2·atanh(s) = ln((1+s)/(1-s)) for small |s|.
func lnSeries(s f128) f128 {
	s2 := s.mul(s)
	pow, sum := s, s
	for n := uint64(3); n < 200; n += 2 {
		pow = pow.mul(s2)
		term := pow.divU(n)
		sum = sum.add(term)
		if term.zero() || term.exp < sum.exp-132 {
			break
		}
	}
	return sum.scale(1)
}

// log2 of a positive finite u, and whether it is exact (u a power of two).
func log2f(u unpacked) f128 {
	e := u.exp
	m := f128{exp: 0, hi: u.mant}
	// m in [sqrt(1/2), sqrt(2)).
	if u.mant > 0xb504f333f9de6484 {
		m.exp = -1
		e++
	}
	s := m.sub(f128One).div(m.add(f128One))
	return lnSeries(s).mul(f128L2E).add(f128FromInt(int64(e)))
}

// Yl2x is FYL2X: y·log2(x) (x is ST(0), y ST(1); the result replaces
// ST(1) and the stack pops).
func Yl2x(x, y Ext80, cw uint16) (Ext80, uint32) {
	ux, uy, r, fl, done := x87Pre(x, y)
	if done {
		return r, fl
	}
	switch {
	case ux.neg && ux.cl != clZero:
		return Indefinite, IE
	case ux.cl == clZero:
		if uy.cl == clZero {
			return Indefinite, IE
		}
		if uy.cl == clInf {
			return extInf(!uy.neg), fl
		}
		return extInf(!uy.neg), ZE // no DE for a denormal y
	case ux.cl == clInf:
		if uy.cl == clZero {
			return Indefinite, IE
		}
		return extInf(uy.neg), fl
	}
	one := ux.mant == 1<<63 && ux.exp == 0
	below := ux.exp < 0 // 0 < x < 1
	switch {
	case uy.cl == clInf:
		if one {
			return Indefinite, IE
		}
		return extInf(uy.neg != below), fl
	case uy.cl == clZero || one:
		return extZero(uy.neg != below), fl
	}
	if fl != 0 && cw&DE == 0 {
		return Ext80{}, fl
	}
	c := x87ctl64(cw)
	if ux.mant == 1<<63 {
		// x = 2^e: y·e, exactly then rounded.
		e := int64(ux.exp)
		neg := uy.neg != (e < 0)
		if e < 0 {
			e = -e
		}
		hi, _, n := norm128(uint64(e), 0)
		pe, ph, pl := mulMag(uy.exp, uy.mant, 63-n, hi)
		// The host reports PE even when this product is exact.
		return x87Round(neg, pe, ph, pl|1, c, fl)
	}
	r, f := log2f(ux).mul(f128FromUnpacked(uy)).round(c)
	return r, fl | f
}

// Yl2xp1 is FYL2XP1: y·log2(x+1), for |x| < 1 - sqrt(2)/2.
func Yl2xp1(x, y Ext80, cw uint16) (Ext80, uint32) {
	ux, uy, r, fl, done := x87Pre(x, y)
	if done {
		return r, fl
	}
	switch {
	case ux.cl == clInf || (ux.cl == clZero && uy.cl == clInf):
		return Indefinite, IE
	case ux.cl == clZero || uy.cl == clZero:
		return extZero(ux.neg != uy.neg), fl
	case uy.cl == clInf:
		return extInf(ux.neg != uy.neg), fl
	}
	if fl != 0 && cw&DE == 0 {
		return Ext80{}, fl
	}
	xf := f128FromUnpacked(ux)
	s := xf.div(xf.add(f128{exp: 1, hi: 1 << 63}))
	r, f := lnSeries(s).mul(f128L2E).mul(f128FromUnpacked(uy)).round(x87ctl64(cw))
	return r, fl | f
}

// atanSeries is atan(t) for 0 <= t <= 1: halve the angle until t <= 1/8,
// then the Taylor series.
func atanSeries(t f128) f128 {
	halvings := int32(0)
	for !t.zero() && t.exp >= -3 {
		t = t.div(f128One.add(f128One.add(t.mul(t)).sqrt()))
		halvings++
	}
	t2 := t.mul(t)
	pow, sum := t, t
	for n := uint64(3); n < 200; n += 2 {
		pow = pow.mul(t2).negate()
		term := pow.divU(n)
		sum = sum.add(term)
		if term.zero() || term.exp < sum.exp-132 {
			break
		}
	}
	return sum.scale(halvings)
}

// Patan is FPATAN: atan(y/x) in the quadrant of (x, y) (x is ST(0), y
// ST(1); the result replaces ST(1) and the stack pops).
func Patan(x, y Ext80, cw uint16) (Ext80, uint32) {
	ux, uy, r, fl, done := x87Pre(x, y)
	if done {
		return r, fl
	}
	c := x87ctl64(cw)
	pi := f128Pi
	var v f128
	switch {
	case uy.cl == clZero:
		if ux.neg {
			v = pi
		} else {
			return extZero(uy.neg), fl
		}
	case ux.cl == clZero:
		v = pi.scale(-1)
	case uy.cl == clInf && ux.cl == clInf:
		v = pi.scale(-2)
		if ux.neg {
			v = pi.scale(-2).mul(f128FromInt(3))
		}
	case uy.cl == clInf:
		v = pi.scale(-1)
	case ux.cl == clInf:
		if ux.neg {
			v = pi
		} else {
			return extZero(uy.neg), fl
		}
	default:
		if fl != 0 && cw&DE == 0 {
			return Ext80{}, fl
		}
		ax, ay := f128FromUnpacked(ux), f128FromUnpacked(uy)
		ax.neg, ay.neg = false, false
		if uy.exp > ux.exp || (uy.exp == ux.exp && uy.mant > ux.mant) {
			v = pi.scale(-1).sub(atanSeries(ax.div(ay)))
		} else {
			v = atanSeries(ay.div(ax))
		}
		if ux.neg {
			v = pi.sub(v)
		}
	}
	v.neg = uy.neg
	r, f := v.round(c)
	return r, fl | f
}
