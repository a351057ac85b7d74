package boot

import (
	"testing"

	"softvmm/emu/abi"
)

// cpusVM records register and descriptor sets per vCPU.
type cpusVM struct {
	regs  map[int]map[int32]uint64
	descs map[int]map[int32]descVal
}

func newCPUsVM() *cpusVM {
	return &cpusVM{regs: map[int]map[int32]uint64{}, descs: map[int]map[int32]descVal{}}
}

func (v *cpusVM) WriteGPA(gpa uint64, p []byte) error { return nil }

func (v *cpusVM) SetRegister(vcpu int, reg int32, val uint64) error {
	if v.regs[vcpu] == nil {
		v.regs[vcpu] = map[int32]uint64{}
	}
	v.regs[vcpu][reg] = val
	return nil
}

func (v *cpusVM) SetDesc(vcpu int, reg int32, base uint64, limit, access uint32) error {
	if v.descs[vcpu] == nil {
		v.descs[vcpu] = map[int32]descVal{}
	}
	v.descs[vcpu][reg] = descVal{base, limit, access}
	return nil
}

// bhyve's vmexit_spinup_ap (reference/vmm-interface.md §7.4): vcpu_reset's
// state (§14.3) but CS.base = rip, CS.sel = rip >> 4 and RIP = 0.
func TestAPStartupState(t *testing.T) {
	v := newCPUsVM()
	st := APStartupState(0x9a000)
	if err := st.Apply(v, 3); err != nil {
		t.Fatal(err)
	}
	want := map[int32]uint64{
		abi.VM_REG_GUEST_RIP: 0, abi.VM_REG_GUEST_CS: 0x9a00, abi.VM_REG_GUEST_RFLAGS: 2,
		abi.VM_REG_GUEST_CR0: 0x20, abi.VM_REG_GUEST_CR3: 0, abi.VM_REG_GUEST_CR4: 0,
		abi.VM_REG_GUEST_RDX: 0xf00, abi.VM_REG_GUEST_RSP: 0, abi.VM_REG_GUEST_SS: 0,
	}
	for r, w := range want {
		if got, ok := v.regs[3][r]; !ok || got != w {
			t.Errorf("%s = %#x (set %v), want %#x", abi.RegName(r), got, ok, w)
		}
	}
	if len(v.regs) != 1 || len(v.descs) != 1 {
		t.Errorf("other vCPUs were touched: %v %v", v.regs, v.descs)
	}
	cs := v.descs[3][abi.VM_REG_GUEST_CS]
	if cs.Base != 0x9a000 || cs.Limit != 0xffff || cs.Access != 0x93 {
		t.Errorf("CS descriptor %+v, want base 0x9a000 limit 0xffff access 0x93", cs)
	}
}

// StartAPLongMode gives any vCPU what LoadELF64 gives vCPU 0 (§14.1),
// with RSP 0.
func TestStartAPLongMode(t *testing.T) {
	v := newCPUsVM()
	if err := StartAPLongMode(v, 2, 0x8000); err != nil {
		t.Fatal(err)
	}
	want := map[int32]uint64{
		abi.VM_REG_GUEST_RIP: 0x8000, abi.VM_REG_GUEST_RSP: 0, abi.VM_REG_GUEST_CR0: 0x80000021,
		abi.VM_REG_GUEST_CR3: PML4GPA, abi.VM_REG_GUEST_CR4: 0x20, abi.VM_REG_GUEST_EFER: 0x500,
		abi.VM_REG_GUEST_CS: 0x8, abi.VM_REG_GUEST_SS: 0x10,
	}
	for r, w := range want {
		if got, ok := v.regs[2][r]; !ok || got != w {
			t.Errorf("%s = %#x (set %v), want %#x", abi.RegName(r), got, ok, w)
		}
	}
	if g := v.descs[2][abi.VM_REG_GUEST_GDTR]; g.Base != GDTGPA || g.Limit != GDTLimit {
		t.Errorf("GDTR %+v", g)
	}
	if len(v.regs) != 1 || len(v.descs) != 1 {
		t.Errorf("other vCPUs were touched: %v %v", v.regs, v.descs)
	}
}
