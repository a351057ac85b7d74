package jail

import (
	"errors"
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// reference/jail-and-security.md §1.6 step 3: the first dynamic bit is
// the lowest one outside PR_ALLOW_ALL_STATIC (0x000387ff on 14.x, which
// has allow.suser at 0x400): 0x800, then 0x1000.
func TestAddAllowLowestFreeBit(t *testing.T) {
	h := NewHost()
	if got := h.AddAllow("vmm"); got != 0x800 {
		t.Fatalf("AddAllow(vmm) = %#x, want 0x800", got)
	}
	if got := h.AddAllow("mount.tmpfs"); got != 0x1000 {
		t.Fatalf("second AddAllow = %#x, want 0x1000", got)
	}
	// §1.6 step 2: registration is idempotent (module reload).
	if got := h.AddAllow("vmm"); got != 0x800 {
		t.Fatalf("re-AddAllow(vmm) = %#x, want 0x800", got)
	}
	if !h.Prison0().Allowed(0x800) {
		t.Fatal("prison0 must hold every registered bit (§1.6 step 4)")
	}
}

// §1.6 step 6: when the bit space runs out AddAllow returns 0 and a jail
// can never hold bit 0 (fail-closed).
func TestAddAllowExhaustion(t *testing.T) {
	h := NewHost()
	n := 0
	for i := 0; ; i++ {
		if h.AddAllow(fmt.Sprintf("x%d", i)) == 0 {
			break
		}
		n++
	}
	// 0x000387ff holds 14 static bits, so 18 of the 32 bits are free;
	// the 32-slot name table (13 static names with VIMAGE's nfsd) would
	// take 19: bits run out first.
	if n != 18 {
		t.Fatalf("dynamic bits handed out = %d, want 18", n)
	}
	p, err := h.CreatePrison(h.Prison0(), "j")
	if err != nil {
		t.Fatal(err)
	}
	if p.Allowed(0) {
		t.Fatal("bit 0 must never be held")
	}
}

func TestJailedAndDefaults(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	if h.RootCred().Jailed() {
		t.Fatal("prison0 credential reported jailed")
	}
	p, err := h.CreatePrison(h.Prison0(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if !(&Ucred{Prison: p}).Jailed() {
		t.Fatal("jail credential not jailed")
	}
	// §1.5: dynamic bits are off by default in a new jail.
	if p.Allowed(vmm) {
		t.Fatal("new jail holds allow.vmm by default")
	}
	if !p.Allowed(PR_ALLOW_SET_HOSTNAME) || p.Allowed(PR_ALLOW_MOUNT) {
		t.Fatal("new jail allow mask is not JAIL_DEFAULT_ALLOW")
	}
	q, err := h.CreatePrison(h.Prison0(), "b", "vmm")
	if err != nil || !q.Allowed(vmm) {
		t.Fatalf("CreatePrison with allow.vmm: %v, allowed=%v", err, q.Allowed(vmm))
	}
	if q.Name != "b" {
		t.Fatalf("name %q", q.Name)
	}
}

// §1.5: a jail cannot grant more than it has; clearing a bit clears
// descendants and setting it again does not restore them.
func TestHierarchy(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	a, _ := h.CreatePrison(h.Prison0(), "a")
	if _, err := h.CreatePrison(a, "b", "vmm"); !errors.Is(err, abi.EPERM) {
		t.Fatalf("child asking for a bit its parent lacks: %v, want EPERM", err)
	}
	if err := a.SetAllow(vmm, true); err != nil {
		t.Fatal(err)
	}
	b, err := h.CreatePrison(a, "b", "vmm")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "a.b" {
		t.Fatalf("dotted name %q, want a.b", b.Name)
	}
	a.SetAllow(vmm, false)
	if b.Allowed(vmm) {
		t.Fatal("clearing the parent's bit left the child's")
	}
	a.SetAllow(vmm, true)
	if b.Allowed(vmm) {
		t.Fatal("setting the parent's bit again restored the child's")
	}
	if err := b.SetAllow(vmm, true); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreatePrison(a, "b"); !errors.Is(err, abi.EEXIST) {
		t.Fatalf("duplicate name: %v, want EEXIST", err)
	}
	if _, err := h.CreatePrison(a, "c", "nosuch"); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("unknown allow name: %v, want EINVAL", err)
	}
}
