package vmm

import (
	"encoding/binary"
	"testing"

	"softvmm/emu/abi"
)

func newVMDev(t *testing.T, s *system, name string) *Cdev {
	t.Helper()
	if err := s.create(t, s.host, name); err != nil {
		t.Fatal(err)
	}
	dev, err := s.k.OpenVM(s.host, name)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// ioctlCase is one row: a command, its argument, and the errno that
// reference/vmm-interface.md §2.1 (or §6, §16) gives it.
type ioctlCase struct {
	what string
	cmd  uint32
	arg  any
	want error
}

func runCases(t *testing.T, dev *Cdev, td *Thread, cases []ioctlCase) {
	t.Helper()
	for _, c := range cases {
		wantErr(t, c.what, dev.Ioctl(td, c.cmd, c.arg), c.want)
	}
}

// Commands this build does not implement, and numbers no FreeBSD 12
// handler owns, are ENOTTY (§2.1: ABIVERS 0, MAP_MEMORY 10, 11, 19, 26, 27;
// unknown group); README.md lists the unbuilt ones.
func TestUnknownAndUnbuiltCommandsENOTTY(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v")
	um := &SliceMem{Base: 0x10000, B: make([]byte, 4096)}
	td := &Thread{Cred: s.host.Cred, Mem: um}
	for _, cmd := range []uint32{
		abi.IOC(abi.IOC_VOID, 'v', 0, 0),
		abi.IOC(abi.IOC_IN, 'v', 10, 16),
		abi.IOC(abi.IOC_INOUT, 'v', 11, 16),
		abi.IOC(abi.IOC_IN, 'v', 19, 16),
		abi.IOC(abi.IOC_INOUT, 'v', 26, 24),
		abi.IOC(abi.IOC_IN, 'v', 27, 24),
		abi.IOC(abi.IOC_INOUT, 'x', 1, 144), // another group
	} {
		wantErr(t, abi.IoctlName(cmd), dev.IoctlRaw(td, cmd, 0x10000), abi.ENOTTY)
	}
}

func TestRegisterIoctls(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v")
	td := s.host
	runCases(t, dev, td, []ioctlCase{
		{"set RAX", abi.VM_SET_REGISTER, &abi.VMRegister{Cpuid: 3, Regnum: abi.VM_REG_GUEST_RAX, Regval: 0x1122334455667788}, nil},
		{"vCPU -1 (§2.2: lock checks the first int)", abi.VM_SET_REGISTER, &abi.VMRegister{Cpuid: -1}, abi.EINVAL},
		{"vCPU 16", abi.VM_GET_REGISTER, &abi.VMRegister{Cpuid: 16}, abi.EINVAL},
		{"regnum VM_REG_LAST", abi.VM_GET_REGISTER, &abi.VMRegister{Regnum: abi.VM_REG_LAST}, abi.EINVAL},
		{"negative regnum (§16 hardening)", abi.VM_GET_REGISTER, &abi.VMRegister{Regnum: -5}, abi.EINVAL},
		{"INTR_SHADOW write non-zero (§4.1)", abi.VM_SET_REGISTER, &abi.VMRegister{Regnum: abi.VM_REG_GUEST_INTR_SHADOW, Regval: 1}, abi.EINVAL},
		{"INTR_SHADOW write zero", abi.VM_SET_REGISTER, &abi.VMRegister{Regnum: abi.VM_REG_GUEST_INTR_SHADOW}, nil},
		{"descriptor of a GPR (§2.1)", abi.VM_SET_SEGMENT_DESCRIPTOR, &abi.VMSegDesc{Regnum: abi.VM_REG_GUEST_RAX}, abi.EINVAL},
		{"descriptor of CS", abi.VM_SET_SEGMENT_DESCRIPTOR, &abi.VMSegDesc{Regnum: abi.VM_REG_GUEST_CS, Desc: abi.SegDesc{Base: 0x1000, Limit: 0xffff, Access: 0x9b}}, nil},
		{"descriptor of vCPU 16", abi.VM_GET_SEGMENT_DESCRIPTOR, &abi.VMSegDesc{Cpuid: 16, Regnum: abi.VM_REG_GUEST_CS}, abi.EINVAL},
	})
	r := abi.VMRegister{Cpuid: 3, Regnum: abi.VM_REG_GUEST_RAX}
	if err := dev.Ioctl(td, abi.VM_GET_REGISTER, &r); err != nil || r.Regval != 0x1122334455667788 {
		t.Fatalf("get RAX = %#x, %v", r.Regval, err)
	}
	for _, reg := range []int32{abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_CS, abi.VM_REG_GUEST_SS, abi.VM_REG_GUEST_DS,
		abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS, abi.VM_REG_GUEST_LDTR, abi.VM_REG_GUEST_TR,
		abi.VM_REG_GUEST_IDTR, abi.VM_REG_GUEST_GDTR} {
		d := abi.VMSegDesc{Regnum: reg}
		wantErr(t, abi.RegName(reg)+" descriptor", dev.Ioctl(td, abi.VM_GET_SEGMENT_DESCRIPTOR, &d), nil)
	}
	d := abi.VMSegDesc{Regnum: abi.VM_REG_GUEST_CS}
	dev.Ioctl(td, abi.VM_GET_SEGMENT_DESCRIPTOR, &d)
	if d.Desc != (abi.SegDesc{Base: 0x1000, Limit: 0xffff, Access: 0x9b}) {
		t.Fatalf("CS descriptor read back %+v", d.Desc)
	}
}

// Copy-out happens only on success (§2): a failing IOC_INOUT command leaves
// the caller's bytes untouched.
func TestCopyOutOnlyOnSuccess(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v")
	um := &SliceMem{Base: 0x4000, B: make([]byte, 64)}
	td := &Thread{Cred: s.host.Cred, Mem: um}
	arg := um.B[:16]
	binary.LittleEndian.PutUint32(arg[0:], 0)
	binary.LittleEndian.PutUint32(arg[4:], uint32(abi.VM_REG_LAST))
	binary.LittleEndian.PutUint64(arg[8:], 0xdeadbeefcafef00d)
	wantErr(t, "bad regnum", dev.IoctlRaw(td, abi.VM_GET_REGISTER, 0x4000), abi.EINVAL)
	if binary.LittleEndian.Uint64(arg[8:]) != 0xdeadbeefcafef00d {
		t.Fatal("failed ioctl wrote its argument back")
	}
	r := abi.VMRegister{Regnum: abi.VM_REG_LAST, Regval: 42}
	dev.Ioctl(td, abi.VM_GET_REGISTER, &r)
	if r.Regval != 42 {
		t.Fatal("failed typed ioctl changed its argument")
	}
	// A user address outside the process is EFAULT before the driver runs.
	wantErr(t, "bad user pointer", dev.IoctlRaw(td, abi.VM_GET_REGISTER, 0x4000+60), abi.EFAULT)
	wantErr(t, "no user memory", dev.IoctlRaw(s.host, abi.VM_GET_REGISTER, 0), abi.EFAULT)
	// A typed argument of the wrong size is the typed form of a bad pointer.
	wantErr(t, "wrong struct", dev.Ioctl(s.host, abi.VM_GET_REGISTER, &abi.VMSuspend{}), abi.EFAULT)
}

// reference/vmm-interface.md §6.1, §6.2 through the ioctls.
func TestMemsegIoctls(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v")
	td := s.host
	named := abi.VMMemseg{Segid: 1, Len: 64 << 10}
	copy(named.Name[:], "bootrom")
	var long abi.VMMemseg
	long.Segid = 2
	long.Len = 4096
	for i := range long.Name {
		long.Name[i] = 'a'
	}
	bad := abi.VMMemseg{Segid: 2, Len: 4096}
	copy(bad.Name[:], "a b")
	runCases(t, dev, td, []ioctlCase{
		{"segid 3", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: 3, Len: 4096}, abi.EINVAL},
		{"segid -1", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: -1, Len: 4096}, abi.EINVAL},
		{"len 0", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: 0}, abi.EINVAL},
		{"len not page multiple", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: 0, Len: 4097}, abi.EINVAL},
		{"sysmem 1 MiB", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: 0, Len: 1 << 20}, nil},
		{"same again: EEXIST", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: 0, Len: 1 << 20}, abi.EEXIST},
		{"other length: EINVAL", abi.VM_ALLOC_MEMSEG, &abi.VMMemseg{Segid: 0, Len: 2 << 20}, abi.EINVAL},
		{"name without NUL: ENAMETOOLONG", abi.VM_ALLOC_MEMSEG, &long, abi.ENAMETOOLONG},
		{"name devfs refuses: EINVAL, segment freed", abi.VM_ALLOC_MEMSEG, &bad, abi.EINVAL},
		{"named devmem", abi.VM_ALLOC_MEMSEG, &named, nil},
		{"get segid 3", abi.VM_GET_MEMSEG, &abi.VMMemseg{Segid: 3}, abi.EINVAL},
		{"map prot 0", abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Segid: 0, Len: 4096}, abi.EINVAL},
		{"map IOMMU flag from userspace", abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Segid: 0, Len: 4096, Prot: abi.PROT_ALL, Flags: abi.VM_MEMMAP_F_IOMMU}, abi.EINVAL},
		{"map unallocated segment", abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Segid: 2, Len: 4096, Prot: abi.PROT_ALL}, abi.EINVAL},
		{"map sysmem", abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Gpa: 0, Segid: 0, Len: 1 << 20, Prot: abi.PROT_ALL}, nil},
		{"overlap: EFAULT", abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Gpa: 0x80000, Segid: 0, Len: 4096, Prot: abi.PROT_ALL}, abi.EFAULT},
		{"map rom", abi.VM_MMAP_MEMSEG, &abi.VMMemmap{Gpa: 0xfff00000, Segid: 1, Len: 64 << 10, Prot: abi.PROT_READ | abi.PROT_EXEC}, nil},
		{"getnext above all: ENOENT", abi.VM_MMAP_GETNEXT, &abi.VMMemmap{Gpa: 0xfff00001}, abi.ENOENT},
	})
	if got := s.k.Devices(); len(got) != 2 || got[0] != "/dev/vmm.io/v.bootrom" {
		t.Fatalf("devices %q: want the devmem node /dev/vmm.io/v.bootrom", got)
	}
	// The refused name left segment 2 unallocated.
	g := abi.VMMemseg{Segid: 2}
	copy(g.Name[:], "caller's bytes")
	wantErr(t, "get unallocated", dev.Ioctl(td, abi.VM_GET_MEMSEG, &g), nil)
	if g.Len != 0 || g.Name != ([64]byte{}) {
		t.Fatalf("unallocated segment: len %d name %q (softvmm zeroes the name, §16)", g.Len, g.Name)
	}
	g = abi.VMMemseg{Segid: 1}
	dev.Ioctl(td, abi.VM_GET_MEMSEG, &g)
	if g.Len != 64<<10 || string(g.Name[:7]) != "bootrom" || g.Name[7] != 0 {
		t.Fatalf("devmem segment: len %d name %q", g.Len, g.Name)
	}
	// Getnext walks mappings in address order (§6.2).
	var seen []uint64
	for gpa := uint64(0); ; {
		m := abi.VMMemmap{Gpa: gpa}
		if err := dev.Ioctl(td, abi.VM_MMAP_GETNEXT, &m); err != nil {
			wantErr(t, "end of walk", err, abi.ENOENT)
			break
		}
		seen = append(seen, m.Gpa)
		gpa = m.Gpa + m.Len
	}
	if len(seen) != 2 || seen[0] != 0 || seen[1] != 0xfff00000 {
		t.Fatalf("getnext walk %#x", seen)
	}
	// The devmem node maps the segment itself.
	n, err := s.k.Open(td, "/dev/vmm.io/v.bootrom")
	if err != nil {
		t.Fatal(err)
	}
	rom, err := n.(*DevmemCdev).Mmap(td, 0, 64<<10, abi.PROT_READ|abi.PROT_WRITE)
	if err != nil || len(rom) != 64<<10 {
		t.Fatalf("devmem mmap: %v", err)
	}
	if _, err := n.(*DevmemCdev).Mmap(s.forbidden, 0, 4096, abi.PROT_READ); err == nil {
		t.Fatal("devmem mmap from a jail without allow.vmm succeeded")
	}
	// Mmap of the VM node refuses devmem ranges and PROT_EXEC (§6.4).
	if _, err := dev.Mmap(td, 0xfff00000, 4096, abi.PROT_READ); err == nil {
		t.Fatal("mmap of a devmem range through /dev/vmm succeeded")
	}
	if _, err := dev.Mmap(td, 0, 4096, abi.PROT_READ|abi.PROT_EXEC); err == nil {
		t.Fatal("PROT_EXEC mmap succeeded")
	}
}

func TestActivateSuspendCapability(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v")
	runCases(t, dev, s.host, []ioctlCase{
		{"activate 0", abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0}, nil},
		{"activate 0 again: EBUSY", abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0}, abi.EBUSY},
		{"activate 16", abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 16}, abi.EINVAL},
		{"cap type 5", abi.VM_GET_CAPABILITY, &abi.VMCapability{Captype: abi.VM_CAP_MAX}, abi.EINVAL},
		{"cap type -1", abi.VM_GET_CAPABILITY, &abi.VMCapability{Captype: -1}, abi.EINVAL},
		{"cap vCPU 16", abi.VM_GET_CAPABILITY, &abi.VMCapability{Cpuid: 16}, abi.EINVAL},
		{"HALT_EXIT supported", abi.VM_SET_CAPABILITY, &abi.VMCapability{Captype: abi.VM_CAP_HALT_EXIT, Capval: 1}, nil},
		{"MTRAP_EXIT supported", abi.VM_SET_CAPABILITY, &abi.VMCapability{Captype: abi.VM_CAP_MTRAP_EXIT, Capval: 0}, nil},
		{"PAUSE_EXIT supported", abi.VM_SET_CAPABILITY, &abi.VMCapability{Cpuid: 4, Captype: abi.VM_CAP_PAUSE_EXIT, Capval: 1}, nil},
		// §11, the AMD column: UNRESTRICTED_GUEST is always 1, and 0 is EINVAL.
		{"UNRESTRICTED_GUEST set 1", abi.VM_SET_CAPABILITY, &abi.VMCapability{Cpuid: 2, Captype: abi.VM_CAP_UNRESTRICTED_GUEST, Capval: 1}, nil},
		{"UNRESTRICTED_GUEST set 0: EINVAL", abi.VM_SET_CAPABILITY, &abi.VMCapability{Cpuid: 2, Captype: abi.VM_CAP_UNRESTRICTED_GUEST, Capval: 0}, abi.EINVAL},
		{"INVPCID not built: ENOENT", abi.VM_GET_CAPABILITY, &abi.VMCapability{Captype: abi.VM_CAP_ENABLE_INVPCID}, abi.ENOENT},
		{"suspend how 0", abi.VM_SUSPEND, &abi.VMSuspend{How: 0}, abi.EINVAL},
		{"suspend how 5", abi.VM_SUSPEND, &abi.VMSuspend{How: abi.VM_SUSPEND_LAST}, abi.EINVAL},
		{"suspend poweroff", abi.VM_SUSPEND, &abi.VMSuspend{How: abi.VM_SUSPEND_POWEROFF}, nil},
		{"suspend again: EALREADY", abi.VM_SUSPEND, &abi.VMSuspend{How: abi.VM_SUSPEND_RESET}, abi.EALREADY},
	})
	c := abi.VMCapability{Captype: abi.VM_CAP_HALT_EXIT}
	if err := dev.Ioctl(s.host, abi.VM_GET_CAPABILITY, &c); err != nil || c.Capval != 1 {
		t.Fatalf("HALT_EXIT read back %d, %v", c.Capval, err)
	}
	c = abi.VMCapability{Cpuid: 1, Captype: abi.VM_CAP_HALT_EXIT}
	if dev.Ioctl(s.host, abi.VM_GET_CAPABILITY, &c); c.Capval != 0 {
		t.Fatal("capabilities are per vCPU")
	}
	c = abi.VMCapability{Cpuid: 3, Captype: abi.VM_CAP_UNRESTRICTED_GUEST}
	if err := dev.Ioctl(s.host, abi.VM_GET_CAPABILITY, &c); err != nil || c.Capval != 1 {
		t.Fatalf("UNRESTRICTED_GUEST reads %d, %v; want 1 on a vCPU nobody set", c.Capval, err)
	}
}
