package cpu

// Data movement, stack, control transfer and string instructions.

// leave ends the block after in retired, continuing at rip.
func (c *CPU) leave(in *insn, rip uint64) {
	c.rip = rip
	c.retired += uint64(in.cnt)
}

// abort ends the block before in retires: RIP points at in.
func (c *CPU) abort(in *insn) {
	c.rip = in.rip
	c.retired += uint64(in.cnt) - 1
}

// fault raises exception vec as a fault of in.
func (c *CPU) fault(in *insn, vec uint8, err uint32) {
	c.abort(in)
	c.raiseAt(vec, err, hasErrCode(vec))
}

// hStop is the block-end sentinel (and the budget/SMC stop).
func hStop(c *CPU, in *insn) {
	c.rip = in.rip
	c.retired += uint64(in.cnt)
}

func hNop(c *CPU, in *insn) { in.next.h(c, in.next) }

func hUD(c *CPU, in *insn) { c.fault(in, vecUD, 0) }

func hMovRR(c *CPU, in *insn) {
	c.setReg(in.d, in.sz, c.getReg(in.s, in.sz))
	in.next.h(c, in.next)
}

func hMov64RR(c *CPU, in *insn) {
	c.r[in.d&15] = c.r[in.s&15]
	in.next.h(c, in.next)
}

func hMovRI(c *CPU, in *insn) {
	c.setReg(in.d, in.sz, in.imm)
	in.next.h(c, in.next)
}

func hMovRM(c *CPU, in *insn) {
	v, ok := c.read(c.ea(in), in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	c.setReg(in.d, in.sz, v)
	in.next.h(c, in.next)
}

func hMov64RM(c *CPU, in *insn) {
	v, ok := c.read(c.ea(in), 8)
	if !ok {
		c.memFault(in)
		return
	}
	c.r[in.d&15] = v
	in.next.h(c, in.next)
}

func hMovMR(c *CPU, in *insn) {
	if !c.write(in, c.ea(in), in.sz, c.getReg(in.s, in.sz)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hMov64MR(c *CPU, in *insn) {
	if !c.write(in, c.ea(in), 8, c.r[in.s&15]) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hMovMI(c *CPU, in *insn) {
	if !c.write(in, c.ea(in), in.sz, in.imm) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// hMovx: MOVZX (op 0) and MOVSX/MOVSXD (op 1) from ssz to sz.
func hMovx(c *CPU, in *insn) {
	var v uint64
	if in.mem {
		var ok bool
		if v, ok = c.read(c.ea(in), in.ssz); !ok {
			c.memFault(in)
			return
		}
	} else {
		v = c.getReg(in.s, in.ssz)
	}
	if in.op == 1 {
		v = uint64(sext(v, in.ssz))
	}
	c.setReg(in.d, in.sz, v&sizeMask[in.sz])
	in.next.h(c, in.next)
}

func hLea(c *CPU, in *insn) {
	c.setReg(in.d, in.sz, c.ea(in))
	in.next.h(c, in.next)
}

func hXchgRR(c *CPU, in *insn) {
	a, b := c.getReg(in.d, in.sz), c.getReg(in.s, in.sz)
	c.setReg(in.d, in.sz, b)
	c.setReg(in.s, in.sz, a)
	in.next.h(c, in.next)
}

func (c *CPU) xchgM(in *insn, r uint8) {
	addr := c.ea(in)
	v, ok := c.readW(addr, in.sz)
	if !ok || !c.write(in, addr, in.sz, c.getReg(r, in.sz)) {
		c.memFault(in)
		return
	}
	c.setReg(r, in.sz, v)
	in.next.h(c, in.next)
}

func hXchgRM(c *CPU, in *insn) { c.xchgM(in, in.d) }
func hXchgMR(c *CPU, in *insn) { c.xchgM(in, in.s) }

// push stores v below RSP; RSP moves only if the store succeeds.
func (c *CPU) push(in *insn, sz uint8, v uint64) bool {
	if !c.mode64 {
		return c.pushLegacy(in, sz, v)
	}
	sp := c.r[rSP] - uint64(sz)
	if !c.write(in, sp, sz, v) {
		return c.ssFault()
	}
	c.r[rSP] = sp
	return true
}

func (c *CPU) pop(sz uint8) (uint64, bool) {
	if !c.mode64 {
		return c.popLegacy(sz)
	}
	v, ok := c.read(c.r[rSP], sz)
	if !ok {
		return 0, c.ssFault()
	}
	c.r[rSP] += uint64(sz)
	return v, true
}

func hPushR(c *CPU, in *insn) {
	if !c.push(in, in.sz, c.getReg(in.d, in.sz)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hPushI(c *CPU, in *insn) {
	if !c.push(in, in.sz, in.imm) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hPushM(c *CPU, in *insn) {
	v, ok := c.read(c.ea(in), in.sz)
	if !ok || !c.push(in, in.sz, v) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hPopR(c *CPU, in *insn) {
	v, ok := c.pop(in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	c.setReg(in.d, in.sz, v)
	in.next.h(c, in.next)
}

func hPopM(c *CPU, in *insn) {
	sp := c.r[rSP]
	v, ok := c.pop(in.sz)
	// The destination address uses RSP after the pop (SDM POP).
	if !ok || !c.write(in, c.ea(in), in.sz, v) {
		c.r[rSP] = sp
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hPushSeg(c *CPU, in *insn) {
	if !c.push(in, in.sz, uint64(c.seg[in.s].sel)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hPopSeg(c *CPU, in *insn) {
	sp := c.r[rSP]
	v, ok := c.pop(in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	if !c.loadSeg(in.s, uint16(v)) {
		c.r[rSP] = sp
		c.memFault(in)
		return
	}
	if in.s == segSS {
		c.intrShadow = true // POP SS blocks interrupts for one instruction
	}
	c.leave(in, in.rip+uint64(in.len))
}

func hPushf(c *CPU, in *insn) {
	if c.vmIOPLFault(in) {
		return
	}
	if !c.push(in, in.sz, c.rflags()&^(flagVM|flagRF)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// popfMask is what POPF/IRET may change at the current privilege (SDM
// POPF: IOPL only at CPL 0, IF only when CPL <= IOPL; VM, VIP, VIF stay).
func (c *CPU) popfMask() uint64 {
	m := uint64(flagsWritable &^ (flagVM | flagVIP | flagVIF | flagRF))
	iopl := uint8(c.fl>>12) & 3
	if c.cpl > 0 {
		m &^= flagIOPL
	}
	if c.cpl > iopl {
		m &^= flagIF
	}
	return m
}

func hPopf(c *CPU, in *insn) {
	if c.vmIOPLFault(in) {
		return
	}
	v, ok := c.pop(in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	m := c.popfMask() & sizeMask[in.sz]
	c.fl = (c.rflags()&^m | v&m) &^ flagRF
	c.lz.op = lzNone
	c.acUpdate()
	c.leave(in, in.rip+uint64(in.len))
}

func hLeave(c *CPU, in *insn) {
	sp := c.r[rSP]
	if c.mode64 {
		c.r[rSP] = c.r[rBP]
	} else {
		c.setSP(c.r[rBP])
	}
	v, ok := c.pop(in.sz)
	if !ok {
		c.r[rSP] = sp
		c.memFault(in)
		return
	}
	c.setReg(rBP, in.sz, v)
	in.next.h(c, in.next)
}

// branch ends the block at target, or raises #GP for a non-canonical one.
func (c *CPU) branch(in *insn, target uint64) {
	if c.mode64 && canonical(target) {
		c.leave(in, target)
		return
	}
	c.branchSlow(in, target)
}

// branchSlow is a branch outside 64-bit mode, where the target is
// truncated to the operand size and checked against the CS limit (SDM
// JMP: #GP(0)), or a non-canonical one in 64-bit mode.
func (c *CPU) branchSlow(in *insn, target uint64) {
	if !c.mode64 {
		target &= sizeMask[in.sz]
		if target > uint64(c.seg[segCS].limit) {
			c.fault(in, vecGP, 0)
			return
		}
		c.leave(in, target)
		return
	}
	c.fault(in, vecGP, 0)
}

func hJcc(c *CPU, in *insn) {
	if c.cond(in.op) {
		c.branch(in, in.imm)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
}

// hJe and hJne are JE/JNE, the loop-closing branches, without the
// general condition switch.
func hJe(c *CPU, in *insn) {
	if c.zf() {
		c.branch(in, in.imm)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
}

func hJne(c *CPU, in *insn) {
	if !c.zf() {
		c.branch(in, in.imm)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
}

func hJmp(c *CPU, in *insn) { c.branch(in, in.imm) }

func hJmpR(c *CPU, in *insn) { c.branch(in, c.r[in.d&15]) }

func hJmpM(c *CPU, in *insn) {
	t, ok := c.read(c.ea(in), in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	c.branch(in, t)
}

func (c *CPU) call(in *insn, target uint64) {
	if !c.mode64 {
		target &= sizeMask[in.sz]
		if target > uint64(c.seg[segCS].limit) {
			c.fault(in, vecGP, 0)
			return
		}
	} else if !canonical(target) {
		c.fault(in, vecGP, 0)
		return
	}
	if !c.push(in, in.sz, in.rip+uint64(in.len)) {
		c.memFault(in)
		return
	}
	c.leave(in, target)
}

func hCall(c *CPU, in *insn) { c.call(in, in.imm) }

func hCallR(c *CPU, in *insn) { c.call(in, c.r[in.d&15]) }

func hCallM(c *CPU, in *insn) {
	t, ok := c.read(c.ea(in), in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	c.call(in, t)
}

func hRet(c *CPU, in *insn) {
	if !c.mode64 {
		hRetLegacy(c, in)
		return
	}
	t, ok := c.read(c.r[rSP], in.sz)
	if !ok {
		c.ssFault()
		c.memFault(in)
		return
	}
	if !canonical(t) {
		c.fault(in, vecGP, 0)
		return
	}
	c.r[rSP] += uint64(in.sz) + in.imm
	c.leave(in, t)
}

func hRetLegacy(c *CPU, in *insn) {
	t, ok := c.read(c.stackAddr(0, in.sz), in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	if t > uint64(c.seg[segCS].limit) {
		c.fault(in, vecGP, 0)
		return
	}
	c.addSP(int64(in.sz) + int64(in.imm))
	c.leave(in, t)
}

func hJrcxz(c *CPU, in *insn) {
	if c.r[rCX]&sizeMask[in.asz] == 0 {
		c.branch(in, in.imm)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
}

// hLoop: LOOP (op 0), LOOPE (1), LOOPNE (2).
func hLoop(c *CPU, in *insn) {
	n := (c.r[rCX] - 1) & sizeMask[in.asz]
	c.setReg(rCX, in.asz, n)
	t := n != 0
	switch in.op {
	case 1:
		t = t && c.cond(ccE)
	case 2:
		t = t && c.cond(ccNE)
	}
	if t {
		c.branch(in, in.imm)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func hSetccR(c *CPU, in *insn) {
	c.setReg(in.d, 1, b2u(c.cond(in.op)))
	in.next.h(c, in.next)
}

func hSetccM(c *CPU, in *insn) {
	if !c.write(in, c.ea(in), 1, b2u(c.cond(in.op))) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hCmovRR(c *CPU, in *insn) {
	if c.cond(in.op) {
		c.setReg(in.d, in.sz, c.getReg(in.s, in.sz))
	} else if in.sz == 4 {
		c.r[in.d&15] = uint64(uint32(c.r[in.d&15])) // 32-bit CMOV always zero-extends
	}
	in.next.h(c, in.next)
}

func hCmovRM(c *CPU, in *insn) {
	v, ok := c.read(c.ea(in), in.sz) // read even when false: it may fault
	if !ok {
		c.memFault(in)
		return
	}
	if c.cond(in.op) {
		c.setReg(in.d, in.sz, v)
	} else if in.sz == 4 {
		c.r[in.d&15] = uint64(uint32(c.r[in.d&15]))
	}
	in.next.h(c, in.next)
}

// String instruction kinds.
const (
	strMOVS = iota
	strSTOS
	strLODS
	strCMPS
	strSCAS
)

// repChunk bounds the iterations a REP string instruction runs before it
// yields: like hardware taking an interrupt between iterations, it stops
// with RSI/RDI/RCX describing the work done and RIP at itself, and is
// resumed by the next block lookup. A yield consumes one instruction of
// Run's budget without retiring anything, so Run(budget) stays bounded
// (and deterministic) whatever RCX holds.
const repChunk = 1 << 16

// hString runs MOVS/STOS/LODS/CMPS/SCAS with or without REP. A fault or
// MMIO exit mid-way leaves RSI/RDI/RCX describing the iterations done and
// RIP at the instruction, as hardware does.
func hString(c *CPU, in *insn) {
	sz := in.ssz
	step := uint64(sz)
	if c.fl&flagDF != 0 {
		step = -step
	}
	am := sizeMask[in.asz]
	rep := in.rep & repMask
	srcBase := c.segBase(in.seg)
	legacy := in.seg != segNone && in.seg&segChecked != 0
	for n := 0; ; n++ {
		if rep != 0 && c.r[rCX]&am == 0 {
			break
		}
		if n == repChunk {
			c.abort(in)
			c.limit--
			// Between iterations RF = 1, as an interrupt here would
			// push it (SDM "Resume Flag"): resuming skips the
			// instruction breakpoint it already passed.
			c.fl |= flagRF
			c.breakLoop()
			return
		}
		si, di := c.r[rSI]&am, c.r[rDI]&am
		sa, da := si+srcBase, di
		if legacy {
			da = c.linear(segES|segWrite, di, sz)
			if in.op != strMOVS && in.op != strSTOS {
				da = c.linear(segES, di, sz) // CMPS, SCAS read ES:DI
			}
			sa = c.linear(in.seg&7, si, sz)
		}
		switch in.op {
		case strMOVS:
			v, ok := c.read(sa, sz)
			if !ok || !c.write(in, da, sz, v) {
				c.memFault(in)
				return
			}
			c.setReg(rSI, in.asz, si+step)
			c.setReg(rDI, in.asz, di+step)
		case strSTOS:
			if !c.write(in, da, sz, c.r[rAX]) {
				c.memFault(in)
				return
			}
			c.setReg(rDI, in.asz, di+step)
		case strLODS:
			v, ok := c.read(sa, sz)
			if !ok {
				c.memFault(in)
				return
			}
			c.setReg(rAX, sz, v)
			c.setReg(rSI, in.asz, si+step)
		case strCMPS:
			a, ok1 := c.read(sa, sz)
			if !ok1 {
				c.memFault(in)
				return
			}
			b, ok2 := c.read(da, sz)
			if !ok2 {
				c.memFault(in)
				return
			}
			c.alu(aCMP, sz, a, b)
			c.setReg(rSI, in.asz, si+step)
			c.setReg(rDI, in.asz, di+step)
		case strSCAS:
			b, ok := c.read(da, sz)
			if !ok {
				c.memFault(in)
				return
			}
			c.alu(aCMP, sz, c.r[rAX]&sizeMask[sz], b)
			c.setReg(rDI, in.asz, di+step)
		}
		if rep == 0 {
			break
		}
		c.setReg(rCX, in.asz, c.r[rCX]-1)
		if in.op == strCMPS || in.op == strSCAS {
			z := c.cond(ccE)
			if rep == repE && !z || rep == repNE && z {
				break
			}
		}
		if c.dbg.hit != 0 && c.r[rCX]&am != 0 {
			// A data breakpoint hit by an iteration but the last: the
			// #DB trap comes now, RIP at the instruction, RF = 1.
			c.abort(in)
			c.fl |= flagRF
			c.dbg.repTrap = true
			return
		}
	}
	in.next.h(c, in.next)
}

// hFlagOp: CLC, STC, CMC, CLD, STD (op 0-4).
func hFlagOp(c *CPU, in *insn) {
	switch in.op {
	case 0:
		c.setFlags(flagCF, 0)
	case 1:
		c.setFlags(flagCF, flagCF)
	case 2:
		c.setFlags(flagCF, c.rflags()^flagCF)
	case 3:
		c.fl &^= flagDF
	case 4:
		c.fl |= flagDF
	}
	in.next.h(c, in.next)
}

func hLahf(c *CPU, in *insn) {
	f := c.rflags() & (flagsArith &^ flagOF)
	c.r[rAX] = c.r[rAX]&^0xff00 | (f|flagRsv1)<<8
	in.next.h(c, in.next)
}

func hSahf(c *CPU, in *insn) {
	c.setFlags(flagsArith&^flagOF, c.r[rAX]>>8)
	in.next.h(c, in.next)
}
