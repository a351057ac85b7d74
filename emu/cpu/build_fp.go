package cpu

import (
	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/cpu/internal/fp"
)

// buildFP is build's entry for x87, MMX, SSE-SSE4.2, PCLMULQDQ and the state
// instructions: it reports whether it took the instruction (leaving in.h
// nil, i.e. #UD, for forms it does not implement).

// vecOps maps an SSE/MMX mnemonic to its lane operation.
var vecOps = map[x86asm.Op]xfn{}

// unaligned are the m128 forms exempt from the alignment check.
var unaligned = map[x86asm.Op]bool{
	x86asm.MOVUPS: true, x86asm.MOVUPD: true, x86asm.MOVDQU: true, x86asm.LDDQU: true,
}

func init() {
	u8 := func(f func(a, b uint8) uint8) xfn { return e8(f) }
	v := vecOps
	v[x86asm.PADDB] = u8(func(a, b uint8) uint8 { return a + b })
	v[x86asm.PADDW] = e16(func(a, b uint16) uint16 { return a + b })
	v[x86asm.PADDD] = e32(func(a, b uint32) uint32 { return a + b })
	v[x86asm.PADDQ] = e64(func(a, b uint64) uint64 { return a + b })
	v[x86asm.PSUBB] = u8(func(a, b uint8) uint8 { return a - b })
	v[x86asm.PSUBW] = e16(func(a, b uint16) uint16 { return a - b })
	v[x86asm.PSUBD] = e32(func(a, b uint32) uint32 { return a - b })
	v[x86asm.PSUBQ] = e64(func(a, b uint64) uint64 { return a - b })
	v[x86asm.PADDSB] = u8(func(a, b uint8) uint8 { return sat8s(int32(int8(a)) + int32(int8(b))) })
	v[x86asm.PADDSW] = e16(func(a, b uint16) uint16 { return sat16s(int32(int16(a)) + int32(int16(b))) })
	v[x86asm.PADDUSB] = u8(func(a, b uint8) uint8 { return sat8u(int32(a) + int32(b)) })
	v[x86asm.PADDUSW] = e16(func(a, b uint16) uint16 { return sat16u(int32(a) + int32(b)) })
	v[x86asm.PSUBSB] = u8(func(a, b uint8) uint8 { return sat8s(int32(int8(a)) - int32(int8(b))) })
	v[x86asm.PSUBSW] = e16(func(a, b uint16) uint16 { return sat16s(int32(int16(a)) - int32(int16(b))) })
	v[x86asm.PSUBUSB] = u8(func(a, b uint8) uint8 { return sat8u(int32(a) - int32(b)) })
	v[x86asm.PSUBUSW] = e16(func(a, b uint16) uint16 { return sat16u(int32(a) - int32(b)) })
	v[x86asm.PCMPEQB] = u8(func(a, b uint8) uint8 { return mask8(a == b) })
	v[x86asm.PCMPEQW] = e16(func(a, b uint16) uint16 { return mask16(a == b) })
	v[x86asm.PCMPEQD] = e32(func(a, b uint32) uint32 { return mask32(a == b) })
	v[x86asm.PCMPEQQ] = e64(func(a, b uint64) uint64 { return mask64(a == b) })
	v[x86asm.PCMPGTB] = u8(func(a, b uint8) uint8 { return mask8(int8(a) > int8(b)) })
	v[x86asm.PCMPGTW] = e16(func(a, b uint16) uint16 { return mask16(int16(a) > int16(b)) })
	v[x86asm.PCMPGTD] = e32(func(a, b uint32) uint32 { return mask32(int32(a) > int32(b)) })
	v[x86asm.PCMPGTQ] = e64(func(a, b uint64) uint64 { return mask64(int64(a) > int64(b)) })
	v[x86asm.PAND] = e64(and64)
	v[x86asm.PANDN] = e64(andn64)
	v[x86asm.POR] = e64(or64)
	v[x86asm.PXOR] = e64(xor64)
	v[x86asm.ANDPS], v[x86asm.ANDPD] = e64(and64), e64(and64)
	v[x86asm.ANDNPS], v[x86asm.ANDNPD] = e64(andn64), e64(andn64)
	v[x86asm.ORPS], v[x86asm.ORPD] = e64(or64), e64(or64)
	v[x86asm.XORPS], v[x86asm.XORPD] = e64(xor64), e64(xor64)
	v[x86asm.PMULLW] = e16(func(a, b uint16) uint16 { return a * b })
	v[x86asm.PMULHW] = e16(func(a, b uint16) uint16 { return uint16(int32(int16(a)) * int32(int16(b)) >> 16) })
	v[x86asm.PMULHUW] = e16(func(a, b uint16) uint16 { return uint16(uint32(a) * uint32(b) >> 16) })
	v[x86asm.PMULLD] = e32(func(a, b uint32) uint32 { return a * b })
	v[x86asm.PMULUDQ] = pmuludq
	v[x86asm.PMULDQ] = pmuldq
	v[x86asm.PMADDWD] = pmaddwd
	v[x86asm.PMINUB] = u8(func(a, b uint8) uint8 { return min(a, b) })
	v[x86asm.PMAXUB] = u8(func(a, b uint8) uint8 { return max(a, b) })
	v[x86asm.PMINSW] = e16(func(a, b uint16) uint16 { return uint16(min(int16(a), int16(b))) })
	v[x86asm.PMAXSW] = e16(func(a, b uint16) uint16 { return uint16(max(int16(a), int16(b))) })
	v[x86asm.PMINSB] = u8(func(a, b uint8) uint8 { return uint8(min(int8(a), int8(b))) })
	v[x86asm.PMAXSB] = u8(func(a, b uint8) uint8 { return uint8(max(int8(a), int8(b))) })
	v[x86asm.PMINUW] = e16(func(a, b uint16) uint16 { return min(a, b) })
	v[x86asm.PMAXUW] = e16(func(a, b uint16) uint16 { return max(a, b) })
	v[x86asm.PMINSD] = e32(func(a, b uint32) uint32 { return uint32(min(int32(a), int32(b))) })
	v[x86asm.PMAXSD] = e32(func(a, b uint32) uint32 { return uint32(max(int32(a), int32(b))) })
	v[x86asm.PMINUD] = e32(func(a, b uint32) uint32 { return min(a, b) })
	v[x86asm.PMAXUD] = e32(func(a, b uint32) uint32 { return max(a, b) })
	v[x86asm.PAVGB] = u8(func(a, b uint8) uint8 { return uint8((uint16(a) + uint16(b) + 1) >> 1) })
	v[x86asm.PAVGW] = e16(func(a, b uint16) uint16 { return uint16((uint32(a) + uint32(b) + 1) >> 1) })
	v[x86asm.PSADBW] = psadbw
	v[x86asm.PSLLW], v[x86asm.PSRLW], v[x86asm.PSRAW] = xShift(0, 16), xShift(1, 16), xShift(2, 16)
	v[x86asm.PSLLD], v[x86asm.PSRLD], v[x86asm.PSRAD] = xShift(0, 32), xShift(1, 32), xShift(2, 32)
	v[x86asm.PSLLQ], v[x86asm.PSRLQ] = xShift(0, 64), xShift(1, 64)
	v[x86asm.PSLLDQ], v[x86asm.PSRLDQ] = byteShift(true), byteShift(false)
	v[x86asm.PUNPCKLBW], v[x86asm.PUNPCKHBW] = unpack(1, false), unpack(1, true)
	v[x86asm.PUNPCKLWD], v[x86asm.PUNPCKHWD] = unpack(2, false), unpack(2, true)
	v[x86asm.PUNPCKLDQ], v[x86asm.PUNPCKHDQ] = unpack(4, false), unpack(4, true)
	v[x86asm.PUNPCKLQDQ], v[x86asm.PUNPCKHQDQ] = unpack(8, false), unpack(8, true)
	v[x86asm.UNPCKLPS], v[x86asm.UNPCKHPS] = unpack(4, false), unpack(4, true)
	v[x86asm.UNPCKLPD], v[x86asm.UNPCKHPD] = unpack(8, false), unpack(8, true)
	v[x86asm.PACKSSWB], v[x86asm.PACKUSWB] = packSSWB, packUSWB
	v[x86asm.PACKSSDW], v[x86asm.PACKUSDW] = packSSDW, packUSDW
	v[x86asm.PSHUFD], v[x86asm.PSHUFLW], v[x86asm.PSHUFHW] = pshufd, pshuflw, pshufhw
	v[x86asm.SHUFPS], v[x86asm.SHUFPD] = shufps, shufpd
	v[x86asm.PINSRW] = pinsrw
	v[x86asm.MOVAPS], v[x86asm.MOVAPD], v[x86asm.MOVDQA] = movFull, movFull, movFull
	v[x86asm.MOVUPS], v[x86asm.MOVUPD], v[x86asm.MOVDQU] = movFull, movFull, movFull
	v[x86asm.LDDQU], v[x86asm.MOVNTDQA] = movFull, movFull
	v[x86asm.MOVSS], v[x86asm.MOVSD_XMM] = movScalar32, movScalar64
	v[x86asm.MOVQ], v[x86asm.MOVD] = movZeroQ, movZeroD
	v[x86asm.MOVLPS], v[x86asm.MOVLPD] = movLo, movLo
	v[x86asm.MOVHPS], v[x86asm.MOVHPD] = movHi, movHi
	v[x86asm.MOVHLPS], v[x86asm.MOVLHPS] = movHLPS, movLHPS
	v[x86asm.MOVSLDUP], v[x86asm.MOVSHDUP], v[x86asm.MOVDDUP] = movsldup, movshdup, movddup

	v[x86asm.ADDPS], v[x86asm.ADDSS] = ps(fp.AddF32), ss(fp.AddF32)
	v[x86asm.SUBPS], v[x86asm.SUBSS] = ps(fp.SubF32), ss(fp.SubF32)
	v[x86asm.MULPS], v[x86asm.MULSS] = ps(fp.MulF32), ss(fp.MulF32)
	v[x86asm.DIVPS], v[x86asm.DIVSS] = ps(fp.DivF32), ss(fp.DivF32)
	v[x86asm.MINPS], v[x86asm.MINSS] = ps(fp.MinF32), ss(fp.MinF32)
	v[x86asm.MAXPS], v[x86asm.MAXSS] = ps(fp.MaxF32), ss(fp.MaxF32)
	v[x86asm.SQRTPS], v[x86asm.SQRTSS] = ps(sqrt32), ss(sqrt32)
	v[x86asm.ADDPD], v[x86asm.ADDSD] = pd(fp.AddF64), sd(fp.AddF64)
	v[x86asm.SUBPD], v[x86asm.SUBSD] = pd(fp.SubF64), sd(fp.SubF64)
	v[x86asm.MULPD], v[x86asm.MULSD] = pd(fp.MulF64), sd(fp.MulF64)
	v[x86asm.DIVPD], v[x86asm.DIVSD] = pd(fp.DivF64), sd(fp.DivF64)
	v[x86asm.MINPD], v[x86asm.MINSD] = pd(fp.MinF64), sd(fp.MinF64)
	v[x86asm.MAXPD], v[x86asm.MAXSD] = pd(fp.MaxF64), sd(fp.MaxF64)
	v[x86asm.SQRTPD], v[x86asm.SQRTSD] = pd(sqrt64), sd(sqrt64)
	v[x86asm.CMPPS], v[x86asm.CMPSS], v[x86asm.CMPPD], v[x86asm.CMPSD_XMM] = cmpps, cmpss, cmppd, cmpsd
	v[x86asm.CVTPS2PD], v[x86asm.CVTPD2PS] = cvtps2pd, cvtpd2ps
	v[x86asm.CVTSS2SD], v[x86asm.CVTSD2SS] = cvtss2sd, cvtsd2ss
	v[x86asm.CVTDQ2PS], v[x86asm.CVTDQ2PD] = cvtdq2ps, cvtdq2pd
	v[x86asm.CVTPS2DQ], v[x86asm.CVTTPS2DQ] = cvtps2dq(false), cvtps2dq(true)
	v[x86asm.CVTPD2DQ], v[x86asm.CVTTPD2DQ] = cvtpd2dq(false), cvtpd2dq(true)
	v[x86asm.CVTSI2SS], v[x86asm.CVTSI2SD] = cvtsi2ss, cvtsi2sd
	v[x86asm.ADDSUBPS], v[x86asm.ADDSUBPD] = addsubps, addsubpd
	v[x86asm.HADDPS], v[x86asm.HSUBPS] = haddps(fp.AddF32), haddps(fp.SubF32)
	v[x86asm.HADDPD], v[x86asm.HSUBPD] = haddpd(fp.AddF64), haddpd(fp.SubF64)

	v[x86asm.PSHUFB], v[x86asm.PALIGNR] = pshufb, palignr
	v[x86asm.PABSB], v[x86asm.PABSW], v[x86asm.PABSD] = e8(abs8), e16(abs16), e32(abs32)
	v[x86asm.PSIGNB], v[x86asm.PSIGNW], v[x86asm.PSIGND] = e8(sign8), e16(sign16), e32(sign32)
	v[x86asm.PHADDW], v[x86asm.PHSUBW], v[x86asm.PHADDSW], v[x86asm.PHSUBSW] = hadd16(0), hadd16(1), hadd16(2), hadd16(3)
	v[x86asm.PHADDD], v[x86asm.PHSUBD] = hadd32(false), hadd32(true)
	v[x86asm.PMADDUBSW], v[x86asm.PMULHRSW] = pmaddubsw, e16(pmulhrsw)

	v[x86asm.PMOVZXBW], v[x86asm.PMOVZXBD], v[x86asm.PMOVZXBQ] = pmovx(1, 2, false), pmovx(1, 4, false), pmovx(1, 8, false)
	v[x86asm.PMOVZXWD], v[x86asm.PMOVZXWQ], v[x86asm.PMOVZXDQ] = pmovx(2, 4, false), pmovx(2, 8, false), pmovx(4, 8, false)
	v[x86asm.PMOVSXBW], v[x86asm.PMOVSXBD], v[x86asm.PMOVSXBQ] = pmovx(1, 2, true), pmovx(1, 4, true), pmovx(1, 8, true)
	v[x86asm.PMOVSXWD], v[x86asm.PMOVSXWQ], v[x86asm.PMOVSXDQ] = pmovx(2, 4, true), pmovx(2, 8, true), pmovx(4, 8, true)
	v[x86asm.PBLENDW], v[x86asm.BLENDPS], v[x86asm.BLENDPD] = pblendw, blendps, blendpd
	v[x86asm.PBLENDVB], v[x86asm.BLENDVPS], v[x86asm.BLENDVPD] = pblendvb, blendvps, blendvpd
	v[x86asm.PHMINPOSUW], v[x86asm.MPSADBW], v[x86asm.INSERTPS] = phminposuw, mpsadbw, insertps
	v[x86asm.PINSRB], v[x86asm.PINSRD], v[x86asm.PINSRQ] = pinsrb, pinsrd, pinsrq
	v[x86asm.ROUNDPS], v[x86asm.ROUNDPD], v[x86asm.ROUNDSS], v[x86asm.ROUNDSD] = roundps, roundpd, roundss, roundsd
	v[x86asm.DPPS], v[x86asm.DPPD] = dpps, dppd
	v[x86asm.PCLMULQDQ] = pclmul
	v[x86asm.AESENC], v[x86asm.AESENCLAST] = aesRound(0), aesRound(1)
	v[x86asm.AESDEC], v[x86asm.AESDECLAST] = aesRound(2), aesRound(3)
	v[x86asm.AESIMC], v[x86asm.AESKEYGENASSIST] = aesimc, aeskeygenassist
	v[x86asm.RCPPS], v[x86asm.RCPSS] = rcpps(false), rcpss(false)
	v[x86asm.RSQRTPS], v[x86asm.RSQRTSS] = rcpps(true), rcpss(true)

	for _, op := range sortedOps(vecOps) {
		vecIdx[op] = xfnIndex(vecOps[op])
	}
	for _, op := range []x86asm.Op{x86asm.PUNPCKHBW, x86asm.PUNPCKHWD, x86asm.PUNPCKHDQ} {
		lo := map[x86asm.Op]x86asm.Op{x86asm.PUNPCKHBW: x86asm.PUNPCKLBW, x86asm.PUNPCKHWD: x86asm.PUNPCKLWD, x86asm.PUNPCKHDQ: x86asm.PUNPCKLDQ}[op]
		fl := vecOps[lo]
		mmxIdx[op] = xfnIndex(func(c *CPU, in *insn, d *x128, s x128) uint32 {
			d[0] >>= 32
			return fl(c, in, d, x128{s[0] >> 32})
		})
	}
	for _, op := range []x86asm.Op{x86asm.PACKSSWB, x86asm.PACKUSWB, x86asm.PACKSSDW,
		x86asm.PHADDW, x86asm.PHADDD, x86asm.PHADDSW, x86asm.PHSUBW, x86asm.PHSUBD, x86asm.PHSUBSW} {
		f := vecOps[op]
		mmxIdx[op] = xfnIndex(func(c *CPU, in *insn, d *x128, s x128) uint32 {
			d[1] = s[0]
			return f(c, in, d, x128{})
		})
	}
	mmxIdx[x86asm.PINSRW] = xfnIndex(func(_ *CPU, in *insn, d *x128, s x128) uint32 {
		setW16(d, int(in.op&3), uint16(s[0]))
		return 0
	})
	mmxIdx[x86asm.PSHUFB] = xfnIndex(func(_ *CPU, _ *insn, d *x128, s x128) uint32 {
		var r uint64
		for i := 0; i < 8; i++ {
			if b := uint8(s[0] >> (8 * uint(i))); b&0x80 == 0 {
				r |= (d[0] >> (8 * uint(b&7)) & 0xff) << (8 * uint(i))
			}
		}
		d[0] = r
		return 0
	})
	mmxIdx[x86asm.PALIGNR] = xfnIndex(func(_ *CPU, in *insn, d *x128, s x128) uint32 {
		n := uint(in.op)
		switch {
		case n >= 16:
			d[0] = 0
		case n >= 8:
			d[0] >>= 8 * (n - 8)
		case n == 0:
			d[0] = s[0]
		default:
			d[0] = s[0]>>(8*n) | d[0]<<(64-8*n)
		}
		return 0
	})
	mmxIdx[x86asm.PSHUFW] = xfnIndex(func(c *CPU, in *insn, d *x128, s x128) uint32 {
		return pshuflw(c, in, d, s)
	})
	gIdx = map[string]uint64{
		"movmskps": gfnIndex(gMovmskps), "movmskpd": gfnIndex(gMovmskpd),
		"pmovmskb": gfnIndex(gPmovmskb), "pextrw": gfnIndex(gPextrw),
		"cvtss2si": gfnIndex(gCvt32(false)), "cvttss2si": gfnIndex(gCvt32(true)),
		"cvtsd2si": gfnIndex(gCvt64(false)), "cvttsd2si": gfnIndex(gCvt64(true)),
		"pmovmskb8": gfnIndex(func(_ *CPU, _ *insn, s x128) (uint64, uint32) { return pmovmskb(s, 8), 0 }),
	}
}

var vecIdx = map[x86asm.Op]uint64{}
var mmxIdx = map[x86asm.Op]uint64{}
var gIdx map[string]uint64

func sortedOps(m map[x86asm.Op]xfn) []x86asm.Op {
	var out []x86asm.Op
	for op := x86asm.Op(0); op < 2048; op++ {
		if _, ok := m[op]; ok {
			out = append(out, op)
		}
	}
	return out
}

func xmmNum(a x86asm.Arg) (uint8, bool) {
	if r, ok := a.(x86asm.Reg); ok && r >= x86asm.X0 && r <= x86asm.X15 {
		return uint8(r - x86asm.X0), true
	}
	return 0, false
}

func mmNum(a x86asm.Arg) (uint8, bool) {
	if r, ok := a.(x86asm.Reg); ok && r >= x86asm.M0 && r <= x86asm.M7 {
		return uint8(r - x86asm.M0), true
	}
	return 0, false
}

func gprArg(a x86asm.Arg) (uint8, uint8, bool) {
	if r, ok := a.(x86asm.Reg); ok {
		return regNum(r)
	}
	return 0, 0, false
}

// fpStateOps are the state-management instructions hFPState runs.
var fpStateOps = map[x86asm.Op]uint8{
	x86asm.FXSAVE: fsFXSAVE, x86asm.FXSAVE64: fsFXSAVE, x86asm.FXRSTOR: fsFXRSTOR, x86asm.FXRSTOR64: fsFXRSTOR,
	x86asm.LDMXCSR: fsLDMXCSR, x86asm.STMXCSR: fsSTMXCSR, x86asm.FNINIT: fsFNINIT, x86asm.FNCLEX: fsFNCLEX,
	x86asm.FNSTCW: fsFNSTCW, x86asm.FLDCW: fsFLDCW, x86asm.FNSTENV: fsFNSTENV, x86asm.FLDENV: fsFLDENV,
	x86asm.FNSAVE: fsFNSAVE, x86asm.FRSTOR: fsFRSTOR, x86asm.FWAIT: fsFWAIT, x86asm.EMMS: fsEMMS,
}

// fpClaims reports whether buildFP handles inst at all (for the LOCK
// check, which must not swallow LOCKed integer instructions).
func (c *CPU) fpClaims(inst *x86asm.Inst) bool {
	if _, ok := fpStateOps[inst.Op]; ok || inst.Op == x86asm.FNSTSW || inst.Op == x86asm.CRC32 {
		return true
	}
	if b := inst.Opcode >> 24; b >= 0xd8 && b <= 0xdf {
		return true
	}
	for _, a := range inst.Args[:2] {
		if _, ok := xmmNum(a); ok {
			return true
		}
		if _, ok := mmNum(a); ok {
			return true
		}
	}
	return false
}

var cvtPIOps = map[x86asm.Op]uint8{
	x86asm.CVTPI2PS: cvPI2PS, x86asm.CVTPS2PI: cvPS2PI, x86asm.CVTTPS2PI: cvTPS2PI,
	x86asm.CVTPI2PD: cvPI2PD, x86asm.CVTPD2PI: cvPD2PI, x86asm.CVTTPD2PI: cvTPD2PI,
}

// fpReadOnlyMem are the x87, SSE and state instructions whose only
// (first) operand is memory they read, for markWrite: they may load from
// a read-only data segment (SDM Vol. 3 §5.4: only a write needs a
// writable one).
var fpReadOnlyMem = map[x86asm.Op]bool{
	x86asm.FLD: true, x86asm.FILD: true, x86asm.FBLD: true, x86asm.FLDCW: true, x86asm.FLDENV: true,
	x86asm.FRSTOR: true, x86asm.FADD: true, x86asm.FMUL: true, x86asm.FCOM: true, x86asm.FCOMP: true,
	x86asm.FSUB: true, x86asm.FSUBR: true, x86asm.FDIV: true, x86asm.FDIVR: true, x86asm.FIADD: true,
	x86asm.FIMUL: true, x86asm.FICOM: true, x86asm.FICOMP: true, x86asm.FISUB: true, x86asm.FISUBR: true,
	x86asm.FIDIV: true, x86asm.FIDIVR: true, x86asm.LDMXCSR: true, x86asm.FXRSTOR: true,
	x86asm.FXRSTOR64: true, x86asm.XRSTOR: true, x86asm.XRSTOR64: true,
}

func (c *CPU) buildFP(in *insn, inst *x86asm.Inst, va uint64) bool {
	op := inst.Op
	if c.buildXSave(in, inst, va) { // xsave.go
		return true
	}
	if hasPrefix(inst, x86asm.PrefixLOCK) && c.fpClaims(inst) {
		return true // LOCK with x87/MMX/SSE is #UD
	}
	if s, ok := fpStateOps[op]; ok {
		in.op = s
		in.sz = uint8(inst.DataSize / 8)
		if m, ok := inst.Args[0].(x86asm.Mem); ok {
			setMem(in, inst, m, va)
		}
		if op == x86asm.FNSTSW {
			in.op = fsFNSTSW
		}
		in.h = hFPState
		if op == x86asm.FXRSTOR || op == x86asm.FXRSTOR64 || op == x86asm.FLDCW || op == x86asm.FLDENV || op == x86asm.FRSTOR {
			// Loads can unmask a pending exception or change MXCSR;
			// nothing decoded depends on them, so the block goes on.
		}
		return true
	}
	if op == x86asm.FNSTSW {
		in.op = fsFNSTSW
		if _, ok := inst.Args[0].(x86asm.Reg); ok {
			in.op = fsFNSTSWAX
		} else if m, ok := inst.Args[0].(x86asm.Mem); ok {
			setMem(in, inst, m, va)
		}
		in.h = hFPState
		return true
	}
	if b := inst.Opcode >> 24; b >= 0xd8 && b <= 0xdf && inst.Len > 0 {
		c.buildX87(in, inst, va)
		return true
	}
	switch op {
	case x86asm.CRC32:
		d, dsz, ok1 := gprArg(inst.Args[0])
		if !ok1 {
			return true
		}
		in.d, in.sz = d, dsz
		switch a := inst.Args[1].(type) {
		case x86asm.Mem:
			setMem(in, inst, a, va)
			in.ssz = uint8(inst.MemBytes)
		case x86asm.Reg:
			r, sz, ok := regNum(a)
			if !ok {
				return true
			}
			in.s, in.ssz = r, sz
		}
		if in.ssz != 0 {
			in.h = hCrc32
		}
		return true
	case x86asm.PCMPESTRI, x86asm.PCMPESTRM, x86asm.PCMPISTRI, x86asm.PCMPISTRM:
		x0, ok0 := xmmNum(inst.Args[0])
		imm, ok2 := inst.Args[2].(x86asm.Imm)
		if !ok0 || !ok2 {
			return true
		}
		in.d, in.op = x0, uint8(imm)
		if op == x86asm.PCMPESTRI || op == x86asm.PCMPESTRM {
			in.ssz |= strExplicit
		}
		if op == x86asm.PCMPESTRM || op == x86asm.PCMPISTRM {
			in.ssz |= strMask
		}
		if inst.DataSize == 64 {
			in.ssz |= strW64
		}
		switch a := inst.Args[1].(type) {
		case x86asm.Mem:
			setMem(in, inst, a, va)
		case x86asm.Reg:
			x1, ok := xmmNum(a)
			if !ok {
				return true
			}
			in.s = x1
		}
		in.h = hPcmpstr
		return true
	case x86asm.MOVNTI: // (its prefixes are #UD: prefixud.go npOps)
		if operands(in, inst, va) == fMR {
			in.h = hMovMR
		}
		return true
	}
	a0, a1 := inst.Args[0], inst.Args[1]
	if k, ok := cvtPIOps[op]; ok {
		in.op = k
		if r, ok := mmNum(a0); ok {
			in.d = r
		} else if r, ok := xmmNum(a0); ok {
			in.d = r
		} else {
			return true
		}
		switch a := a1.(type) {
		case x86asm.Mem:
			setMem(in, inst, a, va)
			in.sz = uint8(inst.MemBytes)
			if in.sz == 0 {
				in.sz = 16
			}
		case x86asm.Reg:
			if r, ok := mmNum(a); ok {
				in.s = r
			} else if r, ok := xmmNum(a); ok {
				in.s = r
			} else {
				return true
			}
		}
		in.h = hCvtPI
		return true
	}
	if op == x86asm.MASKMOVDQU || op == x86asm.MASKMOVQ {
		in.sz = 16
		if op == x86asm.MASKMOVQ {
			in.sz = 8
		}
		var ok0, ok1 bool
		if in.sz == 16 {
			in.d, ok0 = xmmNum(a0)
			in.s, ok1 = xmmNum(a1)
		} else {
			in.d, ok0 = mmNum(a0)
			in.s, ok1 = mmNum(a1)
		}
		// The store goes to DS:rDI (a segment prefix overrides DS), an
		// implicit operand x86asm does not list: give it the memory
		// operand it is, so ea applies the address size and the segment
		// as for any other (SDM MASKMOVDQU).
		di := map[int]x86asm.Reg{16: x86asm.DI, 32: x86asm.EDI, 64: x86asm.RDI}[inst.AddrSize]
		setMem(in, inst, x86asm.Mem{Segment: segPrefix(inst), Base: di}, va)
		if ok0 && ok1 {
			in.h = hMaskmov
		}
		return true
	}
	_, m0 := mmNum(a0)
	_, m1 := mmNum(a1)
	if m0 || m1 {
		c.buildMMX(in, inst, va)
		return true
	}
	x0, isX0 := xmmNum(a0)
	x1, isX1 := xmmNum(a1)
	if !isX0 && !isX1 {
		switch op {
		case x86asm.CVTSS2SI, x86asm.CVTTSS2SI, x86asm.CVTSD2SI, x86asm.CVTTSD2SI:
		default:
			return false
		}
	}
	if imm, ok := inst.Args[2].(x86asm.Imm); ok {
		in.op = uint8(imm)
	}
	mb := uint8(inst.MemBytes)
	align := mb == 16 && !unaligned[op]
	if align {
		in.ssz = xsAlign
	}
	switch op {
	case x86asm.COMISS, x86asm.UCOMISS, x86asm.COMISD, x86asm.UCOMISD, x86asm.PTEST:
		in.op = map[x86asm.Op]uint8{x86asm.COMISS: 0, x86asm.UCOMISS: 1, x86asm.COMISD: 2, x86asm.UCOMISD: 3, x86asm.PTEST: 4}[op]
		in.d = x0
		if m, ok := a1.(x86asm.Mem); ok {
			setMem(in, inst, m, va)
			in.sz = mb
		} else {
			in.s = x1
		}
		in.h = hComi
		return true
	case x86asm.PEXTRB, x86asm.PEXTRD, x86asm.PEXTRQ, x86asm.EXTRACTPS:
		in.ssz = map[x86asm.Op]uint8{x86asm.PEXTRB: 1, x86asm.PEXTRD: 4, x86asm.PEXTRQ: 8, x86asm.EXTRACTPS: 4}[op]
		in.s = x1
		if m, ok := a0.(x86asm.Mem); ok {
			setMem(in, inst, m, va)
		} else if r, sz, ok := gprArg(a0); ok {
			in.d, in.sz = r, sz
		} else {
			return true
		}
		in.h = hXmmExtract
		return true
	}
	// A general register destination.
	if r, sz, ok := gprArg(a0); ok && isX1 || ok && !isX0 {
		in.d, in.sz = r, sz
		switch op {
		case x86asm.MOVD, x86asm.MOVQ:
			in.s, in.ssz, in.op = x1, sz, 0
			in.h = hXmmExtract
			return true
		case x86asm.PEXTRW:
			if in.sz < 4 {
				return true
			}
			in.imm = gIdx["pextrw"]
		case x86asm.MOVMSKPS, x86asm.MOVMSKPD, x86asm.PMOVMSKB:
			in.imm = gIdx[map[x86asm.Op]string{x86asm.MOVMSKPS: "movmskps", x86asm.MOVMSKPD: "movmskpd", x86asm.PMOVMSKB: "pmovmskb"}[op]]
		case x86asm.CVTSS2SI, x86asm.CVTTSS2SI, x86asm.CVTSD2SI, x86asm.CVTTSD2SI:
			in.imm = gIdx[map[x86asm.Op]string{x86asm.CVTSS2SI: "cvtss2si", x86asm.CVTTSS2SI: "cvttss2si", x86asm.CVTSD2SI: "cvtsd2si", x86asm.CVTTSD2SI: "cvttsd2si"}[op]]
		default:
			return true
		}
		if m, ok := a1.(x86asm.Mem); ok {
			setMem(in, inst, m, va)
			in.ssz = mb
		} else {
			in.s = x1
		}
		in.h = hXmmToGPR
		return true
	}
	// A memory destination: the stores.
	if m, ok := a0.(x86asm.Mem); ok {
		switch op {
		case x86asm.MOVAPS, x86asm.MOVAPD, x86asm.MOVDQA, x86asm.MOVNTPS, x86asm.MOVNTPD, x86asm.MOVNTDQ:
			in.ssz = xsAlign
		case x86asm.MOVUPS, x86asm.MOVUPD, x86asm.MOVDQU, x86asm.MOVSS, x86asm.MOVSD_XMM,
			x86asm.MOVLPS, x86asm.MOVLPD, x86asm.MOVQ, x86asm.MOVD:
			in.ssz = 0
		case x86asm.MOVHPS, x86asm.MOVHPD:
			in.ssz, in.op = 0, 1
		case x86asm.PEXTRW:
			in.ssz, in.s = 2, x1
			setMem(in, inst, m, va)
			in.h = hXmmExtract
			return true
		default:
			return true
		}
		setMem(in, inst, m, va)
		in.s, in.sz = x1, mb
		if in.sz == 0 {
			in.sz = 16
		}
		in.h = hXmmStore
		return true
	}
	idx, ok := vecIdx[op]
	if !ok {
		return true
	}
	in.imm = idx
	in.d = x0
	switch a := a1.(type) {
	case x86asm.Mem:
		setMem(in, inst, a, va)
		in.sz = mb
		if in.sz == 0 {
			in.sz = 16
		}
		if op == x86asm.CVTSI2SS || op == x86asm.CVTSI2SD {
			in.sz = uint8(inst.DataSize / 8)
			if in.sz != 8 {
				in.sz = 4
			}
		}
	case x86asm.Imm:
		in.ssz |= xsImm
		in.op = uint8(a)
	case x86asm.Reg:
		if isX1 {
			in.s = x1
		} else if r, sz, ok := regNum(a); ok {
			in.s, in.sz = r, sz
			in.ssz |= xsGPR
		} else {
			return true
		}
	default:
		return true
	}
	in.h = hXmm
	return true
}
