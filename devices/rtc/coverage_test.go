package rtc

import (
	"reflect"
	"testing"

	"softvmm/devices/internal/reftest"
	"softvmm/devices/vclock"
)

// reference lists every row of reference/vmm-devices.md §7 (and the RTC's
// rows of §1.1, §1.2 and §12) with the test that checks it; each test
// carries its rows' tags. TestReferenceCoverage keeps the two in step.
var reference = []reftest.Row{
	{"1.1", "RTC survives VM reset; vrtc_reset clears PIE/AIE/UIE, SQWE, reg C", "TestReset", ""},
	{"1.2", "0x70/0x71 1-byte only", "TestWidthAndIndex", ""},
	{"7.1", "1-byte only, else EIO", "TestWidthAndIndex", ""},
	{"7.1", "index write keeps value & 0x7F", "TestWidthAndIndex", ""},
	{"7.1", "index read 0xFF", "TestWidthAndIndex", ""},
	{"7.1", "layout: time fields, alarms, regs A-D, NVRAM, century 0x32", "TestFormats TestRegistersAndNVRAM TestNVRAMIoctls", ""},
	{"7.1", "reset A 0x20, B 0x02, C 0, D 0x80, index 0x0D, time 0", "TestPowerOn", ""},
	{"7.2", "time runs only with divider 010, SET clear, not broken", "TestDividerReset TestSetBit TestBrokenTimeFrozen", ""},
	{"7.2", "whole-second aligned base", "TestTimeAdvances TestPollingDoesNotDrift", ""},
	{"7.2", "every data access advances time and refreshes fields", "TestTimeAdvances TestGuestTimeFieldsOverwritten", ""},
	{"7.2", "BCD/binary, 12/24 h, 12 shows as 12, PM bit 7", "TestFormats", ""},
	{"7.2", "day of week 1-7, year % 100, century", "TestFormats TestTimeAdvances", ""},
	{"7.2", "format changes applied lazily", "TestFormats", ""},
	{"7.2", "UIP never set", "TestUIPNeverSet", ""},
	{"7.3", "reg A: bit 7 dropped, rest stored", "TestUIPNeverSet", ""},
	{"7.3", "reg A: leaving divider reset restarts the second phase", "TestDividerReset", ""},
	{"7.3", "reg A: rate/divider changes re-evaluate the callout", "TestCalloutChoice TestPeriodicRates", ""},
	{"7.3", "reg B SET 0->1: refresh, broken, UIE cleared", "TestSetBit", ""},
	{"7.3", "reg B SET 1->0: parse fields; invalid EIO and broken", "TestSetBit TestDateValidation", ""},
	{"7.3", "reg B enable changes re-evaluate IRQF and the callout", "TestUpdateInterrupts TestCalloutChoice TestEnableReevaluatesIRQF", ""},
	{"7.3", "reg C, reg D writes ignored", "TestRegistersAndNVRAM", ""},
	{"7.3", "0x00 bit 7 cleared", "TestRegistersAndNVRAM", ""},
	{"7.3", "other offsets stored raw; running time fields overwritten", "TestRegistersAndNVRAM TestGuestTimeFieldsOverwritten", ""},
	{"7.3", "century write while running re-parses (invalid EIO)", "TestCenturyWrite", ""},
	{"7.4", "reg C read returns and clears flags", "TestNoReadNoSecondInterrupt TestPeriodicRates", ""},
	{"7.4", "other offsets return the stored byte", "TestRegistersAndNVRAM", ""},
	{"7.4", "reg D reads 0x80", "TestRegistersAndNVRAM TestPowerOn", ""},
	{"7.5", "IRQF iff enabled flag; IRQ on IRQF 0->1 only", "TestNoReadNoSecondInterrupt TestEnableReevaluatesIRQF", ""},
	{"7.5", "IRQ 8 pulsed on 8259 and IOAPIC pin 8", "", "the RTC raises one irq callback; emu/vmm/platform.go pulses 8259 IRQ 8 and IOAPIC pin 8 from it; emu/vmm TestTimerGuestsVirtual/rtc_periodic counts them through IOAPIC pin 8"},
	{"7.5", "flags raised only while enabled; disabling keeps the flag, drops IRQF", "TestAlarm TestUpdateInterrupts", ""},
	{"7.5", "periodic rates table", "TestPeriodicRates", ""},
	{"7.5", "callout period: PIE rate, else 1 s with AIE/UIE, else stopped", "TestCalloutChoice", ""},
	{"7.5", "callout relative", "TestUpdateInterrupts TestPeriodicRates", ""},
	{"7.5", "callout: PIE sets PF; AIE/UIE advance time", "TestPeriodicRates TestUpdateInterrupts", ""},
	{"7.5", "alarm: per-second walk, equal or don't care 0xC0", "TestAlarm TestAlarmWalk", ""},
	{"7.5", "UF when UIE and the time changed", "TestUpdateInterrupts", ""},
	{"7.6", "VM_RTC_READ 0-127, refreshes time fields", "TestNVRAMIoctls", ""},
	{"7.6", "VM_RTC_WRITE refused for 0x00-0x0D, 0x32, >= 128", "TestNVRAMIoctls", ""},
	{"7.6", "VM_RTC_SETTIME EBUSY while SET; -1 broken", "TestSetTime", ""},
	{"7.6", "VM_RTC_SETTIME with AIE walks seconds; backward guarded", "TestAlarmWalk TestAlarmWalkBackwardTerminates", ""},
	{"7.6", "VM_RTC_GETTIME -1 if broken/halted", "TestSetTime TestSetBit", ""},
	{"7.6", "VM reset keeps time and NVRAM", "TestReset", ""},
	{"12.5", "RTC drift under polling (fixed)", "TestPollingDoesNotDrift", ""},
	{"12.6", "UIP never set", "TestUIPNeverSet", ""},
	{"12.6", "invalid date programming EIO", "TestDateValidation TestCenturyWrite", ""},
	{"12.6", "SETTIME backwards with AIE endless walk (guarded)", "TestAlarmWalkBackwardTerminates", ""},
	{"12.6", "SETTIME while SET EBUSY", "TestSetTime", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// A flag raised while its enable was on, then left pending with the enable
// off (IRQF dropped), raises IRQF — and IRQ 8 — again when the enable is
// turned back on: vrtc re-evaluates reg C after every reg B write.
// Rows: §7.3 row "reg B enable changes re-evaluate IRQF and the callout";
// §7.5 row "IRQF iff enabled flag; IRQ on IRQF 0->1 only";
func TestEnableReevaluatesIRQF(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0B, 0x12) // UIE
	g.runTo(sec1S)   // UF, IRQF, IRQ 8
	g.wr(0x0B, 0x02) // UIE off: IRQF drops, UF stays
	if c := g.r.State().CMOS[0x0C]; c != 0x10 {
		t.Fatalf("reg C %#x with UIE off, want 0x10", c)
	}
	g.wr(0x0B, 0x12) // UIE on again: IRQF 0→1
	if want := []vclock.SBT{sec1S, sec1S}; !reflect.DeepEqual(g.irqs, want) {
		t.Fatalf("interrupts %v, want two at 1 s", g.irqs)
	}
	if v := g.rd(0x0C); v != 0x90 {
		t.Fatalf("reg C %#x, want 0x90", v)
	}
}

// Time fields the guest writes while the clock runs (SET clear) are stored
// but overwritten by the refresh of the next data-port access.
// Rows: §7.2 row "every data access advances time and refreshes fields";
// §7.3 row "other offsets stored raw; running time fields overwritten";
func TestGuestTimeFieldsOverwritten(t *testing.T) {
	g := newRig(t, leapNoon) // 12:34:56
	g.wr(0x02, 0x11)
	if v := g.rd(0x02); v != 0x34 {
		t.Fatalf("minutes %#x after a guest write while running, want 0x34", v)
	}
	g.clk.AdvanceTo(2 * sec1S)
	if v := g.rd(0x00); v != 0x58 {
		t.Fatalf("seconds %#x, want 0x58", v)
	}
}
