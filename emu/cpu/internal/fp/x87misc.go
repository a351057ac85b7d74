package fp

import "math/bits"

// The exact x87 helpers: FXTRACT, FSCALE, FPREM, FPREM1, FXAM. None is
// affected by precision control.

// Xtract80 is FXTRACT: x = sig × 2^exp with 1 <= |sig| < 2. The caller
// puts exp in ST(0)'s old place and pushes sig (SDM Vol. 2 FXTRACT). A
// zero gives ZE, exp = -inf and sig = the zero.
func Xtract80(x Ext80, cw uint16) (sig, exp Ext80, fl uint32) {
	u := x.unpack()
	switch u.cl {
	case clUnsupported:
		return Indefinite, Indefinite, IE
	case clSNaN:
		return x.quiet(), x.quiet(), IE
	case clQNaN:
		return x, x, 0
	case clInf:
		return x, extInf(false), 0
	case clZero:
		return x, extInf(true), ZE
	case clDenormal:
		fl = DE
		if cw&DE == 0 {
			return x, x, fl
		}
	}
	sig = Ext80{Mant: u.mant, SE: extSign(u.neg) | extBias}
	return sig, FromInt64(int64(u.exp)), fl
}

// Scale80 is FSCALE: a × 2^trunc(b), rounded per cw's rounding control.
func Scale80(a, b Ext80, cw uint16) (Ext80, uint32) {
	ua, ub, r, fl, done := x87Pre(a, b)
	if done {
		return r, fl
	}
	switch {
	case ub.cl == clInf:
		switch {
		case ua.cl == clZero && !ub.neg, ua.cl == clInf && ub.neg:
			return Indefinite, fl | IE
		case ua.cl == clZero || ub.neg:
			return extZero(ua.neg), fl
		}
		return extInf(ua.neg), fl
	case ua.cl == clZero || ua.cl == clInf:
		return a, fl
	}
	var n int32
	if ub.cl != clZero && ub.exp >= 0 {
		if ub.exp > 20 {
			n = 1 << 20
		} else {
			n = int32(ub.mant >> uint(63-ub.exp))
		}
		if ub.neg {
			n = -n
		}
	}
	return x87Round(ua.neg, ua.exp+n, ua.mant, 0, x87ctl64(cw), fl)
}

// Prem80 is FPREM (ieee false: the quotient truncated, as the 8087 did)
// and FPREM1 (ieee true: rounded to nearest, IEEE remainder). It returns
// the partial remainder and, in cc, C2 set when the reduction is
// incomplete (exponents more than 63 apart; run it again) or else the low
// quotient bits in C0 (Q2), C3 (Q1), C1 (Q0). written is which condition
// codes the instruction sets to cc: all four, except after an invalid
// operand, a NaN one or an unmasked DE, when the host clears C1 and C2
// and leaves C0 and C3.
func Prem80(a, b Ext80, cw uint16, ieee bool) (r Ext80, cc, written uint16, fl uint32) {
	r, cc, fl = prem80(a, b, cw, ieee)
	if fl&IE != 0 || r.IsNaN() || fl&^uint32(cw)&DE != 0 {
		return r, 0, C1 | C2, fl
	}
	return r, cc, C0 | C1 | C2 | C3, fl
}

func prem80(a, b Ext80, cw uint16, ieee bool) (r Ext80, cc uint16, fl uint32) {
	ua, ub, r, fl, done := x87Pre(a, b)
	if done {
		return r, 0, fl
	}
	switch {
	case ua.cl == clInf || ub.cl == clZero:
		return Indefinite, 0, IE // no DE for the other operand
	case ua.cl == clZero:
		return a, 0, fl
	case ub.cl == clInf:
		// a itself, but a pseudo-denormal comes back normalized.
		r, fl = x87Round(ua.neg, ua.exp, ua.mant, 0, x87ctl64(cw), fl)
		return r, 0, fl
	}
	if fl != 0 && cw&DE == 0 {
		return a, 0, fl
	}
	d := ua.exp - ub.exp
	neg := ua.neg
	var q, rem uint64
	exp := ub.exp // of bit 63 of rem
	switch {
	case d >= 64:
		// Partial: reduce the exponent by n in 32..63, as the host does.
		n := 32 + d%32
		rem = remShift(ua.mant, ub.mant, uint(n))
		exp = ua.exp - n
		cc = C2
		if rem == 0 {
			return extZero(neg), cc, fl
		}
		hi, _, s := norm128(rem, 0)
		r, fl = x87Round(neg, exp-s, hi, 0, x87ctl64(cw), fl)
		return r, cc, fl &^ C1
	case d >= 0:
		var hi uint64
		if d > 0 {
			hi = ua.mant >> (64 - uint(d))
		}
		q, rem = bits.Div64(hi, ua.mant<<uint(d), ub.mant)
	default:
		rem = ua.mant
		exp = ua.exp
	}
	if ieee && d >= -1 {
		// Round the quotient to nearest even by comparing 2·rem with mb;
		// rounding up makes the remainder mb - rem with the sign flipped.
		if d == -1 {
			// rem is a's significand one exponent below b's.
			if rem > ub.mant {
				q = 1
				rem, neg = subAtLower(ub.mant, rem), !neg
			}
		} else if half := cmp2(rem, ub.mant); half > 0 || (half == 0 && q&1 != 0) {
			q++
			rem, neg = ub.mant-rem, !neg
		}
	}
	cc = uint16(q&4)<<6 | uint16(q&2)<<13 | uint16(q&1)<<9 // C0=Q2 C3=Q1 C1=Q0
	if rem == 0 {
		return extZero(ua.neg), cc, fl
	}
	hi, _, s := norm128(rem, 0)
	r, fl = x87Round(neg, exp-s, hi, 0, x87ctl64(cw), fl)
	return r, cc, fl &^ C1
}

// cmp2 compares 2r with m.
func cmp2(r, m uint64) int {
	switch {
	case r>>63 != 0 || r<<1 > m:
		return 1
	case r<<1 < m:
		return -1
	}
	return 0
}

// subAtLower is 2mb - ma: |b| - |a| at a's exponent (one below b's), for
// ma > mb; the result fits in 64 bits (the wrap in mb - ma cancels).
func subAtLower(mb, ma uint64) uint64 { return mb - ma + mb }

// remShift is (ma × 2^n) mod mb for n < 64.
func remShift(ma, mb uint64, n uint) uint64 {
	var hi uint64
	if n > 0 {
		hi = ma >> (64 - n)
	}
	_, r := bits.Div64(hi, ma<<n, mb)
	return r
}

// Xam80 is FXAM: the class of x in C3, C2, C0 and its sign in C1 (SDM
// Vol. 1 table 8-7). empty is the tag of ST(0), which the caller knows.
func Xam80(x Ext80, empty bool) uint16 {
	var cc uint16
	if x.Neg() {
		cc = C1
	}
	if empty {
		return cc | C3 | C0
	}
	switch x.class() {
	case clUnsupported:
		return cc
	case clQNaN, clSNaN:
		return cc | C0
	case clNormal:
		return cc | C2
	case clInf:
		return cc | C2 | C0
	case clZero:
		return cc | C3
	}
	return cc | C3 | C2 // denormal or pseudo-denormal
}
