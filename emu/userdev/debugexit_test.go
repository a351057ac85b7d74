package userdev

import "testing"

// QEMU's isa-debug-exit (hw/misc/debugexit.c): exit((val << 1) | 1) for a
// write of any width 1-4 at any offset of its window.
func TestDebugExitStatus(t *testing.T) {
	for _, tc := range []struct {
		off    uint16
		size   int
		v      uint32
		status uint64
		exit   int // what the parent sees after the OS keeps 8 bits
	}{
		{0, 4, 0x10, 33, 33},
		{0, 1, 0x10, 33, 33},
		{0, 2, 0x10, 33, 33},
		{0, 4, 0, 1, 1},
		{0, 1, 0x7f, 0xff, 255},
		{0, 4, 0x80, 0x101, 1},
		{0, 4, 0x100, 0x201, 1},
		{0, 4, 0xffffffff, 0x1ffffffff, 255},
		{0, 1, 0xabcd12, 0x25, 37}, // an 8-bit OUT carries only AL
		{3, 1, 0x10, 33, 33},       // any port of the window
	} {
		var notified []uint64
		d := NewDebugExit(func(s uint64) { notified = append(notified, s) })
		if _, ok := d.Status(); ok {
			t.Fatal("Status reports a request before any write")
		}
		d.Out(tc.off, tc.size, tc.v)
		s, ok := d.Status()
		if !ok || s != tc.status {
			t.Errorf("OUT%d %#x at offset %d: Status = %#x, %v; want %#x, true", tc.size*8, tc.v, tc.off, s, ok, tc.status)
		}
		if int(s&0xff) != tc.exit {
			t.Errorf("OUT%d %#x: exit status mod 256 = %d, want %d", tc.size*8, tc.v, s&0xff, tc.exit)
		}
		if len(notified) != 1 || notified[0] != tc.status {
			t.Errorf("notify calls %v, want [%#x]", notified, tc.status)
		}
		d.Out(0, 4, 5)
		if s2, _ := d.Status(); s2 != tc.status || len(notified) != 1 {
			t.Errorf("a second write changed the request to %#x (%d notifications)", s2, len(notified))
		}
	}
}

func TestDebugExitOnBus(t *testing.T) {
	var b PortBus
	d := NewDebugExit(nil)
	if err := b.Register(DebugExitBase, DebugExitSize, d); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 2, 4} {
		v, ok := b.Dispatch(0xf4, size, true, 0)
		if want := uint32(1)<<(8*size) - 1; !ok || v != want {
			t.Errorf("IN%d 0xf4 = %#x, %v; want %#x (all ones)", size*8, v, ok, want)
		}
	}
	if _, ok := d.Status(); ok {
		t.Error("a read requested an exit")
	}
	if _, ok := b.Dispatch(0xf4, 4, false, 0x10); !ok {
		t.Fatal("OUT 0xf4 not handled")
	}
	if s, ok := d.Status(); !ok || s != 33 {
		t.Errorf("after OUT 0xf4 <- 0x10: Status = %d, %v; want 33, true", s, ok)
	}
}
