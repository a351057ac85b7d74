/* Entry for fpguest.c: enable SSE (CR4.OSFXSR, OSXMMEXCPT; CR0.MP, EM
 * clear) as an OS would, clear .bss, call cmain, halt. */
	.text
	.globl _start
_start:
	mov %cr0, %rax
	and $~4, %rax
	or $2, %rax
	mov %rax, %cr0
	mov %cr4, %rax
	or $0x600, %rax
	mov %rax, %cr4
	fninit
	lea __bss_start(%rip), %rdi
	lea _end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	call cmain
1:	hlt
	jmp 1b
