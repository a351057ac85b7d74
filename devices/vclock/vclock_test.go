package vclock

import (
	"reflect"
	"testing"
)

// Rows: §0 row "SBT_1S = 2^32";
func TestConversions(t *testing.T) {
	// FreeBSD: SBT_1S = 2^32; 1 ms = 4294967.296 sbt.
	if FromNanoseconds(1e9) != 1<<32 || FromNanoseconds(0) != 0 {
		t.Fatal("whole seconds")
	}
	if got := FromNanoseconds(1e6); got != 4294968 { // rounded up
		t.Fatalf("1 ms = %d sbt, want 4294968", got)
	}
	if got := FromNanoseconds(1); got != 5 {
		t.Fatalf("1 ns = %d sbt, want 5 (4.29 rounded up)", got)
	}
	if got := SBT(3 << 32).Nanoseconds(); got != 3e9 {
		t.Fatalf("3 s = %d ns", got)
	}
	if got := SBT(1 << 31).Nanoseconds(); got != 5e8 {
		t.Fatalf("0.5 s = %d ns", got)
	}
}

// Timers fire in deadline order, ties in arming order; re-arming moves a
// timer; Stop removes it; callbacks may re-arm (a periodic timer).
// Rows: §10 row "device time from the VM clock, not the host's";
// §10 row "absolute callouts fire at their deadline";
// §10 row "stale expirations ignored (re-armed or stopped)";
func TestOrderAndRearm(t *testing.T) {
	c := New(Virtual)
	var fired []string
	rec := func(name string) func(SBT) {
		return func(at SBT) { fired = append(fired, name) }
	}
	a, b, d := c.NewTimer(rec("a")), c.NewTimer(rec("b")), c.NewTimer(rec("d"))
	var p *Timer
	n := 0
	p = c.NewTimer(func(at SBT) {
		if c.Now() != at {
			t.Errorf("callback at %d sees time %d: want its deadline", at, c.Now())
		}
		fired = append(fired, "p")
		if n++; n < 3 {
			p.Arm(at + 100)
		}
	})
	b.Arm(50)
	a.Arm(50) // same deadline, armed later: fires after b
	d.Arm(10)
	d.Arm(60) // re-armed: the old expiry is gone
	p.Arm(100)
	x := c.NewTimer(rec("x"))
	x.Arm(55)
	if !x.Stop() || x.Stop() {
		t.Fatal("Stop reports")
	}
	if next, ok := c.Next(); !ok || next != 50 {
		t.Fatalf("Next = %d, %v", next, ok)
	}
	c.AdvanceTo(49)
	if len(fired) != 0 {
		t.Fatalf("fired early: %v", fired)
	}
	c.AdvanceTo(1000)
	want := []string{"b", "a", "d", "p", "p", "p"}
	if !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	if c.Now() != 1000 {
		t.Fatalf("now %d", c.Now())
	}
	c.AdvanceTo(10) // never backward
	if c.Now() != 1000 {
		t.Fatal("time went backward")
	}
	if _, ok := c.Next(); ok {
		t.Fatal("queue not empty")
	}
}

// Rows: §10 row "realtime mode follows the host monotonic clock";
func TestRealtimeMoves(t *testing.T) {
	c := New(Realtime)
	a := c.Now()
	for c.Now() == a {
	}
	fired := false
	tm := c.NewTimer(func(SBT) { fired = true })
	tm.Arm(c.Now())
	c.Poll()
	if !fired {
		t.Fatal("due timer did not fire on Poll")
	}
}
