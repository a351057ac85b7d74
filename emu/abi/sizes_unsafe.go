package abi

import "unsafe"

// Sizes of the ioctl argument structs, taken from the Go layout itself so
// that a wrong layout changes the command numbers in ioctl.go (and the ABI
// table test catches it). This is the package's only use of unsafe.
const (
	sizeofInt             = unsafe.Sizeof(int32(0))
	sizeofVMRun           = unsafe.Sizeof(VMRun{})
	sizeofVMCapability    = unsafe.Sizeof(VMCapability{})
	sizeofVMSuspend       = unsafe.Sizeof(VMSuspend{})
	sizeofVMGpaPte        = unsafe.Sizeof(VMGpaPte{})
	sizeofVMGla2Gpa       = unsafe.Sizeof(VMGla2Gpa{})
	sizeofVMMemseg        = unsafe.Sizeof(VMMemseg{})
	sizeofVMMemmap        = unsafe.Sizeof(VMMemmap{})
	sizeofVMRegister      = unsafe.Sizeof(VMRegister{})
	sizeofVMSegDesc       = unsafe.Sizeof(VMSegDesc{})
	sizeofVMRegisterSet   = unsafe.Sizeof(VMRegisterSet{})
	sizeofVMIntinfo       = unsafe.Sizeof(VMIntinfo{})
	sizeofVMException     = unsafe.Sizeof(VMException{})
	sizeofVMLapicIRQ      = unsafe.Sizeof(VMLapicIRQ{})
	sizeofVMNmi           = unsafe.Sizeof(VMNmi{})
	sizeofVMIoapicIRQ     = unsafe.Sizeof(VMIoapicIRQ{})
	sizeofVMLapicMSI      = unsafe.Sizeof(VMLapicMSI{})
	sizeofVMPptdev        = unsafe.Sizeof(VMPptdev{})
	sizeofVMPptdevMMIO    = unsafe.Sizeof(VMPptdevMMIO{})
	sizeofVMPptdevMSI     = unsafe.Sizeof(VMPptdevMSI{})
	sizeofVMPptdevMSIX    = unsafe.Sizeof(VMPptdevMSIX{})
	sizeofVMStats         = unsafe.Sizeof(VMStats{})
	sizeofVMStatDesc      = unsafe.Sizeof(VMStatDesc{})
	sizeofVMX2APIC        = unsafe.Sizeof(VMX2APIC{})
	sizeofVMHpetCap       = unsafe.Sizeof(VMHpetCap{})
	sizeofVMCPUTopology   = unsafe.Sizeof(VMCPUTopology{})
	sizeofVMIsaIRQ        = unsafe.Sizeof(VMIsaIRQ{})
	sizeofVMIsaIRQTrigger = unsafe.Sizeof(VMIsaIRQTrigger{})
	sizeofVMActivateCPU   = unsafe.Sizeof(VMActivateCPU{})
	sizeofVMCpuset        = unsafe.Sizeof(VMCpuset{})
	sizeofVMRtcData       = unsafe.Sizeof(VMRtcData{})
	sizeofVMRtcTime       = unsafe.Sizeof(VMRtcTime{})
)

// The ioctl length field has 13 bits; an argument that outgrew it would be
// silently truncated by _IOC, so refuse to compile instead.
var _ [IOCPARM_MASK - sizeofVMStats]struct{}
