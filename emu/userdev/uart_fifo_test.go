package userdev

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// FIFO and interrupt-output behaviour, values from the PC16550D datasheet
// (FCR, IIR and LSR descriptions; "Interrupt Control Functions" table).

func TestUARTFIFOIdentification(t *testing.T) {
	u := NewUART(nil)
	outb(u, 2, 0x01) // FCR: FIFO enable, trigger 1
	if got := inb(u, 2); got != 0xc1 {
		t.Errorf("IIR with FIFOs on, nothing pending = %#x, want 0xc1 (bits 6-7 set: a 16550A)", got)
	}
	outb(u, 2, 0x00)
	if got := inb(u, 2); got != 0x01 {
		t.Errorf("IIR with FIFOs off = %#x, want 0x01", got)
	}
	outb(u, 2, 0xc6) // other bits without bit 0: not programmed
	if got := inb(u, 2); got != 0x01 {
		t.Errorf("IIR after FCR=0xc6 (enable clear) = %#x, want 0x01", got)
	}
}

func TestUARTFIFOTriggerAndTimeout(t *testing.T) {
	for _, tc := range []struct {
		fcr     uint8
		trigger int
	}{{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}} {
		u := NewUART(nil)
		outb(u, 2, tc.fcr)
		outb(u, 1, 0x01) // ERBFI
		for n := 1; n <= 16; n++ {
			u.Receive([]byte{byte('a' + n)})
			want := uint8(0xcc) // character timeout
			if n >= tc.trigger {
				want = 0xc4 // received data available
			}
			if got := inb(u, 2); got != want {
				t.Errorf("FCR %#x with %d bytes: IIR = %#x, want %#x", tc.fcr, n, got, want)
			}
			if !u.IRQ() {
				t.Errorf("FCR %#x with %d bytes: interrupt output low", tc.fcr, n)
			}
		}
		u.Receive([]byte("overflow")) // waits on the line, no overrun
		for n := 0; n < 16+8; n++ {
			if inb(u, 5)&0x01 == 0 {
				t.Fatalf("FCR %#x: LSR.DR clear after %d of 24 bytes", tc.fcr, n)
			}
			inb(u, 0)
		}
		if got := inb(u, 5); got != 0x60 {
			t.Errorf("FCR %#x: LSR after draining = %#x, want 0x60 (no overrun from host input)", tc.fcr, got)
		}
		if u.IRQ() || inb(u, 2) != 0xc1 {
			t.Errorf("FCR %#x: interrupt still pending after draining", tc.fcr)
		}
	}
}

func TestUARTFIFOOrderAndClear(t *testing.T) {
	u := NewUART(nil)
	outb(u, 2, 0x07) // enable, clear both
	msg := "0123456789abcdefXYZ"
	u.Receive([]byte(msg))
	var got []byte
	for i := 0; i < 5; i++ {
		got = append(got, inb(u, 0))
	}
	if string(got) != msg[:5] {
		t.Errorf("first bytes %q, want %q", got, msg[:5])
	}
	outb(u, 2, 0x03) // clear the receiver FIFO: 16 bytes in it are lost
	for inb(u, 5)&0x01 != 0 {
		got = append(got, inb(u, 0))
	}
	// After the clear, the FIFO refills from the line: the 16 bytes that
	// were in it (5..20) are gone, leaving none of msg to read since msg
	// had 19 bytes and 5+16 > 19.
	if string(got) != msg[:5] {
		t.Errorf("after clearing the receiver read %q, want only %q", got, msg[:5])
	}

	u.Receive([]byte("pq"))
	outb(u, 2, 0x00) // disabling the FIFO clears it too
	if got := inb(u, 5); got != 0x60 {
		t.Errorf("LSR after FIFO disable = %#x, want 0x60", got)
	}
}

func TestUARTFIFOLoopbackOverrun(t *testing.T) {
	var out bytes.Buffer
	u := NewUART(&out)
	outb(u, 2, 0x01)
	outb(u, 4, 0x10) // loopback
	for i := 0; i < 17; i++ {
		outb(u, 0, byte('A'+i))
	}
	if out.Len() != 0 {
		t.Fatalf("loopback reached the line: %q", out.Bytes())
	}
	if got := inb(u, 5); got != 0x63 {
		t.Errorf("LSR after 17 loopback bytes = %#x, want 0x63 (DR|OE|THRE|TEMT)", got)
	}
	var got []byte
	for inb(u, 5)&0x01 != 0 {
		got = append(got, inb(u, 0))
	}
	if want := "ABCDEFGHIJKLMNOP"; string(got) != want {
		t.Errorf("FIFO after overrun = %q, want %q (the 17th byte is lost, the FIFO kept)", got, want)
	}
}

func TestUARTInterruptLine(t *testing.T) {
	u := NewUART(nil)
	var edges []bool
	u.SetIRQ(func(l bool) { edges = append(edges, l) })
	if len(edges) != 1 || edges[0] {
		t.Fatalf("SetIRQ reported %v, want [false] (the reset level)", edges)
	}
	outb(u, 1, 0x02) // ETBEI: THRE pending at once
	inb(u, 2)        // acknowledges THRE
	outb(u, 0, 'x')  // THR empties again
	outb(u, 1, 0x00)
	outb(u, 1, 0x08) // EDSSI with no delta: nothing
	outb(u, 4, 0x10) // loopback: DSR/DCD drop → deltas
	inb(u, 6)        // reading MSR clears them
	want := []bool{false, true, false, true, false, true, false}
	if !slices.Equal(edges, want) {
		t.Errorf("interrupt output went %v, want %v", edges, want)
	}
	// Line status outranks received data.
	outb(u, 4, 0x00)
	inb(u, 6)
	outb(u, 1, 0x05)
	outb(u, 4, 0x10)
	outb(u, 0, 1)
	outb(u, 0, 2) // overrun in 16450 mode
	if got := inb(u, 2); got != 0x06 {
		t.Errorf("IIR with overrun and data = %#x, want 0x06 (line status first)", got)
	}
	inb(u, 5) // clears OE
	if got := inb(u, 2); got != 0x04 {
		t.Errorf("IIR after LSR read = %#x, want 0x04", got)
	}
}

func TestUARTInputReader(t *testing.T) {
	u := NewUART(nil)
	outb(u, 2, 0x01)
	msg := strings.Repeat("the quick brown fox ", 5)
	u.SetInput(strings.NewReader(msg))
	var got []byte
	for inb(u, 5)&0x01 != 0 {
		got = append(got, inb(u, 0))
	}
	if string(got) != msg {
		t.Errorf("read %q, want %q", got, msg)
	}
	if inb(u, 5) != 0x60 {
		t.Error("data ready after EOF")
	}
}

func TestUARTAsyncReader(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewAsyncReader(pr)
	var b [8]byte
	if n, err := r.Read(b[:]); n != 0 || err != nil {
		t.Fatalf("Read with nothing typed = %d, %v; want 0, nil (never blocks)", n, err)
	}
	go func() { pw.Write([]byte("hi")); pw.Close() }()
	u := NewUART(nil)
	u.SetInput(r)
	var got []byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		if inb(u, 5)&0x01 != 0 {
			got = append(got, inb(u, 0))
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	if string(got) != "hi" {
		t.Errorf("got %q, want \"hi\"", got)
	}
}
