/*
 * plat.S: the common half of the platform timer guests (emu/vmm
 * platform_guest_test.go). Each guest file supplies
 *   timer_setup  program the device and its interrupt route (IF = 0)
 *   timer_stop   silence it
 *   timer_eoi    acknowledge one interrupt at the controllers
 *   timer_report print anything more, after the common report
 * and the constants timer_vector (.long), period_ns (.quad, the nominal
 * period), n_periods (.long) and hlt_n (.long).
 *
 * Entered bhyveload-style (reference/vmm-interface.md §14.1: long mode,
 * 0-1 GiB identity-mapped, no IDT, IF = 0). plat_init maps 3-4 GiB as one
 * uncached 1 GiB page (the LAPIC, IOAPIC and HPET windows live there),
 * fills a 256-gate IDT, and reads a scale factor s from CMOS byte 0x40
 * (0 means 1), which the test sets with VM_RTC_WRITE.
 *
 * Then: phase A spins with IF = 1 for (s*n_periods + 1/2) periods of TSC
 * time (the TSC is the VM clock in nanoseconds); phase B halts until hlt_n
 * more interrupts came (halted vCPUs wake at the next deadline). Every
 * interrupt records its TSC offset from t0. The report on COM1 is
 *   A=<count after phase A>  B=<count at the end>  E=<ns from t0 to end>
 *   then T=<ns from t0> per recorded interrupt (at most 64)
 * all in 8 hex digits, and the guest ends with cli; hlt (VM_SUSPEND_HALT).
 */
	.include "apic.inc"
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	stack_top(%rip), %rsp
	call	plat_init
	movl	timer_vector(%rip), %ecx
	leaq	isr_timer(%rip), %rsi
	call	idt_set
	call	timer_setup
	call	now
	movq	%rax, t0(%rip)

	/* window = (s*n + 1/2) * period */
	movl	scale(%rip), %eax
	imull	n_periods(%rip), %eax
	imulq	period_ns(%rip), %rax
	movq	period_ns(%rip), %rbx
	shrq	$1, %rbx
	addq	%rax, %rbx
	sti
1:	call	now
	subq	t0(%rip), %rax
	cmpq	%rbx, %rax
	jb	1b
	cli
	movl	count(%rip), %eax
	movl	%eax, count_a(%rip)
	addl	hlt_n(%rip), %eax
	movl	%eax, %ebx
2:	cmpl	%ebx, count(%rip)
	jae	3f
	sti
	hlt
	cli
	jmp	2b
3:	call	now
	subq	t0(%rip), %rax
	movq	%rax, t_end(%rip)
	call	timer_stop

	leaq	s_a(%rip), %rsi
	movl	count_a(%rip), %edi
	call	report
	leaq	s_b(%rip), %rsi
	movl	count(%rip), %edi
	call	report
	leaq	s_e(%rip), %rsi
	movl	t_end(%rip), %edi
	call	report
	xorl	%r12d, %r12d
4:	cmpl	count(%rip), %r12d
	jae	5f
	cmpl	$64, %r12d
	jae	5f
	leaq	s_t(%rip), %rsi
	leaq	trace(%rip), %rax
	movl	(%rax,%r12,8), %edi
	call	report
	incl	%r12d
	jmp	4b
5:	call	timer_report
6:	cli
	hlt
	jmp	6b

/* report: string at %rsi, then %edi as hex, then a newline. */
	.globl	report
report:
	pushq	%rdi
	call	serial_puts
	popq	%rdi
	call	serial_hex32
	movl	$'\n', %edi
	jmp	serial_putc

/* now: the TSC in %rax. Clobbers %rdx. */
	.globl	now
now:
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	ret

/* idt_set: gate %ecx -> handler %rsi (64-bit interrupt gate, DPL 0). */
	.globl	idt_set
idt_set:
	leaq	idt(%rip), %rdi
	movl	%ecx, %eax
	shll	$4, %eax
	addq	%rax, %rdi
	movq	%rsi, %rax
	movw	%ax, (%rdi)
	movw	%cs, %dx
	movw	%dx, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shrq	$16, %rax
	movw	%ax, 6(%rdi)
	shrq	$16, %rax
	movl	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
	ret

plat_init:
	map_high
	/* Our own GDT, as a kernel loads first: bhyveload's data descriptor
	 * is read-only (reference/vmm-interface.md §14.1), and IRETQ loads
	 * SS from the GDT, which must then be writable data (SDM IRET). */
	lgdt	gdtr(%rip)
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss

	xorl	%ecx, %ecx
1:	leaq	isr_unexpected(%rip), %rsi
	pushq	%rcx
	call	idt_set
	popq	%rcx
	incl	%ecx
	cmpl	$256, %ecx
	jb	1b
	lidt	idtr(%rip)

	/* scale = CMOS[0x40], 0 -> 1 */
	movb	$0x40, %al
	outb	%al, $0x70
	inb	$0x71, %al
	movzbl	%al, %eax
	testl	%eax, %eax
	jnz	2f
	movl	$1, %eax
2:	movl	%eax, scale(%rip)
	ret

isr_timer:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r11
	call	now
	subq	t0(%rip), %rax
	movl	count(%rip), %ecx
	cmpl	$64, %ecx
	jae	1f
	leaq	trace(%rip), %rdx
	movq	%rax, (%rdx,%rcx,8)
1:	incl	count(%rip)
	call	timer_eoi
	popq	%r11
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	iretq

isr_unexpected:
	leaq	s_unexp(%rip), %rsi
	call	serial_puts
1:	cli
	hlt
	jmp	1b

	.section .rodata
s_a:	.asciz	"A="
s_b:	.asciz	"B="
s_e:	.asciz	"E="
s_t:	.asciz	"T="
s_unexp: .asciz	"unexpected interrupt or exception\n"

	.data
	.balign	8
idtr:	.word	256*16-1
	.quad	idt
	.balign	8
gdt:	.quad	0
	.quad	0x00209a0000000000	/* 0x08: 64-bit code, DPL 0 */
	.quad	0x0000920000000000	/* 0x10: writable data */
gdtr:	.word	3*8-1
	.quad	gdt

	.bss
	.balign	16
idt:	.skip	256*16
t0:	.skip	8
t_end:	.skip	8
trace:	.skip	64*8
count:	.skip	4
count_a: .skip	4
scale:	.skip	4
	.balign	16
stack:	.skip	16384
stack_top:

	.section .note.GNU-stack,"",@progbits
