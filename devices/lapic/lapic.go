// Package lapic is one vCPU's local APIC as FreeBSD 12's vmm builds it
// (sys/amd64/vmm/io/vlapic.c, vmm_lapic.c; reference/vmm-devices.md §2):
// the xAPIC register page at 0xFEE00000, the x2APIC MSRs 0x800–0xBFF and
// APIC_BASE (0x1B), the interrupt-priority machinery (IRR, ISR, TMR, PPR)
// the interpreter asks at each instruction boundary, and the timer at
// 2^27 Hz divided by DCR, counted in sbintime on the VM's vclock.
//
// The device sees only offsets into its own page and never other LAPICs:
// what leaves it (IPIs, NMI/ExtINT to its own vCPU, EOIs of level vectors,
// wake-ups) goes out through Hooks, and the kernel resolves destinations
// across all LAPICs with Calcdest/Targets or a Group (dest.go), as bhyve's
// vlapic_calcdest does with the whole VM in view.
//
// # Locking
//
// Each LAPIC has one mutex covering the page, the in-service stack and the
// timer. Hooks are never called with it held: every entry point collects
// its effects, unlocks, then runs them. So a hook may call back into any
// LAPIC (its own included) and into the IOAPIC; and a caller that holds
// the IOAPIC or HPET lock may call into a LAPIC (order: HPET → IOAPIC →
// LAPIC → vclock, never the reverse).
//
// # Baseline and known bugs (reference/vmm-devices.md §12)
//
// Baseline is FreeBSD 12 ("B"); where later FreeBSD fixed a bug we take
// the fix. Decisions, each pinned by a test in lapic_test.go:
//   - #7 INIT/SIPI: reproduced as B, because the FreeBSD 12 ABI has only
//     VM_EXITCODE_SPINUP_AP (no VM_EXITCODE_IPI) and bhyve 12 relies on it:
//     only vCPU 0 may send INIT/STARTUP, to a raw destination 0 < dest <
//     MaxCPU; INIT level-deassert is ignored; INIT only moves the target's
//     boot state to wait-for-SIPI (no register reset); other INIT/SIPI
//     forms are errors of the access (ErrIPI).
//   - #8 lowest-priority, SMI, remote-read, reserved IPIs: reproduced
//     (ErrIPI, which is errno 1 = EPERM, what VM_RUN returns in B).
//   - #9 physical destination naming an inactive vCPU: fixed as L (dropped),
//     in Calcdest: delivering into a vCPU that does not run is meaningless.
//   - #10 version: B's 0x00060010 is kept (not a bug; baseline value).
//   - #11 PPR: B (recomputed on TPR change, acceptance and EOI), which is
//     also what the SDM describes; L's stale PPR after acceptance is not.
//   - #12 timer: reproduced (DCR change keeps the fire time, CCR uses the
//     new divisor and may exceed ICR; periodic catch-up drops missed
//     periods; SVR re-enable restarts only a periodic timer; no
//     TSC-deadline).
//   - #13 access rules: reproduced (EINVAL for MMIO writes that are not
//     4 bytes at a 16-byte boundary, sub-dword reads see the low bytes,
//     wrong-mode accesses silently read 0 / are ignored, SVR and the LVT
//     delivery-status bit are stored as written).
//   - MSI destination mode (§2.13): fixed beyond B and L, like #9. An
//     MSI address with the destination-mode bit set is logical, whatever
//     the redirection hint, as hardware, QEMU and KVM decode it; FreeBSD
//     treats it as physical unless the hint is set too, which misroutes
//     every MSI Linux sends in flat logical mode (DecodeMSI).
//
// Reset differs from vlapic_reset in one way on purpose: it also empties
// the in-service stack and the pending ESR bits and stops the timer, as
// the fresh vlapic that FreeBSD 12 builds at every vCPU init has them.
package lapic

import (
	"math/bits"
	"sync"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
)

// Where the LAPIC lives (reference/vmm-devices.md §1.3, §1.4, §2.1).
const (
	DefaultBase   = 0xFEE00000 // DEFAULT_APIC_BASE; one page per vCPU
	MMIOSize      = 0x1000     // the window the kernel routes here
	PageSize      = 0x400      // sizeof(struct LAPIC): offsets above read 0
	MSRAPICBase   = 0x1B
	MSRX2APICBase = 0x800 // x2APIC MSR = 0x800 + offset>>4
	MSRX2APICLast = 0xBFF
)

// Register offsets (struct LAPIC, Intel SDM vol. 3A table 10-1).
const (
	OffID       = 0x020
	OffVersion  = 0x030
	OffTPR      = 0x080
	OffAPR      = 0x090
	OffPPR      = 0x0A0
	OffEOI      = 0x0B0
	OffRRD      = 0x0C0
	OffLDR      = 0x0D0
	OffDFR      = 0x0E0
	OffSVR      = 0x0F0
	OffISR0     = 0x100
	OffTMR0     = 0x180
	OffIRR0     = 0x200
	OffESR      = 0x280
	OffLVTCMCI  = 0x2F0
	OffICRLow   = 0x300
	OffICRHigh  = 0x310
	OffLVTTmr   = 0x320
	OffLVTTherm = 0x330
	OffLVTPMC   = 0x340
	OffLVTLINT0 = 0x350
	OffLVTLINT1 = 0x360
	OffLVTErr   = 0x370
	OffTimerICR = 0x380
	OffTimerCCR = 0x390
	OffTimerDCR = 0x3E0
	OffSelfIPI  = 0x3F0
)

// LVT indices, as VM_LAPIC_LOCAL_IRQ numbers them (apicvar.h).
const (
	LVTLINT0   = 0
	LVTLINT1   = 1
	LVTTimer   = 2
	LVTError   = 3
	LVTPMC     = 4
	LVTThermal = 5
	LVTCMCI    = 6
	NumLVT     = 7
)

// Bits of the register page (apicreg.h; SDM vol. 3A §10.5.1, §10.6.1).
const (
	LVTVector    = 0x000000FF
	LVTDelMode   = 0x00000700
	LVTDelStat   = 0x00001000
	LVTPolarity  = 0x00002000
	LVTRemoteIRR = 0x00004000
	LVTTrigger   = 0x00008000
	LVTMasked    = 0x00010000
	LVTPeriodic  = 0x00020000 // timer LVT only; bit 18 (TSC-deadline) is never kept

	SVREnable = 0x100
	SVRVector = 0xFF

	ESRSendIllegalVector    = 0x20
	ESRReceiveIllegalVector = 0x40

	DFRModelMask    = 0xF0000000
	DFRModelFlat    = 0xF0000000
	DFRModelCluster = 0x00000000

	ICRDestModeLogical = 0x00000800
	ICRDelivStatus     = 0x00001000
	ICRLevelAssert     = 0x00004000
	ICRTriggerLevel    = 0x00008000
	ICRShorthandShift  = 18

	APICBaseBSP     = 0x100
	APICBaseX2APIC  = 0x400
	APICBaseEnabled = 0x800
)

// Delivery modes as they sit in an LVT, ICR, RTE or MSI data word (bits
// 10:8 in place): the values vlapic_deliver_intr and the ICR handler
// compare against.
const (
	DelModeFixed   = 0x000
	DelModeLowPrio = 0x100
	DelModeSMI     = 0x200
	DelModeRR      = 0x300 // remote read (ICR) / reserved
	DelModeNMI     = 0x400
	DelModeINIT    = 0x500
	DelModeStartup = 0x600
	DelModeExtINT  = 0x700
)

// ICR destination shorthands (bits 19:18 >> 18).
const (
	ShorthandNone         = 0
	ShorthandSelf         = 1
	ShorthandAllIncluding = 2
	ShorthandAllExcluding = 3
)

// Version is the value of the Version register: version 0x10 with the
// highest LVT index (6, CMCI) in bits 23:16 — FreeBSD 12's VLAPIC_VERSION
// (later FreeBSD reports 0x14; §12 #10).
const Version = 0x00060010

// BusFreq is the timer's input clock before the divider: 128 MiHz, chosen
// by bhyve as a power of two so that one tick is exactly 32·d sbintime
// units at divisor d (reference/vmm-devices.md §0 tick table).
const BusFreq = 1 << 27

// MaxCPU is FreeBSD 12's VM_MAXCPU: the bound of the raw INIT/SIPI
// destination check (§2.11 B).
const MaxCPU = 16

// x2APIC states (enum x2apic_state, VM_SET_X2APIC_STATE).
const (
	X2APICDisabled  = 0
	X2APICEnabled   = 1
	x2apicStateLast = 2
)

// BootState is B's per-vCPU start-up state, which INIT and STARTUP IPIs
// move (vlapic.c boot_state).
type BootState int

const (
	BootINIT    BootState = iota // AP after reset: waits for INIT
	BootSIPI                     // INIT seen: waits for a STARTUP IPI
	BootRunning                  // BSP, or an AP that was started
)

// ErrIPI is what an ICR write that FreeBSD 12 does not handle in the
// kernel returns (vlapic_icrlo_write_handler's "return 1"): on the MSR
// path the kernel exits with VM_EXITCODE_WRMSR; on the MMIO path VM_RUN
// fails with this errno (1, EPERM), as bhyve 12's does.
var ErrIPI error = abi.EPERM

// IPI is an interrupt that leaves this LAPIC through the ICR (or SELF IPI
// register), for the kernel to deliver. Fixed and NMI IPIs go to
// Targets(views, ipi). INIT and STARTUP have passed B's sender checks
// (sender is vCPU 0, 0 < Dest < MaxCPU): the kernel calls BootINIT /
// BootStartup on the LAPIC of vCPU Dest (Group.SendIPI does all of this).
type IPI struct {
	Sender    int    // vCPU id of the sending LAPIC
	Mode      uint32 // DelModeFixed, DelModeNMI, DelModeINIT or DelModeStartup
	Vector    uint8
	Dest      uint32 // xAPIC: ICR[63:56]; x2APIC: ICR[63:32]
	Phys      bool   // destination mode physical (ICR bit 11 clear)
	Shorthand uint32 // ShorthandNone..ShorthandAllExcluding
	X2APIC    bool   // the sender is in x2APIC mode: Dest is 32 bits wide
}

// StartupRIP is where a STARTUP IPI starts the AP: vector << 12
// (spinup_ap.rip).
func (ipi IPI) StartupRIP() uint64 { return uint64(ipi.Vector) << 12 }

// Hooks are what the kernel gives a LAPIC for what leaves it. Any may be
// nil. They run on the goroutine that called into the LAPIC (a vCPU, or
// the clock's for timer expiries), never with the LAPIC's lock held.
type Hooks struct {
	// Notify: a vector was set in IRR (vcpu_notify_event): wake the vCPU
	// if it is halted.
	Notify func()
	// NMI and ExtINT inject into this LAPIC's vCPU (vm_inject_nmi,
	// vm_inject_extint): LVTs in NMI/ExtINT mode, LINT0/LINT1 while the
	// LAPIC is disabled, and deliveries a Group makes to this vCPU.
	NMI    func()
	ExtINT func()
	// EOI: the guest EOIed a vector whose TMR bit is set; the kernel
	// passes it to the IOAPIC (vioapic_process_eoi).
	EOI func(vector uint8)
	// IPI: an ICR write to deliver (see IPI). It runs before the Write
	// that caused it returns, so a kernel that learns from it that the
	// sending vCPU must exit (SPINUP_AP) can arrange that exit.
	IPI func(ipi IPI)
}

// effects are the hook calls one entry point owes, run after unlocking.
type effects struct {
	notify, nmi, extint bool
	eoi                 int // vector, or -1
	ipi                 IPI
	hasIPI              bool
}

// LAPIC is one vCPU's local APIC.
type LAPIC struct {
	clock *vclock.Clock
	vcpu  int
	hooks Hooks
	timer *vclock.Timer

	mu sync.Mutex
	st State
	// esrFiring is B's recursion guard for an error LVT that itself holds
	// an illegal vector.
	esrFiring bool
}

// New returns the LAPIC of vCPU vcpu in its vCPU-init state
// (vlapic_init: APIC_BASE = 0xFEE00000 | enabled | BSP for vCPU 0, x2APIC
// disabled, registers as §2.3).
func New(clock *vclock.Clock, vcpu int, hooks Hooks) *LAPIC {
	l := &LAPIC{clock: clock, vcpu: vcpu, hooks: hooks}
	l.timer = clock.NewTimer(l.timerExpired)
	l.Reset()
	return l
}

// VCPU returns the id of the vCPU this LAPIC belongs to.
func (l *LAPIC) VCPU() int { return l.vcpu }

// Reset puts the LAPIC in its vCPU-init state (vlapic_init + vlapic_reset
// + x2APIC DISABLED, as vm_init does at VM creation and VM_REINIT).
func (l *LAPIC) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer.Stop()
	l.st = State{APICBase: DefaultBase | APICBaseEnabled}
	if l.vcpu == 0 {
		l.st.APICBase |= APICBaseBSP
	}
	l.resetRegs()
}

// resetRegs is vlapic_reset: the page zeroed, then ID, version, DFR, SVR,
// masked LVTs, edge TMR, DCR 0, boot state.
func (l *LAPIC) resetRegs() {
	s := &l.st
	apicBase := s.APICBase
	*s = State{APICBase: apicBase}
	s.ID = l.idValue()
	s.Version = Version
	s.DFR = 0xFFFFFFFF
	s.SVR = SVRVector
	l.maskLVTs()
	if l.vcpu == 0 {
		s.BootState = BootRunning
	} else {
		s.BootState = BootINIT
	}
	s.SVRLast = s.SVR
	l.esrFiring = false
}

func (l *LAPIC) x2apic() bool { return l.st.APICBase&APICBaseX2APIC != 0 }

// idValue is vlapic_get_id: the APIC id is the vCPU id.
func (l *LAPIC) idValue() uint32 {
	if l.x2apic() {
		return uint32(l.vcpu)
	}
	return uint32(l.vcpu) << 24
}

// x2apicLDR is the read-only x2APIC logical id: cluster id<<16 | 1<<(id&15)
// (SDM vol. 3A §10.12.10.2).
func x2apicLDR(id uint32) uint32 {
	return (id&0xFFFF0)<<12 | 1<<(id&0xF)
}

func (l *LAPIC) run(fx *effects) {
	if fx.hasIPI && l.hooks.IPI != nil {
		l.hooks.IPI(fx.ipi)
	}
	if fx.notify && l.hooks.Notify != nil {
		l.hooks.Notify()
	}
	if fx.nmi && l.hooks.NMI != nil {
		l.hooks.NMI()
	}
	if fx.extint && l.hooks.ExtINT != nil {
		l.hooks.ExtINT()
	}
	if fx.eoi >= 0 && l.hooks.EOI != nil {
		l.hooks.EOI(uint8(fx.eoi))
	}
}

func (l *LAPIC) unlockRun(fx *effects) {
	l.mu.Unlock()
	l.run(fx)
}

// Read is a guest MMIO read of size bytes at offset into the LAPIC page
// (lapic_mmio_read): the offset is rounded down to 4 bytes and must then
// be 16-byte aligned (else EINVAL, which fails VM_RUN); any size is
// accepted and sees the low bytes of the 32-bit register (§2.1).
func (l *LAPIC) Read(offset uint32, size int) (uint64, error) {
	off := offset &^ 3
	if off&0xF != 0 {
		return 0, abi.EINVAL
	}
	l.mu.Lock()
	v := l.read(true, off)
	l.mu.Unlock()
	switch size {
	case 1:
		v &= 0xFF
	case 2:
		v &= 0xFFFF
	}
	return v, nil
}

// Write is a guest MMIO write (lapic_mmio_write): it must be 4 bytes at a
// 16-byte boundary, else EINVAL (fatal for VM_RUN in FreeBSD, §12 #13).
// ErrIPI reports an ICR write the kernel does not handle.
func (l *LAPIC) Write(offset uint32, size int, v uint64) error {
	if size != 4 || offset&0xF != 0 {
		return abi.EINVAL
	}
	fx := effects{eoi: -1}
	l.mu.Lock()
	err := l.write(true, offset, v, &fx)
	l.unlockRun(&fx)
	return err
}

// IsMSR reports whether the LAPIC owns msr (lapic_msr): APIC_BASE and the
// x2APIC range.
func IsMSR(msr uint32) bool {
	return msr == MSRAPICBase || (msr >= MSRX2APICBase && msr <= MSRX2APICLast)
}

// ReadMSR is RDMSR of a LAPIC MSR. x2APIC MSRs read 0 in xAPIC mode (no
// #GP, §1.4). An error (only for an MSR that is not the LAPIC's) makes
// the kernel exit with VM_EXITCODE_RDMSR.
func (l *LAPIC) ReadMSR(msr uint32) (uint64, error) {
	if !IsMSR(msr) {
		return 0, abi.EINVAL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if msr == MSRAPICBase {
		return l.st.APICBase, nil
	}
	return l.read(false, (msr-MSRX2APICBase)<<4), nil
}

// WriteMSR is WRMSR of a LAPIC MSR. APIC_BASE accepts only its current
// value (the guest cannot relocate, disable or switch the LAPIC, §2.12);
// anything else, an unhandled ICR write (ErrIPI) or an MSR that is not
// the LAPIC's is an error, on which the kernel exits with
// VM_EXITCODE_WRMSR. x2APIC MSR writes in xAPIC mode are ignored.
func (l *LAPIC) WriteMSR(msr uint32, v uint64) error {
	if !IsMSR(msr) {
		return abi.EINVAL
	}
	fx := effects{eoi: -1}
	l.mu.Lock()
	var err error
	if msr == MSRAPICBase {
		if v != l.st.APICBase {
			err = abi.EINVAL
		}
	} else {
		err = l.write(false, (msr-MSRX2APICBase)<<4, v, &fx)
	}
	l.unlockRun(&fx)
	return err
}

// read is vlapic_read. mmio says which door the access came through.
func (l *LAPIC) read(mmio bool, off uint32) uint64 {
	s := &l.st
	x2 := l.x2apic()
	if x2 && mmio || !x2 && !mmio || off > PageSize {
		return 0
	}
	off &^= 3
	switch {
	case off == OffID:
		return uint64(s.ID)
	case off == OffVersion:
		return uint64(s.Version)
	case off == OffTPR:
		return uint64(s.TPR)
	case off == OffPPR:
		return uint64(s.PPR)
	case off == OffLDR:
		return uint64(s.LDR)
	case off == OffDFR:
		return uint64(s.DFR)
	case off == OffSVR:
		return uint64(s.SVR)
	case off >= OffISR0 && off < OffISR0+0x80:
		return uint64(s.ISR[(off-OffISR0)>>4])
	case off >= OffTMR0 && off < OffTMR0+0x80:
		return uint64(s.TMR[(off-OffTMR0)>>4])
	case off >= OffIRR0 && off < OffIRR0+0x80:
		return uint64(s.IRR[(off-OffIRR0)>>4])
	case off == OffESR:
		return uint64(s.ESR)
	case off == OffICRLow:
		v := uint64(s.ICRLow)
		if x2 {
			v |= uint64(s.ICRHigh) << 32
		}
		return v
	case off == OffICRHigh:
		return uint64(s.ICRHigh)
	case lvtIndex(off) >= 0:
		return uint64(s.LVT[lvtIndex(off)])
	case off == OffTimerICR:
		return uint64(s.TimerInitial)
	case off == OffTimerCCR:
		return uint64(l.ccr())
	case off == OffTimerDCR:
		return uint64(s.TimerDivide)
	}
	// APR, EOI, RRD, SELF IPI and the holes read 0.
	return 0
}

// lvtIndex maps an LVT register offset to its LVT index, or -1.
func lvtIndex(off uint32) int {
	switch off {
	case OffLVTCMCI:
		return LVTCMCI
	case OffLVTTmr:
		return LVTTimer
	case OffLVTTherm:
		return LVTThermal
	case OffLVTPMC:
		return LVTPMC
	case OffLVTLINT0:
		return LVTLINT0
	case OffLVTLINT1:
		return LVTLINT1
	case OffLVTErr:
		return LVTError
	}
	return -1
}

// write is vlapic_write.
func (l *LAPIC) write(mmio bool, off uint32, data uint64, fx *effects) error {
	s := &l.st
	if off > PageSize {
		return nil
	}
	x2 := l.x2apic()
	if x2 && mmio || !x2 && !mmio {
		return nil
	}
	switch {
	case off == OffID:
		s.ID = l.idValue() // read-only: re-forced to the default
	case off == OffTPR:
		l.setTPR(uint8(data))
	case off == OffEOI:
		l.eoi(fx)
	case off == OffLDR:
		if x2 {
			s.LDR = x2apicLDR(l.idValue())
		} else {
			s.LDR = uint32(data) & 0xFF000000
		}
	case off == OffDFR:
		if x2 {
			s.DFR = 0
		} else {
			s.DFR = uint32(data)&DFRModelMask | 0x0FFFFFFF
		}
	case off == OffSVR:
		s.SVR = uint32(data)
		l.svrWritten()
	case off == OffICRLow:
		s.ICRLow = uint32(data)
		if x2 {
			s.ICRHigh = uint32(data >> 32)
		}
		return l.icrWritten(fx)
	case off == OffICRHigh:
		s.ICRHigh = uint32(data)
	case lvtIndex(off) >= 0:
		l.writeLVT(lvtIndex(off), uint32(data))
	case off == OffTimerICR:
		s.TimerInitial = uint32(data)
		l.startTimer()
	case off == OffTimerDCR:
		// The divisor is read afresh wherever it matters; an in-flight
		// countdown keeps its fire time (§2.8, §12 #12).
		s.TimerDivide = uint32(data)
	case off == OffESR:
		s.ESR = s.ESRPending
		s.ESRPending = 0
	case off == OffSelfIPI:
		if x2 {
			// lapic_intr_edge: vectors below 16 fail with EINVAL there,
			// which the SELF IPI handler ignores.
			if v := uint8(data); v >= 16 && l.setIntrReady(v, fx) {
				fx.notify = true
			}
		}
	}
	// Version, APR, PPR, RRD, ISR, TMR, IRR, CCR and holes: read-only,
	// writes silently dropped (no ESR "illegal register address").
	return nil
}

// writeLVT is vlapic_lvt_write_handler: keep the bits that LVT has, and
// force the mask while the LAPIC is software-disabled (§2.6).
func (l *LAPIC) writeLVT(idx int, val uint32) {
	if l.st.SVR&SVREnable == 0 {
		val |= LVTMasked
	}
	mask := uint32(LVTMasked | LVTDelStat | LVTVector)
	switch idx {
	case LVTTimer:
		mask |= LVTPeriodic
	case LVTError:
	case LVTLINT0, LVTLINT1:
		mask |= LVTTrigger | LVTRemoteIRR | LVTPolarity | LVTDelMode
	default: // CMCI, thermal, PMC
		mask |= LVTDelMode
	}
	l.st.LVT[idx] = val & mask
}

func (l *LAPIC) maskLVTs() {
	for i := range l.st.LVT {
		l.writeLVT(i, l.st.LVT[i]|LVTMasked)
	}
}

// svrWritten is vlapic_svr_write_handler.
func (l *LAPIC) svrWritten() {
	s := &l.st
	changed := s.SVRLast ^ s.SVR
	s.SVRLast = s.SVR
	if changed&SVREnable == 0 {
		return
	}
	if s.SVR&SVREnable == 0 {
		l.stopTimer()
		l.maskLVTs()
	} else if s.LVT[LVTTimer]&LVTPeriodic != 0 {
		l.startTimer() // from the full initial count
	}
}

// setError is vlapic_set_error (B): latch the error and fire the error
// LVT, once.
func (l *LAPIC) setError(mask uint32, fx *effects) {
	l.st.ESRPending |= mask
	if l.esrFiring {
		return
	}
	l.esrFiring = true
	l.fireLVT(LVTError, fx)
	l.esrFiring = false
}

// fireLVT is vlapic_fire_lvt. It reports whether something was delivered.
func (l *LAPIC) fireLVT(idx int, fx *effects) bool {
	reg := l.st.LVT[idx]
	if reg&LVTMasked != 0 {
		return false
	}
	vec := uint8(reg & LVTVector)
	switch reg & LVTDelMode {
	case DelModeFixed:
		if vec < 16 {
			l.setError(ESRSendIllegalVector, fx)
			return false
		}
		if l.setIntrReady(vec, fx) {
			fx.notify = true
		}
	case DelModeNMI:
		fx.nmi = true
	case DelModeExtINT:
		fx.extint = true
	default:
		return false // SMI, INIT and reserved modes are ignored
	}
	return true
}

// setIntrReady is vlapic_set_intr_ready: it reports whether the vCPU
// should be notified.
func (l *LAPIC) setIntrReady(vec uint8, fx *effects) bool {
	if l.st.SVR&SVREnable == 0 {
		return false // software-disabled: dropped, no wake-up
	}
	if vec < 16 {
		l.setError(ESRReceiveIllegalVector, fx)
		return true
	}
	l.st.IRR[vec/32] |= 1 << (vec % 32)
	// The trigger mode is not recorded: TMR comes only from the IOAPIC
	// programming (§2.5).
	return true
}

// SetIRR marks vector pending from outside (lapic_set_intr: VM_LAPIC_IRQ,
// the IOAPIC, MSI, IPIs). Vectors 16–255 only, else EINVAL (SDM vol. 3A
// §6.2: 0–15 are reserved); dropped while software-disabled.
func (l *LAPIC) SetIRR(vector uint8, level bool) error {
	if vector < 16 {
		return abi.EINVAL
	}
	fx := effects{eoi: -1}
	l.mu.Lock()
	if l.setIntrReady(vector, &fx) {
		fx.notify = true
	}
	l.unlockRun(&fx)
	return nil
}

// FireLVT fires LVT index idx (vlapic_trigger_lvt; VM_LAPIC_LOCAL_IRQ and
// the 8259's LINT0). While the LAPIC is disabled (APIC_BASE enable clear
// or SVR software-disabled) LINT0 is ExtINT and LINT1 is NMI, whatever the
// LVTs hold, and other LVTs do nothing. Index outside 0..6 → EINVAL.
func (l *LAPIC) FireLVT(idx int) error {
	if idx < 0 || idx >= NumLVT {
		return abi.EINVAL
	}
	fx := effects{eoi: -1}
	l.mu.Lock()
	if l.st.APICBase&APICBaseEnabled == 0 || l.st.SVR&SVREnable == 0 {
		switch idx {
		case LVTLINT0:
			fx.extint = true
		case LVTLINT1:
			fx.nmi = true
		}
	} else {
		l.fireLVT(idx, &fx)
	}
	l.unlockRun(&fx)
	return nil
}

// InjectNMI and InjectExtINT run this LAPIC's NMI and ExtINT hooks: a
// Group uses them to deliver to the vCPU behind a LAPIC.
func (l *LAPIC) InjectNMI() {
	if l.hooks.NMI != nil {
		l.hooks.NMI()
	}
}

// InjectExtINT: see InjectNMI.
func (l *LAPIC) InjectExtINT() {
	if l.hooks.ExtINT != nil {
		l.hooks.ExtINT()
	}
}

func prio(v uint32) uint32 { return v >> 4 }

// updatePPR is vlapic_update_ppr (SDM vol. 3A §10.8.3.1).
func (l *LAPIC) updatePPR() {
	s := &l.st
	isrvec := uint32(s.ISRStack[s.ISRStackTop])
	if prio(s.TPR) >= prio(isrvec) {
		s.PPR = s.TPR
	} else {
		s.PPR = isrvec & 0xF0
	}
}

func (l *LAPIC) setTPR(v uint8) {
	if l.st.TPR != uint32(v) {
		l.st.TPR = uint32(v)
		l.updatePPR()
	}
}

// SetTPR sets the task priority (the interpreter's view of TPR).
func (l *LAPIC) SetTPR(v uint8) {
	l.mu.Lock()
	l.setTPR(v)
	l.mu.Unlock()
}

// TPR returns the task priority.
func (l *LAPIC) TPR() uint8 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint8(l.st.TPR)
}

// SetCR8 is MOV to CR8: TPR = val << 4. Bits above 3 set → EINVAL, on
// which the interpreter raises #GP(0) (vlapic_set_cr8; SDM vol. 3A
// §10.8.6.1).
func (l *LAPIC) SetCR8(val uint64) error {
	if val&^0xF != 0 {
		return abi.EINVAL
	}
	l.SetTPR(uint8(val << 4))
	return nil
}

// CR8 is MOV from CR8: TPR[7:4].
func (l *LAPIC) CR8() uint64 { return uint64(l.TPR() >> 4) }

// PendingIntr is vlapic_pending_intr: the highest vector in IRR if its
// priority class is above PPR's. Lower IRR bits are never considered.
func (l *LAPIC) PendingIntr() (vector uint8, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 7; i >= 0; i-- {
		if w := l.st.IRR[i]; w != 0 {
			v := uint32(i*32 + 31 - bits.LeadingZeros32(w))
			if prio(v) > prio(l.st.PPR) {
				return uint8(v), true
			}
			return 0, false
		}
	}
	return 0, false
}

// IntrAccepted is vlapic_intr_accepted: the interpreter delivered vector
// (from PendingIntr), so it moves from IRR to ISR and PPR follows (B).
func (l *LAPIC) IntrAccepted(vector uint8) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.st
	if s.ISRStackTop+1 >= len(s.ISRStack) {
		// Cannot happen for vectors PendingIntr offered (each nests one
		// priority class higher, 15 classes at most); FreeBSD panics.
		return
	}
	s.IRR[vector/32] &^= 1 << (vector % 32)
	s.ISR[vector/32] |= 1 << (vector % 32)
	s.ISRStackTop++
	s.ISRStack[s.ISRStackTop] = vector
	l.updatePPR()
}

// eoi is vlapic_process_eoi: retire the highest in-service vector; a
// level-triggered one (TMR set) is EOIed at the IOAPIC too. With nothing
// in service it is a "gratuitous EOI" and ignored.
func (l *LAPIC) eoi(fx *effects) {
	s := &l.st
	for i := 7; i >= 0; i-- {
		if w := s.ISR[i]; w != 0 {
			bit := uint32(31 - bits.LeadingZeros32(w))
			s.ISR[i] &^= 1 << bit
			if s.ISRStackTop > 0 {
				s.ISRStack[s.ISRStackTop] = 0
				s.ISRStackTop--
			}
			l.updatePPR()
			if s.TMR[i]&(1<<bit) != 0 {
				fx.eoi = i*32 + int(bit)
			}
			return
		}
	}
}

// icrWritten is B's vlapic_icrlo_write_handler (§2.11).
func (l *LAPIC) icrWritten(fx *effects) error {
	s := &l.st
	s.ICRLow &^= ICRDelivStatus
	icr := uint64(s.ICRHigh)<<32 | uint64(s.ICRLow)
	x2 := l.x2apic()
	var dest uint32
	if x2 {
		dest = uint32(icr >> 32)
	} else {
		dest = uint32(icr >> 56)
	}
	vec := uint8(icr)
	mode := uint32(icr) & LVTDelMode

	if mode == DelModeFixed && vec < 16 {
		l.setError(ESRSendIllegalVector, fx)
		return nil
	}
	ipi := IPI{
		Sender:    l.vcpu,
		Mode:      mode,
		Vector:    vec,
		Dest:      dest,
		Phys:      icr&ICRDestModeLogical == 0,
		Shorthand: uint32(icr>>ICRShorthandShift) & 3,
		X2APIC:    x2,
	}
	switch mode {
	case DelModeFixed, DelModeNMI:
		fx.ipi, fx.hasIPI = ipi, true
		return nil
	case DelModeINIT:
		if icr&ICRLevelAssert == 0 {
			return nil // level de-assert: ignored
		}
		if l.vcpu == 0 && dest != 0 && dest < MaxCPU {
			fx.ipi, fx.hasIPI = ipi, true
			return nil
		}
	case DelModeStartup:
		if l.vcpu == 0 && dest != 0 && dest < MaxCPU {
			fx.ipi, fx.hasIPI = ipi, true
			return nil
		}
	}
	return ErrIPI
}

// BootINIT is the target side of an INIT IPI (B): INIT → wait-for-SIPI.
// Registers are not reset.
func (l *LAPIC) BootINIT() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.BootState == BootINIT {
		l.st.BootState = BootSIPI
	}
}

// BootStartup is the target side of a STARTUP IPI (B): only a vCPU
// waiting for SIPI starts (→ running); it reports whether it did, in
// which case the sender's VM_RUN returns VM_EXITCODE_SPINUP_AP. Later
// SIPIs are ignored.
func (l *LAPIC) BootStartup() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.BootState != BootSIPI {
		return false
	}
	l.st.BootState = BootRunning
	return true
}

// BootState returns the start-up state.
func (l *LAPIC) BootState() BootState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.BootState
}

// SetTMR replaces the trigger-mode register: the kernel's rebuild after
// an IOAPIC redirection change (vioapic_update_tmr; see Group.UpdateTMR).
func (l *LAPIC) SetTMR(tmr [8]uint32) {
	l.mu.Lock()
	l.st.TMR = tmr
	l.mu.Unlock()
}

// APICBase returns the APIC_BASE MSR.
func (l *LAPIC) APICBase() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.APICBase
}

// Enabled is vlapic_enabled: APIC_BASE enabled and SVR software-enabled.
func (l *LAPIC) Enabled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.APICBase&APICBaseEnabled != 0 && l.st.SVR&SVREnable != 0
}

// SetX2APICState is VM_SET_X2APIC_STATE (vlapic_set_x2apic_state): the
// only way the mode changes. APIC_BASE bit 10 follows; ID, LDR and DFR
// take the mode's values (x2APIC: LDR derived, DFR 0; xAPIC: LDR 0, DFR
// all ones). A state outside DISABLED/ENABLED → EINVAL.
func (l *LAPIC) SetX2APICState(state int32) error {
	if state < 0 || state >= x2apicStateLast {
		return abi.EINVAL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.st
	if state == X2APICDisabled {
		s.APICBase &^= APICBaseX2APIC
	} else {
		s.APICBase |= APICBaseX2APIC
	}
	s.ID = l.idValue()
	if l.x2apic() {
		s.LDR = x2apicLDR(s.ID)
		s.DFR = 0
	} else {
		s.LDR = 0
		s.DFR = 0xFFFFFFFF
	}
	return nil
}

// X2APICState is VM_GET_X2APIC_STATE.
func (l *LAPIC) X2APICState() int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.x2apic() {
		return X2APICEnabled
	}
	return X2APICDisabled
}

// DestView is what destination resolution needs to know of one LAPIC.
type DestView struct {
	Active bool // the vCPU is active (vm_active_cpus)
	X2APIC bool
	LDR    uint32
	DFR    uint32
}

// DestView returns this LAPIC's view; Active is the caller's to set.
func (l *LAPIC) DestView() DestView {
	l.mu.Lock()
	defer l.mu.Unlock()
	return DestView{X2APIC: l.x2apic(), LDR: l.st.LDR, DFR: l.st.DFR}
}

// Close stops the timer (callout_drain at VM destruction).
func (l *LAPIC) Close() {
	l.mu.Lock()
	l.stopTimer()
	l.mu.Unlock()
}
