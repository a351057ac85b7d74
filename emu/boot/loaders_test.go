package boot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"softvmm/emu/abi"
)

var le = binary.LittleEndian

// Values below are written out from the Multiboot Specification 0.6.96,
// Linux's Documentation/arch/x86/boot.rst and zero-page.rst, and
// reference/vmm-interface.md §14.3, not taken from this package's
// constants.

// mbHeader is a multiboot header with the a.out address fields.
func mbHeader(flags, headerAddr, loadAddr, loadEnd, bssEnd, entry uint32) []byte {
	h := make([]byte, 32)
	le.PutUint32(h, 0x1badb002)
	le.PutUint32(h[4:], flags)
	le.PutUint32(h[8:], -(0x1badb002 + flags))
	le.PutUint32(h[12:], headerAddr)
	le.PutUint32(h[16:], loadAddr)
	le.PutUint32(h[20:], loadEnd)
	le.PutUint32(h[24:], bssEnd)
	le.PutUint32(h[28:], entry)
	return h
}

func TestMultibootAoutKludge(t *testing.T) {
	// 16 bytes of code, then the header at file offset 16, loaded at
	// 1 MiB: header_addr = 0x100010.
	img := append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010003, 0x100010, 0x100000, 0, 0x102000, 0x100004)...)
	img = append(img, []byte("payload")...)
	v := newFakeVM(64<<20, 64<<20)
	info, err := LoadMultiboot(v, img, 64<<20, MultibootOptions{
		Cmdline: "kernel.elf console=com1",
		Modules: []Module{{Data: []byte("module one"), Cmdline: "mod1 arg"}, {Data: []byte("2"), Cmdline: "mod2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.mem[0x100000:0x100000+uint64(len(img))], img) {
		t.Error("the file is not at load_addr")
	}
	for i := 0x100000 + len(img); i < 0x102000; i++ {
		if v.mem[i] != 0 {
			t.Fatalf("bss byte %#x = %#x, want 0", i, v.mem[i])
		}
	}
	// Machine state, Multiboot §3.2.
	for _, r := range []struct {
		reg  int32
		want uint64
	}{
		{abi.VM_REG_GUEST_RAX, 0x2badb002},
		{abi.VM_REG_GUEST_RBX, info.InfoGPA},
		{abi.VM_REG_GUEST_RIP, 0x100004},
		{abi.VM_REG_GUEST_EFER, 0},
		{abi.VM_REG_GUEST_CR4, 0},
	} {
		if got := v.regs[r.reg]; got != r.want {
			t.Errorf("%s = %#x, want %#x", abi.RegName(r.reg), got, r.want)
		}
	}
	if cr0 := v.regs[abi.VM_REG_GUEST_CR0]; cr0&1 == 0 || cr0&0x80000000 != 0 {
		t.Errorf("CR0 = %#x: want PE set, PG clear", cr0)
	}
	if rf := v.regs[abi.VM_REG_GUEST_RFLAGS]; rf&0x200 != 0 || rf&0x20000 != 0 {
		t.Errorf("RFLAGS = %#x: IF and VM must be clear", rf)
	}
	for _, seg := range []int32{abi.VM_REG_GUEST_CS, abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS, abi.VM_REG_GUEST_SS} {
		d := v.descs[seg]
		wantType := uint32(0x3) // read/write data
		if seg == abi.VM_REG_GUEST_CS {
			wantType = 0xb // execute/read code
		}
		// offset 0, limit 0xFFFFFFFF, 32-bit (D/B 0x4000), present (0x80), S (0x10)
		if d.Base != 0 || d.Limit != 0xffffffff || d.Access&0x4000 == 0 || d.Access&0x90 != 0x90 || d.Access&0xf != wantType || d.Access&0x2000 != 0 {
			t.Errorf("%s desc %+v: want a flat 32-bit type-%#x segment", abi.RegName(seg), d, wantType)
		}
	}
	// The GDT the loader gives points at flat descriptors (SDM §3.4.5).
	g := v.descs[abi.VM_REG_GUEST_GDTR]
	if g.Limit != 23 || le.Uint64(v.mem[g.Base+8:]) != 0x00cf9b000000ffff || le.Uint64(v.mem[g.Base+16:]) != 0x00cf93000000ffff {
		t.Errorf("GDT at %#x limit %d: %x", g.Base, g.Limit, v.mem[g.Base:g.Base+24])
	}
	if v.regs[abi.VM_REG_GUEST_CS] != 0x08 || v.regs[abi.VM_REG_GUEST_DS] != 0x10 {
		t.Errorf("selectors CS %#x DS %#x, want 0x08 0x10 (matching the GDT)", v.regs[abi.VM_REG_GUEST_CS], v.regs[abi.VM_REG_GUEST_DS])
	}

	// The information structure, §3.3.
	mbi := v.mem[info.InfoGPA:]
	flags := le.Uint32(mbi)
	if want := uint32(1<<0 | 1<<2 | 1<<3 | 1<<6 | 1<<9); flags != want {
		t.Errorf("info flags %#x, want %#x (mem, cmdline, mods, mmap, loader name)", flags, want)
	}
	if lower, upper := le.Uint32(mbi[4:]), le.Uint32(mbi[8:]); lower != 639 || upper != (64<<20-1<<20)/1024 {
		t.Errorf("mem_lower %d mem_upper %d, want 639 and %d KiB", lower, upper, (64<<20-1<<20)/1024)
	}
	cstr := func(gpa uint32) string {
		s := v.mem[gpa:]
		return string(s[:bytes.IndexByte(s, 0)])
	}
	if got := cstr(le.Uint32(mbi[16:])); got != "kernel.elf console=com1" {
		t.Errorf("cmdline %q", got)
	}
	if got := cstr(le.Uint32(mbi[64:])); got != "softvmm" {
		t.Errorf("boot_loader_name %q", got)
	}
	if n, addr := le.Uint32(mbi[20:]), le.Uint32(mbi[24:]); n != 2 {
		t.Errorf("mods_count %d", n)
	} else {
		for i, want := range []struct{ data, cmd string }{{"module one", "mod1 arg"}, {"2", "mod2"}} {
			m := v.mem[addr+16*uint32(i):]
			start, end := le.Uint32(m), le.Uint32(m[4:])
			if start%4096 != 0 {
				t.Errorf("module %d at %#x: not page-aligned (header flag 0)", i, start)
			}
			if start < 0x102000 {
				t.Errorf("module %d at %#x overlaps the kernel", i, start)
			}
			if got := string(v.mem[start:end]); got != want.data {
				t.Errorf("module %d holds %q", i, got)
			}
			if got := cstr(le.Uint32(m[8:])); got != want.cmd {
				t.Errorf("module %d string %q", i, got)
			}
		}
	}
	mlen, maddr := le.Uint32(mbi[44:]), le.Uint32(mbi[48:])
	type ent struct {
		base, n uint64
		typ     uint32
	}
	var got []ent
	for off := maddr; off < maddr+mlen; {
		size := le.Uint32(v.mem[off:])
		got = append(got, ent{le.Uint64(v.mem[off+4:]), le.Uint64(v.mem[off+12:]), le.Uint32(v.mem[off+20:])})
		off += size + 4
	}
	want := []ent{{0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, 63 << 20, 1}}
	if len(got) != len(want) {
		t.Fatalf("mmap %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mmap entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if info.InfoGPA < 0x102000 {
		t.Errorf("info structure at %#x, inside the kernel", info.InfoGPA)
	}
}

// elf32 writes a minimal ELF32 i386 executable with one PT_LOAD.
func elf32(paddr, entry uint32, code []byte, memsz uint32) []byte {
	b := make([]byte, 52+32)
	copy(b, "\x7fELF\x01\x01\x01")
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], 3) // EM_386
	le.PutUint32(b[20:], 1) // EV_CURRENT
	le.PutUint32(b[24:], entry)
	le.PutUint32(b[28:], 52) // e_phoff
	le.PutUint16(b[40:], 52) // e_ehsize
	le.PutUint16(b[42:], 32) // e_phentsize
	le.PutUint16(b[44:], 1)  // e_phnum
	p := b[52:]
	le.PutUint32(p, 1) // PT_LOAD
	le.PutUint32(p[4:], 0x100)
	le.PutUint32(p[8:], paddr+0xc0000000) // vaddr differs: paddr must be used
	le.PutUint32(p[12:], paddr)
	le.PutUint32(p[16:], uint32(len(code)))
	le.PutUint32(p[20:], memsz)
	le.PutUint32(p[24:], 7)
	out := make([]byte, 0x100)
	copy(out, b)
	return append(out, code...)
}

func TestMultibootELF32(t *testing.T) {
	code := append(mbHeader(0x3, 0, 0, 0, 0, 0)[:12], 0xf4, 0xeb, 0xfe)
	img := elf32(0x200000, 0x20000c, code, 0x3000)
	if Detect(img) != KindMultiboot {
		t.Fatalf("Detect = %v, want multiboot", Detect(img))
	}
	v := newFakeVM(32<<20, 32<<20)
	info, err := LoadMultiboot(v, img, 32<<20, MultibootOptions{Cmdline: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.mem[0x200000:0x200000+len(code)], code) || v.mem[0x200000+len(code)] != 0 || v.regs[abi.VM_REG_GUEST_RIP] != 0x20000c {
		t.Errorf("ELF32 kernel not at p_paddr 0x200000 with entry 0x20000c")
	}
	if info.LoadEnd != 0x203000 || info.InfoGPA < 0x203000 {
		t.Errorf("load end %#x info at %#x", info.LoadEnd, info.InfoGPA)
	}
	if le.Uint32(v.mem[info.InfoGPA:])&(1<<3) != 0 {
		t.Error("mods flag set without modules")
	}
}

func TestMultibootErrors(t *testing.T) {
	good := append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010000, 0x100010, 0x100000, 0, 0, 0x100000)...)
	for _, tc := range []struct {
		name string
		img  []byte
		mem  uint64
		want error
		msg  string
	}{
		{"no header", bytes.Repeat([]byte{0}, 9000), 16 << 20, ErrNoMultiboot, ""},
		{"header past 8 KiB", append(make([]byte, 8192), mbHeader(0x10000, 0, 0, 0, 0, 0)...), 16 << 20, ErrNoMultiboot, ""},
		{"bad checksum", func() []byte { b := append([]byte(nil), good...); b[24]++; return b }(), 16 << 20, ErrNoMultiboot, ""},
		{"unknown required flag", append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010008, 0x100010, 0x100000, 0, 0, 0x100000)...), 16 << 20, ErrMultiboot, "bits 3-15"},
		{"not ELF without kludge", mbHeader(0, 0, 0, 0, 0, 0)[:12], 16 << 20, ErrMultiboot, "neither an ELF"},
		{"load before file start", append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010000, 0x100100, 0x100000, 0, 0, 0)...), 16 << 20, ErrMultiboot, "before the file"},
		{"load_end past file", append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010000, 0x100010, 0x100000, 0x200000, 0, 0)...), 16 << 20, ErrMultiboot, "the file has"},
		{"bss_end below image", append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010000, 0x100010, 0x100000, 0, 0x100001, 0)...), 16 << 20, ErrMultiboot, "bss_end_addr"},
		{"in the legacy hole", append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010000, 0xa0010, 0xa0000, 0, 0, 0)...), 16 << 20, ErrMultiboot, "not in guest RAM"},
		{"beyond RAM", good, 1 << 20, ErrMultiboot, "not in guest RAM"},
	} {
		_, err := LoadMultiboot(newFakeVM(tc.mem, 0), tc.img, tc.mem, MultibootOptions{})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v mentioning %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

// fakeBzImage is a bzImage with the setup header fields boot.rst defines
// and kernel bytes after one setup sector.
func fakeBzImage(version uint16, xload uint8, kernel []byte) []byte {
	b := make([]byte, 1024)
	b[0x1f1] = 1 // setup_sects
	le.PutUint16(b[0x1fe:], 0xaa55)
	b[0x200], b[0x201] = 0xeb, 0x6a // jmp; the header runs to 0x26c
	copy(b[0x202:], "HdrS")
	le.PutUint16(b[0x206:], version)
	b[0x211] = 0x01 // LOADED_HIGH
	le.PutUint32(b[0x214:], 0x100000)
	le.PutUint32(b[0x22c:], 0x7fffffff) // initrd_addr_max
	le.PutUint32(b[0x230:], 0x200000)   // kernel_alignment
	b[0x234] = 1                        // relocatable
	b[0x236] = xload
	le.PutUint32(b[0x238:], 2047) // cmdline_size
	le.PutUint64(b[0x258:], 0x1000000)
	le.PutUint32(b[0x260:], 0x400000) // init_size
	return append(b, kernel...)
}

func TestLinuxBootParams(t *testing.T) {
	kernel := []byte("startup_32 ..... then 0x200: startup_64")
	img := fakeBzImage(0x020f, 0x03, kernel)
	if Detect(img) != KindLinux {
		t.Fatalf("Detect = %v", Detect(img))
	}
	const mem = 128 << 20
	v := newFakeVM(mem, mem)
	initrd := bytes.Repeat([]byte("initrd!"), 1000)
	info, err := LoadLinux(v, img, mem, LinuxOptions{Cmdline: "console=ttyS0 panic=-1", Initrd: initrd, RSDP: 0xf0000})
	if err != nil {
		t.Fatal(err)
	}
	if info.LoadAddr != 0x1000000 || !bytes.Equal(v.mem[0x1000000:0x1000000+len(kernel)], kernel) {
		t.Errorf("kernel at %#x, want pref_address 0x1000000", info.LoadAddr)
	}
	zp := v.mem[v.regs[abi.VM_REG_GUEST_RSI]:]
	if !bytes.Equal(zp[0x1f1:0x202], img[0x1f1:0x202]) || string(zp[0x202:0x206]) != "HdrS" || le.Uint16(zp[0x206:]) != 0x020f {
		t.Error("the setup header was not copied into the zero page")
	}
	if zp[0x210] != 0xff {
		t.Errorf("type_of_loader = %#x, want 0xff", zp[0x210])
	}
	cl := le.Uint32(zp[0x228:])
	if got := string(v.mem[cl : cl+23]); got != "console=ttyS0 panic=-1\x00" {
		t.Errorf("cmd_line_ptr %#x → %q", cl, got)
	}
	ri, rs := le.Uint32(zp[0x218:]), le.Uint32(zp[0x21c:])
	if rs != uint32(len(initrd)) || ri%4096 != 0 || !bytes.Equal(v.mem[ri:ri+rs], initrd) || uint64(ri)+uint64(rs) > mem || ri < 0x1400000 {
		t.Errorf("initrd at %#x size %d: want page-aligned, above the kernel's init_size, inside RAM", ri, rs)
	}
	if got := le.Uint64(zp[0x070:]); got != 0xf0000 {
		t.Errorf("acpi_rsdp_addr = %#x", got)
	}
	n := int(zp[0x1e8])
	type ent struct {
		a, s uint64
		t    uint32
	}
	var got []ent
	for i := 0; i < n; i++ {
		e := zp[0x2d0+20*i:]
		got = append(got, ent{le.Uint64(e), le.Uint64(e[8:]), le.Uint32(e[16:])})
	}
	want := []ent{{0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, mem - 0x100000, 1}}
	if len(got) != len(want) {
		t.Fatalf("e820 %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("e820[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// 64-bit entry state (boot.rst, "64-bit Boot Protocol").
	if v.regs[abi.VM_REG_GUEST_RIP] != 0x1000200 {
		t.Errorf("RIP = %#x, want load address + 0x200", v.regs[abi.VM_REG_GUEST_RIP])
	}
	if v.regs[abi.VM_REG_GUEST_CS] != 0x10 || v.regs[abi.VM_REG_GUEST_DS] != 0x18 || v.regs[abi.VM_REG_GUEST_SS] != 0x18 || v.regs[abi.VM_REG_GUEST_ES] != 0x18 {
		t.Error("selectors are not __BOOT_CS 0x10 / __BOOT_DS 0x18")
	}
	if cs := v.descs[abi.VM_REG_GUEST_CS]; cs.Access&0x2000 == 0 || cs.Access&0x4000 != 0 {
		t.Errorf("CS access %#x: want L=1, D=0 (64-bit code)", cs.Access)
	}
	if cr0, efer, cr4 := v.regs[abi.VM_REG_GUEST_CR0], v.regs[abi.VM_REG_GUEST_EFER], v.regs[abi.VM_REG_GUEST_CR4]; cr0&0x80000001 != 0x80000001 || efer&0x500 != 0x500 || cr4&0x20 == 0 {
		t.Errorf("CR0 %#x EFER %#x CR4 %#x: want paging, long mode, PAE", cr0, efer, cr4)
	}
	if v.regs[abi.VM_REG_GUEST_RFLAGS]&0x200 != 0 {
		t.Error("interrupts enabled at entry")
	}
	g := v.descs[abi.VM_REG_GUEST_GDTR]
	if le.Uint64(v.mem[g.Base+0x10:]) != 0x00af9b000000ffff || le.Uint64(v.mem[g.Base+0x18:]) != 0x00cf93000000ffff {
		t.Errorf("GDT entries 2/3 = %#x %#x", le.Uint64(v.mem[g.Base+0x10:]), le.Uint64(v.mem[g.Base+0x18:]))
	}
	// The identity map covers the kernel, zero page, command line and
	// initrd: walk it by hand (SDM vol. 3 §4.5).
	walk := func(va uint64) (uint64, bool) {
		cr3 := v.regs[abi.VM_REG_GUEST_CR3]
		e := le.Uint64(v.mem[cr3+8*(va>>39&511):])
		if e&1 == 0 {
			return 0, false
		}
		e = le.Uint64(v.mem[e&^0xfff+8*(va>>30&511):])
		if e&1 == 0 {
			return 0, false
		}
		e = le.Uint64(v.mem[e&^0xfff+8*(va>>21&511):])
		if e&0x81 != 0x81 {
			return 0, false
		}
		return e&^0x1fffff | va&0x1fffff, true
	}
	for _, va := range []uint64{0, 0x8000, uint64(cl), 0x1000200, uint64(ri), 0x1000000 + 0x3fffff, 0xfec00000, 0xffffffff} {
		if pa, ok := walk(va); !ok || pa != va {
			t.Errorf("VA %#x maps to %#x (present %v), want identity", va, pa, ok)
		}
	}
}

func TestLinuxErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  []byte
		mem  uint64
		opt  LinuxOptions
		msg  string
	}{
		{"not a bzImage", make([]byte, 4096), 64 << 20, LinuxOptions{}, "no boot-protocol header"},
		{"old protocol", fakeBzImage(0x0206, 1, []byte("k")), 64 << 20, LinuxOptions{}, "2.12"},
		{"no 64-bit entry", fakeBzImage(0x020f, 0, []byte("k")), 64 << 20, LinuxOptions{}, "XLF_KERNEL_64"},
		{"too small for init_size", fakeBzImage(0x020f, 1, []byte("k")), 16 << 20, LinuxOptions{}, "init_size"},
		{"cmdline too long", fakeBzImage(0x020f, 1, []byte("k")), 64 << 20, LinuxOptions{Cmdline: strings.Repeat("x", 2048)}, "at most 2047"},
		{"initrd too big", fakeBzImage(0x020f, 1, []byte("k")), 32 << 20, LinuxOptions{Initrd: make([]byte, 20<<20)}, "initrd"},
		{"no kernel", fakeBzImage(0x020f, 1, nil), 64 << 20, LinuxOptions{}, "no kernel"},
	} {
		_, err := LoadLinux(newFakeVM(tc.mem, 0), tc.img, tc.mem, tc.opt)
		if !errors.Is(err, ErrLinux) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want ErrLinux mentioning %q", tc.name, err, tc.msg)
		}
	}
}

type fakeROMVM struct {
	*fakeVM
	rom []byte
}

func (f *fakeROMVM) MapBootROM(rom []byte) error { f.rom = append([]byte(nil), rom...); return nil }

// reference/vmm-interface.md §14.3, vcpu_reset.
func TestROMPowerOnState(t *testing.T) {
	rom := make([]byte, 64<<10)
	copy(rom[len(rom)-16:], []byte{0xea, 0x5b, 0xe0, 0x00, 0xf0}) // jmp far f000:e05b
	v := &fakeROMVM{fakeVM: newFakeVM(16<<20, 2<<20)}
	info, err := LoadROM(v, rom)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.rom, rom) || info.HighGPA != 0xffff0000 {
		t.Errorf("ROM mapped at %#x", info.HighGPA)
	}
	if info.LowGPA != 0xf0000 || !bytes.Equal(v.mem[0xffff0:0x100000], rom[len(rom)-16:]) {
		t.Errorf("low copy at %#x", info.LowGPA)
	}
	cs := v.descs[abi.VM_REG_GUEST_CS]
	if cs.Base != 0xffff0000 || cs.Limit != 0xffff || cs.Access != 0x93 || v.regs[abi.VM_REG_GUEST_CS] != 0xf000 {
		t.Errorf("CS = %#x %+v", v.regs[abi.VM_REG_GUEST_CS], cs)
	}
	if cs.Base+v.regs[abi.VM_REG_GUEST_RIP] != 0xfffffff0 {
		t.Errorf("first fetch at %#x, want the reset vector 0xfffffff0", cs.Base+v.regs[abi.VM_REG_GUEST_RIP])
	}
	for _, r := range []struct {
		reg  int32
		want uint64
	}{
		{abi.VM_REG_GUEST_RFLAGS, 2}, {abi.VM_REG_GUEST_RIP, 0xfff0}, {abi.VM_REG_GUEST_CR0, 0x20},
		{abi.VM_REG_GUEST_CR3, 0}, {abi.VM_REG_GUEST_CR4, 0}, {abi.VM_REG_GUEST_RDX, 0xf00}, {abi.VM_REG_GUEST_RSP, 0},
	} {
		if got, ok := v.regs[r.reg]; !ok || got != r.want {
			t.Errorf("%s = %#x (set %v), want %#x", abi.RegName(r.reg), got, ok, r.want)
		}
	}
	for _, seg := range []int32{abi.VM_REG_GUEST_SS, abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS} {
		if d := v.descs[seg]; d.Base != 0 || d.Limit != 0xffff || d.Access != 0x93 {
			t.Errorf("%s desc %+v", abi.RegName(seg), d)
		}
	}
	if d := v.descs[abi.VM_REG_GUEST_LDTR]; d.Limit != 0xffff || d.Access != 0x82 {
		t.Errorf("LDTR %+v", d)
	}
	if d := v.descs[abi.VM_REG_GUEST_TR]; d.Access != 0x8b {
		t.Errorf("TR %+v", d)
	}
	if _, touched := v.regs[abi.VM_REG_GUEST_EFER]; touched {
		t.Error("EFER set: vcpu_reset leaves it")
	}
	for _, n := range []int{0, 1000, 17 << 20} {
		if _, err := LoadROM(&fakeROMVM{fakeVM: newFakeVM(16<<20, 0)}, make([]byte, n)); !errors.Is(err, ErrROM) {
			t.Errorf("%d-byte ROM: err = %v", n, err)
		}
	}
}

// SeaBIOS, as Debian ships it for QEMU, is a ROM nobody here wrote: its
// reset vector must land where the loader puts it.
func TestROMSeaBIOS(t *testing.T) {
	rom, err := os.ReadFile("/usr/share/seabios/bios-256k.bin")
	if err != nil {
		t.Skip("SeaBIOS not installed (apt-get install seabios)")
	}
	v := &fakeROMVM{fakeVM: newFakeVM(16<<20, 2<<20)}
	info, err := LoadROM(v, rom)
	if err != nil {
		t.Fatal(err)
	}
	if info.HighGPA != 0xfffc0000 || info.LowGPA != 0xe0000 {
		t.Errorf("256 KiB ROM at %#x, low copy at %#x; want 0xfffc0000 and 0xe0000", info.HighGPA, info.LowGPA)
	}
	// The reset vector: the ROM's 16th-last byte, a far jump (0xEA) into
	// the F000 segment, in both copies.
	off := 0xfffffff0 - info.HighGPA
	if rom[off] != 0xea || le.Uint16(rom[off+3:]) != 0xf000 || v.mem[0xffff0] != 0xea {
		t.Errorf("reset vector bytes %x, low copy %x; want jmp far f000:xxxx", rom[off:off+5], v.mem[0xffff0:0xffff5])
	}
}

func TestRawModes(t *testing.T) {
	code := []byte{0xf4}
	v := newFakeVM(16<<20, 2<<20)
	if _, err := LoadRaw(v, code, 0x7c00, 16<<20, RawReal); err != nil {
		t.Fatal(err)
	}
	if v.mem[0x7c00] != 0xf4 || v.regs[abi.VM_REG_GUEST_CS] != 0 || v.regs[abi.VM_REG_GUEST_RIP] != 0x7c00 || v.descs[abi.VM_REG_GUEST_CS].Base != 0 || v.regs[abi.VM_REG_GUEST_CR0]&1 != 0 {
		t.Errorf("real-mode raw at 0x7c00: CS %#x IP %#x base %#x CR0 %#x", v.regs[abi.VM_REG_GUEST_CS], v.regs[abi.VM_REG_GUEST_RIP], v.descs[abi.VM_REG_GUEST_CS].Base, v.regs[abi.VM_REG_GUEST_CR0])
	}
	v = newFakeVM(16<<20, 2<<20)
	if _, err := LoadRaw(v, code, 0x12345, 16<<20, RawReal); err != nil {
		t.Fatal(err)
	}
	if v.regs[abi.VM_REG_GUEST_CS] != 0x1234 || v.regs[abi.VM_REG_GUEST_RIP] != 5 || v.descs[abi.VM_REG_GUEST_CS].Base != 0x12340 {
		t.Errorf("real-mode raw at 0x12345: CS %#x IP %#x", v.regs[abi.VM_REG_GUEST_CS], v.regs[abi.VM_REG_GUEST_RIP])
	}
	v = newFakeVM(16<<20, 2<<20)
	if _, err := LoadRaw(v, code, 0x100000, 16<<20, RawProtected); err != nil {
		t.Fatal(err)
	}
	if v.regs[abi.VM_REG_GUEST_RIP] != 0x100000 || v.regs[abi.VM_REG_GUEST_CR0]&0x80000001 != 1 || v.descs[abi.VM_REG_GUEST_CS].Access&0x4000 == 0 {
		t.Error("protected-mode raw state")
	}
	v = newFakeVM(16<<20, 2<<20)
	if _, err := LoadRaw(v, code, 0x100000, 16<<20, RawLong); err != nil {
		t.Fatal(err)
	}
	if v.regs[abi.VM_REG_GUEST_RIP] != 0x100000 || v.regs[abi.VM_REG_GUEST_EFER] != 0x500 || v.regs[abi.VM_REG_GUEST_CR3] != 0x2000 {
		t.Error("long-mode raw state is not bhyveload's")
	}
	for _, tc := range []struct {
		gpa  uint64
		mode RawMode
	}{{0x1000, RawLong}, {0xf0000, RawProtected}, {0xff000, RawReal}, {16 << 20, RawLong}, {0xffff8, RawReal}} {
		if _, err := LoadRaw(newFakeVM(16<<20, 0), make([]byte, 16), tc.gpa, 16<<20, tc.mode); !errors.Is(err, ErrRaw) {
			t.Errorf("raw at %#x mode %d: err = %v, want ErrRaw", tc.gpa, tc.mode, err)
		}
	}
	// RAM the entry state cannot reach (a 5 GiB guest has RAM there):
	// long mode's page tables map the first 1 GiB, flat 32-bit segments
	// 4 GiB; an address range that wraps is no range.
	for _, tc := range []struct {
		gpa  uint64
		mode RawMode
		why  string
	}{{1<<30 - 8, RawLong, "beyond the 1 GiB"}, {1 << 32, RawLong, "beyond the 1 GiB"}, {1 << 32, RawProtected, "beyond the 4 GiB"},
		{^uint64(0), RawLong, "past the end of the address space"}} {
		_, err := LoadRaw(newFakeVM(16<<20, 0), make([]byte, 16), tc.gpa, 5<<30, tc.mode)
		if !errors.Is(err, ErrRaw) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("raw at %#x mode %d: err = %v, want ErrRaw saying %q", tc.gpa, tc.mode, err, tc.why)
		}
	}
}

func TestDetect(t *testing.T) {
	if k := Detect(readTestdata(t, "demo.elf")); k != KindELF64 {
		t.Errorf("demo.elf: %v", k)
	}
	if k := Detect(make([]byte, 64<<10)); k != KindUnknown {
		t.Errorf("zeros: %v", k)
	}
	for _, s := range []string{"elf64", "multiboot", "linux", "rom", "raw"} {
		k, err := ParseKind(s)
		if err != nil || k.String() != s {
			t.Errorf("ParseKind(%q) = %v, %v", s, k, err)
		}
	}
	if _, err := ParseKind("unknown"); err == nil {
		t.Error("ParseKind(unknown) accepted")
	}
}

func TestMemoryMap(t *testing.T) {
	for _, tc := range []struct {
		mem  uint64
		want []E820Entry
	}{
		{256 << 20, []E820Entry{{0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, 255 << 20, 1}}},
		{5 << 30, []E820Entry{{0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, 3<<30 - 1<<20, 1}, {4 << 30, 2 << 30, 1}}},
		{0x8000, []E820Entry{{0, 0x8000, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}}},
	} {
		got := MemoryMap(tc.mem)
		if len(got) != len(tc.want) {
			t.Errorf("MemoryMap(%#x) = %+v", tc.mem, got)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("MemoryMap(%#x)[%d] = %+v, want %+v", tc.mem, i, got[i], tc.want[i])
			}
		}
	}
}

// Debian's kernel, when `make linux-boot` has fetched it (LINUX_CACHE,
// default ~/.cache/softvmm/linux): the loader accepts it, puts it at its
// preferred address, and the 64-bit entry (load + 0x200) is startup_64 of
// arch/x86/boot/compressed/head_64.S, which begins with cld; cli.
func TestLoadDebianKernel(t *testing.T) {
	dir := os.Getenv("LINUX_CACHE")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = home + "/.cache/softvmm/linux"
	}
	img, err := os.ReadFile(dir + "/vmlinuz")
	if err != nil {
		t.Skip("no Debian kernel fetched (make linux-fetch)")
	}
	const mem = 256 << 20
	v := newFakeVM(mem, mem)
	info, err := LoadLinux(v, img, mem, LinuxOptions{Cmdline: "console=ttyS0", Initrd: []byte("0707"), RSDP: 0xf0000})
	if err != nil {
		t.Fatal(err)
	}
	if info.Version < 0x020f || info.LoadAddr != 0x1000000 {
		t.Errorf("protocol %#x loaded at %#x", info.Version, info.LoadAddr)
	}
	if !bytes.Equal(v.mem[info.Entry:info.Entry+2], []byte{0xfc, 0xfa}) {
		t.Errorf("bytes at the 64-bit entry %#x: %x, want fc fa (cld; cli)", info.Entry, v.mem[info.Entry:info.Entry+2])
	}
}
