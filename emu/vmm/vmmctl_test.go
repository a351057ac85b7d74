package vmm_test

import (
	"os"
	"strings"
	"testing"

	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/vmm"
	"softvmm/emu/vmmapi"
	"softvmm/jail"
)

// /dev/vmmctl and the 2026 access control (reference/jail-and-security.md
// §3.1, §3.4; rows V14–V20 of §5), in the default era.

type ctlWorld struct {
	k          *vmm.Kernel
	root       *vmm.Thread
	alice, bob *vmm.Thread // members of the vmm group
	eve        *vmm.Thread // not a member
}

func newCtlWorld(t *testing.T) *ctlWorld {
	t.Helper()
	h := jail.NewHost()
	k := vmm.NewKernel(h)
	if err := k.Load(); err != nil {
		t.Fatal(err)
	}
	p0 := h.Prison0()
	user := func(uid int, groups ...int) *vmm.Thread {
		return &vmm.Thread{Cred: &jail.Ucred{UID: uid, GID: uid, Groups: groups, Prison: p0}}
	}
	return &ctlWorld{k: k, root: &vmm.Thread{Cred: h.RootCred()},
		alice: user(1001, abi.GID_VMM), bob: user(1002, abi.GID_VMM), eve: user(1003)}
}

func openCtl(t *testing.T, k *vmm.Kernel, td *vmm.Thread) *vmm.Ctl {
	t.Helper()
	n, err := k.OpenFile(td, "/dev/vmmctl", vmm.FREAD|vmm.FWRITE)
	if err != nil {
		t.Fatalf("open /dev/vmmctl: %v", err)
	}
	return n.(*vmm.Ctl)
}

func ctlCreate(c *vmm.Ctl, td *vmm.Thread, name string, flags uint32) error {
	a := abi.VMMCtlVMCreate{Flags: flags}
	copy(a.Name[:], name)
	return c.Ioctl(td, abi.VMMCTL_VM_CREATE, &a)
}

func ctlDestroy(c *vmm.Ctl, td *vmm.Thread, name string) error {
	a := abi.VMMCtlVMDestroy{}
	copy(a.Name[:], name)
	return c.Ioctl(td, abi.VMMCTL_VM_DESTROY, &a)
}

const transient = abi.VMMCTL_CREATE_DESTROY_ON_CLOSE

// VMMCTL_VM_CREATE / VMMCTL_VM_DESTROY do what the sysctls do, and a
// 33-byte name is cut to 32 without an error (the kernel NUL-terminates
// name[VM_MAX_NAMELEN], §3.3).
func TestVMMCtlCreateDestroy(t *testing.T) {
	w := newCtlWorld(t)
	c := openCtl(t, w.k, w.root)
	wantErr(t, "create", ctlCreate(c, w.root, "v", 0), nil)
	wantErr(t, "again", ctlCreate(c, w.root, "v", 0), abi.EEXIST)
	wantErr(t, "sysctl sees it", vmmapi.Create(w.k, w.root, "v"), abi.EEXIST)
	long := strings.Repeat("x", 33)
	wantErr(t, "33-byte name", ctlCreate(c, w.root, long, 0), nil)
	if _, err := w.k.OpenVM(w.root, long[:32]); err != nil {
		t.Fatalf("the 33-byte name was not cut to 32: %v", err)
	}
	wantErr(t, "bad devfs name", ctlCreate(c, w.root, "a/../b", 0), abi.EINVAL)
	wantErr(t, "destroy", ctlDestroy(c, w.root, "v"), nil)
	wantErr(t, "destroy again", ctlDestroy(c, w.root, "v"), abi.EINVAL)
	// hw.vmm.destroy keeps FreeBSD 12's 32-byte buffer: 31 characters.
	wantErr(t, "32 characters through the sysctl", vmmapi.Destroy(w.k, w.root, long[:32]), abi.EINVAL)
	wantErr(t, "destroy the 32-character VM", ctlDestroy(c, w.root, long[:32]), nil)
	wantErr(t, "create by sysctl", vmmapi.Create(w.k, w.root, "s"), nil)
	wantErr(t, "destroy by vmmctl", ctlDestroy(c, w.root, "s"), nil)
	// A non-transient VM outlives the descriptor.
	wantErr(t, "create kept", ctlCreate(c, w.root, "kept", 0), nil)
	wantErr(t, "close", c.Close(), nil)
	if _, err := w.k.OpenVM(w.root, "kept"); err != nil {
		t.Fatalf("close destroyed a non-transient VM: %v", err)
	}
	wantErr(t, "ioctl after close", ctlCreate(c, w.root, "late", 0), abi.EBADF)
}

// V14: any nonzero reserved word: EINVAL, and nothing happens.
func TestV14ReservedWords(t *testing.T) {
	w := newCtlWorld(t)
	c := openCtl(t, w.k, w.root)
	for i := 0; i < 15; i++ {
		a := abi.VMMCtlVMCreate{}
		copy(a.Name[:], "v14")
		a.Reserved[i] = 1 << (i % 31)
		wantErr(t, "V14 create reserved", c.Ioctl(w.root, abi.VMMCTL_VM_CREATE, &a), abi.EINVAL)
	}
	if len(w.k.Devices()) != 0 {
		t.Fatal("V14: a refused create made a VM")
	}
	wantErr(t, "create", ctlCreate(c, w.root, "v14", 0), nil)
	d := abi.VMMCtlVMDestroy{}
	copy(d.Name[:], "v14")
	d.Reserved[15] = -1
	wantErr(t, "V14 destroy reserved", c.Ioctl(w.root, abi.VMMCTL_VM_DESTROY, &d), abi.EINVAL)
	if _, err := w.k.OpenVM(w.root, "v14"); err != nil {
		t.Fatal("V14: a refused destroy destroyed")
	}
}

// V15: /dev/vmmctl opened without FWRITE: EPERM, even for root; an ioctl
// vmmctl does not have: ENOTTY.
func TestV15ReadOnlyOpenAndUnknownIoctl(t *testing.T) {
	w := newCtlWorld(t)
	_, err := w.k.OpenFile(w.root, "/dev/vmmctl", vmm.FREAD)
	wantErr(t, "V15 read-only open", err, abi.EPERM)
	_, err = w.k.OpenFile(w.alice, "/dev/vmmctl", vmm.FREAD)
	wantErr(t, "V15 read-only open by a member", err, abi.EPERM)
	c := openCtl(t, w.k, w.root)
	for _, cmd := range []uint32{abi.IOC(abi.IOC_INOUT, 'V', 2, 100), abi.VM_RUN, abi.IOC(abi.IOC_VOID, 'V', 0, 0)} {
		wantErr(t, "V15 unknown vmmctl ioctl", c.Ioctl(w.root, cmd, &abi.VMMCtlVMCreate{}), abi.ENOTTY)
	}
	wantErr(t, "wrong argument type", c.Ioctl(w.root, abi.VMMCTL_VM_CREATE, &abi.VMMCtlVMDestroy{}), abi.EFAULT)
}

// V16: /dev/vmmctl is root:vmm 0660, so a user outside the vmm group gets
// EACCES; a member opens it.
func TestV16VmmGroup(t *testing.T) {
	w := newCtlWorld(t)
	_, err := w.k.Open(w.eve, "/dev/vmmctl")
	wantErr(t, "V16 non-member", err, abi.EACCES)
	primary := &vmm.Thread{Cred: &jail.Ucred{UID: 1004, GID: abi.GID_VMM, Prison: w.root.Cred.Prison}}
	for _, td := range []*vmm.Thread{w.alice, primary} {
		if _, err := w.k.Open(td, "/dev/vmmctl"); err != nil {
			t.Fatalf("member (uid %d): %v", td.Cred.UID, err)
		}
	}
}

// V17: an unprivileged user may create only transient VMs: without
// VMMCTL_CREATE_DESTROY_ON_CLOSE EPERM. The transient VM is the user's:
// its node is owned by the user, who can set it up and run it, and it
// dies when the descriptor is closed.
func TestV17UnprivilegedTransientVM(t *testing.T) {
	w := newCtlWorld(t)
	c := openCtl(t, w.k, w.alice)
	wantErr(t, "V17 non-transient", ctlCreate(c, w.alice, "mine", 0), abi.EPERM)
	wantErr(t, "transient", ctlCreate(c, w.alice, "mine", transient), nil)
	ctx, err := vmmapi.Open(w.k, w.alice, "mine")
	if err != nil {
		t.Fatalf("the owner opens /dev/vmm/mine: %v", err)
	}
	if err := ctx.SetupMemory(16 << 20); err != nil {
		t.Fatal(err)
	}
	img, _ := os.ReadFile("../../testdata/exit33.elf")
	if _, err := boot.LoadELF64(ctx, img, ctx.Lowmem()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "activate", ctx.ActivateCPU(0), nil)
	var ex abi.VMExit
	wantErr(t, "VM_RUN as the owner", ctx.Run(0, &ex), nil)
	wantErr(t, "close", c.Close(), nil)
	_, err = w.k.OpenVM(w.root, "mine")
	wantErr(t, "the transient VM died with its descriptor", err, abi.ENOENT)
	wantErr(t, "VM_RUN after", ctx.Run(0, &ex), abi.ENXIO)
	// The sysctl path is no way round: non-root cannot write it.
	wantErr(t, "sysctl create", vmmapi.Create(w.k, w.alice, "viasysctl"), abi.EPERM)
}

// V18: create flags outside VMMCTL_FLAGS_MASK: EINVAL.
func TestV18UnknownFlags(t *testing.T) {
	w := newCtlWorld(t)
	c := openCtl(t, w.k, w.root)
	for _, f := range []uint32{0x2, 0x80000000, transient | 0x4} {
		wantErr(t, "V18 flags", ctlCreate(c, w.root, "v18", f), abi.EINVAL)
	}
	if len(w.k.Devices()) != 0 {
		t.Fatal("V18: a refused create made a VM")
	}
}

// V19: in the same prison, user bob cannot destroy alice's VM (EPERM: not
// the creator, no PRIV_VMM_DESTROY) nor open its node (EACCES: alice's,
// 0600); root may do both.
func TestV19OtherUsersVM(t *testing.T) {
	w := newCtlWorld(t)
	ca := openCtl(t, w.k, w.alice)
	cb := openCtl(t, w.k, w.bob)
	wantErr(t, "alice creates", ctlCreate(ca, w.alice, "avm", transient), nil)
	wantErr(t, "V19 bob destroys", ctlDestroy(cb, w.bob, "avm"), abi.EPERM)
	_, err := w.k.Open(w.bob, "/dev/vmm/avm")
	wantErr(t, "V19 bob opens", err, abi.EACCES)
	_, err = w.k.OpenFile(w.bob, "/dev/vmm/avm", vmm.FREAD)
	wantErr(t, "V19 bob opens read-only", err, abi.EACCES)
	_, err = w.k.Open(w.eve, "/dev/vmm/avm")
	wantErr(t, "eve opens", err, abi.EACCES)
	if _, err := w.k.Open(w.root, "/dev/vmm/avm"); err != nil {
		t.Fatalf("root opens alice's VM: %v", err)
	}
	// The same uid in another prison is not the creator either.
	h := w.k.Jails
	p, err := h.CreatePrison(h.Prison0(), "j", "vmm")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "alice's uid in jail j", ctlDestroy(ca, &vmm.Thread{Cred: &jail.Ucred{UID: 1001, Prison: p}}, "avm"), abi.EINVAL) // invisible there
	wantErr(t, "root destroys", ctlDestroy(cb, w.root, "avm"), nil)
	wantErr(t, "alice's close finds nothing left", ca.Close(), nil)
}

// V20: past hw.vmm.maxvmms VMs for one uid: ENOMEM; destroying one frees
// a slot. Only host root may change the limit (no CTLFLAG_PRISON).
func TestV20MaxVMMs(t *testing.T) {
	w := newCtlWorld(t)
	if got, err := w.k.Sysctl(w.alice, "hw.vmm.maxvmms", nil); err != nil || got != "64" {
		t.Fatalf("hw.vmm.maxvmms = %q, %v; want 64 (4 × 16 CPUs)", got, err)
	}
	two := "2"
	_, err := w.k.Sysctl(w.alice, "hw.vmm.maxvmms", &two)
	wantErr(t, "user writes maxvmms", err, abi.EPERM)
	p, _ := w.k.Jails.CreatePrison(w.k.Jails.Prison0(), "j", "vmm")
	_, err = w.k.Sysctl(&vmm.Thread{Cred: &jail.Ucred{Prison: p}}, "hw.vmm.maxvmms", &two)
	wantErr(t, "jailed root writes maxvmms", err, abi.EPERM)
	if _, err := w.k.Sysctl(w.root, "hw.vmm.maxvmms", &two); err != nil {
		t.Fatal(err)
	}
	c := openCtl(t, w.k, w.alice)
	wantErr(t, "first", ctlCreate(c, w.alice, "a1", transient), nil)
	wantErr(t, "second", ctlCreate(c, w.alice, "a2", transient), nil)
	wantErr(t, "V20 third", ctlCreate(c, w.alice, "a3", transient), abi.ENOMEM)
	wantErr(t, "another uid has its own count", ctlCreate(openCtl(t, w.k, w.bob), w.bob, "b1", transient), nil)
	wantErr(t, "alice destroys one", ctlDestroy(c, w.alice, "a1"), nil)
	wantErr(t, "a slot is free again", ctlCreate(c, w.alice, "a3", transient), nil)
	// uid 0 counts too, wherever it runs: the jail's root and the host's
	// share one count.
	cr := openCtl(t, w.k, w.root)
	wantErr(t, "root 1", ctlCreate(cr, w.root, "r1", 0), nil)
	wantErr(t, "jailed root 2", vmmapi.Create(w.k, &vmm.Thread{Cred: &jail.Ucred{Prison: p}}, "r2"), nil)
	wantErr(t, "V20 root 3", ctlCreate(cr, w.root, "r3", 0), abi.ENOMEM)
}

// Era2018 has no /dev/vmmctl; in both eras a VM node is 0600, so a
// non-root user on the host cannot open root's VM (FreeBSD 12 made it
// root:wheel 0600 too).
func TestNodeModesByEra(t *testing.T) {
	for _, era := range []vmm.Era{vmm.EraCurrent, vmm.Era2018} {
		w := newCtlWorld(t)
		w.k.Era = era
		wantErr(t, "create", vmmapi.Create(w.k, w.root, "v"), nil)
		_, err := w.k.Open(w.alice, "/dev/vmm/v")
		wantErr(t, era.String()+": user opens root's VM", err, abi.EACCES)
		if era == vmm.Era2018 {
			_, err = w.k.Open(w.root, "/dev/vmmctl")
			wantErr(t, "2018: /dev/vmmctl", err, abi.ENOENT)
			_, err = w.k.Sysctl(w.root, "hw.vmm.maxvmms", nil)
			wantErr(t, "2018: hw.vmm.maxvmms", err, abi.ENOENT)
		}
	}
}

// A /dev/vmmctl descriptor opened in a jail with allow.vmm and carried
// into one without it does not create VMs there: VMMCTL_VM_CREATE applies
// vmm_priv_check to the caller's own credential, as every door does
// (reference/jail-and-security.md §1.3; DESIGN.md "Credentials").
func TestVMMCtlCreateChecksCallerAllowVMM(t *testing.T) {
	j := newJails(t, vmm.EraCurrent)
	c := openCtl(t, j.k, j.a)
	wantErr(t, "create from a jail without allow.vmm", ctlCreate(c, j.nv, "carried", 0), abi.EPERM)
	for _, td := range []*vmm.Thread{j.host, j.a, j.nv} {
		if _, err := j.k.OpenVM(td, "carried"); err == nil {
			t.Fatal("the refused create made a VM")
		}
	}
	wantErr(t, "create from the opener's jail", ctlCreate(c, j.a, "own", 0), nil)
}
