/*
 * exit33.elf: says what it is about to do, then writes 0x10 to the QEMU
 * isa-debug-exit port 0xf4 with a 32-bit OUT; the runner ends the run with
 * exit status (0x10 << 1) | 1 = 33. Should the write be ignored, it halts
 * (exit status 0), so a missing debug-exit device cannot pass for it.
 */
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	stack_top(%rip), %rsp
	leaq	msg(%rip), %rsi
	call	serial_puts
	movl	$0x10, %eax
	outl	%eax, $0xf4
1:	cli
	hlt
	jmp	1b

	.section .rodata
msg:	.asciz	"exit33: writing 0x10 to port 0xf4\n"

	.bss
	.balign	16
stack:	.skip	1024
stack_top:

	.section .note.GNU-stack,"",@progbits
