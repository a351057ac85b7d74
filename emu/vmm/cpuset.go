package vmm

import (
	"encoding/binary"

	"softvmm/emu/abi"
)

// CPU sets, topology, debug stops, reinit and the register-set ioctls:
// reference/vmm-interface.md §2.1, §5, §11, §16.

// getCPUs is VM_GET_CPUS: the size check comes first (ERANGE unless the
// buffer is exactly a FreeBSD 12 cpuset_t, since sizeof(cpuset_t) and
// CPU_MAXSIZE/NBBY are both 32), then which (EINVAL), then the copyout to
// the user pointer (EFAULT).
func getCPUs(td *Thread, vm *VM, data []byte) error {
	var a abi.VMCpuset
	if err := abi.Decode(data, &a); err != nil {
		return abi.EFAULT
	}
	if a.Cpusetsize != abi.CPUSET_SIZE {
		return abi.ERANGE
	}
	vm.mu.Lock()
	var set uint32
	switch a.Which {
	case abi.VM_ACTIVE_CPUS:
		set = vm.active
	case abi.VM_SUSPENDED_CPUS:
		set = vm.suspended
	case abi.VM_DEBUG_CPUS:
		set = vm.debug
	default:
		vm.mu.Unlock()
		return abi.EINVAL
	}
	vm.mu.Unlock()
	buf := make([]byte, abi.CPUSET_SIZE)
	binary.LittleEndian.PutUint32(buf, set)
	if td == nil || td.Mem == nil {
		return abi.EFAULT
	}
	return td.Mem.CopyOut(a.Cpus, buf)
}

// suspendCPU is VM_SUSPEND_CPU: put one active vCPU, or with -1 every
// active vCPU, into debug_cpus; its VM_RUN then returns VM_EXITCODE_DEBUG
// until VM_RESUME_CPU.
func (vm *VM) suspendCPU(a *abi.VMActivateCPU) error {
	id := a.Vcpuid
	if id < -1 || id >= abi.VM_MAXCPU {
		return abi.EINVAL
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if id == -1 {
		vm.debug = vm.active
	} else {
		if vm.active&(1<<id) == 0 {
			return abi.EINVAL
		}
		vm.debug |= 1 << id
	}
	vm.cond.Broadcast() // wake a halted vCPU so it reports DEBUG
	return nil
}

// resumeCPU is VM_RESUME_CPU: -1 clears every debug stop; a vCPU that is
// not stopped is EINVAL.
func (vm *VM) resumeCPU(a *abi.VMActivateCPU) error {
	id := a.Vcpuid
	if id < -1 || id >= abi.VM_MAXCPU {
		return abi.EINVAL
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if id == -1 {
		vm.debug = 0
		return nil
	}
	if vm.debug&(1<<id) == 0 {
		return abi.EINVAL
	}
	vm.debug &^= 1 << id
	return nil
}

// setTopology is VM_SET_TOPOLOGY (§11). FreeBSD 12 requires maxcpus == 0
// and sockets·cores·threads ≤ VM_MAXCPU but accepts zero components;
// softvmm refuses zeros too (§16 "beat") and multiplies without overflow.
func (vm *VM) setTopology(a *abi.VMCPUTopology) error {
	if a.Maxcpus != 0 || a.Sockets == 0 || a.Cores == 0 || a.Threads == 0 {
		return abi.EINVAL
	}
	if uint64(a.Sockets)*uint64(a.Cores)*uint64(a.Threads) > abi.VM_MAXCPU {
		return abi.EINVAL
	}
	vm.mu.Lock()
	vm.topology = abi.VMCPUTopology{Sockets: a.Sockets, Cores: a.Cores, Threads: a.Threads}
	vm.mu.Unlock()
	return nil
}

func (vm *VM) getTopology(a *abi.VMCPUTopology) error {
	vm.mu.Lock()
	*a = vm.topology
	vm.mu.Unlock()
	return nil
}

// reinit is VM_REINIT (§2.1, reference/vmm-devices.md §1.1): allowed only
// when every active vCPU has reached the suspend barrier (EBUSY
// otherwise). It clears the CPU sets and the suspend reason, gives every
// vCPU a fresh power-on state with no capabilities, and drops device
// memory mappings; system memory and its contents stay.
func (vm *VM) reinit() error {
	vm.mu.Lock()
	if vm.suspended != vm.active {
		vm.mu.Unlock()
		return abi.EBUSY
	}
	vm.active, vm.suspended, vm.debug, vm.halted = 0, 0, 0, 0
	for i := range vm.vcpu {
		v := &vm.vcpu[i]
		v.caps, v.cpu, v.lastErr, v.nextrip = 0, nil, nil, 0
		v.parked, v.parkedIF = false, false
		v.reqidle.Store(false)
	}
	vm.suspend.Store(0)
	vm.mu.Unlock()
	vm.platform().reinit()
	vm.mem.Reinit()
	return nil
}

// registerSet is VM_GET/SET_REGISTER_SET: count ≤ VM_REG_LAST (EINVAL
// otherwise, which also bounds the kernel's allocation), regnums and
// regvals copied through the user pointers (EFAULT), then the registers
// in order. FreeBSD applies the registers before the failing one and
// stops; softvmm validates every number first, so a failed set changes
// nothing (§16 "beat").
func registerSet(set bool) handler {
	return func(td *Thread, vm *VM, data []byte) error {
		var a abi.VMRegisterSet
		if err := abi.Decode(data, &a); err != nil {
			return abi.EFAULT
		}
		if a.Count > uint32(abi.VM_REG_LAST) {
			return abi.EINVAL
		}
		if td == nil || td.Mem == nil {
			return abi.EFAULT
		}
		n := int(a.Count)
		nums := make([]byte, 4*n)
		vals := make([]byte, 8*n)
		if err := td.Mem.CopyIn(a.Regnums, nums); err != nil {
			return abi.EFAULT
		}
		if set {
			if err := td.Mem.CopyIn(a.Regvals, vals); err != nil {
				return abi.EFAULT
			}
		}
		c := vm.cpuOf(int(a.Cpuid))
		for i := 0; i < n; i++ {
			r := int32(binary.LittleEndian.Uint32(nums[4*i:]))
			if r < 0 || r >= abi.VM_REG_LAST {
				return abi.EINVAL
			}
			if set && r == abi.VM_REG_GUEST_INTR_SHADOW && binary.LittleEndian.Uint64(vals[8*i:]) != 0 {
				return abi.EINVAL
			}
		}
		for i := 0; i < n; i++ {
			r := int32(binary.LittleEndian.Uint32(nums[4*i:]))
			if set {
				if err := vm.setReg(int(a.Cpuid), r, binary.LittleEndian.Uint64(vals[8*i:])); err != nil {
					return err
				}
				continue
			}
			v, err := c.Reg(r)
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint64(vals[8*i:], v)
		}
		if !set {
			return td.Mem.CopyOut(a.Regvals, vals)
		}
		return nil
	}
}

// setReg is vm_set_register: a RIP write also sets nextrip.
func (vm *VM) setReg(id int, r int32, val uint64) error {
	if r < 0 || r >= abi.VM_REG_LAST {
		return abi.EINVAL // negative: raw VMCS access has no meaning here (§4.1, §16)
	}
	if err := vm.cpuOf(id).SetReg(r, val); err != nil {
		return err
	}
	if r == abi.VM_REG_GUEST_RIP {
		vm.vcpu[id].nextrip = val
	}
	return nil
}
