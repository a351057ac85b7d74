# modes.S: a self-checking guest for emu/cpu (TestModesGuest). It starts
# in real mode at 0:0x8000, enters 32-bit protected mode, enables PAE
# paging, switches to long mode, drops to compatibility mode and comes
# back, checking instructions that differ by mode and taking faults
# (#GP on bad selectors and segment limits, #PF with CR2 and error code)
# through handlers. Progress goes to COM1; a failed check prints FAIL and
# halts, success prints "done" and halts. Built by the Makefile.

	.include "guest.inc"
	.set IDT32, 0x1000
	.set IDT64, 0x2000
	.set PDPT_PAE, 0x3000
	.set PD_PAE, 0x4000
	.set PT_PAE, 0x5000
	.set PML4, 0xa000
	.set STACK, 0x70000

	.text
	.code16
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7000, %sp
	movw $msg_real, %bx
	call puts16

	movw $gp16, 13*4		# IVT: #GP
	movw $0, 13*4+2
	movw $int30_16, 0x30*4		# IVT: int 0x30
	movw $0, 0x30*4+2

	# BCD: 0x19 + 0x28 = 0x41 with AF; DAA makes 0x47
	movb $0x19, %al
	addb $0x28, %al
	daa
	cmpb $0x47, %al
	jne fail16

	# PUSHA/POPA restore everything but SP, which ends where it began
	movw $0x1111, %ax
	movw $0x2222, %cx
	movw $0x3333, %di
	pusha
	xorw %ax, %ax
	xorw %cx, %cx
	xorw %di, %di
	popa
	cmpw $0x1111, %ax
	jne fail16
	cmpw $0x2222, %cx
	jne fail16
	cmpw $0x3333, %di
	jne fail16
	cmpw $0x7000, %sp
	jne fail16

	# LES loads a far pointer
	lesw farptr, %bx
	cmpw $0x1234, %bx
	jne fail16
	movw %es, %ax
	cmpw $0x5678, %ax
	jne fail16
	xorw %ax, %ax
	movw %ax, %es

	# a real-mode segment base is selector * 16
	movw $0x800, %ax
	movw %ax, %ds
	movb (magic - 0x8000), %al
	xorw %dx, %dx
	movw %dx, %ds
	cmpb $0xa5, %al
	jne fail16

	# INT n through the IVT
	xorw %ax, %ax
	int $0x30
	cmpw $0x3030, %ax
	jne fail16

	# a word at offset 0xffff breaks the 64 KiB limit: #GP
	xorw %bp, %bp
	movw $(2f - 1f), %si
1:	movw 0xffff, %ax
2:	cmpw $13, %bp
	jne fail16
	movw $msg_ok, %bx
	call puts16

	# to 32-bit protected mode
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $pm32

fail16:
	movw $msg_fail, %bx
	call puts16
	hlt

# real-mode #GP: skip SI bytes of the faulting instruction, BP = 13
gp16:
	pushw %bp
	movw %sp, %bp
	addw %si, 2(%bp)
	popw %bp
	movw $13, %bp
	iret

int30_16:
	movw $0x3030, %ax
	iret

# 16-bit protected-mode code, reached by a far call from 32-bit code
code16:
	movw $0x1234, %ax
	addw %ax, %ax
	lretl

	.code32
pm32:
	flat32 $0x10, $STACK
	movl $msg_pm32, %ebx
	call puts32

	movl $IDT32, %edi		# IDT: 256 not-present gates...
	movl $512, %ecx
	xorl %eax, %eax
	rep stosl
	movl $13, %eax			# ... then #GP, #PF (interrupt gates)
	movl $gp32, %edx
	movl $0x8e00, %ecx
	call setgate32
	movl $14, %eax
	movl $pf32, %edx
	call setgate32
	movl $0x31, %eax		# and int 0x31 (trap gate, DPL 0)
	movl $int31_32, %edx
	movl $0x8f00, %ecx
	call setgate32
	lidtl idtr32

	xorl %eax, %eax
	int $0x31
	cmpl $0x31c0de, %eax
	jne fail32

	# a selector beyond the GDT limit: #GP(0x38)
	xorl %ebp, %ebp
	movl $0x38, %eax
	movl $(2f - 1f), %esi
1:	movw %ax, %ds
2:	cmpl $13, %ebp
	jne fail32
	cmpl $0x38, %edi
	jne fail32

	# a data segment at 1 MiB with limit 0xfff
	movw $0x20, %ax
	movw %ax, %fs
	movl $0x12345678, %fs:0xffc
	cmpl $0x12345678, 0x100ffc
	jne fail32
	xorl %ebp, %ebp
	movl $-1, %edi
	movl $(2f - 1f), %esi
1:	movl %fs:0xffd, %ecx		# dword crosses the limit: #GP(0)
2:	cmpl $13, %ebp
	jne fail32
	testl %edi, %edi
	jne fail32

	# far call into a 16-bit code segment; it returns with o32 lret
	lcall $0x18, $code16
	cmpw $0x2468, %ax
	jne fail32
	movl $msg_ok, %ebx
	call puts32

	# PAE paging: 0-2 MiB by one 2 MiB page; 2-4 MiB through a page
	# table whose entry 0 is not present and entry 1 read-only
	movl $PDPT_PAE, %edi
	movl $3072, %ecx
	xorl %eax, %eax
	rep stosl
	movl $PD_PAE+1, PDPT_PAE
	movl $0x83, PD_PAE
	movl $PT_PAE+3, PD_PAE+8
	movl $0x201001, PT_PAE+8
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $PDPT_PAE, %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $0x80010000, %eax		# PG | WP
	movl %eax, %cr0
	movl $msg_pae, %ebx
	call puts32

	xorl %ebp, %ebp			# write to a not-present page: #PF(W)
	movl $(2f - 1f), %esi
1:	movl %eax, 0x200010
2:	cmpl $14, %ebp
	jne fail32
	cmpl $2, %edi
	jne fail32
	cmpl $0x200010, %ebx
	jne fail32
	xorl %ebp, %ebp			# supervisor write, read-only, WP: #PF(P|W)
	movl $(2f - 1f), %esi
1:	movl %eax, 0x201000
2:	cmpl $14, %ebp
	jne fail32
	cmpl $3, %edi
	jne fail32
	cmpl $0x201000, %ebx
	jne fail32
	movl 0x201000, %eax		# reading it is allowed
	movl $msg_ok, %ebx
	call puts32

	# long mode: paging off, 4-level tables, EFER.LME, paging on
	movl %cr0, %eax
	andl $0x7fffffff, %eax
	movl %eax, %cr0
	enter_ia32e PML4
	movl $0xc0000080, %ecx		# IA-32e is active: EFER.LMA
	rdmsr
	testl $0x400, %eax
	jz fail32
	ljmp $0x28, $lm64

fail32:
	movl $msg_fail, %ebx
	call puts32
	hlt

setgate32:				# vector EAX, handler EDX, type word CX
	leal IDT32(,%eax,8), %eax
	movw %dx, (%eax)
	movw $0x08, 2(%eax)
	movw %cx, 4(%eax)
	shrl $16, %edx
	movw %dx, 6(%eax)
	ret

# 32-bit handlers: EDI = error code, skip ESI bytes, EBP = vector
gp32:
	popl %edi
	addl %esi, (%esp)
	movl $13, %ebp
	iret
pf32:
	popl %edi
	movl %cr2, %ebx
	addl %esi, (%esp)
	movl $14, %ebp
	iret
int31_32:
	movl $0x31c0de, %eax
	iret

# compatibility mode, entered from 64-bit code by a far return
compat:
	movl $msg_compat, %ebx
	call puts32
	pushl $0x7777
	popl %eax
	cmpl $0x7777, %eax
	jne fail32
	ljmp $0x28, $back64

	.code64
lm64:
	movl $msg_long, %ebx
	call puts64
	movl $IDT64, %edi
	movl $1024, %ecx
	xorl %eax, %eax
	rep stosl
	movl $13, %eax
	leaq gp64(%rip), %rdx
	call setgate64
	lidt idtr64(%rip)

	xorl %ebp, %ebp			# bad selector in 64-bit mode: #GP(0x38)
	movl $0x38, %eax
	movl $(2f - 1f), %esi
1:	movw %ax, %ds
2:	cmpl $13, %ebp
	jne fail64
	cmpl $0x38, %edi
	jne fail64

	movq $-1, %rax			# 16-bit writes merge, 32-bit ones zero-extend
	movw $0x1234, %ax
	movq $0xffffffffffff1234, %rcx
	cmpq %rcx, %rax
	jne fail64
	movl $5, %eax
	shrq $32, %rax
	jnz fail64
	movl $msg_ok, %ebx
	call puts64

	pushq $0x08			# far return to 32-bit code: compatibility mode
	leaq compat(%rip), %rax
	pushq %rax
	lretq

back64:
	movl $msg_back, %ebx
	call puts64
	movl $msg_done, %ebx
	call puts64
	hlt

fail64:
	movl $msg_fail, %ebx
	call puts64
	hlt

setgate64:				# vector RAX, handler RDX
	shlq $4, %rax
	addq $IDT64, %rax
	movw %dx, (%rax)
	movw $0x28, 2(%rax)
	movw $0x8e00, 4(%rax)
	shrq $16, %rdx
	movw %dx, 6(%rax)
	shrq $16, %rdx
	movl %edx, 8(%rax)
	movl $0, 12(%rax)
	ret

gp64:
	popq %rdi
	addq %rsi, (%rsp)
	movl $13, %ebp
	iretq

	puts_routines

	.data
	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	# 0x08 code, 32-bit, flat
	.quad 0x00cf92000000ffff	# 0x10 data, flat
	.quad 0x00009a000000ffff	# 0x18 code, 16-bit, 64 KiB
	.quad 0x0040921000000fff	# 0x20 data, base 1 MiB, limit 0xfff
	.quad 0x00af9a000000ffff	# 0x28 code, 64-bit
	.quad 0				# 0x30
gdt_end:
gdtr:	.word gdt_end - gdt - 1
	.long gdt
idtr32:	.word 256*8 - 1
	.long IDT32
idtr64:	.word 256*16 - 1
	.quad IDT64
farptr:	.word 0x1234, 0x5678
magic:	.byte 0xa5
msg_real:	.asciz "real "
msg_pm32:	.asciz "pm32 "
msg_pae:	.asciz "pae "
msg_long:	.asciz "long "
msg_compat:	.asciz "compat "
msg_back:	.asciz "back64 "
msg_ok:		.asciz "ok\n"
msg_done:	.asciz "done\n"
msg_fail:	.asciz "FAIL\n"
