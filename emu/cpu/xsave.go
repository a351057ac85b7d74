package cpu

import (
	"encoding/binary"

	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/cpu/internal/fp"
)

// The XSAVE feature set for the two components this CPU has: x87 (XCR0
// bit 0) and SSE (bit 1), both in the 512-byte legacy region, followed by
// the 64-byte XSAVE header (SDM Vol. 1 ch. 13). Only the standard
// (non-compacted) format exists: XSAVEC, XSAVES, XRSTORS and XGETBV with
// ECX=1 are not advertised (CPUID.(EAX=0DH,ECX=1):EAX = 1, XSAVEOPT only,
// which is also all vmm passes through: reference/vmm-interface.md §12,
// leaf 0xD) and stay #UD. XCR0 starts as x87 only, as vm_init leaves it
// (reference/vmm-devices.md §1.1).

const (
	cr4OSXSAVE = 1 << 18

	xcr0X87 = 1 << 0
	xcr0SSE = 1 << 1
	// xcr0Supported is CPUID.(EAX=0DH,ECX=0):EDX:EAX.
	xcr0Supported = xcr0X87 | xcr0SSE

	// xsaveSize is the legacy region plus the header: what leaf 0xD
	// reports in EBX and ECX of sub-leaf 0 (SDM Vol. 1 §13.3).
	xsaveSize = 576
	xsaveHdr  = 512
)

// XSAVE-family operations (in.op).
const (
	xsXSAVE = iota
	xsXSAVEOPT
	xsXRSTOR
	xsXGETBV
	xsXSETBV
)

var xsaveOps = map[x86asm.Op]uint8{
	x86asm.XSAVE: xsXSAVE, x86asm.XSAVE64: xsXSAVE,
	x86asm.XSAVEOPT: xsXSAVEOPT, x86asm.XSAVEOPT64: xsXSAVEOPT,
	x86asm.XRSTOR: xsXRSTOR, x86asm.XRSTOR64: xsXRSTOR,
	x86asm.XGETBV: xsXGETBV, x86asm.XSETBV: xsXSETBV,
}

// buildXSave is buildFP's entry for the XSAVE family. LOCK was already
// turned into #UD by badLock.
func (c *CPU) buildXSave(in *insn, inst *x86asm.Inst, va uint64) bool {
	op, ok := xsaveOps[inst.Op]
	if !ok {
		return false
	}
	in.op = op
	in.sz = uint8(inst.DataSize / 8)
	if op <= xsXRSTOR {
		m, ok := inst.Args[0].(x86asm.Mem)
		if !ok {
			return true // a register operand is #UD
		}
		setMem(in, inst, m, va)
	}
	in.h = hXSave
	return true
}

// xinuse is XINUSE (SDM Vol. 1 §13.6) computed from the registers: a
// component reads as in use unless it is exactly in its initial
// configuration. The SDM lets a processor report 1 for an initialised
// component, never 0 for a modified one; computing it keeps XSAVE's
// XSTATE_BV a function of the architectural state alone.
func (c *CPU) xinuse() uint64 {
	f := &c.fpu
	var u uint64
	if f.fcw != 0x37f || f.fsw != 0 || f.ftw != 0 || f.fop != 0 || f.fip != 0 || f.fdp != 0 ||
		f.fcs != 0 || f.fds != 0 || f.st != [8]fp.Ext80{} {
		u |= xcr0X87
	}
	if f.xmm != [16][2]uint64{} {
		u |= xcr0SSE
	}
	return u
}

// The legacy-region bytes of each component (SDM Vol. 1 §13.4.1): x87 is
// bytes 0-23 and 32-159, SSE is MXCSR/MXCSR_MASK (24-31) and the XMM
// registers from 160 (eight outside 64-bit mode, sixteen in it).
func (c *CPU) xmmEnd() int {
	if c.mode64 {
		return 416
	}
	return 288
}

func hXSave(c *CPU, in *insn) {
	if c.cr4&cr4OSXSAVE == 0 {
		c.fault(in, vecUD, 0)
		return
	}
	switch in.op {
	case xsXGETBV:
		// Only XCR0 exists (ECX=1 needs CPUID.(0DH,1):EAX[2]).
		if uint32(c.r[rCX]) != 0 {
			c.fault(in, vecGP, 0)
			return
		}
		c.r[rAX] = c.fpu.xcr0 & 0xffffffff
		c.r[rDX] = c.fpu.xcr0 >> 32
		in.next.h(c, in.next)
		return
	case xsXSETBV:
		v := uint64(uint32(c.r[rDX]))<<32 | uint64(uint32(c.r[rAX]))
		if c.cpl != 0 || uint32(c.r[rCX]) != 0 || !validXCR0(v) {
			c.fault(in, vecGP, 0)
			return
		}
		c.fpu.xcr0 = v
		in.next.h(c, in.next)
		return
	}
	if c.cr0&cr0TS != 0 {
		c.fault(in, vecNM, 0)
		return
	}
	va := c.ea(in)
	if va&63 != 0 {
		c.fault(in, vecGP, 0)
		return
	}
	rfbm := c.fpu.xcr0 & (uint64(uint32(c.r[rDX]))<<32 | uint64(uint32(c.r[rAX])))
	var b [xsaveHdr + 8]byte
	if in.op == xsXRSTOR {
		if !c.xrstor(in, va, rfbm, &b) {
			return
		}
	} else if !c.xsave(in, va, rfbm, &b) {
		return
	}
	in.next.h(c, in.next)
}

// validXCR0 is XSETBV's check (SDM Vol. 2 XSETBV): x87 always on, no bit
// this CPU lacks. SSE without x87 is then impossible too.
func validXCR0(v uint64) bool {
	return v&xcr0X87 != 0 && v&^xcr0Supported == 0
}

// xsave stores the components of rfbm and their XSTATE_BV bits, leaving
// every other byte (other components, XCOMP_BV, the rest of the header,
// bytes 416-511) as it was. XSAVEOPT takes the init optimisation (SDM
// Vol. 1 §13.9) as the host does: a component in its initial
// configuration (XINUSE clear) gets its XSTATE_BV bit cleared and its
// bytes left alone, though MXCSR is stored whenever SSE is requested.
// The modified optimisation (skip what is unchanged since an XRSTOR from
// the same area) would store the same bytes again, so it is not modelled.
func (c *CPU) xsave(in *insn, va, rfbm uint64, b *[xsaveHdr + 8]byte) bool {
	// Every page the instruction touches is checked before anything is
	// stored, so a fault leaves the area unchanged.
	if !c.writable(va, xsaveHdr+8) {
		c.memFault(in)
		return false
	}
	if !c.readBuf(va+xsaveHdr, b[xsaveHdr:]) {
		c.memFault(in)
		return false
	}
	var img [512]byte
	c.fxsaveImage(&img, in.sz == 8)
	copy(b[:], img[:])
	bv := binary.LittleEndian.Uint64(b[xsaveHdr:])
	inuse := c.xinuse()
	bv = bv&^rfbm | inuse&rfbm
	binary.LittleEndian.PutUint64(b[xsaveHdr:], bv)
	store := rfbm
	if in.op == xsXSAVEOPT {
		store &= inuse
	}
	ok := c.writeBuf(in, va+xsaveHdr, b[xsaveHdr:])
	if ok && store&xcr0X87 != 0 {
		ok = c.writeBuf(in, va, b[0:24]) && c.writeBuf(in, va+32, b[32:160])
	}
	if ok && rfbm&xcr0SSE != 0 {
		ok = c.writeBuf(in, va+24, b[24:32])
	}
	if ok && store&xcr0SSE != 0 {
		ok = c.writeBuf(in, va+160, b[160:c.xmmEnd()])
	}
	if !ok {
		c.memFault(in)
	}
	return ok
}

// writable checks that the n bytes at va may be written.
func (c *CPU) writable(va uint64, n int) bool {
	for p := va &^ (pageSz - 1); p <= va+uint64(n)-1; p += pageSz {
		if _, ok := c.translateW(max(p, va)); !ok {
			return false
		}
	}
	return true
}

// xrstor is the standard form of XRSTOR (SDM Vol. 1 §13.8.1): #GP when
// XCOMP_BV or bytes 16-23 of the header are not zero (this CPU has no
// compacted form), when XSTATE_BV names a component XCR0 does not enable,
// or when the MXCSR it would load has reserved bits set. Then each
// component of rfbm is loaded (XSTATE_BV bit set) or initialised (clear);
// MXCSR is loaded whenever SSE is requested, whatever XSTATE_BV says.
func (c *CPU) xrstor(in *insn, va, rfbm uint64, b *[xsaveHdr + 8]byte) bool {
	var hdr [24]byte
	if !c.readBuf(va+xsaveHdr, hdr[:]) {
		c.memFault(in)
		return false
	}
	le := binary.LittleEndian
	bv := le.Uint64(hdr[0:])
	if le.Uint64(hdr[8:]) != 0 || le.Uint64(hdr[16:]) != 0 || bv&^c.fpu.xcr0 != 0 {
		c.fault(in, vecGP, 0)
		return false
	}
	if !c.readBuf(va, b[:xsaveHdr]) {
		c.memFault(in)
		return false
	}
	if rfbm&xcr0SSE != 0 && le.Uint32(b[24:])&^mxcsrMask != 0 {
		c.fault(in, vecGP, 0)
		return false
	}
	// Start from the current state and overlay what is restored, so that
	// the components left out keep every bit (fxrstorImage loads all).
	f := &c.fpu
	old := *f
	var img [512]byte
	c.fxsaveImage(&img, true)
	load := rfbm & bv
	initial := rfbm &^ bv
	if load&xcr0X87 != 0 {
		copy(img[0:24], b[0:24])
		copy(img[32:160], b[32:160])
	}
	if rfbm&xcr0SSE != 0 {
		copy(img[24:28], b[24:28])
	}
	if load&xcr0SSE != 0 {
		copy(img[160:c.xmmEnd()], b[160:c.xmmEnd()])
	}
	w64 := in.sz == 8
	if load&xcr0X87 == 0 {
		w64 = true // img holds the current x87 state in that form
	}
	c.fxrstorImage(&img, w64)
	if rfbm&xcr0X87 == 0 {
		// Not requested: the pointers keep their exact old values (the
		// image's form could drop FCS/FDS or the upper FIP/FDP bits).
		f.fip, f.fdp, f.fcs, f.fds = old.fip, old.fdp, old.fcs, old.fds
	}
	if initial&xcr0X87 != 0 {
		f.finit()
		f.st = [8]fp.Ext80{}
	}
	if initial&xcr0SSE != 0 {
		n := 8
		if c.mode64 {
			n = 16
		}
		for i := 0; i < n; i++ {
			f.xmm[i] = [2]uint64{}
		}
	}
	return true
}
