package userdev

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Register offsets and values in these tests are written out as numbers from
// the PC16550D datasheet ("Register Summary", "UART Reset Configuration",
// "Interrupt Control Functions" tables), not taken from the package's
// constants, so a wrong constant fails here.

func inb(u *UART, off uint16) uint8     { return uint8(u.In(off, 1)) }
func outb(u *UART, off uint16, v uint8) { u.Out(off, 1, uint32(v)) }

func TestUARTResetValues(t *testing.T) {
	u := NewUART(nil)
	for _, tc := range []struct {
		name string
		off  uint16
		want uint8
	}{
		{"RBR (nothing received)", 0, 0x00},
		{"IER", 1, 0x00},
		{"IIR (no interrupt pending)", 2, 0x01},
		{"LCR", 3, 0x00},
		{"MCR", 4, 0x00},
		{"LSR (THRE|TEMT)", 5, 0x60},
		{"MSR (DCD|DSR asserted, as bhyve)", 6, 0xa0},
		{"SCR", 7, 0x00},
	} {
		if got := inb(u, tc.off); got != tc.want {
			t.Errorf("%s (offset %d) after reset = %#02x, want %#02x", tc.name, tc.off, got, tc.want)
		}
	}
	outb(u, 3, 0x80) // DLAB
	if got := inb(u, 0); got != 0x01 {
		t.Errorf("DLL after reset = %#x, want 0x01 (divisor 1: 115200 baud, bhyve's default)", got)
	}
	if got := inb(u, 1); got != 0x00 {
		t.Errorf("DLM after reset = %#x, want 0", got)
	}
}

func TestUARTDLABSwitching(t *testing.T) {
	var out bytes.Buffer
	u := NewUART(&out)
	outb(u, 1, 0x05) // IER = ERBFI|ELSI
	outb(u, 3, 0x80) // LCR.DLAB = 1
	outb(u, 0, 0x0c) // DLL: 9600 baud
	outb(u, 1, 0x00) // DLM
	if got := inb(u, 0); got != 0x0c {
		t.Errorf("DLL = %#x, want 0x0c", got)
	}
	if got := inb(u, 1); got != 0x00 {
		t.Errorf("DLM = %#x, want 0", got)
	}
	if got := inb(u, 3); got != 0x80 {
		t.Errorf("LCR = %#x, want 0x80", got)
	}
	// Offsets 2-7 are not affected by DLAB.
	outb(u, 7, 0x5a)
	if got := inb(u, 7); got != 0x5a {
		t.Errorf("SCR with DLAB = %#x, want 0x5a", got)
	}
	if got := inb(u, 5); got != 0x60 {
		t.Errorf("LSR with DLAB = %#x, want 0x60", got)
	}
	if out.Len() != 0 {
		t.Errorf("a divisor write reached the line: %q", out.Bytes())
	}

	outb(u, 3, 0x03) // 8N1, DLAB = 0
	if got := inb(u, 1); got != 0x05 {
		t.Errorf("IER after DLAB cleared = %#x, want 0x05 (the DLM write must not touch it)", got)
	}
	outb(u, 0, 'x')
	if got := out.String(); got != "x" {
		t.Errorf("THR write after DLAB cleared sent %q, want \"x\"", got)
	}
	outb(u, 3, 0x83)
	if got := inb(u, 0); got != 0x0c {
		t.Errorf("DLL after THR write = %#x, want 0x0c (THR and DLL are distinct)", got)
	}
}

func TestUARTTransmitInOrder(t *testing.T) {
	var out bytes.Buffer
	u := NewUART(&out)
	msg := "softvmm: serial\r\n\x00\xff bytes pass through unchanged\n"
	for i := 0; i < len(msg); i++ {
		if inb(u, 5)&0x20 == 0 {
			t.Fatalf("LSR.THRE clear before byte %d", i)
		}
		outb(u, 0, msg[i])
	}
	if got := out.String(); got != msg {
		t.Errorf("transmitted %q, want %q", got, msg)
	}
}

func TestUARTWritableBits(t *testing.T) {
	u := NewUART(nil)
	outb(u, 1, 0xff)
	if got := inb(u, 1); got != 0x0f {
		t.Errorf("IER after writing 0xff = %#x, want 0x0f (bits 4-7 always 0)", got)
	}
	outb(u, 4, 0xff&^0x10) // all but loopback
	if got := inb(u, 4); got != 0x0f {
		t.Errorf("MCR after writing 0xef = %#x, want 0x0f (bits 5-7 always 0)", got)
	}
	outb(u, 3, 0x7f)
	if got := inb(u, 3); got != 0x7f {
		t.Errorf("LCR = %#x, want 0x7f", got)
	}
	outb(u, 5, 0x00) // LSR writes are factory test only
	if got := inb(u, 5); got != 0x60 {
		t.Errorf("LSR after a write = %#x, want 0x60", got)
	}
}

func TestUARTTHREInterruptIdentification(t *testing.T) {
	u := NewUART(nil)
	if got := inb(u, 2); got != 0x01 {
		t.Fatalf("IIR with IER = 0: %#x, want 0x01", got)
	}
	outb(u, 1, 0x02) // enable ETBEI with THR empty: THRE becomes pending
	if got := inb(u, 2); got != 0x02 {
		t.Errorf("IIR after enabling ETBEI = %#x, want 0x02 (THRE)", got)
	}
	if got := inb(u, 2); got != 0x01 {
		t.Errorf("IIR read again = %#x, want 0x01 (reading IIR acknowledges THRE)", got)
	}
	outb(u, 0, 'a')
	if got := inb(u, 2); got != 0x02 {
		t.Errorf("IIR after THR write = %#x, want 0x02", got)
	}
}

func TestUARTReceive(t *testing.T) {
	u := NewUART(nil)
	if got := inb(u, 5); got&0x01 != 0 {
		t.Fatalf("LSR.DR set with no input: %#x", got)
	}
	u.Receive([]byte("ok"))
	outb(u, 1, 0x01) // ERBFI
	if got := inb(u, 2); got != 0x04 {
		t.Errorf("IIR with data and ERBFI = %#x, want 0x04", got)
	}
	for _, want := range []byte("ok") {
		if got := inb(u, 5); got != 0x61 {
			t.Errorf("LSR with data = %#x, want 0x61", got)
		}
		if got := inb(u, 0); got != want {
			t.Errorf("RBR = %q, want %q", got, want)
		}
	}
	if got := inb(u, 5); got != 0x60 {
		t.Errorf("LSR after draining = %#x, want 0x60", got)
	}
	if got := inb(u, 2); got != 0x01 {
		t.Errorf("IIR after draining = %#x, want 0x01", got)
	}
}

// Linux's 8250 probe (autoconfig) puts the chip in loopback with MCR = 0x1a
// (LOOP|OUT2|RTS) and expects MSR[7:4] = 0x90 (DCD|CTS); the datasheet's MCR
// bit 4 description gives the same wiring.
func TestUARTLoopback(t *testing.T) {
	var out bytes.Buffer
	u := NewUART(&out)
	inb(u, 6) // clear deltas
	outb(u, 4, 0x1a)
	if got := inb(u, 6) & 0xf0; got != 0x90 {
		t.Errorf("MSR[7:4] in loopback with RTS|OUT2 = %#x, want 0x90", got)
	}
	outb(u, 4, 0x1f) // DTR|RTS|OUT1|OUT2|LOOP
	if got := inb(u, 6); got&0xf0 != 0xf0 {
		t.Errorf("MSR in loopback with all outputs = %#x, want 0xf_", got)
	}
	outb(u, 4, 0x10) // all outputs off: RI trailing edge sets TERI
	if got := inb(u, 6); got != 0x0f {
		t.Errorf("MSR after dropping all outputs = %#x, want 0x0f (CTS, DSR, DCD deltas, TERI)", got)
	}
	if got := inb(u, 6); got != 0x00 {
		t.Errorf("MSR read again = %#x, want 0 (deltas clear on read)", got)
	}

	u.Receive([]byte("ignored")) // line disconnected in loopback
	outb(u, 0, 'A')
	if out.Len() != 0 {
		t.Errorf("loopback transmit reached the line: %q", out.Bytes())
	}
	outb(u, 0, 'B') // RBR still full: overrun
	if got := inb(u, 5); got != 0x63 {
		t.Errorf("LSR after overrun = %#x, want 0x63 (DR|OE|THRE|TEMT)", got)
	}
	if got := inb(u, 5); got != 0x61 {
		t.Errorf("LSR read again = %#x, want 0x61 (OE clears on read)", got)
	}
	if got := inb(u, 0); got != 'B' {
		t.Errorf("RBR = %q, want 'B' (the overrun byte replaces the old one)", got)
	}
	outb(u, 4, 0x00)
	outb(u, 0, 'C')
	if got := out.String(); got != "C" {
		t.Errorf("after leaving loopback sent %q, want \"C\"", got)
	}
	if got := inb(u, 5); got != 0x60 {
		t.Errorf("LSR = %#x, want 0x60 (input sent during loopback was dropped)", got)
	}
}

func TestUARTWideAccess(t *testing.T) {
	var out bytes.Buffer
	u := NewUART(&out)
	u.Out(0, 2, 0x0f41) // THR = 'A', IER = 0x0f
	if out.String() != "A" || inb(u, 1) != 0x0f {
		t.Errorf("16-bit OUT at offset 0: sent %q, IER %#x; want \"A\", 0x0f", out.String(), inb(u, 1))
	}
	if got := u.In(5, 2); got != 0xa060 {
		t.Errorf("16-bit IN at offset 5 = %#x, want 0xa060 (LSR, MSR)", got)
	}
	if got := u.In(6, 4); got != 0xffff00a0 {
		t.Errorf("32-bit IN at offset 6 = %#x, want 0xffff00a0 (MSR, SCR, then nothing)", got)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return 0, errors.New("disk full")
}

func TestUARTWriterError(t *testing.T) {
	w := &failWriter{}
	u := NewUART(w)
	outb(u, 0, 'a')
	outb(u, 0, 'b')
	if u.Err() == nil || u.Err().Error() != "disk full" {
		t.Errorf("Err() = %v, want the writer's first error", u.Err())
	}
	if w.n != 2 {
		t.Errorf("writer saw %d bytes, want 2 (transmission goes on)", w.n)
	}
	if got := inb(u, 5); got != 0x60 {
		t.Errorf("LSR = %#x, want 0x60", got)
	}
}

func TestUARTStateRoundTrip(t *testing.T) {
	u := NewUART(nil)
	outb(u, 3, 0x80)
	outb(u, 0, 0x30)
	outb(u, 3, 0x1b)
	outb(u, 1, 0x03)
	outb(u, 7, 0x42)
	u.Receive([]byte("xyz"))
	s := u.State()
	v := NewUART(nil)
	v.SetState(s)
	if d := cmp.Diff(s, v.State()); d != "" {
		t.Errorf("State after SetState differs (-want +got):\n%s", d)
	}
	for off := uint16(0); off < 8; off++ {
		if a, b := inb(u, off), inb(v, off); a != b {
			t.Errorf("offset %d: original reads %#x, restored %#x", off, a, b)
		}
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func TestUARTNoAllocs(t *testing.T) {
	var b PortBus
	w := &countWriter{}
	if err := b.Register(0x3f8, 8, NewUART(w)); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		b.Dispatch(0x3fd, 1, true, 0)
		b.Dispatch(0x3f8, 1, false, 'x')
	})
	if allocs != 0 {
		t.Errorf("poll+transmit allocates %v times per byte, want 0", allocs)
	}
}
