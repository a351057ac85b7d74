package cpu

import (
	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/abi"
)

// String I/O (INS/OUTS). VT-x does not execute these for vmm: every INS
// and OUTS, with or without REP, exits with the port, size, direction,
// REP, address size, the segment (ES for INS, DS or the override for
// OUTS) with its descriptor cache, the index register (RDI/RSI) and the
// count, and bhyve's emulate_inout copies the elements through guest
// memory and the port device, updates RSI/RDI/RCX and restarts the
// instruction while RCX != 0 (reference/vmm-interface.md §3.1 inout_str,
// §7.1). The interpreter does the same: the privilege checks of IN/OUT
// (IOPL, then the TSS I/O bitmap) happen here, the data transfer is the
// caller's. A REP with RCX = 0 still exits, with Count 0, as on VT-x.

// strIOOps maps INS/OUTS to (op, element size): op 1 is INS.
var strIOOps = map[x86asm.Op][2]uint8{
	x86asm.INSB: {1, 1}, x86asm.INSW: {1, 2}, x86asm.INSD: {1, 4},
	x86asm.OUTSB: {0, 1}, x86asm.OUTSW: {0, 2}, x86asm.OUTSD: {0, 4},
}

// buildStrIO fills in for INS/OUTS: in.seg is the segment number of the
// memory operand, in.asz the address size.
func (c *CPU) buildStrIO(in *insn, inst *x86asm.Inst) {
	so := strIOOps[inst.Op]
	in.op, in.sz = so[0], so[1]
	in.asz = uint8(inst.AddrSize / 8)
	in.seg = segES
	if in.op == 0 {
		in.seg = segDS
		for _, a := range inst.Args[:2] {
			if m, ok := a.(x86asm.Mem); ok {
				if s, ok := segNum(m.Segment); ok {
					in.seg = s
				}
			}
		}
	}
	// F2 and F3 both repeat INS/OUTS (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ").
	if in.rep&(repE|repNE) != 0 {
		in.rep = in.rep&^(repE|repNE) | repE
	}
	in.h = hInsOuts
}

// hInsOuts leaves Run with ExitInOutStr. RIP moves past the instruction,
// as vmm's nextrip does; the caller rewinds it (VM_RESTART_INSTRUCTION)
// while iterations remain.
func hInsOuts(c *CPU, in *insn) {
	port := uint16(c.r[rDX])
	if !c.ioCheck(in, port) {
		return
	}
	c.dbg.strAt = in.rip + 1 // debug.go owedTrap
	amask := sizeMask[in.asz]
	idx := rSI
	if in.op == 1 {
		idx = rDI
	}
	count := uint64(1)
	if in.rep&repE != 0 {
		count = c.r[rCX] & amask
	}
	s := &c.seg[in.seg]
	gla := c.r[idx] & amask
	if !c.mode64 || in.seg == segFS || in.seg == segGS {
		gla += s.base
	}
	if !c.mode64 {
		gla &= 0xffffffff
	}
	c.leave(in, in.rip+uint64(in.len))
	c.exit = Exit{Reason: ExitInOutStr, RIP: in.rip, InstLen: int(in.len), Port: port, Bytes: in.sz, In: in.op == 1,
		Str: StrIO{
			Rep: in.rep&repE != 0, AddrSize: in.asz, SegName: abi.VM_REG_GUEST_ES + int32(in.seg),
			Seg:   abi.SegDesc{Base: s.base, Limit: s.limit, Access: s.access},
			Index: c.r[idx], Count: count, GLA: gla, Rflags: c.rflags(), CR0: c.cr0, Paging: c.Paging(),
		}}
}

// Paging is the vCPU's vm_guest_paging as vmm fills it for exits: CR3,
// CPL, the CPU mode and the paging mode (reference/vmm-interface.md §3.1).
func (c *CPU) Paging() abi.VMGuestPaging {
	pg := abi.VMGuestPaging{Cr3: c.cr3, Cpl: int32(c.cpl)}
	switch {
	case c.efer&eferLMA != 0 && c.mode64:
		pg.CpuMode = abi.CPU_MODE_64BIT
	case c.efer&eferLMA != 0:
		pg.CpuMode = abi.CPU_MODE_COMPATIBILITY
	case c.pmode:
		pg.CpuMode = abi.CPU_MODE_PROTECTED
	default:
		pg.CpuMode = abi.CPU_MODE_REAL
	}
	switch {
	case c.cr0&cr0PG == 0:
		pg.PagingMode = abi.PAGING_MODE_FLAT
	case c.efer&eferLMA != 0:
		pg.PagingMode = abi.PAGING_MODE_64
	case c.cr4&cr4PAEbit != 0:
		pg.PagingMode = abi.PAGING_MODE_PAE
	default:
		pg.PagingMode = abi.PAGING_MODE_32
	}
	return pg
}
