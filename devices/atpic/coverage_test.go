package atpic

import (
	"testing"

	"softvmm/devices/internal/reftest"
)

// reference lists every row of reference/vmm-devices.md §4 (and the 8259's
// rows of §1.2 and §12) with the test that checks it; each test carries
// its rows' tags. TestReferenceCoverage keeps the two in step.
var reference = []reftest.Row{
	{"1.2", "0x20/0x21, 0xA0/0xA1, 0x4D0/0x4D1 1-byte only", "TestWidth", ""},
	{"4.1", "ports and 1-byte only (EIO)", "TestWidth", ""},
	{"4.2", "zero at creation: not ready, IMR 0, lowprio 0", "TestResetState", ""},
	{"4.3", "ICW1 clears IRR, IMR, rd_cmd_reg, poll, smm; lowprio 7", "TestICW1Effects", ""},
	{"4.3", "ICW1 keeps ISR, AEOI, SFNM, rotate, irq_base", "TestICW1Effects", ""},
	{"4.3", "ICW1 single mode or no IC4: EIO, icw_num 1, data is OCW1", "TestICW1Errors", ""},
	{"4.3", "ICW1 LTIM and ADI ignored", "TestICW1LTIMIgnored", ""},
	{"4.3", "OCW2/OCW3 ignored when not ready", "TestOCWIgnoredWhenNotReady", ""},
	{"4.3", "OCW2 rotate := bit 7", "TestOCW2", ""},
	{"4.3", "OCW2 non-specific EOI: highest in service in priority order", "TestOCW2", ""},
	{"4.3", "OCW2 specific EOI", "TestOCW2", ""},
	{"4.3", "OCW2 EOI in special mask mode skips masked pins", "TestOCW2", ""},
	{"4.3", "OCW2 rotate on EOI: lowprio := pin", "TestOCW2", ""},
	{"4.3", "OCW2 set priority", "TestOCW2", ""},
	{"4.3", "OCW2 other forms only set rotate", "TestOCW2", ""},
	{"4.3", "OCW3 ESMM/SMM", "TestOCW3AndReads", ""},
	{"4.3", "OCW3 RR/RIS, P latched only with RR", "TestOCW3AndReads", ""},
	{"4.4", "ICW2 irq_base = value & 0xF8", "TestICW2to4", ""},
	{"4.4", "ICW3 ignored", "TestICW2to4", ""},
	{"4.4", "ICW4 without 8086 mode: EIO, state unchanged", "TestICW2to4", ""},
	{"4.4", "ICW4 AEOI sticks; SFNM master only", "TestICW2to4", ""},
	{"4.4", "OCW1 IMR = value", "TestICW1Errors TestPoll", ""},
	{"4.4", "notify after every write when ready", "TestPoll", ""},
	{"4.5", "poll read: clears poll, accepts, 0x80|pin or 0", "TestPoll", ""},
	{"4.5", "data port reads IMR; command port ISR or IRR", "TestOCW3AndReads", ""},
	{"4.6", "scan from lowprio+1", "TestPriority", ""},
	{"4.6", "in-service pin stops the scan", "TestPriority", ""},
	{"4.6", "SFN exempts master pin 2", "TestSpecialFullyNested", ""},
	{"4.6", "special mask mode: empty serviced set", "TestPriority", ""},
	{"4.6", "first unmasked requested pin wins", "TestPriority", ""},
	{"4.7", "irq outside 0..15 EINVAL", "TestIRQRangeAndUninitialised", ""},
	{"4.7", "chip not ready: dropped without acnt", "TestIRQRangeAndUninitialised", ""},
	{"4.7", "rising edge or held level sets IRR", "TestInputLines", ""},
	{"4.7", "falling edge clears IRR for level pins only", "TestInputLines", ""},
	{"4.7", "slave notifies through master pin 2", "TestCascade", ""},
	{"4.7", "master notify: LINT0 on every active vCPU and IOAPIC pin 0", "", "the ATPIC raises one INTR callback (TestInputLines); emu/vmm/platform.go fans it out to LINT0 of every active vCPU and pulses IOAPIC pin 0; emu/vmm TestTimerGuestsVirtual/pit_8259 takes the ExtINT path"},
	{"4.7", "intr_raised blocks notifications until accepted", "TestInputLines TestAcceptRenotifies", ""},
	{"4.8", "pending: master pin, slave through pin 2, else spurious 7", "TestPriority TestCascade", ""},
	{"4.8", "accept on the slave sets pin 2 on the master", "TestCascade", ""},
	{"4.8", "accept: IRR cleared only if acnt 0", "TestInputLines TestPoll", ""},
	{"4.8", "accept in AEOI: ISR untouched, rotate sets lowprio", "TestAEOI", ""},
	{"4.8", "accept re-notifies", "TestAcceptRenotifies", ""},
	{"4.9", "ELCR reads back; master & 0xF8, slave & 0xDE", "TestELCR", ""},
	{"4.9", "set_irq_trigger LEVEL EINVAL for 0,1,2,8,13 and out of range", "TestELCR", ""},
	{"12.15", "asserts on an uninitialised PIC dropped uncounted", "TestUninitialisedAssertQuirk", ""},
	{"12.15", "AEOI/SFNM/ISR survive re-initialisation", "TestICW1Effects TestICW2to4", ""},
	{"12.15", "master notifications fire LINT0 on every active vCPU", "", "wiring in emu/vmm/platform.go (see the §4.7 row)"},
	{"12.21", "ICW1 without IC4 or single mode, ICW4 without 8086 mode: EIO", "TestICW1Errors TestICW2to4", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// ICW1's LTIM (bit 3) does not make the pins level triggered: vatpic takes
// the trigger from ELCR alone, so a deasserted pin keeps its IRR bit (an
// edge pin's behaviour) and ELCR stays 0. ADI (bit 2) has no effect either.
// Rows: §4.3 row "ICW1 LTIM and ADI ignored";
func TestICW1LTIMIgnored(t *testing.T) {
	a, _ := newPIC(t)
	for _, w := range [][2]uint16{{0x20, 0x1D}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01}} {
		out(t, a, w[0], uint8(w[1])) // ICW1 = 0x10|LTIM|ADI|IC4
	}
	a.AssertIRQ(3)
	a.DeassertIRQ(3)
	if c := a.State().Chip[0]; !c.Ready || c.IRR != 0x08 {
		t.Fatalf("after LTIM ICW1, IRQ 3 up/down: %+v, want IRR 0x08 (edge)", c)
	}
	if v := in(t, a, 0x4D0); v != 0 {
		t.Fatalf("ELCR1 %#x after LTIM, want 0", v)
	}
}
