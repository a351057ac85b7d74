package vmm

import (
	"time"

	"softvmm/devices/lapic"
	"softvmm/devices/vclock"
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
	p := vm.platform()
	p.started.Store(true)
	pv := &p.vc[id]
	pv.attach(c)
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
		if s := &pv.spinup; s.ok {
			// The ICR write that sent the STARTUP IPI has retired; the
			// exit is taken at the next instruction (inst_length 0).
			s.ok = false
			vm.exitAt(ex, c, abi.VM_EXITCODE_SPINUP_AP)
			ex.SetSpinupAP(abi.SpinupAPExit{Vcpu: int32(s.vcpu), Rip: s.rip})
			return nil
		}
		if v.parked && !vm.handleHLT(id, v.parkedIF) {
			vm.exitAt(ex, c, abi.VM_EXITCODE_HLT) // still halted (coop.go)
			return nil
		}
		mtrap := v.caps&(1<<abi.VM_CAP_MTRAP_EXIT) != 0
		c.SetPauseExit(v.caps&(1<<abi.VM_CAP_PAUSE_EXIT) != 0)
		budget := uint64(quantum)
		if mtrap {
			budget = 1
		}
		budget = pv.budget(budget)
		budget, stop := v.clampBudget(c.Retired(), budget)
		if stop {
			vm.exitAt(ex, c, abi.VM_EXITCODE_DEBUG)
			v.stats.inc(statExitsDebug)
			return nil
		}
		if err := pv.entry(); err != nil {
			return err
		}
		if vm.suspend.Load() != 0 {
			continue // a triple fault at entry
		}
		pv.prepare()

		vm.mu.Lock()
		vm.setStateLocked(id, abi.VCPU_RUNNING)
		vm.mu.Unlock()
		e := c.Run(budget)
		v.stats[statInsnsRetired].Store(c.Retired()) // once a quantum: Retired is current for a watcher (limit.go)
		vm.mu.Lock()
		vm.setStateLocked(id, abi.VCPU_FROZEN)
		vm.mu.Unlock()
		pv.advance()

		switch e.Reason {
		case cpu.ExitBudget:
			// (A kick, vm.go, can end a slice before the instruction
			// MTRAP steps over: that is no step yet.)
			if mtrap && !e.Kicked {
				vm.exitAt(ex, c, abi.VM_EXITCODE_MTRAP)
				v.stats.inc(statExitsMTrap)
				return nil
			}
		case cpu.ExitInOut:
			if handled, err := p.inout(c, &e); handled {
				v.stats.inc(statExitsTotal)
				v.stats.inc(statExitsInout)
				if err != nil {
					return err
				}
				continue
			}
			ex.Exitcode = abi.VM_EXITCODE_INOUT
			ex.Rip, ex.InstLength = e.RIP, int32(e.InstLen)
			ex.SetInout(abi.InoutExit{Bytes: e.Bytes, In: e.In, Port: e.Port, EAX: e.EAX})
			v.stats.inc(statExitsInout)
			return nil
		case cpu.ExitInOutStr:
			// vmm finishes no string I/O in the kernel, not even for its
			// own ports: emulate_inout_str returns to userspace, which
			// moves the data and restarts the instruction while RCX != 0
			// (reference/vmm-interface.md §3.1, §7.1).
			s := &e.Str
			ex.Exitcode = abi.VM_EXITCODE_INOUT_STR
			ex.Rip, ex.InstLength = e.RIP, int32(e.InstLen)
			ex.SetInoutStr(abi.InoutStrExit{
				Inout:  abi.InoutExit{Bytes: e.Bytes, In: e.In, String: true, Rep: s.Rep, Port: e.Port},
				Paging: s.Paging, Rflags: s.Rflags, Cr0: s.CR0, Index: s.Index, Count: s.Count,
				Addrsize: int32(s.AddrSize), SegName: s.SegName, SegDesc: s.Seg,
			})
			v.stats.inc(statExitsInout)
			return nil
		case cpu.ExitHLT:
			v.stats.inc(statExitsTotal)
			v.stats.inc(statExitsHLT)
			rflags, _ := c.Reg(abi.VM_REG_GUEST_RFLAGS)
			if !vm.handleHLT(id, rflags&psl_i != 0) {
				vm.exitAt(ex, c, abi.VM_EXITCODE_HLT) // parked (coop.go)
				return nil
			}
		case cpu.ExitPause:
			// VM_CAP_PAUSE_EXIT (bhyve -P): userspace sees every PAUSE,
			// and the next VM_RUN resumes past it.
			ex.Exitcode = abi.VM_EXITCODE_PAUSE
			ex.Rip, ex.InstLength = e.RIP, int32(e.InstLen)
			v.stats.inc(statExitsPause)
			return nil
		case cpu.ExitRDMSR, cpu.ExitWRMSR:
			if lapic.IsMSR(e.MSR) && p.msr(id, c, &e) {
				v.stats.inc(statExitsTotal)
				continue
			}
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
			if handled, err := p.mmio(id, c, &e); handled {
				v.stats.inc(statExitsTotal)
				v.stats.inc(statExitsInstEmul)
				if err != nil {
					return err
				}
				continue
			}
			// Not an in-kernel window: punt to userspace with the
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

// hltJumpLimit bounds how far a halted VM's virtual clock runs ahead
// without waking anyone: timers that fire without making anything
// deliverable (a masked periodic LVT, say) would otherwise keep the jump
// loop spinning forever. Past it the vCPU sleeps as bhyve's does, until
// something notifies it. The bound is virtual time, so where it stops is
// the same every run.
const hltJumpLimit = 3600 * vclock.SBT_1S

// handleHLT is vm_handle_hlt (reference/vmm-devices.md §1.7): the vCPU
// sleeps until an NMI, or with IF=1 an ExtINT or a LAPIC vector above PPR,
// is pending, or it must leave (suspend, reqidle, debug stop). With IF=0
// it joins halted_cpus, and when every active vCPU is there the VM
// suspends with VM_SUSPEND_HALT (hw.vmm.halt_detection=1). With IF=1 and
// nothing that could ever wake it, it sleeps as vmm's vCPU does, until an
// ioctl injects something or the VM is suspended.
//
// Time while halted: in virtual mode, once every active vCPU waits in HLT
// the clock jumps to the next deadline (the devices fire, and the loop
// looks again), up to hltJumpLimit; in realtime mode the vCPU sleeps until
// the deadline's host instant.
//
// In cooperative mode (coop.go) it reports false when it parked the vCPU
// instead of sleeping; VM_RUN then returns VM_EXITCODE_HLT.
func (vm *VM) handleHLT(id int, intrEnabled bool) bool {
	bit := uint32(1) << id
	v := &vm.vcpu[id]
	p := vm.platform()
	pv := &p.vc[id]
	vm.mu.Lock()
	if !intrEnabled {
		vm.halted |= bit
		if vm.halted&vm.active == vm.active {
			vm.mu.Unlock()
			vm.suspendVM(abi.VM_SUSPEND_HALT)
			vm.mu.Lock()
		}
	}
	p.hltWait |= bit
	vm.cond.Broadcast()
	since := p.clock.Now()
	for vm.suspend.Load() == 0 && !v.reqidle.Load() && vm.debug&bit == 0 {
		kicks := pv.kicks.Load()
		vm.mu.Unlock()
		wake := pv.wakeable(intrEnabled)
		vm.mu.Lock()
		if wake {
			break
		}
		if vm.coop && vm.coopYield(id) {
			v.parked, v.parkedIF = true, intrEnabled
			vm.mu.Unlock()
			return false
		}
		if d, ok := p.clock.Next(); ok {
			if p.mode == vclock.Virtual && p.hltWait&vm.active == vm.active && d-since < hltJumpLimit {
				vm.mu.Unlock()
				pv.jumpTo(d)
				p.clock.AdvanceTo(d)
				vm.mu.Lock()
				continue
			}
			if p.mode == vclock.Realtime {
				wait := time.Duration((d - p.clock.Now()).Nanoseconds())
				if wait > time.Millisecond {
					wait = time.Millisecond
				}
				vm.mu.Unlock()
				if wait > 0 {
					time.Sleep(wait)
				}
				p.clock.Poll()
				vm.mu.Lock()
				continue
			}
		}
		if vm.coop {
			// Nothing armed and nobody to run: the thread that runs
			// the vCPUs decides whether anything outside can still wake
			// one (coop.go).
			v.parked, v.parkedIF = true, intrEnabled
			vm.mu.Unlock()
			return false
		}
		if pv.kicks.Load() != kicks {
			continue
		}
		vm.setStateLocked(id, abi.VCPU_SLEEPING)
		vm.cond.Wait()
		vm.setStateLocked(id, abi.VCPU_FROZEN)
	}
	vm.halted &^= bit
	p.hltWait &^= bit
	v.parked = false
	vm.mu.Unlock()
	return true
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
	if vm.coop {
		return true // the others are outside VM_RUN (coop.go)
	}
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
