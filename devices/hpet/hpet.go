// Package hpet is the VM's High Precision Event Timer as FreeBSD's vmm
// builds it (sys/amd64/vmm/io/vhpet.c; reference/vmm-devices.md §6): one
// block of 8 timers at 0xFED00000 (1 KiB), a 32-bit main counter at 2^24
// Hz — exactly 256 sbintime units per tick, so the counter is
// base + elapsed/256 on the VM's vclock — periodic and one-shot
// comparators, level or edge interrupts to IOAPIC pins 24–31, and FSB
// (MSI) delivery.
//
// # Locking
//
// One mutex. The IOAPIC, ATPIC and MSI functions are called with it held,
// as bhyve calls vioapic_* and lapic_intr_msi under the vhpet lock; they
// must not call back into the HPET. Order: HPET → IOAPIC/ATPIC → LAPIC →
// vclock. Timer expiries run on the clock's goroutine and take the lock.
//
// # Legacy replacement
//
// bhyve has none (§6.5, §12 #17): the capability register does not
// advertise it (low dword 0x80860701) and LEG_RT_CNF always reads 0; that
// is the default here. Config.LegacyReplacement turns on what the IA-PC
// HPET specification 1.0a §2.3.9 describes, which softvmm adds for guests
// that need it: LEG_RT_CAP (bit 15) is advertised, LEG_RT_CNF is kept,
// and while it is set timer 0 interrupts 8259 IRQ 0 and IOAPIC pin 2,
// timer 1 interrupts 8259 IRQ 8 and IOAPIC pin 8, whatever their
// INT_ROUTE or FSB fields say.
//
// # Known bugs (reference/vmm-devices.md §12)
//
//   - #17 reproduced: 32-bit counter only (COUNT_SIZE_CAP 0, upper halves
//     read 0); a one-shot comparator "in the past" waits for the counter to
//     wrap (~256 s); no legacy replacement by default; the general
//     configuration register keeps the unknown bits written to it.
//   - #20 handled as the reference says: when an expiry re-arms a one-shot
//     timer at the very instant the counter equals the comparator (which
//     a punctual virtual clock always does, and FreeBSD's late-running
//     callout never does), the wait is a full 2^32-tick wrap instead of 0,
//     so the timer does not re-fire forever; a guest write that makes the
//     comparator equal the counter still fires at once, as in FreeBSD.
//
// Each is pinned by a test in hpet_test.go.
package hpet

import (
	"sync"

	"softvmm/devices/vclock"
)

// Where the HPET lives and what it is (§6.1, §6.2).
const (
	DefaultBase = 0xFED00000
	MMIOSize    = 0x400
	NumTimers   = 8
	Freq        = 1 << 24 // Hz
	TickSBT     = vclock.SBT(256)
	PeriodFS    = 59604644 // 10^15 / 2^24, truncated: capability bits 63:32

	// CapLow is the low dword of the capability register (and
	// VM_GET_HPET_CAPABILITIES): vendor 0x8086, 8 timers (field 7),
	// revision 1, 32-bit counter, no legacy replacement.
	CapLow = 0x80860701
)

// Register offsets (IA-PC HPET spec 1.0a §2.3.1).
const (
	OffCap     = 0x000
	OffConfig  = 0x010
	OffISR     = 0x020
	OffCounter = 0x0F0
)

// OffTimerConfig, OffTimerComparator, OffTimerFSBValue and OffTimerFSBAddr
// are timer n's registers.
func OffTimerConfig(n int) uint32     { return 0x100 + 0x20*uint32(n) }
func OffTimerComparator(n int) uint32 { return 0x108 + 0x20*uint32(n) }
func OffTimerFSBValue(n int) uint32   { return 0x110 + 0x20*uint32(n) }
func OffTimerFSBAddr(n int) uint32    { return 0x114 + 0x20*uint32(n) }

// Bits (acpi_hpet.h; HPET spec §2.3.4, §2.3.5, §2.3.8).
const (
	CapLegRoute = 0x8000 // LEG_RT_CAP
	CapCount64  = 0x2000 // COUNT_SIZE_CAP

	CnfEnable = 0x1
	CnfLegRT  = 0x2

	TCnfIntType  = 0x0002 // 1 = level
	TCnfIntEnb   = 0x0004
	TCnfType     = 0x0008 // 1 = periodic
	TCapPerInt   = 0x0010
	TCapSize     = 0x0020
	TCnfValSet   = 0x0040
	TCnf32Mode   = 0x0100
	TCnfIntRoute = 0x3E00
	TCnfFSBEn    = 0x4000
	TCapFSBInt   = 0x8000
	TCapIntRoute = 0xFFFFFFFF_00000000

	tcapRO = TCapIntRoute | TCapFSBInt | TCapSize | TCapPerInt
)

// PinOp is what the HPET does to an interrupt line.
type PinOp int

const (
	Assert PinOp = iota
	Deassert
	Pulse // assert then deassert: an edge
)

// Config wires the HPET to the rest of the platform. Any function may be
// nil.
type Config struct {
	// IOAPIC drives IOAPIC pin (vioapic_assert/deassert/pulse_irq).
	IOAPIC func(pin int, op PinOp)
	// ATPIC drives 8259 IRQ irq; used only with LegacyReplacement.
	ATPIC func(irq int, op PinOp)
	// MSI sends an FSB interrupt message (lapic_intr_msi).
	MSI func(addr, data uint64)
	// LegacyReplacement enables the LEG_RT routing bhyve lacks (see the
	// package comment); off by default for fidelity.
	LegacyReplacement bool
}

// TimerState is one timer's state.
type TimerState struct {
	Config     uint64 // Tn_CONF_CAP, capability bits included
	FSB        uint64 // Tn_FSB_INT_ROUTE: address in 63:32, value in 31:0
	Comparator uint32
	Rate       uint32     // the period of a periodic timer (0 otherwise)
	Armed      bool       // the callout is active
	Deadline   vclock.SBT // when the counter reaches the comparator
}

// State is everything the HPET holds, for snapshots.
type State struct {
	Config       uint64
	ISR          uint64
	CountBase    uint32     // the counter at CountBaseSBT (frozen value while disabled)
	CountBaseSBT vclock.SBT // meaningless while disabled
	Timers       [NumTimers]TimerState
}

// HPET is the VM's HPET block.
type HPET struct {
	clock  *vclock.Clock
	cfg    Config
	timers [NumTimers]*vclock.Timer

	mu sync.Mutex
	st State
}

// New returns a disabled HPET with its counter at 0 (vhpet_init): every
// timer may route to IOAPIC pins 24–31 (the IOAPIC has 32 pins), can be
// periodic and can use FSB delivery; comparators are 0xFFFFFFFF.
func New(clock *vclock.Clock, cfg Config) *HPET {
	h := &HPET{clock: clock, cfg: cfg}
	for i := range h.timers {
		n := i
		h.timers[i] = clock.NewTimer(func(vclock.SBT) { h.expired(n) })
		h.st.Timers[i] = TimerState{
			Config:     0xFF000000<<32 | TCapPerInt | TCapFSBInt,
			Comparator: 0xFFFFFFFF,
		}
	}
	return h
}

// Capabilities returns the 64-bit capability register (vhpet_capabilities):
// 0x038D7EA4_80860701, plus LEG_RT_CAP with LegacyReplacement.
func (h *HPET) Capabilities() uint64 {
	c := uint64(PeriodFS)<<32 | CapLow
	if h.cfg.LegacyReplacement {
		c |= CapLegRoute
	}
	return c
}

// Close stops every timer (callout_drain at VM destruction).
func (h *HPET) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.timers {
		h.st.Timers[i].Armed = false
		h.timers[i].Stop()
	}
}

func (h *HPET) enabled() bool { return h.st.Config&CnfEnable != 0 }

// counter is vhpet_counter: the main counter now, and now.
func (h *HPET) counter() (uint32, vclock.SBT) {
	if !h.enabled() {
		return h.st.CountBase, 0
	}
	now := h.clock.Now()
	return h.st.CountBase + uint32((now-h.st.CountBaseSBT)/TickSBT), now
}

func (h *HPET) legacy(n int) bool {
	return h.cfg.LegacyReplacement && n < 2 && h.st.Config&CnfLegRT != 0
}

func (h *HPET) msiEnabled(n int) bool {
	const both = TCapFSBInt | TCnfFSBEn
	return !h.legacy(n) && h.st.Timers[n].Config&both == both
}

// route is where timer n's line goes: an IOAPIC pin (0 = none) and, in
// legacy replacement, an 8259 IRQ (else −1).
func (h *HPET) route(n int) (pin, irq int) {
	if h.legacy(n) {
		if n == 0 {
			return 2, 0
		}
		return 8, 8
	}
	if h.msiEnabled(n) {
		return 0, -1
	}
	return int(h.st.Timers[n].Config&TCnfIntRoute) >> 9, -1
}

func (h *HPET) drive(pin, irq int, op PinOp) {
	if irq >= 0 && h.cfg.ATPIC != nil {
		h.cfg.ATPIC(irq, op)
	}
	if pin != 0 && h.cfg.IOAPIC != nil {
		h.cfg.IOAPIC(pin, op)
	}
}

func (h *HPET) clearISR(n int, pin, irq int) {
	if h.st.ISR&(1<<n) != 0 {
		h.drive(pin, irq, Deassert)
		h.st.ISR &^= 1 << n
	}
}

// interrupt is vhpet_timer_interrupt (§6.5).
func (h *HPET) interrupt(n int) {
	t := &h.st.Timers[n]
	if t.Config&TCnfIntEnb == 0 || h.st.ISR&(1<<n) != 0 {
		return
	}
	if h.msiEnabled(n) {
		if h.cfg.MSI != nil {
			h.cfg.MSI(t.FSB>>32, t.FSB&0xFFFFFFFF)
		}
		return
	}
	pin, irq := h.route(n)
	if pin == 0 && irq < 0 {
		return // not connected
	}
	if t.Config&TCnfIntType == 0 {
		h.drive(pin, irq, Pulse)
		return
	}
	h.st.ISR |= 1 << n
	h.drive(pin, irq, Assert)
}

// startTimer is vhpet_start_timer: arm timer n for the instant the
// counter reaches its comparator, first moving a periodic comparator to
// the next multiple of the period strictly ahead of the counter.
func (h *HPET) startTimer(n int, counter uint32, now vclock.SBT, fromExpiry bool) {
	t := &h.st.Timers[n]
	if t.Rate != 0 {
		t.Comparator += ((counter-t.Comparator)/t.Rate + 1) * t.Rate
	}
	delta := vclock.SBT(t.Comparator-counter) * TickSBT
	if delta == 0 && fromExpiry {
		delta = vclock.SBT(1<<32) * TickSBT // §12 #20
	}
	t.Deadline = now + delta
	t.Armed = true
	h.timers[n].Arm(t.Deadline)
}

// stopTimer is vhpet_stop_timer: a timer whose instant has passed but
// whose expiry has not run yet interrupts now, so the guest does not lose
// it.
func (h *HPET) stopTimer(n int, now vclock.SBT) {
	t := &h.st.Timers[n]
	t.Armed = false
	h.timers[n].Stop()
	if t.Deadline < now {
		h.interrupt(n)
	}
}

func (h *HPET) startCounting() {
	h.st.CountBaseSBT = h.clock.Now()
	for i := range h.st.Timers {
		h.startTimer(i, h.st.CountBase, h.st.CountBaseSBT, false)
	}
}

// expired is vhpet_handler. Stale expiries (re-armed or stopped since)
// do nothing.
func (h *HPET) expired(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := &h.st.Timers[n]
	if _, pending := h.timers[n].Armed(); pending || !t.Armed {
		return
	}
	t.Armed = false
	if !h.enabled() {
		return // cannot happen: disabling stops every timer
	}
	counter, now := h.counter()
	h.startTimer(n, counter, now, true)
	h.interrupt(n)
}

func update(reg *uint64, data, mask uint64) { *reg = *reg&^mask | data&mask }

// Read is a guest MMIO read at offset into the 1 KiB window. Only 4- and
// 8-byte naturally aligned reads return anything (else 0); a 4-byte read
// with bit 2 set sees the upper half. It never fails.
func (h *HPET) Read(offset uint32, size int) (uint64, error) {
	if size != 4 && size != 8 || offset&uint32(size-1) != 0 {
		return 0, nil
	}
	h.mu.Lock()
	data := h.read(offset &^ 4)
	h.mu.Unlock()
	if size == 4 && offset&4 != 0 {
		data >>= 32
	}
	if size == 4 {
		data &= 0xFFFFFFFF
	}
	return data, nil
}

func (h *HPET) read(off uint32) uint64 {
	switch off {
	case OffCap:
		return h.Capabilities()
	case OffConfig:
		return h.st.Config
	case OffISR:
		return h.st.ISR
	case OffCounter:
		c, _ := h.counter()
		return uint64(c)
	}
	for i := range h.st.Timers {
		t := &h.st.Timers[i]
		switch off {
		case OffTimerConfig(i):
			return t.Config
		case OffTimerComparator(i):
			return uint64(t.Comparator)
		case OffTimerFSBValue(i):
			return t.FSB
		}
	}
	return 0
}

// Write is a guest MMIO write; accesses that are not 4 or 8 bytes
// naturally aligned are ignored. It never fails.
func (h *HPET) Write(offset uint32, size int, val uint64) error {
	var data, mask uint64
	switch size {
	case 8:
		data, mask = val, ^uint64(0)
	case 4:
		data, mask = val&0xFFFFFFFF, 0xFFFFFFFF
		if offset&4 != 0 {
			data, mask = data<<32, mask<<32
		}
	default:
		return nil
	}
	if offset&uint32(size-1) != 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	off := offset &^ 4
	switch off {
	case OffConfig:
		h.writeConfig(data, mask)
		return nil
	case OffISR:
		clear := h.st.ISR & data
		for i := range h.st.Timers {
			if clear&(1<<i) != 0 {
				pin, irq := h.route(i)
				h.clearISR(i, pin, irq)
			}
		}
		return nil
	case OffCounter:
		// The counter is 32 bits: a write of the upper half only re-bases
		// it at its current value (dropping the sub-tick remainder).
		c, _ := h.counter()
		v := uint64(c)
		update(&v, data, mask)
		h.st.CountBase = uint32(v)
		if h.enabled() {
			h.startCounting()
		}
		return nil
	}
	for i := range h.st.Timers {
		switch off {
		case OffTimerConfig(i):
			h.writeTimerConfig(i, data, mask)
			return nil
		case OffTimerComparator(i):
			h.writeComparator(i, data, mask)
			return nil
		case OffTimerFSBValue(i):
			update(&h.st.Timers[i].FSB, data, mask)
			return nil
		}
	}
	return nil
}

// writeConfig: the general configuration register (§6.2).
func (h *HPET) writeConfig(data, mask uint64) {
	counter, now := h.counter()
	var pins, irqs [2]int
	for n := 0; n < 2; n++ {
		pins[n], irqs[n] = h.route(n)
	}
	old := h.st.Config
	update(&h.st.Config, data, mask)
	if !h.cfg.LegacyReplacement {
		h.st.Config &^= CnfLegRT // not supported: always clear
	}
	// Legacy routing switched under an asserted level interrupt: lower
	// the old line, as a re-route through Tn_CONF does.
	for n := 0; n < 2; n++ {
		if p, q := h.route(n); p != pins[n] || q != irqs[n] {
			h.clearISR(n, pins[n], irqs[n])
		}
	}
	if (old^h.st.Config)&CnfEnable == 0 {
		return
	}
	if h.enabled() {
		h.startCounting()
		return
	}
	h.st.CountBase = counter
	for i := range h.st.Timers {
		h.stopTimer(i, now)
	}
}

// writeTimerConfig is vhpet_timer_update_config (§6.3).
func (h *HPET) writeTimerConfig(n int, data, mask uint64) {
	t := &h.st.Timers[n]
	oldPin, oldIRQ := h.route(n)
	old := t.Config
	v := old
	update(&v, data, mask)
	v = v&^(tcapRO|TCnf32Mode) | old&tcapRO
	if v == old {
		return
	}
	t.Config = v
	// A route that the capability does not allow becomes 0 (not
	// connected). FSB timers are not checked.
	allowed := uint32(t.Config >> 32)
	if !h.msiEnabled(n) {
		if pin := int(t.Config&TCnfIntRoute) >> 9; pin != 0 && allowed&(1<<pin) == 0 {
			t.Config &^= TCnfIntRoute
		}
	}
	if t.Config&TCnfType == 0 {
		t.Rate = 0
	}
	if h.st.ISR&(1<<n) != 0 {
		pin, irq := h.route(n)
		if t.Config&TCnfIntEnb == 0 || h.msiEnabled(n) || t.Config&TCnfIntType == 0 ||
			pin != oldPin || irq != oldIRQ {
			h.clearISR(n, oldPin, oldIRQ)
		}
	}
}

// writeComparator (§6.4): a periodic timer's write sets the period, and
// the comparator only with VAL_SET; a one-shot's sets the comparator.
func (h *HPET) writeComparator(n int, data, mask uint64) {
	t := &h.st.Timers[n]
	oldCmp, oldRate := t.Comparator, t.Rate
	if t.Config&TCnfType != 0 {
		v := uint64(t.Rate)
		update(&v, data, mask)
		t.Rate = uint32(v)
		if t.Config&TCnfValSet != 0 {
			t.Comparator = uint32(v)
		}
	} else {
		v := uint64(t.Comparator)
		update(&v, data, mask)
		t.Comparator = uint32(v)
	}
	t.Config &^= TCnfValSet
	if (t.Comparator != oldCmp || t.Rate != oldRate) && h.enabled() {
		counter, now := h.counter()
		h.startTimer(n, counter, now, false)
	}
}

// State returns a copy of the HPET's state.
func (h *HPET) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

// SetState replaces the HPET's state and re-arms the armed timers at
// their deadlines on this HPET's clock.
func (h *HPET) SetState(s State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st = s
	for i := range h.st.Timers {
		if h.st.Timers[i].Armed {
			h.timers[i].Arm(h.st.Timers[i].Deadline)
		} else {
			h.timers[i].Stop()
		}
	}
}
