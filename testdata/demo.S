/*
 * demo.elf: the guest `softvmm run` boots when given no image.
 *
 * Entered as bhyveload leaves a FreeBSD kernel (reference/vmm-interface.md
 * §14.1): 64-bit mode, paging on (0-1 GiB identity-mapped with 2 MiB pages),
 * RSP = 0x1000 pointing at the loader's argument words, no IDT, IF = 0.
 * It moves to its own stack at once, prints a banner, works out the CPU mode
 * from CR0/CR4/EFER itself, prints a CRC-32 of its banner text (checked
 * against Go's hash/crc32), and ends with cli; hlt, which vmm turns into
 * VM_SUSPEND_HALT and the runner into exit status 0.
 *
 * Expected output: demo.out.
 */
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	stack_top(%rip), %rsp
	xorl	%ebp, %ebp

	leaq	banner(%rip), %rsi		/* "softvmm demo guest\n" */
	call	serial_puts

	/* Gather CR0.PG (bit 31), CR4.PAE (bit 5), EFER.LMA (bit 10). */
	movq	%cr0, %rax
	shrq	$31, %rax
	andl	$1, %eax
	movl	%eax, %r12d			/* PG */
	movq	%cr4, %rax
	shrq	$5, %rax
	andl	$1, %eax
	movl	%eax, %r13d			/* PAE */
	movl	$0xc0000080, %ecx		/* IA32_EFER */
	rdmsr
	shrl	$10, %eax
	andl	$1, %eax
	movl	%eax, %r14d			/* LMA */

	leaq	mode_long(%rip), %rsi
	movl	%r12d, %eax
	andl	%r13d, %eax
	andl	%r14d, %eax
	jnz	1f
	leaq	mode_other(%rip), %rsi
1:	call	serial_puts

	leaq	pg_eq(%rip), %rsi
	call	serial_puts
	leal	'0'(%r12), %edi
	call	serial_putc
	leaq	pae_eq(%rip), %rsi
	call	serial_puts
	leal	'0'(%r13), %edi
	call	serial_putc
	leaq	lma_eq(%rip), %rsi
	call	serial_puts
	leal	'0'(%r14), %edi
	call	serial_putc
	leaq	close_nl(%rip), %rsi
	call	serial_puts

	/* crc32("softvmm demo guest") = 0x........ */
	leaq	crc_pre(%rip), %rsi
	call	serial_puts
	leaq	banner(%rip), %rdi
	movl	$(banner_end - banner), %esi
	call	demo_crc32
	movl	%eax, %edi
	call	serial_hex32
	movl	$'\n', %edi
	call	serial_putc

	leaq	bye(%rip), %rsi
	call	serial_puts

halt:	cli
	hlt
	jmp	halt

	.section .rodata
banner:	.ascii	"softvmm demo guest"
banner_end:
	.asciz	"\n"
mode_long:
	.asciz	"mode: 64-bit long mode"
mode_other:
	.asciz	"mode: not long mode"
pg_eq:	.asciz	" (CR0.PG="
pae_eq:	.asciz	" CR4.PAE="
lma_eq:	.asciz	" EFER.LMA="
close_nl:
	.asciz	")\n"
crc_pre:
	.asciz	"crc32(\"softvmm demo guest\") = 0x"
bye:	.asciz	"demo: halting (cli; hlt)\n"

	.bss
	.balign	16
stack:	.skip	4096
stack_top:

	.section .note.GNU-stack,"",@progbits
