/* Entry for cguest.c: clear .bss, call cmain, halt. */
	.text
	.globl _start
_start:
	lea __bss_start(%rip), %rdi
	lea _end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	call cmain
1:	hlt
	jmp 1b
