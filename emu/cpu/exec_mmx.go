package cpu

import (
	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/cpu/internal/fp"
)

// MMX: the integer lanes of exec_simd_int.go on the 64-bit registers that
// alias the x87 significands. Every MMX instruction but EMMS sets TOP to 0
// and tags all registers valid; a write also sets the register's exponent
// field to all ones (SDM Vol. 1 §9.5).

func (f *fpuState) mmxEnter() {
	f.setTop(0)
	f.ftw = 0xff
}

func (f *fpuState) mmxSet(r uint8, v uint64) { f.st[r&7] = fp.Ext80{Mant: v, SE: 0xffff} }

// hMmx: d = d op s on MMX register in.d; s from MMX in.s, memory, a
// general register or the immediate (in.ssz flags as hXmm).
func hMmx(c *CPU, in *insn) {
	if !c.mmxOK(in) {
		return
	}
	f := &c.fpu
	var s x128
	switch {
	case in.mem:
		var ok bool
		if s[0], ok = c.read(c.ea(in), in.sz); !ok {
			c.memFault(in)
			return
		}
	case in.ssz&xsGPR != 0:
		s[0] = c.r[in.s&15] & sizeMask[in.sz]
	case in.ssz&xsImm != 0:
		s[0] = uint64(in.op)
	case in.ssz&xsMMX == 0:
		s = c.fpu.xmm[in.s&15] // MOVQ2DQ-style XMM source
	default:
		s[0] = f.st[in.s&7].Mant
	}
	d := &f.tmp
	*d = x128{f.st[in.d&7].Mant, 0}
	xfns[in.imm](c, in, d, s)
	f.mmxEnter()
	f.mmxSet(in.d, d[0])
	in.next.h(c, in.next)
}

// hMmxOut moves MMX register in.s to memory or a general register (MOVD,
// MOVQ, MOVNTQ), or to the low quadword of an XMM register (MOVQ2DQ, in.op
// 1), or computes a general-register result (PMOVMSKB in.op 2, PEXTRW
// in.op 3).
func hMmxOut(c *CPU, in *insn) {
	if !c.mmxOK(in) {
		return
	}
	f := &c.fpu
	if in.op == 1 && c.cr4&cr4OSFXSR == 0 {
		c.fault(in, vecUD, 0)
		return
	}
	v := f.st[in.s&7].Mant
	switch in.op {
	case 1:
		c.fpu.xmm[in.d&15] = x128{v, 0}
	case 2:
		c.setReg(in.d, in.sz, pmovmskb(x128{v}, 8))
	case 3:
		c.setReg(in.d, in.sz, uint64(w16(x128{v}, int(in.ssz&3))))
	default:
		if in.mem {
			if !c.write(in, c.ea(in), in.sz, v) {
				c.memFault(in)
				return
			}
		} else {
			c.setReg(in.d, in.sz, v)
		}
	}
	f.mmxEnter()
	in.next.h(c, in.next)
}

func (c *CPU) buildMMX(in *insn, inst *x86asm.Inst, va uint64) {
	op := inst.Op
	a0, a1 := inst.Args[0], inst.Args[1]
	if imm, ok := inst.Args[2].(x86asm.Imm); ok {
		in.op = uint8(imm)
	}
	d, dIsMM := mmNum(a0)
	// Destinations other than an MMX register.
	if !dIsMM {
		s, _ := mmNum(a1)
		in.s = s
		switch a := a0.(type) {
		case x86asm.Mem:
			if op != x86asm.MOVD && op != x86asm.MOVQ && op != x86asm.MOVNTQ {
				return
			}
			setMem(in, inst, a, va)
			in.sz = uint8(inst.MemBytes)
			in.op = 0
		case x86asm.Reg:
			if x, ok := xmmNum(a); ok {
				if op != x86asm.MOVQ2DQ {
					return
				}
				in.d, in.op = x, 1
				break
			}
			r, sz, ok := regNum(a)
			if !ok {
				return
			}
			in.d, in.sz = r, sz
			switch op {
			case x86asm.MOVD, x86asm.MOVQ:
				in.op = 0
			case x86asm.PMOVMSKB:
				in.op = 2
			case x86asm.PEXTRW:
				in.ssz, in.op = in.op, 3
			default:
				return
			}
		default:
			return
		}
		in.h = hMmxOut
		return
	}
	in.d = d
	var idx uint64
	switch op {
	case x86asm.MOVD:
		idx = vecIdx[x86asm.MOVD]
	case x86asm.MOVQ, x86asm.MOVDQ2Q:
		idx = vecIdx[x86asm.MOVQ]
	default:
		var ok bool
		if idx, ok = mmxIdx[op]; !ok {
			if idx, ok = vecIdx[op]; !ok || !mmxLaneOps[op] {
				return
			}
		}
	}
	in.imm = idx
	switch a := a1.(type) {
	case x86asm.Mem:
		setMem(in, inst, a, va)
		in.sz = uint8(inst.MemBytes)
		if in.sz == 0 || in.sz > 8 {
			in.sz = 8
		}
	case x86asm.Imm:
		in.ssz = xsImm
		in.op = uint8(a)
	case x86asm.Reg:
		if s, ok := mmNum(a); ok {
			in.s, in.ssz = s, xsMMX
		} else if x, ok := xmmNum(a); ok && op == x86asm.MOVDQ2Q {
			in.s = x
		} else if r, sz, ok := regNum(a); ok {
			in.s, in.sz, in.ssz = r, sz, xsGPR
		} else {
			return
		}
	}
	in.h = hMmx
}

// mmxLaneOps are the operations whose MMX form is the XMM one on the low
// quadword.
var mmxLaneOps = map[x86asm.Op]bool{}

func init() {
	for _, op := range []x86asm.Op{
		x86asm.PADDB, x86asm.PADDW, x86asm.PADDD, x86asm.PADDQ, x86asm.PSUBB, x86asm.PSUBW, x86asm.PSUBD, x86asm.PSUBQ,
		x86asm.PADDSB, x86asm.PADDSW, x86asm.PADDUSB, x86asm.PADDUSW, x86asm.PSUBSB, x86asm.PSUBSW, x86asm.PSUBUSB, x86asm.PSUBUSW,
		x86asm.PCMPEQB, x86asm.PCMPEQW, x86asm.PCMPEQD, x86asm.PCMPGTB, x86asm.PCMPGTW, x86asm.PCMPGTD,
		x86asm.PAND, x86asm.PANDN, x86asm.POR, x86asm.PXOR, x86asm.PMULLW, x86asm.PMULHW, x86asm.PMULHUW, x86asm.PMULUDQ,
		x86asm.PMADDWD, x86asm.PMINUB, x86asm.PMAXUB, x86asm.PMINSW, x86asm.PMAXSW, x86asm.PAVGB, x86asm.PAVGW, x86asm.PSADBW,
		x86asm.PSLLW, x86asm.PSRLW, x86asm.PSRAW, x86asm.PSLLD, x86asm.PSRLD, x86asm.PSRAD, x86asm.PSLLQ, x86asm.PSRLQ,
		x86asm.PUNPCKLBW, x86asm.PUNPCKLWD, x86asm.PUNPCKLDQ, x86asm.PMADDUBSW,
		x86asm.PABSB, x86asm.PABSW, x86asm.PABSD, x86asm.PSIGNB, x86asm.PSIGNW, x86asm.PSIGND, x86asm.PMULHRSW,
	} {
		mmxLaneOps[op] = true
	}
}

// The conversions between MMX and SSE registers (in.op: cvPI2PS ...).
// With an MMX register operand they make the MMX transition and, like
// MMX instructions, deliver a pending x87 error first (SDM Vol. 1 §11.6.8).
const (
	cvPI2PS = iota
	cvPS2PI
	cvTPS2PI
	cvPI2PD
	cvPD2PI
	cvTPD2PI
)

func hCvtPI(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	f := &c.fpu
	mmxSrc := (in.op == cvPI2PS || in.op == cvPI2PD) && !in.mem
	mmxDst := in.op != cvPI2PS && in.op != cvPI2PD
	if (mmxSrc || mmxDst) && f.fsw&fswES != 0 && c.cr0&cr0NE != 0 {
		c.fault(in, vecMF, 0)
		return
	}
	var s x128
	switch {
	case in.mem:
		var ok bool
		if s, ok = c.simdLoad(in, in.sz == 16); !ok {
			return
		}
	case mmxSrc:
		s[0] = f.st[in.s&7].Mant
	default:
		s = f.xmm[in.s&15]
	}
	mx := f.mxcsr
	var fl uint32
	var r x128
	switch in.op {
	case cvPI2PS:
		r = f.xmm[in.d&15]
		for i := 0; i < 2; i++ {
			v, e := fp.IntToF32(int64(int32(d32(s, i))), mx)
			setD32(&r, i, v)
			fl |= e
		}
	case cvPI2PD:
		r[0], _ = fp.IntToF64(int64(int32(s[0])), mx)
		r[1], _ = fp.IntToF64(int64(int32(s[0]>>32)), mx)
	case cvPS2PI, cvTPS2PI:
		for i := 0; i < 2; i++ {
			v, e := fp.F32ToInt(d32(s, i), mx, 32, in.op == cvTPS2PI)
			setD32(&r, i, uint32(v))
			fl |= e
		}
	default:
		for i := 0; i < 2; i++ {
			v, e := fp.F64ToInt(s[i], mx, 32, in.op == cvTPD2PI)
			setD32(&r, i, uint32(v))
			fl |= e
		}
	}
	if fl != 0 && !c.simdFault(in, fl) {
		return
	}
	if mmxSrc || mmxDst {
		f.mmxEnter()
	}
	if mmxDst {
		f.mmxSet(in.d, r[0])
	} else {
		f.xmm[in.d&15] = r
	}
	in.next.h(c, in.next)
}

// hMaskmov is MASKMOVDQU (in.sz 16) and MASKMOVQ (in.sz 8): the bytes of
// in.d whose mask byte in in.s has its top bit set go to [RDI] (DS; the
// address size from in.asz). Both ends are checked first.
func hMaskmov(c *CPU, in *insn) {
	f := &c.fpu
	var v, m x128
	if in.sz == 16 {
		if !c.sseOK(in) {
			return
		}
		v, m = f.xmm[in.d&15], f.xmm[in.s&15]
	} else {
		if !c.sseOK(in) || !c.mmxOK(in) {
			return
		}
		v[0], m[0] = f.st[in.d&7].Mant, f.st[in.s&7].Mant
		f.mmxEnter()
	}
	va := c.ea(in) // DS:rDI at the address size (build_fp.go)
	if m != (x128{}) {
		if _, ok := c.translateW(va); !ok {
			c.memFault(in)
			return
		}
		if _, ok := c.translateW(va + uint64(in.sz) - 1); !ok {
			c.memFault(in)
			return
		}
	}
	for i := 0; i < int(in.sz); i++ {
		if b8(m, i)&0x80 != 0 && !c.write(in, va+uint64(i), 1, uint64(b8(v, i))) {
			c.memFault(in)
			return
		}
	}
	in.next.h(c, in.next)
}
