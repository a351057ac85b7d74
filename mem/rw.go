package mem

import "softvmm/emu/abi"

// ReadAt copies guest-physical memory at gpa into p with the rules of
// read(2) on /dev/vmm/NAME, where the file offset is the gpa
// (reference/vmm-interface.md §6.3): the transfer goes in chunks that never
// cross a 4 KiB page, each resolved only through system-memory mappings
// that allow reading (vm_gpa_hold asks the fault handler for VM_PROT_READ);
// an unresolved chunk below MaxAddr reads as zeros (holes in RAM, so dd(1)
// can read across them), at or above it the transfer stops with EFAULT.
// Device memory such as a boot ROM is not reachable this way in 12.
//
// It returns the bytes moved before the failing chunk with the error, the
// uio count; read(2) itself then fails with EFAULT (dofileread keeps the
// error) while the file offset has advanced by n. A negative gpa is a huge
// vm_paddr_t to the kernel, so it gets EFAULT too. Space is an io.ReaderAt.
func (s *Space) ReadAt(p []byte, gpa int64) (n int, err error) {
	return s.rw(p, uint64(gpa), false)
}

// WriteAt copies p into guest-physical memory at gpa with the rules of
// write(2) on /dev/vmm/NAME (reference/vmm-interface.md §6.3): like ReadAt,
// but a chunk no writable system-memory mapping backs fails with EFAULT
// wherever it lies. Space is an io.WriterAt.
func (s *Space) WriteAt(p []byte, gpa int64) (n int, err error) {
	return s.rw(p, uint64(gpa), true)
}

func (s *Space) rw(p []byte, gpa uint64, write bool) (n int, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.load()
	want := abi.PROT_READ
	if write {
		want = abi.PROT_WRITE
	}
	for n < len(p) {
		off := gpa & pageMask
		c := min(len(p)-n, int(PageSize-off))
		host := t.sysmemHold(gpa, want)
		switch {
		case host != nil:
			if write {
				copy(host[off:], p[n:n+c])
			} else {
				copy(p[n:n+c], host[off:])
			}
		case !write && gpa < t.maxaddr:
			clear(p[n : n+c])
		default:
			return n, abi.EFAULT
		}
		n += c
		gpa += uint64(c)
	}
	return n, nil
}

// sysmemHold is vm_gpa_hold for one page: the page of a system-memory
// mapping covering gpa if that mapping grants want, else nil (the fault
// handler refuses an access the map entry's protection lacks).
func (t *table) sysmemHold(gpa uint64, want int) []byte {
	for i := range t.maps {
		m := &t.maps[i]
		if off := gpa - m.GPA; off < m.Len && m.sysmem {
			if m.Prot&want == 0 {
				return nil
			}
			off &^= pageMask
			return m.host[off : off+PageSize]
		}
	}
	return nil
}
