package vmm

import (
	"errors"
	"testing"

	"softvmm/emu/abi"
	"softvmm/jail"
)

// system is a kernel with vmm loaded and three callers: host root, root in a
// jail with allow.vmm, and root in a jail without it.
type system struct {
	k                        *Kernel
	host, allowed, forbidden *Thread
}

func newSystem(t *testing.T) *system {
	t.Helper()
	h := jail.NewHost()
	k := NewKernel(h)
	if err := k.Load(); err != nil {
		t.Fatal(err)
	}
	yes, err := h.CreatePrison(h.Prison0(), "withvmm", "vmm")
	if err != nil {
		t.Fatal(err)
	}
	no, err := h.CreatePrison(h.Prison0(), "novmm")
	if err != nil {
		t.Fatal(err)
	}
	return &system{
		k:         k,
		host:      &Thread{Cred: h.RootCred()},
		allowed:   &Thread{Cred: &jail.Ucred{UID: 0, Prison: yes}},
		forbidden: &Thread{Cred: &jail.Ucred{UID: 0, Prison: no}},
	}
}

func (s *system) create(t *testing.T, td *Thread, name string) error {
	t.Helper()
	_, err := s.k.Sysctl(td, "hw.vmm.create", &name)
	return err
}

func (s *system) destroy(t *testing.T, td *Thread, name string) error {
	t.Helper()
	_, err := s.k.Sysctl(td, "hw.vmm.destroy", &name)
	return err
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if want == nil && got != nil || want != nil && !errors.Is(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// The acceptance test of "every door": reference/vmm-interface.md §1.3 and
// DESIGN.md "Credentials": a jailed thread without allow.vmm gets EPERM at
// hw.vmm.create, hw.vmm.destroy, ioctl, read, write and mmap; with
// allow.vmm each door works.
func TestEveryDoorEPERMWithoutAllowVMM(t *testing.T) {
	s := newSystem(t)
	wantErr(t, "create from jail without allow.vmm", s.create(t, s.forbidden, "vm0"), abi.EPERM)
	if _, err := s.k.Sysctl(s.forbidden, "hw.vmm.create", nil); !errors.Is(err, abi.EPERM) {
		t.Fatalf("read of hw.vmm.create from jail without allow.vmm: %v, want EPERM (§1.9: priv check before the string)", err)
	}
	wantErr(t, "create from jail with allow.vmm", s.create(t, s.allowed, "vm0"), nil)

	// The jail without allow.vmm can neither see the node (another
	// jail's VM) nor open it; the doors below are tried on a descriptor
	// opened in the allowed jail and carried over (jail_attach keeps
	// descriptors, jail-and-security §1.8).
	if _, err := s.k.OpenVM(s.forbidden, "vm0"); !errors.Is(err, abi.ENOENT) {
		t.Fatalf("open from the other jail: %v, want ENOENT", err)
	}
	dev, err := s.k.OpenVM(s.allowed, "vm0")
	if err != nil {
		t.Fatal(err)
	}
	// Give the VM some memory through the allowed thread.
	ms := abi.VMMemseg{Segid: 0, Len: 1 << 20}
	wantErr(t, "VM_ALLOC_MEMSEG allowed", dev.Ioctl(s.allowed, abi.VM_ALLOC_MEMSEG, &ms), nil)
	mm := abi.VMMemmap{Gpa: 0, Segid: 0, Len: 1 << 20, Prot: abi.PROT_ALL}
	wantErr(t, "VM_MMAP_MEMSEG allowed", dev.Ioctl(s.allowed, abi.VM_MMAP_MEMSEG, &mm), nil)

	for _, c := range []struct {
		name string
		td   *Thread
		want error
	}{{"without allow.vmm", s.forbidden, abi.EPERM}, {"with allow.vmm", s.allowed, nil}, {"host root", s.host, nil}} {
		t.Run(c.name, func(t *testing.T) {
			r := abi.VMRegister{Cpuid: 0, Regnum: abi.VM_REG_GUEST_RAX, Regval: 7}
			wantErr(t, "ioctl VM_SET_REGISTER", dev.Ioctl(c.td, abi.VM_SET_REGISTER, &r), c.want)
			um := &SliceMem{Base: 0x1000, B: make([]byte, 1024)} // VM_STATS needs 536
			td := &Thread{Cred: c.td.Cred, Mem: um}
			wantErr(t, "raw ioctl VM_GET_REGISTER", dev.IoctlRaw(td, abi.VM_GET_REGISTER, 0x1000), c.want)
			// Even an unknown command is EPERM first: the check precedes the switch.
			unknown := abi.IOC(abi.IOC_IN, 'v', 19, 16) // unused in FreeBSD 12
			wantErr(t, "unknown ioctl", dev.IoctlRaw(td, unknown, 0x1000), orErr(c.want, abi.ENOTTY))
			_, err := dev.Write(c.td, []byte{1, 2, 3}, 0x100)
			wantErr(t, "write", err, c.want)
			buf := make([]byte, 3)
			_, err = dev.Read(c.td, buf, 0x100)
			wantErr(t, "read", err, c.want)
			if c.want == nil && string(buf) != "\x01\x02\x03" {
				t.Fatalf("read back %x", buf)
			}
			m, err := dev.Mmap(c.td, 0, 4096, abi.PROT_READ|abi.PROT_WRITE)
			wantErr(t, "mmap", err, c.want)
			if c.want == nil && (len(m) != 4096 || m[0x100] != 1) {
				t.Fatalf("mmap slice does not alias guest RAM")
			}
		})
	}
	wantErr(t, "destroy from jail without allow.vmm", s.destroy(t, s.forbidden, "vm0"), abi.EPERM)
	wantErr(t, "destroy from jail with allow.vmm", s.destroy(t, s.allowed, "vm0"), nil)
}

func orErr(first, second error) error {
	if first != nil {
		return first
	}
	return second
}

// A jailed caller whose vmm bit could not be registered (the allow bit
// space was full: reference/jail-and-security.md §1.6 step 6) fails closed.
func TestAllowBitExhaustedFailsClosed(t *testing.T) {
	h := jail.NewHost()
	for i := 0; h.AddAllow(string(rune('a'+i))+"x") != 0; i++ {
	}
	k := NewKernel(h)
	k.Load()
	p, _ := h.CreatePrison(h.Prison0(), "j")
	td := &Thread{Cred: &jail.Ucred{Prison: p}}
	name := "vm"
	if _, err := k.Sysctl(td, "hw.vmm.create", &name); !errors.Is(err, abi.EPERM) {
		t.Fatalf("got %v, want EPERM", err)
	}
	if _, err := k.Sysctl(&Thread{Cred: h.RootCred()}, "hw.vmm.create", &name); err != nil {
		t.Fatalf("host root: %v", err)
	}
}

// reference/vmm-interface.md §1.2 and reference/jail-and-security.md §1.9.
func TestSysctlCreateDestroy(t *testing.T) {
	s := newSystem(t)
	got, err := s.k.Sysctl(s.host, "hw.vmm.create", nil)
	if err != nil || got != "beavis" {
		t.Fatalf("read hw.vmm.create = %q, %v; want beavis", got, err)
	}
	got, err = s.k.Sysctl(s.host, "hw.vmm.destroy", nil)
	if err != nil || got != "beavis" {
		t.Fatalf("read hw.vmm.destroy = %q, %v; want beavis", got, err)
	}
	if len(s.k.Devices()) != 0 {
		t.Fatal("a read created something")
	}
	long31 := "abcdefghijklmnopqrstuvwxyz01234"
	cases := []struct {
		what string
		td   *Thread
		op   string
		name string
		want error
	}{
		{"create", s.host, "create", "a", nil},
		{"create again: EEXIST", s.host, "create", "a", abi.EEXIST},
		{"31 characters fit", s.host, "create", long31, nil},
		{"32 characters do not: EINVAL", s.host, "create", long31 + "x", abi.EINVAL},
		{"empty name: devfs EINVAL", s.host, "create", "", abi.EINVAL},
		{"dot component", s.host, "create", "..", abi.EINVAL},
		{"trailing slash", s.host, "create", "x/", abi.EINVAL},
		{"white space", s.host, "create", "a b", abi.EINVAL},
		{"quote", s.host, "create", `a"b`, abi.EINVAL},
		{"subdirectory is a legal devfs name", s.host, "create", "dir/vm", nil},
		{"non-root host user cannot write", &Thread{Cred: &jail.Ucred{UID: 1001, Prison: s.host.Cred.Prison}}, "create", "u", abi.EPERM},
		{"non-root jailed user cannot write", &Thread{Cred: &jail.Ucred{UID: 1001, Prison: s.allowed.Cred.Prison}}, "create", "u", abi.EPERM},
		{"destroy unknown: EINVAL", s.host, "destroy", "nosuch", abi.EINVAL},
		{"destroy", s.host, "destroy", "a", nil},
		{"destroy again: EINVAL", s.host, "destroy", "a", abi.EINVAL},
		{"re-create right after destroy (synchronous destroy, §15.2)", s.host, "create", "a", nil},
	}
	for _, c := range cases {
		var err error
		if c.op == "create" {
			err = s.create(t, c.td, c.name)
		} else {
			err = s.destroy(t, c.td, c.name)
		}
		wantErr(t, c.what, err, c.want)
	}
	want := []string{"/dev/vmm/a", "/dev/vmm/" + long31, "/dev/vmm/dir/vm"}
	if got := s.k.Devices(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("devices %q, want %q", got, want)
	}
	if _, err := s.k.Sysctl(s.host, "hw.vmm.nosuch", nil); !errors.Is(err, abi.ENOENT) {
		t.Fatalf("unknown sysctl: %v", err)
	}
}

// Module unload is EBUSY while a VM exists (§1.2); the sysctls vanish with
// the module; a reload hands out the same allow bit (jail §1.6 step 2).
func TestModuleLoadUnload(t *testing.T) {
	s := newSystem(t)
	bit, _ := s.k.Jails.AllowBit("vmm")
	wantErr(t, "create", s.create(t, s.host, "x"), nil)
	wantErr(t, "unload with a VM", s.k.Unload(), abi.EBUSY)
	wantErr(t, "destroy", s.destroy(t, s.host, "x"), nil)
	wantErr(t, "unload", s.k.Unload(), nil)
	wantErr(t, "create without the module", s.create(t, s.host, "x"), abi.ENOENT)
	wantErr(t, "reload", s.k.Load(), nil)
	if again, _ := s.k.Jails.AllowBit("vmm"); again != bit {
		t.Fatalf("reload bit %#x, first %#x", again, bit)
	}
}

// Operations on an open node of a destroyed VM: ENXIO for ioctl, read and
// write, EINVAL for mmap (reference §1.4).
func TestDestroyedNode(t *testing.T) {
	s := newSystem(t)
	s.create(t, s.host, "gone")
	dev, err := s.k.OpenVM(s.host, "gone")
	if err != nil {
		t.Fatal(err)
	}
	s.destroy(t, s.host, "gone")
	r := abi.VMRegister{}
	wantErr(t, "ioctl", dev.Ioctl(s.host, abi.VM_GET_REGISTER, &r), abi.ENXIO)
	_, err = dev.Read(s.host, make([]byte, 1), 0)
	wantErr(t, "read", err, abi.ENXIO)
	_, err = dev.Write(s.host, make([]byte, 1), 0)
	wantErr(t, "write", err, abi.ENXIO)
	_, err = dev.Mmap(s.host, 0, 4096, abi.PROT_READ)
	wantErr(t, "mmap", err, abi.EINVAL)
	if _, err := s.k.OpenVM(s.host, "gone"); !errors.Is(err, abi.ENOENT) {
		t.Fatalf("open after destroy: %v", err)
	}
}

// V6 (reference/jail-and-security.md §5): jailed root whose jail has
// allow.vmm but allow.nosuser is not privileged, so sysctl_root refuses
// the write before vmm's handler runs.
func TestSysctlWriteNeedsSuser(t *testing.T) {
	s := newSystem(t)
	p := s.allowed.Cred.Prison
	bit, ok := s.k.Jails.AllowBit("suser")
	if !ok {
		t.Fatal("allow.suser not registered")
	}
	if err := p.SetAllow(bit, false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "create as jailed root without allow.suser", s.create(t, s.allowed, "v6"), abi.EPERM)
	if _, err := s.k.Sysctl(s.allowed, "hw.vmm.create", nil); err != nil {
		t.Fatalf("read needs no privilege: %v", err)
	}
}
