package fp

// Op selects one of the six x87 arithmetic operations, in the order of
// their ModRM reg field in opcodes D8/DC/DA/DE (skipping FCOM/FCOMP).
type Op uint8

const (
	OpAdd  Op = 0
	OpMul  Op = 1
	OpSub  Op = 4 // ST(0) - src
	OpSubr Op = 5 // src - ST(0)
	OpDiv  Op = 6 // ST(0) / src
	OpDivr Op = 7 // src / ST(0)
)

// Arith80 is the register form: ST(0) op src.
func Arith80(op Op, st0, src Ext80, cw uint16) (Ext80, uint32) {
	switch op {
	case OpAdd:
		return Add80(st0, src, cw)
	case OpMul:
		return Mul80(st0, src, cw)
	case OpSub:
		return Sub80(st0, src, cw)
	case OpSubr:
		return Sub80(src, st0, cw)
	case OpDiv:
		return Div80(st0, src, cw)
	case OpDivr:
		return Div80(src, st0, cw)
	}
	return Indefinite, IE
}

// ArithF32 is the m32fp form (FADD m32fp...). It is not quite a load
// followed by the register form: the memory operand takes part in the NaN
// rules unquieted (an SNaN there loses to a QNaN in ST(0), and the larger
// significand wins between two of a kind), a NaN operand hides the memory
// operand's DE, and a division by zero hides it too.
func ArithF32(op Op, st0 Ext80, m uint32, cw uint16) (Ext80, uint32) {
	return arithMem(op, st0, rawLoad(f32, uint64(m)), cw)
}

// ArithF64 is the m64fp form.
func ArithF64(op Op, st0 Ext80, m uint64, cw uint16) (Ext80, uint32) {
	return arithMem(op, st0, rawLoad(f64, m), cw)
}

// ArithInt is the m16int/m32int form (FIADD...): the integer is exact.
func ArithInt(op Op, st0 Ext80, m int64, cw uint16) (Ext80, uint32) {
	return arithMem(op, st0, memOperand{v: FromInt64(m)}, cw)
}

// memOperand is a memory operand widened to 80 bits, NaNs not quieted.
type memOperand struct {
	v        Ext80
	denormal bool
}

func rawLoad(f bfmt, x uint64) memOperand {
	u := f.unpack(x, false)
	if u.cl.nan() {
		return memOperand{v: Ext80{Mant: 1<<63 | (x&f.fracMask())<<(63-f.frac), SE: extSign(u.neg) | 0x7fff}}
	}
	v, _ := loadBin(f, x)
	return memOperand{v: v, denormal: u.cl == clDenormal}
}

func arithMem(op Op, st0 Ext80, m memOperand, cw uint16) (Ext80, uint32) {
	c := st0.class()
	if c == clUnsupported || c.nan() || m.v.IsNaN() || !m.denormal {
		return Arith80(op, st0, m.v, cw)
	}
	// A division by zero reports ZE alone, even for a denormal dividend.
	if op == OpDivr && c == clZero {
		return Arith80(op, st0, m.v, cw)
	}
	if cw&DE == 0 {
		return st0, DE // stopped before computing: C1 clear
	}
	r, fl := Arith80(op, st0, m.v, cw)
	return r, fl | DE
}

// CompareF32 is FCOM/FCOMP m32fp: Compare80 against the widened operand,
// plus the operand's DE unless a NaN or unsupported operand decided.
func CompareF32(st0 Ext80, m uint32) (cc uint16, fl uint32) {
	return compareMem(st0, rawLoad(f32, uint64(m)))
}

// CompareF64 is FCOM/FCOMP m64fp.
func CompareF64(st0 Ext80, m uint64) (cc uint16, fl uint32) {
	return compareMem(st0, rawLoad(f64, m))
}

// CompareInt is FICOM/FICOMP m16int/m32int.
func CompareInt(st0 Ext80, m int64) (cc uint16, fl uint32) {
	return Compare80(st0, FromInt64(m), false)
}

func compareMem(st0 Ext80, m memOperand) (uint16, uint32) {
	cc, fl := Compare80(st0, m.v, false)
	if m.denormal && fl&IE == 0 {
		fl |= DE
	}
	return cc, fl
}
