package cpu

// Call gates: far CALL and JMP through a 16- or 32-bit call gate in
// protected mode, or a 64-bit call gate in IA-32e mode (SDM Vol. 3 §5.8.3
// "Call Gates", §5.8.5 "Stack Switching", §5.8.3.1 "IA-32e Mode Call
// Gates"; Vol. 2 CALL and JMP "Operation"). A CALL to a more privileged
// non-conforming segment switches to the TSS stack of the target ring,
// pushes the caller's SS:ESP, copies the gate's parameter count of
// words/dwords from the caller's stack (16/32-bit gates only) and then
// CS:EIP; the matching RETF to the outer ring is far.go's. JMP never
// changes privilege. Task gates and TSS targets are task.go's.

// gateAt reports whether sel names a call gate the current mode knows:
// types 4 (16-bit) and 0xC (32-bit) in protected mode, 0xC (64-bit) in
// IA-32e mode. A descriptor that cannot be read is left to codeTarget,
// which raises the same fault.
func (c *CPU) gateAt(sel uint16) (uint64, bool) {
	if !c.pmode || c.fl&flagVM != 0 || sel&^3 == 0 {
		return 0, false
	}
	d, ok := c.readDesc(sel)
	c.mf.kind = mfNone
	if !ok || d&(1<<44) != 0 {
		return 0, false
	}
	switch d >> 40 & 0xf {
	case 0xc:
		return d, true
	case 0x4:
		return d, c.efer&eferLMA == 0
	}
	return 0, false
}

// callGate performs a far CALL (call) or JMP through the call gate g
// named by gsel. Faults are raised through c.mf and memFault.
func (c *CPU) callGate(in *insn, gsel uint16, g uint64, call bool) {
	fail := func() { c.memFault(in) }
	long := c.efer&eferLMA != 0
	gacc := descAccess(g)
	gdpl, cpl := uint8(gacc>>5)&3, c.cpl
	if gdpl < cpl || gdpl < uint8(gsel&3) {
		c.gpFault(uint32(gsel &^ 3))
		fail()
		return
	}
	if gacc&segP == 0 {
		c.segFault(vecNP, gsel)
		fail()
		return
	}
	csel := uint16(g >> 16)
	target := g&0xffff | (g>>48)<<16
	gsz, params := uint8(4), int(g>>32&0x1f)
	switch {
	case long:
		// The upper half: offset 63:32, and a type field that must be 0.
		t := c.gdtr
		if gsel&4 != 0 {
			t = c.ldtr
		}
		off := uint64(gsel&^7) + 8
		if off+7 > uint64(t.limit) {
			c.gpFault(uint32(gsel &^ 3))
			fail()
			return
		}
		hi, ok := c.sysRead(t.base+off, 8)
		if !ok {
			fail()
			return
		}
		if hi>>40&0x1f != 0 {
			c.gpFault(uint32(gsel &^ 3))
			fail()
			return
		}
		target |= (hi & 0xffffffff) << 32
		gsz, params = 8, 0
	case g>>40&0xf == 0x4:
		target &= 0xffff
		gsz = 2
	}
	if csel&^3 == 0 {
		c.gpFault(0)
		fail()
		return
	}
	cd, ok := c.readDesc(csel)
	if !ok {
		fail()
		return
	}
	cacc := descAccess(cd)
	cdpl := uint8(cacc>>5) & 3
	conforming := cacc&4 != 0
	switch {
	case cacc&0x18 != 0x18 || cdpl > cpl,
		long && (cacc&segL == 0 || cacc&segDB != 0),
		!call && !conforming && cdpl != cpl:
		c.gpFault(uint32(csel &^ 3))
		fail()
		return
	case cacc&segP == 0:
		c.segFault(vecNP, csel)
		fail()
		return
	}
	newCPL := cpl
	if call && !conforming {
		newCPL = cdpl
	}
	ns, ok := c.codeCache(csel&^3|uint16(newCPL), cd, target)
	if !ok {
		fail()
		return
	}
	ret := in.rip + uint64(in.len)
	switch {
	case !call:
	case newCPL == cpl && long:
		sp := c.r[rSP]
		if !c.mode64 {
			sp &= c.spMask()
		}
		if !c.write(in, sp-8, 8, uint64(c.seg[segCS].sel)) || !c.write(in, sp-16, 8, ret) {
			c.ssFault()
			fail()
			return
		}
		c.r[rSP] = sp - 16
	case newCPL == cpl:
		sp := c.r[rSP]
		if !c.push(in, gsz, uint64(c.seg[segCS].sel)) || !c.push(in, gsz, ret) {
			c.r[rSP] = sp
			fail()
			return
		}
	case long:
		if !c.gateStack64(in, newCPL, ret) {
			fail()
			return
		}
	default:
		if !c.gateStackLegacy(in, newCPL, gsz, params, ret) {
			fail()
			return
		}
	}
	c.setCS(ns)
	c.leave(in, target)
}

// gateStackLegacy switches to the ring-dpl stack of the 16/32-bit TSS and
// builds the inner frame: caller SS, ESP, params parameters, CS, EIP, of
// gsz bytes each. Nothing is committed on a fault (#TS/#SS from
// tssStack; a push beyond the new stack's limit is #SS(new SS)).
func (c *CPU) gateStackLegacy(in *insn, dpl, gsz uint8, params int, ret uint64) bool {
	ssd, esp, ok := c.tssStack(dpl, 0)
	if !ok {
		return false
	}
	var frame [2 + 31 + 2]uint64
	frame[0], frame[1] = uint64(c.seg[segSS].sel), c.r[rSP]&sizeMask[gsz]
	n := 2
	for i := params - 1; i >= 0; i-- {
		v, ok := c.read(c.linear(segSS, (c.r[rSP]+uint64(i)*uint64(gsz))&c.spMask(), gsz), gsz)
		if !ok {
			return false
		}
		frame[n] = v
		n++
	}
	frame[n], frame[n+1] = uint64(c.seg[segCS].sel), ret&sizeMask[gsz]
	n += 2
	oldCPL, oldSS, oldSP, oldSS32 := c.cpl, c.seg[segSS], c.r[rSP], c.ss32
	c.seg[segSS], c.r[rSP], c.ss32 = ssd, esp, ssd.access&segDB != 0
	c.cpl = dpl // the pushes are the inner ring's
	ok = c.pushFrame(frame[:n], gsz)
	c.cpl = oldCPL
	c.tlb.flush() // entries filled with the inner ring's privilege
	if !ok {
		c.seg[segSS], c.r[rSP], c.ss32 = oldSS, oldSP, oldSS32
		if c.mf.kind == mfException && c.mf.vec == vecSS {
			c.mf.err = uint32(ssd.sel &^ 3)
		}
		return false
	}
	return true
}

// gateStack64 switches to RSP[dpl] of the 64-bit TSS with a null SS of
// RPL dpl and pushes the caller's SS, RSP, CS and RIP as quadwords (no
// parameters are copied through a 64-bit gate).
func (c *CPU) gateStack64(in *insn, dpl uint8, ret uint64) bool {
	rsp, ok := c.sysRead(c.tr.base+4+8*uint64(dpl), 8)
	if !ok {
		return false
	}
	if !canonical(rsp) {
		c.mf = memFault{kind: mfException, vec: vecSS, err: 0}
		return false
	}
	oldSP := c.r[rSP]
	if !c.mode64 {
		oldSP &= c.spMask()
	}
	frame := [4]uint64{uint64(c.seg[segSS].sel), oldSP, uint64(c.seg[segCS].sel), ret}
	oldCPL := c.cpl
	c.cpl = dpl
	sp := rsp
	for _, v := range frame {
		sp -= 8
		if !c.write(nil, sp, 8, v) {
			c.cpl = oldCPL
			c.tlb.flush()
			return false
		}
	}
	c.cpl = oldCPL
	c.tlb.flush()
	c.seg[segSS] = seg{sel: uint16(dpl), access: segUnusable | uint32(dpl)<<5}
	c.r[rSP] = sp
	return true
}
