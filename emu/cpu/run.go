package cpu

import (
	"errors"
	"fmt"
)

// Run executes guest instructions until an exit or until budget more
// instructions have retired (ExitBudget). The retired count is exact, so
// the same state and budget always stop at the same instruction.
//
// For ExitInOut, ExitHLT, ExitRDMSR, ExitWRMSR and ExitPause the instruction has
// retired: Exit.RIP is its address, Exit.InstLen its length, and the
// CPU's RIP already points past it (vmm's nextrip). For ExitMMIO it has
// not: RIP stays at it, and the caller emulates it from Exit.Insn, as
// bhyve does after VM_EXITCODE_INST_EMUL. Guest RAM may change between Run
// calls (the host writes through its mapping): every decoded block is
// re-checked against RAM the first time it is used in each Run call.
func (c *CPU) Run(budget uint64) (ex Exit) {
	c.exit = Exit{}
	c.code.epoch++
	c.limit = c.retired + budget
	defer func() {
		c.code.cur = nil
		if r := recover(); r != nil {
			ex = Exit{Reason: ExitError, RIP: c.rip, Err: fmt.Errorf("cpu: internal error at rip %#x: %v", c.rip, r)}
			if b, _ := c.peek(c.rip); b != nil {
				ex.Insn = b
			}
			c.exit = ex
		}
	}()
	if c.dbg.owed != 0 {
		c.owedTrap()
	}
	c.dbg.strAt = 0
	// Events delivered in this call: more of them than the budget means
	// an exception whose handler faults again at once, retiring nothing
	// (a #UD gate pointing at a UD2, say), which on silicon loops for
	// ever; here it ends the call like the budget does, so VM_RUN
	// returns and the same state always stops at the same event count.
	events := c.ev.count
	for c.exit.Reason == ExitNone {
		if c.dbg.on && c.dbg.pend != 0 {
			c.dbgBoundary()
			continue
		}
		if c.intrRaised() {
			c.checkIntr()
			if c.exit.Reason != ExitNone {
				break
			}
			if c.dbg.pend != 0 {
				continue // a task gate into a task with the T bit
			}
		}
		if c.retired >= c.limit || c.ev.count-events > budget {
			c.exit = Exit{Reason: ExitBudget, RIP: c.rip}
			break
		}
		// RFLAGS.TF and RF, the instruction breakpoints and the debug
		// events in flight are looked at once per block entry; blocks
		// entered with any of them run through debugBlock (debug.go).
		if c.dbg.on || c.fl&(flagTF|flagRF) != 0 {
			c.debugBlock()
			continue
		}
		b := c.next(c.code.cur)
		if b == nil {
			c.code.cur = nil
			c.fetchFault()
			continue
		}
		c.code.cur = b
		k := b.n
		if rem := c.limit - c.retired; uint64(k) > rem {
			k = int(rem)
		}
		shadow := c.intrShadow
		if shadow {
			k = 1 // STI / MOV SS blocking lasts one instruction
		}
		if k < b.n {
			c.runPart(b, k)
		} else {
			// A block that branches back to itself (a tight loop) runs
			// again at once while nothing it depends on has changed: the
			// translation generation covers fetch permission and mapping.
			gen := c.tlb.gen
			ins0 := &b.ins[0]
			n := uint64(b.n)
			ev := c.ev.count
			for {
				ins0.h(c, ins0)
				if c.exit.Reason != ExitNone || c.rip != b.vrip || c.tlb.gen != gen || c.ev.count != ev ||
					!b.valid || c.intrShadow || c.limit-c.retired < n || c.intrRaised() {
					break
				}
			}
		}
		if shadow {
			c.intrShadow = false
		}
	}
	return c.exit
}

// runPart runs the first k instructions of b (k may be b.n): the k-th
// chains into the stop sentinel instead of its successor.
func (c *CPU) runPart(b *block, k int) {
	last := &b.ins[k-1]
	saved := last.next
	c.stopBudget.rip = last.rip + uint64(last.len)
	c.stopBudget.cnt = last.cnt
	last.next = &c.stopBudget
	// Flags must be exact where the block stops.
	pd := pendingDead(b.ins[:b.n], k)
	if pd != nil {
		pd.h = pd.hf
	}
	b.ins[0].h(c, &b.ins[0])
	if pd != nil {
		pd.h = pd.nf
	}
	if b.valid && last.next == &c.stopBudget {
		last.next = saved
	}
}

// fetchFault delivers the fault recorded while fetching at c.rip.
func (c *CPU) fetchFault() {
	switch c.mf.kind {
	case mfMMIO:
		c.exit = Exit{Reason: ExitMMIO, RIP: c.rip, GPA: c.mf.gpa}
	case mfException:
		c.raiseAt(c.mf.vec, c.mf.err, hasErrCode(c.mf.vec))
	default:
		c.exit = Exit{Reason: ExitError, RIP: c.rip, Err: errors.New("cpu: fetch failed without a recorded fault")}
	}
}

// peek copies up to 15 instruction bytes at va for error reports. It is
// called while recovering from a panic, so it must not panic itself.
func (c *CPU) peek(va uint64) (out []byte, ok bool) {
	defer func() {
		if recover() != nil {
			ok = len(out) > 0
		}
	}()
	for i := uint64(0); i < 15; i++ {
		v, ok := c.sysRead(va+i, 1)
		if !ok {
			break
		}
		out = append(out, byte(v))
	}
	return out, len(out) > 0
}

// next finds the block at c.rip, first among the successors recorded on
// prev (the block that just ran), then through lookup.
func (c *CPU) next(prev *block) *block {
	cc := &c.code
	if prev != nil {
		for i := range prev.succ {
			l := &prev.succ[i]
			if l.rip == c.rip && l.b != nil && l.gen == c.tlb.gen && l.b.valid && l.b.epoch == cc.epoch {
				return l.b
			}
		}
	}
	b := c.lookup()
	if b != nil && prev != nil && prev.valid {
		prev.succ[prev.nsucc&1] = link{rip: c.rip, gen: c.tlb.gen, b: b}
		prev.nsucc++
	}
	return b
}
