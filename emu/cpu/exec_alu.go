package cpu

import "math/bits"

//go:generate go run ./internal/genalu

// ALU operations, in the /r order of opcodes 80-83 (plus TEST).
const (
	aADD = iota
	aOR
	aADC
	aSBB
	aAND
	aSUB
	aXOR
	aCMP // aCMP and above do not write their destination
	aTEST
)

// Shift/rotate operations, in the /r order of opcodes C0/C1/D0-D3.
const (
	sROL = iota
	sROR
	sRCL
	sRCR
	sSHL
	sSHR
	_
	sSAR
)

// Unary operations.
const (
	uINC = iota
	uDEC
	uNEG
	uNOT
)

// Multiply/divide operations (F6/F7 /4-/7).
const (
	mMUL = iota
	mIMUL
	mDIV
	mIDIV
)

func (c *CPU) getReg(r, sz uint8) uint64 {
	if r >= 16 {
		return (c.r[r-16] >> 8) & 0xff
	}
	return c.r[r] & sizeMask[sz]
}

// setReg writes a register with x86-64 merge rules: 32-bit writes
// zero-extend, 8/16-bit writes merge.
func (c *CPU) setReg(r, sz uint8, v uint64) {
	switch sz {
	case 8:
		c.r[r] = v
	case 4:
		c.r[r] = uint64(uint32(v))
	case 2:
		c.r[r] = c.r[r]&^0xffff | v&0xffff
	default:
		if r >= 16 {
			c.r[r-16] = c.r[r-16]&^0xff00 | (v&0xff)<<8
		} else {
			c.r[r] = c.r[r]&^0xff | v&0xff
		}
	}
}

func sext(v uint64, sz uint8) int64 {
	sh := 64 - uint(sz)*8
	return int64(v<<sh) >> sh
}

// alu performs op on a and b (both masked to sz) and records the flags.
func (c *CPU) alu(op, sz uint8, a, b uint64) uint64 {
	m := sizeMask[sz]
	var r uint64
	switch op {
	case aADD:
		r = (a + b) & m
		c.lz.set(lzAdd, sz, a, b, r, 0)
	case aOR:
		r = a | b
		c.lz.set(lzLogic, sz, 0, 0, r, 0)
	case aADC:
		cin := c.cf()
		r = (a + b + cin) & m
		c.lz.set(lzAdc, sz, a, b, r, cin)
	case aSBB:
		cin := c.cf()
		r = (a - b - cin) & m
		c.lz.set(lzSbb, sz, a, b, r, cin)
	case aAND, aTEST:
		r = a & b
		c.lz.set(lzLogic, sz, 0, 0, r, 0)
	case aSUB, aCMP:
		r = (a - b) & m
		c.lz.set(lzSub, sz, a, b, r, 0)
	case aXOR:
		r = a ^ b
		c.lz.set(lzLogic, sz, 0, 0, r, 0)
	}
	return r
}

func hAluRR(c *CPU, in *insn) {
	r := c.alu(in.op, in.sz, c.getReg(in.d, in.sz), c.getReg(in.s, in.sz))
	if in.op < aCMP {
		c.setReg(in.d, in.sz, r)
	}
	in.next.h(c, in.next)
}

func hAluRI(c *CPU, in *insn) {
	r := c.alu(in.op, in.sz, c.getReg(in.d, in.sz), in.imm)
	if in.op < aCMP {
		c.setReg(in.d, in.sz, r)
	}
	in.next.h(c, in.next)
}

func hAluRM(c *CPU, in *insn) {
	b, ok := c.read(c.ea(in), in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	r := c.alu(in.op, in.sz, c.getReg(in.d, in.sz), b)
	if in.op < aCMP {
		c.setReg(in.d, in.sz, r)
	}
	in.next.h(c, in.next)
}

// aluM is the memory-destination form; src is the second operand.
func (c *CPU) aluM(in *insn, src uint64) bool {
	addr := c.ea(in)
	if in.op >= aCMP {
		a, ok := c.read(addr, in.sz)
		if !ok {
			return false
		}
		c.alu(in.op, in.sz, a, src)
		return true
	}
	a, ok := c.readW(addr, in.sz)
	if !ok {
		return false
	}
	return c.write(in, addr, in.sz, c.alu(in.op, in.sz, a, src))
}

func hAluMR(c *CPU, in *insn) {
	if !c.aluM(in, c.getReg(in.s, in.sz)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hAluMI(c *CPU, in *insn) {
	if !c.aluM(in, in.imm) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// unary: INC, DEC, NEG, NOT.
func (c *CPU) unary(op, sz uint8, a uint64) uint64 {
	m := sizeMask[sz]
	var r uint64
	switch op {
	case uINC:
		cf := c.cf()
		r = (a + 1) & m
		c.lz.set(lzInc, sz, a, 1, r, cf)
	case uDEC:
		cf := c.cf()
		r = (a - 1) & m
		c.lz.set(lzDec, sz, a, 1, r, cf)
	case uNEG:
		r = (-a) & m
		c.lz.set(lzNeg, sz, a, 0, r, 0)
	case uNOT:
		r = ^a & m
	}
	return r
}

func hInc64R(c *CPU, in *insn) {
	cf := c.cf()
	a := c.r[in.d&15]
	r := a + 1
	c.r[in.d&15] = r
	c.lz.set(lzInc, 8, a, 1, r, cf)
	in.next.h(c, in.next)
}

func hDec64R(c *CPU, in *insn) {
	cf := c.cf()
	a := c.r[in.d&15]
	r := a - 1
	c.r[in.d&15] = r
	c.lz.set(lzDec, 8, a, 1, r, cf)
	in.next.h(c, in.next)
}

func hInc32R(c *CPU, in *insn) {
	cf := c.cf()
	a := uint64(uint32(c.r[in.d&15]))
	r := uint64(uint32(a + 1))
	c.r[in.d&15] = r
	c.lz.set(lzInc, 4, a, 1, r, cf)
	in.next.h(c, in.next)
}

func hDec32R(c *CPU, in *insn) {
	cf := c.cf()
	a := uint64(uint32(c.r[in.d&15]))
	r := uint64(uint32(a - 1))
	c.r[in.d&15] = r
	c.lz.set(lzDec, 4, a, 1, r, cf)
	in.next.h(c, in.next)
}

func hUnaryR(c *CPU, in *insn) {
	c.setReg(in.d, in.sz, c.unary(in.op, in.sz, c.getReg(in.d, in.sz)))
	in.next.h(c, in.next)
}

func hUnaryM(c *CPU, in *insn) {
	addr := c.ea(in)
	a, ok := c.readW(addr, in.sz)
	if !ok || !c.write(in, addr, in.sz, c.unary(in.op, in.sz, a)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// setFlags replaces the arithmetic flags selected by mask.
func (c *CPU) setFlags(mask, f uint64) {
	c.fl = c.rflags()&^mask | f&mask
	c.lz.op = lzNone
}

// shift performs a shift or rotate by the (unmasked) count n.
func (c *CPU) shift(op, sz uint8, a uint64, n uint64) uint64 {
	if sz == 8 {
		n &= 63
	} else {
		n &= 31
	}
	if n == 0 {
		return a
	}
	w := uint64(sz) * 8
	m := sizeMask[sz]
	sb := signBit[sz]
	switch op {
	case sSHL:
		var r uint64
		if n < 64 {
			r = (a << n) & m
		}
		c.lz.set(lzShl, sz, a, n, r, 0)
		return r
	case sSHR:
		r := a >> n
		c.lz.set(lzShr, sz, a, n, r, 0)
		return r
	case sSAR:
		r := uint64(sext(a, sz)>>n) & m
		c.lz.set(lzSar, sz, a, n, r, 0)
		return r
	case sROL, sROR:
		k := n % w
		var r uint64
		if op == sROL {
			r = (a<<k | a>>((w-k)%w)) & m
		} else {
			r = (a>>k | a<<((w-k)%w)) & m
		}
		if k == 0 {
			r = a
		}
		var f uint64
		if op == sROL {
			f = r & 1
			if (r&sb != 0) != (f != 0) {
				f |= flagOF
			}
		} else {
			if r&sb != 0 {
				f = flagCF
			}
			if (r&sb != 0) != (r&(sb>>1) != 0) {
				f |= flagOF
			}
		}
		c.setFlags(flagCF|flagOF, f)
		return r
	case sRCL, sRCR:
		k := n
		if sz < 4 {
			k = n % (w + 1)
		}
		cf := c.cf()
		r := a
		f := c.rflags()
		for ; k > 0; k-- {
			if op == sRCL {
				out := (r & sb) >> (w - 1)
				r = (r<<1 | cf) & m
				cf = out
			} else {
				out := r & 1
				r = r>>1 | cf<<(w-1)
				cf = out
			}
		}
		var nf uint64 = cf
		if op == sRCL {
			if (r&sb != 0) != (cf != 0) {
				nf |= flagOF
			}
		} else {
			if (r&sb != 0) != (r&(sb>>1) != 0) {
				nf |= flagOF
			}
		}
		c.fl = f&^(flagCF|flagOF) | nf
		c.lz.op = lzNone
		return r
	}
	return a
}

func (c *CPU) shiftCount(in *insn) uint64 {
	if in.ssz == 1 {
		return c.r[rCX] & 0xff
	}
	return in.imm
}

func hShiftR(c *CPU, in *insn) {
	c.setReg(in.d, in.sz, c.shift(in.op, in.sz, c.getReg(in.d, in.sz), c.shiftCount(in)))
	in.next.h(c, in.next)
}

func hShiftM(c *CPU, in *insn) {
	addr := c.ea(in)
	a, ok := c.readW(addr, in.sz)
	if !ok || !c.write(in, addr, in.sz, c.shift(in.op, in.sz, a, c.shiftCount(in))) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// hShld: SHLD (op 0) / SHRD (op 1) dst, src, count.
func hShld(c *CPU, in *insn) {
	n := in.imm
	if in.ssz == 1 {
		n = c.r[rCX]
	}
	if in.sz == 8 {
		n &= 63
	} else {
		n &= 31
	}
	var addr, a uint64
	var ok bool
	if in.mem {
		addr = c.ea(in)
		if a, ok = c.readW(addr, in.sz); !ok {
			c.memFault(in)
			return
		}
	} else {
		a = c.getReg(in.d, in.sz)
	}
	if n != 0 {
		src := c.getReg(in.s, in.sz)
		w := uint64(in.sz) * 8
		m := sizeMask[in.sz]
		sb := signBit[in.sz]
		var r, cf uint64
		if in.sz == 2 {
			// 16-bit counts above 16 are undefined; shift through the
			// 48-bit concatenation as the host does.
			if in.op == 0 {
				cat := a<<32 | src<<16 | a
				r = (cat << n >> 32) & m
				cf = (cat << (n - 1) >> 47) & 1
			} else {
				cat := a | src<<16 | a<<32
				r = (cat >> n) & m
				cf = (cat >> (n - 1)) & 1
			}
		} else if in.op == 0 {
			r = (a<<n | src>>(w-n)) & m
			cf = (a >> (w - n)) & 1
		} else {
			r = (a>>n | src<<(w-n)) & m
			cf = (a >> (n - 1)) & 1
		}
		// OF is defined for count 1 only (sign change); for other counts
		// these are the AMD Zen values, which agree at count 1. AF is
		// undefined; Zen sets it.
		f := szp(r, in.sz) | cf | flagAF
		of := r&sb != 0 != (cf != 0)
		if in.op == 1 {
			of = r&sb != 0 != (r&(sb>>1) != 0)
		}
		if of {
			f |= flagOF
		}
		c.setFlags(flagsArith, f)
		a = r
	}
	if in.mem {
		if !c.write(in, addr, in.sz, a) {
			c.memFault(in)
			return
		}
	} else {
		c.setReg(in.d, in.sz, a)
	}
	in.next.h(c, in.next)
}

// rmSrc reads the r/m source operand of a reg,r/m instruction.
func (c *CPU) rmSrc(in *insn, sz uint8) (uint64, bool) {
	if in.mem {
		return c.read(c.ea(in), sz)
	}
	return c.getReg(in.s, sz), true
}

// rm1 reads the single r/m operand of a unary-form instruction (register
// in in.d).
func (c *CPU) rm1(in *insn) (uint64, bool) {
	if in.mem {
		return c.read(c.ea(in), in.sz)
	}
	return c.getReg(in.d, in.sz), true
}

// hMulDiv: MUL, IMUL, DIV, IDIV with the implicit accumulator.
func hMulDiv(c *CPU, in *insn) {
	src, ok := c.rm1(in)
	if !ok {
		c.memFault(in)
		return
	}
	sz := in.sz
	m := sizeMask[sz]
	w := uint(sz) * 8
	var lo, hi uint64
	a := c.r[rAX] & m
	if sz == 1 {
		a = c.r[rAX] & 0xff
	}
	switch in.op {
	case mMUL:
		if sz == 8 {
			hi, lo = bits.Mul64(a, src)
		} else {
			p := a * src
			lo, hi = p&m, p>>w
		}
		var f uint64
		if hi != 0 {
			f = flagCF | flagOF
		}
		c.setFlags(flagCF|flagOF, f)
	case mIMUL:
		var ovf bool
		if sz == 8 {
			h, l := bits.Mul64(a, src)
			// signed high half
			if int64(a) < 0 {
				h -= src
			}
			if int64(src) < 0 {
				h -= a
			}
			hi, lo = h, l
			ovf = hi != uint64(int64(lo)>>63)
		} else {
			p := sext(a, sz) * sext(src, sz)
			lo, hi = uint64(p)&m, uint64(p>>w)&m
			ovf = p != sext(lo, sz)
		}
		var f uint64
		if ovf {
			f = flagCF | flagOF
		}
		c.setFlags(flagCF|flagOF, f)
	case mDIV, mIDIV:
		var d uint64
		if sz == 1 {
			d = c.r[rAX] & 0xffff
		} else {
			d = c.r[rDX] & m
		}
		if src == 0 {
			c.fault(in, vecDE, 0)
			return
		}
		var q, r uint64
		if in.op == mDIV {
			if sz == 8 {
				if d >= src {
					c.fault(in, vecDE, 0)
					return
				}
				q, r = bits.Div64(d, a, src)
			} else {
				n := a
				if sz != 1 {
					n = d<<w | a
				} else {
					n = d
				}
				q, r = n/src, n%src
				if q > m {
					c.fault(in, vecDE, 0)
					return
				}
			}
		} else {
			var ok bool
			q, r, ok = idiv(d, a, src, sz)
			if !ok {
				c.fault(in, vecDE, 0)
				return
			}
		}
		lo, hi = q, r
		// Flags are undefined after DIV/IDIV; AMD Zen leaves CF and OF,
		// clears SF, ZF, PF and sets AF.
		c.setFlags(flagSF|flagZF|flagPF|flagAF, flagAF)
	}
	if sz == 1 {
		if in.op >= mDIV {
			c.r[rAX] = c.r[rAX]&^0xffff | hi<<8 | lo
		} else {
			c.r[rAX] = c.r[rAX]&^0xffff | hi<<8&0xff00 | lo
		}
	} else {
		c.setReg(rAX, sz, lo)
		c.setReg(rDX, sz, hi)
	}
	in.next.h(c, in.next)
}

// idiv divides the signed double-width dividend hi:lo (8-bit: the 16 bits
// in hi) by src, reporting false on #DE.
func idiv(hi, lo, src uint64, sz uint8) (q, r uint64, ok bool) {
	m := sizeMask[sz]
	ds := sext(src, sz)
	if sz == 8 {
		neg := int64(hi) < 0
		uh, ul := hi, lo
		if neg {
			ul = -lo
			uh = ^hi
			if ul == 0 {
				uh++
			}
		}
		us := uint64(ds)
		if ds < 0 {
			us = -us
		}
		if uh >= us {
			return 0, 0, false
		}
		uq, ur := bits.Div64(uh, ul, us)
		qneg := neg != (ds < 0)
		if qneg {
			if uq > 1<<63 {
				return 0, 0, false
			}
			q = -uq
		} else {
			if uq > 1<<63-1 {
				return 0, 0, false
			}
			q = uq
		}
		r = ur
		if neg {
			r = -ur
		}
		return q, r, true
	}
	var n int64
	if sz == 1 {
		n = int64(int16(hi))
	} else {
		n = sext(hi<<(uint(sz)*8)|lo, sz*2)
	}
	qq, rr := n/ds, n%ds
	if qq != sext(uint64(qq)&m, sz) {
		return 0, 0, false
	}
	return uint64(qq) & m, uint64(rr) & m, true
}

// hImul2: IMUL r, r/m and IMUL r, r/m, imm.
func hImul2(c *CPU, in *insn) {
	src, ok := c.rmSrc(in, in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	sz := in.sz
	b := c.getReg(in.d, sz)
	if in.ssz == 1 {
		b = in.imm
	}
	var lo uint64
	var ovf bool
	if sz == 8 {
		h, l := bits.Mul64(src, b)
		if int64(src) < 0 {
			h -= b
		}
		if int64(b) < 0 {
			h -= src
		}
		lo = l
		ovf = h != uint64(int64(l)>>63)
	} else {
		p := sext(src, sz) * sext(b, sz)
		lo = uint64(p) & sizeMask[sz]
		ovf = p != sext(lo, sz)
	}
	var f uint64
	if ovf {
		f = flagCF | flagOF
	}
	c.setFlags(flagCF|flagOF, f)
	c.setReg(in.d, sz, lo)
	in.next.h(c, in.next)
}

// hBt: BT/BTS/BTR/BTC (op 0-3); ssz 1 = immediate bit offset.
func hBt(c *CPU, in *insn) {
	sz := in.sz
	w := uint64(sz) * 8
	var off uint64
	if in.ssz == 1 {
		off = in.imm % w
	} else {
		off = c.getReg(in.s, sz)
	}
	var v, addr uint64
	var ok bool
	if in.mem {
		addr = c.ea(in)
		if in.ssz != 1 {
			// Register offsets address a bit string: signed.
			so := sext(off, sz)
			addr += uint64((so >> (3 + bits.TrailingZeros(uint(sz)))) * int64(sz))
			off = uint64(so) & (w - 1)
		}
		if in.op == 0 {
			v, ok = c.read(addr, sz)
		} else {
			v, ok = c.readW(addr, sz)
		}
		if !ok {
			c.memFault(in)
			return
		}
	} else {
		off %= w
		v = c.getReg(in.d, sz)
	}
	bit := (v >> off) & 1
	c.setFlags(flagCF, bit)
	switch in.op {
	case 0:
		in.next.h(c, in.next)
		return
	case 1:
		v |= 1 << off
	case 2:
		v &^= 1 << off
	case 3:
		v ^= 1 << off
	}
	if in.mem {
		if !c.write(in, addr, sz, v) {
			c.memFault(in)
			return
		}
	} else {
		c.setReg(in.d, sz, v)
	}
	in.next.h(c, in.next)
}

// hBsf: BSF (op 0) / BSR (op 1). A zero source sets ZF and leaves the
// destination unchanged (AMD documents this; Intel hardware does it).
func hBsf(c *CPU, in *insn) {
	src, ok := c.rmSrc(in, in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	// Only ZF is defined; AMD Zen leaves the other flags as they were.
	if src == 0 {
		c.setFlags(flagZF, flagZF)
		in.next.h(c, in.next)
		return
	}
	var r uint64
	if in.op == 0 {
		r = uint64(bits.TrailingZeros64(src))
	} else {
		r = uint64(63 - bits.LeadingZeros64(src))
	}
	c.setFlags(flagZF, 0)
	c.setReg(in.d, in.sz, r)
	in.next.h(c, in.next)
}

func hBswap(c *CPU, in *insn) {
	switch in.sz {
	case 8:
		c.r[in.d&15] = bits.ReverseBytes64(c.r[in.d&15])
	case 4:
		c.r[in.d&15] = uint64(bits.ReverseBytes32(uint32(c.r[in.d&15])))
	default:
		// BSWAP r16 is undefined; hardware zeroes the low word.
		c.r[in.d&15] &^= 0xffff
	}
	in.next.h(c, in.next)
}

func hXadd(c *CPU, in *insn) {
	sz := in.sz
	src := c.getReg(in.s, sz)
	if in.mem {
		addr := c.ea(in)
		a, ok := c.readW(addr, sz)
		if !ok {
			c.memFault(in)
			return
		}
		r := c.alu(aADD, sz, a, src)
		c.write(in, addr, sz, r)
		c.setReg(in.s, sz, a)
	} else {
		a := c.getReg(in.d, sz)
		r := c.alu(aADD, sz, a, src)
		c.setReg(in.s, sz, a)
		c.setReg(in.d, sz, r)
	}
	in.next.h(c, in.next)
}

func hCmpxchg(c *CPU, in *insn) {
	sz := in.sz
	acc := c.getReg(rAX, sz)
	src := c.getReg(in.s, sz)
	var addr, d uint64
	if in.mem {
		var ok bool
		addr = c.ea(in)
		if d, ok = c.readW(addr, sz); !ok {
			c.memFault(in)
			return
		}
	} else {
		d = c.getReg(in.d, sz)
	}
	c.alu(aCMP, sz, acc, d)
	if acc == d {
		if in.mem {
			c.write(in, addr, sz, src)
		} else {
			c.setReg(in.d, sz, src)
		}
	} else {
		if in.mem {
			c.write(in, addr, sz, d) // the locked cycle writes back
		}
		c.setReg(rAX, sz, d)
	}
	in.next.h(c, in.next)
}

// hCmpxchg8b: CMPXCHG8B (sz 4) / CMPXCHG16B (sz 8).
func hCmpxchg8b(c *CPU, in *insn) {
	sz := in.sz
	addr := c.ea(in)
	if sz == 8 && addr&15 != 0 {
		c.fault(in, vecGP, 0)
		return
	}
	lo, ok1 := c.readW(addr, sz)
	hi, ok2 := c.readW(addr+uint64(sz), sz)
	if !ok1 || !ok2 {
		c.memFault(in)
		return
	}
	if lo == c.getReg(rAX, sz) && hi == c.getReg(rDX, sz) {
		c.write(in, addr, sz, c.getReg(rBX, sz))
		c.write(in, addr+uint64(sz), sz, c.getReg(rCX, sz))
		c.setFlags(flagZF, flagZF)
	} else {
		c.write(in, addr, sz, lo)
		c.write(in, addr+uint64(sz), sz, hi)
		c.setReg(rAX, sz, lo)
		c.setReg(rDX, sz, hi)
		c.setFlags(flagZF, 0)
	}
	in.next.h(c, in.next)
}

func hCbw(c *CPU, in *insn) {
	h := in.sz / 2
	c.setReg(rAX, in.sz, uint64(sext(c.r[rAX]&sizeMask[h], h)))
	in.next.h(c, in.next)
}

func hCwd(c *CPU, in *insn) {
	var v uint64
	if c.r[rAX]&signBit[in.sz] != 0 {
		v = ^uint64(0)
	}
	c.setReg(rDX, in.sz, v)
	in.next.h(c, in.next)
}
