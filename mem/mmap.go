package mem

import "softvmm/emu/abi"

// getnext is vm_mmap_getnext on a snapshot.
func (t *table) getnext(gpa uint64) *mapping {
	var next *mapping
	for i := range t.maps {
		m := &t.maps[i]
		if m.Len == 0 || m.GPA < gpa {
			continue
		}
		if next == nil || m.GPA < next.GPA {
			next = m
		}
	}
	return next
}

// Mmap is mmap(2) of /dev/vmm/NAME at file offset off (a gpa) for size
// bytes, as vmmdev_mmap_single decides it (reference/vmm-interface.md
// §6.4): PROT_EXEC, a negative offset or an empty or overflowing range is
// EINVAL; the range must lie inside one mapping, found by walking the
// mappings in gpa order, else ENOENT; that mapping must be system memory,
// else EINVAL (device memory is mapped through /dev/vmm.io).
//
// The result aliases guest RAM: stores through it are seen by the guest and
// by ReadAt at once, whatever prot says (Go cannot make a slice read-only).
// mmap(2) would first widen [off, off+size) to whole pages; mappings are
// page-aligned, so that changes no outcome, and the slice covers exactly
// the bytes asked for. Release it with Munmap; it stays valid across Free
// until then.
func (s *Space) Mmap(off, size int64, prot int) ([]byte, error) {
	first, last := off, off+size
	if prot&abi.PROT_EXEC != 0 || first < 0 || first >= last {
		return nil, abi.EINVAL
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.load()
	for gpa := uint64(0); ; {
		m := t.getnext(gpa)
		if m == nil {
			return nil, abi.ENOENT
		}
		if uint64(first) >= m.GPA && uint64(last) <= m.GPA+m.Len {
			if !m.sysmem {
				return nil, abi.EINVAL
			}
			lo, hi := uint64(first)-m.GPA, uint64(last)-m.GPA
			return exportSlice(t.segs[m.Segid].obj, m.host[lo:hi:hi]), nil
		}
		gpa = m.GPA + m.Len
	}
}

// DevmemMmap is mmap(2) of /dev/vmm.io/VM.NAME, the node of device-memory
// segment segid, as devmem_mmap_single decides it
// (reference/vmm-interface.md §6.5): a segid that names no device-memory
// segment has no ready node, ENXIO; then PROT_EXEC, a negative offset or an
// empty range is EINVAL; off is into the segment, not a gpa, and
// off+size beyond the segment is EINVAL. There is no jail check on this
// node in 12. The result aliases the segment, mapped or not; release it
// with Munmap.
func (s *Space) DevmemMmap(segid int, off, size int64, prot int) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.load()
	if segid < 0 || segid >= abi.VM_MAX_MEMSEGS || t.segs[segid].len == 0 || t.segs[segid].sysmem {
		return nil, abi.ENXIO
	}
	seg := &t.segs[segid]
	first, last := off, off+size
	if prot&abi.PROT_EXEC != 0 || first < 0 || first >= last {
		return nil, abi.EINVAL
	}
	if uint64(last) > seg.len {
		return nil, abi.EINVAL
	}
	return exportSlice(seg.obj, seg.obj.mem[first:last:last]), nil
}
