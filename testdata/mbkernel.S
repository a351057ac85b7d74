/*
 * mbkernel: a multiboot v1 test kernel, the kind of image written for
 * `qemu-system-x86_64 -kernel`. It is an ELF32 file (QEMU's multiboot
 * loader takes nothing else) entered in 32-bit protected mode as the
 * Multiboot Specification 0.6.96 §3.2 says: EAX = 0x2BADB002, EBX = the
 * information structure, flat segments, paging off. It then
 *   1. checks EAX and the header flag bits it relies on (mem, mmap);
 *   2. switches to long mode itself: PAE page tables identity-mapping
 *      0-1 GiB with 2 MiB pages, EFER.LME, CR0.PG, a 64-bit GDT, far jump;
 *   3. reads QEMU's fw_cfg through ports 0x510/0x511: the "QEMU" signature
 *      (key 0) and the CPU count (key 5, FW_CFG_NB_CPUS, 16-bit LE);
 *   4. prints what it found on COM1 (poll LSR bit 5, write THR);
 *   5. exits through isa-debug-exit: OUT of the CPU count to port 0xf4,
 *      so the run's exit status is (cpus << 1) | 1.
 * Any failed check prints "mbkernel: FAIL <what>" and exits with value 0x7f
 * (status 255).
 */
	.set	MB_MAGIC, 0x1badb002
	.set	MB_FLAGS, 0x00000003	/* page-aligned modules, memory info */
	.set	COM1, 0x3f8
	.set	FWCFG_SEL, 0x510
	.set	FWCFG_DATA, 0x511
	.set	EXIT_PORT, 0xf4

	.section .multiboot, "a"
	.align	4
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)

	.code32
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	movl	$stack_top, %esp
	cmpl	$0x2badb002, %eax
	jne	bad_magic
	movl	%ebx, mbinfo

	/* Page tables: PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB. */
	movl	$pdpt, %eax
	orl	$3, %eax
	movl	%eax, pml4
	movl	$pd, %eax
	orl	$3, %eax
	movl	%eax, pdpt
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$0x83, %eax		/* P | RW | PS */
	movl	%eax, pd(, %ecx, 8)
	movl	$0, pd+4(, %ecx, 8)
	incl	%ecx
	cmpl	$512, %ecx
	jne	1b

	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx	/* EFER */
	rdmsr
	orl	$0x100, %eax		/* LME */
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax	/* PG | PE */
	movl	%eax, %cr0
	lgdtl	gdtr
	ljmpl	$0x08, $long_mode

bad_magic:
	/* Still 32-bit: say so on COM1 and leave. */
	movl	$msg_magic, %esi
2:	movb	(%esi), %al
	testb	%al, %al
	jz	3f
	movl	%eax, %ebx
	movw	$COM1+5, %dx
4:	inb	%dx, %al
	testb	$0x20, %al
	jz	4b
	movw	$COM1, %dx
	movl	%ebx, %eax
	outb	%al, %dx
	incl	%esi
	jmp	2b
3:	movw	$EXIT_PORT, %dx
	movl	$0x7f, %eax
	outl	%eax, %dx
	hlt

	.code64
	.text
long_mode:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$stack_top, %esp

	movl	$msg_hello, %esi
	call	puts

	/* The info structure must say mem_* and mmap_* are valid. */
	movl	$mbinfo, %eax
	movl	(%rax), %ebx
	movl	(%rbx), %eax
	andl	$0x41, %eax
	cmpl	$0x41, %eax
	jne	fail_info

	/* fw_cfg signature. */
	movw	$FWCFG_SEL, %dx
	xorl	%eax, %eax
	outw	%ax, %dx
	movw	$FWCFG_DATA, %dx
	xorl	%ebx, %ebx
	movl	$4, %ecx
5:	inb	%dx, %al
	shll	$8, %ebx
	movb	%al, %bl
	decl	%ecx
	jnz	5b
	cmpl	$0x51454d55, %ebx	/* 'Q' 'E' 'M' 'U', first byte highest */
	jne	fail_sig
	movl	$msg_sig, %esi
	call	puts

	/* fw_cfg CPU count. */
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
	testl	%ebx, %ebx
	jz	fail_cpus
	movl	$msg_cpus, %esi
	call	puts
	movl	%ebx, %edi
	call	putdec
	movl	$'\n', %edi
	call	putc

	movw	$EXIT_PORT, %dx
	movl	%ebx, %eax
	outl	%eax, %dx
	cli
6:	hlt
	jmp	6b

fail_info:
	movl	$msg_finfo, %esi
	jmp	fail
fail_sig:
	movl	$msg_fsig, %esi
	jmp	fail
fail_cpus:
	movl	$msg_fcpus, %esi
fail:
	call	puts
	movw	$EXIT_PORT, %dx
	movl	$0x7f, %eax
	outl	%eax, %dx
	cli
7:	hlt
	jmp	7b

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

/* puts: NUL-terminated string at %rsi. */
puts:
1:	movzbl	(%rsi), %edi
	testl	%edi, %edi
	jz	2f
	call	putc
	incq	%rsi
	jmp	1b
2:	ret

/* putdec: %edi (< 100000) in decimal. */
putdec:
	movl	%edi, %eax
	movl	$decbuf+7, %esi
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

	.section .rodata
	.align	8
gdt:
	.quad	0
	.quad	0x00209a0000000000	/* 0x08: 64-bit code */
	.quad	0x0000920000000000	/* 0x10: data */
gdt_end:
gdtr:
	.word	gdt_end - gdt - 1
	.long	gdt
msg_magic:	.asciz	"mbkernel: FAIL entered without the multiboot magic in EAX\n"
msg_hello:	.asciz	"mbkernel: multiboot entry, now in long mode\n"
msg_sig:	.asciz	"mbkernel: fw_cfg signature QEMU\n"
msg_cpus:	.asciz	"mbkernel: fw_cfg cpus "
msg_finfo:	.asciz	"mbkernel: FAIL multiboot info lacks mem/mmap\n"
msg_fsig:	.asciz	"mbkernel: FAIL no fw_cfg signature\n"
msg_fcpus:	.asciz	"mbkernel: FAIL fw_cfg reports 0 cpus\n"

	.bss
	.align	4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4096
	.skip	8192
stack_top:
mbinfo:	.skip	8
decbuf:	.skip	8

	.section .note.GNU-stack,"",@progbits
