// Package pmtimer is the ACPI power-management timer at I/O port 0x408, as
// bhyve's vpmtmr models it (reference/vmm-devices.md §8): a free-running
// 32-bit counter with no interrupt, read with a 4-byte IN.
//
// The count is (now − creation) / 1199 in sbintime units, bhyve's integer
// division by FREQ2BT(3579545) truncated to sbintime (reference §0 tick
// table). That makes the timer run ≈0.072 % fast (3,582,125 Hz instead of
// ACPI's 3.579545 MHz); FreeBSD 14 still does this (reference §12 item 4),
// so softvmm reproduces it: a guest reads exactly what bhyve's guest reads at
// the same instant. The counter restarts from 0 when the VM is reset, which
// the kernel does by building a new PMTimer.
package pmtimer

import (
	"sync"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// Port is IO_PMTMR, where bhyve places the timer (reference §1.2).
const Port = 0x408

// TickSBT is the sbintime length of one tick: bttosbt(FREQ2BT(3579545)),
// the truncated value bhyve divides by (reference §0; true value 1199.86).
const TickSBT vclock.SBT = 1199

// State is everything the timer holds, for snapshots.
type State struct {
	BaseUptime vclock.SBT // clock time at which the count was BaseVal
	BaseVal    uint32     // count at BaseUptime (bhyve: always 0)
}

// PMTimer is one VM's ACPI PM timer. It is safe for concurrent use.
type PMTimer struct {
	clk *vclock.Clock

	mu sync.Mutex
	st State
}

// New returns a timer that reads 0 now, as vpmtmr_init does.
func New(clk *vclock.Clock) *PMTimer {
	return &PMTimer{clk: clk, st: State{BaseUptime: clk.Now()}}
}

// accessError is a failed port access: bhyve's handler returns −1 and
// VM_RUN fails with EIO (reference §1.2).
type accessError string

func (e accessError) Error() string { return "pmtimer: " + string(e) }
func (e accessError) Unwrap() error { return abi.EIO }

// Errors of the port handler; each unwraps to abi.EIO.
var (
	ErrWrite = accessError("port 0x408 is read-only")
	ErrWidth = accessError("port 0x408 must be read 4 bytes wide")
	ErrPort  = accessError("not the PM timer's port")
)

// In handles an IN from port. Only a 4-byte IN of 0x408 succeeds.
func (p *PMTimer) In(port uint16, size int) (uint32, error) {
	if port != Port {
		return 0, ErrPort
	}
	if size != 4 {
		return 0, ErrWidth
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delta := int64(p.clk.Now() - p.st.BaseUptime)
	// C: uint32 baseval + int64 (delta / freq_sbt), stored in a uint32.
	return uint32(int64(p.st.BaseVal) + delta/int64(TickSBT)), nil
}

// Out handles an OUT to port: always an error, the timer is read-only.
func (p *PMTimer) Out(port uint16, size int, v uint32) error {
	if port != Port {
		return ErrPort
	}
	return ErrWrite
}

// State returns the timer's state.
func (p *PMTimer) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// SetState replaces the timer's state.
func (p *PMTimer) SetState(s State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st = s
	return nil
}
