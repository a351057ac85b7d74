# Call-heavy workload: each iteration makes three indirect calls (two
# through registers, one through memory) to two-instruction functions.
# Retired instructions: 4 + 11*N + 1 (hlt). N = 300000.
	.intel_syntax noprefix
	.code64
	.globl _start
_start:
	mov ecx, 300000
	lea rbx, [rip + f1]
	lea rbp, [rip + f2]
	xor eax, eax
1:	call rbx
	call rbp
	call [rip + tbl]
	dec ecx
	jnz 1b
	hlt
f1:	add rax, 1
	ret
f2:	xor rax, rcx
	ret
	.balign 8
tbl:	.quad f1
