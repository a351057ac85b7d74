package cpu

// Virtual-8086 mode (SDM Vol. 3 §20.2-§20.3), without the CR4.VME
// extensions: CPUID does not advertise VME, and CR4.VME/PVI are ignored
// (the CPU behaves as with them clear). A VM86 task runs at CPL 3 with
// real-mode-style segments (base = selector << 4, limit 0xffff, access
// 0xf3 as VT-x shows them), under the protected-mode IDT, TSS and paging.
// It is entered by IRET from CPL 0 with VM set in the popped EFLAGS
// image and left by an interrupt or exception (deliverProt), which pushes
// GS, FS, DS, ES above the usual ring-0 frame and clears them. CLI, STI,
// PUSHF, POPF, INT n and IRET are IOPL-sensitive: #GP(0) below IOPL 3
// (CLI/STI by the ordinary CPL > IOPL rule); INT3, INTO and INT1 are not.
// IN/OUT always consult the TSS I/O bitmap. A task switch to a TSS whose
// EFLAGS image has VM set also enters VM86 mode (task.go).

// vmSeg is the segment cache of a VM86-mode segment register.
func vmSeg(sel uint16) seg {
	return seg{sel: sel, base: uint64(sel) << 4, limit: 0xffff, access: 0xf3}
}

// vmIOPLFault raises #GP(0) for an IOPL-sensitive instruction in VM86
// mode below IOPL 3 and reports whether it did.
func (c *CPU) vmIOPLFault(in *insn) bool {
	if c.fl&flagVM != 0 && c.fl&flagIOPL != flagIOPL {
		c.fault(in, vecGP, 0)
		return true
	}
	return false
}

// iretInVM86 is IRET in VM86 mode at IOPL 3 (the caller has checked
// IOPL): real-mode-style, popping IP (EIP), CS and FLAGS (EFLAGS) with
// VM, IOPL, VIP and VIF unchanged (SDM IRET, RETURN-FROM-VIRTUAL-8086-MODE).
func (c *CPU) iretInVM86(in *insn, sz uint8, rip uint64, cs uint16, fl uint64) {
	if rip > 0xffff {
		c.fault(in, vecGP, 0)
		return
	}
	m := uint64(flagsWritable &^ (flagVM | flagVIP | flagVIF | flagRF | flagIOPL))
	if sz == 4 {
		m |= flagRF // IRETD pops RF (debug.go)
	}
	c.fl = (c.rflags()&^m | fl&m) | flagRsv1
	c.lz.op = lzNone
	c.acUpdate()
	c.flagsLoaded()
	c.seg[segCS] = vmSeg(cs)
	c.addSP(3 * int64(sz))
	c.modeChanged()
	c.leave(in, rip)
}

// iretToVM86 is a 32-bit IRET at CPL 0 whose EFLAGS image has VM set
// (SDM IRET, RETURN-TO-VIRTUAL-8086-MODE): beyond EIP, CS and EFLAGS it
// pops ESP, SS, ES, DS, FS and GS, loads every segment real-mode style
// and resumes at CS:(EIP & 0xffff) in VM86 mode at CPL 3. EFLAGS is
// taken whole (IOPL included).
func (c *CPU) iretToVM86(in *insn, rip uint64, cs uint16, fl uint64) {
	var fr [6]uint64 // ESP, SS, ES, DS, FS, GS
	for i := range fr {
		v, ok := c.read(c.stackAddr(int64(12+4*i), 4), 4)
		if !ok {
			c.memFault(in)
			return
		}
		fr[i] = v
	}
	c.setRflags(fl&(flagsWritable|flagVM) | flagRsv1)
	c.flagsLoaded()
	c.seg[segSS] = vmSeg(uint16(fr[1]))
	c.seg[segES] = vmSeg(uint16(fr[2]))
	c.seg[segDS] = vmSeg(uint16(fr[3]))
	c.seg[segFS] = vmSeg(uint16(fr[4]))
	c.seg[segGS] = vmSeg(uint16(fr[5]))
	c.seg[segCS] = vmSeg(cs)
	c.r[rSP] = fr[0] & 0xffffffff
	c.modeChanged()
	c.leave(in, rip&0xffff)
}
