package cpu

import (
	"os"
	"strings"
	"testing"
)

// TestFPGuest runs testdata/fpguest.c built for the guest at -O2 with SSE
// enabled (fpguest.bin: baseline x86-64; fpguest41.bin: with SSSE3,
// SSE4.1 and POPCNT) and compares its COM1 output with what the same C
// printed when built for and run on the host (fpguest.expected, made by
// testdata/Makefile).
func TestFPGuest(t *testing.T) {
	verifyDecoded(t) // output compared with the host build: what it ran counts for the ISA coverage report
	want, err := os.ReadFile("testdata/fpguest.expected")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fpguest.bin", "fpguest41.bin"} {
		t.Run(name, func(t *testing.T) {
			img, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := newGuest(t, img)
			var out strings.Builder
			for {
				ex := c.Run(10_000_000)
				if ex.Reason == ExitHLT {
					break
				}
				if ex.Reason != ExitInOut || ex.Port != 0x3f8 || ex.In || ex.Bytes != 1 {
					t.Fatalf("unexpected exit %+v (err %v) after output %q", ex, ex.Err, out.String())
				}
				out.WriteByte(byte(ex.EAX))
			}
			if got := out.String(); got != string(want) {
				t.Errorf("output:\n%s\nwant (host build):\n%s", got, want)
			}
			t.Logf("%d instructions", c.Retired())
		})
	}
}

// BenchmarkFPGuest runs fpguest.bin (SSE2 doubles and vectorised loops,
// x87 long doubles) and reports MIPS.
func BenchmarkFPGuest(b *testing.B) { benchGuestImage(b, "testdata/fpguest.bin") }
