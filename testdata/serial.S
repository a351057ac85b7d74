/*
 * COM1 transmit for the assembly guests: poll LSR (0x3fd) until THRE (bit 5)
 * is set, then write the byte to THR (0x3f8). 16550 register map:
 * reference/vmm-devices.md and the PC16550D datasheet.
 */
	.code64
	.text

/* serial_putc: byte in %dil. Clobbers %eax, %edx. */
	.globl	serial_putc
serial_putc:
	movw	$0x3fd, %dx
1:	inb	%dx, %al
	testb	$0x20, %al
	jz	1b
	movw	$0x3f8, %dx
	movl	%edi, %eax
	outb	%al, %dx
	ret

/* serial_puts: NUL-terminated string at %rsi. Clobbers %eax, %edx, %edi, %rsi. */
	.globl	serial_puts
serial_puts:
1:	movzbl	(%rsi), %edi
	testl	%edi, %edi
	jz	2f
	call	serial_putc
	incq	%rsi
	jmp	1b
2:	ret

/* serial_hex32: %edi as 8 lowercase hex digits. Clobbers %eax, %ecx, %edx, %edi, %r8d. */
	.globl	serial_hex32
serial_hex32:
	movl	%edi, %r8d
	movl	$8, %ecx
1:	roll	$4, %r8d
	movl	%r8d, %edi
	andl	$0xf, %edi
	cmpl	$10, %edi
	jb	2f
	addl	$('a' - '0' - 10), %edi
2:	addl	$'0', %edi
	call	serial_putc
	decl	%ecx
	jnz	1b
	ret

	.section .note.GNU-stack,"",@progbits
