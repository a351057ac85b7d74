package vmm

import "softvmm/emu/abi"

// Cooperative mode: one host thread runs every vCPU of the VM, taking
// turns (softvmm run's deterministic SMP scheduler, cmd/softvmm/smp.go).
//
// vmm assumes one host thread per vCPU: a halted vCPU sleeps inside
// VM_RUN (vm_handle_hlt) until another vCPU or a device wakes it, and the
// suspend barrier (vm_handle_suspend) sleeps until every active vCPU has
// arrived. With one thread taking turns, either sleep would stop the only
// thread that could do the waking. So in cooperative mode the two waits
// hand control back to userspace instead of sleeping:
//
//   - HLT that would sleep returns VM_EXITCODE_HLT (inst_length 0, RIP past
//     the HLT) and leaves the vCPU "parked": still in halted_cpus (IF=0)
//     and still counted as waiting, so the all-halted tests see it. The
//     next VM_RUN on it resumes the wait before any guest instruction: the
//     vCPU runs again only once vm_handle_hlt's wake-up condition holds
//     (an NMI; with IF=1 an ExtINT or a LAPIC vector above PPR), exactly
//     as if it had slept.
//   - When every active vCPU waits in HLT, the wait that notices it goes
//     on as vmm's does (in the virtual clock, jump to the next deadline;
//     in realtime, sleep until it) — but only if no parked vCPU is
//     already wakeable; otherwise it yields, so the clock never jumps past
//     a vCPU that has work. With no deadline armed at all it yields too,
//     instead of sleeping until an ioctl: only the thread that runs the
//     vCPUs knows whether anything outside (a terminal's input, a
//     timeout) can still wake the VM, and it must not sleep where no one
//     would ever wake it.
//   - The suspend barrier does not wait: the other vCPUs are by
//     construction outside VM_RUN, so the first vCPU to see vm->suspend
//     returns VM_EXITCODE_SUSPENDED at once.
//
// Every decision depends only on guest-visible state and the order in
// which the thread runs the vCPUs, never on host timing, so a fixed turn
// order keeps runs identical. FreeBSD has no such mode; it is a Go
// method, not an ioctl, and VM_EXITCODE_HLT is the exit bhyve's (dead)
// vmexit_hlt handler would take.

// SetCooperative turns cooperative mode on or off; allowed only before the
// first VM_RUN (EBUSY after), like the clock mode.
func (vm *VM) SetCooperative(on bool) error {
	if vm.platform().started.Load() {
		return abi.EBUSY
	}
	vm.mu.Lock()
	vm.coop = on
	vm.mu.Unlock()
	return nil
}

// parkedWakeable reports whether some parked vCPU other than id could run
// now. It takes the LAPICs' locks, so vm.mu must not be held.
func (vm *VM) parkedWakeable(id int) bool {
	vm.mu.Lock()
	var parked, parkedIF uint32
	for j := range vm.vcpu {
		if j != id && vm.active&(1<<j) != 0 && vm.vcpu[j].parked {
			parked |= 1 << j
			if vm.vcpu[j].parkedIF {
				parkedIF |= 1 << j
			}
		}
	}
	vm.mu.Unlock()
	p := vm.platform()
	for j := range vm.vcpu {
		if parked&(1<<j) != 0 && p.vc[j].wakeable(parkedIF&(1<<j) != 0) {
			return true
		}
	}
	return false
}

// coopYield decides, in cooperative mode, whether vCPU id's HLT wait must
// hand the thread back instead of sleeping or moving the clock: when some
// active vCPU is not waiting in HLT (it has guest code to run), or a
// parked one is wakeable. vm.mu is held on entry and on return.
func (vm *VM) coopYield(id int) bool {
	p := vm.platform()
	if p.hltWait&vm.active != vm.active {
		return true
	}
	vm.mu.Unlock()
	y := vm.parkedWakeable(id)
	vm.mu.Lock()
	return y
}
