package cpu

import (
	"encoding/binary"

	"softvmm/emu/abi"
)

// The software TLB maps a guest-virtual page to the host bytes of the
// guest-physical page behind it, separately for read, write and execute so
// the fast path is one compare per access (DESIGN.md "a software TLB").
// A tag is the virtual page number; noTag never matches a canonical one.
const (
	tlbSize = 256
	noTag   = ^uint64(0)
	pageSz  = 4096
)

type tlbEntry struct {
	rtag, wtag, xtag uint64
	page             *[pageSz]byte
	gpa              uint64 // guest-physical page address
	// writable: the translation allows writes and the PTE's D bit is set,
	// but wtag is withheld because the page holds decoded code.
	writable bool
}

type tlb struct {
	e [tlbSize]tlbEntry
	// gen counts flushes; block links (block.succ) are valid only for the
	// generation they were made in.
	gen uint64
}

func (t *tlb) flush() {
	t.gen++
	for i := range t.e {
		t.e[i] = tlbEntry{rtag: noTag, wtag: noTag, xtag: noTag}
	}
}

func (t *tlb) flushPage(va uint64) {
	t.gen++
	vpn := va >> 12
	e := &t.e[vpn%tlbSize]
	if e.rtag == vpn || e.wtag == vpn || e.xtag == vpn {
		*e = tlbEntry{rtag: noTag, wtag: noTag, xtag: noTag}
	}
}

// revokeWrites withdraws fast write access to a guest-physical page that
// now holds decoded code, so stores reach the SMC check.
func (t *tlb) revokeWrites(gpaPage uint64) {
	for i := range t.e {
		e := &t.e[i]
		if e.wtag != noTag && e.gpa == gpaPage {
			e.wtag = noTag
			e.writable = true
		}
	}
}

// Access kinds.
const (
	accRead = iota
	accWrite
	accExec
)

// Memory-fault kinds.
const (
	mfNone = iota
	mfException
	mfMMIO
)

// memFault records why a slow memory path failed; the handler that saw
// the failure hands it to c.memFault, which aborts the instruction.
type memFault struct {
	kind  uint8
	vec   uint8
	err   uint32
	write bool
	gpa   uint64
}

// Page-table entry bits.
const (
	pteP   = 1 << 0
	pteRW  = 1 << 1
	pteUS  = 1 << 2
	pteA   = 1 << 5
	pteD   = 1 << 6
	ptePS  = 1 << 7
	pteNX  = 1 << 63
	pteAdr = 0x000ffffffffff000
)

// #PF error-code bits.
const (
	pfP    = 1 << 0
	pfW    = 1 << 1
	pfU    = 1 << 2
	pfRSVD = 1 << 3
	pfI    = 1 << 4
)

func canonical(va uint64) bool {
	return uint64(int64(va<<16)>>16) == va
}

// physPage returns the host page behind a guest-physical address.
func (c *CPU) physPage(gpa uint64) (*[pageSz]byte, int) {
	p, prot := c.mem.Page(gpa &^ (pageSz - 1))
	if len(p) < pageSz {
		return nil, 0
	}
	return (*[pageSz]byte)(p[:pageSz]), prot
}

// pageFault records a #PF for va.
func (c *CPU) pageFault(va uint64, code uint32) bool {
	c.mf = memFault{kind: mfException, vec: vecPF, err: code}
	c.ev.cr2 = va
	return false
}

func (c *CPU) gpFault(code uint32) bool {
	c.mf = memFault{kind: mfException, vec: vecGP, err: code}
	return false
}

// walk translates va for an access of the given kind, setting A (and D on
// writes) in the guest page tables. It returns the guest-physical address
// and whether writes are allowed without another walk. On failure it
// records the fault in c.mf.
func (c *CPU) walk(va uint64, acc int) (gpa uint64, writable bool, ok bool) {
	if c.cr0&cr0PG == 0 {
		return va & 0xffffffff, true, true
	}
	if c.cr4&cr4PAEbit == 0 || c.efer&eferLMA == 0 {
		// Legacy 32-bit and PAE paging belong to later issues.
		c.mf = memFault{kind: mfException, vec: vecGP}
		return 0, false, false
	}
	if !canonical(va) {
		c.mf = memFault{kind: mfException, vec: vecGP}
		return 0, false, false
	}
	user := c.cpl == 3
	var code uint32
	if acc == accWrite {
		code |= pfW
	}
	if user {
		code |= pfU
	}
	if acc == accExec && c.efer&eferNXE != 0 {
		code |= pfI
	}
	rw, us, nx := true, true, false
	table := c.cr3 & pteAdr
	var ptes [4]struct {
		page *[pageSz]byte
		off  uint64
	}
	level := 0
	var leaf uint64
	var pageMask uint64
	for shift := uint(39); ; shift -= 9 {
		idx := (va >> shift) & 0x1ff
		pg, _ := c.physPage(table)
		if pg == nil {
			// Page tables in MMIO space: report it as a fault-free
			// MMIO exit would be wrong; hardware reads garbage. Treat
			// as not present.
			return 0, false, c.pageFault(va, code)
		}
		off := (table & (pageSz - 1)) + idx*8
		e := binary.LittleEndian.Uint64(pg[off:])
		if e&pteP == 0 {
			return 0, false, c.pageFault(va, code)
		}
		if e&pteNX != 0 && c.efer&eferNXE == 0 {
			return 0, false, c.pageFault(va, code|pfP|pfRSVD)
		}
		ptes[level].page, ptes[level].off = pg, off
		level++
		rw = rw && e&pteRW != 0
		us = us && e&pteUS != 0
		nx = nx || e&pteNX != 0
		if shift == 12 || (e&ptePS != 0 && (shift == 21 || shift == 30)) {
			if shift == 39 && e&ptePS != 0 {
				return 0, false, c.pageFault(va, code|pfP|pfRSVD)
			}
			leaf = e
			pageMask = 1<<shift - 1
			break
		}
		if e&ptePS != 0 && shift == 39 {
			return 0, false, c.pageFault(va, code|pfP|pfRSVD)
		}
		table = e & pteAdr
	}
	// Permission checks (SDM 4.6): supervisor accesses ignore U/S except
	// that NX still applies; CR0.WP makes read-only pages read-only for
	// the supervisor as well.
	if user && !us {
		return 0, false, c.pageFault(va, code|pfP)
	}
	if acc == accWrite && !rw && (user || c.cr0&cr0WP != 0) {
		return 0, false, c.pageFault(va, code|pfP)
	}
	if acc == accExec && nx && c.efer&eferNXE != 0 {
		return 0, false, c.pageFault(va, code|pfP)
	}
	// Set accessed bits on every level and dirty on the leaf for writes.
	for i := 0; i < level; i++ {
		p := ptes[i].page[ptes[i].off:]
		e := binary.LittleEndian.Uint64(p)
		ne := e | pteA
		if i == level-1 && acc == accWrite {
			ne |= pteD
		}
		if ne != e {
			binary.LittleEndian.PutUint64(p, ne)
		}
	}
	base := leaf & pteAdr &^ pageMask
	gpa = base | va&pageMask
	writable = (rw || (!user && c.cr0&cr0WP == 0)) && (acc == accWrite || leaf&pteD != 0)
	return gpa, writable, true
}

// fill translates va and installs a TLB entry for it.
func (c *CPU) fill(va uint64, acc int) (*tlbEntry, bool) {
	gpa, writable, ok := c.walk(va, acc)
	if !ok {
		return nil, false
	}
	pg, prot := c.physPage(gpa)
	if pg == nil || (acc == accWrite && prot&abi.PROT_WRITE == 0) {
		c.mf = memFault{kind: mfMMIO, write: acc == accWrite, gpa: gpa}
		return nil, false
	}
	vpn := va >> 12
	e := &c.tlb.e[vpn%tlbSize]
	gpage := gpa &^ (pageSz - 1)
	if e.page != pg || e.gpa != gpage || e.rtag != vpn {
		*e = tlbEntry{rtag: noTag, wtag: noTag, xtag: noTag}
	}
	e.page, e.gpa = pg, gpage
	e.rtag = vpn
	if acc == accExec {
		// Execute permission is known only after a walk for execution.
		e.xtag = vpn
	}
	if writable && prot&abi.PROT_WRITE != 0 {
		if c.code.isCode(gpage) {
			e.writable = true
		} else {
			e.wtag = vpn
		}
	}
	return e, true
}

// memFault aborts the instruction in after a failed memory access: an
// exception is delivered, MMIO ends Run.
func (c *CPU) memFault(in *insn) {
	c.abort(in)
	switch c.mf.kind {
	case mfMMIO:
		c.exitMMIO(in, c.mf.gpa, c.mf.write)
	case mfException:
		vec := c.mf.vec
		if vec == vecGP && c.mf.err == 0 && ssOperand(in) {
			vec = vecSS // exec_isa.go
		}
		c.raiseAt(vec, c.mf.err, hasErrCode(vec))
	}
}

// segBase is the base added to an effective address: only FS and GS
// have one in 64-bit mode.
func (c *CPU) segBase(s uint8) uint64 {
	if s == segFS || s == segGS {
		return c.seg[s].base
	}
	return 0
}

// read loads sz bytes (1, 2, 4, 8) from virtual address va.
func (c *CPU) read(va uint64, sz uint8) (uint64, bool) {
	off := va & (pageSz - 1)
	if off+uint64(sz) <= pageSz {
		e := &c.tlb.e[(va>>12)%tlbSize]
		if e.rtag == va>>12 {
			return load(e.page[off:], sz), true
		}
	}
	return c.readSlow(va, sz)
}

func load(p []byte, sz uint8) uint64 {
	switch sz {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(p))
	case 4:
		return uint64(binary.LittleEndian.Uint32(p))
	}
	return binary.LittleEndian.Uint64(p)
}

func store(p []byte, sz uint8, v uint64) {
	switch sz {
	case 1:
		p[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(p, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(p, uint32(v))
	default:
		binary.LittleEndian.PutUint64(p, v)
	}
}

func (c *CPU) readSlow(va uint64, sz uint8) (uint64, bool) {
	off := va & (pageSz - 1)
	if off+uint64(sz) <= pageSz {
		e, ok := c.fill(va, accRead)
		if !ok {
			return 0, false
		}
		return load(e.page[off:], sz), true
	}
	// Straddles two pages: byte at a time; both pages must translate
	// before anything is returned.
	var v uint64
	for i := uint8(0); i < sz; i++ {
		b, ok := c.read(va+uint64(i), 1)
		if !ok {
			return 0, false
		}
		v |= b << (8 * i)
	}
	return v, true
}

// write stores sz bytes at va. in is the executing instruction (nil during
// event delivery); a store into the running block's code ends the block
// after in.
func (c *CPU) write(in *insn, va uint64, sz uint8, v uint64) bool {
	off := va & (pageSz - 1)
	if off+uint64(sz) <= pageSz {
		e := &c.tlb.e[(va>>12)%tlbSize]
		if e.wtag == va>>12 {
			store(e.page[off:], sz, v)
			return true
		}
	}
	return c.writeSlow(in, va, sz, v)
}

func (c *CPU) writeSlow(in *insn, va uint64, sz uint8, v uint64) bool {
	off := va & (pageSz - 1)
	if off+uint64(sz) > pageSz {
		// Check both pages before storing anything.
		n := uint8(pageSz - off)
		if _, ok := c.translateW(va); !ok {
			return false
		}
		if _, ok := c.translateW(va + uint64(n)); !ok {
			return false
		}
		for i := uint8(0); i < sz; i++ {
			if !c.write(in, va+uint64(i), 1, v>>(8*i)) {
				return false
			}
		}
		return true
	}
	e, ok := c.translateW(va)
	if !ok {
		return false
	}
	if e.wtag != va>>12 {
		// A code page: invalidate the blocks the store overlaps.
		c.code.smc(c, in, e.gpa+off, uint64(sz))
		if !c.code.isCode(e.gpa) {
			e.wtag = va >> 12
			e.writable = false
		}
	}
	store(e.page[off:], sz, v)
	return true
}

// translateW returns a TLB entry that permits writing va (possibly a
// code page with wtag withheld).
func (c *CPU) translateW(va uint64) (*tlbEntry, bool) {
	vpn := va >> 12
	e := &c.tlb.e[vpn%tlbSize]
	if e.wtag == vpn || (e.rtag == vpn && e.writable) {
		return e, true
	}
	return c.fill(va, accWrite)
}

// fetchPage returns the host page and guest-physical page for executing at
// va, checking execute permission.
func (c *CPU) fetchPage(va uint64) (*tlbEntry, bool) {
	vpn := va >> 12
	e := &c.tlb.e[vpn%tlbSize]
	if e.xtag == vpn {
		return e, true
	}
	return c.fill(va, accExec)
}
