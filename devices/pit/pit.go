// Package pit is the Intel 8254 programmable interval timer (channels 0-2,
// command port 0x43) and the NMI status/control port 0x61, as bhyve's vatpit
// models them (reference/vmm-devices.md §5).
//
// bhyve's model, not the datasheet's, is what a guest sees:
//   - Only 16-bit (LSB then MSB) access and modes 0, 2, 3 and 4 in binary
//     are accepted; BCD, LSB-only/MSB-only access and modes 1 and 5 make
//     the handler fail, which the kernel turns into EIO (reference §5.2,
//     §12 item 3).
//   - Every mode counts initial…1 and wraps; OUT is modelled for mode 0
//     only; the status byte carries only OUT and NULL COUNT; the gate of
//     channel 2 is not modelled (reference §5.3, §5.4).
//   - Channel 0 interrupts: mode 2 is periodic, modes 0, 3 and 4 give one
//     interrupt per count write (reference §5.5, §12 item 3). The irq0
//     callback stands for bhyve's pulse of 8259 IRQ 0 and IOAPIC pin 2.
//   - The count-register byte index survives a mode command, so a stray
//     single byte pairs with the next write (reference §12 item 21).
//     Reproduced.
//
// Known bugs (reference §12):
//   - Item 1, zero count: FreeBSD 12 armed channel 0's timer before turning
//     a count of 0 into 0xFFFF, so a count of 0 never interrupted. Later
//     FreeBSD substitutes first; softvmm takes that fix (DESIGN.md "ABI
//     fidelity"). TestZeroCountFix pins it. A count of 0 still means 0xFFFF,
//     not 65536, as in every FreeBSD.
//   - Item 2, rate: FreeBSD 12 counts in sbintime ticks of 3599 (true value
//     3599.59), so the PIT runs 0.0164 % fast. Later FreeBSD divides 64-bit
//     bintime fractions instead, which needs more resolution than the VM's
//     sbintime clock has. softvmm reproduces FreeBSD 12's arithmetic
//     exactly, so counts and interrupt instants equal bhyve's at the same
//     sbintime instant. TestRate pins it.
//
// Callbacks run with the PIT's lock held (bhyve pulses IRQ 0 under
// VATPIT_LOCK); they must not call back into the PIT.
package pit

import (
	"sync"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// I/O ports (reference §1.2; sys/dev/ic/i8253reg.h, sys/x86/isa/isa.h).
const (
	PortCounter0 = 0x40
	PortCounter1 = 0x41
	PortCounter2 = 0x42
	PortMode     = 0x43 // mode/command, write only
	PortNMISC    = 0x61 // NMI status/control: channel 2 OUT in bit 5
)

// Timing (reference §0 tick table).
const (
	Freq = 1193182 // PIT_8254_FREQ
	// TickSBT is bttosbt(FREQ2BT(1193182)) = 0x0E0F9751AD54 >> 32: the
	// sbintime length of one tick that FreeBSD 12 divides and multiplies by.
	TickSBT vclock.SBT = 3599
	// DefaultCount is TIMER_DIV(1193182, 100): what a read of a never
	// programmed channel loads (≈100 Hz).
	DefaultCount = (Freq + 50) / 100
)

// Command byte fields (Intel 8254 datasheet, "Control Word Format" and
// "Read-Back Command"; sys/dev/ic/i8253reg.h).
const (
	selMask      = 0xC0
	selReadBack  = 0xC0
	rwMask       = 0x30
	rwLatch      = 0x00
	rw16         = 0x30
	modeMask     = 0x0F // mode bits 3:1 and BCD bit 0
	ModeIntTC    = 0x00 // mode 0: interrupt on terminal count
	ModeRateGen  = 0x04 // mode 2: rate generator
	ModeSqWave   = 0x06 // mode 3: square wave
	ModeSWStrobe = 0x08 // mode 4: software-triggered strobe

	rbNoCount  = 0x20 // read-back: do NOT latch count (active low)
	rbNoStatus = 0x10 // read-back: do NOT latch status (active low)
	rbCtr2     = 0x08
	rbCtr1     = 0x04
	rbCtr0     = 0x02

	StatusOut     = 0x80 // status byte: OUT pin
	StatusNullCnt = 0x40 // status byte: count not yet loaded

	nmiscTmr2Out = 0x20 // port 0x61 bit 5
)

// ChannelState is one counter, field for field bhyve's struct channel.
type ChannelState struct {
	Mode     int        // bits 3:0 of the last program command
	Initial  uint16     // loaded count (0 = never loaded)
	Start    vclock.SBT // clock time the count was loaded (now_sbt)
	CR       [2]uint8   // count register bytes being written
	OL       [2]uint8   // output latch: OL[1] LSB, OL[0] MSB
	SLatched bool       // a status byte is latched
	Status   uint8      // StatusOut | StatusNullCnt
	CRByte   int        // count bytes written so far (0 or 1)
	OLByte   int        // latched bytes left to read (0-2)
	FRByte   int        // free-running read toggle: 0 LSB next, 1 MSB
	// Channel 0's interrupt timer: the target time, and whether the
	// callout is active (armed and not yet fired or stopped).
	CalloutSBT    vclock.SBT
	CalloutActive bool
}

// State is the whole PIT.
type State struct {
	Channel [3]ChannelState
}

// PIT is one VM's 8254. It is safe for concurrent use.
type PIT struct {
	clk   *vclock.Clock
	irq0  func()
	timer *vclock.Timer

	mu sync.Mutex
	st State
}

// New returns an idle PIT (all zero, as vatpit_init leaves it). irq0 is
// called at each channel-0 interrupt; the kernel pulses 8259 IRQ 0 and
// IOAPIC pin 2 there, as bhyve does (reference §5.1).
func New(clk *vclock.Clock, irq0 func()) *PIT {
	if irq0 == nil {
		irq0 = func() {}
	}
	p := &PIT{clk: clk, irq0: irq0}
	p.timer = clk.NewTimer(p.fire)
	return p
}

// Close stops channel 0's timer (vatpit_cleanup drains the callout).
func (p *PIT) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer.Stop()
	p.st.Channel[0].CalloutActive = false
}

// accessError is a failed port access: bhyve's handler returns −1 and
// VM_RUN fails with EIO (reference §1.2).
type accessError string

func (e accessError) Error() string { return "pit: " + string(e) }
func (e accessError) Unwrap() error { return abi.EIO }

// Errors of the port handler; each unwraps to abi.EIO.
var (
	ErrWidth    = accessError("ports 0x40-0x43 take 1-byte accesses only")
	ErrReadMode = accessError("port 0x43 is write-only")
	ErrAccess   = accessError("only latch and LSB-then-MSB access are supported")
	ErrMode     = accessError("only binary modes 0, 2, 3 and 4 are supported")
	ErrPort     = accessError("not a PIT port")
)

// In handles an IN from 0x40-0x43 or 0x61.
func (p *PIT) In(port uint16, size int) (uint32, error) {
	if port == PortNMISC {
		// Any width (reference §1.2); bit 5 is channel 2's OUT.
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.out(2) {
			return nmiscTmr2Out, nil
		}
		return 0, nil
	}
	if port < PortCounter0 || port > PortMode {
		return 0, ErrPort
	}
	if size != 1 {
		return 0, ErrWidth
	}
	if port == PortMode {
		return 0, ErrReadMode
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.st.Channel[port-PortCounter0]
	switch {
	case c.SLatched:
		v := c.Status
		c.SLatched = false
		c.Status = 0
		return uint32(v), nil
	case c.OLByte == 0:
		// Free-running read (Linux TSC calibration): LSB and MSB of
		// the live count alternately.
		v := p.updateCounter(c, false)
		if c.FRByte != 0 {
			v >>= 8
		}
		c.FRByte ^= 1
		return uint32(v & 0xFF), nil
	default:
		c.OLByte--
		return uint32(c.OL[c.OLByte]), nil
	}
}

// Out handles an OUT to 0x40-0x43 or 0x61 (writes to 0x61 are ignored).
func (p *PIT) Out(port uint16, size int, v uint32) error {
	if port == PortNMISC {
		return nil
	}
	if port < PortCounter0 || port > PortMode {
		return ErrPort
	}
	if size != 1 {
		return ErrWidth
	}
	val := uint8(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	if port == PortMode {
		return p.command(val)
	}
	c := &p.st.Channel[port-PortCounter0]
	c.CR[c.CRByte] = val
	c.CRByte++
	if c.CRByte == 2 {
		c.Status &^= StatusNullCnt
		c.FRByte = 0
		c.CRByte = 0
		c.Initial = uint16(c.CR[0]) | uint16(c.CR[1])<<8
		if c.Initial == 0 {
			c.Initial = 0xFFFF // before arming: the later-FreeBSD order (§12 item 1)
		}
		c.Start = p.clk.Now()
		if port == PortCounter0 {
			c.CalloutSBT = c.Start
			p.startCntr0()
		}
	}
	return nil
}

func (p *PIT) command(val uint8) error {
	sel, rw, mode := val&selMask, val&rwMask, int(val&modeMask)
	if sel == selReadBack {
		for ch, bit := range [3]uint8{rbCtr0, rbCtr1, rbCtr2} {
			if val&bit != 0 {
				p.readBack(ch, val)
			}
		}
		return nil
	}
	if rw != rwLatch && rw != rw16 {
		return ErrAccess
	}
	if rw != rwLatch {
		switch mode {
		case ModeIntTC, ModeRateGen, ModeSqWave, ModeSWStrobe:
		default:
			return ErrMode
		}
	}
	c := &p.st.Channel[sel>>6]
	if rw == rwLatch {
		p.updateCounter(c, true)
		return nil
	}
	c.Mode = mode
	c.OLByte = 0 // a pending latch is dropped
	c.Status |= StatusNullCnt
	return nil
}

func (p *PIT) readBack(ch int, cmd uint8) {
	c := &p.st.Channel[ch]
	if cmd&rbNoCount == 0 && c.OLByte == 0 {
		p.updateCounter(c, true)
	}
	if cmd&rbNoStatus == 0 && !c.SLatched {
		c.SLatched = true
		if c.Mode == ModeIntTC && p.out(ch) {
			c.Status |= StatusOut
		} else {
			c.Status &^= StatusOut
		}
	}
}

// elapsed is FreeBSD 12's (sbinuptime() − now_sbt) / freq_sbt.
func (p *PIT) elapsed(c *ChannelState) int64 {
	return int64(p.clk.Now()-c.Start) / int64(TickSBT)
}

// out is the OUT pin: modelled for mode 0 only (reference §5.4).
func (p *PIT) out(ch int) bool {
	c := &p.st.Channel[ch]
	if c.Mode != ModeIntTC {
		return false
	}
	return int64(c.Initial)-p.elapsed(c) <= 0
}

// updateCounter computes the live count and optionally latches it.
func (p *PIT) updateCounter(c *ChannelState, latch bool) uint16 {
	if latch && c.OLByte != 0 {
		return 0 // the old latch has not been read yet
	}
	if c.Initial == 0 {
		// Read before any count was loaded: bhyve loads ≈100 Hz.
		c.Initial = DefaultCount
		c.Start = p.clk.Now()
		c.Status &^= StatusNullCnt
	}
	d := p.elapsed(c)
	lval := uint16(int64(c.Initial) - d%int64(c.Initial))
	if latch {
		c.OLByte = 2
		c.OL[1] = uint8(lval)
		c.OL[0] = uint8(lval >> 8)
	}
	return lval
}

// startCntr0 arms channel 0's absolute callout one count after the
// previous target, or one count from now if that is already past
// (missed periods are dropped; reference §5.5).
func (p *PIT) startCntr0() {
	c := &p.st.Channel[0]
	if c.Initial == 0 {
		return
	}
	delta := vclock.SBT(c.Initial) * TickSBT
	c.CalloutSBT += delta
	if now := p.clk.Now(); c.CalloutSBT < now {
		c.CalloutSBT = now + delta
	}
	c.CalloutActive = true
	p.timer.Arm(c.CalloutSBT)
}

// fire is channel 0's callout handler.
func (p *PIT) fire(vclock.SBT) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.st.Channel[0]
	if _, pending := p.timer.Armed(); pending {
		return // re-armed after this expiry was taken: stale
	}
	if !c.CalloutActive {
		return // stopped
	}
	c.CalloutActive = false
	if c.Mode == ModeRateGen {
		p.startCntr0()
	}
	p.irq0()
}

// State returns a copy of the PIT's state.
func (p *PIT) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// SetState replaces the PIT's state and re-arms channel 0's callout at
// its saved target when it was active. EINVAL for values the PIT cannot
// hold.
func (p *PIT) SetState(s State) error {
	for _, c := range s.Channel {
		switch c.Mode {
		case ModeIntTC, ModeRateGen, ModeSqWave, ModeSWStrobe:
		default:
			return abi.EINVAL
		}
		if c.CRByte < 0 || c.CRByte > 1 || c.OLByte < 0 || c.OLByte > 2 ||
			c.FRByte < 0 || c.FRByte > 1 || c.Status&^(StatusOut|StatusNullCnt) != 0 {
			return abi.EINVAL
		}
	}
	for _, c := range s.Channel[1:] {
		if c.CalloutActive {
			return abi.EINVAL // only channel 0 has a callout
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st = s
	if s.Channel[0].CalloutActive {
		p.timer.Arm(s.Channel[0].CalloutSBT)
	} else {
		p.timer.Stop()
	}
	return nil
}
