package cpu

import (
	"os"
	"strings"
	"testing"
)

// runCOM1 runs c until HLT, collecting bytes written to COM1 (0x3f8).
func runCOM1(t *testing.T, c *CPU) string {
	t.Helper()
	var out strings.Builder
	for {
		ex := c.Run(1_000_000)
		if ex.Reason == ExitHLT {
			return out.String()
		}
		if ex.Reason != ExitInOut || ex.Port != 0x3f8 || ex.In || ex.Bytes != 1 {
			t.Fatalf("unexpected exit %v at %#x (err %v, insn % x) after output %q", ex.Reason, ex.RIP, ex.Err, ex.Insn, out.String())
		}
		out.WriteByte(byte(ex.EAX))
	}
}

// TestModesGuest runs testdata/modes.bin (GNU as, testdata/Makefile) from
// real mode through 32-bit protected mode, PAE paging, long mode and
// compatibility mode; the guest checks its own results and faults
// (#GP with selector error codes, segment limits, #PF with CR2 and error
// code) and reports over COM1.
func TestModesGuest(t *testing.T) {
	verifyDecoded(t) // self-checking: what it ran counts for the ISA coverage report
	img, err := os.ReadFile("testdata/modes.bin")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newReal(t, img, 0x8000)
	got := runCOM1(t, c)
	want := "real ok\npm32 ok\npae ok\nlong ok\ncompat back64 done\n"
	if got != want {
		t.Fatalf("output %q, want %q (halted at %#x)", got, want, c.rip)
	}
}

// TestFormsGuest runs testdata/forms.bin: the move, stack and control
// forms of the one-byte map in 16-bit real mode and 32-bit protected
// mode, self-checked by the guest.
func TestFormsGuest(t *testing.T) {
	verifyDecoded(t)
	img, err := os.ReadFile("testdata/forms.bin")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newReal(t, img, 0x8000)
	if got, want := runCOM1(t, c), "16 ok\n32 ok\n64 ok\ndone\n"; got != want {
		t.Fatalf("output %q, want %q (halted at %#x)", got, want, c.rip)
	}
}
