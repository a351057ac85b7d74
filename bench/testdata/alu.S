# ALU workload: N iterations of a 6-instruction dependent integer chain.
# Retired instructions: 3 + 6*N + 1 (hlt). N = 1000000.
	.intel_syntax noprefix
	.code64
	.globl _start
_start:
	mov ecx, 1000000
	xor eax, eax
	mov edx, 1
1:	add rax, rcx
	xor rdx, rax
	imul rdx, rdx, 3
	ror rdx, 7
	sub ecx, 1
	jnz 1b
	hlt
