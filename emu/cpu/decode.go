package cpu

import (
	"golang.org/x/arch/x86/x86asm"
)

// Decoding goes through golang.org/x/arch/x86/x86asm, wrapped here with the
// fix-ups reference/style-and-ecosystem.md §B3 lists (each has a golden
// test in decode_test.go):
//   - hint NOPs 0F 18-1F, including endbr64 (F3 0F 1E FA), which x86asm
//     decodes as a lone prefix: decoded as NOP with the ModRM length;
//   - default-64-bit operations (PUSH, POP, CALL, RET, JMP, LEAVE, PUSHF,
//     POPF): x86asm's DataSize is 32; the effective size is 64 (16 with 66);
//   - string instructions: MemBytes is 0; the element size comes from Op;
//   - immediates arrive sign-extended to int64 and are masked to the
//     operand size here;
//   - MOV to/from CRn/DRn: width from the register argument (always 64).
// The result is a compact insn holding its handler, decoded once per
// cached instruction.

// translate decodes the block starting at c.rip, whose first byte is on
// the page e maps. It returns nil (fault in c.mf) when not even the first
// instruction can be fetched.
//
// Outside 64-bit mode RIP is an offset into CS: bytes are fetched at
// csBase+RIP, in.rip stays the offset, and an instruction that would
// end beyond the CS limit is not decoded (the block stops before it; as
// the first instruction it is #GP(0), SDM Vol. 3 §5.3).
func (c *CPU) translate(e *tlbEntry) *block {
	rip := c.rip
	lin := c.csBase + rip
	off := lin & (pageSz - 1)
	b := &block{vrip: rip, gpa: e.gpa | off, page1: e.page, epoch: c.code.epoch, valid: true,
		mode: c.dmode, csBase: c.csBase}
	climit := ^uint64(0)
	if !c.mode64 {
		climit = uint64(c.seg[segCS].limit)
	}
	ins := make([]insn, 0, 16)
	var next *tlbEntry // the following page, fetched on demand
	var buf [15]byte
	va := rip
	var code []byte
	for len(ins) < maxBlock {
		o := va - rip + off // offset from the start of page1
		if o >= pageSz {
			break // the next instruction starts on another page
		}
		n := copy(buf[:], e.page[o:])
		avail := n
		if n < 15 && next == nil {
			if ne, ok := c.fetchPage(lin - off + pageSz); ok {
				next = ne
			}
		}
		if n < 15 && next != nil {
			avail += copy(buf[n:], next.page[:])
		}
		var in insn
		inst, ok := decode(buf[:avail], int(c.dmode))
		if ok && decodeHook != nil {
			decodeHook(c, int(c.dmode), &inst)
		}
		if ok && va+uint64(inst.Len)-1 > climit {
			if len(ins) > 0 {
				break
			}
			c.mf = memFault{kind: mfException, vec: vecGP}
			return nil
		}
		if !ok || inst.Len > avail {
			if avail < 15 && next == nil {
				// Possibly truncated by an unmapped next page.
				if len(ins) > 0 {
					break
				}
				_, _ = c.fetchPage(lin - off + pageSz) // records the #PF
				return nil
			}
			in.len = 1
			in.h = hUD
		} else {
			in.len = uint8(inst.Len)
			c.build(&in, &inst, va)
		}
		in.rip = va
		code = append(code, buf[:in.len]...)
		ins = append(ins, in)
		va += uint64(in.len)
		if in.h == nil {
			ins[len(ins)-1].h = hUD
		}
		if endsBlock(&ins[len(ins)-1]) || va-rip+off > pageSz {
			break
		}
	}
	b.n = len(ins)
	b.bytes = code
	b.n1 = len(code)
	if int(off)+len(code) > pageSz {
		b.n1 = pageSz - int(off)
		b.page2 = next.page
		b.gpa2 = next.gpa
	}
	ins = append(ins, insn{h: hStop, rip: va, cnt: uint32(b.n)})
	for i := 0; i < b.n; i++ {
		ins[i].cnt = uint32(i + 1)
		ins[i].next = &ins[i+1]
	}
	liveness(ins[:b.n])
	b.ins = ins
	c.code.register(c, b)
	return b
}

// decodeHook, when set (only by the ISA coverage report, isacov_test.go),
// sees every instruction translate decodes, with the CPU (whose mode
// tells real and virtual-8086 code from a 16-bit protected-mode segment)
// and the decode mode.
var decodeHook func(c *CPU, mode int, inst *x86asm.Inst)

// endsBlock reports whether build marked in as the last of its block: a
// control transfer or a change of state the decoded block depends on.
func endsBlock(in *insn) bool { return in.rep&repTerm != 0 }

// rep field values.
const (
	repNone = 0
	repE    = 1 // F3: REP / REPE
	repNE   = 2 // F2: REPNE
	repMask = 3
	// repTerm marks an instruction that ends its block.
	repTerm = 0x80
)

// decode wraps x86asm.Decode with the fix-ups listed above, in mode 16,
// 32 or 64. The returned Inst has Op NOP for hint NOPs.
func decode(b []byte, mode int) (x86asm.Inst, bool) {
	// Skip legacy and REX prefixes to find the opcode.
	p := 0
	for p < len(b) {
		switch b[p] {
		case 0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0xf0:
			p++
			continue
		}
		if b[p]&0xf0 == 0x40 && mode == 64 {
			p++
			continue
		}
		break
	}
	if p+2 < len(b) && b[p] == 0x0f && (b[p+1] >= 0x18 && b[p+1] <= 0x1f || b[p+1] == 0x0d) {
		// Hint-NOP space (0F 18-1F, 0F 0D prefetch; endbr64 is F3 0F 1E
		// FA): x86asm knows only some /r forms, so size the ModRM here.
		asz := addrSize(b[:p], mode)
		n := p + 2 + modrmLen(b[p+2:], asz)
		for _, pf := range b[:p] {
			if pf == 0xf0 {
				return x86asm.Inst{}, false // LOCK: not a lockable instruction (SDM LOCK)
			}
		}
		if b[p+1] == 0x0d && b[p+2] >= 0xc0 {
			// PREFETCH/PREFETCHW take m8 only (SDM PREFETCHW, APM
			// PREFETCH); the host raises #UD for a register.
			return x86asm.Inst{}, false
		}
		if n > len(b) {
			return x86asm.Inst{}, false
		}
		ds := 32
		if mode == 16 {
			ds = 16
		}
		return x86asm.Inst{Op: x86asm.NOP, Len: n, Mode: mode, AddrSize: asz, DataSize: ds}, true
	}
	inst, err := x86asm.Decode(b, mode)
	if err != nil {
		if a := aliasOpcode(b, p); a != nil { // prefixud.go
			inst, err = x86asm.Decode(a, mode)
			if b[p] >= 0xd8 {
				// x87: the executor reads the alias's own opcode
				// (exec_x87.go x87Reg), and FOP records it.
				inst.Opcode = inst.Opcode&0xffff | uint32(b[p])<<24 | uint32(b[p+1])<<16
			}
		}
	}
	if err != nil || inst.Op == 0 || inst.Len == 0 {
		return x86asm.Inst{}, false
	}
	for _, pf := range inst.Prefix {
		if pf == 0 {
			break
		}
		if pf&x86asm.PrefixInvalid != 0 {
			return x86asm.Inst{}, false
		}
	}
	return inst, true
}

// regNum maps an x86asm general-purpose register to (number, size).
func regNum(r x86asm.Reg) (uint8, uint8, bool) {
	switch {
	case r >= x86asm.AL && r <= x86asm.BL:
		return uint8(r - x86asm.AL), 1, true
	case r >= x86asm.AH && r <= x86asm.BH:
		return uint8(r-x86asm.AH) + rAH, 1, true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return uint8(r-x86asm.SPB) + 4, 1, true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return uint8(r - x86asm.AX), 2, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return uint8(r - x86asm.EAX), 4, true
	case r >= x86asm.RAX && r <= x86asm.R15:
		return uint8(r - x86asm.RAX), 8, true
	}
	return 0, 0, false
}

func segNum(r x86asm.Reg) (uint8, bool) {
	if r >= x86asm.ES && r <= x86asm.GS {
		return uint8(r - x86asm.ES), true
	}
	return 0, false
}

// setMem fills the memory-operand fields from m.
func setMem(in *insn, inst *x86asm.Inst, m x86asm.Mem, va uint64) {
	in.mem = true
	in.base, in.index, in.scale = noReg, noReg, 0
	in.disp = uint64(m.Disp)
	in.asz = uint8(inst.AddrSize / 8)
	if in.asz == 0 {
		in.asz = 8
	}
	switch m.Base {
	case 0:
	case x86asm.RIP, x86asm.EIP:
		in.disp += va + uint64(inst.Len)
	default:
		in.base, _, _ = regNum(m.Base)
	}
	if m.Index != 0 {
		in.index, _, _ = regNum(m.Index)
		switch m.Scale {
		case 2:
			in.scale = 1
		case 4:
			in.scale = 2
		case 8:
			in.scale = 3
		}
	}
	in.msz = uint8(inst.MemBytes)
	in.seg = segNone
	if inst.Mode != 64 {
		// Legacy modes: every operand goes through its segment's base
		// and limit (seg.go); the default is SS for BP/SP-based forms.
		s := uint8(segDS)
		if sn, ok := segNum(m.Segment); ok {
			s = sn
		} else if m.Base == x86asm.BP || m.Base == x86asm.EBP || m.Base == x86asm.ESP || m.Base == x86asm.SP {
			s = segSS
		}
		in.seg = segChecked | s
		return
	}
	switch m.Segment {
	case x86asm.FS:
		in.seg = segFS
	case x86asm.GS:
		in.seg = segGS
	}
}

// ea computes the linear address of in's memory operand.
func (c *CPU) ea(in *insn) uint64 {
	a := in.disp
	if in.base != noReg {
		a += c.r[in.base]
	}
	if in.index != noReg {
		a += c.r[in.index] << in.scale
	}
	if in.asz != 8 {
		a &= sizeMask[in.asz]
	}
	if in.seg != segNone {
		if in.seg&segChecked != 0 {
			return c.linearIn(in, a)
		}
		a += c.seg[in.seg].base
	}
	return a
}

// segPrefixReg maps a segment-override prefix to its register.
var segPrefixReg = map[x86asm.Prefix]x86asm.Reg{
	x86asm.PrefixES: x86asm.ES, x86asm.PrefixCS: x86asm.CS, x86asm.PrefixSS: x86asm.SS,
	x86asm.PrefixDS: x86asm.DS, x86asm.PrefixFS: x86asm.FS, x86asm.PrefixGS: x86asm.GS,
}

// segPrefix is the segment register a segment-override prefix names, or 0
// (no override). Decode-time only.
func segPrefix(inst *x86asm.Inst) x86asm.Reg {
	for _, pf := range inst.Prefix {
		if pf == 0 {
			break
		}
		if r, ok := segPrefixReg[pf&0xff]; ok {
			return r
		}
	}
	return 0
}

func hasPrefix(inst *x86asm.Inst, p x86asm.Prefix) bool {
	for _, pf := range inst.Prefix {
		if pf == 0 {
			return false
		}
		if pf&0xff == p {
			return true
		}
	}
	return false
}

// stackSize is the operand size of a default-64-bit operation (the
// plain operand size outside 64-bit mode).
func stackSize(inst *x86asm.Inst) uint8 {
	if inst.DataSize == 16 {
		return 2
	}
	if inst.Mode != 64 {
		return 4
	}
	return 8
}

// branchSize is the operand size of a near JMP or CALL: 64 bits in 64-bit
// mode whatever the prefixes (Intel ignores 66 there), else the operand
// size, to which the target is truncated.
func branchSize(inst *x86asm.Inst) uint8 {
	if inst.Mode == 64 {
		return 8
	}
	return uint8(inst.DataSize / 8)
}

// addrSize is the address size in bits given the prefixes before the
// opcode.
func addrSize(prefixes []byte, mode int) int {
	a67 := false
	for _, p := range prefixes {
		a67 = a67 || p == 0x67
	}
	switch {
	case mode == 64 && a67:
		return 32
	case mode == 64:
		return 64
	case (mode == 32) != a67:
		return 32
	}
	return 16
}

// modrmLen is the length of a ModRM byte with its SIB and displacement
// for an address size in bits (32 and 64 share a layout).
func modrmLen(b []byte, asz int) int {
	m := b[0]
	mod, rm := m>>6, m&7
	n := 1
	if mod == 3 {
		return n
	}
	if asz == 16 {
		switch {
		case mod == 0 && rm == 6, mod == 2:
			return n + 2
		case mod == 1:
			return n + 1
		}
		return n
	}
	if rm == 4 {
		n++
		if len(b) > 1 && mod == 0 && b[1]&7 == 5 {
			n += 4
		}
	} else if mod == 0 && rm == 5 {
		n += 4
	}
	switch mod {
	case 1:
		n++
	case 2:
		n += 4
	}
	return n
}
