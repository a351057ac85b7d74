package boot

import (
	"encoding/binary"
	"fmt"

	"softvmm/emu/abi"
)

// RegVal and DescVal are one register or segment-descriptor setting; a
// loader's initial CPU state is a list of them, applied in order through
// the Target (vm_set_register / vm_set_desc), so tests can read the state a
// loader chose without running anything.
type RegVal struct {
	Reg int32
	Val uint64
}

type DescVal struct {
	Reg           int32
	Base          uint64
	Limit, Access uint32
}

// State is the initial vCPU state a loader leaves: descriptors first (the
// hidden parts), then registers, as libvmmapi's setup functions order them.
type State struct {
	Descs []DescVal
	Regs  []RegVal
}

// Apply sets s on vcpu.
func (s *State) Apply(t Target, vcpu int) error {
	for _, d := range s.Descs {
		if err := t.SetDesc(vcpu, d.Reg, d.Base, d.Limit, d.Access); err != nil {
			return fmt.Errorf("boot: setting descriptor %s: %w", abi.RegName(d.Reg), err)
		}
	}
	for _, r := range s.Regs {
		if err := t.SetRegister(vcpu, r.Reg, r.Val); err != nil {
			return fmt.Errorf("boot: setting %s: %w", abi.RegName(r.Reg), err)
		}
	}
	return nil
}

// Access rights (VT-x format, reference/vmm-interface.md §4.3) for flat
// 4 GiB segments: G and D/B set, present, S, DPL 0.
const (
	accGran   = 0x8000
	accDB     = 0x4000
	acc32Code = accGran | accDB | abi.SEG_DESC_PRESENT | abi.SEG_DESC_S | 0xb // execute/read, accessed
	acc32Data = accGran | accDB | abi.SEG_DESC_PRESENT | abi.SEG_DESC_S | 0x3 // read/write, accessed
	acc64Code = accGran | abi.SEG_DESC_L | abi.SEG_DESC_PRESENT | abi.SEG_DESC_S | 0xb
	accTSS32  = abi.SEG_DESC_PRESENT | 0xb // busy 32/64-bit TSS
)

// GDT descriptors in memory (Intel SDM vol. 3 §3.4.5): base 0, limit
// 0xFFFFF pages.
const (
	gdtFlatCode32 = 0x00cf9b000000ffff
	gdtFlatData32 = 0x00cf93000000ffff
	gdtFlatCode64 = 0x00af9b000000ffff
)

// PowerOnState is vcpu_reset's state (reference/vmm-interface.md §14.3):
// real mode at F000:FFF0 with CS base 0xFFFF0000, so the first fetch is
// at 0xFFFFFFF0, the reset vector. EFER and the debug registers are not
// touched, as vcpu_reset leaves them.
func PowerOnState() State {
	const realData = abi.SEG_DESC_PRESENT | abi.SEG_DESC_S | 0x3 // 0x93
	s := State{Descs: []DescVal{
		{abi.VM_REG_GUEST_CS, 0xffff0000, 0xffff, realData},
		{abi.VM_REG_GUEST_SS, 0, 0xffff, realData},
		{abi.VM_REG_GUEST_DS, 0, 0xffff, realData},
		{abi.VM_REG_GUEST_ES, 0, 0xffff, realData},
		{abi.VM_REG_GUEST_FS, 0, 0xffff, realData},
		{abi.VM_REG_GUEST_GS, 0, 0xffff, realData},
		{abi.VM_REG_GUEST_GDTR, 0, 0xffff, 0},
		{abi.VM_REG_GUEST_IDTR, 0, 0xffff, 0},
		{abi.VM_REG_GUEST_TR, 0, 0, accTSS32},
		{abi.VM_REG_GUEST_LDTR, 0, 0xffff, abi.SEG_DESC_PRESENT | 0x2},
	}}
	s.Regs = []RegVal{
		{abi.VM_REG_GUEST_RFLAGS, rflagsReserved},
		{abi.VM_REG_GUEST_RIP, 0xfff0},
		{abi.VM_REG_GUEST_CR0, cr0NE},
		{abi.VM_REG_GUEST_CR2, 0},
		{abi.VM_REG_GUEST_CR3, 0},
		{abi.VM_REG_GUEST_CR4, 0},
		{abi.VM_REG_GUEST_CS, 0xf000},
		{abi.VM_REG_GUEST_SS, 0},
		{abi.VM_REG_GUEST_DS, 0},
		{abi.VM_REG_GUEST_ES, 0},
		{abi.VM_REG_GUEST_FS, 0},
		{abi.VM_REG_GUEST_GS, 0},
		{abi.VM_REG_GUEST_RAX, 0},
		{abi.VM_REG_GUEST_RBX, 0},
		{abi.VM_REG_GUEST_RCX, 0},
		{abi.VM_REG_GUEST_RDX, 0xf00},
		{abi.VM_REG_GUEST_RSI, 0},
		{abi.VM_REG_GUEST_RDI, 0},
		{abi.VM_REG_GUEST_RBP, 0},
		{abi.VM_REG_GUEST_RSP, 0},
		{abi.VM_REG_GUEST_TR, 0},
		{abi.VM_REG_GUEST_LDTR, 0},
	}
	return s
}

// flatDescs are 4 GiB flat segments (CS with codeAccess), an unused LDT,
// a busy TSS, the given GDT and an empty IDT.
func flatDescs(codeAccess uint32, gdt uint64, gdtLimit uint32) []DescVal {
	return []DescVal{
		{abi.VM_REG_GUEST_CS, 0, 0xffffffff, codeAccess},
		{abi.VM_REG_GUEST_SS, 0, 0xffffffff, acc32Data},
		{abi.VM_REG_GUEST_DS, 0, 0xffffffff, acc32Data},
		{abi.VM_REG_GUEST_ES, 0, 0xffffffff, acc32Data},
		{abi.VM_REG_GUEST_FS, 0, 0xffffffff, acc32Data},
		{abi.VM_REG_GUEST_GS, 0, 0xffffffff, acc32Data},
		{abi.VM_REG_GUEST_TR, 0, 0, accTSS32},
		{abi.VM_REG_GUEST_LDTR, 0, 0, abi.SEG_DESC_UNUSABLE},
		{abi.VM_REG_GUEST_GDTR, gdt, gdtLimit, 0},
		{abi.VM_REG_GUEST_IDTR, 0, 0, 0},
	}
}

// selectors loads CS with codeSel and the data segment registers with
// dataSel; TR and LDTR get the null selector.
func selectors(codeSel, dataSel uint16) []RegVal {
	return []RegVal{
		{abi.VM_REG_GUEST_CS, uint64(codeSel)},
		{abi.VM_REG_GUEST_SS, uint64(dataSel)},
		{abi.VM_REG_GUEST_DS, uint64(dataSel)},
		{abi.VM_REG_GUEST_ES, uint64(dataSel)},
		{abi.VM_REG_GUEST_FS, uint64(dataSel)},
		{abi.VM_REG_GUEST_GS, uint64(dataSel)},
		{abi.VM_REG_GUEST_TR, 0},
		{abi.VM_REG_GUEST_LDTR, 0},
	}
}

// flat32State is flat 32-bit protected mode with paging off: CS a 4 GiB
// execute/read segment, the data segments 4 GiB read/write, interrupts off
// (the Multiboot spec's machine state, §3.2).
func flat32State(gdt uint64, gdtLimit uint32, codeSel, dataSel uint16, entry uint64) State {
	s := State{Descs: flatDescs(acc32Code, gdt, gdtLimit)}
	s.Regs = append([]RegVal{
		{abi.VM_REG_GUEST_CR0, cr0PE | cr0ET},
		{abi.VM_REG_GUEST_CR3, 0},
		{abi.VM_REG_GUEST_CR4, 0},
		{abi.VM_REG_GUEST_EFER, 0},
		{abi.VM_REG_GUEST_RFLAGS, rflagsReserved},
	}, selectors(codeSel, dataSel)...)
	s.Regs = append(s.Regs, RegVal{abi.VM_REG_GUEST_RIP, entry})
	return s
}

// cr0ET is CR0.ET, hard-wired to 1 on every CPU since the 486.
const cr0ET = 0x10

// gdtBytes lays out descriptors as a GDT.
func gdtBytes(descs ...uint64) []byte {
	b := make([]byte, 8*len(descs))
	for i, d := range descs {
		binary.LittleEndian.PutUint64(b[8*i:], d)
	}
	return b
}

// E820 memory types (ACPI 6.x §15, Table 15.312).
const (
	E820RAM      = 1
	E820Reserved = 2
	E820ACPI     = 3
	E820NVS      = 4
)

// E820Entry is one range of the memory map.
type E820Entry struct {
	Addr, Size uint64
	Type       uint32
}

// Where the PC's low memory ends and the legacy hole starts: the EBDA's
// last KiB below 640 KiB stays reserved, as on SeaBIOS machines
// (reference/linux-boot.md §6: "0–0x9fbff RAM"), and the BIOS area
// 0xF0000-0xFFFFF holds the platform tables.
const (
	LowRAMEnd   = 0x9fc00
	BIOSAreaLo  = 0xf0000
	HighRAMBase = 0x100000
)

// MemoryMap is the E820 map of a guest with memSize bytes of RAM laid out
// as libvmmapi lays it out (reference/vmm-interface.md §6.6): conventional
// memory, the reserved EBDA and BIOS area, RAM from 1 MiB to the top of low
// memory, and RAM above 4 GiB for the part beyond 3 GiB.
func MemoryMap(memSize uint64) []E820Entry {
	low := min(memSize, lowmemLimit)
	m := []E820Entry{
		{0, min(memSize, LowRAMEnd), E820RAM},
		{LowRAMEnd, 0xa0000 - LowRAMEnd, E820Reserved},
		{BIOSAreaLo, HighRAMBase - BIOSAreaLo, E820Reserved},
	}
	if low > HighRAMBase {
		m = append(m, E820Entry{HighRAMBase, low - HighRAMBase, E820RAM})
	}
	if memSize > lowmemLimit {
		m = append(m, E820Entry{highmemBase, memSize - lowmemLimit, E820RAM})
	}
	return m
}

// usable reports whether [gpa, gpa+n) lies inside one RAM entry of m.
func usable(m []E820Entry, gpa, n uint64) bool {
	end := gpa + n
	if end < gpa {
		return false
	}
	for _, e := range m {
		if e.Type == E820RAM && gpa >= e.Addr && end <= e.Addr+e.Size {
			return true
		}
	}
	return false
}
