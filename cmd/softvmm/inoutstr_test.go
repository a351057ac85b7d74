package main

import (
	"testing"

	"softvmm/emu/abi"
)

// The segment checks of the runner's string I/O follow SDM Vol. 3 §5.3
// (limit, expand-down), §3.4.5.1 (type: read-only data, execute-only
// code) and §3.3.7.1 (canonical addresses in 64-bit mode), with #SS for
// SS and #GP otherwise, as bhyve's vie_calculate_gla does.
func TestStrIOGLA(t *testing.T) {
	flat := abi.SegDesc{Base: 0x10000, Limit: 0xffff, Access: 0x93}
	for _, tc := range []struct {
		name  string
		mode  int32
		seg   int32
		sd    abi.SegDesc
		off   uint64
		bytes int
		asz   int
		write bool
		gla   uint64
		vec   int // 0: no fault
	}{
		{"in limit", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_ES, flat, 0xfffc, 4, 4, true, 0x1fffc, 0},
		{"crosses limit", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_ES, flat, 0xfffd, 4, 4, true, 0, 13},
		{"crosses limit on SS", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_SS, flat, 0xffff, 2, 4, false, 0, 12},
		{"16-bit index wraps inside", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, flat, 0x1_0000_0010, 1, 2, false, 0x10010, 0},
		{"read-only data written", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_ES, abi.SegDesc{Limit: 0xffff, Access: 0x91}, 0, 1, 4, true, 0, 13},
		{"read-only data read", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, abi.SegDesc{Limit: 0xffff, Access: 0x91}, 0, 1, 4, false, 0, 0},
		{"execute-only code read", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_CS, abi.SegDesc{Limit: 0xffff, Access: 0x99}, 0, 1, 4, false, 0, 13},
		{"readable code read", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_CS, abi.SegDesc{Base: 5, Limit: 0xffff, Access: 0x9b}, 1, 1, 4, false, 6, 0},
		{"unusable", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, abi.SegDesc{Access: 0x10000}, 0, 1, 4, false, 0, 13},
		{"expand-down below limit", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, abi.SegDesc{Limit: 0xfff, Access: 0x4097}, 0xfff, 1, 4, false, 0, 13},
		{"expand-down above limit", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, abi.SegDesc{Limit: 0xfff, Access: 0x4097}, 0x1000, 4, 4, false, 0x1000, 0},
		{"expand-down 16-bit top", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, abi.SegDesc{Limit: 0xfff, Access: 0x97}, 0xffff, 2, 4, false, 0, 13},
		{"real mode", abi.CPU_MODE_REAL, abi.VM_REG_GUEST_ES, abi.SegDesc{Base: 0xb8000, Limit: 0xffff, Access: 0x93}, 0x20, 2, 2, true, 0xb8020, 0},
		{"32-bit wrap", abi.CPU_MODE_PROTECTED, abi.VM_REG_GUEST_DS, abi.SegDesc{Base: 0xfffff000, Limit: 0xffffffff, Access: 0xc093}, 0x2000, 1, 4, false, 0x1000, 0},
		{"64-bit ignores DS base", abi.CPU_MODE_64BIT, abi.VM_REG_GUEST_DS, abi.SegDesc{Base: 0x5000}, 0x1234, 1, 8, false, 0x1234, 0},
		{"64-bit FS base", abi.CPU_MODE_64BIT, abi.VM_REG_GUEST_FS, abi.SegDesc{Base: 0x5000}, 0x1234, 1, 8, false, 0x6234, 0},
		{"64-bit non-canonical", abi.CPU_MODE_64BIT, abi.VM_REG_GUEST_ES, abi.SegDesc{}, 0x0000_8000_0000_0000, 1, 8, true, 0, 13},
		{"64-bit ends non-canonical", abi.CPU_MODE_64BIT, abi.VM_REG_GUEST_ES, abi.SegDesc{}, 0x0000_7fff_ffff_fffe, 4, 8, true, 0, 13},
		{"64-bit a32 masks", abi.CPU_MODE_64BIT, abi.VM_REG_GUEST_ES, abi.SegDesc{}, 0xffff_ffff_0000_0010, 1, 4, true, 0x10, 0},
	} {
		gla, f := strIOGLA(tc.mode, tc.seg, tc.sd, tc.off, tc.bytes, tc.asz, tc.write)
		switch {
		case tc.vec == 0 && f != nil:
			t.Errorf("%s: fault %d, want gla %#x", tc.name, f.vector, tc.gla)
		case tc.vec == 0 && gla != tc.gla:
			t.Errorf("%s: gla %#x, want %#x", tc.name, gla, tc.gla)
		case tc.vec != 0 && (f == nil || f.vector != tc.vec || f.err != 0):
			t.Errorf("%s: fault %+v (gla %#x), want vector %d error 0", tc.name, f, gla, tc.vec)
		}
	}
	for _, tc := range []struct {
		old, v uint64
		size   int
		want   uint64
	}{
		{0x1122334455667788, 0xabcd, 2, 0x112233445566abcd},
		{0x1122334455667788, 0x1_0000_abcd, 4, 0xabcd},
		{0x1122334455667788, 0x1_0000_abcd, 8, 0x1_0000_abcd},
	} {
		if got := updateReg(tc.old, tc.v, tc.size); got != tc.want {
			t.Errorf("updateReg(%#x, %#x, %d) = %#x, want %#x", tc.old, tc.v, tc.size, got, tc.want)
		}
	}
}
