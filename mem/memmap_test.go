package mem

import (
	"math"
	"testing"

	"softvmm/emu/abi"
)

// TestMmapMemseg has one case per step of vm_mmap_memseg
// (reference/vmm-interface.md §6.2), plus cases that break two rules at
// once to pin the order of the checks.
func TestMmapMemseg(t *testing.T) {
	// Segment 0: 64 KiB sysmem; segment 1: 16 KiB devmem; segment 2 free.
	base := func(t *testing.T) *Space {
		s := newSpace(t)
		must(t, s.AllocMemseg(0, 64*kib, true, ""))
		must(t, s.AllocMemseg(1, 16*kib, false, "rom"))
		return s
	}
	// full fills all four slots with 4 KiB maps at 0, 64K, 128K, 192K.
	full := func(t *testing.T) *Space {
		s := base(t)
		for i := uint64(0); i < abi.VM_MAX_MEMMAPS; i++ {
			must(t, s.MmapMemseg(i*64*kib, 0, int64(i*4*kib), 4*kib, rwx, 0))
		}
		return s
	}
	// one has a sysmem map at [1 MiB, 1 MiB+16 KiB).
	one := func(t *testing.T) *Space {
		s := base(t)
		must(t, s.MmapMemseg(1*mib, 0, 0, 16*kib, rwx, 0))
		return s
	}
	type args struct {
		gpa        uint64
		segid      int
		off        int64
		len        uint64
		prot, flag int
	}
	tests := []struct {
		name  string
		space func(*testing.T) *Space
		a     args
		want  error
	}{
		{"§6.2.1 prot 0", base, args{0, 0, 0, 4 * kib, 0, 0}, abi.EINVAL},
		{"§6.2.1 prot bit outside RWX", base, args{0, 0, 0, 4 * kib, 0x8, 0}, abi.EINVAL},
		{"§6.2.1 prot RWX plus 0x8", base, args{0, 0, 0, 4 * kib, 0xf, 0}, abi.EINVAL},
		{"§6.2.2 flag IOMMU", base, args{0, 0, 0, 4 * kib, rwx, abi.VM_MEMMAP_F_IOMMU}, abi.EINVAL},
		{"§6.2.2 unknown flag", base, args{0, 0, 0, 4 * kib, rwx, 0x4}, abi.EINVAL},
		{"§6.2.8 WIRED accepted", base, args{0, 0, 0, 4 * kib, rwx, abi.VM_MEMMAP_F_WIRED}, nil},
		{"§6.2.3 segid < 0", base, args{0, -1, 0, 4 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.3 segid = VM_MAX_MEMSEGS", base, args{0, abi.VM_MAX_MEMSEGS, 0, 4 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.3 segment not allocated", base, args{0, 2, 0, 4 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.4 off < 0", base, args{0, 0, -4 * kib, 8 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.4 len 0", base, args{0, 0, 0, 0, rwx, 0}, abi.EINVAL},
		{"§6.2.4 off+len overflows", base, args{0, 0, 4 * kib, math.MaxUint64 - 4*kib + 1, rwx, 0}, abi.EINVAL},
		{"§6.2.4 off+len wraps negative", base, args{0, 0, 1 << 62, 1 << 63, rwx, 0}, abi.EINVAL},
		{"§6.2.4 last > seg len", base, args{0, 0, 60 * kib, 8 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.4 last = seg len", base, args{0, 0, 60 * kib, 4 * kib, rwx, 0}, nil},
		{"§6.2.4 off = seg len", base, args{0, 0, 64 * kib, 4 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.5 gpa unaligned", base, args{0x800, 0, 0, 4 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.5 off unaligned", base, args{0, 0, 0x800, 4 * kib, rwx, 0}, abi.EINVAL},
		{"§6.2.5 last unaligned", base, args{0, 0, 0, 4*kib + 0x800, rwx, 0}, abi.EINVAL},
		{"§6.2.6 no free slot", full, args{1 * gib, 0, 0, 4 * kib, rwx, 0}, abi.ENOSPC},
		{"§6.2.7 overlap, identical", one, args{1 * mib, 0, 0, 16 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 overlap, starts inside", one, args{1*mib + 12*kib, 0, 0, 8 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 overlap, ends inside", one, args{1*mib - 4*kib, 0, 0, 8 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 overlap, contains", one, args{1*mib - 4*kib, 0, 0, 32 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 overlap, devmem over sysmem", one, args{1*mib + 4*kib, 1, 0, 4 * kib, rx, 0}, abi.EFAULT},
		{"adjacent below is no overlap", one, args{1*mib - 16*kib, 0, 0, 16 * kib, rwx, 0}, nil},
		{"adjacent above is no overlap", one, args{1*mib + 16*kib, 0, 0, 16 * kib, rwx, 0}, nil},
		{"§6.2 same segment mapped twice", one, args{2 * mib, 0, 0, 16 * kib, rwx, 0}, nil},
		{"§6.2.7 beyond vmspace top", base, args{VMSpaceTop - 4*kib, 0, 0, 8 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 at vmspace top", base, args{VMSpaceTop, 0, 0, 4 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 gpa+len wraps", base, args{math.MaxUint64 - 4*kib + 1, 0, 0, 8 * kib, rwx, 0}, abi.EFAULT},
		{"§6.2.7 ending exactly at top", base, args{VMSpaceTop - 8*kib, 0, 0, 8 * kib, rwx, 0}, nil},
		{"gpa 0 is a valid address", base, args{0, 0, 0, 64 * kib, rwx, 0}, nil},
		{"devmem, read+exec", base, args{4*gib - 16*kib, 1, 0, 16 * kib, rx, 0}, nil},
		// Order of the checks.
		{"order: prot before flags", base, args{0x800, 9, -1, 0, 0, 0x80}, abi.EINVAL},
		{"order: segment (EINVAL) before slots (ENOSPC)", full, args{1 * gib, 2, 0, 4 * kib, rwx, 0}, abi.EINVAL},
		{"order: range (EINVAL) before slots", full, args{1 * gib, 0, 0, 128 * kib, rwx, 0}, abi.EINVAL},
		{"order: alignment (EINVAL) before slots", full, args{1*gib + 1, 0, 0, 4 * kib, rwx, 0}, abi.EINVAL},
		{"order: slots (ENOSPC) before overlap (EFAULT)", full, args{0, 0, 0, 4 * kib, rwx, 0}, abi.ENOSPC},
		{"order: slots (ENOSPC) before vmspace top (EFAULT)", full, args{VMSpaceTop, 0, 0, 4 * kib, rwx, 0}, abi.ENOSPC},
		{"order: alignment (EINVAL) before overlap (EFAULT)", one, args{1*mib + 1, 0, 0, 4 * kib, rwx, 0}, abi.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.space(t)
			before := allMaps(s)
			a := tc.a
			err := s.MmapMemseg(a.gpa, a.segid, a.off, a.len, a.prot, a.flag)
			checkErr(t, "MmapMemseg", err, tc.want)
			after := allMaps(s)
			if tc.want != nil {
				if !equalMaps(before, after) {
					t.Fatalf("failed call changed the map: %v -> %v", before, after)
				}
				return
			}
			wantMap := Memmap{GPA: a.gpa, Segid: a.segid, Segoff: a.off, Len: a.len, Prot: a.prot, Flags: a.flag}
			got, err := s.MmapGetnext(a.gpa)
			if err != nil || got != wantMap {
				t.Fatalf("MmapGetnext(%#x) = %+v, %v; want %+v", a.gpa, got, err, wantMap)
			}
			if len(after) != len(before)+1 {
				t.Fatalf("map count %d -> %d", len(before), len(after))
			}
		})
	}
}

// allMaps walks the map the way libvmmapi does, feeding gpa+len back.
func allMaps(s *Space) []Memmap {
	var out []Memmap
	for gpa := uint64(0); ; {
		m, err := s.MmapGetnext(gpa)
		if err != nil {
			return out
		}
		out = append(out, m)
		gpa = m.GPA + m.Len
	}
}

func equalMaps(a, b []Memmap) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMmapMemsegSlotReuse: a slot freed by Reinit is found again, and the
// fifth mapping after that still gets ENOSPC (§6.2 step 6).
func TestMmapMemsegSlotReuse(t *testing.T) {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 64*kib, true, ""))
	must(t, s.AllocMemseg(1, 4*kib, false, "rom"))
	must(t, s.MmapMemseg(0, 0, 0, 4*kib, rwx, 0))
	must(t, s.MmapMemseg(1*mib, 1, 0, 4*kib, rx, 0))
	must(t, s.MmapMemseg(2*mib, 0, 4*kib, 4*kib, rwx, 0))
	must(t, s.MmapMemseg(3*mib, 0, 8*kib, 4*kib, rwx, 0))
	checkErr(t, "fifth map", s.MmapMemseg(4*mib, 0, 0, 4*kib, rwx, 0), abi.ENOSPC)
	s.Reinit()
	must(t, s.MmapMemseg(5*mib, 1, 0, 4*kib, rx, 0))
	checkErr(t, "fifth map after reuse", s.MmapMemseg(6*mib, 0, 0, 4*kib, rwx, 0), abi.ENOSPC)
}

// TestMmapGetnext covers vm_mmap_getnext (reference/vmm-interface.md §6.2).
func TestMmapGetnext(t *testing.T) {
	empty := newSpace(t)
	if _, err := empty.MmapGetnext(0); err != abi.ENOENT {
		t.Fatalf("empty space: %v, want ENOENT", errName(err))
	}

	s := newSpace(t)
	must(t, s.AllocMemseg(0, 64*kib, true, ""))
	must(t, s.AllocMemseg(1, 8*kib, false, "rom"))
	// Inserted out of gpa order, so slot order differs from gpa order.
	a := Memmap{GPA: 0x10000, Segid: 0, Segoff: 0x4000, Len: 0x4000, Prot: rw, Flags: abi.VM_MEMMAP_F_WIRED}
	b := Memmap{GPA: 0x0, Segid: 0, Segoff: 0, Len: 0x2000, Prot: rwx}
	c := Memmap{GPA: 0x8000, Segid: 1, Segoff: 0x1000, Len: 0x1000, Prot: rx}
	for _, m := range []Memmap{a, b, c} {
		must(t, s.MmapMemseg(m.GPA, m.Segid, m.Segoff, m.Len, m.Prot, m.Flags))
	}
	tests := []struct {
		name string
		gpa  uint64
		want Memmap
		err  error
	}{
		{"§6.2 lowest start >= 0", 0, b, nil},
		{"§6.2 containing mapping is skipped", 1, c, nil},
		{"§6.2 start equal to gpa", 0x8000, c, nil},
		{"§6.2 between mappings", 0x9000, a, nil},
		{"§6.2 inside the last mapping: ENOENT", 0x10001, Memmap{}, abi.ENOENT},
		{"§6.2 past everything: ENOENT", 0x14000, Memmap{}, abi.ENOENT},
		{"§6.2 top of the range: ENOENT", math.MaxUint64, Memmap{}, abi.ENOENT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.MmapGetnext(tc.gpa)
			checkErr(t, "MmapGetnext", err, tc.err)
			if got != tc.want {
				t.Fatalf("MmapGetnext(%#x) = %+v, want %+v", tc.gpa, got, tc.want)
			}
		})
	}
	t.Run("§6.2 iteration feeding gpa+len", func(t *testing.T) {
		got := allMaps(s)
		want := []Memmap{b, c, a}
		if !equalMaps(got, want) {
			t.Fatalf("walk = %+v\nwant  %+v", got, want)
		}
	})
}

// TestMaxAddr: the highest gpa+len over sysmem mappings only (§6.2).
func TestMaxAddr(t *testing.T) {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 64*kib, true, ""))
	must(t, s.AllocMemseg(1, 8*kib, false, "rom"))
	must(t, s.AllocMemseg(2, 8*kib, true, ""))
	steps := []struct {
		name  string
		m     Memmap
		reset bool
		want  uint64
	}{
		{"no mappings", Memmap{}, false, 0},
		{"devmem only", Memmap{GPA: 0xfff00000, Segid: 1, Len: 8 * kib, Prot: rx}, false, 0},
		{"sysmem below devmem", Memmap{GPA: 0x10000, Segid: 0, Len: 16 * kib, Prot: rwx}, false, 0x14000},
		{"second sysmem segment lower", Memmap{GPA: 0, Segid: 2, Len: 8 * kib, Prot: rwx}, false, 0x14000},
		{"sysmem higher", Memmap{GPA: 1 * gib, Segid: 0, Segoff: 32 * kib, Len: 32 * kib, Prot: rwx}, false, 1*gib + 32*kib},
		{"Reinit keeps sysmem", Memmap{}, true, 1*gib + 32*kib},
	}
	for _, st := range steps {
		if st.reset {
			s.Reinit()
		} else if st.m.Len != 0 {
			must(t, s.MmapMemseg(st.m.GPA, st.m.Segid, st.m.Segoff, st.m.Len, st.m.Prot, 0))
		}
		if got := s.MaxAddr(); got != st.want {
			t.Fatalf("%s: MaxAddr = %#x, want %#x", st.name, got, st.want)
		}
	}
}
