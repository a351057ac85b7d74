package boot

import (
	"errors"
	"fmt"
)

// ROMTarget is a Target that can also map device memory, as bhyve maps
// its boot ROM: a devmem segment named "bootrom" (VM_ALLOC_MEMSEG) mapped
// read/execute just below 4 GiB (VM_MMAP_MEMSEG;
// reference/vmm-interface.md §6.6).
type ROMTarget interface {
	Target
	MapBootROM(rom []byte) error
}

// ROM sizes: a whole number of pages, at most 16 MiB (bhyve's bootrom
// limit), so it sits in [4 GiB - size, 4 GiB).
const (
	ROMMax      = 16 << 20
	romLowAlias = 128 << 10 // QEMU's isa-bios: the ROM's last 128 KiB below 1 MiB
)

// ErrROM is wrapped by LoadROM's errors.
var ErrROM = errors.New("bad ROM image")

// ROMInfo reports where a ROM went.
type ROMInfo struct {
	HighGPA uint64 // 4 GiB - size
	LowGPA  uint64 // where the copy below 1 MiB starts
	State   State
}

// LoadROM maps rom at 4 GiB - len(rom) through the device-memory path and
// copies its last 128 KiB (all of a smaller ROM) to the top of the first
// MiB, so [0xE0000 or 0xF0000, 0x100000) holds what the PC's BIOS area
// holds; that copy is RAM, so it behaves as shadowed BIOS does. vCPU 0
// gets vcpu_reset's power-on state (PowerOnState): it starts at the reset
// vector 0xFFFFFFF0, the ROM's last 16 bytes, in real mode.
func LoadROM(t ROMTarget, rom []byte) (*ROMInfo, error) {
	n := len(rom)
	if n == 0 || n%4096 != 0 || n > ROMMax {
		return nil, fmt.Errorf("boot: %w: %d bytes; a ROM is a whole number of 4 KiB pages up to 16 MiB (64, 128 or 256 KiB for a BIOS)", ErrROM, n)
	}
	if err := t.MapBootROM(rom); err != nil {
		return nil, fmt.Errorf("boot: mapping the ROM below 4 GiB: %w", err)
	}
	low := rom[n-min(n, romLowAlias):]
	lowGPA := uint64(HighRAMBase - len(low))
	if err := t.WriteGPA(lowGPA, low); err != nil {
		return nil, fmt.Errorf("boot: copying the ROM to %#x: %w", lowGPA, err)
	}
	st := PowerOnState()
	if err := st.Apply(t, 0); err != nil {
		return nil, err
	}
	return &ROMInfo{HighGPA: 1<<32 - uint64(n), LowGPA: lowGPA, State: st}, nil
}
