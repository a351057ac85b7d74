package vmm

import "softvmm/emu/abi"

// SetInsnLimit makes VM_RUN on vCPU id return VM_EXITCODE_DEBUG once the
// vCPU has retired n guest instructions in total (0: no limit), stopping at
// exactly that instruction: the interpreter's budget is clamped so the
// count lands on n. It is how a runner stops a runaway guest
// deterministically (softvmm run --max-insns); FreeBSD has no such control,
// so it is a Go method, not an ioctl. The DEBUG exit is the one bhyve's
// debugger uses for a stopped vCPU, which is what this is.
//
// The limit is checked once per interpreter quantum, never per
// instruction, so an unlimited vCPU pays nothing for it.
func (vm *VM) SetInsnLimit(id int, n uint64) error {
	if id < 0 || id >= abi.VM_MAXCPU {
		return abi.EINVAL
	}
	vm.freeze(id)
	defer vm.unfreeze(id)
	vm.vcpu[id].insnLimit = n
	return nil
}

// Retired returns how many instructions vCPU id has retired, as of its
// last interpreter quantum (at most 65536 instructions ago while it runs);
// another goroutine may call it at any time.
func (vm *VM) Retired(id int) uint64 {
	if id < 0 || id >= abi.VM_MAXCPU {
		return 0
	}
	return vm.vcpu[id].stats[statInsnsRetired].Load()
}

// clampBudget applies the instruction limit to a quantum: it returns the
// budget for the next interpreter run and whether the limit is reached.
func (v *vcpu) clampBudget(retired, budget uint64) (uint64, bool) {
	if v.insnLimit == 0 {
		return budget, false
	}
	if retired >= v.insnLimit {
		return 0, true
	}
	return min(budget, v.insnLimit-retired), false
}
