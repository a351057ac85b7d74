# forms.S: a self-checking guest for emu/cpu (TestFormsGuest) that runs
# the data-movement, stack and control-transfer forms of the one-byte
# opcode map in 16-bit real mode and then in 32-bit protected mode, each
# checked against the value the SDM says it leaves. It starts at 0:0x8000
# and prints "16 ok", "32 ok", "done" on COM1 (FAIL and a halt otherwise).

	.include "guest.inc"
	.set STACK16, 0x7000
	.set STACK32, 0x70000
	.set PML4, 0xa000

# check VALUE, OPERAND: fail unless OPERAND equals VALUE
	.macro chkw v, x
	cmpw \v, \x
	jne fail16
	.endm
	.macro chkl v, x
	cmpl \v, \x
	jne fail32
	.endm
	.macro chkq v, x
	cmpq \v, \x
	jne fail64
	.endm

	.text
	.code16
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movw $STACK16, %sp

	# moves: immediate, register, moffs and r/m forms at 8, 16, 32 bits
	movb $0x12, %dl
	movb %dl, %al
	movb %al, v8
	movb v8, %cl
	cmpb $0x12, %cl
	jne fail16
	movb $0x34, v8
	cmpb $0x34, v8
	jne fail16
	movw $0x1234, %dx
	movw %dx, %ax
	movw %ax, v16
	movw v16, %bx
	chkw $0x1234, %bx
	movw $0x5678, v16
	chkw $0x5678, v16
	movl $0x11223344, %ecx
	movl %ecx, v32
	movl v32, %eax
	cmpl $0x11223344, %eax
	jne fail16
	movl $0xaabbccdd, v32
	cmpl $0xaabbccdd, v32
	jne fail16
	movb $1, %al
	movb $2, %dl
	xchgb %al, %dl
	cmpb $2, %al
	jne fail16
	movw $3, %ax
	movw $4, %bx
	xchgw %ax, %bx
	chkw $4, %ax
	movw $5, %dx
	movw %dx, v16
	movw $6, %dx
	xchgw %dx, v16
	chkw $5, %dx
	chkw $6, v16
	movw %ds, v16
	movw v16, %es
	movw %es, %ax
	chkw $0, %ax

	# stack: immediates, registers, memory, segments, flags, PUSHA
	pushw $0x12
	pushw $0x1234
	pushl $0x55667788
	popl %eax
	cmpl $0x55667788, %eax
	jne fail16
	popw %ax
	chkw $0x1234, %ax
	popw %ax
	chkw $0x12, %ax
	movw $0x4321, v16
	pushw v16
	popw %dx
	chkw $0x4321, %dx
	pushw %dx
	popw v16
	chkw $0x4321, v16
	pushl %ecx
	popl %edx
	cmpl $0x11223344, %edx
	jne fail16
	pushw %es
	pushw %ds
	pushw %ss
	pushw %fs
	pushw %gs
	popw %gs
	popw %fs
	popw %ss
	popw %ds
	popw %es
	stc
	pushfw
	clc
	popfw
	jnc fail16
	pushfl
	popfl
	jnc fail16
	pusha
	popa
	pushal
	popal
	enterw $8, $0
	movw %sp, %ax
	leavew
	chkw $STACK16-10, %ax
	chkw $STACK16, %sp

	# control: near CALL/RET (rel, register, memory, RET imm16),
	# JMP (short, near, register, memory), far CALL/JMP/RET
	xorw %si, %si
	call sub16
	chkw $1, %si
	movw $sub16, %bx
	call *%bx
	movw %bx, v16
	call *v16
	chkw $3, %si
	pushw $0
	call subret2
	chkw $STACK16, %sp
	calll sub16l
	chkw $4, %si
	jmp 1f
	jmp fail16
1:	jmp 2f
	.fill 200, 1, 0x90
	jmp fail16
2:	movw $3f, %bx
	jmp *%bx
	jmp fail16
3:	movw $4f, v16
	jmp *v16
	jmp fail16
4:	lcall $0, $far16
	chkw $5, %si
	movw $far16, farp16
	movw $0, farp16+2
	lcall *farp16
	chkw $6, %si
	pushw $0
	lcall $0, $farret2
	chkw $STACK16, %sp
	movw $5f, farp16
	ljmp *farp16
	jmp fail16
5:	ljmp $0, $6f
	jmp fail16
6:	chkw $STACK16, %sp
	movw $msg16, %bx
	call puts16

	# to 32-bit protected mode
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $pm32

sub16:	incw %si
	ret
sub16l:	incw %si
	retl
subret2:
	ret $2
far16:	incw %si
	lret
farret2:
	lret $2

fail16:
	movw $msgfail, %bx
	call puts16
	hlt

	.code32
pm32:
	flat32 $0x10, $STACK32

	movb $0x12, %dl
	movb %dl, %al
	movb %al, v8
	movb v8, %cl
	cmpb $0x12, %cl
	jne fail32
	movb $0x34, v8
	cmpb $0x34, v8
	jne fail32
	movw $0x1234, %dx
	movw %dx, %ax
	movw %ax, v16
	movw v16, %bx
	cmpw $0x1234, %bx
	jne fail32
	movw $0x5678, v16
	cmpw $0x5678, v16
	jne fail32
	movl $0x11223344, %ecx
	movl %ecx, v32
	movl v32, %eax
	chkl $0x11223344, %eax
	movl %ecx, %edx
	movl v32, %ebx
	chkl %edx, %ebx
	movl $0xaabbccdd, v32
	chkl $0xaabbccdd, v32
	movb $1, %al
	movb $2, %dl
	xchgb %al, %dl
	cmpb $2, %al
	jne fail32
	movl $3, %eax
	movl $4, %ebx
	xchgl %eax, %ebx
	chkl $4, %eax
	movl $5, %edx
	movl %edx, v32
	movl $6, %edx
	xchgl %edx, v32
	chkl $5, %edx
	chkl $6, v32
	movw %ds, v16
	movw v16, %es
	movw %es, %ax
	cmpw $0x10, %ax
	jne fail32

	pushl $0x12
	pushl $0x12345678
	pushw $0x5566
	popw %ax
	cmpw $0x5566, %ax
	jne fail32
	popl %eax
	chkl $0x12345678, %eax
	popl %eax
	chkl $0x12, %eax
	movl $0x87654321, v32
	pushl v32
	popl %edx
	chkl $0x87654321, %edx
	pushl %edx
	popl v32
	chkl $0x87654321, v32
	pushw %cx
	popw %dx
	cmpw $0x3344, %dx
	jne fail32
	pushl %es
	pushl %ds
	pushl %ss
	pushl %fs
	pushl %gs
	popl %gs
	popl %fs
	popl %ss
	popl %ds
	popl %es
	stc
	pushfl
	clc
	popfl
	jnc fail32
	pushfw
	popfw
	jnc fail32
	pushal
	popal
	pushaw
	popaw
	enterl $8, $0
	movl %esp, %eax
	leavel
	chkl $STACK32-12, %eax
	chkl $STACK32, %esp

	xorl %esi, %esi
	call sub32
	chkl $1, %esi
	movl $sub32, %ebx
	call *%ebx
	movl %ebx, v32
	call *v32
	chkl $3, %esi
	pushl $0
	call subret4
	chkl $STACK32, %esp
	jmp 1f
	jmp fail32
1:	jmp 2f
	.fill 200, 1, 0x90
	jmp fail32
2:	movl $3f, %ebx
	jmp *%ebx
	jmp fail32
3:	movl $4f, v32
	jmp *v32
	jmp fail32
4:	lcall $0x08, $far32
	chkl $4, %esi
	movl $far32, farp32
	movw $0x08, farp32+4
	lcall *farp32
	chkl $5, %esi
	pushl $0
	lcall $0x08, $farret4
	chkl $STACK32, %esp
	movl $5f, farp32
	ljmp *farp32
	jmp fail32
5:	ljmp $0x08, $6f
	jmp fail32
6:	chkl $STACK32, %esp
	movl $msg32, %ebx
	call puts32

	# to long mode: 4-level identity tables for the first 2 MiB
	enter_ia32e PML4
	ljmp $0x18, $lm64

sub32:	incl %esi
	ret
subret4:
	ret $4
far32:	incl %esi
	lret
farret4:
	lret $4

fail32:
	movl $msgfail, %ebx
	call puts32
	hlt

	.code64
lm64:
	movq $STACK32, %rsp
	# moves and exchanges at every width, sign extension, XLAT
	movb $0x12, %dl
	movb %dl, v8
	xchgb %dl, v8
	movq $0x1122334455667788, %rcx
	movq %rcx, v64
	movq v64, %rax
	chkq %rcx, %rax
	movabsq v64, %rax
	chkq %rcx, %rax
	movw %ds, %ax
	movw %ax, %fs
	movq %fs, %rbx
	chkq $0x10, %rbx
	movl $-5, %eax
	movslq %eax, %rdx
	chkq $-5, %rdx
	leaq table(%rip), %rbx
	movb $3, %al
	xlatb
	cmpb $0x33, %al
	jne fail64

	# stack: FS/GS, flags, 16-bit forms, LEAVE
	pushq %fs
	pushq %gs
	popq %gs
	popq %fs
	stc
	pushfq
	clc
	popfq
	jnc fail64
	pushw $0x1234
	popw %ax
	cmpw $0x1234, %ax
	jne fail64
	pushq %rbp
	movq %rsp, %rbp
	subq $32, %rsp
	leaveq
	chkq $STACK32, %rsp

	# control: CALL/JMP r/m64, far transfers through m16:64
	xorl %esi, %esi
	leaq sub64(%rip), %rbx
	call *%rbx
	movq %rbx, v64
	call *v64(%rip)
	chkq $2, %rsi
	leaq 1f(%rip), %rax
	jmp *%rax
	jmp fail64
1:	leaq far64(%rip), %rax
	movq %rax, farp64
	movw $0x18, farp64+8
	rex64 lcall *farp64
	chkq $3, %rsi
	leaq 2f(%rip), %rax
	movq %rax, farp64
	rex64 ljmp *farp64
	jmp fail64
2:	leaq farp64, %rbx
	.byte 0x48, 0x0f, 0xb4, 0x03		# lfs (%rbx), %rax: m16:64
	movw %fs, %cx
	cmpw $0x18, %cx
	jne fail64
	movw %ds, %ax
	movw %ax, %fs

	# CMPXCHG8B / CMPXCHG16B, BSWAP, CLD/STD, CPUID, RDTSC
	xorl %eax, %eax
	xorl %edx, %edx
	movl $1, %ebx
	movl $2, %ecx
	cmpxchg8b cx16
	jne fail64
	cmpl $1, cx16
	jne fail64
	xorl %eax, %eax
	xorl %edx, %edx
	movq $0, cx16
	cmpxchg16b cx16
	jne fail64
	chkq $1, cx16
	movl $0x11223344, %eax
	bswapl %eax
	cmpl $0x44332211, %eax
	jne fail64
	std
	cld
	xorl %eax, %eax
	cpuid
	cmpl $0x74666f53, %ebx			# "Soft"
	jne fail64
	rdtsc

	# system: SGDT/SIDT, SLDT/STR/SMSW, LAR/LSL/VERR/VERW
	sgdt sg
	cmpw $gdt_end - gdt - 1, sg
	jne fail64
	sidt sg
	sldt %ax
	str %ax
	smsw %rax
	testl $1, %eax
	jz fail64
	movl $0x10, %eax
	lar %eax, %ecx
	jnz fail64
	lsl %eax, %ecx
	jnz fail64
	cmpl $0xffffffff, %ecx
	jne fail64
	verr %ax
	jnz fail64
	verw %ax
	jnz fail64
	movl $0x18, %eax
	verw %ax
	jz fail64

	movq $msg64, %rbx
	call puts64
	movq $msgdone, %rbx
	call puts64
	hlt

sub64:	incq %rsi
	ret
far64:	incq %rsi
	lretq

fail64:
	movq $msgfail, %rbx
	call puts64
	hlt

	puts_routines

	.data
table:	.byte 0x00, 0x11, 0x22, 0x33
v64:	.quad 0
sg:	.word 0
	.quad 0
	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	# 0x08 code, 32-bit, flat
	.quad 0x00cf92000000ffff	# 0x10 data, flat
	.quad 0x00af9a000000ffff	# 0x18 code, 64-bit
gdt_end:
gdtr:	.word gdt_end - gdt - 1
	.long gdt
v8:	.byte 0
	.p2align 1
v16:	.word 0
	.p2align 2
v32:	.long 0
farp16:	.word 0, 0
farp32:	.long 0
	.word 0
	.p2align 3
farp64:	.quad 0
	.word 0
	.p2align 4
cx16:	.quad 0, 0
msg16:	.asciz "16 ok\n"
msg32:	.asciz "32 ok\n"
msg64:	.asciz "64 ok\n"
msgdone: .asciz "done\n"
msgfail: .asciz "FAIL\n"
