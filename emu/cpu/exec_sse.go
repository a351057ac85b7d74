package cpu

import (
	"softvmm/emu/cpu/internal/fp"
)

// SSE floating point through internal/fp, lane by lane. Every lane is
// computed into a copy; hXmm writes the destination only when no raised
// flag is unmasked (SDM Vol. 1 §11.5.1).

type f32op func(a, b, mx uint32) (uint32, uint32)
type f64op func(a, b uint64, mx uint32) (uint64, uint32)

func ps(f f32op) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		var fl uint32
		mx := c.fpu.mxcsr
		for i := 0; i < 4; i++ {
			r, e := f(d32(*d, i), d32(s, i), mx)
			setD32(d, i, r)
			fl |= e
		}
		return fl
	}
}

func ss(f f32op) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		r, e := f(d32(*d, 0), d32(s, 0), c.fpu.mxcsr)
		setD32(d, 0, r)
		return e
	}
}

func pd(f f64op) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		mx := c.fpu.mxcsr
		r0, e0 := f(d[0], s[0], mx)
		r1, e1 := f(d[1], s[1], mx)
		*d = x128{r0, r1}
		return e0 | e1
	}
}

func sd(f f64op) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		r, e := f(d[0], s[0], c.fpu.mxcsr)
		d[0] = r
		return e
	}
}

func sqrt32(_, b, mx uint32) (uint32, uint32)        { return fp.SqrtF32(b, mx) }
func sqrt64(_, b uint64, mx uint32) (uint64, uint32) { return fp.SqrtF64(b, mx) }

func cmpps(c *CPU, in *insn, d *x128, s x128) uint32 {
	var fl uint32
	for i := 0; i < 4; i++ {
		t, e := fp.CmpF32(d32(*d, i), d32(s, i), in.op&7, c.fpu.mxcsr)
		setD32(d, i, mask32(t))
		fl |= e
	}
	return fl
}

func cmpss(c *CPU, in *insn, d *x128, s x128) uint32 {
	t, e := fp.CmpF32(d32(*d, 0), d32(s, 0), in.op&7, c.fpu.mxcsr)
	setD32(d, 0, mask32(t))
	return e
}

func cmppd(c *CPU, in *insn, d *x128, s x128) uint32 {
	t0, e0 := fp.CmpF64(d[0], s[0], in.op&7, c.fpu.mxcsr)
	t1, e1 := fp.CmpF64(d[1], s[1], in.op&7, c.fpu.mxcsr)
	*d = x128{mask64(t0), mask64(t1)}
	return e0 | e1
}

func cmpsd(c *CPU, in *insn, d *x128, s x128) uint32 {
	t, e := fp.CmpF64(d[0], s[0], in.op&7, c.fpu.mxcsr)
	d[0] = mask64(t)
	return e
}

// Conversions between vector formats.
func cvtps2pd(c *CPU, _ *insn, d *x128, s x128) uint32 {
	r0, e0 := fp.F32ToF64(d32(s, 0), c.fpu.mxcsr)
	r1, e1 := fp.F32ToF64(d32(s, 1), c.fpu.mxcsr)
	*d = x128{r0, r1}
	return e0 | e1
}

func cvtpd2ps(c *CPU, _ *insn, d *x128, s x128) uint32 {
	r0, e0 := fp.F64ToF32(s[0], c.fpu.mxcsr)
	r1, e1 := fp.F64ToF32(s[1], c.fpu.mxcsr)
	*d = x128{uint64(r0) | uint64(r1)<<32, 0}
	return e0 | e1
}

func cvtss2sd(c *CPU, _ *insn, d *x128, s x128) uint32 {
	r, e := fp.F32ToF64(d32(s, 0), c.fpu.mxcsr)
	d[0] = r
	return e
}

func cvtsd2ss(c *CPU, _ *insn, d *x128, s x128) uint32 {
	r, e := fp.F64ToF32(s[0], c.fpu.mxcsr)
	setD32(d, 0, r)
	return e
}

func cvtdq2ps(c *CPU, _ *insn, d *x128, s x128) uint32 {
	var fl uint32
	var r x128
	for i := 0; i < 4; i++ {
		v, e := fp.IntToF32(int64(int32(d32(s, i))), c.fpu.mxcsr)
		setD32(&r, i, v)
		fl |= e
	}
	*d = r
	return fl
}

func cvtdq2pd(c *CPU, _ *insn, d *x128, s x128) uint32 {
	r0, _ := fp.IntToF64(int64(int32(d32(s, 0))), c.fpu.mxcsr)
	r1, _ := fp.IntToF64(int64(int32(d32(s, 1))), c.fpu.mxcsr)
	*d = x128{r0, r1}
	return 0
}

func cvtps2dq(trunc bool) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		var fl uint32
		var r x128
		for i := 0; i < 4; i++ {
			v, e := fp.F32ToInt(d32(s, i), c.fpu.mxcsr, 32, trunc)
			setD32(&r, i, uint32(v))
			fl |= e
		}
		*d = r
		return fl
	}
}

func cvtpd2dq(trunc bool) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		v0, e0 := fp.F64ToInt(s[0], c.fpu.mxcsr, 32, trunc)
		v1, e1 := fp.F64ToInt(s[1], c.fpu.mxcsr, 32, trunc)
		*d = x128{uint64(uint32(v0)) | uint64(uint32(v1))<<32, 0}
		return e0 | e1
	}
}

// cvtsi2ss/sd take the integer from the low quadword (in.sz is the
// integer width: 4 or 8).
func cvtsi2ss(c *CPU, in *insn, d *x128, s x128) uint32 {
	v := int64(s[0])
	if in.sz == 4 {
		v = int64(int32(s[0]))
	}
	r, e := fp.IntToF32(v, c.fpu.mxcsr)
	setD32(d, 0, r)
	return e
}

func cvtsi2sd(c *CPU, in *insn, d *x128, s x128) uint32 {
	v := int64(s[0])
	if in.sz == 4 {
		v = int64(int32(s[0]))
	}
	r, e := fp.IntToF64(v, c.fpu.mxcsr)
	d[0] = r
	return e
}

// SSE3 horizontal and alternating FP.
func addsubps(c *CPU, _ *insn, d *x128, s x128) uint32 {
	var fl uint32
	mx := c.fpu.mxcsr
	for i := 0; i < 4; i++ {
		var r, e uint32
		if i&1 == 0 {
			r, e = fp.SubF32(d32(*d, i), d32(s, i), mx)
		} else {
			r, e = fp.AddF32(d32(*d, i), d32(s, i), mx)
		}
		setD32(d, i, r)
		fl |= e
	}
	return fl
}

func addsubpd(c *CPU, _ *insn, d *x128, s x128) uint32 {
	r0, e0 := fp.SubF64(d[0], s[0], c.fpu.mxcsr)
	r1, e1 := fp.AddF64(d[1], s[1], c.fpu.mxcsr)
	*d = x128{r0, r1}
	return e0 | e1
}

func haddps(f f32op) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		mx := c.fpu.mxcsr
		r0, e0 := f(d32(*d, 0), d32(*d, 1), mx)
		r1, e1 := f(d32(*d, 2), d32(*d, 3), mx)
		r2, e2 := f(d32(s, 0), d32(s, 1), mx)
		r3, e3 := f(d32(s, 2), d32(s, 3), mx)
		*d = x128{uint64(r0) | uint64(r1)<<32, uint64(r2) | uint64(r3)<<32}
		return e0 | e1 | e2 | e3
	}
}

func haddpd(f f64op) xfn {
	return func(c *CPU, _ *insn, d *x128, s x128) uint32 {
		r0, e0 := f(d[0], d[1], c.fpu.mxcsr)
		r1, e1 := f(s[0], s[1], c.fpu.mxcsr)
		*d = x128{r0, r1}
		return e0 | e1
	}
}

// SSE4.1 FP.
func roundps(c *CPU, in *insn, d *x128, s x128) uint32 {
	var fl uint32
	for i := 0; i < 4; i++ {
		r, e := fp.RoundF32(d32(s, i), in.op, c.fpu.mxcsr)
		setD32(d, i, r)
		fl |= e
	}
	return fl
}

func roundpd(c *CPU, in *insn, d *x128, s x128) uint32 {
	r0, e0 := fp.RoundF64(s[0], in.op, c.fpu.mxcsr)
	r1, e1 := fp.RoundF64(s[1], in.op, c.fpu.mxcsr)
	*d = x128{r0, r1}
	return e0 | e1
}

func roundss(c *CPU, in *insn, d *x128, s x128) uint32 {
	r, e := fp.RoundF32(d32(s, 0), in.op, c.fpu.mxcsr)
	setD32(d, 0, r)
	return e
}

func roundsd(c *CPU, in *insn, d *x128, s x128) uint32 {
	r, e := fp.RoundF64(s[0], in.op, c.fpu.mxcsr)
	d[0] = r
	return e
}

func dpps(c *CPU, in *insn, d *x128, s x128) uint32 {
	a := [4]uint32{d32(*d, 0), d32(*d, 1), d32(*d, 2), d32(*d, 3)}
	b := [4]uint32{d32(s, 0), d32(s, 1), d32(s, 2), d32(s, 3)}
	r, fl := fp.DotF32(a, b, in.op, c.fpu.mxcsr)
	*d = x128{uint64(r[0]) | uint64(r[1])<<32, uint64(r[2]) | uint64(r[3])<<32}
	return fl
}

func dppd(c *CPU, in *insn, d *x128, s x128) uint32 {
	r, fl := fp.DotF64(*d, s, in.op, c.fpu.mxcsr)
	*d = r
	return fl
}

// Bitwise.
func and64(a, b uint64) uint64  { return a & b }
func andn64(a, b uint64) uint64 { return ^a & b }
func or64(a, b uint64) uint64   { return a | b }
func xor64(a, b uint64) uint64  { return a ^ b }

// Handler shapes. in.imm indexes xfns; in.ssz holds source flags.
const (
	xsAlign = 1 << iota // m128 must be 16-byte aligned (#GP(0))
	xsGPR               // source is general register in.s (in.sz bytes)
	xsImm               // source is the immediate in.op (shift counts)
	xsMMX               // MMX registers instead of XMM
)

var xfns []xfn

func xfnIndex(f xfn) uint64 {
	xfns = append(xfns, f)
	return uint64(len(xfns) - 1)
}

// simdLoad reads in.sz bytes of the memory operand, raising #GP(0) for a
// misaligned one when align is set (SDM Vol. 1 §11.6.8) or the memory
// fault; false means the instruction faulted.
func (c *CPU) simdLoad(in *insn, align bool) (x128, bool) {
	va := c.ea(in)
	if align && va&15 != 0 {
		c.fault(in, vecGP, 0)
		return x128{}, false
	}
	s, ok := c.readN(va, in.sz)
	if !ok {
		c.memFault(in)
	}
	return s, ok
}

// hXmm: d = d op s with d an XMM register and s an XMM register, memory,
// a general register or an immediate.
func hXmm(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	var s x128
	switch {
	case in.mem:
		var ok bool
		if s, ok = c.simdLoad(in, in.ssz&xsAlign != 0); !ok {
			return
		}
	case in.ssz&xsGPR != 0:
		s[0] = c.r[in.s&15] & sizeMask[in.sz]
	case in.ssz&xsImm != 0:
		s[0] = uint64(in.op)
	default:
		s = c.fpu.xmm[in.s&15]
	}
	// The lane function works on a copy, c.fpu.tmp rather than a local,
	// whose address passed to an indirect call would escape to the heap.
	d := &c.fpu.tmp
	*d = c.fpu.xmm[in.d&15]
	if fl := xfns[in.imm](c, in, d, s); fl != 0 && !c.simdFault(in, fl) {
		return
	}
	c.fpu.xmm[in.d&15] = *d
	in.next.h(c, in.next)
}

// hXmmStore stores XMM register in.s (its high quadword when in.op is 1)
// to memory: MOVAPS/MOVUPS/MOVDQA/MOVDQU/MOVNT*/MOVSS/MOVSD/MOVLPS/
// MOVHPS/MOVQ/MOVD m, xmm.
func hXmmStore(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	va := c.ea(in)
	if in.ssz&xsAlign != 0 && va&15 != 0 {
		c.fault(in, vecGP, 0)
		return
	}
	v := c.fpu.xmm[in.s&15]
	if in.op == 1 {
		v[0] = v[1]
	}
	if !c.writeN(in, va, in.sz, v) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// GPR-destination operations. in.op is the immediate; in.imm indexes
// gfns; the result is written with in.sz (4 or 8).
type gfn func(c *CPU, in *insn, s x128) (uint64, uint32)

var gfns []gfn

func gfnIndex(f gfn) uint64 {
	gfns = append(gfns, f)
	return uint64(len(gfns) - 1)
}

func hXmmToGPR(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	var s x128
	if in.mem {
		var ok bool
		if s, ok = c.readN(c.ea(in), in.ssz); !ok {
			c.memFault(in)
			return
		}
	} else {
		s = c.fpu.xmm[in.s&15]
	}
	v, fl := gfns[in.imm](c, in, s)
	if fl != 0 && !c.simdFault(in, fl) {
		return
	}
	c.setReg(in.d, in.sz, v)
	in.next.h(c, in.next)
}

// hXmmExtract is PEXTRB/W/D/Q and EXTRACTPS to a register or memory
// (in.ssz is the element size), and MOVD/MOVQ r/m, xmm.
func hXmmExtract(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	v := c.fpu.xmm[in.s&15]
	n := uint(in.ssz)
	i := uint(in.op) & (16/n - 1)
	b := toBytes(v)
	var x uint64
	for k := uint(0); k < n; k++ {
		x |= uint64(b[i*n+k]) << (8 * k)
	}
	if in.mem {
		if !c.write(in, c.ea(in), in.ssz, x) {
			c.memFault(in)
			return
		}
	} else {
		c.setReg(in.d, in.sz, x)
	}
	in.next.h(c, in.next)
}

func gMovmskps(_ *CPU, _ *insn, s x128) (uint64, uint32) {
	return s[0]>>31&1 | s[0]>>62&2 | s[1]>>29&4 | s[1]>>60&8, 0
}
func gMovmskpd(_ *CPU, _ *insn, s x128) (uint64, uint32) { return s[0]>>63 | s[1]>>63<<1, 0 }
func gPmovmskb(_ *CPU, _ *insn, s x128) (uint64, uint32) { return pmovmskb(s, 16), 0 }
func gPextrw(_ *CPU, in *insn, s x128) (uint64, uint32) {
	return uint64(w16(s, int(in.op&7))), 0
}

func gCvt32(trunc bool) gfn {
	return func(c *CPU, in *insn, s x128) (uint64, uint32) {
		v, fl := fp.F32ToInt(uint32(s[0]), c.fpu.mxcsr, uint(in.sz)*8, trunc)
		return uint64(v), fl
	}
}

func gCvt64(trunc bool) gfn {
	return func(c *CPU, in *insn, s x128) (uint64, uint32) {
		v, fl := fp.F64ToInt(s[0], c.fpu.mxcsr, uint(in.sz)*8, trunc)
		return uint64(v), fl
	}
}

// hComi is COMISS/UCOMISS/COMISD/UCOMISD (in.op bit 0 quiet, bit 1
// double) and PTEST (in.op 4): results in RFLAGS.
func hComi(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	var s x128
	if in.mem {
		var ok bool
		if s, ok = c.simdLoad(in, in.ssz&xsAlign != 0); !ok {
			return
		}
	} else {
		s = c.fpu.xmm[in.s&15]
	}
	d := c.fpu.xmm[in.d&15]
	var f uint64
	var fl uint32
	switch in.op {
	case 4:
		if d[0]&s[0]|d[1]&s[1] == 0 {
			f |= flagZF
		}
		if ^d[0]&s[0]|^d[1]&s[1] == 0 {
			f |= flagCF
		}
	default:
		if in.op&2 == 0 {
			f, fl = fp.ComiF32(uint32(d[0]), uint32(s[0]), in.op&1 != 0, c.fpu.mxcsr)
		} else {
			f, fl = fp.ComiF64(d[0], s[0], in.op&1 != 0, c.fpu.mxcsr)
		}
	}
	if fl != 0 && !c.simdFault(in, fl) {
		return
	}
	c.setFlags(flagsArith, f)
	in.next.h(c, in.next)
}

// RCPPS/RCPSS/RSQRTPS/RSQRTSS return approximations whose bits the SDM
// leaves to the implementation (relative error at most 1.5·2^-12, Vol. 2
// RCPPS). softvmm returns this project's host's bits (an AMD family 1Ah
// CPU; rcp_test.go compares every input class with it): the result
// depends only on the sign, the exponent and significand bits 22-11 of
// the input, and has a 12-bit significand, looked up in rcp_table.go and
// scaled by the exponent. The special cases are the SDM's, with DAZ and
// FTZ making no difference: a zero or denormal input gives the signed
// infinity (RSQRT of a negative denormal too), an infinity the signed
// zero, a NaN its quiet form, RSQRT of another negative number the
// default NaN, and an RCP result below the normal range (input exponent
// 253 or 254, even where the table's value scaled would be 2^-126) a
// signed zero. No flag is raised.
func rcpApprox(x uint32, rsqrt bool) uint32 {
	sign := x & 0x80000000
	e := int(x >> 23 & 0xff)
	i := x >> 11 & 0xfff
	switch {
	case e == 0xff && x&0x7fffff != 0:
		return x | 0x400000
	case e == 0:
		return sign | 0x7f800000
	case rsqrt && sign != 0:
		return 0xffc00000
	case e == 0xff:
		return sign
	case rsqrt:
		// x = 2^(e-127)·1.f: an odd e leaves an even power of two to
		// halve, an even e uses the [2,4) half of the table.
		i |= uint32(1-e&1) << 12
		return uint32(126-(e-127)>>1)<<23 | uint32(rsqrtTable[i])<<11
	}
	re := 253 - e // 1/(2^(e-127)·1.f) = 2^(126-(e-127))·(table's value)
	if re <= 0 {
		return sign
	}
	return sign | uint32(re)<<23 | uint32(rcpTable[i])<<11
}

func rcpps(rsqrt bool) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		for i := 0; i < 4; i++ {
			setD32(d, i, rcpApprox(d32(s, i), rsqrt))
		}
		return 0
	}
}

func rcpss(rsqrt bool) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		setD32(d, 0, rcpApprox(d32(s, 0), rsqrt))
		return 0
	}
}
