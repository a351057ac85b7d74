package abi

// Argument structs of the vmm ioctls, FreeBSD 12 amd64 (sys/amd64/include/
// vmm_dev.h, vmm.h); reference/vmm-interface.md §3.
//
// Every C padding hole, including trailing padding, is an explicit blank
// field, and every field has a fixed-size type. That makes the Go layout
// independent of GOARCH and lets unsafe.Sizeof, encoding/binary.Size and the
// C compiler agree byte for byte, which is what the ioctl command numbers
// (they embed the size) and the byte-level entry point rely on. Pointers
// embedded in arguments are user addresses (uint64), resolved by the kernel
// against the caller's user memory.

// seg_desc (§3): the hidden part of a segment register, in the VT-x
// access-rights format (see the SEG_DESC_* bits).
type SegDesc struct {
	Base   uint64
	Limit  uint32
	Access uint32
}

// vm_guest_paging (§3): the translation context of a guest access, carried
// by exits and VM_GLA2GPA so userspace can walk guest page tables.
type VMGuestPaging struct {
	Cr3        uint64
	Cpl        int32
	CpuMode    int32 // CPU_MODE_*
	PagingMode int32 // PAGING_MODE_*
	_          [4]byte
}

// vm_memmap (§3, §6.2): VM_MMAP_MEMSEG / VM_MMAP_GETNEXT.
type VMMemmap struct {
	Gpa    uint64
	Segid  int32
	_      [4]byte
	Segoff int64 // vm_ooffset_t
	Len    uint64
	Prot   int32 // PROT_*
	Flags  int32 // VM_MEMMAP_F_*
}

// vm_memseg in its FreeBSD 12 form (name[SPECNAMELEN+1] = 64 bytes; 13
// shrank it to 16, §15.1): VM_ALLOC_MEMSEG / VM_GET_MEMSEG.
type VMMemseg struct {
	Segid int32
	_     [4]byte
	Len   uint64
	Name  [SPECNAMELEN + 1]byte
}

// NameString returns the segment name up to its first NUL; "" means a
// system-memory segment (VM_MEMSEG_NAME).
func (m *VMMemseg) NameString() string { return cstring(m.Name[:]) }

// vm_register (§3): VM_SET_REGISTER / VM_GET_REGISTER.
type VMRegister struct {
	Cpuid  int32
	Regnum int32 // VM_REG_GUEST_*
	Regval uint64
}

// vm_seg_desc (§3): VM_SET/GET_SEGMENT_DESCRIPTOR.
type VMSegDesc struct {
	Cpuid  int32
	Regnum int32
	Desc   SegDesc
}

// vm_register_set (§3): VM_SET/GET_REGISTER_SET. Regnums points at Count
// int32 register ids and Regvals at Count uint64 values in user memory.
type VMRegisterSet struct {
	Cpuid   int32
	Count   uint32
	Regnums uint64 // const int *
	Regvals uint64 // uint64_t *
}

// vm_exit (§3.1): what VM_RUN reports. U is the C union; use the typed
// accessors (Inout, SetInout, ...) in exit.go rather than raw offsets.
type VMExit struct {
	Exitcode   int32 // VM_EXITCODE_*
	InstLength int32 // 0 = unknown
	Rip        uint64
	U          [120]byte
}

// vm_run in its FreeBSD 12 form (the exit is embedded; 14 passes a pointer
// instead, §15.2): VM_RUN.
type VMRun struct {
	Cpuid int32
	_     [4]byte
	Exit  VMExit
}

// vm_exception (§3, §8.1): VM_INJECT_EXCEPTION.
type VMException struct {
	Cpuid              int32
	Vector             int32
	ErrorCode          uint32
	ErrorCodeValid     int32
	RestartInstruction int32
}

// vm_lapic_msi (§3, §8.4). The message comes before the address, unlike
// the PCI capability.
type VMLapicMSI struct {
	Msg  uint64
	Addr uint64
}

// vm_lapic_irq (§3): VM_LAPIC_IRQ (Vector is an IDT vector) and
// VM_LAPIC_LOCAL_IRQ (Vector is an LVT index).
type VMLapicIRQ struct {
	Cpuid  int32
	Vector int32
}

// vm_ioapic_irq (§3): VM_IOAPIC_{ASSERT,DEASSERT,PULSE}_IRQ.
type VMIoapicIRQ struct {
	Irq int32
}

// vm_isa_irq (§3, §8.5): VM_ISA_{ASSERT,DEASSERT,PULSE}_IRQ. IoapicIrq -1
// means the 8259 pin only.
type VMIsaIRQ struct {
	AtpicIrq  int32
	IoapicIrq int32
}

// vm_isa_irq_trigger (§3): VM_ISA_SET_IRQ_TRIGGER.
type VMIsaIRQTrigger struct {
	AtpicIrq int32
	Trigger  int32 // EDGE_TRIGGER / LEVEL_TRIGGER
}

// vm_capability (§3): VM_SET/GET_CAPABILITY. Allcpus is ignored by the
// kernel, as in FreeBSD.
type VMCapability struct {
	Cpuid   int32
	Captype int32 // VM_CAP_*
	Capval  int32
	Allcpus int32
}

// vm_pptdev (§3): VM_BIND_PPTDEV / VM_UNBIND_PPTDEV.
type VMPptdev struct {
	Bus  int32
	Slot int32
	Func int32
}

// vm_pptdev_mmio (§3): VM_MAP_PPTDEV_MMIO.
type VMPptdevMMIO struct {
	Bus  int32
	Slot int32
	Func int32
	_    [4]byte
	Gpa  uint64
	Hpa  uint64
	Len  uint64
}

// vm_pptdev_msi (§3): VM_PPTDEV_MSI. Vcpu is first so the vCPU lock finds
// it (§2.1).
type VMPptdevMSI struct {
	Vcpu   int32
	Bus    int32
	Slot   int32
	Func   int32
	Numvec int32 // 0 = disable
	_      [4]byte
	Msg    uint64
	Addr   uint64
}

// vm_pptdev_msix (§3): VM_PPTDEV_MSIX.
type VMPptdevMSIX struct {
	Vcpu          int32
	Bus           int32
	Slot          int32
	Func          int32
	Idx           int32
	_             [4]byte
	Msg           uint64
	VectorControl uint32
	_             [4]byte
	Addr          uint64
}

// vm_nmi (§3): VM_INJECT_NMI.
type VMNmi struct {
	Cpuid int32
}

// Timeval is struct timeval on amd64 (time_t and suseconds_t are 8 bytes).
type Timeval struct {
	Sec  int64
	Usec int64
}

// vm_stats (§3, §10) in its FreeBSD 12 form (14 added an index, §15.2).
type VMStats struct {
	Cpuid      int32 // in
	NumEntries int32 // out
	Tv         Timeval
	Statbuf    [MAX_VM_STATS]uint64
}

// vm_stat_desc (§3): VM_STAT_DESC.
type VMStatDesc struct {
	Index int32     // in
	Desc  [128]byte // out, NUL-terminated
}

// DescString returns Desc up to its first NUL.
func (d *VMStatDesc) DescString() string { return cstring(d.Desc[:]) }

// vm_x2apic (§3): VM_SET/GET_X2APIC_STATE.
type VMX2APIC struct {
	Cpuid int32
	State int32 // X2APIC_*
}

// vm_gpa_pte (§3): VM_GET_GPA_PMAP.
type VMGpaPte struct {
	Gpa    uint64    // in
	Pte    [4]uint64 // out
	Ptenum int32
	_      [4]byte
}

// vm_hpet_cap (§3): VM_GET_HPET_CAPABILITIES.
type VMHpetCap struct {
	Capabilities uint32 // low 32 bits of the HPET capability register
}

// vm_suspend (§3, §7.5): VM_SUSPEND.
type VMSuspend struct {
	How int32 // VM_SUSPEND_*
}

// vm_gla2gpa (§3, §9): VM_GLA2GPA / VM_GLA2GPA_NOFAULT.
type VMGla2Gpa struct {
	Vcpuid int32
	Prot   int32 // PROT_READ / PROT_WRITE / PROT_EXEC
	Gla    uint64
	Paging VMGuestPaging
	Fault  int32 // out
	_      [4]byte
	Gpa    uint64 // out
}

// vm_activate_cpu (§3): VM_ACTIVATE_CPU, VM_SUSPEND_CPU, VM_RESUME_CPU.
type VMActivateCPU struct {
	Vcpuid int32
}

// vm_cpuset (§3): VM_GET_CPUS. Cpus is a user address of Cpusetsize bytes.
type VMCpuset struct {
	Which      int32 // VM_ACTIVE_CPUS / VM_SUSPENDED_CPUS / VM_DEBUG_CPUS
	Cpusetsize int32
	Cpus       uint64 // cpuset_t *
}

// vm_intinfo (§3, §8.2): VM_GET/SET_INTINFO.
type VMIntinfo struct {
	Vcpuid int32
	_      [4]byte
	Info1  uint64
	Info2  uint64
}

// vm_rtc_time (§3): VM_RTC_SETTIME / VM_RTC_GETTIME.
type VMRtcTime struct {
	Secs int64 // time_t
}

// vm_rtc_data (§3): VM_RTC_READ / VM_RTC_WRITE.
type VMRtcData struct {
	Offset int32
	Value  uint8
	_      [3]byte
}

// vm_cpu_topology (§3, §11): VM_SET/GET_TOPOLOGY.
type VMCPUTopology struct {
	Sockets uint16
	Cores   uint16
	Threads uint16
	Maxcpus uint16
}

// Vie is struct vie (§3.2), the instruction-decode state carried by an
// INST_EMUL exit. The C struct packs several bitfields into single bytes;
// those bytes are kept whole here (Bits17..Bits21) and read through the
// accessor methods, so the layout stays the C one.
type Vie struct {
	Inst            [VIE_INST_SIZE]byte // @0
	NumValid        uint8               // @15
	NumProcessed    uint8               // @16
	Bits17          uint8               // addrsize:4, opsize:4
	Bits18          uint8               // rex_w, rex_r, rex_x, rex_b, rex_present, repz_present, repnz_present, opsize_override
	Bits19          uint8               // addrsize_override:1, segment_override:1, mod:2, reg:4
	Bits20          uint8               // rm:4, ss:2
	Bits21          uint8               // index:4, base:4
	DispBytes       uint8               // @22
	ImmBytes        uint8               // @23
	Scale           uint8               // @24
	_               [3]byte
	BaseRegister    int32 // @28, VM_REG_* (VM_REG_LAST = none)
	IndexRegister   int32 // @32
	SegmentRegister int32 // @36
	Displacement    int64 // @40
	Immediate       int64 // @48
	Decoded         uint8 // @56, 1 = decoded
	_               [1]byte
	OpByte          uint8  // @58
	OpType          uint8  // @59
	OpFlags         uint16 // @60
	_               [2]byte
}

func getBits(b uint8, shift, width uint) uint8 { return b >> shift & (1<<width - 1) }

func setBits(b *uint8, shift, width uint, v uint8) {
	m := uint8(1<<width-1) << shift
	*b = *b&^m | v<<shift&m
}

func bit(b uint8, shift uint) bool { return b>>shift&1 != 0 }

func setBit(b *uint8, shift uint, v bool) {
	if v {
		*b |= 1 << shift
	} else {
		*b &^= 1 << shift
	}
}

// Bitfield accessors of struct vie (§3.2). Setters truncate to the field
// width as a C bitfield store does.

func (v *Vie) Addrsize() uint8          { return getBits(v.Bits17, 0, 4) }
func (v *Vie) SetAddrsize(x uint8)      { setBits(&v.Bits17, 0, 4, x) }
func (v *Vie) Opsize() uint8            { return getBits(v.Bits17, 4, 4) }
func (v *Vie) SetOpsize(x uint8)        { setBits(&v.Bits17, 4, 4, x) }
func (v *Vie) RexW() bool               { return bit(v.Bits18, 0) }
func (v *Vie) SetRexW(x bool)           { setBit(&v.Bits18, 0, x) }
func (v *Vie) RexR() bool               { return bit(v.Bits18, 1) }
func (v *Vie) SetRexR(x bool)           { setBit(&v.Bits18, 1, x) }
func (v *Vie) RexX() bool               { return bit(v.Bits18, 2) }
func (v *Vie) SetRexX(x bool)           { setBit(&v.Bits18, 2, x) }
func (v *Vie) RexB() bool               { return bit(v.Bits18, 3) }
func (v *Vie) SetRexB(x bool)           { setBit(&v.Bits18, 3, x) }
func (v *Vie) RexPresent() bool         { return bit(v.Bits18, 4) }
func (v *Vie) SetRexPresent(x bool)     { setBit(&v.Bits18, 4, x) }
func (v *Vie) RepzPresent() bool        { return bit(v.Bits18, 5) }
func (v *Vie) SetRepzPresent(x bool)    { setBit(&v.Bits18, 5, x) }
func (v *Vie) RepnzPresent() bool       { return bit(v.Bits18, 6) }
func (v *Vie) SetRepnzPresent(x bool)   { setBit(&v.Bits18, 6, x) }
func (v *Vie) OpsizeOverride() bool     { return bit(v.Bits18, 7) }
func (v *Vie) SetOpsizeOverride(x bool) { setBit(&v.Bits18, 7, x) }
func (v *Vie) AddrsizeOverride() bool   { return bit(v.Bits19, 0) }
func (v *Vie) SetAddrsizeOverride(x bool) {
	setBit(&v.Bits19, 0, x)
}
func (v *Vie) SegmentOverride() bool     { return bit(v.Bits19, 1) }
func (v *Vie) SetSegmentOverride(x bool) { setBit(&v.Bits19, 1, x) }
func (v *Vie) Mod() uint8                { return getBits(v.Bits19, 2, 2) }
func (v *Vie) SetMod(x uint8)            { setBits(&v.Bits19, 2, 2, x) }
func (v *Vie) Reg() uint8                { return getBits(v.Bits19, 4, 4) }
func (v *Vie) SetReg(x uint8)            { setBits(&v.Bits19, 4, 4, x) }
func (v *Vie) Rm() uint8                 { return getBits(v.Bits20, 0, 4) }
func (v *Vie) SetRm(x uint8)             { setBits(&v.Bits20, 0, 4, x) }
func (v *Vie) SS() uint8                 { return getBits(v.Bits20, 4, 2) }
func (v *Vie) SetSS(x uint8)             { setBits(&v.Bits20, 4, 2, x) }
func (v *Vie) Index() uint8              { return getBits(v.Bits21, 0, 4) }
func (v *Vie) SetIndex(x uint8)          { setBits(&v.Bits21, 0, 4, x) }
func (v *Vie) Base() uint8               { return getBits(v.Bits21, 4, 4) }
func (v *Vie) SetBase(x uint8)           { setBits(&v.Bits21, 4, 4, x) }

// cstring returns b up to its first NUL (all of b if there is none).
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// SetCString stores s in dst NUL-terminated, truncating s so the NUL fits,
// and zeroes the rest of dst (so no stale bytes leak to userspace).
func SetCString(dst []byte, s string) {
	if len(dst) == 0 {
		return
	}
	n := copy(dst[:len(dst)-1], s)
	clear(dst[n:])
}
