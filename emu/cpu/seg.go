package cpu

// Segmentation outside 64-bit mode (real mode, 16- and 32-bit protected
// mode, compatibility mode): every memory operand is an offset into a
// segment whose cached base is added and whose limit is checked (SDM
// Vol. 3 §3.4, §5.3). In 64-bit mode only FS and GS add a base and
// nothing is checked, so this file stays off that mode's hot path:
// build marks legacy operands with segChecked and ea sends only those
// here.

// segChecked in insn.seg means: offset into segment seg&7, limit-checked;
// segWrite adds that the operand is written, so the segment must be
// writable data (SDM Vol. 3 §5.4: #GP(0) for a write to a code segment or
// a read-only data segment in protected mode).
const (
	segChecked = 0x10
	segWrite   = 0x20
)

// A limit violation is not raised where it is found (ea has no way to
// fail); linear returns a poisoned linear address instead. Poisoned
// addresses are non-canonical, so they never hit the software TLB, and
// the page walk turns them into #SS(0) for the stack segment and #GP(0)
// otherwise (SDM Vol. 3 §5.3, "Limit checking"). Legacy linear addresses
// are 32 bits, so nothing legitimate is ever non-canonical there.
const (
	poisonGP = 1<<63 | vecGP<<48
	poisonSS = 1<<63 | vecSS<<48
)

// nonCanonical records the fault for a non-canonical (or poisoned)
// linear address.
func (c *CPU) nonCanonical(va uint64) bool {
	vec := uint8(vecGP)
	if va>>48 == poisonSS>>48 && !c.mode64 {
		vec = vecSS
	}
	c.mf = memFault{kind: mfException, vec: vec, canon: c.mode64}
	return false
}

// ssFault turns the #GP(0) of a non-canonical address into #SS(0) after a
// failed implicit stack access in 64-bit mode (PUSH, POP, CALL, RET,
// ENTER, LEAVE, far RET, IRET: SDM Vol. 3 §6.15 "Interrupt 12—Stack Fault
// Exception (#SS)", a non-canonical address in a stack reference through
// RSP or RBP). Only failure paths call it, so the hot path pays nothing;
// it returns false for their convenience.
func (c *CPU) ssFault() bool {
	if c.mf.kind == mfException && c.mf.canon {
		c.mf.vec = vecSS
	}
	return false
}

// linearIn is ea's legacy tail: off (already truncated to the address
// size) in the instruction's segment.
func (c *CPU) linearIn(in *insn, off uint64) uint64 {
	n := in.msz
	if n == 0 {
		n = in.sz
	}
	return c.linear(in.seg&(7|segWrite), off, n)
}

// linear returns the linear address of an n-byte access at offset off of
// segment s&7, or a poisoned address when the access breaks the segment's
// limit (expand-down data segments are valid above the limit), uses a
// null (unusable) segment in protected mode, or writes (s&segWrite) a
// segment that is not writable data in protected mode.
func (c *CPU) linear(s uint8, off uint64, n uint8) uint64 {
	write := s&segWrite != 0
	s &= 7
	sg := &c.seg[s]
	acc := sg.access
	end := off + uint64(n) - 1
	if n == 0 {
		end = off
	}
	bad := false
	if acc&(segS|8|4) == segS|4 { // expand-down data
		upper := uint64(0xffff)
		if acc&segDB != 0 {
			upper = 0xffffffff
		}
		bad = off <= uint64(sg.limit) || end > upper
	} else {
		bad = end > uint64(sg.limit)
	}
	if c.pmode && (acc&segUnusable != 0 || write && acc&segS != 0 && acc&0xa != 2) {
		bad = true
	}
	if bad {
		if s == segSS {
			return poisonSS
		}
		return poisonGP
	}
	return (sg.base + off) & 0xffffffff
}

// spMask is the stack-pointer width outside 64-bit mode (SS.B).
func (c *CPU) spMask() uint64 {
	if c.ss32 {
		return 0xffffffff
	}
	return 0xffff
}

// setSP writes the stack pointer outside 64-bit mode: a 16-bit stack
// changes only SP.
func (c *CPU) setSP(v uint64) {
	if c.ss32 {
		c.r[rSP] = uint64(uint32(v))
	} else {
		c.r[rSP] = c.r[rSP]&^0xffff | v&0xffff
	}
}

// stackAddr is the linear address of an n-byte stack access k bytes
// above the stack pointer (k may be negative).
func (c *CPU) stackAddr(k int64, n uint8) uint64 {
	if c.mode64 {
		return c.r[rSP] + uint64(k)
	}
	return c.linear(segSS, (c.r[rSP]+uint64(k))&c.spMask(), n)
}

// addSP moves the stack pointer by k bytes at the stack's width.
func (c *CPU) addSP(k int64) {
	if c.mode64 {
		c.r[rSP] += uint64(k)
		return
	}
	c.setSP(c.r[rSP] + uint64(k))
}

func (c *CPU) pushLegacy(in *insn, sz uint8, v uint64) bool {
	sp := (c.r[rSP] - uint64(sz)) & c.spMask()
	if !c.write(in, c.linear(segSS|segWrite, sp, sz), sz, v) {
		return false
	}
	c.setSP(sp)
	return true
}

func (c *CPU) popLegacy(sz uint8) (uint64, bool) {
	sp := c.r[rSP] & c.spMask()
	v, ok := c.read(c.linear(segSS, sp, sz), sz)
	if ok {
		c.setSP(sp + uint64(sz))
	}
	return v, ok
}

// segFault records exception vec with a selector error code.
func (c *CPU) segFault(vec uint8, sel uint16) bool {
	c.mf = memFault{kind: mfException, vec: vec, err: uint32(sel &^ 3)}
	return false
}

// realSeg is a segment register loaded in real or virtual-8086 mode: the
// selector and base change, the cached limit and attributes stay (which
// is what lets "unreal mode" work).
func (c *CPU) realSeg(s uint8, sel uint16) {
	c.seg[s].sel = sel
	c.seg[s].base = uint64(sel) << 4
}

// descAccessed is the accessed bit of a segment descriptor (type bit 0).
const descAccessed = 1 << 40

// markAccessed sets the accessed bit of the code or data descriptor d that
// sel names, as the processor does whenever it loads the selector into a
// segment register (SDM Vol. 3 §3.4.5.1, "Code- and Data-Segment
// Descriptor Types"), and returns the descriptor as loaded. The write is
// an implicit supervisor access: a read-only page under CR0.WP faults
// (#PF), which is why OSes build their GDTs with the bit already set (so
// nothing is written then). A table in memory that takes no writes (no
// RAM behind it) is left as it is, as on hardware.
func (c *CPU) markAccessed(sel uint16, d uint64) (uint64, bool) {
	if d&descAccessed != 0 {
		return d, true
	}
	t := c.gdtr
	if sel&4 != 0 {
		t = c.ldtr
	}
	d |= descAccessed
	if !c.tssWrite(t.base+uint64(sel&^7)+5, 1, d>>40&0xff) {
		if c.mf.kind == mfMMIO {
			c.mf = memFault{}
			return d, true
		}
		return 0, false
	}
	return d, true
}

// loadSeg loads a data segment register (not CS) by MOV, POP or LxS;
// false with c.mf set on a fault (SDM MOV "Operation" for segment
// registers: #GP(sel) for a bad type or privilege, #NP(sel) / #SS(sel)
// for a segment not present, #GP(0) for a null SS).
func (c *CPU) loadSeg(s uint8, sel uint16) bool {
	if !c.pmode || c.fl&flagVM != 0 {
		c.realSeg(s, sel)
		return true
	}
	if sel&^3 == 0 {
		// A null selector: SS only in 64-bit mode below CPL 3 with RPL =
		// CPL; other registers become unusable.
		if s == segSS && (!c.mode64 || c.cpl == 3 || uint8(sel&3) != c.cpl) {
			return c.gpFault(0)
		}
		c.seg[s] = seg{sel: sel, access: segUnusable}
		if s == segSS {
			c.seg[s].access |= uint32(c.cpl) << 5
		}
		return true
	}
	d, ok := c.readDesc(sel)
	if !ok {
		return false
	}
	acc := descAccess(d)
	dpl := uint8(acc>>5) & 3
	rpl := uint8(sel & 3)
	if s == segSS {
		if acc&0x1a != 0x12 || rpl != c.cpl || dpl != c.cpl { // writable data
			return c.gpFault(uint32(sel &^ 3))
		}
	} else {
		// Data, or readable code.
		if acc&0x10 == 0 || acc&0x0a == 0x08 {
			return c.gpFault(uint32(sel &^ 3))
		}
		if acc&0x0c != 0x0c && (rpl > dpl || c.cpl > dpl) {
			return c.gpFault(uint32(sel &^ 3))
		}
	}
	if acc&segP == 0 {
		if s == segSS {
			return c.segFault(vecSS, sel)
		}
		return c.segFault(vecNP, sel)
	}
	if d, ok = c.markAccessed(sel, d); !ok {
		return false
	}
	acc = descAccess(d)
	c.seg[s] = seg{sel: sel, base: descBase(d), limit: descLimit(d), access: acc}
	if s == segSS {
		c.ss32 = acc&segDB != 0
	}
	return true
}

// readSysDesc reads the descriptor of a system segment (LDT, TSS) in the
// GDT: 16 bytes in IA-32e mode (base bits 63:32 in the second half).
func (c *CPU) readSysDesc(sel uint16) (d uint64, base uint64, ok bool) {
	if sel&4 != 0 {
		return 0, 0, c.gpFault(uint32(sel &^ 3))
	}
	d, ok = c.readDesc(sel)
	if !ok {
		return 0, 0, false
	}
	base = descBase(d)
	if c.efer&eferLMA != 0 {
		off := uint64(sel &^ 7)
		if off+15 > uint64(c.gdtr.limit) {
			return 0, 0, c.gpFault(uint32(sel &^ 3))
		}
		hi, ok := c.sysRead(c.gdtr.base+off+8, 8)
		if !ok {
			return 0, 0, false
		}
		base |= hi << 32
	}
	return d, base, true
}

// codeTarget checks sel as the code segment of a far JMP or CALL at the
// current privilege (SDM JMP/CALL "far" paths; call gates are gate.go's,
// task switches task.go's) and returns the cache to install; off is
// checked against its limit.
func (c *CPU) codeTarget(in *insn, sel uint16, off uint64) (seg, bool) {
	cur := c.seg[segCS]
	if !c.pmode || c.fl&flagVM != 0 {
		cur.sel, cur.base = sel, uint64(sel)<<4
		if off > uint64(cur.limit) {
			return seg{}, c.gpFault(0)
		}
		return cur, true
	}
	if sel&^3 == 0 {
		return seg{}, c.gpFault(0)
	}
	d, ok := c.readDesc(sel)
	if !ok {
		return seg{}, false
	}
	acc := descAccess(d)
	if acc&segS == 0 {
		// Call gates, task gates and TSSs never get here (gateAt, taskAt);
		// IA-32e mode has no task switches, and every other system type
		// is #GP(sel) (SDM CALL/JMP).
		return seg{}, c.gpFault(uint32(sel &^ 3))
	}
	dpl, rpl := uint8(acc>>5)&3, uint8(sel&3)
	switch {
	case acc&8 == 0:
		return seg{}, c.gpFault(uint32(sel &^ 3)) // data segment
	case acc&4 != 0 && dpl > c.cpl: // conforming
		return seg{}, c.gpFault(uint32(sel &^ 3))
	case acc&4 == 0 && (rpl > c.cpl || dpl != c.cpl):
		return seg{}, c.gpFault(uint32(sel &^ 3))
	case c.efer&eferLMA != 0 && acc&segL != 0 && acc&segDB != 0:
		return seg{}, c.gpFault(uint32(sel &^ 3))
	case acc&segP == 0:
		return seg{}, c.segFault(vecNP, sel)
	}
	return c.codeCache(sel&^3|uint16(c.cpl), d, off)
}

// codeCache is the CS cache for code descriptor d under selector sel,
// after checking the target offset (canonical for 64-bit code, within
// the limit otherwise: #GP(0)) and setting the descriptor's accessed bit.
func (c *CPU) codeCache(sel uint16, d uint64, off uint64) (seg, bool) {
	ns := seg{sel: sel, base: descBase(d), limit: descLimit(d), access: descAccess(d)}
	if c.efer&eferLMA != 0 && ns.access&segL != 0 {
		ns.base = 0
		if !canonical(off) {
			return seg{}, c.gpFault(0)
		}
	} else if off > uint64(ns.limit) {
		return seg{}, c.gpFault(0)
	}
	if _, ok := c.markAccessed(sel, d); !ok {
		return seg{}, false
	}
	ns.access |= 1
	return ns, true
}

// setCS installs a new CS cache and recomputes the mode.
func (c *CPU) setCS(s seg) {
	c.seg[segCS] = s
	c.modeChanged()
}

// nullOuterSegs clears ES, DS, FS and GS when a return to an outer
// privilege would leave them pointing at segments the new CPL may not use
// (SDM RET/IRET: data or non-conforming code with DPL < CPL).
func (c *CPU) nullOuterSegs() {
	for _, s := range []uint8{segES, segDS, segFS, segGS} {
		a := c.seg[s].access
		if a&segUnusable != 0 {
			continue
		}
		dpl := uint8(a>>5) & 3
		if (a&8 == 0 || a&4 == 0) && dpl < c.cpl {
			c.seg[s] = seg{access: segUnusable}
		}
	}
}
