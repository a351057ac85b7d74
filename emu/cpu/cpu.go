// Package cpu is softvmm's x86-64 interpreter: it decodes guest code once
// into blocks of pre-resolved instructions, runs them by handler chaining
// (DESIGN.md "The interpreter"), translates guest-virtual addresses through a
// software TLB, and keeps arithmetic flags lazily.
//
// It runs every mode a PC passes through from reset (reference/
// vmm-interface.md §14.3) to 64-bit long mode as bhyveload leaves it
// (§14.1): real mode, 16- and 32-bit protected mode, and IA-32e
// compatibility and 64-bit mode. RIP is the offset into CS; blocks are
// decoded in the mode CS.L/CS.D select and fetched at CS.base + RIP.
// Outside 64-bit mode memory operands go through their segment's base
// and limit (seg.go) by a path 64-bit code never takes; paging follows
// CR0.PG/CR4.PAE/EFER.LMA (none, 32-bit with PSE, PAE, 4-level).
// Mode switches are MOV CR0, WRMSR EFER and the far transfers of far.go;
// events go through the IVT or IDT of the current mode (except.go,
// deliverVector for external interrupts); far CALL/JMP through call
// gates of every size are gate.go's. INS/OUTS leave Run with
// ExitInOutStr for the caller to emulate (strio.go). Task switches
// between 32- and 16-bit TSSs (far JMP/CALL to a TSS or task gate, IRET
// with NT, task gates in the IDT) are task.go's; virtual-8086 mode without VME
// (entry by IRET, events to ring 0, IOPL-sensitive instructions) is
// vm86.go's (also entered by a task switch).
//
// Layout: api.go (the contract), cpu.go (state, registers by vm_reg_name),
// run.go (the Run loop), block.go (decoded-block cache, self-modifying
// code), decode.go and build.go (x86asm wrapper and insn construction),
// exec_*.go and alu_gen.go (handlers), flags.go (lazy flags), mem.go
// (software TLB, page walks), except.go (IVT/IDT delivery, #DF, triple
// fault), intr.go (external interrupts, NMI and injected events from
// emu/vmm), seg.go (segmentation, segment loads), far.go (far JMP/CALL/RET,
// IRET), legacy.go (legacy-only and system-segment instructions), sys.go
// (system instructions, MSRs), cpuid.go (the CPUID table), debug.go
// (DR0-DR7 breakpoints, DR6, RFLAGS.RF).
//
// Dispatch shape, measured on this project's 2-core AMD EPYC machines with
// real handlers on a 16-instruction ALU block (BenchmarkDispatchChained vs
// BenchmarkDispatchLoop): handlers that call the next instruction's handler
// ~5.5 ns/insn, a central loop calling each handler ~6.5-8 ns/insn. Blocks
// are therefore chained, and bounded to maxBlock instructions so the
// recursion depth is too. Whole-guest figures: BenchmarkLoop (add/dec/jnz)
// ~120-135 MIPS, BenchmarkALU ~140-170, BenchmarkCGuest (gcc -O2 C) ~105-175
// MIPS, depending on machine load.
package cpu

import (
	"softvmm/emu/abi"
)

// Register numbers of the general-purpose file, in x86 encoding order
// (which is NOT vm_reg_name order: see gprOfVMReg).
const (
	rAX = iota
	rCX
	rDX
	rBX
	rSP
	rBP
	rSI
	rDI
	r8
	r9
	r10
	r11
	r12
	r13
	r14
	r15
	// rAH..rBH name the legacy high-byte registers of AX..BX; they exist
	// only as operand encodings (16 + n means bits 8-15 of register n).
	rAH = 16
	rBH = 19
	// noReg marks an absent base/index register.
	noReg = 0xff
)

// Segment register numbers, in x86 encoding order.
const (
	segES = iota
	segCS
	segSS
	segDS
	segFS
	segGS
	segNone = 0xff
)

// RFLAGS bits.
const (
	flagCF   = 1 << 0
	flagRsv1 = 1 << 1 // reads as 1
	flagPF   = 1 << 2
	flagAF   = 1 << 4
	flagZF   = 1 << 6
	flagSF   = 1 << 7
	flagTF   = 1 << 8
	flagIF   = 1 << 9
	flagDF   = 1 << 10
	flagOF   = 1 << 11
	flagIOPL = 3 << 12
	flagNT   = 1 << 14
	flagRF   = 1 << 16
	flagVM   = 1 << 17
	flagAC   = 1 << 18
	flagVIF  = 1 << 19
	flagVIP  = 1 << 20
	flagID   = 1 << 21

	flagsArith = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF
	// flagsWritable are the RFLAGS bits software can change at all; the
	// rest (3, 5, 15, 22-63) read as zero.
	flagsWritable = flagsArith | flagTF | flagIF | flagDF | flagIOPL | flagNT |
		flagRF | flagVM | flagAC | flagVIF | flagVIP | flagID
)

// Control-register and EFER bits used by the interpreter.
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0EM = 1 << 2
	cr0TS = 1 << 3
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0AM = 1 << 18
	cr0NW = 1 << 29
	cr0CD = 1 << 30
	cr0PG = 1 << 31
)

const (
	cr4VME        = 1 << 0
	cr4PVI        = 1 << 1
	cr4TSD        = 1 << 2
	cr4DE         = 1 << 3
	cr4PSEbit     = 1 << 4
	cr4PAEbit     = 1 << 5
	cr4MCE        = 1 << 6
	cr4PGE        = 1 << 7
	cr4PCE        = 1 << 8
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10
	cr4VMXE       = 1 << 13
	// cr4Allowed are the CR4 bits a guest MOV to CR4 may set; others #GP.
	// VMXE is accepted because bhyveload writes it (§14.1) even though VMX
	// is not offered.
	cr4Allowed = cr4VME | cr4PVI | cr4TSD | cr4DE | cr4PSEbit | cr4PAEbit |
		cr4MCE | cr4PGE | cr4PCE | cr4OSFXSR | cr4OSXMMEXCPT | cr4VMXE | cr4OSXSAVE

	eferSCE = 1 << 0
	eferLME = 1 << 8
	eferLMA = 1 << 10
	eferNXE = 1 << 11
	// eferAllowed are the EFER bits WRMSR may set.
	eferAllowed = eferSCE | eferLME | eferLMA | eferNXE
)

// seg is a segment register with its hidden descriptor cache, in the VT-x
// access-rights format of seg_desc (reference/vmm-interface.md §4.3).
type seg struct {
	sel    uint16
	base   uint64
	limit  uint32
	access uint32
}

// MSR numbers the CPU owns (reference/vmm-interface.md §13).
const (
	msrTSC          = 0x10
	msrAPICBase     = 0x1b
	msrPAT          = 0x277
	msrSysenterCS   = 0x174
	msrSysenterESP  = 0x175
	msrSysenterEIP  = 0x176
	msrEFER         = 0xc0000080
	msrSTAR         = 0xc0000081
	msrLSTAR        = 0xc0000082
	msrCSTAR        = 0xc0000083
	msrSFMASK       = 0xc0000084
	msrFSBase       = 0xc0000100
	msrGSBase       = 0xc0000101
	msrKernelGSBase = 0xc0000102
)

// CPU is one virtual processor. It is not safe for concurrent use: emu/vmm
// freezes a vCPU before touching it, as vmm does.
type CPU struct {
	r   [16]uint64 // general-purpose registers, x86 encoding order
	rip uint64

	// Lazy flags: fl holds every RFLAGS bit; when lz.op != lzNone the
	// arithmetic bits of fl are stale and lz says how to compute them.
	fl uint64
	lz lazy

	seg        [6]seg
	ldtr, tr   seg
	gdtr, idtr seg // base and limit only

	cr0, cr2, cr3, cr4, cr8 uint64
	efer                    uint64
	dr                      [8]uint64
	star, lstar, cstar      uint64
	sfmask, kgsbase, pat    uint64
	tscOffset               uint64
	intrShadow              bool
	pauseExit               bool      // SetPauseExit
	intr                    intrState // intr.go
	// nmiBlocked: an NMI handler is running. Whoever delivers an NMI
	// (deliverVector(2)) sets it; IRET clears it (SDM Vol. 3 §6.7.1).
	nmiBlocked bool
	// pdpte: the PAE PDPTEs as last loaded (loadPDPTEs)
	pdpte [4]uint64

	mem    PhysMem
	vcpuid int

	retired uint64 // instructions retired, ever
	limit   uint64 // Run stops when retired reaches limit

	exit Exit // set by a handler to end Run

	tlb  tlb
	code codeCache

	fpu fpuState // x87/MMX/SSE registers (fpstate.go)

	// event delivery state (except.go)
	ev eventState

	// memory-fault record filled by the slow memory paths (mem.go)
	mf memFault

	// Stop sentinels: instructions whose handler ends a block early
	// (budget split, self-modifying store into the running block).
	stopBudget insn
	stopSMC    insn

	// Mode cache (modeChanged): cpl is CS.DPL (0 in real mode); mode64
	// is EFER.LMA && CS.L; dmode is the decode mode (16, 32 or 64, from
	// CS.L and CS.D); csBase is the base code fetches add to RIP (0 in
	// 64-bit mode); pmode is CR0.PE; ss32 is SS.B (legacy stack width).
	cpl    uint8
	mode64 bool
	pmode  bool
	// acArmed: alignment checking is on (CR0.AM, RFLAGS.AC, CPL 3;
	// SDM Vol. 3 §6.15 "Interrupt 17"). While it is, the TLB keeps no
	// data entries, so every data access takes the slow path, which
	// checks alignment (acUpdate, mem.go).
	acArmed bool
	ss32    bool
	dmode   uint8
	csBase  uint64

	// dbg: DR7 decoded and debug events in flight (debug.go).
	dbg debugState

	// Cold state last, so the hot fields above keep their offsets.
	tscAux uint64 // IA32_TSC_AUX, read by RDTSCP
	// IA32_SYSENTER_CS/ESP/EIP, read by SYSENTER and SYSEXIT (sys.go);
	// pass-through MSRs kept per vCPU like STAR and LSTAR
	// (reference/vmm-interface.md §13).
	sysenterCS, sysenterESP, sysenterEIP uint64
	randState                            uint64 // RDRAND generator (exec_isa.go)
}

// New returns a vCPU in the power-on state vmm's vcpu_reset sets up
// (reference/vmm-interface.md §14.3). vcpuid becomes the APIC id.
func New(m PhysMem, vcpuid int) *CPU {
	c := &CPU{mem: m, vcpuid: vcpuid}
	c.reset()
	c.tlb.flush()
	c.code.init()
	c.stopBudget.h = hStop
	c.stopSMC.h = hStop
	return c
}

func (c *CPU) reset() {
	c.r = [16]uint64{}
	c.r[rDX] = 0xf00
	c.rip = 0xfff0
	c.fl = flagRsv1
	c.lz.op = lzNone
	c.cr0 = cr0NE
	c.cr2, c.cr3, c.cr4 = 0, 0, 0
	c.seg[segCS] = seg{sel: 0xf000, base: 0xffff0000, limit: 0xffff, access: 0x93}
	for _, s := range []int{segSS, segDS, segES, segFS, segGS} {
		c.seg[s] = seg{limit: 0xffff, access: 0x93}
	}
	c.gdtr = seg{limit: 0xffff}
	c.idtr = seg{limit: 0xffff}
	c.tr = seg{access: 0x8b}
	c.ldtr = seg{limit: 0xffff, access: 0x82}
	c.pat = 0x0007040600070406
	c.fpu.reset()
	// DR0-DR3 = 0, DR6 = 0xFFFF0FF0, DR7 = 0x400: the SDM's power-up
	// values (Vol. 3 "Processor State Following Power-up, Reset, or
	// INIT"), which vmm gives every vCPU it creates (FreeBSD
	// sys/amd64/vmm/intel/vmx.c vmx_vcpu_init: guest_dr6 =
	// DBREG_DR6_RESERVED1, VMCS_GUEST_DR7 = DBREG_DR7_RESERVED1);
	// libvmmapi's vcpu_reset leaves them alone (reference/
	// vmm-interface.md §14.3).
	c.dr = [8]uint64{6: dr6Ones, 7: dr7Ones}
	c.dbg = debugState{}
	c.dbgUpdate()
	c.modeChanged()
}

// modeChanged recomputes the cached mode bits after CS, SS, CR0 or EFER
// moved. The decode mode and CS base are part of what a decoded block
// means, so a change of either bumps the TLB generation, which drops the
// block links (block.succ) made under the old mode.
func (c *CPU) modeChanged() {
	cs := &c.seg[segCS]
	c.pmode = c.cr0&cr0PE != 0
	cpl := uint8(cs.access>>abi.SEG_DESC_DPL_SHIFT) & 3
	if cs.access&0x1c == 0x1c {
		// A conforming code segment runs at the caller's privilege,
		// which CS.RPL holds; its DPL is only an upper bound.
		cpl = uint8(cs.sel & 3)
	}
	if !c.pmode {
		cpl = 0
	}
	if cpl != c.cpl {
		// TLB entries were checked against U/S for the old CPL.
		c.tlb.flush()
	}
	c.cpl = cpl
	c.mode64 = c.efer&eferLMA != 0 && cs.access&abi.SEG_DESC_L != 0
	dmode, base := uint8(16), cs.base&0xffffffff
	switch {
	case c.mode64:
		dmode, base = 64, 0
	case cs.access&segDB != 0:
		dmode = 32
	}
	if dmode != c.dmode || base != c.csBase {
		c.tlb.gen++
	}
	c.dmode, c.csBase = dmode, base
	c.ss32 = c.seg[segSS].access&segDB != 0
	c.acUpdate()
}

// acUpdate re-arms alignment checking after CR0, CPL or RFLAGS.AC moved.
func (c *CPU) acUpdate() {
	armed := c.cr0&cr0AM != 0 && c.fl&flagAC != 0 && c.cpl == 3 && c.pmode
	if armed != c.acArmed {
		c.acArmed = armed
		c.tlb.flush()
	}
}

// Access-rights bits of the segment cache beyond the type (VT-x format,
// reference/vmm-interface.md §4.3).
const (
	segS        = 1 << 4 // code/data (not system)
	segP        = 1 << 7
	segL        = 1 << 13
	segDB       = 1 << 14
	segG        = 1 << 15
	segUnusable = 1 << 16
)

// Retired is the number of instructions retired since New. REP string
// instructions count once, as the SDM's "instructions retired" event does.
func (c *CPU) Retired() uint64 { return c.retired }

// gprOfVMReg maps vm_reg_name (reference/vmm-interface.md §4.1) to the
// x86 register number, or -1.
func gprOfVMReg(r int32) int {
	switch {
	case r >= abi.VM_REG_GUEST_RAX && r <= abi.VM_REG_GUEST_R15:
		return [...]int{rAX, rBX, rCX, rDX, rSI, rDI, rBP, r8, r9, r10, r11, r12, r13, r14, r15}[r]
	case r == abi.VM_REG_GUEST_RSP:
		return rSP
	}
	return -1
}

func segOfVMReg(r int32) int {
	if r >= abi.VM_REG_GUEST_ES && r <= abi.VM_REG_GUEST_GS {
		return int(r - abi.VM_REG_GUEST_ES)
	}
	return -1
}

// Reg reads a register by vm_reg_name, as VM_GET_REGISTER does. Segment
// registers read as their selector. IDTR/GDTR and the PDPTEs are
// descriptor-only or not modelled: EINVAL (reference/vmm-interface.md §4.1).
func (c *CPU) Reg(r int32) (uint64, error) {
	if g := gprOfVMReg(r); g >= 0 {
		return c.r[g], nil
	}
	if s := segOfVMReg(r); s >= 0 {
		return uint64(c.seg[s].sel), nil
	}
	switch r {
	case abi.VM_REG_GUEST_CR0:
		return c.cr0, nil
	case abi.VM_REG_GUEST_CR3:
		return c.cr3, nil
	case abi.VM_REG_GUEST_CR4:
		return c.cr4, nil
	case abi.VM_REG_GUEST_CR2:
		return c.cr2, nil
	case abi.VM_REG_GUEST_DR7:
		return c.dr[7], nil
	case abi.VM_REG_GUEST_DR0, abi.VM_REG_GUEST_DR1, abi.VM_REG_GUEST_DR2, abi.VM_REG_GUEST_DR3:
		return c.dr[r-abi.VM_REG_GUEST_DR0], nil
	case abi.VM_REG_GUEST_DR6:
		return c.dr[6], nil
	case abi.VM_REG_GUEST_RIP:
		return c.rip, nil
	case abi.VM_REG_GUEST_RFLAGS:
		return c.rflags(), nil
	case abi.VM_REG_GUEST_LDTR:
		return uint64(c.ldtr.sel), nil
	case abi.VM_REG_GUEST_TR:
		return uint64(c.tr.sel), nil
	case abi.VM_REG_GUEST_EFER:
		return c.efer, nil
	case abi.VM_REG_GUEST_INTR_SHADOW:
		if c.intrShadow {
			return 1, nil
		}
		return 0, nil
	}
	return 0, abi.EINVAL
}

// SetReg writes a register by vm_reg_name, as VM_SET_REGISTER does.
// Writing CR0, CR3, CR4 or EFER flushes the software TLB; INTR_SHADOW
// accepts only 0 (reference/vmm-interface.md §4.1). Host writes are not
// checked the way guest MOV-to-CR is: vmm trusts its caller too.
func (c *CPU) SetReg(r int32, v uint64) error {
	if g := gprOfVMReg(r); g >= 0 {
		c.r[g] = v
		return nil
	}
	if s := segOfVMReg(r); s >= 0 {
		c.seg[s].sel = uint16(v)
		return nil
	}
	switch r {
	case abi.VM_REG_GUEST_CR0:
		c.cr0 = v
		c.tlb.flush()
		c.hostPDPTEs()
	case abi.VM_REG_GUEST_CR3:
		c.cr3 = v
		c.tlb.flush()
		c.hostPDPTEs()
	case abi.VM_REG_GUEST_CR4:
		c.cr4 = v
		c.tlb.flush()
		c.hostPDPTEs()
		c.dbgUpdate()
	case abi.VM_REG_GUEST_EFER:
		c.efer = v
		c.tlb.flush()
	case abi.VM_REG_GUEST_CR2:
		c.cr2 = v
	case abi.VM_REG_GUEST_DR7:
		c.dr[7] = v
		c.dbgUpdate()
	case abi.VM_REG_GUEST_DR0, abi.VM_REG_GUEST_DR1, abi.VM_REG_GUEST_DR2, abi.VM_REG_GUEST_DR3:
		c.dr[r-abi.VM_REG_GUEST_DR0] = v
		c.dbgUpdate()
	case abi.VM_REG_GUEST_DR6:
		c.dr[6] = v
	case abi.VM_REG_GUEST_RIP:
		c.rip = v
	case abi.VM_REG_GUEST_RFLAGS:
		c.setRflags(v)
	case abi.VM_REG_GUEST_LDTR:
		c.ldtr.sel = uint16(v)
	case abi.VM_REG_GUEST_TR:
		c.tr.sel = uint16(v)
	case abi.VM_REG_GUEST_INTR_SHADOW:
		if v != 0 {
			return abi.EINVAL
		}
		c.intrShadow = false
	default:
		return abi.EINVAL
	}
	c.modeChanged()
	return nil
}

// hostPDPTEs reloads the PAE PDPTEs after a host write of CR0, CR3 or
// CR4, as VM entry does; reserved bits are not refused here (the walk
// reports them as #PF with RSVD).
func (c *CPU) hostPDPTEs() {
	if pg, _ := c.physPage(c.cr3 &^ 0x1f); pg != nil {
		for i := range c.pdpte {
			c.pdpte[i] = load(pg[(c.cr3&0xfe0)+uint64(i)*8:], 8)
		}
	}
}

func (c *CPU) descPtr(r int32) *seg {
	if s := segOfVMReg(r); s >= 0 {
		return &c.seg[s]
	}
	switch r {
	case abi.VM_REG_GUEST_LDTR:
		return &c.ldtr
	case abi.VM_REG_GUEST_TR:
		return &c.tr
	case abi.VM_REG_GUEST_IDTR:
		return &c.idtr
	case abi.VM_REG_GUEST_GDTR:
		return &c.gdtr
	}
	return nil
}

// Desc reads a segment descriptor cache (VM_GET_SEGMENT_DESCRIPTOR).
func (c *CPU) Desc(r int32) (abi.SegDesc, error) {
	p := c.descPtr(r)
	if p == nil {
		return abi.SegDesc{}, abi.EINVAL
	}
	return abi.SegDesc{Base: p.base, Limit: p.limit, Access: p.access}, nil
}

// SetDesc writes a segment descriptor cache (VM_SET_SEGMENT_DESCRIPTOR).
func (c *CPU) SetDesc(r int32, d abi.SegDesc) error {
	p := c.descPtr(r)
	if p == nil {
		return abi.EINVAL
	}
	p.base, p.limit, p.access = d.Base, d.Limit, d.Access
	c.modeChanged()
	return nil
}
