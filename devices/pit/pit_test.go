package pit

// Register-level and timing tests of reference/vmm-devices.md §5, row by
// row. Command bytes are from the Intel 8254 datasheet (order no. 231164):
// SC1:SC0 bits 7:6 select the counter (11 = read-back), RW1:RW0 bits 5:4
// (00 latch, 11 LSB then MSB), M2:M0 bits 3:1, BCD bit 0; read-back bit 5
// = /COUNT, bit 4 = /STATUS, bits 3:1 = CNT2..CNT0; status bit 7 = OUT,
// bit 6 = NULL COUNT. So 0x34 = counter 0, LSB/MSB, mode 2; 0x30 = mode 0;
// 0x36 = mode 3; 0x38 = mode 4; 0xB0 = counter 2 mode 0. Tick = 3599 sbt
// (reference §0): expected instants are n·3599 written out as literals.

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

type rig struct {
	t    *testing.T
	clk  *vclock.Clock
	p    *PIT
	irqs []vclock.SBT // the clock time of every channel-0 interrupt
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, clk: vclock.New(vclock.Virtual)}
	r.p = New(r.clk, func() { r.irqs = append(r.irqs, r.clk.Now()) })
	return r
}

func (r *rig) out(port uint16, v uint8) {
	r.t.Helper()
	if err := r.p.Out(port, 1, uint32(v)); err != nil {
		r.t.Fatalf("out %#x, %#x: %v", port, v, err)
	}
}

func (r *rig) in(port uint16) uint8 {
	r.t.Helper()
	v, err := r.p.In(port, 1)
	if err != nil {
		r.t.Fatalf("in %#x: %v", port, err)
	}
	return uint8(v)
}

// count loads a 16-bit count on channel ch (LSB then MSB).
func (r *rig) count(ch int, n uint16) {
	r.t.Helper()
	r.out(uint16(0x40+ch), uint8(n))
	r.out(uint16(0x40+ch), uint8(n>>8))
}

// read16 reads LSB then MSB at the current instant.
func (r *rig) read16(ch int) uint16 {
	r.t.Helper()
	lo := r.in(uint16(0x40 + ch))
	hi := r.in(uint16(0x40 + ch))
	return uint16(lo) | uint16(hi)<<8
}

// runTo advances the clock deadline by deadline up to t, so every timer
// fires at exactly its deadline (a punctual virtual clock).
func (r *rig) runTo(t vclock.SBT) {
	for {
		next, ok := r.clk.Next()
		if !ok || next > t {
			break
		}
		r.clk.AdvanceTo(next)
	}
	r.clk.AdvanceTo(t)
}

// §5.1: 0x40-0x43 take 1-byte accesses only; reading 0x43 fails; 0x61
// takes any width. Failures are EIO (§1.2).
// Rows: §1.2 row "0x40-0x42 1-byte only"; §1.2 row "0x43 write only, 1-byte";
// §1.2 row "0x61 any size, reads only";
// §5.1 row "counters 0x40-0x42, command 0x43, 1-byte only";
// §5.1 row "reading 0x43 is an error";
func TestWidthAndPorts(t *testing.T) {
	r := newRig(t)
	for _, port := range []uint16{0x40, 0x41, 0x42, 0x43} {
		for _, size := range []int{2, 4} {
			if _, err := r.p.In(port, size); !errors.Is(err, abi.EIO) {
				t.Errorf("in %#x/%d: %v", port, size, err)
			}
			if err := r.p.Out(port, size, 0x34); !errors.Is(err, abi.EIO) {
				t.Errorf("out %#x/%d: %v", port, size, err)
			}
		}
	}
	if _, err := r.p.In(0x43, 1); !errors.Is(err, abi.EIO) {
		t.Errorf("reading 0x43: %v, want EIO", err)
	}
	for _, size := range []int{1, 2, 4} {
		if _, err := r.p.In(0x61, size); err != nil {
			t.Errorf("in 0x61/%d: %v", size, err)
		}
		if err := r.p.Out(0x61, size, 0xFF); err != nil {
			t.Errorf("out 0x61/%d: %v", size, err)
		}
	}
	if got := r.p.State(); !reflect.DeepEqual(got, State{}) {
		t.Errorf("failed or ignored accesses changed state: %+v", got)
	}
}

// §5.2: access 01/10 and every mode but binary 0, 2, 3, 4 fail; the state
// is unchanged.
// Rows: §5.2 row "access 01/10 error"; §5.2 row "modes other than 0, 2, 3, 4 binary error";
// §12.3 row "BCD, LSB/MSB-only, modes 1 and 5 EIO";
func TestCommandErrors(t *testing.T) {
	r := newRig(t)
	bad := []uint8{
		0x10, 0x20, 0x50, 0xA0, // LSB-only, MSB-only
		0x32, 0x3A, // modes 1 and 5
		0x3C, 0x3E, // modes 6 and 7 (aliases of 2 and 3 on a real 8254)
		0x31, 0x35, 0x37, 0x39, // BCD
		0x72, 0xB1,
	}
	for _, cmd := range bad {
		if err := r.p.Out(0x43, 1, uint32(cmd)); !errors.Is(err, abi.EIO) {
			t.Errorf("command %#x: %v, want EIO", cmd, err)
		}
	}
	if got := r.p.State(); !reflect.DeepEqual(got, State{}) {
		t.Errorf("failed commands changed state: %+v", got)
	}
	for _, cmd := range []uint8{0x30, 0x34, 0x36, 0x38, 0x70, 0xB4, 0x00, 0x40, 0x80} {
		if err := r.p.Out(0x43, 1, uint32(cmd)); err != nil {
			t.Errorf("command %#x: %v", cmd, err)
		}
	}
}

// §5.2 program command: stores the mode, drops a pending latch, sets NULL
// COUNT; the status byte carries only OUT and NULL COUNT (a real 8254 would
// also report RW and mode bits: 0x74 here).
// Rows: §5.2 row "program: mode stored, latch dropped, NULL COUNT set";
// §5.3 row "status read returns it and clears the whole byte";
// §5.3 row "status has only OUT and NULL COUNT";
// §12.3 row "count 0 = 0xFFFF; mode 3 one IRQ; status lacks mode bits";
func TestProgramCommand(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 0x1234)
	r.out(0x43, 0x00) // latch
	r.out(0x43, 0x34) // reprogram: latch dropped
	c := r.p.State().Channel[0]
	if c.Mode != 0x04 || c.OLByte != 0 || c.Status != 0x40 {
		t.Fatalf("after program: mode %#x olbyte %d status %#x", c.Mode, c.OLByte, c.Status)
	}
	r.out(0x43, 0xE2) // read-back status of counter 0
	if v := r.in(0x40); v != 0x40 {
		t.Fatalf("status %#x, want 0x40 (NULL COUNT only)", v)
	}
	r.count(0, 0x1234)
	r.out(0x43, 0xE2)
	if v := r.in(0x40); v != 0x00 {
		t.Fatalf("status after count write %#x, want 0", v)
	}
}

// §5.3: count bytes accumulate LSB then MSB; after the second byte NULL
// COUNT clears, the read toggle resets and the start time is now; the live
// count is initial − (elapsed mod initial) with elapsed = Δsbt / 3599.
// Rows: §5.3 row "count bytes accumulate LSB then MSB";
// §5.3 row "second byte: NULL COUNT cleared, toggle reset, start now";
// §5.3 row "free-running read alternates LSB/MSB";
// §5.3 row "live count initial - (elapsed mod initial)"; §5.3 row "elapsed ticks (B: /3599)";
func TestCountWriteAndFreeRunningRead(t *testing.T) {
	r := newRig(t)
	r.clk.AdvanceTo(1000)
	r.out(0x43, 0x74) // counter 1, mode 2
	r.out(0x41, 0x00)
	if c := r.p.State().Channel[1]; c.CRByte != 1 || c.Initial != 0 || c.Status != 0x40 {
		t.Fatalf("after LSB: %+v", c)
	}
	r.out(0x41, 0x10)
	c := r.p.State().Channel[1]
	if c.Initial != 0x1000 || c.Start != 1000 || c.Status != 0 || c.CRByte != 0 || c.FRByte != 0 {
		t.Fatalf("after MSB: %+v", c)
	}
	cases := []struct {
		at   vclock.SBT
		want uint16
	}{
		{1000, 0x1000},             // 0 ticks: reads the initial count
		{1000 + 3598, 0x1000},      // still 0 ticks
		{1000 + 3599, 0x0FFF},      // 1 tick
		{1000 + 359900, 0x0F9C},    // 100 ticks: 4096 − 100 = 3996
		{1000 + 3599*4095, 0x0001}, // 4095 ticks: 1
		{1000 + 3599*4096, 0x1000}, // 4096 ticks: wrapped to initial, never 0
		{1000 + 3599*4096*3 + 7, 0x1000},
	}
	for _, k := range cases {
		r.clk.AdvanceTo(k.at)
		if got := r.read16(1); got != k.want {
			t.Errorf("at %d: count %#x, want %#x", k.at, got, k.want)
		}
	}
	// The toggle: LSB, then MSB computed at the later instant.
	r.clk.AdvanceTo(1000 + 3599*4096*4) // count 0x1000
	if v := r.in(0x41); v != 0x00 {
		t.Fatalf("LSB %#x", v)
	}
	r.clk.AdvanceTo(1000 + 3599*4096*4 + 3599*0x101) // count 0x0EFF
	if v := r.in(0x41); v != 0x0E {
		t.Fatalf("MSB %#x, want 0x0E", v)
	}
	// A count write resets the toggle even mid-pair.
	r.in(0x41) // LSB consumed, MSB next
	r.count(1, 0x2000)
	if v := r.in(0x41); v != 0x00 {
		t.Fatalf("first read after a count write %#x, want LSB 0x00", v)
	}
	if v := r.in(0x41); v != 0x20 {
		t.Fatalf("second read %#x, want MSB 0x20", v)
	}
}

// §5.3 latched reads: a latch holds the count at its instant, reads LSB
// then MSB; a second latch while the first is unread is ignored.
// Rows: §5.2 row "latch command, ignored while a latch is unread";
// §5.3 row "latched count read LSB then MSB";
func TestCountLatch(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0xB4) // counter 2, mode 2
	r.count(2, 1000)
	r.clk.AdvanceTo(3599 * 10) // 990 = 0x03DE
	r.out(0x43, 0x80)          // latch counter 2
	r.clk.AdvanceTo(3599 * 20)
	r.out(0x43, 0x80) // ignored: latch unread
	if got := r.read16(2); got != 990 {
		t.Fatalf("latched %d, want 990", got)
	}
	if got := r.read16(2); got != 980 { // free-running again
		t.Fatalf("after latch %d, want 980", got)
	}
	r.out(0x43, 0x80)
	r.in(0x42) // half read
	r.clk.AdvanceTo(3599 * 30)
	r.out(0x43, 0x80) // still ignored: one byte left
	if v := r.in(0x42); v != 0x03 {
		t.Fatalf("MSB of the old latch %#x, want 0x03", v)
	}
}

// §5.2 read-back: /COUNT and /STATUS are active low; existing latches are
// kept; OUT is reported for mode 0 only; reading status clears the whole
// status byte, NULL COUNT included.
// Rows: §5.2 row "read-back latches count if /COUNT and none latched";
// §5.2 row "read-back latches status with OUT (mode 0 only)";
// §5.3 row "status read returns it and clears the whole byte";
// §5.3 row "never programmed: 11932 from now, NULL COUNT cleared";
// §5.4 row "OUT for mode 0 only";
func TestReadBack(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x30) // counter 0, mode 0
	r.count(0, 100)
	r.out(0x43, 0x70) // counter 1, mode 0
	r.count(1, 200)
	r.out(0x43, 0xB4) // counter 2, mode 2, count not loaded
	r.clk.AdvanceTo(3599 * 150)
	r.out(0x43, 0xCE) // latch count and status of all three
	// Counter 0: mode 0 expired (150 ≥ 100): OUT; count 100 − 150 mod 100 = 50.
	if v := r.in(0x40); v != 0x80 {
		t.Errorf("counter 0 status %#x, want 0x80", v)
	}
	if got := r.read16(0); got != 50 {
		t.Errorf("counter 0 count %d, want 50", got)
	}
	// Counter 1: mode 0 not expired: OUT 0; count 50.
	if v := r.in(0x41); v != 0x00 {
		t.Errorf("counter 1 status %#x, want 0", v)
	}
	if got := r.read16(1); got != 50 {
		t.Errorf("counter 1 count %d, want 50", got)
	}
	// Counter 2: never loaded, so latching its count (done before the
	// status, as bhyve orders them) loads 11932 now and clears NULL COUNT:
	// the status reads 0, not 0x40.
	if v := r.in(0x42); v != 0x00 {
		t.Errorf("counter 2 status %#x, want 0", v)
	}
	if got := r.read16(2); got != 11932 {
		t.Errorf("counter 2 count %d, want 11932", got)
	}
	r.out(0x43, 0xB4) // reprogram counter 2: NULL COUNT again
	r.out(0x43, 0xE8) // status only
	if v := r.in(0x42); v != 0x40 {
		t.Errorf("counter 2 status after program %#x, want 0x40", v)
	}
	r.out(0x43, 0xE8)
	if v := r.in(0x42); v != 0x00 {
		t.Errorf("counter 2 status again %#x, want 0 (the read cleared NULL COUNT)", v)
	}
	// Count-only read-back (0xD2) keeps an unread status latch untouched.
	r.out(0x43, 0xE2)        // latch status of counter 0 (OUT=1)
	r.clk.AdvanceTo(1 << 32) // anything
	r.out(0x43, 0xE2)        // ignored: status still latched
	r.out(0x43, 0xD2)        // latch count
	if v := r.in(0x40); v != 0x80 {
		t.Errorf("status %#x, want 0x80", v)
	}
	r.read16(0)
	r.out(0x43, 0xF2) // neither: nothing latched
	if c := r.p.State().Channel[0]; c.SLatched || c.OLByte != 0 {
		t.Errorf("0xF2 latched something: %+v", c)
	}
}

// §5.3: a read of a channel never loaded loads 11932 (TIMER_DIV(1193182,
// 100)) starting now and clears NULL COUNT.
// Rows: §5.3 row "never programmed: 11932 from now, NULL COUNT cleared";
func TestNeverProgrammed(t *testing.T) {
	r := newRig(t)
	r.clk.AdvanceTo(5000)
	r.out(0x43, 0x74) // NULL COUNT set
	if got := r.read16(1); got != 0x2E9C {
		t.Fatalf("first read %#x, want 0x2E9C (11932)", got)
	}
	c := r.p.State().Channel[1]
	if c.Initial != 11932 || c.Start != 5000 || c.Status != 0 {
		t.Fatalf("%+v", c)
	}
	if r.irqs != nil {
		t.Fatal("a read of channel 1 interrupted")
	}
}

// §12 item 21 (reproduced): a mode command does not reset the count byte
// index, so a stray LSB pairs with the next byte written.
// Rows: §5.3 row "byte index not reset by a mode command";
// §12.21 row "count-write byte index survives a mode command";
func TestByteIndexSurvivesMode(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.out(0x40, 0xAA) // one byte only
	r.out(0x43, 0x34)
	r.out(0x40, 0x00) // pairs with 0xAA as the MSB
	r.out(0x40, 0x10) // starts a new pair
	c := r.p.State().Channel[0]
	if c.Initial != 0x00AA || c.CRByte != 1 {
		t.Fatalf("initial %#x crbyte %d, want 0x00AA, 1", c.Initial, c.CRByte)
	}
}

// §5.4: port 0x61 bit 5 is channel 2's OUT, modelled for mode 0 only:
// 1 once elapsed ≥ count; every other bit reads 0; writes are ignored.
// Before any programming channel 2 is mode 0 with count 0, so OUT is 1.
// Rows: §1.2 row "0x61 any size, reads only"; §5.4 row "OUT for mode 0 only";
// §5.4 row "port 0x61 reads 0x20 iff channel 2 OUT, other bits 0";
// §5.4 row "port 0x61 writes ignored, gate not modelled";
func TestPort61(t *testing.T) {
	r := newRig(t)
	if v, _ := r.p.In(0x61, 1); v != 0x20 {
		t.Fatalf("0x61 at reset %#x, want 0x20", v)
	}
	r.clk.AdvanceTo(10)
	r.out(0x43, 0xB0) // counter 2 mode 0
	r.count(2, 100)
	r.out(0x61, 0x03) // gate and speaker on: ignored
	for _, k := range []struct {
		at   vclock.SBT
		want uint32
	}{
		{10, 0}, {10 + 3599*100 - 1, 0}, {10 + 3599*100, 0x20}, {10 + 3599*1000, 0x20},
	} {
		r.clk.AdvanceTo(k.at)
		for _, size := range []int{1, 2, 4} {
			if v, _ := r.p.In(0x61, size); v != k.want {
				t.Errorf("at %d size %d: 0x61 = %#x, want %#x", k.at, size, v, k.want)
			}
		}
	}
	r.out(0x43, 0xB4) // mode 2: OUT is never reported
	r.count(2, 100)
	r.clk.AdvanceTo(1 << 32)
	if v, _ := r.p.In(0x61, 1); v != 0 {
		t.Errorf("mode 2: 0x61 = %#x, want 0", v)
	}
}

// §5.5: mode 2 with count 11932 interrupts every 11932·3599 = 42,943,268
// sbt from the count write, at exactly those instants.
// Rows: §5.5 row "target = expected + initial ticks"; §5.5 row "mode 2 periodic";
func TestMode2Timing(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 11932)
	r.runTo(429432680)
	want := []vclock.SBT{42943268, 85886536, 128829804, 171773072, 214716340,
		257659608, 300602876, 343546144, 386489412, 429432680}
	if !reflect.DeepEqual(r.irqs, want) {
		t.Fatalf("IRQ 0 at %v\nwant %v", r.irqs, want)
	}
}

// §5.5: bhyve drops periods when its callout runs late. The virtual clock
// is never late: a jump over several periods stops at each deadline, so
// every period still interrupts at its own instant.
// Rows: §5.5 row "mode 2 periodic";
func TestMode2JumpIsPunctual(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 11932)
	r.clk.AdvanceTo(236187974) // 5.5 periods in one step
	r.runTo(322074510)
	want := []vclock.SBT{42943268, 85886536, 128829804, 171773072, 214716340,
		257659608, 300602876}
	if !reflect.DeepEqual(r.irqs, want) {
		t.Fatalf("IRQ 0 at %v, want %v", r.irqs, want)
	}
}

// §5.5, §12 item 3: modes 0, 3 and 4 give one interrupt per count write.
// Rows: §5.5 row "modes 0, 3, 4 single interrupt";
// §12.3 row "count 0 = 0xFFFF; mode 3 one IRQ; status lacks mode bits";
func TestOneShotModes(t *testing.T) {
	for _, cmd := range []uint8{0x30, 0x36, 0x38} {
		r := newRig(t)
		r.out(0x43, cmd)
		r.count(0, 1000)
		r.runTo(3599 * 1000 * 100)
		if want := []vclock.SBT{3599000}; !reflect.DeepEqual(r.irqs, want) {
			t.Errorf("command %#x: IRQ 0 at %v, want %v", cmd, r.irqs, want)
		}
	}
}

// §5.5: a new count write re-arms from the write; re-programming the mode
// does not stop a pending callout, and the mode at fire time decides
// whether it repeats.
// Rows: §5.2 row "program does not stop channel 0";
// §5.5 row "re-programming does not stop the callout; count write re-arms";
func TestRearmAndModeChange(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 1000)
	r.runTo(3599 * 500)
	r.count(0, 2000) // next interrupt 2000 ticks after this write
	r.runTo(3599 * 2600)
	if want := []vclock.SBT{8997500}; !reflect.DeepEqual(r.irqs, want) {
		t.Fatalf("after re-arm: %v, want %v", r.irqs, want)
	}
	r.out(0x43, 0x30) // mode 0, no count: the pending callout still fires once
	r.runTo(3599 * 100000)
	if want := []vclock.SBT{8997500, 3599 * 4500}; !reflect.DeepEqual(r.irqs, want) {
		t.Fatalf("after mode change: %v, want %v", r.irqs, want)
	}
	if _, ok := r.clk.Next(); ok {
		t.Fatal("timer still armed in mode 0")
	}
}

// §12 item 1 (fixed, as later FreeBSD): a count of 0 means 0xFFFF and
// channel 0 interrupts after 0xFFFF·3599 = 235,860,465 sbt. FreeBSD 12
// never interrupted here.
// Rows: §5.3 row "count 0 is 0xFFFF"; §12.1 row "PIT zero count (fixed as L)";
// §12.3 row "count 0 = 0xFFFF; mode 3 one IRQ; status lacks mode bits";
func TestZeroCountFix(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 0)
	if c := r.p.State().Channel[0]; c.Initial != 0xFFFF {
		t.Fatalf("initial %#x, want 0xFFFF", c.Initial)
	}
	r.runTo(235860465 * 2)
	if want := []vclock.SBT{235860465, 471720930}; !reflect.DeepEqual(r.irqs, want) {
		t.Fatalf("IRQ 0 at %v, want %v", r.irqs, want)
	}
}

// §12 item 2 (reproduced): one second (2^32 sbt) is 2^32/3599 = 1,193,377
// ticks, not 1,193,182. A free-running count of 65535 then reads
// 65535 − 1193377 mod 65535 = 51788; a true 8254 would read 51983.
// Rows: §5.3 row "elapsed ticks (B: /3599)"; §12.2 row "PIT rate error (B, reproduced)";
func TestRate(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0xB4)
	r.count(2, 0xFFFF)
	r.clk.AdvanceTo(1 << 32)
	if got := r.read16(2); got != 51788 {
		t.Fatalf("count after 1 s: %d, want 51788", got)
	}
}

// Close stops channel 0; a stopped callout never interrupts.
func TestClose(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 100)
	r.p.Close()
	r.runTo(1 << 32)
	if r.irqs != nil {
		t.Fatalf("interrupts after Close: %v", r.irqs)
	}
}

// State round trip: a PIT restored from a snapshot on the same clock
// interrupts when the original would have.
func TestStateRoundTrip(t *testing.T) {
	r := newRig(t)
	r.out(0x43, 0x34)
	r.count(0, 11932)
	r.runTo(100000000)
	st := r.p.State()
	r.p.Close()
	q := newRig(t)
	q.clk = r.clk
	q.p = New(r.clk, func() { q.irqs = append(q.irqs, r.clk.Now()) })
	if err := q.p.SetState(st); err != nil {
		t.Fatal(err)
	}
	q.runTo(171773072)
	if want := []vclock.SBT{128829804, 171773072}; !reflect.DeepEqual(q.irqs, want) {
		t.Fatalf("restored: %v, want %v", q.irqs, want)
	}
	bad := st
	bad.Channel[1].Mode = 0x02
	if err := q.p.SetState(bad); err != abi.EINVAL {
		t.Fatalf("bad mode: %v", err)
	}
}

// Two identical runs give identical interrupt traces and reads.
func TestDeterministicTrace(t *testing.T) {
	run := func() []vclock.SBT {
		r := newRig(t)
		var trace []vclock.SBT
		r.out(0x43, 0x34)
		r.count(0, 5000)
		for i := 0; i < 40; i++ {
			r.runTo(vclock.SBT(i) * 7777777)
			trace = append(trace, vclock.SBT(r.read16(0)))
			if i%7 == 3 {
				r.count(0, uint16(3000+i*100))
			}
			if i == 20 {
				r.out(0x43, 0x36)
				r.count(0, 9000)
			}
		}
		return append(trace, r.irqs...)
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) || len(a) < 45 {
		t.Fatalf("traces differ or short (%d):\n%v\n%v", len(a), a, b)
	}
}

// vCPUs call in concurrently while the clock fires callouts: no race, no
// deadlock (run with -race).
func TestConcurrent(t *testing.T) {
	clk := vclock.New(vclock.Virtual)
	var mu sync.Mutex
	n := 0
	p := New(clk, func() { mu.Lock(); n++; mu.Unlock() })
	p.Out(0x43, 1, 0x34)
	p.Out(0x40, 1, 0x00)
	p.Out(0x40, 1, 0x01)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				p.In(uint16(0x40+w%3), 1)
				p.In(0x61, 1)
				if i%50 == 0 {
					p.Out(0x43, 1, 0x34)
					p.Out(0x40, 1, 0x00)
					p.Out(0x40, 1, 0x01)
				}
			}
		}(w)
	}
	for i := 1; i <= 2000; i++ {
		clk.AdvanceTo(vclock.SBT(i) * 100000)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if n == 0 {
		t.Fatal("no interrupts")
	}
}
