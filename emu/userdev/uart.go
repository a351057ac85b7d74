package userdev

import (
	"io"
	"sync"
)

// COM1's port window and its legacy IRQ (reference/linux-boot.md: a 16550A at 0x3F8, IRQ 4).
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
	iirTimeout   = 0x0c // character timeout (FIFO mode)
	iirFIFOs     = 0xc0 // bits 6-7: FIFOs enabled

	fcrEnable  = 0x01 // FIFO enable
	fcrClearRX = 0x02 // clear the receiver FIFO (self-clearing)
	fcrStored  = 0xc9 // enable, DMA mode select, receiver trigger (bits 6-7)
	fifoDepth  = 16

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

// UARTState is every guest-visible register of the UART, the receiver FIFO
// and the pending host input: enough to snapshot a UART and rebuild it (§A4
// "state as a value").
type UARTState struct {
	IER, LCR, MCR, LSR, MSR, SCR, DLL, DLM, FCR uint8
	RX                                          []byte // receiver FIFO (or RBR), oldest first
	THREPending                                 bool   // THRE interrupt latched, not yet acknowledged
	Input                                       []byte // host bytes not yet in the receiver
}

// UART is a 16550A on an ISA port window (PC16550D datasheet). Transmit is
// instantaneous: a THR byte goes to an io.Writer at once, so THR and the
// transmitter FIFO are always empty (LSR THRE|TEMT always set) and a guest
// that polls LSR never waits. The receiver has the 16-byte FIFO with its
// trigger levels, or a single RBR in 16450 mode (FCR bit 0 clear).
//
// Interrupts: IIR reports the highest-priority enabled condition; the
// interrupt output (SetIRQ's callback, IRQ) is asserted exactly while IIR
// bit 0 is clear. It is not gated by MCR.OUT2: QEMU's serial and bhyve's
// uart_emul.c do not gate it either, and guests written for real PCs set
// OUT2 anyway, so both kinds run. The receiver timeout interrupt (IIR 0x0C)
// needs 4 character times of silence on the chip; having no baud clock, this
// UART reports it as soon as bytes sit in the FIFO below the trigger level,
// which is what a guest sees once the line has gone quiet (bhyve reports
// received data the same way).
//
// Received bytes come from Receive, from an input reader (SetInput), or in
// loopback mode from the guest's own THR writes. Host bytes enter the
// receiver only as it has room, so host input never overruns the guest.
//
// A UART is not safe for concurrent use; the runner serialises port exits.
type UART struct {
	out    io.Writer
	outErr error
	obuf   [1]byte

	ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr uint8
	rx                                          [fifoDepth]byte
	rxHead, rxLen                               int
	threPending                                 bool
	input                                       []byte // host line, not yet in the receiver

	src    io.Reader // optional input source, read when input runs dry
	srcEOF bool
	sbuf   [fifoDepth]byte

	irq      func(level bool)
	irqLevel bool
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

// SetIRQ sets the function told of every change of the interrupt output, so
// the runner can assert and deassert the ISA IRQ (VM_ISA_ASSERT_IRQ and
// VM_ISA_DEASSERT_IRQ, as bhyve's uart_toggle_intr does). It is called at
// once with the current level.
func (u *UART) SetIRQ(f func(level bool)) {
	u.irq = f
	if f != nil {
		f(u.irqLevel)
	}
}

// IRQ reports the interrupt output.
func (u *UART) IRQ() bool { return u.irqLevel }

// SetInput makes r the source of received bytes after any queued by
// Receive. r is read, from the port access that finds the receiver with room
// and no queued bytes, for at most 16 bytes at a time; a Read returning
// (0, nil) means "nothing now, ask again later", and io.EOF or another error
// ends the input. r must not block: give it a file, or wrap a terminal with
// NewAsyncReader.
func (u *UART) SetInput(r io.Reader) {
	u.src, u.srcEOF = r, false
	u.fill()
	u.update()
}

// Reset puts the registers in their reset state and empties the receiver.
// Queued host input stays queued: it is still on the line.
func (u *UART) Reset() {
	u.ier, u.lcr, u.mcr, u.lsr, u.msr = ResetIER, ResetLCR, ResetMCR, ResetLSR, ResetMSR
	u.scr, u.dll, u.dlm, u.fcr = ResetSCR, ResetDLL, ResetDLM, 0
	u.rxHead, u.rxLen = 0, 0
	u.threPending = false
	u.fill()
	u.update()
}

// Err returns the first error the output writer returned. Transmission goes
// on after an error (the guest cannot be told), so the runner reports it.
func (u *UART) Err() error { return u.outErr }

// Receive queues bytes arriving on the serial line. While loopback is on,
// the line is disconnected and they are dropped, as on the chip.
func (u *UART) Receive(p []byte) {
	if u.mcr&mcrLOOP != 0 {
		return
	}
	u.input = append(u.input, p...)
	u.fill()
	u.update()
}

func (u *UART) fifoOn() bool { return u.fcr&fcrEnable != 0 }

// rxCap is the receiver's size: the FIFO, or RBR alone in 16450 mode.
func (u *UART) rxCap() int {
	if u.fifoOn() {
		return fifoDepth
	}
	return 1
}

// fill moves queued host bytes into the receiver while it has room.
func (u *UART) fill() {
	if u.mcr&mcrLOOP != 0 {
		return
	}
	for u.rxLen < u.rxCap() {
		if len(u.input) == 0 && !u.readSource() {
			break
		}
		u.push(u.input[0])
		u.input = u.input[1:]
	}
	if len(u.input) == 0 {
		u.input = u.input[:0:0] // let a large drained input go
	}
}

// readSource refills input from the reader, reporting whether it got bytes.
func (u *UART) readSource() bool {
	if u.src == nil || u.srcEOF {
		return false
	}
	n, err := u.src.Read(u.sbuf[:])
	if err != nil {
		u.srcEOF = true
	}
	if n <= 0 {
		return false
	}
	u.input = append(u.input, u.sbuf[:n]...)
	return true
}

func (u *UART) push(b byte) {
	u.rx[(u.rxHead+u.rxLen)%fifoDepth] = b
	u.rxLen++
}

// receive puts a byte from the guest's own transmitter (loopback) into the
// receiver. A full receiver overruns: in 16450 mode the new byte replaces
// RBR; with the FIFO the byte in the shift register is lost and the FIFO
// kept (datasheet, LSR bit 1).
func (u *UART) receive(b byte) {
	if u.rxLen < u.rxCap() {
		u.push(b)
		return
	}
	u.lsr |= lsrOE
	if !u.fifoOn() {
		u.rx[u.rxHead] = b
	}
}

// trigger is the receiver FIFO's interrupt trigger level (FCR bits 6-7).
func (u *UART) trigger() int {
	return [4]int{1, 4, 8, 14}[u.fcr>>6]
}

// update recomputes the interrupt output and reports a change.
func (u *UART) update() {
	level := u.iir()&iirNoPending == 0
	if level != u.irqLevel {
		u.irqLevel = level
		if u.irq != nil {
			u.irq(level)
		}
	}
}

// In reads size bytes starting at register off (little-endian, one register
// per byte, as the ISA bus splits a wide access to an 8-bit device). Bytes
// past the 8-register window read 0xFF.
func (u *UART) In(off uint16, size int) uint32 {
	if u.rxLen == 0 && u.src != nil {
		u.fill() // bytes a reader had not delivered before may be there now
	}
	var v uint32
	for i := 0; i < size; i++ {
		b := uint8(0xff)
		if r := int(off) + i; r < COM1Size {
			b = u.read(uint16(r))
		}
		v |= uint32(b) << (8 * i)
	}
	u.update()
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
	u.update()
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
		if u.rxLen == 0 {
			// An empty receiver reads back the last byte it held.
			return u.rx[(u.rxHead+fifoDepth-1)%fifoDepth]
		}
		b := u.rx[u.rxHead]
		u.rxHead = (u.rxHead + 1) % fifoDepth
		u.rxLen--
		u.fill()
		return b
	case uartIER:
		return u.ier
	case uartIIR:
		id := u.iir()
		if id&0x0f == iirTHRE {
			// Reading IIR while it reports THRE acknowledges it.
			u.threPending = false
		}
		return id
	case uartLCR:
		return u.lcr
	case uartMCR:
		return u.mcr
	case uartLSR:
		v := u.lsrValue()
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
			u.receive(v) // loopback: the shift register feeds the receiver
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
		u.setFCR(v)
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

// lsrValue is LSR as a read returns it: the latched overrun, data ready,
// and an always-empty transmitter.
func (u *UART) lsrValue() uint8 {
	v := u.lsr&lsrOE | lsrTHRE | lsrTEMT
	if u.rxLen > 0 {
		v |= lsrDR
	}
	return v
}

// setFCR applies a FIFO control write (datasheet, FCR). Changing bit 0
// clears both FIFOs; the other bits are programmed only together with bit 0
// set; bits 1 and 2 clear their FIFO and do not stay set.
func (u *UART) setFCR(v uint8) {
	if (u.fcr^v)&fcrEnable != 0 || v&fcrEnable != 0 && v&fcrClearRX != 0 {
		u.rxHead, u.rxLen = 0, 0
		u.lsr &^= lsrOE
	}
	if v&fcrEnable == 0 {
		u.fcr = 0
	} else {
		u.fcr = v & fcrStored
	}
	u.fill()
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
// status, received data (at the trigger level) or character timeout, THR
// empty, modem status. Bits 6-7 are set while the FIFOs are enabled.
func (u *UART) iir() uint8 {
	var fifo uint8
	if u.fifoOn() {
		fifo = iirFIFOs
	}
	switch {
	case u.ier&ierELSI != 0 && u.lsr&lsrOE != 0:
		return fifo | iirRLS
	case u.ier&ierERBFI != 0 && u.rxLen > 0:
		if u.fifoOn() && u.rxLen < u.trigger() {
			return fifo | iirTimeout
		}
		return fifo | iirRDA
	case u.ier&ierETBEI != 0 && u.threPending:
		return fifo | iirTHRE
	case u.ier&ierEDSSI != 0 && u.msr&msrDelta != 0:
		return fifo | iirMSR
	}
	return fifo | iirNoPending
}

// State returns a copy of the UART's registers, receiver and pending input.
func (u *UART) State() UARTState {
	rx := make([]byte, u.rxLen)
	for i := range rx {
		rx[i] = u.rx[(u.rxHead+i)%fifoDepth]
	}
	return UARTState{
		IER: u.ier, LCR: u.lcr, MCR: u.mcr, LSR: u.lsrValue(), MSR: u.msr, SCR: u.scr,
		DLL: u.dll, DLM: u.dlm, FCR: u.fcr, RX: rx,
		THREPending: u.threPending,
		Input:       append([]byte(nil), u.input...),
	}
}

// SetState restores registers, receiver and pending input saved by State.
// Receiver bytes beyond its size (16, or 1 with the FIFO off) are dropped.
func (u *UART) SetState(s UARTState) {
	u.ier, u.lcr, u.mcr, u.lsr, u.msr, u.scr = s.IER&ierMask, s.LCR, s.MCR&mcrMask, s.LSR&lsrOE, s.MSR, s.SCR
	u.dll, u.dlm, u.fcr = s.DLL, s.DLM, s.FCR&fcrStored
	if u.fcr&fcrEnable == 0 {
		u.fcr = 0
	}
	u.rxHead, u.rxLen = 0, 0
	for _, b := range s.RX {
		if u.rxLen < u.rxCap() {
			u.push(b)
		}
	}
	u.threPending = s.THREPending
	u.input = append(u.input[:0], s.Input...)
	u.update()
}

// NewAsyncReader returns a reader for UART.SetInput that never blocks: a
// goroutine reads r (a terminal, say) and Read hands over what has arrived,
// or (0, nil) when nothing has. Bytes typed on a terminal arrive when they
// arrive, so such a run is not deterministic; a file given to SetInput
// directly is.
func NewAsyncReader(r io.Reader) io.Reader {
	a := &asyncReader{}
	go a.pump(r)
	return a
}

type asyncReader struct {
	mu  sync.Mutex
	buf []byte
	err error
}

func (a *asyncReader) pump(r io.Reader) {
	var b [256]byte
	for {
		n, err := r.Read(b[:])
		a.mu.Lock()
		a.buf = append(a.buf, b[:n]...)
		if err != nil {
			a.err = err
		}
		a.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (a *asyncReader) Read(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := copy(p, a.buf)
	a.buf = a.buf[n:]
	if n == 0 && a.err != nil {
		return 0, a.err
	}
	return n, nil
}
