/*
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final XOR
 * 0xFFFFFFFF), bit by bit: the same function as Go's hash/crc32.ChecksumIEEE,
 * which is the oracle for the demo's printed checksum. Position-independent
 * and privilege-free, so `make check` also links it into a host program.
 *
 * uint32_t demo_crc32(const void *p, size_t n): %rdi = p, %rsi = n.
 */
	.code64
	.text
	.globl	demo_crc32
demo_crc32:
	movl	$0xffffffff, %eax
1:	testq	%rsi, %rsi
	jz	4f
	movzbl	(%rdi), %edx
	xorl	%edx, %eax
	movl	$8, %ecx
2:	shrl	$1, %eax
	jnc	3f
	xorl	$0xedb88320, %eax
3:	decl	%ecx
	jnz	2b
	incq	%rdi
	decq	%rsi
	jmp	1b
4:	notl	%eax
	ret

	.section .note.GNU-stack,"",@progbits
