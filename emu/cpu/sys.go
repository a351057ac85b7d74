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

func hHlt(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	c.leave(in, in.rip+uint64(in.len))
	c.exit = Exit{Reason: ExitHLT, RIP: in.rip, InstLen: int(in.len)}
}

// hInOut: IN (op 1) / OUT (op 0); ssz 1 = immediate port. Without an I/O
// permission bitmap model, CPL > IOPL is #GP(0).
func hInOut(c *CPU, in *insn) {
	if c.cpl > uint8(c.fl>>12)&3 {
		c.fault(in, vecGP, 0)
		return
	}
	port := uint16(c.r[rDX])
	if in.ssz == 1 {
		port = uint16(in.imm)
	}
	c.leave(in, in.rip+uint64(in.len))
	c.exit = Exit{Reason: ExitInOut, RIP: in.rip, InstLen: int(in.len), Port: port, Bytes: in.sz, In: in.op == 1}
	if in.op == 0 {
		c.exit.EAX = uint32(c.r[rAX] & sizeMask[in.sz])
	}
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

func hRdmsr(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	msr := uint32(c.r[rCX])
	c.retired += uint64(in.cnt) - 1 // IA32_TSC reads the clock at this instruction
	v, ok, gp := c.rdmsr(msr)
	c.retired -= uint64(in.cnt) - 1
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
	c.retired += uint64(in.cnt) - 1 // IA32_TSC writes the clock at this instruction
	ok, gp := c.wrmsr(msr, v)
	c.retired -= uint64(in.cnt) - 1
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
	case msrLSTAR, msrCSTAR, msrFSBase, msrGSBase, msrKernelGSBase:
		if !canonical(v) {
			return false, true
		}
		switch msr {
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
	switch in.op {
	case 0:
		if v>>32 != 0 || v&cr0NW != 0 && v&cr0CD == 0 || v&cr0PG != 0 && v&cr0PE == 0 ||
			c.efer&eferLMA != 0 && v&cr0PG == 0 {
			c.fault(in, vecGP, 0)
			return
		}
		c.cr0 = v | cr0ET
	case 2:
		c.cr2 = v
	case 3:
		c.cr3 = v
	case 4:
		if v&^cr4Allowed != 0 || c.efer&eferLMA != 0 && v&cr4PAEbit == 0 {
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
	c.tlb.flush()
	c.modeChanged()
	c.leave(in, in.rip+uint64(in.len))
}

func drIndex(n uint8) uint8 {
	if n == 4 || n == 5 {
		return n + 2 // aliases of DR6/DR7 while CR4.DE is clear
	}
	return n
}

func hMovFromDR(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	c.r[in.d] = c.dr[drIndex(in.op)]
	in.next.h(c, in.next)
}

func hMovToDR(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	c.dr[drIndex(in.op)] = c.r[in.s]
	in.next.h(c, in.next)
}

// loadSeg loads a data segment register (not CS) in 64-bit mode; false
// with c.mf set on a fault.
func (c *CPU) loadSeg(s uint8, sel uint16) bool {
	if sel&^3 == 0 {
		if s == segSS && (c.cpl == 3 || uint8(sel&3) != c.cpl) {
			return c.gpFault(0)
		}
		c.seg[s] = seg{sel: sel, access: 0x10000}
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
	if acc&0x80 == 0 {
		vec := uint8(vecNP)
		if s == segSS {
			vec = vecSS
		}
		c.mf = memFault{kind: mfException, vec: vec, err: uint32(sel &^ 3)}
		return false
	}
	c.seg[s] = seg{sel: sel, base: descBase(d), limit: descLimit(d), access: acc}
	return true
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

// hDescTable: LGDT, LIDT, SGDT, SIDT (op 0-3) with 64-bit bases.
func hDescTable(c *CPU, in *insn) {
	addr := c.ea(in)
	if in.op < 2 {
		if !c.priv(in) {
			return
		}
		lim, ok1 := c.read(addr, 2)
		base, ok2 := c.read(addr+2, 8)
		if !ok1 || !ok2 {
			c.memFault(in)
			return
		}
		if !canonical(base) {
			c.fault(in, vecGP, 0)
			return
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
			!c.write(in, addr+2, 8, binary.LittleEndian.Uint64(img[2:])) {
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
	if !c.priv(in) {
		return
	}
	c.seg[segGS].base, c.kgsbase = c.kgsbase, c.seg[segGS].base
	in.next.h(c, in.next)
}

// hSyscall: SYSCALL in 64-bit mode (SDM; STAR/LSTAR/SFMASK, §13).
func hSyscall(c *CPU, in *insn) {
	if c.efer&eferSCE == 0 {
		c.fault(in, vecUD, 0)
		return
	}
	next := in.rip + uint64(in.len)
	c.r[rCX] = next
	c.r[r11] = c.rflags() &^ flagRF
	sel := uint16(c.star >> 32 & 0xfffc)
	c.seg[segCS] = seg{sel: sel, limit: 0xffffffff, access: 0xa09b}
	c.seg[segSS] = seg{sel: sel + 8, limit: 0xffffffff, access: 0xc093}
	c.setRflags(c.rflags() &^ (c.sfmask | flagRF))
	c.modeChanged()
	c.leave(in, c.lstar)
}

// hSysret: SYSRET to 64-bit (op 1, REX.W) or compatibility mode.
func hSysret(c *CPU, in *insn) {
	if c.efer&eferSCE == 0 {
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
		c.seg[segCS] = seg{sel: (base + 16) | 3, limit: 0xffffffff, access: 0xa0fb}
	} else {
		c.seg[segCS] = seg{sel: base | 3, limit: 0xffffffff, access: 0xc0fb}
		rip = uint64(uint32(rip))
	}
	c.seg[segSS].sel = (base + 8) | 3
	c.seg[segSS].access = 0xc0f3
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
