// Package rtc is the Motorola MC146818A real-time clock and its 128 bytes
// of CMOS RAM behind ports 0x70 (index) and 0x71 (data), as bhyve's vrtc
// models them (reference/vmm-devices.md §7).
//
// Time is kept as bhyve keeps it: a base time in seconds plus the VM-clock
// instant at which that second began; the date/time bytes are recomputed
// from it on every access, in the format reg B asks for. The wall-clock
// base is given to New (the runner's configuration), never read from the
// host. Interrupts are bhyve's: reg C's IRQF going 0→1 calls irq8 once —
// bhyve pulses 8259 IRQ 8 and IOAPIC pin 8 there — so a guest that does
// not read reg C gets no further interrupt (reference §7.5).
//
// Choices on the known bugs (reference §12):
//   - Item 5, drift under polling: the pre-2018 vrtc re-based its second
//     phase on every access, so a polled RTC ran slow. softvmm keeps the
//     fixed behaviour of FreeBSD 12 and later: the base advances by whole
//     seconds only. TestPollingDoesNotDrift pins it.
//   - Item 6: UIP (reg A bit 7) never reads 1, and invalid date
//     programming (clearing SET, or writing the century byte while running,
//     with fields that do not form a date) fails the port access — EIO, the
//     guest stops — as with bhyve's default hw.vmm.vrtc.flag_broken_time=1.
//     Both reproduced. VM_RTC_SETTIME while SET is on gives EBUSY, as in
//     bhyve.
//   - Item 6, the alarm walk: with AIE on, bhyve steps the time one second
//     at a time to find alarm matches, so a backward VM_RTC_SETTIME never
//     ends and a long forward one takes as many steps as seconds. The
//     alarm compares only sec/min/hour, which repeat every 86400 s, so
//     softvmm stops the walk at the first match (later matches change
//     nothing) or after 86400 steps, then jumps to the new time. The
//     result equals bhyve's whenever bhyve's walk ends; a backward set
//     ends too. TestAlarmWalkBackwardTerminates pins it.
//
// Hardening (not in bhyve): times after 9999-12-31 23:59:59 cannot be
// shown in two BCD digits of century, where bhyve would index past its
// BCD table; SetTime refuses them with EINVAL and a guest date beyond
// year 9999 (possible only in binary mode) counts as invalid programming.
// SetTime also refuses negative times other than −1 ("broken").
//
// Callbacks run with the RTC's lock held (bhyve pulses IRQ 8 under the
// vrtc lock); they must not call back into the RTC.
package rtc

import (
	"sync"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// I/O ports (reference §7.1).
const (
	PortIndex = 0x70
	PortData  = 0x71
)

// CMOS offsets (MC146818A datasheet "Address Map"; sys/isa/rtc.h).
const (
	OffSec       = 0x00
	OffAlarmSec  = 0x01
	OffMin       = 0x02
	OffAlarmMin  = 0x03
	OffHour      = 0x04
	OffAlarmHour = 0x05
	OffDayOfWeek = 0x06
	OffDay       = 0x07
	OffMonth     = 0x08
	OffYear      = 0x09
	OffRegA      = 0x0A
	OffRegB      = 0x0B
	OffRegC      = 0x0C
	OffRegD      = 0x0D
	OffNVRAM     = 0x0E // first byte the control plane may write
	OffCentury   = 0x32 // RTC_CENTURY
	Size         = 128
)

// Register bits (MC146818A datasheet, registers A-D; sys/isa/rtc.h).
const (
	RegAUIP     = 0x80 // update in progress: never set here
	RegADivMask = 0x70 // DV2-DV0
	RegADivOn   = 0x20 // 32.768 kHz time base, dividers running
	RegARSMask  = 0x0F // rate select

	RegBSet  = 0x80 // SET: updates halted, guest owns the fields
	RegBPIE  = 0x40
	RegBAIE  = 0x20
	RegBUIE  = 0x10
	RegBSQWE = 0x08
	RegBDM   = 0x04 // binary (else BCD)
	RegB24   = 0x02 // 24-hour (else 12-hour)

	RegCIRQF = 0x80
	RegCPF   = 0x40
	RegCAF   = 0x20
	RegCUF   = 0x10

	RegDVRT = 0x80 // valid RAM and time
)

const (
	allIntrs = RegBPIE | RegBAIE | RegBUIE

	// BrokenTime is bhyve's VRTC_BROKEN_TIME: updates halted or the
	// fields do not form a valid date.
	BrokenTime int64 = -1

	// MaxTime is 9999-12-31 23:59:59 UTC, the last second with a
	// two-digit BCD century.
	MaxTime int64 = 253402300799

	secDay = 86400
)

// periods is vrtc_freq's table: the callout period for each rate-select
// value (MC146818A datasheet, "Periodic Interrupt Rate" table for a
// 32.768 kHz time base; 0 = none).
var periods = [16]vclock.SBT{
	0,
	vclock.SBT_1S / 256, vclock.SBT_1S / 128, vclock.SBT_1S / 8192, vclock.SBT_1S / 4096,
	vclock.SBT_1S / 2048, vclock.SBT_1S / 1024, vclock.SBT_1S / 512, vclock.SBT_1S / 256,
	vclock.SBT_1S / 128, vclock.SBT_1S / 64, vclock.SBT_1S / 32, vclock.SBT_1S / 16,
	vclock.SBT_1S / 8, vclock.SBT_1S / 4, vclock.SBT_1S / 2,
}

// State is everything the RTC holds, for snapshots.
type State struct {
	Addr        uint8      // index register (0-127)
	BaseUptime  vclock.SBT // clock instant at which BaseRTCTime began
	BaseRTCTime int64      // seconds since 1970, or BrokenTime
	CMOS        [Size]uint8
	// The periodic/update callout: whether it is active, and its target.
	CalloutActive bool
	CalloutSBT    vclock.SBT
}

// RTC is one VM's MC146818A. It is safe for concurrent use. It survives
// VM resets (Reset is what VM_REINIT does to it).
type RTC struct {
	clk   *vclock.Clock
	irq8  func()
	timer *vclock.Timer

	mu sync.Mutex
	st State
}

// New returns an RTC reading secs (seconds since 1970-01-01 00:00:00 UTC,
// 0 ≤ secs ≤ MaxTime; else EINVAL) with bhyve's power-on registers: reg A
// 0x20, reg B 0x02 (24-hour BCD, interrupts off), reg C 0, reg D 0x80,
// index 0x0D (reference §7.1). irq8 is called when reg C's IRQF rises.
func New(clk *vclock.Clock, secs int64, irq8 func()) (*RTC, error) {
	if secs < 0 || secs > MaxTime {
		return nil, abi.EINVAL
	}
	if irq8 == nil {
		irq8 = func() {}
	}
	r := &RTC{clk: clk, irq8: irq8}
	r.timer = clk.NewTimer(r.fire)
	r.st.CMOS[OffRegA] = RegADivOn
	r.st.CMOS[OffRegB] = RegB24
	r.st.CMOS[OffRegD] = RegDVRT
	r.st.Addr = OffRegD
	r.st.BaseRTCTime = BrokenTime
	r.timeUpdate(secs, clk.Now())
	r.secsToRTC(secs, false)
	return r, nil
}

// Close stops the callout (vrtc_cleanup drains it).
func (r *RTC) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer.Stop()
	r.st.CalloutActive = false
}

// accessError is a failed port access: bhyve's handler returns −1 and
// VM_RUN fails with EIO (reference §1.2).
type accessError string

func (e accessError) Error() string { return "rtc: " + string(e) }
func (e accessError) Unwrap() error { return abi.EIO }

// Errors of the port handler; each unwraps to abi.EIO.
var (
	ErrWidth      = accessError("ports 0x70/0x71 take 1-byte accesses only")
	ErrBrokenTime = accessError("invalid RTC date/time programming")
	ErrPort       = accessError("not an RTC port")
)

// In handles an IN from 0x70 (always 0xFF) or 0x71.
func (r *RTC) In(port uint16, size int) (uint32, error) {
	if port != PortIndex && port != PortData {
		return 0, ErrPort
	}
	if size != 1 {
		return 0, ErrWidth
	}
	if port == PortIndex {
		return 0xFF, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	off := r.dataPrologue()
	if off == OffRegC {
		v := r.st.CMOS[OffRegC]
		r.setRegC(0)
		return uint32(v), nil
	}
	return uint32(r.st.CMOS[off]), nil
}

// Out handles an OUT to 0x70 (the index; bit 7, NMI mask, is dropped) or
// 0x71.
func (r *RTC) Out(port uint16, size int, v uint32) error {
	if port != PortIndex && port != PortData {
		return ErrPort
	}
	if size != 1 {
		return ErrWidth
	}
	val := uint8(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	if port == PortIndex {
		r.st.Addr = val & 0x7F
		return nil
	}
	off := r.dataPrologue()
	var err error
	switch off {
	case OffRegA:
		r.setRegA(val)
	case OffRegB:
		err = r.setRegB(val)
	case OffRegC, OffRegD:
		// read-only
	case OffSec:
		r.st.CMOS[off] = val & 0x7F // bit 7 of seconds is read-only
	default:
		r.st.CMOS[off] = val
	}
	// Guests such as OpenBSD write the century while running: re-parse.
	if off == OffCentury && !r.halted() {
		t := r.rtcToSecs()
		r.timeUpdate(t, r.clk.Now())
		if t == BrokenTime {
			err = ErrBrokenTime
		}
	}
	return err
}

// dataPrologue brings the time up to now before a data-port access and
// refreshes the date/time bytes when the access touches them.
func (r *RTC) dataPrologue() int {
	off := int(r.st.Addr)
	t, base := r.curtime()
	r.timeUpdate(t, base)
	if off < 10 || off == OffCentury {
		r.secsToRTC(t, false)
	}
	return off
}

// NVRAMRead is VM_RTC_READ: any offset 0-127 (else EINVAL); the date/time
// bytes are refreshed first. Reading reg C here does not clear it.
func (r *RTC) NVRAMRead(off int) (uint8, error) {
	if off < 0 || off >= Size {
		return 0, abi.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < 10 || off == OffCentury {
		t, _ := r.curtime()
		r.secsToRTC(t, false)
	}
	return r.st.CMOS[off], nil
}

// NVRAMWrite is VM_RTC_WRITE: EINVAL for the clock and control bytes
// (0x00-0x0D), the century byte (0x32) and offsets outside 0-127.
func (r *RTC) NVRAMWrite(off int, v uint8) error {
	if off < OffNVRAM || off == OffCentury || off >= Size {
		return abi.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.CMOS[off] = v
	return nil
}

// SetTime is VM_RTC_SETTIME: the RTC reads secs from now on. EBUSY while
// the guest holds SET (unless secs equals the current base); BrokenTime
// (−1) marks the time broken; other negative values or values past
// MaxTime are EINVAL (hardening).
func (r *RTC) SetTime(secs int64) error {
	if secs < BrokenTime || secs > MaxTime {
		return abi.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timeUpdate(secs, r.clk.Now())
}

// GetTime is VM_RTC_GETTIME: the current time in seconds, or BrokenTime.
func (r *RTC) GetTime() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, _ := r.curtime()
	return t
}

// Reset is vrtc_reset, run on VM_REINIT: interrupt enables and SQWE off,
// reg C cleared; time, format and NVRAM kept (reference §1.1).
func (r *RTC) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setRegB(r.st.CMOS[OffRegB] &^ (allIntrs | RegBSQWE))
	r.setRegC(0)
}

func (r *RTC) regB() uint8      { return r.st.CMOS[OffRegB] }
func (r *RTC) halted() bool     { return r.regB()&RegBSet != 0 }
func (r *RTC) pieOn() bool      { return r.regB()&RegBPIE != 0 }
func (r *RTC) aieOn() bool      { return r.regB()&RegBAIE != 0 }
func (r *RTC) uieOn() bool      { return r.regB()&RegBUIE != 0 }
func dividerOn(regA uint8) bool { return regA&RegADivMask == RegADivOn }

func (r *RTC) updateEnabled() bool {
	return dividerOn(r.st.CMOS[OffRegA]) && !r.halted() && r.st.BaseRTCTime != BrokenTime
}

// curtime is the time now and the instant its second began: the base
// advanced by whole elapsed seconds only (reference §7.2, §12 item 5).
func (r *RTC) curtime() (int64, vclock.SBT) {
	t, base := r.st.BaseRTCTime, r.st.BaseUptime
	if r.updateEnabled() {
		secs := int64((r.clk.Now() - base) / vclock.SBT_1S)
		t += secs
		base += vclock.SBT(secs) * vclock.SBT_1S
	}
	return t, base
}

// timeUpdate moves the time to newtime (vrtc_time_update), raising AF for
// alarm matches on the way and UF at the end.
func (r *RTC) timeUpdate(newtime int64, newbase vclock.SBT) error {
	c := &r.st.CMOS
	alarmSec, alarmMin, alarmHour := c[OffAlarmSec], c[OffAlarmMin], c[OffAlarmHour]
	oldtime := r.st.BaseRTCTime
	r.st.BaseUptime = newbase
	if newtime == oldtime {
		return nil
	}
	if newtime == BrokenTime {
		r.st.BaseRTCTime = BrokenTime
		return nil
	}
	if r.halted() {
		return abi.EBUSY
	}
	match := func() bool {
		return (alarmSec >= 0xC0 || alarmSec == c[OffSec]) &&
			(alarmMin >= 0xC0 || alarmMin == c[OffMin]) &&
			(alarmHour >= 0xC0 || alarmHour == c[OffHour])
	}
	if r.aieOn() && oldtime != BrokenTime {
		// bhyve visits every second; see the package comment for why
		// stopping at the first match or after one day is the same.
		for steps := 1; ; steps++ {
			r.st.BaseRTCTime++
			r.secsToRTC(r.st.BaseRTCTime, false)
			if match() {
				r.setRegC(c[OffRegC] | RegCAF)
				break
			}
			if r.st.BaseRTCTime == newtime || steps >= secDay {
				break
			}
		}
		if r.st.BaseRTCTime != newtime {
			r.st.BaseRTCTime = newtime
			r.secsToRTC(newtime, false)
		}
	} else {
		r.st.BaseRTCTime = newtime
		if r.aieOn() {
			r.secsToRTC(newtime, false)
			if match() {
				r.setRegC(c[OffRegC] | RegCAF)
			}
		}
	}
	if r.uieOn() {
		r.setRegC(c[OffRegC] | RegCUF)
	}
	return nil
}

// setRegC stores the flags and recomputes IRQF; IRQF rising calls irq8.
func (r *RTC) setRegC(v uint8) {
	v &= RegCAF | RegCPF | RegCUF
	old := r.st.CMOS[OffRegC] & RegCIRQF
	var irqf uint8
	if (r.aieOn() && v&RegCAF != 0) || (r.pieOn() && v&RegCPF != 0) || (r.uieOn() && v&RegCUF != 0) {
		irqf = RegCIRQF
	}
	r.st.CMOS[OffRegC] = irqf | v
	if old == 0 && irqf != 0 {
		r.irq8()
	}
}

func (r *RTC) setRegA(v uint8) {
	v &^= RegAUIP
	old := r.st.CMOS[OffRegA]
	oldPeriod := r.period()
	if !dividerOn(old) && dividerOn(v) {
		// Out of divider reset: the time looks frozen while it was held.
		r.st.BaseUptime = r.clk.Now()
	}
	r.st.CMOS[OffRegA] = v
	if p := r.period(); p != oldPeriod {
		r.calloutReset(p)
	}
}

func (r *RTC) setRegB(v uint8) error {
	old := r.regB()
	oldPeriod := r.period()
	r.st.CMOS[OffRegB] = v
	changed := old ^ v
	if changed&RegBSet != 0 {
		var t int64
		var base vclock.SBT
		if v&RegBSet == 0 {
			t, base = r.rtcToSecs(), r.clk.Now()
			if t == BrokenTime {
				return ErrBrokenTime // flag_broken_time=1: the rest is skipped, as in bhyve
			}
		} else {
			var cur int64
			cur, base = r.curtime()
			r.secsToRTC(cur, true)
			t = BrokenTime
			r.st.CMOS[OffRegB] &^= RegBUIE
		}
		r.timeUpdate(t, base)
	}
	if changed&allIntrs != 0 {
		r.setRegC(r.st.CMOS[OffRegC])
	}
	if p := r.period(); p != oldPeriod {
		r.calloutReset(p)
	}
	return nil
}

// period is vrtc_freq: the callout period, 0 for none.
func (r *RTC) period() vclock.SBT {
	switch {
	case r.pieOn() && dividerOn(r.st.CMOS[OffRegA]):
		return periods[r.st.CMOS[OffRegA]&RegARSMask]
	case r.aieOn() && r.updateEnabled(), r.uieOn() && r.updateEnabled():
		return vclock.SBT_1S
	}
	return 0
}

// calloutReset re-arms the callout relative to now, as
// callout_reset_sbt(…, 0) does, or stops it for period 0.
func (r *RTC) calloutReset(p vclock.SBT) {
	if p == 0 {
		if r.st.CalloutActive {
			r.timer.Stop()
			r.st.CalloutActive = false
		}
		return
	}
	r.st.CalloutActive = true
	r.st.CalloutSBT = r.clk.Now() + p
	r.timer.Arm(r.st.CalloutSBT)
}

// fire is the callout handler.
func (r *RTC) fire(vclock.SBT) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, pending := r.timer.Armed(); pending {
		return // re-armed after this expiry was taken: stale
	}
	if !r.st.CalloutActive {
		return // stopped
	}
	r.st.CalloutActive = false
	if r.pieOn() {
		r.setRegC(r.st.CMOS[OffRegC] | RegCPF)
	}
	if r.aieOn() || r.uieOn() {
		t, base := r.curtime()
		r.timeUpdate(t, base)
	}
	// bhyve asserts the period is non-zero here; without INVARIANTS a
	// zero period (time made broken by VM_RTC_SETTIME) stops the callout.
	r.calloutReset(r.period())
}

// rtcset encodes a 0-99 value in the current format.
func (r *RTC) rtcset(v int) uint8 {
	if r.regB()&RegBDM != 0 {
		return uint8(v)
	}
	return uint8(v/10<<4 | v%10)
}

// rtcget decodes a byte in the current format; BCD digits above 9 fail.
func (r *RTC) rtcget(v uint8) (int, bool) {
	if r.regB()&RegBDM != 0 {
		return int(v), true
	}
	lo, hi := v&0xF, v>>4
	if lo > 9 || hi > 9 {
		return 0, false
	}
	return int(hi)*10 + int(lo), true
}

// secsToRTC writes the date/time bytes for t, unless the guest owns them
// (SET) and force is false. Broken or out-of-range times write nothing.
func (r *RTC) secsToRTC(t int64, force bool) {
	if t < 0 || t > MaxTime {
		return
	}
	if r.halted() && !force {
		return
	}
	days, rsec := t/secDay, int(t%secDay)
	year, mon, day := civil(days)
	hour := rsec / 3600
	c := &r.st.CMOS
	c[OffSec] = r.rtcset(rsec % 60)
	c[OffMin] = r.rtcset(rsec / 60 % 60)
	h := hour
	if r.regB()&RegB24 == 0 {
		h = hour % 12
		if h == 0 {
			h = 12
		}
	}
	c[OffHour] = r.rtcset(h)
	if r.regB()&RegB24 == 0 && hour >= 12 {
		c[OffHour] |= 0x80 // PM
	}
	c[OffDayOfWeek] = r.rtcset(int((days+4)%7) + 1) // 1970-01-01 was a Thursday; Sunday = 1
	c[OffDay] = r.rtcset(day)
	c[OffMonth] = r.rtcset(mon)
	c[OffYear] = r.rtcset(year % 100)
	c[OffCentury] = r.rtcset(year / 100)
}

// rtcToSecs parses the date/time bytes (rtc_to_secs); BrokenTime when they
// do not form a date from 1970 to 9999. Day of week is ignored.
func (r *RTC) rtcToSecs() int64 {
	c := &r.st.CMOS
	sec, ok := r.rtcget(c[OffSec])
	if !ok || sec > 59 {
		return BrokenTime
	}
	min, ok := r.rtcget(c[OffMin])
	if !ok || min > 59 {
		return BrokenTime
	}
	raw, pm := c[OffHour], false
	if r.regB()&RegB24 == 0 && raw&0x80 != 0 {
		raw &^= 0x80
		pm = true
	}
	hour, ok := r.rtcget(raw)
	if r.regB()&RegB24 == 0 {
		if !ok || hour < 1 || hour > 12 {
			return BrokenTime
		}
		if hour == 12 {
			hour = 0
		}
		if pm {
			hour += 12
		}
	}
	if !ok || hour > 23 {
		return BrokenTime
	}
	day, ok := r.rtcget(c[OffDay])
	if !ok || day < 1 || day > 31 {
		return BrokenTime
	}
	mon, ok := r.rtcget(c[OffMonth])
	if !ok || mon < 1 || mon > 12 {
		return BrokenTime
	}
	yy, ok := r.rtcget(c[OffYear])
	if !ok || yy > 99 {
		return BrokenTime
	}
	cent, ok := r.rtcget(c[OffCentury])
	year := cent*100 + yy
	if !ok || year < 1970 || year > 9999 {
		return BrokenTime
	}
	if day > daysInMonth(year, mon) { // clock_ct_to_ts
		return BrokenTime
	}
	return (daysFromCivil(year, mon, day)*24+int64(hour))*3600 + int64(min)*60 + int64(sec)
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int) int {
	switch m {
	case 2:
		if leap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (as FreeBSD's clock_ct_to_ts counts them).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y ≥ 1969 here, so no negative-division care needed
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civil is the inverse of daysFromCivil for days ≥ 0.
func civil(days int64) (year, mon, day int) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	mon = int(mp + 3)
	if mon > 12 {
		mon -= 12
	}
	year = int(yoe + era*400)
	if mon <= 2 {
		year++
	}
	return year, mon, day
}

// State returns a copy of the RTC's state.
func (r *RTC) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// SetState replaces the RTC's state and re-arms the callout at its saved
// target when it was active. EINVAL for an index ≥ 128 or a time out of
// range.
func (r *RTC) SetState(s State) error {
	if s.Addr >= Size || s.BaseRTCTime < BrokenTime || s.BaseRTCTime > MaxTime {
		return abi.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = s
	if s.CalloutActive {
		r.timer.Arm(s.CalloutSBT)
	} else {
		r.timer.Stop()
	}
	return nil
}
