package fp

// SSE/SSE2 scalar arithmetic on one float32 or float64 lane under MXCSR
// (SDM Vol. 1 §10.2.3, §11.5). Packed forms apply the same function to
// each lane and OR the flags. The NaN rules differ from the x87's: with a
// NaN operand the result is the first source operand if it is a NaN, else
// the second, quieted; an invalid operation without NaN operands gives
// the default NaN (SDM Vol. 1 table 4-7, §4.8.3.7).

func (f bfmt) quiet(x uint64) uint64 { return x | f.quietBit() }

func (f bfmt) isNaN(x uint64) bool {
	return x>>f.frac&f.expMask() == f.expMask() && x&f.fracMask() != 0
}

// ssePre handles NaN and denormal operands: DAZ turns denormals into zeros
// before anything looks at them; otherwise a denormal raises DE.
func ssePre(f bfmt, a, b uint64, mx uint32) (ua, ub unpacked, r uint64, fl uint32, done bool) {
	daz := mx&MXCSRDAZ != 0
	ua, ub = f.unpack(a, daz), f.unpack(b, daz)
	if ua.cl.nan() || ub.cl.nan() {
		if ua.cl == clSNaN || ub.cl == clSNaN {
			fl = IE
		}
		if ua.cl.nan() {
			return ua, ub, f.quiet(a), fl, true
		}
		return ua, ub, f.quiet(b), fl, true
	}
	if ua.cl == clDenormal || ub.cl == clDenormal {
		fl = DE
	}
	return ua, ub, 0, fl, false
}

// sseRound rounds an exact result. An unmasked DE is a pre-computation
// exception: the instruction faults before computing, so no post-
// computation flags join it (SDM Vol. 1 §11.5.2; not host-testable, since
// an unmasked SSE exception kills the test process).
func sseRound(f bfmt, neg bool, exp int32, hi, lo uint64, mx uint32, fl uint32) (uint64, uint32) {
	if fl&DE != 0 && mx&(DE<<7) == 0 {
		return 0, fl
	}
	r := roundPack(neg, exp, hi, lo, f.ctl(mx))
	return f.pack(neg, r), (fl | r.flags) &^ C1
}

// sseValue returns a finite non-zero operand as a result (x + 0),
// which may still flush to zero under FTZ.
func sseValue(f bfmt, u unpacked, mx uint32, fl uint32) (uint64, uint32) {
	return sseRound(f, u.neg, u.exp, u.mant, 0, mx, fl)
}

func sseAddSub(f bfmt, a, b uint64, mx uint32, sub bool) (uint64, uint32) {
	ua, ub, r, fl, done := ssePre(f, a, b, mx)
	if done {
		return r, fl
	}
	if sub {
		ub.neg = !ub.neg
	}
	rc := uint8(mx>>13) & 3
	switch {
	case ua.cl == clInf && ub.cl == clInf:
		if ua.neg != ub.neg {
			return f.defaultNaN(), fl | IE
		}
		return f.inf(ua.neg), fl
	case ua.cl == clInf:
		return f.inf(ua.neg), fl
	case ub.cl == clInf:
		return f.inf(ub.neg), fl
	case ua.cl == clZero && ub.cl == clZero:
		if ua.neg == ub.neg {
			return f.zero(ua.neg), fl
		}
		return f.zero(rc == RoundDown), fl
	case ua.cl == clZero:
		return sseValue(f, ub, mx, fl)
	case ub.cl == clZero:
		return sseValue(f, ua, mx, fl)
	}
	swap, exp, hi, lo, zero := addMag(ua.exp, ua.mant, ub.exp, ub.mant, ua.neg != ub.neg)
	if zero {
		return f.zero(rc == RoundDown), fl
	}
	neg := ua.neg
	if swap {
		neg = ub.neg
	}
	return sseRound(f, neg, exp, hi, lo, mx, fl)
}

func sseMul(f bfmt, a, b uint64, mx uint32) (uint64, uint32) {
	ua, ub, r, fl, done := ssePre(f, a, b, mx)
	if done {
		return r, fl
	}
	neg := ua.neg != ub.neg
	switch {
	case ua.cl == clInf || ub.cl == clInf:
		if ua.cl == clZero || ub.cl == clZero {
			return f.defaultNaN(), fl | IE
		}
		return f.inf(neg), fl
	case ua.cl == clZero || ub.cl == clZero:
		return f.zero(neg), fl
	}
	exp, hi, lo := mulMag(ua.exp, ua.mant, ub.exp, ub.mant)
	return sseRound(f, neg, exp, hi, lo, mx, fl)
}

func sseDiv(f bfmt, a, b uint64, mx uint32) (uint64, uint32) {
	ua, ub, r, fl, done := ssePre(f, a, b, mx)
	if done {
		return r, fl
	}
	neg := ua.neg != ub.neg
	switch {
	case ua.cl == clInf:
		if ub.cl == clInf {
			return f.defaultNaN(), fl | IE
		}
		return f.inf(neg), fl
	case ub.cl == clInf:
		return f.zero(neg), fl
	case ub.cl == clZero:
		if ua.cl == clZero {
			return f.defaultNaN(), fl | IE
		}
		return f.inf(neg), ZE // a denormal dividend raises no DE
	case ua.cl == clZero:
		return f.zero(neg), fl
	}
	exp, hi, lo := divMag(ua.exp, ua.mant, ub.exp, ub.mant)
	return sseRound(f, neg, exp, hi, lo, mx, fl)
}

func sseSqrt(f bfmt, b uint64, mx uint32) (uint64, uint32) {
	u := f.unpack(b, mx&MXCSRDAZ != 0)
	switch u.cl {
	case clSNaN:
		return f.quiet(b), IE
	case clQNaN:
		return b, 0
	case clZero:
		return f.zero(u.neg), 0
	}
	if u.neg {
		return f.defaultNaN(), IE // a negative denormal raises no DE
	}
	var fl uint32
	if u.cl == clDenormal {
		fl = DE
	}
	if u.cl == clInf {
		return b, 0
	}
	exp, hi, lo := sqrtMag(u.exp, u.mant)
	return sseRound(f, false, exp, hi, lo, mx, fl)
}

// sseMinMax is MINSS/MAXSS: the second operand whenever either is a NaN
// (IE for a QNaN too) or both are zeros, so the instruction is not
// commutative (SDM Vol. 2 MINSS).
func sseMinMax(f bfmt, a, b uint64, mx uint32, max bool) (uint64, uint32) {
	daz := mx&MXCSRDAZ != 0
	ua, ub := f.unpack(a, daz), f.unpack(b, daz)
	if daz { // the operand returned is the one DAZ read
		a, b = f.dazed(a, ua), f.dazed(b, ub)
	}
	if ua.cl.nan() || ub.cl.nan() {
		return b, IE
	}
	var fl uint32
	if ua.cl == clDenormal || ub.cl == clDenormal {
		fl = DE
	}
	r := rel(ua, ub)
	if (max && r == relGT) || (!max && r == relLT) {
		return a, fl
	}
	return b, fl
}

// dazed is x as DAZ reads it.
func (f bfmt) dazed(x uint64, u unpacked) uint64 {
	if u.cl == clZero {
		return f.zero(u.neg)
	}
	return x
}

// cmpPredicate tells, for an AVX compare predicate 0-31 (the legacy
// CMPPS/CMPSS predicates are 0-7), which relations are true and whether a
// QNaN operand signals IE (SDM Vol. 2 CMPPS, table 3-1).
func cmpPredicate(imm uint8) (truth uint8, signal bool) {
	// Bit n of truthTab[p] is the result for relation n (LT, EQ, GT, UN).
	truthTab := [16]uint8{0b0010, 0b0001, 0b0011, 0b1000, 0b1101, 0b1110, 0b1100, 0b0111,
		0b1010, 0b1001, 0b1011, 0b0000, 0b0101, 0b0110, 0b0100, 0b1111}
	const sig = 0b0110011001100110 // predicates 1,2,5,6,9,10,13,14 signal
	p := imm & 15
	signal = sig>>p&1 != 0
	if imm&16 != 0 {
		signal = !signal
	}
	return truthTab[p], signal
}

func sseCompare(f bfmt, a, b uint64, mx uint32, signal bool) (int, uint32) {
	daz := mx&MXCSRDAZ != 0
	ua, ub := f.unpack(a, daz), f.unpack(b, daz)
	if ua.cl.nan() || ub.cl.nan() {
		if signal || ua.cl == clSNaN || ub.cl == clSNaN {
			return relUN, IE
		}
		return relUN, 0
	}
	var fl uint32
	if ua.cl == clDenormal || ub.cl == clDenormal {
		fl = DE
	}
	return rel(ua, ub), fl
}

func sseCmp(f bfmt, a, b uint64, imm uint8, mx uint32) (bool, uint32) {
	truth, signal := cmpPredicate(imm & 31)
	r, fl := sseCompare(f, a, b, mx, signal)
	return truth>>uint(r)&1 != 0, fl
}

// sseToInt is CVTSS2SI/CVTSD2SI (rounded per MXCSR) and the truncating
// CVTT forms, to a size-bit integer: NaNs and out-of-range values give IE
// and the integer indefinite. Denormals raise no DE here.
func sseToInt(f bfmt, x uint64, mx uint32, size uint, trunc bool) (int64, uint32) {
	u := f.unpack(x, mx&MXCSRDAZ != 0)
	indef := int64(-1) << (size - 1)
	switch u.cl {
	case clZero:
		return 0, 0
	case clNormal, clDenormal:
	default:
		return indef, IE
	}
	if u.exp >= 64 {
		return indef, IE
	}
	rc := uint8(mx>>13) & 3
	if trunc {
		rc = RoundZero
	}
	q, inexact, _ := roundToInt(u, rc)
	lim := uint64(1) << (size - 1)
	if q > lim || (q == lim && !u.neg) {
		return indef, IE
	}
	var fl uint32
	if inexact {
		fl = PE
	}
	if u.neg {
		return -int64(q), fl
	}
	return int64(q), fl
}

// sseFromInt is CVTSI2SS/CVTSI2SD: v rounded per MXCSR.
func sseFromInt(f bfmt, v int64, mx uint32) (uint64, uint32) {
	if v == 0 {
		return 0, 0
	}
	neg := v < 0
	m := uint64(v)
	if neg {
		m = -m
	}
	hi, _, n := norm128(m, 0)
	return sseRound(f, neg, 63-n, hi, 0, mx, 0)
}

// sseConvert is CVTSS2SD and CVTSD2SS: a NaN keeps its sign and the top
// of its payload, quieted; a narrowing rounds per MXCSR.
func sseConvert(from, to bfmt, x uint64, mx uint32) (uint64, uint32) {
	u := from.unpack(x, mx&MXCSRDAZ != 0)
	switch u.cl {
	case clZero:
		return to.zero(u.neg), 0
	case clInf:
		return to.inf(u.neg), 0
	case clQNaN, clSNaN:
		fr := x & from.fracMask()
		if to.frac > from.frac {
			fr <<= to.frac - from.frac
		} else {
			fr >>= from.frac - to.frac
		}
		r := to.inf(u.neg) | to.quietBit() | fr
		if u.cl == clSNaN {
			return r, IE
		}
		return r, 0
	}
	var fl uint32
	if u.cl == clDenormal {
		fl = DE
	}
	return sseRound(to, u.neg, u.exp, u.mant, 0, mx, fl)
}

// sseRoundInt is ROUNDSS/ROUNDSD (SSE4.1): round to an integral value by
// imm's mode (bits 0-1, or MXCSR's when bit 2 is set), with PE suppressed
// when bit 3 is set. An SNaN is quieted with IE; DAZ applies; a denormal
// raises no DE (SDM Vol. 2 ROUNDSS lists only IE and PE; the host agrees).
func sseRoundInt(f bfmt, x uint64, imm uint8, mx uint32) (uint64, uint32) {
	u := f.unpack(x, mx&MXCSRDAZ != 0)
	switch u.cl {
	case clSNaN:
		return f.quiet(x), IE
	case clQNaN, clInf:
		return x, 0
	case clZero:
		return f.zero(u.neg), 0
	}
	var fl uint32
	if u.exp >= int32(f.frac) {
		return x, fl
	}
	rc := imm & 3
	if imm&4 != 0 {
		rc = uint8(mx>>13) & 3
	}
	q, inexact, _ := roundToInt(u, rc)
	if inexact && imm&8 == 0 {
		fl |= PE
	}
	if q == 0 {
		return f.zero(u.neg), fl
	}
	hi, _, n := norm128(q, 0)
	return f.pack(u.neg, rounded{mant: hi, exp: 63 - n}), fl
}
