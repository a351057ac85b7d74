package cpu

// Debug registers and debug exceptions (SDM Vol. 3 ch. 18 "Debug, Branch
// Profile, TSC, and Intel Resource Director Technology Features": "Debug
// Registers", "Debug Exceptions", "Resume Flag").
//
// DR7 is decoded once, when DR0-DR3, DR7 or CR4 change (dbgUpdate), into
// three masks: instruction breakpoints (R/W 00), data breakpoints (R/W 01
// write, 11 read/write) and I/O breakpoints (R/W 10 with CR4.DE). Nothing
// on the per-instruction path looks at them:
//   - Run tests one field (dbg.on) besides RFLAGS.TF and RF per block
//     entry; with any of them set the block runs through debugBlock,
//     which checks the instruction breakpoints: one on the block's first
//     instruction is a fault right there; one further in shortens the
//     block so it starts the next one.
//   - Data breakpoints keep their pages out of the software TLB (fill), so
//     every access to a watched page takes the slow path (which keeps
//     the page's last translation, tlb.slow, rather than walk each time)
//     and is compared with the watched bytes. The first access that hits
//     aborts the instruction as a fault would (mfRestart: nothing is
//     delivered), and Run re-executes it alone with the comparison
//     recording instead (dbg.precise), then delivers the #DB trap after
//     it. A REP string
//     instruction stops after the iteration that hit, RIP at itself and
//     RF set, as the SDM says for traps from an iteration but the last.
//   - I/O breakpoints are compared by IN/OUT/INS/OUTS (ioCheck), which
//     always leave Run; the trap is owed to the next Run (dbg.owed).
//
// RFLAGS.RF suppresses instruction breakpoints for one instruction and is
// cleared as that instruction starts (SDM "Instruction-Breakpoint
// Exception Condition": "The RF Flag is cleared at the start of the
// instruction after the check for instruction breakpoints"). Only IRETD/
// IRETQ, a task switch, a REP string yield or VM_SET_REGISTER can set it;
// Run clears it at the next block entry. Every fault-class exception
// pushes RF = 1 except the instruction-breakpoint #DB, which pushes RF as
// it is (0), so a handler must set RF in the frame to get past the
// breakpoint (deliver, SDM "Resume Flag"); traps and interrupts push the
// current RF.
//
// Choices where the SDM leaves room, documented here:
//   - B0-B3 are set only for enabled breakpoints (the SDM allows setting
//     them for disabled ones too), and every DR6 status bit is sticky: the
//     processor ORs in new conditions and never clears any (B0-B3 "may"
//     be cleared by hardware; the handler must clear DR6 either way).
//   - LENn = 10 is an 8-byte range in every mode (Intel 64 processors;
//     SDM "Debug Registers and Intel 64 Processors"). The LEN of an
//     instruction breakpoint is ignored (other than 00 is undefined).
//   - R/W = 10 with CR4.DE = 0 is undefined: softvmm treats it as a
//     disabled breakpoint (no #UD, no trap).
//   - Data breakpoints see the accesses an instruction makes through
//     guest-linear memory (operands, stack pushes and pops, string
//     elements). They do not see the stack pushes of event delivery and
//     of calls through gates to an inner ring, GDT/IDT/LDT/TSS accesses,
//     or the memory side of INS/OUTS and MMIO instructions, which the
//     caller emulates.
//   - Not modelled: the one-instruction delay of #DB after MOV SS/POP SS
//     (a trap owed by them is delivered right after them).
//   - Every #DB but INT1 (ICEBP) clears DR7.GD on entry to the handler
//     (SDM "Debug Control Register (DR7)": "The processor clears the GD
//     flag upon entering to the debug exception handler").

// DR6 and DR7 bits.
const (
	dr6BD  = 1 << 13 // a MOV DR while DR7.GD was set
	dr6BS  = 1 << 14 // single step (RFLAGS.TF)
	dr6BT  = 1 << 15 // task switch to a TSS with its T bit set
	dr7GD  = 1 << 13 // general detect: MOV DR raises #DB
	dr7Lxs = 0x55    // L0-L3, cleared by every task switch
)

// dbgRestart in debugState.pend: a watched access aborted the running
// instruction, which must run again alone (precise).
const dbgRestart = 1 << 63

// debugState is the decoded DR7 and the debug events in flight.
type debugState struct {
	// Enabled breakpoints by kind (bit n: DRn), from dbgUpdate.
	exec, data, io uint8
	// on: Run looks at every block entry: an instruction breakpoint is
	// enabled, precise is set or pend is not empty (dbgOn).
	on bool
	// precise: the next instruction runs alone and data-breakpoint hits
	// are recorded in hit rather than restarting it.
	precise bool
	// repTrap: a REP string instruction stopped after the iteration
	// that hit (RIP at it, RF set); the trap is owed though it did not
	// retire.
	repTrap bool
	// pend is owed at the next instruction boundary: DR6.BT, dbgRestart.
	pend uint64
	// hit: B0-B3 of the data breakpoints the precise instruction hit.
	hit uint64
	// rf: RF exempted the block entered now from its first breakpoint.
	rf bool
	// fault: the event raiseAt is delivering is fault-class, so the
	// RFLAGS image pushed has RF = 1 (deliver).
	fault bool
	// owed: the DR6 bits of a #DB trap owed after an instruction that
	// ended Run with an exit (I/O, HLT, MSR, PAUSE: single step, I/O
	// breakpoints); the next Run delivers it (owedTrap).
	owed uint64
	// strAt is RIP+1 of the INS/OUTS that ended the last Run, 0 if none:
	// a trap owed after one the caller rewound pushes RF = 1.
	strAt uint64
}

// dbgUpdate decodes DR7 (with CR4.DE for I/O breakpoints) after DR0-DR3,
// DR7 or CR4 changed. The software TLB is flushed when data breakpoints
// are or were enabled, so the watched pages (which may have moved) are
// refilled through fill, which keeps them out of the fast path.
func (c *CPU) dbgUpdate() {
	d7 := c.dr[7]
	var exec, data, io uint8
	for n := 0; n < 4; n++ {
		if d7>>(2*n)&3 == 0 {
			continue
		}
		switch d7 >> (16 + 4*n) & 3 {
		case 0:
			exec |= 1 << n
		case 1, 3:
			data |= 1 << n
		case 2:
			if c.cr4&cr4DE != 0 {
				io |= 1 << n
			}
		}
	}
	if data != 0 || c.dbg.data != 0 {
		c.tlb.flush()
	}
	c.dbg.exec, c.dbg.data, c.dbg.io = exec, data, io
	c.dbgOn()
}

// dbgOn recomputes dbg.on, the one field Run tests per block entry
// (besides RFLAGS.TF and RF) to know whether debug work is pending.
func (c *CPU) dbgOn() {
	d := &c.dbg
	d.on = d.exec != 0 || d.precise || d.pend != 0
}

// debugBlock is Run's block entry when dbg.on, RFLAGS.TF or RF is set:
// RF is taken (it exempts this instruction from its breakpoint) and
// cleared as the instruction starts; an instruction breakpoint here is
// raised; otherwise the block runs, one instruction at a time when
// single-stepping or re-executing a watched access, and never past an
// instruction with a breakpoint; then the trap it owes is delivered. It
// is kept out of Run so that the loop without debug work stays small.
//
//go:noinline
func (c *CPU) debugBlock() {
	c.dbg.rf = c.fl&flagRF != 0
	c.fl &^= flagRF
	if c.dbg.exec != 0 && !c.dbg.rf && c.codeBreak() {
		return
	}
	// The block lookup and budget bound are Run's, repeated here so
	// that Run's own loop holds no debug state (a helper both call is
	// too large for the compiler to inline there, and costs ~5% of
	// block-heavy workloads).
	b := c.next(c.code.cur)
	if b == nil {
		c.code.cur = nil
		c.fetchFault()
		return
	}
	c.code.cur = b
	k := b.n
	if rem := c.limit - c.retired; uint64(k) > rem {
		k = int(rem)
	}
	shadow := c.intrShadow
	step := c.fl&flagTF != 0 // TF as the instruction starts decides its trap
	if shadow || step {
		k = 1
	}
	k = c.dbgLimit(b, k)
	before, events := c.retired, c.ev.count
	c.runPart(b, k)
	if shadow {
		c.intrShadow = false
	}
	c.dbgAfter(b, step, c.retired == before+1 && c.ev.count == events)
}

// dbgLimit bounds the instructions Run lets a block run at an entry with
// debug work: one for a re-executed watched access, else up to the first
// one with an instruction breakpoint after the first.
func (c *CPU) dbgLimit(b *block, k int) int {
	if c.dbg.precise {
		return 1
	}
	if c.dbg.exec != 0 && k > 1 {
		return c.codeBreakIn(b, k)
	}
	return k
}

// bpRange is breakpoint n's byte range: DRn with the low bits LENn
// masks (1, 2, 8 or 4 bytes for LEN 00, 01, 10, 11), as the processor
// enforces the alignment (SDM "Breakpoint Field Recognition").
func (c *CPU) bpRange(n int) (lo, size uint64) {
	size = [4]uint64{1, 2, 8, 4}[c.dr[7]>>(18+4*n)&3]
	return c.dr[n] &^ (size - 1), size
}

// rangeHit returns the breakpoints of mask whose range overlaps the sz
// bytes at a ("any of the bytes participating in an access").
func (c *CPU) rangeHit(mask uint8, a uint64, sz uint8) uint64 {
	var hit uint64
	for n := 0; n < 4; n++ {
		if mask&(1<<n) == 0 {
			continue
		}
		lo, size := c.bpRange(n)
		if a < lo+size && lo < a+uint64(sz) {
			hit |= 1 << n
		}
	}
	return hit
}

// watchedPage says whether a data breakpoint watches bytes of the linear
// page vpn (a range is aligned to its length, so it lies in one page).
func (c *CPU) watchedPage(vpn uint64) bool {
	for n := 0; n < 4; n++ {
		if c.dbg.data&(1<<n) != 0 {
			if lo, _ := c.bpRange(n); lo>>12 == vpn {
				return true
			}
		}
	}
	return false
}

// slowOnly says whether accesses to the linear page vpn must always take
// the slow path: alignment checking is armed, or a data breakpoint
// watches the page.
func (c *CPU) slowOnly(vpn uint64) bool {
	return c.acArmed || c.dbg.data != 0 && c.watchedPage(vpn)
}

// watch compares an sz-byte data access at linear va (write: the
// access writes, or is the read of a read-modify-write) with the enabled
// data breakpoints. It reports whether the access must fail: a hit
// outside precise mode aborts the instruction (c.mf = mfRestart) so Run
// can re-execute it alone; in precise mode the hit is recorded.
func (c *CPU) watch(va uint64, sz uint8, write bool) bool {
	mask := c.dbg.data
	if !write {
		for n := 0; n < 4; n++ {
			if c.dr[7]>>(16+4*n)&3 == 1 { // write-only breakpoint
				mask &^= 1 << n
			}
		}
	}
	hit := c.rangeHit(mask, va, sz)
	if hit == 0 {
		return false
	}
	if c.dbg.precise {
		c.dbg.hit |= hit
		return false
	}
	c.mf = memFault{kind: mfRestart}
	c.dbg.pend |= dbgRestart
	c.dbg.on = true
	c.breakLoop()
	return true
}

// ioBreak records the I/O breakpoints an IN/OUT/INS/OUTS of in.sz bytes
// at port hits (ports are compared zero-extended, SDM "Breakpoint Field
// Recognition"); the trap is delivered when Run resumes after the exit.
func (c *CPU) ioBreak(in *insn, port uint16) {
	if hit := c.rangeHit(c.dbg.io, uint64(port), in.sz); hit != 0 {
		c.dbg.owed |= hit
	}
}

// breakLoop makes Run leave its tight-loop path, which re-runs a block
// while the TLB generation stays the same: after a restart, or when
// RFLAGS.TF or RF was loaded, the next block entry must be looked at.
func (c *CPU) breakLoop() { c.tlb.gen++ }

// flagsLoaded is called by the instructions that load RFLAGS whole
// (IRET): a TF or RF now set must be seen at the next block entry.
func (c *CPU) flagsLoaded() {
	if c.fl&(flagTF|flagRF) != 0 {
		c.breakLoop()
	}
}

// linRIP is the linear address of the instruction at rip.
func (c *CPU) linRIP(rip uint64) uint64 {
	lin := c.csBase + rip
	if !c.mode64 {
		lin &= 0xffffffff
	}
	return lin
}

// execHit returns the enabled instruction breakpoints at linear lin.
func (c *CPU) execHit(lin uint64) uint64 {
	var hit uint64
	for n := 0; n < 4; n++ {
		if c.dbg.exec&(1<<n) != 0 && c.dr[n] == lin {
			hit |= 1 << n
		}
	}
	return hit
}

// codeBreak raises the instruction-breakpoint #DB for the instruction at
// RIP, if one is set there: a fault (RIP at the instruction), with RF
// pushed as it is, 0 (SDM "Instruction-Breakpoint Exception Condition").
func (c *CPU) codeBreak() bool {
	hit := c.execHit(c.linRIP(c.rip))
	if hit == 0 {
		return false
	}
	c.dr[6] |= hit
	c.dr[7] &^= dr7GD
	c.deliver(vecDB, 0, false, false, c.rip)
	return true
}

// codeBreakIn returns how many of the first k instructions of b run
// before one with an instruction breakpoint (the first one was checked
// by codeBreak, or RF exempts it).
func (c *CPU) codeBreakIn(b *block, k int) int {
	base := c.linRIP(b.vrip)
	end := b.ins[k-1].rip - b.vrip
	m := ^uint64(0)
	if !c.mode64 {
		m = 0xffffffff
	}
	for n := 0; n < 4; n++ {
		if c.dbg.exec&(1<<n) == 0 {
			continue
		}
		off := (c.dr[n] - base) & m
		if off == 0 || off > end {
			continue
		}
		for j := 1; j < k; j++ {
			if b.ins[j].rip-b.vrip == off {
				k = j
				break
			}
		}
	}
	return k
}

// debugTrap delivers a trap-class #DB with the DR6 conditions bits, RIP
// as it is now (after the instruction).
func (c *CPU) debugTrap(bits uint64) {
	c.dr[6] |= bits
	c.dr[7] &^= dr7GD
	c.deliver(vecDB, 0, false, false, c.rip)
}

// owedTrap delivers at the start of Run the #DB trap an instruction that
// ended the previous Run with an exit owes (single step, I/O breakpoint).
// When the caller rewound a string I/O instruction to run more
// iterations, the trap followed an iteration but the last: RF = 1.
func (c *CPU) owedTrap() {
	bits := c.dbg.owed
	c.dbg.owed = 0
	if c.dbg.strAt != 0 && c.dbg.strAt == c.rip+1 {
		c.fl |= flagRF
	}
	c.debugTrap(bits)
}

// dbgBoundary handles what dbg.pend owes at an instruction boundary.
func (c *CPU) dbgBoundary() {
	p := c.dbg.pend
	c.dbg.pend = 0
	if p&dbgRestart != 0 {
		c.dbg.precise = true
	}
	c.dbgOn()
	if bits := p & dr6BT; bits != 0 {
		c.debugTrap(bits)
	}
}

// dbgAfter runs after a block entered with debug work to do: it delivers
// the #DB trap the instruction owes (single step, data breakpoints, a
// T-bit task switch), at once or, when the instruction left Run with an
// exit, at the next Run. done says the (single) instruction retired
// without raising anything.
func (c *CPU) dbgAfter(b *block, step, done bool) {
	d := &c.dbg
	if d.pend&dbgRestart != 0 {
		if d.rf && c.rip == b.vrip {
			c.fl |= flagRF // it passed its breakpoint check already
		}
		return
	}
	var bits uint64
	if d.precise {
		if d.repTrap || done {
			bits = d.hit
		}
		d.precise, d.repTrap, d.hit = false, false, 0
		c.dbgOn()
	}
	if step && done {
		bits |= dr6BS
	}
	if bits == 0 {
		return
	}
	bits |= d.pend & dr6BT
	d.pend &^= dr6BT
	c.dbgOn()
	switch c.exit.Reason {
	case ExitNone:
		c.debugTrap(bits)
	case ExitInOut, ExitInOutStr, ExitHLT, ExitRDMSR, ExitWRMSR, ExitPause:
		c.dbg.owed |= bits
	}
}

// taskDebug is a task switch's part in debugging, at its commit point:
// L0-L3 are cleared (SDM "Debug Control Register (DR7)": "The processor
// automatically clears these flags on every task switch"), and a 32-bit
// TSS with its T bit (byte 100, bit 0) set owes a #DB trap with DR6.BT
// before the new task's first instruction (SDM "Task-Switch Exception
// Condition").
func (c *CPU) taskDebug(trap bool) {
	if c.dr[7]&dr7Lxs != 0 {
		c.dr[7] &^= dr7Lxs
		c.dbgUpdate()
	}
	if trap {
		c.dbg.pend |= dr6BT
		c.dbg.on = true
	}
}
