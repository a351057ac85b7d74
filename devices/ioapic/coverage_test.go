package ioapic

import (
	"testing"

	"softvmm/devices/internal/reftest"
)

// reference lists every row of reference/vmm-devices.md §3 (and the
// IOAPIC's rows of §1.3 and §12) with the test that checks it; each test
// carries its rows' tags. TestReferenceCoverage keeps the two in step.
var reference = []reftest.Row{
	{"1.3", "0xFEC00000-0xFEC00FFF IOAPIC", "TestLocation", ""},
	{"3.1", "base 0xFEC00000 size 4096", "TestLocation", ""},
	{"3.1", "only 4-byte at 0x00/0x10; others ignored, read 0, no error", "TestAccessRules", ""},
	{"3.1", "IOREGSEL stores 32 bits, index is the low 8", "TestAccessRules", ""},
	{"3.1", "no EOI register at 0x40", "TestAccessRules", ""},
	{"3.2", "ID", "TestResetValues TestRegisterWrites", ""},
	{"3.2", "VER", "TestResetValues TestRegisterWrites", ""},
	{"3.2", "ARB", "TestResetValues TestRegisterWrites", ""},
	{"3.2", "RTE n low", "TestResetValues TestRegisterWrites", ""},
	{"3.2", "RTE n high", "TestResetValues TestRegisterWrites", ""},
	{"3.2", "other index", "TestResetValues TestOtherIndexIgnored", ""},
	{"3.2", "pin count 32", "TestResetValues TestLocation", ""},
	{"3.2", "delivery status RO 0", "TestRegisterWrites", ""},
	{"3.2", "remote IRR RO", "TestLevelRemoteIRRAndEOI", ""},
	{"3.2", "reserved bits stored", "TestRegisterWrites", ""},
	{"3.2", "RTE reset 0x00010000_00010000", "TestResetValues", ""},
	{"3.3", "merge keeps remote IRR and delivery status", "TestLevelRemoteIRRAndEOI", ""},
	{"3.3", "TMR rebuilt unless only mask/polarity changed", "TestUpdateTMR", ""},
	{"3.3", "unmasked, remote IRR clear, asserted: deliver now", "TestEdgeDelivery TestLevelRemoteIRRAndEOI TestRTEWriteRedelivers", ""},
	{"3.4", "acnt counts, may go negative", "TestEdgeDelivery", ""},
	{"3.4", "deliver on acnt 0->1 only; deassert nothing; pulse", "TestEdgeDelivery", ""},
	{"3.4", "remote IRR not consulted on assertion", "TestLevelRemoteIRRAndEOI", ""},
	{"3.4", "masked: event lost", "TestEdgeDelivery", ""},
	{"3.4", "level: set remote IRR", "TestLevelRemoteIRRAndEOI", ""},
	{"3.4", "delivery: level flag = trigger, mode from RTE, polarity ignored", "TestEdgeDelivery", ""},
	{"3.4", "EOI broadcast", "TestLevelRemoteIRRAndEOI", ""},
	{"3.4", "irq outside 0..31 EINVAL", "TestEdgeDelivery", ""},
	{"3.5", "conventional users of pins", "", "wiring, not the IOAPIC: emu/vmm/platform.go routes PIT→2, RTC→8, 8259→0, HPET→24-31; the HPET's route cap is pinned in devices/hpet TestResetValues; emu/vmm TestTimerGuestsVirtual/pit_ioapic uses pin 2"},
	{"12.14", "version 0x11 without EOI register", "TestResetValues TestAccessRules", ""},
	{"12.14", "NMI/SMI/INIT RTE modes dropped", "TestEdgeDelivery", "the IOAPIC passes the mode on; the LAPIC side drops it (devices/lapic TestGroupDeliverIntrAndMSI)"},
	{"12.14", "polarity ignored", "TestEdgeDelivery", ""},
	{"12.14", "remote IRR not checked on a new assertion", "TestLevelRemoteIRRAndEOI", ""},
	{"12.14", "RTE high dword resets to 0x00010000", "TestResetValues", ""},
	{"12.19", "TMR recomputation only on non-mask/polarity changes", "TestUpdateTMR", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// The MMIO window and pin count bhyve's guests are told about (their MADT)
// and VM_IOAPIC_PINCOUNT returns.
// Rows: §1.3 row "0xFEC00000-0xFEC00FFF IOAPIC"; §3.1 row "base 0xFEC00000 size 4096";
// §3.2 row "pin count 32";
func TestLocation(t *testing.T) {
	io, _ := newIO()
	if DefaultBase != 0xFEC00000 || MMIOSize != 4096 || io.PinCount() != 32 {
		t.Fatalf("base %#x size %d pins %d", DefaultBase, MMIOSize, io.PinCount())
	}
}

// Writes to indices that are not ID, VER, ARB or an RTE (0x03-0x0F, 0x50
// and up) change nothing and read 0.
// Rows: §3.2 row "other index";
func TestOtherIndexIgnored(t *testing.T) {
	io, _ := newIO()
	before := io.State()
	for _, reg := range []uint32{0x03, 0x0F, 0x50, 0x80, 0xFF} {
		wrReg(t, io, reg, 0xFFFFFFFF)
		if got := rdReg(t, io, reg); got != 0 {
			t.Errorf("index %#x reads %#x after a write", reg, got)
		}
	}
	after := io.State()
	after.IOREGSEL = before.IOREGSEL
	if after != before {
		t.Fatal("a write to an unused index changed the state")
	}
}

// vioapic_write sends on every RTE write, either half, changed or not,
// while the pin is unmasked, remote IRR is clear and the line is held
// asserted: so an edge pin held high interrupts again at each rewrite.
// Rows: §3.3 row "unmasked, remote IRR clear, asserted: deliver now";
func TestRTEWriteRedelivers(t *testing.T) {
	io, r := newIO()
	wrReg(t, io, 0x14, 0x00000031) // pin 2: edge, fixed, vector 0x31
	io.AssertIRQ(2)
	r.take()
	wrReg(t, io, 0x14, 0x00000031) // unchanged low half
	wrReg(t, io, 0x15, 0x00000000) // unchanged high half
	wrReg(t, io, 0x15, 0x01000000) // new destination
	edge := "dest=0x0 phys=true mode=0x0 vec=0x31 level=false"
	eq(t, r.take(), []string{edge, edge, "dest=0x1 phys=true mode=0x0 vec=0x31 level=false"})
	io.DeassertIRQ(2)
	wrReg(t, io, 0x14, 0x00000031)
	eq(t, r.take(), nil)
}
