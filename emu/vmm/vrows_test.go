package vmm

import (
	"encoding/binary"
	"runtime"
	"testing"

	"softvmm/emu/abi"
	"softvmm/jail"
)

// The vmm attack table of reference/jail-and-security.md §5 (V1–V30),
// walked through the cdev and the hw.vmm sysctls. Each test names its
// row; rows about the prison model alone live in jail/vrows_test.go.
// V4 and V7–V9 (VMs stay in their jail) are in isolation_test.go, V14–V20
// (/dev/vmmctl and the 2026 vmm group) in vmmctl_test.go.

// vmWithRAM makes VM name as host root with 1 MiB of RAM at 0 and a
// second MiB at 2 MiB, leaving a hole at [1 MiB, 2 MiB), and opens it.
func vmWithRAM(t *testing.T, s *system, name string) *Cdev {
	t.Helper()
	dev := newVMDev(t, s, name)
	ms := abi.VMMemseg{Segid: abi.VM_SYSMEM, Len: 3 << 20}
	wantErr(t, "VM_ALLOC_MEMSEG", dev.Ioctl(s.host, abi.VM_ALLOC_MEMSEG, &ms), nil)
	for _, gpa := range []uint64{0, 2 << 20} {
		mm := abi.VMMemmap{Gpa: gpa, Segid: abi.VM_SYSMEM, Segoff: int64(gpa), Len: 1 << 20, Prot: abi.PROT_ALL}
		wantErr(t, "VM_MMAP_MEMSEG", dev.Ioctl(s.host, abi.VM_MMAP_MEMSEG, &mm), nil)
	}
	return dev
}

// V1: jailed root without allow.vmm writes hw.vmm.create: EPERM.
// V2: the same jail reads hw.vmm.create or writes hw.vmm.destroy: EPERM
// (vmm_priv_check runs before sysctl_handle_string, §1.9).
func TestV1V2SysctlsWithoutAllowVMM(t *testing.T) {
	s := newSystem(t)
	wantErr(t, "V1 write hw.vmm.create", s.create(t, s.forbidden, "v1"), abi.EPERM)
	if len(s.k.Devices()) != 0 {
		t.Fatal("V1: a refused create left a node")
	}
	_, err := s.k.Sysctl(s.forbidden, "hw.vmm.create", nil)
	wantErr(t, "V2 read hw.vmm.create", err, abi.EPERM)
	_, err = s.k.Sysctl(s.forbidden, "hw.vmm.destroy", nil)
	wantErr(t, "V2 read hw.vmm.destroy", err, abi.EPERM)
	wantErr(t, "host creates v2", s.create(t, s.host, "v2"), nil)
	wantErr(t, "V2 write hw.vmm.destroy", s.destroy(t, s.forbidden, "v2"), abi.EPERM)
	if _, err := s.k.OpenVM(s.host, "v2"); err != nil {
		t.Fatalf("V2: the refused destroy destroyed: %v", err)
	}
}

// V3: on a descriptor of /dev/vmm/x held by a jailed root without
// allow.vmm, ioctl, read, write and mmap are EPERM, and so is mmap of a
// /dev/vmm.io node (v12/v14: the check is at every operation).
func TestV3DoorsWithoutAllowVMM(t *testing.T) {
	s := newSystem(t)
	dev := vmWithRAM(t, s, "v3")
	seg := abi.VMMemseg{Segid: 1, Len: 1 << 16}
	copy(seg.Name[:], "fb")
	wantErr(t, "devmem segment", dev.Ioctl(s.host, abi.VM_ALLOC_MEMSEG, &seg), nil)
	n, err := s.k.Open(s.host, "/dev/vmm.io/v3.fb")
	if err != nil {
		t.Fatal(err)
	}
	devmem := n.(*DevmemCdev)
	td := &Thread{Cred: s.forbidden.Cred, Mem: &SliceMem{Base: 0x1000, B: make([]byte, 256)}}
	r := abi.VMRegister{Regnum: abi.VM_REG_GUEST_RAX}
	wantErr(t, "V3 ioctl", dev.Ioctl(td, abi.VM_GET_REGISTER, &r), abi.EPERM)
	wantErr(t, "V3 raw ioctl", dev.IoctlRaw(td, abi.VM_GET_REGISTER, 0x1000), abi.EPERM)
	run := abi.VMRun{}
	wantErr(t, "V3 VM_RUN", dev.Ioctl(td, abi.VM_RUN, &run), abi.EPERM)
	_, err = dev.Read(td, make([]byte, 8), 0)
	wantErr(t, "V3 read", err, abi.EPERM)
	_, err = dev.Write(td, make([]byte, 8), 0)
	wantErr(t, "V3 write", err, abi.EPERM)
	_, err = dev.Mmap(td, 0, 4096, abi.PROT_READ)
	wantErr(t, "V3 mmap", err, abi.EPERM)
	_, err = devmem.Mmap(td, 0, 4096, abi.PROT_READ)
	wantErr(t, "V3 mmap of /dev/vmm.io", err, abi.EPERM)
	// The same doors open for host root: the refusals were the jail's.
	wantErr(t, "host ioctl", dev.Ioctl(s.host, abi.VM_GET_REGISTER, &r), nil)
	_, err = devmem.Mmap(s.host, 0, 4096, abi.PROT_READ)
	wantErr(t, "host mmap of /dev/vmm.io", err, nil)
}

// V5: a non-root user on the host writes hw.vmm.create or
// hw.vmm.destroy: EPERM from sysctl_root (PRIV_SYSCTL_WRITEJAIL is root's).
// Reading needs no privilege.
func TestV5NonRootHostUser(t *testing.T) {
	s := newSystem(t)
	user := &Thread{Cred: &jail.Ucred{UID: 1001, GID: 1001, Prison: s.host.Cred.Prison}}
	wantErr(t, "V5 create", s.create(t, user, "v5"), abi.EPERM)
	wantErr(t, "host creates v5", s.create(t, s.host, "v5"), nil)
	wantErr(t, "V5 destroy", s.destroy(t, user, "v5"), abi.EPERM)
	if got, err := s.k.Sysctl(user, "hw.vmm.create", nil); err != nil || got != "beavis" {
		t.Fatalf("V5 read: %q, %v", got, err)
	}
}

// V6: jailed root with allow.vmm but allow.nosuser writes hw.vmm.create:
// EPERM (no superuser, so no PRIV_SYSCTL_WRITEJAIL).
func TestV6AllowVMMWithoutSuser(t *testing.T) {
	s := newSystem(t)
	p, err := s.k.Jails.CreatePrison(s.k.Jails.Prison0(), "nosu", "vmm")
	if err != nil {
		t.Fatal(err)
	}
	su, _ := s.k.Jails.AllowBit("suser")
	p.SetAllow(su, false)
	td := &Thread{Cred: &jail.Ucred{Prison: p}}
	wantErr(t, "V6 create", s.create(t, td, "v6"), abi.EPERM)
	wantErr(t, "V6 destroy", s.destroy(t, td, "v6"), abi.EPERM)
}

// V10: the host revokes allow.vmm (allow.novmm) on jail a; a and its
// grandchild a.g then use descriptors they already hold: EPERM in the
// v12/v14 model softvmm follows, where every operation checks.
func TestV10RevokedOnOpenDescriptor(t *testing.T) {
	s := newSystem(t)
	h := s.k.Jails
	root := h.RootCred()
	mk := func(params ...jail.Param) *jail.Prison {
		jid, err := h.JailSet(root, append(params, jail.BoolParam("persist"), jail.BoolParam("allow.vmm")), jail.JAIL_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		return h.Lookup(jid)
	}
	a := mk(jail.StrParam("name", "a"), jail.IntParam("children.max", 2))
	ag := mk(jail.StrParam("name", "a.g"))
	inA, inAG := &Thread{Cred: &jail.Ucred{Prison: a}}, &Thread{Cred: &jail.Ucred{Prison: ag}}
	wantErr(t, "a creates", s.create(t, inA, "v10"), nil)
	devA, err := s.k.OpenVM(inA, "v10")
	wantErr(t, "a opens", err, nil)
	r := abi.VMRegister{Regnum: abi.VM_REG_GUEST_RAX}
	wantErr(t, "ioctl before", devA.Ioctl(inA, abi.VM_GET_REGISTER, &r), nil)
	wantErr(t, "grandchild ioctl before", devA.Ioctl(inAG, abi.VM_GET_REGISTER, &r), nil)
	if _, err := h.JailSet(root, []jail.Param{jail.IntParam("jid", a.JID()), jail.BoolParam("allow.novmm")}, jail.JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "V10 ioctl in a", devA.Ioctl(inA, abi.VM_GET_REGISTER, &r), abi.EPERM)
	wantErr(t, "V10 ioctl in a.g", devA.Ioctl(inAG, abi.VM_GET_REGISTER, &r), abi.EPERM)
	_, err = devA.Read(inAG, make([]byte, 1), 0)
	wantErr(t, "V10 read in a.g", err, abi.EPERM)
	wantErr(t, "V10 destroy in a", s.destroy(t, inA, "v10"), abi.EPERM)
	wantErr(t, "host destroys", s.destroy(t, s.host, "v10"), nil)
}

// V11: a VM name longer than VM_MAX_NAMELEN-1 through the sysctl: EINVAL.
// V12: "", ".", "..", "a/../b", a trailing '/', a space or '"': EINVAL
// (prep_devname on "vmm/NAME", §1.11).
// V13: a name that exists and is visible: EEXIST.
func TestV11V12V13Names(t *testing.T) {
	s := newSystem(t)
	long := "0123456789abcdef0123456789abcdef" // 32 characters
	wantErr(t, "V11 32 characters", s.create(t, s.host, long), abi.EINVAL)
	wantErr(t, "V11 31 characters fit", s.create(t, s.host, long[:31]), nil)
	for _, name := range []string{"", ".", "..", "a/../b", "a/./b", "x/", "a//b", "a b", "a\tb", `a"b`} {
		wantErr(t, "V12 "+name, s.create(t, s.allowed, name), abi.EINVAL)
	}
	if len(s.k.Devices()) != 1 {
		t.Fatalf("V12: refused names left nodes: %q", s.k.Devices())
	}
	wantErr(t, "create dup", s.create(t, s.allowed, "dup"), nil)
	wantErr(t, "V13 same jail", s.create(t, s.allowed, "dup"), abi.EEXIST)
	wantErr(t, "V13 host sees the jail's VM", s.create(t, s.host, "dup"), abi.EEXIST)
}

// V21: VM_SET_REGISTER / VM_GET_REGISTER with reg < 0 or ≥ VM_REG_LAST:
// EINVAL (the SA-20:28 class). V22: a register-set count above
// VM_REG_LAST: EINVAL, VM_REG_LAST itself is fine.
func TestV21V22RegisterNumbers(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v21")
	for _, reg := range []int32{-1, -1 << 31, abi.VM_REG_LAST, abi.VM_REG_LAST + 1, 1 << 30} {
		wantErr(t, "V21 set", dev.Ioctl(s.allowed, abi.VM_SET_REGISTER, &abi.VMRegister{Regnum: reg, Regval: 1}), abi.EINVAL)
		wantErr(t, "V21 get", dev.Ioctl(s.allowed, abi.VM_GET_REGISTER, &abi.VMRegister{Regnum: reg}), abi.EINVAL)
	}
	um := &SliceMem{Base: 0x10000, B: make([]byte, 4096)}
	for i := int32(0); i < abi.VM_REG_LAST; i++ {
		binary.LittleEndian.PutUint32(um.B[4*i:], uint32(abi.VM_REG_GUEST_RAX+i%16)) // registers 0-15, over and over
	}
	td := &Thread{Cred: s.allowed.Cred, Mem: um}
	set := abi.VMRegisterSet{Count: uint32(abi.VM_REG_LAST) + 1, Regnums: 0x10000, Regvals: 0x10800}
	wantErr(t, "V22 count VM_REG_LAST+1", dev.Ioctl(td, abi.VM_GET_REGISTER_SET, &set), abi.EINVAL)
	wantErr(t, "V22 set count VM_REG_LAST+1", dev.Ioctl(td, abi.VM_SET_REGISTER_SET, &set), abi.EINVAL)
	set.Count = uint32(abi.VM_REG_LAST)
	wantErr(t, "V22 count VM_REG_LAST", dev.Ioctl(td, abi.VM_GET_REGISTER_SET, &set), nil)
}

// V23: a vCPU id that is negative (where -1 does not mean "all") or not
// below the VM's vCPU count: EINVAL. VM_SUSPEND_CPU takes -1 for all.
func TestV23VcpuIDs(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v23")
	for _, id := range []int32{-1, -2, abi.VM_MAXCPU, 1 << 20} {
		wantErr(t, "V23 get register", dev.Ioctl(s.host, abi.VM_GET_REGISTER, &abi.VMRegister{Cpuid: id}), abi.EINVAL)
		wantErr(t, "V23 VM_RUN", dev.Ioctl(s.host, abi.VM_RUN, &abi.VMRun{Cpuid: id}), abi.EINVAL)
		wantErr(t, "V23 activate", dev.Ioctl(s.host, abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: id}), abi.EINVAL)
		wantErr(t, "V23 capability", dev.Ioctl(s.host, abi.VM_GET_CAPABILITY, &abi.VMCapability{Cpuid: id}), abi.EINVAL)
	}
	for _, id := range []int32{-2, abi.VM_MAXCPU} {
		wantErr(t, "V23 suspend cpu", dev.Ioctl(s.host, abi.VM_SUSPEND_CPU, &abi.VMActivateCPU{Vcpuid: id}), abi.EINVAL)
	}
	wantErr(t, "V23 activate 0", dev.Ioctl(s.host, abi.VM_ACTIVATE_CPU, &abi.VMActivateCPU{Vcpuid: 0}), nil)
	wantErr(t, "V23 suspend all (-1)", dev.Ioctl(s.host, abi.VM_SUSPEND_CPU, &abi.VMActivateCPU{Vcpuid: -1}), nil)
	wantErr(t, "V23 resume all (-1)", dev.Ioctl(s.host, abi.VM_RESUME_CPU, &abi.VMActivateCPU{Vcpuid: -1}), nil)
}

// V24: mmap with PROT_EXEC, a negative offset or zero length: EINVAL; a
// range outside every mapping or spanning two of them: ENOENT.
// V25: write() into a guest-physical hole, or read() at or above the top
// of memory: EFAULT; a read inside a hole below the top gives zeros.
func TestV24V25GuestMemoryRanges(t *testing.T) {
	s := newSystem(t)
	dev := vmWithRAM(t, s, "v24")
	for _, c := range []struct {
		what      string
		off, size int64
		prot      int
		want      error
	}{
		{"V24 PROT_EXEC", 0, 4096, abi.PROT_READ | abi.PROT_EXEC, abi.EINVAL},
		{"V24 negative offset", -4096, 8192, abi.PROT_READ, abi.EINVAL},
		{"V24 zero length", 0, 0, abi.PROT_READ, abi.EINVAL},
		{"V24 in the hole", 1 << 20, 4096, abi.PROT_READ, abi.ENOENT},
		{"V24 above memory", 3 << 20, 4096, abi.PROT_READ, abi.ENOENT},
		{"V24 spanning two mappings", 0, 3 << 20, abi.PROT_READ, abi.ENOENT},
		{"inside the second mapping", 2 << 20, 4096, abi.PROT_READ | abi.PROT_WRITE, nil},
	} {
		_, err := dev.Mmap(s.allowed, c.off, c.size, c.prot)
		wantErr(t, c.what, err, c.want)
	}
	_, err := dev.Write(s.allowed, []byte{1}, 1<<20)
	wantErr(t, "V25 write into the hole", err, abi.EFAULT)
	_, err = dev.Write(s.allowed, []byte{1}, 3<<20)
	wantErr(t, "V25 write above memory", err, abi.EFAULT)
	_, err = dev.Read(s.allowed, make([]byte, 1), 3<<20)
	wantErr(t, "V25 read at the top of memory", err, abi.EFAULT)
	buf := []byte{0xff, 0xff}
	n, err := dev.Read(s.allowed, buf, 1<<20)
	if err != nil || n != 2 || buf[0] != 0 || buf[1] != 0 {
		t.Fatalf("read in the hole: %d %x %v, want zeros", n, buf, err)
	}
}

// V26: VM_GET_CPUS with a set size of 0 or above CPU_MAXSIZE/NBBY: ERANGE.
// V27: an ioctl no handler owns: ENOTTY.
func TestV26V27(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v26")
	td := &Thread{Cred: s.allowed.Cred, Mem: &SliceMem{Base: 0x2000, B: make([]byte, 128)}}
	for _, size := range []int32{0, 33, 64, -1} {
		a := abi.VMCpuset{Which: abi.VM_ACTIVE_CPUS, Cpusetsize: size, Cpus: 0x2000}
		wantErr(t, "V26 size", dev.Ioctl(td, abi.VM_GET_CPUS, &a), abi.ERANGE)
	}
	for _, cmd := range []uint32{abi.IOC(abi.IOC_INOUT, 'v', 200, 8), abi.IOC(abi.IOC_VOID, 'q', 1, 0)} {
		wantErr(t, "V27 unknown ioctl", dev.IoctlRaw(td, cmd, 0x2000), abi.ENOTTY)
	}
}

// V28: while a destroy is under way (the VM is marked dying and waits
// for its vCPUs), every new operation on the node is ENXIO; after it the
// node's ioctl/read/write are ENXIO too (mmap EINVAL, TestDestroyedNode).
func TestV28MidDestroy(t *testing.T) {
	s := newSystem(t)
	dev := vmWithRAM(t, s, "v28")
	vm := dev.VM()
	vm.freeze(0) // a vCPU the destroy must wait for
	done := make(chan error, 1)
	go func() { done <- s.destroy(t, s.host, "v28") }()
	for !vm.isDying() {
		runtime.Gosched() // the destroy marks the VM before it freezes vCPU 0
	}
	r := abi.VMRegister{Cpuid: 1, Regnum: abi.VM_REG_GUEST_RAX}
	wantErr(t, "V28 ioctl", dev.Ioctl(s.host, abi.VM_GET_REGISTER, &r), abi.ENXIO)
	run := abi.VMRun{Cpuid: 2}
	wantErr(t, "V28 VM_RUN", dev.Ioctl(s.host, abi.VM_RUN, &run), abi.ENXIO)
	_, err := dev.Read(s.host, make([]byte, 8), 0)
	wantErr(t, "V28 read", err, abi.ENXIO)
	_, err = dev.Write(s.host, make([]byte, 8), 0)
	wantErr(t, "V28 write", err, abi.ENXIO)
	_, err = dev.Mmap(s.host, 0, 4096, abi.PROT_READ)
	wantErr(t, "V28 mmap", err, abi.ENXIO)
	wantErr(t, "V28 second destroy", s.destroy(t, s.host, "v28"), abi.EINVAL)
	vm.unfreeze(0)
	wantErr(t, "destroy", <-done, nil)
}

// V29: the allow bit space is full before vmm loads, so allow.vmm gets
// bit 0: every jailed caller fails closed with EPERM, even one holding
// every bit its parent has, and jail_set calls allow.vmm an unknown
// parameter (EINVAL).
func TestV29BitSpaceExhausted(t *testing.T) {
	h := jail.NewHost()
	for i := 0; h.AddAllow(string(rune('a'+i))+"fs") != 0; i++ {
	}
	k := NewKernel(h)
	if err := k.Load(); err != nil {
		t.Fatal(err)
	}
	p, _ := h.CreatePrison(h.Prison0(), "j")
	p.SetAllow(h.Prison0().AllowMask(), true)
	name := "v29"
	_, err := k.Sysctl(&Thread{Cred: &jail.Ucred{Prison: p}}, "hw.vmm.create", &name)
	wantErr(t, "V29 jailed create", err, abi.EPERM)
	_, err = k.Sysctl(&Thread{Cred: h.RootCred()}, "hw.vmm.create", &name)
	wantErr(t, "host create", err, nil)
	dev, _ := k.OpenVM(&Thread{Cred: h.RootCred()}, name)
	wantErr(t, "V29 jailed ioctl", dev.Ioctl(&Thread{Cred: &jail.Ucred{Prison: p}}, abi.VM_GET_REGISTER, &abi.VMRegister{}), abi.EPERM)
	_, err = h.JailSet(h.RootCred(), []jail.Param{jail.StrParam("name", "x"), jail.BoolParam("persist"), jail.BoolParam("allow.vmm")}, jail.JAIL_CREATE)
	wantErr(t, "V29 jail_set allow.vmm", err, abi.EINVAL)
}

// V30: passthrough ioctls from a jail with allow.vmm but without
// allow.vmm_ppt: EPERM (PRIV_DRIVER, commit e11768e94787). With
// allow.vmm_ppt, or from the host, they reach ppt_find, which finds no
// passthrough device here: ENOENT.
func TestV30PassthroughInJail(t *testing.T) {
	s := newSystem(t)
	dev := newVMDev(t, s, "v30")
	ppt, err := s.k.Jails.CreatePrison(s.k.Jails.Prison0(), "ppt", "vmm", "vmm_ppt")
	if err != nil {
		t.Fatal(err)
	}
	withPpt := &Thread{Cred: &jail.Ucred{Prison: ppt}}
	for _, c := range []struct {
		cmd uint32
		arg any
	}{
		{abi.VM_BIND_PPTDEV, &abi.VMPptdev{Slot: 3}},
		{abi.VM_UNBIND_PPTDEV, &abi.VMPptdev{}},
		{abi.VM_MAP_PPTDEV_MMIO, &abi.VMPptdevMMIO{}},
		{abi.VM_PPTDEV_MSI, &abi.VMPptdevMSI{}},
		{abi.VM_PPTDEV_MSIX, &abi.VMPptdevMSIX{}},
	} {
		name := abi.IoctlName(c.cmd)
		wantErr(t, "V30 "+name+" without allow.vmm_ppt", dev.Ioctl(s.allowed, c.cmd, c.arg), abi.EPERM)
		wantErr(t, name+" with allow.vmm_ppt", dev.Ioctl(withPpt, c.cmd, c.arg), abi.ENOENT)
		wantErr(t, name+" from the host", dev.Ioctl(s.host, c.cmd, c.arg), abi.ENOENT)
	}
	// Other ioctls need only allow.vmm.
	wantErr(t, "register", dev.Ioctl(s.allowed, abi.VM_GET_REGISTER, &abi.VMRegister{}), nil)
}

// J22 at the vmm doors: a revoked allow.vmm turned back on in the parent
// is not restored in the child, whose vmm operations stay EPERM.
func TestJ22DescendantStaysRevoked(t *testing.T) {
	s := newSystem(t)
	h := s.k.Jails
	root := h.RootCred()
	upd := func(p *jail.Prison, b string) {
		t.Helper()
		if _, err := h.JailSet(root, []jail.Param{jail.IntParam("jid", p.JID()), jail.BoolParam(b)}, jail.JAIL_UPDATE); err != nil {
			t.Fatal(err)
		}
	}
	jid, err := h.JailSet(root, []jail.Param{jail.StrParam("name", "p"), jail.BoolParam("persist"), jail.BoolParam("allow.vmm"), jail.IntParam("children.max", 1)}, jail.JAIL_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	parent := h.Lookup(jid)
	child, err := h.CreatePrison(parent, "c", "vmm")
	if err != nil {
		t.Fatal(err)
	}
	inChild := &Thread{Cred: &jail.Ucred{Prison: child}}
	wantErr(t, "child creates", s.create(t, inChild, "j22"), nil)
	dev, err := s.k.OpenVM(inChild, "j22")
	wantErr(t, "child opens", err, nil)
	upd(parent, "allow.novmm")
	upd(parent, "allow.vmm")
	wantErr(t, "J22 child ioctl", dev.Ioctl(inChild, abi.VM_GET_REGISTER, &abi.VMRegister{}), abi.EPERM)
	wantErr(t, "J22 child create", s.create(t, inChild, "j22b"), abi.EPERM)
	wantErr(t, "J22 child destroy", s.destroy(t, inChild, "j22"), abi.EPERM)
	wantErr(t, "parent destroys", s.destroy(t, &Thread{Cred: &jail.Ucred{Prison: parent}}, "j22"), nil)
}
