/*
 * RTC periodic interrupt at 1024 Hz (reg A RS = 6, reg B PIE) through
 * IOAPIC pin 8; the handler reads reg C, without which no further
 * interrupt comes (§7.5).
 */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	lapic_on
	ioapic_route 8, 0x45
	movb	$0x0a, %al
	outb	%al, $0x70
	movb	$0x26, %al
	outb	%al, $0x71
	movb	$0x0b, %al
	outb	%al, $0x70
	movb	$0x42, %al		/* 24-hour BCD, PIE */
	outb	%al, $0x71
	ret
timer_stop:
	movb	$0x0b, %al
	outb	%al, $0x70
	movb	$0x02, %al
	outb	%al, $0x71
	ret
timer_eoi:
	movb	$0x0c, %al
	outb	%al, $0x70
	inb	$0x71, %al
	lapic_eoi
	ret
	noreport
	.section .rodata
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x45
n_periods: .long 10
hlt_n:	.long 5
	.balign 8
period_ns: .quad 976563
	.section .note.GNU-stack,"",@progbits
