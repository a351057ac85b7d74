package abi

// ioctl command numbers of /dev/vmm/NAME, FreeBSD 12 amd64
// (sys/amd64/include/vmm_dev.h, sys/sys/ioccom.h); reference/vmm-interface.md
// §2 and reference/vmm-ioctls.csv.
//
// A command is _IOC(dir, 'v', num, sizeof(arg)). The sizes come from the Go
// structs (sizes_unsafe.go), so a layout mistake shows up as a wrong command
// number, which the ABI table test compares with the reference.

// BSD ioctl encoding (sys/sys/ioccom.h).
const (
	IOCPARM_SHIFT = 13
	IOCPARM_MASK  = 1<<IOCPARM_SHIFT - 1 // 0x1fff: 13-bit argument length

	IOC_VOID    uint32 = 0x20000000 // no parameters (_IO)
	IOC_OUT     uint32 = 0x40000000 // copy out (_IOR)
	IOC_IN      uint32 = 0x80000000 // copy in (_IOW)
	IOC_INOUT          = IOC_IN | IOC_OUT
	IOC_DIRMASK        = IOC_VOID | IOC_OUT | IOC_IN

	// IOCGROUP_VMM is the group letter of every vmm ioctl.
	IOCGROUP_VMM = 'v'
)

// IOCPARM_LEN returns the argument length encoded in cmd.
func IOCPARM_LEN(cmd uint32) int { return int(cmd >> 16 & IOCPARM_MASK) }

// IOC_DIR returns the direction bits of cmd (IOC_VOID, IOC_OUT, IOC_IN,
// IOC_INOUT, or an invalid combination the caller must reject).
func IOC_DIR(cmd uint32) uint32 { return cmd & IOC_DIRMASK }

// IOCGROUP returns the group letter of cmd.
func IOCGROUP(cmd uint32) byte { return byte(cmd >> 8) }

// IOCBASECMD returns cmd with its length field cleared.
func IOCBASECMD(cmd uint32) uint32 { return cmd &^ (IOCPARM_MASK << 16) }

// IOCNUM returns the command number (low byte) of cmd.
func IOCNUM(cmd uint32) int { return int(cmd & 0xff) }

// IOC builds a command as FreeBSD's _IOC does, truncating size to 13 bits.
func IOC(dir uint32, group byte, num int, size int) uint32 {
	return dir | uint32(size)&IOCPARM_MASK<<16 | uint32(group)<<8 | uint32(num)&0xff
}

// Command numbers (enum in vmm_dev.h). ABIVERS, MAP_MEMORY and
// GET_MEMORY_SEG are reserved or deprecated and have no handler (ENOTTY).
const (
	IOCNUM_ABIVERS                = 0
	IOCNUM_RUN                    = 1
	IOCNUM_SET_CAPABILITY         = 2
	IOCNUM_GET_CAPABILITY         = 3
	IOCNUM_SUSPEND                = 4
	IOCNUM_REINIT                 = 5
	IOCNUM_MAP_MEMORY             = 10
	IOCNUM_GET_MEMORY_SEG         = 11
	IOCNUM_GET_GPA_PMAP           = 12
	IOCNUM_GLA2GPA                = 13
	IOCNUM_ALLOC_MEMSEG           = 14
	IOCNUM_GET_MEMSEG             = 15
	IOCNUM_MMAP_MEMSEG            = 16
	IOCNUM_MMAP_GETNEXT           = 17
	IOCNUM_GLA2GPA_NOFAULT        = 18
	IOCNUM_SET_REGISTER           = 20
	IOCNUM_GET_REGISTER           = 21
	IOCNUM_SET_SEGMENT_DESCRIPTOR = 22
	IOCNUM_GET_SEGMENT_DESCRIPTOR = 23
	IOCNUM_SET_REGISTER_SET       = 24
	IOCNUM_GET_REGISTER_SET       = 25
	IOCNUM_GET_INTINFO            = 28
	IOCNUM_SET_INTINFO            = 29
	IOCNUM_INJECT_EXCEPTION       = 30
	IOCNUM_LAPIC_IRQ              = 31
	IOCNUM_INJECT_NMI             = 32
	IOCNUM_IOAPIC_ASSERT_IRQ      = 33
	IOCNUM_IOAPIC_DEASSERT_IRQ    = 34
	IOCNUM_IOAPIC_PULSE_IRQ       = 35
	IOCNUM_LAPIC_MSI              = 36
	IOCNUM_LAPIC_LOCAL_IRQ        = 37
	IOCNUM_IOAPIC_PINCOUNT        = 38
	IOCNUM_RESTART_INSTRUCTION    = 39
	IOCNUM_BIND_PPTDEV            = 40
	IOCNUM_UNBIND_PPTDEV          = 41
	IOCNUM_MAP_PPTDEV_MMIO        = 42
	IOCNUM_PPTDEV_MSI             = 43
	IOCNUM_PPTDEV_MSIX            = 44
	IOCNUM_VM_STATS               = 50
	IOCNUM_VM_STAT_DESC           = 51
	IOCNUM_SET_X2APIC_STATE       = 60
	IOCNUM_GET_X2APIC_STATE       = 61
	IOCNUM_GET_HPET_CAPABILITIES  = 62
	IOCNUM_SET_TOPOLOGY           = 63
	IOCNUM_GET_TOPOLOGY           = 64
	IOCNUM_ISA_ASSERT_IRQ         = 80
	IOCNUM_ISA_DEASSERT_IRQ       = 81
	IOCNUM_ISA_PULSE_IRQ          = 82
	IOCNUM_ISA_SET_IRQ_TRIGGER    = 83
	IOCNUM_ACTIVATE_CPU           = 90
	IOCNUM_GET_CPUSET             = 91
	IOCNUM_SUSPEND_CPU            = 92
	IOCNUM_RESUME_CPU             = 93
	IOCNUM_RTC_READ               = 100
	IOCNUM_RTC_WRITE              = 101
	IOCNUM_RTC_SETTIME            = 102
	IOCNUM_RTC_GETTIME            = 103
)

const grp = uint32(IOCGROUP_VMM) << 8

// The ioctls of reference §2.1, spelled out as _IOWR/_IOW/_IOR/_IO.
const (
	VM_RUN                    = IOC_INOUT | uint32(sizeofVMRun)<<16 | grp | IOCNUM_RUN
	VM_SET_CAPABILITY         = IOC_IN | uint32(sizeofVMCapability)<<16 | grp | IOCNUM_SET_CAPABILITY
	VM_GET_CAPABILITY         = IOC_INOUT | uint32(sizeofVMCapability)<<16 | grp | IOCNUM_GET_CAPABILITY
	VM_SUSPEND                = IOC_IN | uint32(sizeofVMSuspend)<<16 | grp | IOCNUM_SUSPEND
	VM_REINIT                 = IOC_VOID | grp | IOCNUM_REINIT
	VM_GET_GPA_PMAP           = IOC_INOUT | uint32(sizeofVMGpaPte)<<16 | grp | IOCNUM_GET_GPA_PMAP
	VM_GLA2GPA                = IOC_INOUT | uint32(sizeofVMGla2Gpa)<<16 | grp | IOCNUM_GLA2GPA
	VM_ALLOC_MEMSEG           = IOC_IN | uint32(sizeofVMMemseg)<<16 | grp | IOCNUM_ALLOC_MEMSEG
	VM_GET_MEMSEG             = IOC_INOUT | uint32(sizeofVMMemseg)<<16 | grp | IOCNUM_GET_MEMSEG
	VM_MMAP_MEMSEG            = IOC_IN | uint32(sizeofVMMemmap)<<16 | grp | IOCNUM_MMAP_MEMSEG
	VM_MMAP_GETNEXT           = IOC_INOUT | uint32(sizeofVMMemmap)<<16 | grp | IOCNUM_MMAP_GETNEXT
	VM_GLA2GPA_NOFAULT        = IOC_INOUT | uint32(sizeofVMGla2Gpa)<<16 | grp | IOCNUM_GLA2GPA_NOFAULT
	VM_SET_REGISTER           = IOC_IN | uint32(sizeofVMRegister)<<16 | grp | IOCNUM_SET_REGISTER
	VM_GET_REGISTER           = IOC_INOUT | uint32(sizeofVMRegister)<<16 | grp | IOCNUM_GET_REGISTER
	VM_SET_SEGMENT_DESCRIPTOR = IOC_IN | uint32(sizeofVMSegDesc)<<16 | grp | IOCNUM_SET_SEGMENT_DESCRIPTOR
	VM_GET_SEGMENT_DESCRIPTOR = IOC_INOUT | uint32(sizeofVMSegDesc)<<16 | grp | IOCNUM_GET_SEGMENT_DESCRIPTOR
	VM_SET_REGISTER_SET       = IOC_IN | uint32(sizeofVMRegisterSet)<<16 | grp | IOCNUM_SET_REGISTER_SET
	VM_GET_REGISTER_SET       = IOC_INOUT | uint32(sizeofVMRegisterSet)<<16 | grp | IOCNUM_GET_REGISTER_SET
	VM_GET_INTINFO            = IOC_INOUT | uint32(sizeofVMIntinfo)<<16 | grp | IOCNUM_GET_INTINFO
	VM_SET_INTINFO            = IOC_IN | uint32(sizeofVMIntinfo)<<16 | grp | IOCNUM_SET_INTINFO
	VM_INJECT_EXCEPTION       = IOC_IN | uint32(sizeofVMException)<<16 | grp | IOCNUM_INJECT_EXCEPTION
	VM_LAPIC_IRQ              = IOC_IN | uint32(sizeofVMLapicIRQ)<<16 | grp | IOCNUM_LAPIC_IRQ
	VM_INJECT_NMI             = IOC_IN | uint32(sizeofVMNmi)<<16 | grp | IOCNUM_INJECT_NMI
	VM_IOAPIC_ASSERT_IRQ      = IOC_IN | uint32(sizeofVMIoapicIRQ)<<16 | grp | IOCNUM_IOAPIC_ASSERT_IRQ
	VM_IOAPIC_DEASSERT_IRQ    = IOC_IN | uint32(sizeofVMIoapicIRQ)<<16 | grp | IOCNUM_IOAPIC_DEASSERT_IRQ
	VM_IOAPIC_PULSE_IRQ       = IOC_IN | uint32(sizeofVMIoapicIRQ)<<16 | grp | IOCNUM_IOAPIC_PULSE_IRQ
	VM_LAPIC_MSI              = IOC_IN | uint32(sizeofVMLapicMSI)<<16 | grp | IOCNUM_LAPIC_MSI
	VM_LAPIC_LOCAL_IRQ        = IOC_IN | uint32(sizeofVMLapicIRQ)<<16 | grp | IOCNUM_LAPIC_LOCAL_IRQ
	VM_IOAPIC_PINCOUNT        = IOC_OUT | uint32(sizeofInt)<<16 | grp | IOCNUM_IOAPIC_PINCOUNT
	VM_RESTART_INSTRUCTION    = IOC_IN | uint32(sizeofInt)<<16 | grp | IOCNUM_RESTART_INSTRUCTION
	VM_BIND_PPTDEV            = IOC_IN | uint32(sizeofVMPptdev)<<16 | grp | IOCNUM_BIND_PPTDEV
	VM_UNBIND_PPTDEV          = IOC_IN | uint32(sizeofVMPptdev)<<16 | grp | IOCNUM_UNBIND_PPTDEV
	VM_MAP_PPTDEV_MMIO        = IOC_IN | uint32(sizeofVMPptdevMMIO)<<16 | grp | IOCNUM_MAP_PPTDEV_MMIO
	VM_PPTDEV_MSI             = IOC_IN | uint32(sizeofVMPptdevMSI)<<16 | grp | IOCNUM_PPTDEV_MSI
	VM_PPTDEV_MSIX            = IOC_IN | uint32(sizeofVMPptdevMSIX)<<16 | grp | IOCNUM_PPTDEV_MSIX
	VM_STATS                  = IOC_INOUT | uint32(sizeofVMStats)<<16 | grp | IOCNUM_VM_STATS
	VM_STAT_DESC              = IOC_INOUT | uint32(sizeofVMStatDesc)<<16 | grp | IOCNUM_VM_STAT_DESC
	VM_SET_X2APIC_STATE       = IOC_IN | uint32(sizeofVMX2APIC)<<16 | grp | IOCNUM_SET_X2APIC_STATE
	VM_GET_X2APIC_STATE       = IOC_INOUT | uint32(sizeofVMX2APIC)<<16 | grp | IOCNUM_GET_X2APIC_STATE
	VM_GET_HPET_CAPABILITIES  = IOC_OUT | uint32(sizeofVMHpetCap)<<16 | grp | IOCNUM_GET_HPET_CAPABILITIES
	VM_SET_TOPOLOGY           = IOC_IN | uint32(sizeofVMCPUTopology)<<16 | grp | IOCNUM_SET_TOPOLOGY
	VM_GET_TOPOLOGY           = IOC_OUT | uint32(sizeofVMCPUTopology)<<16 | grp | IOCNUM_GET_TOPOLOGY
	VM_ISA_ASSERT_IRQ         = IOC_IN | uint32(sizeofVMIsaIRQ)<<16 | grp | IOCNUM_ISA_ASSERT_IRQ
	VM_ISA_DEASSERT_IRQ       = IOC_IN | uint32(sizeofVMIsaIRQ)<<16 | grp | IOCNUM_ISA_DEASSERT_IRQ
	VM_ISA_PULSE_IRQ          = IOC_IN | uint32(sizeofVMIsaIRQ)<<16 | grp | IOCNUM_ISA_PULSE_IRQ
	VM_ISA_SET_IRQ_TRIGGER    = IOC_IN | uint32(sizeofVMIsaIRQTrigger)<<16 | grp | IOCNUM_ISA_SET_IRQ_TRIGGER
	VM_ACTIVATE_CPU           = IOC_IN | uint32(sizeofVMActivateCPU)<<16 | grp | IOCNUM_ACTIVATE_CPU
	VM_GET_CPUS               = IOC_IN | uint32(sizeofVMCpuset)<<16 | grp | IOCNUM_GET_CPUSET
	VM_SUSPEND_CPU            = IOC_IN | uint32(sizeofVMActivateCPU)<<16 | grp | IOCNUM_SUSPEND_CPU
	VM_RESUME_CPU             = IOC_IN | uint32(sizeofVMActivateCPU)<<16 | grp | IOCNUM_RESUME_CPU
	VM_RTC_READ               = IOC_INOUT | uint32(sizeofVMRtcData)<<16 | grp | IOCNUM_RTC_READ
	VM_RTC_WRITE              = IOC_IN | uint32(sizeofVMRtcData)<<16 | grp | IOCNUM_RTC_WRITE
	VM_RTC_SETTIME            = IOC_IN | uint32(sizeofVMRtcTime)<<16 | grp | IOCNUM_RTC_SETTIME
	VM_RTC_GETTIME            = IOC_OUT | uint32(sizeofVMRtcTime)<<16 | grp | IOCNUM_RTC_GETTIME
)

// LockKind is which vCPUs the ioctl switch freezes around a command
// (§2.1 Lock column, §2.2).
type LockKind uint8

const (
	// LockNone: no vCPU is frozen.
	LockNone LockKind = iota
	// LockOne: the vCPU named by the first int32 of the argument is frozen;
	// an id outside [0, VM_MAXCPU) is EINVAL before any other check.
	LockOne
	// LockAll: vCPUs 0..VM_MAXCPU-1 are frozen in order.
	LockAll
	// LockMemR: vCPU VM_MAXCPU-1 is frozen, a read lock on the memory map.
	LockMemR
)

func (k LockKind) String() string {
	switch k {
	case LockNone:
		return "none"
	case LockOne:
		return "one"
	case LockAll:
		return "all"
	case LockMemR:
		return "mem-r"
	}
	return "LockKind(" + itoa(int(k)) + ")"
}

// IoctlInfo describes one vmm ioctl for dispatchers, tests and fuzzers.
type IoctlInfo struct {
	Name string   // FreeBSD's macro name, e.g. "VM_RUN"
	Cmd  uint32   // encoded command
	Num  int      // IOCNUM_*
	Size int      // argument bytes (IOCPARM_LEN(Cmd))
	Lock LockKind // vCPU lock taken around the handler
	Arg  string   // C argument type: "vm_run", "int", "" for none
}

// Dir returns the direction bits of the command.
func (i IoctlInfo) Dir() uint32 { return IOC_DIR(i.Cmd) }

// In reports whether the argument is copied in before the handler runs.
func (i IoctlInfo) In() bool { return i.Cmd&IOC_IN != 0 }

// Out reports whether the argument is copied out after a successful handler.
func (i IoctlInfo) Out() bool { return i.Cmd&IOC_OUT != 0 }

// Ioctls lists every FreeBSD 12 vmm ioctl (§2.1), in command-number order.
var Ioctls = []IoctlInfo{
	{"VM_RUN", VM_RUN, IOCNUM_RUN, int(sizeofVMRun), LockOne, "vm_run"},
	{"VM_SET_CAPABILITY", VM_SET_CAPABILITY, IOCNUM_SET_CAPABILITY, int(sizeofVMCapability), LockOne, "vm_capability"},
	{"VM_GET_CAPABILITY", VM_GET_CAPABILITY, IOCNUM_GET_CAPABILITY, int(sizeofVMCapability), LockOne, "vm_capability"},
	{"VM_SUSPEND", VM_SUSPEND, IOCNUM_SUSPEND, int(sizeofVMSuspend), LockNone, "vm_suspend"},
	{"VM_REINIT", VM_REINIT, IOCNUM_REINIT, 0, LockAll, ""},
	{"VM_GET_GPA_PMAP", VM_GET_GPA_PMAP, IOCNUM_GET_GPA_PMAP, int(sizeofVMGpaPte), LockNone, "vm_gpa_pte"},
	{"VM_GLA2GPA", VM_GLA2GPA, IOCNUM_GLA2GPA, int(sizeofVMGla2Gpa), LockOne, "vm_gla2gpa"},
	{"VM_ALLOC_MEMSEG", VM_ALLOC_MEMSEG, IOCNUM_ALLOC_MEMSEG, int(sizeofVMMemseg), LockAll, "vm_memseg"},
	{"VM_GET_MEMSEG", VM_GET_MEMSEG, IOCNUM_GET_MEMSEG, int(sizeofVMMemseg), LockMemR, "vm_memseg"},
	{"VM_MMAP_MEMSEG", VM_MMAP_MEMSEG, IOCNUM_MMAP_MEMSEG, int(sizeofVMMemmap), LockAll, "vm_memmap"},
	{"VM_MMAP_GETNEXT", VM_MMAP_GETNEXT, IOCNUM_MMAP_GETNEXT, int(sizeofVMMemmap), LockMemR, "vm_memmap"},
	{"VM_GLA2GPA_NOFAULT", VM_GLA2GPA_NOFAULT, IOCNUM_GLA2GPA_NOFAULT, int(sizeofVMGla2Gpa), LockOne, "vm_gla2gpa"},
	{"VM_SET_REGISTER", VM_SET_REGISTER, IOCNUM_SET_REGISTER, int(sizeofVMRegister), LockOne, "vm_register"},
	{"VM_GET_REGISTER", VM_GET_REGISTER, IOCNUM_GET_REGISTER, int(sizeofVMRegister), LockOne, "vm_register"},
	{"VM_SET_SEGMENT_DESCRIPTOR", VM_SET_SEGMENT_DESCRIPTOR, IOCNUM_SET_SEGMENT_DESCRIPTOR, int(sizeofVMSegDesc), LockOne, "vm_seg_desc"},
	{"VM_GET_SEGMENT_DESCRIPTOR", VM_GET_SEGMENT_DESCRIPTOR, IOCNUM_GET_SEGMENT_DESCRIPTOR, int(sizeofVMSegDesc), LockOne, "vm_seg_desc"},
	{"VM_SET_REGISTER_SET", VM_SET_REGISTER_SET, IOCNUM_SET_REGISTER_SET, int(sizeofVMRegisterSet), LockOne, "vm_register_set"},
	{"VM_GET_REGISTER_SET", VM_GET_REGISTER_SET, IOCNUM_GET_REGISTER_SET, int(sizeofVMRegisterSet), LockOne, "vm_register_set"},
	{"VM_GET_INTINFO", VM_GET_INTINFO, IOCNUM_GET_INTINFO, int(sizeofVMIntinfo), LockOne, "vm_intinfo"},
	{"VM_SET_INTINFO", VM_SET_INTINFO, IOCNUM_SET_INTINFO, int(sizeofVMIntinfo), LockOne, "vm_intinfo"},
	{"VM_INJECT_EXCEPTION", VM_INJECT_EXCEPTION, IOCNUM_INJECT_EXCEPTION, int(sizeofVMException), LockOne, "vm_exception"},
	{"VM_LAPIC_IRQ", VM_LAPIC_IRQ, IOCNUM_LAPIC_IRQ, int(sizeofVMLapicIRQ), LockNone, "vm_lapic_irq"},
	{"VM_INJECT_NMI", VM_INJECT_NMI, IOCNUM_INJECT_NMI, int(sizeofVMNmi), LockNone, "vm_nmi"},
	{"VM_IOAPIC_ASSERT_IRQ", VM_IOAPIC_ASSERT_IRQ, IOCNUM_IOAPIC_ASSERT_IRQ, int(sizeofVMIoapicIRQ), LockNone, "vm_ioapic_irq"},
	{"VM_IOAPIC_DEASSERT_IRQ", VM_IOAPIC_DEASSERT_IRQ, IOCNUM_IOAPIC_DEASSERT_IRQ, int(sizeofVMIoapicIRQ), LockNone, "vm_ioapic_irq"},
	{"VM_IOAPIC_PULSE_IRQ", VM_IOAPIC_PULSE_IRQ, IOCNUM_IOAPIC_PULSE_IRQ, int(sizeofVMIoapicIRQ), LockNone, "vm_ioapic_irq"},
	{"VM_LAPIC_MSI", VM_LAPIC_MSI, IOCNUM_LAPIC_MSI, int(sizeofVMLapicMSI), LockNone, "vm_lapic_msi"},
	{"VM_LAPIC_LOCAL_IRQ", VM_LAPIC_LOCAL_IRQ, IOCNUM_LAPIC_LOCAL_IRQ, int(sizeofVMLapicIRQ), LockNone, "vm_lapic_irq"},
	{"VM_IOAPIC_PINCOUNT", VM_IOAPIC_PINCOUNT, IOCNUM_IOAPIC_PINCOUNT, int(sizeofInt), LockNone, "int"},
	{"VM_RESTART_INSTRUCTION", VM_RESTART_INSTRUCTION, IOCNUM_RESTART_INSTRUCTION, int(sizeofInt), LockOne, "int"},
	{"VM_BIND_PPTDEV", VM_BIND_PPTDEV, IOCNUM_BIND_PPTDEV, int(sizeofVMPptdev), LockAll, "vm_pptdev"},
	{"VM_UNBIND_PPTDEV", VM_UNBIND_PPTDEV, IOCNUM_UNBIND_PPTDEV, int(sizeofVMPptdev), LockAll, "vm_pptdev"},
	{"VM_MAP_PPTDEV_MMIO", VM_MAP_PPTDEV_MMIO, IOCNUM_MAP_PPTDEV_MMIO, int(sizeofVMPptdevMMIO), LockAll, "vm_pptdev_mmio"},
	{"VM_PPTDEV_MSI", VM_PPTDEV_MSI, IOCNUM_PPTDEV_MSI, int(sizeofVMPptdevMSI), LockOne, "vm_pptdev_msi"},
	{"VM_PPTDEV_MSIX", VM_PPTDEV_MSIX, IOCNUM_PPTDEV_MSIX, int(sizeofVMPptdevMSIX), LockOne, "vm_pptdev_msix"},
	{"VM_STATS", VM_STATS, IOCNUM_VM_STATS, int(sizeofVMStats), LockNone, "vm_stats"},
	{"VM_STAT_DESC", VM_STAT_DESC, IOCNUM_VM_STAT_DESC, int(sizeofVMStatDesc), LockNone, "vm_stat_desc"},
	{"VM_SET_X2APIC_STATE", VM_SET_X2APIC_STATE, IOCNUM_SET_X2APIC_STATE, int(sizeofVMX2APIC), LockOne, "vm_x2apic"},
	{"VM_GET_X2APIC_STATE", VM_GET_X2APIC_STATE, IOCNUM_GET_X2APIC_STATE, int(sizeofVMX2APIC), LockNone, "vm_x2apic"},
	{"VM_GET_HPET_CAPABILITIES", VM_GET_HPET_CAPABILITIES, IOCNUM_GET_HPET_CAPABILITIES, int(sizeofVMHpetCap), LockNone, "vm_hpet_cap"},
	{"VM_SET_TOPOLOGY", VM_SET_TOPOLOGY, IOCNUM_SET_TOPOLOGY, int(sizeofVMCPUTopology), LockNone, "vm_cpu_topology"},
	{"VM_GET_TOPOLOGY", VM_GET_TOPOLOGY, IOCNUM_GET_TOPOLOGY, int(sizeofVMCPUTopology), LockNone, "vm_cpu_topology"},
	{"VM_ISA_ASSERT_IRQ", VM_ISA_ASSERT_IRQ, IOCNUM_ISA_ASSERT_IRQ, int(sizeofVMIsaIRQ), LockNone, "vm_isa_irq"},
	{"VM_ISA_DEASSERT_IRQ", VM_ISA_DEASSERT_IRQ, IOCNUM_ISA_DEASSERT_IRQ, int(sizeofVMIsaIRQ), LockNone, "vm_isa_irq"},
	{"VM_ISA_PULSE_IRQ", VM_ISA_PULSE_IRQ, IOCNUM_ISA_PULSE_IRQ, int(sizeofVMIsaIRQ), LockNone, "vm_isa_irq"},
	{"VM_ISA_SET_IRQ_TRIGGER", VM_ISA_SET_IRQ_TRIGGER, IOCNUM_ISA_SET_IRQ_TRIGGER, int(sizeofVMIsaIRQTrigger), LockNone, "vm_isa_irq_trigger"},
	{"VM_ACTIVATE_CPU", VM_ACTIVATE_CPU, IOCNUM_ACTIVATE_CPU, int(sizeofVMActivateCPU), LockOne, "vm_activate_cpu"},
	{"VM_GET_CPUS", VM_GET_CPUS, IOCNUM_GET_CPUSET, int(sizeofVMCpuset), LockNone, "vm_cpuset"},
	{"VM_SUSPEND_CPU", VM_SUSPEND_CPU, IOCNUM_SUSPEND_CPU, int(sizeofVMActivateCPU), LockNone, "vm_activate_cpu"},
	{"VM_RESUME_CPU", VM_RESUME_CPU, IOCNUM_RESUME_CPU, int(sizeofVMActivateCPU), LockNone, "vm_activate_cpu"},
	{"VM_RTC_READ", VM_RTC_READ, IOCNUM_RTC_READ, int(sizeofVMRtcData), LockNone, "vm_rtc_data"},
	{"VM_RTC_WRITE", VM_RTC_WRITE, IOCNUM_RTC_WRITE, int(sizeofVMRtcData), LockNone, "vm_rtc_data"},
	{"VM_RTC_SETTIME", VM_RTC_SETTIME, IOCNUM_RTC_SETTIME, int(sizeofVMRtcTime), LockNone, "vm_rtc_time"},
	{"VM_RTC_GETTIME", VM_RTC_GETTIME, IOCNUM_RTC_GETTIME, int(sizeofVMRtcTime), LockNone, "vm_rtc_time"},
}

// ioctlIndex maps a command number to 1 + its index in Ioctls (0 = none).
// vmm command numbers are unique in their low byte, so one array lookup
// and a full-command compare identify a command without a map.
var ioctlIndex = func() (idx [256]uint8) {
	for i, info := range Ioctls {
		if idx[info.Num] != 0 {
			panic("abi: duplicate ioctl number " + info.Name)
		}
		idx[info.Num] = uint8(i + 1)
	}
	return idx
}()

// IoctlByCmd returns the table entry whose encoded command is exactly cmd.
// A command with the right number but another size or direction (say, a
// FreeBSD 13 or 14 variant) is not found: the kernel answers it ENOTTY.
func IoctlByCmd(cmd uint32) (IoctlInfo, bool) {
	i := ioctlIndex[cmd&0xff]
	if i == 0 || Ioctls[i-1].Cmd != cmd {
		return IoctlInfo{}, false
	}
	return Ioctls[i-1], true
}

// NewArg returns a pointer to a zero value of cmd's argument type (nil for
// VM_REINIT and unknown commands), sized exactly IOCPARM_LEN(cmd), for
// Decode/Encode by generic callers such as fuzzers. The int arguments are
// *int32.
func NewArg(cmd uint32) any {
	info, ok := IoctlByCmd(cmd)
	if !ok {
		return nil
	}
	switch info.Arg {
	case "vm_run":
		return new(VMRun)
	case "vm_capability":
		return new(VMCapability)
	case "vm_suspend":
		return new(VMSuspend)
	case "vm_gpa_pte":
		return new(VMGpaPte)
	case "vm_gla2gpa":
		return new(VMGla2Gpa)
	case "vm_memseg":
		return new(VMMemseg)
	case "vm_memmap":
		return new(VMMemmap)
	case "vm_register":
		return new(VMRegister)
	case "vm_seg_desc":
		return new(VMSegDesc)
	case "vm_register_set":
		return new(VMRegisterSet)
	case "vm_intinfo":
		return new(VMIntinfo)
	case "vm_exception":
		return new(VMException)
	case "vm_lapic_irq":
		return new(VMLapicIRQ)
	case "vm_nmi":
		return new(VMNmi)
	case "vm_ioapic_irq":
		return new(VMIoapicIRQ)
	case "vm_lapic_msi":
		return new(VMLapicMSI)
	case "int":
		return new(int32)
	case "vm_pptdev":
		return new(VMPptdev)
	case "vm_pptdev_mmio":
		return new(VMPptdevMMIO)
	case "vm_pptdev_msi":
		return new(VMPptdevMSI)
	case "vm_pptdev_msix":
		return new(VMPptdevMSIX)
	case "vm_stats":
		return new(VMStats)
	case "vm_stat_desc":
		return new(VMStatDesc)
	case "vm_x2apic":
		return new(VMX2APIC)
	case "vm_hpet_cap":
		return new(VMHpetCap)
	case "vm_cpu_topology":
		return new(VMCPUTopology)
	case "vm_isa_irq":
		return new(VMIsaIRQ)
	case "vm_isa_irq_trigger":
		return new(VMIsaIRQTrigger)
	case "vm_activate_cpu":
		return new(VMActivateCPU)
	case "vm_cpuset":
		return new(VMCpuset)
	case "vm_rtc_data":
		return new(VMRtcData)
	case "vm_rtc_time":
		return new(VMRtcTime)
	}
	return nil
}
