#include "textflag.h"

// func runfx(st *State, area uintptr)
//
// area is 16-byte aligned: the host's state is saved at area+0, the test's
// state is at area+512 and the scratch memory at area+1024 (its address is
// what the code finds in RSI). R14 is free here: the ABI0 wrapper restores
// g after the call, and the code under test must not touch R12-R15.
TEXT ·runfx(SB), NOSPLIT, $0-16
	MOVQ st+0(FP), R12
	MOVQ area+8(FP), R14
	FXSAVE64 0(R14)
	FXRSTOR64 512(R14)
	MOVQ 136(R12), R13
	MOVQ 128(R12), AX
	PUSHQ AX
	POPFQ
	MOVQ 0(R12), AX
	MOVQ 8(R12), CX
	MOVQ 16(R12), DX
	MOVQ 24(R12), BX
	LEAQ 1024(R14), SI
	MOVQ 56(R12), DI
	MOVQ 64(R12), R8
	MOVQ 72(R12), R9
	MOVQ 80(R12), R10
	MOVQ 88(R12), R11
	CALL R13
	PUSHFQ
	POPQ R13
	CLD
	MOVQ R13, 128(R12)
	MOVQ AX, 0(R12)
	MOVQ CX, 8(R12)
	MOVQ DX, 16(R12)
	MOVQ BX, 24(R12)
	MOVQ SI, 48(R12)
	MOVQ DI, 56(R12)
	MOVQ R8, 64(R12)
	MOVQ R9, 72(R12)
	MOVQ R10, 80(R12)
	MOVQ R11, 88(R12)
	FXSAVE64 512(R14)
	FXRSTOR64 0(R14)
	RET
