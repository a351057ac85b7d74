// Package boot puts a guest image into a VM in the state a loader leaves it
// in, through the same narrow door bhyveload uses: writes to guest physical
// memory and vCPU register/descriptor sets (libvmmapi's vm_set_register and
// vm_set_desc). It never runs the guest.
package boot

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"softvmm/emu/abi"
)

// Target is the part of a VM a loader needs. It is an interface so the
// loader can be tested without the kernel; a libvmmapi-style client over
// the vmm cdev is the real implementation.
type Target interface {
	// WriteGPA copies p into guest physical memory at gpa.
	WriteGPA(gpa uint64, p []byte) error
	// SetRegister sets register reg (abi.VM_REG_GUEST_*) of vcpu; for the
	// segment registers it sets the selector.
	SetRegister(vcpu int, reg int32, val uint64) error
	// SetDesc sets the hidden descriptor of a segment register, or GDTR/IDTR
	// (access is the VT-x access-rights format, abi.SEG_DESC_*).
	SetDesc(vcpu int, reg int32, base uint64, limit, access uint32) error
}

// Where bhyveload's userboot puts its boot structures
// (reference/vmm-interface.md §14.1). The image must stay clear of
// [0, LoaderEnd): the first page is below the initial RSP, so the guest's
// first pushes land there.
const (
	StackGPA  = 0x1000 // return address, modulep, kernend (u64 each); RSP points here
	PML4GPA   = 0x2000 // CR3
	PDPTGPA   = 0x3000
	PDGPA     = 0x4000
	GDTGPA    = 0x5000
	LoaderEnd = 0x6000

	// GDTLimit is 3 descriptors × 8 bytes − 1.
	GDTLimit = 3*8 - 1
)

// Page-table entry bits used by userboot (Intel SDM vol. 3 §4.5).
const (
	pteP  = 0x001 // present
	pteRW = 0x002 // writable
	pteUS = 0x004 // user accessible
	ptePS = 0x080 // 2 MiB page (in a PD entry)
)

// GDT descriptors written by userboot: null, a 64-bit code segment
// (P, S, type execute-only, L) and a data segment (P, S).
const (
	gdtCode64 = 0x0020980000000000
	gdtData   = 0x0000900000000000
)

// vm_setup_freebsd_registers' values (§14.1, second table).
const (
	cr0PE          = 0x00000001
	cr0NE          = 0x00000020
	cr0PG          = 0x80000000
	cr4PAE         = 0x20
	eferLME        = 0x100
	eferLMA        = 0x400
	rflagsReserved = 0x2 // bit 1 always reads as 1

	selCode = 0x8  // GDT entry 1, RPL 0
	selData = 0x10 // GDT entry 2, RPL 0

	// Access rights: code = P|S|type 0xB (execute/read, accessed)|L;
	// data = P|S|type 3 (read/write, accessed); TR = P|type 0xB (busy
	// 64-bit TSS); LDTR unusable.
	accCode = abi.SEG_DESC_PRESENT | abi.SEG_DESC_S | 0xb | abi.SEG_DESC_L
	accData = abi.SEG_DESC_PRESENT | abi.SEG_DESC_S | 0x3
	accTR   = abi.SEG_DESC_PRESENT | 0xb
	accLDTR = abi.SEG_DESC_UNUSABLE
)

// Guest RAM as libvmmapi lays it out (§6.6): up to 3 GiB at 0, the rest from
// 4 GiB; [3 GiB, 4 GiB) is the MMIO hole.
const (
	lowmemLimit = 3 << 30
	highmemBase = 4 << 30
)

// vaMask is what bhyveload's copyin applies to a virtual address to get the
// physical one (§14.1: "gpa = va & 0x7FFFFFFF"), which puts a kernel linked
// at KERNBASE (0xFFFFFFFF80000000) at physical 0.
const vaMask = 0x7fffffff

// Errors LoadELF64 wraps; test with errors.Is. The wrapping error says which
// field or segment is at fault.
var (
	ErrNotELF      = errors.New("not an ELF file")
	ErrNotELF64    = errors.New("not an ELF64 image")
	ErrNotX86_64   = errors.New("not an x86-64 image")
	ErrNotExec     = errors.New("not an executable (ET_EXEC) image")
	ErrMalformed   = errors.New("malformed ELF image")
	ErrTruncated   = errors.New("truncated ELF image")
	ErrNoLoad      = errors.New("no PT_LOAD segment")
	ErrPlacement   = errors.New("PT_LOAD segment cannot be placed")
	ErrMemTooSmall = errors.New("guest memory too small for the loader's boot structures")
)

type segment struct {
	index     int // program header index, for messages
	gpa       uint64
	vaddr     uint64
	data      []byte // file contents
	memsz     uint64
	paddrFits string // why p_paddr is unusable ("" if usable)
}

// LoadELF64 loads a static x86-64 ELF64 executable into t as bhyveload loads
// a FreeBSD kernel (reference/vmm-interface.md §14.1) and leaves vCPU 0 ready
// to run its entry point in 64-bit mode: paging on with 0–1 GiB identity
// mapped by 2 MiB pages and every 1 GiB-aligned region aliasing it, RSP =
// 0x1000, RFLAGS = 0x2 (interrupts off), no IDT. memSize is the guest's RAM
// size as given to vm_setup_memory.
//
// Placement: each PT_LOAD goes to its p_paddr when every PT_LOAD's
// [p_paddr, p_paddr+p_memsz) lies in guest RAM and clear of the loader's
// pages [0, 0x6000); otherwise all of them go to p_vaddr & 0x7FFFFFFF, which
// is what bhyveload always does (it never looks at p_paddr). So an image
// linked at physical addresses (Linux's vmlinux, the testdata guests) lands
// where its headers say, and a FreeBSD kernel, whose p_paddr repeats the
// KERNBASE virtual address, lands where bhyveload puts it. If neither
// placement fits, the error names the segment and both addresses.
//
// bss (p_memsz beyond p_filesz) is zero-filled. The argument words at 0x1000
// are bhyveload's: a zero return address, modulep = 0 (no preloaded-module
// metadata is built) and kernend = the page-rounded end of the highest
// PT_LOAD's virtual range (bhyveload passes a kernel virtual address).
//
// Registers are the final state of vm_setup_freebsd_registers; the earlier
// writes userboot's callbacks make (CR4 with VMXE, then overwritten) are not
// repeated. IDTR and the general-purpose registers are left as the vCPU has
// them, as bhyveload leaves them. The entry point is not checked: like
// bhyveload, LoadELF64 trusts e_entry.
func LoadELF64(t Target, image []byte, memSize uint64) (entry uint64, err error) {
	f, err := parseELF64(image)
	if err != nil {
		return 0, err
	}
	if memSize < LoaderEnd || !inRAM(0, LoaderEnd, memSize) {
		return 0, fmt.Errorf("boot: %w: %#x bytes, need at least %#x", ErrMemTooSmall, memSize, LoaderEnd)
	}
	segs, err := segments(f, image, memSize)
	if err != nil {
		return 0, err
	}
	kernend := uint64(0)
	for i := range segs {
		s := &segs[i]
		if err := t.WriteGPA(s.gpa, s.data); err != nil {
			return 0, fmt.Errorf("boot: writing PT_LOAD %d at %#x: %w", s.index, s.gpa, err)
		}
		if err := zero(t, s.gpa+uint64(len(s.data)), s.memsz-uint64(len(s.data))); err != nil {
			return 0, fmt.Errorf("boot: zero-filling PT_LOAD %d bss: %w", s.index, err)
		}
		if end := s.vaddr + s.memsz; end > kernend {
			kernend = end
		}
	}
	kernend = (kernend + 0xfff) &^ 0xfff
	if err := writeBootPages(t, kernend); err != nil {
		return 0, err
	}
	if err := setRegisters(t, f.Entry); err != nil {
		return 0, err
	}
	return f.Entry, nil
}

// parseELF64 checks the identification bytes itself, so each way of not
// being a loadable image gets its own message, then leaves the rest to
// debug/elf.
func parseELF64(image []byte) (f *elf.File, err error) {
	if len(image) < 4 || !bytes.Equal(image[:4], []byte(elf.ELFMAG)) {
		return nil, fmt.Errorf("boot: %w (no \\x7fELF magic)", ErrNotELF)
	}
	if len(image) < 64 {
		return nil, fmt.Errorf("boot: %w: %d bytes, shorter than an ELF64 header", ErrTruncated, len(image))
	}
	if c := elf.Class(image[elf.EI_CLASS]); c != elf.ELFCLASS64 {
		return nil, fmt.Errorf("boot: %w: class is %v", ErrNotELF64, c)
	}
	if d := elf.Data(image[elf.EI_DATA]); d != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("boot: %w: data encoding is %v, x86-64 needs little-endian", ErrNotX86_64, d)
	}
	if m := elf.Machine(binary.LittleEndian.Uint16(image[18:])); m != elf.EM_X86_64 {
		return nil, fmt.Errorf("boot: %w: machine is %v", ErrNotX86_64, m)
	}
	if ty := elf.Type(binary.LittleEndian.Uint16(image[16:])); ty != elf.ET_EXEC {
		return nil, fmt.Errorf("boot: %w: type is %v", ErrNotExec, ty)
	}
	// debug/elf is not expected to panic, but a bad image must never take
	// the runner down with it (DESIGN.md "Errors").
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("boot: %w: debug/elf: %v", ErrMalformed, r)
		}
	}()
	f, err = elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return nil, fmt.Errorf("boot: %w: %v", ErrMalformed, err)
	}
	return f, nil
}

// segments validates the PT_LOADs and decides where each goes.
func segments(f *elf.File, image []byte, memSize uint64) ([]segment, error) {
	var segs []segment
	paddrOK := true
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Filesz > p.Memsz {
			return nil, fmt.Errorf("boot: %w: PT_LOAD %d has p_filesz %#x > p_memsz %#x", ErrMalformed, i, p.Filesz, p.Memsz)
		}
		if p.Off > uint64(len(image)) || p.Filesz > uint64(len(image))-p.Off {
			return nil, fmt.Errorf("boot: %w: PT_LOAD %d needs file bytes [%#x, %#x), the file has %#x",
				ErrTruncated, i, p.Off, p.Off+p.Filesz, len(image))
		}
		if p.Memsz == 0 {
			continue
		}
		s := segment{index: i, vaddr: p.Vaddr, data: image[p.Off : p.Off+p.Filesz], memsz: p.Memsz}
		if why := placeable(p.Paddr, p.Memsz, memSize); why != "" {
			s.paddrFits = why
			paddrOK = false
		}
		s.gpa = p.Paddr
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("boot: %w with a non-zero size", ErrNoLoad)
	}
	if paddrOK {
		return segs, nil
	}
	for i := range segs {
		s := &segs[i]
		gpa := s.vaddr & vaMask
		if why := placeable(gpa, s.memsz, memSize); why != "" {
			return nil, fmt.Errorf("boot: %w: PT_LOAD %d (%#x bytes): at p_paddr %#x it %s; at p_vaddr&0x7fffffff %#x it %s",
				ErrPlacement, s.index, s.memsz, s.gpa, s.paddrFits, gpa, why)
		}
		s.gpa = gpa
	}
	return segs, nil
}

// placeable says why [gpa, gpa+n) cannot hold a segment, or "" if it can.
func placeable(gpa, n, memSize uint64) string {
	if gpa < LoaderEnd {
		return "overlaps the loader's pages [0, 0x6000)"
	}
	if !inRAM(gpa, n, memSize) {
		return fmt.Sprintf("is outside guest memory (%#x bytes)", memSize)
	}
	return ""
}

// inRAM reports whether [gpa, gpa+n) lies within one RAM range of a guest
// with memSize bytes laid out as in §6.6.
func inRAM(gpa, n, memSize uint64) bool {
	end := gpa + n
	if end < gpa {
		return false
	}
	low := min(memSize, lowmemLimit)
	if end <= low {
		return true
	}
	if memSize <= lowmemLimit {
		return false
	}
	highEnd := highmemBase + (memSize - lowmemLimit)
	return gpa >= highmemBase && end <= highEnd
}

// zeros is the source for bss fills: 1 MiB per WriteGPA keeps a large bss to
// a few calls.
var zeros [1 << 20]byte

func zero(t Target, gpa, n uint64) error {
	for n > 0 {
		c := min(n, uint64(len(zeros)))
		if err := t.WriteGPA(gpa, zeros[:c]); err != nil {
			return err
		}
		gpa += c
		n -= c
	}
	return nil
}

// writeBootPages writes the argument words, page tables and GDT of §14.1.
func writeBootPages(t Target, kernend uint64) error {
	le := binary.LittleEndian
	stack := make([]byte, 3*8)
	le.PutUint64(stack[0:], 0)        // return address
	le.PutUint64(stack[8:], 0)        // modulep
	le.PutUint64(stack[16:], kernend) // kernend

	pml4 := make([]byte, 4096)
	pdpt := make([]byte, 4096)
	pd := make([]byte, 4096)
	for i := uint64(0); i < 512; i++ {
		le.PutUint64(pml4[8*i:], PDPTGPA|pteP|pteRW|pteUS)
		le.PutUint64(pdpt[8*i:], PDGPA|pteP|pteRW|pteUS)
		le.PutUint64(pd[8*i:], i<<21|pteP|pteRW|ptePS|pteUS)
	}

	gdt := make([]byte, GDTLimit+1)
	le.PutUint64(gdt[8:], gdtCode64)
	le.PutUint64(gdt[16:], gdtData)

	for _, w := range []struct {
		what string
		gpa  uint64
		b    []byte
	}{
		{"stack", StackGPA, stack},
		{"PML4", PML4GPA, pml4},
		{"PDPT", PDPTGPA, pdpt},
		{"PD", PDGPA, pd},
		{"GDT", GDTGPA, gdt},
	} {
		if err := t.WriteGPA(w.gpa, w.b); err != nil {
			return fmt.Errorf("boot: writing the %s at %#x: %w", w.what, w.gpa, err)
		}
	}
	return nil
}

// setRegisters does what libvmmapi's vm_setup_freebsd_registers does, in its
// order, on vCPU 0.
func setRegisters(t Target, entry uint64) error { return setRegistersOn(t, 0, entry, StackGPA) }

func setRegistersOn(t Target, vcpu int, entry, rsp uint64) error {
	type reg struct {
		r int32
		v uint64
	}
	type desc struct {
		r      int32
		base   uint64
		limit  uint32
		access uint32
	}
	set := func(rs ...reg) error {
		for _, r := range rs {
			if err := t.SetRegister(vcpu, r.r, r.v); err != nil {
				return fmt.Errorf("boot: setting register %d: %w", r.r, err)
			}
		}
		return nil
	}
	setDesc := func(ds ...desc) error {
		for _, d := range ds {
			if err := t.SetDesc(vcpu, d.r, d.base, d.limit, d.access); err != nil {
				return fmt.Errorf("boot: setting descriptor %d: %w", d.r, err)
			}
		}
		return nil
	}
	if err := set(
		reg{abi.VM_REG_GUEST_CR0, cr0PG | cr0NE | cr0PE},
		reg{abi.VM_REG_GUEST_CR4, cr4PAE},
		reg{abi.VM_REG_GUEST_EFER, eferLME | eferLMA},
		reg{abi.VM_REG_GUEST_RFLAGS, rflagsReserved},
	); err != nil {
		return err
	}
	if err := setDesc(
		desc{abi.VM_REG_GUEST_CS, 0, 0, accCode},
		desc{abi.VM_REG_GUEST_DS, 0, 0, accData},
		desc{abi.VM_REG_GUEST_ES, 0, 0, accData},
		desc{abi.VM_REG_GUEST_FS, 0, 0, accData},
		desc{abi.VM_REG_GUEST_GS, 0, 0, accData},
		desc{abi.VM_REG_GUEST_SS, 0, 0, accData},
		desc{abi.VM_REG_GUEST_TR, 0, 0, accTR},
		desc{abi.VM_REG_GUEST_LDTR, 0, 0, accLDTR},
	); err != nil {
		return err
	}
	if err := set(
		reg{abi.VM_REG_GUEST_CS, selCode},
		reg{abi.VM_REG_GUEST_DS, selData},
		reg{abi.VM_REG_GUEST_ES, selData},
		reg{abi.VM_REG_GUEST_FS, selData},
		reg{abi.VM_REG_GUEST_GS, selData},
		reg{abi.VM_REG_GUEST_SS, selData},
		reg{abi.VM_REG_GUEST_TR, 0},
		reg{abi.VM_REG_GUEST_LDTR, 0},
		reg{abi.VM_REG_GUEST_RIP, entry},
		reg{abi.VM_REG_GUEST_CR3, PML4GPA},
	); err != nil {
		return err
	}
	if err := setDesc(desc{abi.VM_REG_GUEST_GDTR, GDTGPA, GDTLimit, 0}); err != nil {
		return err
	}
	return set(reg{abi.VM_REG_GUEST_RSP, rsp})
}
