package rtc

// Register-level and timing tests of reference/vmm-devices.md §7, row by
// row. Register values are from the Motorola MC146818A datasheet: reg A
// DV2-DV0 = 010 (0x20) runs a 32.768 kHz time base, RS3-RS0 select the
// periodic rate (1 → 3.90625 ms … 15 → 500 ms, 3 → 122.070 µs); reg B SET
// 0x80, PIE 0x40, AIE 0x20, UIE 0x10, SQWE 0x08, DM 0x04 (binary), 24/12
// 0x02; reg C IRQF 0x80, PF 0x40, AF 0x20, UF 0x10; reg D VRT 0x80; 12-hour
// mode marks PM in bit 7 of the hour; day of week 1 = Sunday; alarm bytes
// 0xC0-0xFF are "don't care". Epoch seconds of calendar dates are literals
// (e.g. 2024-02-29 12:34:56 UTC = 1709210096, a Thursday).

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

const (
	leapNoon = 1709210096 // 2024-02-29 12:34:56 UTC, Thursday
	sec1S    = vclock.SBT_1S
)

type rig struct {
	t    *testing.T
	clk  *vclock.Clock
	r    *RTC
	irqs []vclock.SBT
}

func newRig(t *testing.T, secs int64) *rig {
	t.Helper()
	g := &rig{t: t, clk: vclock.New(vclock.Virtual)}
	r, err := New(g.clk, secs, func() { g.irqs = append(g.irqs, g.clk.Now()) })
	if err != nil {
		t.Fatal(err)
	}
	g.r = r
	return g
}

func (g *rig) wr(off, v uint8) {
	g.t.Helper()
	if err := g.wrErr(off, v); err != nil {
		g.t.Fatalf("write %#x to offset %#x: %v", v, off, err)
	}
}

func (g *rig) wrErr(off, v uint8) error {
	g.t.Helper()
	if err := g.r.Out(0x70, 1, uint32(off)); err != nil {
		g.t.Fatal(err)
	}
	return g.r.Out(0x71, 1, uint32(v))
}

func (g *rig) rd(off uint8) uint8 {
	g.t.Helper()
	if err := g.r.Out(0x70, 1, uint32(off)); err != nil {
		g.t.Fatal(err)
	}
	v, err := g.r.In(0x71, 1)
	if err != nil {
		g.t.Fatal(err)
	}
	return uint8(v)
}

// fields reads sec, min, hour, day of week, day, month, year, century.
func (g *rig) fields() [8]uint8 {
	g.t.Helper()
	var f [8]uint8
	for i, off := range []uint8{0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32} {
		f[i] = g.rd(off)
	}
	return f
}

// runTo advances deadline by deadline, so callouts fire exactly on time.
func (g *rig) runTo(t vclock.SBT) {
	for {
		next, ok := g.clk.Next()
		if !ok || next > t {
			break
		}
		g.clk.AdvanceTo(next)
	}
	g.clk.AdvanceTo(t)
}

// §7.1: 1-byte accesses only (EIO otherwise); the index keeps 7 bits and
// reads 0xFF.
// Rows: §1.2 row "0x70/0x71 1-byte only"; §7.1 row "1-byte only, else EIO";
// §7.1 row "index write keeps value & 0x7F"; §7.1 row "index read 0xFF";
func TestWidthAndIndex(t *testing.T) {
	g := newRig(t, 0)
	for _, port := range []uint16{0x70, 0x71} {
		for _, size := range []int{2, 4} {
			if _, err := g.r.In(port, size); !errors.Is(err, abi.EIO) {
				t.Errorf("in %#x/%d: %v", port, size, err)
			}
			if err := g.r.Out(port, size, 0); !errors.Is(err, abi.EIO) {
				t.Errorf("out %#x/%d: %v", port, size, err)
			}
		}
	}
	if v, _ := g.r.In(0x70, 1); v != 0xFF {
		t.Errorf("index read %#x, want 0xFF", v)
	}
	g.r.Out(0x70, 1, 0x8B) // NMI-disable bit set: dropped
	if a := g.r.State().Addr; a != 0x0B {
		t.Errorf("index %#x, want 0x0B", a)
	}
	if v, _ := g.r.In(0x71, 1); v != 0x02 {
		t.Errorf("data at 0x8B reads %#x, want reg B 0x02", v)
	}
}

// §7.1 power-on values; New refuses times it cannot show.
// Rows: §7.1 row "reset A 0x20, B 0x02, C 0, D 0x80, index 0x0D, time 0";
// §7.4 row "reg D reads 0x80";
func TestPowerOn(t *testing.T) {
	g := newRig(t, 0)
	if v, _ := g.r.In(0x71, 1); v != 0x80 { // index starts at 0x0D
		t.Errorf("first data read %#x, want reg D 0x80", v)
	}
	want := [8]uint8{0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x70, 0x19} // Thu 1970-01-01
	if f := g.fields(); f != want {
		t.Errorf("fields % x, want % x", f, want)
	}
	for off, w := range map[uint8]uint8{0x0A: 0x20, 0x0B: 0x02, 0x0C: 0x00, 0x0D: 0x80} {
		if v := g.rd(off); v != w {
			t.Errorf("reg %#x = %#x, want %#x", off, v, w)
		}
	}
	if tm := g.r.GetTime(); tm != 0 {
		t.Errorf("GetTime %d", tm)
	}
	for _, bad := range []int64{-1, -100, MaxTime + 1} {
		if _, err := New(g.clk, bad, nil); err != abi.EINVAL {
			t.Errorf("New(%d): %v, want EINVAL", bad, err)
		}
	}
	if _, err := New(g.clk, MaxTime, nil); err != nil {
		t.Errorf("New(MaxTime): %v", err)
	}
}

// §7.2 formats: BCD/binary × 24/12-hour; 0 h and 12 h show as 12; PM in
// bit 7; day of week 1-7; year % 100; century.
// Rows: §7.1 row "layout: time fields, alarms, regs A-D, NVRAM, century 0x32";
// §7.2 row "BCD/binary, 12/24 h, 12 shows as 12, PM bit 7";
// §7.2 row "day of week 1-7, year % 100, century"; §7.2 row "format changes applied lazily";
func TestFormats(t *testing.T) {
	cases := []struct {
		secs int64
		regB uint8
		want [8]uint8
	}{
		{leapNoon, 0x02, [8]uint8{0x56, 0x34, 0x12, 0x05, 0x29, 0x02, 0x24, 0x20}},
		{leapNoon, 0x06, [8]uint8{56, 34, 12, 5, 29, 2, 24, 20}},
		{leapNoon, 0x00, [8]uint8{0x56, 0x34, 0x92, 0x05, 0x29, 0x02, 0x24, 0x20}}, // 12 PM
		{leapNoon, 0x04, [8]uint8{56, 34, 0x8C, 5, 29, 2, 24, 20}},
		{1709164800, 0x00, [8]uint8{0x00, 0x00, 0x12, 0x05, 0x29, 0x02, 0x24, 0x20}}, // 12 AM
		{1709211600, 0x00, [8]uint8{0x00, 0x00, 0x81, 0x05, 0x29, 0x02, 0x24, 0x20}}, // 1 PM
		{1709247600, 0x00, [8]uint8{0x00, 0x00, 0x91, 0x05, 0x29, 0x02, 0x24, 0x20}}, // 11 PM
		{1709247600, 0x04, [8]uint8{0, 0, 0x8B, 5, 29, 2, 24, 20}},
		{1709247600, 0x02, [8]uint8{0x00, 0x00, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20}},
		{946684800, 0x02, [8]uint8{0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20}}, // Sat 2000-01-01
		{MaxTime, 0x02, [8]uint8{0x59, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x99}},   // Fri 9999-12-31
		{2147483648, 0x06, [8]uint8{8, 14, 3, 3, 19, 1, 38, 20}},                    // Tue 2038-01-19 03:14:08
	}
	for _, c := range cases {
		g := newRig(t, c.secs)
		g.wr(0x0B, c.regB) // applied lazily, at the next refresh
		if f := g.fields(); f != c.want {
			t.Errorf("%d with reg B %#x: % x, want % x", c.secs, c.regB, f, c.want)
		}
	}
}

// §7.2: the time advances by whole seconds of the VM clock; the century
// rolls over.
// Rows: §7.2 row "whole-second aligned base";
// §7.2 row "every data access advances time and refreshes fields";
// §7.2 row "day of week 1-7, year % 100, century";
func TestTimeAdvances(t *testing.T) {
	g := newRig(t, 946684799) // Fri 1999-12-31 23:59:59
	g.clk.AdvanceTo(sec1S - 1)
	if f := g.fields(); f != [8]uint8{0x59, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19} {
		t.Errorf("just before: % x", f)
	}
	g.clk.AdvanceTo(sec1S)
	if f := g.fields(); f != [8]uint8{0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20} {
		t.Errorf("after 1 s: % x", f)
	}
	if tm := g.r.GetTime(); tm != 946684800 {
		t.Errorf("GetTime %d", tm)
	}
}

// §7.2, §12 item 6: UIP is never set — writes drop it, reads never show it.
// Rows: §7.2 row "UIP never set"; §7.3 row "reg A: bit 7 dropped, rest stored";
// §12.6 row "UIP never set";
func TestUIPNeverSet(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0A, 0xA6)
	if v := g.rd(0x0A); v != 0x26 {
		t.Fatalf("reg A %#x, want 0x26", v)
	}
	for i := 0; i < 200; i++ {
		g.clk.AdvanceTo(vclock.SBT(i) * sec1S / 100)
		if v := g.rd(0x0A); v&0x80 != 0 {
			t.Fatalf("UIP set at %d", i)
		}
	}
}

// §7.2/§7.3: with the divider out of 010 the time is frozen; leaving
// divider reset restarts the second phase at that instant.
// Rows: §7.2 row "time runs only with divider 010, SET clear, not broken";
// §7.3 row "reg A: leaving divider reset restarts the second phase";
func TestDividerReset(t *testing.T) {
	g := newRig(t, 1000)
	g.clk.AdvanceTo(27 * sec1S / 10) // 2.7 s: time 1002
	g.wr(0x0A, 0x70)                 // divider reset
	g.clk.AdvanceTo(10 * sec1S)
	if tm := g.r.GetTime(); tm != 1002 {
		t.Fatalf("frozen time %d, want 1002", tm)
	}
	g.clk.AdvanceTo(102 * sec1S / 10)
	g.wr(0x0A, 0x26) // out of reset at 10.2 s
	g.clk.AdvanceTo(111 * sec1S / 10)
	if tm := g.r.GetTime(); tm != 1002 {
		t.Fatalf("0.9 s after restart: %d, want 1002", tm)
	}
	g.clk.AdvanceTo(112 * sec1S / 10)
	if tm := g.r.GetTime(); tm != 1003 {
		t.Fatalf("1.0 s after restart: %d, want 1003", tm)
	}
	for _, div := range []uint8{0x00, 0x10, 0x30, 0x40, 0x50, 0x60} {
		h := newRig(t, 5000)
		h.wr(0x0A, div)
		h.clk.AdvanceTo(100 * sec1S)
		if v := h.rd(0x00); v != 0x20 { // 5000 s = 01:23:20
			t.Errorf("divider %#x: sec %#x, want frozen 0x20", div, v)
		}
	}
}

// §7.3 SET 0→1: fields refreshed, time broken (frozen, GetTime −1), UIE
// cleared; SET 1→0 parses the guest's fields and runs from that instant.
// Rows: §7.2 row "time runs only with divider 010, SET clear, not broken";
// §7.3 row "reg B SET 0->1: refresh, broken, UIE cleared";
// §7.3 row "reg B SET 1->0: parse fields; invalid EIO and broken";
// §7.6 row "VM_RTC_GETTIME -1 if broken/halted";
func TestSetBit(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0B, 0x12) // UIE
	g.clk.AdvanceTo(3 * sec1S / 2)
	g.wr(0x0B, 0x92) // SET with UIE
	if v := g.rd(0x0B); v != 0x82 {
		t.Errorf("reg B %#x, want 0x82 (UIE cleared by SET)", v)
	}
	if tm := g.r.GetTime(); tm != -1 {
		t.Errorf("GetTime while SET: %d, want -1", tm)
	}
	g.clk.AdvanceTo(5 * sec1S)
	if v := g.rd(0x00); v != 0x57 {
		t.Errorf("frozen sec %#x, want 0x57", v)
	}
	for off, v := range map[uint8]uint8{0x00: 0x00, 0x02: 0x00, 0x04: 0x08, 0x07: 0x15, 0x08: 0x06, 0x09: 0x25, 0x32: 0x20} {
		g.wr(off, v)
	}
	if v := g.rd(0x04); v != 0x08 {
		t.Errorf("guest-written hour %#x not kept while SET", v)
	}
	g.clk.AdvanceTo(25 * sec1S / 4) // 6.25 s
	g.wr(0x0B, 0x02)
	if tm := g.r.GetTime(); tm != 1749974400 { // 2025-06-15 08:00:00
		t.Fatalf("after SET 1→0: %d, want 1749974400", tm)
	}
	g.clk.AdvanceTo(25*sec1S/4 + sec1S - 1)
	if tm := g.r.GetTime(); tm != 1749974400 {
		t.Errorf("0.99 s later: %d", tm)
	}
	g.clk.AdvanceTo(25*sec1S/4 + sec1S)
	if tm := g.r.GetTime(); tm != 1749974401 {
		t.Errorf("1 s later: %d", tm)
	}
}

// §7.3, §12 item 6: clearing SET over fields that are not a date fails the
// access (EIO) and leaves the time broken; valid edge dates pass.
// Rows: §7.3 row "reg B SET 1->0: parse fields; invalid EIO and broken";
// §12.6 row "invalid date programming EIO";
func TestDateValidation(t *testing.T) {
	type f = map[uint8]uint8
	base := f{0x00: 0x00, 0x02: 0x00, 0x04: 0x00, 0x07: 0x01, 0x08: 0x01, 0x09: 0x24, 0x32: 0x20}
	cases := []struct {
		name  string
		regB  uint8 // format while SET (SET bit added)
		patch f
		want  int64 // BrokenTime for EIO
	}{
		{"valid 2024-01-01", 0x02, f{}, 1704067200},
		{"sec 60", 0x02, f{0x00: 0x60}, BrokenTime},
		{"sec BCD digit A", 0x02, f{0x00: 0x5A}, BrokenTime},
		{"min 60", 0x02, f{0x02: 0x60}, BrokenTime},
		{"hour 24", 0x02, f{0x04: 0x24}, BrokenTime},
		{"day 0", 0x02, f{0x07: 0x00}, BrokenTime},
		{"day 32", 0x02, f{0x07: 0x32}, BrokenTime},
		{"month 0", 0x02, f{0x08: 0x00}, BrokenTime},
		{"month 13", 0x02, f{0x08: 0x13}, BrokenTime},
		{"Feb 30", 0x02, f{0x07: 0x30, 0x08: 0x02}, BrokenTime},
		{"Feb 29 2023", 0x02, f{0x07: 0x29, 0x08: 0x02, 0x09: 0x23}, BrokenTime},
		{"Feb 29 2024", 0x02, f{0x07: 0x29, 0x08: 0x02}, 1709164800},
		{"Feb 29 2100", 0x02, f{0x07: 0x29, 0x08: 0x02, 0x09: 0x00, 0x32: 0x21}, BrokenTime},
		{"Feb 29 2000", 0x02, f{0x07: 0x29, 0x08: 0x02, 0x09: 0x00}, 951782400},
		{"Apr 31", 0x02, f{0x07: 0x31, 0x08: 0x04}, BrokenTime},
		{"1969", 0x02, f{0x09: 0x69, 0x32: 0x19}, BrokenTime},
		{"1970-01-01", 0x02, f{0x09: 0x70, 0x32: 0x19}, 0},
		{"century digit", 0x02, f{0x32: 0x2A}, BrokenTime},
		{"day of week ignored", 0x02, f{0x06: 0x99}, 1704067200},
		{"12h: hour 0", 0x00, f{0x04: 0x00}, BrokenTime},
		{"12h: hour 13", 0x00, f{0x04: 0x13}, BrokenTime},
		{"12h: 12 AM", 0x00, f{0x04: 0x12}, 1704067200},
		{"12h: 12 PM", 0x00, f{0x04: 0x92}, 1704067200 + 12*3600},
		{"12h: 1 PM", 0x00, f{0x04: 0x81}, 1704067200 + 13*3600},
		{"12h: PM bit on 0", 0x00, f{0x04: 0x80}, BrokenTime},
		{"24h: PM bit is not stripped", 0x02, f{0x04: 0x81}, BrokenTime},
		{"binary: valid", 0x06, f{0x09: 24, 0x32: 20}, 1704067200},
		{"binary: year 100", 0x06, f{0x09: 100, 0x32: 20}, BrokenTime},
		{"binary: year 10000 (hardening)", 0x06, f{0x09: 0, 0x32: 100}, BrokenTime},
	}
	for _, c := range cases {
		g := newRig(t, 0)
		g.wr(0x0B, 0x80|c.regB)
		for off, v := range base {
			if c.regB&0x04 != 0 && off != 0x00 && off != 0x02 && off != 0x04 {
				v = v>>4*10 + v&0xF // the base date in binary
			}
			g.wr(off, v)
		}
		for off, v := range c.patch {
			g.wr(off, v)
		}
		err := g.wrErr(0x0B, c.regB)
		if c.want == BrokenTime {
			if !errors.Is(err, abi.EIO) {
				t.Errorf("%s: %v, want EIO", c.name, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if tm := g.r.GetTime(); tm != c.want {
			t.Errorf("%s: GetTime %d, want %d", c.name, tm, c.want)
		}
		if v := g.r.State().CMOS[0x0B]; v != c.regB {
			t.Errorf("%s: reg B %#x, want %#x stored", c.name, v, c.regB)
		}
	}
}

// A broken time stays frozen: the guest's fields are not rewritten.
// Rows: §7.2 row "time runs only with divider 010, SET clear, not broken";
func TestBrokenTimeFrozen(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0B, 0x82)
	g.wr(0x00, 0x61) // invalid seconds
	if err := g.wrErr(0x0B, 0x02); !errors.Is(err, abi.EIO) {
		t.Fatalf("%v", err)
	}
	g.clk.AdvanceTo(100 * sec1S)
	if v := g.rd(0x00); v != 0x61 {
		t.Fatalf("sec %#x, want the guest's 0x61 kept", v)
	}
	if err := g.r.SetTime(leapNoon); err != nil { // the control plane repairs it
		t.Fatal(err)
	}
	if v := g.rd(0x00); v != 0x56 {
		t.Fatalf("sec after SetTime %#x, want 0x56", v)
	}
}

// §7.3: writing the century while running re-parses the time at once;
// an invalid result is EIO and a broken time. While SET it is just stored.
// Rows: §7.3 row "century write while running re-parses (invalid EIO)";
// §12.6 row "invalid date programming EIO";
func TestCenturyWrite(t *testing.T) {
	g := newRig(t, 946684800) // 2000-01-01 00:00:00
	g.clk.AdvanceTo(sec1S / 2)
	g.wr(0x32, 0x21)
	if tm := g.r.GetTime(); tm != 4102444800 { // 2100-01-01 00:00:00
		t.Fatalf("after century 0x21: %d, want 4102444800", tm)
	}
	if err := g.wrErr(0x32, 0x19); !errors.Is(err, abi.EIO) { // 1900
		t.Fatalf("century 0x19: %v, want EIO", err)
	}
	if tm := g.r.GetTime(); tm != -1 {
		t.Fatalf("GetTime %d, want -1", tm)
	}
	h := newRig(t, 946684800)
	h.wr(0x0B, 0x82)
	if err := h.wrErr(0x32, 0x19); err != nil {
		t.Fatalf("century while SET: %v", err)
	}
}

// §7.3/§7.4: writes to reg C and D are ignored; reg D reads 0x80; bit 7 of
// the seconds byte is read-only; NVRAM bytes are stored raw.
// Rows: §7.1 row "layout: time fields, alarms, regs A-D, NVRAM, century 0x32";
// §7.3 row "reg C, reg D writes ignored"; §7.3 row "0x00 bit 7 cleared";
// §7.3 row "other offsets stored raw; running time fields overwritten";
// §7.4 row "other offsets return the stored byte"; §7.4 row "reg D reads 0x80";
func TestRegistersAndNVRAM(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0C, 0xF0)
	g.wr(0x0D, 0x00)
	if v := g.rd(0x0C); v != 0 {
		t.Errorf("reg C %#x", v)
	}
	if v := g.rd(0x0D); v != 0x80 {
		t.Errorf("reg D %#x, want 0x80", v)
	}
	g.wr(0x0B, 0x82)
	g.wr(0x00, 0xD9)
	if v := g.rd(0x00); v != 0x59 {
		t.Errorf("sec %#x, want 0x59", v)
	}
	for _, off := range []uint8{0x0E, 0x31, 0x33, 0x7F} {
		g.wr(off, off^0xA5)
		if v := g.rd(off); v != off^0xA5 {
			t.Errorf("NVRAM %#x reads %#x", off, v)
		}
	}
	// Alarm bytes are plain storage.
	g.wr(0x01, 0xC3)
	if v := g.rd(0x01); v != 0xC3 {
		t.Errorf("alarm sec %#x", v)
	}
}

// §7.5 periodic rates: one callout per period, the period from RS per the
// MC146818A table; IRQ 8 on each when the guest reads reg C in between.
// Rows: §7.3 row "reg A: rate/divider changes re-evaluate the callout";
// §7.4 row "reg C read returns and clears flags"; §7.5 row "periodic rates table";
// §7.5 row "callout relative"; §7.5 row "callout: PIE sets PF; AIE/UIE advance time";
func TestPeriodicRates(t *testing.T) {
	periods := []vclock.SBT{0, 16777216, 33554432, 524288, 1048576, 2097152, 4194304,
		8388608, 16777216, 33554432, 67108864, 134217728, 268435456, 536870912,
		1073741824, 2147483648}
	for rs := 0; rs < 16; rs++ {
		g := newRig(t, leapNoon)
		const t0 = 12345
		g.clk.AdvanceTo(t0)
		g.wr(0x0A, 0x20|uint8(rs))
		g.wr(0x0B, 0x42) // PIE
		if rs == 0 {
			if _, ok := g.clk.Next(); ok {
				t.Errorf("rate 0: callout armed")
			}
			continue
		}
		p := periods[rs]
		var want []vclock.SBT
		for k := vclock.SBT(1); k <= 4; k++ {
			g.runTo(t0 + k*p)
			if v := g.rd(0x0C); v != 0xC0 {
				t.Errorf("rate %d period %d: reg C %#x, want 0xC0", rs, k, v)
			}
			want = append(want, t0+k*p)
		}
		if !reflect.DeepEqual(g.irqs, want) {
			t.Errorf("rate %d: IRQ 8 at %v, want %v", rs, g.irqs, want)
		}
	}
}

// §7.5: IRQF only rises once until reg C is read; PF keeps being set.
// Rows: §7.4 row "reg C read returns and clears flags";
// §7.5 row "IRQF iff enabled flag; IRQ on IRQF 0->1 only";
func TestNoReadNoSecondInterrupt(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0A, 0x2F) // 2 Hz
	g.wr(0x0B, 0x42)
	g.runTo(5 * sec1S)
	if want := []vclock.SBT{sec1S / 2}; !reflect.DeepEqual(g.irqs, want) {
		t.Fatalf("IRQ 8 at %v, want %v", g.irqs, want)
	}
	if v := g.rd(0x0C); v != 0xC0 {
		t.Fatalf("reg C %#x", v)
	}
	if v := g.rd(0x0C); v != 0x00 {
		t.Fatalf("reg C after read %#x, want 0 (read clears)", v)
	}
}

// §7.5: callout period choice — PIE with rate 0 stops even the 1 s
// update callout; no callout with the divider off or SET on.
// Rows: §7.3 row "reg A: rate/divider changes re-evaluate the callout";
// §7.3 row "reg B enable changes re-evaluate IRQF and the callout";
// §7.5 row "callout period: PIE rate, else 1 s with AIE/UIE, else stopped";
func TestCalloutChoice(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0A, 0x20) // rate 0
	g.wr(0x0B, 0x72) // PIE|AIE|UIE
	if _, ok := g.clk.Next(); ok {
		t.Error("PIE with rate 0: callout armed")
	}
	g.wr(0x0B, 0x32) // AIE|UIE: 1 s
	if at, ok := g.clk.Next(); !ok || at != sec1S {
		t.Errorf("AIE|UIE: next %d %v, want %d", at, ok, sec1S)
	}
	g.wr(0x0A, 0x70) // divider off: stops
	if _, ok := g.clk.Next(); ok {
		t.Error("divider off: callout armed")
	}
	g.wr(0x0A, 0x20)
	g.wr(0x0B, 0xB2) // SET: updates halted, UIE cleared, AIE not enough
	if _, ok := g.clk.Next(); ok {
		t.Error("SET: callout armed")
	}
}

// §7.5 update-ended interrupts: with UIE, UF and IRQ 8 once a second,
// one second after the UIE write (the callout is relative).
// Rows: §7.3 row "reg B enable changes re-evaluate IRQF and the callout";
// §7.5 row "flags raised only while enabled; disabling keeps the flag, drops IRQF";
// §7.5 row "callout relative"; §7.5 row "callout: PIE sets PF; AIE/UIE advance time";
// §7.5 row "UF when UIE and the time changed";
func TestUpdateInterrupts(t *testing.T) {
	g := newRig(t, leapNoon)
	g.clk.AdvanceTo(sec1S / 4)
	g.wr(0x0B, 0x12)
	var want []vclock.SBT
	for k := vclock.SBT(1); k <= 5; k++ {
		g.runTo(sec1S/4 + k*sec1S)
		if v := g.rd(0x0C); v != 0x90 {
			t.Errorf("second %d: reg C %#x, want 0x90", k, v)
		}
		want = append(want, sec1S/4+k*sec1S)
	}
	if !reflect.DeepEqual(g.irqs, want) {
		t.Fatalf("IRQ 8 at %v, want %v", g.irqs, want)
	}
	if tm := g.r.GetTime(); tm != leapNoon+5 {
		t.Fatalf("time %d", tm)
	}
	// Clearing UIE keeps UF but drops IRQF.
	g.runTo(sec1S/4 + 6*sec1S)
	g.wr(0x0B, 0x02)
	if v := g.rd(0x0C); v != 0x10 {
		t.Fatalf("reg C after UIE off %#x, want 0x10", v)
	}
}

// §7.5 alarm: AF when sec/min/hour equal the alarm bytes (0xC0+ = don't
// care); flags are raised only while their enable bit is on.
// Rows: §7.5 row "flags raised only while enabled; disabling keeps the flag, drops IRQF";
// §7.5 row "alarm: per-second walk, equal or don't care 0xC0";
func TestAlarm(t *testing.T) {
	g := newRig(t, leapNoon) // 12:34:56
	g.wr(0x01, 0x00)
	g.wr(0x03, 0x35)
	g.wr(0x05, 0x12)
	g.wr(0x0B, 0x22) // AIE
	g.runTo(10 * sec1S)
	if want := []vclock.SBT{4 * sec1S}; !reflect.DeepEqual(g.irqs, want) {
		t.Fatalf("alarm IRQ at %v, want %v", g.irqs, want)
	}
	if v := g.rd(0x0C); v != 0xA0 {
		t.Fatalf("reg C %#x, want 0xA0", v)
	}
	// Don't care in all three: every second.
	g.wr(0x01, 0xC0)
	g.wr(0x03, 0xFF)
	g.wr(0x05, 0xC5)
	g.irqs = nil
	for k := vclock.SBT(11); k <= 13; k++ {
		g.runTo(k * sec1S)
		g.rd(0x0C)
	}
	if want := []vclock.SBT{11 * sec1S, 12 * sec1S, 13 * sec1S}; !reflect.DeepEqual(g.irqs, want) {
		t.Fatalf("don't-care alarm at %v, want %v", g.irqs, want)
	}
	// AIE off: passing the alarm time sets nothing.
	h := newRig(t, leapNoon)
	h.wr(0x01, 0x00)
	h.wr(0x03, 0x35)
	h.wr(0x05, 0x12)
	h.clk.AdvanceTo(10 * sec1S)
	if v := h.rd(0x0C); v != 0 || h.irqs != nil {
		t.Fatalf("AIE off: reg C %#x irqs %v", v, h.irqs)
	}
}

// §7.6 VM_RTC_SETTIME / GETTIME: EBUSY while SET (unless the value equals
// the broken base), −1 marks the time broken, hardening EINVAL.
// Rows: §7.6 row "VM_RTC_SETTIME EBUSY while SET; -1 broken";
// §7.6 row "VM_RTC_GETTIME -1 if broken/halted"; §12.6 row "SETTIME while SET EBUSY";
func TestSetTime(t *testing.T) {
	g := newRig(t, leapNoon)
	g.clk.AdvanceTo(sec1S / 3)
	if err := g.r.SetTime(1000); err != nil {
		t.Fatal(err)
	}
	g.clk.AdvanceTo(sec1S/3 + sec1S)
	if tm := g.r.GetTime(); tm != 1001 {
		t.Fatalf("GetTime %d, want 1001", tm)
	}
	if err := g.r.SetTime(-1); err != nil {
		t.Fatal(err)
	}
	if tm := g.r.GetTime(); tm != -1 {
		t.Fatalf("GetTime %d, want -1", tm)
	}
	for _, bad := range []int64{-2, MaxTime + 1} {
		if err := g.r.SetTime(bad); err != abi.EINVAL {
			t.Errorf("SetTime(%d): %v, want EINVAL", bad, err)
		}
	}
	g.r.SetTime(leapNoon)
	g.wr(0x0B, 0x82)
	if err := g.r.SetTime(5); err != abi.EBUSY {
		t.Fatalf("SetTime while SET: %v, want EBUSY", err)
	}
	if err := g.r.SetTime(-1); err != nil {
		t.Fatalf("SetTime(-1) while SET: %v, want nil (equals the broken base)", err)
	}
}

// §7.6: a SETTIME with AIE on walks the seconds for alarm matches.
// Rows: §7.5 row "alarm: per-second walk, equal or don't care 0xC0";
// §7.6 row "VM_RTC_SETTIME with AIE walks seconds; backward guarded";
func TestAlarmWalk(t *testing.T) {
	g := newRig(t, leapNoon) // 12:34:56
	g.wr(0x01, 0x00)
	g.wr(0x03, 0x35)
	g.wr(0x05, 0x12)
	g.wr(0x0B, 0x22)
	if err := g.r.SetTime(leapNoon + 3600); err != nil {
		t.Fatal(err)
	}
	if len(g.irqs) != 1 {
		t.Fatalf("walk past 12:35:00: %d interrupts, want 1", len(g.irqs))
	}
	if f := g.fields(); f != [8]uint8{0x56, 0x34, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20} {
		t.Fatalf("fields after the walk % x", f)
	}
	// An alarm that never matches (sec 0x60): a 10-year walk ends, with
	// the fields at the new time and no AF.
	h := newRig(t, leapNoon)
	h.wr(0x01, 0x60)
	h.wr(0x0B, 0x22)
	if err := h.r.SetTime(leapNoon + 10*365*86400); err != nil {
		t.Fatal(err)
	}
	if v := h.rd(0x0C); v != 0 || h.irqs != nil {
		t.Fatalf("reg C %#x irqs %v", v, h.irqs)
	}
	if tm := h.r.GetTime(); tm != leapNoon+10*365*86400 {
		t.Fatalf("GetTime %d", tm)
	}
}

// §7.6, §12 item 6 (guarded): a backward SETTIME with AIE on ends (bhyve
// would walk forever); the alarm is found as bhyve's endless walk would.
// Rows: §7.6 row "VM_RTC_SETTIME with AIE walks seconds; backward guarded";
// §12.6 row "SETTIME backwards with AIE endless walk (guarded)";
func TestAlarmWalkBackwardTerminates(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x01, 0x00)
	g.wr(0x03, 0x00)
	g.wr(0x05, 0x03) // 03:00:00
	g.wr(0x0B, 0x22)
	if err := g.r.SetTime(1000); err != nil {
		t.Fatal(err)
	}
	if tm := g.r.GetTime(); tm != 1000 {
		t.Fatalf("GetTime %d, want 1000", tm)
	}
	if v := g.rd(0x0C); v != 0xA0 || len(g.irqs) != 1 {
		t.Fatalf("reg C %#x irqs %v, want AF and one IRQ", v, g.irqs)
	}
}

// §7.6 VM_RTC_READ / VM_RTC_WRITE offset rules
// (reference/vmm-interface.md §2.1).
// Rows: §7.1 row "layout: time fields, alarms, regs A-D, NVRAM, century 0x32";
// §7.6 row "VM_RTC_READ 0-127, refreshes time fields";
// §7.6 row "VM_RTC_WRITE refused for 0x00-0x0D, 0x32, >= 128";
func TestNVRAMIoctls(t *testing.T) {
	g := newRig(t, leapNoon)
	for _, off := range []int{-1, 128, 1000} {
		if _, err := g.r.NVRAMRead(off); err != abi.EINVAL {
			t.Errorf("NVRAMRead(%d): %v", off, err)
		}
	}
	for off := 0; off < 128; off++ {
		if _, err := g.r.NVRAMRead(off); err != nil {
			t.Errorf("NVRAMRead(%d): %v", off, err)
		}
		err := g.r.NVRAMWrite(off, 0x5A)
		refused := off < 14 || off == 0x32
		if refused != (err == abi.EINVAL) || (!refused && err != nil) {
			t.Errorf("NVRAMWrite(%#x): %v", off, err)
		}
		if !refused {
			if v, _ := g.r.NVRAMRead(off); v != 0x5A {
				t.Errorf("NVRAMRead(%#x) = %#x after write", off, v)
			}
		}
	}
	for _, off := range []int{-1, 128} {
		if err := g.r.NVRAMWrite(off, 0); err != abi.EINVAL {
			t.Errorf("NVRAMWrite(%d): %v", off, err)
		}
	}
	g.clk.AdvanceTo(3 * sec1S)
	if v, _ := g.r.NVRAMRead(0); v != 0x59 {
		t.Errorf("NVRAMRead(0) %#x, want refreshed 0x59", v)
	}
	if v, _ := g.r.NVRAMRead(0x32); v != 0x20 {
		t.Errorf("NVRAMRead(0x32) %#x", v)
	}
	g.wr(0x0B, 0x12)
	g.runTo(4 * sec1S)
	if v, _ := g.r.NVRAMRead(0x0C); v != 0x90 {
		t.Errorf("NVRAMRead(0x0C) %#x, want 0x90", v)
	}
	if v, _ := g.r.NVRAMRead(0x0C); v != 0x90 {
		t.Errorf("NVRAMRead(0x0C) again %#x: the ioctl must not clear reg C", v)
	}
}

// §1.1: VM reset clears the interrupt enables, SQWE and reg C; time,
// format and NVRAM survive; the callout stops.
// Rows: §1.1 row "RTC survives VM reset; vrtc_reset clears PIE/AIE/UIE, SQWE, reg C";
// §7.6 row "VM reset keeps time and NVRAM";
func TestReset(t *testing.T) {
	g := newRig(t, leapNoon)
	g.r.NVRAMWrite(0x40, 0x77)
	g.wr(0x0A, 0x26)
	g.wr(0x0B, 0x7E) // PIE|AIE|UIE|SQWE|DM|24
	g.runTo(sec1S / 1024)
	g.r.Reset()
	if v := g.rd(0x0B); v != 0x06 {
		t.Errorf("reg B %#x, want 0x06", v)
	}
	if v := g.rd(0x0C); v != 0 {
		t.Errorf("reg C %#x", v)
	}
	if _, ok := g.clk.Next(); ok {
		t.Error("callout still armed")
	}
	if v, _ := g.r.NVRAMRead(0x40); v != 0x77 {
		t.Error("NVRAM lost")
	}
	if tm := g.r.GetTime(); tm != leapNoon {
		t.Errorf("time %d", tm)
	}
}

// §12 item 5 (fixed since FreeBSD 12): polling every 0.6 s for a minute
// advances the clock by 60 s. The pre-2018 re-basing would give 50.
// Rows: §7.2 row "whole-second aligned base"; §12.5 row "RTC drift under polling (fixed)";
func TestPollingDoesNotDrift(t *testing.T) {
	g := newRig(t, 0)
	for i := 1; i <= 100; i++ {
		g.clk.AdvanceTo(vclock.SBT(i) * 6 * sec1S / 10)
		g.rd(0x00)
	}
	if tm := g.r.GetTime(); tm != 60 {
		t.Fatalf("after 100 polls at 0.6 s: %d s, want 60", tm)
	}
	if v := g.rd(0x02); v != 0x01 {
		t.Fatalf("minutes %#x, want 0x01", v)
	}
}

// Snapshot round trip: a restored RTC continues the callout and the time.
func TestStateRoundTrip(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0B, 0x12)
	g.runTo(sec1S + sec1S/2)
	st := g.r.State()
	g.r.Close()
	h := &rig{t: t, clk: g.clk}
	r, _ := New(g.clk, 0, func() { h.irqs = append(h.irqs, h.clk.Now()) })
	h.r = r
	if err := r.SetState(st); err != nil {
		t.Fatal(err)
	}
	h.rd(0x0C)
	h.runTo(3 * sec1S)
	// UF rises at 2 s (reg C was read after the restore); at 3 s UF is
	// still pending, so no second interrupt.
	if want := []vclock.SBT{2 * sec1S}; !reflect.DeepEqual(h.irqs, want) {
		t.Fatalf("restored IRQ 8 at %v, want %v", h.irqs, want)
	}
	if tm := r.GetTime(); tm != leapNoon+3 {
		t.Fatalf("restored time %d", tm)
	}
	if err := r.SetState(State{Addr: 128}); err != abi.EINVAL {
		t.Fatalf("bad state: %v", err)
	}
}

// Two identical runs give identical interrupt traces and reads.
func TestDeterministicTrace(t *testing.T) {
	run := func() []int64 {
		g := newRig(t, leapNoon)
		var trace []int64
		g.wr(0x0A, 0x2C) // 16 Hz
		g.wr(0x0B, 0x72)
		g.wr(0x01, 0xC0)
		g.wr(0x03, 0xC0)
		g.wr(0x05, 0xC0)
		for i := 1; i <= 80; i++ {
			g.runTo(vclock.SBT(i) * 77777777)
			trace = append(trace, int64(g.rd(0x0C)), int64(g.rd(0x00)))
			if i == 40 {
				g.wr(0x0A, 0x26)
			}
		}
		for _, at := range g.irqs {
			trace = append(trace, int64(at))
		}
		return trace
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) || len(a) < 200 {
		t.Fatalf("traces differ or short (%d)", len(a))
	}
}

// vCPUs and the control plane call in concurrently while the clock fires
// callouts: no race, no deadlock (run with -race).
func TestConcurrent(t *testing.T) {
	clk := vclock.New(vclock.Virtual)
	var mu sync.Mutex
	n := 0
	r, _ := New(clk, leapNoon, func() { mu.Lock(); n++; mu.Unlock() })
	r.Out(0x70, 1, 0x0A)
	r.Out(0x71, 1, 0x26)
	r.Out(0x70, 1, 0x0B)
	r.Out(0x71, 1, 0x72)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r.Out(0x70, 1, uint32(i%14))
				r.In(0x71, 1)
				r.NVRAMRead(i % 128)
				r.GetTime()
				if w == 0 && i%100 == 0 {
					r.SetTime(leapNoon + int64(i))
				}
			}
		}(w)
	}
	for i := 1; i <= 2000; i++ {
		clk.AdvanceTo(vclock.SBT(i) * 1000000)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if n == 0 {
		t.Fatal("no interrupts")
	}
}

// VM_RTC_SETTIME(−1) does not touch the callout; the next callout finds no
// period (updates disabled) and stops, as a non-INVARIANTS bhyve does; a
// later valid SETTIME does not restart it until the guest writes reg A/B.
func TestSetTimeBrokenStopsCallout(t *testing.T) {
	g := newRig(t, leapNoon)
	g.wr(0x0B, 0x12) // UIE: 1 s callout
	if err := g.r.SetTime(-1); err != nil {
		t.Fatal(err)
	}
	if at, ok := g.clk.Next(); !ok || at != sec1S {
		t.Fatalf("callout %d %v, want still armed at 1 s", at, ok)
	}
	g.runTo(3 * sec1S)
	if _, ok := g.clk.Next(); ok || g.irqs != nil {
		t.Fatalf("callout survived a broken time; irqs %v", g.irqs)
	}
	g.r.SetTime(leapNoon)
	if _, ok := g.clk.Next(); ok {
		t.Fatal("SETTIME restarted the callout")
	}
	g.wr(0x0B, 0x02)
	g.wr(0x0B, 0x12)
	if at, ok := g.clk.Next(); !ok || at != 4*sec1S {
		t.Fatalf("after reg B rewrite: %d %v, want 4 s", at, ok)
	}
}
