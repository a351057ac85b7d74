package vmm_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"softvmm/emu/abi"
	"softvmm/emu/vmm"
)

func want(t *testing.T, what string, got, exp error) {
	t.Helper()
	if exp == nil && got != nil || exp != nil && !errors.Is(got, exp) {
		t.Fatalf("%s: got %v, want %v", what, got, exp)
	}
}

// VM_GET_CPUS (reference/vmm-interface.md §2.1): ERANGE unless the size is
// sizeof(cpuset_t) = 32, EINVAL for which ∉ {0,1,2}, EFAULT for a bad
// user pointer; the set is copied out through the pointer.
func TestGetCPUs(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	um := &vmm.SliceMem{Base: 0x7000, B: make([]byte, 64)}
	td := &vmm.Thread{Cred: ctx.Thread().Cred, Mem: um}
	dev := ctx.Dev()
	for _, c := range []struct {
		what string
		arg  abi.VMCpuset
		want error
	}{
		{"size 16", abi.VMCpuset{Which: 0, Cpusetsize: 16, Cpus: 0x7000}, abi.ERANGE},
		{"size 64", abi.VMCpuset{Which: 0, Cpusetsize: 64, Cpus: 0x7000}, abi.ERANGE},
		{"size -1 and bad which: ERANGE first", abi.VMCpuset{Which: 7, Cpusetsize: -1, Cpus: 0x7000}, abi.ERANGE},
		{"which 3", abi.VMCpuset{Which: 3, Cpusetsize: 32, Cpus: 0x7000}, abi.EINVAL},
		{"bad pointer", abi.VMCpuset{Which: 0, Cpusetsize: 32, Cpus: 0x7000 + 40}, abi.EFAULT},
		{"active", abi.VMCpuset{Which: abi.VM_ACTIVE_CPUS, Cpusetsize: 32, Cpus: 0x7000}, nil},
	} {
		a := c.arg
		want(t, c.what, dev.Ioctl(td, abi.VM_GET_CPUS, &a), c.want)
	}
	if um.B[0] != 1 || binary.LittleEndian.Uint64(um.B[1:9]) != 0 {
		t.Fatalf("active set %x, want vCPU 0 only", um.B[:32])
	}
}

// VM_SUSPEND_CPU / VM_RESUME_CPU: the debug set (§2.1), and VM_RUN on a
// debug-stopped vCPU returns VM_EXITCODE_DEBUG with inst_length 0 (§7.1).
func TestDebugStop(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	dev, td := ctx.Dev(), ctx.Thread()
	rip := patch(t, ctx, 0xe6, 0x80) // out %al,$0x80
	for _, c := range []struct {
		what string
		cmd  uint32
		id   int32
		want error
	}{
		{"suspend vCPU -2", abi.VM_SUSPEND_CPU, -2, abi.EINVAL},
		{"suspend vCPU 16", abi.VM_SUSPEND_CPU, 16, abi.EINVAL},
		{"suspend inactive vCPU 1", abi.VM_SUSPEND_CPU, 1, abi.EINVAL},
		{"resume a vCPU not stopped", abi.VM_RESUME_CPU, 0, abi.EINVAL},
		{"resume vCPU 16", abi.VM_RESUME_CPU, 16, abi.EINVAL},
		{"suspend all", abi.VM_SUSPEND_CPU, -1, nil},
	} {
		a := abi.VMActivateCPU{Vcpuid: c.id}
		want(t, c.what, dev.Ioctl(td, c.cmd, &a), c.want)
	}
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_DEBUG || ex.Rip != rip || ex.InstLength != 0 {
		t.Fatalf("stopped vCPU: %v, exit %s rip %#x len %d", err, abi.ExitcodeName(ex.Exitcode), ex.Rip, ex.InstLength)
	}
	a := abi.VMActivateCPU{Vcpuid: 0}
	want(t, "resume 0", dev.Ioctl(td, abi.VM_RESUME_CPU, &a), nil)
	if ctx.Run(0, &ex); ex.Exitcode != abi.VM_EXITCODE_INOUT || ex.Rip != rip {
		t.Fatalf("after resume: exit %s rip %#x", abi.ExitcodeName(ex.Exitcode), ex.Rip)
	}
}

// VM_SET/GET_TOPOLOGY (§11, §16).
func TestTopology(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	dev, td := ctx.Dev(), ctx.Thread()
	var g abi.VMCPUTopology
	want(t, "get", dev.Ioctl(td, abi.VM_GET_TOPOLOGY, &g), nil)
	if g != (abi.VMCPUTopology{Sockets: 1, Cores: 1, Threads: 1, Maxcpus: 0}) {
		t.Fatalf("default topology %+v, want {1 1 1 0}", g)
	}
	for _, c := range []struct {
		what string
		arg  abi.VMCPUTopology
		want error
	}{
		{"maxcpus non-zero", abi.VMCPUTopology{Sockets: 1, Cores: 1, Threads: 1, Maxcpus: 16}, abi.EINVAL},
		{"17 vCPUs", abi.VMCPUTopology{Sockets: 17, Cores: 1, Threads: 1}, abi.EINVAL},
		{"product overflows 32 bits", abi.VMCPUTopology{Sockets: 65535, Cores: 65535, Threads: 65535}, abi.EINVAL},
		{"zero sockets (§16: refused, unlike 12)", abi.VMCPUTopology{Sockets: 0, Cores: 4, Threads: 2}, abi.EINVAL},
		{"2x4x2", abi.VMCPUTopology{Sockets: 2, Cores: 4, Threads: 2}, nil},
	} {
		a := c.arg
		want(t, c.what, dev.Ioctl(td, abi.VM_SET_TOPOLOGY, &a), c.want)
	}
	dev.Ioctl(td, abi.VM_GET_TOPOLOGY, &g)
	if g != (abi.VMCPUTopology{Sockets: 2, Cores: 4, Threads: 2}) {
		t.Fatalf("topology %+v", g)
	}
}

// VM_REINIT (§2.1): EBUSY until every active vCPU is suspended; then a
// fresh machine that keeps system memory.
func TestReinit(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	dev, td := ctx.Dev(), ctx.Thread()
	want(t, "reinit while running", dev.Ioctl(td, abi.VM_REINIT, nil), abi.EBUSY)
	ctx.WriteGPA(0x9000, []byte("kept"))
	ctx.SetRegister(0, abi.VM_REG_GUEST_RBX, 77)
	ctx.SetCapability(0, abi.VM_CAP_HALT_EXIT, 1)
	ctx.Suspend(abi.VM_SUSPEND_RESET)
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil || ex.Suspended() != abi.VM_SUSPEND_RESET {
		t.Fatalf("suspend: %v %d", err, ex.Suspended())
	}
	want(t, "reinit when suspended", dev.Ioctl(td, abi.VM_REINIT, nil), nil)
	if rbx, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RBX); rbx != 0 {
		t.Fatalf("RBX %d survived reinit", rbx)
	}
	c := abi.VMCapability{Captype: abi.VM_CAP_HALT_EXIT}
	dev.Ioctl(td, abi.VM_GET_CAPABILITY, &c)
	if c.Capval != 0 {
		t.Fatal("capability survived reinit")
	}
	buf := make([]byte, 4)
	if _, err := dev.Read(td, buf, 0x9000); err != nil || string(buf) != "kept" {
		t.Fatalf("system memory after reinit: %q %v", buf, err)
	}
	if err := ctx.Run(0, &ex); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("VM_RUN of a vCPU no longer active: %v", err)
	}
	want(t, "activate again", ctx.ActivateCPU(0), nil)
	want(t, "suspend again after reinit", ctx.Suspend(abi.VM_SUSPEND_POWEROFF), nil)
}

// VM_STATS / VM_STAT_DESC (§10): counters that count, descriptions by
// index, EINVAL past the end and for a bad vCPU.
func TestStats(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	dev, td := ctx.Dev(), ctx.Thread()
	patch(t, ctx, 0x90, 0x90, 0xe6, 0x80, 0xe6, 0x80) // nop; nop; out; out
	var ex abi.VMExit
	ctx.Run(0, &ex)
	ctx.Run(0, &ex)
	st := abi.VMStats{Cpuid: 0}
	want(t, "stats", dev.Ioctl(td, abi.VM_STATS, &st), nil)
	got := map[string]uint64{}
	for i := int32(0); i < st.NumEntries; i++ {
		d := abi.VMStatDesc{Index: i}
		want(t, "desc", dev.Ioctl(td, abi.VM_STAT_DESC, &d), nil)
		got[d.DescString()] = st.Statbuf[i]
	}
	if got["number of times in/out was intercepted"] != 2 || got["total number of vm exits"] != 2 ||
		got["number of guest instructions retired"] != 4 {
		t.Fatalf("stats %v", got)
	}
	d := abi.VMStatDesc{Index: st.NumEntries}
	want(t, "desc past the end", dev.Ioctl(td, abi.VM_STAT_DESC, &d), abi.EINVAL)
	d = abi.VMStatDesc{Index: -1}
	want(t, "desc -1", dev.Ioctl(td, abi.VM_STAT_DESC, &d), abi.EINVAL)
	st = abi.VMStats{Cpuid: 16}
	want(t, "stats vCPU 16", dev.Ioctl(td, abi.VM_STATS, &st), abi.EINVAL)
}

// VM_GET/SET_REGISTER_SET (§2.1, §16).
func TestRegisterSet(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	um := &vmm.SliceMem{Base: 0x10000, B: make([]byte, 1024)}
	td := &vmm.Thread{Cred: ctx.Thread().Cred, Mem: um}
	dev := ctx.Dev()
	nums, vals := um.B[0:], um.B[512:]
	putNums := func(rs ...int32) {
		for i, r := range rs {
			binary.LittleEndian.PutUint32(nums[4*i:], uint32(r))
		}
	}
	putNums(abi.VM_REG_GUEST_RAX, abi.VM_REG_GUEST_R15, abi.VM_REG_GUEST_CR2)
	binary.LittleEndian.PutUint64(vals[0:], 1)
	binary.LittleEndian.PutUint64(vals[8:], 2)
	binary.LittleEndian.PutUint64(vals[16:], 3)
	set := abi.VMRegisterSet{Cpuid: 0, Count: 3, Regnums: 0x10000, Regvals: 0x10000 + 512}
	want(t, "set 3", dev.Ioctl(td, abi.VM_SET_REGISTER_SET, &set), nil)
	if v, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_R15); v != 2 {
		t.Fatalf("R15 = %d", v)
	}
	clear(vals[:24])
	get := set
	want(t, "get 3", dev.Ioctl(td, abi.VM_GET_REGISTER_SET, &get), nil)
	if binary.LittleEndian.Uint64(vals[16:]) != 3 {
		t.Fatalf("CR2 read back %x", vals[:24])
	}
	// A bad number anywhere fails the whole set before any register
	// changes (softvmm validates first; FreeBSD 12 applied a prefix).
	putNums(abi.VM_REG_GUEST_RAX, abi.VM_REG_LAST)
	binary.LittleEndian.PutUint64(vals[0:], 99)
	bad := abi.VMRegisterSet{Count: 2, Regnums: 0x10000, Regvals: 0x10000 + 512}
	want(t, "bad regnum", dev.Ioctl(td, abi.VM_SET_REGISTER_SET, &bad), abi.EINVAL)
	if v, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RAX); v != 1 {
		t.Fatalf("RAX changed to %d by a failed set", v)
	}
	for _, c := range []struct {
		what string
		arg  abi.VMRegisterSet
		cmd  uint32
		want error
	}{
		{"count 45", abi.VMRegisterSet{Count: 45, Regnums: 0x10000, Regvals: 0x10200}, abi.VM_GET_REGISTER_SET, abi.EINVAL},
		{"count 2^32-1", abi.VMRegisterSet{Count: ^uint32(0)}, abi.VM_SET_REGISTER_SET, abi.EINVAL},
		{"count 0", abi.VMRegisterSet{Count: 0}, abi.VM_GET_REGISTER_SET, nil},
		{"regnums outside the process", abi.VMRegisterSet{Count: 2, Regnums: 0x5000, Regvals: 0x10200}, abi.VM_GET_REGISTER_SET, abi.EFAULT},
		{"regvals outside the process", abi.VMRegisterSet{Count: 1, Regnums: 0x10000, Regvals: 0x10000 + 1020}, abi.VM_GET_REGISTER_SET, abi.EFAULT},
		{"vCPU 16", abi.VMRegisterSet{Cpuid: 16, Count: 1, Regnums: 0x10000, Regvals: 0x10200}, abi.VM_GET_REGISTER_SET, abi.EINVAL},
	} {
		a := c.arg
		want(t, c.what, dev.Ioctl(td, c.cmd, &a), c.want)
	}
}

// Passthrough ioctls: softvmm has no host PCI device, so every b/s/f is
// not a passthrough device and vmm's ppt_find answers ENOENT. VM_PPTDEV_MSI
// still takes its vCPU lock from the first int first.
func TestPassthroughENOENT(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	dev, td := ctx.Dev(), ctx.Thread()
	want(t, "bind", dev.Ioctl(td, abi.VM_BIND_PPTDEV, &abi.VMPptdev{Bus: 0, Slot: 3}), abi.ENOENT)
	want(t, "unbind", dev.Ioctl(td, abi.VM_UNBIND_PPTDEV, &abi.VMPptdev{}), abi.ENOENT)
	want(t, "map mmio", dev.Ioctl(td, abi.VM_MAP_PPTDEV_MMIO, &abi.VMPptdevMMIO{}), abi.ENOENT)
	want(t, "msi", dev.Ioctl(td, abi.VM_PPTDEV_MSI, &abi.VMPptdevMSI{}), abi.ENOENT)
	want(t, "msix", dev.Ioctl(td, abi.VM_PPTDEV_MSIX, &abi.VMPptdevMSIX{}), abi.ENOENT)
	want(t, "msi vCPU 16: EINVAL from the lock", dev.Ioctl(td, abi.VM_PPTDEV_MSI, &abi.VMPptdevMSI{Vcpu: 16}), abi.EINVAL)
	p := abi.VMGpaPte{Gpa: 0x1000, Ptenum: 9}
	want(t, "gpa pmap", dev.Ioctl(td, abi.VM_GET_GPA_PMAP, &p), nil)
	if p.Ptenum != 0 {
		t.Fatalf("ptenum %d", p.Ptenum)
	}
}
