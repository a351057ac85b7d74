// Package atpic is the cascaded pair of Intel 8259A programmable interrupt
// controllers plus the edge/level control registers (ELCR), as bhyve's
// vatpic models them (reference/vmm-devices.md §4).
//
// The model is bhyve's, not the datasheet's, wherever the two differ:
//   - Only cascade mode with ICW4 and 8086 mode is supported. ICW1 with
//     SNGL set or IC4 clear, and ICW4 without µPM, make the port handler
//     fail, which the kernel turns into EIO (reference §4.3, §4.4, §12
//     item 21).
//   - The trigger mode of each pin comes from the ELCR, never from ICW1's
//     LTIM bit; IRQ 0, 1, 2, 8 and 13 are always edge (reference §4.9).
//   - ICW1 clears IRR and IMR (a real 8259A keeps IMR) and leaves ISR,
//     AEOI, SFNM, rotation and the vector base alone; AEOI and SFNM, once
//     set by an ICW4, stay set until the VM is reset (reference §12 item
//     15). Reproduced.
//   - Known bug (reference §12 item 15): AssertIRQ, DeassertIRQ and
//     PulseIRQ on a chip the guest has not initialised succeed without
//     counting the assertion, so a later deassert drives the pin's count
//     negative and the pin then needs two asserts to rise. Reproduced for
//     fidelity (VM_ISA_* ioctls rely on "silently succeeds",
//     reference/vmm-interface.md §8.5); TestUninitialisedAssertQuirk pins it.
//   - The INTR output is a notification, not a level: when the master has
//     an eligible request and has not already raised INTR, it calls the
//     intr callback once and raises no more until the CPU acknowledges
//     (IntrAccepted) or the guest polls. bhyve wires that to LINT0 of every
//     active vCPU plus a pulse of IOAPIC pin 0 (reference §4.7).
//
// Callbacks run with the PIC's lock held (as bhyve calls out under
// VATPIC_LOCK); they must not call back into the PIC.
package atpic

import (
	"sync"

	"softvmm/emu/abi"
)

// I/O ports (reference §4.1; sys/dev/ic/i8259.h, sys/x86/isa/icu.h).
const (
	PortMasterCmd  = 0x20  // master command: ICW1, OCW2, OCW3; reads IRR/ISR
	PortMasterData = 0x21  // master data: ICW2-4, OCW1 (IMR)
	PortSlaveCmd   = 0xA0  // slave command
	PortSlaveData  = 0xA1  // slave data
	PortELCR1      = 0x4D0 // edge/level control, IRQ 0-7
	PortELCR2      = 0x4D1 // edge/level control, IRQ 8-15
)

// Command-word bits (Intel 8259A datasheet, "Initialization Command Words"
// and "Operation Command Words"; sys/dev/ic/i8259.h).
const (
	icw1SNGL = 0x02 // single (no cascade): unsupported
	icw1IC4  = 0x01 // ICW4 needed: required
	icw1Sel  = 0x10 // marks ICW1 on the command port

	icw4UPM  = 0x01 // 8086/8088 mode: required
	icw4AEOI = 0x02 // automatic end of interrupt
	icw4SFNM = 0x10 // special fully nested mode

	ocw2R   = 0x80 // rotate
	ocw2SL  = 0x40 // specific level
	ocw2EOI = 0x20 // end of interrupt

	ocw3Sel  = 0x08 // marks OCW3 (bit 4 clear)
	ocw3ESMM = 0x40 // enable special-mask-mode change
	ocw3SMM  = 0x20 // special mask mode
	ocw3P    = 0x04 // poll command
	ocw3RR   = 0x02 // read-register command
	ocw3RIS  = 0x01 // read ISR (else IRR)

	pollIntr = 0x80 // poll word: an interrupt was pending
)

// ELCR bits that can be set (reference §4.9): IRQ 0, 1, 2 and IRQ 8, 13
// are edge only, as on PIIX-class chipsets (Intel 82371AB datasheet,
// ELCR1/ELCR2 reserved bits).
const (
	elcr1Mask = 0xF8
	elcr2Mask = 0xDE
)

// ChipState is one 8259A, field for field bhyve's struct atpic.
type ChipState struct {
	Ready      bool   // initialisation sequence finished
	ICWNum     int    // 0 operational, 1 after a failed ICW1, 2-4 the ICW expected next
	RdCmdReg   int    // 1: command-port reads return ISR, 0: IRR
	AEOI       bool   // automatic EOI (sticky, reference §4.4)
	Poll       bool   // the next read is a poll
	Rotate     bool   // R bit of the last OCW2
	SFN        bool   // special fully nested (master only)
	IRQBase    uint8  // ICW2 & 0xF8
	IRR        uint8  // interrupt request register
	ISR        uint8  // in-service register
	IMR        uint8  // interrupt mask register
	SMM        bool   // special mask mode
	ACnt       [8]int // per-pin assertion counts (may go negative, §12 item 15)
	LowPrio    int    // lowest-priority pin; scans start at LowPrio+1
	IntrRaised bool   // INTR raised and not yet acknowledged
}

// State is the whole pair: master (0), slave (1) and the two ELCR bytes.
type State struct {
	Chip [2]ChipState
	ELCR [2]uint8
}

// ATPIC is one VM's 8259 pair. It is safe for concurrent use.
type ATPIC struct {
	intr func()

	mu sync.Mutex
	st State
}

// New returns an uninitialised pair (all zero, as vatpic_init leaves it).
// intr is called each time the master raises its INTR output (reference
// §4.7 notify): the kernel delivers it as LINT0 to every active vCPU and as
// a pulse of IOAPIC pin 0, as bhyve does.
func New(intr func()) *ATPIC {
	if intr == nil {
		intr = func() {}
	}
	return &ATPIC{intr: intr}
}

// accessError is a failed port access: bhyve's handler returns −1 and
// VM_RUN fails with EIO (reference §1.2).
type accessError string

func (e accessError) Error() string { return "atpic: " + string(e) }
func (e accessError) Unwrap() error { return abi.EIO }

// Errors of the port handler; each unwraps to abi.EIO.
var (
	ErrWidth      = accessError("8259/ELCR ports take 1-byte accesses only")
	ErrSingleMode = accessError("ICW1: single mode is not supported (cascade required)")
	ErrNoICW4     = accessError("ICW1: IC4 clear (ICW4 required)")
	ErrNot8086    = accessError("ICW4: 8086 mode required")
	ErrPort       = accessError("not an 8259/ELCR port")
)

// In handles an IN from one of the PIC or ELCR ports.
func (a *ATPIC) In(port uint16, size int) (uint32, error) {
	chip, ok := chipOf(port)
	if !ok {
		return 0, ErrPort
	}
	if size != 1 {
		return 0, ErrWidth
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if chip < 0 {
		return uint32(a.st.ELCR[port-PortELCR1]), nil
	}
	c := &a.st.Chip[chip]
	if c.Poll {
		// Poll command (8259A datasheet "The Poll Command"): the read is
		// an acknowledge of the highest request; bit 7 says one existed.
		c.Poll = false
		pin := highestIRRPin(c)
		if pin < 0 {
			return 0, nil
		}
		pinAccepted(c, pin)
		return pollIntr | uint32(pin), nil
	}
	if port&1 != 0 {
		return uint32(c.IMR), nil
	}
	if c.RdCmdReg == ocw3RIS {
		return uint32(c.ISR), nil
	}
	return uint32(c.IRR), nil
}

// Out handles an OUT to one of the PIC or ELCR ports.
func (a *ATPIC) Out(port uint16, size int, v uint32) error {
	chip, ok := chipOf(port)
	if !ok {
		return ErrPort
	}
	if size != 1 {
		return ErrWidth
	}
	val := uint8(v)
	a.mu.Lock()
	defer a.mu.Unlock()
	if chip < 0 {
		if port == PortELCR1 {
			a.st.ELCR[0] = val & elcr1Mask
		} else {
			a.st.ELCR[1] = val & elcr2Mask
		}
		return nil
	}
	c := &a.st.Chip[chip]
	var err error
	if port&1 != 0 {
		switch c.ICWNum {
		case 2:
			c.IRQBase = val & 0xF8
			c.ICWNum++
		case 3:
			c.ICWNum++ // ICW3 (cascade wiring) is fixed on a PC
		case 4:
			err = a.icw4(chip, val)
		default:
			c.IMR = val // OCW1
		}
	} else {
		if val&icw1Sel != 0 {
			err = icw1(c, val)
		}
		if c.Ready {
			if val&ocw3Sel != 0 {
				ocw3(c, val)
			} else {
				ocw2(c, val)
			}
		}
	}
	if c.Ready {
		a.notify()
	}
	return err
}

func chipOf(port uint16) (int, bool) {
	switch port {
	case PortMasterCmd, PortMasterData:
		return 0, true
	case PortSlaveCmd, PortSlaveData:
		return 1, true
	case PortELCR1, PortELCR2:
		return -1, true
	}
	return 0, false
}

func icw1(c *ChipState, val uint8) error {
	c.Ready = false
	c.ICWNum = 1
	c.IRR = 0
	c.IMR = 0
	c.LowPrio = 7
	c.RdCmdReg = 0
	c.Poll = false
	c.SMM = false
	if val&icw1SNGL != 0 {
		return ErrSingleMode
	}
	if val&icw1IC4 == 0 {
		return ErrNoICW4
	}
	c.ICWNum++
	return nil
}

func (a *ATPIC) icw4(chip int, val uint8) error {
	c := &a.st.Chip[chip]
	if val&icw4UPM == 0 {
		return ErrNot8086
	}
	if val&icw4AEOI != 0 {
		c.AEOI = true
	}
	if val&icw4SFNM != 0 && chip == 0 {
		c.SFN = true
	}
	c.ICWNum = 0
	c.Ready = true
	return nil
}

func ocw2(c *ChipState, val uint8) {
	c.Rotate = val&ocw2R != 0
	if val&ocw2EOI != 0 {
		var pin int
		if val&ocw2SL != 0 {
			pin = int(val & 7) // specific EOI
		} else {
			pin = highestISRPin(c) // non-specific EOI
		}
		if pin >= 0 {
			c.ISR &^= 1 << pin
			if c.Rotate {
				c.LowPrio = pin
			}
		}
	} else if val&ocw2SL != 0 && c.Rotate {
		c.LowPrio = int(val & 7) // set priority
	}
}

func ocw3(c *ChipState, val uint8) {
	if val&ocw3ESMM != 0 {
		c.SMM = val&ocw3SMM != 0
	}
	if val&ocw3RR != 0 {
		c.RdCmdReg = int(val & ocw3RIS)
		c.Poll = val&ocw3P != 0
	}
}

// highestISRPin is the in-service pin a non-specific EOI clears: the first
// in priority order, skipping masked pins in special mask mode.
func highestISRPin(c *ChipState) int {
	for i, pin := 0, (c.LowPrio+1)&7; i < 8; i, pin = i+1, (pin+1)&7 {
		bit := uint8(1) << pin
		if c.ISR&bit != 0 {
			if c.SMM && c.IMR&bit != 0 {
				continue
			}
			return pin
		}
	}
	return -1
}

// highestIRRPin is the pin the chip would interrupt for (reference §4.6).
func highestIRRPin(c *ChipState) int {
	serviced := c.ISR
	if c.SFN {
		serviced &^= 1 << 2 // a slave in service does not block its own cascade
	}
	if c.SMM {
		serviced = 0
	}
	for i, pin := 0, (c.LowPrio+1)&7; i < 8; i, pin = i+1, (pin+1)&7 {
		bit := uint8(1) << pin
		if serviced&bit != 0 {
			break
		}
		if c.IRR&bit != 0 && c.IMR&bit == 0 {
			return pin
		}
	}
	return -1
}

// notify raises the slave's request on master pin 2, then the master's
// INTR, each only once until acknowledged (reference §4.7).
func (a *ATPIC) notify() {
	s := &a.st.Chip[1]
	if !s.IntrRaised && highestIRRPin(s) >= 0 {
		s.IntrRaised = true
		a.setPinState(2, true)
		a.setPinState(2, false)
	}
	m := &a.st.Chip[0]
	if !m.IntrRaised && highestIRRPin(m) >= 0 {
		m.IntrRaised = true
		a.intr()
	}
}

func (a *ATPIC) setPinState(irq int, asserted bool) {
	c := &a.st.Chip[irq>>3]
	pin := irq & 7
	old := c.ACnt[pin]
	if asserted {
		c.ACnt[pin]++
	} else {
		c.ACnt[pin]--
	}
	cnt := c.ACnt[pin]
	level := a.st.ELCR[irq>>3]&(1<<pin) != 0
	if (old == 0 && cnt == 1) || (cnt > 0 && level) {
		c.IRR |= 1 << pin // rising edge, or a level still held
	} else if old == 1 && cnt == 0 {
		if level {
			c.IRR &^= 1 << pin // falling edge clears only a level request
		}
	}
	a.notify()
}

type irqState int

const (
	irqAssert irqState = iota
	irqDeassert
	irqPulse
)

func (a *ATPIC) setIRQState(irq int, s irqState) error {
	if irq < 0 || irq > 15 {
		return abi.EINVAL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.st.Chip[irq>>3].Ready {
		return nil // §12 item 15: dropped, not counted
	}
	switch s {
	case irqAssert:
		a.setPinState(irq, true)
	case irqDeassert:
		a.setPinState(irq, false)
	case irqPulse:
		a.setPinState(irq, true)
		a.setPinState(irq, false)
	}
	return nil
}

// AssertIRQ raises ISA IRQ irq (0-15): vatpic_assert_irq, VM_ISA_ASSERT_IRQ.
// EINVAL outside 0-15; silently nothing while that chip is uninitialised.
func (a *ATPIC) AssertIRQ(irq int) error { return a.setIRQState(irq, irqAssert) }

// DeassertIRQ lowers ISA IRQ irq: vatpic_deassert_irq.
func (a *ATPIC) DeassertIRQ(irq int) error { return a.setIRQState(irq, irqDeassert) }

// PulseIRQ raises and lowers ISA IRQ irq: vatpic_pulse_irq.
func (a *ATPIC) PulseIRQ(irq int) error { return a.setIRQState(irq, irqPulse) }

// SetIRQTrigger sets IRQ irq's ELCR bit (VM_ISA_SET_IRQ_TRIGGER). Level
// on IRQ 0, 1, 2, 8 or 13, or an irq outside 0-15, is EINVAL (reference
// §4.9, reference/vmm-interface.md §2.1).
func (a *ATPIC) SetIRQTrigger(irq int, level bool) error {
	if irq < 0 || irq > 15 {
		return abi.EINVAL
	}
	if level {
		switch irq {
		case 0, 1, 2, 8, 13:
			return abi.EINVAL
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if level {
		a.st.ELCR[irq>>3] |= 1 << (irq & 7)
	} else {
		a.st.ELCR[irq>>3] &^= 1 << (irq & 7)
	}
	return nil
}

// PendingIntr is the vector the CPU's interrupt acknowledge would get now
// (vatpic_pending_intr): the master's best pin, or the slave's when that pin
// is the cascade. With nothing eligible it is the spurious vector, pin 7 of
// the chip consulted, and spurious is true; bhyve injects that vector all the
// same (reference §4.8).
func (a *ATPIC) PendingIntr() (vector int, spurious bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := &a.st.Chip[0]
	pin := highestIRRPin(c)
	if pin == 2 {
		c = &a.st.Chip[1]
		pin = highestIRRPin(c)
	}
	if pin < 0 {
		pin, spurious = 7, true
	}
	return int(c.IRQBase) + pin, spurious
}

// IntrAccepted tells the PIC the CPU took vector (vatpic_intr_accepted):
// a vector in the slave's block is accepted on the slave and on master
// pin 2, any other on the master (reference §4.8).
func (a *ATPIC) IntrAccepted(vector int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pin := vector & 7
	if vector&^7 == int(a.st.Chip[1].IRQBase) {
		pinAccepted(&a.st.Chip[1], pin)
		pinAccepted(&a.st.Chip[0], 2)
	} else {
		pinAccepted(&a.st.Chip[0], pin)
	}
	a.notify()
}

func pinAccepted(c *ChipState, pin int) {
	c.IntrRaised = false
	if c.ACnt[pin] == 0 {
		c.IRR &^= 1 << pin
	}
	if c.AEOI {
		if c.Rotate {
			c.LowPrio = pin
		}
	} else {
		c.ISR |= 1 << pin
	}
}

// State returns a copy of the pair's state.
func (a *ATPIC) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// SetState replaces the pair's state. It does not raise INTR; EINVAL for
// values the chip cannot hold.
func (a *ATPIC) SetState(s State) error {
	for _, c := range s.Chip {
		if c.ICWNum < 0 || c.ICWNum > 4 || c.LowPrio < 0 || c.LowPrio > 7 ||
			c.RdCmdReg < 0 || c.RdCmdReg > 1 || c.IRQBase&7 != 0 {
			return abi.EINVAL
		}
	}
	if s.ELCR[0]&^elcr1Mask != 0 || s.ELCR[1]&^elcr2Mask != 0 {
		return abi.EINVAL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st = s
	return nil
}
