# Memory-copy workload: R passes copying 64 KiB from 0x100000 to 0x180000
# with 8-byte loads and stores (6 instructions per qword).
# Retired instructions: 1 + R*(3 + 6*8192 + 2) + 1 (hlt). R = 20.
	.intel_syntax noprefix
	.code64
	.globl _start
_start:
	mov r8d, 20
2:	mov esi, 0x100000
	mov edi, 0x180000
	mov ecx, 8192
1:	mov rax, [rsi]
	mov [rdi], rax
	add rsi, 8
	add rdi, 8
	dec ecx
	jnz 1b
	dec r8d
	jnz 2b
	hlt
