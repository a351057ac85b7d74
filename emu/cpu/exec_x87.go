package cpu

import (
	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/cpu/internal/fp"
)

// x87 instructions (opcodes D8-DF), decoded from the opcode byte and
// ModRM as the SDM's opcode map lays them out (Vol. 2 table A-7..A-22):
// in.op = (opcode&7)<<3 | ModRM.reg, in.s = ModRM.rm for register forms,
// in.imm = FOP (the 11 bits FSTENV/FXSAVE report). The arithmetic is
// internal/fp's; this file owns the stack, the tags, C1/SF on stack faults,
// the masking rules (fp package doc) and FIP/FDP/FOP.

func (c *CPU) buildX87(in *insn, inst *x86asm.Inst, va uint64) {
	b0 := inst.Opcode >> 24
	modrm := uint8(inst.Opcode >> 16)
	in.op = uint8(b0&7)<<3 | modrm>>3&7
	in.imm = uint64(b0&7)<<8 | uint64(modrm)
	in.s = modrm & 7
	if m, ok := inst.Args[0].(x86asm.Mem); ok {
		setMem(in, inst, m, va)
	} else if m, ok := inst.Args[1].(x86asm.Mem); ok {
		setMem(in, inst, m, va)
	}
	if in.mem != (modrm>>6 != 3) {
		return
	}
	in.h = hX87
}

var (
	ext80One  = fp.Ext80{Mant: 1 << 63, SE: 0x3fff}
	ext80Zero = fp.Ext80{}
)

const x87Pre = fp.IE | fp.DE | fp.ZE

func (f *fpuState) get(i int) fp.Ext80 { return f.st[f.phys(i)] }

func (f *fpuState) set(i int, v fp.Ext80) {
	p := f.phys(i)
	f.st[p] = v
	f.ftw |= 1 << uint(p)
}

func (f *fpuState) pop() {
	f.ftw &^= 1 << uint(f.phys(0))
	f.setTop(f.top() + 1)
}

// push pushes v, or reports a stack overflow (IE, SF, C1 set) and pushes
// the indefinite when IE is masked.
func (f *fpuState) push(v fp.Ext80) bool {
	if f.ftw>>uint(f.phys(7))&1 != 0 {
		f.fsw |= fp.IE | fswSF | fp.C1
		f.updateES()
		if f.fcw&fp.IE == 0 {
			return false
		}
		v = fp.Indefinite
	}
	f.setTop(f.top() - 1)
	f.set(0, v)
	return true
}

// underflow records a stack underflow (IE, SF, C1 clear) and reports
// whether IE is masked, i.e. whether the indefinite is to be delivered.
func (f *fpuState) underflow() bool {
	f.fsw = f.fsw&^fp.C1 | fp.IE | fswSF
	f.updateES()
	return f.fcw&fp.IE != 0
}

// flags merges fl (exception bits and C1) and reports whether a
// register destination may be written: no unmasked pre-computation
// exception.
func (f *fpuState) flags(fl uint32) bool {
	if fl&(fp.IE|fp.DE)&^uint32(f.fcw) != 0 {
		// Stopped before computing: no post-computation flags.
		fl &^= fp.OE | fp.UE | fp.PE | fp.C1
	}
	f.fsw = f.fsw&^fp.C1 | uint16(fl&(0x3f|fp.C1))
	f.updateES()
	return fl&x87Pre&^uint32(f.fcw) == 0
}

// storeOK is flags for a memory destination: an unmasked IE, OE or UE
// (or DE/ZE) stores nothing.
func (f *fpuState) storeOK(fl uint32) bool {
	ok := fl&(x87Pre|fp.OE|fp.UE)&^uint32(f.fcw) == 0
	if !ok {
		fl &^= fp.C1 | fp.PE
	}
	f.flags(fl)
	return ok
}

func (f *fpuState) setCC(cc uint16, which uint16) { f.fsw = f.fsw&^which | cc&which }

// memArithOps maps ModRM.reg of D8/DA/DC/DE to fp.Op (2, 3 are compares).
var x87ArithOp = [8]fp.Op{fp.OpAdd, fp.OpMul, 0, 0, fp.OpSub, fp.OpSubr, fp.OpDiv, fp.OpDivr}

// x87RevOp is the register form of DC/DE, where /4../7 name the reversed
// operations with ST(i) the destination.
var x87RevOp = [8]fp.Op{fp.OpAdd, fp.OpMul, 0, 0, fp.OpSubr, fp.OpSub, fp.OpDivr, fp.OpDiv}

// x87DataPtr is FDP and FDS for a memory operand at linear address va:
// the operand's offset in its segment and that segment's selector (SDM
// Vol. 1 §8.1.8), which outside 64-bit mode is the override's or SS for
// a BP/SP base, not always DS. In 64-bit mode too FDP is the offset, not
// the FS or GS base plus it (as the host stores it: isa_fpstate_test.go).
func (c *CPU) x87DataPtr(in *insn, va uint64) (uint64, uint16) {
	if in.seg == segNone {
		return va, c.seg[segDS].sel
	}
	s := in.seg & 7
	return (va - c.seg[s].base) & sizeMask[in.asz], c.seg[s].sel
}

func hX87(c *CPU, in *insn) {
	if in.op == 3<<3|4 && !in.mem {
		// DB E0, E1, E4 (FNENI, FNDISI, FNSETPM; FNCLEX and FNINIT are
		// hFPState's): no-wait control instructions that do nothing
		// since the 387 (prefixud.go aliases).
		if c.x87OK(in, false) {
			in.next.h(c, in.next)
		}
		return
	}
	if !c.x87OK(in, true) {
		return
	}
	f := &c.fpu
	var va uint64
	if in.mem {
		va = c.ea(in)
	}
	grp, reg := in.op>>3, in.op&7
	i := int(in.s)
	// FOP/FIP/FDP record the last non-control instruction.
	f.fop, f.fip, f.fcs = uint16(in.imm), in.rip, c.seg[segCS].sel
	if in.mem {
		f.fdp, f.fds = c.x87DataPtr(in, va)
	}
	cw := f.fcw
	ok := true
	if in.mem {
		ok = c.x87Mem(in, va, grp, reg)
	} else {
		ok = c.x87Reg(in, grp, reg, i, cw)
	}
	if !ok {
		return
	}
	in.next.h(c, in.next)
}

// x87Mem runs the memory forms; false means the instruction faulted.
func (c *CPU) x87Mem(in *insn, va uint64, grp, reg uint8) bool {
	f := &c.fpu
	cw := f.fcw
	load := func(sz uint8) (uint64, bool) {
		v, ok := c.read(va, sz)
		if !ok {
			c.memFault(in)
		}
		return v, ok
	}
	switch grp {
	case 0, 2, 4, 6: // arithmetic and compare with m32fp, m32int, m64fp, m16int
		sz := [4]uint8{4, 4, 8, 2}[grp/2]
		m, ok := load(sz)
		if !ok {
			return false
		}
		if f.empty(0) {
			if f.underflow() && reg != 2 && reg != 3 {
				f.set(0, fp.Indefinite)
			}
			if reg == 2 || reg == 3 {
				f.setCC(fp.C0|fp.C2|fp.C3, fswCC)
				if f.fcw&fp.IE != 0 && reg == 3 {
					f.pop()
				}
			}
			return true
		}
		st0 := f.get(0)
		if reg == 2 || reg == 3 {
			var cc uint16
			var fl uint32
			switch grp {
			case 0:
				cc, fl = fp.CompareF32(st0, uint32(m))
			case 4:
				cc, fl = fp.CompareF64(st0, m)
			case 2:
				cc, fl = fp.CompareInt(st0, int64(int32(m)))
			default:
				cc, fl = fp.CompareInt(st0, int64(int16(m)))
			}
			f.setCC(cc, fswCC)
			if f.flags(fl&0x3f) && reg == 3 {
				f.pop()
			}
			f.fsw &^= fp.C1
			return true
		}
		op := x87ArithOp[reg]
		var r fp.Ext80
		var fl uint32
		switch grp {
		case 0:
			r, fl = fp.ArithF32(op, st0, uint32(m), cw)
		case 4:
			r, fl = fp.ArithF64(op, st0, m, cw)
		case 2:
			r, fl = fp.ArithInt(op, st0, int64(int32(m)), cw)
		default:
			r, fl = fp.ArithInt(op, st0, int64(int16(m)), cw)
		}
		if f.flags(fl) {
			f.set(0, r)
		}
		return true
	}
	switch {
	case grp == 1 && reg == 0, grp == 5 && reg == 0, grp == 3 && reg == 5, grp == 3 && reg == 0,
		grp == 7 && reg == 0, grp == 7 && reg == 5, grp == 7 && reg == 4: // loads
		var v fp.Ext80
		var fl uint32
		switch {
		case grp == 1:
			m, ok := load(4)
			if !ok {
				return false
			}
			v, fl = fp.F32ToExt80(uint32(m))
		case grp == 5:
			m, ok := load(8)
			if !ok {
				return false
			}
			v, fl = fp.F64ToExt80(m)
		case grp == 3 && reg == 5:
			var b [10]byte
			if !c.readBuf(va, b[:]) {
				c.memFault(in)
				return false
			}
			v = fp.Ext80{Mant: le64(b[:]), SE: uint16(b[8]) | uint16(b[9])<<8}
		case grp == 7 && reg == 4:
			var b [10]byte
			if !c.readBuf(va, b[:]) {
				c.memFault(in)
				return false
			}
			v = fp.FromBCD(b)
		default:
			sz := map[uint8]uint8{3: 4, 7: 2}[grp]
			if reg == 5 {
				sz = 8
			}
			m, ok := load(sz)
			if !ok {
				return false
			}
			switch sz {
			case 2:
				v = fp.FromInt64(int64(int16(m)))
			case 4:
				v = fp.FromInt64(int64(int32(m)))
			default:
				v = fp.FromInt64(int64(m))
			}
		}
		if !f.empty(7) {
			f.push(v) // overflow path
			return true
		}
		// Only an unmasked IE (an SNaN) stops a load; the host pushes
		// a denormal even with DE unmasked.
		f.flags(fl)
		if fl&fp.IE&^uint32(cw) != 0 {
			return true
		}
		f.push(v)
		return true
	case grp == 1 && (reg == 2 || reg == 3), grp == 5 && (reg == 2 || reg == 3),
		grp == 3 && (reg == 1 || reg == 2 || reg == 3 || reg == 7),
		grp == 5 && reg == 1, grp == 7 && (reg == 1 || reg == 2 || reg == 3 || reg == 6 || reg == 7): // stores
		pop := reg == 3 || reg == 7 || reg == 1 || reg == 6
		var sz uint8
		var bits uint64
		var ext []byte
		var fl uint32
		empty := f.empty(0)
		if empty && !f.underflow() {
			return true
		}
		st0 := fp.Indefinite
		if !empty {
			st0 = f.get(0)
		}
		switch {
		case grp == 1:
			sz = 4
			var r uint32
			r, fl = fp.Ext80ToF32(st0, cw)
			bits = uint64(r)
		case grp == 5 && reg != 1:
			sz = 8
			bits, fl = fp.Ext80ToF64(st0, cw)
		case grp == 3 && reg == 7:
			var b [10]byte
			putLE64(b[:], st0.Mant)
			b[8], b[9] = byte(st0.SE), byte(st0.SE>>8)
			ext = b[:]
		case grp == 7 && reg == 6:
			b, e := fp.ToBCD(st0, cw)
			ext, fl = b[:], e
		default:
			sz = map[uint8]uint8{3: 4, 5: 8, 7: 2}[grp]
			if grp == 7 && reg == 7 {
				sz = 8
			}
			v, e := fp.ToInt80(st0, cw, uint(sz)*8, reg == 1)
			bits, fl = uint64(v), e
		}
		if empty {
			fl = 0
			switch {
			case ext != nil && grp == 7:
				b := fp.BCDIndefinite
				ext = b[:]
			case sz == 4 && grp == 1:
				bits = 0xffc00000
			case sz == 8 && grp == 5 && reg != 1:
				bits = 0xfff8000000000000
			case ext == nil:
				bits = 1 << (uint(sz)*8 - 1)
			}
		}
		if !empty && !f.storeOK(fl) {
			return true
		}
		var ok bool
		if ext != nil {
			ok = c.writeBuf(in, va, ext)
		} else {
			ok = c.write(in, va, sz, bits)
		}
		if !ok {
			c.memFault(in)
			return false
		}
		if pop {
			f.pop()
		}
		return true
	}
	c.fault(in, vecUD, 0)
	return false
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func putLE64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * uint(i)))
	}
}

// x87Reg runs the register forms.
func (c *CPU) x87Reg(in *insn, grp, reg uint8, i int, cw uint16) bool {
	f := &c.fpu
	ud := func() bool { c.fault(in, vecUD, 0); return false }
	switch grp {
	case 0, 4, 6: // D8: ST(0) op ST(i); DC/DE: ST(i) op ST(0) (DE pops)
		if reg == 2 || reg == 3 {
			switch {
			case grp == 6 && reg == 2: // DE D0+i: FCOMP ST(i) (prefixud.go aliases)
				c.x87Compare(0, i, false, true, false)
			case grp == 6 && i != 1:
				return ud()
			default: // DC D0+i/D8+i are the FCOM/FCOMP aliases
				c.x87Compare(0, i, false, reg == 3, grp == 6)
			}
			return true
		}
		d, s, op := 0, i, x87ArithOp[reg]
		if grp != 0 {
			d, s, op = i, 0, x87RevOp[reg]
		}
		if f.empty(d) || f.empty(s) {
			if f.underflow() {
				f.set(d, fp.Indefinite)
				if grp == 6 {
					f.pop()
				}
			}
			return true
		}
		r, fl := fp.Arith80(op, f.get(d), f.get(s), cw)
		if f.flags(fl) {
			f.set(d, r)
			if grp == 6 {
				f.pop()
			}
		}
		return true
	case 1:
		return c.x87D9(in, reg, i, cw)
	case 2: // DA: FCMOVB/E/BE/U, FUCOMPP
		if reg == 5 && i == 1 {
			c.x87Compare(0, 1, true, true, true)
			return true
		}
		if reg > 3 {
			return ud()
		}
		return c.x87Fcmov(reg, i, false)
	case 3: // DB: FCMOVNcc, FUCOMI, FCOMI
		switch {
		case reg <= 3:
			return c.x87Fcmov(reg, i, true)
		case reg == 5 || reg == 6:
			c.x87Comi(i, reg == 5, false)
			return true
		}
		return ud()
	case 5, 7: // DD: FFREE, FXCH alias, FST, FSTP, FUCOM, FUCOMP; DF: FFREEP, FXCH and FSTP aliases, FUCOMIP, FCOMIP
		switch {
		case reg == 0:
			f.ftw &^= 1 << uint(f.phys(i))
			if grp == 7 {
				f.pop()
			}
		case reg == 1: // DD C8+i, DF C8+i: FXCH ST(i) (prefixud.go aliases)
			return c.x87D9(in, 1, i, cw)
		case grp == 7 && (reg == 5 || reg == 6):
			c.x87Comi(i, reg == 5, true)
		case reg == 2 || reg == 3: // FST, FSTP; DF D0+i and D8+i: FSTP ST(i) aliases
			if f.empty(0) {
				if !f.underflow() {
					return true
				}
				f.set(i, fp.Indefinite)
			} else {
				f.set(i, f.get(0))
				f.fsw &^= fp.C1
			}
			if reg == 3 || grp == 7 {
				f.pop()
			}
		case grp == 5 && (reg == 4 || reg == 5):
			c.x87Compare(0, i, true, reg == 5, false)
		default:
			return ud()
		}
		return true
	}
	return ud()
}

// x87Compare is FCOM/FUCOM and the popping forms (pop twice for FCOMPP).
func (c *CPU) x87Compare(a, b int, quiet, pop, pop2 bool) {
	f := &c.fpu
	if f.empty(a) || f.empty(b) {
		// Unordered, whatever the mask (the host sets the codes even
		// when the underflow is unmasked).
		f.setCC(fp.C0|fp.C2|fp.C3, fswCC)
		if !f.underflow() {
			return
		}
	} else {
		cc, fl := fp.Compare80(f.get(a), f.get(b), quiet)
		f.setCC(cc, fswCC)
		if !f.flags(fl & 0x3f) {
			return
		}
	}
	if pop {
		f.pop()
		if pop2 {
			f.pop()
		}
	}
}

// x87Comi is FCOMI/FUCOMI(P): the relation goes to ZF, PF, CF.
func (c *CPU) x87Comi(i int, quiet, pop bool) {
	f := &c.fpu
	if f.empty(0) || f.empty(i) {
		c.setFlags(flagsArith, flagZF|flagPF|flagCF)
		f.fsw |= fp.IE | fswSF
		f.updateES()
		if f.fcw&fp.IE == 0 {
			return
		}
	} else {
		// The relation reaches RFLAGS whatever the masks (fp doc).
		fl0, fl := fp.CompareFlags80(f.get(0), f.get(i), quiet)
		f.fsw |= uint16(fl & 0x3f)
		f.updateES()
		c.setFlags(flagsArith, fl0)
		if fl&^uint32(f.fcw)&x87Pre != 0 {
			return // an unmasked IE or DE: no pop
		}
	}
	if pop {
		f.pop()
	}
}

func (c *CPU) x87Fcmov(cc uint8, i int, negate bool) bool {
	f := &c.fpu
	var t bool
	switch cc {
	case 0:
		t = c.cond(ccB)
	case 1:
		t = c.cond(ccE)
	case 2:
		t = c.cond(ccBE)
	default:
		t = c.cond(ccP)
	}
	if f.empty(0) || f.empty(i) {
		if f.underflow() {
			f.set(0, fp.Indefinite)
		}
		return true
	}
	f.fsw &^= fp.C1
	if t != negate {
		f.set(0, f.get(i))
	}
	return true
}

// x87D9 runs D9's register forms: FLD ST(i), FXCH, and the operand-less
// instructions D9 E0-FF.
func (c *CPU) x87D9(in *insn, reg uint8, i int, cw uint16) bool {
	f := &c.fpu
	switch reg {
	case 0: // FLD ST(i)
		if f.empty(i) {
			if !f.underflow() {
				return true
			}
			f.push(fp.Indefinite)
			return true
		}
		f.fsw &^= fp.C1
		f.push(f.get(i))
		return true
	case 1: // FXCH
		if f.empty(0) || f.empty(i) {
			if !f.underflow() {
				return true
			}
			if f.empty(0) {
				f.set(0, fp.Indefinite)
			}
			if f.empty(i) {
				f.set(i, fp.Indefinite)
			}
		}
		a, b := f.get(0), f.get(i)
		f.set(0, b)
		f.set(i, a)
		f.fsw &^= fp.C1
		return true
	case 2:
		if i == 0 { // FNOP
			return true
		}
	case 3:
		// D9 D8+i, a blank cell in the SDM's opcode map that the host
		// runs as FSTP ST(i) (prefixud.go aliases), except that an empty
		// ST(0) is no stack fault: nothing is stored, no flag changes,
		// and the stack pops (TestX87AliasesDiff).
		if !f.empty(0) {
			f.set(i, f.get(0))
			f.fsw &^= fp.C1
		}
		f.pop()
		return true
	}
	if reg < 4 {
		c.fault(in, vecUD, 0)
		return false
	}
	code := (reg-4)<<3 | uint8(i) // 0 = E0 .. 31 = FF
	switch code {
	case 0x12, 0x14, 0x1b: // FPTAN, FXTRACT, FSINCOS push a second result
		if !f.empty(0) && !f.empty(7) {
			// Stack overflow: with IE masked both results are the
			// indefinite (as the host gives).
			f.fsw |= fp.IE | fswSF | fp.C1
			f.updateES()
			if f.fcw&fp.IE != 0 {
				f.set(0, fp.Indefinite)
				f.setTop(f.top() - 1)
				f.set(0, fp.Indefinite)
			}
			return true
		}
	}
	unary := func(g func(x fp.Ext80) (fp.Ext80, uint32)) {
		if f.empty(0) {
			if f.underflow() {
				f.set(0, fp.Indefinite)
			}
			return
		}
		r, fl := g(f.get(0))
		if f.flags(fl) {
			f.set(0, r)
		}
	}
	binary := func(g func(st0, st1 fp.Ext80) (fp.Ext80, uint32), pop bool) {
		if f.empty(0) || f.empty(1) {
			if f.underflow() {
				if pop {
					f.set(1, fp.Indefinite)
					f.pop()
				} else {
					f.set(0, fp.Indefinite)
				}
			}
			return
		}
		r, fl := g(f.get(0), f.get(1))
		if !f.flags(fl) {
			return
		}
		if pop {
			f.set(1, r)
			f.pop()
		} else {
			f.set(0, r)
		}
	}
	switch code {
	case 0x00: // FCHS
		unary(func(x fp.Ext80) (fp.Ext80, uint32) { x.SE ^= 0x8000; return x, 0 })
	case 0x01: // FABS
		unary(func(x fp.Ext80) (fp.Ext80, uint32) { x.SE &^= 0x8000; return x, 0 })
	case 0x04: // FTST
		if f.empty(0) {
			f.setCC(fp.C0|fp.C2|fp.C3, fswCC)
			f.underflow()
			return true
		}
		cc, fl := fp.Compare80(f.get(0), ext80Zero, false)
		f.setCC(cc, fswCC)
		f.flags(fl & 0x3f)
	case 0x05: // FXAM
		f.setCC(fp.Xam80(f.get(0), f.empty(0)), fswCC)
	case 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e: // FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ
		v := ext80One
		switch code {
		case 0x0e:
			v = ext80Zero
		case 0x08:
		default:
			v = fp.Const80(int(code-0x09), cw)
		}
		f.fsw &^= fp.C1
		f.push(v)
	case 0x10: // F2XM1
		unary(func(x fp.Ext80) (fp.Ext80, uint32) { return fp.F2xm1(x, cw) })
	case 0x11: // FYL2X
		binary(func(x, y fp.Ext80) (fp.Ext80, uint32) { return fp.Yl2x(x, y, cw) }, true)
	case 0x12: // FPTAN
		if f.empty(0) {
			if f.underflow() {
				f.set(0, fp.Indefinite)
				f.push(fp.Indefinite)
			}
			return true
		}
		r, cc, fl := fp.Tan80(f.get(0), cw)
		f.setCC(cc, fp.C2)
		if !f.flags(fl) {
			return true
		}
		if cc&fp.C2 != 0 {
			return true
		}
		f.set(0, r)
		if r.IsNaN() {
			f.push(r) // a NaN goes to both places, not 1.0 (as the host)
		} else {
			f.push(ext80One)
		}
	case 0x13: // FPATAN
		binary(func(x, y fp.Ext80) (fp.Ext80, uint32) { return fp.Patan(x, y, cw) }, true)
	case 0x14: // FXTRACT
		if f.empty(0) {
			if f.underflow() {
				f.set(0, fp.Indefinite)
				f.push(fp.Indefinite)
			}
			return true
		}
		sig, exp, fl := fp.Xtract80(f.get(0), cw)
		if !f.flags(fl) {
			return true
		}
		if sig.IsNaN() {
			exp = sig
		} else if exp.IsNaN() {
			sig = exp
		}
		f.set(0, exp)
		f.push(sig)
	case 0x15, 0x18: // FPREM1, FPREM
		if f.empty(0) || f.empty(1) {
			if f.underflow() {
				f.set(0, fp.Indefinite)
			}
			return true
		}
		r, cc, written, fl := fp.Prem80(f.get(0), f.get(1), cw, code == 0x15)
		f.setCC(cc, written)
		c1 := f.fsw & fp.C1
		if f.flags(fl &^ fp.C1) {
			f.set(0, r)
		}
		f.fsw = f.fsw&^fp.C1 | c1
	case 0x16: // FDECSTP
		f.setTop(f.top() - 1)
		f.fsw &^= fp.C1
	case 0x17: // FINCSTP
		f.setTop(f.top() + 1)
		f.fsw &^= fp.C1
	case 0x19: // FYL2XP1
		binary(func(x, y fp.Ext80) (fp.Ext80, uint32) { return fp.Yl2xp1(x, y, cw) }, true)
	case 0x1a: // FSQRT
		unary(func(x fp.Ext80) (fp.Ext80, uint32) { return fp.Sqrt80(x, cw) })
	case 0x1b: // FSINCOS
		if f.empty(0) {
			if f.underflow() {
				f.set(0, fp.Indefinite)
				f.push(fp.Indefinite)
			}
			return true
		}
		s, co, cc, fl := fp.SinCos80(f.get(0), cw)
		f.setCC(cc, fp.C2)
		if !f.flags(fl) || cc&fp.C2 != 0 {
			return true
		}
		if s.IsNaN() {
			co = s
		} else if co.IsNaN() {
			s = co
		}
		f.set(0, s)
		f.push(co)
	case 0x1c: // FRNDINT
		unary(func(x fp.Ext80) (fp.Ext80, uint32) { return fp.RoundInt80(x, cw) })
	case 0x1d: // FSCALE
		binary(func(x, y fp.Ext80) (fp.Ext80, uint32) { return fp.Scale80(x, y, cw) }, false)
	case 0x1e, 0x1f: // FSIN, FCOS
		if f.empty(0) {
			if f.underflow() {
				f.set(0, fp.Indefinite)
			}
			return true
		}
		g := fp.Sin80
		if code == 0x1f {
			g = fp.Cos80
		}
		r, cc, fl := g(f.get(0), cw)
		f.setCC(cc, fp.C2)
		if !f.flags(fl) || cc&fp.C2 != 0 {
			return true
		}
		f.set(0, r)
	default:
		c.fault(in, vecUD, 0)
		return false
	}
	return true
}
