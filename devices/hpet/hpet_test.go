package hpet

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"softvmm/devices/vclock"
)

// Expected values are literals from reference/vmm-devices.md §6 ("ref")
// and the IA-PC HPET specification 1.0a ("spec"), worked by hand where
// arithmetic is involved, never taken from the code under test.

type rec struct {
	mu    sync.Mutex
	trace []string
}

func (r *rec) add(f string, a ...any) {
	r.mu.Lock()
	r.trace = append(r.trace, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}

func (r *rec) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trace
	r.trace = nil
	return t
}

var opName = [...]string{Assert: "assert", Deassert: "deassert", Pulse: "pulse"}

func newH(legacy bool) (*HPET, *vclock.Clock, *rec) {
	c := vclock.New(vclock.Virtual)
	r := &rec{}
	h := New(c, Config{
		IOAPIC:            func(pin int, op PinOp) { r.add("ioapic %d %s", pin, opName[op]) },
		ATPIC:             func(irq int, op PinOp) { r.add("atpic %d %s", irq, opName[op]) },
		MSI:               func(addr, data uint64) { r.add("msi %#x %#x", addr, data) },
		LegacyReplacement: legacy,
	})
	return h, c, r
}

func rd(t *testing.T, h *HPET, off uint32, size int) uint64 {
	t.Helper()
	v, err := h.Read(off, size)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wr(t *testing.T, h *HPET, off uint32, size int, v uint64) {
	t.Helper()
	if err := h.Write(off, size, v); err != nil {
		t.Fatal(err)
	}
}

func eq(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("trace\n got %q\nwant %q", got, want)
	}
}

const tick = 256 // sbt per HPET tick (ref §0: 2^32 / 2^24)

// ref §6.2, §6.3: reset values of every register.
// Rows: §6.1 row "4-byte access with bit 2 set is the upper half";
// §6.2 row "0x000 capabilities 0x038D7EA4_80860701"; §6.2 row "0x100+0x20n timer config";
// §6.2 row "0x108+0x20n comparator 32-bit"; §6.2 row "anything else reads 0, writes ignored";
// §6.3 row "reset INT_ROUTE_CAP 0xFF000000, PER_INT_CAP, FSB_INT_DEL_CAP, comparator all ones";
func TestResetValues(t *testing.T) {
	h, _, _ := newH(false)
	want := map[uint32]uint64{
		0x000: 0x038D7EA4_80860701, 0x010: 0, 0x020: 0, 0x0F0: 0,
	}
	for n := uint32(0); n < 8; n++ {
		want[0x100+0x20*n] = 0xFF000000_00008010 // routes 24–31, FSB_INT_DEL_CAP, PER_INT_CAP
		want[0x108+0x20*n] = 0xFFFFFFFF
		want[0x110+0x20*n] = 0
	}
	for off := uint32(0); off < 0x400; off += 8 {
		w := want[off]
		if got := rd(t, h, off, 8); got != w {
			t.Errorf("%#x = %#016x, want %#016x", off, got, w)
		}
		if got := rd(t, h, off, 4); got != w&0xFFFFFFFF {
			t.Errorf("%#x (4) = %#x", off, got)
		}
		if got := rd(t, h, off+4, 4); got != w>>32 {
			t.Errorf("%#x (4) = %#x", off+4, got)
		}
	}
	if h.Capabilities()&0xFFFFFFFF != 0x80860701 || CapLow != 0x80860701 {
		t.Fatal("VM_GET_HPET_CAPABILITIES value")
	}
}

// ref §6.1: sizes other than 4/8 and misaligned accesses are ignored and
// read 0.
// Rows: §6.1 row "4 or 8 bytes, aligned, else ignored/0";
func TestAccessRules(t *testing.T) {
	h, _, _ := newH(false)
	for _, c := range []struct {
		off  uint32
		size int
	}{{0x000, 1}, {0x000, 2}, {0x004, 8}, {0x002, 4}, {0x108, 2}, {0x10C, 8}} {
		if v, err := h.Read(c.off, c.size); err != nil || v != 0 {
			t.Errorf("Read(%#x,%d) = %#x, %v", c.off, c.size, v, err)
		}
	}
	for _, c := range []struct {
		off  uint32
		size int
	}{{0x010, 1}, {0x010, 2}, {0x014, 8}, {0x012, 4}} {
		if err := h.Write(c.off, c.size, 0xFFFFFFFF); err != nil {
			t.Fatal(err)
		}
	}
	if rd(t, h, 0x010, 8) != 0 {
		t.Fatal("an ignored write changed the configuration")
	}
}

// ref §6.2: general configuration keeps every bit but LEG_RT_CNF; the
// counter runs at 256 sbt per tick only while enabled.
// Rows: §6.1 row "4-byte access with bit 2 set is the upper half";
// §6.2 row "0x010 config stored but LEG_RT_CNF";
// §6.2 row "0x010 ENABLE_CNF starts/stops the counter";
// §6.2 row "0x0F0 counter 32-bit, upper half 0";
// §6.2 row "0x0F0 write low part; upper-half write re-bases";
// §6.5 row "enable: resume from frozen value, re-arm"; §12.17 row "32-bit counter only";
// §12.17 row "general config keeps unknown bits";
func TestConfigAndCounter(t *testing.T) {
	h, c, _ := newH(false)
	wr(t, h, OffConfig, 8, 0xFFFFFFFF_FFFFFFFE) // everything but ENABLE
	if got := rd(t, h, OffConfig, 8); got != 0xFFFFFFFF_FFFFFFFC {
		t.Fatalf("config = %#x, want 0xFFFFFFFFFFFFFFFC", got)
	}
	wr(t, h, OffConfig, 8, 0)
	c.AdvanceTo(1000 * tick)
	if rd(t, h, OffCounter, 8) != 0 {
		t.Fatal("counter runs while disabled")
	}
	wr(t, h, OffConfig, 4, CnfEnable) // at 1000 ticks of time
	for _, s := range []struct {
		at   vclock.SBT
		want uint64
	}{{1000 * tick, 0}, {1001*tick - 1, 0}, {1001 * tick, 1}, {2000*tick + 255, 1000}} {
		c.AdvanceTo(s.at)
		if got := rd(t, h, OffCounter, 8); got != s.want {
			t.Fatalf("counter at %d = %d, want %d", s.at, got, s.want)
		}
	}
	if rd(t, h, OffCounter+4, 4) != 0 {
		t.Fatal("upper half of a 32-bit counter")
	}
	wr(t, h, OffConfig, 4, 0) // freeze at 1000
	c.AdvanceTo(5000 * tick)
	if rd(t, h, OffCounter, 4) != 1000 {
		t.Fatal("frozen counter moved")
	}
	wr(t, h, OffConfig, 4, CnfEnable) // resume from 1000 at 5000
	c.AdvanceTo(5010 * tick)
	if rd(t, h, OffCounter, 4) != 1010 {
		t.Fatal("counter did not resume")
	}
	// Writing the upper half re-bases at the current value and drops the
	// sub-tick remainder: at 5020 ticks + 100 sbt the counter is 1020;
	// afterwards it reaches 1021 a whole tick later, not 156 sbt later.
	c.AdvanceTo(5020*tick + 100)
	wr(t, h, OffCounter+4, 4, 0xFFFFFFFF)
	c.AdvanceTo(5021*tick + 99)
	if rd(t, h, OffCounter, 4) != 1020 {
		t.Fatal("sub-tick remainder kept")
	}
	c.AdvanceTo(5021*tick + 100)
	if rd(t, h, OffCounter, 4) != 1021 {
		t.Fatal("counter after re-base")
	}
	// A full write sets the low 32 bits; the counter wraps at 2^32.
	wr(t, h, OffCounter, 8, 0xABCD_FFFFFFFF)
	c.AdvanceTo(5022*tick + 100)
	if got := rd(t, h, OffCounter, 8); got != 0 {
		t.Fatalf("counter = %#x, want 0 after the wrap", got)
	}
	wr(t, h, OffConfig, 4, 0)
	wr(t, h, OffCounter, 4, 0x12345678)
	if rd(t, h, OffCounter, 4) != 0x12345678 {
		t.Fatal("counter write while disabled")
	}
}

// ref §6.3: Tn_CONF write rules.
// Rows: §6.2 row "0x100+0x20n timer config"; §6.3 row "writable bits stored";
// §6.3 row "capability fields RO"; §6.3 row "32MODE forced 0";
// §6.3 row "route not in cap reset to 0";
func TestTimerConfig(t *testing.T) {
	rows := []struct {
		name string
		v    uint64
		want uint64
	}{
		// Capability bits (63:32, 15, 5, 4) keep their values, 32MODE (8)
		// reads 0, everything else is stored; FSB enabled, so the route
		// (31) is not checked.
		{"all ones", 0xFFFFFFFF_FFFFFFFF, 0xFF000000_FFFFFEDF},
		{"route 5 not allowed", 5<<9 | TCnfIntEnb, 0xFF000000_00008014},
		{"route 24 allowed", 24<<9 | TCnfIntEnb, 0xFF000000_0000B014},
		{"route 31 allowed", 31<<9 | TCnfIntType, 0xFF000000_0000BE12},
		{"FSB: route not checked", TCnfFSBEn | 5<<9, 0xFF000000_0000CA10},
		{"32MODE forced 0", TCnf32Mode | TCnfType, 0xFF000000_00008018},
		{"capabilities read-only", 0x00FFFFFF_00000000 | TCapSize, 0xFF000000_00008010},
	}
	for _, r := range rows {
		h, _, _ := newH(false)
		wr(t, h, OffTimerConfig(3), 8, r.v)
		if got := rd(t, h, OffTimerConfig(3), 8); got != r.want {
			t.Errorf("%s: Tn_CONF = %#x, want %#x", r.name, got, r.want)
		}
	}
	h, _, _ := newH(false)
	wr(t, h, OffTimerConfig(0)+4, 4, 0)
	if rd(t, h, OffTimerConfig(0), 8) != 0xFF000000_00008010 {
		t.Fatal("upper-half write changed the capabilities")
	}
}

// ref §6.4, §6.5, §12 #17, #20: one-shot timers.
// Rows: §6.2 row "0x108+0x20n comparator 32-bit"; §6.4 row "one-shot: comparator updated";
// §6.4 row "changed and enabled: timer restarted";
// §6.5 row "wait = (uint32)(comparator - counter) ticks";
// §6.5 row "on fire: restart then interrupt";
// §6.5 row "one-shot re-arm at the comparator instant waits 2^32";
// §6.5 row "INT_ENB clear: nothing"; §6.5 row "pin 0: nothing";
// §6.5 row "edge pulses the pin; level sets status and asserts";
// §12.17 row "comparator in the past waits ~256 s";
// §12.20 row "one-shot re-arm at the exact instant would loop";
func TestOneShot(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(0), 8, 24<<9|TCnfIntEnb) // edge, pin 24
	wr(t, h, OffTimerComparator(0), 8, 1000)
	wr(t, h, OffConfig, 8, CnfEnable)
	if d := h.State().Timers[0].Deadline; d != 1000*tick {
		t.Fatalf("deadline %d", d)
	}
	c.AdvanceTo(1000*tick - 1)
	eq(t, r.take(), nil)
	c.AdvanceTo(1000 * tick)
	eq(t, r.take(), []string{"ioapic 24 pulse"})
	// Re-armed for the next time the counter equals the comparator: 2^32
	// ticks later (not 0, which would fire forever).
	if d := h.State().Timers[0].Deadline; d != 1000*tick+(1<<32)*tick {
		t.Fatalf("re-arm deadline %d", d)
	}
	c.AdvanceTo(1000*tick + 10*vclock.SBT_1S)
	eq(t, r.take(), nil)
	// A comparator in the past waits for the counter to wrap (~256 s).
	now := c.Now()
	counter := rd(t, h, OffCounter, 4)
	wr(t, h, OffTimerComparator(0), 4, counter-1)
	if d := h.State().Timers[0].Deadline; d != now+(1<<32-1)*tick {
		t.Fatalf("past comparator deadline %d, want now + (2^32-1) ticks", d-now)
	}
	// A comparator written equal to the counter fires at once.
	wr(t, h, OffTimerComparator(0), 4, counter)
	c.Poll()
	eq(t, r.take(), []string{"ioapic 24 pulse"})
	// Interrupts disabled or not routed: nothing.
	wr(t, h, OffTimerConfig(0), 8, 24<<9)
	wr(t, h, OffTimerComparator(0), 4, counter+10)
	c.AdvanceTo(c.Now() + 10*tick)
	wr(t, h, OffTimerConfig(0), 8, TCnfIntEnb)
	wr(t, h, OffTimerComparator(0), 4, counter+20)
	c.AdvanceTo(c.Now() + 10*tick)
	eq(t, r.take(), nil)
}

// ref §6.4, §6.5: periodic timers, VAL_SET, the modular catch-up.
// Rows: §6.3 row "not periodic: period reset to 0";
// §6.4 row "periodic: write sets period; comparator only with VAL_SET";
// §6.4 row "VAL_SET cleared after every comparator write";
// §6.4 row "changed and enabled: timer restarted";
// §6.4 row "comparator reads current comparator"; §6.5 row "on fire: restart then interrupt";
func TestPeriodic(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(1), 8, 25<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(1), 8, 1024) // VAL_SET: comparator and period
	if rd(t, h, OffTimerConfig(1), 8)&TCnfValSet != 0 {
		t.Fatal("VAL_SET not cleared by the comparator write")
	}
	wr(t, h, OffConfig, 8, CnfEnable)
	// 2^32 is a multiple of 1024, so the comparator stays at 1024.
	var fires []uint64
	for k := vclock.SBT(1); k <= 3*1024; k++ {
		c.AdvanceTo(k * tick)
		for range r.take() {
			fires = append(fires, rd(t, h, OffCounter, 4))
		}
	}
	if !reflect.DeepEqual(fires, []uint64{1024, 2048, 3072}) {
		t.Fatalf("fired at counters %v", fires)
	}
	// The virtual clock is punctual: a jump of 2.5 periods runs each
	// expiry at its own instant, so each period interrupts.
	c.AdvanceTo((4096 + 2560) * tick)
	if got := len(r.take()); got != 3 {
		t.Fatalf("%d interrupts over 2.5 periods, want 3", got)
	}
	if rd(t, h, OffTimerComparator(1), 4) != 7168 {
		t.Fatalf("comparator %d, want 7168", rd(t, h, OffTimerComparator(1), 4))
	}
	// Without VAL_SET a comparator write sets only the period.
	wr(t, h, OffTimerComparator(1), 4, 2048)
	if rd(t, h, OffTimerComparator(1), 4) != 7168 {
		t.Fatal("comparator changed without VAL_SET")
	}
	// Leaving periodic mode zeroes the period: the next expiry is one-shot.
	wr(t, h, OffTimerConfig(1), 8, 25<<9|TCnfIntEnb)
	c.AdvanceTo(7168 * tick)
	eq(t, r.take(), []string{"ioapic 25 pulse"})
	if d := h.State().Timers[1].Deadline; d != 7168*tick+(1<<32)*tick {
		t.Fatalf("one-shot after periodic re-armed at %d", d)
	}
}

// ref §6.5: an expiry that runs late (as a kernel callout does; here a
// restored timer whose instant has passed) interrupts once and moves the
// comparator to the next multiple of the period ahead of the counter:
// missed periods are dropped.
// Rows: §6.5 row "periodic: next multiple strictly ahead (uint32)";
func TestPeriodicLateExpiry(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(1), 8, 25<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(1), 8, 1024)
	wr(t, h, OffConfig, 8, CnfEnable)
	st := h.State()
	h.Close()
	c.AdvanceTo((1024 + 2560) * tick) // counter 3584: 2.5 periods late
	h.SetState(st)
	c.Poll()
	eq(t, r.take(), []string{"ioapic 25 pulse"})
	if got := rd(t, h, OffTimerComparator(1), 4); got != 4096 {
		t.Fatalf("comparator %d, want 4096", got)
	}
	if d := h.State().Timers[1].Deadline; d != 4096*tick {
		t.Fatalf("deadline %d, want %d", d, 4096*tick)
	}
}

// ref §6.5: bhyve's uint32 arithmetic when the comparator is ahead of the
// counter at start: comparator + ((counter − comparator)/period + 1)·period
// mod 2^32. With comparator = period = 1000 and counter 0:
// (2^32 − 1000)/1000 = 4294966, +1 → 4294967000, + 1000 → 4294968000 mod
// 2^32 = 704. So the first interrupt comes at 704, then every 1000.
// Rows: §6.4 row "comparator reads current comparator";
// §6.5 row "periodic: next multiple strictly ahead (uint32)";
func TestPeriodicModularStart(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(2), 8, 26<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(2), 8, 1000)
	wr(t, h, OffConfig, 8, CnfEnable)
	if got := rd(t, h, OffTimerComparator(2), 4); got != 704 {
		t.Fatalf("comparator %d, want 704", got)
	}
	c.AdvanceTo(703 * tick)
	eq(t, r.take(), nil)
	c.AdvanceTo(704 * tick)
	eq(t, r.take(), []string{"ioapic 26 pulse"})
	c.AdvanceTo(1704 * tick)
	eq(t, r.take(), []string{"ioapic 26 pulse"})
	// Upper-half comparator write in periodic mode with VAL_SET: the
	// period keeps its low 32 bits and the comparator takes the period.
	wr(t, h, OffTimerConfig(2), 8, 26<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(2)+4, 4, 0x5)
	if got := h.State().Timers[2]; got.Rate != 1000 || got.Comparator < 1000 || (got.Comparator-1000)%1000 != 0 {
		t.Fatalf("rate %d comparator %d", got.Rate, got.Comparator)
	}
}

// ref §6.2 (interrupt status), §6.3 (ISR clearing on reconfiguration).
// Rows: §6.2 row "0x020 status reads asserted level timers";
// §6.2 row "0x020 write-1-to-clear deasserts";
// §6.3 row "status set and disabled/edge/FSB/re-routed: deassert, clear";
// §6.5 row "status already set: nothing";
// §6.5 row "edge pulses the pin; level sets status and asserts";
func TestLevelInterrupts(t *testing.T) {
	h, c, r := newH(false)
	level := uint64(27<<9 | TCnfIntEnb | TCnfIntType | TCnfType | TCnfValSet)
	wr(t, h, OffTimerConfig(2), 8, level)
	wr(t, h, OffTimerComparator(2), 8, 1024)
	wr(t, h, OffConfig, 8, CnfEnable)
	c.AdvanceTo(1024 * tick)
	eq(t, r.take(), []string{"ioapic 27 assert"})
	if rd(t, h, OffISR, 8) != 0x4 {
		t.Fatal("status bit 2")
	}
	c.AdvanceTo(2048 * tick) // still asserted: nothing more
	eq(t, r.take(), nil)
	wr(t, h, OffISR, 4, 0xFB)  // bits of timers not asserted: nothing
	wr(t, h, OffISR+4, 4, 0x4) // upper half: nothing
	eq(t, r.take(), nil)
	wr(t, h, OffISR, 8, 0x4)
	eq(t, r.take(), []string{"ioapic 27 deassert"})
	if rd(t, h, OffISR, 8) != 0 {
		t.Fatal("status not cleared")
	}
	for _, c2 := range []struct {
		name string
		cfg  uint64
		want []string
	}{
		{"to edge", level &^ TCnfIntType, []string{"ioapic 27 deassert"}},
		{"interrupt disabled", level &^ TCnfIntEnb, []string{"ioapic 27 deassert"}},
		{"re-routed", level&^TCnfIntRoute | 28<<9, []string{"ioapic 27 deassert"}},
		{"to FSB", level | TCnfFSBEn, []string{"ioapic 27 deassert"}},
		{"unrelated change", level | 0x80, nil},
	} {
		wr(t, h, OffTimerConfig(2), 8, level)
		c.AdvanceTo(c.Now() + 1024*tick)
		eq(t, r.take(), []string{"ioapic 27 assert"})
		wr(t, h, OffTimerConfig(2), 8, c2.cfg)
		eq(t, r.take(), c2.want)
		wr(t, h, OffISR, 8, 0xFF)
		r.take()
	}
}

// ref §6.5: FSB (MSI) delivery.
// Rows: §6.2 row "0x110+0x20n FSB value"; §6.2 row "0x114+0x20n FSB address";
// §6.5 row "FSB: MSI addr msireg>>32, data low 32";
func TestFSB(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerFSBAddr(3), 4, 0xFEE01000)
	wr(t, h, OffTimerFSBValue(3), 4, 0x4041)
	if got := rd(t, h, OffTimerFSBValue(3), 8); got != 0xFEE01000_00004041 {
		t.Fatalf("FSB = %#x", got)
	}
	if rd(t, h, OffTimerFSBAddr(3), 4) != 0xFEE01000 || rd(t, h, OffTimerFSBValue(3), 4) != 0x4041 {
		t.Fatal("FSB halves")
	}
	wr(t, h, OffTimerConfig(3), 8, TCnfFSBEn|TCnfIntEnb|TCnfIntType) // level is ignored for FSB
	wr(t, h, OffTimerComparator(3), 8, 10)
	wr(t, h, OffConfig, 8, CnfEnable)
	c.AdvanceTo(10 * tick)
	eq(t, r.take(), []string{"msi 0xfee01000 0x4041"})
	if rd(t, h, OffISR, 8) != 0 {
		t.Fatal("FSB interrupt set a status bit")
	}
}

// ref §6.5: disabling stops every timer; a timer whose instant passed
// before its expiry ran interrupts at the disable.
// Rows: §6.5 row "disable: freeze, stop callouts, overdue fire once";
// §6.5 row "enable: resume from frozen value, re-arm";
func TestDisableFiresOverdue(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(4), 8, 29<<9|TCnfIntEnb)
	wr(t, h, OffTimerComparator(4), 8, 100)
	wr(t, h, OffConfig, 8, CnfEnable)
	st := h.State()
	// Make the expiry overdue without running it: restore a state whose
	// timer 4 deadline is in the past of a later clock.
	h.Close()
	c.AdvanceTo(200 * tick)
	h2 := New(c, Config{IOAPIC: func(pin int, op PinOp) { r.add("ioapic %d %s", pin, opName[op]) }})
	h2.SetState(st)
	wr(t, h2, OffConfig, 8, 0)
	eq(t, r.take(), []string{"ioapic 29 pulse"})
	if _, ok := c.Next(); ok {
		t.Fatal("timers still armed after disable")
	}
	c.AdvanceTo(1 << 50)
	eq(t, r.take(), nil)
	// Re-enabling re-arms from the frozen counter (200).
	wr(t, h2, OffTimerComparator(4), 4, 300)
	wr(t, h2, OffConfig, 8, CnfEnable)
	if d := h2.State().Timers[4].Deadline; d != (1<<50)+100*tick {
		t.Fatalf("deadline after re-enable %d", d)
	}
}

// ref §6.5 / §12 #17: no legacy replacement by default.
// Rows: §6.2 row "0x010 config stored but LEG_RT_CNF"; §6.5 row "pin 0: nothing";
// §6.5 row "no legacy replacement routing"; §12.17 row "no legacy replacement";
func TestNoLegacyByDefault(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffConfig, 8, CnfLegRT|CnfEnable)
	if rd(t, h, OffConfig, 8) != CnfEnable {
		t.Fatal("LEG_RT_CNF kept")
	}
	wr(t, h, OffTimerConfig(0), 8, TCnfIntEnb)
	wr(t, h, OffTimerComparator(0), 8, 5)
	c.AdvanceTo(5 * tick)
	eq(t, r.take(), nil) // route 0: not connected
}

// spec §2.3.9 (opt-in): legacy replacement routes timer 0 to IRQ 0 / pin 2
// and timer 1 to IRQ 8 / pin 8.
func TestLegacyReplacement(t *testing.T) {
	h, c, r := newH(true)
	if got := rd(t, h, OffCap, 8); got != 0x038D7EA4_80868701 {
		t.Fatalf("capabilities %#x, want LEG_RT_CAP", got)
	}
	wr(t, h, OffTimerConfig(0), 8, 24<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(0), 8, 1024)
	wr(t, h, OffTimerConfig(1), 8, TCnfFSBEn|TCnfIntEnb|TCnfIntType)
	wr(t, h, OffTimerComparator(1), 8, 1500)
	wr(t, h, OffConfig, 8, CnfLegRT|CnfEnable)
	if rd(t, h, OffConfig, 8) != 0x3 {
		t.Fatal("LEG_RT_CNF not kept")
	}
	c.AdvanceTo(1024 * tick)
	eq(t, r.take(), []string{"atpic 0 pulse", "ioapic 2 pulse"})
	c.AdvanceTo(1500 * tick)
	eq(t, r.take(), []string{"atpic 8 assert", "ioapic 8 assert"})
	c.AdvanceTo(2048 * tick)
	eq(t, r.take(), []string{"atpic 0 pulse", "ioapic 2 pulse"})
	// Leaving legacy mode lowers the asserted legacy line; timer 0 goes
	// back to its INT_ROUTE (pin 24), timer 1 to FSB.
	wr(t, h, OffConfig, 8, CnfEnable)
	eq(t, r.take(), []string{"atpic 8 deassert", "ioapic 8 deassert"})
	c.AdvanceTo(3072 * tick)
	eq(t, r.take(), []string{"ioapic 24 pulse"})
}

func TestStateRoundTrip(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(5), 8, 30<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(5), 8, 512)
	wr(t, h, OffConfig, 8, CnfEnable)
	c.AdvanceTo(100 * tick)
	st := h.State()
	h.Close()
	h2 := New(c, Config{IOAPIC: func(pin int, op PinOp) { r.add("ioapic %d %s", pin, opName[op]) }})
	h2.SetState(st)
	if !reflect.DeepEqual(h2.State(), st) || rd(t, h2, OffCounter, 4) != 100 {
		t.Fatal("state differs")
	}
	c.AdvanceTo(1024 * tick)
	eq(t, r.take(), []string{"ioapic 30 pulse", "ioapic 30 pulse"})
}

func scenario(t *testing.T) []string {
	h, c, r := newH(true)
	for n := 0; n < NumTimers; n++ {
		cfg := uint64(24+n)<<9 | TCnfIntEnb
		if n%2 == 0 {
			cfg |= TCnfType | TCnfValSet
		}
		if n%3 == 0 {
			cfg |= TCnfIntType
		}
		wr(t, h, OffTimerConfig(n), 8, cfg)
		wr(t, h, OffTimerComparator(n), 8, uint64(300+97*n))
	}
	wr(t, h, OffConfig, 8, CnfEnable|CnfLegRT)
	var trace []string
	for k := vclock.SBT(1); k <= 300; k++ {
		c.AdvanceTo(k * 37 * tick)
		for _, e := range r.take() {
			trace = append(trace, fmt.Sprintf("%d %s", c.Now(), e))
		}
		if k%20 == 0 {
			wr(t, h, OffISR, 8, 0xFF)
		}
		if k%75 == 0 {
			wr(t, h, OffConfig, 8, CnfEnable)
		}
	}
	return append(trace, r.take()...)
}

func TestDeterminism(t *testing.T) {
	a, b := scenario(t), scenario(t)
	if len(a) < 50 || !reflect.DeepEqual(a, b) {
		t.Fatalf("traces differ or too short (%d)", len(a))
	}
}

func TestConcurrentUse(t *testing.T) {
	h, c, r := newH(false)
	wr(t, h, OffTimerConfig(0), 8, 24<<9|TCnfIntEnb|TCnfType|TCnfValSet)
	wr(t, h, OffTimerComparator(0), 8, 10)
	wr(t, h, OffConfig, 8, CnfEnable)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for k := vclock.SBT(1); k < 2000; k++ {
			c.AdvanceTo(k * 5 * tick)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			rd(t, h, OffCounter, 4)
			wr(t, h, OffTimerComparator(0), 4, uint64(10+i%7))
			wr(t, h, OffISR, 8, 1)
		}
	}()
	wg.Wait()
	r.take()
}
