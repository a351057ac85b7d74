/*
 * gate64.elf: a 64-bit call gate (SDM Vol. 3 §5.8.3.1 "IA-32e Mode Call
 * Gates", §5.8.5), checked against the SDM. It is not in `make
 * kvm-check`: under this machine's /dev/kvm (a nested AMD EPYC) even a
 * plain IRETQ to ring 3 ends in a triple fault, and the CALL through the
 * gate from ring 0 in KVM_EXIT_INTERNAL_ERROR, so KVM is no oracle for
 * ring changes here. Ring 0 loads its own GDT (ring-0/3 code and data, a 64-bit
 * TSS whose RSP0 is kstack_top, a DPL-3 call gate to gate_entry) and
 * IRETQs to ring 3 with IOPL 3. Ring 3 does `lcall *gateptr` (m16:32);
 * the CPU must switch to RSP0, load a null SS with RPL 0, and push the
 * caller's SS, RSP, CS and RIP as quadwords. gate_entry checks that,
 * LRETQs to ring 3, which checks its CS/SS/RSP are back. A failed check
 * prints its letter and "gate64: FAIL" and writes 1 to isa-debug-exit
 * (status 3); success prints "gate64: ok" and writes 0x10 (status 33).
 */
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	kstack_top(%rip), %rsp
	/* TSS descriptor at 0x28: base = tss, limit 0x67, type 9 (available) */
	leaq	tss(%rip), %rax
	movq	%rax, %rdx
	shlq	$16, %rdx
	movabsq	$0xffffff0000, %rcx
	andq	%rcx, %rdx		/* base 23:0 at bits 16..39 */
	movq	%rax, %rcx
	shrq	$24, %rcx
	andq	$0xff, %rcx
	shlq	$56, %rcx
	orq	%rcx, %rdx		/* base 31:24 */
	movabsq	$0x0000890000000067, %rcx
	orq	%rcx, %rdx
	movq	%rdx, gdt+0x28(%rip)
	shrq	$32, %rax
	movq	%rax, gdt+0x30(%rip)
	/* call gate at 0x38: selector 0x08, offset gate_entry, type 0xC, DPL 3, P */
	leaq	gate_entry(%rip), %rax
	movq	%rax, %rdx
	andq	$0xffff, %rdx
	movq	%rax, %rcx
	shrq	$16, %rcx
	andq	$0xffff, %rcx
	shlq	$48, %rcx
	orq	%rcx, %rdx
	movabsq	$0x0000ec0000080000, %rcx
	orq	%rcx, %rdx
	movq	%rdx, gdt+0x38(%rip)
	shrq	$32, %rax
	movq	%rax, gdt+0x40(%rip)
	/* TSS.RSP0 */
	leaq	kstack_top(%rip), %rax
	movq	%rax, tss+4(%rip)
	movw	$104, tss+0x66(%rip)

	lgdt	gdtr(%rip)
	pushq	$0x08
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:	movl	$0x10, %eax
	movl	%eax, %ss
	movl	%eax, %ds
	movl	%eax, %es
	movw	$0x28, %ax
	ltr	%ax

	/* IRETQ to ring 3, IOPL 3, IF 0 */
	pushq	$0x1b
	leaq	ustack_top(%rip), %rax
	pushq	%rax
	pushq	$0x3002
	pushq	$0x23
	leaq	user(%rip), %rax
	pushq	%rax
	iretq

user:
	lcall	*gateptr(%rip)
after_call:
	movl	%cs, %eax
	cmpl	$0x23, %eax
	jne	failD
	movl	%ss, %eax
	cmpl	$0x1b, %eax
	jne	failD
	leaq	ustack_top(%rip), %rax
	cmpq	%rax, %rsp
	jne	failD
	leaq	okmsg(%rip), %rsi
	call	serial_puts
	movl	$0x10, %eax
	outl	%eax, $0xf4
2:	jmp	2b

gate_entry:
	movl	%cs, %eax
	cmpl	$0x08, %eax
	jne	failA
	movl	%ss, %eax
	testl	%eax, %eax		/* null SS, RPL 0 */
	jne	failA
	leaq	kstack_top-32(%rip), %rax
	cmpq	%rax, %rsp
	jne	failB
	leaq	after_call(%rip), %rax
	cmpq	%rax, 0(%rsp)
	jne	failC
	cmpq	$0x23, 8(%rsp)
	jne	failC
	leaq	ustack_top(%rip), %rax
	cmpq	%rax, 16(%rsp)
	jne	failC
	cmpq	$0x1b, 24(%rsp)
	jne	failC
	lretq

failA:	movl	$'A', %edi
	jmp	fail
failB:	movl	$'B', %edi
	jmp	fail
failC:	movl	$'C', %edi
	jmp	fail
failD:	movl	$'D', %edi
fail:	call	serial_putc
	leaq	failmsg(%rip), %rsi
	call	serial_puts
	movl	$1, %eax
	outl	%eax, $0xf4
3:	jmp	3b

	.section .rodata
okmsg:	.asciz	"gate64: ok\n"
failmsg: .asciz	"\ngate64: FAIL\n"
gateptr: .long	0
	.word	0x3b

	.data
	.balign	16
gdt:	.quad	0
	.quad	0x00209a0000000000	/* 0x08 code64 DPL 0 */
	.quad	0x00cf92000000ffff	/* 0x10 data DPL 0 */
	.quad	0x00cff2000000ffff	/* 0x18 data DPL 3 */
	.quad	0x0020fa0000000000	/* 0x20 code64 DPL 3 */
	.quad	0, 0			/* 0x28 TSS (filled in) */
	.quad	0, 0			/* 0x38 call gate (filled in) */
gdt_end:
	.balign	8
	.word	0
	.word	0, 0
gdtr:	.word	gdt_end - gdt - 1
	.quad	gdt
	.balign	16
tss:	.skip	104

	.bss
	.balign	16
	.skip	1024
kstack_top:
	.skip	1024
ustack_top:

	.section .note.GNU-stack,"",@progbits
