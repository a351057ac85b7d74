package fp

import "math"

// The exported SSE lane operations: ADDSS/ADDPS... on float32 lanes and
// ADDSD/ADDPD... on float64 lanes. a is the first source (the destination
// register of the legacy two-operand forms), b the second, mx the MXCSR
// the instruction runs under; each returns the lane's result and the
// flags it raised (to OR into MXCSR bits 0-5).

func AddF32(a, b, mx uint32) (uint32, uint32) {
	if rn32(a, b, mx) {
		if r, inexact := fastAdd32(math.Float32frombits(a), math.Float32frombits(b)); r != 0 {
			return math.Float32bits(r), pe(inexact)
		}
	}
	return u32(sseAddSub(f32, uint64(a), uint64(b), mx, false))
}

func SubF32(a, b, mx uint32) (uint32, uint32) {
	if rn32(a, b, mx) {
		if r, inexact := fastAdd32(math.Float32frombits(a), -math.Float32frombits(b)); r != 0 {
			return math.Float32bits(r), pe(inexact)
		}
	}
	return u32(sseAddSub(f32, uint64(a), uint64(b), mx, true))
}

func MulF32(a, b, mx uint32) (uint32, uint32) {
	if rn32(a, b, mx) {
		if r, inexact := fastMul32(math.Float32frombits(a), math.Float32frombits(b)); r != 0 {
			return math.Float32bits(r), pe(inexact)
		}
	}
	return u32(sseMul(f32, uint64(a), uint64(b), mx))
}

func DivF32(a, b, mx uint32) (uint32, uint32) {
	if rn32(a, b, mx) {
		if r, inexact := fastDiv32(math.Float32frombits(a), math.Float32frombits(b)); r != 0 {
			return math.Float32bits(r), pe(inexact)
		}
	}
	return u32(sseDiv(f32, uint64(a), uint64(b), mx))
}

func SqrtF32(b, mx uint32) (uint32, uint32) { return u32(sseSqrt(f32, uint64(b), mx)) }
func MinF32(a, b, mx uint32) (uint32, uint32) {
	return u32(sseMinMax(f32, uint64(a), uint64(b), mx, false))
}
func MaxF32(a, b, mx uint32) (uint32, uint32) {
	return u32(sseMinMax(f32, uint64(a), uint64(b), mx, true))
}

func AddF64(a, b uint64, mx uint32) (uint64, uint32) {
	if rn64(a, b, mx) {
		if r, inexact := fastAdd64(math.Float64frombits(a), math.Float64frombits(b)); r != 0 {
			return math.Float64bits(r), pe(inexact)
		}
	}
	return sseAddSub(f64, a, b, mx, false)
}

func SubF64(a, b uint64, mx uint32) (uint64, uint32) {
	if rn64(a, b, mx) {
		if r, inexact := fastAdd64(math.Float64frombits(a), -math.Float64frombits(b)); r != 0 {
			return math.Float64bits(r), pe(inexact)
		}
	}
	return sseAddSub(f64, a, b, mx, true)
}

func MulF64(a, b uint64, mx uint32) (uint64, uint32) {
	if rn64(a, b, mx) {
		if r, inexact := fastMul64(math.Float64frombits(a), math.Float64frombits(b)); r != 0 {
			return math.Float64bits(r), pe(inexact)
		}
	}
	return sseMul(f64, a, b, mx)
}

func DivF64(a, b uint64, mx uint32) (uint64, uint32) {
	if rn64(a, b, mx) {
		if r, inexact := fastDiv64(math.Float64frombits(a), math.Float64frombits(b)); r != 0 {
			return math.Float64bits(r), pe(inexact)
		}
	}
	return sseDiv(f64, a, b, mx)
}

func SqrtF64(b uint64, mx uint32) (uint64, uint32) {
	if mx&0x6000 == 0 && (b>>52)-55 < 0x7ff-55 { // positive, above 2^-968, finite
		x := math.Float64frombits(b)
		s := math.Sqrt(x)
		return math.Float64bits(s), pe(math.FMA(s, s, -x) != 0)
	}
	return sseSqrt(f64, b, mx)
}

func MinF64(a, b uint64, mx uint32) (uint64, uint32) { return sseMinMax(f64, a, b, mx, false) }
func MaxF64(a, b uint64, mx uint32) (uint64, uint32) { return sseMinMax(f64, a, b, mx, true) }

// CmpF32 is CMPSS/CMPPS (imm 0-7) and VCMPSS/VCMPPS (imm 0-31): whether
// predicate imm holds for a, b (the lane becomes all ones or zeros).
func CmpF32(a, b uint32, imm uint8, mx uint32) (bool, uint32) {
	return sseCmp(f32, uint64(a), uint64(b), imm, mx)
}

// CmpF64 is CMPSD/CMPPD and VCMPSD/VCMPPD.
func CmpF64(a, b uint64, imm uint8, mx uint32) (bool, uint32) { return sseCmp(f64, a, b, imm, mx) }

// ComiF32 is COMISS (quiet false) and UCOMISS (quiet true): the relation
// in RFLAGS ZF, PF, CF (OF, SF, AF cleared).
func ComiF32(a, b uint32, quiet bool, mx uint32) (uint64, uint32) {
	r, fl := sseCompare(f32, uint64(a), uint64(b), mx, !quiet)
	return relEflags(r), fl
}

// ComiF64 is COMISD and UCOMISD.
func ComiF64(a, b uint64, quiet bool, mx uint32) (uint64, uint32) {
	r, fl := sseCompare(f64, a, b, mx, !quiet)
	return relEflags(r), fl
}

// F32ToInt is CVTSS2SI (trunc false) and CVTTSS2SI to a 32- or 64-bit
// integer; the indefinite is the most negative integer.
func F32ToInt(x, mx uint32, size uint, trunc bool) (int64, uint32) {
	return sseToInt(f32, uint64(x), mx, size, trunc)
}

// F64ToInt is CVTSD2SI and CVTTSD2SI.
func F64ToInt(x uint64, mx uint32, size uint, trunc bool) (int64, uint32) {
	return sseToInt(f64, x, mx, size, trunc)
}

// IntToF32 is CVTSI2SS from a 32- or 64-bit integer.
func IntToF32(v int64, mx uint32) (uint32, uint32) { return u32(sseFromInt(f32, v, mx)) }

// IntToF64 is CVTSI2SD.
func IntToF64(v int64, mx uint32) (uint64, uint32) { return sseFromInt(f64, v, mx) }

// F32ToF64 is CVTSS2SD.
func F32ToF64(x, mx uint32) (uint64, uint32) { return sseConvert(f32, f64, uint64(x), mx) }

// F64ToF32 is CVTSD2SS.
func F64ToF32(x uint64, mx uint32) (uint32, uint32) { return u32(sseConvert(f64, f32, x, mx)) }

func u32(v uint64, fl uint32) (uint32, uint32) { return uint32(v), fl }

// RoundF32 is ROUNDSS/ROUNDPS with immediate imm.
func RoundF32(x uint32, imm uint8, mx uint32) (uint32, uint32) {
	return u32(sseRoundInt(f32, uint64(x), imm, mx))
}

// RoundF64 is ROUNDSD/ROUNDPD with immediate imm.
func RoundF64(x uint64, imm uint8, mx uint32) (uint64, uint32) { return sseRoundInt(f64, x, imm, mx) }

// DotF32 is DPPS (SSE4.1): the products selected by imm bits 4-7, summed
// pairwise ((p0+p1)+(p2+p3)), each step rounded under MXCSR, and written
// to the lanes selected by imm bits 0-3 (the others get +0.0). Products not
// selected are not computed and raise nothing (SDM Vol. 2 DPPS).
func DotF32(a, b [4]uint32, imm uint8, mx uint32) ([4]uint32, uint32) {
	var p [4]uint32
	var fl uint32
	for i := range p {
		if imm>>(4+uint(i))&1 != 0 {
			var f uint32
			p[i], f = MulF32(a[i], b[i], mx)
			fl |= f
		}
	}
	s1, f1 := AddF32(p[0], p[1], mx)
	s2, f2 := AddF32(p[2], p[3], mx)
	s, f3 := AddF32(s1, s2, mx)
	fl |= f1 | f2 | f3
	var r [4]uint32
	for i := range r {
		if imm>>uint(i)&1 != 0 {
			r[i] = s
		}
	}
	return r, fl
}

// DotF64 is DPPD: imm bits 4-5 select the products, bits 0-1 the lanes.
func DotF64(a, b [2]uint64, imm uint8, mx uint32) ([2]uint64, uint32) {
	var p [2]uint64
	var fl uint32
	for i := range p {
		if imm>>(4+uint(i))&1 != 0 {
			var f uint32
			p[i], f = MulF64(a[i], b[i], mx)
			fl |= f
		}
	}
	s, f := AddF64(p[0], p[1], mx)
	fl |= f
	var r [2]uint64
	for i := range r {
		if imm>>uint(i)&1 != 0 {
			r[i] = s
		}
	}
	return r, fl
}
