package vmm_test

import (
	"encoding/binary"
	"fmt"

	"softvmm/emu/abi"
	"softvmm/emu/vmm"
	"softvmm/jail"
)

// Example drives a VM from creation to destruction through the kernel's
// doors alone (sysctl, open, pwrite, ioctl), as a bhyve-style program
// would with sysctlbyname(3), open(2), pwrite(2) and ioctl(2) on FreeBSD;
// no helper library. The guest is 64-bit code that writes "hi" to COM1 and
// halts; each OUT leaves VM_RUN as VM_EXITCODE_INOUT for userspace to
// emulate, and HLT with interrupts off suspends the VM.
func Example() {
	host := jail.NewHost()
	k := vmm.NewKernel(host)
	if err := k.Load(); err != nil { // kldload vmm
		panic(err)
	}
	td := &vmm.Thread{Cred: host.RootCred()}

	// sysctl hw.vmm.create=demo; fd = open("/dev/vmm/demo")
	name := "demo"
	if _, err := k.Sysctl(td, "hw.vmm.create", &name); err != nil {
		panic(err)
	}
	f, err := k.Open(td, "/dev/vmm/demo")
	if err != nil {
		panic(err)
	}
	dev := f.(*vmm.Cdev)
	ioctl := func(cmd uint32, arg any) {
		if err := dev.Ioctl(td, cmd, arg); err != nil {
			panic(fmt.Sprintf("%s: %v", abi.IoctlName(cmd), err))
		}
	}

	// 2 MiB of system memory at guest-physical 0 (vm_setup_memory).
	ioctl(abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: abi.VM_SYSMEM, Len: 2 << 20})
	ioctl(abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Gpa: 0, Segid: abi.VM_SYSMEM, Len: 2 << 20, Prot: abi.PROT_ALL})

	// Page tables identity-mapping the first 2 MiB (PML4 at 0x1000, PDPT
	// at 0x2000, one 2 MiB page in the PD at 0x3000) and the code at
	// 0x10000, written with pwrite(2) at their guest-physical offsets.
	pte := func(gpa, v uint64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		if _, err := dev.Write(td, b[:], int64(gpa)); err != nil {
			panic(err)
		}
	}
	pte(0x1000, 0x2000|3)
	pte(0x2000, 0x3000|3)
	pte(0x3000, 0x83) // present, writable, 2 MiB page
	code := []byte{
		0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
		0xb0, 'h', 0xee, // mov al, 'h'; out dx, al
		0xb0, 'i', 0xee, // mov al, 'i'; out dx, al
		0xfa, 0xf4, // cli; hlt
	}
	if _, err := dev.Write(td, code, 0x10000); err != nil {
		panic(err)
	}

	// vCPU 0 in 64-bit long mode (vm_set_register / vm_set_desc).
	for _, r := range []struct {
		reg int32
		val uint64
	}{
		{abi.VM_REG_GUEST_CR0, 0x80000031}, // PG, NE, ET, PE
		{abi.VM_REG_GUEST_CR3, 0x1000},
		{abi.VM_REG_GUEST_CR4, 0x20},   // PAE
		{abi.VM_REG_GUEST_EFER, 0x500}, // LMA, LME
		{abi.VM_REG_GUEST_RFLAGS, 0x2},
		{abi.VM_REG_GUEST_RIP, 0x10000},
		{abi.VM_REG_GUEST_RSP, 0x8000},
	} {
		ioctl(abi.VM_SET_REGISTER, &abi.VMRegister{Cpuid: 0, Regnum: r.reg, Regval: r.val})
	}
	ioctl(abi.VM_SET_SEGMENT_DESCRIPTOR, &abi.VMSegDesc{Cpuid: 0, Regnum: abi.VM_REG_GUEST_CS,
		Desc: abi.SegDesc{Limit: 0xffffffff, Access: 0x209b}}) // present, code, L=1
	ioctl(abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0})

	// The vCPU loop of bhyve: VM_RUN, handle the exit, run again.
	for {
		run := abi.VMRun{Cpuid: 0}
		ioctl(abi.VM_RUN, &run)
		ex := &run.Exit
		if ex.Exitcode == abi.VM_EXITCODE_INOUT {
			io := ex.Inout()
			fmt.Printf("VM_EXITCODE_INOUT port %#x out %q at rip %#x\n", io.Port, byte(io.EAX), ex.Rip)
			continue
		}
		fmt.Printf("VM_EXITCODE_%s how %d (VM_SUSPEND_HALT is %d)\n", abi.ExitcodeName(ex.Exitcode), ex.Suspended(), abi.VM_SUSPEND_HALT)
		break
	}

	// sysctl hw.vmm.destroy=demo; kldunload vmm
	if _, err := k.Sysctl(td, "hw.vmm.destroy", &name); err != nil {
		panic(err)
	}
	if err := k.Unload(); err != nil {
		panic(err)
	}
	// Output:
	// VM_EXITCODE_INOUT port 0x3f8 out 'h' at rip 0x10006
	// VM_EXITCODE_INOUT port 0x3f8 out 'i' at rip 0x10009
	// VM_EXITCODE_SUSPENDED how 3 (VM_SUSPEND_HALT is 3)
}
