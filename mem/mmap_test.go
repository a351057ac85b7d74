package mem

import (
	"bytes"
	"math"
	"testing"

	"softvmm/emu/abi"
)

// adjacentLayout maps one segment as two adjacent mappings, contiguous in
// both gpa and segment offset: [0, 0x1000) off 0 and [0x1000, 0x2000) off
// 0x1000.
func adjacentLayout(t *testing.T) *Space {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 0x2000, true, ""))
	fill(t, s, 0, 0, 0x2000)
	must(t, s.MmapMemseg(0, 0, 0, 0x1000, rwx, 0))
	must(t, s.MmapMemseg(0x1000, 0, 0x1000, 0x1000, rwx, 0))
	return s
}

// TestMmap has one case per rule of mmap(2) on /dev/vmm/NAME
// (reference/vmm-interface.md §6.4), on rwLayout unless said otherwise.
func TestMmap(t *testing.T) {
	tests := []struct {
		name   string
		space  func(*testing.T) *Space
		off    int64
		size   int64
		prot   int
		err    error
		segid  int    // on success: the slice must alias this segment
		segoff uint64 // at this offset
	}{
		{"§6.4 PROT_EXEC", rwLayout, 0, 0x1000, abi.PROT_READ | abi.PROT_EXEC, abi.EINVAL, 0, 0},
		{"§6.4 PROT_EXEC alone", rwLayout, 0, 0x1000, abi.PROT_EXEC, abi.EINVAL, 0, 0},
		{"§6.4 offset < 0", rwLayout, -0x1000, 0x1000, rw, abi.EINVAL, 0, 0},
		{"§6.4 empty range", rwLayout, 0, 0, rw, abi.EINVAL, 0, 0},
		{"§6.4 negative size", rwLayout, 0x1000, -0x1000, rw, abi.EINVAL, 0, 0},
		{"§6.4 overflowing range", rwLayout, math.MaxInt64 - 0xfff, 0x2000, rw, abi.EINVAL, 0, 0},
		{"§6.4 EINVAL checks come before the walk (no memory)", func(t *testing.T) *Space { return newSpace(t) },
			0, 0x1000, rx, abi.EINVAL, 0, 0},
		{"§6.4 no mapping at all: ENOENT", func(t *testing.T) *Space { return newSpace(t) },
			0, 0x1000, rw, abi.ENOENT, 0, 0},
		{"§6.4 in a hole: ENOENT", rwLayout, 0x2000, 0x1000, rw, abi.ENOENT, 0, 0},
		{"§6.4 above every mapping: ENOENT", rwLayout, 0x100000, 0x1000, rw, abi.ENOENT, 0, 0},
		{"§6.4 from RAM into a hole: ENOENT", rwLayout, 0x1000, 0x2000, rw, abi.ENOENT, 0, 0},
		{"§6.4 across two adjacent mappings: ENOENT", adjacentLayout, 0x800, 0x1000, rw, abi.ENOENT, 0, 0},
		{"§6.4 devmem mapping: EINVAL", rwLayout, 0x6000, 0x1000, abi.PROT_READ, abi.EINVAL, 0, 0},
		{"§6.4 whole first mapping", rwLayout, 0, 0x2000, rw, nil, 0, 0},
		{"§6.4 second mapping: object offset segoff+(off-gpa)", rwLayout, 0x5000, 0x1000, rw, nil, 0, 0x3000},
		{"§6.4 read-only sysmem mapping, PROT_READ", rwLayout, 0xa000, 0x1000, abi.PROT_READ, nil, 2, 0},
		{"§6.4 second of two adjacent mappings", adjacentLayout, 0x1000, 0x1000, rw, nil, 0, 0x1000},
		{"unaligned window inside one mapping", rwLayout, 0x4010, 0x20, rw, nil, 0, 0x2010},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.space(t)
			b, err := s.Mmap(tc.off, tc.size, tc.prot)
			checkErr(t, "Mmap", err, tc.err)
			if err != nil {
				if b != nil {
					t.Fatal("slice returned with an error")
				}
				return
			}
			defer func() { must(t, Munmap(b)) }()
			if int64(len(b)) != tc.size {
				t.Fatalf("len = %#x, want %#x", len(b), tc.size)
			}
			if want := patRange(tc.segid, tc.segoff, tc.segoff+uint64(tc.size)); !bytes.Equal(b, want) {
				t.Fatal("slice does not show the segment at the expected offset")
			}
			// It aliases: a store through it lands in the segment.
			b[0] ^= 0xff
			if got := backing(s, tc.segid, tc.segoff, tc.segoff+1)[0]; got != b[0] {
				t.Fatal("store through the slice not seen in the segment")
			}
		})
	}
}

// TestMmapAliasing: a store through an Mmap slice is seen by ReadAt and
// through Page at once, and the other way round (DESIGN.md "Contracts:
// Memory", reference/vmm-interface.md §6.4).
func TestMmapAliasing(t *testing.T) {
	s := rwLayout(t)
	b, err := s.Mmap(0x4000, 0x2000, rw) // seg 0 [0x2000, 0x4000)
	must(t, err)
	defer func() { must(t, Munmap(b)) }()

	copy(b[0x1ff8:], "ALIASED!")
	got := make([]byte, 8)
	if n, err := s.ReadAt(got, 0x5ff8); n != 8 || err != nil || string(got) != "ALIASED!" {
		t.Fatalf("ReadAt after store through slice = %q, %d, %v", got, n, err)
	}
	pg, prot := s.Page(0x5ff8)
	if string(pg[0xff8:]) != "ALIASED!" || prot != rw {
		t.Fatalf("Page after store through slice = %q prot %d", pg[0xff8:], prot)
	}

	pg[0] = 'P'
	if b[0x1000] != 'P' {
		t.Fatal("store through Page not seen in the Mmap slice")
	}
	if _, err := s.WriteAt([]byte("W"), 0x4001); err != nil || b[1] != 'W' {
		t.Fatalf("WriteAt not seen in the Mmap slice: %v", err)
	}

	// The same segment mapped twice is one object: both gpas show a store.
	s2 := newSpace(t)
	must(t, s2.AllocMemseg(0, 0x2000, true, ""))
	must(t, s2.MmapMemseg(0, 0, 0, 0x2000, rwx, 0))
	must(t, s2.MmapMemseg(0x100000, 0, 0, 0x2000, rwx, 0))
	lo, err := s2.Mmap(0x10, 4, rw)
	must(t, err)
	defer func() { must(t, Munmap(lo)) }()
	copy(lo, "twin")
	hi := make([]byte, 4)
	if _, err := s2.ReadAt(hi, 0x100010); err != nil || string(hi) != "twin" {
		t.Fatalf("second mapping of the segment reads %q, %v", hi, err)
	}
}

// TestDevmemMmap has one case per rule of mmap(2) on /dev/vmm.io/VM.NAME
// (reference/vmm-interface.md §6.5). Segment 1 is devmem "rom", 0x2000
// bytes, mapped at gpa 0x6000 from offset 0x1000 (rwLayout).
func TestDevmemMmap(t *testing.T) {
	romOnly := func(t *testing.T) *Space {
		s := newSpace(t)
		must(t, s.AllocMemseg(1, 0x2000, false, "rom"))
		return s
	}
	tests := []struct {
		name  string
		segid int
		off   int64
		size  int64
		prot  int
		err   error
		space func(*testing.T) *Space // rwLayout if nil
	}{
		{"§6.5 node not ready: sysmem segment", 0, 0, 0x1000, abi.PROT_READ, abi.ENXIO, nil},
		{"§6.5 node not ready: unallocated segment", 2, 0, 0x1000, abi.PROT_READ, abi.ENXIO, romOnly},
		{"§6.5 node not ready: segid < 0", -1, 0, 0x1000, abi.PROT_READ, abi.ENXIO, nil},
		{"§6.5 node not ready: segid = VM_MAX_MEMSEGS", abi.VM_MAX_MEMSEGS, 0, 0x1000, abi.PROT_READ, abi.ENXIO, nil},
		{"§6.5 ENXIO before EINVAL", 0, -1, 0, abi.PROT_EXEC, abi.ENXIO, nil},
		{"§6.5 PROT_EXEC", 1, 0, 0x1000, abi.PROT_READ | abi.PROT_EXEC, abi.EINVAL, nil},
		{"§6.5 negative offset", 1, -0x1000, 0x2000, abi.PROT_READ, abi.EINVAL, nil},
		{"§6.5 empty range", 1, 0, 0, abi.PROT_READ, abi.EINVAL, nil},
		{"§6.5 overflowing range", 1, math.MaxInt64, 1, abi.PROT_READ, abi.EINVAL, nil},
		{"§6.5 offset+size > seg len", 1, 0x1000, 0x1001, abi.PROT_READ, abi.EINVAL, nil},
		{"§6.5 offset at seg len", 1, 0x2000, 0x1000, abi.PROT_READ, abi.EINVAL, nil},
		{"§6.5 offset+size = seg len", 1, 0x1000, 0x1000, abi.PROT_READ, nil, nil},
		{"§6.5 whole segment, offset is not a gpa", 1, 0, 0x2000, rw, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mk := tc.space
			if mk == nil {
				mk = rwLayout
			}
			s := mk(t)
			b, err := s.DevmemMmap(tc.segid, tc.off, tc.size, tc.prot)
			checkErr(t, "DevmemMmap", err, tc.err)
			if err != nil {
				return
			}
			defer func() { must(t, Munmap(b)) }()
			want := patRange(1, uint64(tc.off), uint64(tc.off+tc.size))
			if !bytes.Equal(b, want) {
				t.Fatal("slice does not show the segment at the offset")
			}
			// The rom is mapped at 0x6000 from segment offset 0x1000:
			// a store through the node shows in the guest's page.
			b[0x1000-tc.off] = 0x5a
			pg, prot := s.Page(0x6000)
			if pg[0] != 0x5a || prot != rx {
				t.Fatalf("Page(0x6000) = %#x prot %d after store through devmem node", pg[0], prot)
			}
		})
	}
}

// TestDevmemMmapUnmapped: a devmem segment can be filled through its node
// before it is mapped, as bhyve loads a boot ROM.
func TestDevmemMmapUnmapped(t *testing.T) {
	s := newSpace(t)
	must(t, s.AllocMemseg(1, 0x2000, false, "bootrom"))
	b, err := s.DevmemMmap(1, 0, 0x2000, rw)
	must(t, err)
	copy(b[0x1ff0:], "\xea\x5b\xe0\x00\xf0") // jmp far f000:e05b
	must(t, Munmap(b))
	must(t, s.MmapMemseg(0xfffff000, 1, 0x1000, 0x1000, rx, 0))
	pg, prot := s.Page(0xfffffff0)
	if !bytes.Equal(pg[0xff0:0xff5], []byte{0xea, 0x5b, 0xe0, 0x00, 0xf0}) || prot != rx {
		t.Fatalf("reset vector page = % x prot %d", pg[0xff0:0xff5], prot)
	}
}

// TestMunmap: slices from Mmap and DevmemMmap keep their segment alive
// across Free, as the user mapping's object reference does on FreeBSD, and
// Munmap drops that reference.
func TestMunmap(t *testing.T) {
	live := LiveBytes()
	s := NewSpace()
	must(t, s.AllocMemseg(0, 0x2000, true, ""))
	must(t, s.AllocMemseg(1, 0x1000, false, "rom"))
	must(t, s.MmapMemseg(0, 0, 0, 0x2000, rwx, 0))
	ram, err := s.Mmap(0x1000, 0x1000, rw)
	must(t, err)
	ram2, err := s.Mmap(0x1000, 0x1000, rw) // the same window twice
	must(t, err)
	rom, err := s.DevmemMmap(1, 0, 0x1000, rw)
	must(t, err)
	obj0, obj1 := s.load().segs[0].obj, s.load().segs[1].obj
	copy(ram, "kept")
	copy(rom, "also")

	if got := LiveBytes() - live; got != 0x3000 {
		t.Fatalf("LiveBytes grew by %#x for 0x3000 bytes of segments", got)
	}
	must(t, s.Free())
	if got := LiveBytes() - live; got != 0x3000 {
		t.Fatalf("LiveBytes after Free with views held = %#x more; want 0x3000", got)
	}
	if string(ram[:4]) != "kept" || string(ram2[:4]) != "kept" || string(rom[:4]) != "also" {
		t.Fatal("user mappings lost their contents at Free")
	}
	if obj0.refs != 2 || obj1.refs != 1 {
		t.Fatalf("refs after Free = %d, %d; want 2, 1", obj0.refs, obj1.refs)
	}
	must(t, Munmap(ram))
	must(t, Munmap(ram2))
	must(t, Munmap(rom))
	if obj0.refs != 0 || obj1.refs != 0 {
		t.Fatalf("refs after Munmap = %d, %d; want 0, 0", obj0.refs, obj1.refs)
	}
	if got := LiveBytes(); got != live {
		t.Fatalf("LiveBytes after the last Munmap = %d; want %d as before", got, live)
	}
	checkErr(t, "Munmap twice", Munmap(ram), abi.EINVAL)
	checkErr(t, "Munmap(nil)", Munmap(nil), abi.EINVAL)
	checkErr(t, "Munmap of a Go slice", Munmap(make([]byte, 8)), abi.EINVAL)
}
