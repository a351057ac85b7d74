package userdev

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// spy records the last access it saw.
type spy struct {
	name    string
	off     uint16
	size    int
	val     uint32
	ins     int
	outs    int
	inValue uint32
}

func (s *spy) In(off uint16, size int) uint32 {
	s.ins++
	s.off, s.size = off, size
	return s.inValue
}

func (s *spy) Out(off uint16, size int, v uint32) {
	s.outs++
	s.off, s.size, s.val = off, size, v
}

func TestPortBusRegisterOverlap(t *testing.T) {
	var b PortBus
	if err := b.Register(0x3f8, 8, &spy{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		base, size uint16
	}{
		{0x3f8, 8},  // same window
		{0x3f0, 9},  // ends on the first port
		{0x3ff, 1},  // the last port
		{0x3fa, 2},  // inside
		{0x3f0, 16}, // around
		{0x3fc, 8},  // runs over the end
	} {
		err := b.Register(tc.base, tc.size, &spy{})
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("Register(%#x, %d) over 0x3f8-0x3ff: err = %v, want an overlap error", tc.base, tc.size, err)
		}
	}
	// Neighbours on both sides are fine.
	if err := b.Register(0x3f0, 8, &spy{}); err != nil {
		t.Errorf("Register(0x3f0, 8) next to 0x3f8: %v", err)
	}
	if err := b.Register(0x400, 1, &spy{}); err != nil {
		t.Errorf("Register(0x400, 1) next to 0x3ff: %v", err)
	}
	for _, tc := range []struct {
		base, size uint16
		dev        PortDevice
		want       string
	}{
		{0x10, 0, &spy{}, "empty"},
		{0xfffc, 8, &spy{}, "past port 0xffff"},
		{0x20, 1, nil, "nil device"},
	} {
		err := b.Register(tc.base, tc.size, tc.dev)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(%#x, %d): err = %v, want one mentioning %q", tc.base, tc.size, err, tc.want)
		}
	}
	if err := b.Register(0xfff8, 8, &spy{}); err != nil {
		t.Errorf("Register(0xfff8, 8), the top of the port space: %v", err)
	}
}

func TestPortBusDispatch(t *testing.T) {
	var b PortBus
	com1, exit := &spy{inValue: 0x12345678}, &spy{inValue: 0xffffffff}
	if err := b.Register(0x3f8, 8, com1); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(0xf4, 4, exit); err != nil {
		t.Fatal(err)
	}

	if v, ok := b.Dispatch(0x3fd, 1, true, 0); !ok || v != 0x78 || com1.off != 5 || com1.size != 1 {
		t.Errorf("IN 0x3fd: v=%#x ok=%v off=%d size=%d; want 0x78 true 5 1", v, ok, com1.off, com1.size)
	}
	if v, ok := b.Dispatch(0x3fa, 2, true, 0); !ok || v != 0x5678 || com1.off != 2 {
		t.Errorf("16-bit IN 0x3fa: v=%#x ok=%v off=%d; want 0x5678 true 2", v, ok, com1.off)
	}
	if _, ok := b.Dispatch(0x3f8, 1, false, 0xabcd41); !ok || com1.val != 0x41 || com1.off != 0 {
		t.Errorf("8-bit OUT 0x3f8: ok=%v val=%#x off=%d; want true 0x41 0 (value masked to the size)", ok, com1.val, com1.off)
	}
	if _, ok := b.Dispatch(0xf4, 4, false, 0x10); !ok || exit.val != 0x10 || exit.size != 4 {
		t.Errorf("32-bit OUT 0xf4: ok=%v val=%#x size=%d", ok, exit.val, exit.size)
	}

	before := *com1
	for _, tc := range []struct {
		port uint16
		size int
		why  string
	}{
		{0x3f7, 1, "below the window"},
		{0x400, 1, "above the window"},
		{0x3fe, 4, "straddles the end of the window"},
		{0x3f7, 2, "straddles the start of the window"},
		{0xf6, 4, "straddles the end of the exit window"},
		{0x3f8, 3, "size 3"},
		{0x3f8, 0, "size 0"},
		{0x3f8, 8, "size 8"},
		{0, 1, "port 0, empty bus below"},
		{0xffff, 1, "port 0xffff"},
	} {
		if _, ok := b.Dispatch(tc.port, tc.size, true, 0); ok {
			t.Errorf("IN %#x size %d (%s) handled, want not handled", tc.port, tc.size, tc.why)
		}
		if _, ok := b.Dispatch(tc.port, tc.size, false, 0); ok {
			t.Errorf("OUT %#x size %d (%s) handled, want not handled", tc.port, tc.size, tc.why)
		}
	}
	if com1.ins != before.ins || com1.outs != before.outs {
		t.Errorf("an unhandled access reached the device")
	}

	var empty PortBus
	if _, ok := empty.Dispatch(0x3f8, 1, true, 0); ok {
		t.Errorf("empty bus handled an access")
	}
}

// Windows registered in any order must route like a linear scan over them.
func TestPortBusMatchesLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b PortBus
	type win struct {
		base, size uint16
		dev        *spy
	}
	var wins []win
	for len(wins) < 200 {
		base := uint16(r.IntN(0x10000 - 64))
		size := uint16(1 + r.IntN(16))
		d := &spy{}
		if b.Register(base, size, d) == nil {
			wins = append(wins, win{base, size, d})
		}
	}
	for i := 0; i < 20000; i++ {
		port := uint16(r.IntN(0x10000))
		size := []int{1, 2, 4}[r.IntN(3)]
		var want *spy
		var wantOff uint16
		for _, w := range wins {
			if int(port) >= int(w.base) && int(port)+size <= int(w.base)+int(w.size) {
				want, wantOff = w.dev, port-w.base
			}
		}
		for _, w := range wins {
			w.dev.outs = 0
		}
		_, ok := b.Dispatch(port, size, false, 1)
		if ok != (want != nil) {
			t.Fatalf("port %#x size %d: handled=%v, linear scan says %v", port, size, ok, want != nil)
		}
		if want != nil && (want.outs != 1 || want.off != wantOff) {
			t.Fatalf("port %#x size %d: reached the wrong device or offset", port, size)
		}
	}
}
