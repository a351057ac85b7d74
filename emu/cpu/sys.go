package cpu

import (
	"encoding/binary"
)

// System instructions: privileged state, I/O, MSRs, CPUID.

// priv raises #GP(0) unless CPL is 0.
func (c *CPU) priv(in *insn) bool {
	if c.cpl != 0 {
		c.fault(in, vecGP, 0)
		return false
	}
	return true
}

func (c *CPU) insnBytes(in *insn) []byte {
	b := c.code.cur
	if b == nil {
		return nil
	}
	off := in.rip - b.vrip
	if off+uint64(in.len) > uint64(len(b.bytes)) {
		return nil
	}
	return append([]byte(nil), b.bytes[off:off+uint64(in.len)]...)
}

func (c *CPU) exitMMIO(in *insn, gpa uint64, write bool) {
	c.exit = Exit{Reason: ExitMMIO, RIP: in.rip, InstLen: int(in.len), GPA: gpa, Write: write, Insn: c.insnBytes(in)}
}

// hPause is a NOP unless pause exiting is on (VM_CAP_PAUSE_EXIT), in
// which case it leaves Run the way VT-x's PAUSE exiting leaves the guest:
// vmm reports VM_EXITCODE_PAUSE with the instruction's address and length
// and resumes past it (reference/vmm-interface.md §11).
func hPause(c *CPU, in *insn) {
	if !c.pauseExit {
		in.next.h(c, in.next)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
	c.exit = Exit{Reason: ExitPause, RIP: in.rip, InstLen: int(in.len)}
}

// SetPauseExit turns PAUSE exiting on or off. Decoded code does not
// depend on it, so it may change between Run calls.
func (c *CPU) SetPauseExit(on bool) { c.pauseExit = on }

func hHlt(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	c.leave(in, in.rip+uint64(in.len))
	c.exit = Exit{Reason: ExitHLT, RIP: in.rip, InstLen: int(in.len)}
}

// hInOut: IN (op 1) / OUT (op 0); ssz 1 = immediate port. Above IOPL
// the TSS I/O permission bitmap decides (ioAllowed).
func hInOut(c *CPU, in *insn) {
	port := uint16(c.r[rDX])
	if in.ssz == 1 {
		port = uint16(in.imm)
	}
	if !c.ioCheck(in, port) {
		return
	}
	c.leave(in, in.rip+uint64(in.len))
	c.exit = Exit{Reason: ExitInOut, RIP: in.rip, InstLen: int(in.len), Port: port, Bytes: in.sz, In: in.op == 1}
	if in.op == 0 {
		c.exit.EAX = uint32(c.r[rAX] & sizeMask[in.sz])
	}
}

// ioCheck applies the I/O privilege rule of IN/OUT/INS/OUTS (SDM Vol. 1
// §19.5): in protected mode with CPL > IOPL the TSS bitmap must allow
// in.sz bytes at port, else #GP(0). It raises the fault itself.
func (c *CPU) ioCheck(in *insn, port uint16) bool {
	// VM86 mode always consults the bitmap (SDM Vol. 1 §19.5).
	if !c.pmode || c.cpl <= uint8(c.fl>>12)&3 && c.fl&flagVM == 0 || c.ioAllowed(port, in.sz) {
		if c.dbg.io != 0 {
			c.ioBreak(in, port)
		}
		return true
	}
	if c.mf.kind == mfException && c.mf.vec == vecPF || c.mf.kind == mfMMIO {
		c.memFault(in)
		return false
	}
	c.fault(in, vecGP, 0)
	return false
}

// ioAllowed consults the I/O permission bitmap of the current 32/64-bit
// TSS (SDM Vol. 1 §19.5.2): the bitmap starts at the 16-bit offset at
// TSS+0x66; every bit for port..port+n-1 must be clear and inside the TSS
// limit. A 16-bit TSS has no bitmap. A page fault reading it is left in
// c.mf.
func (c *CPU) ioAllowed(port uint16, n uint8) bool {
	c.mf.kind = mfNone
	if c.tr.access&8 == 0 || c.tr.limit < 0x67 {
		return false
	}
	base, ok := c.sysRead(c.tr.base+0x66, 2)
	if !ok {
		return false
	}
	first := base + uint64(port)/8
	last := base + (uint64(port)+uint64(n)-1)/8
	if last > uint64(c.tr.limit) {
		return false
	}
	w, ok := c.sysRead(c.tr.base+first, 2)
	if !ok {
		return false
	}
	if first == last {
		w &= 0xff
	}
	mask := (uint64(1)<<n - 1) << (port % 8)
	return w&mask == 0
}

func hCli(c *CPU, in *insn) {
	if c.cpl > uint8(c.fl>>12)&3 {
		c.fault(in, vecGP, 0)
		return
	}
	c.fl &^= flagIF
	in.next.h(c, in.next)
}

func hSti(c *CPU, in *insn) {
	if c.cpl > uint8(c.fl>>12)&3 {
		c.fault(in, vecGP, 0)
		return
	}
	if c.fl&flagIF == 0 {
		c.intrShadow = true // STI blocking for one instruction
	}
	c.fl |= flagIF
	c.leave(in, in.rip+uint64(in.len))
}

func hRdtsc(c *CPU, in *insn) {
	if c.cr4&cr4TSD != 0 && c.cpl != 0 {
		c.fault(in, vecGP, 0)
		return
	}
	t := c.tscAt(in)
	c.r[rAX] = t & 0xffffffff
	c.r[rDX] = t >> 32
	in.next.h(c, in.next)
}

// tsc is the time-stamp counter: instructions retired (the virtual clock
// of DESIGN.md "Determinism") plus the offset a WRMSR to TSC set.
func (c *CPU) tsc() uint64 { return c.timeNow() + c.tscOffset }

// tscAt is the TSC as instruction in reads it: the block's earlier
// instructions are added to retired only when the block ends, so they
// are counted in for the read (intr.go's clock reads Retired).
func (c *CPU) tscAt(in *insn) uint64 {
	done := uint64(in.cnt) - 1
	c.retired += done
	t := c.tsc()
	c.retired -= done
	return t
}

func hRdmsr(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	msr := uint32(c.r[rCX])
	done := uint64(in.cnt) - 1 // as in tscAt, for MSR_TSC
	c.retired += done
	v, ok, gp := c.rdmsr(msr)
	c.retired -= done
	if gp {
		c.fault(in, vecGP, 0)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
	if !ok {
		c.exit = Exit{Reason: ExitRDMSR, RIP: in.rip, InstLen: int(in.len), MSR: msr}
		return
	}
	c.r[rAX] = v & 0xffffffff
	c.r[rDX] = v >> 32
}

func hWrmsr(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	msr := uint32(c.r[rCX])
	v := c.r[rDX]<<32 | c.r[rAX]&0xffffffff
	done := uint64(in.cnt) - 1 // as in tscAt, for MSR_TSC
	c.retired += done
	ok, gp := c.wrmsr(msr, v)
	c.retired -= done
	if gp {
		c.fault(in, vecGP, 0)
		return
	}
	c.leave(in, in.rip+uint64(in.len))
	if !ok {
		c.exit = Exit{Reason: ExitWRMSR, RIP: in.rip, InstLen: int(in.len), MSR: msr, MSRVal: v}
	}
}

// rdmsr reads an MSR the CPU owns (reference/vmm-interface.md §13); ok is
// false for MSRs left to the caller.
func (c *CPU) rdmsr(msr uint32) (v uint64, ok, gp bool) {
	switch msr {
	case msrTSC:
		return c.tsc(), true, false
	case msrAPICBase:
		if c.intr.ctl != nil {
			return 0, false, false // the attached LAPIC's (intr.go)
		}
		v = 0xfee00000 | 1<<11 // xAPIC enabled
		if c.vcpuid == 0 {
			v |= 1 << 8 // BSP
		}
		return v, true, false
	case msrPAT:
		return c.pat, true, false
	case msrTSCAux:
		return c.tscAux, true, false
	case msrEFER:
		return c.efer, true, false
	case msrSTAR:
		return c.star, true, false
	case msrLSTAR:
		return c.lstar, true, false
	case msrCSTAR:
		return c.cstar, true, false
	case msrSFMASK:
		return c.sfmask, true, false
	case msrFSBase:
		return c.seg[segFS].base, true, false
	case msrGSBase:
		return c.seg[segGS].base, true, false
	case msrKernelGSBase:
		return c.kgsbase, true, false
	case msrSysenterCS:
		return c.sysenterCS, true, false
	case msrSysenterESP:
		return c.sysenterESP, true, false
	case msrSysenterEIP:
		return c.sysenterEIP, true, false
	}
	return 0, false, false
}

func (c *CPU) wrmsr(msr uint32, v uint64) (ok, gp bool) {
	switch msr {
	case msrTSC:
		c.tscOffset = v - c.timeNow()
	case msrAPICBase:
		return false, false // the local APIC's business
	case msrTSCAux:
		if v>>32 != 0 {
			return false, true // bits 63:32 are reserved
		}
		c.tscAux = v
	case msrPAT:
		for i := 0; i < 8; i++ {
			switch t := v >> (8 * i) & 0xff; t {
			case 0, 1, 4, 5, 6, 7:
			default:
				return false, true
			}
		}
		c.pat = v
	case msrEFER:
		if v&^eferAllowed != 0 {
			return false, true
		}
		// LMA is read-only; LME cannot change while paging is on.
		if c.cr0&cr0PG != 0 && (v^c.efer)&eferLME != 0 {
			return false, true
		}
		c.efer = v&^eferLMA | c.efer&eferLMA
		c.tlb.flush()
	case msrSTAR:
		c.star = v
	case msrSysenterCS:
		// VT-x keeps the guest's value in a 32-bit guest-state field
		// (SDM Vol. 3, VMCS "Guest Register State"), so bits 63:32 do not survive.
		c.sysenterCS = v & 0xffffffff
	case msrLSTAR, msrCSTAR, msrFSBase, msrGSBase, msrKernelGSBase, msrSysenterESP, msrSysenterEIP:
		// A non-canonical address is #GP(0) for these (SDM WRMSR).
		if !canonical(v) {
			return false, true
		}
		switch msr {
		case msrSysenterESP:
			c.sysenterESP = v
		case msrSysenterEIP:
			c.sysenterEIP = v
		case msrLSTAR:
			c.lstar = v
		case msrCSTAR:
			c.cstar = v
		case msrFSBase:
			c.seg[segFS].base = v
		case msrGSBase:
			c.seg[segGS].base = v
		default:
			c.kgsbase = v
		}
	case msrSFMASK:
		c.sfmask = v & 0xffffffff
	default:
		return false, false
	}
	return true, false
}

func hMovFromCR(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	var v uint64
	switch in.op {
	case 0:
		v = c.cr0
	case 2:
		v = c.cr2
	case 3:
		v = c.cr3
	case 4:
		v = c.cr4
	case 8:
		v = c.readCR8()
	default:
		c.fault(in, vecUD, 0)
		return
	}
	c.r[in.d] = v
	in.next.h(c, in.next)
}

// hMovToCR validates and writes a control register (SDM MOV CRn #GP
// conditions for 64-bit mode), then ends the block: paging may differ.
func hMovToCR(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	v := c.r[in.s]
	if !c.mode64 {
		v = uint64(uint32(v))
	}
	old0, old3, old4, oldEFER := c.cr0, c.cr3, c.cr4, c.efer
	switch in.op {
	case 0:
		if !c.setCR0(v) {
			c.fault(in, vecGP, 0)
			return
		}
	case 2:
		c.cr2 = v
	case 3:
		c.cr3 = v
	case 4:
		if v&^cr4Allowed != 0 || c.efer&eferLMA != 0 && v&cr4PAEbit == 0 ||
			c.cr0&cr0PG != 0 && c.efer&eferLME != 0 && v&cr4PAEbit == 0 {
			c.fault(in, vecGP, 0)
			return
		}
		c.cr4 = v
	case 8:
		if v&^0xf != 0 || !c.writeCR8(v) {
			c.fault(in, vecGP, 0)
			return
		}
	default:
		c.fault(in, vecUD, 0)
		return
	}
	// Entering or staying in PAE paging through CR0, CR3 or CR4 loads
	// the four PDPTEs; a present one with reserved bits set is #GP(0)
	// and the write does not happen (SDM Vol. 3 §4.4.1).
	pae := c.cr0&cr0PG != 0 && c.cr4&cr4PAEbit != 0 && c.efer&eferLMA == 0
	if pae && (in.op == 3 || c.cr0 != old0 || c.cr4 != old4) && !c.loadPDPTEs() {
		c.cr0, c.cr3, c.cr4, c.efer = old0, old3, old4, oldEFER
		c.fault(in, vecGP, 0)
		return
	}
	c.tlb.flush()
	c.modeChanged()
	if in.op == 4 {
		c.dbgUpdate() // CR4.DE arms I/O breakpoints
	}
	c.leave(in, in.rip+uint64(in.len))
}

// loadPDPTEs reads the PAE page-directory-pointer table at CR3 into the
// CPU, as hardware does when PAE paging is (re)entered; the walk uses
// the copies, so later edits of the table in memory take effect only at
// the next load. It reports false (and loads nothing) when a present
// entry has reserved bits set. A table in MMIO space reads as zeros.
func (c *CPU) loadPDPTEs() bool {
	var e [4]uint64
	if pg, _ := c.physPage(c.cr3 &^ 0x1f); pg != nil {
		for i := range e {
			e[i] = load(pg[(c.cr3&0xfe0)+uint64(i)*8:], 8)
			if e[i]&pteP != 0 && (e[i]&0x1e6 != 0 || e[i]&pteNX != 0) {
				return false
			}
		}
	}
	c.pdpte = e
	return true
}

// setCR0 applies a guest MOV to CR0 with the SDM's #GP(0) conditions
// (reserved high bits, NW without CD, PG without PE, PG with LME but no
// PAE, clearing PG in 64-bit mode) and IA-32e activation: setting PG
// with EFER.LME sets EFER.LMA, clearing it from compatibility mode
// clears LMA (SDM Vol. 3 §9.8.5). It reports false for #GP.
func (c *CPU) setCR0(v uint64) bool {
	if v>>32 != 0 || v&cr0NW != 0 && v&cr0CD == 0 || v&cr0PG != 0 && v&cr0PE == 0 {
		return false
	}
	pgOn, pgOff := v&cr0PG != 0 && c.cr0&cr0PG == 0, v&cr0PG == 0 && c.cr0&cr0PG != 0
	switch {
	case pgOn && c.efer&eferLME != 0:
		if c.cr4&cr4PAEbit == 0 || c.seg[segCS].access&segL != 0 {
			return false
		}
		c.efer |= eferLMA
	case pgOff && c.efer&eferLMA != 0:
		if c.mode64 {
			return false
		}
		c.efer &^= eferLMA
	}
	c.cr0 = v | cr0ET
	return true
}

func drIndex(n uint8) uint8 {
	if n == 4 || n == 5 {
		return n + 2 // aliases of DR6/DR7 while CR4.DE is clear
	}
	return n
}

// The bits of DR6 and DR7 a MOV can change, and the reserved ones that
// read as 1 (SDM Vol. 3 "Debug Status Register (DR6)", "Debug Control
// Register (DR7)"; a processor without RTM or bus-lock detection): DR6
// B0-B3, BD, BS, BT are writable, bits 4-11 and 16-31 read 1, bit 12
// reads 0; DR7 bits 0-9, GD and 16-31 are writable, bit 10 reads 1, bits
// 11, 12, 14, 15 read 0. The raw value is kept (it is what
// VM_SET_REGISTER wrote) and shaped when the guest reads it.
const (
	dr6Writable, dr6Ones = 0xe00f, 0xffff0ff0
	dr7Writable, dr7Ones = 0xffff23ff, 0x400
)

// movDROK applies MOV DR's checks after CPL (SDM MOV—Move to/from Debug
// Registers): DR4 and DR5 are #UD while CR4.DE is set; then, with
// DR7.GD set, any MOV DR is a #DB fault with DR6.BD set, and GD is
// cleared so the handler can use the debug registers (SDM "General-
// Detect Exception Condition"; debug.go).
func (c *CPU) movDROK(in *insn) bool {
	if !c.priv(in) {
		return false
	}
	if (in.op == 4 || in.op == 5) && c.cr4&cr4DE != 0 {
		c.fault(in, vecUD, 0)
		return false
	}
	if c.dr[7]&dr7GD != 0 {
		c.dr[6] |= dr6BD
		c.dr[7] &^= dr7GD
		c.fault(in, vecDB, 0)
		return false
	}
	return true
}

func hMovFromDR(c *CPU, in *insn) {
	if !c.movDROK(in) {
		return
	}
	n := drIndex(in.op)
	v := c.dr[n]
	switch n {
	case 6:
		v = v&dr6Writable | dr6Ones
	case 7:
		v = v&dr7Writable | dr7Ones
	}
	c.r[in.d] = v
	in.next.h(c, in.next)
}

// hMovToDR: the source is 32 bits outside 64-bit mode; in 64-bit mode a
// 1 in bits 63:32 of DR6 or DR7 is #GP(0). It ends the block: a
// breakpoint it enables applies from the next instruction on.
func hMovToDR(c *CPU, in *insn) {
	if !c.movDROK(in) {
		return
	}
	n, v := drIndex(in.op), c.r[in.s]
	if !c.mode64 {
		v &= 0xffffffff
	}
	if n >= 6 && v>>32 != 0 {
		c.fault(in, vecGP, 0)
		return
	}
	c.dr[n] = v
	if n != 6 {
		c.dbgUpdate()
	}
	c.leave(in, in.rip+uint64(in.len))
}

func hMovToSeg(c *CPU, in *insn) {
	var v uint64
	if in.mem {
		var ok bool
		if v, ok = c.read(c.ea(in), 2); !ok {
			c.memFault(in)
			return
		}
	} else {
		v = c.r[in.s]
	}
	if !c.loadSeg(in.op, uint16(v)) {
		c.memFault(in)
		return
	}
	if in.op == segSS {
		c.intrShadow = true // MOV SS blocking
	}
	c.leave(in, in.rip+uint64(in.len))
}

func hMovFromSegR(c *CPU, in *insn) {
	c.setReg(in.d, in.sz, uint64(c.seg[in.op].sel))
	in.next.h(c, in.next)
}

func hMovFromSegM(c *CPU, in *insn) {
	if !c.write(in, c.ea(in), 2, uint64(c.seg[in.op].sel)) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// hDescTable: LGDT, LIDT, SGDT, SIDT (op 0-3): a 16-bit limit and a
// 64-bit base in 64-bit mode, a 32-bit base otherwise (24 bits with a
// 16-bit operand size for the loads, SDM LGDT).
func hDescTable(c *CPU, in *insn) {
	addr := c.ea(in)
	bsz := uint8(8)
	if !c.mode64 {
		bsz = 4
	}
	if in.op < 2 {
		if !c.priv(in) {
			return
		}
		lim, ok1 := c.read(addr, 2)
		base, ok2 := c.read(addr+2, bsz)
		if !ok1 || !ok2 {
			c.memFault(in)
			return
		}
		if !canonical(base) {
			c.fault(in, vecGP, 0)
			return
		}
		if !c.mode64 && in.sz == 2 {
			base &= 0xffffff
		}
		t := &c.gdtr
		if in.op == 1 {
			t = &c.idtr
		}
		t.base, t.limit = base, uint32(lim)
	} else {
		t := c.gdtr
		if in.op == 3 {
			t = c.idtr
		}
		img := descTableImage(t)
		if !c.write(in, addr, 2, uint64(binary.LittleEndian.Uint16(img[:]))) ||
			!c.write(in, addr+2, bsz, binary.LittleEndian.Uint64(img[2:])) {
			c.memFault(in)
			return
		}
	}
	c.leave(in, in.rip+uint64(in.len))
}

func hInvlpg(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	c.tlb.flushPage(c.ea(in))
	c.leave(in, in.rip+uint64(in.len))
}

func hPrivNop(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	in.next.h(c, in.next)
}

func hClts(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	c.cr0 &^= cr0TS
	in.next.h(c, in.next)
}

func hSwapgs(c *CPU, in *insn) {
	if !c.mode64 {
		c.fault(in, vecUD, 0)
		return
	}
	if !c.priv(in) {
		return
	}
	c.seg[segGS].base, c.kgsbase = c.kgsbase, c.seg[segGS].base
	in.next.h(c, in.next)
}

// Descriptor caches SYSCALL/SYSRET and SYSENTER/SYSEXIT load, in
// seg_desc access-rights form: flat (base 0, 4 GiB, G), code execute/read accessed (type 11),
// stack read/write accessed (type 3), present; CS.D or CS.L as the target
// mode says, SS.B (SDM SYSCALL, SYSRET, SYSENTER, SYSEXIT "Operation").
const (
	sysCS32, sysCS64, sysSS = 0xc09b, 0xa09b, 0xc093
	dpl3                    = 3 << 5
)

// hSyscall: SYSCALL in 64-bit mode (SDM; STAR/LSTAR/SFMASK, §13). As on
// Intel, SYSCALL and SYSRET are #UD outside 64-bit mode (AMD's legacy
// and compatibility-mode forms through STAR/CSTAR are not offered).
func hSyscall(c *CPU, in *insn) {
	if c.efer&eferSCE == 0 || !c.mode64 {
		c.fault(in, vecUD, 0)
		return
	}
	next := in.rip + uint64(in.len)
	c.r[rCX] = next
	c.r[r11] = c.rflags() &^ flagRF
	sel := uint16(c.star >> 32 & 0xfffc)
	c.seg[segCS] = seg{sel: sel, limit: 0xffffffff, access: sysCS64}
	c.seg[segSS] = seg{sel: sel + 8, limit: 0xffffffff, access: sysSS}
	c.setRflags(c.rflags() &^ (c.sfmask | flagRF))
	c.modeChanged()
	c.leave(in, c.lstar)
}

// hSysret: SYSRET to 64-bit (op 1, REX.W) or compatibility mode.
func hSysret(c *CPU, in *insn) {
	if c.efer&eferSCE == 0 || !c.mode64 {
		c.fault(in, vecUD, 0)
		return
	}
	if !c.priv(in) {
		return
	}
	if in.op == 1 && !canonical(c.r[rCX]) {
		c.fault(in, vecGP, 0)
		return
	}
	base := uint16(c.star >> 48)
	m := uint64(flagsWritable &^ (flagRF | flagVM))
	c.setRflags(c.r[r11] & m)
	rip := c.r[rCX]
	if in.op == 1 {
		c.seg[segCS] = seg{sel: (base + 16) | 3, limit: 0xffffffff, access: sysCS64 | dpl3}
	} else {
		c.seg[segCS] = seg{sel: base | 3, limit: 0xffffffff, access: sysCS32 | dpl3}
		rip = uint64(uint32(rip))
	}
	c.seg[segSS].sel = (base + 8) | 3
	c.seg[segSS].access = sysSS | dpl3
	c.modeChanged()
	c.leave(in, rip)
}

// hSysenter: SYSENTER as Intel defines it (SDM Vol. 2B SYSENTER): valid
// in protected, virtual-8086 and IA-32e mode (64-bit and compatibility)
// at any CPL, #GP(0) in real mode or with IA32_SYSENTER_CS[15:2] = 0. It
// enters CPL 0 with CS = IA32_SYSENTER_CS & FFFCH and SS = CS + 8 as
// fixed flat descriptors (the GDT is not read), ESP/EIP from the MSRs (the
// whole RSP/RIP in IA-32e mode, which always lands in 64-bit code), and
// clears VM, IF and RF.
func hSysenter(c *CPU, in *insn) {
	if !c.pmode || c.sysenterCS&0xfffc == 0 {
		c.fault(in, vecGP, 0)
		return
	}
	sel := uint16(c.sysenterCS) & 0xfffc
	acc := uint32(sysCS32)
	rsp, rip := c.sysenterESP&0xffffffff, c.sysenterEIP&0xffffffff
	if c.efer&eferLMA != 0 {
		acc, rsp, rip = sysCS64, c.sysenterESP, c.sysenterEIP
	}
	c.setRflags(c.rflags() &^ (flagVM | flagIF | flagRF))
	c.seg[segCS] = seg{sel: sel, limit: 0xffffffff, access: acc}
	c.seg[segSS] = seg{sel: sel + 8, limit: 0xffffffff, access: sysSS}
	c.r[rSP] = rsp
	c.modeChanged()
	c.leave(in, rip)
}

// hSysexit: SYSEXIT (SDM Vol. 2B SYSEXIT), to CPL 3 with RSP = RCX and
// RIP = RDX: with REX.W (in.op 1) into 64-bit code, CS =
// IA32_SYSENTER_CS + 32, the registers whole and canonical; otherwise
// into 32-bit code, CS = IA32_SYSENTER_CS + 16, ECX and EDX
// zero-extended. CS gets RPL 3 and SS = CS + 8, both fixed flat DPL-3
// descriptors; RFLAGS is unchanged. #GP(0) in real mode, at CPL > 0
// (virtual-8086 mode included) or with IA32_SYSENTER_CS[15:2] = 0.
func hSysexit(c *CPU, in *insn) {
	if !c.pmode || c.cpl != 0 || c.fl&flagVM != 0 || c.sysenterCS&0xfffc == 0 {
		c.fault(in, vecGP, 0)
		return
	}
	sel, acc := uint16(c.sysenterCS)+16, uint32(sysCS32|dpl3)
	rsp, rip := c.r[rCX]&0xffffffff, c.r[rDX]&0xffffffff
	if in.op == 1 {
		if !canonical(c.r[rCX]) || !canonical(c.r[rDX]) {
			c.fault(in, vecGP, 0)
			return
		}
		sel, acc = uint16(c.sysenterCS)+32, sysCS64|dpl3
		rsp, rip = c.r[rCX], c.r[rDX]
	}
	sel |= 3
	c.seg[segCS] = seg{sel: sel, limit: 0xffffffff, access: acc}
	c.seg[segSS] = seg{sel: sel + 8, limit: 0xffffffff, access: sysSS | dpl3}
	c.r[rSP] = rsp
	c.modeChanged()
	c.leave(in, rip)
}

// hCpuid: the fixed CPUID table (cpuid.go).
func hCpuid(c *CPU, in *insn) {
	a, b, cx, d := c.cpuid(uint32(c.r[rAX]), uint32(c.r[rCX]))
	c.r[rAX], c.r[rBX], c.r[rCX], c.r[rDX] = uint64(a), uint64(b), uint64(cx), uint64(d)
	in.next.h(c, in.next)
}

// readW reads an operand that will be written back, checking write
// permission first so a faulting read-modify-write changes nothing.
func (c *CPU) readW(va uint64, sz uint8) (uint64, bool) {
	off := va & (pageSz - 1)
	if off+uint64(sz) <= pageSz {
		e := &c.tlb.e[(va>>12)%tlbSize]
		if e.wtag == va>>12 {
			return load(e.page[off:], sz), true
		}
	}
	// The write follows: a write-only data breakpoint counts too.
	if c.dbg.data != 0 && c.watch(va, sz, true) {
		return 0, false
	}
	if off+uint64(sz) <= pageSz {
		e, ok := c.translateW(va)
		if !ok {
			return 0, false
		}
		return load(e.page[off:], sz), true
	}
	if _, ok := c.translateW(va); !ok {
		return 0, false
	}
	if _, ok := c.translateW(va + uint64(sz) - 1); !ok {
		return 0, false
	}
	return c.read(va, sz)
}
