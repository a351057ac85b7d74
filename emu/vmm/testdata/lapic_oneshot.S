/* LAPIC timer, one-shot, DCR /16: ICR 25166 ticks of 16*2^-27 s (§2.8). */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	lapic_on
	w32	LAPIC_TDCR, 0x3
	w32	LAPIC_LVTT, 0x00041
	w32	LAPIC_TICR, 25166
	ret
timer_stop:
	w32	LAPIC_LVTT, 0x10041
	ret
timer_eoi:
	lapic_eoi
	ret
	noreport
	.section .rodata
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x41
n_periods: .long 2
hlt_n:	.long 0
	.balign 8
period_ns: .quad 3000042
	.section .note.GNU-stack,"",@progbits
