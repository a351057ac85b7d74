// Package mem is one VM's guest physical memory, with the rules of FreeBSD
// 12's vmm (reference/vmm-interface.md §6): up to VM_MAX_MEMSEGS segments,
// each a backing object of its own, and up to VM_MAX_MEMMAPS mappings that
// place a page-aligned window of a segment at a guest-physical address.
//
// Segments are backed by anonymous host mmap (see backing_*.go), so a
// multi-gigabyte guest costs nothing until touched and the slices handed out
// by Mmap, DevmemMmap and Page alias guest RAM: a store through any of them
// is seen by every other view at once (DESIGN.md "Contracts: Memory").
//
// Concurrency. The mapping table changes (AllocMemseg, MmapMemseg, Reinit,
// Free) only while the kernel has every vCPU frozen, as vmm's ioctl switch
// guarantees, but the lookups (Page, ReadAt, WriteAt, GetMemseg,
// MmapGetnext, MaxAddr, Mmap, DevmemMmap) may run from several goroutines
// at once and concurrently with a change. The table is copy-on-write behind
// an atomic pointer, so Page, which the interpreter calls on every TLB miss,
// takes no lock and allocates nothing.
package mem

import (
	"sync"
	"sync/atomic"

	"softvmm/emu/abi"
)

// PageSize is the granule of every mapping and of read(2)/write(2) chunks.
const PageSize = 4096

const pageMask = PageSize - 1

// VMSpaceTop is the end of the guest's vmspace: vm_create makes it
// [0, VM_MAXUSER_ADDRESS) on amd64, so a mapping reaching past it cannot be
// inserted and VM_MMAP_MEMSEG fails with EFAULT (reference/vmm-interface.md
// §6.2 step 7).
const VMSpaceTop uint64 = 0x0000_8000_0000_0000

// MaxMemsegNameLen is the longest device-memory segment name: the ioctl
// layer copies vm_memseg.name (SPECNAMELEN+1 = 64 bytes) with copystr, which
// fails with ENAMETOOLONG when no NUL falls within those 64 bytes
// (reference/vmm-interface.md §6.1).
const MaxMemsegNameLen = abi.SPECNAMELEN

// Memmap is one guest mapping as VM_MMAP_GETNEXT reports it
// (struct vm_memmap without the padding).
type Memmap struct {
	GPA    uint64
	Segid  int
	Segoff int64
	Len    uint64
	Prot   int
	Flags  int
}

// segment is one vm's mem_segs[] slot. An unallocated slot has len 0.
type segment struct {
	len    uint64
	sysmem bool
	name   string
	obj    *object
}

// mapping is one mem_maps[] slot; len 0 marks a free slot. host is the
// window seg[segoff : segoff+len] resolved once at map time, so lookups are
// a subtraction and a slice expression.
type mapping struct {
	Memmap
	sysmem bool
	host   []byte
}

// table is an immutable snapshot of the memory map. Writers build a new one
// and publish it; readers keep whichever they loaded for the whole call, as
// the kernel keeps the memsegs lock across one read(2).
type table struct {
	segs    [abi.VM_MAX_MEMSEGS]segment
	maps    [abi.VM_MAX_MEMMAPS]mapping
	maxaddr uint64
}

var emptyTable table

// Space is the guest physical memory of one VM. The zero value is an empty
// space ready for use; NewSpace exists for symmetry with the kernel's
// vm_create.
type Space struct {
	// mu serialises changes to the map (Lock) against each other and
	// against the operations that must not see a segment freed under
	// them (RLock: ReadAt, WriteAt, Mmap, DevmemMmap). Page does not
	// take it.
	mu  sync.RWMutex
	cur atomic.Pointer[table]
}

// NewSpace returns an empty guest physical address space.
func NewSpace() *Space { return &Space{} }

func (s *Space) load() *table {
	if t := s.cur.Load(); t != nil {
		return t
	}
	return &emptyTable
}

// AllocMemseg creates segment segid of length bytes, as vm_alloc_memseg does
// for VM_ALLOC_MEMSEG (reference/vmm-interface.md §6.1). A non-empty name
// makes a device-memory segment (sysmem must then be false): the ioctl
// layer derives sysmem from the name, so a mismatch here is a caller bug and
// gets EINVAL. The name bound is checked first because the ioctl copies the
// name in before vm_alloc_memseg runs; creating the vmm.io device node is
// the cdev layer's business.
func (s *Space) AllocMemseg(segid int, length uint64, sysmem bool, name string) error {
	if len(name) > MaxMemsegNameLen {
		return abi.ENAMETOOLONG
	}
	if sysmem == (name != "") {
		return abi.EINVAL
	}
	if segid < 0 || segid >= abi.VM_MAX_MEMSEGS {
		return abi.EINVAL
	}
	if length == 0 || length&pageMask != 0 {
		return abi.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	if seg := &old.segs[segid]; seg.len != 0 {
		if seg.len == length && seg.sysmem == sysmem {
			return abi.EEXIST
		}
		return abi.EINVAL
	}
	obj, err := newObject(length)
	if err != nil {
		return err
	}
	t := *old
	t.segs[segid] = segment{len: length, sysmem: sysmem, name: name, obj: obj}
	s.cur.Store(&t)
	return nil
}

// GetMemseg reports segment segid as VM_GET_MEMSEG does
// (reference/vmm-interface.md §6.1). An unallocated segment is a success
// with length 0. Its name is "" here; the 2018 kernel left the caller's name
// bytes untouched in that case, and §16 recommends the ioctl layer zero them.
func (s *Space) GetMemseg(segid int) (length uint64, sysmem bool, name string, err error) {
	if segid < 0 || segid >= abi.VM_MAX_MEMSEGS {
		return 0, false, "", abi.EINVAL
	}
	seg := &s.load().segs[segid]
	return seg.len, seg.sysmem, seg.name, nil
}

// MmapMemseg maps [off, off+length) of segment segid at gpa, with
// vm_mmap_memseg's checks in its order (reference/vmm-interface.md §6.2):
// prot, flags, segment, range, alignment (EINVAL), free slot (ENOSPC),
// insertion into the vmspace (EFAULT). The vmspace holds nothing but these
// mappings, so insertion fails exactly on overlap or on reaching past
// VMSpaceTop.
//
// VM_MEMMAP_F_WIRED is accepted and recorded but changes nothing: the
// backing is host memory that softvmm never pages against the guest, so the
// wiring step (§6.2 step 8) cannot fail. VM_MEMMAP_F_IOMMU is an
// output-only flag in 12 and is refused like any other unknown bit.
func (s *Space) MmapMemseg(gpa uint64, segid int, off int64, length uint64, prot, flags int) error {
	if prot == 0 || prot&^abi.PROT_ALL != 0 {
		return abi.EINVAL
	}
	if flags&^abi.VM_MEMMAP_F_WIRED != 0 {
		return abi.EINVAL
	}
	if segid < 0 || segid >= abi.VM_MAX_MEMSEGS {
		return abi.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	seg := &old.segs[segid]
	if seg.len == 0 {
		return abi.EINVAL
	}
	// last = first + len in the kernel's types: the sum wraps like C's and
	// the signed compare catches len 0 and overflow alike.
	last := off + int64(length)
	if off < 0 || off >= last || uint64(last) > seg.len {
		return abi.EINVAL
	}
	if (gpa|uint64(off)|uint64(last))&pageMask != 0 {
		return abi.EINVAL
	}
	slot := -1
	for i := range old.maps {
		if old.maps[i].Len == 0 {
			slot = i
			break
		}
	}
	if slot < 0 {
		return abi.ENOSPC
	}
	end := gpa + length
	if end <= gpa || end > VMSpaceTop {
		return abi.EFAULT
	}
	for i := range old.maps {
		m := &old.maps[i]
		if m.Len != 0 && gpa < m.GPA+m.Len && m.GPA < end {
			return abi.EFAULT
		}
	}
	t := *old
	t.maps[slot] = mapping{
		Memmap: Memmap{GPA: gpa, Segid: segid, Segoff: off, Len: length, Prot: prot, Flags: flags},
		sysmem: seg.sysmem,
		host:   seg.obj.mem[off:last:last],
	}
	t.maxaddr = sysmemMaxaddr(&t)
	s.cur.Store(&t)
	return nil
}

// sysmemMaxaddr is vmm_sysmem_maxaddr: the highest gpa+len over mappings of
// system-memory segments (reference/vmm-interface.md §6.2).
func sysmemMaxaddr(t *table) uint64 {
	var top uint64
	for i := range t.maps {
		m := &t.maps[i]
		if m.Len != 0 && m.sysmem && m.GPA+m.Len > top {
			top = m.GPA + m.Len
		}
	}
	return top
}

// MmapGetnext returns the mapping with the lowest start at or above gpa, as
// vm_mmap_getnext does; a mapping that merely contains gpa is skipped, so
// callers iterate by feeding GPA+Len back (reference/vmm-interface.md §6.2).
// ENOENT when there is none.
func (s *Space) MmapGetnext(gpa uint64) (Memmap, error) {
	next := s.load().getnext(gpa)
	if next == nil {
		return Memmap{}, abi.ENOENT
	}
	return next.Memmap, nil
}

// MaxAddr is the top of system memory: the highest gpa+len over mappings of
// sysmem segments, 0 when there are none. read(2) uses it to tell a hole in
// RAM (reads as zeros) from the space above RAM (EFAULT).
func (s *Space) MaxAddr() uint64 { return s.load().maxaddr }

// Page returns the host page backing the 4 KiB guest-physical page holding
// gpa, through any mapping, system or device memory (a boot ROM is executed
// from here), and that mapping's protection (abi.PROT_*). It returns nil, 0
// when no mapping covers gpa: the access is MMIO.
//
// The protection is the guest's, not the host's: the slice is always
// writable. An access the protection forbids is, on real hardware, a nested
// page fault vm_handle_paging cannot resolve, and VM_RUN fails with EFAULT
// (reference/vmm-interface.md §7.1 PAGING); enforcing that is the caller's.
//
// Page is the interpreter's PhysMem (emu/cpu/api.go). It takes no lock and
// does not allocate. The page stays valid until Free.
func (s *Space) Page(gpa uint64) (page []byte, prot int) {
	t := s.cur.Load()
	if t == nil {
		return nil, 0
	}
	for i := range t.maps {
		m := &t.maps[i]
		// Free slots have Len 0 and never match; mappings are page
		// aligned, so the page lies wholly inside m.
		if off := gpa - m.GPA; off < m.Len {
			off &^= pageMask
			return m.host[off : off+PageSize : off+PageSize], m.Prot
		}
	}
	return nil, 0
}

// Reinit removes the device-memory mappings, as VM_REINIT's vm_cleanup does:
// devmem (e.g. a PCI BAR) may be relocated by the guest and is re-mapped
// after reset, while system memory keeps its place
// (reference/vmm-interface.md §6.2 "Unmapping"). Segments stay allocated.
func (s *Space) Reinit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := *s.load()
	for i := range t.maps {
		if t.maps[i].Len != 0 && !t.maps[i].sysmem {
			t.maps[i] = mapping{}
		}
	}
	t.maxaddr = sysmemMaxaddr(&t)
	s.cur.Store(&t)
}

// Free removes every mapping and frees every segment, as vm_destroy does.
// It must run with no vCPU running and no ReadAt/WriteAt in flight (the
// kernel freezes all vCPUs first); pages earlier returned by Page are then
// invalid. Slices returned by Mmap and DevmemMmap stay valid with their
// contents until released with Munmap, because a user mapping holds a
// reference on the segment's object, as on FreeBSD. The Space is empty and
// usable again afterwards.
func (s *Space) Free() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	s.cur.Store(&table{})
	var first error
	for i := range old.segs {
		if obj := old.segs[i].obj; obj != nil {
			if err := obj.release(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// FreeMemseg frees segment segid, as vm_free_memseg does when the ioctl
// layer cannot create a device-memory segment's /dev/vmm.io node right
// after allocating it (reference/vmm-interface.md §6.1). Mappings of the
// segment are removed too; freeing an unallocated or out-of-range segment
// does nothing.
func (s *Space) FreeMemseg(segid int) error {
	if segid < 0 || segid >= abi.VM_MAX_MEMSEGS {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := *s.load()
	obj := t.segs[segid].obj
	if obj == nil {
		return nil
	}
	for i := range t.maps {
		if t.maps[i].Len != 0 && t.maps[i].Segid == segid {
			t.maps[i] = mapping{}
		}
	}
	t.segs[segid] = segment{}
	t.maxaddr = sysmemMaxaddr(&t)
	s.cur.Store(&t)
	return obj.release()
}

// SysmemPage is Page restricted to system memory: what FreeBSD 12's
// vm_gpa_hold reaches, so it is what the kernel's own guest-memory walks
// (VM_GLA2GPA's page-table reads) may touch (reference/vmm-interface.md
// §6.3, §9). Device memory and holes give nil.
func (s *Space) SysmemPage(gpa uint64) (page []byte, prot int) {
	t := s.cur.Load()
	if t == nil {
		return nil, 0
	}
	for i := range t.maps {
		m := &t.maps[i]
		if off := gpa - m.GPA; off < m.Len && m.sysmem {
			off &^= pageMask
			return m.host[off : off+PageSize : off+PageSize], m.Prot
		}
	}
	return nil, 0
}
