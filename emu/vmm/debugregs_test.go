package vmm

import (
	"testing"

	"softvmm/emu/abi"
)

// VM_GET_REGISTER on a vCPU nobody has touched reads the debug
// registers vmm's vmx_vcpu_init gives it (FreeBSD sys/amd64/vmm/intel/
// vmx.c: guest_dr6 = DBREG_DR6_RESERVED1 = 0xffff0ff0, VMCS_GUEST_DR7 =
// DBREG_DR7_RESERVED1 = 0x400; DR0-DR3 zero), the SDM's power-up values.
func TestDebugRegistersAtCreation(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v")
	for _, rv := range []struct {
		reg int32
		v   uint64
	}{
		{abi.VM_REG_GUEST_DR0, 0}, {abi.VM_REG_GUEST_DR1, 0}, {abi.VM_REG_GUEST_DR2, 0}, {abi.VM_REG_GUEST_DR3, 0},
		{abi.VM_REG_GUEST_DR6, 0xffff0ff0}, {abi.VM_REG_GUEST_DR7, 0x400},
	} {
		r := abi.VMRegister{Cpuid: 2, Regnum: rv.reg}
		if err := dev.Ioctl(s.host, abi.VM_GET_REGISTER, &r); err != nil || r.Regval != rv.v {
			t.Errorf("%s = %#x (%v), want %#x", abi.RegName(rv.reg), r.Regval, err, rv.v)
		}
	}
	// What VM_SET_REGISTER writes reads back unshaped, as from the VMCS.
	r := abi.VMRegister{Cpuid: 2, Regnum: abi.VM_REG_GUEST_DR7, Regval: 0x1}
	if err := dev.Ioctl(s.host, abi.VM_SET_REGISTER, &r); err != nil {
		t.Fatal(err)
	}
	r.Regval = 0
	if err := dev.Ioctl(s.host, abi.VM_GET_REGISTER, &r); err != nil || r.Regval != 1 {
		t.Errorf("DR7 reads %#x after writing 1", r.Regval)
	}
}
