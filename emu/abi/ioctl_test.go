package abi

import (
	"encoding/binary"
	"encoding/csv"
	"os"
	"strconv"
	"strings"
	"testing"
)

// goIoctls names every exported ioctl constant, so the CSV check below
// covers the constants themselves and not only the table built from them.
var goIoctls = map[string]uint32{
	"VM_RUN":                    VM_RUN,
	"VM_SET_CAPABILITY":         VM_SET_CAPABILITY,
	"VM_GET_CAPABILITY":         VM_GET_CAPABILITY,
	"VM_SUSPEND":                VM_SUSPEND,
	"VM_REINIT":                 VM_REINIT,
	"VM_GET_GPA_PMAP":           VM_GET_GPA_PMAP,
	"VM_GLA2GPA":                VM_GLA2GPA,
	"VM_ALLOC_MEMSEG":           VM_ALLOC_MEMSEG,
	"VM_GET_MEMSEG":             VM_GET_MEMSEG,
	"VM_MMAP_MEMSEG":            VM_MMAP_MEMSEG,
	"VM_MMAP_GETNEXT":           VM_MMAP_GETNEXT,
	"VM_GLA2GPA_NOFAULT":        VM_GLA2GPA_NOFAULT,
	"VM_SET_REGISTER":           VM_SET_REGISTER,
	"VM_GET_REGISTER":           VM_GET_REGISTER,
	"VM_SET_SEGMENT_DESCRIPTOR": VM_SET_SEGMENT_DESCRIPTOR,
	"VM_GET_SEGMENT_DESCRIPTOR": VM_GET_SEGMENT_DESCRIPTOR,
	"VM_SET_REGISTER_SET":       VM_SET_REGISTER_SET,
	"VM_GET_REGISTER_SET":       VM_GET_REGISTER_SET,
	"VM_GET_INTINFO":            VM_GET_INTINFO,
	"VM_SET_INTINFO":            VM_SET_INTINFO,
	"VM_INJECT_EXCEPTION":       VM_INJECT_EXCEPTION,
	"VM_LAPIC_IRQ":              VM_LAPIC_IRQ,
	"VM_INJECT_NMI":             VM_INJECT_NMI,
	"VM_IOAPIC_ASSERT_IRQ":      VM_IOAPIC_ASSERT_IRQ,
	"VM_IOAPIC_DEASSERT_IRQ":    VM_IOAPIC_DEASSERT_IRQ,
	"VM_IOAPIC_PULSE_IRQ":       VM_IOAPIC_PULSE_IRQ,
	"VM_LAPIC_MSI":              VM_LAPIC_MSI,
	"VM_LAPIC_LOCAL_IRQ":        VM_LAPIC_LOCAL_IRQ,
	"VM_IOAPIC_PINCOUNT":        VM_IOAPIC_PINCOUNT,
	"VM_RESTART_INSTRUCTION":    VM_RESTART_INSTRUCTION,
	"VM_BIND_PPTDEV":            VM_BIND_PPTDEV,
	"VM_UNBIND_PPTDEV":          VM_UNBIND_PPTDEV,
	"VM_MAP_PPTDEV_MMIO":        VM_MAP_PPTDEV_MMIO,
	"VM_PPTDEV_MSI":             VM_PPTDEV_MSI,
	"VM_PPTDEV_MSIX":            VM_PPTDEV_MSIX,
	"VM_STATS":                  VM_STATS,
	"VM_STAT_DESC":              VM_STAT_DESC,
	"VM_SET_X2APIC_STATE":       VM_SET_X2APIC_STATE,
	"VM_GET_X2APIC_STATE":       VM_GET_X2APIC_STATE,
	"VM_GET_HPET_CAPABILITIES":  VM_GET_HPET_CAPABILITIES,
	"VM_SET_TOPOLOGY":           VM_SET_TOPOLOGY,
	"VM_GET_TOPOLOGY":           VM_GET_TOPOLOGY,
	"VM_ISA_ASSERT_IRQ":         VM_ISA_ASSERT_IRQ,
	"VM_ISA_DEASSERT_IRQ":       VM_ISA_DEASSERT_IRQ,
	"VM_ISA_PULSE_IRQ":          VM_ISA_PULSE_IRQ,
	"VM_ISA_SET_IRQ_TRIGGER":    VM_ISA_SET_IRQ_TRIGGER,
	"VM_ACTIVATE_CPU":           VM_ACTIVATE_CPU,
	"VM_GET_CPUS":               VM_GET_CPUS,
	"VM_SUSPEND_CPU":            VM_SUSPEND_CPU,
	"VM_RESUME_CPU":             VM_RESUME_CPU,
	"VM_RTC_READ":               VM_RTC_READ,
	"VM_RTC_WRITE":              VM_RTC_WRITE,
	"VM_RTC_SETTIME":            VM_RTC_SETTIME,
	"VM_RTC_GETTIME":            VM_RTC_GETTIME,
}

type csvIoctl struct {
	name    string
	num     int
	dir     uint32
	arg     string
	size    int
	command uint32
	lock    LockKind
}

// readIoctlCSV parses testdata/vmm-ioctls.csv, a copy of
// reference/vmm-ioctls.csv (the machine-readable form of §2.1).
func readIoctlCSV(t *testing.T) []csvIoctl {
	t.Helper()
	f, err := os.Open("testdata/vmm-ioctls.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"name", "number", "direction", "arg_struct", "arg_bytes", "command", "lock"}
	if strings.Join(recs[0], ",") != strings.Join(want, ",") {
		t.Fatalf("csv header %q, want %q", recs[0], want)
	}
	dirs := map[string]uint32{"IO": IOC_VOID, "IOR": IOC_OUT, "IOW": IOC_IN, "IOWR": IOC_INOUT}
	var rows []csvIoctl
	for _, r := range recs[1:] {
		num, err1 := strconv.Atoi(r[1])
		size, err2 := strconv.Atoi(r[4])
		cmd, err3 := strconv.ParseUint(r[5], 0, 32)
		dir, ok := dirs[r[2]]
		if err1 != nil || err2 != nil || err3 != nil || !ok {
			t.Fatalf("bad csv row %q", r)
		}
		var lock LockKind
		switch {
		case r[6] == "—":
			lock = LockNone
		case r[6] == "1" || strings.HasPrefix(r[6], "1 (field `vcpu`)"):
			lock = LockOne
		case r[6] == "ALL":
			lock = LockAll
		case r[6] == "MEM-R":
			lock = LockMemR
		default:
			t.Fatalf("unknown lock %q in %q", r[6], r)
		}
		arg := r[3]
		switch arg {
		case "none":
			arg = ""
		case "int (vcpu)":
			arg = "int"
		}
		rows = append(rows, csvIoctl{r[0], num, dir, arg, size, uint32(cmd), lock})
	}
	return rows
}

func TestIoctlTableMatchesReference(t *testing.T) {
	rows := readIoctlCSV(t)
	if len(rows) != 54 {
		t.Errorf("reference has %d ioctls, expected 54", len(rows))
	}
	if len(Ioctls) != len(rows) {
		t.Errorf("Ioctls has %d entries, reference %d", len(Ioctls), len(rows))
	}
	if len(goIoctls) != len(rows) {
		t.Errorf("test lists %d constants, reference %d", len(goIoctls), len(rows))
	}
	byName := map[string]IoctlInfo{}
	for _, info := range Ioctls {
		if _, dup := byName[info.Name]; dup {
			t.Errorf("duplicate table entry %s", info.Name)
		}
		byName[info.Name] = info
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.name] = true
		c, ok := goIoctls[r.name]
		if !ok {
			t.Errorf("%s: no Go constant", r.name)
		} else if c != r.command {
			t.Errorf("%s = %#x, reference %#x", r.name, c, r.command)
		}
		info, ok := byName[r.name]
		if !ok {
			t.Errorf("%s: missing from Ioctls", r.name)
			continue
		}
		if info.Cmd != r.command {
			t.Errorf("%s: table Cmd %#x, reference %#x", r.name, info.Cmd, r.command)
		}
		if info.Num != r.num || IOCNUM(info.Cmd) != r.num {
			t.Errorf("%s: Num %d (cmd %d), reference %d", r.name, info.Num, IOCNUM(info.Cmd), r.num)
		}
		if info.Size != r.size || IOCPARM_LEN(info.Cmd) != r.size {
			t.Errorf("%s: Size %d (cmd %d), reference %d", r.name, info.Size, IOCPARM_LEN(info.Cmd), r.size)
		}
		if IOC_DIR(info.Cmd) != r.dir || info.Dir() != r.dir {
			t.Errorf("%s: dir %#x, reference %#x", r.name, IOC_DIR(info.Cmd), r.dir)
		}
		if info.In() != (r.dir&IOC_IN != 0) || info.Out() != (r.dir&IOC_OUT != 0) {
			t.Errorf("%s: In/Out %v/%v wrong for dir %#x", r.name, info.In(), info.Out(), r.dir)
		}
		if info.Lock != r.lock {
			t.Errorf("%s: lock %v, reference %v", r.name, info.Lock, r.lock)
		}
		if info.Arg != r.arg {
			t.Errorf("%s: arg %q, reference %q", r.name, info.Arg, r.arg)
		}
		if IOCGROUP(info.Cmd) != 'v' {
			t.Errorf("%s: group %q", r.name, IOCGROUP(info.Cmd))
		}
		if got := IOC(r.dir, 'v', r.num, r.size); got != r.command {
			t.Errorf("IOC(%s) = %#x, reference %#x", r.name, got, r.command)
		}
	}
	for _, info := range Ioctls {
		if !seen[info.Name] {
			t.Errorf("%s: in Ioctls but not in the reference", info.Name)
		}
	}
	for i := 1; i < len(Ioctls); i++ {
		if Ioctls[i-1].Num >= Ioctls[i].Num {
			t.Errorf("Ioctls not in number order at %s", Ioctls[i].Name)
		}
	}
}

func TestIoctlByCmd(t *testing.T) {
	for _, info := range Ioctls {
		got, ok := IoctlByCmd(info.Cmd)
		if !ok || got != info {
			t.Errorf("IoctlByCmd(%#x) = %+v, %v; want %+v", info.Cmd, got, ok, info)
		}
		if IoctlName(info.Cmd) != info.Name {
			t.Errorf("IoctlName(%#x) = %q", info.Cmd, IoctlName(info.Cmd))
		}
		// Same number, wrong direction or size or group: not a vmm ioctl.
		for _, bad := range []uint32{
			info.Cmd ^ IOC_VOID,
			info.Cmd ^ IOC_OUT,
			info.Cmd + 1<<16,
			info.Cmd &^ (IOCPARM_MASK << 16),
			info.Cmd ^ 0x100, // group 'w'
		} {
			if bad == info.Cmd {
				continue
			}
			if got, ok := IoctlByCmd(bad); ok {
				t.Errorf("IoctlByCmd(%#x) found %s", bad, got.Name)
			}
		}
		// NewArg yields a value of exactly the argument size.
		if info.Size == 0 {
			if NewArg(info.Cmd) != nil {
				t.Errorf("NewArg(%s) not nil", info.Name)
			}
			continue
		}
		if n := binary.Size(NewArg(info.Cmd)); n != info.Size {
			t.Errorf("NewArg(%s): binary.Size %d, want %d", info.Name, n, info.Size)
		}
	}
	// Reserved, deprecated and later-FreeBSD commands (§2.1, §15) are
	// unknown to a FreeBSD 12 kernel: ENOTTY there, not found here.
	for _, cmd := range []uint32{
		0x20007600, // ABIVERS
		0x2000760A, // MAP_MEMORY
		0x2000760B, // GET_MEMORY_SEG
		0x80107613, // VM_MUNMAP_MEMSEG (13)
		0xC018761A, // VM_GET_KERNEMU_DEV (13)
		0x8018761B, // VM_SET_KERNEMU_DEV (13)
		0x8020760E, // VM_ALLOC_MEMSEG (13, 32-byte vm_memseg)
		0xC020760F, // VM_GET_MEMSEG (13)
		0x80207601, // VM_RUN (14)
		0xC2207632, // VM_STATS (14)
		0xC0487671, // VM_SNAPSHOT_REQ (13)
		0, 0xffffffff,
	} {
		if got, ok := IoctlByCmd(cmd); ok {
			t.Errorf("IoctlByCmd(%#x) found %s", cmd, got.Name)
		}
		if NewArg(cmd) != nil {
			t.Errorf("NewArg(%#x) not nil", cmd)
		}
	}
	if got := IoctlName(0x80207601); got != "0x80207601" {
		t.Errorf("IoctlName(14's VM_RUN) = %q", got)
	}
}

func TestIocHelpers(t *testing.T) {
	// Values from sys/sys/ioccom.h (§2).
	if IOC_VOID != 0x20000000 || IOC_OUT != 0x40000000 || IOC_IN != 0x80000000 ||
		IOC_INOUT != 0xC0000000 || IOCPARM_MASK != 0x1fff || IOCGROUP_VMM != 0x76 {
		t.Fatal("ioccom constants differ from FreeBSD")
	}
	if IOCPARM_LEN(0xC2187632) != 536 || IOC_DIR(0xC2187632) != IOC_INOUT {
		t.Error("VM_STATS decodes wrong")
	}
	if IOCBASECMD(0xC0907601) != 0xC0007601 {
		t.Error("IOCBASECMD")
	}
	if IOC(IOC_IN, 'v', 1, 0x2000+4) != 0x80047601 {
		t.Error("IOC does not truncate the length to 13 bits")
	}
	if LockMemR.String() != "mem-r" || LockKind(9).String() != "LockKind(9)" {
		t.Error("LockKind.String")
	}
}
