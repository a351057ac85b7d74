package vmm_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/vmmapi"
)

// bootVM creates a VM with 16 MiB and loads a testdata image into it the
// way bhyveload does, leaving vCPU 0 active at the entry point.
func bootVM(t *testing.T, image string) *vmmapi.VMCtx {
	t.Helper()
	ctx := newCtx(t, "t")
	if err := ctx.SetupMemory(16 << 20); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile("../../testdata/" + image)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boot.LoadELF64(ctx, img, ctx.Lowmem()); err != nil {
		t.Fatal(err)
	}
	if err := ctx.ActivateCPU(0); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// patch replaces the code at the guest's entry point.
func patch(t *testing.T, ctx *vmmapi.VMCtx, code ...byte) uint64 {
	t.Helper()
	rip, err := ctx.GetRegister(0, abi.VM_REG_GUEST_RIP)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.WriteGPA(rip&0x3fffffff, code); err != nil {
		t.Fatal(err)
	}
	return rip
}

// An OUT to a port no in-kernel device owns leaves VM_RUN as
// VM_EXITCODE_INOUT with the port, size and value, and nextrip past the
// instruction (reference/vmm-interface.md §7.1, §7.2).
func TestRunInoutExit(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	// mov $0x10,%al; out %al,$0xf4; mov $0x1234,%ax; mov $0x3f8,%dx; out %ax,(%dx); in (%dx),%eax; out %al,$0x80
	rip := patch(t, ctx, 0xb0, 0x10, 0xe6, 0xf4, 0x66, 0xb8, 0x34, 0x12, 0x66, 0xba, 0xf8, 0x03, 0x66, 0xef, 0xed, 0xe6, 0x80)
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil {
		t.Fatal(err)
	}
	io := ex.Inout()
	if ex.Exitcode != abi.VM_EXITCODE_INOUT || ex.Rip != rip+2 || ex.InstLength != 2 ||
		io.Port != 0xf4 || io.Bytes != 1 || io.In || io.EAX&0xff != 0x10 {
		t.Fatalf("exit %s rip %#x (entry %#x) len %d inout %+v", abi.ExitcodeName(ex.Exitcode), ex.Rip, rip, ex.InstLength, io)
	}
	ctx.Run(0, &ex)
	io = ex.Inout()
	if ex.Rip != rip+12 || ex.InstLength != 2 || io.Port != 0x3f8 || io.Bytes != 2 || io.In || io.EAX&0xffff != 0x1234 {
		t.Fatalf("16-bit OUT exit rip %#x len %d %+v", ex.Rip, ex.InstLength, io)
	}
	ctx.Run(0, &ex)
	io = ex.Inout()
	if ex.Rip != rip+14 || ex.InstLength != 1 || io.Port != 0x3f8 || io.Bytes != 4 || !io.In {
		t.Fatalf("IN exit rip %#x len %d %+v", ex.Rip, ex.InstLength, io)
	}
	// As with the VMCS, the guest's RIP still names the exiting IN; the
	// next VM_RUN enters at nextrip = rip + inst_length.
	if got, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RIP); got != rip+14 {
		t.Fatalf("RIP after the IN exit = %#x, want %#x (the IN itself)", got, rip+14)
	}
	// Userspace completes the IN by writing RAX, as bhyve does.
	ctx.SetRegister(0, abi.VM_REG_GUEST_RAX, 0xabcdef42)
	ctx.Run(0, &ex)
	io = ex.Inout()
	if ex.Rip != rip+15 || io.Port != 0x80 || io.EAX&0xff != 0x42 {
		t.Fatalf("after the IN: exit rip %#x (want %#x) %+v", ex.Rip, rip+15, io)
	}
}

// VM_RESTART_INSTRUCTION makes the next VM_RUN re-execute the exiting
// instruction (nextrip := RIP).
func TestRestartInstruction(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	rip := patch(t, ctx, 0xe6, 0x80) // out %al,$0x80
	var ex abi.VMExit
	ctx.Run(0, &ex)
	vcpu := int32(0)
	if err := ctx.Dev().Ioctl(nil, abi.VM_RESTART_INSTRUCTION, &vcpu); err == nil {
		t.Fatal("ioctl without a credential succeeded")
	}
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_RESTART_INSTRUCTION, &vcpu); err != nil {
		t.Fatal(err)
	}
	ctx.Run(0, &ex)
	if ex.Exitcode != abi.VM_EXITCODE_INOUT || ex.Rip != rip {
		t.Fatalf("after restart: exit %s at %#x, want INOUT at %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip, rip)
	}
	bad := int32(16)
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_RESTART_INSTRUCTION, &bad); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("vCPU 16: %v", err)
	}
}

// VM_RUN's entry checks (§7.1): vCPU range, active set, suspended set.
func TestRunEntryChecks(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	var ex abi.VMExit
	if err := ctx.Run(1, &ex); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("VM_RUN on an inactive vCPU: %v, want EINVAL", err)
	}
	if err := ctx.Run(16, &ex); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("VM_RUN on vCPU 16: %v, want EINVAL", err)
	}
	if err := ctx.Suspend(abi.VM_SUSPEND_POWEROFF); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_SUSPENDED || ex.Suspended() != abi.VM_SUSPEND_POWEROFF {
		t.Fatalf("after VM_SUSPEND: %v, exit %s how %d", err, abi.ExitcodeName(ex.Exitcode), ex.Suspended())
	}
	if err := ctx.Run(0, &ex); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("VM_RUN on a suspended vCPU: %v, want EINVAL", err)
	}
}

// HLT with IF=0 on every active vCPU suspends the VM with
// VM_SUSPEND_HALT (reference/vmm-devices.md §1.7).
func TestRunHaltSuspends(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	patch(t, ctx, 0xfa, 0xf4) // cli; hlt
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_SUSPENDED || ex.Suspended() != abi.VM_SUSPEND_HALT {
		t.Fatalf("cli;hlt: %v, exit %s how %d", err, abi.ExitcodeName(ex.Exitcode), ex.Suspended())
	}
}

// An exception with no IDT to deliver it escalates to a triple fault,
// which suspends the VM with VM_SUSPEND_TRIPLEFAULT (§7.5).
func TestRunTripleFault(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	patch(t, ctx, 0x0f, 0x0b) // ud2
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_SUSPENDED || ex.Suspended() != abi.VM_SUSPEND_TRIPLEFAULT {
		t.Fatalf("ud2 without IDT: %v, exit %s how %d", err, abi.ExitcodeName(ex.Exitcode), ex.Suspended())
	}
}

// With VM_CAP_MTRAP_EXIT each VM_RUN retires one instruction and returns
// VM_EXITCODE_MTRAP (§7.1).
func TestRunMTrap(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	rip := patch(t, ctx, 0x90, 0x48, 0x31, 0xc0, 0xeb, 0xfe) // nop; xor %rax,%rax; jmp .
	if err := ctx.SetCapability(0, abi.VM_CAP_MTRAP_EXIT, 1); err != nil {
		t.Fatal(err)
	}
	var ex abi.VMExit
	for i, want := range []uint64{rip + 1, rip + 4, rip + 4} {
		if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_MTRAP || ex.Rip != want {
			t.Fatalf("step %d: %v, exit %s rip %#x, want MTRAP at %#x", i, err, abi.ExitcodeName(ex.Exitcode), ex.Rip, want)
		}
	}
}

// Freezing a running vCPU (any vCPU-locked ioctl from another thread)
// forces its VM_RUN out with VM_EXITCODE_REQIDLE, and the ioctl proceeds
// once VM_RUN has returned (reference §2.2, §5).
func TestRunReqidle(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	rip := patch(t, ctx, 0xeb, 0xfe) // jmp .
	done := make(chan abi.VMExit)
	errc := make(chan error, 1)
	go func() {
		var ex abi.VMExit
		errc <- ctx.Run(0, &ex)
		done <- ex
	}()
	vm := ctx.Dev().VM()
	for vm.State(0) != abi.VCPU_RUNNING {
		time.Sleep(time.Millisecond)
	}
	got, err := ctx.GetRegister(0, abi.VM_REG_GUEST_RIP)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ex := <-done
	if ex.Exitcode != abi.VM_EXITCODE_REQIDLE || ex.Rip != rip || ex.InstLength != 0 || got != rip {
		t.Fatalf("exit %s rip %#x len %d, RIP read %#x; want REQIDLE at %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip, ex.InstLength, got, rip)
	}
	if s := vm.State(0); s != abi.VCPU_IDLE {
		t.Fatalf("vCPU state %d after the ioctl, want IDLE", s)
	}
}

// Destroying a VM whose vCPU is in VM_RUN forces the vCPU out first.
func TestDestroyWhileRunning(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	patch(t, ctx, 0xeb, 0xfe) // jmp .
	errc := make(chan error, 1)
	go func() {
		var ex abi.VMExit
		errc <- ctx.Run(0, &ex)
	}()
	for ctx.Dev().VM().State(0) != abi.VCPU_RUNNING {
		time.Sleep(time.Millisecond)
	}
	if err := ctx.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("VM_RUN during destroy: %v", err)
	}
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); !errors.Is(err, abi.ENXIO) {
		t.Fatalf("VM_RUN after destroy: %v, want ENXIO", err)
	}
}

// A load from a guest-physical address no RAM backs leaves VM_RUN as
// VM_EXITCODE_INST_EMUL with the address (reference §7.1, §7.3).
func TestRunUnbackedAccess(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	// mov 0x20000000,%eax  (absolute 32-bit address via SIB: 8b 04 25 disp32)
	rip := patch(t, ctx, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x20)
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Exitcode != abi.VM_EXITCODE_INST_EMUL || ex.Rip != rip || ex.InstEmul().Gpa != 0x20000000 {
		t.Fatalf("exit %s rip %#x gpa %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip, ex.InstEmul().Gpa)
	}
}

// VM_CAP_PAUSE_EXIT (reference/vmm-interface.md §11, bhyve -P): with the
// capability set, PAUSE leaves VM_RUN as VM_EXITCODE_PAUSE with its
// address and length (F3 90: 2 bytes), the next VM_RUN resumes past it,
// and the exit is counted; without it PAUSE is a NOP and the run goes on
// to the OUT.
func TestRunPauseExit(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	rip := patch(t, ctx, 0xf3, 0x90, 0xe6, 0x80) // pause; out %al,$0x80
	var ex abi.VMExit
	if err := ctx.SetCapability(0, abi.VM_CAP_PAUSE_EXIT, 1); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_PAUSE || ex.Rip != rip || ex.InstLength != 2 {
		t.Fatalf("exit %s rip %#x len %d (%v); want PAUSE at %#x, length 2", abi.ExitcodeName(ex.Exitcode), ex.Rip, ex.InstLength, err, rip)
	}
	if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_INOUT || ex.Rip != rip+2 {
		t.Fatalf("after PAUSE: exit %s at %#x; want INOUT at %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip, rip+2)
	}
	st := abi.VMStats{}
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_STATS, &st); err != nil {
		t.Fatal(err)
	}
	found := false
	for i := int32(0); i < st.NumEntries; i++ {
		d := abi.VMStatDesc{Index: i}
		if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_STAT_DESC, &d); err != nil {
			t.Fatal(err)
		}
		if string(d.Desc[:bytes.IndexByte(d.Desc[:], 0)]) == "number of times pause was intercepted" {
			found = st.Statbuf[i] == 1
		}
	}
	if !found {
		t.Fatal("VM_STATS does not count the one PAUSE exit")
	}

	ctx2 := bootVM(t, "exit33.elf")
	rip = patch(t, ctx2, 0xf3, 0x90, 0xe6, 0x80)
	if err := ctx2.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_INOUT || ex.Rip != rip+2 {
		t.Fatalf("without the capability: exit %s at %#x; want INOUT at %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip, rip+2)
	}
}
