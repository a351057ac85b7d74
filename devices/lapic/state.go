package lapic

import "softvmm/devices/vclock"

// State is everything a LAPIC holds (reference/vmm-devices.md §2.14): the
// register page, the pending ESR bits, the in-service stack, APIC_BASE,
// the boot state, the last SVR value and the timer. It is a plain value
// for snapshots and golden tests. APR, EOI and RRD always read 0 and are
// not kept; the LVT registers are bhyve's lvt_last.
type State struct {
	ID, Version, TPR, PPR, LDR, DFR, SVR uint32
	ISR, TMR, IRR                        [8]uint32 // vectors 32i..32i+31
	ESR, ICRLow, ICRHigh                 uint32
	LVT                                  [NumLVT]uint32 // by LVT index
	TimerInitial, TimerDivide            uint32

	ESRPending  uint32
	ISRStack    [17]uint8 // isrvec_stk; entry 0 is always 0
	ISRStackTop int
	APICBase    uint64
	BootState   BootState
	SVRLast     uint32

	// The countdown: armed, and the absolute vclock time it ends.
	TimerArmed bool
	TimerFire  vclock.SBT
}

// State returns a copy of the LAPIC's state.
func (l *LAPIC) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// SetState replaces the LAPIC's state; an armed countdown is re-armed for
// its fire time on this LAPIC's clock.
func (l *LAPIC) SetState(s State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.ISRStackTop < 0 || s.ISRStackTop >= len(s.ISRStack) {
		s.ISRStackTop = 0
	}
	l.st = s
	l.esrFiring = false
	if s.TimerArmed {
		l.timer.Arm(s.TimerFire)
	} else {
		l.timer.Stop()
	}
}
