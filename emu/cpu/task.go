package cpu

import "fmt"

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
// Interrupts and exceptions through a task gate in the IDT switch the
// same way, nested like CALL (deliverTask). 16-bit TSSs and
// A task whose EFLAGS image has VM set runs in virtual-8086 mode
// (vm86.go). 16-bit TSSs still end Run with ExitError (errGateTask).

// task switch sources
const (
	taskJmp = iota
	taskCall
	taskIret
	taskInt // an interrupt or exception through a task gate in the IDT
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

// Outcomes of switchTask.
const (
	tsOld      = iota // faulted before the commit point: c.mf is the old task's fault
	tsExit            // a 16-bit TSS (or a 16-bit current task): not modelled
	tsNew             // committed, the new task's state loaded
	tsNewFault        // committed; c.mf is a fault to raise in the new task
)

// taskSwitch is a far JMP/CALL or IRET switching to the 32-bit TSS sel.
func (c *CPU) taskSwitch(in *insn, sel uint16, kind int) {
	switch c.switchTask(sel, kind, in.rip+uint64(in.len), 0) {
	case tsOld:
		c.memFault(in)
	case tsExit:
		c.abort(in)
		c.exit = Exit{Reason: ExitError, RIP: in.rip, InstLen: int(in.len), Insn: c.insnBytes(in), Err: errGateTask}
	case tsNew:
		c.retired += uint64(in.cnt)
		c.modeChanged()
	case tsNewFault:
		c.retired += uint64(in.cnt)
		c.modeChanged()
		c.raiseAt(c.mf.vec, c.mf.err, true)
	}
}

// tsFault records a fault detected by switchTask.
func (c *CPU) tsFault(vec uint8, err uint32) int {
	c.mf = memFault{kind: mfException, vec: vec, err: err}
	return tsOld
}

// switchTask switches to the 32-bit TSS sel (in the GDT), saving next as
// the outgoing task's EIP. kind taskInt (an event through a task gate)
// nests like CALL; ext is the EXT bit of the error codes of the faults
// it detects before the commit point.
func (c *CPU) switchTask(sel uint16, kind int, next uint64, ext uint32) int {
	selErr := uint32(sel&^3) | ext
	d, ok := c.readDesc(sel)
	if !ok {
		if c.mf.kind == mfException {
			c.mf.err |= ext
		}
		return tsOld
	}
	acc := descAccess(d)
	typ := acc & 0x1f
	switch {
	case typ == 0x1 || typ == 0x3:
		return tsExit
	case kind == taskIret && typ != 0xb:
		return c.tsFault(vecTS, selErr)
	case kind != taskIret && typ != 0x9:
		return c.tsFault(vecGP, selErr)
	case acc&segP == 0:
		return c.tsFault(vecNP, selErr)
	}
	nbase, nlimit := descBase(d), descLimit(d)
	if nlimit < 0x67 {
		return c.tsFault(vecTS, selErr)
	}
	if c.tr.access&0xf != 0xb || c.tr.limit < 0x67 {
		return tsExit
	}
	// Read the whole incoming state first: nothing is committed if that
	// faults (a page fault on the new TSS is the old task's).
	var nt [26]uint64 // dwords 0x00..0x64
	for i := range nt {
		v, ok := c.sysRead(nbase+uint64(i)*4, 4)
		if !ok {
			return tsOld
		}
		nt[i] = v
	}
	ob := c.tr.base
	fl := c.rflags()
	if kind == taskIret {
		fl &^= flagNT
	}
	nested := kind == taskCall || kind == taskInt
	save := [...]struct {
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
			return tsOld
		}
	}
	// Busy bits: the old TSS stays busy only when nested (CALL, an
	// interrupt or exception through a task gate).
	oldSel := c.tr.sel
	if !nested {
		if !c.tssWrite(c.gdtr.base+uint64(oldSel&^7)+5, 1, uint64(c.tr.access&0xff&^2)) {
			return tsOld
		}
	}
	nfl := nt[9]
	if nested {
		nfl |= flagNT
		if !c.tssWrite(nbase, 2, uint64(oldSel)) {
			return tsOld
		}
	}
	if kind != taskIret {
		if !c.tssWrite(c.gdtr.base+uint64(sel&^7)+5, 1, uint64(acc&0xff|2)) {
			return tsOld
		}
	}
	// Commit: from here on faults belong to the new task.
	c.tr = seg{sel: sel, base: nbase, limit: nlimit, access: acc | 2}
	c.cr0 |= cr0TS
	c.tlb.flush() // CPL, CR3 and the segments may all change
	if c.cr0&cr0PG != 0 {
		c.cr3 = nt[7]
		if c.cr4&cr4PAEbit != 0 && !c.loadPDPTEs() {
			c.mf = memFault{kind: mfException, vec: vecGP, err: 0} // SDM: #GP(0) for bad PDPTEs
			return tsNewFault
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
	if !c.loadTaskSegs(sels, ldt, nfl&flagVM != 0) {
		return tsNewFault
	}
	return tsNew
}

// deliverTask delivers an interrupt or exception through the task gate
// g of the IDT (SDM Vol. 3 §6.12.2, INT n pseudocode TASK-GATE): a
// nested switch to the gate's TSS (#GP(sel) for a TSS selector in the
// LDT or a busy TSS, #NP(sel) not present, with EXT), then the error
// code, if the event has one, pushed as a doubleword on the new task's
// stack. A fault after the commit point is raised in the new task.
func (c *CPU) deliverTask(g uint64, err uint32, hasErr bool, ext uint32, ret uint64) bool {
	sel := uint16(g >> 16)
	if sel&4 != 0 {
		c.mf = memFault{kind: mfException, vec: vecGP, err: uint32(sel&^3) | ext}
		return false
	}
	switch c.switchTask(sel, taskInt, ret, ext) {
	case tsOld:
		return false
	case tsExit:
		c.exit = Exit{Reason: ExitError, RIP: c.rip, Err: errGateTask}
		c.mf = memFault{kind: mfNone}
		return false
	case tsNewFault:
		c.modeChanged()
		c.raiseAt(c.mf.vec, c.mf.err, true)
		return true
	}
	c.modeChanged()
	if hasErr {
		if !c.pushLegacy(nil, 4, uint64(err)) {
			if c.mf.kind == mfException {
				c.raiseAt(c.mf.vec, c.mf.err, hasErrCode(c.mf.vec))
			} else {
				c.exit = Exit{Reason: ExitError, RIP: c.rip,
					Err: fmt.Errorf("%w: task-gate error code, gpa %#x", ErrEventMMIO, c.mf.gpa)}
			}
			return true
		}
	}
	if c.rip > uint64(c.seg[segCS].limit) {
		c.raiseAt(vecGP, ext, true)
	}
	return true
}

// loadTaskSegs loads LDTR, CS, SS and the data segments of the incoming
// task with the checks of SDM Vol. 3 §7.3 step 13 (Table 7-1): a bad
// selector or type is #TS(selector), a segment not present #NP (#SS for
// SS). A virtual-8086 task (vm) gets real-mode-style segments, unchecked
// (vm86.go).
func (c *CPU) loadTaskSegs(sels [6]uint16, ldt uint16, vm bool) bool {
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
	if vm {
		for s := range sels {
			c.seg[s] = vmSeg(sels[s])
		}
		c.cpl = 3
		return true
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
