package abi

import "encoding/binary"

// Typed views of the vm_exit union (reference/vmm-interface.md §3.1).
//
// The union is kept as raw bytes (VMExit.U) so VMExit has the C size and
// layout; these accessors read and write the members at FreeBSD's offsets,
// little-endian. Offsets in comments are from the start of vm_exit, as in
// the reference; U starts at 16. Setters clear U first, so no bytes of an
// earlier exit survive into the one copied out to userspace. None of them
// allocates: the kernel calls them on every exit.

// uOff is the offset of the union inside vm_exit.
const uOff = 16

// InoutExit is u.inout (INOUT, and the head of INOUT_STR).
type InoutExit struct {
	Bytes  uint8 // access size 1, 2 or 4 (3-bit field)
	In     bool
	String bool
	Rep    bool
	Port   uint16
	EAX    uint32 // value written, for OUT
}

// InoutStrExit is u.inout_str (INOUT_STR).
type InoutStrExit struct {
	Inout    InoutExit
	Paging   VMGuestPaging
	Rflags   uint64
	Cr0      uint64
	Index    uint64 // RSI or RDI
	Count    uint64 // RCX if rep, else 1
	Addrsize int32
	SegName  int32 // VM_REG_GUEST_* of the segment
	SegDesc  SegDesc
}

// PagingExit is u.paging (PAGING).
type PagingExit struct {
	Gpa       uint64
	FaultType int32 // VM_PROT_READ 1 / WRITE 2 / EXECUTE 4
}

// InstEmulExit is u.inst_emul (INST_EMUL).
type InstEmulExit struct {
	Gpa    uint64
	Gla    uint64
	CsBase uint64
	CsD    int32 // CS.D
	Paging VMGuestPaging
	Vie    Vie
}

// VmxExit is u.vmx (VMX).
type VmxExit struct {
	Status            int32
	ExitReason        uint32
	ExitQualification uint64
	InstType          int32
	InstError         int32
}

// SvmExit is u.svm (SVM).
type SvmExit struct {
	Exitcode  uint64
	Exitinfo1 uint64
	Exitinfo2 uint64
}

// MsrExit is u.msr (RDMSR, WRMSR).
type MsrExit struct {
	Code uint32 // ECX
	Wval uint64 // value, for WRMSR
}

// SpinupAPExit is u.spinup_ap (SPINUP_AP).
type SpinupAPExit struct {
	Vcpu int32
	Rip  uint64
}

// HltExit is u.hlt (HLT).
type HltExit struct {
	Rflags     uint64
	IntrStatus uint64
}

// TaskSwitchExit is u.task_switch (TASK_SWITCH).
type TaskSwitchExit struct {
	Tsssel       uint16
	Ext          int32
	Errcode      uint32
	ErrcodeValid int32
	Reason       int32 // TSR_*
	Paging       VMGuestPaging
}

var le = binary.LittleEndian

// Little-endian field access at vm_exit offsets.
func (e *VMExit) u16(off int) uint16      { return le.Uint16(e.U[off-uOff:]) }
func (e *VMExit) u32(off int) uint32      { return le.Uint32(e.U[off-uOff:]) }
func (e *VMExit) u64(off int) uint64      { return le.Uint64(e.U[off-uOff:]) }
func (e *VMExit) put16(off int, v uint16) { le.PutUint16(e.U[off-uOff:], v) }
func (e *VMExit) put32(off int, v uint32) { le.PutUint32(e.U[off-uOff:], v) }
func (e *VMExit) put64(off int, v uint64) { le.PutUint64(e.U[off-uOff:], v) }

func (e *VMExit) paging(off int) VMGuestPaging {
	return VMGuestPaging{
		Cr3:        e.u64(off),
		Cpl:        int32(e.u32(off + 8)),
		CpuMode:    int32(e.u32(off + 12)),
		PagingMode: int32(e.u32(off + 16)),
	}
}

func (e *VMExit) putPaging(off int, p VMGuestPaging) {
	e.put64(off, p.Cr3)
	e.put32(off+8, uint32(p.Cpl))
	e.put32(off+12, uint32(p.CpuMode))
	e.put32(off+16, uint32(p.PagingMode))
}

const (
	inoutIn     = 1 << 3
	inoutString = 1 << 4
	inoutRep    = 1 << 5
)

// Inout reads u.inout: @16 u16 bitfield (bits 0-2 bytes, 3 in, 4 string,
// 5 rep), @18 port, @20 eax.
func (e *VMExit) Inout() InoutExit {
	f := e.u16(16)
	return InoutExit{
		Bytes:  uint8(f & 7),
		In:     f&inoutIn != 0,
		String: f&inoutString != 0,
		Rep:    f&inoutRep != 0,
		Port:   e.u16(18),
		EAX:    e.u32(20),
	}
}

func (e *VMExit) putInout(x InoutExit) {
	f := uint16(x.Bytes & 7)
	if x.In {
		f |= inoutIn
	}
	if x.String {
		f |= inoutString
	}
	if x.Rep {
		f |= inoutRep
	}
	e.put16(16, f)
	e.put16(18, x.Port)
	e.put32(20, x.EAX)
}

// SetInout clears U and stores u.inout. Bytes is truncated to its 3 bits.
func (e *VMExit) SetInout(x InoutExit) {
	e.U = [120]byte{}
	e.putInout(x)
}

// InoutStr reads u.inout_str: @16 inout, @24 paging, @48 rflags, @56 cr0,
// @64 index, @72 count, @80 addrsize, @84 seg_name, @88 seg_desc.
func (e *VMExit) InoutStr() InoutStrExit {
	return InoutStrExit{
		Inout:    e.Inout(),
		Paging:   e.paging(24),
		Rflags:   e.u64(48),
		Cr0:      e.u64(56),
		Index:    e.u64(64),
		Count:    e.u64(72),
		Addrsize: int32(e.u32(80)),
		SegName:  int32(e.u32(84)),
		SegDesc:  SegDesc{Base: e.u64(88), Limit: e.u32(96), Access: e.u32(100)},
	}
}

// SetInoutStr clears U and stores u.inout_str.
func (e *VMExit) SetInoutStr(x InoutStrExit) {
	e.U = [120]byte{}
	e.putInout(x.Inout)
	e.putPaging(24, x.Paging)
	e.put64(48, x.Rflags)
	e.put64(56, x.Cr0)
	e.put64(64, x.Index)
	e.put64(72, x.Count)
	e.put32(80, uint32(x.Addrsize))
	e.put32(84, uint32(x.SegName))
	e.put64(88, x.SegDesc.Base)
	e.put32(96, x.SegDesc.Limit)
	e.put32(100, x.SegDesc.Access)
}

// Paging reads u.paging: @16 gpa, @24 fault_type.
func (e *VMExit) Paging() PagingExit {
	return PagingExit{Gpa: e.u64(16), FaultType: int32(e.u32(24))}
}

// SetPaging clears U and stores u.paging.
func (e *VMExit) SetPaging(x PagingExit) {
	e.U = [120]byte{}
	e.put64(16, x.Gpa)
	e.put32(24, uint32(x.FaultType))
}

// vieOff is where struct vie starts inside an INST_EMUL exit.
const vieOff = 72

// InstEmul reads u.inst_emul: @16 gpa, @24 gla, @32 cs_base, @40 cs_d,
// @48 paging, @72 vie (§3.2 gives the vie offsets).
func (e *VMExit) InstEmul() InstEmulExit {
	x := InstEmulExit{
		Gpa:    e.u64(16),
		Gla:    e.u64(24),
		CsBase: e.u64(32),
		CsD:    int32(e.u32(40)),
		Paging: e.paging(48),
	}
	v := &x.Vie
	b := e.U[vieOff-uOff:]
	copy(v.Inst[:], b[0:VIE_INST_SIZE])
	v.NumValid = b[15]
	v.NumProcessed = b[16]
	v.Bits17, v.Bits18, v.Bits19, v.Bits20, v.Bits21 = b[17], b[18], b[19], b[20], b[21]
	v.DispBytes, v.ImmBytes, v.Scale = b[22], b[23], b[24]
	v.BaseRegister = int32(le.Uint32(b[28:]))
	v.IndexRegister = int32(le.Uint32(b[32:]))
	v.SegmentRegister = int32(le.Uint32(b[36:]))
	v.Displacement = int64(le.Uint64(b[40:]))
	v.Immediate = int64(le.Uint64(b[48:]))
	v.Decoded = b[56]
	v.OpByte, v.OpType = b[58], b[59]
	v.OpFlags = le.Uint16(b[60:])
	return x
}

// SetInstEmul clears U and stores u.inst_emul.
func (e *VMExit) SetInstEmul(x InstEmulExit) {
	e.U = [120]byte{}
	e.put64(16, x.Gpa)
	e.put64(24, x.Gla)
	e.put64(32, x.CsBase)
	e.put32(40, uint32(x.CsD))
	e.putPaging(48, x.Paging)
	v := &x.Vie
	b := e.U[vieOff-uOff:]
	copy(b[0:VIE_INST_SIZE], v.Inst[:])
	b[15] = v.NumValid
	b[16] = v.NumProcessed
	b[17], b[18], b[19], b[20], b[21] = v.Bits17, v.Bits18, v.Bits19, v.Bits20, v.Bits21
	b[22], b[23], b[24] = v.DispBytes, v.ImmBytes, v.Scale
	le.PutUint32(b[28:], uint32(v.BaseRegister))
	le.PutUint32(b[32:], uint32(v.IndexRegister))
	le.PutUint32(b[36:], uint32(v.SegmentRegister))
	le.PutUint64(b[40:], uint64(v.Displacement))
	le.PutUint64(b[48:], uint64(v.Immediate))
	b[56] = v.Decoded
	b[58], b[59] = v.OpByte, v.OpType
	le.PutUint16(b[60:], v.OpFlags)
}

// Vmx reads u.vmx: @16 status, @20 exit_reason, @24 exit_qualification,
// @32 inst_type, @36 inst_error.
func (e *VMExit) Vmx() VmxExit {
	return VmxExit{
		Status:            int32(e.u32(16)),
		ExitReason:        e.u32(20),
		ExitQualification: e.u64(24),
		InstType:          int32(e.u32(32)),
		InstError:         int32(e.u32(36)),
	}
}

// SetVmx clears U and stores u.vmx.
func (e *VMExit) SetVmx(x VmxExit) {
	e.U = [120]byte{}
	e.put32(16, uint32(x.Status))
	e.put32(20, x.ExitReason)
	e.put64(24, x.ExitQualification)
	e.put32(32, uint32(x.InstType))
	e.put32(36, uint32(x.InstError))
}

// Svm reads u.svm: @16 exitcode, @24 exitinfo1, @32 exitinfo2.
func (e *VMExit) Svm() SvmExit {
	return SvmExit{Exitcode: e.u64(16), Exitinfo1: e.u64(24), Exitinfo2: e.u64(32)}
}

// SetSvm clears U and stores u.svm.
func (e *VMExit) SetSvm(x SvmExit) {
	e.U = [120]byte{}
	e.put64(16, x.Exitcode)
	e.put64(24, x.Exitinfo1)
	e.put64(32, x.Exitinfo2)
}

// Msr reads u.msr: @16 code (ECX), @24 wval.
func (e *VMExit) Msr() MsrExit {
	return MsrExit{Code: e.u32(16), Wval: e.u64(24)}
}

// SetMsr clears U and stores u.msr.
func (e *VMExit) SetMsr(x MsrExit) {
	e.U = [120]byte{}
	e.put32(16, x.Code)
	e.put64(24, x.Wval)
}

// SpinupAP reads u.spinup_ap: @16 vcpu, @24 rip.
func (e *VMExit) SpinupAP() SpinupAPExit {
	return SpinupAPExit{Vcpu: int32(e.u32(16)), Rip: e.u64(24)}
}

// SetSpinupAP clears U and stores u.spinup_ap.
func (e *VMExit) SetSpinupAP(x SpinupAPExit) {
	e.U = [120]byte{}
	e.put32(16, uint32(x.Vcpu))
	e.put64(24, x.Rip)
}

// Hlt reads u.hlt: @16 rflags, @24 intr_status.
func (e *VMExit) Hlt() HltExit {
	return HltExit{Rflags: e.u64(16), IntrStatus: e.u64(24)}
}

// SetHlt clears U and stores u.hlt.
func (e *VMExit) SetHlt(x HltExit) {
	e.U = [120]byte{}
	e.put64(16, x.Rflags)
	e.put64(24, x.IntrStatus)
}

// IoapicEOI reads u.ioapic_eoi.vector (@16).
func (e *VMExit) IoapicEOI() int32 { return int32(e.u32(16)) }

// SetIoapicEOI clears U and stores u.ioapic_eoi.vector.
func (e *VMExit) SetIoapicEOI(vector int32) {
	e.U = [120]byte{}
	e.put32(16, uint32(vector))
}

// Suspended reads u.suspended.how (@16), a VM_SUSPEND_* value.
func (e *VMExit) Suspended() int32 { return int32(e.u32(16)) }

// SetSuspended clears U and stores u.suspended.how.
func (e *VMExit) SetSuspended(how int32) {
	e.U = [120]byte{}
	e.put32(16, uint32(how))
}

// TaskSwitch reads u.task_switch: @16 tsssel, @20 ext, @24 errcode,
// @28 errcode_valid, @32 reason, @40 paging.
func (e *VMExit) TaskSwitch() TaskSwitchExit {
	return TaskSwitchExit{
		Tsssel:       e.u16(16),
		Ext:          int32(e.u32(20)),
		Errcode:      e.u32(24),
		ErrcodeValid: int32(e.u32(28)),
		Reason:       int32(e.u32(32)),
		Paging:       e.paging(40),
	}
}

// SetTaskSwitch clears U and stores u.task_switch.
func (e *VMExit) SetTaskSwitch(x TaskSwitchExit) {
	e.U = [120]byte{}
	e.put16(16, x.Tsssel)
	e.put32(20, uint32(x.Ext))
	e.put32(24, x.Errcode)
	e.put32(28, uint32(x.ErrcodeValid))
	e.put32(32, uint32(x.Reason))
	e.putPaging(40, x.Paging)
}
