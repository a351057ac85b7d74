/*
 * smp.elf: an SMP test kernel. One image boots two ways:
 *   - as an ELF64 executable (softvmm run --boot elf64), entered at
 *     _start64 in long mode with bhyveload's state
 *     (reference/vmm-interface.md §14.1);
 *   - as a multiboot v1 kernel through the header's a.out-kludge address
 *     fields (qemu-system-x86_64 -kernel, which refuses ELF64 files
 *     without them), entered at _start32 in 32-bit protected mode with
 *     EAX = 0x2BADB002 (Multiboot 0.6.96 §3.2), switching to long mode
 *     itself.
 * Both paths load the same static page tables (0-4 GiB identity-mapped
 * with 2 MiB pages, so the LAPIC at 0xFEE00000 is reachable) and GDT, then
 * the BSP:
 *   1. prints its APIC id;
 *   2. counts the CPUs three ways: fw_cfg's FW_CFG_NB_CPUS (key 5), the
 *      enabled processor entries of the ACPI MADT (RSDP scan of
 *      0xE0000-0xFFFFF, RSDT), and the processor entries of the MP table
 *      (floating-pointer scan of 0xF0000-0xFFFFF); they must agree;
 *   3. copies the AP trampoline to 0x8000 and starts every other CPU the
 *      MADT lists, one at a time, with INIT, STARTUP, STARTUP (vector 8):
 *      each AP prints "AP up, APIC id N" under the print lock and says so
 *      before the BSP starts the next, so the order is fixed on any
 *      machine;
 *   4. releases the APs together: each adds 1 to a shared counter
 *      ITERS times inside a spinlock (a plain load, add and store, which
 *      only the lock keeps whole when vCPUs interleave), then increments
 *      sleeps in sti; hlt until its one-shot LAPIC timer (vector 0x41)
 *      fires, counts the wake-up, increments a done count, sends the BSP
 *      a fixed IPI (vector 0x40) and halts;
 *   5. waits for them in sti; hlt with the 8259s masked (woken by those
 *      IPIs), prints the
 *      number of CPUs up, the counter and the timer wake-ups, checks they
 *      are (CPUs-1) * ITERS and CPUs-1,
 *      and exits through isa-debug-exit with the CPU count: status
 *      (cpus << 1) | 1.
 * Any failed check prints "smp: FAIL <what>" and exits with 0x7f (status
 * 255).
 *
 * The AP trampoline starts with bytes that are a jump in both real and
 * long mode: B8 00 00 is "mov $0, %ax" in 16-bit code and the first three
 * bytes of "mov $imm32, %eax" in 64-bit code, so a real-mode AP (bhyve,
 * QEMU: CS = vector << 8, IP = 0, §7.4) takes the following "jmp real16"
 * while a 64-bit AP (softvmm run --ap-start long) falls through to the
 * 64-bit code after it.
 */
	.set	MB_MAGIC, 0x1badb002
	.set	MB_FLAGS, 0x00010003	/* page-aligned modules, memory info, address fields */
	.set	COM1, 0x3f8
	.set	FWCFG_SEL, 0x510
	.set	FWCFG_DATA, 0x511
	.set	EXIT_PORT, 0xf4
	.set	LAPIC, 0xfee00000
	.set	LAPIC_ID, 0x020
	.set	LAPIC_EOI, 0x0b0
	.set	LAPIC_SVR, 0x0f0
	.set	LAPIC_ICRLO, 0x300
	.set	LAPIC_ICRHI, 0x310
	.set	TRAMP, 0x8000		/* STARTUP vector 8 */
	.set	IPI_VEC, 0x40
	.set	TIMER_VEC, 0x41
	.set	LAPIC_LVTT, 0x320
	.set	LAPIC_TICR, 0x380
	.set	LAPIC_TDCR, 0x3e0
	.set	ITERS, 20000
	.set	MAXCPU, 16

	.section .multiboot, "a"
	.align	4
mb_header:
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)
	.long	mb_header		/* header_addr */
	.long	mb_header		/* load_addr: the image starts with the header */
	.long	_load_end		/* load_end_addr */
	.long	_bss_end		/* bss_end_addr */
	.long	_start32		/* entry_addr */

/* ---- 32-bit multiboot entry ---- */
	.code32
	.section .text.start, "ax"
	.globl	_start32
_start32:
	cli
	movl	$bsp_stack_top, %esp
	cmpl	$0x2badb002, %eax
	jne	1f
	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	orl	$0x100, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax	/* PG | PE */
	movl	%eax, %cr0
	lgdtl	gdtr
	ljmpl	$0x08, $bsp64
1:	movw	$EXIT_PORT, %dx		/* no magic: nothing to print with yet */
	movl	$0x7f, %eax
	outl	%eax, %dx
	hlt

/* ---- 64-bit ELF entry (bhyveload state) ---- */
	.code64
	.globl	_start64
_start64:
	cli
	movq	$pml4, %rax
	movq	%rax, %cr3
	lgdt	gdtr		/* CS stays 0x08: 64-bit code in both GDTs */

bsp64:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$bsp_stack_top, %rsp
	call	setup_idt
	lidt	idtr
	call	lapic_on

	movl	$LAPIC, %r11d
	movl	LAPIC_ID(%r11), %eax
	shrl	$24, %eax
	movl	%eax, bsp_apic
	movq	$msg_bsp, %rsi
	call	puts
	movl	bsp_apic, %edi
	call	putdec
	call	newline

	/* fw_cfg signature and CPU count. */
	movw	$FWCFG_SEL, %dx
	xorl	%eax, %eax
	outw	%ax, %dx
	movw	$FWCFG_DATA, %dx
	xorl	%ebx, %ebx
	movl	$4, %ecx
1:	inb	%dx, %al
	shll	$8, %ebx
	movb	%al, %bl
	decl	%ecx
	jnz	1b
	movq	$msg_fsig, %rsi
	cmpl	$0x51454d55, %ebx	/* "QEMU" */
	jne	fail
	movw	$FWCFG_SEL, %dx
	movl	$5, %eax
	outw	%ax, %dx
	movw	$FWCFG_DATA, %dx
	inb	%dx, %al
	movzbl	%al, %ebx
	inb	%dx, %al
	movzbl	%al, %eax
	shll	$8, %eax
	orl	%eax, %ebx
	movl	%ebx, fwcfg_cpus

	call	count_madt
	call	count_mptable

	movq	$msg_count1, %rsi
	call	puts
	movl	fwcfg_cpus, %edi
	call	putdec
	movq	$msg_count2, %rsi
	call	puts
	movl	madt_cpus, %edi
	call	putdec
	movq	$msg_count3, %rsi
	call	puts
	movl	mp_cpus, %edi
	call	putdec
	call	newline
	movl	fwcfg_cpus, %eax
	movq	$msg_fcount, %rsi
	testl	%eax, %eax
	jz	fail
	cmpl	$MAXCPU, %eax
	ja	fail
	cmpl	madt_cpus, %eax
	jne	fail
	cmpl	mp_cpus, %eax
	jne	fail

	/* The trampoline goes to 0x8000. */
	movq	$tramp_start, %rsi
	movq	$TRAMP, %rdi
	movq	$tramp_end - tramp_start, %rcx
	cld
	rep movsb

	/* Start each AP of the MADT in turn. */
	movl	$1, cpus_up
	xorl	%r12d, %r12d		/* index into madt_ids */
start_next:
	cmpl	madt_cpus, %r12d
	jae	started
	movzbl	madt_ids(%r12), %r13d
	incl	%r12d
	cmpl	bsp_apic, %r13d
	je	start_next
	/* The AP's stack: one page per started AP. */
	movl	cpus_up, %eax
	incl	%eax
	shlq	$12, %rax
	addq	$ap_stacks, %rax
	movq	%rax, ap_stack
	movl	$0, ap_ack
	movl	%r13d, %edi
	shll	$24, %edi
	movl	$0x00004500, %esi	/* INIT, level assert */
	call	send_ipi
	call	delay
	movl	$0x00000600 | (TRAMP >> 12), %esi	/* STARTUP */
	call	send_ipi
	call	delay
	movl	$0x00000600 | (TRAMP >> 12), %esi	/* STARTUP again, as the MP spec says; ignored once the AP runs */
	call	send_ipi
1:	pause
	cmpl	$0, ap_ack
	je	1b
	incl	cpus_up
	jmp	start_next

started:
	/* Release the APs and sleep until the last one is done. */
	movl	$1, go
2:	cli
	movl	done, %eax
	incl	%eax
	cmpl	cpus_up, %eax
	je	3f
	sti
	hlt
	jmp	2b
3:	movq	$msg_up, %rsi
	call	puts
	movl	cpus_up, %edi
	call	putdec
	movq	$msg_counter, %rsi
	call	puts
	movl	counter, %edi
	call	putdec
	movq	$msg_want, %rsi
	call	puts
	movl	cpus_up, %edi
	decl	%edi
	call	putdec
	movq	$msg_want2, %rsi
	call	puts
	movl	timer_wakes, %edi
	call	putdec
	movq	$msg_timers, %rsi
	call	puts
	movl	cpus_up, %eax
	decl	%eax
	movq	$msg_ftimers, %rsi
	cmpl	timer_wakes, %eax
	jne	fail
	movl	cpus_up, %eax
	decl	%eax
	imull	$ITERS, %eax
	movq	$msg_fcounter, %rsi
	cmpl	counter, %eax
	jne	fail
	movw	$EXIT_PORT, %dx
	movl	cpus_up, %eax
	outl	%eax, %dx
	cli
4:	hlt
	jmp	4b

fail:
	call	puts
	movw	$EXIT_PORT, %dx
	movl	$0x7f, %eax
	outl	%eax, %dx
	cli
5:	hlt
	jmp	5b

/* ---- AP, 64-bit, either way in ---- */
ap_entry64:
	movq	$pml4, %rax
	movq	%rax, %cr3
	lgdt	gdtr		/* CS is 0x08, 64-bit code, both ways in */
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	ap_stack, %rsp
	lidt	idtr
	call	lapic_on
	movl	$LAPIC, %r11d
	movl	LAPIC_ID(%r11), %ebx
	shrl	$24, %ebx
	call	lock
	movq	$msg_ap, %rsi
	call	puts
	movl	%ebx, %edi
	call	putdec
	call	newline
	call	unlock
	movl	$1, ap_ack
1:	pause
	cmpl	$0, go
	je	1b
	/* The contended part: counter += 1, ITERS times, under the lock. */
	movl	$ITERS, %r12d
2:	call	lock
	movl	counter, %eax
	addl	$1, %eax
	movl	%eax, counter
	call	unlock
	decl	%r12d
	jnz	2b
	/* Sleep on a one-shot LAPIC timer (vector 0x41) until it fires. */
	movl	$LAPIC, %r11d
	movl	$0xb, LAPIC_TDCR(%r11)		/* divide by 1 */
	movl	$TIMER_VEC, LAPIC_LVTT(%r11)	/* one-shot, unmasked */
	movl	$50000, LAPIC_TICR(%r11)
3:	cli
	cmpl	$0, fired(, %rbx, 4)
	jne	4f
	sti
	hlt
	jmp	3b
4:	lock incl timer_wakes
	lock incl done
	movl	bsp_apic, %edi
	shll	$24, %edi
	movl	$IPI_VEC, %esi		/* fixed, physical */
	call	send_ipi
	cli
5:	hlt
	jmp	5b

/* ---- helpers ---- */

/* lock / unlock: the spinlock "print_lock". Clobber %eax. */
lock:
1:	movl	$1, %eax
	xchgl	%eax, print_lock
	testl	%eax, %eax
	jz	3f
2:	pause
	cmpl	$0, print_lock
	jne	2b
	jmp	1b
3:	ret
unlock:
	movl	$0, print_lock
	ret

/* lapic_on: software-enable the LAPIC, spurious vector 0xff. */
lapic_on:
	movl	$LAPIC, %r11d
	movl	$0x1ff, LAPIC_SVR(%r11)
	ret

/* send_ipi: ICR high = %edi, ICR low = %esi; waits for delivery. */
send_ipi:
	movl	$LAPIC, %r11d
	movl	%edi, LAPIC_ICRHI(%r11)
	movl	%esi, LAPIC_ICRLO(%r11)
1:	movl	LAPIC_ICRLO(%r11), %eax
	btl	$12, %eax		/* delivery status */
	jc	1b
	ret

/* delay: a short busy wait between INIT and STARTUP. */
delay:
	movl	$20000, %ecx
1:	pause
	decl	%ecx
	jnz	1b
	ret

/* setup_idt: every vector returns at once but the IPI's, which EOIs.
 * The 8259s get masked: firmware (SeaBIOS under QEMU) leaves the PIT's
 * IRQ 0 unmasked, and only the APs' IPIs should wake the BSP. */
setup_idt:
	movb	$0xff, %al
	outb	%al, $0x21
	outb	%al, $0xa1
	movl	$255, %r8d
1:	movq	$spurious_handler, %rax
	movl	%r8d, %ecx
	call	set_gate
	decl	%r8d
	jns	1b
	movq	$timer_handler, %rax
	movl	$TIMER_VEC, %ecx
	call	set_gate
	movq	$ipi_handler, %rax
	movl	$IPI_VEC, %ecx
	jmp	set_gate

/* set_gate: 64-bit interrupt gate for vector %ecx to %rax. */
set_gate:
	shll	$4, %ecx
	leaq	idt(%rcx), %rdx
	movw	%ax, (%rdx)
	movw	$0x08, 2(%rdx)
	movw	$0x8e00, 4(%rdx)
	shrq	$16, %rax
	movw	%ax, 6(%rdx)
	shrq	$16, %rax
	movl	%eax, 8(%rdx)
	movl	$0, 12(%rdx)
	ret

ipi_handler:
	pushq	%r11
	movl	$LAPIC, %r11d
	movl	$0, LAPIC_EOI(%r11)
	popq	%r11
	iretq
/* The LAPIC timer: mark this CPU's timer fired, EOI. */
timer_handler:
	pushq	%rax
	pushq	%r11
	movl	$LAPIC, %r11d
	movl	LAPIC_ID(%r11), %eax
	shrl	$24, %eax
	movl	$1, fired(, %rax, 4)
	movl	$0, LAPIC_EOI(%r11)
	popq	%r11
	popq	%rax
	iretq
spurious_handler:
	iretq

/* count_madt: enabled processor-LAPIC entries of the MADT into
 * madt_cpus, their APIC ids into madt_ids. */
count_madt:
	movl	$0xe0000, %esi
1:	movabsq	$0x2052545020445352, %rax	/* "RSD PTR " */
	cmpq	%rax, (%rsi)
	jne	7f
	movl	$20, %ecx		/* and the ACPI 1.0 checksum */
	call	sum_bytes
	jz	2f
7:	addl	$16, %esi
	cmpl	$0x100000, %esi
	jb	1b
	movq	$msg_frsdp, %rsi
	jmp	fail
2:	movl	16(%rsi), %esi		/* RSDT */
	movl	4(%rsi), %ecx		/* its length */
	leal	36(%rsi), %edi		/* first entry */
	addl	%esi, %ecx		/* end */
3:	cmpl	%ecx, %edi
	jae	9f
	movl	(%rdi), %edx		/* a table */
	cmpl	$0x43495041, (%rdx)	/* "APIC" */
	je	4f
	addl	$4, %edi
	jmp	3b
4:	movl	4(%rdx), %ecx
	addl	%edx, %ecx		/* MADT end */
	leal	44(%rdx), %edi		/* first structure */
	xorl	%r8d, %r8d
5:	cmpl	%ecx, %edi
	jae	8f
	cmpb	$0, (%rdi)		/* processor local APIC */
	jne	6f
	testb	$1, 4(%rdi)		/* enabled */
	jz	6f
	cmpl	$MAXCPU, %r8d
	jae	6f
	movb	3(%rdi), %al
	movb	%al, madt_ids(%r8)
	incl	%r8d
6:	movzbl	1(%rdi), %eax
	testl	%eax, %eax
	jz	8f
	addl	%eax, %edi
	jmp	5b
8:	movl	%r8d, madt_cpus
	ret
9:	movq	$msg_fmadt, %rsi
	jmp	fail

/* sum_bytes: ZF set when the %ecx bytes at %rsi sum to 0 mod 256.
 * Clobbers %eax, %ecx, %edx. */
sum_bytes:
	xorl	%eax, %eax
	xorl	%edx, %edx
1:	addb	(%rsi,%rdx), %al
	incl	%edx
	cmpl	%ecx, %edx
	jb	1b
	testb	%al, %al
	ret

/* count_mptable: enabled processor entries of the MP table into mp_cpus. */
count_mptable:
	movl	$0xf0000, %esi
1:	cmpl	$0x5f504d5f, (%rsi)	/* "_MP_" */
	jne	7f
	movl	$16, %ecx		/* and a floating pointer's checksum */
	call	sum_bytes
	jz	2f
7:	addl	$16, %esi
	cmpl	$0x100000, %esi
	jb	1b
	movq	$msg_fmp, %rsi
	jmp	fail
2:	movl	4(%rsi), %esi		/* configuration table */
	movzwl	34(%rsi), %ecx		/* entry count */
	leal	44(%rsi), %edi
	xorl	%r8d, %r8d
3:	testl	%ecx, %ecx
	jz	6f
	movzbl	(%rdi), %eax
	testl	%eax, %eax
	jnz	4f
	testb	$1, 3(%rdi)		/* CPU flags: enabled */
	jz	5f
	incl	%r8d
5:	addl	$20, %edi		/* processor entries are 20 bytes */
	decl	%ecx
	jmp	3b
4:	addl	$8, %edi		/* every other kind is 8 */
	decl	%ecx
	jmp	3b
6:	movl	%r8d, mp_cpus
	ret

/* putc: byte in %dil. Clobbers %eax, %edx. */
putc:
	movw	$COM1+5, %dx
1:	inb	%dx, %al
	testb	$0x20, %al
	jz	1b
	movw	$COM1, %dx
	movl	%edi, %eax
	outb	%al, %dx
	ret

newline:
	movl	$'\n', %edi
	jmp	putc

/* puts: NUL-terminated string at %rsi. */
puts:
1:	movzbl	(%rsi), %edi
	testl	%edi, %edi
	jz	2f
	call	putc
	incq	%rsi
	jmp	1b
2:	ret

/* putdec: %edi in decimal. Clobbers %eax, %ecx, %edx, %rsi, %edi. */
putdec:
	movl	%edi, %eax
	movq	$decbuf+11, %rsi
	movb	$0, (%rsi)
	movl	$10, %ecx
1:	xorl	%edx, %edx
	divl	%ecx
	addb	$'0', %dl
	decq	%rsi
	movb	%dl, (%rsi)
	testl	%eax, %eax
	jnz	1b
	jmp	puts

/* ---- the AP trampoline, copied to TRAMP and run there ---- */
	.section .rodata
#define AT(label) (label - tramp_start + TRAMP)	/* a label's address in the copy */
	.code16
tramp_start:
	.byte	0xb8, 0x00, 0x00	/* real: mov $0, %ax; long: mov $imm32, %eax ... */
	.byte	0xeb, real16 - 1f	/* ... real: jmp real16; long: ... with these bytes */
1:	.code64
	movabsq	$ap_entry64, %rax
	jmpq	*%rax
	.code16
real16:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	lgdtl	AT(tramp_gdtr)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x18, $AT(pm32)
	.code32
pm32:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %ss
	movl	%cr4, %eax
	orl	$0x20, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx
	rdmsr
	orl	$0x100, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000000, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $AT(lm64)
	.code64
lm64:
	movabsq	$ap_entry64, %rax
	jmpq	*%rax
	.align	4
tramp_gdtr:
	.word	gdt_end - gdt - 1
	.long	gdt
tramp_end:

	.align	8
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: flat data */
	.quad	0x00cf9a000000ffff	/* 0x18: flat 32-bit code */
gdt_end:
gdtr:
	.word	gdt_end - gdt - 1
	.quad	gdt
idtr:
	.word	256*16 - 1
	.quad	idt

msg_bsp:	.asciz	"smp: BSP up, APIC id "
msg_count1:	.asciz	"smp: fw_cfg "
msg_count2:	.asciz	" cpus, MADT "
msg_count3:	.asciz	", MP table "
msg_ap:		.asciz	"smp: AP up, APIC id "
msg_up:		.asciz	"smp: "
msg_counter:	.asciz	" cpus up, counter "
msg_want:	.asciz	" ("
msg_want2:	.asciz	" APs x 20000), "
msg_timers:	.asciz	" AP timer wakeups\n"
msg_ftimers:	.asciz	"smp: FAIL not every AP woke from its LAPIC timer\n"
msg_fsig:	.asciz	"smp: FAIL no fw_cfg signature\n"
msg_fcount:	.asciz	"smp: FAIL CPU counts disagree or are out of range\n"
msg_frsdp:	.asciz	"smp: FAIL no RSDP\n"
msg_fmadt:	.asciz	"smp: FAIL no MADT\n"
msg_fmp:	.asciz	"smp: FAIL no MP table\n"
msg_fcounter:	.asciz	"smp: FAIL the counter lost updates\n"

/* ---- page tables: 0-4 GiB identity-mapped with 2 MiB pages ---- */
	.data
	.align	4096
pml4:
	.quad	pdpt + 3
	.fill	511, 8, 0
pdpt:
	.quad	pd + 0x0003
	.quad	pd + 0x1003
	.quad	pd + 0x2003
	.quad	pd + 0x3003
	.fill	508, 8, 0
pd:
	.set	i, 0
	.rept	2048
	.quad	(i << 21) | 0x83	/* P | RW | PS */
	.set	i, i + 1
	.endr

	.align	4
print_lock:	.long	0
counter:	.long	0
done:		.long	0
go:		.long	0
ap_ack:		.long	0
cpus_up:	.long	0
bsp_apic:	.long	0
fwcfg_cpus:	.long	0
madt_cpus:	.long	0
mp_cpus:	.long	0
	.align	8
ap_stack:	.quad	0
timer_wakes:	.long	0
fired:		.fill	256, 4, 0	/* by APIC id */

	.bss
	.align	4096
idt:		.skip	256*16
ap_stacks:	.skip	(MAXCPU + 1) * 4096
		.skip	8192
bsp_stack_top:
madt_ids:	.skip	MAXCPU
decbuf:		.skip	12

	.section .note.GNU-stack,"",@progbits
