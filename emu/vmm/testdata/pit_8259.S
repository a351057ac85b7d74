/*
 * PIT channel 0, mode 2, count 1193, through the 8259 (vector base 0x20):
 * the LAPIC stays software-disabled, so LINT0 is ExtINT and the vector
 * comes from the 8259's interrupt acknowledge (§1.6, §4, §5).
 */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	movb	$0x11, %al		/* ICW1: edge, cascade, ICW4 */
	outb	%al, $0x20
	outb	%al, $0xa0
	movb	$0x20, %al		/* ICW2: vectors 0x20-0x27 */
	outb	%al, $0x21
	movb	$0x28, %al
	outb	%al, $0xa1
	movb	$0x04, %al		/* ICW3: slave on IRQ 2 */
	outb	%al, $0x21
	movb	$0x02, %al
	outb	%al, $0xa1
	movb	$0x01, %al		/* ICW4: 8086 mode */
	outb	%al, $0x21
	outb	%al, $0xa1
	movb	$0xfe, %al		/* OCW1: only IRQ 0 */
	outb	%al, $0x21
	movb	$0xff, %al
	outb	%al, $0xa1
	movb	$0x34, %al		/* channel 0, LSB then MSB, mode 2 */
	outb	%al, $0x43
	movw	$1193, %ax
	outb	%al, $0x40
	movb	%ah, %al
	outb	%al, $0x40
	ret
timer_stop:
	movb	$0xff, %al
	outb	%al, $0x21
	ret
timer_eoi:
	movb	$0x20, %al		/* OCW2: non-specific EOI */
	outb	%al, $0x20
	ret
	noreport
	.section .rodata
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x20
n_periods: .long 10
hlt_n:	.long 5
	.balign 8
period_ns: .quad 999683
	.section .note.GNU-stack,"",@progbits
