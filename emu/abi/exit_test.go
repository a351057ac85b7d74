package abi

import (
	"bytes"
	"testing"
)

// at returns the bytes of e at vm_exit offset off (reference §3.1 counts
// from the start of vm_exit; U starts at 16).
func at(e *VMExit, off, n int) []byte { return e.U[off-16 : off-16+n] }

func expectBytes(t *testing.T, what string, e *VMExit, off int, want ...byte) {
	t.Helper()
	if got := at(e, off, len(want)); !bytes.Equal(got, want) {
		t.Errorf("%s at vm_exit+%d = % x, want % x", what, off, got, want)
	}
}

// dirty fills U so a setter that forgets to clear it is caught.
func dirty() *VMExit {
	e := &VMExit{}
	for i := range e.U {
		e.U[i] = 0xEE
	}
	return e
}

// expectZeroExcept checks that every byte of U outside the given
// [off, off+n) ranges (vm_exit offsets) is zero.
func expectZeroExcept(t *testing.T, e *VMExit, ranges ...[2]int) {
	t.Helper()
	for i, b := range e.U {
		off, used := i+16, false
		for _, r := range ranges {
			if off >= r[0] && off < r[0]+r[1] {
				used = true
			}
		}
		if !used && b != 0 {
			t.Errorf("stale byte %#x at vm_exit+%d", b, off)
			return
		}
	}
}

var testPaging = VMGuestPaging{Cr3: 0x1122334455667788, Cpl: 3, CpuMode: CPU_MODE_64BIT, PagingMode: PAGING_MODE_64}

func expectPaging(t *testing.T, e *VMExit, off int) {
	t.Helper()
	expectBytes(t, "paging.cr3", e, off, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11)
	expectBytes(t, "paging.cpl", e, off+8, 3, 0, 0, 0)
	expectBytes(t, "paging.cpu_mode", e, off+12, 3, 0, 0, 0)
	expectBytes(t, "paging.paging_mode", e, off+16, 3, 0, 0, 0)
}

func TestExitInout(t *testing.T) {
	e := dirty()
	x := InoutExit{Bytes: 4, In: true, Rep: true, Port: 0x3f8, EAX: 0xAABBCCDD}
	e.SetInout(x)
	// bits 0-2 bytes=4, bit 3 in, bit 5 rep → 0b101100.
	expectBytes(t, "inout bitfield", e, 16, 0x2C, 0x00)
	expectBytes(t, "inout.port", e, 18, 0xF8, 0x03)
	expectBytes(t, "inout.eax", e, 20, 0xDD, 0xCC, 0xBB, 0xAA)
	expectZeroExcept(t, e, [2]int{16, 8})
	if got := e.Inout(); got != x {
		t.Errorf("Inout() = %+v, want %+v", got, x)
	}
	e.SetInout(InoutExit{Bytes: 1, String: true})
	expectBytes(t, "inout bitfield (string)", e, 16, 0x11, 0x00)
	e.SetInout(InoutExit{Bytes: 2 | 8}) // truncated to 3 bits like a C bitfield
	expectBytes(t, "inout bitfield (truncated)", e, 16, 0x02, 0x00)

	// Through a whole vm_run: the port sits at vm_run offset 8+18.
	run := VMRun{Cpuid: 1}
	run.Exit.Exitcode = VM_EXITCODE_INOUT
	run.Exit.SetInout(x)
	buf := make([]byte, 144)
	if err := Encode(buf, &run); err != nil {
		t.Fatal(err)
	}
	if buf[0] != 1 || buf[8] != byte(VM_EXITCODE_INOUT) || buf[26] != 0xF8 || buf[27] != 0x03 || buf[24] != 0x2C {
		t.Errorf("vm_run bytes % x", buf[:32])
	}
}

func TestExitInoutStr(t *testing.T) {
	e := dirty()
	x := InoutStrExit{
		Inout:    InoutExit{Bytes: 1, In: true, String: true, Rep: true, Port: 0x60},
		Paging:   testPaging,
		Rflags:   0x202,
		Cr0:      0x80000011,
		Index:    0x1000,
		Count:    7,
		Addrsize: 8,
		SegName:  VM_REG_GUEST_ES,
		SegDesc:  SegDesc{Base: 0x10000, Limit: 0xffff, Access: 0x93},
	}
	e.SetInoutStr(x)
	expectBytes(t, "inout bitfield", e, 16, 0x39, 0x00)
	expectBytes(t, "inout.port", e, 18, 0x60, 0x00)
	expectPaging(t, e, 24)
	expectBytes(t, "rflags", e, 48, 0x02, 0x02, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "cr0", e, 56, 0x11, 0, 0, 0x80, 0, 0, 0, 0)
	expectBytes(t, "index", e, 64, 0, 0x10, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "count", e, 72, 7, 0, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "addrsize", e, 80, 8, 0, 0, 0)
	expectBytes(t, "seg_name", e, 84, 22, 0, 0, 0)
	expectBytes(t, "seg_desc.base", e, 88, 0, 0, 1, 0, 0, 0, 0, 0)
	expectBytes(t, "seg_desc.limit", e, 96, 0xff, 0xff, 0, 0)
	expectBytes(t, "seg_desc.access", e, 100, 0x93, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 8}, [2]int{24, 20}, [2]int{48, 40}, [2]int{88, 16})
	if got := e.InoutStr(); got != x {
		t.Errorf("InoutStr() = %+v, want %+v", got, x)
	}
}

func TestExitPaging(t *testing.T) {
	e := dirty()
	x := PagingExit{Gpa: 0xFEE00300, FaultType: 2}
	e.SetPaging(x)
	expectBytes(t, "gpa", e, 16, 0x00, 0x03, 0xE0, 0xFE, 0, 0, 0, 0)
	expectBytes(t, "fault_type", e, 24, 2, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 12})
	if got := e.Paging(); got != x {
		t.Errorf("Paging() = %+v", got)
	}
}

func TestExitInstEmul(t *testing.T) {
	e := dirty()
	x := InstEmulExit{Gpa: 0xFED00010, Gla: 0xFFFF800000001000, CsBase: 0x10, CsD: 1, Paging: testPaging}
	v := &x.Vie
	copy(v.Inst[:], []byte{0x89, 0x04, 0x8B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xCC})
	v.NumValid, v.NumProcessed = 15, 3
	v.SetAddrsize(8)
	v.SetOpsize(4)
	v.SetRexW(true)
	v.SetRexB(true)
	v.SetOpsizeOverride(true)
	v.SetSegmentOverride(true)
	v.SetMod(0)
	v.SetReg(0)
	v.SetRm(4)
	v.SetSS(2)
	v.SetIndex(1)
	v.SetBase(3)
	v.DispBytes, v.ImmBytes, v.Scale = 4, 1, 4
	v.BaseRegister, v.IndexRegister, v.SegmentRegister = VM_REG_GUEST_RBX, VM_REG_GUEST_RCX, VM_REG_GUEST_DS
	v.Displacement, v.Immediate = -8, 0x7f
	v.Decoded, v.OpByte, v.OpType, v.OpFlags = 1, 0x89, 1, 0x0102
	e.SetInstEmul(x)
	expectBytes(t, "gpa", e, 16, 0x10, 0x00, 0xD0, 0xFE, 0, 0, 0, 0)
	expectBytes(t, "gla", e, 24, 0x00, 0x10, 0, 0, 0, 0x80, 0xFF, 0xFF)
	expectBytes(t, "cs_base", e, 32, 0x10, 0, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "cs_d", e, 40, 1, 0, 0, 0)
	expectPaging(t, e, 48)
	vie := 72
	expectBytes(t, "vie.inst", e, vie, 0x89, 0x04, 0x8B)
	expectBytes(t, "vie.inst[14]", e, vie+14, 0xCC)
	expectBytes(t, "vie.num_valid/num_processed", e, vie+15, 15, 3)
	// @17 addrsize (bits 0-3) 8, opsize (4-7) 4.
	expectBytes(t, "vie addrsize/opsize", e, vie+17, 0x48)
	// @18 rex_w bit0, rex_b bit3, opsize_override bit7.
	expectBytes(t, "vie rex byte", e, vie+18, 0x89)
	// @19 segment_override bit1, mod bits 2-3 = 0, reg bits 4-7 = 0.
	expectBytes(t, "vie modrm byte", e, vie+19, 0x02)
	// @20 rm bits 0-3 = 4, ss bits 4-5 = 2.
	expectBytes(t, "vie rm/ss byte", e, vie+20, 0x24)
	// @21 index bits 0-3 = 1, base bits 4-7 = 3.
	expectBytes(t, "vie sib byte", e, vie+21, 0x31)
	expectBytes(t, "vie disp/imm/scale", e, vie+22, 4, 1, 4)
	expectBytes(t, "vie.base_register", e, vie+28, 1, 0, 0, 0)
	expectBytes(t, "vie.index_register", e, vie+32, 2, 0, 0, 0)
	expectBytes(t, "vie.segment_register", e, vie+36, 25, 0, 0, 0)
	expectBytes(t, "vie.displacement", e, vie+40, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	expectBytes(t, "vie.immediate", e, vie+48, 0x7F, 0, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "vie.decoded", e, vie+56, 1)
	expectBytes(t, "vie.op", e, vie+58, 0x89, 1, 0x02, 0x01)
	expectZeroExcept(t, e, [2]int{16, 28}, [2]int{48, 20}, [2]int{72, 25}, [2]int{100, 32}, [2]int{128, 1}, [2]int{130, 4})
	if got := e.InstEmul(); got != x {
		t.Errorf("InstEmul() = %+v,\nwant %+v", got, x)
	}
	// Mod and Reg land in bits 2-3 and 4-7 of @19.
	x.Vie = Vie{}
	x.Vie.SetMod(3)
	x.Vie.SetReg(0xA)
	x.Vie.SetAddrsizeOverride(true)
	e.SetInstEmul(x)
	expectBytes(t, "vie modrm byte", e, vie+19, 0xAD)
	got := e.InstEmul().Vie
	if got.Mod() != 3 || got.Reg() != 0xA || !got.AddrsizeOverride() || got.SegmentOverride() {
		t.Errorf("vie bitfields read back wrong: %#x", got.Bits19)
	}
}

func TestVieBitfieldsIndependent(t *testing.T) {
	all := vieBitfields()
	// Total bits used in bytes 17-21: 8+8+8+6+8 = 38.
	total := uint(0)
	for _, a := range all {
		total += a.width
	}
	if total != 38 {
		t.Errorf("vie bitfields cover %d bits, want 38", total)
	}
	for _, a := range all {
		var v Vie
		max := uint8(1<<a.width - 1)
		a.set(&v, 0xff) // truncated to the width
		if a.get(&v) != max {
			t.Errorf("%s: got %d after setting all ones, want %d", a.name, a.get(&v), max)
		}
		for _, o := range all {
			if o.name != a.name && o.get(&v) != 0 {
				t.Errorf("setting %s changed %s", a.name, o.name)
			}
		}
		a.set(&v, 0)
		if v != (Vie{}) {
			t.Errorf("%s: clearing left bits behind", a.name)
		}
	}
}

func TestExitVmxSvm(t *testing.T) {
	e := dirty()
	vx := VmxExit{Status: -1, ExitReason: 48, ExitQualification: 0x181, InstType: 2, InstError: 7}
	e.SetVmx(vx)
	expectBytes(t, "vmx.status", e, 16, 0xFF, 0xFF, 0xFF, 0xFF)
	expectBytes(t, "vmx.exit_reason", e, 20, 48, 0, 0, 0)
	expectBytes(t, "vmx.exit_qualification", e, 24, 0x81, 0x01, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "vmx.inst_type", e, 32, 2, 0, 0, 0)
	expectBytes(t, "vmx.inst_error", e, 36, 7, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 24})
	if got := e.Vmx(); got != vx {
		t.Errorf("Vmx() = %+v", got)
	}
	e = dirty()
	sx := SvmExit{Exitcode: 0x7B, Exitinfo1: 0x3F80210, Exitinfo2: 0x1234}
	e.SetSvm(sx)
	expectBytes(t, "svm.exitcode", e, 16, 0x7B, 0, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "svm.exitinfo1", e, 24, 0x10, 0x02, 0xF8, 0x03, 0, 0, 0, 0)
	expectBytes(t, "svm.exitinfo2", e, 32, 0x34, 0x12, 0, 0, 0, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 24})
	if got := e.Svm(); got != sx {
		t.Errorf("Svm() = %+v", got)
	}
}

func TestExitSmallMembers(t *testing.T) {
	e := dirty()
	m := MsrExit{Code: 0xC0000080, Wval: 0x0000000000000D01}
	e.SetMsr(m)
	expectBytes(t, "msr.code", e, 16, 0x80, 0, 0, 0xC0)
	expectBytes(t, "msr.wval", e, 24, 0x01, 0x0D, 0, 0, 0, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 4}, [2]int{24, 8})
	if got := e.Msr(); got != m {
		t.Errorf("Msr() = %+v", got)
	}

	e = dirty()
	s := SpinupAPExit{Vcpu: 3, Rip: 0x9F000}
	e.SetSpinupAP(s)
	expectBytes(t, "spinup_ap.vcpu", e, 16, 3, 0, 0, 0)
	expectBytes(t, "spinup_ap.rip", e, 24, 0x00, 0xF0, 0x09, 0, 0, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 4}, [2]int{24, 8})
	if got := e.SpinupAP(); got != s {
		t.Errorf("SpinupAP() = %+v", got)
	}

	e = dirty()
	h := HltExit{Rflags: 0x246, IntrStatus: 0x30}
	e.SetHlt(h)
	expectBytes(t, "hlt.rflags", e, 16, 0x46, 0x02, 0, 0, 0, 0, 0, 0)
	expectBytes(t, "hlt.intr_status", e, 24, 0x30, 0, 0, 0, 0, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 16})
	if got := e.Hlt(); got != h {
		t.Errorf("Hlt() = %+v", got)
	}

	e = dirty()
	e.SetIoapicEOI(0x41)
	expectBytes(t, "ioapic_eoi.vector", e, 16, 0x41, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 4})
	if e.IoapicEOI() != 0x41 {
		t.Errorf("IoapicEOI() = %d", e.IoapicEOI())
	}

	e = dirty()
	e.SetSuspended(VM_SUSPEND_TRIPLEFAULT)
	expectBytes(t, "suspended.how", e, 16, 4, 0, 0, 0)
	expectZeroExcept(t, e, [2]int{16, 4})
	if e.Suspended() != VM_SUSPEND_TRIPLEFAULT {
		t.Errorf("Suspended() = %d", e.Suspended())
	}
}

func TestExitTaskSwitch(t *testing.T) {
	e := dirty()
	x := TaskSwitchExit{Tsssel: 0x28, Ext: 1, Errcode: 0x1C, ErrcodeValid: 1, Reason: TSR_IDT_GATE, Paging: testPaging}
	e.SetTaskSwitch(x)
	expectBytes(t, "task_switch.tsssel", e, 16, 0x28, 0)
	expectBytes(t, "task_switch.ext", e, 20, 1, 0, 0, 0)
	expectBytes(t, "task_switch.errcode", e, 24, 0x1C, 0, 0, 0)
	expectBytes(t, "task_switch.errcode_valid", e, 28, 1, 0, 0, 0)
	expectBytes(t, "task_switch.reason", e, 32, 3, 0, 0, 0)
	expectPaging(t, e, 40)
	expectZeroExcept(t, e, [2]int{16, 2}, [2]int{20, 16}, [2]int{40, 20})
	if got := e.TaskSwitch(); got != x {
		t.Errorf("TaskSwitch() = %+v", got)
	}
}

func TestExitSettersDoNotAllocate(t *testing.T) {
	var e VMExit
	x := InstEmulExit{Gpa: 1}
	n := testingAllocs(func() {
		e.SetInout(InoutExit{Bytes: 1, Port: 0x3f8})
		_ = e.Inout()
		e.SetInstEmul(x)
		_ = e.InstEmul()
		e.SetSuspended(1)
	})
	if n != 0 {
		t.Errorf("exit accessors allocate %v times per run", n)
	}
}
