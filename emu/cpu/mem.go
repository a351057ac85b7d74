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
	// large: a 2 MiB/4 MiB/1 GiB page was filled since the last full
	// flush. Entries are per 4 KiB page, so INVLPG inside a large page
	// must drop everything (SDM §4.10.4.1: INVLPG invalidates the whole
	// large-page translation).
	large bool
	// slow is the last translation of a page kept out of the fast path
	// (slowOnly: a watched page, or any page under alignment checking),
	// so the slow path does not walk the page tables for every access to
	// it. It holds for the TLB generation it was made in; write says it
	// also allows writing (the walk found the page writable and dirty).
	slow struct {
		vpn, gen uint64
		write    bool
		e        tlbEntry // page and gpa only; no tags
	}
}

func (t *tlb) flush() {
	t.gen++
	t.large = false
	t.slow.vpn = noTag
	for i := range t.e {
		t.e[i] = tlbEntry{rtag: noTag, wtag: noTag, xtag: noTag}
	}
}

func (t *tlb) flushPage(va uint64) {
	if t.large {
		t.flush()
		return
	}
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
	// mfRestart: a data breakpoint's watched bytes were reached; the
	// instruction is aborted without an event and re-executed alone
	// (debug.go).
	mfRestart
)

// memFault records why a slow memory path failed; the handler that saw
// the failure hands it to c.memFault, which aborts the instruction.
type memFault struct {
	kind  uint8
	vec   uint8
	err   uint32
	write bool
	gpa   uint64
	// canon: the fault is the #GP(0) of a non-canonical 64-bit address,
	// which a stack reference turns into #SS(0) (ssFault, ssOperand).
	canon bool
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
// records the fault in c.mf. The paging mode follows CR0.PG, CR4.PAE and
// EFER.LMA (SDM Vol. 3 §4.1.1): none, 32-bit (4 MiB pages with CR4.PSE,
// PSE-36 high address bits), PAE (through the PDPTEs loaded at MOV to
// CR0/CR3/CR4, loadPDPTEs) and 4-level.
func (c *CPU) walk(va uint64, acc int) (gpa uint64, writable bool, ok bool) {
	if !canonical(va) {
		return 0, false, c.nonCanonical(va)
	}
	if c.cr0&cr0PG == 0 {
		return va & 0xffffffff, true, true
	}
	user := c.cpl == 3
	var code uint32
	if acc == accWrite {
		code |= pfW
	}
	if user {
		code |= pfU
	}
	nxe := c.efer&eferNXE != 0 && c.cr4&cr4PAEbit != 0
	if acc == accExec && nxe {
		code |= pfI
	}
	var w walker
	w.rw, w.us = true, true
	var leaf, pageMask uint64
	switch {
	case c.cr4&cr4PAEbit == 0:
		// 32-bit paging: two levels of 4-byte entries.
		va &= 0xffffffff
		table := c.cr3 & 0xfffff000
		for shift := uint(22); ; shift -= 10 {
			e, ok := w.entry(c, table+(va>>shift&0x3ff)*4, 4)
			if !ok || e&pteP == 0 {
				return 0, false, c.pageFault(va, code)
			}
			if shift == 12 || e&ptePS != 0 && c.cr4&cr4PSEbit != 0 {
				leaf, pageMask = e&0xfffff000, 1<<shift-1
				if shift == 22 {
					if e&(1<<21) != 0 {
						return 0, false, c.pageFault(va, code|pfP|pfRSVD)
					}
					leaf = e&0xffc00000 | (e>>13&0xff)<<32 // PSE-36
				}
				break
			}
			table = e & 0xfffff000
		}
	default:
		shift := uint(39)
		table := c.cr3 & pteAdr
		if c.efer&eferLMA == 0 {
			// PAE: the PDPTE has no R/W, U/S or A bits.
			va &= 0xffffffff
			e := c.pdpte[va>>30&3]
			if e&pteP == 0 {
				return 0, false, c.pageFault(va, code)
			}
			if e&0x1e6 != 0 || e&pteNX != 0 {
				return 0, false, c.pageFault(va, code|pfP|pfRSVD)
			}
			shift, table = 21, e&pteAdr
		}
		for ; ; shift -= 9 {
			e, ok := w.entry(c, table+(va>>shift&0x1ff)*8, 8)
			if !ok || e&pteP == 0 {
				return 0, false, c.pageFault(va, code)
			}
			if e&pteNX != 0 && !nxe || e&ptePS != 0 && shift == 39 {
				return 0, false, c.pageFault(va, code|pfP|pfRSVD)
			}
			w.nx = w.nx || e&pteNX != 0
			if shift == 12 || e&ptePS != 0 && (shift == 21 || shift == 30) {
				leaf, pageMask = e&pteAdr, 1<<shift-1
				break
			}
			table = e & pteAdr
		}
	}
	rw, us := w.rw, w.us
	// Permission checks (SDM 4.6): supervisor accesses ignore U/S except
	// that NX still applies; CR0.WP makes read-only pages read-only for
	// the supervisor as well.
	if user && !us {
		return 0, false, c.pageFault(va, code|pfP)
	}
	if acc == accWrite && !rw && (user || c.cr0&cr0WP != 0) {
		return 0, false, c.pageFault(va, code|pfP)
	}
	if acc == accExec && w.nx && nxe {
		return 0, false, c.pageFault(va, code|pfP)
	}
	dirty := w.setAD(acc == accWrite)
	if pageMask != pageSz-1 {
		c.tlb.large = true
	}
	base := leaf &^ pageMask
	gpa = base | va&pageMask
	writable = (rw || (!user && c.cr0&cr0WP == 0)) && (acc == accWrite || dirty)
	return gpa, writable, true
}

// walker collects the paging entries one walk visits, so the accessed and
// dirty bits are set only once every check has passed.
type walker struct {
	n        int
	ent      [4]walkEntry
	rw, us   bool
	nx       bool
	leafDirt bool
}

type walkEntry struct {
	page *[pageSz]byte
	off  uint64
	sz   uint8
}

// entry reads the paging entry at gpa (sz 4 or 8 bytes) and folds its
// R/W and U/S bits in. A table in MMIO space reads as not present.
func (w *walker) entry(c *CPU, gpa uint64, sz uint8) (uint64, bool) {
	pg, _ := c.physPage(gpa)
	if pg == nil {
		return 0, false
	}
	off := gpa & (pageSz - 1)
	e := load(pg[off:], sz)
	if e&pteP != 0 {
		w.ent[w.n] = walkEntry{pg, off, sz}
		w.n++
		w.rw = w.rw && e&pteRW != 0
		w.us = w.us && e&pteUS != 0
	}
	return e, true
}

// setAD sets A on every entry and D on the leaf for writes; it reports
// whether the leaf is dirty now.
func (w *walker) setAD(write bool) bool {
	dirty := false
	for i := 0; i < w.n; i++ {
		en := &w.ent[i]
		p := en.page[en.off:]
		e := load(p, en.sz)
		ne := e | pteA
		if i == w.n-1 {
			if write {
				ne |= pteD
			}
			dirty = ne&pteD != 0
		}
		if ne != e {
			store(p, en.sz, ne)
		}
	}
	return dirty
}

// fill translates va and installs a TLB entry for it.
func (c *CPU) fill(va uint64, acc int) (*tlbEntry, bool) {
	if s := &c.tlb.slow; s.vpn == va>>12 && s.gen == c.tlb.gen && (acc == accRead || acc == accWrite && s.write) {
		return &s.e, true
	}
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
	if c.slowOnly(vpn) {
		// No fast data entry while alignment checking is on, or for a
		// page a data breakpoint watches: the caller uses e once (the
		// slow path checks alignment and the watched bytes).
		if acc == accExec {
			e.xtag = vpn
			return e, true
		}
		s := &c.tlb.slow
		s.vpn, s.gen, s.write = vpn, c.tlb.gen, writable && prot&abi.PROT_WRITE != 0
		s.e = tlbEntry{rtag: noTag, wtag: noTag, xtag: noTag, page: pg, gpa: gpage}
		return e, true
	}
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
	case mfRestart:
		// Run re-executes in (debug.go).
	case mfMMIO:
		c.exitMMIO(in, c.mf.gpa, c.mf.write)
	case mfException:
		vec := c.mf.vec
		if vec == vecGP && c.mf.canon && ssOperand(in) {
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

// misaligned records #AC(0) for an sz-byte access at va when alignment
// checking is armed and the access runs at CPL 3 (event delivery and
// descriptor-table accesses run with supervisor CPL and are exempt).
func (c *CPU) misaligned(va uint64, sz uint8) bool {
	if !c.acArmed || c.cpl != 3 || va&(uint64(sz)-1) == 0 {
		return false
	}
	c.mf = memFault{kind: mfException, vec: vecAC}
	return true
}

func (c *CPU) readSlow(va uint64, sz uint8) (uint64, bool) {
	if c.misaligned(va, sz) || c.dbg.data != 0 && c.watch(va, sz, false) {
		return 0, false
	}
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
	if c.misaligned(va, sz) || in != nil && c.dbg.data != 0 && c.watch(va, sz, true) {
		return false
	}
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
		if !c.code.isCode(e.gpa) && !c.slowOnly(va>>12) {
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
