package cpu

// Decoded code lives in blocks: straight-line runs of at most maxBlock
// instructions that end at a control transfer, a state-changing system
// instruction or a page boundary. A block is keyed by the guest-physical
// address of its first byte (plus the virtual RIP it was decoded at, since
// RIP-relative operands are pre-resolved). Each instruction's handler calls
// the next one's handler (Bochs-style chaining, DESIGN.md "The
// interpreter"); the last real instruction chains into a sentinel that
// stores RIP and the retired count.

// handler executes one decoded instruction. Handlers that continue the
// block end with in.next.h(c, in.next); handlers that leave it (branches,
// exceptions, exits) set c.rip and the retired count and return.
type handler func(c *CPU, in *insn)

// insn is one decoded instruction with its operands pre-resolved.
type insn struct {
	h    handler
	next *insn
	rip  uint64 // virtual address of the instruction
	imm  uint64 // immediate, masked to the operand size; branch target
	disp uint64 // memory displacement (absolute for RIP-relative)
	cnt  uint32 // instructions of the block retired once this one retires
	len  uint8
	sz   uint8 // operand size in bytes
	ssz  uint8 // secondary size: source of MOVZX/MOVSX, element of strings
	d, s uint8 // register operands (x86 numbering, 16-19 = AH..BH)
	// memory operand: base + index<<scale + disp, truncated to asz bytes,
	// plus the FS/GS base when seg says so
	// (64-bit mode), or through segment seg&7's base and limit when
	// seg&segChecked (legacy modes); msz is the access width the limit
	// check uses (0: sz)
	base, index, scale, seg, asz, msz uint8
	op                                uint8 // sub-operation (ALU op, condition code, ...)
	rep                               uint8 // repNone, repE, repNE
	mem                               bool  // the r/m operand is memory

	// Flag liveness (see liveness): fx classifies the instruction; when
	// the flags it writes are overwritten before anything can observe
	// them, h is nf (the variant without the lazy-flags update) and hf
	// keeps the full handler for when a block must stop right after it.
	fx     uint8
	dead   bool
	hf, nf handler
}

// fx bits.
const (
	fxRead        = 1 << iota // reads arithmetic flags
	fxWriteAll                // writes all six arithmetic flags; cannot fault or exit
	fxTransparent             // touches no flags; cannot fault, exit or stop the block
)

// liveness switches instructions whose flags are dead to their no-flags
// variants. A flag write is dead when a later instruction of the block
// overwrites all six flags with only transparent instructions between:
// nothing can fault, exit or stop in that window, so no exception frame,
// PUSHF, budget stop or Reg call can see the skipped values (Run restores
// the full handler when a budget stop falls inside such a window). The
// block's end is treated as a read.
func liveness(ins []insn) {
	dead := false
	for i := len(ins) - 1; i >= 0; i-- {
		in := &ins[i]
		if dead && in.nf != nil {
			in.hf, in.h, in.dead = in.h, in.nf, true
		}
		switch {
		case in.fx&fxRead != 0:
			dead = false
		case in.fx&fxWriteAll != 0:
			dead = true
		case in.fx&fxTransparent != 0:
		default:
			dead = false
		}
	}
}

// pendingDead returns the no-flags instruction whose flags would be
// visible if the block stopped after ins[k-1], or nil.
func pendingDead(ins []insn, k int) *insn {
	for j := k - 1; j >= 0; j-- {
		in := &ins[j]
		if in.dead {
			return in
		}
		if in.fx&fxTransparent == 0 {
			return nil
		}
	}
	return nil
}

const maxBlock = 64

type block struct {
	ins   []insn // n instructions plus the end sentinel
	n     int
	vrip  uint64
	gpa   uint64
	epoch uint64
	valid bool
	// The decode mode (16, 32, 64) and CS base the block was decoded
	// under: both change what the bytes mean.
	mode   uint8
	csBase uint64
	// The code bytes as decoded, for re-verification after the host had
	// a chance to write guest RAM (once per Run call, by epoch).
	bytes        []byte
	page1, page2 *[pageSz]byte
	gpa2         uint64 // second guest-physical page when the block straddles
	n1           int    // bytes on the first page
	// succ caches the blocks control went to from here, so a loop does
	// not translate RIP and probe the cache on every iteration.
	succ  [2]link
	nsucc uint8
}

type link struct {
	rip uint64
	gen uint64 // tlb.gen when linked
	b   *block
}

// codePage tracks which 64-byte chunks of a guest-physical page hold
// decoded code, so stores to the data part of a mixed page stay cheap.
type codePage struct {
	mask   uint64
	blocks []*block
}

const directSize = 4096

type codeCache struct {
	pages  map[uint64]*codePage
	blocks map[uint64]*block
	direct [directSize]*block
	epoch  uint64
	cur    *block // the block executing now
}

func (cc *codeCache) init() {
	cc.pages = make(map[uint64]*codePage)
	cc.blocks = make(map[uint64]*block)
}

func (cc *codeCache) isCode(gpage uint64) bool {
	_, ok := cc.pages[gpage]
	return ok
}

func directSlot(gpa uint64) int {
	return int((gpa ^ gpa>>12) % directSize)
}

// flushAll drops every decoded block (FlushCaches, memory map changes).
func (cc *codeCache) flushAll() {
	for _, b := range cc.blocks {
		b.valid = false
	}
	cc.pages = make(map[uint64]*codePage)
	cc.blocks = make(map[uint64]*block)
	cc.direct = [directSize]*block{}
}

func chunkMask(off, n uint64) uint64 {
	first, last := off/64, (off+n-1)/64
	if last > 63 {
		last = 63
	}
	var m uint64
	for i := first; i <= last; i++ {
		m |= 1 << i
	}
	return m
}

func (cc *codeCache) register(c *CPU, b *block) {
	cc.blocks[b.gpa] = b
	cc.direct[directSlot(b.gpa)] = b
	add := func(gpage, off, n uint64) {
		p := cc.pages[gpage]
		if p == nil {
			p = &codePage{}
			cc.pages[gpage] = p
			c.tlb.revokeWrites(gpage)
		}
		p.mask |= chunkMask(off, n)
		p.blocks = append(p.blocks, b)
	}
	add(b.gpa&^(pageSz-1), b.gpa&(pageSz-1), uint64(b.n1))
	if rest := len(b.bytes) - b.n1; rest > 0 {
		add(b.gpa2, 0, uint64(rest))
	}
}

// overlaps says whether the block's bytes include [gpa, gpa+n).
func (b *block) overlaps(gpa, n uint64) bool {
	if gpa < b.gpa+uint64(b.n1) && gpa+n > b.gpa {
		return true
	}
	if rest := uint64(len(b.bytes) - b.n1); rest > 0 {
		return gpa < b.gpa2+rest && gpa+n > b.gpa2
	}
	return false
}

// invalidate removes a block from every index.
func (cc *codeCache) invalidate(b *block) {
	if !b.valid {
		return
	}
	b.valid = false
	if cc.blocks[b.gpa] == b {
		delete(cc.blocks, b.gpa)
	}
	if s := directSlot(b.gpa); cc.direct[s] == b {
		cc.direct[s] = nil
	}
	drop := func(gpage uint64) {
		p := cc.pages[gpage]
		if p == nil {
			return
		}
		keep := p.blocks[:0]
		var mask uint64
		for _, o := range p.blocks {
			if o != b {
				keep = append(keep, o)
				mask |= o.maskOn(gpage)
			}
		}
		for i := len(keep); i < len(p.blocks); i++ {
			p.blocks[i] = nil
		}
		p.blocks, p.mask = keep, mask
		if len(keep) == 0 {
			delete(cc.pages, gpage)
		}
	}
	drop(b.gpa &^ (pageSz - 1))
	if len(b.bytes) > b.n1 {
		drop(b.gpa2)
	}
}

func (b *block) maskOn(gpage uint64) uint64 {
	if b.gpa&^(pageSz-1) == gpage {
		return chunkMask(b.gpa&(pageSz-1), uint64(b.n1))
	}
	return chunkMask(0, uint64(len(b.bytes)-b.n1))
}

// smc handles a guest store of n bytes at gpa to a page holding code: the
// blocks it overlaps are dropped, and if the running block is one of them
// it ends right after the storing instruction.
func (cc *codeCache) smc(c *CPU, in *insn, gpa, n uint64) {
	gpage := gpa &^ (pageSz - 1)
	p := cc.pages[gpage]
	if p == nil || p.mask&chunkMask(gpa&(pageSz-1), n) == 0 {
		return
	}
	if len(p.blocks) > smcDropAll {
		// A page with many blocks (say, zeroed by REP STOS after
		// holding code) is dropped whole: one pass instead of a
		// per-store search and mask rebuild.
		cur := cc.cur
		onPage := cur != nil && cur.valid && (cur.gpa&^(pageSz-1) == gpage || len(cur.bytes) > cur.n1 && cur.gpa2 == gpage)
		cc.dropPage(gpage)
		if onPage && in != nil {
			c.stopSMC.rip = in.rip + uint64(in.len)
			c.stopSMC.cnt = in.cnt
			in.next = &c.stopSMC
		}
		return
	}
	var hit []*block
	for _, b := range p.blocks {
		if b.overlaps(gpa, n) {
			hit = append(hit, b)
		}
	}
	for _, b := range hit {
		cc.invalidate(b)
		if b == cc.cur && in != nil {
			c.stopSMC.rip = in.rip + uint64(in.len)
			c.stopSMC.cnt = in.cnt
			in.next = &c.stopSMC
		}
	}
}

// smcDropAll is the block count above which a store into a code page
// drops every block of the page.
const smcDropAll = 16

// dropPage invalidates every block on a guest-physical page.
func (cc *codeCache) dropPage(gpage uint64) {
	p := cc.pages[gpage]
	if p == nil {
		return
	}
	delete(cc.pages, gpage)
	for _, b := range p.blocks {
		if len(b.bytes) > b.n1 {
			cc.invalidate(b) // also on its other page
			continue
		}
		if !b.valid {
			continue
		}
		b.valid = false
		if cc.blocks[b.gpa] == b {
			delete(cc.blocks, b.gpa)
		}
		if s := directSlot(b.gpa); cc.direct[s] == b {
			cc.direct[s] = nil
		}
	}
}

// verify compares a block's bytes with guest RAM now.
func (b *block) verify() bool {
	off := b.gpa & (pageSz - 1)
	if string(b.page1[off:off+uint64(b.n1)]) != string(b.bytes[:b.n1]) {
		return false
	}
	if rest := len(b.bytes) - b.n1; rest > 0 {
		return string(b.page2[:rest]) == string(b.bytes[b.n1:])
	}
	return true
}

// lookup returns the block at c.rip, decoding it on a miss. It returns nil
// after recording a fetch fault in c.mf.
func (c *CPU) lookup() *block {
	lin := c.csBase + c.rip
	if !c.mode64 {
		lin &= 0xffffffff
	}
	e, ok := c.fetchPage(lin)
	if !ok {
		return nil
	}
	gpa := e.gpa | lin&(pageSz-1)
	cc := &c.code
	b := cc.direct[directSlot(gpa)]
	if b == nil || b.gpa != gpa {
		b = cc.blocks[gpa]
		if b != nil {
			cc.direct[directSlot(gpa)] = b
		}
	}
	if b != nil && (b.vrip != c.rip || b.page1 != e.page || b.mode != c.dmode || b.csBase != c.csBase) {
		cc.invalidate(b)
		b = nil
	}
	if b != nil && b.epoch != cc.epoch {
		if b.verify() {
			b.epoch = cc.epoch
		} else {
			cc.invalidate(b)
			b = nil
		}
	}
	if b == nil {
		b = c.translate(e)
		if b == nil {
			return nil
		}
	}
	return b
}

// FlushCaches drops the software TLB and every decoded block. emu/vmm
// calls it when the guest-physical memory map changes (a segment mapped or
// unmapped), since both caches hold host pages PhysMem returned.
func (c *CPU) FlushCaches() {
	c.tlb.flush()
	c.code.flushAll()
}
