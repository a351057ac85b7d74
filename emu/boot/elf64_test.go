package boot

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"softvmm/emu/abi"
)

// fakeVM records what a loader does to a VM. Memory below len(mem) is kept
// (pre-filled with 0xCC so a missing zero-fill shows); every write is also
// logged with its range.
type fakeVM struct {
	memSize uint64
	mem     []byte
	writes  []span
	calls   []string // SetRegister/SetDesc calls in order
	regs    map[int32]uint64
	descs   map[int32]descVal
	failAt  string // fail the call whose log line starts with this
}

type span struct{ gpa, n uint64 }

type descVal struct {
	Base          uint64
	Limit, Access uint32
}

func newFakeVM(memSize uint64, keep int) *fakeVM {
	v := &fakeVM{memSize: memSize, mem: bytes.Repeat([]byte{0xcc}, keep),
		regs: map[int32]uint64{}, descs: map[int32]descVal{}}
	return v
}

func (v *fakeVM) WriteGPA(gpa uint64, p []byte) error {
	if v.failAt != "" && strings.HasPrefix(fmt.Sprintf("write %#x+%#x", gpa, len(p)), v.failAt) {
		return abi.EFAULT
	}
	v.writes = append(v.writes, span{gpa, uint64(len(p))})
	if gpa < uint64(len(v.mem)) {
		copy(v.mem[gpa:], p)
	}
	return nil
}

func (v *fakeVM) SetRegister(vcpu int, reg int32, val uint64) error {
	line := fmt.Sprintf("reg %d %d", vcpu, reg)
	if v.failAt != "" && strings.HasPrefix(line, v.failAt) {
		return abi.EINVAL
	}
	v.calls = append(v.calls, line)
	if vcpu == 0 {
		v.regs[reg] = val
	}
	return nil
}

func (v *fakeVM) SetDesc(vcpu int, reg int32, base uint64, limit, access uint32) error {
	line := fmt.Sprintf("desc %d %d", vcpu, reg)
	if v.failAt != "" && strings.HasPrefix(line, v.failAt) {
		return abi.EINVAL
	}
	v.calls = append(v.calls, line)
	if vcpu == 0 {
		v.descs[reg] = descVal{base, limit, access}
	}
	return nil
}

func (v *fakeVM) u64(gpa uint64) uint64 { return binary.LittleEndian.Uint64(v.mem[gpa:]) }

// phdr and buildELF write an ELF64 image byte by byte from the ELF spec
// (not through debug/elf), so malformed images can be made too.
type phdr struct {
	typ, flags                       uint32
	off, vaddr, paddr, filesz, memsz uint64
}

type image struct {
	class, data  byte
	typ, machine uint16
	entry        uint64
	phentsize    uint16
	phoff        uint64 // 0: right after the header
	progs        []phdr
	payload      []byte // placed at file offset payloadOff
	payloadOff   int    // 0: 0x1000
	truncate     int    // if > 0, cut the file to this length
}

func x86Exec(entry uint64, progs ...phdr) image {
	return image{class: 2, data: 1, typ: 2, machine: 62, entry: entry, phentsize: 56, progs: progs}
}

func (im image) bytes() []byte {
	le := binary.LittleEndian
	po := im.payloadOff
	if po == 0 {
		po = 0x1000
	}
	b := make([]byte, max(po+len(im.payload), 64+56*len(im.progs)))
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = im.class, im.data, 1 // EI_CLASS, EI_DATA, EI_VERSION
	le.PutUint16(b[16:], im.typ)
	le.PutUint16(b[18:], im.machine)
	le.PutUint32(b[20:], 1) // e_version
	le.PutUint64(b[24:], im.entry)
	phoff := im.phoff
	if phoff == 0 {
		phoff = 64
	}
	le.PutUint64(b[32:], phoff)
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], im.phentsize)
	le.PutUint16(b[56:], uint16(len(im.progs)))
	for i, p := range im.progs {
		o := phoff + uint64(i)*56
		if o+56 > uint64(len(b)) {
			break
		}
		le.PutUint32(b[o:], p.typ)
		le.PutUint32(b[o+4:], p.flags)
		le.PutUint64(b[o+8:], p.off)
		le.PutUint64(b[o+16:], p.vaddr)
		le.PutUint64(b[o+24:], p.paddr)
		le.PutUint64(b[o+32:], p.filesz)
		le.PutUint64(b[o+40:], p.memsz)
		le.PutUint64(b[o+48:], 0x1000)
	}
	copy(b[po:], im.payload)
	if im.truncate > 0 {
		b = b[:im.truncate]
	}
	return b
}

const ptLoad = 1

// code is a small payload: cli; hlt; then "DATA".
var code = []byte{0xfa, 0xf4, 'D', 'A', 'T', 'A'}

func simpleImage() image {
	im := x86Exec(0x100000, phdr{typ: ptLoad, flags: 5, off: 0x1000, vaddr: 0x100000, paddr: 0x100000,
		filesz: uint64(len(code)), memsz: 0x2000})
	im.payload = code
	return im
}

// twoSegmentImage is a 182-byte image shaped like the testdata guests: text,
// then data whose bss runs to the end of its page.
func twoSegmentImage() image {
	im := x86Exec(0x100000,
		phdr{typ: ptLoad, flags: 5, off: 0xb0, vaddr: 0x100000, paddr: 0x100000, filesz: 2, memsz: 2},
		phdr{typ: ptLoad, flags: 6, off: 0xb2, vaddr: 0x101000, paddr: 0x101000, filesz: 4, memsz: 0x1000})
	im.payload, im.payloadOff = code, 0xb0
	return im
}

func TestLoadTwoSegments(t *testing.T) {
	v := newFakeVM(4<<20, 4<<20)
	if _, err := LoadELF64(v, twoSegmentImage().bytes(), 4<<20); err != nil {
		t.Fatal(err)
	}
	if got := v.mem[0x100000:0x100003]; !bytes.Equal(got, []byte{0xfa, 0xf4, 0xcc}) {
		t.Errorf("text segment: % x, want fa f4 cc", got)
	}
	if got := v.mem[0x101000:0x101004]; string(got) != "DATA" {
		t.Errorf("data segment: %q, want \"DATA\"", got)
	}
	if !bytes.Equal(v.mem[0x101004:0x102000], make([]byte, 0x1000-4)) || v.mem[0x102000] != 0xcc {
		t.Error("bss [0x101004, 0x102000) not exactly zero-filled")
	}
	if got := v.u64(0x1010); got != 0x102000 {
		t.Errorf("kernend = %#x, want 0x102000", got)
	}
}

// The boot pages of reference/vmm-interface.md §14.1, transcribed: the
// argument words at 0x1000, PML4 entries 0x3000|P|RW|U = 0x3007, PDPT entries
// 0x4000|P|RW|U = 0x4007, PD entry i = i·2 MiB|P|RW|PS|U = i·0x200000 + 0x87,
// and the three GDT descriptors.
func TestBootPages(t *testing.T) {
	v := newFakeVM(16<<20, 16<<20)
	if _, err := LoadELF64(v, simpleImage().bytes(), 16<<20); err != nil {
		t.Fatal(err)
	}
	if got := [3]uint64{v.u64(0x1000), v.u64(0x1008), v.u64(0x1010)}; got != [3]uint64{0, 0, 0x102000} {
		t.Errorf("stack words at 0x1000 = %#x, want [0 (return address), 0 (modulep), 0x102000 (kernend)]", got)
	}
	for i := uint64(0); i < 512; i++ {
		if got := v.u64(0x2000 + 8*i); got != 0x3007 {
			t.Fatalf("PML4[%d] = %#x, want 0x3007", i, got)
		}
		if got := v.u64(0x3000 + 8*i); got != 0x4007 {
			t.Fatalf("PDPT[%d] = %#x, want 0x4007", i, got)
		}
		if got, want := v.u64(0x4000+8*i), i*0x200000+0x87; got != want {
			t.Fatalf("PD[%d] = %#x, want %#x", i, got, want)
		}
	}
	for _, tc := range []struct{ i, want uint64 }{{0, 0x87}, {1, 0x200087}, {511, 0x3fe00087}} {
		if got := v.u64(0x4000 + 8*tc.i); got != tc.want {
			t.Errorf("PD[%d] = %#x, want %#x", tc.i, got, tc.want)
		}
	}
	wantGDT := []byte{
		0, 0, 0, 0, 0, 0, 0, 0, // null
		0, 0, 0, 0, 0, 0x98, 0x20, 0, // 0x0020980000000000: code, P, L
		0, 0, 0, 0, 0, 0x90, 0, 0, // 0x0000900000000000: data, P
	}
	if got := v.mem[0x5000:0x5018]; !bytes.Equal(got, wantGDT) {
		t.Errorf("GDT at 0x5000 = % x\nwant             % x", got, wantGDT)
	}
	// Nothing else in the loader's area is written: 0x0-0xfff and the
	// bytes after the GDT keep the fake's fill.
	for _, r := range []span{{0, 0x1000}, {0x1018, 0x2000 - 0x1018}, {0x5018, 0x6000 - 0x5018}} {
		if !bytes.Equal(v.mem[r.gpa:r.gpa+r.n], bytes.Repeat([]byte{0xcc}, int(r.n))) {
			t.Errorf("loader wrote into [%#x, %#x), which §14.1 leaves alone", r.gpa, r.gpa+r.n)
		}
	}
	// The image itself and its zero-filled bss.
	if got := v.mem[0x100000 : 0x100000+len(code)]; !bytes.Equal(got, code) {
		t.Errorf("image at 0x100000 = % x, want % x", got, code)
	}
	if got := v.mem[0x100000+len(code) : 0x102000]; !bytes.Equal(got, make([]byte, 0x2000-len(code))) {
		t.Error("bss [0x100006, 0x102000) not zero-filled")
	}
	if v.mem[0x102000] != 0xcc {
		t.Error("wrote past the end of the segment's p_memsz")
	}
}

// The register state of vm_setup_freebsd_registers, transcribed from
// reference/vmm-interface.md §14.1 (second table), and the order libvmmapi
// sets it in.
func TestRegisters(t *testing.T) {
	v := newFakeVM(16<<20, 0)
	entry, err := LoadELF64(v, simpleImage().bytes(), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	if entry != 0x100000 {
		t.Errorf("entry = %#x, want 0x100000", entry)
	}
	wantRegs := map[int32]uint64{
		abi.VM_REG_GUEST_CR0:    0x80000021,
		abi.VM_REG_GUEST_CR4:    0x20,
		abi.VM_REG_GUEST_EFER:   0x500,
		abi.VM_REG_GUEST_RFLAGS: 0x2,
		abi.VM_REG_GUEST_CS:     0x8,
		abi.VM_REG_GUEST_DS:     0x10,
		abi.VM_REG_GUEST_ES:     0x10,
		abi.VM_REG_GUEST_FS:     0x10,
		abi.VM_REG_GUEST_GS:     0x10,
		abi.VM_REG_GUEST_SS:     0x10,
		abi.VM_REG_GUEST_TR:     0,
		abi.VM_REG_GUEST_LDTR:   0,
		abi.VM_REG_GUEST_RIP:    0x100000,
		abi.VM_REG_GUEST_CR3:    0x2000,
		abi.VM_REG_GUEST_RSP:    0x1000,
	}
	if d := cmp.Diff(wantRegs, v.regs); d != "" {
		t.Errorf("registers (-want +got):\n%s", d)
	}
	wantDescs := map[int32]descVal{
		abi.VM_REG_GUEST_CS:   {0, 0, 0x209b},
		abi.VM_REG_GUEST_DS:   {0, 0, 0x93},
		abi.VM_REG_GUEST_ES:   {0, 0, 0x93},
		abi.VM_REG_GUEST_FS:   {0, 0, 0x93},
		abi.VM_REG_GUEST_GS:   {0, 0, 0x93},
		abi.VM_REG_GUEST_SS:   {0, 0, 0x93},
		abi.VM_REG_GUEST_TR:   {0, 0, 0x8b},
		abi.VM_REG_GUEST_LDTR: {0, 0, 0x10000},
		abi.VM_REG_GUEST_GDTR: {0x5000, 23, 0},
	}
	if d := cmp.Diff(wantDescs, v.descs); d != "" {
		t.Errorf("descriptors (-want +got):\n%s", d)
	}
	// libvmmapi's vm_setup_freebsd_registers order, all on vCPU 0. The
	// numbers are enum vm_reg_name (§4.1): CR0 15, CR4 17, EFER 32,
	// RFLAGS 21, ES 22, CS 23, SS 24, DS 25, FS 26, GS 27, LDTR 28, TR 29,
	// GDTR 31, RIP 20, CR3 16, RSP 19.
	wantCalls := []string{
		"reg 0 15", "reg 0 17", "reg 0 32", "reg 0 21",
		"desc 0 23", "desc 0 25", "desc 0 22", "desc 0 26", "desc 0 27", "desc 0 24",
		"desc 0 29", "desc 0 28",
		"reg 0 23", "reg 0 25", "reg 0 22", "reg 0 26", "reg 0 27", "reg 0 24",
		"reg 0 29", "reg 0 28", "reg 0 20", "reg 0 16",
		"desc 0 31", "reg 0 19",
	}
	if d := cmp.Diff(wantCalls, v.calls); d != "" {
		t.Errorf("call order (-want +got):\n%s", d)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	b, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The committed guest images load; their PT_LOADs (read with debug/elf, not
// the loader) land at p_paddr with bss zeroed, and kernend covers them.
func TestLoadTestdataImages(t *testing.T) {
	for _, name := range []string{"demo.elf", "hello.elf", "exit33.elf"} {
		t.Run(name, func(t *testing.T) {
			img := readTestdata(t, name)
			const mem = 256 << 20 // bhyveload's default -m (§6.6)
			v := newFakeVM(mem, 8<<20)
			entry, err := LoadELF64(v, img, mem)
			if err != nil {
				t.Fatal(err)
			}
			if entry != 0x100000 || v.regs[abi.VM_REG_GUEST_RIP] != 0x100000 {
				t.Errorf("entry %#x, RIP %#x; want 0x100000 (guest.ld)", entry, v.regs[abi.VM_REG_GUEST_RIP])
			}
			if v.mem[0x100000] != 0xfa {
				t.Errorf("first byte at the entry = %#x, want 0xfa (cli: every guest starts with it)", v.mem[0x100000])
			}
			f, err := elf.NewFile(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			var end uint64
			loads := 0
			for _, p := range f.Progs {
				if p.Type != elf.PT_LOAD {
					continue
				}
				loads++
				if p.Paddr != p.Vaddr || p.Paddr < 0x100000 {
					t.Errorf("PT_LOAD paddr %#x vaddr %#x: guest.ld links at physical = virtual from 1 MiB", p.Paddr, p.Vaddr)
				}
				if got := v.mem[p.Paddr : p.Paddr+p.Filesz]; !bytes.Equal(got, img[p.Off:p.Off+p.Filesz]) {
					t.Errorf("PT_LOAD at %#x: memory differs from the file", p.Paddr)
				}
				if got := v.mem[p.Paddr+p.Filesz : p.Paddr+p.Memsz]; !bytes.Equal(got, make([]byte, p.Memsz-p.Filesz)) {
					t.Errorf("PT_LOAD at %#x: bss not zeroed", p.Paddr)
				}
				end = max(end, p.Vaddr+p.Memsz)
			}
			if loads != 2 {
				t.Errorf("%d PT_LOADs, want 2 (text and data+bss, guest.ld)", loads)
			}
			if want := (end + 0xfff) &^ 0xfff; v.u64(0x1010) != want {
				t.Errorf("kernend = %#x, want %#x", v.u64(0x1010), want)
			}
			if name == "demo.elf" && !bytes.Contains(v.mem[0x100000:0x101000], []byte("softvmm demo guest")) {
				t.Error("demo banner not in the loaded text")
			}
		})
	}
}

// A FreeBSD-style kernel: p_paddr repeats the KERNBASE virtual address, so
// the segment goes to va & 0x7fffffff as bhyveload puts it.
func TestLoadFallsBackToMaskedVA(t *testing.T) {
	const kva = 0xffffffff80200000
	im := x86Exec(kva+0x10, phdr{typ: ptLoad, flags: 7, off: 0x1000, vaddr: kva, paddr: kva, filesz: 6, memsz: 0x1000})
	im.payload = code
	v := newFakeVM(16<<20, 16<<20)
	entry, err := LoadELF64(v, im.bytes(), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	if entry != kva+0x10 || v.regs[abi.VM_REG_GUEST_RIP] != kva+0x10 {
		t.Errorf("entry %#x RIP %#x, want the unmodified e_entry %#x", entry, v.regs[abi.VM_REG_GUEST_RIP], uint64(kva+0x10))
	}
	if !bytes.Equal(v.mem[0x200000:0x200006], code) {
		t.Errorf("segment not at 0x200000: % x", v.mem[0x200000:0x200006])
	}
	if got := v.u64(0x1010); got != 0xffffffff80201000 {
		t.Errorf("kernend = %#x, want the kernel virtual address 0xffffffff80201000", got)
	}
}

// Above 3 GiB guest RAM continues at 4 GiB (§6.6).
func TestLoadHighMemory(t *testing.T) {
	const mem = 5 << 30 // 3 GiB low + 2 GiB from 4 GiB
	for _, tc := range []struct {
		paddr uint64
		ok    bool
	}{
		{0x100000, true},
		{3<<30 - 0x1000, true},
		{3<<30 - 0x800, false}, // runs into the hole
		{3<<30 + 0x1000, false},
		{4 << 30, true},
		{6<<30 - 0x1000, true},
		{6<<30 - 0x800, false},
	} {
		// vaddr 0 makes the va&0x7fffffff fallback unusable, so only the
		// p_paddr placement is on trial.
		im := x86Exec(tc.paddr, phdr{typ: ptLoad, flags: 5, off: 0x1000, vaddr: 0, paddr: tc.paddr, filesz: 6, memsz: 0x1000})
		im.payload = code
		v := newFakeVM(mem, 0)
		_, err := LoadELF64(v, im.bytes(), mem)
		if (err == nil) != tc.ok {
			t.Errorf("PT_LOAD at %#x+0x1000 in 5 GiB: err = %v, want ok=%v", tc.paddr, err, tc.ok)
		}
		if err == nil && (v.writes[0] != span{tc.paddr, 6}) {
			t.Errorf("PT_LOAD at %#x: first write %#x", tc.paddr, v.writes[0])
		}
	}
}

func TestLoadErrors(t *testing.T) {
	load := func(ph phdr) image {
		im := x86Exec(0x100000, ph)
		im.payload = code
		return im
	}
	seg := phdr{typ: ptLoad, flags: 5, off: 0x1000, vaddr: 0x100000, paddr: 0x100000, filesz: 6, memsz: 0x1000}
	with := func(f func(*image)) []byte {
		im := load(seg)
		f(&im)
		return im.bytes()
	}
	withSeg := func(f func(*phdr)) []byte {
		p := seg
		f(&p)
		return load(p).bytes()
	}
	for _, tc := range []struct {
		name    string
		img     []byte
		mem     uint64
		want    error
		message string
	}{
		{"empty file", nil, 0, ErrNotELF, "magic"},
		{"PE image", []byte("MZ\x90\x00 this is not ELF"), 0, ErrNotELF, "magic"},
		{"script", []byte("#!/bin/sh\necho hi\n"), 0, ErrNotELF, "magic"},
		{"magic only", []byte("\x7fELF"), 0, ErrTruncated, "shorter than an ELF64 header"},
		{"header cut short", simpleImage().bytes()[:40], 0, ErrTruncated, "40 bytes"},
		{"ELF32", with(func(im *image) { im.class = 1 }), 0, ErrNotELF64, "ELFCLASS32"},
		{"class none", with(func(im *image) { im.class = 0 }), 0, ErrNotELF64, "ELFCLASSNONE"},
		{"big-endian", with(func(im *image) { im.data = 2 }), 0, ErrNotX86_64, "ELFDATA2MSB"},
		{"i386", with(func(im *image) { im.machine = 3 }), 0, ErrNotX86_64, "EM_386"},
		{"aarch64", with(func(im *image) { im.machine = 183 }), 0, ErrNotX86_64, "EM_AARCH64"},
		{"shared object", with(func(im *image) { im.typ = 3 }), 0, ErrNotExec, "ET_DYN"},
		{"relocatable", with(func(im *image) { im.typ = 1 }), 0, ErrNotExec, "ET_REL"},
		{"core", with(func(im *image) { im.typ = 4 }), 0, ErrNotExec, "ET_CORE"},
		{"bad phentsize", with(func(im *image) { im.phentsize = 32 }), 0, ErrMalformed, ""},
		{"phdrs past end of file", with(func(im *image) { im.phoff = 0x100000 }), 0, ErrMalformed, ""},
		{"file cut inside segment", with(func(im *image) { im.truncate = 0x1003 }), 0, ErrTruncated, "PT_LOAD 0"},
		{"segment offset past end", withSeg(func(p *phdr) { p.off = 0x9000 }), 0, ErrTruncated, "PT_LOAD 0"},
		{"offset+filesz overflows", withSeg(func(p *phdr) { p.off = 0x1000; p.filesz = ^uint64(0) - 0x10; p.memsz = ^uint64(0) }), 0, ErrMalformed, "file size"},
		{"filesz > memsz", withSeg(func(p *phdr) { p.memsz = 2 }), 0, ErrMalformed, "p_filesz 0x6 > p_memsz 0x2"},
		{"no PT_LOAD", withSeg(func(p *phdr) { p.typ = 4 /* PT_NOTE */ }), 0, ErrNoLoad, ""},
		{"empty PT_LOAD only", withSeg(func(p *phdr) { p.filesz, p.memsz = 0, 0 }), 0, ErrNoLoad, ""},
		{"beyond guest memory", withSeg(func(p *phdr) { p.paddr, p.vaddr = 0x2000000, 0x2000000 }), 0, ErrPlacement, "outside guest memory (0x1000000 bytes)"},
		{"straddles end of memory", withSeg(func(p *phdr) { p.paddr, p.vaddr = 0xfff800, 0xfff800 }), 0, ErrPlacement, "outside guest memory"},
		{"bss beyond memory", withSeg(func(p *phdr) { p.memsz = 0x1000000 }), 0, ErrPlacement, "outside guest memory"},
		{"over the page tables", withSeg(func(p *phdr) { p.paddr, p.vaddr = 0x3000, 0x3000 }), 0, ErrPlacement, "overlaps the loader's pages"},
		{"at address 0", withSeg(func(p *phdr) { p.paddr, p.vaddr = 0, 0 }), 0, ErrPlacement, "overlaps the loader's pages"},
		{"ends in the GDT page", withSeg(func(p *phdr) { p.paddr, p.vaddr = 0x5fff, 0x5fff }), 0, ErrPlacement, "overlaps the loader's pages"},
		{"paddr+memsz wraps", withSeg(func(p *phdr) { p.paddr, p.vaddr = ^uint64(0)-0x10, ^uint64(0)-0x10 }), 0, ErrPlacement, "p_vaddr&0x7fffffff 0x7fffffef"},
		{"memory smaller than loader area", simpleImage().bytes(), 0x5000, ErrMemTooSmall, "0x5000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := tc.mem
			if mem == 0 {
				mem = 16 << 20
			}
			v := newFakeVM(mem, 0)
			_, err := LoadELF64(v, tc.img, mem)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("err = %q, want it to mention %q", err, tc.message)
			}
			if len(v.writes) != 0 || len(v.calls) != 0 {
				t.Errorf("a rejected image changed the VM: %d writes, %d register calls", len(v.writes), len(v.calls))
			}
		})
	}
}

// A failing Target call stops the load and is reported, wrapped.
func TestLoadTargetErrors(t *testing.T) {
	for _, fail := range []string{"write 0x100000", "write 0x100006", "write 0x2000", "write 0x5000",
		"reg 0 15", "desc 0 23", "reg 0 20", "desc 0 31", "reg 0 19"} {
		v := newFakeVM(16<<20, 0)
		v.failAt = fail
		_, err := LoadELF64(v, simpleImage().bytes(), 16<<20)
		if err == nil {
			t.Errorf("Target failing at %q: no error", fail)
			continue
		}
		if !errors.Is(err, abi.EFAULT) && !errors.Is(err, abi.EINVAL) {
			t.Errorf("Target failing at %q: err %v does not wrap the Target's errno", fail, err)
		}
	}
}
