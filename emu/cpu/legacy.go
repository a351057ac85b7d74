package cpu

import (
	"golang.org/x/arch/x86/x86asm"
)

// Instructions that exist only outside 64-bit mode (PUSHA/POPA, the BCD
// adjusts, BOUND, INTO), and the segment-register and system-segment
// instructions real-mode and protected-mode code relies on (LxS, LLDT,
// LTR, SLDT, STR, LMSW, SMSW, ENTER, XLAT). Semantics follow the SDM
// Vol. 2 "Operation" sections.

// buildLegacy builds the legacy-only instructions; false means "not one
// of mine" and build continues with the common table.
func (c *CPU) buildLegacy(in *insn, inst *x86asm.Inst, va uint64) bool {
	switch inst.Op {
	case x86asm.PUSHA, x86asm.PUSHAD:
		in.sz = uint8(inst.DataSize / 8)
		in.h = hPusha
	case x86asm.POPA, x86asm.POPAD:
		in.sz = uint8(inst.DataSize / 8)
		in.h = hPopa
	case x86asm.DAA, x86asm.DAS, x86asm.AAA, x86asm.AAS:
		in.op = map[x86asm.Op]uint8{x86asm.DAA: bcdDAA, x86asm.DAS: bcdDAS, x86asm.AAA: bcdAAA, x86asm.AAS: bcdAAS}[inst.Op]
		in.h = hBCD
	case x86asm.AAM, x86asm.AAD:
		in.op = bcdAAM
		if inst.Op == x86asm.AAD {
			in.op = bcdAAD
		}
		imm, _ := inst.Args[0].(x86asm.Imm)
		in.imm = uint64(imm) & 0xff
		in.h = hBCD
	case x86asm.BOUND:
		if operands(in, inst, va) != fRM {
			return true
		}
		in.msz = 2 * in.sz
		in.h = hBound
	case x86asm.INTO:
		in.h = hInto
		in.rep |= repTerm
	case x86asm.ARPL:
		f := operands(in, inst, va)
		if f != fRR && f != fMR {
			return true
		}
		in.sz = 2
		in.op = probeARPL
		in.h = hProbe
	default:
		return false
	}
	return true
}

func hPusha(c *CPU, in *insn) {
	sz := in.sz
	sp := c.r[rSP]
	for _, r := range [8]uint8{rAX, rCX, rDX, rBX, rSP, rBP, rSI, rDI} {
		v := c.r[r]
		if r == rSP {
			v = sp
		}
		if !c.push(in, sz, v&sizeMask[sz]) {
			c.r[rSP] = sp
			c.memFault(in)
			return
		}
	}
	in.next.h(c, in.next)
}

func hPopa(c *CPU, in *insn) {
	sz := in.sz
	var v [8]uint64
	for i := range v {
		x, ok := c.read(c.stackAddr(int64(i)*int64(sz), sz), sz)
		if !ok {
			c.memFault(in)
			return
		}
		v[i] = x
	}
	for i, r := range [8]uint8{rDI, rSI, rBP, rSP, rBX, rDX, rCX, rAX} {
		if r != rSP {
			c.setReg(r, sz, v[i])
		}
	}
	c.addSP(8 * int64(sz))
	in.next.h(c, in.next)
}

// BCD operations (in.op of hBCD).
const (
	bcdDAA = iota
	bcdDAS
	bcdAAA
	bcdAAS
	bcdAAM
	bcdAAD
)

// hBCD: DAA, DAS, AAA, AAS, AAM imm8, AAD imm8. Flags the SDM leaves
// undefined (OF for DAA/DAS; OF, SF, ZF, PF for AAA/AAS; OF, AF, CF for
// AAM/AAD) are computed the way the defined ones are and cleared
// respectively.
func hBCD(c *CPU, in *insn) {
	f := c.rflags()
	al := c.r[rAX] & 0xff
	ah := c.r[rAX] >> 8 & 0xff
	cf, af := f&flagCF != 0, f&flagAF != 0
	var nf uint64
	switch in.op {
	case bcdDAA, bcdDAS:
		old := al
		ncf := false
		if al&0xf > 9 || af {
			if in.op == bcdDAA {
				ncf = cf || al+6 > 0xff
				al = (al + 6) & 0xff
			} else {
				ncf = cf || al < 6
				al = (al - 6) & 0xff
			}
			nf |= flagAF
		}
		if old > 0x99 || cf {
			if in.op == bcdDAA {
				al = (al + 0x60) & 0xff
			} else {
				al = (al - 0x60) & 0xff
			}
			ncf = true
		}
		if ncf {
			nf |= flagCF
		}
		nf |= szp(al, 1)
		c.r[rAX] = c.r[rAX]&^0xff | al
	case bcdAAA, bcdAAS:
		ax := c.r[rAX] & 0xffff
		if al&0xf > 9 || af {
			if in.op == bcdAAA {
				ax += 0x106
			} else {
				ax = (ax - 6) & 0xffff
				ax = (ax - 0x100) & 0xffff
			}
			nf |= flagAF | flagCF
		}
		ax = ax&0xff00 | ax&0x0f
		nf |= szp(ax&0xff, 1)
		c.r[rAX] = c.r[rAX]&^0xffff | ax&0xffff
	case bcdAAM:
		if in.imm == 0 {
			c.fault(in, vecDE, 0)
			return
		}
		ah, al = al/in.imm, al%in.imm
		nf = szp(al, 1)
		c.r[rAX] = c.r[rAX]&^0xffff | ah<<8 | al
	case bcdAAD:
		al = (al + ah*in.imm) & 0xff
		nf = szp(al, 1)
		c.r[rAX] = c.r[rAX]&^0xffff | al
	}
	c.setFlags(flagsArith, nf)
	in.next.h(c, in.next)
}

// hBound raises #BR (vector 5) when the signed index is outside the
// bounds pair at the memory operand.
func hBound(c *CPU, in *insn) {
	sz := in.sz
	var lo, hi uint64
	var ok1, ok2 bool
	off := c.eaOff(in)
	lo, ok1 = c.read(c.linear(in.seg&7, off, 2*sz), sz)
	hi, ok2 = c.read(c.linear(in.seg&7, (off+uint64(sz))&sizeMask[in.asz], sz), sz)
	if !ok1 || !ok2 {
		c.memFault(in)
		return
	}
	i := sext(c.r[in.d]&sizeMask[sz], sz)
	if i < sext(lo, sz) || i > sext(hi, sz) {
		c.fault(in, vecBR, 0)
		return
	}
	in.next.h(c, in.next)
}

func hInto(c *CPU, in *insn) {
	if c.rflags()&flagOF != 0 {
		c.softInt(in, vecOF)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
}

// hLoadFar: LSS, LFS, LGS, LES, LDS (in.op = segment register).
func hLoadFar(c *CPU, in *insn) {
	sel, off, ok := c.farOperand(in)
	if !ok || !c.loadSeg(in.op, sel) {
		c.memFault(in)
		return
	}
	c.setReg(in.d, in.sz, off)
	c.leave(in, in.rip+uint64(in.len))
}

// hSysSeg: LLDT (op 0), LTR (1), SLDT (2), STR (3), LMSW (4), SMSW (5).
func hSysSeg(c *CPU, in *insn) {
	if (!c.pmode || c.fl&flagVM != 0) && in.op <= 3 { // #UD in real and VM86 mode
		c.fault(in, vecUD, 0)
		return
	}
	var v uint64
	if in.op == 0 || in.op == 1 || in.op == 4 {
		if !c.priv(in) {
			return
		}
		var ok bool
		if v, ok = c.rm1(in); !ok {
			c.memFault(in)
			return
		}
	}
	sel := uint16(v)
	switch in.op {
	case 0:
		if sel&^3 == 0 {
			c.ldtr = seg{sel: sel, access: segUnusable}
			break
		}
		d, base, ok := c.readSysDesc(sel)
		if !ok {
			c.memFault(in)
			return
		}
		acc := descAccess(d)
		if acc&0x1f != 2 {
			c.fault(in, vecGP, uint32(sel&^3))
			return
		}
		if acc&segP == 0 {
			c.fault(in, vecNP, uint32(sel&^3))
			return
		}
		c.ldtr = seg{sel: sel, base: base, limit: descLimit(d), access: acc}
	case 1:
		if sel&^3 == 0 {
			c.fault(in, vecGP, 0)
			return
		}
		d, base, ok := c.readSysDesc(sel)
		if !ok {
			c.memFault(in)
			return
		}
		acc := descAccess(d)
		if t := acc & 0x1f; t != 1 && t != 9 || c.efer&eferLMA != 0 && t != 9 {
			c.fault(in, vecGP, uint32(sel&^3))
			return
		}
		if acc&segP == 0 {
			c.fault(in, vecNP, uint32(sel&^3))
			return
		}
		// Mark the descriptor busy (type bit 1), as hardware does.
		a := c.gdtr.base + uint64(sel&^7) + 5
		if !c.write(nil, a, 1, uint64(acc&0xff|2)) {
			c.memFault(in)
			return
		}
		c.tr = seg{sel: sel, base: base, limit: descLimit(d), access: acc | 2}
	case 2, 3, 5:
		v := uint64(c.ldtr.sel)
		switch in.op {
		case 3:
			v = uint64(c.tr.sel)
		case 5:
			v = c.cr0 & 0xffffffff
		}
		if in.mem {
			if !c.write(in, c.ea(in), 2, v) {
				c.memFault(in)
				return
			}
		} else {
			c.setReg(in.d, in.sz, v)
		}
	case 4:
		// LMSW writes PE, MP, EM and TS; it can set PE but not clear it.
		c.cr0 = c.cr0&^0xe | v&0xf
		c.tlb.flush()
		c.modeChanged()
	}
	c.leave(in, in.rip+uint64(in.len))
}

// hEnter: ENTER imm16 (in.imm), nesting level (in.disp).
func hEnter(c *CPU, in *insn) {
	sz := in.sz
	sp0, bp0 := c.r[rSP], c.r[rBP]
	fail := func() {
		c.r[rSP], c.r[rBP] = sp0, bp0
		c.memFault(in)
	}
	if !c.push(in, sz, c.r[rBP]) {
		fail()
		return
	}
	frame := c.r[rSP]
	if lvl := in.disp; lvl > 0 {
		bp := c.r[rBP]
		for i := uint64(1); i < lvl; i++ {
			bp -= uint64(sz)
			var a uint64
			if c.mode64 {
				a = bp
			} else {
				a = c.linear(segSS, bp&c.spMask(), sz)
			}
			v, ok := c.read(a, sz)
			if !ok {
				c.ssFault()
			}
			if !ok || !c.push(in, sz, v) {
				fail()
				return
			}
		}
		if !c.push(in, sz, frame) {
			fail()
			return
		}
	}
	c.setReg(rBP, sz, frame)
	c.addSP(-int64(in.imm))
	in.next.h(c, in.next)
}

// hXlat: AL = [seg:(E/R)BX + AL].
func hXlat(c *CPU, in *insn) {
	off := (c.r[rBX] + c.r[rAX]&0xff) & sizeMask[in.asz]
	var a uint64
	if in.seg != segNone && in.seg&segChecked != 0 {
		a = c.linear(in.seg&7, off, 1)
	} else {
		a = off + c.segBase(in.seg)
	}
	v, ok := c.read(a, 1)
	if !ok {
		c.memFault(in)
		return
	}
	c.r[rAX] = c.r[rAX]&^0xff | v
	in.next.h(c, in.next)
}

// Descriptor-probe instructions (in.op of hProbe).
const (
	probeLAR = iota
	probeLSL
	probeVERR
	probeVERW
	probeARPL
)

// The system-descriptor types (bit n: type n) LAR and LSL accept, from
// the SDM's tables (Vol. 2 LAR "Segment and Gate Types", LSL "Segment and
// Gate Descriptor Types"). Protected mode: LAR the TSSs, the LDT, call and
// task gates; LSL the TSSs and the LDT. IA-32e mode: LAR only the 64-bit
// TSSs and call gate (the table marks the LDT invalid for LAR), LSL the
// LDT, the 64-bit TSSs and type 0, the upper half of a 16-byte
// descriptor. (AMD's APM accepts the LDT for LAR and not type 0 for LSL
// in long mode; softvmm follows Intel's tables.)
const (
	larTypes      = 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<9 | 1<<0xb | 1<<0xc
	larTypesIA32e = 1<<9 | 1<<0xb | 1<<0xc
	lslTypes      = 1<<1 | 1<<2 | 1<<3 | 1<<9 | 1<<0xb
	lslTypesIA32e = 1<<0 | 1<<2 | 1<<9 | 1<<0xb
)

// hProbe: LAR, LSL, VERR, VERW (which report through ZF whether the
// selector names a descriptor the current privilege may see, and never
// fault on a bad selector) and ARPL. All are #UD in real mode (SDM).
func hProbe(c *CPU, in *insn) {
	if !c.pmode || c.fl&flagVM != 0 {
		c.fault(in, vecUD, 0)
		return
	}
	var src uint64
	var ok bool
	switch in.op {
	case probeVERR, probeVERW:
		src, ok = c.rm1(in)
	case probeARPL:
		src, ok = c.rm1(in) // destination, r/m16
	default:
		src, ok = c.rmSrc(in, 2)
	}
	if !ok {
		c.memFault(in)
		return
	}
	if in.op == probeARPL {
		rs := c.getReg(in.s, 2)
		zf := uint64(0)
		if src&3 < rs&3 {
			src, zf = src&^3|rs&3, flagZF
			if in.mem && !c.write(in, c.ea(in), 2, src) {
				c.memFault(in)
				return
			}
			if !in.mem {
				c.setReg(in.d, 2, src)
			}
		}
		c.setFlags(flagZF, zf)
		in.next.h(c, in.next)
		return
	}
	sel := uint16(src)
	d, valid := c.probeDesc(sel)
	if c.mf.kind != mfNone {
		c.memFault(in)
		return
	}
	acc := descAccess(d)
	if valid {
		typ := acc & 0x1f
		dpl, rpl := uint8(acc>>5)&3, uint8(sel&3)
		conforming := typ&0x1c == 0x1c
		if !conforming && (dpl < c.cpl || dpl < rpl) {
			valid = false
		}
		switch in.op {
		case probeLAR, probeLSL:
			if typ&0x10 == 0 {
				ok := uint16(lslTypes)
				switch {
				case in.op == probeLAR && c.efer&eferLMA != 0:
					ok = larTypesIA32e
				case in.op == probeLAR:
					ok = larTypes
				case c.efer&eferLMA != 0:
					ok = lslTypesIA32e
				}
				valid = valid && ok>>typ&1 != 0
			}
		case probeVERR:
			valid = valid && typ&0x10 != 0 && (typ&8 == 0 || typ&2 != 0)
		case probeVERW:
			valid = valid && typ&0x18 == 0x10 && typ&2 != 0
		}
	}
	if valid {
		switch in.op {
		case probeLAR:
			// The SDM masks with 00FxFF00H, leaving bits 19:16 (the
			// limit's 19:16) undefined; silicon copies them, as this
			// project's host does (TestLarHost), so softvmm does too.
			m := uint64(0x00ffff00)
			if in.sz == 2 {
				m = 0xff00
			}
			c.setReg(in.d, in.sz, uint64(uint32(d>>32))&m)
		case probeLSL:
			c.setReg(in.d, in.sz, uint64(descLimit(d)))
		}
		c.setFlags(flagZF, flagZF)
	} else {
		c.setFlags(flagZF, 0)
	}
	in.next.h(c, in.next)
}

// probeDesc reads the descriptor sel names for LAR and friends: false
// (no fault) for a null selector or one beyond its table's limit; a page
// fault on the table read is left in c.mf.
func (c *CPU) probeDesc(sel uint16) (uint64, bool) {
	c.mf.kind = mfNone
	if sel&^3 == 0 {
		return 0, false
	}
	t := c.gdtr
	if sel&4 != 0 {
		t = c.ldtr
		if t.access&segUnusable != 0 {
			return 0, false
		}
	}
	if uint64(sel&^7)+7 > uint64(t.limit) {
		return 0, false
	}
	d, ok := c.readDesc(sel)
	return d, ok
}
