package cpu

import (
	"encoding/binary"
	"math/bits"
)

// Integer SIMD and data-movement lanes of SSE/SSE2 (and the MMX forms that
// reuse them on the low quadword). A vector is two little-endian
// quadwords; each xfn computes d = d op s in place and returns the SIMD
// floating-point flags it raised (0 for integer operations). The
// immediate, when the form has one, is in.op.

type x128 = [2]uint64

type xfn func(c *CPU, in *insn, d *x128, s x128) uint32

func toBytes(v x128) (b [16]byte) {
	binary.LittleEndian.PutUint64(b[0:], v[0])
	binary.LittleEndian.PutUint64(b[8:], v[1])
	return
}

func fromBytes(b [16]byte) x128 {
	return x128{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])}
}

func w16(v x128, i int) uint16 { return uint16(v[i>>2] >> (16 * uint(i&3))) }
func d32(v x128, i int) uint32 { return uint32(v[i>>1] >> (32 * uint(i&1))) }
func b8(v x128, i int) uint8   { return uint8(v[i>>3] >> (8 * uint(i&7))) }
func setW16(v *x128, i int, x uint16) {
	sh := 16 * uint(i&3)
	v[i>>2] = v[i>>2]&^(0xffff<<sh) | uint64(x)<<sh
}
func setD32(v *x128, i int, x uint32) {
	sh := 32 * uint(i&1)
	v[i>>1] = v[i>>1]&^(0xffffffff<<sh) | uint64(x)<<sh
}
func setB8(v *x128, i int, x uint8) {
	sh := 8 * uint(i&7)
	v[i>>3] = v[i>>3]&^(0xff<<sh) | uint64(x)<<sh
}

func lanes8(d *x128, s x128, f func(a, b uint8) uint8) {
	a, b := toBytes(*d), toBytes(s)
	for i := range a {
		a[i] = f(a[i], b[i])
	}
	*d = fromBytes(a)
}

func lanes16(d *x128, s x128, f func(a, b uint16) uint16) {
	for i := 0; i < 8; i++ {
		setW16(d, i, f(w16(*d, i), w16(s, i)))
	}
}

func lanes32(d *x128, s x128, f func(a, b uint32) uint32) {
	for i := 0; i < 4; i++ {
		setD32(d, i, f(d32(*d, i), d32(s, i)))
	}
}

// The saturating narrowings of PACKSS/PACKUS and the saturating adds:
// clamp to the destination's range, then keep its bits.
func sat8s(v int32) uint8   { return uint8(int8(min(max(v, -128), 127))) }
func sat8u(v int32) uint8   { return uint8(min(max(v, 0), 255)) }
func sat16s(v int32) uint16 { return uint16(int16(min(max(v, -32768), 32767))) }
func sat16u(v int32) uint16 { return uint16(min(max(v, 0), 65535)) }

func mask8(b bool) uint8 {
	if b {
		return 0xff
	}
	return 0
}
func mask16(b bool) uint16 {
	if b {
		return 0xffff
	}
	return 0
}
func mask32(b bool) uint32 {
	if b {
		return 0xffffffff
	}
	return 0
}
func mask64(b bool) uint64 {
	if b {
		return ^uint64(0)
	}
	return 0
}

// e8 wraps a byte-lane function as an xfn.
func e8(f func(a, b uint8) uint8) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 { lanes8(d, s, f); return 0 }
}
func e16(f func(a, b uint16) uint16) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 { lanes16(d, s, f); return 0 }
}
func e32(f func(a, b uint32) uint32) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 { lanes32(d, s, f); return 0 }
}
func e64(f func(a, b uint64) uint64) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		d[0], d[1] = f(d[0], s[0]), f(d[1], s[1])
		return 0
	}
}

// shiftCount is the count of the register/memory forms: the whole low
// quadword, saturating.
func shiftCount(s x128) uint64 { return s[0] }

// shiftLanes shifts each 16- or 32-bit lane: kind 0 left, 1 logical
// right, 2 arithmetic right; counts past the width give 0 (or the sign).
func shiftLanes(d *x128, n uint64, kind int, width uint) {
	for i := 0; i < int(128/width); i++ {
		var v uint64
		if width == 16 {
			v = uint64(w16(*d, i))
		} else {
			v = uint64(d32(*d, i))
		}
		sign := v>>(width-1) != 0
		switch {
		case kind == 2 && n >= uint64(width):
			v = 0
			if sign {
				v = ^uint64(0)
			}
		case kind == 2:
			v = uint64(int64(v<<(64-width)) >> (64 - width) >> n)
		case n >= uint64(width):
			v = 0
		case kind == 0:
			v <<= n
		default:
			v >>= n
		}
		if width == 16 {
			setW16(d, i, uint16(v))
		} else {
			setD32(d, i, uint32(v))
		}
	}
}

func shiftQ(d *x128, n uint64, left bool) {
	for i := 0; i < 2; i++ {
		switch {
		case n > 63:
			d[i] = 0
		case left:
			d[i] <<= n
		default:
			d[i] >>= n
		}
	}
}

func xShift(kind int, width int) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		n := shiftCount(s)
		if width == 64 {
			shiftQ(d, n, kind == 0)
		} else {
			shiftLanes(d, n, kind, uint(width))
		}
		return 0
	}
}

// byteShift is PSLLDQ (left) and PSRLDQ by imm bytes.
func byteShift(left bool) xfn {
	return func(_ *CPU, in *insn, d *x128, s x128) uint32 {
		n := int(s[0])
		if n > 16 {
			n = 16
		}
		a := toBytes(*d)
		var r [16]byte
		for i := 0; i < 16; i++ {
			j := i + n
			if left {
				j = i - n
			}
			if j >= 0 && j < 16 {
				r[i] = a[j]
			}
		}
		*d = fromBytes(r)
		return 0
	}
}

// unpackLo/Hi interleave elements of size sz bytes from the low (high)
// halves of d and s: PUNPCKL*/PUNPCKH*, UNPCKLPS/PD, UNPCKHPS/PD.
func unpack(sz int, hi bool) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		a, b := toBytes(*d), toBytes(s)
		var r [16]byte
		base := 0
		if hi {
			base = 8
		}
		for i := 0; i < 8/sz; i++ {
			copy(r[2*i*sz:], a[base+i*sz:base+(i+1)*sz])
			copy(r[(2*i+1)*sz:], b[base+i*sz:base+(i+1)*sz])
		}
		*d = fromBytes(r)
		return 0
	}
}

func packSSWB(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 8; i++ {
		setB8(&r, i, sat8s(int32(int16(w16(*d, i)))))
		setB8(&r, i+8, sat8s(int32(int16(w16(s, i)))))
	}
	*d = r
	return 0
}

func packUSWB(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 8; i++ {
		setB8(&r, i, sat8u(int32(int16(w16(*d, i)))))
		setB8(&r, i+8, sat8u(int32(int16(w16(s, i)))))
	}
	*d = r
	return 0
}

func packSSDW(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 4; i++ {
		setW16(&r, i, sat16s(int32(d32(*d, i))))
		setW16(&r, i+4, sat16s(int32(d32(s, i))))
	}
	*d = r
	return 0
}

func packUSDW(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 4; i++ {
		v := int64(int32(d32(*d, i)))
		w := int64(int32(d32(s, i)))
		setW16(&r, i, sat16u64(v))
		setW16(&r, i+4, sat16u64(w))
	}
	*d = r
	return 0
}

func sat16u64(v int64) uint16 {
	switch {
	case v > 65535:
		return 0xffff
	case v < 0:
		return 0
	}
	return uint16(v)
}

func pshufd(_ *CPU, in *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 4; i++ {
		setD32(&r, i, d32(s, int(in.op>>(2*uint(i))&3)))
	}
	*d = r
	return 0
}

func pshuflw(_ *CPU, in *insn, d *x128, s x128) uint32 {
	r := s
	for i := 0; i < 4; i++ {
		setW16(&r, i, w16(s, int(in.op>>(2*uint(i))&3)))
	}
	*d = r
	return 0
}

func pshufhw(_ *CPU, in *insn, d *x128, s x128) uint32 {
	r := s
	for i := 0; i < 4; i++ {
		setW16(&r, 4+i, w16(s, 4+int(in.op>>(2*uint(i))&3)))
	}
	*d = r
	return 0
}

func shufps(_ *CPU, in *insn, d *x128, s x128) uint32 {
	var r x128
	setD32(&r, 0, d32(*d, int(in.op&3)))
	setD32(&r, 1, d32(*d, int(in.op>>2&3)))
	setD32(&r, 2, d32(s, int(in.op>>4&3)))
	setD32(&r, 3, d32(s, int(in.op>>6&3)))
	*d = r
	return 0
}

func shufpd(_ *CPU, in *insn, d *x128, s x128) uint32 {
	*d = x128{d[in.op&1], s[in.op>>1&1]}
	return 0
}

func pmaddwd(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 4; i++ {
		p := int32(int16(w16(*d, 2*i)))*int32(int16(w16(s, 2*i))) +
			int32(int16(w16(*d, 2*i+1)))*int32(int16(w16(s, 2*i+1)))
		setD32(&r, i, uint32(p))
	}
	*d = r
	return 0
}

func pmuludq(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	d[0] = uint64(uint32(d[0])) * uint64(uint32(s[0]))
	d[1] = uint64(uint32(d[1])) * uint64(uint32(s[1]))
	return 0
}

func psadbw(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	a, b := toBytes(*d), toBytes(s)
	var r x128
	for h := 0; h < 2; h++ {
		var sum uint64
		for i := 0; i < 8; i++ {
			x, y := int(a[8*h+i]), int(b[8*h+i])
			if x > y {
				sum += uint64(x - y)
			} else {
				sum += uint64(y - x)
			}
		}
		r[h] = sum
	}
	*d = r
	return 0
}

// Moves. movFull copies the whole source (MOVAPS, MOVDQU, ...).
func movFull(_ *CPU, _ *insn, d *x128, s x128) uint32 { *d = s; return 0 }

// movScalar32 is MOVSS xmm, xmm/m32: a register source merges the low
// dword, a memory one zeroes the rest.
func movScalar32(_ *CPU, in *insn, d *x128, s x128) uint32 {
	if in.mem {
		*d = x128{uint64(uint32(s[0])), 0}
	} else {
		d[0] = d[0]&^0xffffffff | s[0]&0xffffffff
	}
	return 0
}

func movScalar64(_ *CPU, in *insn, d *x128, s x128) uint32 {
	if in.mem {
		*d = x128{s[0], 0}
	} else {
		d[0] = s[0]
	}
	return 0
}

// movZeroQ is MOVQ xmm, xmm/m64 and MOVD/MOVQ xmm, r/m: the rest zeroed.
func movZeroQ(_ *CPU, _ *insn, d *x128, s x128) uint32 { *d = x128{s[0], 0}; return 0 }
func movZeroD(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	*d = x128{uint64(uint32(s[0])), 0}
	return 0
}

// movLo is MOVLPS/MOVLPD xmm, m64; movHi MOVHPS/MOVHPD xmm, m64; the
// register forms of 0F 12/16 are MOVHLPS/MOVLHPS (decoded as such).
func movLo(_ *CPU, _ *insn, d *x128, s x128) uint32   { d[0] = s[0]; return 0 }
func movHi(_ *CPU, _ *insn, d *x128, s x128) uint32   { d[1] = s[0]; return 0 }
func movHLPS(_ *CPU, _ *insn, d *x128, s x128) uint32 { d[0] = s[1]; return 0 }
func movLHPS(_ *CPU, _ *insn, d *x128, s x128) uint32 { d[1] = s[0]; return 0 }

func pinsrw(_ *CPU, in *insn, d *x128, s x128) uint32 {
	setW16(d, int(in.op&7), uint16(s[0]))
	return 0
}

// SSE3 moves.
func movsldup(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	*d = x128{s[0]&0xffffffff | s[0]<<32, s[1]&0xffffffff | s[1]<<32}
	return 0
}
func movshdup(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	*d = x128{s[0]>>32 | s[0]&^0xffffffff, s[1]>>32 | s[1]&^0xffffffff}
	return 0
}
func movddup(_ *CPU, _ *insn, d *x128, s x128) uint32 { *d = x128{s[0], s[0]}; return 0 }

// SSSE3.
func pshufb(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	a, b := toBytes(*d), toBytes(s)
	var r [16]byte
	for i := range r {
		if b[i]&0x80 == 0 {
			r[i] = a[b[i]&15]
		}
	}
	*d = fromBytes(r)
	return 0
}

func palignr(_ *CPU, in *insn, d *x128, s x128) uint32 {
	a, b := toBytes(*d), toBytes(s)
	var cat [32]byte
	copy(cat[:16], b[:])
	copy(cat[16:], a[:])
	var r [16]byte
	for i := range r {
		if j := int(in.op) + i; j < 32 {
			r[i] = cat[j]
		}
	}
	*d = fromBytes(r)
	return 0
}

func abs8(_, b uint8) uint8 {
	if int8(b) < 0 {
		return -b
	}
	return b
}
func abs16(_, b uint16) uint16 {
	if int16(b) < 0 {
		return -b
	}
	return b
}
func abs32(_, b uint32) uint32 {
	if int32(b) < 0 {
		return -b
	}
	return b
}
func sign8(a, b uint8) uint8 {
	switch {
	case int8(b) < 0:
		return -a
	case b == 0:
		return 0
	}
	return a
}
func sign16(a, b uint16) uint16 {
	switch {
	case int16(b) < 0:
		return -a
	case b == 0:
		return 0
	}
	return a
}
func sign32(a, b uint32) uint32 {
	switch {
	case int32(b) < 0:
		return -a
	case b == 0:
		return 0
	}
	return a
}

// hadd16 is PHADDW/PHSUBW/PHADDSW/PHSUBSW: op 0 add, 1 sub, 2 adds, 3 subs.
func hadd16(op int) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		f := func(x, y uint16) uint16 {
			a, b := int32(int16(x)), int32(int16(y))
			switch op {
			case 0:
				return uint16(a + b)
			case 1:
				return uint16(a - b)
			case 2:
				return sat16s(a + b)
			}
			return sat16s(a - b)
		}
		var r x128
		for i := 0; i < 4; i++ {
			setW16(&r, i, f(w16(*d, 2*i), w16(*d, 2*i+1)))
			setW16(&r, 4+i, f(w16(s, 2*i), w16(s, 2*i+1)))
		}
		*d = r
		return 0
	}
}

func hadd32(sub bool) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		f := func(a, b uint32) uint32 {
			if sub {
				return a - b
			}
			return a + b
		}
		var r x128
		for i := 0; i < 2; i++ {
			setD32(&r, i, f(d32(*d, 2*i), d32(*d, 2*i+1)))
			setD32(&r, 2+i, f(d32(s, 2*i), d32(s, 2*i+1)))
		}
		*d = r
		return 0
	}
}

func pmaddubsw(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	var r x128
	for i := 0; i < 8; i++ {
		p := int32(b8(*d, 2*i))*int32(int8(b8(s, 2*i))) + int32(b8(*d, 2*i+1))*int32(int8(b8(s, 2*i+1)))
		setW16(&r, i, sat16s(p))
	}
	*d = r
	return 0
}

func pmulhrsw(a, b uint16) uint16 {
	p := int32(int16(a)) * int32(int16(b))
	return uint16(((p >> 14) + 1) >> 1)
}

// SSE4.1 integer.
func pmovx(from, to int, signed bool) xfn {
	return func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		var r x128
		n := 16 / to
		for i := 0; i < n; i++ {
			var v uint64
			switch from {
			case 1:
				v = uint64(b8(s, i))
				if signed {
					v = uint64(int64(int8(v)))
				}
			case 2:
				v = uint64(w16(s, i))
				if signed {
					v = uint64(int64(int16(v)))
				}
			default:
				v = uint64(d32(s, i))
				if signed {
					v = uint64(int64(int32(v)))
				}
			}
			switch to {
			case 2:
				setW16(&r, i, uint16(v))
			case 4:
				setD32(&r, i, uint32(v))
			default:
				r[i] = v
			}
		}
		*d = r
		return 0
	}
}

func pblendw(_ *CPU, in *insn, d *x128, s x128) uint32 {
	for i := 0; i < 8; i++ {
		if in.op>>uint(i)&1 != 0 {
			setW16(d, i, w16(s, i))
		}
	}
	return 0
}

func blendps(_ *CPU, in *insn, d *x128, s x128) uint32 {
	for i := 0; i < 4; i++ {
		if in.op>>uint(i)&1 != 0 {
			setD32(d, i, d32(s, i))
		}
	}
	return 0
}

func blendpd(_ *CPU, in *insn, d *x128, s x128) uint32 {
	for i := 0; i < 2; i++ {
		if in.op>>uint(i)&1 != 0 {
			d[i] = s[i]
		}
	}
	return 0
}

// The variable blends take their mask from XMM0's sign bits.
func pblendvb(c *CPU, _ *insn, d *x128, s x128) uint32 {
	m := c.fpu.xmm[0]
	for i := 0; i < 16; i++ {
		if b8(m, i)&0x80 != 0 {
			setB8(d, i, b8(s, i))
		}
	}
	return 0
}

func blendvps(c *CPU, _ *insn, d *x128, s x128) uint32 {
	m := c.fpu.xmm[0]
	for i := 0; i < 4; i++ {
		if d32(m, i)>>31 != 0 {
			setD32(d, i, d32(s, i))
		}
	}
	return 0
}

func blendvpd(c *CPU, _ *insn, d *x128, s x128) uint32 {
	m := c.fpu.xmm[0]
	for i := 0; i < 2; i++ {
		if m[i]>>63 != 0 {
			d[i] = s[i]
		}
	}
	return 0
}

func pmuldq(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	d[0] = uint64(int64(int32(d[0])) * int64(int32(s[0])))
	d[1] = uint64(int64(int32(d[1])) * int64(int32(s[1])))
	return 0
}

func phminposuw(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	mi, v := 0, w16(s, 0)
	for i := 1; i < 8; i++ {
		if w := w16(s, i); w < v {
			mi, v = i, w
		}
	}
	*d = x128{uint64(v) | uint64(mi)<<16, 0}
	return 0
}

func mpsadbw(_ *CPU, in *insn, d *x128, s x128) uint32 {
	a, b := toBytes(*d), toBytes(s)
	ao := int(in.op>>2&1) * 4
	bo := int(in.op&3) * 4
	var r x128
	for i := 0; i < 8; i++ {
		var sum int
		for j := 0; j < 4; j++ {
			x, y := int(a[ao+i+j]), int(b[bo+j])
			if x > y {
				sum += x - y
			} else {
				sum += y - x
			}
		}
		setW16(&r, i, uint16(sum))
	}
	*d = r
	return 0
}

func insertps(_ *CPU, in *insn, d *x128, s x128) uint32 {
	v := d32(s, int(in.op>>6))
	if in.mem {
		v = uint32(s[0])
	}
	setD32(d, int(in.op>>4&3), v)
	for i := 0; i < 4; i++ {
		if in.op>>uint(i)&1 != 0 {
			setD32(d, i, 0)
		}
	}
	return 0
}

func pinsrb(_ *CPU, in *insn, d *x128, s x128) uint32 {
	setB8(d, int(in.op&15), uint8(s[0]))
	return 0
}
func pinsrd(_ *CPU, in *insn, d *x128, s x128) uint32 {
	setD32(d, int(in.op&3), uint32(s[0]))
	return 0
}
func pinsrq(_ *CPU, in *insn, d *x128, s x128) uint32 {
	d[in.op&1] = s[0]
	return 0
}

// pclmul is PCLMULQDQ: carry-less product of the selected quadwords.
func pclmul(_ *CPU, in *insn, d *x128, s x128) uint32 {
	a, b := d[in.op&1], s[in.op>>4&1]
	var lo, hi uint64
	for i := uint(0); i < 64; i++ {
		if b>>i&1 != 0 {
			lo ^= a << i
			if i > 0 {
				hi ^= a >> (64 - i)
			}
		}
	}
	*d = x128{lo, hi}
	return 0
}

// GPR results: movemasks, extracts.
func pmovmskb(v x128, n int) uint64 {
	var m uint64
	for i := 0; i < n; i++ {
		m |= uint64(b8(v, i)>>7) << uint(i)
	}
	return m
}

func popcnt64(v uint64) uint64 { return uint64(bits.OnesCount64(v)) }
