package vmm_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/vmmapi"
)

// mapHigh points PDPT[3] of bhyveload's page tables at 3 GiB as one
// uncached 1 GiB page, so the LAPIC/IOAPIC/HPET windows are reachable
// (the loader aliases RAM there).
func mapHigh(t *testing.T, ctx *vmmapi.VMCtx) {
	t.Helper()
	cr3, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_CR3)
	var b [8]byte
	if _, err := ctx.Dev().Read(ctx.Thread(), b[:], int64(cr3&^0xfff)); err != nil {
		t.Fatal(err)
	}
	pdpt := binary.LittleEndian.Uint64(b[:]) & 0x000ffffffffff000
	binary.LittleEndian.PutUint64(b[:], 0xc0000093)
	if err := ctx.WriteGPA(pdpt+24, b[:]); err != nil {
		t.Fatal(err)
	}
}

func runTo(t *testing.T, ctx *vmmapi.VMCtx, code int32) abi.VMExit {
	t.Helper()
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Exitcode != code {
		t.Fatalf("exit %s at %#x, want %s", abi.ExitcodeName(ex.Exitcode), ex.Rip, abi.ExitcodeName(code))
	}
	return ex
}

// An in-kernel IN merges into the 32-bit EAX and writes RAX back whole:
// RAX[63:32] is cleared even by a byte IN (reference/vmm-devices.md §1.2,
// §12 #16, reproduced). A wrong-width access to an in-kernel port is EIO.
func TestInKernelPortQuirks(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	// mov $-1,%rax; mov $0x0d,%al; out %al,$0x70; in $0x71,%al; out %al,$0x80; in $0x71,%ax
	patch(t, ctx, 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, 0xb0, 0x0d, 0xe6, 0x70, 0xe4, 0x71, 0xe6, 0x80, 0x66, 0xe5, 0x71)
	ex := runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	if io := ex.Inout(); io.Port != 0x80 {
		t.Fatalf("first userspace port %#x, want 0x80 (0x70/0x71 are the kernel's)", io.Port)
	}
	if rax, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RAX); rax != 0x00000000ffffff80 {
		t.Fatalf("RAX after IN of reg D = %#x, want 0x00000000ffffff80", rax)
	}
	var e abi.VMExit
	if err := ctx.Run(0, &e); !errors.Is(err, abi.EIO) {
		t.Fatalf("16-bit IN from port 0x71: %v, want EIO", err)
	}
}

// LAPIC MMIO: a 2-byte write is EINVAL out of VM_RUN (§2.1, §12 #13,
// reproduced); a 4-byte TPR write is what MOV from CR8 then reads
// (TPR[7:4], SDM vol. 3A §10.8.6.1).
func TestLAPICMMIOAndCR8(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	// mov $0xfee00080,%esi; movl $0x20,(%rsi); mov %cr8,%rax; out %al,$0x80; movw $1,(%rsi)
	patch(t, ctx, 0xbe, 0x80, 0x00, 0xe0, 0xfe, 0xc7, 0x06, 0x20, 0, 0, 0, 0x44, 0x0f, 0x20, 0xc0, 0xe6, 0x80,
		0x66, 0xc7, 0x06, 0x01, 0x00)
	runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	if rax, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RAX); rax != 2 {
		t.Fatalf("CR8 after TPR = 0x20: %#x, want 2", rax)
	}
	var e abi.VMExit
	if err := ctx.Run(0, &e); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("2-byte LAPIC write: %v, want EINVAL", err)
	}
}

// MMIO outside the kernel's windows still leaves for userspace.
func TestOtherMMIOPunts(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	// mov $0xfeb00000,%esi; movl $1,(%rsi)
	patch(t, ctx, 0xbe, 0x00, 0x00, 0xb0, 0xfe, 0xc7, 0x06, 1, 0, 0, 0)
	ex := runTo(t, ctx, abi.VM_EXITCODE_INST_EMUL)
	if gpa := ex.InstEmul().Gpa; gpa != 0xfeb00000 {
		t.Fatalf("gpa %#x", gpa)
	}
}

// A vCPU halted with IF = 1 and nothing armed sleeps (vm_handle_hlt) until
// an interrupt is posted; VM_LAPIC_IRQ from another thread wakes it, and
// the interrupt is delivered (here into a guest without an IDT, so the
// delivery ends in a triple fault, which proves it happened).
func TestHLTWakesOnLAPICIRQ(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	// mov $0xfee000f0,%esi; movl $0x1ff,(%rsi); sti; hlt; out %al,$0x80
	patch(t, ctx, 0xbe, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x06, 0xff, 0x01, 0, 0, 0xfb, 0xf4, 0xe6, 0x80)
	done := make(chan abi.VMExit)
	go func() {
		var ex abi.VMExit
		ctx.Run(0, &ex)
		done <- ex
	}()
	vm := ctx.Dev().VM()
	deadline := time.Now().Add(5 * time.Second)
	for vm.State(0) != abi.VCPU_SLEEPING {
		if time.Now().After(deadline) {
			t.Fatal("vCPU never slept in HLT")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case ex := <-done:
		t.Fatalf("VM_RUN returned %s while nothing was pending", abi.ExitcodeName(ex.Exitcode))
	case <-time.After(20 * time.Millisecond):
	}
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 0x40}); err != nil {
		t.Fatal(err)
	}
	ex := <-done
	if ex.Exitcode != abi.VM_EXITCODE_SUSPENDED || ex.Suspended() != abi.VM_SUSPEND_TRIPLEFAULT {
		t.Fatalf("exit %s, want SUSPENDED(TRIPLEFAULT) from delivering 0x40 without an IDT", abi.ExitcodeName(ex.Exitcode))
	}
}

// VM_INJECT_EXCEPTION is delivered at the next entry whatever IF says;
// without an IDT the #UD becomes #GP, #DF, then a triple fault
// (SDM vol. 3 §6.15). A #DF left in exitintinfo plus a pending exception
// is a triple fault at entry (§8.2).
func TestInjectedExceptionDelivered(t *testing.T) {
	for _, withDF := range []bool{false, true} {
		ctx := bootVM(t, "exit33.elf")
		td := ctx.Thread()
		if withDF {
			if err := ctx.Dev().Ioctl(td, abi.VM_SET_INTINFO, &abi.VMIntinfo{Info1: 0x80000000 | 1<<11 | 3<<8 | 8}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ctx.Dev().Ioctl(td, abi.VM_INJECT_EXCEPTION, &abi.VMException{Vector: 6, RestartInstruction: 1}); err != nil {
			t.Fatal(err)
		}
		ex := runTo(t, ctx, abi.VM_EXITCODE_SUSPENDED)
		if ex.Suspended() != abi.VM_SUSPEND_TRIPLEFAULT {
			t.Fatalf("withDF=%v: suspended %d, want TRIPLEFAULT", withDF, ex.Suspended())
		}
		ii := abi.VMIntinfo{}
		ctx.Dev().Ioctl(td, abi.VM_GET_INTINFO, &ii)
		if ii.Info1 != 0 || ii.Info2 != 0 {
			t.Fatalf("intinfo %#x %#x after entry, want both consumed", ii.Info1, ii.Info2)
		}
	}
}

// The LAPIC MSRs (reference/vmm-devices.md §1.4, §2.12): with x2APIC
// enabled by VM_SET_X2APIC_STATE, RDMSR of APIC_BASE shows bit 10, the
// x2APIC ID is the vCPU id, and TPR written through MSR 0x808 reads back
// through CR8; writing APIC_BASE with a new value leaves for userspace as
// VM_EXITCODE_WRMSR.
func TestLAPICMSRs(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_SET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 0, State: abi.X2APIC_ENABLED}); err != nil {
		t.Fatal(err)
	}
	patch(t, ctx,
		0xb9, 0x1b, 0, 0, 0, 0x0f, 0x32, 0x89, 0xc3, // mov $0x1b,%ecx; rdmsr; mov %eax,%ebx
		0xb9, 0x02, 0x08, 0, 0, 0x0f, 0x32, 0x89, 0xc6, // mov $0x802,%ecx; rdmsr; mov %eax,%esi
		0xb9, 0x08, 0x08, 0, 0, 0xb8, 0x30, 0, 0, 0, 0x31, 0xd2, 0x0f, 0x30, // TPR = 0x30 via wrmsr
		0x44, 0x0f, 0x20, 0xc7, // mov %cr8,%rdi
		0xe6, 0x80, // out %al,$0x80
		0xb9, 0x1b, 0, 0, 0, 0xb8, 0, 0, 0, 0, 0x0f, 0x30) // wrmsr APIC_BASE = 0
	runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	rbx, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RBX)
	rsi, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RSI)
	rdi, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RDI)
	if rbx != 0xfee00000|0x800|0x400|0x100 || rsi != 0 || rdi != 3 {
		t.Fatalf("APIC_BASE %#x (want 0xfee00d00), x2APIC ID %d, CR8 %d (want 3)", rbx, rsi, rdi)
	}
	ex := runTo(t, ctx, abi.VM_EXITCODE_WRMSR)
	if m := ex.Msr(); m.Code != 0x1b {
		t.Fatalf("WRMSR exit for %#x", m.Code)
	}
}

// Every port of the in-kernel table (reference/vmm-devices.md §1.2) is
// handled inside VM_RUN: a run of reads from each ends at the first port
// that is not in the table.
func TestInKernelPortTable(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	code := []byte{
		0xe4, 0x40, 0xe4, 0x41, 0xe4, 0x42, // in $0x40..$0x42,%al (PIT counters)
		0xe4, 0x61, // in $0x61,%al (NMI status / channel 2 OUT)
		0xe4, 0x20, 0xe4, 0x21, 0xe4, 0xa0, 0xe4, 0xa1, // 8259 pair
		0x66, 0xba, 0xd0, 0x04, 0xec, // mov $0x4d0,%dx; in %dx,%al (ELCR)
		0x66, 0xba, 0xd1, 0x04, 0xec,
		0x66, 0xba, 0x08, 0x04, 0xed, // mov $0x408,%dx; in %dx,%eax (PM timer)
		0xe4, 0x70, 0xe4, 0x71, // RTC
		0xb0, 0x34, 0xe6, 0x43, // out %al,$0x43 (PIT mode)
		0x66, 0xba, 0xf8, 0x03, 0xec, // in from COM1: userspace
	}
	patch(t, ctx, code...)
	ex := runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	if io := ex.Inout(); io.Port != 0x3f8 || !io.In {
		t.Fatalf("first userspace port %#x (in %v), want the IN from 0x3f8", io.Port, io.In)
	}
}

// cloneVCPU gives vCPU dst vCPU 0's long-mode state (control registers,
// segments, descriptor tables), entering at rip with its own stack.
func cloneVCPU(t *testing.T, ctx *vmmapi.VMCtx, dst int, rip, rsp uint64) {
	t.Helper()
	for _, r := range []int32{abi.VM_REG_GUEST_CR0, abi.VM_REG_GUEST_CR3, abi.VM_REG_GUEST_CR4, abi.VM_REG_GUEST_EFER,
		abi.VM_REG_GUEST_CS, abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_SS,
		abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS, abi.VM_REG_GUEST_TR, abi.VM_REG_GUEST_LDTR} {
		v, err := ctx.GetRegister(0, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := ctx.SetRegister(dst, r, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []int32{abi.VM_REG_GUEST_CS, abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_SS,
		abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS, abi.VM_REG_GUEST_TR, abi.VM_REG_GUEST_LDTR,
		abi.VM_REG_GUEST_GDTR, abi.VM_REG_GUEST_IDTR} {
		d, err := ctx.GetDesc(0, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := ctx.SetDesc(dst, r, d.Base, d.Limit, d.Access); err != nil {
			t.Fatal(err)
		}
	}
	ctx.SetRegister(dst, abi.VM_REG_GUEST_RFLAGS, 2)
	ctx.SetRegister(dst, abi.VM_REG_GUEST_RSP, rsp)
	ctx.SetRegister(dst, abi.VM_REG_GUEST_RIP, rip)
}

// A fixed IPI between two vCPUs running VM_RUN on two threads: vCPU 1
// sleeps in HLT with IF = 1; vCPU 0 writes the ICR (vector 0x40 to APIC 1,
// §2.11); vCPU 1 wakes and takes 0x40 through its IDT, whose handler
// reports with an OUT to port 0x82.
func TestFixedIPIWakesOtherVCPU(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	entry, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RIP)
	phys := entry & 0x3fffffff
	// vCPU 1 at entry+0x100: enable its LAPIC, sti; hlt; out %al,$0x81
	ap := []byte{0xbe, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x06, 0xff, 0x01, 0, 0, 0xfb, 0xf4, 0xe6, 0x81}
	// the handler at entry+0x200: mov $0x40,%al; out %al,$0x82; cli; hlt
	handler := []byte{0xb0, 0x40, 0xe6, 0x82, 0xfa, 0xf4}
	// vCPU 0: ICR high = APIC 1, ICR low = fixed 0x40; out %al,$0x80
	bsp := []byte{0xbe, 0x10, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0, 0, 0, 0x01, // ICR high
		0xbe, 0x00, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0x40, 0, 0, 0, // ICR low
		0xe6, 0x80}
	ctx.WriteGPA(phys+0x100, ap)
	ctx.WriteGPA(phys+0x200, handler)
	cloneVCPU(t, ctx, 1, entry+0x100, 0x380000)
	installGate(t, ctx, 1, 0x40, entry+0x200)
	if err := ctx.ActivateCPU(1); err != nil {
		t.Fatal(err)
	}
	apDone := make(chan abi.VMExit, 1)
	go func() {
		var ex abi.VMExit
		ctx.Run(1, &ex)
		apDone <- ex
	}()
	vm := ctx.Dev().VM()
	for deadline := time.Now().Add(5 * time.Second); vm.State(1) != abi.VCPU_SLEEPING; {
		if time.Now().After(deadline) {
			t.Fatal("vCPU 1 never slept in HLT")
		}
		time.Sleep(time.Millisecond)
	}
	patch(t, ctx, bsp...)
	runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	select {
	case ex := <-apDone:
		if io := ex.Inout(); ex.Exitcode != abi.VM_EXITCODE_INOUT || io.Port != 0x82 {
			t.Fatalf("vCPU 1 exit %s port %#x, want the handler's OUT to 0x82", abi.ExitcodeName(ex.Exitcode), io.Port)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("vCPU 1 did not wake")
	}
}

// The virtual clock's documented rate (vmm.VirtualHz): RDTSC counts one
// per retired instruction (1 ns each, a 1 GHz TSC), and a vCPU halted
// with a LAPIC one-shot armed resumes with the TSC at the deadline:
// ICR 1000 at DCR /1 is 1000 × 32 sbintime (reference/vmm-devices.md §0),
// the first nanosecond at or after it is ceil(32000·10^9 / 2^32) = 7451.
func TestVirtualClockRate(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	code := []byte{0x0f, 0x31, 0x89, 0xc3} // rdtsc; mov %eax,%ebx
	for i := 0; i < 10; i++ {
		code = append(code, 0x90)
	}
	code = append(code, 0x0f, 0x31, 0x89, 0xc1, 0xe6, 0x80) // rdtsc; mov %eax,%ecx; out %al,$0x80
	patch(t, ctx, code...)
	runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	rbx, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RBX)
	rcx, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RCX)
	if rcx-rbx != 12 {
		t.Fatalf("TSC advanced %d over 12 instructions", rcx-rbx)
	}

	// Halted with only the LAPIC one-shot armed, the vCPU resumes with
	// the clock at the deadline: the handler's RDTSC reads the TSC of
	// the arming plus 32000 sbintime (7450.6 ns), within the few
	// instructions around the two RDTSCs.
	ctx = bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	entry, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RIP)
	code = []byte{
		0xbe, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x06, 0xff, 0x01, 0, 0, // SVR = 0x1ff
		0xbe, 0xe0, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0x0b, 0, 0, 0, // DCR = /1
		0xbe, 0x20, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0x40, 0, 0, 0, // LVT timer: one-shot, 0x40
		0xbe, 0x80, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0xe8, 0x03, 0, 0, // ICR = 1000
		0x0f, 0x31, 0x89, 0xc3, // rdtsc; mov %eax,%ebx
		0xfb, 0xf4, // sti; hlt
	}
	patch(t, ctx, code...)
	ctx.WriteGPA(entry&0x3fffffff+0x200, []byte{0x0f, 0x31, 0x89, 0xc1, 0xe6, 0x80}) // rdtsc; mov %eax,%ecx; out
	installGate(t, ctx, 0, 0x40, entry+0x200)
	runTo(t, ctx, abi.VM_EXITCODE_INOUT)
	rbx, _ = ctx.GetRegister(0, abi.VM_REG_GUEST_RBX)
	rcx, _ = ctx.GetRegister(0, abi.VM_REG_GUEST_RCX)
	if d := int64(rcx - rbx); d < 7451-4 || d > 7451+4 {
		t.Fatalf("the handler ran %d ns after arming, want 7451 ± 4", d)
	}
}

// installGate gives vCPU id an IDT at 0x300000 whose gate vec points at
// handler (a 64-bit interrupt gate in the loader's code segment).
func installGate(t *testing.T, ctx *vmmapi.VMCtx, id int, vec int, handler uint64) {
	t.Helper()
	const idt = 0x300000
	cs, _ := ctx.GetRegister(id, abi.VM_REG_GUEST_CS)
	var gate [16]byte
	binary.LittleEndian.PutUint64(gate[:], handler&0xffff|cs<<16|0x8e<<40|(handler>>16&0xffff)<<48)
	binary.LittleEndian.PutUint64(gate[8:], handler>>32)
	if err := ctx.WriteGPA(idt+uint64(vec)*16, gate[:]); err != nil {
		t.Fatal(err)
	}
	if err := ctx.SetDesc(id, abi.VM_REG_GUEST_IDTR, idt, 256*16-1, 0); err != nil {
		t.Fatal(err)
	}
}

// A halted vCPU whose only timer never makes anything deliverable (a
// periodic LAPIC timer with its LVT masked) does not spin for ever: the
// clock runs ahead at most an hour of virtual time (hltJumpLimit), then
// the vCPU sleeps until a VM_LAPIC_IRQ wakes it (here into a guest
// without an IDT, so the delivery triple-faults).
func TestHLTJumpLimit(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	mapHigh(t, ctx)
	patch(t, ctx,
		0xbe, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x06, 0xff, 0x01, 0, 0, // SVR = 0x1ff
		0xbe, 0xe0, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0x0b, 0, 0, 0, // DCR = /1
		0xbe, 0x20, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0x40, 0, 0x03, 0, // LVT: periodic | masked, 0x40
		0xbe, 0x80, 0x03, 0xe0, 0xfe, 0xc7, 0x06, 0x00, 0x00, 0x00, 0x08, // ICR = 2^27: 1 s
		0xfb, 0xf4) // sti; hlt
	done := make(chan abi.VMExit, 1)
	go func() {
		var ex abi.VMExit
		ctx.Run(0, &ex)
		done <- ex
	}()
	vm := ctx.Dev().VM()
	for deadline := time.Now().Add(20 * time.Second); vm.State(0) != abi.VCPU_SLEEPING; {
		if time.Now().After(deadline) {
			t.Fatal("vCPU never went to sleep")
		}
		time.Sleep(time.Millisecond)
	}
	var tm abi.VMRtcTime
	ctx.Dev().Ioctl(ctx.Thread(), abi.VM_RTC_GETTIME, &tm)
	if el := tm.Secs - 1514764800; el < 3599 || el > 3601 {
		t.Fatalf("the clock ran %d s ahead, want an hour", el)
	}
	ctx.Dev().Ioctl(ctx.Thread(), abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 0x41})
	if ex := <-done; ex.Exitcode != abi.VM_EXITCODE_SUSPENDED {
		t.Fatalf("exit %s", abi.ExitcodeName(ex.Exitcode))
	}
}

// CPUID leaf 1 shows the LAPIC (EDX bit 9) and, as vmm's x86.c does,
// x2APIC (ECX bit 21) exactly when the vCPU's x2APIC state is enabled
// (reference/vmm-interface.md §12).
func TestCPUIDAPICBits(t *testing.T) {
	for _, x2 := range []int32{abi.X2APIC_DISABLED, abi.X2APIC_ENABLED} {
		ctx := bootVM(t, "exit33.elf")
		ctx.Dev().Ioctl(ctx.Thread(), abi.VM_SET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 0, State: x2})
		patch(t, ctx, 0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0xe6, 0x80) // mov $1,%eax; cpuid; out
		runTo(t, ctx, abi.VM_EXITCODE_INOUT)
		ecx, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RCX)
		edx, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RDX)
		if edx&(1<<9) == 0 || (ecx>>21&1 == 1) != (x2 == abi.X2APIC_ENABLED) {
			t.Fatalf("x2APIC state %d: CPUID.1 ECX %#x EDX %#x", x2, ecx, edx)
		}
	}
}
