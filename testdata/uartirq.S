/*
 * uartirq.bin: COM1's transmitter-empty interrupt through the IOAPIC, as
 * Linux's 8250 driver uses it for user-space tty output (reference/
 * linux-boot.md §6: IRQ 4, edge, IOAPIC pin 4). A raw binary for
 * `softvmm run --boot raw32` (flat 32-bit protected mode at 0x100000,
 * paging off).
 *
 * It routes IOAPIC pin 4 to vector 0x24 (fixed, edge, unmasked, APIC ID 0),
 * software-enables the LAPIC and sets the UART's IER.ETBEI with THR empty,
 * which raises THRE (PC16550D datasheet, "Interrupt Control Functions").
 * The handler reads IIR (acknowledging THRE, so the line drops), writes
 * 'I' to THR (THR empties again at once: a new rising edge) and EOIs; the
 * second interrupt prints '!' and exits through isa-debug-exit 0x10
 * (status 33). Expected output "I!". A line that never rises hangs in HLT
 * with nothing armed (softvmm exits 8).
 */
	.code32
	.text
	.globl _start
_start:
	mov	$0x90000, %esp		/* below the legacy hole */
	lidt	idtr
	movl	$0x1ff, 0xfee000f0	/* LAPIC SVR: enabled, spurious vector 0xFF */
	movl	$0x19, 0xfec00000	/* IOAPIC RTE 4 high: destination APIC ID 0 */
	movl	$0, 0xfec00010
	movl	$0x18, 0xfec00000	/* RTE 4 low: vector 0x24, fixed, edge, unmasked */
	movl	$0x24, 0xfec00010
	mov	$0x3f9, %dx		/* IER = ETBEI with THR empty: THRE pending */
	mov	$0x02, %al
	out	%al, %dx
	sti
1:	hlt
	jmp	1b

handler:
	mov	$0x3fa, %dx		/* IIR read acknowledges THRE: the line drops */
	in	%dx, %al
	incl	count
	cmpl	$2, count
	je	2f
	mov	$0x3f8, %dx		/* THR write: empty again at once, a new edge */
	mov	$'I', %al
	out	%al, %dx
	movl	$0, 0xfee000b0		/* LAPIC EOI */
	iret
2:	mov	$0x3f8, %dx
	mov	$'!', %al
	out	%al, %dx
	mov	$0x10, %al		/* isa-debug-exit: status (0x10<<1)|1 = 33 */
	out	%al, $0xf4

count:	.long	0
	.p2align 3
	/* The one IDT gate, for vector 0x24: 32-bit interrupt gate, CS 0x08.
	 * The image is linked at 0x100000, so the handler's offset is
	 * 0x0010:(handler - _start). */
gate:	.word	handler - _start, 0x08, 0x8e00, 0x0010
	/* IDTR: the base is placed so that entry 0x24 is the gate above. */
idtr:	.word	0x24*8 + 7
	.long	gate - 0x24*8
