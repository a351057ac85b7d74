package cpu

import "sync/atomic"

// Interrupt delivery into the interpreter (reference/vmm-devices.md §1.6,
// §1.7). The CPU never imports a device: emu/vmm attaches an
// IntrController (its LAPIC and 8259 behind one door) and an IntrLine,
// a pair of atomic flags any goroutine may raise. The Run loop tests
// IntrLine.pending once per block boundary, a plain load, and asks the
// controller only when it is set, so an idle line costs no interface call
// on the hot path.
//
// Order at a boundary, as vmx/svm inject before VM entry: an event queued
// by InjectEvent (VM_INJECT_EXCEPTION, VM_SET_INTINFO), then an NMI unless
// NMIs are blocked (from NMI delivery until the next IRET) or the STI /
// MOV SS shadow is active, then an external interrupt if RFLAGS.IF = 1 and
// no shadow: the controller picks the vector (the 8259's on a pending
// ExtINT, else the LAPIC's above PPR) and is told it was accepted.
//
// Seam with the mode-aware delivery (cpumodes helper): every event goes
// through deliver() in except.go, today's long-mode IDT path; when real
// and protected mode arrive there, this file needs no change.

// IntrController is the interrupt-controller side of a vCPU: what the
// CPU's interrupt acknowledge and CR8 reach. Its methods are called only
// when the IntrLine is raised, on MOV CR8 and on RDTSC.
type IntrController interface {
	// PendingIntr is the vector an interrupt acknowledge would get now,
	// if any is deliverable (priority above PPR, or an ExtINT).
	PendingIntr() (vector uint8, ok bool)
	// IntrAccepted says vector was delivered (vlapic_intr_accepted or
	// vatpic_intr_accepted).
	IntrAccepted(vector uint8)
	// CR8 and SetCR8 are the LAPIC's TPR[7:4]; SetCR8 fails for values
	// above 15 (#GP).
	CR8() uint64
	SetCR8(v uint64) error
	// TSC is the time-stamp counter before the guest's offset: the VM
	// clock, read at the current instruction.
	TSC() uint64
	// X2APIC reports whether the LAPIC is in x2APIC mode, for CPUID.
	X2APIC() bool
}

// IntrLine is the doorbell: Raise makes the CPU look at its controller at
// the next block boundary; RaiseNMI makes an NMI pending (NMIs coalesce,
// vm_inject_nmi). Safe for concurrent use.
type IntrLine struct {
	pending atomic.Uint32
	nmi     atomic.Bool
	kick    atomic.Bool
}

// Kick makes Run return (ExitBudget, nothing retired for it) at the next
// block boundary: the IPI with which vcpu_notify_event pulls a running
// vCPU out of the guest, so a suspend or a freeze is seen within one REP
// chunk (exec_mov.go repChunk) rather than after a whole slice of them.
// It changes no guest state: the next Run goes on where this one left,
// once its caller has raised the line again for any interrupt the
// controller holds.
func (l *IntrLine) Kick() {
	l.kick.Store(true)
	l.pending.Store(1)
}

// Raise asks the CPU to check for an interrupt at its next boundary.
func (l *IntrLine) Raise() { l.pending.Store(1) }

// RaiseNMI makes an NMI pending.
func (l *IntrLine) RaiseNMI() {
	l.nmi.Store(true)
	l.pending.Store(1)
}

// Clear lowers the line and drops a pending NMI (VM reset).
func (l *IntrLine) Clear() {
	l.pending.Store(0)
	l.nmi.Store(false)
	l.kick.Store(false)
}

// NMIPending reports whether an NMI waits for delivery.
func (l *IntrLine) NMIPending() bool { return l.nmi.Load() }

// intrState is the CPU's side of the line.
type intrState struct {
	ctl  IntrController
	line *IntrLine
	// ev is an event to deliver at the next boundary before anything
	// else, whatever IF says.
	ev struct {
		valid  bool
		vector uint8
		err    uint32
		hasErr bool
		nmi    bool
	}
}

// noLine is the line of a CPU nobody attached: never raised.
var noLine IntrLine

// AttachIntr connects the CPU to its interrupt controller and line.
func (c *CPU) AttachIntr(ctl IntrController, line *IntrLine) {
	c.intr.ctl, c.intr.line = ctl, line
}

// InjectEvent queues an exception (or, with nmi, an NMI-type event) to be
// delivered when Run next reaches an instruction boundary, before any
// interrupt, ignoring RFLAGS.IF. The injection clears the interrupt
// shadow (vm_inject_exception).
func (c *CPU) InjectEvent(vector uint8, errcode uint32, hasErr, nmi bool) {
	e := &c.intr.ev
	e.valid, e.vector, e.err, e.hasErr, e.nmi = true, vector, errcode, hasErr, nmi
	c.intrShadow = false
	c.line().Raise()
}

// PendingEvent reports the event InjectEvent queued and not yet delivered.
func (c *CPU) PendingEvent() (vector uint8, errcode uint32, hasErr, nmi, ok bool) {
	e := &c.intr.ev
	return e.vector, e.err, e.hasErr, e.nmi, e.valid
}

// ClearEvent drops a queued event.
func (c *CPU) ClearEvent() { c.intr.ev.valid = false }

// NMIBlocked reports whether NMIs are blocked (an NMI handler runs).
func (c *CPU) NMIBlocked() bool { return c.nmiBlocked }

// IntrEnabled reports RFLAGS.IF and whether no STI/MOV SS shadow blocks
// interrupts now.
func (c *CPU) IntrEnabled() bool { return c.fl&flagIF != 0 && !c.intrShadow }

func (c *CPU) line() *IntrLine {
	if c.intr.line == nil {
		return &noLine
	}
	return c.intr.line
}

// intrRaised is the block-boundary test.
func (c *CPU) intrRaised() bool {
	l := c.intr.line
	return l != nil && l.pending.Load() != 0
}

// checkIntr delivers what is deliverable at this boundary.
func (c *CPU) checkIntr() {
	l := c.intr.line
	if l.kick.Load() {
		l.kick.Store(false)
		if !c.intr.ev.valid && !l.nmi.Load() {
			// Lower the line the kick raised, or code with IF = 0 would
			// look at it at every boundary from now on; whoever runs
			// the next slice raises it again for a pending interrupt
			// (emu/vmm vplat.prepare).
			l.pending.Store(0)
		}
		c.exit = Exit{Reason: ExitBudget, RIP: c.rip, Kicked: true}
		return
	}
	if e := &c.intr.ev; e.valid {
		e.valid = false
		if e.nmi {
			c.nmiBlocked = true
		}
		c.deliver(e.vector, e.err, e.hasErr, false, c.rip)
		return
	}
	if c.intrShadow {
		return
	}
	if l.nmi.Load() && !c.nmiBlocked {
		l.nmi.Store(false)
		c.nmiBlocked = true
		c.deliver(2, 0, false, false, c.rip)
		return
	}
	if c.fl&flagIF == 0 || c.intr.ctl == nil {
		// Keep the line raised: STI, POPF or IRET end the block, and
		// the next boundary looks again.
		return
	}
	l.pending.Store(0)
	if l.nmi.Load() {
		l.pending.Store(1) // still waiting for the IRET that unblocks it
	}
	v, ok := c.intr.ctl.PendingIntr()
	if !ok {
		return
	}
	c.deliver(v, 0, false, false, c.rip)
	c.intr.ctl.IntrAccepted(v)
}

// timeNow is the TSC before the guest's offset: the VM clock when a
// controller is attached, else instructions retired.
func (c *CPU) timeNow() uint64 {
	if c.intr.ctl != nil {
		return c.intr.ctl.TSC()
	}
	return c.retired
}

// readCR8 and writeCR8 route CR8 to the LAPIC's TPR when attached.
func (c *CPU) readCR8() uint64 {
	if c.intr.ctl != nil {
		return c.intr.ctl.CR8()
	}
	return c.cr8
}

func (c *CPU) writeCR8(v uint64) bool {
	if c.intr.ctl != nil {
		if c.intr.ctl.SetCR8(v) != nil {
			return false
		}
		c.line().Raise() // a lower TPR may unmask a pending vector
		return true
	}
	c.cr8 = v
	return true
}
