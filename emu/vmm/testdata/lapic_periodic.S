/* LAPIC timer, periodic, DCR /1: ICR 134218 ticks of 2^-27 s (§2.8). */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	lapic_on
	w32	LAPIC_TDCR, 0xb
	w32	LAPIC_LVTT, 0x20040
	w32	LAPIC_TICR, 134218
	ret
timer_stop:
	w32	LAPIC_LVTT, 0x10040
	w32	LAPIC_TICR, 0
	ret
timer_eoi:
	lapic_eoi
	ret
	noreport
	.section .rodata
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x40
n_periods: .long 10
hlt_n:	.long 5
	.balign 8
period_ns: .quad 1000002
	.section .note.GNU-stack,"",@progbits
