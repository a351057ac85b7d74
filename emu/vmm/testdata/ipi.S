/*
 * ipi.elf: vCPU 0 sends INIT then STARTUP with vector 0x9a to APIC 1
 * through the xAPIC ICR (§2.11, reference/vmm-interface.md §7.4); VM_RUN
 * must return VM_EXITCODE_SPINUP_AP{vcpu 1, rip 0x9a000}. Then it ends
 * with cli; hlt.
 */
	.include "apic.inc"
	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	leaq	stack_top(%rip), %rsp
	map_high
	lapic_on
	w32	LAPIC_ICRHI, 0x01000000
	w32	LAPIC_ICRLO, 0x00004500	/* INIT, assert */
	w32	LAPIC_ICRHI, 0x01000000
	w32	LAPIC_ICRLO, 0x0000069a	/* STARTUP, vector 0x9a */
1:	cli
	hlt
	jmp	1b
	.bss
	.balign	16
	.skip	4096
stack_top:
	.section .note.GNU-stack,"",@progbits
