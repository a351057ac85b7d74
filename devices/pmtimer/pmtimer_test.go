package pmtimer

import (
	"errors"
	"sync"
	"testing"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// Expected counts are floor(t / 1199) for t in sbintime, 1199 being
// bttosbt(FREQ2BT(3579545)) = 0x04AFDD313180 >> 32 (reference/vmm-devices.md
// §0 tick table); ACPI 6.x §4.8.3.3 gives the nominal 3.579545 MHz.
// Rows: §8 row "32-bit free-running"; §8 row "value (now - creation)/1199"; §8 row "base 0";
// §1.1 row "PM timer restarts at 0 on VM reset"; §12.4 row "PM timer 0.072% fast";
func TestCountAtInstants(t *testing.T) {
	clk := vclock.New(vclock.Virtual)
	clk.AdvanceTo(5000) // created at a non-zero instant: counts from there
	p := New(clk)
	cases := []struct {
		at   vclock.SBT
		want uint32
	}{
		{5000, 0},
		{5000 + 1198, 0},
		{5000 + 1199, 1},
		{5000 + 2*1199 - 1, 1},
		{5000 + 1<<32, 3582124},       // one second: 3,582,124 ticks, not 3,579,545 (§12 item 4)
		{5000 + 10<<32 + 7, 35821245}, // floor((10·2^32+7)/1199)
	}
	for _, c := range cases {
		clk.AdvanceTo(c.at)
		got, err := p.In(0x408, 4)
		if err != nil || got != c.want {
			t.Errorf("at %d: In = %d, %v; want %d", c.at, got, err, c.want)
		}
	}
}

// The counter is 32 bits and wraps: C stores baseval + delta/1199 in a
// uint32 (reference §8 "wraps naturally at 2^32").
// Rows: §8 row "32-bit free-running"; §8 row "wraps at 2^32";
func TestWrap(t *testing.T) {
	clk := vclock.New(vclock.Virtual)
	p := New(clk)
	// 2^32 ticks + 5 ticks later the counter reads 5.
	clk.AdvanceTo(vclock.SBT((1<<32 + 5) * 1199))
	if got, _ := p.In(0x408, 4); got != 5 {
		t.Fatalf("after 2^32+5 ticks: %d, want 5", got)
	}
	if err := p.SetState(State{BaseUptime: 0, BaseVal: 0xFFFFFFFF}); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.In(0x408, 4); got != 4 {
		t.Fatalf("base 0xFFFFFFFF + 2^32+5 ticks: %d, want 4", got)
	}
}

// reference §1.2 / §8: only a 4-byte IN works; writes and other widths are
// handler errors, which VM_RUN turns into EIO.
// Rows: §1.2 row "0x408 4-byte IN only"; §8 row "port 0x408";
// §8 row "only a 4-byte IN; writes or other widths EIO";
func TestAccessErrors(t *testing.T) {
	p := New(vclock.New(vclock.Virtual))
	for _, size := range []int{1, 2} {
		if _, err := p.In(0x408, size); !errors.Is(err, abi.EIO) {
			t.Errorf("In size %d: %v, want EIO", size, err)
		}
	}
	for _, size := range []int{1, 2, 4} {
		if err := p.Out(0x408, size, 0); !errors.Is(err, abi.EIO) {
			t.Errorf("Out size %d: %v, want EIO", size, err)
		}
	}
	if _, err := p.In(0x409, 4); err == nil {
		t.Error("In of a foreign port succeeded")
	}
}

func TestState(t *testing.T) {
	clk := vclock.New(vclock.Virtual)
	clk.AdvanceTo(77)
	p := New(clk)
	if s := p.State(); s != (State{BaseUptime: 77}) {
		t.Fatalf("state %+v", s)
	}
	q := New(clk)
	q.SetState(State{BaseUptime: 77 - 1199*3, BaseVal: 10})
	if got, _ := q.In(0x408, 4); got != 13 {
		t.Fatalf("restored timer reads %d, want 13", got)
	}
}

func TestConcurrent(t *testing.T) {
	clk := vclock.New(vclock.Virtual)
	p := New(clk)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := uint32(0)
			for i := 0; i < 1000; i++ {
				v, _ := p.In(0x408, 4)
				if v < last {
					t.Errorf("went backward: %d after %d", v, last)
					return
				}
				last = v
			}
		}()
	}
	for i := 1; i <= 1000; i++ {
		clk.AdvanceTo(vclock.SBT(i) * 12345)
	}
	wg.Wait()
}
