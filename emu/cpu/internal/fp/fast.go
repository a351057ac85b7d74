package fp

import "math"

// Fast paths for the common SSE case: round to nearest, normal operands,
// normal result. The host's own float32/float64 arithmetic (IEEE, round
// to nearest, as the Go spec requires) gives the result; whether it was
// exact is decided with an error-free transformation (TwoSum for sums,
// FMA or an exact float64 product for the rest), so PE is exact too.
// Anything else (other rounding modes, zeros, denormals, infinities,
// NaNs, results that overflow or are tiny) takes the general path.
// Tests check the fast and general paths agree and that both agree with
// the host.

// rn64 reports round-to-nearest with a and b normal float64s.
func rn64(a, b uint64, mx uint32) bool {
	return mx&0x6000 == 0 && (a>>52&0x7ff)-1 < 0x7fe && (b>>52&0x7ff)-1 < 0x7fe
}

func rn32(a, b uint32, mx uint32) bool {
	return mx&0x6000 == 0 && (a>>23&0xff)-1 < 0xfe && (b>>23&0xff)-1 < 0xfe
}

// normal64 reports a normal float64 whose exponent leaves room for the
// FMA error terms below to be exact (no underflow in them); it is also far
// from the tiny range, which matters for the 2^-1022 boundary.
func normal64(r float64) bool {
	e := math.Float64bits(r) >> 52 & 0x7ff
	return e > 54 && e < 0x7ff
}

// normal32 reports a float32 at least twice the smallest normal: a result
// that rounded to the smallest normal may still be tiny (tininess is
// judged on the value rounded with an unbounded exponent).
func normal32(r float32) bool {
	e := math.Float32bits(r) >> 23 & 0xff
	return e > 1 && e != 0xff
}

func pe(inexact bool) uint32 {
	if inexact {
		return PE
	}
	return 0
}

func fastAdd64(x, y float64) (float64, bool) {
	r := x + y
	if !normal64(r) {
		return 0, false
	}
	bb := r - x
	err := (x - (r - bb)) + (y - bb)
	return r, err != 0
}

func fastMul64(x, y float64) (float64, bool) {
	r := float64(x * y)
	if !normal64(r) {
		return 0, false
	}
	return r, math.FMA(x, y, -r) != 0
}

func fastDiv64(x, y float64) (float64, bool) {
	q := float64(x / y)
	// The remainder x - q·y is exact only if x is well above the
	// denormal range too.
	if !normal64(q) || !normal64(x) {
		return 0, false
	}
	return q, math.FMA(-q, y, x) != 0
}

func fastAdd32(x, y float32) (float32, bool) {
	r := x + y
	if !normal32(r) {
		return 0, false
	}
	bb := r - x
	err := (x - (r - bb)) + (y - bb)
	return r, err != 0
}

func fastMul32(x, y float32) (float32, bool) {
	p := float64(x) * float64(y) // exact: 48 significant bits
	r := float32(p)
	if !normal32(r) {
		return 0, false
	}
	return r, float64(r) != p
}

func fastDiv32(x, y float32) (float32, bool) {
	q := x / y
	if !normal32(q) {
		return 0, false
	}
	return q, float64(q)*float64(y) != float64(x)
}
