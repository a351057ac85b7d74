package atpic

// Register-level tests of reference/vmm-devices.md §4, row by row. Expected
// values are literals from the reference and the Intel 8259A datasheet
// (order no. 231468): ICW1 = 0x11 (bit 4 marks ICW1, IC4), ICW4 = 0x01
// (µPM = 8086), OCW2 0x20 = non-specific EOI, 0x60|n = specific EOI,
// 0xA0 = rotate on non-specific EOI, 0xC0|n = set priority, OCW3 0x0A/0x0B =
// read IRR/ISR, 0x0C|RR = poll, 0x68/0x48 = set/reset special mask; poll
// word = 0x80 | level.

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"softvmm/emu/abi"
)

type spy struct{ n int }

func (s *spy) intr() { s.n++ }

func newPIC(t *testing.T) (*ATPIC, *spy) {
	t.Helper()
	s := &spy{}
	return New(s.intr), s
}

func out(t *testing.T, a *ATPIC, port uint16, v uint8) {
	t.Helper()
	if err := a.Out(port, 1, uint32(v)); err != nil {
		t.Fatalf("out %#x, %#x: %v", port, v, err)
	}
}

func in(t *testing.T, a *ATPIC, port uint16) uint8 {
	t.Helper()
	v, err := a.In(port, 1)
	if err != nil {
		t.Fatalf("in %#x: %v", port, err)
	}
	if v > 0xFF {
		t.Fatalf("in %#x: %#x is wider than a byte", port, v)
	}
	return uint8(v)
}

// initPC programs both chips as a PC BIOS does: vectors 0x20/0x28,
// cascade on IRQ 2, 8086 mode, masks open.
func initPC(t *testing.T, a *ATPIC) {
	t.Helper()
	for _, w := range [][2]uint16{
		{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
		{0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01},
	} {
		out(t, a, w[0], uint8(w[1]))
	}
}

// §4.1: every port takes only 1-byte accesses; anything else fails (EIO).
// Rows: §1.2 row "0x20/0x21, 0xA0/0xA1, 0x4D0/0x4D1 1-byte only";
// §4.1 row "ports and 1-byte only (EIO)";
func TestWidth(t *testing.T) {
	a, _ := newPIC(t)
	for _, port := range []uint16{0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1} {
		for _, size := range []int{2, 4} {
			if _, err := a.In(port, size); !errors.Is(err, abi.EIO) {
				t.Errorf("in %#x size %d: %v", port, size, err)
			}
			if err := a.Out(port, size, 0); !errors.Is(err, abi.EIO) {
				t.Errorf("out %#x size %d: %v", port, size, err)
			}
		}
	}
	if got := a.State(); !reflect.DeepEqual(got, State{}) {
		t.Errorf("failed accesses changed state: %+v", got)
	}
}

// §4.2: all zero at creation: not ready, IMR 0, IRR 0, ELCR 0.
// Rows: §4.2 row "zero at creation: not ready, IMR 0, lowprio 0";
func TestResetState(t *testing.T) {
	a, s := newPIC(t)
	if got := a.State(); !reflect.DeepEqual(got, State{}) {
		t.Fatalf("state %+v", got)
	}
	for _, p := range []uint16{0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1} {
		if v := in(t, a, p); v != 0 {
			t.Errorf("port %#x reads %#x, want 0", p, v)
		}
	}
	if s.n != 0 {
		t.Error("INTR raised at reset")
	}
}

// §4.3 ICW1: clears IRR, IMR, rd_cmd_reg, poll, smm, sets lowprio 7,
// and keeps ISR, AEOI, SFNM, rotate and irq_base.
// Rows: §4.3 row "ICW1 clears IRR, IMR, rd_cmd_reg, poll, smm; lowprio 7";
// §4.3 row "ICW1 keeps ISR, AEOI, SFNM, rotate, irq_base";
// §12.15 row "AEOI/SFNM/ISR survive re-initialisation";
func TestICW1Effects(t *testing.T) {
	a, _ := newPIC(t)
	var st State
	st.Chip[0] = ChipState{Ready: true, RdCmdReg: 1, AEOI: true, Poll: true, Rotate: true,
		SFN: true, IRQBase: 0x40, IRR: 0x12, ISR: 0x24, IMR: 0x81, SMM: true,
		ACnt: [8]int{0, 1}, LowPrio: 3}
	if err := a.SetState(st); err != nil {
		t.Fatal(err)
	}
	out(t, a, 0x20, 0x11)
	want := ChipState{Ready: false, ICWNum: 2, RdCmdReg: 0, AEOI: true, Poll: false, Rotate: true,
		SFN: true, IRQBase: 0x40, IRR: 0, ISR: 0x24, IMR: 0, SMM: false,
		ACnt: [8]int{0, 1}, LowPrio: 7}
	if got := a.State().Chip[0]; got != want {
		t.Fatalf("after ICW1:\n got %+v\nwant %+v", got, want)
	}
}

// §4.3: ICW1 with SNGL (bit 1) or without IC4 (bit 0) fails (EIO), the chip
// stays at icw_num 1 and the next data-port write is an OCW1.
// Rows: §4.3 row "ICW1 single mode or no IC4: EIO, icw_num 1, data is OCW1";
// §4.4 row "OCW1 IMR = value";
// §12.21 row "ICW1 without IC4 or single mode, ICW4 without 8086 mode: EIO";
func TestICW1Errors(t *testing.T) {
	for _, icw1 := range []uint8{0x13, 0x10, 0x12} {
		a, _ := newPIC(t)
		if err := a.Out(0x20, 1, uint32(icw1)); !errors.Is(err, abi.EIO) {
			t.Errorf("ICW1 %#x: %v, want EIO", icw1, err)
		}
		c := a.State().Chip[0]
		if c.Ready || c.ICWNum != 1 {
			t.Errorf("ICW1 %#x: ready %v icw_num %d", icw1, c.Ready, c.ICWNum)
		}
		out(t, a, 0x21, 0x55)
		if c := a.State().Chip[0]; c.IMR != 0x55 || c.IRQBase != 0 || c.ICWNum != 1 {
			t.Errorf("ICW1 %#x then data 0x55: %+v, want IMR 0x55 (OCW1)", icw1, c)
		}
	}
}

// §4.4: ICW2 keeps value & 0xF8, ICW3 is ignored, ICW4 needs µPM (bit 0)
// else EIO with the state unchanged; AEOI and SFNM (master only) stick.
// Rows: §4.4 row "ICW2 irq_base = value & 0xF8"; §4.4 row "ICW3 ignored";
// §4.4 row "ICW4 without 8086 mode: EIO, state unchanged";
// §4.4 row "ICW4 AEOI sticks; SFNM master only";
// §12.15 row "AEOI/SFNM/ISR survive re-initialisation";
// §12.21 row "ICW1 without IC4 or single mode, ICW4 without 8086 mode: EIO";
func TestICW2to4(t *testing.T) {
	a, _ := newPIC(t)
	out(t, a, 0x20, 0x11)
	out(t, a, 0x21, 0x2F)
	if c := a.State().Chip[0]; c.IRQBase != 0x28 || c.ICWNum != 3 {
		t.Fatalf("ICW2 0x2F: base %#x icw_num %d, want 0x28, 3", c.IRQBase, c.ICWNum)
	}
	out(t, a, 0x21, 0xFF) // ICW3: anything
	if c := a.State().Chip[0]; c.ICWNum != 4 || c.IMR != 0 {
		t.Fatalf("ICW3: %+v", c)
	}
	before := a.State()
	if err := a.Out(0x21, 1, 0x12); !errors.Is(err, abi.EIO) { // AEOI|SFNM, no µPM
		t.Fatalf("ICW4 0x12: %v, want EIO", err)
	}
	if got := a.State(); !reflect.DeepEqual(got, before) {
		t.Fatalf("failed ICW4 changed state: %+v", got)
	}
	out(t, a, 0x21, 0x13) // µPM|AEOI|SFNM
	if c := a.State().Chip[0]; !c.Ready || c.ICWNum != 0 || !c.AEOI || !c.SFN {
		t.Fatalf("ICW4 0x13 on master: %+v", c)
	}
	// Re-initialise with a plain ICW4: AEOI and SFNM are not cleared.
	out(t, a, 0x20, 0x11) // ICW1
	out(t, a, 0x21, 0x20) // ICW2
	out(t, a, 0x21, 0x04) // ICW3
	out(t, a, 0x21, 0x01) // ICW4: 8086 only
	if c := a.State().Chip[0]; !c.Ready || !c.AEOI || !c.SFN {
		t.Fatalf("re-init with ICW4 0x01: %+v, want AEOI and SFN kept", c)
	}
	// SFNM on the slave is ignored.
	for _, w := range [][2]uint16{{0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x11}} {
		out(t, a, w[0], uint8(w[1]))
	}
	if c := a.State().Chip[1]; !c.Ready || c.SFN {
		t.Fatalf("slave ICW4 0x11: %+v, want ready without SFN", c)
	}
}

// §4.3: OCW2/OCW3 on a chip that is not ready are ignored.
// Rows: §4.3 row "OCW2/OCW3 ignored when not ready";
func TestOCWIgnoredWhenNotReady(t *testing.T) {
	a, _ := newPIC(t)
	var st State
	st.Chip[0] = ChipState{ISR: 0x08, LowPrio: 7}
	a.SetState(st)
	for _, v := range []uint8{0x20, 0x63, 0xC5, 0x0B, 0x0E, 0x68} {
		out(t, a, 0x20, v)
	}
	if c := a.State().Chip[0]; c != st.Chip[0] {
		t.Fatalf("OCW2/3 on an uninitialised chip changed it: %+v", c)
	}
}

// §4.3 OCW2 rows.
// Rows: §4.3 row "OCW2 rotate := bit 7";
// §4.3 row "OCW2 non-specific EOI: highest in service in priority order";
// §4.3 row "OCW2 specific EOI"; §4.3 row "OCW2 EOI in special mask mode skips masked pins";
// §4.3 row "OCW2 rotate on EOI: lowprio := pin"; §4.3 row "OCW2 set priority";
// §4.3 row "OCW2 other forms only set rotate";
func TestOCW2(t *testing.T) {
	cases := []struct {
		name        string
		isr, imr    uint8
		smm         bool
		lowprio     int
		ocw2        uint8
		wantISR     uint8
		wantLowPrio int
		wantRotate  bool
	}{
		{"non-specific EOI clears the highest (IR1 before IR3)", 0x0A, 0, false, 7, 0x20, 0x08, 7, false},
		{"non-specific EOI in rotated order (lowprio 1: IR3 first)", 0x0A, 0, false, 1, 0x20, 0x02, 1, false},
		{"rotate on non-specific EOI: IR1 becomes lowest", 0x0A, 0, false, 7, 0xA0, 0x08, 1, true},
		{"specific EOI IR3", 0x0A, 0, false, 7, 0x63, 0x02, 7, false},
		{"rotate on specific EOI IR3", 0x0A, 0, false, 7, 0xE3, 0x02, 3, true},
		{"specific EOI of a pin not in service", 0x0A, 0, false, 7, 0x65, 0x0A, 7, false},
		{"non-specific EOI, nothing in service", 0x00, 0, false, 7, 0xA0, 0x00, 7, true},
		{"set priority: IR5 lowest", 0x0A, 0, false, 7, 0xC5, 0x0A, 5, true},
		{"SL without R and EOI: nothing", 0x0A, 0, false, 7, 0x45, 0x0A, 7, false},
		{"rotate in AEOI set (0x80)", 0x0A, 0, false, 7, 0x80, 0x0A, 7, true},
		{"special mask: EOI skips a masked in-service pin", 0x0A, 0x02, true, 7, 0x20, 0x02, 7, false},
		{"without special mask the mask does not matter", 0x0A, 0x02, false, 7, 0x20, 0x08, 7, false},
	}
	for _, c := range cases {
		a, _ := newPIC(t)
		initPC(t, a)
		st := a.State()
		st.Chip[0].ISR, st.Chip[0].IMR, st.Chip[0].SMM, st.Chip[0].LowPrio = c.isr, c.imr, c.smm, c.lowprio
		a.SetState(st)
		out(t, a, 0x20, c.ocw2)
		got := a.State().Chip[0]
		if got.ISR != c.wantISR || got.LowPrio != c.wantLowPrio || got.Rotate != c.wantRotate {
			t.Errorf("%s: ISR %#x lowprio %d rotate %v; want %#x %d %v", c.name,
				got.ISR, got.LowPrio, got.Rotate, c.wantISR, c.wantLowPrio, c.wantRotate)
		}
	}
}

// §4.3 OCW3 and §4.5 reads: RR/RIS select IRR or ISR on the command port,
// the data port reads IMR, ESMM/SMM set special mask, P latches only with RR.
// Rows: §4.3 row "OCW3 ESMM/SMM"; §4.3 row "OCW3 RR/RIS, P latched only with RR";
// §4.5 row "data port reads IMR; command port ISR or IRR";
func TestOCW3AndReads(t *testing.T) {
	a, _ := newPIC(t)
	initPC(t, a)
	st := a.State()
	st.Chip[0].IRR, st.Chip[0].ISR, st.Chip[0].IMR = 0x30, 0x01, 0xF0
	a.SetState(st)
	if v := in(t, a, 0x20); v != 0x30 {
		t.Errorf("default command read %#x, want IRR 0x30", v)
	}
	out(t, a, 0x20, 0x0B)
	if v := in(t, a, 0x20); v != 0x01 {
		t.Errorf("after OCW3 0x0B: %#x, want ISR 0x01", v)
	}
	if v := in(t, a, 0x20); v != 0x01 {
		t.Errorf("read-register selection is sticky: %#x", v)
	}
	out(t, a, 0x20, 0x09) // RIS without RR: no change
	out(t, a, 0x20, 0x0A)
	if v := in(t, a, 0x20); v != 0x30 {
		t.Errorf("after OCW3 0x0A: %#x, want IRR 0x30", v)
	}
	if v := in(t, a, 0x21); v != 0xF0 {
		t.Errorf("data read %#x, want IMR 0xF0", v)
	}
	out(t, a, 0x20, 0x28) // SMM without ESMM: ignored
	if a.State().Chip[0].SMM {
		t.Error("SMM set without ESMM")
	}
	out(t, a, 0x20, 0x68)
	if !a.State().Chip[0].SMM {
		t.Error("OCW3 0x68 did not set special mask mode")
	}
	out(t, a, 0x20, 0x48)
	if a.State().Chip[0].SMM {
		t.Error("OCW3 0x48 did not clear special mask mode")
	}
	out(t, a, 0x20, 0x0C) // P without RR
	if a.State().Chip[0].Poll {
		t.Error("poll latched without RR")
	}
	out(t, a, 0x20, 0x0E)
	if c := a.State().Chip[0]; !c.Poll || c.RdCmdReg != 0 {
		t.Errorf("OCW3 0x0E: %+v", c)
	}
}

// §4.5 poll: the read accepts the best request and returns 0x80|pin, or 0;
// either port; poll clears after one read.
// Rows: §4.4 row "OCW1 IMR = value"; §4.4 row "notify after every write when ready";
// §4.5 row "poll read: clears poll, accepts, 0x80|pin or 0";
// §4.8 row "accept: IRR cleared only if acnt 0";
func TestPoll(t *testing.T) {
	a, s := newPIC(t)
	initPC(t, a)
	out(t, a, 0x21, 0xFF) // poll honours IMR (reference §4.6 eligibility)
	a.AssertIRQ(5)
	out(t, a, 0x20, 0x0C|0x02)
	if v := in(t, a, 0x21); v != 0 {
		t.Errorf("poll with IR5 masked: %#x, want 0", v)
	}
	if a.State().Chip[0].Poll {
		t.Error("poll not cleared by the read")
	}
	nBefore := s.n
	out(t, a, 0x21, 0x00) // unmask: INTR raised
	out(t, a, 0x20, 0x0E)
	if v := in(t, a, 0x20); v != 0x85 {
		t.Errorf("poll: %#x, want 0x85", v)
	}
	c := a.State().Chip[0]
	if c.ISR != 0x20 || c.IRR != 0x20 || c.IntrRaised {
		// IR5 is still asserted (acnt 1), so its IRR bit stays.
		t.Errorf("after poll: ISR %#x IRR %#x raised %v; want ISR 0x20 IRR 0x20 not raised", c.ISR, c.IRR, c.IntrRaised)
	}
	if s.n != nBefore+1 { // the OCW1 unmask raised INTR once; the poll does not notify
		t.Errorf("INTR raised %d times, want %d", s.n-nBefore, 1)
	}
	a.DeassertIRQ(5)
	out(t, a, 0x20, 0x0E)
	if v := in(t, a, 0x20); v != 0 {
		t.Errorf("poll with IR5 in service: %#x, want 0", v)
	}
	if v := in(t, a, 0x20); v != 0x20 { // a normal read again: IRR, kept by the edge pin
		t.Errorf("read after poll: %#x, want IRR 0x20", v)
	}
}

// §4.6: priority scan from lowprio+1; an in-service pin at or above a
// request blocks it; SFN exempts master pin 2; SMM ignores ISR.
// Rows: §4.6 row "scan from lowprio+1"; §4.6 row "in-service pin stops the scan";
// §4.6 row "special mask mode: empty serviced set";
// §4.6 row "first unmasked requested pin wins";
// §4.8 row "pending: master pin, slave through pin 2, else spurious 7";
func TestPriority(t *testing.T) {
	cases := []struct {
		name     string
		irr, isr uint8
		imr      uint8
		lowprio  int
		sfn, smm bool
		wantVec  int
		wantSpur bool
	}{
		{"fully nested: IR0 highest", 0x81, 0, 0, 7, false, false, 0x20, false},
		{"masked pin skipped", 0x81, 0, 0x01, 7, false, false, 0x27, false},
		{"rotated: lowprio 3, IR4 highest", 0x11, 0, 0, 3, false, false, 0x24, false},
		{"in-service IR1 blocks IR3", 0x08, 0x02, 0, 7, false, false, 0x27, true},
		{"in-service IR3 does not block IR1", 0x02, 0x08, 0, 7, false, false, 0x21, false},
		{"same level in service blocks", 0x08, 0x08, 0, 7, false, false, 0x27, true},
		{"special mask mode ignores ISR", 0x08, 0x02, 0, 7, false, true, 0x23, false},
		{"nothing pending: spurious IR7", 0, 0, 0, 7, false, false, 0x27, true},
	}
	for _, c := range cases {
		a, _ := newPIC(t)
		initPC(t, a)
		st := a.State()
		m := &st.Chip[0]
		m.IRR, m.ISR, m.IMR, m.LowPrio, m.SFN, m.SMM = c.irr, c.isr, c.imr, c.lowprio, c.sfn, c.smm
		a.SetState(st)
		v, sp := a.PendingIntr()
		if v != c.wantVec || sp != c.wantSpur {
			t.Errorf("%s: PendingIntr = %#x, %v; want %#x, %v", c.name, v, sp, c.wantVec, c.wantSpur)
		}
	}
}

// §4.6: special fully nested: a second slave request gets through while
// master pin 2 is in service.
// Rows: §4.6 row "SFN exempts master pin 2";
func TestSpecialFullyNested(t *testing.T) {
	for _, sfn := range []bool{false, true} {
		a, s := newPIC(t)
		initPC(t, a)
		if sfn {
			out(t, a, 0x20, 0x11)
			out(t, a, 0x21, 0x20)
			out(t, a, 0x21, 0x04)
			out(t, a, 0x21, 0x11)
		}
		a.PulseIRQ(12)
		v, _ := a.PendingIntr()
		if v != 0x2C {
			t.Fatalf("sfn=%v: vector %#x, want 0x2C", sfn, v)
		}
		a.IntrAccepted(v)
		n := s.n
		a.PulseIRQ(9) // higher priority on the slave than IR4 (lowprio 7)
		if got := s.n - n; (got == 1) != sfn {
			t.Errorf("sfn=%v: slave IRQ 9 while IRQ 12 in service raised INTR %d times", sfn, got)
		}
	}
}

// §4.7: edge pins latch IRR on 0→1 only; level pins follow the line;
// INTR is raised once until acknowledged.
// Rows: §4.7 row "rising edge or held level sets IRR";
// §4.7 row "falling edge clears IRR for level pins only";
// §4.7 row "intr_raised blocks notifications until accepted";
// §4.8 row "accept: IRR cleared only if acnt 0";
func TestInputLines(t *testing.T) {
	a, s := newPIC(t)
	initPC(t, a)
	a.AssertIRQ(3)
	if c := a.State().Chip[0]; c.IRR != 0x08 || c.ACnt[3] != 1 || !c.IntrRaised || s.n != 1 {
		t.Fatalf("assert IRQ 3: %+v intr %d", c, s.n)
	}
	a.AssertIRQ(3) // count 2: no edge
	a.AssertIRQ(4) // INTR already raised: no second notification
	if s.n != 1 {
		t.Fatalf("INTR raised %d times before acknowledge, want 1", s.n)
	}
	a.DeassertIRQ(3)
	a.DeassertIRQ(3) // falling edge of an edge pin keeps IRR
	if c := a.State().Chip[0]; c.IRR != 0x18 || c.ACnt[3] != 0 {
		t.Fatalf("edge pin after deassert: %+v", c)
	}
	// Level: ELCR bit 3.
	out(t, a, 0x4D0, 0x08)
	a.DeassertIRQ(4)
	a.IntrAccepted(0x23) // IR3 accepted: IRR3 cleared (count 0), ISR3 set
	a.AssertIRQ(5)
	if c := a.State().Chip[0]; c.IRR != 0x30 || c.ISR != 0x08 {
		t.Fatalf("IRR %#x ISR %#x, want 0x30 0x08", c.IRR, c.ISR)
	}
	a.AssertIRQ(3) // level rising
	a.DeassertIRQ(3)
	if c := a.State().Chip[0]; c.IRR&0x08 != 0 {
		t.Fatalf("level pin deasserted but IRR3 still set: %#x", c.IRR)
	}
	// A level pin still asserted keeps IRR through acknowledge.
	a.AssertIRQ(3)
	out(t, a, 0x20, 0x20) // EOI IR3
	v, _ := a.PendingIntr()
	a.IntrAccepted(v)
	if v != 0x23 || a.State().Chip[0].IRR&0x08 == 0 {
		t.Fatalf("vector %#x, IRR %#x: a held level request must stay", v, a.State().Chip[0].IRR)
	}
}

// §4.7: irq outside 0..15 → EINVAL; on an uninitialised chip the call
// succeeds and changes nothing (reference/vmm-interface.md §8.5).
// Rows: §4.7 row "irq outside 0..15 EINVAL"; §4.7 row "chip not ready: dropped without acnt";
func TestIRQRangeAndUninitialised(t *testing.T) {
	a, s := newPIC(t)
	for _, irq := range []int{-1, 16, 255} {
		for _, f := range []func(int) error{a.AssertIRQ, a.DeassertIRQ, a.PulseIRQ} {
			if err := f(irq); err != abi.EINVAL {
				t.Errorf("irq %d: %v, want EINVAL", irq, err)
			}
		}
	}
	for irq := 0; irq < 16; irq++ {
		if err := a.AssertIRQ(irq); err != nil {
			t.Errorf("assert %d on uninitialised PIC: %v", irq, err)
		}
		a.PulseIRQ(irq)
	}
	if got := a.State(); !reflect.DeepEqual(got, State{}) || s.n != 0 {
		t.Fatalf("uninitialised PIC changed: %+v", got)
	}
	// Master ready, slave not: slave IRQs still dropped.
	for _, w := range [][2]uint16{{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01}} {
		out(t, a, w[0], uint8(w[1]))
	}
	a.AssertIRQ(9)
	if c := a.State().Chip[1]; c.ACnt[1] != 0 || c.IRR != 0 {
		t.Fatalf("slave not ready but counted: %+v", c)
	}
}

// §12 item 15 (reproduced): an assert dropped while uninitialised is not
// counted, so the matching deassert after init drives the count to −1 and
// the next assert produces no edge.
// Rows: §12.15 row "asserts on an uninitialised PIC dropped uncounted";
func TestUninitialisedAssertQuirk(t *testing.T) {
	a, s := newPIC(t)
	a.AssertIRQ(3) // dropped
	initPC(t, a)
	a.DeassertIRQ(3)
	if c := a.State().Chip[0]; c.ACnt[3] != -1 {
		t.Fatalf("acnt %d, want -1", c.ACnt[3])
	}
	a.AssertIRQ(3)
	if c := a.State().Chip[0]; c.IRR != 0 || s.n != 0 {
		t.Fatalf("assert from -1 made an edge: IRR %#x", c.IRR)
	}
	a.AssertIRQ(3) // count 0 → 1: now the edge
	if c := a.State().Chip[0]; c.IRR != 0x08 || c.ACnt[3] != 1 || s.n != 1 {
		t.Fatalf("second assert: IRR %#x intr %d", c.IRR, s.n)
	}
}

// §4.7/§4.8: the slave cascades through master pin 2; the vector comes
// from the slave's base; accepting it sets ISR on both chips.
// Rows: §4.7 row "slave notifies through master pin 2";
// §4.8 row "pending: master pin, slave through pin 2, else spurious 7";
// §4.8 row "accept on the slave sets pin 2 on the master";
func TestCascade(t *testing.T) {
	a, s := newPIC(t)
	initPC(t, a)
	a.PulseIRQ(10)
	st := a.State()
	if st.Chip[1].IRR != 0x04 || !st.Chip[1].IntrRaised || st.Chip[0].IRR != 0x04 || s.n != 1 {
		t.Fatalf("after IRQ 10: %+v intr %d", st, s.n)
	}
	v, sp := a.PendingIntr()
	if v != 0x2A || sp {
		t.Fatalf("PendingIntr = %#x %v, want 0x2A", v, sp)
	}
	a.IntrAccepted(v)
	st = a.State()
	if st.Chip[1].ISR != 0x04 || st.Chip[1].IRR != 0 || st.Chip[0].ISR != 0x04 || st.Chip[0].IRR != 0 ||
		st.Chip[0].IntrRaised || st.Chip[1].IntrRaised {
		t.Fatalf("after accept: %+v", st)
	}
	// Slave masked entirely: spurious from the slave is slave base + 7.
	st.Chip[0].IRR = 0x04
	st.Chip[0].ISR = 0
	st.Chip[1].ISR = 0
	st.Chip[1].IMR = 0xFF
	st.Chip[1].IRR = 0x01
	a.SetState(st)
	if v, sp := a.PendingIntr(); v != 0x2F || !sp {
		t.Fatalf("cascade with masked slave: %#x %v, want 0x2F spurious", v, sp)
	}
}

// §4.8: accepting re-notifies, so the next request raises INTR again
// without waiting for EOI when priority allows.
// Rows: §4.7 row "intr_raised blocks notifications until accepted";
// §4.8 row "accept re-notifies";
func TestAcceptRenotifies(t *testing.T) {
	a, s := newPIC(t)
	initPC(t, a)
	a.PulseIRQ(4)
	a.PulseIRQ(1)
	if s.n != 1 {
		t.Fatalf("intr %d", s.n)
	}
	v, _ := a.PendingIntr()
	a.IntrAccepted(v) // IR1
	if v != 0x21 || s.n != 1 {
		// IR4 is blocked by IR1 in service: no new notification.
		t.Fatalf("vector %#x intr %d", v, s.n)
	}
	out(t, a, 0x20, 0x20) // EOI IR1: IR4 now eligible
	if s.n != 2 {
		t.Fatalf("after EOI intr %d, want 2", s.n)
	}
	if v, _ := a.PendingIntr(); v != 0x24 {
		t.Fatalf("vector %#x, want 0x24", v)
	}
}

// §4.8: AEOI leaves ISR clear; with rotate set the accepted pin becomes
// lowest priority.
// Rows: §4.8 row "accept in AEOI: ISR untouched, rotate sets lowprio";
func TestAEOI(t *testing.T) {
	a, _ := newPIC(t)
	for _, w := range [][2]uint16{{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x03}} {
		out(t, a, w[0], uint8(w[1]))
	}
	a.PulseIRQ(2 + 1)
	a.IntrAccepted(0x23)
	if c := a.State().Chip[0]; c.ISR != 0 || c.LowPrio != 7 {
		t.Fatalf("AEOI accept: %+v", c)
	}
	out(t, a, 0x20, 0x80) // rotate in AEOI mode
	a.PulseIRQ(3)
	a.IntrAccepted(0x23)
	if c := a.State().Chip[0]; c.ISR != 0 || c.LowPrio != 3 {
		t.Fatalf("AEOI+rotate accept: %+v", c)
	}
}

// §4.9: ELCR reads back what was written minus the forced-edge bits; the
// trigger ioctl refuses level on IRQ 0, 1, 2, 8, 13 and irq ∉ [0,15]
// (reference/vmm-interface.md §2.1 VM_ISA_SET_IRQ_TRIGGER).
// Rows: §4.9 row "ELCR reads back; master & 0xF8, slave & 0xDE";
// §4.9 row "set_irq_trigger LEVEL EINVAL for 0,1,2,8,13 and out of range";
func TestELCR(t *testing.T) {
	a, _ := newPIC(t)
	out(t, a, 0x4D0, 0xFF)
	out(t, a, 0x4D1, 0xFF)
	if v := in(t, a, 0x4D0); v != 0xF8 {
		t.Errorf("ELCR1 %#x, want 0xF8", v)
	}
	if v := in(t, a, 0x4D1); v != 0xDE {
		t.Errorf("ELCR2 %#x, want 0xDE", v)
	}
	out(t, a, 0x4D0, 0)
	out(t, a, 0x4D1, 0)
	for irq := -1; irq <= 16; irq++ {
		err := a.SetIRQTrigger(irq, true)
		want := error(nil)
		switch irq {
		case -1, 0, 1, 2, 8, 13, 16:
			want = abi.EINVAL
		}
		if err != want {
			t.Errorf("level irq %d: %v, want %v", irq, err, want)
		}
	}
	if v := in(t, a, 0x4D0); v != 0xF8 {
		t.Errorf("ELCR1 after level 3-7: %#x", v)
	}
	if v := in(t, a, 0x4D1); v != 0xDE {
		t.Errorf("ELCR2 after level 9-12,14,15: %#x", v)
	}
	for _, irq := range []int{0, 2, 8, 13, 5, 14} {
		if err := a.SetIRQTrigger(irq, false); err != nil {
			t.Errorf("edge irq %d: %v", irq, err)
		}
	}
	if v := in(t, a, 0x4D0); v != 0xD8 {
		t.Errorf("ELCR1 after edge 5: %#x, want 0xD8", v)
	}
	if v := in(t, a, 0x4D1); v != 0x9E {
		t.Errorf("ELCR2 after edge 14: %#x, want 0x9E", v)
	}
	if err := a.SetIRQTrigger(16, false); err != abi.EINVAL {
		t.Errorf("edge irq 16: %v", err)
	}
}

func TestSetStateValidates(t *testing.T) {
	a, _ := newPIC(t)
	bad := []State{
		{Chip: [2]ChipState{{ICWNum: 5}}},
		{Chip: [2]ChipState{{LowPrio: 8}}},
		{Chip: [2]ChipState{{}, {IRQBase: 0x29}}},
		{ELCR: [2]uint8{0x01, 0}},
		{ELCR: [2]uint8{0, 0x01}},
	}
	for _, s := range bad {
		if err := a.SetState(s); err != abi.EINVAL {
			t.Errorf("SetState(%+v) = %v", s, err)
		}
	}
}

// The same sequence of port writes and line changes gives the same INTR
// trace and vectors every run.
func TestDeterministicTrace(t *testing.T) {
	run := func() []int {
		var trace []int
		var a *ATPIC
		a = New(func() { trace = append(trace, -1) })
		initPC(t, a)
		out(t, a, 0x4D1, 0x08) // IRQ 11 level
		for i := 0; i < 50; i++ {
			irq := (i*7 + 3) % 16
			if irq == 2 {
				continue
			}
			a.PulseIRQ(irq)
			if i%3 == 0 {
				a.AssertIRQ(11)
			}
			v, _ := a.PendingIntr()
			trace = append(trace, v)
			a.IntrAccepted(v)
			if v >= 0x28 {
				out(t, a, 0xA0, 0x20)
			}
			out(t, a, 0x20, 0x20)
			if i%3 == 2 {
				a.DeassertIRQ(11)
			}
		}
		return trace
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) || len(a) < 50 {
		t.Fatalf("traces differ or short:\n%v\n%v", a, b)
	}
}

// Devices and vCPUs drive the PIC concurrently (run with -race).
func TestConcurrent(t *testing.T) {
	var mu sync.Mutex
	n := 0
	a := New(func() { mu.Lock(); n++; mu.Unlock() })
	initPC(t, a)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				switch w {
				case 0:
					a.PulseIRQ(i % 16)
				case 1:
					v, _ := a.PendingIntr()
					a.IntrAccepted(v)
					a.Out(0x20, 1, 0x20)
					a.Out(0xA0, 1, 0x20)
				case 2:
					a.In(0x20, 1)
					a.In(0xA1, 1)
				case 3:
					a.SetIRQTrigger(i%16, i%2 == 0)
					a.AssertIRQ(5)
					a.DeassertIRQ(5)
				}
			}
		}(w)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if n == 0 {
		t.Fatal("no INTR")
	}
}
