package mem

import (
	"strings"
	"testing"

	"softvmm/emu/abi"
)

// TestAllocMemseg has one case per rule of reference/vmm-interface.md §6.1.
func TestAllocMemseg(t *testing.T) {
	name63 := strings.Repeat("n", 63)
	name64 := strings.Repeat("n", 64)
	type seg struct {
		id     int
		len    uint64
		sysmem bool
		name   string
	}
	tests := []struct {
		name  string
		setup []seg // allocated first, must succeed
		call  seg
		want  error
	}{
		{"§6.1 segid < 0", nil, seg{-1, 4 * kib, true, ""}, abi.EINVAL},
		{"§6.1 segid = VM_MAX_MEMSEGS", nil, seg{abi.VM_MAX_MEMSEGS, 4 * kib, true, ""}, abi.EINVAL},
		{"§6.1 len 0", nil, seg{0, 0, true, ""}, abi.EINVAL},
		{"§6.1 len not a multiple of 4096 (small)", nil, seg{0, 100, true, ""}, abi.EINVAL},
		{"§6.1 len not a multiple of 4096 (page+1)", nil, seg{0, 4*kib + 1, true, ""}, abi.EINVAL},
		{"§6.1 exists, same len and sysmem", []seg{{0, 8 * kib, true, ""}}, seg{0, 8 * kib, true, ""}, abi.EEXIST},
		{"§6.1 exists, same len and devmem", []seg{{1, 8 * kib, false, "rom"}}, seg{1, 8 * kib, false, "other"}, abi.EEXIST},
		{"§6.1 exists, other len", []seg{{0, 8 * kib, true, ""}}, seg{0, 4 * kib, true, ""}, abi.EINVAL},
		{"§6.1 exists, other sysmem-ness", []seg{{0, 8 * kib, true, ""}}, seg{0, 8 * kib, false, "rom"}, abi.EINVAL},
		{"§6.1 backing allocation fails (beyond host VA)", nil, seg{0, 1 << 62, true, ""}, abi.ENOMEM},
		{"§6.1 backing allocation fails (beyond int)", nil, seg{0, 1 << 63, true, ""}, abi.ENOMEM},
		{"§6.1 name without NUL in 64 bytes", nil, seg{1, 4 * kib, false, name64}, abi.ENAMETOOLONG},
		{"§6.1 name copied before segid check", nil, seg{7, 0, false, name64}, abi.ENAMETOOLONG},
		{"§6.1 name of 63 bytes fits", nil, seg{1, 4 * kib, false, name63}, nil},
		{"sysmem with a name", nil, seg{0, 4 * kib, true, "x"}, abi.EINVAL},
		{"devmem without a name", nil, seg{1, 4 * kib, false, ""}, abi.EINVAL},
		{"sysmem ok", nil, seg{0, 4 * kib, true, ""}, nil},
		{"devmem ok in last slot", nil, seg{2, 64 * kib, false, "fb"}, nil},
		{"§6.6 4 GiB + 1 GiB costs nothing until touched", nil, seg{0, 5 * gib, true, ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpace(t)
			for _, g := range tc.setup {
				must(t, s.AllocMemseg(g.id, g.len, g.sysmem, g.name))
			}
			err := s.AllocMemseg(tc.call.id, tc.call.len, tc.call.sysmem, tc.call.name)
			checkErr(t, "AllocMemseg", err, tc.want)
			if tc.want == nil {
				l, sys, name, err := s.GetMemseg(tc.call.id)
				if err != nil || l != tc.call.len || sys != tc.call.sysmem || name != tc.call.name {
					t.Fatalf("GetMemseg = %d %v %q %v, want %d %v %q nil", l, sys, name, err,
						tc.call.len, tc.call.sysmem, tc.call.name)
				}
			}
			// A failed call leaves the segments as they were.
			for _, g := range tc.setup {
				l, sys, name, err := s.GetMemseg(g.id)
				if err != nil || l != g.len || sys != g.sysmem || name != g.name {
					t.Fatalf("after the call, segment %d = %d %v %q %v, want %+v", g.id, l, sys, name, err, g)
				}
			}
		})
	}
}

// TestGetMemseg covers VM_GET_MEMSEG's rows (reference/vmm-interface.md
// §6.1, §16 for the unallocated name).
func TestGetMemseg(t *testing.T) {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 16*kib, true, ""))
	must(t, s.AllocMemseg(1, 8*kib, false, "bootrom"))
	tests := []struct {
		name   string
		segid  int
		len    uint64
		sysmem bool
		sname  string
		want   error
	}{
		{"§6.1 segid < 0", -1, 0, false, "", abi.EINVAL},
		{"§6.1 segid = VM_MAX_MEMSEGS", abi.VM_MAX_MEMSEGS, 0, false, "", abi.EINVAL},
		{"§6.1 unallocated: success, len 0, name zeroed (§16)", 2, 0, false, "", nil},
		{"§6.1 system memory: name zeroed", 0, 16 * kib, true, "", nil},
		{"§6.1 device memory: its name", 1, 8 * kib, false, "bootrom", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, sys, name, err := s.GetMemseg(tc.segid)
			checkErr(t, "GetMemseg", err, tc.want)
			if l != tc.len || sys != tc.sysmem || name != tc.sname {
				t.Fatalf("GetMemseg(%d) = %d %v %q, want %d %v %q", tc.segid, l, sys, name, tc.len, tc.sysmem, tc.sname)
			}
		})
	}
}

// TestGetMemsegZeroSpace: the zero Space is usable.
func TestGetMemsegZeroSpace(t *testing.T) {
	var s Space
	if l, _, _, err := s.GetMemseg(0); l != 0 || err != nil {
		t.Fatalf("GetMemseg on zero Space = %d, %v", l, err)
	}
	if p, prot := s.Page(0); p != nil || prot != 0 {
		t.Fatal("Page on zero Space is not nil")
	}
	if _, err := s.MmapGetnext(0); err != abi.ENOENT {
		t.Fatalf("MmapGetnext on zero Space: %v", err)
	}
	must(t, s.AllocMemseg(0, 4*kib, true, ""))
	must(t, s.MmapMemseg(0, 0, 0, 4*kib, rwx, 0))
	must(t, s.Free())
}

// FreeMemseg undoes AllocMemseg (the devmem-node failure path of §6.1):
// the slot is free again and can be allocated with another length.
func TestFreeMemseg(t *testing.T) {
	s := NewSpace()
	if err := s.AllocMemseg(1, 8192, false, "rom"); err != nil {
		t.Fatal(err)
	}
	if err := s.FreeMemseg(1); err != nil {
		t.Fatal(err)
	}
	if l, _, name, err := s.GetMemseg(1); l != 0 || name != "" || err != nil {
		t.Fatalf("after free: len %d name %q err %v", l, name, err)
	}
	if err := s.AllocMemseg(1, 4096, false, "other"); err != nil {
		t.Fatalf("re-alloc with another length: %v", err)
	}
	if err := s.FreeMemseg(7); err != nil {
		t.Fatalf("out of range: %v", err)
	}
}
