// Package vmmapi is a client library over the vmm cdev in the spirit of
// FreeBSD's libvmmapi: it names the steps a monitor takes (create, open,
// set up memory, set registers, run) and hides the ioctl structs.
//
// Layout facts: reference/vmm-interface.md §6.6 (how libvmmapi lays out
// guest memory), §14.2 (bhyve's sequence).
package vmmapi

import (
	"softvmm/emu/abi"
	"softvmm/emu/vmm"
)

// Memory layout constants of libvmmapi (§6.6).
const (
	LowmemLimit = 3 << 30 // lowmem_limit: RAM above this moves to 4 GiB
	HighmemBase = 4 << 30
	DefaultMem  = 256 << 20 // bhyve -m default
)

// VMCtx is an open VM: struct vmctx.
type VMCtx struct {
	k    *vmm.Kernel
	td   *vmm.Thread
	name string
	dev  *vmm.Cdev

	lowmem, highmem uint64
	ram             []byte // low memory (gpa 0) mapped into this process
	highRAM         []byte // high memory (gpa HighmemBase), if any
}

// Create is vm_create: hw.vmm.create=name.
func Create(k *vmm.Kernel, td *vmm.Thread, name string) error {
	_, err := k.Sysctl(td, "hw.vmm.create", &name)
	return err
}

// Destroy is vm_destroy: hw.vmm.destroy=name.
func Destroy(k *vmm.Kernel, td *vmm.Thread, name string) error {
	_, err := k.Sysctl(td, "hw.vmm.destroy", &name)
	return err
}

// Open is vm_open: open /dev/vmm/name.
func Open(k *vmm.Kernel, td *vmm.Thread, name string) (*VMCtx, error) {
	dev, err := k.OpenVM(td, name)
	if err != nil {
		return nil, err
	}
	return &VMCtx{k: k, td: td, name: name, dev: dev}, nil
}

// Name is the VM's name.
func (v *VMCtx) Name() string { return v.name }

// Dev is the open /dev/vmm/NAME node, for ioctls this package does not wrap.
func (v *VMCtx) Dev() *vmm.Cdev { return v.dev }

// Destroy destroys this VM.
func (v *VMCtx) Destroy() error { return Destroy(v.k, v.td, v.name) }

// SetupMemory is vm_setup_memory(memsize, VM_MMAP_ALL): one system memory
// segment, mapped at 0 up to 3 GiB and, for larger guests, the rest at
// 4 GiB, with the segment laid out so that object offset == gpa (§6.6).
// The segment is then mmapped into this process for WriteGPA.
func (v *VMCtx) SetupMemory(memsize uint64) error {
	if memsize == 0 || memsize%4096 != 0 {
		return abi.EINVAL
	}
	seglen := memsize
	v.lowmem, v.highmem = memsize, 0
	if memsize > LowmemLimit {
		v.lowmem, v.highmem = LowmemLimit, memsize-LowmemLimit
		seglen = HighmemBase + v.highmem
	}
	ms := abi.VMMemseg{Segid: abi.VM_SYSMEM, Len: seglen}
	if err := v.dev.Ioctl(v.td, abi.VM_ALLOC_MEMSEG, &ms); err != nil {
		return err
	}
	if err := v.mmapMemseg(0, abi.VM_SYSMEM, 0, v.lowmem); err != nil {
		return err
	}
	if v.highmem > 0 {
		if err := v.mmapMemseg(HighmemBase, abi.VM_SYSMEM, HighmemBase, v.highmem); err != nil {
			return err
		}
	}
	ram, err := v.dev.Mmap(v.td, 0, int64(v.lowmem), abi.PROT_READ|abi.PROT_WRITE)
	if err != nil {
		return err
	}
	v.ram = ram
	if v.highmem > 0 {
		if v.highRAM, err = v.dev.Mmap(v.td, int64(HighmemBase), int64(v.highmem), abi.PROT_READ|abi.PROT_WRITE); err != nil {
			return err
		}
	}
	return nil
}

func (v *VMCtx) mmapMemseg(gpa uint64, segid int32, off, length uint64) error {
	mm := abi.VMMemmap{Gpa: gpa, Segid: segid, Segoff: int64(off), Len: length, Prot: abi.PROT_ALL}
	return v.dev.Ioctl(v.td, abi.VM_MMAP_MEMSEG, &mm)
}

// Lowmem is the size of guest RAM mapped below 3 GiB.
func (v *VMCtx) Lowmem() uint64 { return v.lowmem }

// WriteGPA copies p into guest RAM at gpa, through the mappings (the way
// bhyveload's loader writes the kernel, vm_map_gpa). A range not wholly
// inside low memory or wholly inside high memory is EFAULT: the hole
// from 3 to 4 GiB has no RAM.
func (v *VMCtx) WriteGPA(gpa uint64, p []byte) error {
	ram := v.ram
	if gpa >= HighmemBase && v.highRAM != nil {
		ram, gpa = v.highRAM, gpa-HighmemBase
	}
	if gpa > uint64(len(ram)) || uint64(len(p)) > uint64(len(ram))-gpa {
		return abi.EFAULT
	}
	copy(ram[gpa:], p)
	return nil
}

// SetRegister is vm_set_register.
func (v *VMCtx) SetRegister(vcpu int, reg int32, val uint64) error {
	r := abi.VMRegister{Cpuid: int32(vcpu), Regnum: reg, Regval: val}
	return v.dev.Ioctl(v.td, abi.VM_SET_REGISTER, &r)
}

// GetRegister is vm_get_register.
func (v *VMCtx) GetRegister(vcpu int, reg int32) (uint64, error) {
	r := abi.VMRegister{Cpuid: int32(vcpu), Regnum: reg}
	err := v.dev.Ioctl(v.td, abi.VM_GET_REGISTER, &r)
	return r.Regval, err
}

// SetDesc is vm_set_desc.
func (v *VMCtx) SetDesc(vcpu int, reg int32, base uint64, limit, access uint32) error {
	d := abi.VMSegDesc{Cpuid: int32(vcpu), Regnum: reg, Desc: abi.SegDesc{Base: base, Limit: limit, Access: access}}
	return v.dev.Ioctl(v.td, abi.VM_SET_SEGMENT_DESCRIPTOR, &d)
}

// GetDesc is vm_get_desc.
func (v *VMCtx) GetDesc(vcpu int, reg int32) (abi.SegDesc, error) {
	d := abi.VMSegDesc{Cpuid: int32(vcpu), Regnum: reg}
	err := v.dev.Ioctl(v.td, abi.VM_GET_SEGMENT_DESCRIPTOR, &d)
	return d.Desc, err
}

// ActivateCPU is vm_activate_cpu.
func (v *VMCtx) ActivateCPU(vcpu int) error {
	a := abi.VMActivateCPU{Vcpuid: int32(vcpu)}
	return v.dev.Ioctl(v.td, abi.VM_ACTIVATE_CPU, &a)
}

// SetCapability is vm_set_capability.
func (v *VMCtx) SetCapability(vcpu int, cap int32, val int32) error {
	c := abi.VMCapability{Cpuid: int32(vcpu), Captype: cap, Capval: val}
	return v.dev.Ioctl(v.td, abi.VM_SET_CAPABILITY, &c)
}

// Suspend is vm_suspend.
func (v *VMCtx) Suspend(how int32) error {
	s := abi.VMSuspend{How: how}
	return v.dev.Ioctl(v.td, abi.VM_SUSPEND, &s)
}

// Run is vm_run: one VM_RUN on vcpu, filling *exit.
func (v *VMCtx) Run(vcpu int, exit *abi.VMExit) error {
	r := abi.VMRun{Cpuid: int32(vcpu)}
	if err := v.dev.Ioctl(v.td, abi.VM_RUN, &r); err != nil {
		return err
	}
	*exit = r.Exit
	return nil
}

// Thread is the calling thread this context acts as.
func (v *VMCtx) Thread() *vmm.Thread { return v.td }
