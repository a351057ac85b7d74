package vmm

import (
	"math/big"
	"testing"

	"softvmm/devices/lapic"
	"softvmm/emu/abi"
)

// One case per errno row of reference/vmm-interface.md §2.1 for the device
// and event-injection ioctls (and §8, §16), with the effect of each
// successful case checked on the device.
func TestDeviceIoctlErrnos(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "d")
	td := s.host
	vm := dev.VM()
	p := vm.platform()
	// vCPU 0 active, its LAPIC software-enabled (IRR sets are dropped
	// while it is disabled, §2.7).
	wantErr(t, "activate", dev.Ioctl(td, abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0}), nil)
	if err := p.lapics[0].Write(lapic.OffSVR, 4, 0x1ff); err != nil {
		t.Fatal(err)
	}
	runCases(t, dev, td, []ioctlCase{
		{"LAPIC_IRQ cpuid -1", abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: -1, Vector: 0x40}, abi.EINVAL},
		{"LAPIC_IRQ cpuid 16", abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 16, Vector: 0x40}, abi.EINVAL},
		{"LAPIC_IRQ vector 15", abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 15}, abi.EINVAL},
		{"LAPIC_IRQ vector 256", abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 256}, abi.EINVAL},
		{"LAPIC_IRQ vector 0x40", abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 0x40}, nil},
	})
	if st := p.lapics[0].State(); st.IRR[2]&1 == 0 || st.TMR[2]&1 != 0 {
		t.Fatalf("VM_LAPIC_IRQ: IRR %#x TMR %#x, want vector 0x40 pending edge", st.IRR[2], st.TMR[2])
	}
	if p.vc[0].line.NMIPending() {
		t.Fatal("spurious NMI")
	}
	runCases(t, dev, td, []ioctlCase{
		{"LAPIC_LOCAL_IRQ cpuid -2", abi.VM_LAPIC_LOCAL_IRQ, &abi.VMLapicIRQ{Cpuid: -2}, abi.EINVAL},
		{"LAPIC_LOCAL_IRQ cpuid 16", abi.VM_LAPIC_LOCAL_IRQ, &abi.VMLapicIRQ{Cpuid: 16}, abi.EINVAL},
		{"LAPIC_LOCAL_IRQ LVT 7", abi.VM_LAPIC_LOCAL_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 7}, abi.EINVAL},
		{"LAPIC_LOCAL_IRQ all, LVT 7", abi.VM_LAPIC_LOCAL_IRQ, &abi.VMLapicIRQ{Cpuid: -1, Vector: 7}, abi.EINVAL},
		{"LAPIC_LOCAL_IRQ all, LINT1", abi.VM_LAPIC_LOCAL_IRQ, &abi.VMLapicIRQ{Cpuid: -1, Vector: lapic.LVTLINT1}, nil},
		{"LAPIC_MSI address outside 0xFEExxxxx (§16: EINVAL, not -1)", abi.VM_LAPIC_MSI, &abi.VMLapicMSI{Addr: 0xfed00000, Msg: 0x41}, abi.EINVAL},
		{"LAPIC_MSI", abi.VM_LAPIC_MSI, &abi.VMLapicMSI{Addr: 0xfee00000, Msg: 0x41}, nil},
	})
	if st := p.lapics[0].State(); st.IRR[2]&2 == 0 {
		t.Fatal("VM_LAPIC_MSI did not set vector 0x41")
	}
	runCases(t, dev, td, []ioctlCase{
		{"INJECT_NMI cpuid -1", abi.VM_INJECT_NMI, &abi.VMNmi{Cpuid: -1}, abi.EINVAL},
		{"INJECT_NMI cpuid 16", abi.VM_INJECT_NMI, &abi.VMNmi{Cpuid: 16}, abi.EINVAL},
		{"INJECT_NMI", abi.VM_INJECT_NMI, &abi.VMNmi{Cpuid: 0}, nil},
	})
	if !p.vc[0].line.NMIPending() {
		t.Fatal("VM_INJECT_NMI: no NMI pending")
	}
	for _, cmd := range []uint32{abi.VM_IOAPIC_ASSERT_IRQ, abi.VM_IOAPIC_DEASSERT_IRQ, abi.VM_IOAPIC_PULSE_IRQ} {
		name := abi.IoctlName(cmd)
		runCases(t, dev, td, []ioctlCase{
			{name + " -1", cmd, &abi.VMIoapicIRQ{Irq: -1}, abi.EINVAL},
			{name + " 32", cmd, &abi.VMIoapicIRQ{Irq: 32}, abi.EINVAL},
			{name + " 31", cmd, &abi.VMIoapicIRQ{Irq: 31}, nil},
		})
	}
	if st := p.ioapic.State(); st.ACnt[31] != 0 {
		t.Fatalf("assert+deassert+pulse left pin 31 at %d", st.ACnt[31])
	}
	dev.Ioctl(td, abi.VM_IOAPIC_ASSERT_IRQ, &abi.VMIoapicIRQ{Irq: 5})
	if st := p.ioapic.State(); st.ACnt[5] != 1 {
		t.Fatalf("VM_IOAPIC_ASSERT_IRQ: pin 5 count %d", st.ACnt[5])
	}
	var pins int32
	wantErr(t, "PINCOUNT", dev.Ioctl(td, abi.VM_IOAPIC_PINCOUNT, &pins), nil)
	if pins != 32 {
		t.Fatalf("VM_IOAPIC_PINCOUNT = %d, want 32", pins)
	}
	for _, cmd := range []uint32{abi.VM_ISA_ASSERT_IRQ, abi.VM_ISA_DEASSERT_IRQ, abi.VM_ISA_PULSE_IRQ} {
		name := abi.IoctlName(cmd)
		before := p.ioapic.State().ACnt
		runCases(t, dev, td, []ioctlCase{
			{name + " atpic -1", cmd, &abi.VMIsaIRQ{AtpicIrq: -1, IoapicIrq: 7}, abi.EINVAL},
			{name + " atpic 16", cmd, &abi.VMIsaIRQ{AtpicIrq: 16, IoapicIrq: 7}, abi.EINVAL},
			{name + " ioapic 32", cmd, &abi.VMIsaIRQ{AtpicIrq: 7, IoapicIrq: 32}, abi.EINVAL},
			{name + " ioapic -2", cmd, &abi.VMIsaIRQ{AtpicIrq: 7, IoapicIrq: -2}, abi.EINVAL},
		})
		if p.ioapic.State().ACnt != before {
			t.Fatalf("%s: a refused call changed the IOAPIC", name)
		}
		runCases(t, dev, td, []ioctlCase{
			{name + " atpic only", cmd, &abi.VMIsaIRQ{AtpicIrq: 7, IoapicIrq: -1}, nil},
			{name + " both", cmd, &abi.VMIsaIRQ{AtpicIrq: 7, IoapicIrq: 7}, nil},
		})
	}
	// assert, deassert, pulse on pin 7: back to 0.
	if st := p.ioapic.State(); st.ACnt[7] != 0 {
		t.Fatalf("ISA ioctls left IOAPIC pin 7 at %d", st.ACnt[7])
	}
	runCases(t, dev, td, []ioctlCase{
		{"ISA_SET_IRQ_TRIGGER irq -1", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: -1}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER irq 16", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 16}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER level 0", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 0, Trigger: abi.LEVEL_TRIGGER}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER level 1", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 1, Trigger: abi.LEVEL_TRIGGER}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER level 2", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 2, Trigger: abi.LEVEL_TRIGGER}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER level 8", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 8, Trigger: abi.LEVEL_TRIGGER}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER level 13", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 13, Trigger: abi.LEVEL_TRIGGER}, abi.EINVAL},
		{"ISA_SET_IRQ_TRIGGER edge 0", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 0, Trigger: abi.EDGE_TRIGGER}, nil},
		{"ISA_SET_IRQ_TRIGGER level 9", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 9, Trigger: abi.LEVEL_TRIGGER}, nil},
		{"ISA_SET_IRQ_TRIGGER level 10", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 10, Trigger: abi.LEVEL_TRIGGER}, nil},
		{"ISA_SET_IRQ_TRIGGER 7 (not LEVEL: edge)", abi.VM_ISA_SET_IRQ_TRIGGER, &abi.VMIsaIRQTrigger{AtpicIrq: 10, Trigger: 7}, nil},
	})
	if e := p.atpic.State().ELCR; e[1] != 0x02 || e[0] != 0 {
		t.Fatalf("ELCR %#x %#x, want 0x00 0x02 (IRQ 9 level)", e[0], e[1])
	}
	var x abi.VMX2APIC
	runCases(t, dev, td, []ioctlCase{
		{"SET_X2APIC_STATE vcpu 16", abi.VM_SET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 16}, abi.EINVAL},
		{"SET_X2APIC_STATE state 2", abi.VM_SET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 1, State: 2}, abi.EINVAL},
		{"SET_X2APIC_STATE state -1", abi.VM_SET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 1, State: -1}, abi.EINVAL},
		{"SET_X2APIC_STATE enabled", abi.VM_SET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 1, State: abi.X2APIC_ENABLED}, nil},
		{"GET_X2APIC_STATE vcpu 16", abi.VM_GET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: 16}, abi.EINVAL},
		{"GET_X2APIC_STATE vcpu -1", abi.VM_GET_X2APIC_STATE, &abi.VMX2APIC{Cpuid: -1}, abi.EINVAL},
	})
	x = abi.VMX2APIC{Cpuid: 1}
	wantErr(t, "GET_X2APIC_STATE", dev.Ioctl(td, abi.VM_GET_X2APIC_STATE, &x), nil)
	if x.State != abi.X2APIC_ENABLED || p.lapics[1].APICBase()&lapic.APICBaseX2APIC == 0 {
		t.Fatalf("x2APIC state %d, APIC_BASE %#x", x.State, p.lapics[1].APICBase())
	}
	var hc abi.VMHpetCap
	wantErr(t, "GET_HPET_CAPABILITIES", dev.Ioctl(td, abi.VM_GET_HPET_CAPABILITIES, &hc), nil)
	if hc.Capabilities != 0x80860701 {
		t.Fatalf("HPET capabilities %#x, want 0x80860701", hc.Capabilities)
	}
	runCases(t, dev, td, []ioctlCase{
		{"RTC_READ -1", abi.VM_RTC_READ, &abi.VMRtcData{Offset: -1}, abi.EINVAL},
		{"RTC_READ 128", abi.VM_RTC_READ, &abi.VMRtcData{Offset: 128}, abi.EINVAL},
		{"RTC_READ 127", abi.VM_RTC_READ, &abi.VMRtcData{Offset: 127}, nil},
		{"RTC_WRITE 13 (reg D)", abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 13, Value: 1}, abi.EINVAL},
		{"RTC_WRITE 0 (seconds)", abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 0, Value: 1}, abi.EINVAL},
		{"RTC_WRITE 0x32 (century)", abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 0x32, Value: 1}, abi.EINVAL},
		{"RTC_WRITE 128", abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 128, Value: 1}, abi.EINVAL},
		{"RTC_WRITE 14", abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 14, Value: 0x5a}, nil},
		{"RTC_SETTIME", abi.VM_RTC_SETTIME, &abi.VMRtcTime{Secs: 1700000000}, nil},
	})
	rd := abi.VMRtcData{Offset: 14}
	wantErr(t, "RTC_READ 14", dev.Ioctl(td, abi.VM_RTC_READ, &rd), nil)
	var tm abi.VMRtcTime
	wantErr(t, "RTC_GETTIME", dev.Ioctl(td, abi.VM_RTC_GETTIME, &tm), nil)
	if rd.Value != 0x5a || tm.Secs != 1700000000 {
		t.Fatalf("NVRAM[14] = %#x, time %d", rd.Value, tm.Secs)
	}
	// The virtual clock starts the RTC at a fixed instant (platform.go).
	s2 := newVMDev(t, s, "d2")
	wantErr(t, "RTC_GETTIME", s2.Ioctl(td, abi.VM_RTC_GETTIME, &tm), nil)
	if tm.Secs != rtcEpoch {
		t.Fatalf("a new VM's RTC reads %d, want %d", tm.Secs, rtcEpoch)
	}
}

// VM_INJECT_EXCEPTION, VM_GET_INTINFO and VM_SET_INTINFO
// (reference/vmm-interface.md §8.1, §8.2).
func TestEventInjectionIoctls(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "e")
	td := s.host
	runCases(t, dev, td, []ioctlCase{
		{"INJECT_EXCEPTION vcpu 16", abi.VM_INJECT_EXCEPTION, &abi.VMException{Cpuid: 16, Vector: 6}, abi.EINVAL},
		{"INJECT_EXCEPTION vector -1", abi.VM_INJECT_EXCEPTION, &abi.VMException{Vector: -1}, abi.EINVAL},
		{"INJECT_EXCEPTION vector 32", abi.VM_INJECT_EXCEPTION, &abi.VMException{Vector: 32}, abi.EINVAL},
		{"INJECT_EXCEPTION #DF", abi.VM_INJECT_EXCEPTION, &abi.VMException{Vector: 8}, abi.EINVAL},
		{"INJECT_EXCEPTION #GP(0x10), real mode drops the code", abi.VM_INJECT_EXCEPTION,
			&abi.VMException{Vector: 13, ErrorCode: 0x10, ErrorCodeValid: 1}, nil},
		{"INJECT_EXCEPTION again", abi.VM_INJECT_EXCEPTION, &abi.VMException{Vector: 6}, abi.EBUSY},
	})
	ii := abi.VMIntinfo{Vcpuid: 0}
	wantErr(t, "GET_INTINFO", dev.Ioctl(td, abi.VM_GET_INTINFO, &ii), nil)
	// The vCPU is at power-on (CR0.PE = 0): the error code is dropped.
	if ii.Info1 != 0 || ii.Info2 != 0x80000000|3<<8|13 {
		t.Fatalf("intinfo %#x %#x, want 0 and #GP without error code", ii.Info1, ii.Info2)
	}
	runCases(t, dev, td, []ioctlCase{
		{"GET_INTINFO vcpu 16", abi.VM_GET_INTINFO, &abi.VMIntinfo{Vcpuid: 16}, abi.EINVAL},
		{"SET_INTINFO vcpu -1", abi.VM_SET_INTINFO, &abi.VMIntinfo{Vcpuid: -1}, abi.EINVAL},
		{"SET_INTINFO NMI vector 3", abi.VM_SET_INTINFO, &abi.VMIntinfo{Info1: 0x80000000 | 2<<8 | 3}, abi.EINVAL},
		{"SET_INTINFO exception 32", abi.VM_SET_INTINFO, &abi.VMIntinfo{Info1: 0x80000000 | 3<<8 | 32}, abi.EINVAL},
		{"SET_INTINFO reserved bit", abi.VM_SET_INTINFO, &abi.VMIntinfo{Info1: 0x80000000 | 1<<20 | 3<<8 | 6}, abi.EINVAL},
		{"SET_INTINFO NMI", abi.VM_SET_INTINFO, &abi.VMIntinfo{Vcpuid: 1, Info1: 0x80000000 | 2<<8 | 2}, nil},
		{"SET_INTINFO not valid: stored as 0", abi.VM_SET_INTINFO, &abi.VMIntinfo{Vcpuid: 2, Info1: 0x7fffffff}, nil},
		{"SET_INTINFO external 0x30", abi.VM_SET_INTINFO, &abi.VMIntinfo{Vcpuid: 3, Info1: 0x80000000 | 0x30}, nil},
	})
	for id, want := range map[int32]uint64{1: 0x80000202, 2: 0, 3: 0x80000030} {
		ii := abi.VMIntinfo{Vcpuid: id}
		dev.Ioctl(td, abi.VM_GET_INTINFO, &ii)
		if ii.Info1 != want {
			t.Fatalf("vCPU %d info1 %#x, want %#x", id, ii.Info1, want)
		}
	}
}

// The nested-event table of §8.2 (SDM vol. 3 table 6-5).
func TestNestedEvent(t *testing.T) {
	exc := func(v uint64) uint64 { return iiValid | iiHWExc | v }
	df := uint64(iiValid | iiHWExc | iiErrValid | 8)
	for _, c := range []struct {
		i1, i2, want uint64
		ok           bool
	}{
		{0, exc(6), exc(6), true},
		{exc(14), 0, exc(14), true},
		{exc(13), exc(11), df, true},      // contributory + contributory
		{exc(14), exc(14), df, true},      // #PF + #PF
		{exc(14), exc(13), df, true},      // #PF + contributory
		{exc(13), exc(14), exc(14), true}, // contributory + #PF: serial
		{exc(6), exc(13), exc(13), true},  // benign first
		{exc(8), exc(6), 0, false},        // #DF + anything: triple fault
		{iiValid | iiExtInt | 0x30, exc(13), exc(13), true},
	} {
		got, ok := nestedEvent(c.i1, c.i2)
		if got != c.want || ok != c.ok {
			t.Errorf("nestedEvent(%#x, %#x) = %#x %v, want %#x %v", c.i1, c.i2, got, ok, c.want, c.ok)
		}
	}
}

// Time conversions at the documented rate (1 instruction = 1 ns).
func TestVirtualTimeConversions(t *testing.T) {
	for _, ns := range []int64{0, 1, 999999999, 1e9, 1e9 + 1, 123456789012} {
		s := nsToSBT(ns)
		want := new(big.Int).Lsh(big.NewInt(ns), 32)
		want.Quo(want, big.NewInt(1e9)) // floor(ns·2^32/1e9)
		if int64(s) != want.Int64() {
			t.Errorf("nsToSBT(%d) = %d, want %d", ns, s, want)
		}
		if back := sbtToNS(s); back > ns || nsToSBT(back) != s {
			t.Errorf("sbtToNS(nsToSBT(%d)) = %d", ns, back)
		}
	}
	for _, sbt := range []int64{0, 1, 4294, 4295, 1 << 32, 1<<32 + 1, 3599 * 1193} {
		ns := sbtToNS(vclockSBT(sbt))
		if nsToSBT(ns) < vclockSBT(sbt) || ns > 0 && nsToSBT(ns-1) >= vclockSBT(sbt) {
			t.Errorf("sbtToNS(%d) = %d is not the first ns at or after it", sbt, ns)
		}
	}
}

// The wiring of a level-triggered IOAPIC pin (reference/vmm-devices.md
// §3.3, §3.4, §2.5): the RTE write rebuilds the LAPIC TMR, an asserted
// pin sets IRR, and the LAPIC's EOI of that vector reaches the IOAPIC,
// which delivers again while the pin stays asserted.
func TestLevelTriggeredIOAPICWiring(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "l")
	td := s.host
	dev.Ioctl(td, abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0})
	p := dev.VM().platform()
	l := p.lapics[0]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Write(lapic.OffSVR, 4, 0x1ff))
	must(p.ioapic.Write(0x00, 4, 0x10+2*9))
	must(p.ioapic.Write(0x10, 4, 0x8000|0x50)) // level, vector 0x50, APIC 0
	if st := l.State(); st.TMR[2]&(1<<16) == 0 {
		t.Fatal("RTE write did not mark vector 0x50 level in the TMR")
	}
	must(dev.Ioctl(td, abi.VM_IOAPIC_ASSERT_IRQ, &abi.VMIoapicIRQ{Irq: 9}))
	take := func() bool {
		v, ok := l.PendingIntr()
		if !ok {
			return false
		}
		if v != 0x50 {
			t.Fatalf("pending vector %#x", v)
		}
		l.IntrAccepted(v)
		must(l.Write(lapic.OffEOI, 4, 0))
		return true
	}
	if !take() {
		t.Fatal("asserted level pin not delivered")
	}
	if !take() {
		t.Fatal("EOI with the pin still asserted did not deliver again")
	}
	must(dev.Ioctl(td, abi.VM_IOAPIC_DEASSERT_IRQ, &abi.VMIoapicIRQ{Irq: 9}))
	if !take() || take() {
		t.Fatal("after deassert: the pending delivery should be the last")
	}
}

// VM_REINIT rebuilds every device but the RTC, which keeps its time and
// NVRAM and only loses its interrupt enables (reference/vmm-devices.md
// §1.1).
func TestReinitResetsDevices(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "r")
	td := s.host
	vm := dev.VM()
	p := vm.platform()
	dev.Ioctl(td, abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0})
	dev.Ioctl(td, abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 0x40, Value: 7})
	dev.Ioctl(td, abi.VM_IOAPIC_ASSERT_IRQ, &abi.VMIoapicIRQ{Irq: 4})
	p.rtc.Out(0x70, 1, 0x0b)
	p.rtc.Out(0x71, 1, 0x42) // PIE
	p.lapics[0].Write(lapic.OffTPR, 4, 0x20)
	oldLAPIC := p.lapics[0]
	vm.suspendVM(abi.VM_SUSPEND_RESET)
	var run abi.VMRun
	if err := dev.Ioctl(td, abi.VM_RUN, &run); err != nil || run.Exit.Exitcode != abi.VM_EXITCODE_SUSPENDED {
		t.Fatalf("VM_RUN: %v %s", err, abi.ExitcodeName(run.Exit.Exitcode))
	}
	wantErr(t, "REINIT", dev.Ioctl(td, abi.VM_REINIT, nil), nil)
	if p.lapics[0] == oldLAPIC || p.lapics[0].TPR() != 0 || p.ioapic.State().ACnt[4] != 0 {
		t.Fatal("LAPIC or IOAPIC survived VM_REINIT")
	}
	rd := abi.VMRtcData{Offset: 0x40}
	dev.Ioctl(td, abi.VM_RTC_READ, &rd)
	regB := abi.VMRtcData{Offset: 0x0b}
	dev.Ioctl(td, abi.VM_RTC_READ, &regB)
	if rd.Value != 7 || regB.Value != 0x02 {
		t.Fatalf("after reinit NVRAM[0x40] = %d (want 7), reg B %#x (want 0x02)", rd.Value, regB.Value)
	}
}

// Device ioctls that take no vCPU lock may run while VM_REINIT rebuilds
// the devices (run under -race: platform.mu keeps them apart).
func TestDeviceIoctlsDuringReinit(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "c")
	td := s.host
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			dev.Ioctl(td, abi.VM_LAPIC_IRQ, &abi.VMLapicIRQ{Cpuid: 0, Vector: 0x40})
			dev.Ioctl(td, abi.VM_IOAPIC_PULSE_IRQ, &abi.VMIoapicIRQ{Irq: 3})
			dev.Ioctl(td, abi.VM_ISA_PULSE_IRQ, &abi.VMIsaIRQ{AtpicIrq: 3, IoapicIrq: 3})
		}
	}()
	for i := 0; i < 50; i++ {
		wantErr(t, "REINIT", dev.Ioctl(td, abi.VM_REINIT, nil), nil)
	}
	close(stop)
	<-done
}
