package vmmapi

import "softvmm/emu/abi"

// The calls a monitor's instruction emulation makes (libvmmapi's
// vm_gla2gpa, vm_restart_instruction, vm_inject_exception): bhyve's
// emulate_inout needs all three for string I/O.

// GLA2GPA is vm_gla2gpa: translate gla through the guest's page tables as
// paging describes them, for an access of kind prot (PROT_READ/WRITE).
// fault reports that the walk failed; the kernel has then injected the
// page fault (or #GP for a non-canonical address) into vcpu.
func (v *VMCtx) GLA2GPA(vcpu int, pg abi.VMGuestPaging, gla uint64, prot int32) (gpa uint64, fault bool, err error) {
	a := abi.VMGla2Gpa{Vcpuid: int32(vcpu), Prot: prot, Gla: gla, Paging: pg}
	if err := v.dev.Ioctl(v.td, abi.VM_GLA2GPA, &a); err != nil {
		return 0, false, err
	}
	return a.Gpa, a.Fault != 0, nil
}

// RestartInstruction is vm_restart_instruction: the next VM_RUN re-enters
// at the instruction that exited rather than past it.
func (v *VMCtx) RestartInstruction(vcpu int) error {
	id := int32(vcpu)
	return v.dev.Ioctl(v.td, abi.VM_RESTART_INSTRUCTION, &id)
}

// InjectFault is vm_inject_fault: queue exception vector for vcpu with
// the instruction restarted, so the fault's RIP names it.
func (v *VMCtx) InjectFault(vcpu int, vector int, errValid bool, errCode uint32) error {
	e := abi.VMException{Cpuid: int32(vcpu), Vector: int32(vector), ErrorCode: errCode, RestartInstruction: 1}
	if errValid {
		e.ErrorCodeValid = 1
	}
	return v.dev.Ioctl(v.td, abi.VM_INJECT_EXCEPTION, &e)
}
