package jail

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// The jail-side halves of the vmm rows of reference §5 (V1–V30). What
// the vmm device does with these answers is tested in emu/vmm.

// vmmPrivCheck is vmm_priv_check as emu/vmm performs it with this
// package: a jailed credential whose prison lacks the bit is EPERM.
func vmmPrivCheck(cred *Ucred, bit uint32) error {
	if cred.Jailed() && !cred.Prison.Allowed(bit) {
		return abi.EPERM
	}
	return nil
}

// V1, V2: jailed root without allow.vmm passes sysctl_root's gate for
// hw.vmm.create (CTLFLAG_PRISON) and is refused by the bit.
// V5: a non-root host user is refused by the gate.
// V6: jailed root with allow.vmm but allow.nosuser is refused by the gate.
func TestV1V2V5V6SysctlCreate(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	without := rootIn(h, mk(t, h, h.RootCred(), "without"))
	with := rootIn(h, mk(t, h, h.RootCred(), "with", "allow.vmm"))
	nosu := rootIn(h, mk(t, h, h.RootCred(), "nosu", "allow.vmm", "allow.nosuser"))
	const node = CTLFLAG_RW | CTLFLAG_PRISON
	wantErrno(t, "V1 gate", SysctlWriteCheck(without, node), 0)
	wantErrno(t, "V1 bit", vmmPrivCheck(without, vmm), abi.EPERM)
	wantErrno(t, "V2 read: the handler's bit check alone", vmmPrivCheck(without, vmm), abi.EPERM)
	wantErrno(t, "V5 host user", SysctlWriteCheck(&Ucred{UID: 1001, Prison: h.Prison0()}, node), abi.EPERM)
	wantErrno(t, "V6 gate", SysctlWriteCheck(nosu, node), abi.EPERM)
	wantErrno(t, "allowed jail passes both", orErr(SysctlWriteCheck(with, node), vmmPrivCheck(with, vmm)), 0)
	wantErrno(t, "host root passes both", orErr(SysctlWriteCheck(h.RootCred(), node), vmmPrivCheck(h.RootCred(), vmm)), 0)
}

func orErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// V7, V8 (v14+): cr_cansee between VM creators and callers rests on
// prison_check: a jail sees its own and its descendants' credentials,
// never a sibling's or the host's; the host sees all. The devfs
// credential filter hides /dev/vmm/<B's VM> from A (ENOENT).
func TestV7V8CrossJailVisibility(t *testing.T) {
	h := NewHost()
	h.AddAllow("vmm")
	a := mk(t, h, h.RootCred(), "a", "allow.vmm", "children.max=2")
	b := mk(t, h, h.RootCred(), "b", "allow.vmm")
	ac := mk(t, h, rootIn(h, a), "c", "allow.vmm")
	credA, credB, credAC := rootIn(h, a), rootIn(h, b), rootIn(h, ac)
	host := h.RootCred()
	wantErrno(t, "A sees its own", PrisonCheck(credA, credA), 0)
	wantErrno(t, "A sees its child's", PrisonCheck(credA, credAC), 0)
	wantErrno(t, "A does not see B's", PrisonCheck(credA, credB), abi.ESRCH)
	wantErrno(t, "A does not see the host's", PrisonCheck(credA, host), abi.ESRCH)
	wantErrno(t, "a.c does not see its parent's", PrisonCheck(credAC, credA), abi.ESRCH)
	wantErrno(t, "host sees B's", PrisonCheck(host, credB), 0)
	if DevfsVisible(credA, "vmm/bvm", credB) {
		t.Fatal("V8: A sees B's VM node")
	}
	if !DevfsVisible(credA, "vmm/acvm", credAC) || !DevfsVisible(host, "vmm/bvm", credB) {
		t.Fatal("ancestors must see their descendants' VM nodes")
	}
}

// V10: revoking allow.vmm on a jail revokes it in the jail and every
// descendant at once.
func TestV10Revocation(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	a := mk(t, h, h.RootCred(), "a", "allow.vmm", "children.max=2")
	g := mk(t, h, h.RootCred(), "a.g", "allow.vmm")
	wantErrno(t, "before", vmmPrivCheck(rootIn(h, g), vmm), 0)
	if _, err := h.JailSet(h.RootCred(), []Param{IntParam("jid", a), BoolParam("allow.novmm")}, JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "jail after revocation", vmmPrivCheck(rootIn(h, a), vmm), abi.EPERM)
	wantErrno(t, "grandchild after revocation", vmmPrivCheck(rootIn(h, g), vmm), abi.EPERM)
}

// V29: with the bit space exhausted before vmm registers, AddAllow gives
// 0, every jailed vmm check fails, and jail_set/jail(8) call allow.vmm
// an unknown parameter.
func TestV29BitSpaceExhausted(t *testing.T) {
	h := NewHost()
	for i := 0; h.AddAllow(fmt.Sprintf("mount.fs%d", i)) != 0; i++ {
	}
	vmm := h.AddAllow("vmm")
	if vmm != 0 {
		t.Fatalf("AddAllow after exhaustion = %#x", vmm)
	}
	// Even a jail holding every bit its parent has fails.
	j := mk(t, h, h.RootCred(), "j")
	h.Lookup(j).SetAllow(h.Prison0().AllowMask(), true)
	wantErrno(t, "jailed root, bit 0", vmmPrivCheck(rootIn(h, j), vmm), abi.EPERM)
	wantErrno(t, "host root", vmmPrivCheck(h.RootCred(), vmm), 0)
	_, err := h.JailSet(h.RootCred(), []Param{StrParam("name", "x"), BoolParam("persist"), BoolParam("allow.vmm")}, JAIL_CREATE)
	wantErrno(t, "jail_set allow.vmm", err, abi.EINVAL)
	if _, err := h.ImportParam("allow.vmm", nil); err == nil || err.Error() != "unknown parameter: allow.vmm" {
		t.Fatalf("jail(8) import: %v", err)
	}
}

// §1.6 J15: a bit cleared in prison0 is never handed out again.
func TestAllowBitNeverReissued(t *testing.T) {
	h := NewHost()
	first := h.AddAllow("vmm")
	h.Prison0().SetAllow(first, false)
	if next := h.AddAllow("other"); next == first {
		t.Fatalf("bit %#x re-issued after being cleared in prison0", first)
	}
}

// V30: a second dynamic bit (allow.vmm_ppt in VDS) is independent of
// allow.vmm: a jail with only allow.vmm lacks it.
func TestV30PassthroughBit(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	ppt := h.AddAllow("vmm_ppt")
	if ppt == vmm || ppt == 0 {
		t.Fatalf("vmm_ppt bit %#x", ppt)
	}
	j := rootIn(h, mk(t, h, h.RootCred(), "j", "allow.vmm"))
	wantErrno(t, "vmm", vmmPrivCheck(j, vmm), 0)
	wantErrno(t, "vmm_ppt", vmmPrivCheck(j, ppt), abi.EPERM)
	// PRIV_DRIVER (the e11768e94787 gate) is never granted in a jail.
	wantErrno(t, "PRIV_DRIVER", PrivCheck(j, PRIV_DRIVER), abi.EPERM)
}
