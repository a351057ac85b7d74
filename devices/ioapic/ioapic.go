// Package ioapic is the VM's I/O APIC as FreeBSD's vmm builds it
// (sys/amd64/vmm/io/vioapic.c; reference/vmm-devices.md §3): 32 pins at
// 0xFEC00000, reached through IOREGSEL (0x00) and IOWIN (0x10), version
// 0x11 without an EOI register.
//
// Pins are reference-counted lines (assert +1, deassert −1); a pin
// delivers on the 0→1 transition of its count, on an RTE write that finds
// it unmasked, asserted and not awaiting EOI, and on an EOI broadcast
// that finds it still asserted. Delivery goes out through the Deliver
// function the kernel gives (bhyve's vlapic_deliver_intr path, lapic.Group
// DeliverIntr); EOIs come in through EOI.
//
// # Locking
//
// One mutex. Deliver is called with it held, as vioapic_send_intr is under
// the vioapic spin lock: Deliver may call into LAPICs but never back into
// this IOAPIC. UpdateTMR is called with it released (bhyve drops the lock
// around the TMR rendezvous), so it may call LevelRoutes. Order: HPET →
// IOAPIC → LAPIC; a LAPIC calls EOI only after releasing its own lock.
//
// # Known bugs (reference/vmm-devices.md §12)
//
// All reproduced, for fidelity with the guest-visible FreeBSD behaviour,
// each pinned by a test in ioapic_test.go:
//   - #14: version 0x11 with no EOI register (0x40 is ignored); NMI, SMI
//     and INIT RTE delivery modes are dropped (by the LAPIC side);
//     polarity is ignored; remote IRR is not consulted when a pin is newly
//     asserted; every RTE resets to 0x00010000_00010000.
//   - #19: the LAPIC TMRs are rebuilt (UpdateTMR) only when an RTE write
//     changes a bit other than mask or polarity.
package ioapic

import (
	"sync"

	"softvmm/emu/abi"
)

// Where the IOAPIC lives and what it is (reference/vmm-devices.md §3.1,
// §3.2; IOAPIC datasheet 82093AA §3.0).
const (
	DefaultBase = 0xFEC00000
	MMIOSize    = 0x1000
	OffIOREGSEL = 0x00
	OffIOWIN    = 0x10
	Pins        = 32 // REDIR_ENTRIES; VM_IOAPIC_PINCOUNT

	RegID     = 0x00
	RegVer    = 0x01
	RegArb    = 0x02
	RegRedTbl = 0x10 // RTE n: low dword at 0x10+2n, high at 0x11+2n

	// Version: maximum redirection entry 31 in bits 23:16, version 0x11.
	Version = 0x001F0011

	// ResetRTE masks a pin; bit 48 is set too, so the high dword reads
	// 0x00010000 (vioapic_init).
	ResetRTE = 0x00010000_00010000
)

// RTE bits (apicreg.h IOART_*; datasheet §3.2.4).
const (
	RTEVector    = 0x000000FF
	RTEDelMode   = 0x00000700
	RTEDestLog   = 0x00000800
	RTEDelivStat = 0x00001000 // read-only, always 0
	RTEPolarity  = 0x00002000
	RTERemoteIRR = 0x00004000 // read-only
	RTELevel     = 0x00008000
	RTEMasked    = 0x00010000

	rteRO = RTERemoteIRR | RTEDelivStat
)

// Deliver sends one interrupt to the LAPICs (vlapic_deliver_intr): dest is
// the RTE's 8-bit xAPIC destination, delmode the RTE's bits 10:8 in place
// (0x000 fixed … 0x700 ExtINT), level the trigger mode.
type Deliver func(dest uint32, phys bool, delmode uint32, vector uint8, level bool)

// Route is a level-triggered pin as the TMR rebuild sees it.
type Route struct {
	Pin     int
	Dest    uint32
	Phys    bool
	DelMode uint32
	Vector  uint8
}

// State is everything the IOAPIC holds, for snapshots.
type State struct {
	ID       uint32
	IOREGSEL uint32
	RTE      [Pins]uint64
	ACnt     [Pins]int // assertion counts; may go negative (only logged in FreeBSD)
}

// IOAPIC is the VM's I/O APIC.
type IOAPIC struct {
	deliver   Deliver
	updateTMR func()

	mu sync.Mutex
	st State
}

// New returns an IOAPIC with every pin masked. deliver receives the
// interrupts; updateTMR (may be nil) is called, without the IOAPIC's lock,
// when an RTE write requires every active vCPU's TMR to be rebuilt from
// LevelRoutes (lapic.Group.UpdateTMR).
func New(deliver Deliver, updateTMR func()) *IOAPIC {
	io := &IOAPIC{deliver: deliver, updateTMR: updateTMR}
	for i := range io.st.RTE {
		io.st.RTE[i] = ResetRTE
	}
	return io
}

// PinCount is VM_IOAPIC_PINCOUNT.
func (io *IOAPIC) PinCount() int { return Pins }

// Read is a guest MMIO read at offset into the 4 KiB window: only 4-byte
// reads of IOREGSEL or IOWIN return anything; the rest read 0. It never
// fails.
func (io *IOAPIC) Read(offset uint32, size int) (uint64, error) {
	if size != 4 || offset != OffIOREGSEL && offset != OffIOWIN {
		return 0, nil
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	if offset == OffIOREGSEL {
		return uint64(io.st.IOREGSEL), nil
	}
	return uint64(io.readReg(io.st.IOREGSEL)), nil
}

// Write is a guest MMIO write: only 4-byte writes of IOREGSEL (stored
// whole, indexed by its low byte) or IOWIN do anything; it never fails.
func (io *IOAPIC) Write(offset uint32, size int, v uint64) error {
	if size != 4 || offset != OffIOREGSEL && offset != OffIOWIN {
		return nil
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	if offset == OffIOREGSEL {
		io.st.IOREGSEL = uint32(v)
		return nil
	}
	io.writeReg(io.st.IOREGSEL, uint32(v))
	return nil
}

func (io *IOAPIC) readReg(sel uint32) uint32 {
	reg := sel & 0xFF
	switch reg {
	case RegID, RegArb:
		return io.st.ID
	case RegVer:
		return Version
	}
	if reg >= RegRedTbl && reg < RegRedTbl+2*Pins {
		pin := (reg - RegRedTbl) / 2
		if (reg-RegRedTbl)%2 == 1 {
			return uint32(io.st.RTE[pin] >> 32)
		}
		return uint32(io.st.RTE[pin])
	}
	return 0
}

// writeReg is vioapic_write (§3.2, §3.3). Called and returns with io.mu
// held; drops it around the TMR rebuild.
func (io *IOAPIC) writeReg(sel, data uint32) {
	reg := sel & 0xFF
	if reg == RegID {
		io.st.ID = data & 0xFF000000
		return
	}
	if reg < RegRedTbl || reg >= RegRedTbl+2*Pins {
		return // VER, ARB and unknown registers are read-only
	}
	pin := (reg - RegRedTbl) / 2
	shift := uint((reg - RegRedTbl) % 2 * 32)
	last := io.st.RTE[pin]
	mask := uint64(0xFFFFFFFF) << shift
	rte := last&(^mask|rteRO) | uint64(data)<<shift&^rteRO
	io.st.RTE[pin] = rte
	if (last^rte)&^(RTEMasked|RTEPolarity) != 0 && io.updateTMR != nil {
		io.mu.Unlock()
		io.updateTMR()
		io.mu.Lock()
	}
	if io.st.RTE[pin]&RTERemoteIRR == 0 && io.st.ACnt[pin] > 0 {
		io.send(int(pin))
	}
}

// send is vioapic_send_intr: a masked pin sends nothing; a level pin sets
// remote IRR; polarity plays no part.
func (io *IOAPIC) send(pin int) {
	rte := io.st.RTE[pin]
	if rte&RTEMasked != 0 {
		return
	}
	level := rte&RTELevel != 0
	if level {
		io.st.RTE[pin] |= RTERemoteIRR
	}
	if io.deliver != nil {
		io.deliver(uint32(rte>>56), rte&RTEDestLog == 0, uint32(rte)&RTEDelMode, uint8(rte), level)
	}
}

func (io *IOAPIC) setPin(pin int, assert bool) {
	old := io.st.ACnt[pin]
	if assert {
		io.st.ACnt[pin]++
	} else {
		io.st.ACnt[pin]--
	}
	// Remote IRR is not consulted here (§12 #14).
	if old == 0 && io.st.ACnt[pin] == 1 {
		io.send(pin)
	}
}

func (io *IOAPIC) irq(pin int, assert, deassert bool) error {
	if pin < 0 || pin >= Pins {
		return abi.EINVAL
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	if assert {
		io.setPin(pin, true)
	}
	if deassert {
		io.setPin(pin, false)
	}
	return nil
}

// AssertIRQ raises pin (VM_IOAPIC_ASSERT_IRQ); EINVAL outside 0..31.
func (io *IOAPIC) AssertIRQ(pin int) error { return io.irq(pin, true, false) }

// DeassertIRQ lowers pin (VM_IOAPIC_DEASSERT_IRQ); EINVAL outside 0..31.
func (io *IOAPIC) DeassertIRQ(pin int) error { return io.irq(pin, false, true) }

// PulseIRQ asserts then deasserts pin (VM_IOAPIC_PULSE_IRQ).
func (io *IOAPIC) PulseIRQ(pin int) error { return io.irq(pin, true, true) }

// EOI is the broadcast EOI for vector (vioapic_process_eoi), from a LAPIC
// EOI of a TMR-level vector: every pin with remote IRR set and that vector
// clears remote IRR and, if still asserted, delivers again.
func (io *IOAPIC) EOI(vector uint8) {
	io.mu.Lock()
	defer io.mu.Unlock()
	for pin := range io.st.RTE {
		rte := io.st.RTE[pin]
		if rte&RTERemoteIRR == 0 || uint8(rte) != vector {
			continue
		}
		io.st.RTE[pin] &^= RTERemoteIRR
		if io.st.ACnt[pin] > 0 {
			io.send(pin)
		}
	}
}

// LevelRoutes returns the level-triggered pins in pin order: the input of
// the TMR rebuild (vioapic_update_tmr).
func (io *IOAPIC) LevelRoutes() []Route {
	io.mu.Lock()
	defer io.mu.Unlock()
	var out []Route
	for pin, rte := range io.st.RTE {
		if rte&RTELevel == 0 {
			continue
		}
		out = append(out, Route{
			Pin:     pin,
			Dest:    uint32(rte >> 56),
			Phys:    rte&RTEDestLog == 0,
			DelMode: uint32(rte) & RTEDelMode,
			Vector:  uint8(rte),
		})
	}
	return out
}

// State returns a copy of the IOAPIC's state.
func (io *IOAPIC) State() State {
	io.mu.Lock()
	defer io.mu.Unlock()
	return io.st
}

// SetState replaces the IOAPIC's state (no interrupt is sent).
func (io *IOAPIC) SetState(s State) {
	io.mu.Lock()
	io.st = s
	io.mu.Unlock()
}
