package cpu

import "softvmm/emu/abi"

// This file is the contract between the interpreter and the rest of softvmm
// (emu/vmm drives it; tests drive it directly). The interpreter sees guest
// RAM only through PhysMem and never imports a device: I/O ports and
// unbacked (MMIO) addresses end Run with an Exit that emu/vmm handles, the
// way a VT-x exit reaches vmm.

// PhysMem is guest-physical memory as the interpreter sees it. It is called
// only on a software-TLB miss or a decode-cache fill, never per instruction.
type PhysMem interface {
	// Page returns the host bytes of the 4 KiB guest-physical page that
	// holds gpa (len 4096, aliasing guest RAM) and whether the mapping is
	// writable and executable, or nil when no RAM backs gpa (MMIO).
	Page(gpa uint64) (page []byte, prot int)
}

// ExitReason says why Run returned.
type ExitReason uint8

const (
	ExitNone        ExitReason = iota
	ExitBudget                 // the instruction budget given to Run is used up
	ExitInOut                  // IN/OUT: Port, Bytes, In, EAX (value for OUT)
	ExitHLT                    // HLT retired; RIP is past it
	ExitMMIO                   // access to an address no RAM backs: GPA, Write
	ExitTripleFault            // shutdown: an exception while delivering #DF
	ExitRDMSR                  // RDMSR of an MSR the interpreter does not own: MSR
	ExitWRMSR                  // WRMSR of an MSR the interpreter does not own: MSR, MSRVal
	ExitError                  // emulator failure: Err says what, Bytes of the instruction in Insn
	ExitPause                  // PAUSE retired while SetPauseExit is on (VM_CAP_PAUSE_EXIT)
	ExitInOutStr               // INS/OUTS: Port, Bytes, In and Str (strio.go)
)

// Exit describes how Run stopped. For ExitInOut the instruction has
// retired: RIP already points past it (vmm's nextrip = rip + inst_length),
// and for IN the caller merges the value into RAX itself (SetReg), as
// bhyve does after VM_EXITCODE_INOUT.
type Exit struct {
	Reason  ExitReason
	RIP     uint64 // guest RIP of the instruction that caused the exit
	InstLen int    // its length in bytes (0 when unknown)

	Port  uint16 // ExitInOut
	Bytes uint8  // ExitInOut: 1, 2 or 4
	In    bool   // ExitInOut
	EAX   uint32 // ExitInOut: value written by OUT

	GPA   uint64 // ExitMMIO
	Write bool   // ExitMMIO

	MSR    uint32 // ExitRDMSR, ExitWRMSR: ECX
	MSRVal uint64 // ExitWRMSR: EDX:EAX

	Str StrIO // ExitInOutStr

	Insn []byte // ExitError, ExitMMIO: the instruction bytes
	Err  error  // ExitError

	Kicked bool // ExitBudget: ended early by IntrLine.Kick, not the budget
}

// StrIO is what vmm's VM_EXITCODE_INOUT_STR carries beyond u.inout
// (reference/vmm-interface.md §3.1), plus GLA: the linear address of the
// first element (segment base, outside 64-bit mode or for FS/GS, plus the
// index masked to AddrSize), before any limit or canonical check. For
// ExitInOutStr RIP is past the instruction, as for ExitInOut; the caller
// moves the data, updates RSI/RDI/RCX and rewinds RIP while work remains.
type StrIO struct {
	Rep      bool
	AddrSize uint8       // 2, 4 or 8
	SegName  int32       // VM_REG_GUEST_ES (INS) or the OUTS segment
	Seg      abi.SegDesc // that segment's descriptor cache
	Index    uint64      // RDI (INS) or RSI (OUTS), the whole register
	Count    uint64      // RCX masked to AddrSize if Rep, else 1
	GLA      uint64
	Rflags   uint64
	CR0      uint64
	Paging   abi.VMGuestPaging
}
