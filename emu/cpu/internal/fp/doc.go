// Package fp is the floating-point arithmetic of the x87 FPU and of SSE's
// scalar float32/float64 lanes, in software and bit-exact against the
// hardware: issue 4's arithmetic core, kept apart from the interpreter's
// decoder and run loop, which call it.
//
// Every operation is a pure function: it takes the operands and the
// control bits that matter (the x87 control word, or MXCSR) and returns the
// result with the exception flags it raised, in the bit positions the FPU
// status word and MXCSR share (IE, DE, ZE, OE, UE, PE in bits 0-5; Intel
// SDM Vol. 1 §4.9, §8.1.3, §10.2.3). Stack handling, tags, the stack-fault
// bit SF, ES/B, #MF and #XM delivery belong to the caller, which merges the
// flags and decides from the masks whether the destination is written:
//
//   - x87: an unmasked IE, DE or ZE (a pre-computation exception) leaves
//     the destination unchanged (SDM Vol. 1 §8.5); an unmasked OE or UE
//     on a register destination stores the result with its exponent
//     rebiased by ∓24576 (§8.5.4, §8.5.5), which these functions return.
//   - SSE: any unmasked exception raised by any lane of an instruction
//     leaves the destination unchanged and raises #XM (§11.5.1); the flags
//     these functions return are the ones that would be reported.
//
// The status word bit C1 is returned with x87 results: set when the
// result was rounded up in magnitude (§8.1.3.3, "C1 round-up").
//
// Nothing allocates: operands and results are plain integers.
//
// # Which function an instruction calls
//
//	FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR st,st(i) and ...P  Arith80 (Add80, Sub80, Mul80, Div80)
//	the same with m32fp, m64fp, m16int, m32int         ArithF32, ArithF64, ArithInt
//	FSQRT FRNDINT FSCALE FXTRACT FPREM FPREM1          Sqrt80 RoundInt80 Scale80 Xtract80 Prem80
//	FCOM/FUCOM(P/PP) FTST, FCOMI/FUCOMI(P)             Compare80, CompareFlags80
//	FCOM/FICOM m32fp m64fp m16int m32int               CompareF32, CompareF64, CompareInt
//	FXAM                                               Xam80
//	FLD m32fp/m64fp, FILD, FBLD                        F32ToExt80, F64ToExt80, FromInt64, FromBCD
//	FST(P) m32fp/m64fp, FIST(P), FISTTP, FBSTP         Ext80ToF32, Ext80ToF64, ToInt80, ToBCD
//	FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2                  Const80
//	F2XM1 FYL2X FYL2XP1 FPATAN                         F2xm1 Yl2x Yl2xp1 Patan
//	FSIN FCOS FSINCOS FPTAN                            Sin80 Cos80 SinCos80 Tan80
//	ADD/SUB/MUL/DIV/SQRT/MIN/MAX SS/PS/SD/PD           AddF32 ... MaxF64 (per lane)
//	CMPccSS/PS/SD/PD, VCMP (32 predicates)             CmpF32, CmpF64
//	(U)COMISS/SD                                       ComiF32, ComiF64
//	CVT(T)SS2SI CVT(T)SD2SI CVT(T)PS2DQ CVT(T)PD2DQ    F32ToInt, F64ToInt
//	CVTSI2SS/SD CVTDQ2PS/PD CVTPI2PS/PD                IntToF32, IntToF64
//	CVTSS2SD CVTSD2SS CVTPS2PD CVTPD2PS                F32ToF64, F64ToF32
//	ROUNDSS/SD/PS/PD, DPPS, DPPD                       RoundF32, RoundF64, DotF32, DotF64
//	FSTENV/FSAVE tag word, FXSAVE abridged tag         FullTagWord, AbridgedTag (Tag80)
//
// FLD/FST of m80, FXCH, FCHS, FABS, FLD1, FLDZ and the stack itself are
// bit moves for the caller (FCHS/FABS flip or clear the sign of anything,
// NaNs included, and clear C1).
//
// # What the host taught (an AMD EPYC, Zen family)
//
// Every behaviour here is pinned by a differential test against the host
// CPU (hostexec.ExecFX). Where the SDM is silent or loose, the host said:
//
//   - Tininess is detected after rounding, for the x87 and SSE alike; FTZ
//     flushes exactly the results that would be tiny, with UE and PE.
//   - Two x87 NaNs: a QNaN beats an SNaN, else the larger significand
//     wins, and with equal significands the positive one. A memory operand
//     takes part unquieted (ArithF32/ArithF64).
//   - x/0 with a denormal x reports ZE alone (x87 and SSE); FSQRT/SQRTSS
//     of a negative denormal reports IE alone; FST m32/m64 of an 80-bit
//     denormal reports no DE; ROUNDSS/SD never report DE; an unmasked DE
//     stops an x87 arithmetic instruction before it computes (C1 clear).
//   - An unmasked OE/UE on a register destination delivers the result
//     rebiased by ∓24576, or ∞/0 when even that is out of range (FSCALE);
//     to memory it stores nothing and reports neither PE nor C1.
//   - FCOM/FUCOM write C0-C3 even when IE or DE is unmasked; FCOMI and
//     FUCOMI leave C0-C3 alone entirely (C1 included).
//   - FPREM/FPREM1 reduce by N = 32 + D mod 32 bits per step when the
//     exponents are D >= 64 apart; with a NaN, invalid or unmasked-DE
//     outcome they clear C1 and C2 and keep C0 and C3.
//   - Precision control 01 (reserved) rounds to 64 bits.
//   - MINSS/MAXSS under DAZ return the operand as DAZ read it (a zero).
//   - FSIN/FCOS/FSINCOS/FPTAN reduce by the 66-bit π exactly; F2XM1 of
//     |x| > 1 returns x with PE; FYL2X reports PE even when exact.
//
// The transcendental instructions (trans.go) are computed to about 2^-122
// and rounded once, i.e. correctly rounded; the host is not always, so
// some results differ from it by one unit in the last place (the tests
// count them; see TestX87Trig and TestX87Log).
package fp

// Exception flag bits, the same in the x87 status word and MXCSR.
const (
	IE = 1 << 0 // invalid operation
	DE = 1 << 1 // denormal operand
	ZE = 1 << 2 // divide by zero
	OE = 1 << 3 // overflow
	UE = 1 << 4 // underflow
	PE = 1 << 5 // precision (inexact)

	// C1 is the x87 status word's condition bit 1 (round-up indication).
	C1 = 1 << 9
	// C0, C2, C3 are the other x87 condition codes (compares, FXAM, FPREM).
	C0 = 1 << 8
	C2 = 1 << 10
	C3 = 1 << 14
)

// Rounding modes, as encoded in FCW bits 10-11 and MXCSR bits 13-14.
const (
	RoundNearest = 0
	RoundDown    = 1 // toward -inf
	RoundUp      = 2 // toward +inf
	RoundZero    = 3
)

// MXCSR control bits.
const (
	MXCSRDAZ = 1 << 6
	MXCSRFTZ = 1 << 15
)
