package fp

import (
	"math"
	"math/bits"
)

// rctl says how a result is rounded and packed: the significand
// precision, the exponent range of normal numbers (unbiased), the rounding
// mode, and the masked or unmasked responses to underflow and overflow.
type rctl struct {
	prec       uint // significand bits including the integer bit (24, 53, 64)
	emin, emax int32
	rc         uint8
	ftz        bool  // SSE flush-to-zero (only with underflow masked)
	umask      bool  // underflow masked
	omask      bool  // overflow masked
	dmask      bool  // denormal operand masked (x87: unmasked stops before rounding)
	rebias     int32 // x87 unmasked OE/UE exponent adjust (24576); 0 for SSE
}

// rounded is a packed result: mant holds the significand with the integer
// bit at bit 63 (clear for denormals and zero), exp is its unbiased
// exponent (emin for denormals and zero), inf marks infinity.
type rounded struct {
	mant  uint64
	exp   int32
	inf   bool
	flags uint32 // PE, UE, OE and C1
}

// keep splits hi:lo (bit 127 set) into its top k bits q, the round bit and
// the sticky bit below it; k may be 0 or negative (all bits below q).
func keep(hi, lo uint64, k int) (q uint64, rb, sticky bool) {
	switch s := 64 - k; {
	case s == 0:
		return hi, lo>>63 != 0, lo<<1 != 0
	case s > 0 && s < 64:
		return hi >> uint(s), (hi>>uint(s-1))&1 != 0, hi&(1<<uint(s-1)-1) != 0 || lo != 0
	case s == 64:
		return 0, hi>>63 != 0, hi<<1 != 0 || lo != 0
	default:
		return 0, false, true
	}
}

// roundUp reports whether the kept bits q round away from zero.
func roundUp(neg bool, q uint64, rb, sticky bool, rc uint8) bool {
	switch rc {
	case RoundNearest:
		return rb && (sticky || q&1 != 0)
	case RoundDown:
		return neg && (rb || sticky)
	case RoundUp:
		return !neg && (rb || sticky)
	}
	return false
}

// roundPack rounds the non-zero value (-1)^neg × hi:lo × 2^(exp-127),
// hi's bit 63 set, into c's format. x86 detects tininess after rounding
// (the result rounded to c.prec bits with an unbounded exponent is below
// the smallest normal), and a masked underflow is flagged only when the
// denormalized result is also inexact (SDM Vol. 1 §4.9.1.5).
func roundPack(neg bool, exp int32, hi, lo uint64, c rctl) rounded {
	var r rounded
	tiny := exp < c.emin
	if exp == c.emin-1 {
		q, rb, st := keep(hi, lo, int(c.prec))
		if roundUp(neg, q, rb, st, c.rc) && q+1 == 1<<c.prec {
			tiny = false
		}
	}
	if tiny && c.umask {
		if c.ftz {
			r.exp = c.emin
			r.flags = UE | PE
			return r
		}
		k := int(c.prec) - int(c.emin-exp)
		if k < -1 {
			k = -1
		}
		q, rb, st := keep(hi, lo, k)
		if rb || st {
			r.flags = UE | PE
			if roundUp(neg, q, rb, st, c.rc) {
				q++
				r.flags |= C1
			}
		}
		r.mant = q << (64 - c.prec)
		r.exp = c.emin
		return r
	}
	if tiny {
		r.flags = UE
		exp += c.rebias
		if exp < c.emin {
			// Too small even rebiased (FSCALE by a huge negative
			// power): the host delivers a zero.
			r.exp = c.emin
			r.flags |= PE
			return r
		}
	}
	q, rb, st := keep(hi, lo, int(c.prec))
	if rb || st {
		r.flags |= PE
		if roundUp(neg, q, rb, st, c.rc) {
			r.flags |= C1
			q++
			if q == 0 || q == 1<<c.prec {
				q = 1 << (c.prec - 1)
				exp++
			}
		}
	}
	r.mant = q << (64 - c.prec)
	r.exp = exp
	if exp > c.emax {
		r.flags |= OE
		if !c.omask {
			r.exp -= c.rebias
			if r.exp <= c.emax {
				return r
			}
			// Too large even rebiased: the host delivers an infinity.
			r.inf = true
			r.flags |= PE | C1
			return r
		}
		r.flags |= PE
		if c.rc == RoundNearest || (c.rc == RoundUp && !neg) || (c.rc == RoundDown && neg) {
			r.inf = true
			r.flags |= C1
		} else {
			r.mant = ^uint64(0) << (64 - c.prec)
			r.exp = c.emax
			r.flags &^= C1
		}
	}
	return r
}

// shr128 shifts hi:lo right by n, ORing the bits shifted out into bit 0.
func shr128(hi, lo uint64, n uint) (uint64, uint64) {
	switch {
	case n == 0:
		return hi, lo
	case n < 64:
		s := lo<<(64-n) != 0
		lo = lo>>n | hi<<(64-n)
		hi >>= n
		if s {
			lo |= 1
		}
		return hi, lo
	case n < 128:
		s := lo != 0 || hi<<(128-n) != 0
		lo = hi >> (n - 64)
		if s {
			lo |= 1
		}
		return 0, lo
	}
	if hi|lo != 0 {
		return 0, 1
	}
	return 0, 0
}

// norm128 shifts hi:lo left until bit 127 is set and returns the shift.
func norm128(hi, lo uint64) (uint64, uint64, int32) {
	if hi == 0 {
		n := bits.LeadingZeros64(lo)
		return lo << uint(n), 0, int32(64 + n)
	}
	n := uint(bits.LeadingZeros64(hi))
	if n == 0 {
		return hi, lo, 0
	}
	return hi<<n | lo>>(64-n), lo << n, int32(n)
}

// The exact operations below work on normalized significands (bit 63 set)
// with exponents of bit 63, and return hi:lo with bit 127 set (sticky in
// bit 0 where bits were lost) and the exponent of bit 127.

// addMag adds or subtracts magnitudes; zero reports an exact zero result.
func addMag(ae int32, am uint64, be int32, bm uint64, sub bool) (swap bool, exp int32, hi, lo uint64, zero bool) {
	if be > ae || (be == ae && bm > am) {
		ae, am, be, bm = be, bm, ae, am
		swap = true
	}
	d := uint(ae - be)
	if ae-be > 200 {
		d = 200
	}
	bh, bl := shr128(bm, 0, d)
	if !sub {
		l, c := bits.Add64(0, bl, 0)
		h, c2 := bits.Add64(am, bh, c)
		if c2 != 0 {
			h, l = shr128(h, l, 1)
			h |= 1 << 63
			return swap, ae + 1, h, l, false
		}
		return swap, ae, h, l, false
	}
	l, b := bits.Sub64(0, bl, 0)
	h, _ := bits.Sub64(am, bh, b)
	if h|l == 0 {
		return swap, 0, 0, 0, true
	}
	h, l, n := norm128(h, l)
	return swap, ae - n, h, l, false
}

func mulMag(ae int32, am uint64, be int32, bm uint64) (int32, uint64, uint64) {
	hi, lo := bits.Mul64(am, bm)
	if hi>>63 != 0 {
		return ae + be + 1, hi, lo
	}
	return ae + be, hi<<1 | lo>>63, lo << 1
}

func divMag(ae int32, am uint64, be int32, bm uint64) (int32, uint64, uint64) {
	var q, r uint64
	exp := ae - be
	if am >= bm {
		q, r = bits.Div64(am>>1, am<<63, bm)
	} else {
		q, r = bits.Div64(am, 0, bm)
		exp--
	}
	q2, r2 := bits.Div64(r, 0, bm)
	if r2 != 0 {
		q2 |= 1
	}
	return exp, q, q2
}

func sqrtMag(ae int32, am uint64) (int32, uint64, uint64) {
	var nh, nl uint64
	if ae&1 == 0 {
		nh, nl = am>>1, am<<63
	} else {
		nh, nl = am, 0
	}
	r, remh, reml := isqrt128(nh, nl)
	var lo uint64
	if remh != 0 || reml > r {
		lo = 1<<63 | 1
	} else if reml != 0 {
		lo = 1
	}
	return ae >> 1, r, lo
}

// isqrt128 returns r = floor(sqrt(N)) and N - r² for N = nh:nl >= 2^126:
// a float64 estimate (within a few thousand), one Newton step in integers
// (error below one), then an exact fix-up.
func isqrt128(nh, nl uint64) (r, remh, reml uint64) {
	s := math.Sqrt(float64(nh) * 0x1p64)
	if s >= 0x1p64 {
		r = ^uint64(0)
	} else {
		r = uint64(s)
	}
	sh, sl := bits.Mul64(r, r)
	if less128(sh, sl, nh, nl) {
		eh, el := sub128(nh, nl, sh, sl)
		d, _ := bits.Div64(eh>>1, el>>1|eh<<63, r)
		var c uint64
		r, c = bits.Add64(r, d, 0)
		if c != 0 {
			r = ^uint64(0)
		}
	} else {
		eh, el := sub128(sh, sl, nh, nl)
		d, _ := bits.Div64(eh>>1, el>>1|eh<<63, r)
		r -= d
	}
	for {
		sh, sl = bits.Mul64(r, r)
		if !less128(nh, nl, sh, sl) {
			break
		}
		r--
	}
	for r != ^uint64(0) {
		th, tl := bits.Mul64(r+1, r+1)
		if less128(nh, nl, th, tl) {
			break
		}
		r++
		sh, sl = th, tl
	}
	remh, reml = sub128(nh, nl, sh, sl)
	return r, remh, reml
}

func less128(ah, al, bh, bl uint64) bool { return ah < bh || (ah == bh && al < bl) }

func sub128(ah, al, bh, bl uint64) (uint64, uint64) {
	l, b := bits.Sub64(al, bl, 0)
	h, _ := bits.Sub64(ah, bh, b)
	return h, l
}
