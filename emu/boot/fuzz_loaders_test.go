package boot

import (
	"bytes"
	"testing"
)

// writesInRAM fails t unless every write v saw lies in RAM of MemoryMap(mem).
func writesInRAM(t *testing.T, v *fakeVM, mem uint64) {
	t.Helper()
	mm := MemoryMap(mem)
	for _, w := range v.writes {
		if w.n == 0 {
			continue
		}
		if !usable(mm, w.gpa, w.n) {
			t.Fatalf("write [%#x, %#x) outside guest RAM (%#x bytes)", w.gpa, w.gpa+w.n, mem)
		}
	}
}

// FuzzLoadMultiboot: no image panics the loader, and an accepted one
// writes only guest RAM. Run with: go test -fuzz=FuzzLoadMultiboot ./emu/boot
func FuzzLoadMultiboot(f *testing.F) {
	aout := append(bytes.Repeat([]byte{0x90}, 16), mbHeader(0x00010003, 0x100010, 0x100000, 0, 0x102000, 0x100004)...)
	f.Add(aout, uint64(64<<20), "cmd")
	f.Add(elf32(0x200000, 0x20000c, append(mbHeader(0x3, 0, 0, 0, 0, 0)[:12], 0xf4), 0x3000), uint64(32<<20), "")
	f.Add(mbHeader(0x00010000, 0xffffffff, 0, 0xffffffff, 0xffffffff, 0), uint64(5<<30), "x")
	f.Fuzz(func(t *testing.T, img []byte, mem uint64, cmdline string) {
		mem %= 8 << 30
		v := newFakeVM(mem, 0)
		if _, err := LoadMultiboot(v, img, mem, MultibootOptions{Cmdline: cmdline, Modules: []Module{{Data: img[:min(len(img), 64)]}}}); err != nil {
			return
		}
		writesInRAM(t, v, mem)
	})
}

// FuzzLoadLinux: the same for bzImages.
func FuzzLoadLinux(f *testing.F) {
	f.Add(fakeBzImage(0x020f, 0x03, []byte("kernel")), uint64(128<<20), "console=ttyS0", []byte("initrd"))
	f.Add(fakeBzImage(0x020c, 0x01, []byte("k")), uint64(5<<30), "", []byte(nil))
	f.Fuzz(func(t *testing.T, img []byte, mem uint64, cmdline string, initrd []byte) {
		mem %= 8 << 30
		v := newFakeVM(mem, 0)
		if _, err := LoadLinux(v, img, mem, LinuxOptions{Cmdline: cmdline, Initrd: initrd}); err != nil {
			return
		}
		writesInRAM(t, v, mem)
	})
}
