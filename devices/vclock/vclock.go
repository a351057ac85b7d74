// Package vclock is a VM's time: one clock that every in-kernel device and
// the guest's TSC read, and one queue of deadlines the devices arm on it.
//
// Time is counted in sbintime units, FreeBSD's 32.32 fixed-point seconds
// (SBT_1S = 2^32), because bhyve's devices do their counter arithmetic in
// sbintime and keeping the unit keeps their exact results, truncations
// included (reference/vmm-devices.md §0 tick table, §10).
//
// In the default virtual mode time moves only when the VM says so
// (AdvanceTo, driven by retired instructions, or a jump to the next
// deadline when every vCPU is halted), so the same guest sees the same
// interrupts at the same instants on every run. In realtime mode Now
// follows the host's monotonic clock, as bhyve's does.
package vclock

import (
	"container/heap"
	"sync"
	"time"
)

// SBT is a time or duration in sbintime units: 2^-32 seconds.
type SBT int64

// Units.
const (
	SBT_1S  SBT = 1 << 32
	SBT_1MS SBT = SBT_1S / 1000
	SBT_1US SBT = SBT_1S / 1000000
)

// FromNanoseconds converts ns to sbintime as FreeBSD's nstosbt does
// (rounding up, so a non-zero duration never becomes zero).
func FromNanoseconds(ns int64) SBT {
	sec := ns / 1e9
	rem := ns % 1e9
	return SBT(sec<<32) + SBT((uint64(rem)*(1<<32)+1e9-1)/1e9)
}

// Nanoseconds converts s to nanoseconds, rounding down.
func (s SBT) Nanoseconds() int64 {
	return int64(s>>32)*1e9 + int64((uint64(s&0xffffffff)*1e9)>>32)
}

// Mode says where time comes from.
type Mode int

const (
	Virtual  Mode = iota // time moves only through AdvanceTo: deterministic
	Realtime             // time follows the host's monotonic clock
)

// Clock is one VM's time source and deadline queue. It is safe for
// concurrent use. Timer callbacks run on the goroutine that called
// AdvanceTo or Poll, never concurrently with each other, and without the
// clock's lock held, so they may re-arm timers.
type Clock struct {
	mode  Mode
	start time.Time // Realtime: the host instant of time zero

	mu     sync.Mutex
	now    SBT // Virtual: the current time
	seq    uint64
	queue  timerHeap
	firing sync.Mutex // serialises callback runs
}

// New returns a clock at time zero in the given mode.
func New(mode Mode) *Clock {
	return &Clock{mode: mode, start: time.Now()}
}

// Mode returns the clock's mode.
func (c *Clock) Mode() Mode { return c.mode }

// Now returns the current time.
func (c *Clock) Now() SBT {
	if c.mode == Realtime {
		return FromNanoseconds(int64(time.Since(c.start)))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AdvanceTo moves virtual time forward to t (never backward). On the way
// it stops at every armed deadline up to t, in deadline order (equal
// deadlines in arming order), sets the time to that deadline and runs the
// timer's callback: a device handler sees the instant its callout was due,
// as a punctual callout would, so a periodic timer re-armed from its
// handler keeps its phase and fires once per period however far time
// jumps. In realtime mode it runs what is due by the host's time.
func (c *Clock) AdvanceTo(t SBT) {
	c.firing.Lock()
	defer c.firing.Unlock()
	if c.mode == Realtime {
		c.runDue(c.Now())
		return
	}
	c.runDue(t)
	c.mu.Lock()
	if t > c.now {
		c.now = t
	}
	c.mu.Unlock()
}

// Poll runs the callbacks of timers due now without moving time.
func (c *Clock) Poll() {
	c.firing.Lock()
	defer c.firing.Unlock()
	c.runDue(c.Now())
}

// runDue fires, one at a time, every timer whose deadline is at or before
// limit, moving virtual time to each deadline first.
func (c *Clock) runDue(limit SBT) {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.queue[0].deadline > limit {
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.queue).(*Timer)
		t.index = -1
		fn, at := t.fn, t.deadline
		if c.mode == Virtual && at > c.now {
			c.now = at
		}
		c.mu.Unlock()
		fn(at)
	}
}

// Next returns the earliest armed deadline, if any: where a VM whose
// vCPUs all halted jumps to.
func (c *Clock) Next() (SBT, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return 0, false
	}
	return c.queue[0].deadline, true
}

// Timer is one deadline a device arms: a callout.
type Timer struct {
	c        *Clock
	fn       func(deadline SBT)
	deadline SBT
	seq      uint64
	index    int // position in the heap, -1 when not armed
}

// NewTimer returns an unarmed timer that calls fn with its deadline when
// the deadline is reached.
func (c *Clock) NewTimer(fn func(deadline SBT)) *Timer {
	return &Timer{c: c, fn: fn, index: -1}
}

// Arm sets the timer to fire at the absolute time deadline, replacing any
// earlier arming (a re-armed callout forgets its old expiry, so a stale
// expiration never fires).
func (t *Timer) Arm(deadline SBT) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t.deadline, t.seq = deadline, c.seq
	if t.index >= 0 {
		heap.Fix(&c.queue, t.index)
		return
	}
	heap.Push(&c.queue, t)
}

// Stop disarms the timer. It reports whether it was armed.
func (t *Timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.queue, t.index)
	t.index = -1
	return true
}

// Armed reports whether the timer is waiting to fire, and when.
func (t *Timer) Armed() (SBT, bool) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.deadline, t.index >= 0
}

// timerHeap orders timers by (deadline, arming sequence): ties are broken
// by arming order, never by anything the host decides.
type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
