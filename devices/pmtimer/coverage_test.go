package pmtimer

import (
	"testing"

	"softvmm/devices/internal/reftest"
	"softvmm/devices/vclock"
)

// reference lists every row of reference/vmm-devices.md §8 (and the PM
// timer's rows of §1.1, §1.2 and §12) with the test that checks it; the
// test carries the row's tag. TestReferenceCoverage keeps the two in step.
var reference = []reftest.Row{
	{"0", "PM timer tick 1199 sbt (FREQ2BT frac 0x04AFDD313180)", "TestTickConstant", ""},
	{"1.2", "0x408 4-byte IN only", "TestAccessErrors", ""},
	{"8", "port 0x408", "TestAccessErrors", ""},
	{"8", "32-bit free-running", "TestCountAtInstants TestWrap", ""},
	{"8", "no interrupts/SCI", "", "the PMTimer has no interrupt line at all: New takes only a clock"},
	{"8", "only a 4-byte IN; writes or other widths EIO", "TestAccessErrors", ""},
	{"8", "value (now - creation)/1199", "TestCountAtInstants", ""},
	{"8", "base 0", "TestCountAtInstants", ""},
	{"8", "wraps at 2^32", "TestWrap", ""},
	{"1.1", "PM timer restarts at 0 on VM reset", "TestCountAtInstants", ""},
	{"12.4", "PM timer 0.072% fast", "TestCountAtInstants", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// Reference §0: FREQ2BT(3579545) = 0x04AFDD313180, one tick 1199 sbt.
// Rows: §0 row "PM timer tick 1199 sbt (FREQ2BT frac 0x04AFDD313180)";
func TestTickConstant(t *testing.T) {
	frac, sbt := reftest.FREQ2BT(3579545)
	if frac != 0x04AFDD313180 || vclock.SBT(sbt) != TickSBT {
		t.Fatalf("frac %#x sbt %d, TickSBT %d", frac, sbt, TickSBT)
	}
}
