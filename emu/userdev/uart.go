package userdev

import "io"

// COM1's port window and the legacy IRQ it will use once interrupts are
// wired (reference/linux-boot.md: a 16550A at 0x3F8, IRQ 4).
const (
	COM1Base = 0x3f8
	COM1Size = 8
	COM1IRQ  = 4
)

// 16550 register offsets. With LCR.DLAB set, offsets 0 and 1 reach the
// divisor latch instead of RBR/THR and IER (PC16550D datasheet, "Register
// Summary" table).
const (
	uartRBR = 0 // receiver buffer (read, DLAB=0)
	uartTHR = 0 // transmitter holding (write, DLAB=0)
	uartDLL = 0 // divisor latch LSB (DLAB=1)
	uartIER = 1 // interrupt enable (DLAB=0)
	uartDLM = 1 // divisor latch MSB (DLAB=1)
	uartIIR = 2 // interrupt identification (read)
	uartFCR = 2 // FIFO control (write)
	uartLCR = 3 // line control
	uartMCR = 4 // modem control
	uartLSR = 5 // line status
	uartMSR = 6 // modem status
	uartSCR = 7 // scratch
)

// Register bits (PC16550D datasheet, "Register Summary" table).
const (
	ierERBFI = 0x01 // received data available
	ierETBEI = 0x02 // transmitter holding register empty
	ierELSI  = 0x04 // receiver line status
	ierEDSSI = 0x08 // modem status
	ierMask  = 0x0f // bits 4-7 are always 0

	iirNoPending = 0x01 // bit 0 set: no interrupt pending
	iirMSR       = 0x00 // modem status (lowest priority)
	iirTHRE      = 0x02 // THR empty
	iirRDA       = 0x04 // received data available
	iirRLS       = 0x06 // receiver line status (highest priority)

	lcrDLAB = 0x80 // divisor latch access

	mcrDTR  = 0x01
	mcrRTS  = 0x02
	mcrOUT1 = 0x04
	mcrOUT2 = 0x08
	mcrLOOP = 0x10
	mcrMask = 0x1f // bits 5-7 are always 0

	lsrDR   = 0x01 // data ready
	lsrOE   = 0x02 // overrun error
	lsrTHRE = 0x20 // THR empty
	lsrTEMT = 0x40 // transmitter empty

	msrDCTS  = 0x01
	msrDDSR  = 0x02
	msrTERI  = 0x04
	msrDDCD  = 0x08
	msrDelta = 0x0f
	msrCTS   = 0x10
	msrDSR   = 0x20
	msrRI    = 0x40
	msrDCD   = 0x80
)

// Reset values. The datasheet's reset table (PC16550D, "UART Reset
// Configuration") fixes IER = 0, IIR = 0x01, FCR = LCR = MCR = 0, LSR = 0x60
// (THRE and TEMT) and MSR bits 0-3 = 0; it leaves the divisor latch and SCR
// alone. For those we take bhyve's uart_reset: divisor 1, i.e. 115200 baud
// from the 1.8432 MHz clock, and SCR 0.
const (
	ResetIER = 0x00
	ResetIIR = iirNoPending
	ResetLCR = 0x00
	ResetMCR = 0x00
	ResetLSR = lsrTHRE | lsrTEMT
	ResetDLL = 0x01
	ResetDLM = 0x00
	ResetSCR = 0x00
	// ResetMSR: with loopback off the modem lines are what the "cable"
	// drives. Like bhyve, DCD and DSR are asserted so that a guest tty open
	// does not wait for carrier.
	ResetMSR = msrDCD | msrDSR
)

// UARTState is every guest-visible register of the UART plus the pending
// host input: enough to snapshot a UART and rebuild it (§A4 "state as a
// value").
type UARTState struct {
	IER, LCR, MCR, LSR, MSR, SCR, DLL, DLM, FCR uint8
	RBR                                         uint8 // last received byte
	THREPending                                 bool  // THRE interrupt latched, not yet acknowledged
	Input                                       []byte
}

// UART is a 16550 without FIFOs or an interrupt line yet: transmit goes to
// an io.Writer at once, so THR is always empty (LSR THRE|TEMT always set) and
// a guest that polls LSR never waits. IIR still reports the highest-priority
// enabled condition, as the chip does regardless of MCR.OUT2, so polling
// drivers see the real identification; raising IRQ 4 comes later. Received
// bytes come from Receive (host input, optional) or, in loopback mode, from
// the guest's own THR writes.
//
// A UART is not safe for concurrent use; the runner serialises port exits.
type UART struct {
	out    io.Writer
	outErr error
	obuf   [1]byte

	ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr uint8
	rbr                                         uint8
	threPending                                 bool
	input                                       []byte // host line, not yet in RBR
}

// NewUART returns a UART in its reset state whose transmitted bytes go to
// out (nil discards them).
func NewUART(out io.Writer) *UART {
	if out == nil {
		out = io.Discard
	}
	u := &UART{out: out}
	u.Reset()
	return u
}

// Reset puts the registers in their reset state and drops pending input.
func (u *UART) Reset() {
	u.ier, u.lcr, u.mcr, u.lsr, u.msr = ResetIER, ResetLCR, ResetMCR, ResetLSR, ResetMSR
	u.scr, u.dll, u.dlm, u.fcr, u.rbr = ResetSCR, ResetDLL, ResetDLM, 0, 0
	u.threPending = false
	u.input = u.input[:0]
}

// Err returns the first error the output writer returned. Transmission goes
// on after an error (the guest cannot be told), so the runner reports it.
func (u *UART) Err() error { return u.outErr }

// Receive queues bytes arriving on the serial line. They enter RBR one at a
// time as the guest reads it, so host input never overruns the guest. While
// loopback is on, the line is disconnected and input is dropped, as on the
// chip.
func (u *UART) Receive(p []byte) {
	if u.mcr&mcrLOOP != 0 {
		return
	}
	u.input = append(u.input, p...)
	u.fill()
}

// fill moves the next host byte into RBR if RBR is empty.
func (u *UART) fill() {
	if u.lsr&lsrDR == 0 && len(u.input) > 0 {
		u.rbr = u.input[0]
		u.input = u.input[1:]
		u.lsr |= lsrDR
	}
}

// In reads size bytes starting at register off (little-endian, one register
// per byte, as the ISA bus splits a wide access to an 8-bit device). Bytes
// past the 8-register window read 0xFF.
func (u *UART) In(off uint16, size int) uint32 {
	var v uint32
	for i := 0; i < size; i++ {
		b := uint8(0xff)
		if r := int(off) + i; r < COM1Size {
			b = u.read(uint16(r))
		}
		v |= uint32(b) << (8 * i)
	}
	return v
}

// Out writes size bytes of v starting at register off, one register per
// byte, lowest first. Bytes past the window are dropped.
func (u *UART) Out(off uint16, size int, v uint32) {
	for i := 0; i < size; i++ {
		if r := int(off) + i; r < COM1Size {
			u.write(uint16(r), uint8(v>>(8*i)))
		}
	}
}

func (u *UART) read(off uint16) uint8 {
	if u.lcr&lcrDLAB != 0 {
		switch off {
		case uartDLL:
			return u.dll
		case uartDLM:
			return u.dlm
		}
	}
	switch off {
	case uartRBR:
		b := u.rbr
		u.lsr &^= lsrDR
		if u.mcr&mcrLOOP == 0 {
			u.fill()
		}
		return b
	case uartIER:
		return u.ier
	case uartIIR:
		id := u.iir()
		if id == iirTHRE {
			// Reading IIR while it reports THRE acknowledges it.
			u.threPending = false
		}
		return id
	case uartLCR:
		return u.lcr
	case uartMCR:
		return u.mcr
	case uartLSR:
		v := u.lsr | lsrTHRE | lsrTEMT
		u.lsr &^= lsrOE // error bits clear on read
		return v
	case uartMSR:
		v := u.msr
		u.msr &^= msrDelta // delta bits clear on read
		return v
	default: // uartSCR
		return u.scr
	}
}

func (u *UART) write(off uint16, v uint8) {
	if u.lcr&lcrDLAB != 0 {
		switch off {
		case uartDLL:
			u.dll = v
			return
		case uartDLM:
			u.dlm = v
			return
		}
	}
	switch off {
	case uartTHR:
		if u.mcr&mcrLOOP != 0 {
			// Loopback: the shift register feeds the receiver.
			if u.lsr&lsrDR != 0 {
				u.lsr |= lsrOE
			}
			u.rbr = v
			u.lsr |= lsrDR
		} else {
			u.obuf[0] = v
			if _, err := u.out.Write(u.obuf[:]); err != nil && u.outErr == nil {
				u.outErr = err
			}
		}
		// The byte left THR at once: THR is empty again.
		u.threPending = true
	case uartIER:
		if u.ier&ierETBEI == 0 && v&ierETBEI != 0 {
			// Enabling the THRE interrupt while THR is empty raises it.
			u.threPending = true
		}
		u.ier = v & ierMask
	case uartFCR:
		// No FIFOs yet: the chip behaves as a 16450, so FCR has no effect
		// and IIR bits 6-7 stay 0. Kept for the state snapshot.
		u.fcr = v
	case uartLCR:
		u.lcr = v
	case uartMCR:
		u.setMCR(v & mcrMask)
	case uartLSR, uartMSR:
		// Factory-test writes; ignored, as bhyve does.
	default: // uartSCR
		u.scr = v
	}
}

// setMCR updates MCR and derives MSR: in loopback the modem outputs feed the
// modem inputs (RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD; datasheet, MCR bit 4),
// otherwise the line holds DCD and DSR. A change sets the delta bits; RI
// sets TERI only on its trailing edge.
func (u *UART) setMCR(v uint8) {
	wasLoop := u.mcr&mcrLOOP != 0
	u.mcr = v
	var lines uint8 = ResetMSR
	if v&mcrLOOP != 0 {
		lines = 0
		if v&mcrRTS != 0 {
			lines |= msrCTS
		}
		if v&mcrDTR != 0 {
			lines |= msrDSR
		}
		if v&mcrOUT1 != 0 {
			lines |= msrRI
		}
		if v&mcrOUT2 != 0 {
			lines |= msrDCD
		}
	}
	old := u.msr
	delta := old & msrDelta
	if (old^lines)&msrCTS != 0 {
		delta |= msrDCTS
	}
	if (old^lines)&msrDSR != 0 {
		delta |= msrDDSR
	}
	if (old^lines)&msrDCD != 0 {
		delta |= msrDDCD
	}
	if old&msrRI != 0 && lines&msrRI == 0 {
		delta |= msrTERI
	}
	u.msr = lines | delta
	if wasLoop && v&mcrLOOP == 0 {
		u.fill() // the line is connected again
	}
}

// iir returns the identification of the highest-priority pending interrupt
// that IER enables (datasheet, "Interrupt Control Functions" table): line
// status, received data, THR empty, modem status.
func (u *UART) iir() uint8 {
	switch {
	case u.ier&ierELSI != 0 && u.lsr&lsrOE != 0:
		return iirRLS
	case u.ier&ierERBFI != 0 && u.lsr&lsrDR != 0:
		return iirRDA
	case u.ier&ierETBEI != 0 && u.threPending:
		return iirTHRE
	case u.ier&ierEDSSI != 0 && u.msr&msrDelta != 0:
		return iirMSR
	}
	return iirNoPending
}

// State returns a copy of the UART's registers and pending input.
func (u *UART) State() UARTState {
	return UARTState{
		IER: u.ier, LCR: u.lcr, MCR: u.mcr, LSR: u.lsr, MSR: u.msr, SCR: u.scr,
		DLL: u.dll, DLM: u.dlm, FCR: u.fcr, RBR: u.rbr,
		THREPending: u.threPending,
		Input:       append([]byte(nil), u.input...),
	}
}

// SetState restores registers and pending input saved by State.
func (u *UART) SetState(s UARTState) {
	u.ier, u.lcr, u.mcr, u.lsr, u.msr, u.scr = s.IER&ierMask, s.LCR, s.MCR&mcrMask, s.LSR, s.MSR, s.SCR
	u.dll, u.dlm, u.fcr, u.rbr = s.DLL, s.DLM, s.FCR, s.RBR
	u.threPending = s.THREPending
	u.input = append(u.input[:0], s.Input...)
}
