package userdev

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// QEMU's isa-debugcon: iobase 0x402 on PCs, readback 0xe9.
func TestDebugcon(t *testing.T) {
	var out bytes.Buffer
	var b PortBus
	if err := b.Register(0x402, 1, NewDebugcon(&out)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []byte("SeaBIOS\n\x00\xff") {
		if _, ok := b.Dispatch(0x402, 1, false, uint32(c)|0xab00); !ok {
			t.Fatal("OUT 0x402 not handled")
		}
	}
	if got := out.String(); got != "SeaBIOS\n\x00\xff" {
		t.Errorf("debugcon wrote %q", got)
	}
	if v, ok := b.Dispatch(0x402, 1, true, 0); !ok || v != 0xe9 {
		t.Errorf("IN 0x402 = %#x, %v; want 0xe9 (QEMU's readback)", v, ok)
	}
}

func TestPOST(t *testing.T) {
	var seen []uint8
	p := NewPOST(func(c uint8) { seen = append(seen, c) })
	var b PortBus
	if err := b.Register(0x80, 1, p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []uint32{0x01, 0x55, 0xaa, 0x1ff} {
		b.Dispatch(0x80, 1, false, c)
	}
	if got := p.Codes(); !bytes.Equal(got, []byte{0x01, 0x55, 0xaa, 0xff}) {
		t.Errorf("codes %x", got)
	}
	if c, n := p.Last(); c != 0xff || n != 4 {
		t.Errorf("Last = %#x, %d; want 0xff, 4", c, n)
	}
	if len(seen) != 4 {
		t.Errorf("notify saw %d codes, want 4", len(seen))
	}
	if v, _ := b.Dispatch(0x80, 1, true, 0); v != 0xff {
		t.Errorf("IN 0x80 = %#x, want 0xff (QEMU's PC)", v)
	}
	for i := 0; i < POSTKeep+10; i++ {
		p.Out(0, 1, 7)
	}
	if len(p.Codes()) != POSTKeep {
		t.Errorf("kept %d codes, want the bound %d", len(p.Codes()), POSTKeep)
	}
	if _, n := p.Last(); n != POSTKeep+14 {
		t.Errorf("write count %d", n)
	}
}

// fwCfgRead selects key with a 16-bit OUT to 0x510 and reads n bytes from
// 0x511, the way SeaBIOS and Linux's qemu_fw_cfg driver do on x86.
func fwCfgRead(t *testing.T, b *PortBus, key uint16, n int) []byte {
	t.Helper()
	if _, ok := b.Dispatch(0x510, 2, false, uint32(key)); !ok {
		t.Fatal("OUTW 0x510 not handled")
	}
	out := make([]byte, n)
	for i := range out {
		v, ok := b.Dispatch(0x511, 1, true, 0)
		if !ok {
			t.Fatal("INB 0x511 not handled")
		}
		out[i] = byte(v)
	}
	return out
}

func TestFwCfgWellKnownItems(t *testing.T) {
	f := NewFwCfg(FwCfgConfig{CPUs: 4, RAMSize: 256 << 20, Cmdline: "console=ttyS0"})
	var b PortBus
	if err := b.Register(0x510, 2, f); err != nil {
		t.Fatal(err)
	}
	if got := fwCfgRead(t, &b, 0x0000, 4); string(got) != "QEMU" {
		t.Errorf("signature (key 0) = %q, want \"QEMU\"", got)
	}
	if got := fwCfgRead(t, &b, 0x0001, 4); binary.LittleEndian.Uint32(got) != 1 {
		t.Errorf("FW_CFG_ID = %x, want 1 (traditional interface, no DMA)", got)
	}
	if got := fwCfgRead(t, &b, 0x0005, 2); binary.LittleEndian.Uint16(got) != 4 {
		t.Errorf("FW_CFG_NB_CPUS = %x, want 4", got)
	}
	if got := fwCfgRead(t, &b, 0x000f, 2); binary.LittleEndian.Uint16(got) != 4 {
		t.Errorf("FW_CFG_MAX_CPUS = %x, want 4", got)
	}
	if got := fwCfgRead(t, &b, 0x0003, 8); binary.LittleEndian.Uint64(got) != 256<<20 {
		t.Errorf("FW_CFG_RAM_SIZE = %x, want 256 MiB", got)
	}
	if got := fwCfgRead(t, &b, 0x0014, 4); binary.LittleEndian.Uint32(got) != 14 {
		t.Errorf("FW_CFG_CMDLINE_SIZE = %x, want 14 (13 characters and the NUL)", got)
	}
	if got := fwCfgRead(t, &b, 0x0015, 16); string(got) != "console=ttyS0\x00\x00\x00" {
		t.Errorf("FW_CFG_CMDLINE_DATA = %q, want the line, its NUL, then zeros past the end", got)
	}
	// Reselecting rewinds; the write-channel bit selects the same item.
	fwCfgRead(t, &b, 0x0000, 2)
	if got := fwCfgRead(t, &b, 0x4000, 4); string(got) != "QEMU" {
		t.Errorf("key 0x4000 = %q, want \"QEMU\" from offset 0", got)
	}
	if got := fwCfgRead(t, &b, 0x1234, 4); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Errorf("unknown key reads %x, want zeros", got)
	}
	// Byte OUTs are dropped data writes: they neither select nor advance.
	fwCfgRead(t, &b, 0x0000, 1)
	b.Dispatch(0x511, 1, false, 0x55)
	b.Dispatch(0x510, 1, false, 0x05)
	if v, _ := b.Dispatch(0x511, 1, true, 0); v != 'E' {
		t.Errorf("after byte OUTs read %#x, want 'E' (second signature byte)", v)
	}
	if v, _ := b.Dispatch(0x510, 1, true, 0); v != 'M' {
		t.Errorf("INB 0x510 = %#x, want 'M' (either port reads data)", v)
	}
	if v, _ := b.Dispatch(0x510, 2, true, 0); v != 0xffff {
		t.Errorf("INW 0x510 = %#x, want 0xffff (not a valid access)", v)
	}
}

func TestFwCfgNoCmdline(t *testing.T) {
	f := NewFwCfg(FwCfgConfig{CPUs: 1, RAMSize: 1 << 30})
	var b PortBus
	b.Register(0x510, 2, f)
	if got := fwCfgRead(t, &b, 0x0015, 1); got[0] != 0 {
		t.Errorf("cmdline data without a command line = %x, want 0", got)
	}
}

func TestFwCfgFileDirectory(t *testing.T) {
	f := NewFwCfg(FwCfgConfig{CPUs: 1})
	var b PortBus
	b.Register(0x510, 2, f)
	if got := fwCfgRead(t, &b, 0x0019, 4); binary.BigEndian.Uint32(got) != 0 {
		t.Errorf("empty directory count = %x", got)
	}
	for _, fl := range []struct{ name, data string }{
		{"opt/softvmm/zeta", "last"},
		{"etc/e820", "0123456789abcdefghij"},
		{"opt/softvmm/alpha", "a"},
	} {
		if err := f.AddFile(fl.name, []byte(fl.data)); err != nil {
			t.Fatal(err)
		}
	}
	f.AddFile("opt/softvmm/alpha", []byte("replaced"))
	dir := fwCfgRead(t, &b, 0x0019, 4+3*64)
	if n := binary.BigEndian.Uint32(dir); n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
	want := []struct {
		name string
		size uint32
		key  uint16
		data string
	}{
		{"etc/e820", 20, 0x20, "0123456789abcdefghij"},
		{"opt/softvmm/alpha", 8, 0x21, "replaced"},
		{"opt/softvmm/zeta", 4, 0x22, "last"},
	}
	for i, w := range want {
		e := dir[4+64*i : 4+64*(i+1)]
		name := string(e[8:])
		name = name[:strings.IndexByte(name, 0)]
		if size, key, res := binary.BigEndian.Uint32(e), binary.BigEndian.Uint16(e[4:]), binary.BigEndian.Uint16(e[6:]); name != w.name || size != w.size || key != w.key || res != 0 {
			t.Errorf("entry %d = %q size %d key %#x reserved %d; want %q %d %#x 0 (sorted by name)", i, name, size, key, res, w.name, w.size, w.key)
		}
		if got := fwCfgRead(t, &b, w.key, len(w.data)); string(got) != w.data {
			t.Errorf("file %s reads %q, want %q", w.name, got, w.data)
		}
	}
	if err := f.AddFile(strings.Repeat("x", 56), nil); err == nil {
		t.Error("a 56-byte name was accepted (no room for the NUL)")
	}
	if err := f.SetItem(0x19, nil); err == nil {
		t.Error("SetItem replaced the file directory")
	}
	if err := f.SetItem(0x8003, []byte{1}); err != nil {
		t.Errorf("SetItem of an arch-local key: %v", err)
	}
	if got := fwCfgRead(t, &b, 0x8003, 1); got[0] != 1 {
		t.Errorf("arch-local item reads %x", got)
	}
}

func pciBus(t *testing.T) (*PortBus, *PCIConfig) {
	t.Helper()
	p := NewPCIConfig()
	var b PortBus
	if err := b.Register(0xcf8, 4, p.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(0xcfc, 4, p.Data()); err != nil {
		t.Fatal(err)
	}
	return &b, p
}

// pciRead reads config space of bus/dev/fn at reg through mechanism #1.
func pciRead(b *PortBus, bus, dev, fn, reg uint32, size int) uint32 {
	b.Dispatch(0xcf8, 4, false, 0x80000000|bus<<16|dev<<11|fn<<8|reg&0xfc)
	v, _ := b.Dispatch(0xcfc+uint16(reg&3), size, true, 0)
	return v
}

func pciWrite(b *PortBus, bus, dev, fn, reg uint32, size int, v uint32) {
	b.Dispatch(0xcf8, 4, false, 0x80000000|bus<<16|dev<<11|fn<<8|reg&0xfc)
	b.Dispatch(0xcfc+uint16(reg&3), size, false, v)
}

func TestPCIHostBridge(t *testing.T) {
	b, _ := pciBus(t)
	for _, tc := range []struct {
		what string
		reg  uint32
		size int
		want uint32
	}{
		{"vendor/device (NetApp 1275:1275, bhyve's hostbridge)", 0x00, 4, 0x12751275},
		{"vendor", 0x00, 2, 0x1275},
		{"device", 0x02, 2, 0x1275},
		{"class/subclass/progif/revision (06 00: host bridge)", 0x08, 4, 0x06000000},
		{"class byte", 0x0b, 1, 0x06},
		{"header type 0", 0x0e, 1, 0x00},
		{"status: capability list", 0x06, 2, 0x0010},
		{"capabilities pointer", 0x34, 1, 0x40},
		{"PCIe capability: ID 0x10, next 0, version 2 root port", 0x40, 4, 0x00420010},
		{"PCIe link capabilities", 0x4c, 4, 0x411},
		{"PCIe link status (upper half of 0x50)", 0x50, 4, 0x00110000},
		{"BAR0 (none)", 0x10, 4, 0},
	} {
		if got := pciRead(b, 0, 0, 0, tc.reg, tc.size); got != tc.want {
			t.Errorf("00:00.0 %s at %#x/%d = %#x, want %#x", tc.what, tc.reg, tc.size, got, tc.want)
		}
	}
	// Nothing else on the bus answers.
	for _, bdf := range [][3]uint32{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}, {0, 31, 7}, {255, 0, 0}} {
		if got := pciRead(b, bdf[0], bdf[1], bdf[2], 0, 4); got != 0xffffffff {
			t.Errorf("%02x:%02x.%d vendor/device = %#x, want 0xffffffff (master abort)", bdf[0], bdf[1], bdf[2], got)
		}
	}
	// Enable bit clear: no config cycle.
	b.Dispatch(0xcf8, 4, false, 0x00000000)
	if v, _ := b.Dispatch(0xcfc, 4, true, 0); v != 0xffffffff {
		t.Errorf("data with enable clear = %#x, want all ones", v)
	}
}

func TestPCIConfigWrites(t *testing.T) {
	b, _ := pciBus(t)
	pciWrite(b, 0, 0, 0, 0x00, 4, 0xdeadbeef) // vendor/device are read-only
	if got := pciRead(b, 0, 0, 0, 0, 4); got != 0x12751275 {
		t.Errorf("vendor/device after a write = %#x", got)
	}
	pciWrite(b, 0, 0, 0, 0x04, 2, 0xffff)
	if got := pciRead(b, 0, 0, 0, 0x04, 2); got != 0x0007 {
		t.Errorf("command after writing 0xffff = %#x, want 0x0007 (I/O, memory, bus master)", got)
	}
	pciWrite(b, 0, 0, 0, 0x3c, 1, 0x0b)
	if got := pciRead(b, 0, 0, 0, 0x3c, 1); got != 0x0b {
		t.Errorf("interrupt line = %#x, want 0x0b", got)
	}
	pciWrite(b, 0, 0, 0, 0x10, 4, 0xffffffff) // BAR sizing: no BAR
	if got := pciRead(b, 0, 0, 0, 0x10, 4); got != 0 {
		t.Errorf("BAR0 after sizing write = %#x, want 0", got)
	}
	pciWrite(b, 0, 0, 0, 0x40, 4, 0xffffffff) // capability ID/next/capabilities stay
	if got := pciRead(b, 0, 0, 0, 0x40, 4); got != 0x00420010 {
		t.Errorf("PCIe capability header after a write = %#x", got)
	}
	pciWrite(b, 0, 0, 0, 0x48, 2, 0x2810) // device control
	if got := pciRead(b, 0, 0, 0, 0x48, 2); got != 0x2810 {
		t.Errorf("PCIe device control = %#x, want 0x2810", got)
	}
}

// Linux's pci_check_type1 writes 0x01 to 0xCFB with a byte OUT, then
// 0x80000000 to 0xCF8 with a dword OUT and expects to read it back.
func TestPCIAddressRegister(t *testing.T) {
	b, _ := pciBus(t)
	b.Dispatch(0xcfb, 1, false, 0x01)
	b.Dispatch(0xcf8, 4, false, 0x80000000)
	if v, _ := b.Dispatch(0xcf8, 4, true, 0); v != 0x80000000 {
		t.Errorf("CF8 readback = %#x, want 0x80000000", v)
	}
	b.Dispatch(0xcf8, 4, false, 0xffffffff)
	if v, _ := b.Dispatch(0xcf8, 4, true, 0); v != 0x80fffffc {
		t.Errorf("CF8 after writing all ones = %#x, want 0x80fffffc (reserved bits 30:24 and 1:0 read 0)", v)
	}
	for _, size := range []int{1, 2} {
		if v, _ := b.Dispatch(0xcf8, size, true, 0); v != sizeMask(size) {
			t.Errorf("IN%d 0xCF8 = %#x, want all ones (bhyve takes only dword accesses)", size*8, v)
		}
	}
	b.Dispatch(0xcf8, 2, false, 0)
	if v, _ := b.Dispatch(0xcf8, 4, true, 0); v != 0x80fffffc {
		t.Errorf("a word OUT changed CF8 to %#x", v)
	}
}

// ACPI 6.x §4.8.3: SLP_TYP is PM1_CNT bits 12:10, SLP_EN bit 13.
func TestACPIPMPowerOff(t *testing.T) {
	var sleeps []int
	p := NewACPIPM(func(typ int) { sleeps = append(sleeps, typ) })
	var b PortBus
	if err := b.Register(0x600, 6, p); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.Dispatch(0x604, 2, true, 0); v != 0x0001 {
		t.Errorf("PM1_CNT = %#x, want 0x0001 (SCI_EN: always in ACPI mode)", v)
	}
	if v, _ := b.Dispatch(0x600, 2, true, 0); v != 0 {
		t.Errorf("PM1_STS = %#x, want 0", v)
	}
	b.Dispatch(0x602, 2, false, 0xffff)
	if v, _ := b.Dispatch(0x602, 2, true, 0); v != 0x4721 {
		t.Errorf("PM1_EN after writing 0xffff = %#x, want 0x4721 (defined enable bits)", v)
	}
	b.Dispatch(0x604, 2, false, 5<<10) // SLP_TYP without SLP_EN: nothing yet
	if len(sleeps) != 0 {
		t.Fatalf("sleep without SLP_EN: %v", sleeps)
	}
	if v, _ := b.Dispatch(0x604, 2, true, 0); v != 0x1401 {
		t.Errorf("PM1_CNT = %#x, want 0x1401", v)
	}
	b.Dispatch(0x604, 2, false, 5<<10|1<<13) // what Linux's acpi_enter_sleep_state(5) writes
	if len(sleeps) != 1 || sleeps[0] != 5 {
		t.Errorf("sleep requests %v, want [5]", sleeps)
	}
	if v, _ := b.Dispatch(0x604, 2, true, 0); v&0x2000 != 0 {
		t.Errorf("SLP_EN reads back set: %#x", v)
	}
	b.Dispatch(0x605, 1, false, 0x20|1<<2) // byte write: SLP_EN with SLP_TYP 1
	if len(sleeps) != 2 || sleeps[1] != 1 {
		t.Errorf("byte write at 0x605: sleep requests %v, want [5 1]", sleeps)
	}
}

func TestPCIResetControl(t *testing.T) {
	b, p := pciBus(t)
	var resets []bool
	p.OnReset = func(hard bool) { resets = append(resets, hard) }
	b.Dispatch(0xcf9, 1, false, 0x02) // SYS_RST alone selects, does not reset
	if len(resets) != 0 {
		t.Fatal("reset without RST_CPU")
	}
	b.Dispatch(0xcf9, 1, false, 0x06) // the FADT's reset value
	if len(resets) != 1 || !resets[0] {
		t.Errorf("resets %v, want [true] (hard)", resets)
	}
	if v, _ := b.Dispatch(0xcf9, 1, true, 0); v != 0x06 {
		t.Errorf("IN 0xCF9 = %#x, want 0x06", v)
	}
	b.Dispatch(0xcf8, 4, false, 0x80000000)
	if v, _ := b.Dispatch(0xcf8, 4, true, 0); v != 0x80000000 {
		t.Errorf("CF8 after a CF9 write = %#x", v)
	}
}
