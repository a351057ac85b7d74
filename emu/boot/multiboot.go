package boot

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"

	"softvmm/emu/abi"
)

// Multiboot v1 (the Multiboot Specification 0.6.96): the header a kernel
// carries, the information structure a boot loader hands it, and the
// machine state at entry.
const (
	MultibootHeaderMagic = 0x1badb002
	MultibootBootMagic   = 0x2badb002 // in EAX at entry
	multibootSearch      = 8192       // the header lies in the first 8 KiB, 4-byte aligned

	mbPageAlign  = 1 << 0  // modules page-aligned
	mbMemInfo    = 1 << 1  // mem_* and mmap_* wanted
	mbVideoMode  = 1 << 2  // video mode table wanted
	mbAoutKludge = 1 << 16 // the address fields are valid

	// Info structure flags (§3.3).
	mbiMem        = 1 << 0
	mbiCmdline    = 1 << 2
	mbiMods       = 1 << 3
	mbiMmap       = 1 << 6
	mbiLoaderName = 1 << 9

	mbiSize = 120 // the structure through the framebuffer fields, rounded up
)

// Errors LoadMultiboot wraps.
var (
	ErrNoMultiboot = errors.New("no multiboot header in the first 8 KiB")
	ErrMultiboot   = errors.New("bad multiboot image")
)

// Module is a file handed to a multiboot kernel.
type Module struct {
	Data    []byte
	Cmdline string
}

// MultibootOptions are what a boot loader adds to the kernel.
type MultibootOptions struct {
	// Cmdline is the kernel's command line. GRUB and QEMU's -kernel pass the
	// image's name first (QEMU: "FILE APPEND"); the runner does too.
	Cmdline string
	Modules []Module
}

// MultibootInfo reports where a multiboot load put things.
type MultibootInfo struct {
	Entry   uint64
	InfoGPA uint64 // the information structure (EBX)
	State   State
	Header  MultibootHeader
	// LoadEnd is the end of the kernel image (and its bss).
	LoadEnd uint64
}

// MultibootHeader is the decoded header.
type MultibootHeader struct {
	Offset                                    int // in the file
	Flags                                     uint32
	HeaderAddr, LoadAddr, LoadEndAddr, BSSEnd uint32
	EntryAddr                                 uint32
}

// FindMultiboot looks for the header; ok is false when there is none.
// A candidate whose checksum does not add up is not a header.
func FindMultiboot(image []byte) (h MultibootHeader, ok bool) {
	le := binary.LittleEndian
	lim := min(len(image), multibootSearch)
	for off := 0; off+12 <= lim; off += 4 {
		if le.Uint32(image[off:]) != MultibootHeaderMagic {
			continue
		}
		flags, sum := le.Uint32(image[off+4:]), le.Uint32(image[off+8:])
		if MultibootHeaderMagic+flags+sum != 0 {
			continue
		}
		h = MultibootHeader{Offset: off, Flags: flags}
		if flags&mbAoutKludge != 0 && off+32 <= len(image) {
			h.HeaderAddr = le.Uint32(image[off+12:])
			h.LoadAddr = le.Uint32(image[off+16:])
			h.LoadEndAddr = le.Uint32(image[off+20:])
			h.BSSEnd = le.Uint32(image[off+24:])
			h.EntryAddr = le.Uint32(image[off+28:])
		}
		return h, true
	}
	return h, false
}

// mbSeg is one piece of the kernel to put in memory.
type mbSeg struct {
	gpa   uint64
	data  []byte
	memsz uint64
}

// LoadMultiboot loads a multiboot v1 kernel as a multiboot boot loader
// would and leaves vCPU 0 at its entry in the spec's state (§3.2): EAX =
// 0x2BADB002, EBX = the information structure, flat 4 GiB code and data
// segments, protected mode with paging off, interrupts off. ESP is
// undefined by the spec; it is left 0, as QEMU leaves it. A GDT with the
// flat segments (code 0x08, data 0x10) is provided so a kernel that reloads
// a segment register before its own lgdt still works.
//
// The kernel is placed by the a.out kludge fields when header flag 16 is
// set, else by its ELF program headers (ELF32, or ELF64 with everything
// below 4 GiB as GRUB allows; QEMU accepts only ELF32). Modules, the
// command lines, the memory map and the information structure go in pages
// after the kernel, page-aligned, as QEMU places them. The map is
// MemoryMap(memSize).
func LoadMultiboot(t Target, image []byte, memSize uint64, opt MultibootOptions) (*MultibootInfo, error) {
	h, ok := FindMultiboot(image)
	if !ok {
		return nil, fmt.Errorf("boot: %w", ErrNoMultiboot)
	}
	if h.Flags&0xffff&^(mbPageAlign|mbMemInfo|mbVideoMode) != 0 {
		return nil, fmt.Errorf("boot: %w: header flags %#x ask for features a boot loader must refuse (bits 3-15)", ErrMultiboot, h.Flags)
	}
	mm := MemoryMap(memSize)
	var segs []mbSeg
	var entry uint64
	var err error
	if h.Flags&mbAoutKludge != 0 {
		segs, entry, err = mbAout(image, h)
	} else {
		segs, entry, err = mbELF(image)
	}
	if err != nil {
		return nil, err
	}
	var end uint64
	for _, s := range segs {
		if !usable(mm, s.gpa, s.memsz) {
			return nil, fmt.Errorf("boot: %w: the kernel's [%#x, %#x) is not in guest RAM (%#x bytes; the legacy hole 0x9fc00-0xfffff is not RAM)",
				ErrMultiboot, s.gpa, s.gpa+s.memsz, memSize)
		}
		if err := t.WriteGPA(s.gpa, s.data); err != nil {
			return nil, fmt.Errorf("boot: writing the kernel at %#x: %w", s.gpa, err)
		}
		if err := zero(t, s.gpa+uint64(len(s.data)), s.memsz-uint64(len(s.data))); err != nil {
			return nil, fmt.Errorf("boot: zero-filling the kernel's bss: %w", err)
		}
		end = max(end, s.gpa+s.memsz)
	}

	// Everything else goes after the kernel.
	var a arena
	a.next = (end + 0xfff) &^ 0xfff
	le := binary.LittleEndian
	type placed struct {
		gpa uint64
		b   []byte
	}
	var out []placed
	put := func(b []byte, align uint64) uint64 {
		g := a.alloc(uint64(len(b)), align)
		out = append(out, placed{g, b})
		return g
	}
	mods := make([]byte, 16*len(opt.Modules))
	for i, m := range opt.Modules {
		start := put(m.Data, 4096)
		cl := put(append([]byte(m.Cmdline), 0), 1)
		le.PutUint32(mods[16*i:], uint32(start))
		le.PutUint32(mods[16*i+4:], uint32(start+uint64(len(m.Data))))
		le.PutUint32(mods[16*i+8:], uint32(cl))
	}
	cmdline := put(append([]byte(opt.Cmdline), 0), 1)
	name := put([]byte("softvmm\x00"), 1)
	var mmap []byte
	for _, e := range mm {
		mmap = le.AppendUint32(mmap, 20)
		mmap = le.AppendUint64(mmap, e.Addr)
		mmap = le.AppendUint64(mmap, e.Size)
		mmap = le.AppendUint32(mmap, e.Type)
	}
	mmapGPA := put(mmap, 8)
	var modsGPA uint64
	if len(mods) > 0 {
		modsGPA = put(mods, 16)
	}
	gdt := gdtBytes(0, gdtFlatCode32, gdtFlatData32)
	gdtGPA := put(gdt, 16)

	info := make([]byte, mbiSize)
	flags := uint32(mbiMem | mbiCmdline | mbiMmap | mbiLoaderName)
	le.PutUint32(info[4:], LowRAMEnd/1024)
	upper := uint64(0)
	for _, e := range mm {
		if e.Type == E820RAM && e.Addr == HighRAMBase {
			upper = e.Size / 1024
		}
	}
	le.PutUint32(info[8:], uint32(upper))
	le.PutUint32(info[16:], uint32(cmdline))
	if len(opt.Modules) > 0 {
		flags |= mbiMods
		le.PutUint32(info[20:], uint32(len(opt.Modules)))
		le.PutUint32(info[24:], uint32(modsGPA))
	}
	le.PutUint32(info[44:], uint32(len(mmap)))
	le.PutUint32(info[48:], uint32(mmapGPA))
	le.PutUint32(info[64:], uint32(name))
	le.PutUint32(info[0:], flags)
	infoGPA := put(info, 8)

	if a.next > 1<<32 || !usable(mm, (end+0xfff)&^0xfff, a.next-((end+0xfff)&^0xfff)) {
		return nil, fmt.Errorf("boot: %w: the modules and boot information (up to %#x) do not fit in guest RAM after the kernel", ErrMultiboot, a.next)
	}
	for _, p := range out {
		if err := t.WriteGPA(p.gpa, p.b); err != nil {
			return nil, fmt.Errorf("boot: writing boot information at %#x: %w", p.gpa, err)
		}
	}
	st := flat32State(gdtGPA, uint32(len(gdt)-1), 0x08, 0x10, entry)
	st.Regs = append(st.Regs,
		RegVal{abi.VM_REG_GUEST_RAX, MultibootBootMagic},
		RegVal{abi.VM_REG_GUEST_RBX, infoGPA},
		RegVal{abi.VM_REG_GUEST_RSP, 0},
	)
	if err := st.Apply(t, 0); err != nil {
		return nil, err
	}
	return &MultibootInfo{Entry: entry, InfoGPA: infoGPA, State: st, Header: h, LoadEnd: end}, nil
}

// arena hands out guest-physical space upwards.
type arena struct{ next uint64 }

func (a *arena) alloc(n, align uint64) uint64 {
	g := (a.next + align - 1) &^ (align - 1)
	a.next = g + n
	return g
}

// mbAout places the kernel by the header's address fields (§3.1.3): the
// file from header_offset - (header_addr - load_addr) is loaded at
// load_addr up to load_end_addr (0: the end of the file), then zeros up to
// bss_end_addr (0: none).
func mbAout(image []byte, h MultibootHeader) ([]mbSeg, uint64, error) {
	if h.Offset+32 > len(image) {
		return nil, 0, fmt.Errorf("boot: %w: the header's address fields run past the end of the file", ErrMultiboot)
	}
	if h.HeaderAddr < h.LoadAddr || uint64(h.HeaderAddr-h.LoadAddr) > uint64(h.Offset) {
		return nil, 0, fmt.Errorf("boot: %w: header_addr %#x and load_addr %#x put the load before the file's start (header at file offset %#x)",
			ErrMultiboot, h.HeaderAddr, h.LoadAddr, h.Offset)
	}
	fileOff := uint64(h.Offset) - uint64(h.HeaderAddr-h.LoadAddr)
	n := uint64(len(image)) - fileOff
	if h.LoadEndAddr != 0 {
		if h.LoadEndAddr < h.LoadAddr {
			return nil, 0, fmt.Errorf("boot: %w: load_end_addr %#x below load_addr %#x", ErrMultiboot, h.LoadEndAddr, h.LoadAddr)
		}
		if m := uint64(h.LoadEndAddr - h.LoadAddr); m < n {
			n = m
		} else if m > n {
			return nil, 0, fmt.Errorf("boot: %w: load_end_addr %#x asks for %#x bytes, the file has %#x after offset %#x",
				ErrMultiboot, h.LoadEndAddr, m, n, fileOff)
		}
	}
	memsz := n
	if h.BSSEnd != 0 {
		if uint64(h.BSSEnd) < uint64(h.LoadAddr)+n {
			return nil, 0, fmt.Errorf("boot: %w: bss_end_addr %#x below the end of the loaded image %#x", ErrMultiboot, h.BSSEnd, uint64(h.LoadAddr)+n)
		}
		memsz = uint64(h.BSSEnd) - uint64(h.LoadAddr)
	}
	return []mbSeg{{uint64(h.LoadAddr), image[fileOff : fileOff+n], memsz}}, uint64(h.EntryAddr), nil
}

// mbELF places an ELF32 or ELF64 kernel by its PT_LOADs' physical
// addresses; the entry point is e_entry (§3.1.3: "the boot loader must
// load it as an ELF").
func mbELF(image []byte) (segs []mbSeg, entry uint64, err error) {
	if len(image) < 4 || string(image[:4]) != "\x7fELF" {
		return nil, 0, fmt.Errorf("boot: %w: neither an ELF file nor a header with the a.out address fields (flag 16)", ErrMultiboot)
	}
	defer func() {
		if r := recover(); r != nil {
			segs, err = nil, fmt.Errorf("boot: %w: debug/elf: %v", ErrMalformed, r)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return nil, 0, fmt.Errorf("boot: %w: %v", ErrMalformed, err)
	}
	if f.Machine != elf.EM_386 && f.Machine != elf.EM_X86_64 {
		return nil, 0, fmt.Errorf("boot: %w: machine is %v", ErrNotX86_64, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, 0, fmt.Errorf("boot: %w: type is %v", ErrNotExec, f.Type)
	}
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		if p.Filesz > p.Memsz || p.Off > uint64(len(image)) || p.Filesz > uint64(len(image))-p.Off {
			return nil, 0, fmt.Errorf("boot: %w: PT_LOAD %d: file bytes [%#x, +%#x) for %#x in memory, file has %#x", ErrMalformed, i, p.Off, p.Filesz, p.Memsz, len(image))
		}
		if p.Paddr+p.Memsz > 1<<32 || p.Paddr+p.Memsz < p.Paddr {
			return nil, 0, fmt.Errorf("boot: %w: PT_LOAD %d at p_paddr %#x is not below 4 GiB, where a 32-bit entry can reach", ErrMultiboot, i, p.Paddr)
		}
		segs = append(segs, mbSeg{p.Paddr, image[p.Off : p.Off+p.Filesz], p.Memsz})
	}
	if len(segs) == 0 {
		return nil, 0, fmt.Errorf("boot: %w with a non-zero size", ErrNoLoad)
	}
	if f.Entry >= 1<<32 {
		return nil, 0, fmt.Errorf("boot: %w: e_entry %#x is not a 32-bit address", ErrMultiboot, f.Entry)
	}
	return segs, f.Entry, nil
}
