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
	_ = c.deliver(vec, err, hasErr, false, c.rip)
}

// deliver runs the event-delivery loop. soft marks INT n/INT3 (gate DPL
// checked; no EXT bit); ret is the RIP pushed for that first event.
// It reports whether the first event was delivered without a nested fault.
func (c *CPU) deliver(vec uint8, err uint32, hasErr, soft bool, ret uint64) bool {
	faultRIP := c.rip
	for first := true; ; first = false {
		if vec == vecPF {
			c.cr2 = c.ev.cr2
		}
		if c.tryDeliver(vec, err, hasErr, soft, ret) {
			return first
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

// tryDeliver delivers one event through the 64-bit IDT; false with c.mf
// set if that faulted (nothing committed then).
func (c *CPU) tryDeliver(vec uint8, err uint32, hasErr, soft bool, ret uint64) bool {
	if !c.mode64 {
		c.mf = memFault{kind: mfException, vec: vecGP}
		return false
	}
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
	oldCPL := c.cpl
	oldRSP := c.r[rSP]
	oldSS := c.seg[segSS]
	rsp := oldRSP
	if dpl < oldCPL {
		v, ok := c.sysRead(c.tr.base+4+8*uint64(dpl), 8)
		if !ok {
			return false
		}
		rsp = v
	}
	if ist != 0 {
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
	c.softInt(in, in.op)
}

func hInt3(c *CPU, in *insn) { c.softInt(in, vecBP) }

func (c *CPU) softInt(in *insn, vec uint8) {
	c.abort(in)
	if c.deliver(vec, 0, false, true, in.rip+uint64(in.len)) {
		c.retired++ // a trap: INT n retired
	}
}

// hIretq returns from an interrupt or exception handler in 64-bit mode,
// with a frame of in.sz-byte slots (IRETQ 8, IRETD 4, 66 IRET 2; SDM
// IRET: in 64-bit mode every size pops SS:RSP; a 16-bit IRET loads only
// FLAGS[15:0]).
func hIretq(c *CPU, in *insn) {
	sp := c.r[rSP]
	var fr [5]uint64
	for i := range fr {
		v, ok := c.read(sp+uint64(i)*uint64(in.sz), in.sz)
		if !ok {
			c.memFault(in)
			return
		}
		fr[i] = v
	}
	rip, cs, fl, rsp, ss := fr[0], uint16(fr[1]), fr[2], fr[3], uint16(fr[4])
	rpl := uint8(cs & 3)
	if rpl < c.cpl || cs&^3 == 0 {
		c.fault(in, vecGP, uint32(cs&^3))
		return
	}
	cd, ok := c.readDesc(cs)
	if !ok {
		c.memFault(in)
		return
	}
	acc := descAccess(cd)
	if acc&0x18 != 0x18 || acc&0x80 == 0 {
		c.fault(in, vecGP, uint32(cs&^3))
		return
	}
	if acc&0x2000 != 0 && !canonical(rip) {
		c.fault(in, vecGP, 0)
		return
	}
	var ssd seg
	if ss&^3 == 0 {
		if rpl == 3 {
			c.fault(in, vecGP, 0)
			return
		}
		ssd = seg{sel: ss, access: 0x10000 | uint32(rpl)<<5}
	} else {
		sd, ok := c.readDesc(ss)
		if !ok {
			c.memFault(in)
			return
		}
		ssd = seg{sel: ss, base: descBase(sd), limit: descLimit(sd), access: descAccess(sd)}
	}
	m := c.popfMask()
	if in.sz == 2 {
		m &= 0xffff
	}
	c.fl = (c.rflags()&^m | fl&m) &^ flagRF
	c.fl |= flagRsv1
	c.lz.op = lzNone
	c.intr.nmiBlocked = false // IRET ends NMI blocking (intr.go)
	c.seg[segCS] = seg{sel: cs, base: descBase(cd), limit: descLimit(cd), access: acc}
	c.seg[segSS] = ssd
	c.r[rSP] = rsp
	c.leave(in, rip)
	c.modeChanged()
}

// descTableImage is the 10-byte memory image SGDT/SIDT store in 64-bit mode.
func descTableImage(t seg) [10]byte {
	var b [10]byte
	binary.LittleEndian.PutUint16(b[:], uint16(t.limit))
	binary.LittleEndian.PutUint64(b[2:], t.base)
	return b
}
