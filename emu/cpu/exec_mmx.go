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
