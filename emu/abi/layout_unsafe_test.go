package abi

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"unsafe"
)

type fieldOff struct {
	name      string
	got, want uintptr
}

type layout struct {
	name      string
	v         any // pointer to a zero value
	got, want uintptr
	fields    []fieldOff
}

// layouts is transcribed by hand from reference/vmm-interface.md §3 (sizes
// and "@n" offsets), §3.1 (vm_exit header) and §3.2 (vie); the got columns
// come from the Go structs.
func layouts() []layout {
	var (
		sd   SegDesc
		gp   VMGuestPaging
		mm   VMMemmap
		ms   VMMemseg
		reg  VMRegister
		vsd  VMSegDesc
		rs   VMRegisterSet
		ex   VMExit
		run  VMRun
		exc  VMException
		msi  VMLapicMSI
		lirq VMLapicIRQ
		iirq VMIoapicIRQ
		isa  VMIsaIRQ
		isat VMIsaIRQTrigger
		cp   VMCapability
		pd   VMPptdev
		pmm  VMPptdevMMIO
		pmsi VMPptdevMSI
		pmx  VMPptdevMSIX
		nmi  VMNmi
		tv   Timeval
		st   VMStats
		sdsc VMStatDesc
		x2   VMX2APIC
		pte  VMGpaPte
		hpet VMHpetCap
		sus  VMSuspend
		g2g  VMGla2Gpa
		act  VMActivateCPU
		cs   VMCpuset
		ii   VMIntinfo
		rt   VMRtcTime
		rd   VMRtcData
		top  VMCPUTopology
		vie  Vie
	)
	return []layout{
		{"seg_desc", &sd, unsafe.Sizeof(sd), 16, []fieldOff{
			{"base", unsafe.Offsetof(sd.Base), 0}, {"limit", unsafe.Offsetof(sd.Limit), 8}, {"access", unsafe.Offsetof(sd.Access), 12}}},
		{"vm_guest_paging", &gp, unsafe.Sizeof(gp), 24, []fieldOff{
			{"cr3", unsafe.Offsetof(gp.Cr3), 0}, {"cpl", unsafe.Offsetof(gp.Cpl), 8},
			{"cpu_mode", unsafe.Offsetof(gp.CpuMode), 12}, {"paging_mode", unsafe.Offsetof(gp.PagingMode), 16}}},
		{"vm_memmap", &mm, unsafe.Sizeof(mm), 40, []fieldOff{
			{"gpa", unsafe.Offsetof(mm.Gpa), 0}, {"segid", unsafe.Offsetof(mm.Segid), 8}, {"segoff", unsafe.Offsetof(mm.Segoff), 16},
			{"len", unsafe.Offsetof(mm.Len), 24}, {"prot", unsafe.Offsetof(mm.Prot), 32}, {"flags", unsafe.Offsetof(mm.Flags), 36}}},
		{"vm_memseg", &ms, unsafe.Sizeof(ms), 80, []fieldOff{
			{"segid", unsafe.Offsetof(ms.Segid), 0}, {"len", unsafe.Offsetof(ms.Len), 8}, {"name", unsafe.Offsetof(ms.Name), 16},
			{"sizeof(name)", unsafe.Sizeof(ms.Name), 64}}},
		{"vm_register", &reg, unsafe.Sizeof(reg), 16, []fieldOff{
			{"cpuid", unsafe.Offsetof(reg.Cpuid), 0}, {"regnum", unsafe.Offsetof(reg.Regnum), 4}, {"regval", unsafe.Offsetof(reg.Regval), 8}}},
		{"vm_seg_desc", &vsd, unsafe.Sizeof(vsd), 24, []fieldOff{
			{"cpuid", unsafe.Offsetof(vsd.Cpuid), 0}, {"regnum", unsafe.Offsetof(vsd.Regnum), 4}, {"desc", unsafe.Offsetof(vsd.Desc), 8}}},
		{"vm_register_set", &rs, unsafe.Sizeof(rs), 24, []fieldOff{
			{"cpuid", unsafe.Offsetof(rs.Cpuid), 0}, {"count", unsafe.Offsetof(rs.Count), 4},
			{"regnums", unsafe.Offsetof(rs.Regnums), 8}, {"regvals", unsafe.Offsetof(rs.Regvals), 16}}},
		{"vm_exit", &ex, unsafe.Sizeof(ex), 136, []fieldOff{
			{"exitcode", unsafe.Offsetof(ex.Exitcode), 0}, {"inst_length", unsafe.Offsetof(ex.InstLength), 4},
			{"rip", unsafe.Offsetof(ex.Rip), 8}, {"u", unsafe.Offsetof(ex.U), 16}, {"sizeof(u)", unsafe.Sizeof(ex.U), 120}}},
		{"vm_run", &run, unsafe.Sizeof(run), 144, []fieldOff{
			{"cpuid", unsafe.Offsetof(run.Cpuid), 0}, {"vm_exit", unsafe.Offsetof(run.Exit), 8}}},
		{"vm_exception", &exc, unsafe.Sizeof(exc), 20, []fieldOff{
			{"cpuid", unsafe.Offsetof(exc.Cpuid), 0}, {"vector", unsafe.Offsetof(exc.Vector), 4}, {"error_code", unsafe.Offsetof(exc.ErrorCode), 8},
			{"error_code_valid", unsafe.Offsetof(exc.ErrorCodeValid), 12}, {"restart_instruction", unsafe.Offsetof(exc.RestartInstruction), 16}}},
		{"vm_lapic_msi", &msi, unsafe.Sizeof(msi), 16, []fieldOff{
			{"msg", unsafe.Offsetof(msi.Msg), 0}, {"addr", unsafe.Offsetof(msi.Addr), 8}}},
		{"vm_lapic_irq", &lirq, unsafe.Sizeof(lirq), 8, []fieldOff{
			{"cpuid", unsafe.Offsetof(lirq.Cpuid), 0}, {"vector", unsafe.Offsetof(lirq.Vector), 4}}},
		{"vm_ioapic_irq", &iirq, unsafe.Sizeof(iirq), 4, []fieldOff{{"irq", unsafe.Offsetof(iirq.Irq), 0}}},
		{"vm_isa_irq", &isa, unsafe.Sizeof(isa), 8, []fieldOff{
			{"atpic_irq", unsafe.Offsetof(isa.AtpicIrq), 0}, {"ioapic_irq", unsafe.Offsetof(isa.IoapicIrq), 4}}},
		{"vm_isa_irq_trigger", &isat, unsafe.Sizeof(isat), 8, []fieldOff{
			{"atpic_irq", unsafe.Offsetof(isat.AtpicIrq), 0}, {"trigger", unsafe.Offsetof(isat.Trigger), 4}}},
		{"vm_capability", &cp, unsafe.Sizeof(cp), 16, []fieldOff{
			{"cpuid", unsafe.Offsetof(cp.Cpuid), 0}, {"captype", unsafe.Offsetof(cp.Captype), 4},
			{"capval", unsafe.Offsetof(cp.Capval), 8}, {"allcpus", unsafe.Offsetof(cp.Allcpus), 12}}},
		{"vm_pptdev", &pd, unsafe.Sizeof(pd), 12, []fieldOff{
			{"bus", unsafe.Offsetof(pd.Bus), 0}, {"slot", unsafe.Offsetof(pd.Slot), 4}, {"func", unsafe.Offsetof(pd.Func), 8}}},
		{"vm_pptdev_mmio", &pmm, unsafe.Sizeof(pmm), 40, []fieldOff{
			{"bus", unsafe.Offsetof(pmm.Bus), 0}, {"slot", unsafe.Offsetof(pmm.Slot), 4}, {"func", unsafe.Offsetof(pmm.Func), 8},
			{"gpa", unsafe.Offsetof(pmm.Gpa), 16}, {"hpa", unsafe.Offsetof(pmm.Hpa), 24}, {"len", unsafe.Offsetof(pmm.Len), 32}}},
		{"vm_pptdev_msi", &pmsi, unsafe.Sizeof(pmsi), 40, []fieldOff{
			{"vcpu", unsafe.Offsetof(pmsi.Vcpu), 0}, {"bus", unsafe.Offsetof(pmsi.Bus), 4}, {"slot", unsafe.Offsetof(pmsi.Slot), 8},
			{"func", unsafe.Offsetof(pmsi.Func), 12}, {"numvec", unsafe.Offsetof(pmsi.Numvec), 16},
			{"msg", unsafe.Offsetof(pmsi.Msg), 24}, {"addr", unsafe.Offsetof(pmsi.Addr), 32}}},
		{"vm_pptdev_msix", &pmx, unsafe.Sizeof(pmx), 48, []fieldOff{
			{"vcpu", unsafe.Offsetof(pmx.Vcpu), 0}, {"bus", unsafe.Offsetof(pmx.Bus), 4}, {"slot", unsafe.Offsetof(pmx.Slot), 8},
			{"func", unsafe.Offsetof(pmx.Func), 12}, {"idx", unsafe.Offsetof(pmx.Idx), 16}, {"msg", unsafe.Offsetof(pmx.Msg), 24},
			{"vector_control", unsafe.Offsetof(pmx.VectorControl), 32}, {"addr", unsafe.Offsetof(pmx.Addr), 40}}},
		{"vm_nmi", &nmi, unsafe.Sizeof(nmi), 4, []fieldOff{{"cpuid", unsafe.Offsetof(nmi.Cpuid), 0}}},
		{"timeval", &tv, unsafe.Sizeof(tv), 16, []fieldOff{
			{"tv_sec", unsafe.Offsetof(tv.Sec), 0}, {"tv_usec", unsafe.Offsetof(tv.Usec), 8}}},
		{"vm_stats", &st, unsafe.Sizeof(st), 536, []fieldOff{
			{"cpuid", unsafe.Offsetof(st.Cpuid), 0}, {"num_entries", unsafe.Offsetof(st.NumEntries), 4},
			{"tv", unsafe.Offsetof(st.Tv), 8}, {"statbuf", unsafe.Offsetof(st.Statbuf), 24}, {"sizeof(statbuf)", unsafe.Sizeof(st.Statbuf), 64 * 8}}},
		{"vm_stat_desc", &sdsc, unsafe.Sizeof(sdsc), 132, []fieldOff{
			{"index", unsafe.Offsetof(sdsc.Index), 0}, {"desc", unsafe.Offsetof(sdsc.Desc), 4}, {"sizeof(desc)", unsafe.Sizeof(sdsc.Desc), 128}}},
		{"vm_x2apic", &x2, unsafe.Sizeof(x2), 8, []fieldOff{
			{"cpuid", unsafe.Offsetof(x2.Cpuid), 0}, {"state", unsafe.Offsetof(x2.State), 4}}},
		{"vm_gpa_pte", &pte, unsafe.Sizeof(pte), 48, []fieldOff{
			{"gpa", unsafe.Offsetof(pte.Gpa), 0}, {"pte", unsafe.Offsetof(pte.Pte), 8}, {"ptenum", unsafe.Offsetof(pte.Ptenum), 40}}},
		{"vm_hpet_cap", &hpet, unsafe.Sizeof(hpet), 4, []fieldOff{{"capabilities", unsafe.Offsetof(hpet.Capabilities), 0}}},
		{"vm_suspend", &sus, unsafe.Sizeof(sus), 4, []fieldOff{{"how", unsafe.Offsetof(sus.How), 0}}},
		{"vm_gla2gpa", &g2g, unsafe.Sizeof(g2g), 56, []fieldOff{
			{"vcpuid", unsafe.Offsetof(g2g.Vcpuid), 0}, {"prot", unsafe.Offsetof(g2g.Prot), 4}, {"gla", unsafe.Offsetof(g2g.Gla), 8},
			{"paging", unsafe.Offsetof(g2g.Paging), 16}, {"fault", unsafe.Offsetof(g2g.Fault), 40}, {"gpa", unsafe.Offsetof(g2g.Gpa), 48}}},
		{"vm_activate_cpu", &act, unsafe.Sizeof(act), 4, []fieldOff{{"vcpuid", unsafe.Offsetof(act.Vcpuid), 0}}},
		{"vm_cpuset", &cs, unsafe.Sizeof(cs), 16, []fieldOff{
			{"which", unsafe.Offsetof(cs.Which), 0}, {"cpusetsize", unsafe.Offsetof(cs.Cpusetsize), 4}, {"cpus", unsafe.Offsetof(cs.Cpus), 8}}},
		{"vm_intinfo", &ii, unsafe.Sizeof(ii), 24, []fieldOff{
			{"vcpuid", unsafe.Offsetof(ii.Vcpuid), 0}, {"info1", unsafe.Offsetof(ii.Info1), 8}, {"info2", unsafe.Offsetof(ii.Info2), 16}}},
		{"vm_rtc_time", &rt, unsafe.Sizeof(rt), 8, []fieldOff{{"secs", unsafe.Offsetof(rt.Secs), 0}}},
		{"vm_rtc_data", &rd, unsafe.Sizeof(rd), 8, []fieldOff{
			{"offset", unsafe.Offsetof(rd.Offset), 0}, {"value", unsafe.Offsetof(rd.Value), 4}}},
		{"vm_cpu_topology", &top, unsafe.Sizeof(top), 8, []fieldOff{
			{"sockets", unsafe.Offsetof(top.Sockets), 0}, {"cores", unsafe.Offsetof(top.Cores), 2},
			{"threads", unsafe.Offsetof(top.Threads), 4}, {"maxcpus", unsafe.Offsetof(top.Maxcpus), 6}}},
		{"vie", &vie, unsafe.Sizeof(vie), 64, []fieldOff{
			{"inst", unsafe.Offsetof(vie.Inst), 0}, {"num_valid", unsafe.Offsetof(vie.NumValid), 15},
			{"num_processed", unsafe.Offsetof(vie.NumProcessed), 16}, {"addrsize/opsize byte", unsafe.Offsetof(vie.Bits17), 17},
			{"rex byte", unsafe.Offsetof(vie.Bits18), 18}, {"mod/reg byte", unsafe.Offsetof(vie.Bits19), 19},
			{"rm/ss byte", unsafe.Offsetof(vie.Bits20), 20}, {"index/base byte", unsafe.Offsetof(vie.Bits21), 21},
			{"disp_bytes", unsafe.Offsetof(vie.DispBytes), 22}, {"imm_bytes", unsafe.Offsetof(vie.ImmBytes), 23},
			{"scale", unsafe.Offsetof(vie.Scale), 24}, {"base_register", unsafe.Offsetof(vie.BaseRegister), 28},
			{"index_register", unsafe.Offsetof(vie.IndexRegister), 32}, {"segment_register", unsafe.Offsetof(vie.SegmentRegister), 36},
			{"displacement", unsafe.Offsetof(vie.Displacement), 40}, {"immediate", unsafe.Offsetof(vie.Immediate), 48},
			{"decoded", unsafe.Offsetof(vie.Decoded), 56}, {"op_byte", unsafe.Offsetof(vie.OpByte), 58},
			{"op_type", unsafe.Offsetof(vie.OpType), 59}, {"op_flags", unsafe.Offsetof(vie.OpFlags), 60}}},
	}
}

func TestStructLayouts(t *testing.T) {
	for _, l := range layouts() {
		if l.got != l.want {
			t.Errorf("sizeof(struct %s) = %d, reference %d", l.name, l.got, l.want)
		}
		if n := binary.Size(l.v); n != int(l.want) {
			t.Errorf("binary.Size(struct %s) = %d, reference %d", l.name, n, l.want)
		}
		for _, f := range l.fields {
			if f.got != f.want {
				t.Errorf("%s.%s at %d, reference %d", l.name, f.name, f.got, f.want)
			}
		}
	}
	// Every ioctl argument struct is in the table above.
	covered := map[string]bool{"int": true}
	for _, l := range layouts() {
		covered[l.name] = true
	}
	for _, info := range Ioctls {
		if info.Arg != "" && !covered[info.Arg] {
			t.Errorf("%s: argument struct %s has no layout row", info.Name, info.Arg)
		}
	}
}

// fill sets every settable (non-padding) field of v to a distinct non-zero
// pattern, so that a field written at the wrong offset shows up.
func fill(v reflect.Value, next *uint64) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Name != "_" {
				fill(v.Field(i), next)
			}
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), next)
		}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		*next++
		v.SetInt(int64(*next * 0x0101010101010101))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		*next++
		v.SetUint(*next * 0x0101010101010101)
	default:
		panic("unexpected kind " + v.Kind().String())
	}
}

// TestEncodingMatchesMemory checks that encoding/binary (Encode) lays every
// struct out byte for byte as the Go compiler does in memory on this
// little-endian host, and that Decode inverts it.
func TestEncodingMatchesMemory(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("needs a little-endian host")
	}
	for _, l := range layouts() {
		rv := reflect.ValueOf(l.v)
		var n uint64
		fill(rv.Elem(), &n)
		mem := unsafe.Slice((*byte)(rv.UnsafePointer()), rv.Elem().Type().Size())
		enc := make([]byte, len(mem))
		if err := Encode(enc, l.v); err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		if !bytes.Equal(enc, mem) {
			t.Errorf("%s: encoding differs from memory\nenc %x\nmem %x", l.name, enc, mem)
		}
		back := reflect.New(rv.Elem().Type())
		if err := Decode(mem, back.Interface()); err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		if !reflect.DeepEqual(back.Interface(), l.v) {
			t.Errorf("%s: Decode(Encode(v)) != v", l.name)
		}
	}
}
