/*
 * rom.bin: a 64 KiB BIOS-style ROM test image. The CPU starts it at the
 * reset vector, 0xFFFFFFF0, in real mode with CS = F000, base 0xFFFF0000
 * (vcpu_reset, reference/vmm-interface.md §14.3; Intel SDM vol. 3 §9.1.4).
 * It then
 *   1. far-jumps to F000:start, into the copy of the ROM below 1 MiB
 *      (0xF0000-0xFFFFF), and reports POST code 0x01 on port 0x80;
 *   2. prints "rom: real mode" on COM1;
 *   3. loads a GDT, sets CR0.PE and far-jumps into 32-bit code (POST 0x02);
 *   4. prints "rom: protected mode" with flat 32-bit segments (POST 0x03);
 *   5. exits through isa-debug-exit with 0x10 (exit status 33).
 * The ROM is linked at offset 0: real-mode code uses offsets into the F000
 * segment, 32-bit code runs at 0xF0000 + offset.
 */
	.set	ROM_BASE, 0xf0000
	.set	COM1, 0x3f8
	.set	POST, 0x80
	.set	EXIT_PORT, 0xf4

	.code16
	.text
	.globl	start
start:
	cli
	cld
	movb	$0x01, %al
	outb	%al, $POST
	movw	%cs, %ax
	movw	%ax, %ds
	movw	$msg_real, %si
1:	lodsb
	testb	%al, %al
	jz	2f
	movb	%al, %bl
	movw	$COM1+5, %dx
3:	inb	%dx, %al
	testb	$0x20, %al
	jz	3b
	movw	$COM1, %dx
	movb	%bl, %al
	outb	%al, %dx
	jmp	1b
2:	lgdtl	%cs:gdtr
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $(ROM_BASE + pm32)

	.code32
pm32:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movb	$0x02, %al
	outb	%al, $POST
	movl	$(ROM_BASE + msg_prot), %esi
1:	lodsb
	testb	%al, %al
	jz	2f
	movb	%al, %bl
	movw	$COM1+5, %dx
3:	inb	%dx, %al
	testb	$0x20, %al
	jz	3b
	movw	$COM1, %dx
	movb	%bl, %al
	outb	%al, %dx
	jmp	1b
2:	movb	$0x03, %al
	outb	%al, $POST
	movw	$EXIT_PORT, %dx
	movl	$0x10, %eax
	outl	%eax, %dx
4:	hlt
	jmp	4b

	.align	8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf93000000ffff	/* 0x10: flat 32-bit data */
gdt_end:
gdtr:
	.word	gdt_end - gdt - 1
	.long	ROM_BASE + gdt
msg_real:	.asciz	"rom: real mode\n"
msg_prot:	.asciz	"rom: protected mode\n"

	/* The reset vector: the ROM's last 16 bytes. */
	.code16
	.section .reset, "ax"
reset:
	ljmp	$0xf000, $start
	.balign	16, 0xf4

	.section .note.GNU-stack,"",@progbits
