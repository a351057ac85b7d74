package abi

import "testing"

func TestExitcodeName(t *testing.T) {
	// Numbering from reference/vmm-interface.md §4.2.
	for _, c := range []struct {
		code int32
		name string
	}{
		{0, "INOUT"}, {1, "VMX"}, {2, "BOGUS"}, {3, "RDMSR"}, {4, "WRMSR"}, {5, "HLT"},
		{6, "MTRAP"}, {7, "PAUSE"}, {8, "PAGING"}, {9, "INST_EMUL"}, {10, "SPINUP_AP"},
		{11, "DEPRECATED1"}, {12, "RENDEZVOUS"}, {13, "IOAPIC_EOI"}, {14, "SUSPENDED"},
		{15, "INOUT_STR"}, {16, "TASK_SWITCH"}, {17, "MONITOR"}, {18, "MWAIT"}, {19, "SVM"},
		{20, "REQIDLE"}, {21, "DEBUG"}, {22, "VMINSN"},
		{23, "EXITCODE(23)"}, {-1, "EXITCODE(-1)"},
	} {
		if got := ExitcodeName(c.code); got != c.name {
			t.Errorf("ExitcodeName(%d) = %q, want %q", c.code, got, c.name)
		}
	}
	if VM_EXITCODE_MAX != 23 || VM_EXITCODE_VMINSN != 22 || VM_EXITCODE_INOUT_STR != 15 {
		t.Error("exit code numbering differs from §4.2")
	}
}

func TestRegName(t *testing.T) {
	// Numbering from reference/vmm-interface.md §4.1.
	for _, c := range []struct {
		reg  int32
		name string
	}{
		{0, "rax"}, {1, "rbx"}, {2, "rcx"}, {3, "rdx"}, {4, "rsi"}, {5, "rdi"}, {6, "rbp"},
		{7, "r8"}, {14, "r15"}, {15, "cr0"}, {16, "cr3"}, {17, "cr4"}, {18, "dr7"},
		{19, "rsp"}, {20, "rip"}, {21, "rflags"}, {22, "es"}, {23, "cs"}, {24, "ss"},
		{25, "ds"}, {26, "fs"}, {27, "gs"}, {28, "ldtr"}, {29, "tr"}, {30, "idtr"},
		{31, "gdtr"}, {32, "efer"}, {33, "cr2"}, {34, "pdpte0"}, {37, "pdpte3"},
		{38, "intr_shadow"}, {39, "dr0"}, {42, "dr3"}, {43, "dr6"},
		{44, "reg(44)"}, {-2147483648, "reg(-2147483648)"},
	} {
		if got := RegName(c.reg); got != c.name {
			t.Errorf("RegName(%d) = %q, want %q", c.reg, got, c.name)
		}
	}
	if VM_REG_LAST != 44 {
		t.Errorf("VM_REG_LAST = %d, FreeBSD 12 has 44", VM_REG_LAST)
	}
}

func TestEnumValues(t *testing.T) {
	// reference/vmm-interface.md §4.3.
	checks := []struct {
		name      string
		got, want int64
	}{
		{"VM_SUSPEND_TRIPLEFAULT", int64(VM_SUSPEND_TRIPLEFAULT), 4},
		{"VM_SUSPEND_LAST", int64(VM_SUSPEND_LAST), 5},
		{"VM_CAP_ENABLE_INVPCID", int64(VM_CAP_ENABLE_INVPCID), 4},
		{"VM_CAP_MAX", int64(VM_CAP_MAX), 5},
		{"X2APIC_STATE_LAST", int64(X2APIC_STATE_LAST), 2},
		{"VCPU_SLEEPING", int64(VCPU_SLEEPING), 3},
		{"CPU_MODE_64BIT", int64(CPU_MODE_64BIT), 3},
		{"PAGING_MODE_64", int64(PAGING_MODE_64), 3},
		{"LEVEL_TRIGGER", int64(LEVEL_TRIGGER), 1},
		{"VM_DEBUG_CPUS", int64(VM_DEBUG_CPUS), 2},
		{"VM_MAXCPU", VM_MAXCPU, 16},
		{"VM_MAX_NAMELEN", VM_MAX_NAMELEN, 32},
		{"VM_MAX_MEMSEGS", VM_MAX_MEMSEGS, 3},
		{"VM_MAX_MEMMAPS", VM_MAX_MEMMAPS, 4},
		{"VM_FRAMEBUFFER", VM_FRAMEBUFFER, 2},
		{"MAX_VM_STATS", MAX_VM_STATS, 64},
		{"SEG_DESC_UNUSABLE", SEG_DESC_UNUSABLE, 0x10000},
		{"SEG_DESC_DEF32", SEG_DESC_DEF32, 0x4000},
		{"TSR_IDT_GATE", int64(TSR_IDT_GATE), 3},
		{"VM_INTINFO_RSVD", VM_INTINFO_RSVD, 0x7FFFF000},
		{"VM_INTINFO_HWEXCEPTION", VM_INTINFO_HWEXCEPTION, 0x300},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if SuspendName(VM_SUSPEND_POWEROFF) != "POWEROFF" || SuspendName(9) != "SUSPEND(9)" {
		t.Error("SuspendName")
	}
}
