package lapic

import "softvmm/devices/vclock"

// The timer counts at BusFreq/d, d from DCR. bhyve keeps the tick as a
// bintime (FREQ2BT(2^27/d) = d·2^37 in 2^-64 s); every one of its times is
// a whole number of sbintime units, so the same arithmetic in sbintime is
// exact: one tick is 32·d sbt, a count of n ticks is 32·d·n sbt, and the
// current count is floor(remaining / (32·d)) (reference/vmm-devices.md §0,
// §2.8).

// divisor is vlapic_timer_divisor: DCR bits 3,1:0 (SDM vol. 3A fig. 10-10).
func divisor(dcr uint32) uint32 {
	switch dcr & 0xB {
	case 0x0:
		return 2
	case 0x1:
		return 4
	case 0x2:
		return 8
	case 0x3:
		return 16
	case 0x8:
		return 32
	case 0x9:
		return 64
	case 0xA:
		return 128
	default: // 0xB
		return 1
	}
}

// TickSBT returns the length of one timer tick at the given DCR value.
func TickSBT(dcr uint32) vclock.SBT { return vclock.SBT(32 * divisor(dcr)) }

// period is timer_period_bt: the initial count in ticks of the current
// divisor (bhyve recomputes it on every ICR and DCR write, so it always
// equals this).
func (l *LAPIC) period() vclock.SBT {
	return TickSBT(l.st.TimerDivide) * vclock.SBT(l.st.TimerInitial)
}

// startTimer is vlapic_icrtmr_write_handler: a non-zero count arms the
// timer count ticks from now, even if the LVT is masked; zero stops it.
func (l *LAPIC) startTimer() {
	if l.st.TimerInitial == 0 {
		l.stopTimer()
		return
	}
	l.st.TimerFire = l.clock.Now() + l.period()
	l.st.TimerArmed = true
	l.timer.Arm(l.st.TimerFire)
}

func (l *LAPIC) stopTimer() {
	l.st.TimerArmed = false
	l.timer.Stop()
}

// ccr is vlapic_get_ccr: the ticks left until the fire time, in the
// current divisor; 0 once the countdown is over or stopped. A DCR change
// during a countdown therefore rescales what is left (§12 #12).
func (l *LAPIC) ccr() uint32 {
	if !l.st.TimerArmed {
		return 0
	}
	now := l.clock.Now()
	if l.st.TimerFire <= now {
		return 0
	}
	return uint32(uint64(l.st.TimerFire-now) / uint64(TickSBT(l.st.TimerDivide)))
}

// timerExpired is vlapic_callout_handler. On the virtual clock an expiry
// runs exactly at its deadline (vclock is punctual), so a periodic timer
// is never late there and fires once per period however far time jumps;
// the catch-up rule below matters in realtime mode and for a restored
// countdown whose fire time has passed.
//
// A callback whose arming was replaced (re-armed: the vclock timer is
// armed again) or cancelled (TimerArmed cleared) is stale and does
// nothing, as a callout handler checks callout_pending/callout_active.
func (l *LAPIC) timerExpired(vclock.SBT) {
	fx := effects{eoi: -1}
	l.mu.Lock()
	if _, pending := l.timer.Armed(); pending || !l.st.TimerArmed {
		l.mu.Unlock()
		return
	}
	l.st.TimerArmed = false
	l.fireLVT(LVTTimer, &fx)
	if l.st.LVT[LVTTimer]&LVTPeriodic != 0 {
		// Catch-up rule: while less than a period late, the next expiry
		// stays on the fire_time + k·period grid; a period or more late,
		// the grid restarts from now and the missed periods are dropped.
		now := l.clock.Now()
		p := l.period()
		if now-l.st.TimerFire >= p {
			l.st.TimerFire = now
		}
		l.st.TimerFire += p
		l.st.TimerArmed = true
		l.timer.Arm(l.st.TimerFire)
	}
	l.unlockRun(&fx)
}
