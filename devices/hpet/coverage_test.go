package hpet

import (
	"testing"

	"softvmm/devices/internal/reftest"
	"softvmm/devices/vclock"
)

// reference lists every row of reference/vmm-devices.md §6 (and the
// HPET's rows of §1.3 and §12) with the test that checks it; each test
// carries its rows' tags. TestReferenceCoverage keeps the two in step.
var reference = []reftest.Row{
	{"0", "HPET tick 256 sbt (FREQ2BT frac 2^40)", "TestTickConstant", ""},
	{"1.3", "0xFED00000-0xFED003FF HPET", "TestLocation", ""},
	{"6.1", "MMIO 0xFED00000, size 1024", "TestLocation", ""},
	{"6.1", "4 or 8 bytes, aligned, else ignored/0", "TestAccessRules", ""},
	{"6.1", "4-byte access with bit 2 set is the upper half", "TestResetValues TestConfigAndCounter", ""},
	{"6.2", "0x000 capabilities 0x038D7EA4_80860701", "TestResetValues", ""},
	{"6.2", "0x000 capabilities RO", "TestHolesAndReadOnly", ""},
	{"6.2", "0x010 config stored but LEG_RT_CNF", "TestConfigAndCounter TestNoLegacyByDefault", ""},
	{"6.2", "0x010 ENABLE_CNF starts/stops the counter", "TestConfigAndCounter", ""},
	{"6.2", "0x020 status reads asserted level timers", "TestLevelInterrupts", ""},
	{"6.2", "0x020 write-1-to-clear deasserts", "TestLevelInterrupts", ""},
	{"6.2", "0x0F0 counter 32-bit, upper half 0", "TestConfigAndCounter", ""},
	{"6.2", "0x0F0 write low part; upper-half write re-bases", "TestConfigAndCounter", ""},
	{"6.2", "0x0F0 write while enabled restarts timers", "TestCounterWriteRestartsTimers", ""},
	{"6.2", "0x100+0x20n timer config", "TestResetValues TestTimerConfig", ""},
	{"6.2", "0x108+0x20n comparator 32-bit", "TestResetValues TestOneShot", ""},
	{"6.2", "0x110+0x20n FSB value", "TestFSB", ""},
	{"6.2", "0x114+0x20n FSB address", "TestFSB", ""},
	{"6.2", "anything else reads 0, writes ignored", "TestResetValues TestHolesAndReadOnly", ""},
	{"6.3", "reset INT_ROUTE_CAP 0xFF000000, PER_INT_CAP, FSB_INT_DEL_CAP, comparator all ones", "TestResetValues", ""},
	{"6.3", "route cap top four pins with 20-31 pins, else none", "", "the HPET is always built beside bhyve's 32-pin IOAPIC (§3.2), so only the 32-pin value 0xFF000000 is reachable; TestResetValues pins it"},
	{"6.3", "writable bits stored", "TestTimerConfig", ""},
	{"6.3", "capability fields RO", "TestTimerConfig", ""},
	{"6.3", "32MODE forced 0", "TestTimerConfig", ""},
	{"6.3", "route not in cap reset to 0", "TestTimerConfig", "not checked while FSB_EN is set: vhpet_timer_ioapic_pin treats an MSI timer as pin 0 (vhpet.c), so the stored route survives"},
	{"6.3", "not periodic: period reset to 0", "TestPeriodic", ""},
	{"6.3", "status set and disabled/edge/FSB/re-routed: deassert, clear", "TestLevelInterrupts", ""},
	{"6.4", "periodic: write sets period; comparator only with VAL_SET", "TestPeriodic", ""},
	{"6.4", "one-shot: comparator updated", "TestOneShot", ""},
	{"6.4", "VAL_SET cleared after every comparator write", "TestPeriodic", ""},
	{"6.4", "changed and enabled: timer restarted", "TestOneShot TestPeriodic", ""},
	{"6.4", "comparator reads current comparator", "TestPeriodic TestPeriodicModularStart", ""},
	{"6.5", "wait = (uint32)(comparator - counter) ticks", "TestOneShot", ""},
	{"6.5", "periodic: next multiple strictly ahead (uint32)", "TestPeriodicModularStart TestPeriodicLateExpiry", ""},
	{"6.5", "on fire: restart then interrupt", "TestPeriodic TestOneShot", ""},
	{"6.5", "one-shot re-arm at the comparator instant waits 2^32", "TestOneShot", ""},
	{"6.5", "INT_ENB clear: nothing", "TestOneShot", ""},
	{"6.5", "status already set: nothing", "TestLevelInterrupts", ""},
	{"6.5", "FSB: MSI addr msireg>>32, data low 32", "TestFSB", ""},
	{"6.5", "pin 0: nothing", "TestOneShot TestNoLegacyByDefault", ""},
	{"6.5", "edge pulses the pin; level sets status and asserts", "TestOneShot TestLevelInterrupts", ""},
	{"6.5", "disable: freeze, stop callouts, overdue fire once", "TestDisableFiresOverdue", ""},
	{"6.5", "enable: resume from frozen value, re-arm", "TestDisableFiresOverdue TestConfigAndCounter", ""},
	{"6.5", "no legacy replacement routing", "TestNoLegacyByDefault", ""},
	{"12.17", "32-bit counter only", "TestConfigAndCounter", ""},
	{"12.17", "comparator in the past waits ~256 s", "TestOneShot", ""},
	{"12.17", "no legacy replacement", "TestNoLegacyByDefault", ""},
	{"12.17", "general config keeps unknown bits", "TestConfigAndCounter", ""},
	{"12.20", "one-shot re-arm at the exact instant would loop", "TestOneShot", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// The window bhyve's ACPI HPET table points guests at.
// Rows: §1.3 row "0xFED00000-0xFED003FF HPET"; §6.1 row "MMIO 0xFED00000, size 1024";
func TestLocation(t *testing.T) {
	if DefaultBase != 0xFED00000 || MMIOSize != 1024 {
		t.Fatalf("base %#x size %d", DefaultBase, MMIOSize)
	}
}

// The capabilities register ignores writes; offsets that are no register
// (0x008, 0x018, 0x028-0x0E8, 0x0F8, 0x118 + 0x20n, beyond the last timer)
// keep reading 0 after a write.
// Rows: §6.2 row "0x000 capabilities RO"; §6.2 row "anything else reads 0, writes ignored";
func TestHolesAndReadOnly(t *testing.T) {
	h, _, _ := newH(false)
	before := h.State()
	wr(t, h, OffCap, 8, 0)
	wr(t, h, OffCap+4, 4, 0)
	if got := rd(t, h, OffCap, 8); got != 0x038D7EA4_80860701 {
		t.Fatalf("capabilities after a write: %#x", got)
	}
	holes := []uint32{0x008, 0x018, 0x028, 0x030, 0x0E8, 0x0F8, 0x118, 0x138, 0x1F8, 0x200, 0x3F8}
	for _, off := range holes {
		wr(t, h, off, 8, 0xFFFFFFFF_FFFFFFFF)
		if got := rd(t, h, off, 8); got != 0 {
			t.Errorf("hole %#x reads %#x after a write", off, got)
		}
	}
	if h.State() != before {
		t.Fatal("writes to the capabilities register or holes changed the state")
	}
}

// A main-counter write while the counter runs restarts every timer
// relative to the new value: a one-shot at comparator 1000 armed at
// counter 0, with the counter set to 900 at tick 100, fires 100 ticks
// later (tick 200), not at tick 1000.
// Rows: §6.2 row "0x0F0 write while enabled restarts timers";
func TestCounterWriteRestartsTimers(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(0), 8, 24<<9|TCnfIntEnb)
	wr(t, h, OffTimerComparator(0), 8, 1000)
	wr(t, h, OffConfig, 8, CnfEnable)
	c.AdvanceTo(100 * tick)
	wr(t, h, OffCounter, 4, 900)
	if d := h.State().Timers[0].Deadline; d != 200*tick {
		t.Fatalf("deadline %d, want %d", d, 200*tick)
	}
	c.AdvanceTo(200*tick - 1)
	eq(t, r.take(), nil)
	c.AdvanceTo(200 * tick)
	eq(t, r.take(), []string{"ioapic 24 pulse"})
}

// Reference §0: FREQ2BT(2^24) = 2^40, one tick exactly 256 sbt.
// Rows: §0 row "HPET tick 256 sbt (FREQ2BT frac 2^40)";
func TestTickConstant(t *testing.T) {
	frac, sbt := reftest.FREQ2BT(1 << 24)
	if frac != 1<<40 || vclock.SBT(sbt) != TickSBT || Freq != 1<<24 {
		t.Fatalf("frac %#x sbt %d, TickSBT %d", frac, sbt, TickSBT)
	}
}
