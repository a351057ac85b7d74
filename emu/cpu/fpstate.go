package cpu

import (
	"encoding/binary"

	"softvmm/emu/cpu/internal/fp"
)

// The x87/SSE register file, the CR0/CR4 gates in front of every x87, MMX
// and SSE instruction, and the state-management instructions (FXSAVE,
// FXRSTOR, LDMXCSR, STMXCSR, FNINIT, FNSTENV, FLDENV, FNSAVE, FRSTOR,
// FNSTSW, FNSTCW, FLDCW, FWAIT, EMMS). The arithmetic itself is
// internal/fp's; exec_x87.go and exec_sse.go call it.

// Exception vectors of the floating-point units.
const (
	vecMF = 16 // x87 FPU floating-point error (CR0.NE=1)
	vecXM = 19 // SIMD floating-point exception (CR4.OSXMMEXCPT=1)
)

// FSW bits beyond the exception flags fp returns.
const (
	fswSF  = 1 << 6 // stack fault
	fswES  = 1 << 7 // error summary
	fswB   = 1 << 15
	fswTop = 7 << 11
	fswCC  = fp.C0 | fp.C1 | fp.C2 | fp.C3
)

// mxcsrMask is the MXCSR_MASK FXSAVE stores: every defined bit, DAZ
// included (SDM Vol. 1 §11.6.6). Setting any other bit #GPs.
const mxcsrMask = 0xffff

// fpuState is the x87, MMX and SSE state. st holds the physical
// registers R0-R7 (ST(i) is R[(TOP+i)&7]; MMi is R[i]'s significand);
// ftw is the abridged tag (bit i set: R[i] is in use), the form FXSAVE
// stores, from which the full tag word is recomputed when asked for.
type fpuState struct {
	st       [8]fp.Ext80
	fcw, fsw uint16
	ftw      uint8
	fop      uint16 // last non-control x87 opcode, 11 bits
	fip, fdp uint64 // its address and its memory operand's
	fcs, fds uint16
	mxcsr    uint32
	xmm      [16][2]uint64
	xcr0     uint64 // XCR0 (xsave.go); 1 at reset (SDM Vol. 3 table 10-1)
	tmp      x128   // scratch destination of the lane functions
}

// reset is the FPU area vmm installs for a new or reinitialised vCPU
// (reference/vmm-devices.md §1.1, "FPU area reset"): FreeBSD's
// fpu_initialstate, i.e. the state FNINIT leaves (FCW 0x037F, all tags
// empty) with MXCSR 0x1F80 and zeroed XMM registers.
func (f *fpuState) reset() {
	*f = fpuState{}
	f.finit()
	f.mxcsr = 0x1f80
	f.xcr0 = xcr0X87
}

// finit is FNINIT (SDM Vol. 1 §8.1.10): register contents stay.
func (f *fpuState) finit() {
	f.fcw = 0x037f
	f.fsw = 0
	f.ftw = 0
	f.fop, f.fip, f.fdp, f.fcs, f.fds = 0, 0, 0, 0, 0
}

func (f *fpuState) top() int { return int(f.fsw>>11) & 7 }

func (f *fpuState) setTop(t int) { f.fsw = f.fsw&^fswTop | uint16(t&7)<<11 }

// phys is the physical register number of ST(i).
func (f *fpuState) phys(i int) int { return (f.top() + i) & 7 }

func (f *fpuState) empty(i int) bool { return f.ftw>>uint(f.phys(i))&1 == 0 }

// updateES recomputes ES and B from the flags and the masks.
func (f *fpuState) updateES() {
	if f.fsw&^f.fcw&0x3f != 0 {
		f.fsw |= fswES | fswB
	} else {
		f.fsw &^= fswES | fswB
	}
}

// fcwLoad is the control word as FLDCW/FLDENV/FRSTOR keep it: the
// reserved bits 7 and 13-15 read as 0, bit 6 as 1 (as the host does).
func fcwLoad(v uint16) uint16 { return v&0x1f3f | 0x40 }

// fullTag is the full tag word (FNSTENV, FNSAVE).
func (f *fpuState) fullTag() uint16 { return fp.FullTagWord(f.ftw, &f.st) }

// CR0/CR4 gates (SDM Vol. 3 §2.5 table 2-2, §13.1). They run at execute
// time, so CLTS and MOV CR0 need not end the block.

// x87OK admits an x87 instruction: #NM when CR0.EM or CR0.TS. A waiting
// instruction (wait) with an unmasked exception pending raises #MF when
// CR0.NE is set. With NE clear the error would go to FERR#/IRQ13, which
// this CPU has no pin for; it behaves as if IGNNE# were asserted and goes
// on (SDM Vol. 1 §8.7).
func (c *CPU) x87OK(in *insn, wait bool) bool {
	if c.cr0&(cr0EM|cr0TS) != 0 {
		c.fault(in, vecNM, 0)
		return false
	}
	if wait && c.fpu.fsw&fswES != 0 && c.cr0&cr0NE != 0 {
		c.fault(in, vecMF, 0)
		return false
	}
	return true
}

// sseOK admits an SSE instruction: #UD when CR0.EM is set or CR4.OSFXSR
// clear, then #NM when CR0.TS is set.
func (c *CPU) sseOK(in *insn) bool {
	if c.cr0&(cr0EM|cr0TS) == 0 && c.cr4&cr4OSFXSR != 0 {
		return true
	}
	if c.cr0&cr0EM != 0 || c.cr4&cr4OSFXSR == 0 {
		c.fault(in, vecUD, 0)
	} else {
		c.fault(in, vecNM, 0)
	}
	return false
}

// mmxOK admits an MMX instruction: #UD on CR0.EM, #NM on CR0.TS, #MF on a
// pending x87 exception (with CR0.NE).
func (c *CPU) mmxOK(in *insn) bool {
	if c.cr0&cr0EM != 0 {
		c.fault(in, vecUD, 0)
		return false
	}
	return c.x87OK(in, true)
}

// simdFault reports SIMD flags fl: it merges them into MXCSR and, when one
// is unmasked, raises #XM (or #UD with CR4.OSXMMEXCPT clear) and returns
// false; the caller then leaves the destination alone (SDM Vol. 1
// §11.5.1).
func (c *CPU) simdFault(in *insn, fl uint32) bool {
	c.fpu.mxcsr |= fl & 0x3f
	if fl&^(c.fpu.mxcsr>>7)&0x3f == 0 {
		return true
	}
	if c.cr4&cr4OSXMMEXCPT != 0 {
		c.fault(in, vecXM, 0)
	} else {
		c.fault(in, vecUD, 0)
	}
	return false
}

// readN reads n (4, 8 or 16) bytes as two quadwords; the 16-byte form
// translates both halves before returning anything.
func (c *CPU) readN(va uint64, n uint8) ([2]uint64, bool) {
	var v [2]uint64
	var ok bool
	if n < 16 {
		v[0], ok = c.read(va, n)
		return v, ok
	}
	if v[0], ok = c.read(va, 8); !ok {
		return v, false
	}
	v[1], ok = c.read(va+8, 8)
	return v, ok
}

// writeN stores n (4, 8 or 16) bytes, checking the whole range first so
// a fault on the second half changes nothing.
func (c *CPU) writeN(in *insn, va uint64, n uint8, v [2]uint64) bool {
	if n < 16 {
		return c.write(in, va, n, v[0])
	}
	if _, ok := c.translateW(va); !ok {
		return false
	}
	if _, ok := c.translateW(va + 15); !ok {
		return false
	}
	return c.write(in, va, 8, v[0]) && c.write(in, va+8, 8, v[1])
}

// readBuf/writeBuf move a whole save area (FXSAVE, FNSAVE, FLDENV) a
// quadword at a time; writeBuf checks every page before storing, since a
// partial FXSAVE is not something hardware leaves.
func (c *CPU) readBuf(va uint64, b []byte) bool {
	for i := 0; i < len(b); {
		n, sz := chunk(len(b) - i)
		v, ok := c.read(va+uint64(i), sz)
		if !ok {
			return false
		}
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], v)
		copy(b[i:i+n], t[:n])
		i += n
	}
	return true
}

// chunk is the largest access (8, 4, 2, 1 bytes) that fits in r bytes.
func chunk(r int) (int, uint8) {
	for _, n := range []int{8, 4, 2} {
		if r >= n {
			return n, uint8(n)
		}
	}
	return 1, 1
}

func (c *CPU) writeBuf(in *insn, va uint64, b []byte) bool {
	for p := va &^ (pageSz - 1); p <= va+uint64(len(b))-1; p += pageSz {
		a := p
		if a < va {
			a = va
		}
		if _, ok := c.translateW(a); !ok {
			return false
		}
	}
	for i := 0; i < len(b); {
		n, sz := chunk(len(b) - i)
		var t [8]byte
		copy(t[:], b[i:i+n])
		if !c.write(in, va+uint64(i), sz, binary.LittleEndian.Uint64(t[:])) {
			return false
		}
		i += n
	}
	return true
}

// fxsaveImage builds the 512-byte FXSAVE area (SDM Vol. 1 §10.5.1, tables
// 10-2 and 10-3): w64 selects FXSAVE64's 64-bit FIP/FDP over the
// FCS/FDS form. XMM8-15 are stored in 64-bit mode only.
func (c *CPU) fxsaveImage(b *[512]byte, w64 bool) {
	f := &c.fpu
	le := binary.LittleEndian
	le.PutUint16(b[0:], f.fcw)
	le.PutUint16(b[2:], f.fsw)
	b[4] = f.ftw
	le.PutUint16(b[6:], f.fop)
	if w64 {
		le.PutUint64(b[8:], f.fip)
		le.PutUint64(b[16:], f.fdp)
	} else {
		le.PutUint32(b[8:], uint32(f.fip))
		le.PutUint16(b[12:], f.fcs)
		le.PutUint32(b[16:], uint32(f.fdp))
		le.PutUint16(b[20:], f.fds)
	}
	le.PutUint32(b[24:], f.mxcsr)
	le.PutUint32(b[28:], mxcsrMask)
	for i := 0; i < 8; i++ {
		r := f.st[f.phys(i)]
		le.PutUint64(b[32+16*i:], r.Mant)
		le.PutUint16(b[40+16*i:], r.SE)
	}
	n := 8
	if c.mode64 {
		n = 16
	}
	for i := 0; i < n; i++ {
		le.PutUint64(b[160+16*i:], f.xmm[i][0])
		le.PutUint64(b[168+16*i:], f.xmm[i][1])
	}
}

func (c *CPU) fxrstorImage(b *[512]byte, w64 bool) {
	f := &c.fpu
	le := binary.LittleEndian
	f.fcw = fcwLoad(le.Uint16(b[0:])) // as the host's FXRSTOR/XRSTOR (xsave_test.go)
	f.fsw = le.Uint16(b[2:])
	f.ftw = b[4]
	f.fop = le.Uint16(b[6:]) & 0x7ff
	if w64 {
		f.fip = le.Uint64(b[8:])
		f.fdp = le.Uint64(b[16:])
		f.fcs, f.fds = 0, 0
	} else {
		f.fip = uint64(le.Uint32(b[8:]))
		f.fcs = le.Uint16(b[12:])
		f.fdp = uint64(le.Uint32(b[16:]))
		f.fds = le.Uint16(b[20:])
	}
	f.mxcsr = le.Uint32(b[24:])
	for i := 0; i < 8; i++ {
		p := f.phys(i)
		f.st[p] = fp.Ext80{Mant: le.Uint64(b[32+16*i:]), SE: le.Uint16(b[40+16*i:])}
	}
	n := 8
	if c.mode64 {
		n = 16
	}
	for i := 0; i < n; i++ {
		f.xmm[i] = [2]uint64{le.Uint64(b[160+16*i:]), le.Uint64(b[168+16*i:])}
	}
	f.updateES()
}

// State-management handlers. in.op selects the operation (fsOp*).
const (
	fsFXSAVE = iota
	fsFXRSTOR
	fsLDMXCSR
	fsSTMXCSR
	fsFNINIT
	fsFNCLEX
	fsFNSTSWAX
	fsFNSTSW
	fsFNSTCW
	fsFLDCW
	fsFNSTENV
	fsFLDENV
	fsFNSAVE
	fsFRSTOR
	fsFWAIT
	fsEMMS
)

func hFPState(c *CPU, in *insn) {
	f := &c.fpu
	var va uint64
	if in.mem {
		va = c.ea(in)
	}
	switch in.op {
	case fsFXSAVE, fsFXRSTOR:
		if c.cr0&(cr0EM|cr0TS) != 0 {
			c.fault(in, vecNM, 0)
			return
		}
		if va&15 != 0 {
			c.fault(in, vecGP, 0)
			return
		}
		var b [512]byte
		w64 := in.sz == 8
		if in.op == fsFXSAVE {
			// Only the defined part is stored: bytes 416-511 (288-511
			// outside 64-bit mode) are software's and stay as they were.
			n := 288
			if c.mode64 {
				n = 416
			}
			c.fxsaveImage(&b, w64)
			if !c.writeBuf(in, va, b[:n]) {
				c.memFault(in)
				return
			}
			break
		}
		if !c.readBuf(va, b[:]) {
			c.memFault(in)
			return
		}
		if binary.LittleEndian.Uint32(b[24:])&^mxcsrMask != 0 {
			c.fault(in, vecGP, 0)
			return
		}
		c.fxrstorImage(&b, w64)
	case fsLDMXCSR, fsSTMXCSR:
		if !c.sseOK(in) {
			return
		}
		if in.op == fsSTMXCSR {
			if !c.write(in, va, 4, uint64(f.mxcsr)) {
				c.memFault(in)
				return
			}
			break
		}
		v, ok := c.read(va, 4)
		if !ok {
			c.memFault(in)
			return
		}
		if v&^mxcsrMask != 0 {
			c.fault(in, vecGP, 0)
			return
		}
		f.mxcsr = uint32(v)
	case fsEMMS:
		// Every tag empty and, as after any MMX instruction, TOP 0; the
		// rest of FSW stays (SDM Vol. 3 §12.2, table 12-2).
		if !c.mmxOK(in) {
			return
		}
		f.ftw = 0
		f.setTop(0)
	case fsFWAIT:
		// WAIT is the one x87 instruction CR0.EM does not stop: #NM only
		// with TS and MP both set (SDM Vol. 3 table 2-2).
		if c.cr0&(cr0TS|cr0MP) == cr0TS|cr0MP {
			c.fault(in, vecNM, 0)
			return
		}
		if f.fsw&fswES != 0 && c.cr0&cr0NE != 0 {
			c.fault(in, vecMF, 0)
			return
		}
	default:
		if !c.x87OK(in, in.op == fsFLDCW || in.op == fsFLDENV || in.op == fsFRSTOR) {
			return
		}
		if !c.fpControl(in, va) {
			return
		}
	}
	in.next.h(c, in.next)
}

// fpControl runs the x87 control instructions; false means it faulted.
func (c *CPU) fpControl(in *insn, va uint64) bool {
	f := &c.fpu
	switch in.op {
	case fsFNINIT:
		f.finit()
	case fsFNCLEX:
		f.fsw &^= 0x80ff
	case fsFNSTSWAX:
		c.r[rAX] = c.r[rAX]&^0xffff | uint64(f.fsw)
	case fsFNSTSW, fsFNSTCW:
		v := f.fsw
		if in.op == fsFNSTCW {
			v = f.fcw
		}
		if !c.write(in, va, 2, uint64(v)) {
			c.memFault(in)
			return false
		}
	case fsFLDCW:
		v, ok := c.read(va, 2)
		if !ok {
			c.memFault(in)
			return false
		}
		f.fcw = fcwLoad(uint16(v))
		f.updateES()
	case fsFNSTENV, fsFNSAVE:
		var b [108]byte
		n := c.envImage(b[:], in.sz == 2)
		if in.op == fsFNSAVE {
			for i := 0; i < 8; i++ {
				r := f.st[f.phys(i)]
				binary.LittleEndian.PutUint64(b[n+10*i:], r.Mant)
				binary.LittleEndian.PutUint16(b[n+10*i+8:], r.SE)
			}
			n += 80
		}
		if !c.writeBuf(in, va, b[:n]) {
			c.memFault(in)
			return false
		}
		if in.op == fsFNSAVE {
			f.finit()
		} else {
			f.fcw |= 0x3f // FNSTENV masks every exception after storing
		}
	case fsFLDENV, fsFRSTOR:
		var b [108]byte
		n := 28
		if in.sz == 2 {
			n = 14
		}
		m := n
		if in.op == fsFRSTOR {
			m += 80
		}
		if !c.readBuf(va, b[:m]) {
			c.memFault(in)
			return false
		}
		c.loadEnv(b[:n], in.sz == 2)
		if in.op == fsFRSTOR {
			for i := 0; i < 8; i++ {
				f.st[f.phys(i)] = fp.Ext80{Mant: binary.LittleEndian.Uint64(b[n+10*i:]),
					SE: binary.LittleEndian.Uint16(b[n+10*i+8:])}
			}
		}
	case fsFWAIT:
	}
	return true
}

// envImage writes the x87 environment (SDM Vol. 1 §8.1.10, figures 8-9
// to 8-12; 64-bit mode uses the 32-bit protected-mode format) and returns
// its length. In real mode and virtual-8086 mode FIP and FDP are linear
// addresses split around FOP.
func (c *CPU) envImage(b []byte, short bool) int {
	f := &c.fpu
	le := binary.LittleEndian
	real := c.cr0&cr0PE == 0 || c.fl&flagVM != 0
	fip, fdp := f.fip, f.fdp
	if real {
		fip += uint64(f.fcs) << 4
		fdp += uint64(f.fds) << 4
	}
	if short {
		le.PutUint16(b[0:], f.fcw)
		le.PutUint16(b[2:], f.fsw)
		le.PutUint16(b[4:], f.fullTag())
		le.PutUint16(b[6:], uint16(fip))
		le.PutUint16(b[8:], f.fcs)
		le.PutUint16(b[10:], uint16(fdp))
		le.PutUint16(b[12:], f.fds)
		if real {
			le.PutUint16(b[8:], uint16(fip>>16&0xf)<<12|f.fop)
			le.PutUint16(b[12:], uint16(fdp>>16&0xf)<<12)
		}
		return 14
	}
	le.PutUint32(b[0:], 0xffff0000|uint32(f.fcw))
	le.PutUint32(b[4:], 0xffff0000|uint32(f.fsw))
	le.PutUint32(b[8:], 0xffff0000|uint32(f.fullTag()))
	le.PutUint32(b[12:], uint32(fip))
	le.PutUint32(b[16:], uint32(f.fcs)|uint32(f.fop)<<16)
	le.PutUint32(b[20:], uint32(fdp))
	le.PutUint32(b[24:], 0xffff0000|uint32(f.fds))
	if real {
		le.PutUint32(b[12:], 0xffff0000|uint32(fip&0xffff))
		le.PutUint32(b[16:], uint32(fip>>16&0xffff)<<12|uint32(f.fop))
		le.PutUint32(b[20:], 0xffff0000|uint32(fdp&0xffff))
		le.PutUint32(b[24:], uint32(fdp>>16&0xffff)<<12)
	}
	return 28
}

func (c *CPU) loadEnv(b []byte, short bool) {
	f := &c.fpu
	le := binary.LittleEndian
	real := c.cr0&cr0PE == 0 || c.fl&flagVM != 0
	var tw uint16
	if short {
		f.fcw, f.fsw, tw = le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint16(b[4:])
		f.fip, f.fcs = uint64(le.Uint16(b[6:])), le.Uint16(b[8:])
		f.fdp, f.fds = uint64(le.Uint16(b[10:])), le.Uint16(b[12:])
		f.fop = 0
		if real {
			f.fip |= uint64(f.fcs>>12) << 16
			f.fop = f.fcs & 0x7ff
			f.fdp |= uint64(f.fds>>12) << 16
			f.fcs, f.fds = 0, 0
		}
	} else {
		f.fcw, f.fsw, tw = le.Uint16(b[0:]), le.Uint16(b[4:]), le.Uint16(b[8:])
		f.fip = uint64(le.Uint32(b[12:]))
		f.fcs = le.Uint16(b[16:])
		f.fop = le.Uint16(b[18:]) & 0x7ff
		f.fdp = uint64(le.Uint32(b[20:]))
		f.fds = le.Uint16(b[24:])
		if real {
			w := le.Uint32(b[16:])
			f.fip = f.fip&0xffff | uint64(w>>12&0xffff)<<16
			f.fop = uint16(w & 0x7ff)
			f.fdp = f.fdp&0xffff | uint64(le.Uint32(b[24:])>>12&0xffff)<<16
			f.fcs, f.fds = 0, 0
		}
	}
	f.ftw = fp.AbridgedTag(tw)
	f.fcw = fcwLoad(f.fcw)
	f.updateES()
}

// CPUID leaf 1 bits for what fpstate.go, exec_x87.go, exec_mmx.go,
// exec_sse.go, exec_sse42.go, exec_aes.go implement (each form
// host-checked by fpdiff_test.go): EDX FPU (0), MMX (23), FXSR (24), SSE
// (25), SSE2 (26); ECX SSE3 (0), PCLMULQDQ (1), SSSE3 (9), SSE4.1 (19),
// SSE4.2 (20), POPCNT (23), AES (25), XSAVE (26, xsave.go; OSXSAVE, bit
// 27, follows CR4 in cpuid.go). MONITOR (3) and AVX stay clear.
const (
	cpuidFPEDX = 1<<0 | 1<<23 | 1<<24 | 1<<25 | 1<<26
	cpuidFPECX = 1<<0 | 1<<1 | 1<<9 | 1<<19 | 1<<20 | 1<<23 | 1<<25 | 1<<26
)
