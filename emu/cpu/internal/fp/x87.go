package fp

// x87 arithmetic on 80-bit registers (SDM Vol. 1 ch. 8). cw is the FPU
// control word: exception masks in bits 0-5, precision control in bits
// 8-9 (applied only by FADD/FSUB/FMUL/FDIV/FSQRT, §8.1.5.2), rounding
// control in bits 10-11. The returned status holds the exception flags and
// C1 (round-up); the caller ORs the flags into FSW and replaces C1.

// x87ctl is how FADD/FSUB/FMUL/FDIV/FSQRT round under cw.
func x87ctl(cw uint16) rctl {
	c := rctl{prec: 64, emin: extEmin, emax: extEmax, rc: uint8(cw>>10) & 3,
		umask: cw&UE != 0, omask: cw&OE != 0, dmask: cw&DE != 0, rebias: x87Rebias}
	switch cw >> 8 & 3 { // the reserved PC=01 rounds to 64 bits on the host too
	case 0:
		c.prec = 24
	case 2:
		c.prec = 53
	}
	return c
}

// x87ctl64 rounds to full extended precision whatever PC says (FRNDINT,
// FSCALE, FXTRACT and the loads ignore precision control).
func x87ctl64(cw uint16) rctl {
	c := x87ctl(cw)
	c.prec = 64
	return c
}

// x87NaN picks the result of an operation with a NaN operand: a QNaN
// over an SNaN, else the NaN with the larger significand, quieted (SDM
// Vol. 1 table 4-7). IE if either is signalling.
func x87NaN(a, b Ext80, ca, cb class) (Ext80, uint32) {
	var fl uint32
	if ca == clSNaN || cb == clSNaN {
		fl = IE
	}
	switch {
	case !cb.nan():
		return a.quiet(), fl
	case !ca.nan():
		return b.quiet(), fl
	case ca == clQNaN && cb == clSNaN:
		return a, fl
	case cb == clQNaN && ca == clSNaN:
		return b, fl
	}
	qa, qb := a.quiet(), b.quiet()
	if qb.Mant > qa.Mant || (qb.Mant == qa.Mant && !b.Neg()) {
		return qb, fl
	}
	return qa, fl
}

// x87Pre handles the operands of a two-operand arithmetic instruction
// before any computing: unsupported encodings and NaNs end it, denormals
// add DE. done reports that r, fl is the answer.
func x87Pre(a, b Ext80) (ua, ub unpacked, r Ext80, fl uint32, done bool) {
	ua, ub = a.unpack(), b.unpack()
	if ua.cl == clUnsupported || ub.cl == clUnsupported {
		return ua, ub, Indefinite, IE, true
	}
	if ua.cl.nan() || ub.cl.nan() {
		r, fl = x87NaN(a, b, ua.cl, ub.cl)
		return ua, ub, r, fl, true
	}
	if ua.cl == clDenormal || ub.cl == clDenormal {
		fl = DE
	}
	return ua, ub, r, fl, false
}

func finite(c class) bool { return c == clNormal || c == clDenormal }

// x87Round rounds a finite non-zero exact result per c. An unmasked DE
// stops the instruction before it computes anything (the destination is
// not written, so the value returned does not matter).
func x87Round(neg bool, exp int32, hi, lo uint64, c rctl, fl uint32) (Ext80, uint32) {
	if fl&DE != 0 && !c.dmask {
		return Ext80{}, fl
	}
	r := roundPack(neg, exp, hi, lo, c)
	return r.ext(neg), fl | r.flags
}

// Add80 is FADD: a + b.
func Add80(a, b Ext80, cw uint16) (Ext80, uint32) { return addsub80(a, b, cw, false) }

// Sub80 is FSUB: a - b (FSUBR is Sub80(b, a)).
func Sub80(a, b Ext80, cw uint16) (Ext80, uint32) { return addsub80(a, b, cw, true) }

func addsub80(a, b Ext80, cw uint16, sub bool) (Ext80, uint32) {
	ua, ub, r, fl, done := x87Pre(a, b)
	if done {
		return r, fl
	}
	if sub {
		ub.neg = !ub.neg
	}
	c := x87ctl(cw)
	switch {
	case ua.cl == clInf && ub.cl == clInf:
		if ua.neg != ub.neg {
			return Indefinite, fl | IE
		}
		return extInf(ua.neg), fl
	case ua.cl == clInf:
		return extInf(ua.neg), fl
	case ub.cl == clInf:
		return extInf(ub.neg), fl
	case ua.cl == clZero && ub.cl == clZero:
		if ua.neg == ub.neg {
			return extZero(ua.neg), fl
		}
		return extZero(c.rc == RoundDown), fl
	case ua.cl == clZero:
		return x87Round(ub.neg, ub.exp, ub.mant, 0, c, fl)
	case ub.cl == clZero:
		return x87Round(ua.neg, ua.exp, ua.mant, 0, c, fl)
	}
	swap, exp, hi, lo, zero := addMag(ua.exp, ua.mant, ub.exp, ub.mant, ua.neg != ub.neg)
	if zero {
		return extZero(c.rc == RoundDown), fl
	}
	neg := ua.neg
	if swap {
		neg = ub.neg
	}
	return x87Round(neg, exp, hi, lo, c, fl)
}

// Mul80 is FMUL.
func Mul80(a, b Ext80, cw uint16) (Ext80, uint32) {
	ua, ub, r, fl, done := x87Pre(a, b)
	if done {
		return r, fl
	}
	neg := ua.neg != ub.neg
	switch {
	case ua.cl == clInf || ub.cl == clInf:
		if ua.cl == clZero || ub.cl == clZero {
			return Indefinite, fl | IE
		}
		return extInf(neg), fl
	case ua.cl == clZero || ub.cl == clZero:
		return extZero(neg), fl
	}
	exp, hi, lo := mulMag(ua.exp, ua.mant, ub.exp, ub.mant)
	return x87Round(neg, exp, hi, lo, x87ctl(cw), fl)
}

// Div80 is FDIV: a / b (FDIVR is Div80(b, a)).
func Div80(a, b Ext80, cw uint16) (Ext80, uint32) {
	ua, ub, r, fl, done := x87Pre(a, b)
	if done {
		return r, fl
	}
	neg := ua.neg != ub.neg
	switch {
	case ua.cl == clInf:
		if ub.cl == clInf {
			return Indefinite, fl | IE
		}
		return extInf(neg), fl
	case ub.cl == clInf:
		return extZero(neg), fl
	case ub.cl == clZero:
		if ua.cl == clZero {
			return Indefinite, fl | IE
		}
		return extInf(neg), ZE // a denormal dividend raises no DE
	case ua.cl == clZero:
		return extZero(neg), fl
	}
	exp, hi, lo := divMag(ua.exp, ua.mant, ub.exp, ub.mant)
	return x87Round(neg, exp, hi, lo, x87ctl(cw), fl)
}

// Sqrt80 is FSQRT.
func Sqrt80(a Ext80, cw uint16) (Ext80, uint32) {
	u := a.unpack()
	switch u.cl {
	case clUnsupported:
		return Indefinite, IE
	case clSNaN:
		return a.quiet(), IE
	case clQNaN:
		return a, 0
	case clZero:
		return a, 0
	}
	if u.neg {
		return Indefinite, IE // a negative denormal raises no DE
	}
	var fl uint32
	if u.cl == clDenormal {
		fl = DE
	}
	if u.cl == clInf {
		return a, 0
	}
	exp, hi, lo := sqrtMag(u.exp, u.mant)
	return x87Round(false, exp, hi, lo, x87ctl(cw), fl)
}

// Relations of two operands, as compares report them.
const (
	relLT = iota
	relEQ
	relGT
	relUN
)

// rel orders two non-NaN operands.
func rel(a, b unpacked) int {
	az, bz := a.cl == clZero, b.cl == clZero
	if az && bz {
		return relEQ
	}
	if a.neg != b.neg {
		if a.neg {
			return relLT
		}
		return relGT
	}
	// Same sign: compare magnitudes, then flip for negatives.
	m := 0
	switch {
	case az:
		m = -1
	case bz:
		m = 1
	case a.cl == clInf && b.cl == clInf:
		m = 0
	case a.cl == clInf:
		m = 1
	case b.cl == clInf:
		m = -1
	case a.exp != b.exp:
		m = 1
		if a.exp < b.exp {
			m = -1
		}
	case a.mant != b.mant:
		m = 1
		if a.mant < b.mant {
			m = -1
		}
	}
	if a.neg {
		m = -m
	}
	return relEQ + m
}

// Compare80 is FCOM (quiet false) or FUCOM (quiet true): it returns the
// condition codes C3, C2, C0 (SDM Vol. 1 table 8-6; C1 is cleared) and the
// flags. The condition codes are written even when the exception is
// unmasked, as the hardware does. FCOMI/FUCOMI map the same relation to
// ZF, PF, CF (CompareFlags80), also whatever the masks.
func Compare80(a, b Ext80, quiet bool) (cc uint16, fl uint32) {
	r, fl := compare80(a, b, quiet)
	switch r {
	case relLT:
		return C0, fl
	case relEQ:
		return C3, fl
	case relUN:
		return C3 | C2 | C0, fl
	}
	return 0, fl
}

// CompareFlags80 is FCOMI/FUCOMI: the relation as RFLAGS ZF, PF, CF.
// These leave every condition code, C1 included, as it was (the host
// does; the SDM's "C1 cleared" applies only on stack underflow).
func CompareFlags80(a, b Ext80, quiet bool) (eflags uint64, fl uint32) {
	r, fl := compare80(a, b, quiet)
	return relEflags(r), fl
}

// relEflags is how FCOMI and COMISS report a relation (ZF=0x40, PF=4, CF=1).
func relEflags(r int) uint64 {
	switch r {
	case relLT:
		return 1
	case relEQ:
		return 0x40
	case relUN:
		return 0x45
	}
	return 0
}

func compare80(a, b Ext80, quiet bool) (int, uint32) {
	ua, ub := a.unpack(), b.unpack()
	if ua.cl == clUnsupported || ub.cl == clUnsupported {
		return relUN, IE
	}
	if ua.cl.nan() || ub.cl.nan() {
		if !quiet || ua.cl == clSNaN || ub.cl == clSNaN {
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

// RoundInt80 is FRNDINT: round to an integral value under cw's rounding
// control (precision control does not apply).
func RoundInt80(a Ext80, cw uint16) (Ext80, uint32) {
	u := a.unpack()
	switch u.cl {
	case clUnsupported:
		return Indefinite, IE
	case clSNaN:
		return a.quiet(), IE
	case clQNaN, clZero, clInf:
		return a, 0
	}
	var fl uint32
	if u.cl == clDenormal {
		fl = DE
	}
	if u.exp >= 63 || (fl != 0 && cw&DE == 0) {
		return a, fl
	}
	q, inexact, up := roundToInt(u, uint8(cw>>10)&3)
	if inexact {
		fl |= PE
	}
	if up {
		fl |= C1
	}
	return fromUint(u.neg, q), fl
}

// roundToInt rounds finite non-zero u (exp < 64) to an integer magnitude.
func roundToInt(u unpacked, rc uint8) (q uint64, inexact, up bool) {
	var rb, st bool
	if u.exp >= 63 {
		return u.mant, false, false
	}
	q, rb, st = keep(u.mant, 0, int(u.exp)+1)
	if roundUp(u.neg, q, rb, st, rc) {
		q++
		up = true
	}
	return q, rb || st, up
}

// fromUint returns ±q exactly.
func fromUint(neg bool, q uint64) Ext80 {
	if q == 0 {
		return extZero(neg)
	}
	hi, _, n := norm128(q, 0)
	return Ext80{Mant: hi, SE: extSign(neg) | uint16(63-n+extBias)}
}

// FromInt64 is FILD: exact for every 16-, 32- and 64-bit integer.
func FromInt64(v int64) Ext80 {
	if v < 0 {
		return fromUint(true, uint64(-v))
	}
	return fromUint(false, uint64(v))
}

// ToInt80 is FIST/FISTP (trunc false: round per cw) and FISTTP (trunc
// true) to an integer of size bits (16, 32, 64). NaNs, infinities and
// out-of-range values give IE and the integer indefinite (the most
// negative integer of that size, SDM Vol. 1 §4.8.3.7).
func ToInt80(a Ext80, cw uint16, size uint, trunc bool) (int64, uint32) {
	rc := uint8(cw>>10) & 3
	if trunc {
		rc = RoundZero
	}
	u := a.unpack()
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
	q, inexact, up := roundToInt(u, rc)
	lim := uint64(1) << (size - 1) // magnitude limit: -lim..lim-1
	if q > lim || (q == lim && !u.neg) || (u.exp == 63 && up && q == 0) {
		return indef, IE
	}
	var fl uint32
	if inexact {
		fl = PE
	}
	if up {
		fl |= C1
	}
	if u.neg {
		return -int64(q), fl
	}
	return int64(q), fl
}
