package cpu

import "errors"

// Far control transfers: JMP/CALL ptr and m16:sz, RETF, IRET in every
// operand size and mode (SDM Vol. 2 JMP, CALL, RET, IRET "Operation").
// These are how a guest changes CS, and so its mode: 16/32-bit code by
// CS.D, compatibility vs 64-bit mode by CS.L under EFER.LMA.

// errGateTask is the ExitError cause for a task switch while TR holds
// no busy TSS, which only a VMM-made state can produce.
// Call gates are gate.go's, 32-bit task switches task.go's.
var errGateTask = errors.New("cpu: task switch with no busy TSS in TR")

// farOperand reads the far pointer of JMP/CALL: the immediate (imm =
// offset, disp = selector) or the m16:sz memory operand (offset first).
func (c *CPU) farOperand(in *insn) (sel uint16, off uint64, ok bool) {
	if !in.mem {
		return uint16(in.disp), in.imm, true
	}
	addr := c.ea(in)
	off, ok = c.read(addr, in.sz)
	if !ok {
		return 0, 0, false
	}
	var s uint64
	if c.mode64 {
		s, ok = c.read(addr+uint64(in.sz), 2)
	} else {
		// The selector follows the offset in the same segment.
		s, ok = c.read(c.linear(in.seg&7, (c.eaOff(in)+uint64(in.sz))&sizeMask[in.asz], 2), 2)
	}
	return uint16(s), off, ok
}

// eaOff is the offset part of a legacy memory operand (before the
// segment base).
func (c *CPU) eaOff(in *insn) uint64 {
	a := in.disp
	if in.base != noReg {
		a += c.r[in.base]
	}
	if in.index != noReg {
		a += c.r[in.index] << in.scale
	}
	return a & sizeMask[in.asz]
}

// farTarget reads and checks the target of a far JMP or CALL; false
// when in was aborted.
func (c *CPU) farTarget(in *insn, call bool) (seg, uint64, bool) {
	sel, off, ok := c.farOperand(in)
	if !ok {
		c.memFault(in)
		return seg{}, 0, false
	}
	if g, ok := c.gateAt(sel); ok {
		c.callGate(in, sel, g, call) // the whole transfer (gate.go)
		return seg{}, 0, false
	}
	if c.taskAt(sel) {
		c.farTask(in, sel, call) // a task switch (task.go)
		return seg{}, 0, false
	}
	ns, ok := c.codeTarget(in, sel, off)
	if !ok {
		c.farFail(in)
	}
	return ns, off, ok
}

func hFarJmp(c *CPU, in *insn) {
	if ns, off, ok := c.farTarget(in, false); ok {
		c.setCS(ns)
		c.leave(in, off)
	}
}

// farFail aborts a far transfer whose checks failed: an exception, or
// the ExitError codeTarget set.
func (c *CPU) farFail(in *insn) {
	if c.exit.Reason != ExitNone {
		c.abort(in)
		return
	}
	c.memFault(in)
}

func hFarCall(c *CPU, in *insn) {
	ns, off, ok := c.farTarget(in, true)
	if !ok {
		return
	}
	sp := c.r[rSP]
	if !c.push(in, in.sz, uint64(c.seg[segCS].sel)) || !c.push(in, in.sz, in.rip+uint64(in.len)) {
		c.r[rSP] = sp
		c.memFault(in)
		return
	}
	c.setCS(ns)
	c.leave(in, off)
}

// retTarget checks the CS a far return or IRET pops (SDM RET "protected
// mode" return-to-same/outer-privilege checks) and returns its cache.
func (c *CPU) retTarget(sel uint16, off uint64) (seg, bool) {
	if sel&^3 == 0 {
		return seg{}, c.gpFault(0)
	}
	d, ok := c.readDesc(sel)
	if !ok {
		return seg{}, false
	}
	acc := descAccess(d)
	dpl, rpl := uint8(acc>>5)&3, uint8(sel&3)
	switch {
	case acc&0x18 != 0x18 || rpl < c.cpl:
		return seg{}, c.gpFault(uint32(sel &^ 3))
	case acc&4 != 0 && dpl > rpl, acc&4 == 0 && dpl != rpl:
		return seg{}, c.gpFault(uint32(sel &^ 3))
	case c.efer&eferLMA != 0 && acc&segL != 0 && acc&segDB != 0:
		return seg{}, c.gpFault(uint32(sel &^ 3))
	case acc&segP == 0:
		return seg{}, c.segFault(vecNP, sel)
	}
	return c.codeCache(sel, d, off)
}

// outerSS checks the SS a return to privilege rpl pops.
func (c *CPU) outerSS(sel uint16, rpl uint8, csLong bool) (seg, bool) {
	if sel&^3 == 0 {
		// Null SS is legal for a return to 64-bit code below CPL 3.
		if c.efer&eferLMA != 0 && csLong && rpl != 3 {
			return seg{sel: sel, access: segUnusable | uint32(rpl)<<5}, true
		}
		return seg{}, c.gpFault(0)
	}
	d, ok := c.readDesc(sel)
	if !ok {
		return seg{}, false
	}
	acc := descAccess(d)
	if uint8(sel&3) != rpl || acc&0x1a != 0x12 || uint8(acc>>5)&3 != rpl {
		return seg{}, c.gpFault(uint32(sel &^ 3))
	}
	if acc&segP == 0 {
		return seg{}, c.segFault(vecSS, sel)
	}
	if d, ok = c.markAccessed(sel, d); !ok {
		return seg{}, false
	}
	return seg{sel: sel, base: descBase(d), limit: descLimit(d), access: descAccess(d)}, true
}

// hRetf: far RET (in.imm bytes of parameters released).
func hRetf(c *CPU, in *insn) {
	sz := in.sz
	off, ok1 := c.read(c.stackAddr(0, sz), sz)
	cs, ok2 := c.read(c.stackAddr(int64(sz), 2), 2)
	if !ok1 || !ok2 {
		c.ssFault()
		c.memFault(in)
		return
	}
	sel := uint16(cs)
	if !c.pmode || c.fl&flagVM != 0 {
		ns, ok := c.codeTarget(in, sel, off)
		if !ok {
			c.farFail(in)
			return
		}
		c.addSP(2*int64(sz) + int64(in.imm))
		c.setCS(ns)
		c.leave(in, off)
		return
	}
	ns, ok := c.retTarget(sel, off)
	if !ok {
		c.memFault(in)
		return
	}
	rpl := uint8(sel & 3)
	if rpl == c.cpl {
		c.addSP(2*int64(sz) + int64(in.imm))
		c.setCS(ns)
		c.leave(in, off)
		return
	}
	k := 2*int64(sz) + int64(in.imm)
	nsp, ok1 := c.read(c.stackAddr(k, sz), sz)
	nss, ok2 := c.read(c.stackAddr(k+int64(sz), 2), 2)
	if !ok1 || !ok2 {
		c.ssFault()
		c.memFault(in)
		return
	}
	ssd, ok := c.outerSS(uint16(nss), rpl, ns.access&segL != 0)
	if !ok {
		c.memFault(in)
		return
	}
	c.seg[segSS] = ssd
	c.setCS(ns)
	c.r[rSP] = nsp
	c.addSP(int64(in.imm))
	c.nullOuterSegs()
	c.leave(in, off)
}

// hIret: IRET (sz 2), IRETD (4), IRETQ (8). In real mode it pops IP, CS
// and FLAGS; in protected and compatibility mode it may return to an
// outer privilege (popping SS:ESP too); in 64-bit mode it always pops
// SS:RSP (SDM IRET).
func hIret(c *CPU, in *insn) {
	c.nmiBlocked = false // even when the IRET then faults (SDM §6.7.1)
	if c.vmIOPLFault(in) {
		return
	}
	if c.pmode && c.fl&flagNT != 0 && c.fl&flagVM == 0 {
		if c.efer&eferLMA != 0 {
			c.fault(in, vecGP, 0) // no task switches in IA-32e mode
			return
		}
		// Return to the task whose selector is this TSS's back link;
		// nothing is popped.
		link, ok := c.sysRead(c.tr.base, 2)
		if !ok {
			c.memFault(in)
			return
		}
		c.taskSwitch(in, uint16(link), taskIret)
		return
	}
	sz := in.sz
	var fr [5]uint64
	n := 3
	if c.mode64 {
		n = 5 // 64-bit mode pops SS:RSP even without a privilege change
	}
	for i := 0; i < n; i++ {
		v, ok := c.read(c.stackAddr(int64(i)*int64(sz), sz), sz)
		if !ok {
			c.ssFault()
			c.memFault(in)
			return
		}
		fr[i] = v
	}
	rip, cs, fl := fr[0], uint16(fr[1]), fr[2]
	if sz == 2 {
		fl = c.rflags()&^0xffff | fl&0xffff
	}
	if !c.pmode {
		if rip > uint64(c.seg[segCS].limit) {
			c.fault(in, vecGP, 0)
			return
		}
		// IRETD loads RF too (SDM IRET, REAL-ADDRESS-MODE: tempEFLAGS
		// AND 257FD5H).
		m := uint64(flagsWritable &^ (flagVM | flagVIP | flagVIF | flagRF))
		if sz == 4 {
			m |= flagRF
		}
		c.fl = (c.rflags()&^m | fl&m) | flagRsv1
		c.lz.op = lzNone
		c.acUpdate()
		c.flagsLoaded()
		c.realSeg(segCS, cs)
		c.addSP(3 * int64(sz))
		c.modeChanged()
		c.leave(in, rip)
		return
	}
	if c.fl&flagVM != 0 {
		c.iretInVM86(in, sz, rip, cs, fl)
		return
	}
	if fl&flagVM != 0 && c.cpl == 0 && c.efer&eferLMA == 0 && sz == 4 {
		c.iretToVM86(in, rip, cs, fl)
		return
	}
	ns, ok := c.retTarget(cs, rip)
	if !ok {
		c.memFault(in)
		return
	}
	rpl := uint8(cs & 3)
	if n == 3 && rpl != c.cpl {
		for i := 3; i < 5; i++ {
			v, ok := c.read(c.stackAddr(int64(i)*int64(sz), sz), sz)
			if !ok {
				c.memFault(in)
				return
			}
			fr[i] = v
		}
		n = 5
	}
	var ssd seg
	if n == 5 {
		ssd, ok = c.outerSS(uint16(fr[4]), rpl, ns.access&segL != 0)
		if !ok {
			c.memFault(in)
			return
		}
	}
	// A debug handler returns past an instruction breakpoint by the RF
	// IRET loads (debug.go).
	m := c.popfMask()
	if sz == 2 {
		m &= 0xffff
	} else {
		// IRETD/IRETQ load RF, and at CPL 0 also VIF and VIP, which
		// POPF never does (SDM IRET: "EFLAGS(RF, AC, ID) ← tempEFLAGS",
		// "IF CPL = 0 THEN EFLAGS(IOPL, VIF, VIP) ← tempEFLAGS").
		m |= flagRF
		if c.cpl == 0 {
			m |= flagVIF | flagVIP
		}
	}
	c.fl = c.rflags()&^m | fl&m
	c.fl |= flagRsv1
	c.lz.op = lzNone
	c.acUpdate()
	c.flagsLoaded()
	oldCPL := c.cpl
	if n == 5 {
		c.seg[segSS] = ssd
		c.setCS(ns)
		c.r[rSP] = fr[3]
	} else {
		c.addSP(3 * int64(sz))
		c.setCS(ns)
	}
	if c.cpl > oldCPL {
		c.nullOuterSegs()
	}
	c.leave(in, rip)
}
