package boot

import (
	"testing"

	"softvmm/emu/abi"
)

// FuzzLoadELF64: no image may panic the loader, and an accepted image only
// writes guest RAM (§6.6 layout), with nothing but the loader's own pages
// below 0x6000. Run with: go test -fuzz=FuzzLoadELF64 ./emu/boot
func FuzzLoadELF64(f *testing.F) {
	// Small seeds: the fuzzing engine slows to a crawl on multi-KiB inputs
	// such as testdata/*.elf (TestLoadTestdataImages covers those). This one
	// has the same shape: text, then data with bss, payload right after the
	// program headers.
	two := twoSegmentImage()
	f.Add(two.bytes(), uint64(256<<20))
	kern := two
	kern.progs = append([]phdr(nil), two.progs...)
	kern.progs[0].paddr, kern.progs[0].vaddr = 0xffffffff80200000, 0xffffffff80200000
	f.Add(kern.bytes(), uint64(64<<20))
	f.Add(simpleImage().bytes(), uint64(16<<20))
	f.Add(simpleImage().bytes()[:100], uint64(16<<20))
	f.Add(simpleImage().bytes(), uint64(0x6000))
	f.Add(simpleImage().bytes(), uint64(5<<30))
	f.Fuzz(func(t *testing.T, img []byte, mem uint64) {
		mem %= 8 << 30
		v := newFakeVM(mem, 0)
		entry, err := LoadELF64(v, img, mem)
		if err != nil {
			if len(v.writes) != 0 || len(v.calls) != 0 {
				t.Fatalf("rejected image (%v) changed the VM", err)
			}
			return
		}
		low := min(mem, 3<<30)
		for _, w := range v.writes {
			end := w.gpa + w.n
			inLow := end >= w.gpa && end <= low
			inHigh := mem > 3<<30 && w.gpa >= 4<<30 && end >= w.gpa && end <= 4<<30+mem-3<<30
			if !inLow && !inHigh {
				t.Fatalf("write [%#x, %#x) outside %#x bytes of guest RAM", w.gpa, end, mem)
			}
		}
		// Segment writes come first, then the five boot pages.
		n := len(v.writes)
		for _, w := range v.writes[:n-5] {
			if w.gpa < 0x6000 {
				t.Fatalf("image write at %#x inside the loader's pages", w.gpa)
			}
		}
		if v.regs[abi.VM_REG_GUEST_RIP] != entry {
			t.Fatalf("RIP %#x != returned entry %#x", v.regs[abi.VM_REG_GUEST_RIP], entry)
		}
	})
}
