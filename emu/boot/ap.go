package boot

import "softvmm/emu/abi"

// APStartupState is the state bhyve's vmexit_spinup_ap gives the AP a
// STARTUP IPI started (reference/vmm-interface.md §7.4): vcpu_reset's
// power-on state (§14.3) with CS.base = rip, CS.sel = rip >> 4 and RIP = 0,
// so the AP fetches its first instruction at rip (vector << 12) in real
// mode.
func APStartupState(rip uint64) State {
	st := PowerOnState()
	for i := range st.Descs {
		if st.Descs[i].Reg == abi.VM_REG_GUEST_CS {
			st.Descs[i].Base = rip
		}
	}
	for i := range st.Regs {
		switch st.Regs[i].Reg {
		case abi.VM_REG_GUEST_CS:
			st.Regs[i].Val = rip >> 4
		case abi.VM_REG_GUEST_RIP:
			st.Regs[i].Val = 0
		}
	}
	return st
}

// StartAPLongMode puts vcpu in the 64-bit state LoadELF64 gives vCPU 0
// (vm_setup_freebsd_registers, §14.1) at rip with RSP = 0: paging on with
// CR3 = 0x2000, GDTR at 0x5000, CS = 0x8. It relies on the boot pages an
// elf64 or raw64 load wrote. This is not what bhyve does (its APs start
// in real mode, APStartupState); it lets a guest whose APs run only 64-bit
// code be started without a real-mode trampoline (softvmm run
// --ap-start long).
func StartAPLongMode(t Target, vcpu int, rip uint64) error {
	return setRegistersOn(t, vcpu, rip, 0)
}
