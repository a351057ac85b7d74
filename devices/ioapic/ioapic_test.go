package ioapic

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"softvmm/emu/abi"
)

// Expected values are literals from reference/vmm-devices.md §3 ("ref")
// and the 82093AA IOAPIC datasheet ("DS"), not from the code under test.

type rec struct {
	mu    sync.Mutex
	trace []string
	tmr   int
}

func (r *rec) deliver(dest uint32, phys bool, delmode uint32, vector uint8, level bool) {
	r.mu.Lock()
	r.trace = append(r.trace, fmt.Sprintf("dest=%#x phys=%v mode=%#x vec=%#x level=%v", dest, phys, delmode, vector, level))
	r.mu.Unlock()
}

func (r *rec) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.trace
	r.trace = nil
	return t
}

func newIO() (*IOAPIC, *rec) {
	r := &rec{}
	var io *IOAPIC
	io = New(r.deliver, func() {
		io.LevelRoutes() // must not deadlock: called without the lock
		r.mu.Lock()
		r.tmr++
		r.mu.Unlock()
	})
	return io, r
}

func sel(t *testing.T, io *IOAPIC, reg uint32) {
	t.Helper()
	if err := io.Write(OffIOREGSEL, 4, uint64(reg)); err != nil {
		t.Fatal(err)
	}
}

func rdReg(t *testing.T, io *IOAPIC, reg uint32) uint32 {
	t.Helper()
	sel(t, io, reg)
	v, err := io.Read(OffIOWIN, 4)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

func wrReg(t *testing.T, io *IOAPIC, reg, v uint32) {
	t.Helper()
	sel(t, io, reg)
	if err := io.Write(OffIOWIN, 4, uint64(v)); err != nil {
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

// ref §3.2: reset values of every indirect register.
// Rows: §3.2 row "ID"; §3.2 row "VER"; §3.2 row "ARB"; §3.2 row "RTE n low";
// §3.2 row "RTE n high"; §3.2 row "other index"; §3.2 row "pin count 32";
// §3.2 row "RTE reset 0x00010000_00010000"; §12.14 row "version 0x11 without EOI register";
// §12.14 row "RTE high dword resets to 0x00010000";
func TestResetValues(t *testing.T) {
	io, _ := newIO()
	if v, _ := io.Read(OffIOREGSEL, 4); v != 0 {
		t.Fatalf("IOREGSEL = %#x", v)
	}
	want := map[uint32]uint32{0x00: 0, 0x01: 0x001F0011, 0x02: 0}
	for n := uint32(0); n < 32; n++ {
		want[0x10+2*n] = 0x00010000
		want[0x11+2*n] = 0x00010000
	}
	for reg := uint32(0); reg < 0x100; reg++ {
		if got := rdReg(t, io, reg); got != want[reg] {
			t.Errorf("reg %#x = %#08x, want %#08x", reg, got, want[reg])
		}
	}
	if io.PinCount() != 32 {
		t.Fatal("pin count")
	}
}

// ref §3.1: only 4-byte accesses to 0x00 and 0x10 do anything; no EOI
// register at 0x40; no errors.
// Rows: §3.1 row "only 4-byte at 0x00/0x10; others ignored, read 0, no error";
// §3.1 row "IOREGSEL stores 32 bits, index is the low 8"; §3.1 row "no EOI register at 0x40";
// §12.14 row "version 0x11 without EOI register";
func TestAccessRules(t *testing.T) {
	io, r := newIO()
	wrReg(t, io, 0x00, 0x0F000000)
	for _, c := range []struct {
		off  uint32
		size int
	}{{0x00, 1}, {0x00, 2}, {0x00, 8}, {0x10, 1}, {0x10, 2}, {0x10, 8}, {0x04, 4}, {0x14, 4}, {0x20, 4}, {0x40, 4}, {0xFFC, 4}} {
		if err := io.Write(c.off, c.size, 0x01); err != nil {
			t.Fatalf("Write(%#x,%d) = %v", c.off, c.size, err)
		}
		if v, err := io.Read(c.off, c.size); err != nil || v != 0 {
			t.Fatalf("Read(%#x,%d) = %#x, %v", c.off, c.size, v, err)
		}
	}
	if rdReg(t, io, 0x00) != 0x0F000000 {
		t.Fatal("an ignored access changed ID")
	}
	// IOREGSEL keeps all 32 bits; the register index is its low byte.
	sel(t, io, 0xDEADBE01)
	if v, _ := io.Read(OffIOREGSEL, 4); v != 0xDEADBE01 {
		t.Fatalf("IOREGSEL = %#x", v)
	}
	if v, _ := io.Read(OffIOWIN, 4); v != 0x001F0011 {
		t.Fatalf("IOWIN via 0xDEADBE01 = %#x, want the version", v)
	}
	// A write to 0x40 is not an EOI: remote IRR stays.
	wrReg(t, io, 0x10, 0x0000A030) // level, active low, vector 0x30, unmasked
	io.AssertIRQ(0)
	r.take()
	io.Write(0x40, 4, 0x30)
	if rdReg(t, io, 0x10)&RTERemoteIRR == 0 {
		t.Fatal("write to 0x40 acted as an EOI")
	}
}

// ref §3.2: ID, VER, ARB and RTE write rules.
// Rows: §3.2 row "ID"; §3.2 row "VER"; §3.2 row "ARB"; §3.2 row "RTE n low";
// §3.2 row "RTE n high"; §3.2 row "delivery status RO 0"; §3.2 row "reserved bits stored";
func TestRegisterWrites(t *testing.T) {
	io, _ := newIO()
	wrReg(t, io, 0x00, 0xFFFFFFFF)
	if rdReg(t, io, 0x00) != 0xFF000000 || rdReg(t, io, 0x02) != 0xFF000000 {
		t.Fatal("ID/ARB")
	}
	wrReg(t, io, 0x01, 0)
	wrReg(t, io, 0x02, 0)
	if rdReg(t, io, 0x01) != 0x001F0011 || rdReg(t, io, 0x02) != 0xFF000000 {
		t.Fatal("VER/ARB writable")
	}
	// RTE: everything stored except delivery status (12) and remote IRR (14).
	wrReg(t, io, 0x3E, 0xFFFFFFFF) // pin 23 low
	wrReg(t, io, 0x3F, 0xFFFFFFFF)
	if lo, hi := rdReg(t, io, 0x3E), rdReg(t, io, 0x3F); lo != 0xFFFFAFFF || hi != 0xFFFFFFFF {
		t.Fatalf("RTE 23 = %#x:%#x, want 0xFFFFFFFF:0xFFFFAFFF", hi, lo)
	}
	wrReg(t, io, 0x4F, 0x12345678) // pin 31 high
	if rdReg(t, io, 0x4F) != 0x12345678 || rdReg(t, io, 0x4E) != 0x00010000 {
		t.Fatal("RTE 31")
	}
	wrReg(t, io, 0x50, 0xFFFFFFFF) // beyond pin 31: nothing
	if rdReg(t, io, 0x50) != 0 {
		t.Fatal("register 0x50")
	}
}

// ref §3.4: edge pins, the assertion count, masking, out-of-range pins.
// Rows: §3.3 row "unmasked, remote IRR clear, asserted: deliver now";
// §3.4 row "acnt counts, may go negative";
// §3.4 row "deliver on acnt 0->1 only; deassert nothing; pulse"; §3.4 row "masked: event lost";
// §3.4 row "delivery: level flag = trigger, mode from RTE, polarity ignored";
// §3.4 row "irq outside 0..31 EINVAL"; §12.14 row "NMI/SMI/INIT RTE modes dropped";
// §12.14 row "polarity ignored";
func TestEdgeDelivery(t *testing.T) {
	io, r := newIO()
	wrReg(t, io, 0x15, 0x05000000) // pin 2: dest 5
	wrReg(t, io, 0x14, 0x00000131) // lowest priority, physical, vector 0x31
	io.AssertIRQ(2)
	io.AssertIRQ(2) // count 2: no new edge
	io.DeassertIRQ(2)
	io.DeassertIRQ(2)
	io.PulseIRQ(2)
	eq(t, r.take(), []string{
		"dest=0x5 phys=true mode=0x100 vec=0x31 level=false",
		"dest=0x5 phys=true mode=0x100 vec=0x31 level=false",
	})
	if rdReg(t, io, 0x14)&RTERemoteIRR != 0 {
		t.Fatal("edge pin set remote IRR")
	}
	// Masked: the edge is lost, unless the line is still held when the
	// pin is unmasked (then the RTE write delivers, edge pins too).
	wrReg(t, io, 0x14, 0x00010131)
	io.PulseIRQ(2)
	io.AssertIRQ(2)
	eq(t, r.take(), nil)
	wrReg(t, io, 0x14, 0x00000131)
	eq(t, r.take(), []string{"dest=0x5 phys=true mode=0x100 vec=0x31 level=false"})
	io.DeassertIRQ(2)
	// A deassert below zero goes negative; the next assert (→0) is silent.
	io.DeassertIRQ(2)
	io.AssertIRQ(2)
	eq(t, r.take(), nil)
	if io.State().ACnt[2] != 0 {
		t.Fatalf("acnt %d", io.State().ACnt[2])
	}
	// Logical destination, NMI and ExtINT modes pass through unchanged
	// (the LAPIC side drops NMI/SMI/INIT, ref §2.10); polarity is ignored.
	wrReg(t, io, 0x17, 0x0F000000)
	wrReg(t, io, 0x16, 0x00002C40) // pin 3: active low, logical, NMI, vector 0x40
	io.PulseIRQ(3)
	wrReg(t, io, 0x16, 0x00000740) // ExtINT, physical
	io.PulseIRQ(3)
	eq(t, r.take(), []string{
		"dest=0xf phys=false mode=0x400 vec=0x40 level=false",
		"dest=0xf phys=true mode=0x700 vec=0x40 level=false",
	})
	for _, p := range []int{-1, 32, 1000} {
		if io.AssertIRQ(p) != abi.EINVAL || io.DeassertIRQ(p) != abi.EINVAL || io.PulseIRQ(p) != abi.EINVAL {
			t.Fatalf("pin %d not EINVAL", p)
		}
	}
}

// ref §3.3, §3.4: level pins, remote IRR and EOI.
// Rows: §3.2 row "remote IRR RO"; §3.3 row "merge keeps remote IRR and delivery status";
// §3.3 row "unmasked, remote IRR clear, asserted: deliver now";
// §3.4 row "remote IRR not consulted on assertion"; §3.4 row "level: set remote IRR";
// §3.4 row "EOI broadcast"; §12.14 row "remote IRR not checked on a new assertion";
func TestLevelRemoteIRRAndEOI(t *testing.T) {
	io, r := newIO()
	wrReg(t, io, 0x21, 0x01000000) // pin 8: dest 1
	wrReg(t, io, 0x20, 0x00008038) // level, fixed, vector 0x38
	io.AssertIRQ(8)
	want := "dest=0x1 phys=true mode=0x0 vec=0x38 level=true"
	eq(t, r.take(), []string{want})
	if rdReg(t, io, 0x20) != 0x0000C038 {
		t.Fatalf("RTE low = %#x, want remote IRR (bit 14) set", rdReg(t, io, 0x20))
	}
	// Remote IRR survives RTE writes and cannot be written.
	wrReg(t, io, 0x20, 0x00008038)
	if rdReg(t, io, 0x20) != 0x0000C038 {
		t.Fatal("remote IRR lost on rewrite")
	}
	wrReg(t, io, 0x20, 0x00000038|RTELevel&^RTERemoteIRR)
	eq(t, r.take(), nil) // asserted but remote IRR set: no delivery at RTE write
	// EOI of another vector: nothing.
	io.EOI(0x39)
	eq(t, r.take(), nil)
	// EOI with the line still asserted: cleared, then delivered again.
	io.EOI(0x38)
	eq(t, r.take(), []string{want})
	if rdReg(t, io, 0x20)&RTERemoteIRR == 0 {
		t.Fatal("remote IRR not set again")
	}
	// Remote IRR is not consulted on a new assertion (§12 #14).
	io.DeassertIRQ(8)
	io.AssertIRQ(8)
	eq(t, r.take(), []string{want})
	// Deasserted, then EOI: cleared, no delivery.
	io.DeassertIRQ(8)
	io.EOI(0x38)
	eq(t, r.take(), nil)
	if rdReg(t, io, 0x20) != 0x00008038 {
		t.Fatalf("RTE low = %#x after EOI", rdReg(t, io, 0x20))
	}
	// Two pins sharing a vector are both EOIed.
	wrReg(t, io, 0x22, 0x00008038) // pin 9, same vector
	io.AssertIRQ(8)
	io.AssertIRQ(9)
	r.take()
	io.EOI(0x38)
	eq(t, r.take(), []string{want, "dest=0x0 phys=true mode=0x0 vec=0x38 level=true"})
	// A masked level pin still asserted: EOI clears remote IRR, nothing sent.
	wrReg(t, io, 0x20, 0x00018038)
	io.EOI(0x38)
	r.take()
	if rdReg(t, io, 0x20)&RTERemoteIRR != 0 {
		t.Fatal("remote IRR kept on a masked pin after EOI")
	}
	// Unmasking it (line still asserted, remote IRR clear) delivers.
	wrReg(t, io, 0x20, 0x00008038)
	eq(t, r.take(), []string{want})
}

// ref §3.3 step 2, §12 #19: the TMR rebuild follows every RTE change but
// mask or polarity; LevelRoutes lists level pins.
// Rows: §3.3 row "TMR rebuilt unless only mask/polarity changed";
// §12.19 row "TMR recomputation only on non-mask/polarity changes";
func TestUpdateTMR(t *testing.T) {
	io, r := newIO()
	calls := func() int { r.mu.Lock(); defer r.mu.Unlock(); return r.tmr }
	wrReg(t, io, 0x10, 0x00010000) // unchanged value
	wrReg(t, io, 0x10, 0x00000000) // mask only
	wrReg(t, io, 0x10, 0x00002000) // polarity only
	if calls() != 0 {
		t.Fatalf("TMR rebuilt %d times for mask/polarity changes", calls())
	}
	wrReg(t, io, 0x10, 0x00002041) // vector
	wrReg(t, io, 0x10, 0x0000A041) // trigger
	wrReg(t, io, 0x11, 0x03000000) // destination
	wrReg(t, io, 0x12, 0x00018950) // pin 1: level, logical, lowest priority, masked
	if calls() != 4 {
		t.Fatalf("TMR rebuilt %d times, want 4", calls())
	}
	got := io.LevelRoutes()
	want := []Route{
		{Pin: 0, Dest: 3, Phys: true, DelMode: 0, Vector: 0x41},
		{Pin: 1, Dest: 0, Phys: false, DelMode: 0x100, Vector: 0x50},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LevelRoutes = %+v", got)
	}
}

func TestStateRoundTrip(t *testing.T) {
	io, _ := newIO()
	wrReg(t, io, 0x00, 0x0A000000)
	wrReg(t, io, 0x12, 0x00008033)
	io.AssertIRQ(1)
	io.AssertIRQ(5)
	st := io.State()
	io2, r2 := newIO()
	io2.SetState(st)
	if !reflect.DeepEqual(io2.State(), st) {
		t.Fatal("state differs")
	}
	io2.EOI(0x33)
	eq(t, r2.take(), []string{"dest=0x0 phys=true mode=0x0 vec=0x33 level=true"})
}

func scenario() []string {
	io, r := newIO()
	var trace []string
	for pin := 0; pin < Pins; pin++ {
		io.Write(OffIOREGSEL, 4, uint64(0x10+2*pin))
		io.Write(OffIOWIN, 4, uint64(0x20+pin)|uint64(pin%2)<<15)
	}
	for i := 0; i < 500; i++ {
		pin := (i * 7) % Pins
		switch i % 4 {
		case 0:
			io.AssertIRQ(pin)
		case 1:
			io.PulseIRQ(pin)
		case 2:
			io.DeassertIRQ(pin)
		case 3:
			io.EOI(uint8(0x20 + pin))
		}
		trace = append(trace, r.take()...)
	}
	return trace
}

func TestDeterminism(t *testing.T) {
	a, b := scenario(), scenario()
	if len(a) < 50 || !reflect.DeepEqual(a, b) {
		t.Fatalf("traces differ or too short (%d)", len(a))
	}
}

func TestConcurrentUse(t *testing.T) {
	io, r := newIO()
	wrReg(t, io, 0x10, 0x00008030)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				io.PulseIRQ(g)
				io.EOI(0x30)
				io.Write(OffIOREGSEL, 4, uint64(0x10+2*g))
				io.Read(OffIOWIN, 4)
				io.Write(OffIOWIN, 4, uint64(0x8030+g))
			}
		}(g)
	}
	wg.Wait()
	r.take()
}
