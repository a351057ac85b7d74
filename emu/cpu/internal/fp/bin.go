package fp

import "math/bits"

// bfmt describes an IEEE binary format with an implicit integer bit.
type bfmt struct {
	frac       uint // fraction bits (23, 52)
	bias       int32
	emin, emax int32
}

var (
	f32 = bfmt{frac: 23, bias: 127, emin: -126, emax: 127}
	f64 = bfmt{frac: 52, bias: 1023, emin: -1022, emax: 1023}
)

func (f bfmt) expMask() uint64  { return uint64(2*f.bias + 1) }
func (f bfmt) fracMask() uint64 { return 1<<f.frac - 1 }
func (f bfmt) signBit() uint64  { return 1 << (f.frac + uint(bits.Len32(uint32(2*f.bias+1)))) }
func (f bfmt) quietBit() uint64 { return 1 << (f.frac - 1) }
func (f bfmt) inf(neg bool) uint64 {
	v := f.expMask() << f.frac
	if neg {
		v |= f.signBit()
	}
	return v
}
func (f bfmt) zero(neg bool) uint64 {
	if neg {
		return f.signBit()
	}
	return 0
}

// defaultNaN is the QNaN indefinite: sign set, quiet bit set, rest zero.
func (f bfmt) defaultNaN() uint64 { return f.inf(true) | f.quietBit() }

// unpack decodes x; with daz, denormals read as zeros of the same sign
// (MXCSR.DAZ, SDM Vol. 1 §10.2.3.4).
func (f bfmt) unpack(x uint64, daz bool) unpacked {
	u := unpacked{neg: x&f.signBit() != 0}
	e := int32(x>>f.frac) & int32(f.expMask())
	fr := x & f.fracMask()
	switch {
	case e == 0 && (fr == 0 || daz):
		u.cl = clZero
	case e == 0:
		u.cl = clDenormal
		m := fr << (63 - f.frac)
		n := bits.LeadingZeros64(m)
		u.mant = m << uint(n)
		u.exp = f.emin - int32(n)
	case e == int32(f.expMask()):
		switch {
		case fr == 0:
			u.cl = clInf
		case fr&f.quietBit() != 0:
			u.cl = clQNaN
		default:
			u.cl = clSNaN
		}
	default:
		u.cl = clNormal
		u.exp = e - f.bias
		u.mant = 1<<63 | fr<<(63-f.frac)
	}
	return u
}

// pack encodes a rounded result.
func (f bfmt) pack(neg bool, r rounded) uint64 {
	if r.inf {
		return f.inf(neg)
	}
	v := f.zero(neg) | r.mant>>(63-f.frac)&f.fracMask()
	if r.mant>>63 != 0 {
		v |= uint64(r.exp+f.bias) << f.frac
	}
	return v
}

// ctl is how SSE rounds into f under MXCSR mx.
func (f bfmt) ctl(mx uint32) rctl {
	um := mx&(UE<<7) != 0
	return rctl{prec: f.frac + 1, emin: f.emin, emax: f.emax, rc: uint8(mx>>13) & 3,
		ftz: um && mx&MXCSRFTZ != 0, umask: um, omask: mx&(OE<<7) != 0}
}

// x87 loads and stores of float32/float64 (FLD m32/m64, FST/FSTP m32/m64).

func loadBin(f bfmt, x uint64) (Ext80, uint32) {
	u := f.unpack(x, false)
	switch u.cl {
	case clZero:
		return extZero(u.neg), 0
	case clInf:
		return extInf(u.neg), 0
	case clQNaN, clSNaN:
		r := Ext80{Mant: 1<<63 | 1<<62 | (x&f.fracMask())<<(63-f.frac), SE: extSign(u.neg) | 0x7fff}
		if u.cl == clSNaN {
			return r, IE
		}
		return r, 0
	}
	var fl uint32
	if u.cl == clDenormal {
		fl = DE
	}
	return Ext80{Mant: u.mant, SE: extSign(u.neg) | uint16(u.exp+extBias)}, fl
}

// F32ToExt80 is FLD m32fp: exact; an SNaN is quieted with IE, a denormal
// raises DE and is normalized.
func F32ToExt80(x uint32) (Ext80, uint32) { return loadBin(f32, uint64(x)) }

// F64ToExt80 is FLD m64fp.
func F64ToExt80(x uint64) (Ext80, uint32) { return loadBin(f64, x) }

func storeBin(f bfmt, a Ext80, cw uint16) (uint64, uint32) {
	u := a.unpack()
	switch u.cl {
	case clUnsupported:
		return f.defaultNaN(), IE
	case clZero:
		return f.zero(u.neg), 0
	case clInf:
		return f.inf(u.neg), 0
	case clQNaN, clSNaN:
		r := f.inf(u.neg) | f.quietBit() | a.Mant<<1>>(64-f.frac)
		if u.cl == clSNaN {
			return r, IE
		}
		return r, 0
	}
	// A denormal source raises no DE here (it underflows instead).
	c := x87ctl(cw)
	c.prec, c.emin, c.emax, c.rebias = f.frac+1, f.emin, f.emax, 0
	r := roundPack(u.neg, u.exp, u.mant, 0, c)
	if r.flags&^uint32(cw)&(OE|UE) != 0 {
		// Unmasked overflow or underflow to memory: nothing is stored, and
		// neither PE nor C1 is reported (nor is the stack popped).
		return 0, r.flags & (OE | UE)
	}
	return f.pack(u.neg, r), r.flags
}

// Ext80ToF32 is FST m32fp: rounded per cw's rounding control into
// float32's range and precision. An unmasked OE or UE means no store.
func Ext80ToF32(a Ext80, cw uint16) (uint32, uint32) {
	v, fl := storeBin(f32, a, cw)
	return uint32(v), fl
}

// Ext80ToF64 is FST m64fp.
func Ext80ToF64(a Ext80, cw uint16) (uint64, uint32) { return storeBin(f64, a, cw) }
