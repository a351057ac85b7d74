/*
 * C-compiler oracle for softvmm/emu/abi (cabi_test.go).
 *
 * The struct definitions below are written for this test from the field
 * lists of reference/vmm-interface.md §3, §3.1 and §3.2 (FreeBSD 12 amd64
 * types: int/enum 4 bytes, uint64_t/size_t/time_t/pointers 8). The C
 * compiler, not Go, then decides sizes, offsets, padding and bitfield
 * placement; the program prints them, and full byte images of vm_exit
 * unions, for the Go test to compare with the Go structs and accessors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct seg_desc { uint64_t base; uint32_t limit; uint32_t access; };
struct vm_guest_paging { uint64_t cr3; int cpl; int cpu_mode; int paging_mode; };
struct vm_memmap { uint64_t gpa; int segid; int64_t segoff; size_t len; int prot; int flags; };
struct vm_memseg { int segid; size_t len; char name[63 + 1]; };
struct vm_register { int cpuid; int regnum; uint64_t regval; };
struct vm_seg_desc { int cpuid; int regnum; struct seg_desc desc; };
struct vm_register_set { int cpuid; unsigned int count; const int *regnums; uint64_t *regvals; };

struct vie_op { uint8_t op_byte; uint8_t op_type; uint16_t op_flags; };
struct vie {
	uint8_t inst[15];
	uint8_t num_valid;
	uint8_t num_processed;
	uint8_t addrsize:4, opsize:4;
	uint8_t rex_w:1, rex_r:1, rex_x:1, rex_b:1, rex_present:1,
	    repz_present:1, repnz_present:1, opsize_override:1,
	    addrsize_override:1, segment_override:1;
	uint8_t mod:2, reg:4, rm:4;
	uint8_t ss:2, index:4, base:4;
	uint8_t disp_bytes;
	uint8_t imm_bytes;
	uint8_t scale;
	int base_register;
	int index_register;
	int segment_register;
	int64_t displacement;
	int64_t immediate;
	uint8_t decoded;
	struct vie_op op;
};

struct vm_inout { uint16_t bytes:3, in:1, string:1, rep:1; uint16_t port; uint32_t eax; };
struct vm_inout_str {
	struct vm_inout inout;
	struct vm_guest_paging paging;
	uint64_t rflags, cr0, index, count;
	int addrsize;
	int seg_name;
	struct seg_desc seg_desc;
};
struct vm_task_switch {
	uint16_t tsssel; int ext; uint32_t errcode; int errcode_valid; int reason;
	struct vm_guest_paging paging;
};
struct vm_exit {
	int exitcode;
	int inst_length;
	uint64_t rip;
	union {
		struct vm_inout inout;
		struct vm_inout_str inout_str;
		struct { uint64_t gpa; int fault_type; } paging;
		struct { uint64_t gpa, gla, cs_base; int cs_d;
			struct vm_guest_paging paging; struct vie vie; } inst_emul;
		struct { int status; uint32_t exit_reason; uint64_t exit_qualification;
			int inst_type; int inst_error; } vmx;
		struct { uint64_t exitcode, exitinfo1, exitinfo2; } svm;
		struct { uint32_t code; uint64_t wval; } msr;
		struct { int vcpu; uint64_t rip; } spinup_ap;
		struct { uint64_t rflags, intr_status; } hlt;
		struct { int vector; } ioapic_eoi;
		struct { int how; } suspended;
		struct vm_task_switch task_switch;
	} u;
};
struct vm_run { int cpuid; struct vm_exit vm_exit; };
struct vm_exception { int cpuid; int vector; uint32_t error_code; int error_code_valid; int restart_instruction; };
struct vm_lapic_msi { uint64_t msg; uint64_t addr; };
struct vm_lapic_irq { int cpuid; int vector; };
struct vm_ioapic_irq { int irq; };
struct vm_isa_irq { int atpic_irq; int ioapic_irq; };
struct vm_isa_irq_trigger { int atpic_irq; int trigger; };
struct vm_capability { int cpuid; int captype; int capval; int allcpus; };
struct vm_pptdev { int bus; int slot; int func; };
struct vm_pptdev_mmio { int bus; int slot; int func; uint64_t gpa; uint64_t hpa; size_t len; };
struct vm_pptdev_msi { int vcpu; int bus; int slot; int func; int numvec; uint64_t msg; uint64_t addr; };
struct vm_pptdev_msix { int vcpu; int bus; int slot; int func; int idx; uint64_t msg; uint32_t vector_control; uint64_t addr; };
struct vm_nmi { int cpuid; };
struct timeval_ { int64_t tv_sec; int64_t tv_usec; };
struct vm_stats { int cpuid; int num_entries; struct timeval_ tv; uint64_t statbuf[64]; };
struct vm_stat_desc { int index; char desc[128]; };
struct vm_x2apic { int cpuid; int state; };
struct vm_gpa_pte { uint64_t gpa; uint64_t pte[4]; int ptenum; };
struct vm_hpet_cap { uint32_t capabilities; };
struct vm_suspend { int how; };
struct vm_gla2gpa { int vcpuid; int prot; uint64_t gla; struct vm_guest_paging paging; int fault; uint64_t gpa; };
struct vm_activate_cpu { int vcpuid; };
struct vm_cpuset { int which; int cpusetsize; void *cpus; };
struct vm_intinfo { int vcpuid; uint64_t info1; uint64_t info2; };
struct vm_rtc_time { int64_t secs; };
struct vm_rtc_data { int offset; uint8_t value; };
struct vm_cpu_topology { uint16_t sockets, cores, threads, maxcpus; };

#define SZ(s) printf("%s sizeof %zu\n", #s, sizeof(struct s))
#define OFF(s, f) printf("%s %s %zu\n", #s, #f, offsetof(struct s, f))
#define FSZ(s, f) printf("%s sizeof(%s) %zu\n", #s, #f, sizeof(((struct s *)0)->f))

static void
dump(const char *name, const void *p, size_t n)
{
	const unsigned char *b = p;
	printf("bytes %s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static const struct vm_guest_paging tpaging = { 0x1122334455667788ULL, 3, 3, 3 };

int
main(void)
{
	SZ(seg_desc); OFF(seg_desc, base); OFF(seg_desc, limit); OFF(seg_desc, access);
	SZ(vm_guest_paging); OFF(vm_guest_paging, cr3); OFF(vm_guest_paging, cpl);
	OFF(vm_guest_paging, cpu_mode); OFF(vm_guest_paging, paging_mode);
	SZ(vm_memmap); OFF(vm_memmap, gpa); OFF(vm_memmap, segid); OFF(vm_memmap, segoff);
	OFF(vm_memmap, len); OFF(vm_memmap, prot); OFF(vm_memmap, flags);
	SZ(vm_memseg); OFF(vm_memseg, segid); OFF(vm_memseg, len); OFF(vm_memseg, name); FSZ(vm_memseg, name);
	SZ(vm_register); OFF(vm_register, cpuid); OFF(vm_register, regnum); OFF(vm_register, regval);
	SZ(vm_seg_desc); OFF(vm_seg_desc, cpuid); OFF(vm_seg_desc, regnum); OFF(vm_seg_desc, desc);
	SZ(vm_register_set); OFF(vm_register_set, cpuid); OFF(vm_register_set, count);
	OFF(vm_register_set, regnums); OFF(vm_register_set, regvals);
	SZ(vm_exit); OFF(vm_exit, exitcode); OFF(vm_exit, inst_length); OFF(vm_exit, rip); OFF(vm_exit, u); FSZ(vm_exit, u);
	SZ(vm_run); OFF(vm_run, cpuid); OFF(vm_run, vm_exit);
	SZ(vm_exception); OFF(vm_exception, cpuid); OFF(vm_exception, vector); OFF(vm_exception, error_code);
	OFF(vm_exception, error_code_valid); OFF(vm_exception, restart_instruction);
	SZ(vm_lapic_msi); OFF(vm_lapic_msi, msg); OFF(vm_lapic_msi, addr);
	SZ(vm_lapic_irq); OFF(vm_lapic_irq, cpuid); OFF(vm_lapic_irq, vector);
	SZ(vm_ioapic_irq); OFF(vm_ioapic_irq, irq);
	SZ(vm_isa_irq); OFF(vm_isa_irq, atpic_irq); OFF(vm_isa_irq, ioapic_irq);
	SZ(vm_isa_irq_trigger); OFF(vm_isa_irq_trigger, atpic_irq); OFF(vm_isa_irq_trigger, trigger);
	SZ(vm_capability); OFF(vm_capability, cpuid); OFF(vm_capability, captype);
	OFF(vm_capability, capval); OFF(vm_capability, allcpus);
	SZ(vm_pptdev); OFF(vm_pptdev, bus); OFF(vm_pptdev, slot); OFF(vm_pptdev, func);
	SZ(vm_pptdev_mmio); OFF(vm_pptdev_mmio, bus); OFF(vm_pptdev_mmio, slot); OFF(vm_pptdev_mmio, func);
	OFF(vm_pptdev_mmio, gpa); OFF(vm_pptdev_mmio, hpa); OFF(vm_pptdev_mmio, len);
	SZ(vm_pptdev_msi); OFF(vm_pptdev_msi, vcpu); OFF(vm_pptdev_msi, bus); OFF(vm_pptdev_msi, slot);
	OFF(vm_pptdev_msi, func); OFF(vm_pptdev_msi, numvec); OFF(vm_pptdev_msi, msg); OFF(vm_pptdev_msi, addr);
	SZ(vm_pptdev_msix); OFF(vm_pptdev_msix, vcpu); OFF(vm_pptdev_msix, bus); OFF(vm_pptdev_msix, slot);
	OFF(vm_pptdev_msix, func); OFF(vm_pptdev_msix, idx); OFF(vm_pptdev_msix, msg);
	OFF(vm_pptdev_msix, vector_control); OFF(vm_pptdev_msix, addr);
	SZ(vm_nmi); OFF(vm_nmi, cpuid);
	printf("timeval sizeof %zu\n", sizeof(struct timeval_));
	printf("timeval tv_sec %zu\n", offsetof(struct timeval_, tv_sec));
	printf("timeval tv_usec %zu\n", offsetof(struct timeval_, tv_usec));
	SZ(vm_stats); OFF(vm_stats, cpuid); OFF(vm_stats, num_entries); OFF(vm_stats, tv);
	OFF(vm_stats, statbuf); FSZ(vm_stats, statbuf);
	SZ(vm_stat_desc); OFF(vm_stat_desc, index); OFF(vm_stat_desc, desc); FSZ(vm_stat_desc, desc);
	SZ(vm_x2apic); OFF(vm_x2apic, cpuid); OFF(vm_x2apic, state);
	SZ(vm_gpa_pte); OFF(vm_gpa_pte, gpa); OFF(vm_gpa_pte, pte); OFF(vm_gpa_pte, ptenum);
	SZ(vm_hpet_cap); OFF(vm_hpet_cap, capabilities);
	SZ(vm_suspend); OFF(vm_suspend, how);
	SZ(vm_gla2gpa); OFF(vm_gla2gpa, vcpuid); OFF(vm_gla2gpa, prot); OFF(vm_gla2gpa, gla);
	OFF(vm_gla2gpa, paging); OFF(vm_gla2gpa, fault); OFF(vm_gla2gpa, gpa);
	SZ(vm_activate_cpu); OFF(vm_activate_cpu, vcpuid);
	SZ(vm_cpuset); OFF(vm_cpuset, which); OFF(vm_cpuset, cpusetsize); OFF(vm_cpuset, cpus);
	SZ(vm_intinfo); OFF(vm_intinfo, vcpuid); OFF(vm_intinfo, info1); OFF(vm_intinfo, info2);
	SZ(vm_rtc_time); OFF(vm_rtc_time, secs);
	SZ(vm_rtc_data); OFF(vm_rtc_data, offset); OFF(vm_rtc_data, value);
	SZ(vm_cpu_topology); OFF(vm_cpu_topology, sockets); OFF(vm_cpu_topology, cores);
	OFF(vm_cpu_topology, threads); OFF(vm_cpu_topology, maxcpus);
	SZ(vie); OFF(vie, inst); OFF(vie, num_valid); OFF(vie, num_processed); OFF(vie, disp_bytes);
	OFF(vie, imm_bytes); OFF(vie, scale); OFF(vie, base_register); OFF(vie, index_register);
	OFF(vie, segment_register); OFF(vie, displacement); OFF(vie, immediate); OFF(vie, decoded);
	printf("vie op_byte %zu\n", offsetof(struct vie, op.op_byte));
	printf("vie op_type %zu\n", offsetof(struct vie, op.op_type));
	printf("vie op_flags %zu\n", offsetof(struct vie, op.op_flags));

	/* Whole vm_exit images, one per union member (values as in exit_test.go). */
	struct vm_exit e;

	memset(&e, 0, sizeof(e));
	e.u.inout.bytes = 4; e.u.inout.in = 1; e.u.inout.rep = 1;
	e.u.inout.port = 0x3f8; e.u.inout.eax = 0xAABBCCDD;
	dump("inout", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.inout_str.inout.bytes = 1; e.u.inout_str.inout.in = 1;
	e.u.inout_str.inout.string = 1; e.u.inout_str.inout.rep = 1;
	e.u.inout_str.inout.port = 0x60;
	e.u.inout_str.paging = tpaging;
	e.u.inout_str.rflags = 0x202; e.u.inout_str.cr0 = 0x80000011;
	e.u.inout_str.index = 0x1000; e.u.inout_str.count = 7;
	e.u.inout_str.addrsize = 8; e.u.inout_str.seg_name = 22;
	e.u.inout_str.seg_desc.base = 0x10000; e.u.inout_str.seg_desc.limit = 0xffff;
	e.u.inout_str.seg_desc.access = 0x93;
	dump("inout_str", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.paging.gpa = 0xFEE00300; e.u.paging.fault_type = 2;
	dump("paging", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.inst_emul.gpa = 0xFED00010; e.u.inst_emul.gla = 0xFFFF800000001000ULL;
	e.u.inst_emul.cs_base = 0x10; e.u.inst_emul.cs_d = 1;
	e.u.inst_emul.paging = tpaging;
	{
		struct vie *v = &e.u.inst_emul.vie;
		v->inst[0] = 0x89; v->inst[1] = 0x04; v->inst[2] = 0x8B; v->inst[14] = 0xCC;
		v->num_valid = 15; v->num_processed = 3;
		v->addrsize = 8; v->opsize = 4;
		v->rex_w = 1; v->rex_b = 1; v->opsize_override = 1; v->segment_override = 1;
		v->mod = 0; v->reg = 0; v->rm = 4; v->ss = 2; v->index = 1; v->base = 3;
		v->disp_bytes = 4; v->imm_bytes = 1; v->scale = 4;
		v->base_register = 1; v->index_register = 2; v->segment_register = 25;
		v->displacement = -8; v->immediate = 0x7f;
		v->decoded = 1; v->op.op_byte = 0x89; v->op.op_type = 1; v->op.op_flags = 0x0102;
	}
	dump("inst_emul", &e, sizeof(e));

	/* Each vie bitfield alone at its maximum: where does the compiler put it? */
#define VIEBIT(f, max) do { struct vie v; memset(&v, 0, sizeof(v)); v.f = max; \
	dump("vie." #f, &v, sizeof(v)); } while (0)
	VIEBIT(addrsize, 15); VIEBIT(opsize, 15); VIEBIT(rex_w, 1); VIEBIT(rex_r, 1);
	VIEBIT(rex_x, 1); VIEBIT(rex_b, 1); VIEBIT(rex_present, 1); VIEBIT(repz_present, 1);
	VIEBIT(repnz_present, 1); VIEBIT(opsize_override, 1); VIEBIT(addrsize_override, 1);
	VIEBIT(segment_override, 1); VIEBIT(mod, 3); VIEBIT(reg, 15); VIEBIT(rm, 15);
	VIEBIT(ss, 3); VIEBIT(index, 15); VIEBIT(base, 15);

	memset(&e, 0, sizeof(e));
	e.u.vmx.status = -1; e.u.vmx.exit_reason = 48; e.u.vmx.exit_qualification = 0x181;
	e.u.vmx.inst_type = 2; e.u.vmx.inst_error = 7;
	dump("vmx", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.svm.exitcode = 0x7B; e.u.svm.exitinfo1 = 0x3F80210; e.u.svm.exitinfo2 = 0x1234;
	dump("svm", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.msr.code = 0xC0000080; e.u.msr.wval = 0xD01;
	dump("msr", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.spinup_ap.vcpu = 3; e.u.spinup_ap.rip = 0x9F000;
	dump("spinup_ap", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.hlt.rflags = 0x246; e.u.hlt.intr_status = 0x30;
	dump("hlt", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.ioapic_eoi.vector = 0x41;
	dump("ioapic_eoi", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.suspended.how = 4;
	dump("suspended", &e, sizeof(e));

	memset(&e, 0, sizeof(e));
	e.u.task_switch.tsssel = 0x28; e.u.task_switch.ext = 1; e.u.task_switch.errcode = 0x1C;
	e.u.task_switch.errcode_valid = 1; e.u.task_switch.reason = 3;
	e.u.task_switch.paging = tpaging;
	dump("task_switch", &e, sizeof(e));
	return 0;
}
