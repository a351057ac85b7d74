package vmm

import (
	"softvmm/emu/abi"
	"softvmm/emu/cpu"
)

// quantum is how many instructions a vCPU retires between looks at its
// reqidle and the VM's suspend flag: the software form of the IPI that
// kicks a running vCPU out of the guest. Guest-visible behaviour does not
// depend on it (nothing is delivered at quantum boundaries), only the
// latency of a freeze does.
const quantum = 1 << 16

const psl_i = 0x200 // RFLAGS.IF

// run is vm_run (reference §7.1): enter the guest, handle in the kernel
// what the kernel handles, and return to userspace with the first exit it
// must see. The caller holds vCPU id frozen.
func (vm *VM) run(id int, ex *abi.VMExit) error {
	bit := uint32(1) << id
	vm.mu.Lock()
	if vm.active&bit == 0 || vm.suspended&bit != 0 {
		vm.mu.Unlock()
		return abi.EINVAL
	}
	vm.mu.Unlock()

	v := &vm.vcpu[id]
	c := vm.cpuOf(id)
	c.SetReg(abi.VM_REG_GUEST_RIP, v.nextrip)
	*ex = abi.VMExit{}
	defer func() {
		// The guest's RIP names the exiting instruction; the next entry
		// is at nextrip (reference §7.1).
		c.SetReg(abi.VM_REG_GUEST_RIP, ex.Rip)
		v.nextrip = ex.Rip + uint64(ex.InstLength)
		v.stats.inc(statExitsTotal)
		v.stats.inc(statExitsUserspace)
		v.stats[statInsnsRetired].Store(c.Retired())
	}()
	for {
		if how := vm.suspend.Load(); how != 0 && vm.handleSuspend(id) {
			vm.exitAt(ex, c, abi.VM_EXITCODE_SUSPENDED)
			ex.SetSuspended(how)
			v.stats.inc(statExitsSuspended)
			return nil
		}
		if v.reqidle.Swap(false) {
			vm.exitAt(ex, c, abi.VM_EXITCODE_REQIDLE)
			v.stats.inc(statExitsReqidle)
			return nil
		}
		if vm.isDebugStopped(id) {
			vm.exitAt(ex, c, abi.VM_EXITCODE_DEBUG)
			v.stats.inc(statExitsDebug)
			return nil
		}
		mtrap := v.caps&(1<<abi.VM_CAP_MTRAP_EXIT) != 0
		budget := uint64(quantum)
		if mtrap {
			budget = 1
		}
		budget, stop := v.clampBudget(c.Retired(), budget)
		if stop {
			vm.exitAt(ex, c, abi.VM_EXITCODE_DEBUG)
			v.stats.inc(statExitsDebug)
			return nil
		}

		vm.mu.Lock()
		vm.setStateLocked(id, abi.VCPU_RUNNING)
		vm.mu.Unlock()
		e := c.Run(budget)
		v.stats[statInsnsRetired].Store(c.Retired()) // once a quantum: Retired is current for a watcher (limit.go)
		vm.mu.Lock()
		vm.setStateLocked(id, abi.VCPU_FROZEN)
		vm.mu.Unlock()

		switch e.Reason {
		case cpu.ExitBudget:
			if mtrap {
				vm.exitAt(ex, c, abi.VM_EXITCODE_MTRAP)
				v.stats.inc(statExitsMTrap)
				return nil
			}
		case cpu.ExitInOut:
			// No in-kernel port device exists yet (the platform issue adds
			// them), so every port goes to userspace as VM_EXITCODE_INOUT.
			ex.Exitcode = abi.VM_EXITCODE_INOUT
			ex.Rip, ex.InstLength = e.RIP, int32(e.InstLen)
			ex.SetInout(abi.InoutExit{Bytes: e.Bytes, In: e.In, Port: e.Port, EAX: e.EAX})
			v.stats.inc(statExitsInout)
			return nil
		case cpu.ExitHLT:
			v.stats.inc(statExitsTotal)
			v.stats.inc(statExitsHLT)
			rflags, _ := c.Reg(abi.VM_REG_GUEST_RFLAGS)
			vm.handleHLT(id, rflags&psl_i != 0)
		case cpu.ExitRDMSR, cpu.ExitWRMSR:
			ex.Exitcode = abi.VM_EXITCODE_RDMSR
			stat := statExitsRDMSR
			if e.Reason == cpu.ExitWRMSR {
				ex.Exitcode = abi.VM_EXITCODE_WRMSR
				stat = statExitsWRMSR
			}
			v.stats.inc(stat)
			ex.Rip, ex.InstLength = e.RIP, int32(e.InstLen)
			ex.SetMsr(abi.MsrExit{Code: e.MSR, Wval: e.MSRVal})
			return nil
		case cpu.ExitMMIO:
			// No in-kernel MMIO device yet: punt to userspace with the
			// address. inst_length 0 says the kernel did not decode it.
			ex.Exitcode = abi.VM_EXITCODE_INST_EMUL
			ex.Rip, ex.InstLength = e.RIP, 0
			ie := abi.InstEmulExit{Gpa: e.GPA}
			ex.SetInstEmul(ie)
			v.stats.inc(statExitsInstEmul)
			return nil
		case cpu.ExitTripleFault:
			vm.suspendVM(abi.VM_SUSPEND_TRIPLEFAULT)
		case cpu.ExitError:
			v.lastErr = e.Err
			return abi.EFAULT
		}
	}
}

// exitAt fills a header-only exit at the vCPU's current RIP.
func (vm *VM) exitAt(ex *abi.VMExit, c *cpu.CPU, code int32) {
	rip, _ := c.Reg(abi.VM_REG_GUEST_RIP)
	*ex = abi.VMExit{Exitcode: code, Rip: rip}
}

// LastError returns the emulator failure behind vCPU id's last VM_RUN that
// returned EFAULT: an error naming the guest RIP and instruction bytes.
func (vm *VM) LastError(id int) error { return vm.vcpu[id].lastErr }

// handleHLT is vm_handle_hlt (reference/vmm-devices.md §1.7): with IF=0
// the vCPU joins halted_cpus, and when every active vCPU is there the VM
// suspends with VM_SUSPEND_HALT (hw.vmm.halt_detection=1). Otherwise the
// vCPU sleeps until it must leave: the VM suspends or someone wants it
// idle. Interrupt sources that would also wake it come with the platform
// devices.
func (vm *VM) handleHLT(id int, intrEnabled bool) {
	bit := uint32(1) << id
	v := &vm.vcpu[id]
	vm.mu.Lock()
	if !intrEnabled {
		vm.halted |= bit
		if vm.halted&vm.active == vm.active {
			vm.mu.Unlock()
			vm.suspendVM(abi.VM_SUSPEND_HALT)
			vm.mu.Lock()
		}
	}
	for vm.suspend.Load() == 0 && !v.reqidle.Load() && vm.debug&bit == 0 {
		vm.setStateLocked(id, abi.VCPU_SLEEPING)
		vm.cond.Wait()
		vm.setStateLocked(id, abi.VCPU_FROZEN)
	}
	vm.halted &^= bit
	vm.mu.Unlock()
}

// handleSuspend is vm_handle_suspend: join suspended_cpus and sleep until
// every active vCPU has, so all of them report SUSPENDED together. It
// reports false when the vCPU must leave first because someone wants it
// idle: the vCPU then leaves the barrier and VM_RUN returns REQIDLE, and
// the next VM_RUN waits again. FreeBSD 12 keeps such a vCPU asleep, so a
// freeze of it waits as long as some other active vCPU never reaches the
// barrier; in one process that would hang the caller for good.
func (vm *VM) handleSuspend(id int) bool {
	bit := uint32(1) << id
	v := &vm.vcpu[id]
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.suspended |= bit
	vm.cond.Broadcast()
	for vm.suspended&vm.active != vm.active {
		if v.reqidle.Load() {
			vm.suspended &^= bit
			return false
		}
		vm.setStateLocked(id, abi.VCPU_SLEEPING)
		vm.cond.Wait()
		vm.setStateLocked(id, abi.VCPU_FROZEN)
	}
	return true
}

func (vm *VM) isDebugStopped(id int) bool {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.debug&(1<<id) != 0
}
