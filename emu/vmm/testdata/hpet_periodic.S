/* HPET timer 0, periodic, 16777 ticks of 2^-24 s, to IOAPIC pin 24 (§6). */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi
timer_setup:
	lapic_on
	ioapic_route 24, 0x42
	w32	HPET_T0CONF, (24<<9 | 0x4 | 0x8 | 0x40)
	w32	HPET_T0CMP, 16777
	w32	HPET_CONF, 1
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
timer_vector: .long 0x42
n_periods: .long 10
hlt_n:	.long 5
	.balign 8
period_ns: .quad 999987
	.section .note.GNU-stack,"",@progbits
