package lapic

import (
	"testing"

	"softvmm/devices/internal/reftest"
	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// reference lists every row of reference/vmm-devices.md §2 (and the
// LAPIC's rows of §1.3, §1.4 and §12) with the test that checks it; each
// test carries its rows' tags. TestReferenceCoverage keeps the two in step.
// Where B (FreeBSD 12) and L (later) differ, the row names the one softvmm
// follows; the package doc says why.
var reference = []reftest.Row{
	{"0", "LAPIC tick 32·d sbt (FREQ2BT frac d·2^37)", "TestTickConstant", ""},
	{"1.3", "0xFEE00000-0xFEE00FFF local APIC of the faulting vCPU", "TestLocation TestResetValues", ""},
	{"1.4", "lapic_msr: 0x1B and 0x800-0xBFF", "TestX2APIC", ""},
	{"1.4", "RDMSR 0x1B; WRMSR 0x1B with a different value fails", "TestX2APIC", ""},
	{"1.4", "x2APIC MSRs in xAPIC mode: read 0, writes ignored", "TestX2APIC", ""},
	{"2.1", "MMIO page 0xFEE00000, one per vCPU, 0x400 bytes", "TestLocation TestResetValues", ""},
	{"2.1", "MMIO write not 4 bytes/16-aligned EINVAL", "TestMMIOAccessRules", ""},
	{"2.1", "MMIO read rounds down to 4, then 16-aligned else EINVAL; full register", "TestMMIOAccessRules", ""},
	{"2.1", "MMIO in x2APIC mode: read 0, writes ignored", "TestX2APIC", ""},
	{"2.1", "offsets above 0x400 read 0, writes ignored", "TestResetValues TestRegisterWrites", ""},
	{"2.1", "write to RO/unknown register ignored, no ESR bit", "TestRegisterWrites TestReadOnlyWritesSetNoESR", ""},
	{"2.2", "ID", "TestResetValues TestRegisterWrites TestX2APIC", ""},
	{"2.2", "Version (B 0x00060010)", "TestResetValues TestRegisterWrites TestX2APIC", ""},
	{"2.2", "TPR", "TestRegisterWrites TestPrioritySequence", ""},
	{"2.2", "APR", "TestResetValues TestRegisterWrites", ""},
	{"2.2", "PPR", "TestRegisterWrites TestPrioritySequence", ""},
	{"2.2", "EOI", "TestRegisterWrites TestPrioritySequence", ""},
	{"2.2", "RRD", "TestResetValues TestRegisterWrites", ""},
	{"2.2", "LDR", "TestRegisterWrites TestX2APIC", ""},
	{"2.2", "DFR", "TestRegisterWrites TestX2APIC", ""},
	{"2.2", "SVR", "TestRegisterWrites TestSVREnableDisable", ""},
	{"2.2", "ISR0-7", "TestRegisterWrites TestPrioritySequence", ""},
	{"2.2", "TMR0-7", "TestRegisterWrites TestPrioritySequence", ""},
	{"2.2", "IRR0-7", "TestRegisterWrites TestPrioritySequence", ""},
	{"2.2", "ESR", "TestRegisterWrites TestFireLVT", ""},
	{"2.2", "LVT CMCI", "TestRegisterWrites", ""},
	{"2.2", "ICR low", "TestICR TestX2APIC", ""},
	{"2.2", "ICR high", "TestRegisterWrites TestICR", ""},
	{"2.2", "LVT Timer", "TestRegisterWrites", ""},
	{"2.2", "LVT Thermal", "TestRegisterWrites", ""},
	{"2.2", "LVT PMC", "TestRegisterWrites", ""},
	{"2.2", "LVT LINT0", "TestRegisterWrites", ""},
	{"2.2", "LVT LINT1", "TestRegisterWrites", ""},
	{"2.2", "LVT Error", "TestRegisterWrites", ""},
	{"2.2", "Timer initial count", "TestRegisterWrites TestTimerOneShot", ""},
	{"2.2", "Timer current count", "TestRegisterWrites TestTimerOneShot", ""},
	{"2.2", "Timer divide config", "TestRegisterWrites TestTimerDivideChange", ""},
	{"2.2", "SELF IPI", "TestRegisterWrites TestX2APIC", ""},
	{"2.3", "reset: page zeroed, DFR all ones, SVR 0xFF, LVTs masked, DCR 0", "TestResetValues", ""},
	{"2.3", "msr_apicbase 0xFEE00800 | BSP | x2APIC", "TestResetValues TestX2APIC", ""},
	{"2.3", "reset on INIT IPI (L only)", "TestGroupIPIs", "softvmm follows B: INIT does not reset the target (§12.7)"},
	{"2.4", "PPR = TPR or top of stack & 0xF0", "TestPrioritySequence", ""},
	{"2.4", "deliverable iff highest IRR and class > PPR class", "TestPrioritySequence", ""},
	{"2.4", "CR8 bits above 3 fault; TPR = CR8 << 4", "TestPrioritySequence", ""},
	{"2.4", "PPR recomputed on TPR, acceptance, EOI (B)", "TestPrioritySequence", ""},
	{"2.5", "software-disabled: dropped, no wake-up", "TestSoftwareDisabledDrops", ""},
	{"2.5", "vector < 16: ESR 0x40", "TestSetIRRBelow16", ""},
	{"2.5", "level flag not written to TMR", "TestLevelFlagNotInTMR", ""},
	{"2.5", "acceptance: IRR to ISR, pushed on the stack", "TestPrioritySequence", ""},
	{"2.5", "stack overflow beyond 16 nested", "TestISRStackOverflow", ""},
	{"2.5", "EOI: highest ISR cleared, PPR; TMR set broadcasts", "TestPrioritySequence", ""},
	{"2.5", "gratuitous EOI ignored", "TestPrioritySequence", ""},
	{"2.6", "LVT write masks per LVT", "TestRegisterWrites", ""},
	{"2.6", "timer LVT drops TSC-deadline and delivery mode", "TestRegisterWrites TestFireLVT", ""},
	{"2.6", "SVR disabled: mask forced on write", "TestLVTWriteWhileDisabledIsMasked", ""},
	{"2.6", "fire: masked nothing; fixed < 16 ESR 0x20; fixed IRR; NMI; ExtINT; others ignored", "TestFireLVT", ""},
	{"2.6", "error LVT recursion guard", "TestFireLVT", ""},
	{"2.6", "trigger_lvt disabled: LINT0 ExtINT, LINT1 NMI", "TestFireLVT", ""},
	{"2.6", "trigger_lvt invalid index EINVAL", "TestFireLVT TestGroupDeliverIntrAndMSI", ""},
	{"2.7", "SVR stored verbatim", "TestRegisterWrites", ""},
	{"2.7", "bit 8 1->0: timer stopped, every LVT masked", "TestSVREnableDisable", ""},
	{"2.7", "bit 8 0->1: periodic restarts from full count, one-shot not", "TestSVREnableDisable", ""},
	{"2.7", "focus-check and EOI-suppression bits no effect", "TestSVREOISuppressionIgnored", ""},
	{"2.8", "frequency 2^27 / divisor table", "TestDivisorTable TestTimerOneShot", ""},
	{"2.8", "no TSC-deadline; MSR 0x6E0 not the LAPIC's", "TestNoTSCDeadline", ""},
	{"2.8", "initial count: 0 stops; else fire now + period; armed even masked", "TestTimerOneShot", ""},
	{"2.8", "expiry fires the LVT; one-shot inactive", "TestTimerOneShot", ""},
	{"2.8", "periodic: on grid if less than a period late, else now + period", "TestTimerPeriodic TestTimerPeriodicCatchUp", ""},
	{"2.8", "current count formula, independent of mask", "TestTimerOneShot", ""},
	{"2.8", "DCR write keeps fire time, CCR with new tick", "TestTimerDivideChange", ""},
	{"2.9", "broadcast 0xFF / 0xFFFFFFFF", "TestCalcdest", ""},
	{"2.9", "physical: identity, only active (L)", "TestCalcdest", ""},
	{"2.9", "logical flat", "TestCalcdest", ""},
	{"2.9", "logical cluster (xAPIC and x2APIC)", "TestCalcdest", ""},
	{"2.9", "other DFR model skipped", "TestCalcdest", ""},
	{"2.9", "lowest priority: first match", "TestCalcdest", ""},
	{"2.9", "IOAPIC/MSI use xAPIC-format destinations", "TestCalcdest", ""},
	{"2.9", "x2APIC LDR derived from id", "TestX2APIC", ""},
	{"2.10", "only fixed, lowest priority, ExtINT honoured", "TestGroupDeliverIntrAndMSI", ""},
	{"2.10", "vector 16-255 else refused", "TestGroupDeliverIntrAndMSI TestPrioritySequence", ""},
	{"2.11", "ICR-low write clears delivery status, ICR-high destination", "TestICR TestX2APIC", ""},
	{"2.11", "shorthands", "TestCalcdest TestGroupIPIs", ""},
	{"2.11", "B: fixed < 16 ESR 0x20", "TestICR", ""},
	{"2.11", "B: fixed and NMI delivered in kernel", "TestICR TestGroupIPIs", ""},
	{"2.11", "B: INIT from vCPU 0 to 0 < dest < 16, deassert ignored", "TestICR TestGroupIPIs", ""},
	{"2.11", "B: STARTUP to WAIT-FOR-SIPI, SPINUP_AP rip = vector << 12, second ignored", "TestICR TestGroupIPIs", ""},
	{"2.11", "B: INIT/STARTUP use the raw destination; shorthand and dest mode not checked", "TestInitRawDestination", ""},
	{"2.11", "B: everything else is an access error (EPERM)", "TestICR", ""},
	{"2.11", "B: boot state vCPU 0 RUNNING, others INIT", "TestResetValues", ""},
	{"2.11", "L: validated ICR, VM_EXITCODE_IPI", "", "softvmm follows B (FreeBSD 12 ABI has no VM_EXITCODE_IPI); package doc, §12.7"},
	{"2.12", "guest cannot switch modes", "TestX2APIC", ""},
	{"2.12", "VM_SET_X2APIC_STATE: APICBASE bit 10, ID, LDR, DFR", "TestX2APIC", ""},
	{"2.12", "CPUID leaf 1 ECX bit 21 iff not DISABLED", "", "CPUID is the interpreter's (emu/vmm), not the LAPIC's"},
	{"2.13", "MSI address check, destination, logical iff DM (B and L: RH and DM), mode, vector, edge", "TestDecodeMSI TestGroupDeliverIntrAndMSI", ""},
	{"2.14", "state kept for snapshot parity", "TestStateRoundTrip", ""},
	{"12.7", "INIT/SIPI (B reproduced)", "TestICR TestGroupIPIs", ""},
	{"12.8", "lowest-priority/SMI/remote-read IPIs error", "TestICR", ""},
	{"12.9", "physical destination to an inactive vCPU (L fix)", "TestCalcdest TestGroupIPIs", ""},
	{"12.10", "version 0x10 (B)", "TestResetValues", ""},
	{"12.11", "PPR on acceptance (B)", "TestPrioritySequence", ""},
	{"12.12", "timer quirks", "TestTimerDivideChange TestTimerPeriodicCatchUp TestSVREnableDisable TestNoTSCDeadline", ""},
	{"12.13", "access rules quirks", "TestMMIOAccessRules TestX2APIC TestRegisterWrites", ""},
	{"12.19", "TMR rebuilt on every active vCPU from the IOAPIC level routes", "TestGroupUpdateTMR", ""},
}

func TestReferenceCoverage(t *testing.T) { reftest.Check(t, reference) }

// The register page every vCPU sees at the architectural default.
// Rows: §1.3 row "0xFEE00000-0xFEE00FFF local APIC of the faulting vCPU";
// §2.1 row "MMIO page 0xFEE00000, one per vCPU, 0x400 bytes";
func TestLocation(t *testing.T) {
	if DefaultBase != 0xFEE00000 {
		t.Fatalf("DefaultBase %#x", DefaultBase)
	}
}

// Writes to read-only registers and holes are dropped without an ESR
// "illegal register address" bit (0x80): vlapic has no such error.
// Rows: §2.1 row "write to RO/unknown register ignored, no ESR bit";
func TestReadOnlyWritesSetNoESR(t *testing.T) {
	l, _, _ := newL(1)
	wr(t, l, OffSVR, 0x1FF)
	for _, off := range []uint32{OffVersion, OffAPR, OffPPR, OffRRD, 0x100, 0x180, 0x200, OffTimerCCR, 0x040, 0x3C0, 0x3F0} {
		wr(t, l, off, 0xFFFFFFFF)
	}
	wr(t, l, OffESR, 0)
	if got := rd(t, l, OffESR); got != 0 {
		t.Fatalf("ESR %#x after writes to read-only registers, want 0", got)
	}
}

// vlapic_set_intr_ready's vector < 16 branch (ESR receive-illegal, 0x40)
// is unreachable: every path into it (lapic_set_intr for VM_LAPIC_IRQ,
// the IOAPIC, MSI and IPIs; the x2APIC self IPI) refuses vectors below 16
// first, and a fixed LVT with such a vector takes the send-illegal branch
// (0x20). So SetIRR(15) is EINVAL and leaves ESR and IRR clear.
// Rows: §2.5 row "vector < 16: ESR 0x40";
func TestSetIRRBelow16(t *testing.T) {
	l, _, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	for v := 0; v < 16; v++ {
		if err := l.SetIRR(uint8(v), false); err == nil {
			t.Fatalf("SetIRR(%d) accepted", v)
		}
	}
	l.SetX2APICState(X2APICEnabled)
	l.WriteMSR(0x83F, 0x0E) // self IPI, vector 14
	l.SetX2APICState(X2APICDisabled)
	wr(t, l, OffESR, 0)
	if esr, irr := rd(t, l, OffESR), rd(t, l, 0x200); esr != 0 || irr != 0 {
		t.Fatalf("ESR %#x IRR0 %#x, want 0, 0", esr, irr)
	}
	eqTrace(t, s.take(), nil)
}

// The level flag of an incoming interrupt does not set TMR: with TMR
// clear (no IOAPIC level route for the vector) its EOI stays in the LAPIC.
// Rows: §2.5 row "level flag not written to TMR";
func TestLevelFlagNotInTMR(t *testing.T) {
	l, _, s := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	l.SetIRR(0x61, true)
	if got := rd(t, l, 0x180+3*16); got != 0 {
		t.Fatalf("TMR3 = %#x after a level SetIRR, want 0", got)
	}
	v, _ := l.PendingIntr()
	l.IntrAccepted(v)
	s.take()
	wr(t, l, OffEOI, 0)
	eqTrace(t, s.take(), nil)
}

// Accepting more vectors than the 16-deep in-service stack holds cannot
// happen through PendingIntr (each accepted vector is a class higher);
// FreeBSD panics if it did. softvmm ignores the excess acceptance rather
// than crash the process: no panic, the stack never exceeds its depth.
// Rows: §2.5 row "stack overflow beyond 16 nested";
func TestISRStackOverflow(t *testing.T) {
	l, _, _ := newL(0)
	wr(t, l, OffSVR, 0x1FF)
	for i := 0; i < 40; i++ {
		l.IntrAccepted(0xF5)
	}
	if top := l.State().ISRStackTop; top != 16 {
		t.Fatalf("stack top %d, want 16 (full, excess ignored)", top)
	}
}

// SVR bit 12 (EOI-broadcast suppression) and bit 9 (focus check) are
// stored but change nothing: a level vector's EOI still reaches the IOAPIC.
// Rows: §2.7 row "focus-check and EOI-suppression bits no effect";
func TestSVREOISuppressionIgnored(t *testing.T) {
	l, _, s := newL(0)
	wr(t, l, OffSVR, 0x13FF)
	if got := rd(t, l, OffSVR); got != 0x13FF {
		t.Fatalf("SVR %#x", got)
	}
	var tmr [8]uint32
	tmr[0x52/32] = 1 << (0x52 % 32)
	l.SetTMR(tmr)
	l.SetIRR(0x52, true)
	v, _ := l.PendingIntr()
	l.IntrAccepted(v)
	s.take()
	wr(t, l, OffEOI, 0)
	eqTrace(t, s.take(), []string{"cpu0 eoi 0x52"})
}

// vlapic has no TSC-deadline mode: LVT bit 18 is not kept (TestRegisterWrites)
// and IA32_TSC_DEADLINE (0x6E0) is not a LAPIC MSR, so it leaves the
// kernel like any unknown MSR.
// Rows: §2.8 row "no TSC-deadline; MSR 0x6E0 not the LAPIC's"; §12.12 row "timer quirks";
func TestNoTSCDeadline(t *testing.T) {
	l, _, _ := newL(0)
	if IsMSR(0x6E0) {
		t.Fatal("IsMSR(0x6E0)")
	}
	if _, err := l.ReadMSR(0x6E0); err == nil {
		t.Fatal("ReadMSR(0x6E0) succeeded")
	}
	if err := l.WriteMSR(0x6E0, 1); err == nil {
		t.Fatal("WriteMSR(0x6E0) succeeded")
	}
}

// Reference §0: FREQ2BT(2^27/d) = d·2^37, one tick 32·d sbt, for every
// divisor of the DCR table (§2.8).
// Rows: §0 row "LAPIC tick 32·d sbt (FREQ2BT frac d·2^37)";
func TestTickConstant(t *testing.T) {
	for dcr, d := range map[uint32]uint64{0x0: 2, 0x1: 4, 0x2: 8, 0x3: 16, 0x8: 32, 0x9: 64, 0xA: 128, 0xB: 1} {
		frac, sbt := reftest.FREQ2BT(1 << 27 / d)
		if frac != d<<37 || vclock.SBT(sbt) != TickSBT(dcr) {
			t.Errorf("DCR %#x: frac %#x sbt %d, TickSBT %d", dcr, frac, sbt, TickSBT(dcr))
		}
	}
}

// FreeBSD 12's INIT and STARTUP handlers look only at the raw destination
// field of ICR-high (0 < dest < 16, sender vCPU 0): the shorthand and the
// destination-mode bit are not checked. So INIT "all excluding self" with
// a destination field of 2 reaches vCPU 2 only, a logical-mode INIT with
// field 1 reaches vCPU 1 as if physical, and the usual "INIT to all
// excluding self" with field 0 is an access error, as in bhyve 12.
// Rows:
// §2.11 row "B: INIT/STARTUP use the raw destination; shorthand and dest mode not checked";
func TestInitRawDestination(t *testing.T) {
	gr := newGroup(3)
	l0 := gr.g.LAPICs[0]
	wr(t, l0, OffSVR, 0x1FF)
	wr(t, l0, OffICRHigh, 0x02000000)
	wr(t, l0, OffICRLow, 0x000C4500) // INIT assert, all excluding self
	if gr.g.LAPICs[2].BootState() != BootSIPI || gr.g.LAPICs[1].BootState() != BootINIT {
		t.Fatalf("boot states %v %v, want vCPU 2 only in wait-for-SIPI",
			gr.g.LAPICs[1].BootState(), gr.g.LAPICs[2].BootState())
	}
	wr(t, l0, OffICRHigh, 0x01000000)
	wr(t, l0, OffICRLow, 0x00004D00) // INIT assert, logical
	if gr.g.LAPICs[1].BootState() != BootSIPI {
		t.Fatal("logical INIT to field 1 did not reach vCPU 1")
	}
	wr(t, l0, OffICRLow, 0x000C0620) // STARTUP 0x20, all excluding self, field 1
	if len(gr.spinup) != 1 || gr.spinup[0] != "spinup vcpu=1 rip=0x20000" {
		t.Fatalf("spinups %v, want vCPU 1 at 0x20000", gr.spinup)
	}
	wr(t, l0, OffICRHigh, 0)
	if err := l0.Write(OffICRLow, 4, 0x000C4500); err != abi.EPERM {
		t.Fatalf("INIT all-excluding-self with field 0: %v, want EPERM", err)
	}
}
