package cpu

import (
	"encoding/binary"
	"testing"

	"softvmm/emu/abi"
)

// testRAM is guest-physical memory for tests: ramSize bytes of RAM from 0,
// nothing above (MMIO), plus holes. It counts Page calls so tests can
// prove the hot path does not call it per instruction.
type testRAM struct {
	b     []byte
	holes map[uint64]bool
	calls int
}

const (
	ramSize   = 4 << 20
	codeBase  = 0x10000
	dataBase  = 0x20000
	stackTop  = 0x80000
	idtBase   = 0x6000
	mmioAddr  = 0x800000 // beyond RAM: no backing
	tssBase   = 0x7000
	handlerVA = 0x30000
)

func (r *testRAM) Page(gpa uint64) ([]byte, int) {
	r.calls++
	gpa &^= pageSz - 1
	if r.holes[gpa] || gpa+pageSz > uint64(len(r.b)) {
		return nil, 0
	}
	return r.b[gpa : gpa+pageSz], abi.PROT_ALL
}

func (r *testRAM) w64(gpa, v uint64) { binary.LittleEndian.PutUint64(r.b[gpa:], v) }
func (r *testRAM) r64(gpa uint64) uint64 {
	return binary.LittleEndian.Uint64(r.b[gpa:])
}

// newGuest builds the long-mode state bhyveload leaves
// (reference/vmm-interface.md §14.1), through the public API, with code
// copied to codeBase and RIP there. The IDT limit is 0 (no IDT).
func newGuest(t testing.TB, code []byte) (*CPU, *testRAM) {
	t.Helper()
	ram := &testRAM{b: make([]byte, ramSize), holes: map[uint64]bool{}}
	for i := uint64(0); i < 512; i++ {
		ram.w64(0x2000+i*8, 0x3000|7)
		ram.w64(0x3000+i*8, 0x4000|7)
		ram.w64(0x4000+i*8, i<<21|0x87)
	}
	ram.w64(0x5000, 0)
	ram.w64(0x5008, 0x0020980000000000)
	ram.w64(0x5010, 0x0000900000000000)
	copy(ram.b[codeBase:], code)
	c := New(ram, 0)
	must := func(err error) { mustOK(t, err) }
	for _, rv := range []struct {
		r int32
		v uint64
	}{
		{abi.VM_REG_GUEST_CR0, 0x80000021}, {abi.VM_REG_GUEST_CR4, 0x20},
		{abi.VM_REG_GUEST_EFER, 0x500}, {abi.VM_REG_GUEST_CR3, 0x2000},
		{abi.VM_REG_GUEST_RFLAGS, 2}, {abi.VM_REG_GUEST_RSP, stackTop},
		{abi.VM_REG_GUEST_RIP, codeBase}, {abi.VM_REG_GUEST_CS, 8},
		{abi.VM_REG_GUEST_DS, 0x10}, {abi.VM_REG_GUEST_ES, 0x10}, {abi.VM_REG_GUEST_SS, 0x10},
		{abi.VM_REG_GUEST_FS, 0x10}, {abi.VM_REG_GUEST_GS, 0x10}, {abi.VM_REG_GUEST_TR, 0},
		{abi.VM_REG_GUEST_RDX, 0},
	} {
		must(c.SetReg(rv.r, rv.v))
	}
	must(c.SetDesc(abi.VM_REG_GUEST_CS, abi.SegDesc{Access: 0x209b}))
	for _, r := range []int32{abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_SS, abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS} {
		must(c.SetDesc(r, abi.SegDesc{Access: 0x93}))
	}
	must(c.SetDesc(abi.VM_REG_GUEST_TR, abi.SegDesc{Base: tssBase, Limit: 0x67, Access: 0x8b}))
	must(c.SetDesc(abi.VM_REG_GUEST_LDTR, abi.SegDesc{Access: 0x10000}))
	must(c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: 23}))
	must(c.SetDesc(abi.VM_REG_GUEST_IDTR, abi.SegDesc{Base: idtBase, Limit: 0}))
	return c, ram
}

// setIDT installs 64-bit interrupt gates (CS 8) for the given vectors,
// each pointing at handler+vector*16, and sets IDTR to cover 256 gates.
func setIDT(t testing.TB, c *CPU, ram *testRAM, handler uint64) {
	for v := uint64(0); v < 256; v++ {
		h := handler + v*16
		lo := h&0xffff | 8<<16 | uint64(0x8e)<<40 | (h>>16&0xffff)<<48
		ram.w64(idtBase+v*16, lo)
		ram.w64(idtBase+v*16+8, h>>32)
	}
	if err := c.SetDesc(abi.VM_REG_GUEST_IDTR, abi.SegDesc{Base: idtBase, Limit: 256*16 - 1}); err != nil {
		t.Fatal(err)
	}
}

func reg(t testing.TB, c *CPU, r int32) uint64 {
	t.Helper()
	v, err := c.Reg(r)
	if err != nil {
		t.Fatalf("Reg(%d): %v", r, err)
	}
	return v
}

func run(t testing.TB, c *CPU, budget uint64, want ExitReason) Exit {
	t.Helper()
	ex := c.Run(budget)
	if ex.Reason != want {
		t.Fatalf("Run: exit %v (rip %#x, err %v), want %v", ex.Reason, ex.RIP, ex.Err, want)
	}
	return ex
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
