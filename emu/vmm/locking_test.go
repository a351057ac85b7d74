package vmm_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/vmm"
)

// The lock column of reference/vmm-interface.md §2.1, command by command,
// from the ABI table itself (so a new command cannot be missed):
//   - 1: the vCPU id is the first int of the argument and is checked by
//     the lock, before anything else: 16 and -1 are EINVAL whatever the
//     rest says (all zeros here, which most handlers would accept);
//   - 1, ALL and MEM-R freeze a vCPU: a VM_RUN in progress on that vCPU
//     (0 for "1" and ALL, 15 for MEM-R) is forced out with
//     VM_EXITCODE_REQIDLE before the command completes (§2.2);
//   - —: no vCPU is frozen, so a running vCPU keeps running.
func TestLockColumn(t *testing.T) {
	for _, in := range abi.Ioctls {
		if in.Lock != abi.LockOne || in.Size < 4 || in.Name == "VM_PPTDEV_MSI" || in.Name == "VM_PPTDEV_MSIX" {
			continue // the ppt commands take the vCPU from a later field (ioctl_more_test.go)
		}
		for _, id := range []int32{16, -1} {
			t.Run(in.Name, func(t *testing.T) {
				ctx := bootVM(t, "exit33.elf")
				um := &vmm.SliceMem{Base: 0x10000, B: make([]byte, 4096)}
				td := &vmm.Thread{Cred: ctx.Thread().Cred, Mem: um}
				binary.LittleEndian.PutUint32(um.B, uint32(id))
				if err := ctx.Dev().IoctlRaw(td, in.Cmd, 0x10000); !errors.Is(err, abi.EINVAL) {
					t.Fatalf("vCPU %d: %v, want EINVAL from the lock", id, err)
				}
			})
		}
	}

	// A spinning vCPU and one command of each lock kind. Each case names
	// a command whose zero-ish argument is valid or fails only after the
	// lock, so the freeze itself is what is observed.
	for _, c := range []struct {
		name string
		vcpu int // the vCPU that spins
		cmd  uint32
		arg  func() any
		lock abi.LockKind
	}{
		{"VM_GET_REGISTER", 0, abi.VM_GET_REGISTER, func() any { return &abi.VMRegister{Regnum: abi.VM_REG_GUEST_RAX} }, abi.LockOne},
		{"VM_MMAP_MEMSEG", 0, abi.VM_MMAP_MEMSEG, func() any { return &abi.VMMemmap{Len: 4096, Prot: abi.PROT_ALL} }, abi.LockAll},
		{"VM_GET_MEMSEG", 15, abi.VM_GET_MEMSEG, func() any { return &abi.VMMemseg{} }, abi.LockMemR},
		{"VM_IOAPIC_PINCOUNT", 0, abi.VM_IOAPIC_PINCOUNT, func() any { var n int32; return &n }, abi.LockNone},
	} {
		t.Run(c.name+"/freeze", func(t *testing.T) {
			if got, ok := abi.IoctlByCmd(c.cmd); !ok || got.Lock != c.lock {
				t.Fatalf("%s: the table says lock %v", c.name, got.Lock)
			}
			ctx := bootVM(t, "exit33.elf")
			rip := patch(t, ctx, 0xeb, 0xfe) // jmp .
			if c.vcpu != 0 {
				copyVCPU(t, ctx, c.vcpu)
				if err := ctx.ActivateCPU(c.vcpu); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan abi.VMExit, 1)
			go func() {
				var ex abi.VMExit
				if err := ctx.Run(c.vcpu, &ex); err != nil {
					ex.Exitcode = -1
				}
				done <- ex
			}()
			vm := ctx.Dev().VM()
			for vm.State(c.vcpu) != abi.VCPU_RUNNING {
				time.Sleep(time.Millisecond)
			}
			ctx.Dev().Ioctl(ctx.Thread(), c.cmd, c.arg()) // its own result is tested elsewhere
			if c.lock == abi.LockNone {
				select {
				case ex := <-done:
					t.Fatalf("an unlocked command stopped the running vCPU (%s)", abi.ExitcodeName(ex.Exitcode))
				case <-time.After(20 * time.Millisecond):
				}
				// Between slices VM_RUN holds the vCPU FROZEN for a moment
				// (run.go), so one look can land there: it must be seen
				// RUNNING again without having left VM_RUN.
				for end := time.Now().Add(2 * time.Second); vm.State(c.vcpu) != abi.VCPU_RUNNING; time.Sleep(time.Millisecond) {
					if time.Now().After(end) {
						t.Fatalf("vCPU state %d, want still RUNNING", vm.State(c.vcpu))
					}
				}
				select {
				case ex := <-done:
					t.Fatalf("an unlocked command stopped the running vCPU (%s)", abi.ExitcodeName(ex.Exitcode))
				default:
				}
				ctx.Destroy() // forces it out
				<-done
				return
			}
			// The command has returned, so the freeze happened: VM_RUN
			// has already left with REQIDLE.
			select {
			case ex := <-done:
				if ex.Exitcode != abi.VM_EXITCODE_REQIDLE || ex.Rip != rip {
					t.Fatalf("VM_RUN left with %s at %#x, want REQIDLE at %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip, rip)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the command returned while its vCPU was still in VM_RUN")
			}
		})
	}
}
