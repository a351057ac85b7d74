package cpu

import "fmt"

// Hardware task switching with 32- and 16-bit TSSs, outside IA-32e mode
// (SDM Vol. 3 §7.3 "Task Switching", Table 7-1 for the order of checks,
// §7.6 for 16-bit TSSs): far JMP or CALL to an available TSS or through a task
// gate, and IRET with NT set (back to the TSS whose selector is the back
// link). The outgoing task's EIP, EFLAGS, general registers and segment
// selectors are saved into its TSS; the incoming task's CR3, EIP, EFLAGS,
// general registers, LDTR and segment registers are loaded from its TSS,
// and CR0.TS is set. Faults detected before the commit point are the
// old task's; a bad selector found while loading the new task's state
// is #TS(selector) (or #NP/#SS) raised in the new task, as the SDM says.
// Interrupts and exceptions through a task gate in the IDT switch the
// same way, nested like CALL (deliverTask). A task whose EFLAGS image has
// VM set runs in virtual-8086 mode (vm86.go). A switch while TR holds no
// busy TSS (a state only VM_SET_REGISTER can make) ends Run with
// ExitError (errGateTask).

// task switch sources
const (
	taskJmp = iota
	taskCall
	taskIret
	taskInt // an interrupt or exception through a task gate in the IDT
)

// taskAt reports whether sel names, for a far JMP/CALL outside IA-32e
// mode, a TSS (available or busy, 16- or 32-bit) or a task gate. A descriptor
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
	return t&7 == 0x1 || t&7 == 0x3 || t == 0x5
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

// taskSwitch is a far JMP/CALL or IRET switching to the TSS sel.
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

// tssLayout is where a 32-bit or 16-bit TSS (SDM Vol. 3 Figures 7-2 and
// 7-10) keeps each field: EIP, EFLAGS, the eight general registers
// (stride 4 or 2), ES, CS, SS, DS, FS, GS (16-bit: none for FS/GS) and
// the LDT selector; sz is the width of EIP, EFLAGS and the registers.
type tssLayout struct {
	eip, fl, gpr, segs, ldt, minLimit uint64
	sz                                uint8
	nsegs                             int
}

var (
	tss32 = tssLayout{eip: 0x20, fl: 0x24, gpr: 0x28, segs: 0x48, ldt: 0x60, minLimit: 0x67, sz: 4, nsegs: 6}
	tss16 = tssLayout{eip: 0x0e, fl: 0x10, gpr: 0x12, segs: 0x22, ldt: 0x2a, minLimit: 0x2b, sz: 2, nsegs: 4}
)

func layoutOf(access uint32) *tssLayout {
	if access&8 != 0 {
		return &tss32
	}
	return &tss16
}

// segStride is the distance between selector fields: dwords in a 32-bit
// TSS, words in a 16-bit one.
func (l *tssLayout) segStride() uint64 { return uint64(l.sz) }

// switchTask switches to the 32- or 16-bit TSS sel (in the GDT), saving
// next as the outgoing task's EIP. kind taskInt (an event through a task
// gate) nests like CALL; ext is the EXT bit of the error codes of the
// faults it detects before the commit point. A 16-bit TSS has no CR3, FS,
// GS or I/O map: the page tables stay, FS and GS are loaded null, and the
// upper halves of EIP and EFLAGS are lost. The SDM calls the upper
// halves of the general registers "modified and not maintained"; they
// load as zeros here, so a 16-bit task on a 32-bit stack segment still
// finds its stack (SDM Vol. 3 §7.6).
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
	typ := acc & 0x17 // the TSS type without its size bit
	switch {
	case acc&0x10 != 0:
		return c.tsFault(vecGP, selErr)
	case kind == taskIret && typ != 0x3:
		return c.tsFault(vecTS, selErr)
	case kind != taskIret && typ != 0x1:
		return c.tsFault(vecGP, selErr)
	case acc&segP == 0:
		return c.tsFault(vecNP, selErr)
	}
	nl, ol := layoutOf(acc), layoutOf(c.tr.access)
	nbase, nlimit := descBase(d), descLimit(d)
	if uint64(nlimit) < nl.minLimit {
		return c.tsFault(vecTS, selErr)
	}
	if c.tr.access&0x7 != 0x3 || uint64(c.tr.limit) < ol.minLimit {
		return tsExit // TR holds no busy TSS: a state VM_RUN was handed
	}
	// Read the whole incoming state first: nothing is committed if that
	// faults (a page fault on the new TSS is the old task's).
	rd := func(off uint64, sz uint8, v *uint64) bool {
		x, ok := c.sysRead(nbase+off, sz)
		*v = x
		return ok
	}
	var nEIP, nFL, nCR3, nLDT, nTrap uint64
	var nGPR [8]uint64
	var nSeg [6]uint64
	ok = rd(nl.eip, nl.sz, &nEIP) && rd(nl.fl, nl.sz, &nFL) && rd(nl.ldt, 2, &nLDT)
	if nl.sz == 4 {
		ok = ok && rd(0x1c, 4, &nCR3) && rd(0x64, 2, &nTrap)
	}
	for i := range nGPR {
		ok = ok && rd(nl.gpr+uint64(i)*uint64(nl.sz), nl.sz, &nGPR[i])
	}
	for i := 0; i < nl.nsegs; i++ {
		ok = ok && rd(nl.segs+uint64(i)*nl.segStride(), 2, &nSeg[i])
	}
	if !ok {
		return tsOld
	}
	ob := c.tr.base
	fl := c.rflags()
	if kind == taskIret {
		fl &^= flagNT
	}
	nested := kind == taskCall || kind == taskInt
	wr := func(off uint64, sz uint8, v uint64) bool { return c.tssWrite(ob+off, sz, v) }
	ok = wr(ol.eip, ol.sz, next) && wr(ol.fl, ol.sz, fl)
	for i, r := range [8]int{rAX, rCX, rDX, rBX, rSP, rBP, rSI, rDI} {
		ok = ok && wr(ol.gpr+uint64(i)*uint64(ol.sz), ol.sz, c.r[r])
	}
	for i := 0; i < ol.nsegs; i++ {
		ok = ok && wr(ol.segs+uint64(i)*ol.segStride(), 2, uint64(c.seg[i].sel))
	}
	if !ok {
		return tsOld
	}
	// Busy bits: the old TSS stays busy only when nested (CALL, an
	// interrupt or exception through a task gate).
	oldSel := c.tr.sel
	if !nested {
		if !c.tssWrite(c.gdtr.base+uint64(oldSel&^7)+5, 1, uint64(c.tr.access&0xff&^2)) {
			return tsOld
		}
	}
	nfl := nFL
	if nl.sz == 2 {
		nfl &= 0xffff
	}
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
	c.taskDebug(nTrap&1 != 0)
	c.tlb.flush() // CPL, CR3 and the segments may all change
	if c.cr0&cr0PG != 0 && nl.sz == 4 {
		c.cr3 = nCR3
		if c.cr4&cr4PAEbit != 0 && !c.loadPDPTEs() {
			c.mf = memFault{kind: mfException, vec: vecGP, err: 0} // SDM: #GP(0) for bad PDPTEs
			return tsNewFault
		}
		c.tlb.flush()
	}
	c.rip = nEIP
	c.setRflags(nfl&flagsWritable | flagRsv1)
	for i, r := range [8]int{rAX, rCX, rDX, rBX, rSP, rBP, rSI, rDI} {
		c.r[r] = nGPR[i]
	}
	var sels [6]uint16
	for i := range sels {
		sels[i] = uint16(nSeg[i])
	}
	ldt := uint16(nLDT)
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
		// A doubleword into a 32-bit task, a word into a 16-bit one.
		if !c.pushLegacy(nil, layoutOf(c.tr.access).sz, uint64(err)) {
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
	if d, ok = c.markAccessed(cs, d); !ok {
		return false
	}
	acc = descAccess(d)
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
