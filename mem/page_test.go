package mem

import (
	"bytes"
	"sync"
	"testing"

	"softvmm/emu/abi"
)

// TestPage: the page through any mapping, with that mapping's prot; nil for
// holes (rwLayout, see rw_test.go).
func TestPage(t *testing.T) {
	s := rwLayout(t)
	tests := []struct {
		name   string
		gpa    uint64
		segid  int    // -1: no page
		segoff uint64 // segment offset of the page
		prot   int
	}{
		{"sysmem first byte", 0x0000, 0, 0x0000, rwx},
		{"sysmem mid-page", 0x1234, 0, 0x1000, rwx},
		{"sysmem last byte of mapping", 0x1fff, 0, 0x1000, rwx},
		{"hole just past a mapping", 0x2000, -1, 0, 0},
		{"hole last byte", 0x3fff, -1, 0, 0},
		{"second mapping at its segment offset", 0x4000, 0, 0x2000, rw},
		{"second mapping, second page", 0x5fff, 0, 0x3000, rw},
		{"devmem mapping (ROM), any mapping counts", 0x6abc, 1, 0x1000, rx},
		{"read-only RAM", 0xa000, 2, 0x0000, rx},
		{"at maxaddr", 0xb000, -1, 0, 0},
		{"far above", 0x7fff_ffff_f000, -1, 0, 0},
		{"top of uint64", ^uint64(0), -1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pg, prot := s.Page(tc.gpa)
			if tc.segid < 0 {
				if pg != nil || prot != 0 {
					t.Fatalf("Page(%#x) = len %d prot %d, want nil 0", tc.gpa, len(pg), prot)
				}
				return
			}
			if len(pg) != PageSize || cap(pg) != PageSize {
				t.Fatalf("Page(%#x) len %d cap %d, want 4096", tc.gpa, len(pg), cap(pg))
			}
			if prot != tc.prot {
				t.Fatalf("Page(%#x) prot %d, want %d", tc.gpa, prot, tc.prot)
			}
			if !bytes.Equal(pg, patRange(tc.segid, tc.segoff, tc.segoff+PageSize)) {
				t.Fatalf("Page(%#x) is not segment %d at %#x", tc.gpa, tc.segid, tc.segoff)
			}
		})
	}
}

// TestPageAllocs: Page is on the interpreter's TLB-miss path and must not
// allocate, hit or miss.
func TestPageAllocs(t *testing.T) {
	s := rwLayout(t)
	var sink int
	for _, gpa := range []uint64{0x1234, 0x6000, 0xa000, 0x3000, 0x100000} {
		if n := testing.AllocsPerRun(100, func() {
			pg, prot := s.Page(gpa)
			sink += len(pg) + prot
		}); n != 0 {
			t.Errorf("Page(%#x) allocates %v times per call", gpa, n)
		}
	}
	_ = sink
}

func BenchmarkPage(b *testing.B) {
	s := newSpace(b)
	must(b, s.AllocMemseg(0, 0x10000, true, ""))
	must(b, s.AllocMemseg(1, 0x1000, false, "rom"))
	must(b, s.MmapMemseg(0, 0, 0, 0x8000, rwx, 0))
	must(b, s.MmapMemseg(0x100000, 0, 0x8000, 0x8000, rwx, 0))
	must(b, s.MmapMemseg(0xfffff000, 1, 0, 0x1000, rx, 0))
	for i := 0; b.Loop(); i++ {
		s.Page(0xfffff000 + uint64(i&0xfff))
	}
}

// TestReinit: VM_REINIT drops devmem mappings and keeps sysmem mappings and
// every segment (reference/vmm-interface.md §6.1, §6.2 "Unmapping").
func TestReinit(t *testing.T) {
	s := rwLayout(t)
	sysBefore := []Memmap{
		{GPA: 0x0000, Segid: 0, Segoff: 0x0000, Len: 0x2000, Prot: rwx},
		{GPA: 0x4000, Segid: 0, Segoff: 0x2000, Len: 0x2000, Prot: rw},
		{GPA: 0xa000, Segid: 2, Segoff: 0x0000, Len: 0x1000, Prot: rx},
	}
	s.Reinit()
	if got := allMaps(s); !equalMaps(got, sysBefore) {
		t.Fatalf("maps after Reinit = %+v\nwant %+v", got, sysBefore)
	}
	if s.MaxAddr() != 0xb000 {
		t.Fatalf("MaxAddr after Reinit = %#x", s.MaxAddr())
	}
	if pg, _ := s.Page(0x6000); pg != nil {
		t.Fatal("devmem page still mapped after Reinit")
	}
	if pg, prot := s.Page(0x0000); pg == nil || prot != rwx || pg[0] != pat(0, 0) {
		t.Fatal("sysmem page lost by Reinit")
	}
	for segid, want := range []struct {
		len    uint64
		sysmem bool
		name   string
	}{{0x4000, true, ""}, {0x2000, false, "rom"}, {0x1000, true, ""}} {
		l, sys, name, err := s.GetMemseg(segid)
		if err != nil || l != want.len || sys != want.sysmem || name != want.name {
			t.Fatalf("segment %d after Reinit = %d %v %q %v", segid, l, sys, name, err)
		}
	}
	// The ROM's contents survive (the segment does) and it can be mapped
	// again, elsewhere.
	must(t, s.MmapMemseg(0x100000, 1, 0, 0x2000, rx, 0))
	if pg, prot := s.Page(0x101000); pg == nil || prot != rx || !bytes.Equal(pg, patRange(1, 0x1000, 0x2000)) {
		t.Fatal("re-mapped ROM does not show its contents")
	}
	s.Reinit()
	s.Reinit() // idempotent
	if got := allMaps(s); !equalMaps(got, sysBefore) {
		t.Fatalf("maps after second Reinit = %+v", got)
	}
}

// TestFree: VM destroy removes every mapping and segment; the Space is
// empty and usable afterwards.
func TestFree(t *testing.T) {
	s := rwLayout(t)
	objs := []*object{s.load().segs[0].obj, s.load().segs[1].obj, s.load().segs[2].obj}
	must(t, s.Free())
	for i, o := range objs {
		if o.refs != 0 {
			t.Errorf("segment %d object still has %d references", i, o.refs)
		}
	}
	if _, err := s.MmapGetnext(0); err != abi.ENOENT {
		t.Fatalf("MmapGetnext after Free: %v", errName(err))
	}
	if pg, _ := s.Page(0); pg != nil || s.MaxAddr() != 0 {
		t.Fatal("memory still mapped after Free")
	}
	for segid := 0; segid < abi.VM_MAX_MEMSEGS; segid++ {
		if l, _, _, err := s.GetMemseg(segid); l != 0 || err != nil {
			t.Fatalf("segment %d after Free: len %d err %v", segid, l, err)
		}
	}
	if _, err := s.ReadAt(make([]byte, 1), 0); err != abi.EFAULT {
		t.Fatalf("ReadAt after Free: %v", errName(err))
	}
	must(t, s.Free()) // idempotent
	// Reusable, and a new segment starts zero-filled.
	must(t, s.AllocMemseg(0, 0x1000, true, ""))
	must(t, s.MmapMemseg(0, 0, 0, 0x1000, rwx, 0))
	if pg, _ := s.Page(0); !bytes.Equal(pg, zeros(PageSize)) {
		t.Fatal("fresh segment is not zero-filled")
	}
}

// TestConcurrentReaders runs Page and ReadAt from several goroutines while
// the map changes under them (the race detector is the oracle: run with
// -race). Readers see either the old or the new map, never a torn one: the
// page at 0 is always there, the devmem page comes and goes.
func TestConcurrentReaders(t *testing.T) {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 0x10000, true, ""))
	must(t, s.AllocMemseg(1, 0x1000, false, "rom"))
	fill(t, s, 0, 0, 0x10000)
	must(t, s.MmapMemseg(0, 0, 0, 0x10000, rwx, 0))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0x20)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if pg, prot := s.Page(0x1000); pg == nil || prot != rwx || pg[1] != pat(0, 0x1001) {
					errs <- "sysmem page vanished"
					return
				}
				if pg, prot := s.Page(0x100000); pg != nil && prot != rx {
					errs <- "devmem page with wrong prot"
					return
				}
				if n, err := s.ReadAt(buf, 0xfff0); n != 0x10 || err != abi.EFAULT {
					errs <- "ReadAt across maxaddr changed"
					return
				}
				if _, err := s.MmapGetnext(0); err != nil {
					errs <- "MmapGetnext lost the sysmem mapping"
					return
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		must(t, s.MmapMemseg(0x100000, 1, 0, 0x1000, rx, 0))
		s.Reinit()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// SysmemPage sees system memory only (vm_gpa_hold in FreeBSD 12).
func TestSysmemPage(t *testing.T) {
	s := NewSpace()
	if err := s.AllocMemseg(0, 1<<20, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AllocMemseg(1, 1<<16, false, "rom"); err != nil {
		t.Fatal(err)
	}
	s.MmapMemseg(0, 0, 0, 1<<20, 7, 0)
	s.MmapMemseg(0xfff00000, 1, 0, 1<<16, 5, 0)
	if p, prot := s.SysmemPage(0x1234); len(p) != 4096 || prot != 7 {
		t.Fatalf("sysmem page: len %d prot %d", len(p), prot)
	}
	if p, _ := s.SysmemPage(0xfff00000); p != nil {
		t.Fatal("SysmemPage returned device memory")
	}
	if p, _ := s.Page(0xfff00000); p == nil {
		t.Fatal("Page must still return device memory")
	}
	if p, _ := s.SysmemPage(1 << 20); p != nil {
		t.Fatal("SysmemPage returned a hole")
	}
}
