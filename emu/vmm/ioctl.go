package vmm

import (
	"bytes"
	"encoding/binary"

	"softvmm/emu/abi"
)

// handler is one ioctl's driver code; data is the kernel copy of the
// argument (copied in for IOC_IN, copied out on success for IOC_OUT).
type handler func(td *Thread, vm *VM, data []byte) error

// typed adapts a handler written against the argument's abi struct.
func typed[T any](fn func(vm *VM, a *T) error) handler {
	return func(_ *Thread, vm *VM, data []byte) error {
		var a T
		if err := abi.Decode(data, &a); err != nil {
			return abi.EFAULT
		}
		if err := fn(vm, &a); err != nil {
			return err
		}
		return abi.Encode(data, &a)
	}
}

// handlerFor is the ioctl switch of vmmdev_ioctl. Commands that are not
// built yet are absent, so they get ENOTTY like unknown ones and never
// pretend to work; README.md lists them.
func handlerFor(cmd uint32) handler {
	switch cmd {
	case abi.VM_RUN:
		return func(td *Thread, vm *VM, data []byte) error {
			var run abi.VMRun
			if err := abi.Decode(data, &run); err != nil {
				return abi.EFAULT
			}
			if err := vm.run(int(run.Cpuid), &run.Exit); err != nil {
				return err
			}
			return abi.Encode(data, &run)
		}
	case abi.VM_SET_REGISTER:
		return typed(func(vm *VM, a *abi.VMRegister) error { return vm.setReg(int(a.Cpuid), a.Regnum, a.Regval) })
	case abi.VM_GET_REGISTER:
		return typed(func(vm *VM, a *abi.VMRegister) error {
			if a.Regnum < 0 || a.Regnum >= abi.VM_REG_LAST {
				return abi.EINVAL
			}
			v, err := vm.cpuOf(int(a.Cpuid)).Reg(a.Regnum)
			a.Regval = v
			return err
		})
	case abi.VM_SET_SEGMENT_DESCRIPTOR:
		return typed(func(vm *VM, a *abi.VMSegDesc) error {
			return vm.cpuOf(int(a.Cpuid)).SetDesc(a.Regnum, a.Desc)
		})
	case abi.VM_GET_SEGMENT_DESCRIPTOR:
		return typed(func(vm *VM, a *abi.VMSegDesc) error {
			d, err := vm.cpuOf(int(a.Cpuid)).Desc(a.Regnum)
			a.Desc = d
			return err
		})
	case abi.VM_ALLOC_MEMSEG:
		return typed(func(vm *VM, a *abi.VMMemseg) error { return vm.allocMemseg(a) })
	case abi.VM_GET_MEMSEG:
		return typed(func(vm *VM, a *abi.VMMemseg) error {
			length, _, name, err := vm.mem.GetMemseg(int(a.Segid))
			if err != nil {
				return err
			}
			a.Len = length
			// FreeBSD 12 leaves the caller's name bytes in place for an
			// unallocated segment; softvmm zeroes them (§16 "beat").
			a.Name = [len(a.Name)]byte{}
			copy(a.Name[:len(a.Name)-1], name)
			return nil
		})
	case abi.VM_MMAP_MEMSEG:
		return typed(func(vm *VM, a *abi.VMMemmap) error {
			return vm.mem.MmapMemseg(a.Gpa, int(a.Segid), a.Segoff, a.Len, int(a.Prot), int(a.Flags))
		})
	case abi.VM_MMAP_GETNEXT:
		return typed(func(vm *VM, a *abi.VMMemmap) error {
			m, err := vm.mem.MmapGetnext(a.Gpa)
			if err != nil {
				return err
			}
			*a = abi.VMMemmap{Gpa: m.GPA, Segid: int32(m.Segid), Segoff: m.Segoff, Len: m.Len,
				Prot: int32(m.Prot), Flags: int32(m.Flags)}
			return nil
		})
	case abi.VM_ACTIVATE_CPU:
		return typed(func(vm *VM, a *abi.VMActivateCPU) error {
			vm.mu.Lock()
			defer vm.mu.Unlock()
			bit := uint32(1) << a.Vcpuid
			if vm.active&bit != 0 {
				return abi.EBUSY
			}
			vm.active |= bit
			vm.platform().active.Store(vm.active)
			return nil
		})
	case abi.VM_SUSPEND:
		return typed(func(vm *VM, a *abi.VMSuspend) error { return vm.suspendVM(a.How) })
	case abi.VM_SET_REGISTER_SET:
		return registerSet(true)
	case abi.VM_GET_REGISTER_SET:
		return registerSet(false)
	case abi.VM_GET_CPUS:
		return getCPUs
	case abi.VM_SUSPEND_CPU:
		return typed(func(vm *VM, a *abi.VMActivateCPU) error { return vm.suspendCPU(a) })
	case abi.VM_RESUME_CPU:
		return typed(func(vm *VM, a *abi.VMActivateCPU) error { return vm.resumeCPU(a) })
	case abi.VM_SET_TOPOLOGY:
		return typed(func(vm *VM, a *abi.VMCPUTopology) error { return vm.setTopology(a) })
	case abi.VM_GET_TOPOLOGY:
		return typed(func(vm *VM, a *abi.VMCPUTopology) error { return vm.getTopology(a) })
	case abi.VM_REINIT:
		return func(_ *Thread, vm *VM, _ []byte) error { return vm.reinit() }
	case abi.VM_RESTART_INSTRUCTION:
		return typed(func(vm *VM, a *int32) error {
			rip, err := vm.cpuOf(int(*a)).Reg(abi.VM_REG_GUEST_RIP)
			vm.vcpu[*a].nextrip = rip
			return err
		})
	case abi.VM_STATS:
		return typed(func(vm *VM, a *abi.VMStats) error { return vm.vmStats(a) })
	case abi.VM_STAT_DESC:
		return typed(func(_ *VM, a *abi.VMStatDesc) error { return vmStatDesc(a) })
	case abi.VM_GET_GPA_PMAP:
		// FreeBSD walks the host's nested page tables for gpa. softvmm has
		// none: guest RAM is host memory reached without a second level
		// of translation, so the walk always finds zero entries.
		return typed(func(_ *VM, a *abi.VMGpaPte) error {
			a.Pte, a.Ptenum = [4]uint64{}, 0
			return nil
		})
	case abi.VM_BIND_PPTDEV, abi.VM_UNBIND_PPTDEV, abi.VM_MAP_PPTDEV_MMIO, abi.VM_PPTDEV_MSI, abi.VM_PPTDEV_MSIX:
		// softvmm has no host PCI devices to pass through, so every
		// bus/slot/function is "not a passthrough device": ppt_find finds
		// nothing and vmm answers ENOENT.
		return func(td *Thread, vm *VM, _ []byte) error {
			if err := vm.k.pptPrivCheck(cred(td)); err != nil {
				return err
			}
			return abi.ENOENT
		}
	case abi.VM_GLA2GPA, abi.VM_GLA2GPA_NOFAULT:
		nofault := cmd == abi.VM_GLA2GPA_NOFAULT
		return typed(func(vm *VM, a *abi.VMGla2Gpa) error {
			r, err := vm.gla2gpa(a.Paging, a.Gla, a.Prot, nofault)
			if err != nil {
				return err
			}
			a.Gpa, a.Fault = r.gpa, 0
			if r.fault {
				a.Fault = 1
				if !nofault {
					vm.injectFault(int(a.Vcpuid), r)
				}
			}
			return nil
		})
	case abi.VM_SET_CAPABILITY:
		return typed(func(vm *VM, a *abi.VMCapability) error {
			if err := capSupported(a.Captype); err != nil {
				return err
			}
			if a.Captype == abi.VM_CAP_UNRESTRICTED_GUEST {
				// As svm_setcap: always on, and it cannot be turned off.
				if a.Capval == 0 {
					return abi.EINVAL
				}
				return nil
			}
			v := &vm.vcpu[a.Cpuid]
			if a.Capval != 0 {
				v.caps |= 1 << a.Captype
			} else {
				v.caps &^= 1 << a.Captype
			}
			return nil
		})
	case abi.VM_GET_CAPABILITY:
		return typed(func(vm *VM, a *abi.VMCapability) error {
			if err := capSupported(a.Captype); err != nil {
				return err
			}
			a.Capval = int32(vm.vcpu[a.Cpuid].caps >> a.Captype & 1)
			if a.Captype == abi.VM_CAP_UNRESTRICTED_GUEST {
				a.Capval = 1
			}
			return nil
		})
	}
	return devHandler(cmd)
}

// capSupported says which VM_CAP_* this backend has (reference §11).
// HALT_EXIT is accepted because HLT is handled in the kernel either way in
// FreeBSD 12 (it never reaches userspace); MTRAP_EXIT single-steps.
// UNRESTRICTED_GUEST behaves as on AMD, where it is always 1 and clearing
// it is EINVAL: the interpreter runs real mode and paging-off guests
// directly, which is what bhyve asks the capability for (ROM boot, APs).
// PAUSE_EXIT sends every PAUSE to userspace as VM_EXITCODE_PAUSE. INVPCID
// is not built and answers ENOENT, as a backend without it does.
func capSupported(c int32) error {
	if c < 0 || c >= abi.VM_CAP_MAX {
		return abi.EINVAL
	}
	switch c {
	case abi.VM_CAP_HALT_EXIT, abi.VM_CAP_MTRAP_EXIT, abi.VM_CAP_PAUSE_EXIT, abi.VM_CAP_UNRESTRICTED_GUEST:
		return nil
	}
	return abi.ENOENT
}

// allocMemseg is VM_ALLOC_MEMSEG (reference §6.1): a name without a NUL in
// its 64 bytes is ENAMETOOLONG; a named segment is device memory and gets
// the node /dev/vmm.io/VM.NAME, whose creation failure frees the segment.
func (vm *VM) allocMemseg(a *abi.VMMemseg) error {
	n := bytes.IndexByte(a.Name[:], 0)
	if n < 0 {
		return abi.ENAMETOOLONG
	}
	name := string(a.Name[:n])
	if err := vm.mem.AllocMemseg(int(a.Segid), a.Len, name == "", name); err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	k := vm.k
	k.mu.Lock()
	defer k.mu.Unlock()
	path := "vmm.io/" + vm.name + "." + name
	err := checkDevname(path)
	if err == nil && vm.dying {
		err = abi.ENODEV
	}
	if _, busy := k.devfs[path]; err == nil && busy {
		err = abi.EEXIST
	}
	if err != nil {
		vm.mem.FreeMemseg(int(a.Segid))
		return err
	}
	d := &DevmemCdev{k: k, vm: vm, segid: int(a.Segid), path: path}
	vm.devmem = append(vm.devmem, d)
	k.devfs[path] = d
	return nil
}

// ioctl is vmmdev_ioctl: the jail check first, then the softc, then the
// command's vCPU lock (taking the vCPU id from the argument's first int
// before any other validation, reference §2.2), then the switch.
func (d *Cdev) ioctl(td *Thread, cmd uint32, data []byte) error {
	if err := d.k.privCheck(cred(td)); err != nil {
		return err
	}
	vm := d.softc()
	if vm == nil {
		return abi.ENXIO
	}
	info, known := abi.IoctlByCmd(cmd)
	h := handlerFor(cmd)
	if !known || h == nil {
		return abi.ENOTTY
	}
	switch info.Lock {
	case abi.LockOne:
		id := int32(binary.LittleEndian.Uint32(data))
		if id < 0 || id >= abi.VM_MAXCPU {
			return abi.EINVAL
		}
		vm.freeze(int(id))
		defer vm.unfreeze(int(id))
	case abi.LockAll:
		vm.freezeAll()
		defer vm.unfreezeAll()
	case abi.LockMemR:
		vm.freeze(abi.VM_MAXCPU - 1)
		defer vm.unfreeze(abi.VM_MAXCPU - 1)
	}
	if vm.isDying() {
		return abi.ENXIO
	}
	return h(td, vm, data)
}

// ioctlRun is VM_RUN from the typed API without the reflection copy; the
// checks are ioctl's.
func (d *Cdev) ioctlRun(td *Thread, run *abi.VMRun) error {
	if err := d.k.privCheck(cred(td)); err != nil {
		return err
	}
	vm := d.softc()
	if vm == nil {
		return abi.ENXIO
	}
	id := run.Cpuid
	if id < 0 || id >= abi.VM_MAXCPU {
		return abi.EINVAL
	}
	vm.freeze(int(id))
	defer vm.unfreeze(int(id))
	if vm.isDying() {
		return abi.ENXIO
	}
	var exit abi.VMExit
	if err := vm.run(int(id), &exit); err != nil {
		return err
	}
	run.Exit = exit
	return nil
}

func (vm *VM) isDying() bool {
	vm.k.mu.Lock()
	defer vm.k.mu.Unlock()
	return vm.dying
}
