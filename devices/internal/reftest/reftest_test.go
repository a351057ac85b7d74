package reftest

import (
	"reflect"
	"testing"
)

func TestProblems(t *testing.T) {
	rows := []Row{
		{"1.1", "alpha", "TestA", ""},
		{"1.1", "beta", "TestA TestB", ""}, // TestB lacks the tag
		{"1.2", "gamma", "TestB", ""},      // tag inside the body counts
		{"1.2", "delta", "TestMissing", ""},
		{"1.3", "wired elsewhere", "", "emu/vmm"},
		{"1.4", "no reason", "", ""},
		{"1.1", "alpha", "TestA", ""},
	}
	got, covered, err := Problems("testdata/pkg", rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`§1.1 row "beta": test TestB does not carry the tag (or does not exist)`,
		`§1.2 row "delta": test TestMissing does not carry the tag (or does not exist)`,
		`§1.4 row "no reason": no test and no note saying why`,
		`§1.1 row "alpha" listed twice`,
		`§9.9 row "stray" appears in a test but not in the coverage table`,
	}
	if !reflect.DeepEqual(got, want) || covered != 5 {
		t.Fatalf("Problems = %q, %d covered\nwant %q, 5", got, covered, want)
	}
}

func TestFREQ2BT(t *testing.T) {
	// reference/vmm-devices.md §0 tick table, literal values.
	for _, c := range []struct {
		hz   uint64
		frac uint64
		sbt  int64
	}{{1 << 27, 1 << 37, 32}, {1 << 24, 1 << 40, 256}, {1193182, 0x0E0F9751AD54, 3599}, {3579545, 0x04AFDD313180, 1199}} {
		if frac, sbt := FREQ2BT(c.hz); frac != c.frac || sbt != c.sbt {
			t.Errorf("FREQ2BT(%d) = %#x, %d; want %#x, %d", c.hz, frac, sbt, c.frac, c.sbt)
		}
	}
}
