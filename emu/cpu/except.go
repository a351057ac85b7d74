package cpu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Exception vectors.
const (
	vecDE = 0
	vecDB = 1
	vecBP = 3
	vecOF = 4
	vecBR = 5
	vecUD = 6
	vecNM = 7
	vecDF = 8
	vecTS = 10
	vecNP = 11
	vecSS = 12
	vecGP = 13
	vecPF = 14
	vecAC = 17
)

// ErrEventMMIO is the ExitError cause when delivering an exception needs
// memory no RAM backs (IDT, GDT, TSS or the handler's stack in MMIO
// space). Hardware under vmm has no sensible way to continue either; it is
// a guest bug, not an emulator one.
var ErrEventMMIO = errors.New("cpu: event delivery touched unbacked memory")

type eventState struct {
	cr2 uint64 // faulting address of a #PF being raised
	// count increments at every event delivery, so Run can tell an
	// instruction that retired quietly from one that raised something.
	count uint64
}

func hasErrCode(vec uint8) bool {
	switch vec {
	case vecDF, vecTS, vecNP, vecSS, vecGP, vecPF, vecAC:
		return true
	}
	return false
}

func contributory(vec uint8) bool {
	switch vec {
	case vecDE, vecTS, vecNP, vecSS, vecGP:
		return true
	}
	return false
}

// raiseAt delivers exception vec with RIP at the faulting instruction (the
// caller has set c.rip). An exception while delivering turns into the
// next one by the SDM's double-fault table (Vol. 3 §6.15, table 6-5); one
// while delivering #DF is a triple fault: Run ends with ExitTripleFault
// and RIP still at the instruction that started it all.
func (c *CPU) raiseAt(vec uint8, err uint32, hasErr bool) {
	c.dbg.fault = true
	_ = c.deliver(vec, err, hasErr, false, c.rip)
}

// deliver runs the event-delivery loop. soft marks INT n/INT3 (gate DPL
// checked; no EXT bit); ret is the RIP pushed for that first event.
// It reports whether the first event was delivered without a nested fault.
// A fault (raiseAt, and every fault met while delivering) pushes its
// RFLAGS image with RF = 1, so that the IRET back re-executes the
// instruction without its instruction breakpoint firing again; other
// events push RF as it is (SDM "Instruction-Breakpoint Exception
// Condition"). RF is put back if nothing was delivered.
func (c *CPU) deliver(vec uint8, err uint32, hasErr, soft bool, ret uint64) bool {
	c.ev.count++
	faultRIP := c.rip
	rf, oldRF := c.dbg.fault, c.fl&flagRF
	c.dbg.fault = false
	for first := true; ; first = false {
		if vec == vecPF {
			c.cr2 = c.ev.cr2
		}
		if rf {
			c.fl |= flagRF
		}
		if c.tryDeliver(vec, err, hasErr, soft, ret) {
			return first
		}
		c.fl = c.fl&^flagRF | oldRF
		rf = true
		if c.exit.Reason != ExitNone {
			return false // a task switch with no busy TSS in TR: ExitError
		}
		if c.mf.kind != mfException {
			c.exit = Exit{Reason: ExitError, RIP: faultRIP,
				Err: fmt.Errorf("%w: vector %d, gpa %#x", ErrEventMMIO, vec, c.mf.gpa)}
			return false
		}
		nv, ne := c.mf.vec, c.mf.err
		if vec == vecDF {
			c.rip = faultRIP
			c.exit = Exit{Reason: ExitTripleFault, RIP: faultRIP}
			return false
		}
		if contributory(vec) && contributory(nv) || vec == vecPF && (contributory(nv) || nv == vecPF) {
			vec, err = vecDF, 0
		} else {
			vec, err = nv, ne
		}
		hasErr = hasErrCode(vec)
		soft = false
		ret = faultRIP
		c.rip = faultRIP
	}
}

// sysRead reads guest-linear memory with supervisor rights (IDT, GDT and
// TSS accesses are implicit supervisor accesses) without filling the TLB.
func (c *CPU) sysRead(va uint64, sz uint8) (uint64, bool) {
	cpl := c.cpl
	c.cpl = 0
	gpa, _, ok := c.walk(va, accRead)
	c.cpl = cpl
	if !ok {
		return 0, false
	}
	if (gpa&(pageSz-1))+uint64(sz) > pageSz {
		var v uint64
		for i := uint8(0); i < sz; i++ {
			b, ok := c.sysRead(va+uint64(i), 1)
			if !ok {
				return 0, false
			}
			v |= b << (8 * i)
		}
		return v, true
	}
	pg, _ := c.physPage(gpa)
	if pg == nil {
		c.mf = memFault{kind: mfMMIO, gpa: gpa}
		return 0, false
	}
	return load(pg[gpa&(pageSz-1):], sz), true
}

// readDesc reads the 8-byte descriptor a selector names from the GDT or
// LDT; ok false with c.mf set (#GP(sel) beyond the limit).
func (c *CPU) readDesc(sel uint16) (uint64, bool) {
	t := c.gdtr
	if sel&4 != 0 {
		t = c.ldtr
		if t.access&0x10000 != 0 {
			return 0, c.gpFault(uint32(sel &^ 3))
		}
	}
	off := uint64(sel &^ 7)
	if off+7 > uint64(t.limit) {
		return 0, c.gpFault(uint32(sel &^ 3))
	}
	return c.sysRead(t.base+off, 8)
}

// descAccess converts a descriptor to the VT-x access-rights format.
func descAccess(d uint64) uint32 {
	return uint32(d>>40)&0xff | uint32(d>>52&0xf)<<12
}

func descBase(d uint64) uint64 {
	return d>>16&0xffffff | (d>>56)<<24
}

func descLimit(d uint64) uint32 {
	l := uint32(d&0xffff | (d>>48&0xf)<<16)
	if d&(1<<55) != 0 {
		l = l<<12 | 0xfff
	}
	return l
}

// tryDeliver delivers one event by the current mode: through the IVT in
// real mode, 8-byte IDT gates in protected mode, 16-byte gates in IA-32e
// mode; false with c.mf set if that faulted (nothing committed then).
func (c *CPU) tryDeliver(vec uint8, err uint32, hasErr, soft bool, ret uint64) bool {
	switch {
	case !c.pmode:
		return c.deliverReal(vec, soft, ret)
	case c.efer&eferLMA == 0:
		return c.deliverProt(vec, err, hasErr, soft, ret)
	}
	return c.deliverLong(vec, err, hasErr, soft, ret)
}

// deliverLong delivers through the 64-bit IDT (SDM Vol. 3 §6.14).
func (c *CPU) deliverLong(vec uint8, err uint32, hasErr, soft bool, ret uint64) bool {
	var ext uint32 = 1
	if soft {
		ext = 0
	}
	idtErr := uint32(vec)<<3 | 2 | ext
	off := uint64(vec) * 16
	if off+15 > uint64(c.idtr.limit) {
		return c.gpFault(idtErr)
	}
	lo, ok := c.sysRead(c.idtr.base+off, 8)
	if !ok {
		return false
	}
	hi, ok := c.sysRead(c.idtr.base+off+8, 8)
	if !ok {
		return false
	}
	typ := lo >> 40 & 0xf
	if typ != 0xe && typ != 0xf {
		return c.gpFault(idtErr)
	}
	if soft && uint8(lo>>45&3) < c.cpl {
		return c.gpFault(idtErr)
	}
	if lo&(1<<47) == 0 {
		c.mf = memFault{kind: mfException, vec: vecNP, err: idtErr}
		return false
	}
	sel := uint16(lo >> 16)
	target := lo&0xffff | (lo>>48&0xffff)<<16 | hi<<32
	ist := lo >> 32 & 7
	if sel&^3 == 0 {
		return c.gpFault(ext)
	}
	cd, ok := c.readDesc(sel)
	if !ok {
		return false
	}
	acc := descAccess(cd)
	if acc&0x18 != 0x18 || acc&0x2000 == 0 { // code, 64-bit
		return c.gpFault(uint32(sel&^3) | ext)
	}
	dpl := uint8(acc>>5) & 3
	if dpl > c.cpl {
		return c.gpFault(uint32(sel&^3) | ext)
	}
	if acc&0x80 == 0 {
		c.mf = memFault{kind: mfException, vec: vecNP, err: uint32(sel&^3) | ext}
		return false
	}
	if cd, ok = c.markAccessed(sel, cd); !ok {
		return false
	}
	acc = descAccess(cd)
	oldCPL := c.cpl
	oldRSP := c.r[rSP]
	oldSS := c.seg[segSS]
	rsp := oldRSP
	// RSPn and ISTn must lie within TR's limit: #TS(TR selector) with
	// EXT (SDM Vol. 3 §6.14.5, Interrupt 10 reference).
	trFault := func(off uint64) bool {
		if off+7 > uint64(c.tr.limit) {
			c.mf = memFault{kind: mfException, vec: vecTS, err: uint32(c.tr.sel&^3) | ext}
			return true
		}
		return false
	}
	if dpl < oldCPL {
		if trFault(4 + 8*uint64(dpl)) {
			return false
		}
		v, ok := c.sysRead(c.tr.base+4+8*uint64(dpl), 8)
		if !ok {
			return false
		}
		rsp = v
	}
	if ist != 0 {
		if trFault(0x24 + 8*(ist-1)) {
			return false
		}
		v, ok := c.sysRead(c.tr.base+0x24+8*(ist-1), 8)
		if !ok {
			return false
		}
		rsp = v
	}
	rsp &^= 15
	frame := [6]uint64{uint64(oldSS.sel), oldRSP, c.rflags(), uint64(c.seg[segCS].sel), ret, uint64(err)}
	n := 5
	if hasErr {
		n = 6
	}
	// Push with the new privilege (the stack is the handler's).
	c.cpl = dpl
	sp := rsp
	for i := 0; i < n; i++ {
		sp -= 8
		if !c.write(nil, sp, 8, frame[i]) {
			// A non-canonical stack is #SS (SDM INT n, "64-Bit Mode
			// Exceptions": #SS(0) without a stack switch, #SS(selector)
			// of the null SS with one), with EXT as for the other
			// faults of this delivery.
			if c.mf.kind == mfException && c.mf.canon {
				c.mf.vec, c.mf.err = vecSS, ext
			}
			c.cpl = oldCPL
			if dpl != oldCPL {
				c.tlb.flush() // entries filled with the handler's privilege
			}
			return false
		}
	}
	c.cpl = oldCPL
	if dpl != oldCPL {
		c.tlb.flush()
	}
	c.seg[segCS] = seg{sel: sel&^3 | uint16(dpl), base: 0, limit: descLimit(cd), access: acc}
	if dpl < oldCPL {
		c.seg[segSS] = seg{sel: uint16(dpl), access: 0x10000 | uint32(dpl)<<5}
	}
	c.r[rSP] = sp
	f := c.rflags() &^ (flagTF | flagNT | flagRF | flagVM)
	if typ == 0xe {
		f &^= flagIF
	}
	c.setRflags(f)
	c.rip = target
	c.modeChanged()
	return true
}

// hInt: INT n (soft interrupt; a trap, RIP after it).
func hInt(c *CPU, in *insn) {
	if c.vmIOPLFault(in) {
		return
	}
	c.softInt(in, in.op)
}

func hInt3(c *CPU, in *insn) { c.softInt(in, vecBP) }

// hIcebp: INT1 (F1) delivers #DB as a trap, like a hardware debug
// exception: no gate DPL check, RIP after the instruction.
func hIcebp(c *CPU, in *insn) {
	c.abort(in)
	if c.deliver(vecDB, 0, false, false, in.rip+uint64(in.len)) {
		c.retired++
	}
}

func (c *CPU) softInt(in *insn, vec uint8) {
	c.abort(in)
	if c.deliver(vec, 0, false, true, in.rip+uint64(in.len)) {
		c.retired++ // a trap: INT n retired
	}
}

// descTableImage is the 10-byte memory image SGDT/SIDT store in 64-bit mode.
func descTableImage(t seg) [10]byte {
	var b [10]byte
	binary.LittleEndian.PutUint16(b[:], uint16(t.limit))
	binary.LittleEndian.PutUint64(b[2:], t.base)
	return b
}

// deliverReal delivers through the real-mode IVT: 4-byte CS:IP vectors
// at IDTR.base, FLAGS, CS and IP pushed as words, IF, TF and AC cleared
// (SDM Vol. 3 §20.1.4). Real mode pushes no error code.
func (c *CPU) deliverReal(vec uint8, soft bool, ret uint64) bool {
	off := uint64(vec) * 4
	if off+3 > uint64(c.idtr.limit) {
		return c.gpFault(uint32(vec)<<3 | 2 | b2u32(!soft))
	}
	v, ok := c.sysRead((c.idtr.base+off)&0xffffffff, 4)
	if !ok {
		return false
	}
	frame := [...]uint64{c.rflags() & 0xffff, uint64(c.seg[segCS].sel), ret & 0xffff}
	if !c.pushFrame(frame[:], 2) {
		return false
	}
	c.setRflags(c.rflags() &^ (flagIF | flagTF | flagAC | flagRF))
	c.realSeg(segCS, uint16(v>>16))
	c.rip = v & 0xffff
	c.modeChanged()
	return true
}

func b2u32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// pushFrame pushes vals (first pushed first) of sz bytes each on the
// current SS:SP outside 64-bit mode, committing SP only if every store
// succeeded.
func (c *CPU) pushFrame(vals []uint64, sz uint8) bool {
	sp := c.r[rSP]
	for _, v := range vals {
		if !c.pushLegacy(nil, sz, v) {
			c.r[rSP] = sp
			return false
		}
	}
	return true
}

// deliverProt delivers through the protected-mode IDT: 16- and 32-bit
// interrupt and trap gates, with a stack switch through the TSS when the
// handler is more privileged (SDM Vol. 3 §6.12.1), and task gates
// (task.go's deliverTask).
func (c *CPU) deliverProt(vec uint8, err uint32, hasErr, soft bool, ret uint64) bool {
	ext := b2u32(!soft)
	idtErr := uint32(vec)<<3 | 2 | ext
	off := uint64(vec) * 8
	if off+7 > uint64(c.idtr.limit) {
		return c.gpFault(idtErr)
	}
	g, ok := c.sysRead((c.idtr.base+off)&0xffffffff, 8)
	if !ok {
		return false
	}
	typ := g >> 40 & 0x1f
	switch typ {
	case 0x5, 0x6, 0x7, 0xe, 0xf:
	default:
		return c.gpFault(idtErr)
	}
	if soft && uint8(g>>45&3) < c.cpl {
		return c.gpFault(idtErr)
	}
	if g&(1<<47) == 0 {
		c.mf = memFault{kind: mfException, vec: vecNP, err: idtErr}
		return false
	}
	if typ == 0x5 {
		return c.deliverTask(g, err, hasErr, ext, ret)
	}
	gsz := uint8(2)
	target := g & 0xffff
	if typ&8 != 0 {
		gsz = 4
		target |= (g >> 48) << 16
	}
	sel := uint16(g >> 16)
	if sel&^3 == 0 {
		return c.gpFault(ext)
	}
	cd, ok := c.readDesc(sel)
	if !ok {
		return false
	}
	acc := descAccess(cd)
	dpl := uint8(acc>>5) & 3
	if acc&0x18 != 0x18 || dpl > c.cpl {
		return c.gpFault(uint32(sel&^3) | ext)
	}
	if acc&segP == 0 {
		c.mf = memFault{kind: mfException, vec: vecNP, err: uint32(sel&^3) | ext}
		return false
	}
	if cd, ok = c.markAccessed(sel, cd); !ok {
		return false
	}
	acc = descAccess(cd)
	fromVM := c.fl&flagVM != 0
	if acc&4 != 0 {
		if fromVM {
			// From VM86 only a ring-0 non-conforming handler will do
			// (SDM INT n, INTERRUPT-FROM-VIRTUAL-8086-MODE).
			return c.gpFault(uint32(sel&^3) | ext)
		}
		dpl = c.cpl // conforming: runs at the caller's privilege
	}
	if fromVM && dpl != 0 {
		return c.gpFault(uint32(sel&^3) | ext)
	}
	if target > uint64(descLimit(cd)) {
		return c.gpFault(ext)
	}
	oldCPL, oldSS, oldSP, oldSS32 := c.cpl, c.seg[segSS], c.r[rSP], c.ss32
	fl := c.rflags()
	var frame [10]uint64
	n := 0
	if dpl < oldCPL {
		ssd, esp, ok := c.tssStack(dpl, ext)
		if !ok {
			return false
		}
		if fromVM {
			// GS, FS, DS, ES above the ring-0 frame.
			frame[0], frame[1], frame[2], frame[3] = uint64(c.seg[segGS].sel), uint64(c.seg[segFS].sel),
				uint64(c.seg[segDS].sel), uint64(c.seg[segES].sel)
			n = 4
		}
		frame[n], frame[n+1] = uint64(oldSS.sel), oldSP&sizeMask[gsz]
		n += 2
		c.seg[segSS], c.r[rSP] = ssd, esp
		c.ss32 = ssd.access&segDB != 0
	}
	frame[n], frame[n+1], frame[n+2] = fl&sizeMask[gsz], uint64(c.seg[segCS].sel), ret&sizeMask[gsz]
	n += 3
	if hasErr {
		frame[n] = uint64(err)
		n++
	}
	c.cpl = dpl
	ok = c.pushFrame(frame[:n], gsz)
	c.cpl = oldCPL
	if dpl != oldCPL {
		c.tlb.flush() // entries filled with the handler's privilege
	}
	if !ok {
		c.seg[segSS], c.r[rSP], c.ss32 = oldSS, oldSP, oldSS32
		return false
	}
	c.seg[segCS] = seg{sel: sel&^3 | uint16(dpl), base: descBase(cd), limit: descLimit(cd), access: acc}
	if fromVM {
		for _, s := range [...]uint8{segGS, segFS, segDS, segES} {
			c.seg[s] = seg{access: segUnusable}
		}
	}
	f := fl &^ (flagTF | flagNT | flagRF | flagVM)
	if typ&1 == 0 {
		f &^= flagIF
	}
	c.setRflags(f)
	c.rip = target
	c.modeChanged()
	return true
}

// tssStack reads the ring-dpl stack from the current 16- or 32-bit TSS
// and checks it (SDM Vol. 3 §6.12.1: #TS for a bad selector or limit,
// #SS when not present; error codes carry EXT).
func (c *CPU) tssStack(dpl uint8, ext uint32) (seg, uint64, bool) {
	var spOff, ssOff uint64
	var spSz uint8
	if c.tr.access&8 != 0 { // 32-bit TSS
		spOff, ssOff, spSz = 4+8*uint64(dpl), 8+8*uint64(dpl), 4
	} else {
		spOff, ssOff, spSz = 2+4*uint64(dpl), 4+4*uint64(dpl), 2
	}
	trErr := uint32(c.tr.sel&^3) | ext
	if ssOff+1 > uint64(c.tr.limit) {
		c.mf = memFault{kind: mfException, vec: vecTS, err: trErr}
		return seg{}, 0, false
	}
	sp, ok1 := c.sysRead(c.tr.base+spOff, spSz)
	ss, ok2 := c.sysRead(c.tr.base+ssOff, 2)
	if !ok1 || !ok2 {
		return seg{}, 0, false
	}
	sel := uint16(ss)
	tsFault := func(code uint32) (seg, uint64, bool) {
		c.mf = memFault{kind: mfException, vec: vecTS, err: code}
		return seg{}, 0, false
	}
	if sel&^3 == 0 {
		return tsFault(ext)
	}
	d, ok := c.readDesc(sel)
	if !ok {
		if c.mf.vec == vecGP {
			return tsFault(uint32(sel&^3) | ext)
		}
		return seg{}, 0, false
	}
	acc := descAccess(d)
	if uint8(sel&3) != dpl || uint8(acc>>5)&3 != dpl || acc&0x1a != 0x12 {
		return tsFault(uint32(sel&^3) | ext)
	}
	if acc&segP == 0 {
		c.mf = memFault{kind: mfException, vec: vecSS, err: uint32(sel&^3) | ext}
		return seg{}, 0, false
	}
	if d, ok = c.markAccessed(sel, d); !ok {
		return seg{}, 0, false
	}
	return seg{sel: sel, base: descBase(d), limit: descLimit(d), access: descAccess(d)}, sp, true
}

// deliverVector delivers vector vec as an external event (an interrupt
// from the local APIC or 8259, or NMI as vector 2) at the current
// instruction boundary, through the IVT in real mode or the IDT in
// protected and IA-32e mode: RIP is pushed as it is (the interrupted
// instruction has not started), the gate's DPL is not checked, and any
// error code of a fault during delivery has EXT set (SDM Vol. 3 §6.13).
// A fault while delivering follows the double-fault rules of deliver; a
// triple fault sets c.exit to ExitTripleFault. It reports whether vec
// itself reached its handler. The caller (the external-interrupt entry
// point) must be at a block boundary: c.rip is the next instruction and
// nothing of a block is in flight.
func (c *CPU) deliverVector(vec uint8) bool {
	c.intrShadow = false
	return c.deliver(vec, 0, false, false, c.rip)
}
