/*
 * HPET timer 0, periodic, in legacy replacement mode (LEG_RT_CNF): it
 * interrupts 8259 IRQ 0 and IOAPIC pin 2 whatever its route says
 * (devices/hpet "Legacy replacement"); the guest takes it at pin 2.
 */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	lapic_on
	ioapic_route 2, 0x43
	w32	HPET_T0CONF, (0x4 | 0x8 | 0x40)
	w32	HPET_T0CMP, 8389
	w32	HPET_CONF, 3
	ret
timer_stop:
	w32	HPET_CONF, 0
	ret
timer_eoi:
	lapic_eoi
	ret
	noreport
	.section .rodata
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x43
n_periods: .long 10
hlt_n:	.long 5
	.balign 8
period_ns: .quad 500029
	.section .note.GNU-stack,"",@progbits
