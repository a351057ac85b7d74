package cpu

import "math/bits"

// Lazy flags (DESIGN.md "lazy flags"): an ALU instruction records what it
// did (operation, size, operands, result); the six arithmetic flags are
// computed only when something reads them. Operations that are rare or
// touch only some flags (rotates, multiplies, bit tests) compute flags
// eagerly into c.fl and set lz.op = lzNone.
type lazy struct {
	op   uint8  // lz* kind
	sz   uint8  // operand size in bytes
	a, b uint64 // operands (b is the count for shifts), masked to sz
	r    uint64 // result, masked to sz: ZF is r == 0
	cin  uint64 // ADC/SBB carry in; INC/DEC: the preserved CF
}

const (
	lzNone = iota // c.fl's arithmetic bits are current
	lzAdd
	lzAdc
	lzSub
	lzSbb
	lzLogic
	lzInc
	lzDec
	lzNeg
	lzShl
	lzShr
	lzSar
)

// sizeMask and signBit are indexed by an operand size in bytes; 256
// entries so a uint8 index needs no bounds check on the hot path.
var sizeMask = [256]uint64{1: 0xff, 2: 0xffff, 4: 0xffffffff, 8: ^uint64(0)}
var signBit = [256]uint64{1: 0x80, 2: 0x8000, 4: 0x80000000, 8: 1 << 63}

// parity[b] is PF for a result whose low byte is b (set when even).
var parity [256]uint8

func init() {
	for i := range parity {
		if bits.OnesCount8(uint8(i))%2 == 0 {
			parity[i] = flagPF
		}
	}
}

// set records an operation. Field-wise stores: a composite literal here
// compiles to overlapping vector copies that defeat store forwarding and
// cost more than the instruction itself.
func (l *lazy) set(op, sz uint8, a, b, r, cin uint64) {
	l.op, l.sz, l.a, l.b, l.r, l.cin = op, sz, a, b, r, cin
}

// szp returns SF, ZF and PF for a result r of size sz.
func szp(r uint64, sz uint8) uint64 {
	f := uint64(parity[uint8(r)])
	if r&sizeMask[sz] == 0 {
		f |= flagZF
	}
	if r&signBit[sz] != 0 {
		f |= flagSF
	}
	return f
}

// arith computes the arithmetic flags the lazy record describes.
func (l *lazy) arith() uint64 {
	sz, a, b, r := l.sz, l.a, l.b, l.r
	sb := signBit[sz]
	f := szp(r, sz)
	switch l.op {
	case lzAdd:
		if r < a {
			f |= flagCF
		}
		f |= (a ^ b ^ r) & flagAF
		if (a^r)&(b^r)&sb != 0 {
			f |= flagOF
		}
	case lzAdc:
		if r < a || (l.cin != 0 && r == a) {
			f |= flagCF
		}
		f |= (a ^ b ^ r) & flagAF
		if (a^r)&(b^r)&sb != 0 {
			f |= flagOF
		}
	case lzSub:
		if a < b {
			f |= flagCF
		}
		f |= (a ^ b ^ r) & flagAF
		if (a^b)&(a^r)&sb != 0 {
			f |= flagOF
		}
	case lzSbb:
		if a < b || (l.cin != 0 && a == b) {
			f |= flagCF
		}
		f |= (a ^ b ^ r) & flagAF
		if (a^b)&(a^r)&sb != 0 {
			f |= flagOF
		}
	case lzLogic:
	case lzInc:
		f |= l.cin & flagCF
		f |= (a ^ r) & flagAF // b == 1
		if r == sb {
			f |= flagOF
		}
	case lzDec:
		f |= l.cin & flagCF
		f |= (a ^ r) & flagAF
		if a == sb {
			f |= flagOF
		}
	case lzNeg:
		if a != 0 {
			f |= flagCF
		}
		f |= (a ^ r) & flagAF
		if a == sb {
			f |= flagOF
		}
	case lzShl:
		// b in 1..63. The SDM leaves AF undefined, OF undefined for
		// counts above 1 and CF for counts beyond the width; the values
		// here are what AMD Zen hardware produces (diff_test.go).
		f |= flagAF
		n := uint(b)
		w := uint(sz) * 8
		var cf uint64
		if n <= w {
			cf = (a >> (w - n)) & 1
		}
		f |= cf
		if (r&sb != 0) != (cf != 0) {
			f |= flagOF // defined for count 1 only
		}
	case lzShr:
		f |= flagAF
		n := uint(b)
		f |= (a >> (n - 1)) & 1
		if n == 1 && a&sb != 0 {
			f |= flagOF
		}
		// OF is undefined for counts above 1; AMD Zen clears it.
	case lzSar:
		f |= flagAF
		n := uint(b)
		w := uint(sz) * 8
		sa := int64(a<<(64-w)) >> (64 - w)
		if n > 63 {
			n = 63
		}
		f |= uint64(sa>>(n-1)) & 1
	}
	return f
}

// rflags materialises RFLAGS.
func (c *CPU) rflags() uint64 {
	if c.lz.op == lzNone {
		return c.fl
	}
	return c.fl&^flagsArith | c.lz.arith()
}

// flushFlags folds the lazy record into c.fl.
func (c *CPU) flushFlags() {
	if c.lz.op != lzNone {
		c.fl = c.fl&^flagsArith | c.lz.arith()
		c.lz.op = lzNone
	}
}

// setRflags writes RFLAGS, keeping reserved bit 1 set and 3, 5, 15 clear.
func (c *CPU) setRflags(v uint64) {
	c.fl = v&flagsWritable | flagRsv1
	c.lz.op = lzNone
	c.acUpdate()
}

// cf returns the carry flag (0 or 1).
func (c *CPU) cf() uint64 {
	switch c.lz.op {
	case lzNone:
		return c.fl & flagCF
	case lzSub:
		if c.lz.a < c.lz.b {
			return 1
		}
		return 0
	case lzAdd:
		if c.lz.r < c.lz.a { // both masked to the operand size
			return 1
		}
		return 0
	case lzLogic:
		return 0
	case lzInc, lzDec:
		return c.lz.cin & flagCF
	}
	return c.lz.arith() & flagCF
}

// Condition codes, in the encoding order of Jcc/SETcc/CMOVcc.
const (
	ccO = iota
	ccNO
	ccB
	ccAE
	ccE
	ccNE
	ccBE
	ccA
	ccS
	ccNS
	ccP
	ccNP
	ccL
	ccGE
	ccLE
	ccG
)

// cond evaluates a condition code. ZF and the SUB/CMP comparisons are the
// common loop tests, so they skip materialising the whole flag word.
func (c *CPU) cond(cc uint8) bool {
	if c.lz.op != lzNone {
		switch cc {
		case ccE:
			return c.lz.r == 0
		case ccNE:
			return c.lz.r != 0
		}
		if c.lz.op == lzSub {
			a, b := c.lz.a, c.lz.b
			switch cc {
			case ccB:
				return a < b
			case ccAE:
				return a >= b
			case ccBE:
				return a <= b
			case ccA:
				return a > b
			}
			sh := 64 - uint(c.lz.sz)*8
			sa, sb := int64(a<<sh), int64(b<<sh)
			switch cc {
			case ccL:
				return sa < sb
			case ccGE:
				return sa >= sb
			case ccLE:
				return sa <= sb
			case ccG:
				return sa > sb
			}
		}
	}
	f := c.rflags()
	var t bool
	switch cc >> 1 {
	case 0:
		t = f&flagOF != 0
	case 1:
		t = f&flagCF != 0
	case 2:
		t = f&flagZF != 0
	case 3:
		t = f&(flagCF|flagZF) != 0
	case 4:
		t = f&flagSF != 0
	case 5:
		t = f&flagPF != 0
	case 6:
		t = (f&flagSF != 0) != (f&flagOF != 0)
	case 7:
		t = f&flagZF != 0 || (f&flagSF != 0) != (f&flagOF != 0)
	}
	return t != (cc&1 != 0)
}

// zf reports ZF without materialising the flags.
func (c *CPU) zf() bool {
	if c.lz.op != lzNone {
		return c.lz.r == 0
	}
	return c.fl&flagZF != 0
}
