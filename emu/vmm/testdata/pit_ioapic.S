/* PIT channel 0, mode 2, count 2386, through IOAPIC pin 2 (§3.5, §5). */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	lapic_on
	ioapic_route 2, 0x44
	movb	$0x34, %al
	outb	%al, $0x43
	movw	$2386, %ax
	outb	%al, $0x40
	movb	%ah, %al
	outb	%al, $0x40
	ret
timer_stop:
	ioapic_mask 2
	ret
timer_eoi:
	lapic_eoi
	ret
	noreport
	.section .rodata
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x44
n_periods: .long 10
hlt_n:	.long 5
	.balign 8
period_ns: .quad 1999367
	.section .note.GNU-stack,"",@progbits
