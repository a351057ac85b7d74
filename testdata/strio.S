/*
 * strio.elf: string I/O (INS/OUTS) through softvmm's VM_EXITCODE_INOUT_STR
 * path. Expected values come from the SDM's INS/OUTS and REP pages and the
 * PC16550D datasheet, not from softvmm:
 *   - rep outsb writes RCX bytes from DS:RSI to COM1's THR (0x3f8), RSI
 *     moves forwards (DF=0) or backwards (DF=1), RCX ends at 0;
 *   - rep insb from LSR (0x3fd) of an idle 16550 reads 0x60 (THRE|TEMT)
 *     into ES:RDI each time; RCX = 0 moves nothing and changes nothing;
 *   - the scratch register (0x3ff) keeps the last byte rep outsb wrote,
 *     and a single insb reads it back.
 * Each check that fails prints its letter; then "strio: ok" or
 * "strio: FAIL", and a failure writes 1 to isa-debug-exit (status 3).
 */
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	stack_top(%rip), %rsp
	cld

	/* A: rep outsb forwards */
	leaq	msg1(%rip), %rsi
	movl	$msg1_len, %ecx
	movw	$0x3f8, %dx
	rep outsb
	leaq	msg1_end(%rip), %rax
	cmpq	%rax, %rsi
	jne	failA
	testq	%rcx, %rcx
	jnz	failA

	/* B: rep outsb backwards: msg2 is stored reversed */
	std
	leaq	msg2_end-1(%rip), %rsi
	movl	$msg2_len, %ecx
	rep outsb
	cld
	leaq	msg2-1(%rip), %rax
	cmpq	%rax, %rsi
	jne	failB

	/* C: rep insb from LSR */
	leaq	buf(%rip), %rdi
	movl	$20, %ecx
	movw	$0x3fd, %dx
	rep insb
	leaq	buf+20(%rip), %rax
	cmpq	%rax, %rdi
	jne	failC
	testq	%rcx, %rcx
	jnz	failC
	leaq	buf(%rip), %rsi
	movl	$20, %ecx
1:	cmpb	$0x60, (%rsi)
	jne	failC
	incq	%rsi
	loop	1b
	cmpb	$0, buf+20(%rip)	/* one past the end untouched */
	jne	failC

	/* D: RCX = 0 moves nothing */
	leaq	buf+32(%rip), %rdi
	xorl	%ecx, %ecx
	rep insb
	leaq	buf+32(%rip), %rax
	cmpq	%rax, %rdi
	jne	failD
	cmpb	$0, buf+32(%rip)
	jne	failD

	/* E: scratch register round trip, single OUTSB/INSB */
	leaq	scr(%rip), %rsi
	movl	$4, %ecx
	movw	$0x3ff, %dx
	rep outsb
	leaq	buf+40(%rip), %rdi
	insb
	cmpb	$'d', buf+40(%rip)
	jne	failE
	leaq	buf+41(%rip), %rax
	cmpq	%rax, %rdi
	jne	failE

	leaq	okmsg(%rip), %rsi
	call	serial_puts
1:	cli
	hlt
	jmp	1b

failA:	movl	$'A', %edi
	jmp	fail
failB:	movl	$'B', %edi
	jmp	fail
failC:	movl	$'C', %edi
	jmp	fail
failD:	movl	$'D', %edi
	jmp	fail
failE:	movl	$'E', %edi
fail:	cld
	call	serial_putc
	leaq	failmsg(%rip), %rsi
	call	serial_puts
	movl	$1, %eax
	outl	%eax, $0xf4
	jmp	1b

	.section .rodata
msg1:	.ascii	"strio: rep outsb forwards\n"
msg1_end:
	.set	msg1_len, msg1_end - msg1
msg2:	.ascii	"\nsdrawkcab bstuo per :oirts"
msg2_end:
	.set	msg2_len, msg2_end - msg2
scr:	.ascii	"abcd"
okmsg:	.asciz	"strio: ok\n"
failmsg: .asciz	"\nstrio: FAIL\n"

	.bss
	.balign	16
buf:	.skip	64
stack:	.skip	1024
stack_top:

	.section .note.GNU-stack,"",@progbits
