package cpu

import (
	"encoding/binary"
	"testing"

	"softvmm/emu/abi"
)

// newReal returns a vCPU in the power-on state (reference/vmm-interface.md
// §14.3) except that CS is 0 based, with code copied to at and IP there,
// and SS:SP = 0:0x7000.
func newReal(t testing.TB, code []byte, at uint64) (*CPU, *testRAM) {
	t.Helper()
	ram := &testRAM{b: make([]byte, ramSize), holes: map[uint64]bool{}}
	copy(ram.b[at:], code)
	c := New(ram, 0)
	if err := c.SetDesc(abi.VM_REG_GUEST_CS, abi.SegDesc{Base: 0, Limit: 0xffff, Access: 0x93}); err != nil {
		t.Fatal(err)
	}
	for _, rv := range []struct {
		r int32
		v uint64
	}{{abi.VM_REG_GUEST_CS, 0}, {abi.VM_REG_GUEST_RIP, at}, {abi.VM_REG_GUEST_RSP, 0x7000}} {
		if err := c.SetReg(rv.r, rv.v); err != nil {
			t.Fatal(err)
		}
	}
	return c, ram
}

func (r *testRAM) w16(gpa uint64, v uint16) { binary.LittleEndian.PutUint16(r.b[gpa:], v) }
func (r *testRAM) r16(gpa uint64) uint16    { return binary.LittleEndian.Uint16(r.b[gpa:]) }

// Real-mode INT n goes through the IVT and IRET comes back (SDM Vol. 3
// §20.1.4): FLAGS, CS, IP pushed as words, IF cleared in the handler.
func TestRealModeIntIret(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	// sti; int 0x10; hlt
	c, ram := newReal(t, []byte{0xfb, 0xcd, 0x10, 0xf4}, 0x7c00)
	ram.w16(0x10*4, 0x0010)   // IP
	ram.w16(0x10*4+2, 0x1000) // CS -> linear 0x10010
	// pushf; pop bx; mov ax, 0x1234; iret
	copy(ram.b[0x10010:], []byte{0x9c, 0x5b, 0xb8, 0x34, 0x12, 0xcf})
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != 0x7c03 || c.r[rAX]&0xffff != 0x1234 {
		t.Fatalf("hlt at %#x ax %#x", ex.RIP, c.r[rAX])
	}
	if c.r[rBX]&flagIF != 0 {
		t.Errorf("handler FLAGS %#x: IF must be clear", c.r[rBX])
	}
	if c.r[rSP] != 0x7000 || c.rflags()&flagIF == 0 {
		t.Errorf("sp %#x flags %#x after iret", c.r[rSP], c.rflags())
	}
	if got := ram.r16(0x7000 - 6); got != 0x7c03 {
		t.Errorf("pushed IP %#x, want 0x7c03", got)
	}
	if got := ram.r16(0x7000 - 4); got != 0 {
		t.Errorf("pushed CS %#x", got)
	}
}

// deliverVector is the external-interrupt entry of the delivery code:
// in real mode it pushes the current IP (nothing retired).
func TestDeliverVectorReal(t *testing.T) {
	c, ram := newReal(t, []byte{0xf4}, 0x7c00)
	ram.w16(0x20*4, 0x0100)
	ram.w16(0x20*4+2, 0x2000)
	c.setRflags(0x202)
	if !c.deliverVector(0x20) {
		t.Fatal("not delivered")
	}
	if c.seg[segCS].sel != 0x2000 || c.seg[segCS].base != 0x20000 || c.rip != 0x100 {
		t.Errorf("cs %#x base %#x ip %#x", c.seg[segCS].sel, c.seg[segCS].base, c.rip)
	}
	if ram.r16(0x7000-6) != 0x7c00 || ram.r16(0x7000-2) != 0x202 {
		t.Errorf("frame ip %#x flags %#x", ram.r16(0x7000-6), ram.r16(0x7000-2))
	}
	if c.rflags()&flagIF != 0 {
		t.Errorf("IF still set")
	}
}
