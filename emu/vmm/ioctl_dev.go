package vmm

import (
	"softvmm/devices/ioapic"
	"softvmm/emu/abi"
	"softvmm/emu/cpu"
)

// The ioctls that drive the in-kernel devices and inject events
// (reference/vmm-interface.md §2.1, §8). Each errno row of §2.1 is a case
// of TestDeviceIoctlErrnos.

func vcpuOK(id int32) bool { return id >= 0 && id < abi.VM_MAXCPU }

// devHandler is the device part of vmmdev_ioctl's switch; nil for other
// commands. Each runs with the platform read-locked (platform.mu).
func devHandler(cmd uint32) handler {
	h := devCommand(cmd)
	if h == nil {
		return nil
	}
	return func(td *Thread, vm *VM, data []byte) error {
		p := vm.platform()
		p.mu.RLock()
		defer p.mu.RUnlock()
		return h(td, vm, data)
	}
}

func devCommand(cmd uint32) handler {
	switch cmd {
	case abi.VM_LAPIC_IRQ:
		// lapic_intr_edge: vector 16..255 set in IRR, edge-triggered.
		return typed(func(vm *VM, a *abi.VMLapicIRQ) error {
			if !vcpuOK(a.Cpuid) || a.Vector < 16 || a.Vector > 255 {
				return abi.EINVAL
			}
			return vm.platform().lapics[a.Cpuid].SetIRR(uint8(a.Vector), false)
		})
	case abi.VM_LAPIC_LOCAL_IRQ:
		return typed(func(vm *VM, a *abi.VMLapicIRQ) error {
			if a.Cpuid < -1 || a.Cpuid >= abi.VM_MAXCPU {
				return abi.EINVAL
			}
			return vm.platform().group.LocalIRQ(int(a.Cpuid), int(a.Vector))
		})
	case abi.VM_LAPIC_MSI:
		// FreeBSD 12 returns -1 for an address outside 0xFEExxxxx;
		// softvmm returns EINVAL (reference/vmm-interface.md §16).
		return typed(func(vm *VM, a *abi.VMLapicMSI) error {
			return vm.platform().group.MSI(a.Addr, a.Msg)
		})
	case abi.VM_INJECT_NMI:
		return typed(func(vm *VM, a *abi.VMNmi) error {
			if !vcpuOK(a.Cpuid) {
				return abi.EINVAL
			}
			vm.platform().lapics[a.Cpuid].InjectNMI()
			return nil
		})
	case abi.VM_IOAPIC_ASSERT_IRQ:
		return typed(func(vm *VM, a *abi.VMIoapicIRQ) error { return vm.platform().ioapic.AssertIRQ(int(a.Irq)) })
	case abi.VM_IOAPIC_DEASSERT_IRQ:
		return typed(func(vm *VM, a *abi.VMIoapicIRQ) error { return vm.platform().ioapic.DeassertIRQ(int(a.Irq)) })
	case abi.VM_IOAPIC_PULSE_IRQ:
		return typed(func(vm *VM, a *abi.VMIoapicIRQ) error { return vm.platform().ioapic.PulseIRQ(int(a.Irq)) })
	case abi.VM_IOAPIC_PINCOUNT:
		return typed(func(vm *VM, a *int32) error {
			*a = int32(vm.platform().ioapic.PinCount())
			return nil
		})
	case abi.VM_ISA_ASSERT_IRQ:
		return isaIRQ(0)
	case abi.VM_ISA_DEASSERT_IRQ:
		return isaIRQ(1)
	case abi.VM_ISA_PULSE_IRQ:
		return isaIRQ(2)
	case abi.VM_ISA_SET_IRQ_TRIGGER:
		// vatpic_set_irq_trigger: any value but LEVEL_TRIGGER is edge.
		return typed(func(vm *VM, a *abi.VMIsaIRQTrigger) error {
			return vm.platform().atpic.SetIRQTrigger(int(a.AtpicIrq), a.Trigger == abi.LEVEL_TRIGGER)
		})
	case abi.VM_SET_X2APIC_STATE:
		return typed(func(vm *VM, a *abi.VMX2APIC) error {
			return vm.platform().lapics[a.Cpuid].SetX2APICState(a.State)
		})
	case abi.VM_GET_X2APIC_STATE:
		return typed(func(vm *VM, a *abi.VMX2APIC) error {
			if !vcpuOK(a.Cpuid) {
				return abi.EINVAL
			}
			a.State = vm.platform().lapics[a.Cpuid].X2APICState()
			return nil
		})
	case abi.VM_GET_HPET_CAPABILITIES:
		return typed(func(vm *VM, a *abi.VMHpetCap) error {
			a.Capabilities = uint32(vm.platform().hpet.Capabilities())
			return nil
		})
	case abi.VM_RTC_READ:
		return typed(func(vm *VM, a *abi.VMRtcData) error {
			v, err := vm.platform().rtc.NVRAMRead(int(a.Offset))
			a.Value = v
			return err
		})
	case abi.VM_RTC_WRITE:
		return typed(func(vm *VM, a *abi.VMRtcData) error {
			return vm.platform().rtc.NVRAMWrite(int(a.Offset), a.Value)
		})
	case abi.VM_RTC_SETTIME:
		return typed(func(vm *VM, a *abi.VMRtcTime) error { return vm.platform().rtc.SetTime(a.Secs) })
	case abi.VM_RTC_GETTIME:
		return typed(func(vm *VM, a *abi.VMRtcTime) error {
			a.Secs = vm.platform().rtc.GetTime()
			return nil
		})
	case abi.VM_INJECT_EXCEPTION:
		return typed(func(vm *VM, a *abi.VMException) error { return vm.injectException(a) })
	case abi.VM_GET_INTINFO:
		// info1 is only ever what VM_SET_INTINFO stored: the interpreter
		// delivers an event atomically, so no VM exit interrupts a
		// delivery half-way the way a VT-x exit can.
		return typed(func(vm *VM, a *abi.VMIntinfo) error {
			v := &vm.platform().vc[a.Vcpuid]
			a.Info1, a.Info2 = v.exitintinfo, v.exc
			return nil
		})
	case abi.VM_SET_INTINFO:
		return typed(func(vm *VM, a *abi.VMIntinfo) error {
			info, err := checkIntinfo(a.Info1)
			if err != nil {
				return err
			}
			vm.platform().vc[a.Vcpuid].exitintinfo = info
			return nil
		})
	}
	return nil
}

// isaIRQ is VM_ISA_{ASSERT,DEASSERT,PULSE}_IRQ: the 8259 pin, then the
// IOAPIC pin unless ioapic_irq is -1. FreeBSD 12 changes the 8259 before
// it finds a bad IOAPIC pin; softvmm checks both first, so an EINVAL
// leaves the VM as it was (reference/vmm-interface.md §16, DESIGN.md
// "Errors").
func isaIRQ(op int) handler {
	return typed(func(vm *VM, a *abi.VMIsaIRQ) error {
		p := vm.platform()
		if a.AtpicIrq < 0 || a.AtpicIrq > 15 || a.IoapicIrq != -1 && (a.IoapicIrq < 0 || a.IoapicIrq >= ioapic.Pins) {
			return abi.EINVAL
		}
		do := [...]func(int) error{p.atpic.AssertIRQ, p.atpic.DeassertIRQ, p.atpic.PulseIRQ}[op]
		if err := do(int(a.AtpicIrq)); err != nil {
			return err
		}
		if a.IoapicIrq == -1 {
			return nil
		}
		doIO := [...]func(int) error{p.ioapic.AssertIRQ, p.ioapic.DeassertIRQ, p.ioapic.PulseIRQ}[op]
		return doIO(int(a.IoapicIrq))
	})
}

// Intinfo format (reference/vmm-interface.md §8.2).
const (
	iiValid    = 1 << 31
	iiErrValid = 1 << 11
	iiTypeMask = 7 << 8
	iiRsvd     = 0x7FFFF000
	iiExtInt   = 0 << 8
	iiNMI      = 2 << 8
	iiHWExc    = 3 << 8
	iiSWInt    = 4 << 8
)

// checkIntinfo is vm_exit_intinfo's validation: invalid stores 0; NMI
// with a vector other than 2, an exception vector ≥ 32, or a reserved bit
// is EINVAL.
func checkIntinfo(info uint64) (uint64, error) {
	if info&iiValid == 0 {
		return 0, nil
	}
	vec := info & 0xff
	switch info & iiTypeMask {
	case iiNMI:
		if vec != 2 {
			return 0, abi.EINVAL
		}
	case iiHWExc:
		if vec >= 32 {
			return 0, abi.EINVAL
		}
	}
	if info&iiRsvd != 0 {
		return 0, abi.EINVAL
	}
	return info, nil
}

// injectException is vm_inject_exception (§8.1): vector < 32 and not #DF;
// one pending exception at most (EBUSY); the error code is dropped in real
// mode; the interrupt shadow is cleared; restart_instruction rewinds
// nextrip to the current instruction.
func (vm *VM) injectException(a *abi.VMException) error {
	if a.Vector < 0 || a.Vector >= 32 || a.Vector == 8 {
		return abi.EINVAL
	}
	v := &vm.platform().vc[a.Cpuid]
	if v.exc&iiValid != 0 {
		return abi.EBUSY
	}
	c := vm.cpuOf(int(a.Cpuid))
	info := uint64(a.Vector) | iiHWExc | iiValid
	cr0, _ := c.Reg(abi.VM_REG_GUEST_CR0)
	if a.ErrorCodeValid != 0 && cr0&1 != 0 {
		info |= iiErrValid | uint64(a.ErrorCode)<<32
	}
	c.SetReg(abi.VM_REG_GUEST_INTR_SHADOW, 0)
	if a.RestartInstruction != 0 {
		vm.vcpu[a.Cpuid].nextrip, _ = c.Reg(abi.VM_REG_GUEST_RIP)
	}
	v.exc = info
	return nil
}

func iiContributory(vec uint64) bool {
	switch vec {
	case 0, 10, 11, 12, 13:
		return true
	}
	return false
}

// nestedEvent combines exitintinfo and the pending exception as vmx/svm
// do before entry (§8.2, SDM vol. 3 table 6-5): a #DF followed by anything
// is a triple fault (ok false); contributory + contributory, or #PF +
// (#PF or contributory), is #DF(0); otherwise the second event.
func nestedEvent(info1, info2 uint64) (uint64, bool) {
	v1, v2 := info1&iiValid != 0, info2&iiValid != 0
	switch {
	case v1 && v2:
		if info1&iiTypeMask != iiHWExc || info2&iiTypeMask != iiHWExc {
			return info2, true
		}
		e1, e2 := info1&0xff, info2&0xff
		if e1 == 8 {
			return 0, false
		}
		if iiContributory(e1) && iiContributory(e2) || e1 == 14 && (e2 == 14 || iiContributory(e2)) {
			return 8 | iiHWExc | iiErrValid | iiValid, true
		}
		return info2, true
	case v1:
		return info1, true
	}
	return info2, true
}

// entry injects, before a slice, the event the two intinfo slots hold.
func (v *vplat) entry() error {
	if (v.exitintinfo|v.exc)&iiValid == 0 {
		return nil
	}
	ev, ok := nestedEvent(v.exitintinfo, v.exc)
	v.exitintinfo, v.exc = 0, 0
	if !ok {
		v.p.vm.suspendVM(abi.VM_SUSPEND_TRIPLEFAULT)
		return nil
	}
	v.c.InjectEvent(uint8(ev), uint32(ev>>32), ev&iiErrValid != 0, ev&iiTypeMask == iiNMI)
	return nil
}

// msr handles RDMSR/WRMSR of a LAPIC MSR (lapic_rdmsr/lapic_wrmsr, §1.4);
// false when the LAPIC refused it: the exit then goes to userspace.
func (p *platform) msr(id int, c *cpu.CPU, e *cpu.Exit) bool {
	l := p.lapics[id]
	if e.Reason == cpu.ExitRDMSR {
		v, err := l.ReadMSR(e.MSR)
		if err != nil {
			return false
		}
		c.SetReg(abi.VM_REG_GUEST_RAX, v&0xffffffff)
		c.SetReg(abi.VM_REG_GUEST_RDX, v>>32)
		return true
	}
	return l.WriteMSR(e.MSR, e.MSRVal) == nil
}
