package vclock

import (
	"testing"

	"softvmm/devices/internal/reftest"
)

// reference lists the clock's rows of reference/vmm-devices.md §0 (kernel
// time helpers) and §10 (where real time enters) with the test that checks
// each; the per-device §10 rows (LAPIC, PIT, HPET, RTC, PM timer timing)
// are rows of those devices' own sections and are covered in their
// packages. TestReferenceCoverage keeps the table and the tags in step.
var reference = []reftest.Row{
	{"0", "SBT_1S = 2^32", "TestConversions", ""},
	{"10", "device time from the VM clock, not the host's", "TestOrderAndRearm", ""},
	{"10", "realtime mode follows the host monotonic clock", "TestRealtimeMoves", ""},
	{"10", "absolute callouts fire at their deadline", "TestOrderAndRearm", ""},
	{"10", "stale expirations ignored (re-armed or stopped)", "TestOrderAndRearm", ""},
	{"10", "HLT sleep, rendezvous, vcpu-state waits", "", "vCPU scheduling lives in emu/vmm; halted vCPUs jump to Clock.Next there"},
	{"10", "VM_STATS getmicrotime", "", "statistics only, not guest-visible; emu/vmm"},
	{"10", "guest TSC", "", "not a device; emu/cpu reads the VM clock"},
	{"10", "RTC initial value from the emulator's config", "", "devices/rtc New takes the initial seconds (TestPowerOn there)"},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }
