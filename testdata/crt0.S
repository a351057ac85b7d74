/*
 * crt0 for the C guests. bhyveload's entry state (reference/vmm-interface.md
 * §14.1) leaves RSP = 0x1000 on the loader's argument words in a page the
 * guest does not own, so the first thing is a stack of our own; then clear
 * bss (the loader zero-fills it too; this exercises rep stosb), call main,
 * and halt with interrupts off: vmm suspends a VM whose vCPUs all HLT with
 * IF = 0 (VM_SUSPEND_HALT) and the runner exits 0.
 */
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	cld
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb
	leaq	stack_top(%rip), %rsp		/* the stack was in bss */
	call	main
1:	cli
	hlt
	jmp	1b

	.bss
	.balign	16
stack:	.skip	16384
stack_top:

	.section .note.GNU-stack,"",@progbits
