package boot

import (
	"errors"
	"fmt"

	"softvmm/emu/abi"
)

// RawMode is the CPU mode a raw binary is entered in.
type RawMode int

const (
	// RawLong enters in 64-bit mode with bhyveload's page tables and GDT
	// (0-1 GiB identity-mapped, reference/vmm-interface.md §14.1).
	RawLong RawMode = iota
	// RawProtected enters in flat 32-bit protected mode, paging off.
	RawProtected
	// RawReal enters in real mode at 0000:addr (a boot sector at 0x7C00)
	// or, for addr >= 64 KiB, at (addr>>4):(addr&0xF).
	RawReal
)

// ErrRaw is wrapped by LoadRaw's errors.
var ErrRaw = errors.New("raw binary cannot be placed")

// LoadRaw copies image to gpa and starts vCPU 0 at its first byte in mode.
// A flat 32-bit start gets a GDT (code 0x08, data 0x10) at 0x5000 and
// RSP = 0; a real-mode start has its segments 64 KiB at base CS*16 and SP =
// 0; a long-mode start has bhyveload's state with RSP = 0x1000. The loader's
// pages [0, 0x6000) are off limits for the image in the protected and long
// modes, where they hold the loader's tables.
func LoadRaw(t Target, image []byte, gpa uint64, memSize uint64, mode RawMode) (State, error) {
	mm := MemoryMap(memSize)
	n := uint64(len(image))
	if n == 0 {
		return State{}, fmt.Errorf("boot: %w: the image is empty", ErrRaw)
	}
	if gpa+n < gpa {
		return State{}, fmt.Errorf("boot: %w: %d bytes at %#x run past the end of the address space", ErrRaw, n, gpa)
	}
	// What the entry state can reach: bhyveload's page tables map
	// virtual = physical for the first 1 GiB only (and alias it every
	// 1 GiB above; reference/vmm-interface.md §14.1), flat 32-bit
	// segments end at 4 GiB.
	reach := uint64(0)
	switch mode {
	case RawLong:
		reach = 1 << 30
	case RawProtected:
		reach = 1 << 32
	}
	if reach != 0 && gpa+n > reach {
		return State{}, fmt.Errorf("boot: %w: [%#x, %#x) is beyond the %d GiB this mode's entry state reaches", ErrRaw, gpa, gpa+n, reach>>30)
	}
	ok := usable(mm, gpa, n)
	if ok && mode != RawReal && gpa < LoaderEnd {
		ok = false
	}
	if !ok {
		return State{}, fmt.Errorf("boot: %w: [%#x, %#x) is not in guest RAM clear of the loader's pages [0, 0x6000) and the legacy hole", ErrRaw, gpa, gpa+n)
	}
	if mode == RawReal && gpa+n > HighRAMBase {
		return State{}, fmt.Errorf("boot: %w: a real-mode image must lie below 1 MiB, not at [%#x, %#x)", ErrRaw, gpa, gpa+n)
	}
	if err := t.WriteGPA(gpa, image); err != nil {
		return State{}, fmt.Errorf("boot: writing the image at %#x: %w", gpa, err)
	}
	var st State
	switch mode {
	case RawLong:
		if err := writeBootPages(t, (gpa+n+0xfff)&^0xfff); err != nil {
			return State{}, err
		}
		if err := setRegisters(t, gpa); err != nil {
			return State{}, err
		}
		return State{Regs: []RegVal{{abi.VM_REG_GUEST_RIP, gpa}}}, nil
	case RawProtected:
		gdt := gdtBytes(0, gdtFlatCode32, gdtFlatData32)
		if err := t.WriteGPA(GDTGPA, gdt); err != nil {
			return State{}, fmt.Errorf("boot: writing the GDT: %w", err)
		}
		st = flat32State(GDTGPA, uint32(len(gdt)-1), 0x08, 0x10, gpa)
		st.Regs = append(st.Regs, RegVal{abi.VM_REG_GUEST_RSP, 0})
	case RawReal:
		cs, ip := uint64(0), gpa
		if gpa >= 0x10000 {
			cs, ip = gpa>>4, gpa&0xf
		}
		st = PowerOnState()
		for i := range st.Descs {
			if st.Descs[i].Reg == abi.VM_REG_GUEST_CS {
				st.Descs[i].Base = cs << 4
			}
		}
		for i := range st.Regs {
			switch st.Regs[i].Reg {
			case abi.VM_REG_GUEST_CS:
				st.Regs[i].Val = cs
			case abi.VM_REG_GUEST_RIP:
				st.Regs[i].Val = ip
			}
		}
	default:
		return State{}, fmt.Errorf("boot: unknown raw mode %d", mode)
	}
	if err := st.Apply(t, 0); err != nil {
		return State{}, err
	}
	return st, nil
}
