package userdev

import (
	"fmt"
	"sort"
)

// PortBus routes port I/O to the device whose window holds the port. The
// windows are kept in a slice sorted by base and searched by bisection, so
// dispatch order never depends on map iteration (the determinism contract in
// DESIGN.md) and a lookup costs O(log n) without allocating.
//
// The zero value is an empty bus, ready to use.
type PortBus struct {
	ranges []portRange // sorted by base, never overlapping
}

type portRange struct {
	base uint16
	end  uint32 // one past the last port
	dev  PortDevice
}

// Register puts dev behind ports [base, base+size). The window must be
// non-empty, lie inside the 64 Ki port space and overlap no registered
// window; like vm-device's bus (reference/style-and-ecosystem.md §A4), a
// clash is a configuration error, reported rather than resolved.
func (b *PortBus) Register(base, size uint16, dev PortDevice) error {
	if dev == nil {
		return fmt.Errorf("userdev: nil device for ports %#x+%d", base, size)
	}
	if size == 0 {
		return fmt.Errorf("userdev: empty port window at %#x", base)
	}
	end := uint32(base) + uint32(size)
	if end > 0x10000 {
		return fmt.Errorf("userdev: port window %#x+%#x runs past port 0xffff", base, size)
	}
	i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].base >= base })
	if i > 0 && b.ranges[i-1].end > uint32(base) {
		r := b.ranges[i-1]
		return fmt.Errorf("userdev: ports %#x-%#x overlap registered ports %#x-%#x",
			base, end-1, r.base, r.end-1)
	}
	if i < len(b.ranges) && uint32(b.ranges[i].base) < end {
		r := b.ranges[i]
		return fmt.Errorf("userdev: ports %#x-%#x overlap registered ports %#x-%#x",
			base, end-1, r.base, r.end-1)
	}
	b.ranges = append(b.ranges, portRange{})
	copy(b.ranges[i+1:], b.ranges[i:])
	b.ranges[i] = portRange{base: base, end: end, dev: dev}
	return nil
}

// Dispatch performs one IN (in = true; the result is returned) or OUT (val is
// written) of size bytes at port. handled is false when no window holds the
// whole access, or size is not 1, 2 or 4: the runner then does what bhyve
// does for an unclaimed port (an IN reads all ones, an OUT is dropped). An
// access that straddles two windows is not split: no device sees half of it.
func (b *PortBus) Dispatch(port uint16, size int, in bool, val uint32) (uint32, bool) {
	if size != 1 && size != 2 && size != 4 {
		return 0, false
	}
	// Bisect for the last window whose base is <= port.
	lo, hi := 0, len(b.ranges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.ranges[m].base <= port {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	r := &b.ranges[lo-1]
	if uint32(port)+uint32(size) > r.end {
		return 0, false
	}
	mask := sizeMask(size)
	off := port - r.base
	if in {
		return r.dev.In(off, size) & mask, true
	}
	r.dev.Out(off, size, val&mask)
	return 0, true
}
