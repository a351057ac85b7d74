package pit

import (
	"reflect"
	"testing"

	"softvmm/devices/internal/reftest"
	"softvmm/devices/vclock"
)

// reference lists every row of reference/vmm-devices.md §5 (and the PIT's
// rows of §1.2 and §12) with the test that checks it; each test carries
// its rows' tags. TestReferenceCoverage keeps the two in step.
var reference = []reftest.Row{
	{"0", "PIT tick 3599 sbt (FREQ2BT frac 0x0E0F9751AD54)", "TestTickConstant", ""},
	{"1.2", "0x40-0x42 1-byte only", "TestWidthAndPorts", ""},
	{"1.2", "0x43 write only, 1-byte", "TestWidthAndPorts", ""},
	{"1.2", "0x61 any size, reads only", "TestWidthAndPorts TestPort61", ""},
	{"5.1", "counters 0x40-0x42, command 0x43, 1-byte only", "TestWidthAndPorts", ""},
	{"5.1", "reading 0x43 is an error", "TestWidthAndPorts", ""},
	{"5.1", "channel 0 only interrupts", "TestOnlyChannel0Interrupts", ""},
	{"5.1", "channel 0 pulses 8259 IRQ 0 and IOAPIC pin 2", "", "the PIT raises one irq0 callback; emu/vmm/platform.go pulses 8259 IRQ 0 and IOAPIC pin 2 from it; emu/vmm TestTimerGuestsVirtual/pit_8259 and /pit_ioapic count both paths"},
	{"5.2", "read-back latches count if /COUNT and none latched", "TestReadBack", ""},
	{"5.2", "read-back latches status with OUT (mode 0 only)", "TestReadBack", ""},
	{"5.2", "access 01/10 error", "TestCommandErrors", ""},
	{"5.2", "modes other than 0, 2, 3, 4 binary error", "TestCommandErrors", ""},
	{"5.2", "latch command, ignored while a latch is unread", "TestCountLatch", ""},
	{"5.2", "program: mode stored, latch dropped, NULL COUNT set", "TestProgramCommand", ""},
	{"5.2", "program does not stop channel 0", "TestRearmAndModeChange", ""},
	{"5.3", "count bytes accumulate LSB then MSB", "TestCountWriteAndFreeRunningRead", ""},
	{"5.3", "byte index not reset by a mode command", "TestByteIndexSurvivesMode", ""},
	{"5.3", "second byte: NULL COUNT cleared, toggle reset, start now", "TestCountWriteAndFreeRunningRead", ""},
	{"5.3", "count 0 is 0xFFFF", "TestZeroCountFix", ""},
	{"5.3", "status read returns it and clears the whole byte", "TestReadBack TestProgramCommand", ""},
	{"5.3", "latched count read LSB then MSB", "TestCountLatch", ""},
	{"5.3", "free-running read alternates LSB/MSB", "TestCountWriteAndFreeRunningRead", ""},
	{"5.3", "status has only OUT and NULL COUNT", "TestProgramCommand", ""},
	{"5.3", "live count initial - (elapsed mod initial)", "TestCountWriteAndFreeRunningRead", ""},
	{"5.3", "never programmed: 11932 from now, NULL COUNT cleared", "TestNeverProgrammed TestReadBack", ""},
	{"5.3", "elapsed ticks (B: /3599)", "TestCountWriteAndFreeRunningRead TestRate", ""},
	{"5.4", "OUT for mode 0 only", "TestPort61 TestReadBack", ""},
	{"5.4", "port 0x61 reads 0x20 iff channel 2 OUT, other bits 0", "TestPort61", ""},
	{"5.4", "port 0x61 writes ignored, gate not modelled", "TestPort61", ""},
	{"5.5", "target = expected + initial ticks", "TestMode2Timing", ""},
	{"5.5", "target in the past: now + initial (missed periods dropped)", "TestMissedPeriodsDropped", ""},
	{"5.5", "mode 2 periodic", "TestMode2Timing TestMode2JumpIsPunctual", ""},
	{"5.5", "modes 0, 3, 4 single interrupt", "TestOneShotModes", ""},
	{"5.5", "re-programming does not stop the callout; count write re-arms", "TestRearmAndModeChange", ""},
	{"12.1", "PIT zero count (fixed as L)", "TestZeroCountFix", ""},
	{"12.2", "PIT rate error (B, reproduced)", "TestRate", ""},
	{"12.3", "count 0 = 0xFFFF; mode 3 one IRQ; status lacks mode bits", "TestZeroCountFix TestOneShotModes TestProgramCommand", ""},
	{"12.3", "BCD, LSB/MSB-only, modes 1 and 5 EIO", "TestCommandErrors", ""},
	{"12.21", "count-write byte index survives a mode command", "TestByteIndexSurvivesMode", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// Channels 1 and 2 count but never interrupt: vatpit has a callout for
// channel 0 only.
// Rows: §5.1 row "channel 0 only interrupts";
func TestOnlyChannel0Interrupts(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x74) // counter 1, mode 2
	r.count(1, 100)
	r.out(0x43, 0xB4) // counter 2, mode 2
	r.count(2, 100)
	if _, ok := r.clk.Next(); ok {
		t.Fatal("a channel 1/2 count armed a timer")
	}
	r.runTo(3599 * 100 * 10)
	if r.irqs != nil {
		t.Fatalf("channel 1/2 interrupted at %v", r.irqs)
	}
	if got := r.read16(2); got != 100 { // still counting: 1000 ticks, wrapped to 100
		t.Fatalf("channel 2 reads %d", got)
	}
}

// A channel-0 expiry that runs a period or more late (possible in realtime
// mode, or for a restored snapshot) re-arms one count from now: the missed
// periods give no interrupts. Here the state is restored 5.5 periods after
// its target.
// Rows: §5.5 row "target in the past: now + initial (missed periods dropped)";
func TestMissedPeriodsDropped(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34) // mode 2
	r.count(0, 1000)  // target 3,599,000
	st := r.p.State()
	r.p.Close()
	now := vclock.SBT(3599000*5 + 3599000/2)
	r.clk.AdvanceTo(now)
	q := New(r.clk, func() { r.irqs = append(r.irqs, r.clk.Now()) })
	if err := q.SetState(st); err != nil {
		t.Fatal(err)
	}
	r.clk.Poll()
	if want := []vclock.SBT{now}; !reflect.DeepEqual(r.irqs, want) {
		t.Fatalf("interrupts %v, want one at %d", r.irqs, now)
	}
	if next, _ := r.clk.Next(); next != now+3599000 {
		t.Fatalf("next target %d, want %d (now + one count)", next, now+3599000)
	}
}

// Reference §0: FREQ2BT(1193182) = 0x0E0F9751AD54, one tick 3599 sbt.
// Rows: §0 row "PIT tick 3599 sbt (FREQ2BT frac 0x0E0F9751AD54)";
func TestTickConstant(t *testing.T) {
	frac, sbt := reftest.FREQ2BT(1193182)
	if frac != 0x0E0F9751AD54 || vclock.SBT(sbt) != TickSBT || Freq != 1193182 {
		t.Fatalf("frac %#x sbt %d, TickSBT %d", frac, sbt, TickSBT)
	}
}
