/*
 * ACPI PM timer (port 0x408, §8): no interrupt. Reads the counter when the
 * window starts and when it ends, each followed at once by RDTSC, and
 * reports P=<count> Q=<TSC> for both (the TSC is the VM clock in ns).
 */
	.include "apic.inc"
	.code64
	.text
	.globl	timer_setup, timer_stop, timer_eoi, timer_report
timer_setup:
	movw	$0x408, %dx
	inl	%dx, %eax
	movl	%eax, pm0(%rip)
	call	now
	movl	%eax, tsc0(%rip)
	ret
timer_stop:
	movw	$0x408, %dx
	inl	%dx, %eax
	movl	%eax, pm1(%rip)
	call	now
	movl	%eax, tsc1(%rip)
	ret
timer_eoi:
	ret
timer_report:
	leaq	s_p(%rip), %rsi
	movl	pm0(%rip), %edi
	call	report
	leaq	s_q(%rip), %rsi
	movl	tsc0(%rip), %edi
	call	report
	leaq	s_p(%rip), %rsi
	movl	pm1(%rip), %edi
	call	report
	leaq	s_q(%rip), %rsi
	movl	tsc1(%rip), %edi
	call	report
	ret
	.section .rodata
s_p:	.asciz	"P="
s_q:	.asciz	"Q="
	.globl	timer_vector, period_ns, n_periods, hlt_n
timer_vector: .long 0x46
n_periods: .long 20
hlt_n:	.long 0
	.balign 8
period_ns: .quad 1000000
	.bss
pm0:	.skip 4
pm1:	.skip 4
tsc0:	.skip 4
tsc1:	.skip 4
	.section .note.GNU-stack,"",@progbits
