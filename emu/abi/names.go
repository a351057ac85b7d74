package abi

// Names for humans: traces, error messages, CLI output. They follow
// FreeBSD's spelling (bhyvectl prints exit codes without the VM_EXITCODE_
// prefix).

var exitcodeNames = [...]string{
	VM_EXITCODE_INOUT:       "INOUT",
	VM_EXITCODE_VMX:         "VMX",
	VM_EXITCODE_BOGUS:       "BOGUS",
	VM_EXITCODE_RDMSR:       "RDMSR",
	VM_EXITCODE_WRMSR:       "WRMSR",
	VM_EXITCODE_HLT:         "HLT",
	VM_EXITCODE_MTRAP:       "MTRAP",
	VM_EXITCODE_PAUSE:       "PAUSE",
	VM_EXITCODE_PAGING:      "PAGING",
	VM_EXITCODE_INST_EMUL:   "INST_EMUL",
	VM_EXITCODE_SPINUP_AP:   "SPINUP_AP",
	VM_EXITCODE_DEPRECATED1: "DEPRECATED1",
	VM_EXITCODE_RENDEZVOUS:  "RENDEZVOUS",
	VM_EXITCODE_IOAPIC_EOI:  "IOAPIC_EOI",
	VM_EXITCODE_SUSPENDED:   "SUSPENDED",
	VM_EXITCODE_INOUT_STR:   "INOUT_STR",
	VM_EXITCODE_TASK_SWITCH: "TASK_SWITCH",
	VM_EXITCODE_MONITOR:     "MONITOR",
	VM_EXITCODE_MWAIT:       "MWAIT",
	VM_EXITCODE_SVM:         "SVM",
	VM_EXITCODE_REQIDLE:     "REQIDLE",
	VM_EXITCODE_DEBUG:       "DEBUG",
	VM_EXITCODE_VMINSN:      "VMINSN",
}

// ExitcodeName returns the VM_EXITCODE_* name of c without its prefix
// ("INOUT"), or "EXITCODE(n)" for a value FreeBSD 12 does not define.
func ExitcodeName(c int32) string {
	if c >= 0 && int(c) < len(exitcodeNames) {
		return exitcodeNames[c]
	}
	return "EXITCODE(" + itoa(int(c)) + ")"
}

var regNames = [...]string{
	VM_REG_GUEST_RAX:         "rax",
	VM_REG_GUEST_RBX:         "rbx",
	VM_REG_GUEST_RCX:         "rcx",
	VM_REG_GUEST_RDX:         "rdx",
	VM_REG_GUEST_RSI:         "rsi",
	VM_REG_GUEST_RDI:         "rdi",
	VM_REG_GUEST_RBP:         "rbp",
	VM_REG_GUEST_R8:          "r8",
	VM_REG_GUEST_R9:          "r9",
	VM_REG_GUEST_R10:         "r10",
	VM_REG_GUEST_R11:         "r11",
	VM_REG_GUEST_R12:         "r12",
	VM_REG_GUEST_R13:         "r13",
	VM_REG_GUEST_R14:         "r14",
	VM_REG_GUEST_R15:         "r15",
	VM_REG_GUEST_CR0:         "cr0",
	VM_REG_GUEST_CR3:         "cr3",
	VM_REG_GUEST_CR4:         "cr4",
	VM_REG_GUEST_DR7:         "dr7",
	VM_REG_GUEST_RSP:         "rsp",
	VM_REG_GUEST_RIP:         "rip",
	VM_REG_GUEST_RFLAGS:      "rflags",
	VM_REG_GUEST_ES:          "es",
	VM_REG_GUEST_CS:          "cs",
	VM_REG_GUEST_SS:          "ss",
	VM_REG_GUEST_DS:          "ds",
	VM_REG_GUEST_FS:          "fs",
	VM_REG_GUEST_GS:          "gs",
	VM_REG_GUEST_LDTR:        "ldtr",
	VM_REG_GUEST_TR:          "tr",
	VM_REG_GUEST_IDTR:        "idtr",
	VM_REG_GUEST_GDTR:        "gdtr",
	VM_REG_GUEST_EFER:        "efer",
	VM_REG_GUEST_CR2:         "cr2",
	VM_REG_GUEST_PDPTE0:      "pdpte0",
	VM_REG_GUEST_PDPTE1:      "pdpte1",
	VM_REG_GUEST_PDPTE2:      "pdpte2",
	VM_REG_GUEST_PDPTE3:      "pdpte3",
	VM_REG_GUEST_INTR_SHADOW: "intr_shadow",
	VM_REG_GUEST_DR0:         "dr0",
	VM_REG_GUEST_DR1:         "dr1",
	VM_REG_GUEST_DR2:         "dr2",
	VM_REG_GUEST_DR3:         "dr3",
	VM_REG_GUEST_DR6:         "dr6",
}

// RegName returns the lower-case name of VM_REG_GUEST_* register r ("rax"),
// or "reg(n)" for a number FreeBSD 12 does not define (including the
// negative raw-VMCS encodings, §4.1).
func RegName(r int32) string {
	if r >= 0 && int(r) < len(regNames) {
		return regNames[r]
	}
	return "reg(" + itoa(int(r)) + ")"
}

// IoctlName returns FreeBSD's name for cmd ("VM_RUN"), or the command in
// hex ("0xc0907699") when it is not a FreeBSD 12 vmm ioctl.
func IoctlName(cmd uint32) string {
	if info, ok := IoctlByCmd(cmd); ok {
		return info.Name
	}
	const hex = "0123456789abcdef"
	b := []byte("0x00000000")
	for i := 0; i < 8; i++ {
		b[9-i] = hex[cmd>>(4*i)&0xf]
	}
	return string(b)
}

var suspendNames = [...]string{
	VM_SUSPEND_NONE:        "NONE",
	VM_SUSPEND_RESET:       "RESET",
	VM_SUSPEND_POWEROFF:    "POWEROFF",
	VM_SUSPEND_HALT:        "HALT",
	VM_SUSPEND_TRIPLEFAULT: "TRIPLEFAULT",
}

// SuspendName returns the VM_SUSPEND_* name of how without its prefix.
func SuspendName(how int32) string {
	if how >= 0 && int(how) < len(suspendNames) {
		return suspendNames[how]
	}
	return "SUSPEND(" + itoa(int(how)) + ")"
}
