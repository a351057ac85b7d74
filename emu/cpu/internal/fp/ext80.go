package fp

import "math/bits"

// Ext80 is an x87 double-extended value as the FPU registers and m80
// operands hold it: a 64-bit significand whose bit 63 is the explicit
// integer bit, and sign (bit 15) with a 15-bit biased exponent in SE.
type Ext80 struct {
	Mant uint64
	SE   uint16
}

// Indefinite is the x87 QNaN floating-point indefinite (SDM Vol. 1 §4.8.3.7).
var Indefinite = Ext80{Mant: 0xc000000000000000, SE: 0xffff}

const (
	extBias = 16383
	extEmin = -16382
	extEmax = 16383
	// x87Rebias is the exponent adjustment of an unmasked overflow or
	// underflow to a register (SDM Vol. 1 §8.5.4, §8.5.5).
	x87Rebias = 24576
)

// class is an operand's kind, for all three formats.
type class uint8

const (
	clZero class = iota
	clNormal
	clDenormal // denormal or (80-bit) pseudo-denormal: raises DE
	clInf
	clQNaN
	clSNaN
	clUnsupported // 80-bit unnormal, pseudo-NaN, pseudo-infinity (SDM Vol. 1 §8.2.2)
)

func (c class) nan() bool { return c == clQNaN || c == clSNaN }

// unpacked is an operand decoded for arithmetic: finite non-zero values
// carry a normalized significand (bit 63 set) and the exponent of bit 63.
type unpacked struct {
	neg  bool
	cl   class
	exp  int32
	mant uint64
}

// class returns the operand kind of x (SDM Vol. 1 table 8-3).
func (x Ext80) class() class {
	e := x.SE & 0x7fff
	ib := x.Mant>>63 != 0
	switch {
	case e == 0:
		if x.Mant == 0 {
			return clZero
		}
		return clDenormal
	case e == 0x7fff:
		if !ib {
			return clUnsupported
		}
		if x.Mant<<1 == 0 {
			return clInf
		}
		if x.Mant>>62&1 != 0 {
			return clQNaN
		}
		return clSNaN
	case !ib:
		return clUnsupported
	}
	return clNormal
}

func (x Ext80) unpack() unpacked {
	u := unpacked{neg: x.SE>>15 != 0, cl: x.class()}
	switch u.cl {
	case clNormal:
		u.exp = int32(x.SE&0x7fff) - extBias
		u.mant = x.Mant
	case clDenormal:
		n := bits.LeadingZeros64(x.Mant)
		u.exp = extEmin - int32(n)
		u.mant = x.Mant << uint(n)
	}
	return u
}

// Neg reports whether the sign bit is set.
func (x Ext80) Neg() bool { return x.SE>>15 != 0 }

// IsNaN reports whether x is a quiet or signalling NaN.
func (x Ext80) IsNaN() bool { return x.class().nan() }

func extSign(neg bool) uint16 {
	if neg {
		return 0x8000
	}
	return 0
}

func extZero(neg bool) Ext80 { return Ext80{SE: extSign(neg)} }
func extInf(neg bool) Ext80  { return Ext80{Mant: 1 << 63, SE: extSign(neg) | 0x7fff} }

// quiet returns the NaN x with its quiet bit set.
func (x Ext80) quiet() Ext80 { return Ext80{Mant: x.Mant | 1<<62, SE: x.SE} }

// ext encodes a rounded result as an 80-bit value. Exponents outside the
// 15-bit field (an unmasked overflow or underflow rebias gone too far)
// wrap, as they do in the hardware's exponent field.
func (r rounded) ext(neg bool) Ext80 {
	if r.inf {
		return extInf(neg)
	}
	s := extSign(neg)
	if r.mant>>63 == 0 {
		return Ext80{Mant: r.mant, SE: s}
	}
	return Ext80{Mant: r.mant, SE: s | uint16(r.exp+extBias)&0x7fff}
}
