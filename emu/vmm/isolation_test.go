package vmm_test

import (
	"os"
	"reflect"
	"testing"

	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/vmm"
	"softvmm/emu/vmmapi"
	"softvmm/jail"
)

// VMs that stay in their jail (reference/jail-and-security.md §3.3, rows
// V4 and V7–V9 of §5) and the Era2018 switch that takes it back.

// jails is a kernel with a VM in each of: the host, jail a, its child
// a.k, and a's sibling b. Every jail has allow.vmm; each VM has RAM, a
// device-memory segment "fb" (/dev/vmm.io/NAME.fb) and the exit33 guest
// loaded, ready to run.
type jails struct {
	k                  *vmm.Kernel
	host, a, ak, b, nv *vmm.Thread // nv: a jail without allow.vmm
}

func newJails(t *testing.T, era vmm.Era) *jails {
	t.Helper()
	h := jail.NewHost()
	k := vmm.NewKernel(h)
	k.Era = era
	if err := k.Load(); err != nil {
		t.Fatal(err)
	}
	root := h.RootCred()
	mk := func(name string, params ...jail.Param) *vmm.Thread {
		ps := append([]jail.Param{jail.StrParam("name", name), jail.BoolParam("persist")}, params...)
		jid, err := h.JailSet(root, ps, jail.JAIL_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		return &vmm.Thread{Cred: &jail.Ucred{Prison: h.Lookup(jid)}}
	}
	j := &jails{k: k, host: &vmm.Thread{Cred: root}}
	j.a = mk("a", jail.BoolParam("allow.vmm"), jail.IntParam("children.max", 1))
	j.ak = mk("a.k", jail.BoolParam("allow.vmm"))
	j.b = mk("b", jail.BoolParam("allow.vmm"))
	j.nv = mk("nv")
	img, err := os.ReadFile("../../testdata/exit33.elf")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		td   *vmm.Thread
		name string
	}{{j.host, "hostvm"}, {j.a, "avm"}, {j.ak, "akvm"}, {j.b, "bvm"}} {
		if err := vmmapi.Create(k, c.td, c.name); err != nil {
			t.Fatalf("create %s: %v", c.name, err)
		}
		ctx, err := vmmapi.Open(k, c.td, c.name)
		if err != nil {
			t.Fatalf("open %s: %v", c.name, err)
		}
		if err := ctx.SetupMemory(16 << 20); err != nil {
			t.Fatal(err)
		}
		seg := abi.VMMemseg{Segid: 1, Len: 1 << 16}
		copy(seg.Name[:], "fb")
		if err := ctx.Dev().Ioctl(c.td, abi.VM_ALLOC_MEMSEG, &seg); err != nil {
			t.Fatal(err)
		}
		if _, err := boot.LoadELF64(ctx, img, ctx.Lowmem()); err != nil {
			t.Fatal(err)
		}
		if err := ctx.ActivateCPU(0); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func destroy(k *vmm.Kernel, td *vmm.Thread, name string) error {
	return vmmapi.Destroy(k, td, name)
}

// canRun opens name as td and runs vCPU 0 to its first exit, an OUT
// (exit33 prints on the serial port, then writes the debug-exit port).
func canRun(k *vmm.Kernel, td *vmm.Thread, name string) error {
	ctx, err := vmmapi.Open(k, td, name)
	if err != nil {
		return err
	}
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil {
		return err
	}
	if ex.Exitcode != abi.VM_EXITCODE_INOUT {
		return abi.EDOOFUS
	}
	return nil
}

// V7, V8, V9 and the ancestor rule, in the default era: jail a cannot
// see, open, run or destroy b's VM or the host's; a sees and drives its
// own and its child a.k's; a.k does not see a's; the host sees all.
func TestVMsStayInTheirJail(t *testing.T) {
	j := newJails(t, vmm.EraCurrent)
	k := j.k
	if k.Era != vmm.EraCurrent || vmm.EraCurrent != 0 {
		t.Fatal("keeping VMs in their jails must be the default")
	}
	for _, other := range []string{"bvm", "hostvm"} {
		// V8: the node does not exist for a: open by path, open of the
		// device-memory node, vmmapi.Open (so no VM_RUN either).
		_, err := k.Open(j.a, "/dev/vmm/"+other)
		wantErr(t, "V8 open /dev/vmm/"+other, err, abi.ENOENT)
		_, err = k.Open(j.a, "/dev/vmm.io/"+other+".fb")
		wantErr(t, "V8 open /dev/vmm.io/"+other+".fb", err, abi.ENOENT)
		wantErr(t, "V8 run "+other, canRun(k, j.a, other), abi.ENOENT)
		// V7: destroying it is EINVAL, as for a VM that does not exist.
		wantErr(t, "V7 destroy "+other, destroy(k, j.a, other), abi.EINVAL)
		// V9: a VM of the same name collides with the hidden node.
		wantErr(t, "V9 create "+other, vmmapi.Create(k, j.a, other), abi.EEXIST)
		// Their owners still have them.
		if err := canRun(k, j.host, other); err != nil {
			t.Fatalf("host runs %s after a's attempts: %v", other, err)
		}
	}
	wantErr(t, "V7 destroy of a missing VM is the same EINVAL", destroy(k, j.a, "nosuch"), abi.EINVAL)
	// A sibling is no better off than a child is with its parent's VM.
	_, err := k.Open(j.ak, "/dev/vmm/avm")
	wantErr(t, "a.k opens its parent's VM", err, abi.ENOENT)
	wantErr(t, "a.k destroys its parent's VM", destroy(k, j.ak, "avm"), abi.EINVAL)
	_, err = k.Open(j.b, "/dev/vmm/akvm")
	wantErr(t, "b opens a.k's VM", err, abi.ENOENT)

	// What each one lists under /dev.
	lists := map[string][]string{
		"host": {"/dev/vmm.io/akvm.fb", "/dev/vmm.io/avm.fb", "/dev/vmm.io/bvm.fb", "/dev/vmm.io/hostvm.fb",
			"/dev/vmm/akvm", "/dev/vmm/avm", "/dev/vmm/bvm", "/dev/vmm/hostvm"},
		"a":   {"/dev/vmm.io/akvm.fb", "/dev/vmm.io/avm.fb", "/dev/vmm/akvm", "/dev/vmm/avm"},
		"a.k": {"/dev/vmm.io/akvm.fb", "/dev/vmm/akvm"},
		"b":   {"/dev/vmm.io/bvm.fb", "/dev/vmm/bvm"},
		"nv":  nil,
	}
	for who, td := range map[string]*vmm.Thread{"host": j.host, "a": j.a, "a.k": j.ak, "b": j.b, "nv": j.nv} {
		if got := k.VisibleDevices(td); !reflect.DeepEqual(got, lists[who]) {
			t.Errorf("%s sees %q, want %q", who, got, lists[who])
		}
	}

	// a drives its own VM and its child's, and may destroy both.
	for _, mine := range []string{"avm", "akvm"} {
		if err := canRun(k, j.a, mine); err != nil {
			t.Fatalf("a runs %s: %v", mine, err)
		}
	}
	wantErr(t, "a destroys a.k's VM (an ancestor may)", destroy(k, j.a, "akvm"), nil)
	wantErr(t, "a destroys its own", destroy(k, j.a, "avm"), nil)
	wantErr(t, "the host destroys b's", destroy(k, j.host, "bvm"), nil)
	wantErr(t, "b's VM is gone for b too", destroy(k, j.b, "bvm"), abi.EINVAL)
	wantErr(t, "the name is free again", vmmapi.Create(k, j.a, "bvm"), nil)
}

// A descriptor is a capability, as in FreeBSD 14: a node b opened and
// handed to a thread in a (say jail_attach after open, §1.8) works there,
// because ioctl checks allow.vmm, not the VM's owner.
func TestCarriedDescriptorKeepsWorking(t *testing.T) {
	j := newJails(t, vmm.EraCurrent)
	dev, err := j.k.OpenVM(j.b, "bvm")
	if err != nil {
		t.Fatal(err)
	}
	r := abi.VMRegister{Regnum: abi.VM_REG_GUEST_RIP}
	wantErr(t, "ioctl from a on b's descriptor", dev.Ioctl(j.a, abi.VM_GET_REGISTER, &r), nil)
	wantErr(t, "ioctl from a jail without allow.vmm", dev.Ioctl(j.nv, abi.VM_GET_REGISTER, &r), abi.EPERM)
}

// V4 (FreeBSD 15's d_open check, taken here): a jail that can see its
// VM but has lost allow.vmm cannot open the node, nor /dev/vmmctl: EPERM.
func TestV4OpenChecksAllowVMM(t *testing.T) {
	j := newJails(t, vmm.EraCurrent)
	h := j.k.Jails
	if _, err := h.JailSet(h.RootCred(), []jail.Param{jail.IntParam("jid", j.b.Cred.Prison.JID()), jail.BoolParam("allow.novmm")}, jail.JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	_, err := j.k.Open(j.b, "/dev/vmm/bvm")
	wantErr(t, "V4 open /dev/vmm/bvm", err, abi.EPERM)
	_, err = j.k.Open(j.b, "/dev/vmm.io/bvm.fb")
	wantErr(t, "V4 open /dev/vmm.io/bvm.fb", err, abi.EPERM)
	_, err = j.k.Open(j.b, "/dev/vmmctl")
	wantErr(t, "V4 open /dev/vmmctl", err, abi.EPERM)
	_, err = j.k.Open(j.nv, "/dev/vmmctl")
	wantErr(t, "V4 open /dev/vmmctl, never allowed", err, abi.EPERM)
	_, err = j.k.Open(j.a, "/dev/vmmctl")
	wantErr(t, "open /dev/vmmctl with allow.vmm", err, nil)
	// Hidden beats forbidden: the node of another jail's VM is ENOENT.
	_, err = j.k.Open(j.nv, "/dev/vmm/avm")
	wantErr(t, "nv opens a's VM", err, abi.ENOENT)
}

// A removed jail's VM survives it: the VM holds the creator's credential
// (crhold), so the dying jail stays in the tree, the host still sees and
// destroys the VM, and only then is the jail freed.
func TestVMOutlivesItsJail(t *testing.T) {
	j := newJails(t, vmm.EraCurrent)
	h := j.k.Jails
	b := j.b.Cred.Prison
	if err := h.JailRemove(h.RootCred(), b.JID()); err != nil {
		t.Fatal(err)
	}
	if b.State() != jail.PRISON_STATE_DYING {
		t.Fatalf("b is %v while its VM lives, want DYING", b.State())
	}
	if err := canRun(j.k, j.host, "bvm"); err != nil {
		t.Fatalf("host runs the dying jail's VM: %v", err)
	}
	wantErr(t, "a still cannot destroy it", destroy(j.k, j.a, "bvm"), abi.EINVAL)
	wantErr(t, "host destroys it", destroy(j.k, j.host, "bvm"), nil)
	if b.State() != jail.PRISON_STATE_INVALID {
		t.Fatalf("b is %v after its last VM went, want freed", b.State())
	}
}

// Era2018 gives back FreeBSD 12.0's behaviour (§3.1): any jail with
// allow.vmm sees, opens, runs and destroys every VM, the host's too; a
// jail without allow.vmm opens nodes (no d_open) and fails at each door.
func TestEra2018AnyJailReachesEveryVM(t *testing.T) {
	j := newJails(t, vmm.Era2018)
	k := j.k
	for _, other := range []string{"bvm", "hostvm", "akvm"} {
		if err := canRun(k, j.a, other); err != nil {
			t.Fatalf("2018: a runs %s: %v", other, err)
		}
		_, err := k.Open(j.a, "/dev/vmm.io/"+other+".fb")
		wantErr(t, "2018: a opens "+other+".fb", err, nil)
		wantErr(t, "2018: a creates a VM named "+other, vmmapi.Create(k, j.a, other), abi.EEXIST)
	}
	if err := canRun(k, j.ak, "avm"); err != nil {
		t.Fatalf("2018: a.k runs its parent's VM: %v", err)
	}
	if got := len(k.VisibleDevices(j.b)); got != 8 {
		t.Fatalf("2018: b sees %d nodes, want all 8", got)
	}
	dev, err := k.OpenVM(j.nv, "hostvm")
	wantErr(t, "2018: a jail without allow.vmm opens", err, nil)
	wantErr(t, "2018: ...and is refused at ioctl", dev.Ioctl(j.nv, abi.VM_GET_REGISTER, &abi.VMRegister{}), abi.EPERM)
	wantErr(t, "2018: b destroys the host's VM", destroy(k, j.b, "hostvm"), nil)
	wantErr(t, "2018: b destroys a's VM", destroy(k, j.b, "avm"), nil)
	if got := k.Devices(); len(got) != 4 {
		t.Fatalf("2018: nodes left %q", got)
	}
}

func wantErr(t *testing.T, what string, got, exp error) {
	t.Helper()
	want(t, what, got, exp)
}
