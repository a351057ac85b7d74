#include "textflag.h"

// runFull switches to the register file *st (all sixteen registers, the
// stack pointer included), jumps to the code through the entry pointer at
// hostexec.CodePage, and comes back in hostret, which the code reaches
// through the return pointer at CodePage+8. The Go stack pointer and the
// callee-saved registers live in package variables while the code runs,
// since no register survives it (ExecFull holds mu).
//
// func runFull(st *FullState)
TEXT ·runFull(SB), NOSPLIT, $0-8
	MOVQ st+0(FP), AX
	MOVQ AX, ·fullState(SB)
	MOVQ SP, ·goSP(SB)
	MOVQ BP, ·goBP(SB)
	MOVQ R12, ·goR12(SB)
	MOVQ R13, ·goR13(SB)
	MOVQ R14, ·goR14(SB)
	MOVQ R15, ·goR15(SB)
	LEAQ ·hostret(SB), CX
	MOVQ $0x140008, DX
	MOVQ CX, 0(DX)
	MOVQ 128(AX), CX
	PUSHQ CX
	POPFQ
	MOVQ 8(AX), CX
	MOVQ 16(AX), DX
	MOVQ 24(AX), BX
	MOVQ 40(AX), BP
	MOVQ 48(AX), SI
	MOVQ 56(AX), DI
	MOVQ 64(AX), R8
	MOVQ 72(AX), R9
	MOVQ 80(AX), R10
	MOVQ 88(AX), R11
	MOVQ 96(AX), R12
	MOVQ 104(AX), R13
	MOVQ 112(AX), R14
	MOVQ 120(AX), R15
	MOVQ 32(AX), SP
	MOVQ 0(AX), AX
	// jmp qword ptr [0x140000] (absolute disp32 through SIB)
	BYTE $0xFF; BYTE $0x24; BYTE $0x25; LONG $0x140000

// hostret saves the registers the code left, on a private stack so that
// nothing below the code's RSP is written, then returns to runFull's
// caller on the Go stack.
TEXT ·hostret(SB), NOSPLIT|NOFRAME, $0-0
	MOVQ SP, ·codeSP(SB)
	LEAQ ·scratch+1024(SB), SP
	PUSHFQ
	MOVQ AX, ·codeAX(SB)
	MOVQ ·fullState(SB), AX
	POPQ 128(AX)
	MOVQ CX, 8(AX)
	MOVQ DX, 16(AX)
	MOVQ BX, 24(AX)
	MOVQ BP, 40(AX)
	MOVQ SI, 48(AX)
	MOVQ DI, 56(AX)
	MOVQ R8, 64(AX)
	MOVQ R9, 72(AX)
	MOVQ R10, 80(AX)
	MOVQ R11, 88(AX)
	MOVQ R12, 96(AX)
	MOVQ R13, 104(AX)
	MOVQ R14, 112(AX)
	MOVQ R15, 120(AX)
	MOVQ ·codeSP(SB), CX
	MOVQ CX, 32(AX)
	MOVQ ·codeAX(SB), CX
	MOVQ CX, 0(AX)
	CLD
	MOVQ ·goSP(SB), SP
	MOVQ ·goBP(SB), BP
	MOVQ ·goR12(SB), R12
	MOVQ ·goR13(SB), R13
	MOVQ ·goR14(SB), R14
	MOVQ ·goR15(SB), R15
	RET
