package cpu

// Hardware task switching with 32-bit TSSs, outside IA-32e mode (SDM
// Vol. 3 §7.3 "Task Switching", Table 7-1 for the order of checks): far
// JMP or CALL to an available 32-bit TSS descriptor or through a task
// gate, and IRET with NT set (back to the TSS whose selector is the back
// link). The outgoing task's EIP, EFLAGS, general registers and segment
// selectors are saved into its TSS; the incoming task's CR3, EIP, EFLAGS,
// general registers, LDTR and segment registers are loaded from its TSS,
// and CR0.TS is set. Faults detected before the commit point are the
// old task's; a bad selector found while loading the new task's state
// is #TS(selector) (or #NP/#SS) raised in the new task, as the SDM says.
// 16-bit TSSs, task gates in the IDT and virtual-8086 tasks still end
// Run with ExitError (errGateTask).

// task switch sources
const (
	taskJmp = iota
	taskCall
	taskIret
)

// taskAt reports whether sel names, for a far JMP/CALL outside IA-32e
// mode, a 32-bit TSS (available or busy) or a task gate. A descriptor
// that cannot be read is left to codeTarget, which raises the same fault.
func (c *CPU) taskAt(sel uint16) bool {
	if !c.pmode || c.fl&flagVM != 0 || c.efer&eferLMA != 0 || sel&^3 == 0 {
		return false
	}
	d, ok := c.readDesc(sel)
	c.mf.kind = mfNone
	if !ok || d&(1<<44) != 0 {
		return false
	}
	t := d >> 40 & 0xf
	return t == 0x9 || t == 0xb || t == 0x5
}

// farTask is a far JMP/CALL to a TSS or task gate named by sel.
func (c *CPU) farTask(in *insn, sel uint16, call bool) {
	d, _ := c.readDesc(sel)
	acc := descAccess(d)
	dpl := uint8(acc>>5) & 3
	if dpl < c.cpl || dpl < uint8(sel&3) {
		c.fault(in, vecGP, uint32(sel&^3))
		return
	}
	if acc&0xf == 0x5 { // task gate: its DPL was checked, not the TSS's
		if acc&segP == 0 {
			c.fault(in, vecNP, uint32(sel&^3))
			return
		}
		sel = uint16(d >> 16)
		if sel&4 != 0 || sel&^3 == 0 {
			c.fault(in, vecGP, uint32(sel&^3))
			return
		}
	} else if sel&4 != 0 {
		c.fault(in, vecGP, uint32(sel&^3))
		return
	}
	kind := taskJmp
	if call {
		kind = taskCall
	}
	c.taskSwitch(in, sel, kind)
}

// tssWrite stores into a TSS or descriptor table with supervisor rights.
func (c *CPU) tssWrite(va uint64, sz uint8, v uint64) bool {
	cpl := c.cpl
	c.cpl = 0
	ok := c.write(nil, va, sz, v)
	c.cpl = cpl
	if cpl != 0 {
		c.tlb.flush() // entries filled with supervisor rights
	}
	return ok
}

// taskSwitch switches to the 32-bit TSS sel (in the GDT).
func (c *CPU) taskSwitch(in *insn, sel uint16, kind int) {
	fail := func() { c.memFault(in) }
	d, ok := c.readDesc(sel)
	if !ok {
		fail()
		return
	}
	acc := descAccess(d)
	typ := acc & 0x1f
	switch {
	case typ == 0x1 || typ == 0x3:
		c.abort(in)
		c.exit = Exit{Reason: ExitError, RIP: in.rip, InstLen: int(in.len), Insn: c.insnBytes(in), Err: errGateTask}
		return
	case kind == taskIret && typ != 0xb:
		c.fault(in, vecTS, uint32(sel&^3))
		return
	case kind != taskIret && typ != 0x9:
		c.fault(in, vecGP, uint32(sel&^3))
		return
	case acc&segP == 0:
		c.fault(in, vecNP, uint32(sel&^3))
		return
	}
	nbase, nlimit := descBase(d), descLimit(d)
	if nlimit < 0x67 {
		c.fault(in, vecTS, uint32(sel&^3))
		return
	}
	if c.tr.access&0xf != 0xb || c.tr.limit < 0x67 {
		c.abort(in)
		c.exit = Exit{Reason: ExitError, RIP: in.rip, InstLen: int(in.len), Insn: c.insnBytes(in), Err: errGateTask}
		return
	}
	// Read the whole incoming state first: nothing is committed if that
	// faults (a page fault on the new TSS is the old task's).
	var nt [26]uint64 // dwords 0x00..0x64
	for i := range nt {
		v, ok := c.sysRead(nbase+uint64(i)*4, 4)
		if !ok {
			fail()
			return
		}
		nt[i] = v
	}
	ob := c.tr.base
	fl := c.rflags()
	if kind == taskIret {
		fl &^= flagNT
	}
	next := in.rip + uint64(in.len)
	save := []struct {
		off uint64
		v   uint64
	}{
		{0x20, next}, {0x24, fl},
		{0x28, c.r[rAX]}, {0x2c, c.r[rCX]}, {0x30, c.r[rDX]}, {0x34, c.r[rBX]},
		{0x38, c.r[rSP]}, {0x3c, c.r[rBP]}, {0x40, c.r[rSI]}, {0x44, c.r[rDI]},
		{0x48, uint64(c.seg[segES].sel)}, {0x4c, uint64(c.seg[segCS].sel)}, {0x50, uint64(c.seg[segSS].sel)},
		{0x54, uint64(c.seg[segDS].sel)}, {0x58, uint64(c.seg[segFS].sel)}, {0x5c, uint64(c.seg[segGS].sel)},
	}
	for _, s := range save {
		sz := uint8(4)
		if s.off >= 0x48 {
			sz = 2
		}
		if !c.tssWrite(ob+s.off, sz, s.v) {
			fail()
			return
		}
	}
	// Busy bits: the old TSS stays busy only for CALL (it is nested).
	oldSel := c.tr.sel
	if kind != taskCall {
		if !c.tssWrite(c.gdtr.base+uint64(oldSel&^7)+5, 1, uint64(c.tr.access&0xff&^2)) {
			fail()
			return
		}
	}
	nfl := nt[9]
	if kind == taskCall {
		nfl |= flagNT
		if !c.tssWrite(nbase, 2, uint64(oldSel)) {
			fail()
			return
		}
	}
	if kind != taskIret {
		if !c.tssWrite(c.gdtr.base+uint64(sel&^7)+5, 1, uint64(acc&0xff|2)) {
			fail()
			return
		}
	}
	// Commit: from here on faults belong to the new task.
	c.tr = seg{sel: sel, base: nbase, limit: nlimit, access: acc | 2}
	c.cr0 |= cr0TS
	c.tlb.flush() // CPL, CR3 and the segments may all change
	if c.cr0&cr0PG != 0 {
		c.cr3 = nt[7]
		if c.cr4&cr4PAEbit != 0 && !c.loadPDPTEs() {
			c.raiseAt(vecGP, 0, true) // SDM: #GP(0) for bad PDPTEs
			c.retired += uint64(in.cnt)
			return
		}
		c.tlb.flush()
	}
	c.rip = nt[8]
	c.setRflags(nfl&flagsWritable | flagRsv1)
	for i, r := range []int{rAX, rCX, rDX, rBX, rSP, rBP, rSI, rDI} {
		c.r[r] = nt[10+i] & 0xffffffff
	}
	sels := [6]uint16{uint16(nt[18]), uint16(nt[19]), uint16(nt[20]), uint16(nt[21]), uint16(nt[22]), uint16(nt[23])}
	ldt := uint16(nt[24])
	// Selectors first (so a fault below shows them), caches after the checks.
	for s := range sels {
		c.seg[s].sel = sels[s]
	}
	c.ldtr.sel = ldt
	c.retired += uint64(in.cnt)
	ok = c.loadTaskSegs(sels, ldt)
	c.modeChanged()
	if !ok {
		c.raiseAt(c.mf.vec, c.mf.err, true)
	}
}

// loadTaskSegs loads LDTR, CS, SS and the data segments of the incoming
// task with the checks of SDM Vol. 3 §7.3 step 13 (Table 7-1): a bad
// selector or type is #TS(selector), a segment not present #NP (#SS for
// SS).
func (c *CPU) loadTaskSegs(sels [6]uint16, ldt uint16) bool {
	ts := func(sel uint16) bool {
		c.mf = memFault{kind: mfException, vec: vecTS, err: uint32(sel &^ 3)}
		return false
	}
	if ldt&^3 == 0 {
		c.ldtr = seg{sel: ldt, access: segUnusable}
	} else {
		if ldt&4 != 0 {
			return ts(ldt)
		}
		d, ok := c.readDesc(ldt)
		if !ok || descAccess(d)&0x1f != 2 {
			return ts(ldt)
		}
		if descAccess(d)&segP == 0 {
			return ts(ldt)
		}
		c.ldtr = seg{sel: ldt, base: descBase(d), limit: descLimit(d), access: descAccess(d)}
	}
	cs := sels[segCS]
	if cs&^3 == 0 {
		return ts(cs)
	}
	d, ok := c.readDesc(cs)
	if !ok {
		return ts(cs)
	}
	acc := descAccess(d)
	dpl, rpl := uint8(acc>>5)&3, uint8(cs&3)
	if acc&0x18 != 0x18 || acc&4 == 0 && dpl != rpl || acc&4 != 0 && dpl > rpl {
		return ts(cs)
	}
	if acc&segP == 0 {
		return c.segFault(vecNP, cs)
	}
	c.seg[segCS] = seg{sel: cs, base: descBase(d), limit: descLimit(d), access: acc}
	c.cpl = rpl
	for _, s := range []uint8{segSS, segES, segDS, segFS, segGS} {
		if !c.loadSeg(s, sels[s]) {
			if c.mf.kind == mfException && c.mf.vec == vecGP {
				return ts(sels[s]) // a bad selector or type: #TS here
			}
			return false
		}
	}
	return true
}
