package lapic

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// Expected values below are literals from reference/vmm-devices.md §2
// ("ref §x") and the Intel SDM vol. 3A chapter 10 ("SDM"), not from the
// code under test.

// spy records what leaves a LAPIC, in order.
type spy struct {
	mu    sync.Mutex
	trace []string
	ipis  []IPI
}

func (s *spy) add(f string, a ...any) {
	s.mu.Lock()
	s.trace = append(s.trace, fmt.Sprintf(f, a...))
	s.mu.Unlock()
}

func (s *spy) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trace
	s.trace = nil
	return t
}

func (s *spy) hooks(name string) Hooks {
	return Hooks{
		Notify: func() { s.add("%s notify", name) },
		NMI:    func() { s.add("%s nmi", name) },
		ExtINT: func() { s.add("%s extint", name) },
		EOI:    func(v uint8) { s.add("%s eoi %#x", name, v) },
		IPI: func(ipi IPI) {
			s.mu.Lock()
			s.ipis = append(s.ipis, ipi)
			s.mu.Unlock()
			s.add("%s ipi mode=%#x vec=%#x dest=%#x phys=%v sh=%d", name, ipi.Mode, ipi.Vector, ipi.Dest, ipi.Phys, ipi.Shorthand)
		},
	}
}

func newL(vcpu int) (*LAPIC, *vclock.Clock, *spy) {
	c := vclock.New(vclock.Virtual)
	s := &spy{}
	return New(c, vcpu, s.hooks(fmt.Sprintf("cpu%d", vcpu))), c, s
}

func rd(t *testing.T, l *LAPIC, off uint32) uint32 {
	t.Helper()
	v, err := l.Read(off, 4)
	if err != nil {
		t.Fatalf("Read(%#x): %v", off, err)
	}
	return uint32(v)
}

func wr(t *testing.T, l *LAPIC, off uint32, v uint32) {
	t.Helper()
	if err := l.Write(off, 4, uint64(v)); err != nil {
		t.Fatalf("Write(%#x, %#x): %v", off, v, err)
	}
}

func eqTrace(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("trace\n got %q\nwant %q", got, want)
	}
}

// ref §2.3 (reset state), §2.2 (Version), §2.1/§1.4 (APIC_BASE).
// Rows: §1.3 row "0xFEE00000-0xFEE00FFF local APIC of the faulting vCPU";
// §2.1 row "MMIO page 0xFEE00000, one per vCPU, 0x400 bytes";
// §2.1 row "offsets above 0x400 read 0, writes ignored"; §2.2 row "ID";
// §2.2 row "Version (B 0x00060010)"; §2.2 row "APR"; §2.2 row "RRD";
// §2.3 row "reset: page zeroed, DFR all ones, SVR 0xFF, LVTs masked, DCR 0";
// §2.3 row "msr_apicbase 0xFEE00800 | BSP | x2APIC";
// §2.11 row "B: boot state vCPU 0 RUNNING, others INIT"; §12.10 row "version 0x10 (B)";
func TestResetValues(t *testing.T) {
	l, _, _ := newL(3)
	want := map[uint32]uint32{
		OffID: 0x03000000, OffVersion: 0x00060010, OffTPR: 0, OffAPR: 0,
		OffPPR: 0, OffEOI: 0, OffRRD: 0, OffLDR: 0, OffDFR: 0xFFFFFFFF,
		OffSVR: 0x000000FF, OffESR: 0, OffICRLow: 0, OffICRHigh: 0,
		OffLVTCMCI: 0x00010000, OffLVTTmr: 0x00010000, OffLVTTherm: 0x00010000,
		OffLVTPMC: 0x00010000, OffLVTLINT0: 0x00010000, OffLVTLINT1: 0x00010000,
		OffLVTErr: 0x00010000, OffTimerICR: 0, OffTimerCCR: 0, OffTimerDCR: 0,
		OffSelfIPI: 0,
	}
	for i := uint32(0); i < 8; i++ {
		want[0x100+i*16], want[0x180+i*16], want[0x200+i*16] = 0, 0, 0
	}
	for off := uint32(0); off < 0x1000; off += 16 {
		w := want[off] // holes read 0
		if got := rd(t, l, off); got != w {
			t.Errorf("reset %#x = %#08x, want %#08x", off, got, w)
		}
	}
	if got := l.APICBase(); got != 0xFEE00800 {
		t.Errorf("APIC_BASE vCPU 3 = %#x, want 0xFEE00800", got)
	}
	if l.BootState() != BootINIT {
		t.Errorf("AP boot state %v", l.BootState())
	}
	bsp, _, _ := newL(0)
	if got := bsp.APICBase(); got != 0xFEE00900 {
		t.Errorf("APIC_BASE vCPU 0 = %#x, want 0xFEE00900 (BSP bit 8)", got)
	}
	if bsp.BootState() != BootRunning {
		t.Errorf("BSP boot state %v", bsp.BootState())
	}
	if bsp.X2APICState() != X2APICDisabled {
		t.Error("x2APIC state at init")
	}
}

// ref §2.2 write column and §2.6 LVT write masks; SVR enabled first.
// Rows: §2.1 row "offsets above 0x400 read 0, writes ignored";
// §2.1 row "write to RO/unknown register ignored, no ESR bit"; §2.2 row "ID";
// §2.2 row "Version (B 0x00060010)"; §2.2 row "TPR"; §2.2 row "APR"; §2.2 row "PPR";
// §2.2 row "EOI"; §2.2 row "RRD"; §2.2 row "LDR"; §2.2 row "DFR"; §2.2 row "SVR";
// §2.2 row "ISR0-7"; §2.2 row "TMR0-7"; §2.2 row "IRR0-7"; §2.2 row "ESR"; §2.2 row "LVT CMCI";
// §2.2 row "ICR high"; §2.2 row "LVT Timer"; §2.2 row "LVT Thermal"; §2.2 row "LVT PMC";
// §2.2 row "LVT LINT0"; §2.2 row "LVT LINT1"; §2.2 row "LVT Error";
// §2.2 row "Timer initial count"; §2.2 row "Timer current count";
// §2.2 row "Timer divide config"; §2.2 row "SELF IPI"; §2.6 row "LVT write masks per LVT";
// §2.6 row "timer LVT drops TSC-deadline and delivery mode"; §2.7 row "SVR stored verbatim";
// §12.13 row "access rules quirks";
func TestRegisterWrites(t *testing.T) {
	rows := []struct {
		name    string
		off, v  uint32
		readOff uint32
		want    uint32
	}{
		{"ID re-forced", OffID, 0xFFFFFFFF, OffID, 0x03000000},
		{"Version RO", OffVersion, 0xFFFFFFFF, OffVersion, 0x00060010},
		{"TPR low byte", OffTPR, 0x12345678, OffTPR, 0x78},
		{"PPR follows TPR", OffTPR, 0x12345678, OffPPR, 0x78},
		{"APR RO", OffAPR, 0xFF, OffAPR, 0},
		{"PPR RO", OffPPR, 0xFF, OffPPR, 0},
		{"EOI reads 0", OffEOI, 0xFF, OffEOI, 0},
		{"RRD RO", OffRRD, 0xFF, OffRRD, 0},
		{"LDR bits 31:24", OffLDR, 0xFFFFFFFF, OffLDR, 0xFF000000},
		{"DFR cluster", OffDFR, 0x01234567, OffDFR, 0x0FFFFFFF},
		{"DFR flat", OffDFR, 0xF0000000, OffDFR, 0xFFFFFFFF},
		{"SVR verbatim", OffSVR, 0xFFFFFFFF, OffSVR, 0xFFFFFFFF},
		{"ISR RO", 0x170, 0xFFFFFFFF, 0x170, 0},
		{"TMR RO", 0x180, 0xFFFFFFFF, 0x180, 0},
		{"IRR RO", 0x270, 0xFFFFFFFF, 0x270, 0},
		{"ESR write latches nothing pending", OffESR, 0xFFFFFFFF, OffESR, 0},
		{"LVT timer mask", OffLVTTmr, 0xFFFFFFFF, OffLVTTmr, 0x000310FF},
		{"LVT error mask", OffLVTErr, 0xFFFFFFFF, OffLVTErr, 0x000110FF},
		{"LVT LINT0 mask", OffLVTLINT0, 0xFFFFFFFF, OffLVTLINT0, 0x0001F7FF},
		{"LVT LINT1 mask", OffLVTLINT1, 0xFFFFFFFF, OffLVTLINT1, 0x0001F7FF},
		{"LVT CMCI mask", OffLVTCMCI, 0xFFFFFFFF, OffLVTCMCI, 0x000117FF},
		{"LVT thermal mask", OffLVTTherm, 0xFFFFFFFF, OffLVTTherm, 0x000117FF},
		{"LVT PMC mask", OffLVTPMC, 0xFFFFFFFF, OffLVTPMC, 0x000117FF},
		{"LVT TSC-deadline bit dropped", OffLVTTmr, 0x00040030, OffLVTTmr, 0x00000030},
		{"LVT delivery status kept", OffLVTLINT0, 0x00001030, OffLVTLINT0, 0x00001030},
		{"ICR high stored", OffICRHigh, 0xFFFFFFFF, OffICRHigh, 0xFFFFFFFF},
		{"timer ICR stored", OffTimerICR, 0x12345678, OffTimerICR, 0x12345678},
		{"DCR all bits stored", OffTimerDCR, 0xFFFFFFFF, OffTimerDCR, 0xFFFFFFFF},
		{"CCR RO", OffTimerCCR, 0x1234, OffTimerCCR, 0},
		{"SELF IPI xAPIC ignored", OffSelfIPI, 0x40, 0x200 + 0x20, 0},
		{"hole ignored", 0x040, 0xFFFFFFFF, 0x040, 0},
		{"beyond 0x400 ignored", 0x800, 0xFFFFFFFF, 0x800, 0},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			l, _, _ := newL(3)
			wr(t, l, OffSVR, 0x1FF)
			wr(t, l, r.off, r.v)
			if got := rd(t, l, r.readOff); got != r.want {
				t.Fatalf("after write %#x to %#x: read %#x = %#08x, want %#08x", r.v, r.off, r.readOff, got, r.want)
			}
		})
	}
}

// ref §2.6: an LVT written while SVR is software-disabled gets its mask.
// Rows: §2.6 row "SVR disabled: mask forced on write";
func TestLVTWriteWhileDisabledIsMasked(t *testing.T) {
	l, _, _ := newL(1)
	wr(t, l, OffLVTLINT0, 0x00000730)
	if got := rd(t, l, OffLVTLINT0); got != 0x00010730 {
		t.Fatalf("LINT0 = %#x, want 0x00010730", got)
	}
}

// ref §2.1 and §12 #13: MMIO access rules and errors.
// Rows: §2.1 row "MMIO write not 4 bytes/16-aligned EINVAL";
// §2.1 row "MMIO read rounds down to 4, then 16-aligned else EINVAL; full register";
// §12.13 row "access rules quirks";
func TestMMIOAccessRules(t *testing.T) {
	l, _, _ := newL(3)
	for _, c := range []struct {
		off  uint32
		size int
	}{{0x80, 2}, {0x80, 1}, {0x80, 8}, {0x84, 4}, {0x88, 4}, {0x8C, 4}} {
		if err := l.Write(c.off, c.size, 0); err != abi.EINVAL {
			t.Errorf("Write(%#x, size %d) = %v, want EINVAL", c.off, c.size, err)
		}
	}
	for _, off := range []uint32{0x24, 0x28, 0x2C, 0x2F} {
		if _, err := l.Read(off, 4); err != abi.EINVAL {
			t.Errorf("Read(%#x) = %v, want EINVAL", off, err)
		}
	}
	// Reads round down to 4 bytes: 0x21..0x23 are the ID register, and a
	// sub-dword read sees its low bytes (not the byte at that address).
	for _, off := range []uint32{0x21, 0x22, 0x23} {
		v, err := l.Read(off, 1)
		if err != nil || v != 0 {
			t.Errorf("Read(%#x,1) = %#x, %v; want 0 (low byte of 0x03000000)", off, v, err)
		}
	}
	if v, err := l.Read(0xF3, 1); err != nil || v != 0xFF {
		t.Errorf("Read(0xF3,1) = %#x, %v; want 0xFF (low byte of SVR)", v, err)
	}
	if v, err := l.Read(0xF0, 2); err != nil || v != 0xFF {
		t.Errorf("Read(0xF0,2) = %#x, %v", v, err)
	}
	if v, err := l.Read(0x20, 8); err != nil || v != 0x03000000 {
		t.Errorf("Read(0x20,8) = %#x, %v", v, err)
	}
}

// ref §1.4, §2.2, §2.12: x2APIC MSRs, APIC_BASE, mode switching.
// Rows: §1.4 row "lapic_msr: 0x1B and 0x800-0xBFF";
// §1.4 row "RDMSR 0x1B; WRMSR 0x1B with a different value fails";
// §1.4 row "x2APIC MSRs in xAPIC mode: read 0, writes ignored";
// §2.1 row "MMIO in x2APIC mode: read 0, writes ignored"; §2.2 row "ID";
// §2.2 row "Version (B 0x00060010)"; §2.2 row "LDR"; §2.2 row "DFR"; §2.2 row "ICR low";
// §2.2 row "SELF IPI"; §2.3 row "msr_apicbase 0xFEE00800 | BSP | x2APIC";
// §2.9 row "x2APIC LDR derived from id";
// §2.11 row "ICR-low write clears delivery status, ICR-high destination";
// §2.12 row "guest cannot switch modes";
// §2.12 row "VM_SET_X2APIC_STATE: APICBASE bit 10, ID, LDR, DFR";
// §12.13 row "access rules quirks";
func TestX2APIC(t *testing.T) {
	l, _, s := newL(17)
	// xAPIC mode: MSRs read 0, writes ignored, no error.
	if err := l.WriteMSR(0x808, 0x50); err != nil {
		t.Fatal(err)
	}
	if v, err := l.ReadMSR(0x808); err != nil || v != 0 {
		t.Fatalf("x2APIC TPR MSR in xAPIC mode = %#x, %v", v, err)
	}
	if got := rd(t, l, OffTPR); got != 0 {
		t.Fatalf("MSR write in xAPIC mode reached TPR: %#x", got)
	}
	if err := l.SetX2APICState(2); err != abi.EINVAL {
		t.Fatalf("SetX2APICState(2) = %v", err)
	}
	if err := l.SetX2APICState(X2APICEnabled); err != nil {
		t.Fatal(err)
	}
	if got := l.APICBase(); got != 0xFEE00C00 {
		t.Fatalf("APIC_BASE = %#x, want 0xFEE00C00", got)
	}
	msr := func(m uint32) uint64 {
		t.Helper()
		v, err := l.ReadMSR(m)
		if err != nil {
			t.Fatalf("ReadMSR(%#x): %v", m, err)
		}
		return v
	}
	// SDM §10.12.10.2: LDR = cluster (id>>4)<<16 | 1<<(id&15); id 17 → 0x10002.
	if msr(0x802) != 17 || msr(0x80D) != 0x00010002 || msr(0x80E) != 0 {
		t.Fatalf("ID/LDR/DFR = %#x/%#x/%#x", msr(0x802), msr(0x80D), msr(0x80E))
	}
	if msr(0x803) != 0x00060010 {
		t.Fatal("version via MSR")
	}
	// Writes to ID, LDR, DFR are forced back.
	for _, m := range []uint32{0x802, 0x80D, 0x80E} {
		if err := l.WriteMSR(m, 0xFFFFFFFF); err != nil {
			t.Fatal(err)
		}
	}
	if msr(0x802) != 17 || msr(0x80D) != 0x00010002 || msr(0x80E) != 0 {
		t.Fatal("ID/LDR/DFR not re-forced")
	}
	// MMIO in x2APIC mode: reads 0, writes ignored.
	if got := rd(t, l, OffVersion); got != 0 {
		t.Fatalf("MMIO read in x2APIC mode = %#x", got)
	}
	wr(t, l, OffTPR, 0x40)
	if msr(0x808) != 0 {
		t.Fatal("MMIO write reached TPR in x2APIC mode")
	}
	// SVR via MSR; SELF IPI (x2APIC only) sets IRR and notifies.
	if err := l.WriteMSR(0x80F, 0x1FF); err != nil {
		t.Fatal(err)
	}
	s.take()
	if err := l.WriteMSR(0x83F, 0x1_0000_0041); err != nil {
		t.Fatal(err)
	}
	if msr(0x822) != 1<<1 { // vector 0x41 = IRR2 bit 1
		t.Fatalf("IRR2 = %#x", msr(0x822))
	}
	eqTrace(t, s.take(), []string{"cpu17 notify"})
	if err := l.WriteMSR(0x83F, 0x0F); err != nil { // below 16: dropped
		t.Fatal(err)
	}
	eqTrace(t, s.take(), nil)
	if msr(0x83F) != 0 {
		t.Fatal("SELF IPI reads 0")
	}
	// 64-bit ICR through MSR 0x830: both halves stored, delivery status
	// cleared; destination is 32 bits.
	if err := l.WriteMSR(0x830, 0x00000005_00001050); err != nil {
		t.Fatal(err)
	}
	if msr(0x830) != 0x00000005_00000050 || msr(0x831) != 5 {
		t.Fatalf("ICR = %#x / %#x", msr(0x830), msr(0x831))
	}
	eqTrace(t, s.take(), []string{"cpu17 ipi mode=0x0 vec=0x50 dest=0x5 phys=true sh=0"})
	if !s.ipis[len(s.ipis)-1].X2APIC {
		t.Fatal("x2APIC IPI not flagged")
	}
	// APIC_BASE: only the current value may be written.
	if err := l.WriteMSR(0x1B, 0xFEE00C00); err != nil {
		t.Fatalf("rewrite APIC_BASE: %v", err)
	}
	for _, v := range []uint64{0xFEE00800, 0xFEE00400, 0xFED00C00, 0} {
		if err := l.WriteMSR(0x1B, v); err == nil {
			t.Fatalf("APIC_BASE := %#x accepted", v)
		}
	}
	if _, err := l.ReadMSR(0x10); err == nil {
		t.Fatal("ReadMSR of a foreign MSR succeeded")
	}
	if err := l.WriteMSR(0xC00, 0); err == nil {
		t.Fatal("WriteMSR 0xC00 succeeded")
	}
	if !IsMSR(0x1B) || !IsMSR(0x800) || !IsMSR(0xBFF) || IsMSR(0x7FF) || IsMSR(0xC00) {
		t.Fatal("IsMSR range")
	}
	// Back to xAPIC: LDR 0, DFR all ones, ID vcpu<<24.
	if err := l.SetX2APICState(X2APICDisabled); err != nil {
		t.Fatal(err)
	}
	if rd(t, l, OffID) != 17<<24 || rd(t, l, OffLDR) != 0 || rd(t, l, OffDFR) != 0xFFFFFFFF || l.APICBase() != 0xFEE00800 {
		t.Fatal("xAPIC state after disable")
	}
}

// ref §2.4, §2.5: IRR → ISR → EOI, PPR, TPR, CR8, TMR-driven EOI.
// Rows: §2.2 row "TPR"; §2.2 row "PPR"; §2.2 row "EOI"; §2.2 row "ISR0-7"; §2.2 row "TMR0-7";
// §2.2 row "IRR0-7"; §2.4 row "PPR = TPR or top of stack & 0xF0";
// §2.4 row "deliverable iff highest IRR and class > PPR class";
// §2.4 row "CR8 bits above 3 fault; TPR = CR8 << 4";
// §2.4 row "PPR recomputed on TPR, acceptance, EOI (B)";
// §2.5 row "acceptance: IRR to ISR, pushed on the stack";
// §2.5 row "EOI: highest ISR cleared, PPR; TMR set broadcasts";
// §2.5 row "gratuitous EOI ignored"; §2.10 row "vector 16-255 else refused";
// §12.11 row "PPR on acceptance (B)";
func TestPrioritySequence(t *testing.T) {
	l, _, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	pend := func(wantV uint8, wantOK bool) {
		t.Helper()
		v, ok := l.PendingIntr()
		if ok != wantOK || ok && v != wantV {
			t.Fatalf("PendingIntr = %#x, %v; want %#x, %v", v, ok, wantV, wantOK)
		}
	}
	pend(0, false)
	if err := l.SetIRR(0x41, false); err != nil {
		t.Fatal(err)
	}
	if err := l.SetIRR(0x32, false); err != nil {
		t.Fatal(err)
	}
	eqTrace(t, s.take(), []string{"cpu0 notify", "cpu0 notify"})
	if rd(t, l, 0x220) != 1<<1 || rd(t, l, 0x210) != 1<<18 {
		t.Fatalf("IRR2/IRR1 = %#x/%#x", rd(t, l, 0x220), rd(t, l, 0x210))
	}
	pend(0x41, true)
	l.IntrAccepted(0x41)
	if rd(t, l, 0x220) != 0 || rd(t, l, 0x120) != 1<<1 || rd(t, l, OffPPR) != 0x40 {
		t.Fatalf("after accept: IRR2 %#x ISR2 %#x PPR %#x", rd(t, l, 0x220), rd(t, l, 0x120), rd(t, l, OffPPR))
	}
	pend(0, false) // 0x32: class 3 ≤ 4
	l.SetIRR(0x45, false)
	pend(0, false) // same class as the in-service 0x41
	l.SetIRR(0x55, false)
	pend(0x55, true)
	l.IntrAccepted(0x55)
	if rd(t, l, OffPPR) != 0x50 {
		t.Fatalf("PPR %#x", rd(t, l, OffPPR))
	}
	s.take()
	wr(t, l, OffEOI, 0) // retires 0x55 (highest in service)
	if rd(t, l, OffPPR) != 0x40 || rd(t, l, 0x120) != 1<<1 {
		t.Fatalf("after EOI: PPR %#x ISR2 %#x", rd(t, l, OffPPR), rd(t, l, 0x120))
	}
	wr(t, l, OffEOI, 0)
	if rd(t, l, OffPPR) != 0 {
		t.Fatal("PPR after second EOI")
	}
	pend(0x45, true)
	eqTrace(t, s.take(), nil) // edge vectors: no EOI leaves the LAPIC
	// Gratuitous EOI: nothing happens.
	l.IntrAccepted(0x45)
	wr(t, l, OffEOI, 0)
	wr(t, l, OffEOI, 0)
	eqTrace(t, s.take(), nil)
	// TPR: PPR = TPR when TPR's class ≥ the in-service class.
	wr(t, l, OffTPR, 0x60)
	if rd(t, l, OffPPR) != 0x60 {
		t.Fatal("PPR = TPR")
	}
	pend(0, false) // 0x32 pending, class 3 ≤ 6
	l.SetIRR(0x65, false)
	pend(0, false)
	l.SetIRR(0x71, false)
	pend(0x71, true)
	l.IntrAccepted(0x71)
	if rd(t, l, OffPPR) != 0x70 {
		t.Fatalf("PPR %#x, want 0x70 (ISR class above TPR)", rd(t, l, OffPPR))
	}
	wr(t, l, OffTPR, 0x7F)
	if rd(t, l, OffPPR) != 0x7F {
		t.Fatalf("PPR %#x, want 0x7F (TPR class = ISR class)", rd(t, l, OffPPR))
	}
	// CR8 = TPR[7:4]; bits above 3 → #GP (EINVAL here).
	if err := l.SetCR8(0x10); err != abi.EINVAL {
		t.Fatalf("SetCR8(0x10) = %v", err)
	}
	if err := l.SetCR8(3); err != nil || l.TPR() != 0x30 || l.CR8() != 3 {
		t.Fatalf("CR8: TPR %#x", l.TPR())
	}
	l.SetTPR(0x9A)
	if l.CR8() != 9 || rd(t, l, OffTPR) != 0x9A {
		t.Fatal("SetTPR/CR8")
	}
	// Level vector: TMR bit set → EOI leaves the LAPIC (to the IOAPIC).
	l.SetTPR(0)
	var tmr [8]uint32
	tmr[0xA3/32] = 1 << (0xA3 % 32)
	l.SetTMR(tmr)
	if rd(t, l, 0x1D0) != 1<<3 { // TMR5 at 0x180 + 5·0x10
		t.Fatalf("TMR5 = %#x", rd(t, l, 0x1D0))
	}
	l.SetIRR(0xA3, true)
	pend(0xA3, true)
	l.IntrAccepted(0xA3)
	s.take()
	wr(t, l, OffEOI, 0)
	eqTrace(t, s.take(), []string{"cpu0 eoi 0xa3"})
	// Vectors below 16 are refused (lapic_set_intr).
	if err := l.SetIRR(15, false); err != abi.EINVAL {
		t.Fatalf("SetIRR(15) = %v", err)
	}
	if rd(t, l, 0x200) != 0 {
		t.Fatal("IRR0 set")
	}
}

// ref §2.5: a software-disabled LAPIC drops interrupts without a wake-up.
// Rows: §2.5 row "software-disabled: dropped, no wake-up";
func TestSoftwareDisabledDrops(t *testing.T) {
	l, _, s := newL(0)
	if err := l.SetIRR(0x40, false); err != nil {
		t.Fatal(err)
	}
	eqTrace(t, s.take(), nil)
	if rd(t, l, 0x220) != 0 {
		t.Fatal("IRR set while disabled")
	}
}

// ref §2.6: LVT firing, modes, masks, errors, the disabled-LAPIC LINT rule.
// Rows: §2.2 row "ESR"; §2.6 row "timer LVT drops TSC-deadline and delivery mode";
// §2.6 row "fire: masked nothing; fixed < 16 ESR 0x20; fixed IRR; NMI; ExtINT; others ignored";
// §2.6 row "error LVT recursion guard";
// §2.6 row "trigger_lvt disabled: LINT0 ExtINT, LINT1 NMI";
// §2.6 row "trigger_lvt invalid index EINVAL";
func TestFireLVT(t *testing.T) {
	l, _, s := newL(2)
	// Disabled (SVR bit 8 clear): LINT0 → ExtINT, LINT1 → NMI, others nothing.
	for i := 0; i < NumLVT; i++ {
		if err := l.FireLVT(i); err != nil {
			t.Fatal(err)
		}
	}
	eqTrace(t, s.take(), []string{"cpu2 extint", "cpu2 nmi"})
	if err := l.FireLVT(7); err != abi.EINVAL {
		t.Fatalf("FireLVT(7) = %v", err)
	}
	if err := l.FireLVT(-1); err != abi.EINVAL {
		t.Fatalf("FireLVT(-1) = %v", err)
	}
	wr(t, l, OffSVR, 0x1FF)
	// Enabled and masked (reset state): nothing.
	l.FireLVT(LVTLINT0)
	l.FireLVT(LVTLINT1)
	eqTrace(t, s.take(), nil)
	wr(t, l, OffLVTLINT0, 0x700)      // ExtINT
	wr(t, l, OffLVTLINT1, 0x400)      // NMI
	wr(t, l, OffLVTTherm, 0x200)      // SMI: ignored
	wr(t, l, OffLVTPMC, 0x0000_0031)  // fixed 0x31
	wr(t, l, OffLVTCMCI, 0x0001_0032) // masked
	for i := 0; i < NumLVT; i++ {
		l.FireLVT(i)
	}
	eqTrace(t, s.take(), []string{"cpu2 extint", "cpu2 nmi", "cpu2 notify"})
	if rd(t, l, 0x210) != 1<<17 {
		t.Fatalf("IRR1 = %#x, want bit 17 (vector 0x31)", rd(t, l, 0x210))
	}
	// Fixed LVT with an illegal vector: ESR send-illegal (0x20), error LVT
	// fired; ESR shows the bits only after the next ESR write.
	wr(t, l, OffLVTErr, 0x33)
	wr(t, l, OffLVTPMC, 0x05)
	l.FireLVT(LVTPMC)
	eqTrace(t, s.take(), []string{"cpu2 notify"})
	if rd(t, l, OffESR) != 0 {
		t.Fatal("ESR visible before the ESR write")
	}
	wr(t, l, OffESR, 0)
	if rd(t, l, OffESR) != 0x20 || rd(t, l, 0x210)&(1<<19) == 0 {
		t.Fatalf("ESR %#x IRR1 %#x", rd(t, l, OffESR), rd(t, l, 0x210))
	}
	wr(t, l, OffESR, 0)
	if rd(t, l, OffESR) != 0 {
		t.Fatal("ESR accumulator not cleared")
	}
	// Error LVT itself illegal: only ESR, no recursion, nothing delivered.
	wr(t, l, OffLVTErr, 0x03)
	l.FireLVT(LVTError)
	eqTrace(t, s.take(), nil)
	wr(t, l, OffESR, 0)
	if rd(t, l, OffESR) != 0x20 {
		t.Fatalf("ESR %#x", rd(t, l, OffESR))
	}
	// Delivery mode bits are not kept for the timer and error LVTs, so
	// they always fire fixed.
	wr(t, l, OffLVTTmr, 0x400|0x3A)
	if rd(t, l, OffLVTTmr) != 0x3A {
		t.Fatal("timer LVT kept a delivery mode")
	}
}

// ref §2.7: SVR 1→0 masks every LVT and stops the timer; 0→1 restarts a
// periodic timer from the full count, not a one-shot.
// Rows: §2.2 row "SVR"; §2.7 row "bit 8 1->0: timer stopped, every LVT masked";
// §2.7 row "bit 8 0->1: periodic restarts from full count, one-shot not";
// §12.12 row "timer quirks";
func TestSVREnableDisable(t *testing.T) {
	l, c, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	wr(t, l, OffTimerDCR, 0xB)
	wr(t, l, OffLVTTmr, 0x20040) // periodic, vector 0x40
	wr(t, l, OffLVTLINT0, 0x700)
	wr(t, l, OffTimerICR, 1000) // 32000 sbt
	c.AdvanceTo(10000)
	wr(t, l, OffSVR, 0xFF)
	for _, off := range []uint32{OffLVTTmr, OffLVTLINT0, OffLVTCMCI, OffLVTErr} {
		if rd(t, l, off)&LVTMasked == 0 {
			t.Fatalf("LVT %#x not masked", off)
		}
	}
	if rd(t, l, OffTimerCCR) != 0 {
		t.Fatal("timer runs while disabled")
	}
	if _, ok := c.Next(); ok {
		t.Fatal("timer still armed")
	}
	c.AdvanceTo(20000)
	wr(t, l, OffSVR, 0x1FF) // periodic: restart from the full count
	if got := rd(t, l, OffTimerCCR); got != 1000 {
		t.Fatalf("CCR after re-enable = %d, want 1000", got)
	}
	if next, _ := c.Next(); next != 20000+32000 {
		t.Fatalf("next expiry %d, want 52000", next)
	}
	s.take()
	// One-shot: not restarted.
	wr(t, l, OffLVTTmr, 0x40)
	wr(t, l, OffSVR, 0xFF)
	wr(t, l, OffSVR, 0x1FF)
	if _, ok := c.Next(); ok || rd(t, l, OffTimerCCR) != 0 {
		t.Fatal("one-shot restarted by SVR enable")
	}
}

// SDM vol. 3A fig. 10-10 divide values; ref §0: one tick is 32·d sbt.
// Rows: §2.8 row "frequency 2^27 / divisor table";
func TestDivisorTable(t *testing.T) {
	want := map[uint32]vclock.SBT{
		0x0: 64, 0x1: 128, 0x2: 256, 0x3: 512,
		0x8: 1024, 0x9: 2048, 0xA: 4096, 0xB: 32,
		0x4: 64, 0xF: 32, 0xFFFFFFF4: 64, // bit 2 and bits 31:4 are not part of the divisor
	}
	for dcr, w := range want {
		if got := TickSBT(dcr); got != w {
			t.Errorf("TickSBT(%#x) = %d, want %d", dcr, got, w)
		}
	}
}

// ref §2.8: one-shot expiry instant, CCR at chosen instants, masking.
// Rows: §2.2 row "Timer initial count"; §2.2 row "Timer current count";
// §2.8 row "frequency 2^27 / divisor table";
// §2.8 row "initial count: 0 stops; else fire now + period; armed even masked";
// §2.8 row "expiry fires the LVT; one-shot inactive";
// §2.8 row "current count formula, independent of mask";
func TestTimerOneShot(t *testing.T) {
	l, c, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	wr(t, l, OffTimerDCR, 0xB)  // ÷1: 32 sbt per tick
	wr(t, l, OffLVTTmr, 0x30)   // one-shot, vector 0x30
	wr(t, l, OffTimerICR, 1000) // expires at 32000
	for _, c2 := range []struct {
		at   vclock.SBT
		want uint32
	}{{0, 1000}, {16000, 500}, {16001, 499}, {31968, 1}, {31969, 0}, {31999, 0}} {
		c.AdvanceTo(c2.at)
		if got := rd(t, l, OffTimerCCR); got != c2.want {
			t.Fatalf("CCR at %d = %d, want %d", c2.at, got, c2.want)
		}
	}
	eqTrace(t, s.take(), nil)
	c.AdvanceTo(32000)
	eqTrace(t, s.take(), []string{"cpu0 notify"})
	if v, ok := l.PendingIntr(); !ok || v != 0x30 {
		t.Fatal("timer vector not pending")
	}
	if rd(t, l, OffTimerCCR) != 0 {
		t.Fatal("CCR after expiry")
	}
	c.AdvanceTo(1 << 40)
	eqTrace(t, s.take(), nil)

	// Default DCR (0 → ÷2): 64 sbt per tick.
	l2, c2, _ := newL(1)
	wr(t, l2, OffSVR, 0x1FF)
	wr(t, l2, OffTimerICR, 1000)
	if next, _ := c2.Next(); next != 64000 {
		t.Fatalf("÷2 expiry at %d, want 64000", next)
	}
	// Masked LVT: the countdown runs (CCR counts) but nothing fires.
	l3, c3, s3 := newL(2)
	wr(t, l3, OffSVR, 0x1FF)
	wr(t, l3, OffTimerDCR, 0xB)
	wr(t, l3, OffLVTTmr, 0x10030)
	wr(t, l3, OffTimerICR, 100)
	c3.AdvanceTo(1600)
	if rd(t, l3, OffTimerCCR) != 50 {
		t.Fatal("masked timer does not count")
	}
	c3.AdvanceTo(3200)
	eqTrace(t, s3.take(), nil)
	// Writing 0 stops the countdown.
	wr(t, l3, OffTimerICR, 100)
	wr(t, l3, OffTimerICR, 0)
	if _, ok := c3.Next(); ok || rd(t, l3, OffTimerCCR) != 0 {
		t.Fatal("ICR 0 did not stop the timer")
	}
	// Rewriting the count restarts it from now; the old expiry is gone.
	wr(t, l3, OffLVTTmr, 0x30)
	wr(t, l3, OffTimerICR, 100) // at 3200: expires 6400
	c3.AdvanceTo(4000)
	wr(t, l3, OffTimerICR, 100) // expires 7200
	c3.AdvanceTo(7199)
	eqTrace(t, s3.take(), nil)
	c3.AdvanceTo(7200)
	eqTrace(t, s3.take(), []string{"cpu2 notify"})
}

// ref §2.8: periodic grid. The virtual clock is punctual (each expiry
// runs at its own deadline however far time jumps), so every period
// fires.
// Rows: §2.8 row "periodic: on grid if less than a period late, else now + period";
func TestTimerPeriodic(t *testing.T) {
	l, c, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	wr(t, l, OffTimerDCR, 0xB)
	wr(t, l, OffLVTTmr, 0x20030)
	wr(t, l, OffTimerICR, 100) // period 3200
	// Interrupts (notifications) seen per step of the clock.
	var counts []int
	step := func(to vclock.SBT) {
		c.AdvanceTo(to)
		counts = append(counts, len(s.take()))
	}
	for _, at := range []vclock.SBT{3199, 3200, 6400, 9600 + 1000} {
		step(at)
	}
	if got := rd(t, l, OffTimerCCR); got != (12800-10600)/32 {
		t.Fatalf("CCR = %d, want %d", got, (12800-10600)/32)
	}
	step(12800 + 3*3200 + 5) // expiries at 12800, 16000, 19200, 22400
	if want := []int{0, 1, 1, 1, 4}; !reflect.DeepEqual(counts, want) {
		t.Fatalf("interrupts per step %v, want %v", counts, want)
	}
	if next, _ := c.Next(); next != 25600 {
		t.Fatalf("next = %d, want 25600", next)
	}
	// Periodic → one-shot before the expiry: it fires once, then stops.
	wr(t, l, OffLVTTmr, 0x30)
	step(25600)
	if _, ok := c.Next(); ok {
		t.Fatal("one-shot re-armed")
	}
}

// ref §2.8 catch-up rule, for an expiry that runs late (as a kernel
// callout does; here: a restored countdown whose fire time has passed).
// Less than a period late: the next expiry stays on the grid. A period or
// more late: the grid restarts from now and missed periods are dropped.
// Rows: §2.8 row "periodic: on grid if less than a period late, else now + period";
// §12.12 row "timer quirks";
func TestTimerPeriodicCatchUp(t *testing.T) {
	for _, c2 := range []struct {
		late, next vclock.SBT
	}{
		{1000, 3200 + 3200},          // on the grid
		{3199, 3200 + 3200},          // still on the grid
		{3200, 3200 + 3200 + 3200},   // exactly a period: now + period
		{10005, 3200 + 10005 + 3200}, // far behind: now + period
	} {
		l, c, s := newL(0)
		wr(t, l, OffSVR, 0x1FF)
		wr(t, l, OffTimerDCR, 0xB)
		wr(t, l, OffLVTTmr, 0x20030)
		wr(t, l, OffTimerICR, 100) // fire at 3200, period 3200
		st := l.State()
		l.Close()
		c.AdvanceTo(3200 + c2.late)
		l.SetState(st)
		c.Poll()
		if got := len(s.take()); got != 1 {
			t.Fatalf("late %d: %d interrupts, want 1", c2.late, got)
		}
		if next, _ := c.Next(); next != c2.next {
			t.Fatalf("late %d: next = %d, want %d", c2.late, next, c2.next)
		}
	}
}

// ref §2.8 / §12 #12: DCR change during a countdown.
// Rows: §2.2 row "Timer divide config";
// §2.8 row "DCR write keeps fire time, CCR with new tick"; §12.12 row "timer quirks";
func TestTimerDivideChange(t *testing.T) {
	l, c, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	wr(t, l, OffLVTTmr, 0x30)
	wr(t, l, OffTimerDCR, 0xB)
	wr(t, l, OffTimerICR, 1000) // fire at 32000
	c.AdvanceTo(16000)
	wr(t, l, OffTimerDCR, 0x0) // ÷2 now
	if got := rd(t, l, OffTimerCCR); got != 250 {
		t.Fatalf("CCR = %d, want 250 (16000 sbt left / 64)", got)
	}
	if next, _ := c.Next(); next != 32000 {
		t.Fatalf("fire time moved to %d", next)
	}
	c.AdvanceTo(32000)
	eqTrace(t, s.take(), []string{"cpu0 notify"})
	// CCR can exceed ICR: ÷128 count 10 (40960 sbt), then ÷1.
	wr(t, l, OffTimerDCR, 0xA)
	wr(t, l, OffTimerICR, 10)
	wr(t, l, OffTimerDCR, 0xB)
	if got := rd(t, l, OffTimerCCR); got != 1280 {
		t.Fatalf("CCR = %d, want 1280 (> ICR 10)", got)
	}
	// The next period of a periodic timer uses the new divisor.
	wr(t, l, OffLVTTmr, 0x20030)
	wr(t, l, OffTimerDCR, 0xB)
	wr(t, l, OffTimerICR, 10)  // at 32000, period 320
	wr(t, l, OffTimerDCR, 0x0) // period now 640; this countdown still ends at 32320
	c.AdvanceTo(32320)
	if next, _ := c.Next(); next != 32320+640 {
		t.Fatalf("next = %d, want %d", next, 32320+640)
	}
}

// ref §2.11 (B): ICR writes, what leaves the LAPIC and what is an error.
// Rows: §2.2 row "ICR low"; §2.2 row "ICR high";
// §2.11 row "ICR-low write clears delivery status, ICR-high destination";
// §2.11 row "B: fixed < 16 ESR 0x20"; §2.11 row "B: fixed and NMI delivered in kernel";
// §2.11 row "B: INIT from vCPU 0 to 0 < dest < 16, deassert ignored";
// §2.11 row "B: STARTUP to WAIT-FOR-SIPI, SPINUP_AP rip = vector << 12, second ignored";
// §2.11 row "B: everything else is an access error (EPERM)";
// §12.7 row "INIT/SIPI (B reproduced)"; §12.8 row "lowest-priority/SMI/remote-read IPIs error";
func TestICR(t *testing.T) {
	l, _, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	wr(t, l, OffICRHigh, 0x02000000)
	wr(t, l, OffICRLow, 0x00001040) // fixed 0x40, physical, delivery-status set
	if rd(t, l, OffICRLow) != 0x40 {
		t.Fatalf("ICR low = %#x, delivery status must read 0", rd(t, l, OffICRLow))
	}
	wr(t, l, OffICRHigh, 0x0F000000)
	wr(t, l, OffICRLow, 0x000C0850) // fixed 0x50, logical, all-excluding-self
	wr(t, l, OffICRLow, 0x00000400) // NMI
	eqTrace(t, s.take(), []string{
		"cpu0 ipi mode=0x0 vec=0x40 dest=0x2 phys=true sh=0",
		"cpu0 ipi mode=0x0 vec=0x50 dest=0xf phys=false sh=3",
		"cpu0 ipi mode=0x400 vec=0x0 dest=0xf phys=true sh=0",
	})
	// Fixed with a vector below 16: ESR 0x20, nothing sent.
	wr(t, l, OffICRLow, 0x0000000F)
	eqTrace(t, s.take(), nil)
	wr(t, l, OffESR, 0)
	if rd(t, l, OffESR) != 0x20 {
		t.Fatalf("ESR = %#x", rd(t, l, OffESR))
	}
	// INIT / STARTUP from vCPU 0 to 0 < dest < 16.
	wr(t, l, OffICRHigh, 0x01000000)
	wr(t, l, OffICRLow, 0x00004500) // INIT assert
	wr(t, l, OffICRLow, 0x00008500) // INIT level de-assert: ignored
	wr(t, l, OffICRLow, 0x00000500) // bit 14 clear: ignored too (B)
	wr(t, l, OffICRLow, 0x0000069F) // STARTUP vector 0x9F
	eqTrace(t, s.take(), []string{
		"cpu0 ipi mode=0x500 vec=0x0 dest=0x1 phys=true sh=0",
		"cpu0 ipi mode=0x600 vec=0x9f dest=0x1 phys=true sh=0",
	})
	if s.ipis[len(s.ipis)-1].StartupRIP() != 0x9F000 {
		t.Fatal("STARTUP rip")
	}
	errRows := []struct {
		name   string
		hi, lo uint32
	}{
		{"INIT to dest 0", 0x00000000, 0x00004500},
		{"INIT to dest 16", 0x10000000, 0x00004500},
		{"STARTUP to dest 0", 0x00000000, 0x00000600},
		{"STARTUP to dest 16", 0x10000000, 0x00000600},
		{"lowest priority", 0x01000000, 0x00000140},
		{"SMI", 0x01000000, 0x00000200},
		{"remote read", 0x01000000, 0x00000300},
		{"reserved mode 7", 0x01000000, 0x00000700},
	}
	for _, r := range errRows {
		wr(t, l, OffICRHigh, r.hi)
		if err := l.Write(OffICRLow, 4, uint64(r.lo)); !errors.Is(err, ErrIPI) || err != abi.EPERM {
			t.Errorf("%s: Write = %v, want EPERM", r.name, err)
		}
	}
	eqTrace(t, s.take(), nil)
	// INIT/STARTUP from an AP: error, on both doors.
	ap, _, sap := newL(1)
	wr(t, ap, OffICRHigh, 0x02000000)
	if err := ap.Write(OffICRLow, 4, 0x00004500); err != abi.EPERM {
		t.Fatalf("AP INIT: %v", err)
	}
	if err := ap.Write(OffICRLow, 4, 0x00000610); err != abi.EPERM {
		t.Fatalf("AP STARTUP: %v", err)
	}
	ap.SetX2APICState(X2APICEnabled)
	if err := ap.WriteMSR(0x830, 0x00000002_00004500); err == nil {
		t.Fatal("AP INIT through the MSR door succeeded")
	}
	eqTrace(t, sap.take(), nil)
}

// ref §2.9: destination resolution tables.
// Rows: §2.9 row "broadcast 0xFF / 0xFFFFFFFF"; §2.9 row "physical: identity, only active (L)";
// §2.9 row "logical flat"; §2.9 row "logical cluster (xAPIC and x2APIC)";
// §2.9 row "other DFR model skipped"; §2.9 row "lowest priority: first match";
// §2.9 row "IOAPIC/MSI use xAPIC-format destinations"; §2.11 row "shorthands";
// §12.9 row "physical destination to an inactive vCPU (L fix)";
func TestCalcdest(t *testing.T) {
	flat := func(ldrs ...uint32) []DestView {
		v := make([]DestView, len(ldrs))
		for i, l := range ldrs {
			v[i] = DestView{Active: true, LDR: l, DFR: 0xFFFFFFFF}
		}
		return v
	}
	cluster := func(ldrs ...uint32) []DestView {
		v := flat(ldrs...)
		for i := range v {
			v[i].DFR = 0x0FFFFFFF
		}
		return v
	}
	four := flat(0x01000000, 0x02000000, 0x04000000, 0x08000000)
	inactive1 := flat(0x01000000, 0x02000000, 0x04000000, 0x08000000)
	inactive1[1].Active = false
	cl := cluster(0x11000000, 0x12000000, 0x21000000, 0x14000000)
	mixed := flat(0x01000000, 0x02000000, 0x04000000)
	mixed[1].DFR = 0x5FFFFFFF // bad model: never matches
	x2 := []DestView{
		{Active: true, X2APIC: true, LDR: 0x00000001},
		{Active: true, X2APIC: true, LDR: 0x00000002},
		{Active: true, X2APIC: true, LDR: 0x00010001},
	}
	rows := []struct {
		name              string
		views             []DestView
		dest              uint32
		phys, lowprio, x2 bool
		want              []int
	}{
		{"physical 2", four, 2, true, false, false, []int{2}},
		{"physical beyond", four, 4, true, false, false, nil},
		{"physical huge", four, 0x80000002, true, false, true, nil},
		{"physical inactive (L fix)", inactive1, 1, true, false, false, nil},
		{"physical broadcast", inactive1, 0xFF, true, false, false, []int{0, 2, 3}},
		{"logical broadcast", four, 0xFF, false, false, false, []int{0, 1, 2, 3}},
		{"broadcast lowprio not narrowed", four, 0xFF, false, true, false, []int{0, 1, 2, 3}},
		{"x2APIC broadcast", four, 0xFFFFFFFF, true, false, true, []int{0, 1, 2, 3}},
		{"0xFF is not broadcast in x2APIC format", four, 0xFF, true, false, true, nil},
		{"flat 0x05", four, 0x05, false, false, false, []int{0, 2}},
		{"flat 0x05 lowprio: first", four, 0x05, false, true, false, []int{0}},
		{"flat skips inactive", inactive1, 0x03, false, false, false, []int{0}},
		{"flat none", four, 0x30, false, false, false, nil},
		{"cluster 1 members 3", cl, 0x13, false, false, false, []int{0, 1}},
		{"cluster 1 member 4", cl, 0x14, false, false, false, []int{3}},
		{"cluster 2", cl, 0x21, false, false, false, []int{2}},
		{"cluster 3 empty", cl, 0x31, false, false, false, nil},
		{"cluster lowprio", cl, 0x1F, false, true, false, []int{0}},
		{"bad model skipped", mixed, 0x07, false, false, false, []int{0, 2}},
		{"x2APIC cluster 0 members 3", x2, 0x00000003, false, false, true, []int{0, 1}},
		{"x2APIC cluster 1", x2, 0x00010001, false, false, true, []int{2}},
		// xAPIC-format MDA (IOAPIC/MSI) against x2APIC LDRs: dest[7:4]
		// is taken as the cluster, dest[3:0] as members.
		{"xAPIC MDA on x2APIC LDR", x2, 0x11, false, false, false, []int{2}},
		{"xAPIC MDA cluster 0", x2, 0x02, false, false, false, []int{1}},
	}
	for _, r := range rows {
		got := Calcdest(r.views, r.dest, r.phys, r.lowprio, r.x2)
		if !reflect.DeepEqual(got, r.want) {
			t.Errorf("%s: Calcdest = %v, want %v", r.name, got, r.want)
		}
	}
	// Shorthands (ref §2.11): self, all including self, all excluding self.
	sh := []struct {
		ipi  IPI
		want []int
	}{
		{IPI{Sender: 1, Shorthand: ShorthandSelf, Dest: 3, Phys: true}, []int{1}},
		{IPI{Sender: 1, Shorthand: ShorthandAllIncluding}, []int{0, 2, 3}},
		{IPI{Sender: 0, Shorthand: ShorthandAllExcluding}, []int{2, 3}},
		{IPI{Sender: 0, Shorthand: ShorthandNone, Dest: 3, Phys: true}, []int{3}},
		{IPI{Sender: 0, Shorthand: ShorthandNone, Dest: 0x0C}, []int{2, 3}},
	}
	for _, r := range sh {
		if got := Targets(inactive1, r.ipi); !reflect.DeepEqual(got, r.want) {
			t.Errorf("Targets(%+v) = %v, want %v", r.ipi, got, r.want)
		}
	}
}

// ref §2.13 / reference/vmm-interface.md §8.4: MSI decoding.
// Rows: §2.13 row "MSI address check, destination, logical iff DM (B and L: RH and DM), mode, vector, edge";
func TestDecodeMSI(t *testing.T) {
	rows := []struct {
		addr, data uint64
		dest       uint32
		phys       bool
		mode       uint32
		vec        uint8
		ok         bool
	}{
		{0xFEE01000, 0x0041, 1, true, 0, 0x41, true},
		{0xFEE0300C, 0x8141, 3, false, 0x100, 0x41, true}, // RH+DM: logical; trigger bit ignored
		// DM without RH: logical, as hardware, QEMU and KVM decode it
		// (FreeBSD: physical). This is Linux's flat-mode MSI to CPU 0.
		{0xFEE01004, 0x0022, 1, false, 0, 0x22, true},
		{0xFEE03004, 0x0441, 3, false, 0x400, 0x41, true},
		{0xFEE03008, 0x0741, 3, true, 0x700, 0x41, true}, // RH without DM: physical
		{0xFEEFF000, 0x0030, 0xFF, true, 0, 0x30, true},
		{0xFED01000, 0x0041, 0, false, 0, 0, false},
		{0x1FEE01000, 0x0041, 1, true, 0, 0x41, true}, // only bits 31:20 are checked
	}
	for _, r := range rows {
		d, p, m, v, ok := DecodeMSI(r.addr, r.data)
		if ok != r.ok || ok && (d != r.dest || p != r.phys || m != r.mode || v != r.vec) {
			t.Errorf("DecodeMSI(%#x, %#x) = %#x %v %#x %#x %v", r.addr, r.data, d, p, m, v, ok)
		}
	}
}

// group builds n vCPUs wired as the kernel would (ref §2.10, §2.11).
type group struct {
	g      *Group
	clock  *vclock.Clock
	spy    *spy
	active []bool
	spinup []string
}

func newGroup(n int) *group {
	gr := &group{g: &Group{}, clock: vclock.New(vclock.Virtual), spy: &spy{}, active: make([]bool, n)}
	gr.g.Active = func(i int) bool { return gr.active[i] }
	for i := 0; i < n; i++ {
		h := gr.spy.hooks(fmt.Sprintf("cpu%d", i))
		h.IPI = func(ipi IPI) {
			if v, ok := gr.g.SendIPI(ipi); ok {
				gr.spinup = append(gr.spinup, fmt.Sprintf("spinup vcpu=%d rip=%#x", v, ipi.StartupRIP()))
			}
		}
		gr.g.LAPICs = append(gr.g.LAPICs, New(gr.clock, i, h))
		gr.active[i] = true
	}
	return gr
}

// Rows: §2.3 row "reset on INIT IPI (L only)"; §2.11 row "shorthands";
// §2.11 row "B: fixed and NMI delivered in kernel";
// §2.11 row "B: INIT from vCPU 0 to 0 < dest < 16, deassert ignored";
// §2.11 row "B: STARTUP to WAIT-FOR-SIPI, SPINUP_AP rip = vector << 12, second ignored";
// §12.7 row "INIT/SIPI (B reproduced)";
// §12.9 row "physical destination to an inactive vCPU (L fix)";
func TestGroupIPIs(t *testing.T) {
	gr := newGroup(3)
	for _, l := range gr.g.LAPICs {
		wr(t, l, OffSVR, 0x1FF)
	}
	gr.spy.take()
	l0 := gr.g.LAPICs[0]
	wr(t, l0, OffICRLow, 0x000C0050) // fixed 0x50 to all but self
	eqTrace(t, gr.spy.take(), []string{"cpu1 notify", "cpu2 notify"})
	for i, want := range []uint32{0, 1 << 16, 1 << 16} {
		if got := rd(t, gr.g.LAPICs[i], 0x220); got != want {
			t.Fatalf("cpu%d IRR2 = %#x, want %#x", i, got, want)
		}
	}
	wr(t, l0, OffICRLow, 0x00080400) // NMI to all including self
	eqTrace(t, gr.spy.take(), []string{"cpu0 nmi", "cpu1 nmi", "cpu2 nmi"})
	// Physical fixed IPI to an inactive vCPU is dropped (L fix, §12 #9).
	gr.active[2] = false
	wr(t, l0, OffICRHigh, 0x02000000)
	wr(t, l0, OffICRLow, 0x00000060)
	eqTrace(t, gr.spy.take(), nil)
	gr.active[2] = true
	// STARTUP before INIT: ignored; INIT then STARTUP starts the AP once.
	wr(t, l0, OffICRHigh, 0x01000000)
	wr(t, l0, OffICRLow, 0x00000610)
	if len(gr.spinup) != 0 {
		t.Fatal("SIPI without INIT started a vCPU")
	}
	wr(t, l0, OffICRLow, 0x0000C500)
	if gr.g.LAPICs[1].BootState() != BootSIPI {
		t.Fatal("INIT did not move the AP to wait-for-SIPI")
	}
	wr(t, l0, OffICRLow, 0x00000610)
	wr(t, l0, OffICRLow, 0x00000610) // second SIPI: ignored
	if !reflect.DeepEqual(gr.spinup, []string{"spinup vcpu=1 rip=0x10000"}) {
		t.Fatalf("spinups %v", gr.spinup)
	}
	if gr.g.LAPICs[1].BootState() != BootRunning {
		t.Fatal("AP not running")
	}
	// INIT does not reset the target's registers (B).
	if rd(t, gr.g.LAPICs[1], OffSVR) != 0x1FF {
		t.Fatal("INIT reset the target")
	}
	// INIT to a vCPU that is already running does nothing.
	wr(t, l0, OffICRLow, 0x00004500)
	if gr.g.LAPICs[1].BootState() != BootRunning {
		t.Fatal("INIT changed a running vCPU")
	}
}

// ref §2.10, §2.13: external delivery through a Group.
// Rows: §2.6 row "trigger_lvt invalid index EINVAL";
// §2.10 row "only fixed, lowest priority, ExtINT honoured";
// §2.10 row "vector 16-255 else refused";
// §2.13 row "MSI address check, destination, logical iff DM (B and L: RH and DM), mode, vector, edge";
func TestGroupDeliverIntrAndMSI(t *testing.T) {
	gr := newGroup(3)
	for i, l := range gr.g.LAPICs {
		wr(t, l, OffSVR, 0x1FF)
		wr(t, l, OffLDR, 1<<(24+i))
	}
	gr.spy.take()
	gr.g.DeliverIntr(0x06, false, DelModeFixed, 0x44, true)
	eqTrace(t, gr.spy.take(), []string{"cpu1 notify", "cpu2 notify"})
	gr.g.DeliverIntr(0x06, false, DelModeLowPrio, 0x45, false)
	eqTrace(t, gr.spy.take(), []string{"cpu1 notify"})
	gr.g.DeliverIntr(0x00, true, DelModeExtINT, 0, false)
	eqTrace(t, gr.spy.take(), []string{"cpu0 extint"})
	for _, m := range []uint32{DelModeSMI, DelModeRR, DelModeNMI, DelModeINIT, DelModeStartup} {
		gr.g.DeliverIntr(0xFF, true, m, 0x46, false)
	}
	gr.g.DeliverIntr(0x00, true, DelModeFixed, 0x0E, false) // vector < 16: refused
	eqTrace(t, gr.spy.take(), nil)
	if err := gr.g.MSI(0xFEE02000, 0x4049); err != nil {
		t.Fatal(err)
	}
	eqTrace(t, gr.spy.take(), []string{"cpu2 notify"})
	// Linux's HPET per-CPU timer message for CPU 0 in flat logical mode:
	// RH = 0, DM = 1, destination bitmask 0x01. Logical: vCPU 0, whose
	// LDR is 1<<24 (FreeBSD would deliver to APIC ID 1).
	if err := gr.g.MSI(0xFEE01004, 0x22); err != nil {
		t.Fatal(err)
	}
	eqTrace(t, gr.spy.take(), []string{"cpu0 notify"})
	if got := rd(t, gr.g.LAPICs[0], 0x210); got != 1<<2 {
		t.Fatalf("cpu0 IRR1 after the MSI = %#x, want vector 0x22 (%#x)", got, 1<<2)
	}
	if err := gr.g.MSI(0xFEC02000, 0x49); err != abi.EINVAL {
		t.Fatalf("MSI bad address = %v", err)
	}
	// VM_LAPIC_LOCAL_IRQ with −1: every active vCPU.
	gr.active[1] = false
	for _, l := range gr.g.LAPICs {
		wr(t, l, OffLVTLINT1, 0x400)
	}
	if err := gr.g.LocalIRQ(-1, LVTLINT1); err != nil {
		t.Fatal(err)
	}
	eqTrace(t, gr.spy.take(), []string{"cpu0 nmi", "cpu2 nmi"})
	if err := gr.g.LocalIRQ(-1, 9); err != abi.EINVAL {
		t.Fatalf("LocalIRQ bad index = %v", err)
	}
	if err := gr.g.LocalIRQ(7, 0); err != abi.EINVAL {
		t.Fatalf("LocalIRQ bad vCPU = %v", err)
	}
}

// ref §3.3, §12 #19: TMR rebuilt on active vCPUs from level routes.
// Rows: §12.19 row "TMR rebuilt on every active vCPU from the IOAPIC level routes";
func TestGroupUpdateTMR(t *testing.T) {
	gr := newGroup(3)
	for i, l := range gr.g.LAPICs {
		wr(t, l, OffLDR, 1<<(24+i))
	}
	gr.active[2] = false
	gr.g.LAPICs[2].SetTMR([8]uint32{0, 0, 0, 0, 0, 0, 0, 1})
	gr.g.UpdateTMR([]LevelRoute{
		{Dest: 1, Phys: true, DelMode: DelModeFixed, Vector: 0x41},
		{Dest: 0x07, DelMode: DelModeLowPrio, Vector: 0x62},         // first match only: cpu0
		{Dest: 0x03, DelMode: DelModeFixed, Vector: 0x63},           // cpu0, cpu1
		{Dest: 0xFF, Phys: true, DelMode: DelModeNMI, Vector: 0x70}, // not fixed/lowprio
	})
	want := [][8]uint32{
		{0, 0, 0, 1<<2 | 1<<3, 0, 0, 0, 0}, // 0x62, 0x63: word 3
		{0, 0, 1 << 1, 1 << 3, 0, 0, 0, 0}, // 0x41: word 2; 0x63: word 3
		{0, 0, 0, 0, 0, 0, 0, 1},           // inactive: untouched
	}
	for i, w := range want {
		if got := gr.g.LAPICs[i].State().TMR; got != w {
			t.Errorf("cpu%d TMR = %#x, want %#x", i, got, w)
		}
	}
}

// State round-trip: a restored LAPIC reads the same and its timer fires
// at the same instant.
// Rows: §2.14 row "state kept for snapshot parity";
func TestStateRoundTrip(t *testing.T) {
	l, c, _ := newL(1)
	wr(t, l, OffSVR, 0x1FF)
	wr(t, l, OffTimerDCR, 0xB)
	wr(t, l, OffLVTTmr, 0x30)
	l.SetIRR(0x55, false)
	l.IntrAccepted(0x55)
	wr(t, l, OffTimerICR, 1000)
	c.AdvanceTo(100)
	st := l.State()
	l.Close()
	s2 := &spy{}
	l2 := New(c, 1, s2.hooks("new"))
	l2.SetState(st)
	if !reflect.DeepEqual(l2.State(), st) {
		t.Fatal("state differs after SetState")
	}
	for off := uint32(0); off < 0x400; off += 16 {
		if a, b := rd(t, l, off), rd(t, l2, off); off != OffTimerCCR && a != b {
			t.Errorf("%#x: %#x vs %#x", off, a, b)
		}
	}
	c.AdvanceTo(31999)
	eqTrace(t, s2.take(), nil)
	c.AdvanceTo(32000)
	eqTrace(t, s2.take(), []string{"new notify"})
}

// scenario drives a 3-vCPU group through timers, IPIs and EOIs and
// returns the trace; two runs must be identical.
func scenario(t *testing.T) []string {
	gr := newGroup(3)
	var trace []string
	for i, l := range gr.g.LAPICs {
		wr(t, l, OffSVR, 0x1FF)
		wr(t, l, OffTimerDCR, uint32(i))
		wr(t, l, OffLVTTmr, 0x20030+uint32(i))
		wr(t, l, OffTimerICR, uint32(100+i*37))
	}
	for step := vclock.SBT(1); step <= 400; step++ {
		gr.clock.AdvanceTo(step * 997)
		for i, l := range gr.g.LAPICs {
			if v, ok := l.PendingIntr(); ok {
				l.IntrAccepted(v)
				trace = append(trace, fmt.Sprintf("t=%d cpu%d vec %#x ccr=%d", gr.clock.Now(), i, v, rd(t, l, OffTimerCCR)))
				wr(t, l, OffEOI, 0)
			}
		}
		if step%50 == 0 {
			wr(t, gr.g.LAPICs[0], OffICRLow, 0x000C0077)
		}
	}
	return append(trace, gr.spy.take()...)
}

func TestDeterminism(t *testing.T) {
	a, b := scenario(t), scenario(t)
	if len(a) < 100 {
		t.Fatalf("scenario too quiet: %d events", len(a))
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two identical runs gave different traces")
	}
}

// Concurrency: vCPU goroutines and the clock goroutine at once (go test
// -race).
func TestConcurrentUse(t *testing.T) {
	gr := newGroup(2)
	for _, l := range gr.g.LAPICs {
		wr(t, l, OffSVR, 0x1FF)
		wr(t, l, OffLVTTmr, 0x20030)
		wr(t, l, OffTimerICR, 10)
	}
	var wg sync.WaitGroup
	for i := range gr.g.LAPICs {
		wg.Add(1)
		go func(l *LAPIC, other int) {
			defer wg.Done()
			for k := 0; k < 500; k++ {
				wr(t, l, OffICRHigh, uint32(other)<<24)
				wr(t, l, OffICRLow, 0x00000040)
				if v, ok := l.PendingIntr(); ok {
					l.IntrAccepted(v)
					wr(t, l, OffEOI, 0)
				}
				rd(t, l, OffTimerCCR)
			}
		}(gr.g.LAPICs[i], 1-i)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := vclock.SBT(1); k < 500; k++ {
			gr.clock.AdvanceTo(k * 1000)
		}
	}()
	wg.Wait()
}
