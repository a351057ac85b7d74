/*
 * kvmrun: boot a testdata ELF64 guest on the host CPU through /dev/kvm, in
 * the state bhyveload leaves a FreeBSD kernel in (reference/vmm-interface.md
 * §14.1), with the two devices the guests use: COM1 transmit (THR 0x3f8,
 * LSR 0x3fd always THRE|TEMT) to stdout, and isa-debug-exit at 0xf4 (exit
 * status (v << 1) | 1). HLT ends the run with status 0, as softvmm's halt
 * suspend does. This is the "real hardware" oracle for the guest images
 * (make kvm-check); it is independent of softvmm's Go code.
 *
 * usage: kvmrun IMAGE.elf   (needs read/write access to /dev/kvm)
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEMSIZE (256UL << 20) /* bhyveload's default -m (§6.6) */

static void die(const char *what)
{
	perror(what);
	exit(125);
}

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, 8);
}

static uint64_t load(uint8_t *mem, const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *img;
	Elf64_Ehdr *eh;

	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		die("mmap image");
	eh = (Elf64_Ehdr *)img;
	if ((size_t)st.st_size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64) {
		fprintf(stderr, "%s: not an x86-64 ELF64 image\n", path);
		exit(125);
	}
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_paddr < 0x6000 || ph->p_paddr + ph->p_memsz > MEMSIZE) {
			fprintf(stderr, "%s: PT_LOAD at 0x%lx not placeable\n", path,
				(unsigned long)ph->p_paddr);
			exit(125);
		}
		memcpy(mem + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
		memset(mem + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
	return eh->e_entry;
}

int main(int argc, char **argv)
{
	int kvm, vm, vcpu, mmap_size;
	uint8_t *mem;
	struct kvm_run *run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_userspace_memory_region region;
	uint64_t entry;

	if (argc != 2) {
		fprintf(stderr, "usage: kvmrun IMAGE.elf\n");
		return 125;
	}
	mem = mmap(NULL, MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	entry = load(mem, argv[1]);

	/* §14.1: argument words, PML4, PDPT, PD (1 GiB in 2 MiB pages), GDT. */
	put64(mem, 0x1000, 0);
	put64(mem, 0x1008, 0);
	put64(mem, 0x1010, 0);
	for (uint64_t i = 0; i < 512; i++) {
		put64(mem, 0x2000 + 8 * i, 0x3000 | 0x7);
		put64(mem, 0x3000 + 8 * i, 0x4000 | 0x7);
		put64(mem, 0x4000 + 8 * i, (i << 21) | 0x87);
	}
	put64(mem, 0x5000, 0);
	put64(mem, 0x5008, 0x0020980000000000ULL);
	put64(mem, 0x5010, 0x0000900000000000ULL);

	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
		die("/dev/kvm");
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		die("KVM_CREATE_VM");
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEMSIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		die("KVM_CREATE_VCPU");
	if ((mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	/* vm_setup_freebsd_registers (§14.1, second table). */
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cr0 = 0x80000021;
	sregs.cr3 = 0x2000;
	sregs.cr4 = 0x20;
	sregs.efer = 0x500;
	sregs.cs = (struct kvm_segment){.base = 0, .limit = 0, .selector = 0x8,
		.type = 0xb, .present = 1, .s = 1, .l = 1};
	struct kvm_segment data = {.base = 0, .limit = 0, .selector = 0x10,
		.type = 0x3, .present = 1, .s = 1};
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = (struct kvm_segment){.type = 0xb, .present = 1};
	sregs.ldt = (struct kvm_segment){.unusable = 1};
	sregs.gdt.base = 0x5000;
	sregs.gdt.limit = 23;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof regs);
	regs.rip = entry;
	regs.rsp = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	alarm(20);
	uint8_t scr = 0;

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_HLT:
			fflush(stdout);
			return 0;
		case KVM_EXIT_IO: {
			/* String I/O (INS/OUTS) arrives as count elements of size
			 * bytes; KVM itself moves them to and from guest memory
			 * and updates RSI/RDI/RCX. */
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			uint32_t i;

			for (i = 0; i < run->io.count; i++, data += run->io.size) {
				uint32_t v = 0;

				if (run->io.direction == KVM_EXIT_IO_OUT) {
					memcpy(&v, data, run->io.size);
					if (run->io.port == 0x3f8)
						putchar((int)(v & 0xff));
					else if (run->io.port == 0x3ff)
						scr = (uint8_t)v; /* 16550 scratch register */
					else if (run->io.port == 0xf4) {
						fflush(stdout);
						return (int)((v << 1) | 1) & 0xff;
					} else
						fprintf(stderr, "kvmrun: OUT 0x%x <- 0x%x ignored\n",
							run->io.port, v);
				} else {
					v = run->io.port == 0x3fd ? 0x60 :
					    run->io.port == 0x3ff ? scr : 0xffffffff;
					memcpy(data, &v, run->io.size);
				}
			}
			break;
		}
		case KVM_EXIT_SHUTDOWN:
			fprintf(stderr, "kvmrun: triple fault\n");
			return 123;
		default:
			fprintf(stderr, "kvmrun: exit reason %u\n", run->exit_reason);
			return 122;
		}
	}
}
