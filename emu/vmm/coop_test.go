package vmm_test

import (
	"encoding/binary"
	"testing"

	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/vmm"
	"softvmm/emu/vmmapi"
)

const mem = 16 << 20

// coopCtx is a VM with 16 MiB of memory in cooperative mode.
func coopCtx(t *testing.T, name string) (*vmmapi.VMCtx, *vmm.VM) {
	t.Helper()
	ctx := newCtx(t, name)
	if err := ctx.SetupMemory(mem); err != nil {
		t.Fatal(err)
	}
	vm := ctx.Dev().VM()
	if err := vm.SetCooperative(true); err != nil {
		t.Fatal(err)
	}
	return ctx, vm
}

// Cooperative mode (coop.go): one thread runs two vCPUs. vCPU 1's
// sti; hlt, with vCPU 0 still runnable, returns VM_EXITCODE_HLT instead
// of sleeping, and the next VM_RUN resumes the wait without running a
// guest instruction; an NMI wakes it, and it enters its NMI handler
// (an OUT to port 0x80). vCPU 0's cli; hlt then parks too (vCPU 1 is
// not halted). A vCPU that parks with IF=0 stays in halted_cpus, so when
// vCPU 1 halts with IF=0 as well the VM suspends with HALT, and its
// VM_RUN reports it at once, without the barrier waiting for the parked
// vCPU 0 (reference/vmm-interface.md §7.5), which reports it next.
func TestCooperativeHLT(t *testing.T) {
	ctx, vm := coopCtx(t, "coop")
	// vCPU 0: cli; hlt; cli; hlt. vCPU 1: sti; hlt; jmp . with an NMI
	// handler that does out %al,$0x80; cli; hlt.
	if _, err := boot.LoadRaw(ctx, []byte{0xfa, 0xf4, 0xfa, 0xf4}, 0x100000, mem, boot.RawLong); err != nil {
		t.Fatal(err)
	}
	ctx.WriteGPA(0x101000, []byte{0xfb, 0xf4, 0xeb, 0xfe})
	ctx.WriteGPA(0x101100, []byte{0xe6, 0x80, 0xfa, 0xf4})
	gate := make([]byte, 16) // 64-bit interrupt gate, vector 2, to 0x101100
	binary.LittleEndian.PutUint16(gate[0:], 0x1100)
	binary.LittleEndian.PutUint16(gate[2:], 0x08)
	binary.LittleEndian.PutUint16(gate[4:], 0x8e00)
	binary.LittleEndian.PutUint16(gate[6:], 0x0010)
	ctx.WriteGPA(0x102000+2*16, gate)
	if err := boot.StartAPLongMode(ctx, 1, 0x101000); err != nil {
		t.Fatal(err)
	}
	if err := ctx.SetDesc(1, abi.VM_REG_GUEST_IDTR, 0x102000, 0xfff, 0); err != nil {
		t.Fatal(err)
	}
	ctx.SetRegister(1, abi.VM_REG_GUEST_RSP, 0x110000)
	ctx.ActivateCPU(0)
	ctx.ActivateCPU(1)

	var ex abi.VMExit
	run := func(id int, want int32) {
		t.Helper()
		if err := ctx.Run(id, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Exitcode != want {
			t.Fatalf("vCPU %d: exit %s at %#x, want %s", id, abi.ExitcodeName(ex.Exitcode), ex.Rip, abi.ExitcodeName(want))
		}
	}
	run(1, abi.VM_EXITCODE_HLT)
	if n := vm.Retired(1); n != 2 || ex.Rip != 0x101002 || ex.InstLength != 0 {
		t.Fatalf("parked after %d instructions at %#x (inst_length %d), want 2 at 0x101002 (0)", n, ex.Rip, ex.InstLength)
	}
	run(1, abi.VM_EXITCODE_HLT)
	if n := vm.Retired(1); n != 2 {
		t.Fatalf("a parked vCPU ran: %d instructions retired", n)
	}
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_INJECT_NMI, &abi.VMNmi{Cpuid: 1}); err != nil {
		t.Fatal(err)
	}
	run(1, abi.VM_EXITCODE_INOUT)
	if io := ex.Inout(); io.Port != 0x80 || ex.Rip != 0x101100 {
		t.Fatalf("woken vCPU 1 exited at %#x port %#x, want the NMI handler's OUT to 0x80 at 0x101100", ex.Rip, io.Port)
	}
	run(0, abi.VM_EXITCODE_HLT)       // vCPU 1 is not halted
	run(1, abi.VM_EXITCODE_SUSPENDED) // its handler's cli; hlt: now both are
	if ex.Suspended() != abi.VM_SUSPEND_HALT {
		t.Fatalf("suspended how=%d, want VM_SUSPEND_HALT", ex.Suspended())
	}
	run(0, abi.VM_EXITCODE_SUSPENDED) // the parked one sees it on its next VM_RUN
	if err := ctx.Run(0, &ex); err != abi.EINVAL {
		t.Errorf("VM_RUN after SUSPENDED: %v, want EINVAL (§7.1)", err)
	}
	if err := vm.SetCooperative(false); err != abi.EBUSY {
		t.Errorf("SetCooperative after VM_RUN: %v, want EBUSY", err)
	}
}

// With nothing armed that could wake any vCPU, a cooperative HLT wait does
// not sleep until an ioctl (no other thread may exist to make one): VM_RUN
// returns VM_EXITCODE_HLT, every time, until something is deliverable.
func TestCooperativeHLTNothingArmed(t *testing.T) {
	ctx, vm := coopCtx(t, "coop1")
	if _, err := boot.LoadRaw(ctx, []byte{0xfb, 0xf4, 0xeb, 0xfe}, 0x100000, mem, boot.RawLong); err != nil { // sti; hlt; jmp .
		t.Fatal(err)
	}
	ctx.ActivateCPU(0)
	var ex abi.VMExit
	for i := 0; i < 3; i++ {
		if err := ctx.Run(0, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Exitcode != abi.VM_EXITCODE_HLT || ex.Rip != 0x100002 || vm.Retired(0) != 2 {
			t.Fatalf("VM_RUN %d: exit %s at %#x after %d instructions, want HLT at 0x100002 after 2",
				i, abi.ExitcodeName(ex.Exitcode), ex.Rip, vm.Retired(0))
		}
	}
}
