package jail

import (
	"testing"

	"softvmm/emu/abi"
)

// §1.2: prison0's static initialisation.
func TestPrison0(t *testing.T) {
	h := NewHost()
	p0 := h.Prison0()
	if p0.ID != 0 || p0.Name != "0" || p0.Path() != "/" || p0.Securelevel() != -1 ||
		p0.DevfsRuleset() != 0 || p0.ChildMax() != JAIL_MAX || p0.State() != PRISON_STATE_ALIVE {
		t.Fatalf("prison0: id %d name %q path %q securelevel %d ruleset %d childmax %d state %v",
			p0.ID, p0.Name, p0.Path(), p0.Securelevel(), p0.DevfsRuleset(), p0.ChildMax(), p0.State())
	}
	if p0.AllowMask() != PR_ALLOW_ALL_STATIC || p0.Flags()&PR_HOST == 0 {
		t.Fatalf("prison0 allow %#x flags %#x", p0.AllowMask(), p0.Flags())
	}
	if ref, uref := p0.Refs(); ref != 1 || uref != 1 {
		t.Fatalf("prison0 refs %d/%d, want 1/1", ref, uref)
	}
}

// §1.5: a new jail's defaults come from its parent.
func TestNewJailDefaults(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	a := mk(t, h, h.RootCred(), "a", "securelevel=1", "devfs_ruleset=4", "children.max=3", "allow.vmm", "allow.mount")
	c := mk(t, h, h.RootCred(), "a.c")
	pc := h.Lookup(c)
	if pc.Securelevel() != 1 || pc.DevfsRuleset() != 4 || pc.ChildMax() != 0 ||
		pc.EnforceStatfs() != JAIL_DEFAULT_ENFORCE_STATFS {
		t.Fatalf("a.c: securelevel %d ruleset %d childmax %d enforce %d",
			pc.Securelevel(), pc.DevfsRuleset(), pc.ChildMax(), pc.EnforceStatfs())
	}
	// JAIL_DEFAULT_ALLOW & parent: no allow.vmm, no allow.mount, but
	// set_hostname, reserved_ports, unprivileged_proc_debug, suser.
	want := uint32(PR_ALLOW_SET_HOSTNAME | PR_ALLOW_RESERVED_PORTS | PR_ALLOW_UNPRIVILEGED_PROC_DEBUG | PR_ALLOW_SUSER)
	if got := pc.AllowMask(); got != want {
		t.Fatalf("a.c allow %#x, want %#x", got, want)
	}
	if !h.Lookup(a).Allowed(vmm) || pc.Allowed(vmm) {
		t.Fatal("allow.vmm must be off by default in a new jail even when the parent has it")
	}
	if pc.Persist() != true || pc.State() != PRISON_STATE_ALIVE {
		t.Fatal("a.c is not a live persistent jail")
	}
}

// §1.5: securelevel and enforce_statfs raise descendants; children.max
// clamps descendants at depth d to max(children.max − d, 0).
func TestPropagation(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "children.max=10")
	b := mk(t, h, h.RootCred(), "a.b", "children.max=9")
	c := mk(t, h, h.RootCred(), "a.b.c", "children.max=8")
	upd := func(ps ...Param) {
		t.Helper()
		if _, err := h.JailSet(h.RootCred(), append([]Param{IntParam("jid", a)}, ps...), JAIL_UPDATE); err != nil {
			t.Fatal(err)
		}
	}
	upd(IntParam("children.max", 3))
	if h.Lookup(b).ChildMax() != 2 || h.Lookup(c).ChildMax() != 1 {
		t.Fatalf("clamped childmax b=%d c=%d, want 2, 1", h.Lookup(b).ChildMax(), h.Lookup(c).ChildMax())
	}
	upd(IntParam("children.max", 1))
	if h.Lookup(b).ChildMax() != 0 || h.Lookup(c).ChildMax() != 0 {
		t.Fatalf("clamped childmax b=%d c=%d, want 0, 0", h.Lookup(b).ChildMax(), h.Lookup(c).ChildMax())
	}
	upd(IntParam("securelevel", 2))
	if h.Lookup(c).Securelevel() != 2 {
		t.Fatal("securelevel not raised in the grandchild")
	}
	upd(IntParam("securelevel", 1))
	if h.Lookup(c).Securelevel() != 2 {
		t.Fatal("lowering the parent's securelevel lowered the grandchild's")
	}
	upd(IntParam("enforce_statfs", 2))
	if h.Lookup(c).EnforceStatfs() != 2 {
		t.Fatal("enforce_statfs not raised")
	}
}

// Renaming a jail renames its descendants; names are relative to the
// viewer, who sees itself as "0"; parent reads 0 for the caller's own
// children (§1.2, §1.8).
func TestNamesRelativeToViewer(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "children.max=5")
	inA := rootIn(h, a)
	b := mk(t, h, inA, "b", "children.max=2")
	c := mk(t, h, inA, "b.c")
	if n := h.Lookup(c).FullName(); n != "a.b.c" {
		t.Fatalf("stored name %q, want a.b.c", n)
	}
	ps := get(t, h, inA, c, "name", "parent")
	if n, _ := ps.Str("name"); n != "b.c" {
		t.Fatalf("a sees %q, want b.c", n)
	}
	if p, _ := ps.Int("parent"); p != b {
		t.Fatalf("parent %d, want %d", p, b)
	}
	if p, _ := get(t, h, inA, b, "parent").Int("parent"); p != 0 {
		t.Fatalf("parent of a's own child reads %d, want 0", p)
	}
	if p, _ := get(t, h, h.RootCred(), b, "parent").Int("parent"); p != a {
		t.Fatalf("host sees parent %d, want %d", p, a)
	}
	if _, err := h.JailSet(h.RootCred(), []Param{IntParam("jid", b), StrParam("name", "a.bb")}, JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	if n := h.Lookup(c).FullName(); n != "a.bb.c" {
		t.Fatalf("after rename %q, want a.bb.c", n)
	}
	if relName(h.Lookup(a), h.Lookup(a)) != "0" {
		t.Fatal("a jail must see itself as 0")
	}
}

// Paths are global and shown relative to the viewer's root.
func TestPathRelative(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "children.max=2", "path=/jails/a")
	b := mk(t, h, rootIn(h, a), "b", "path=/sub")
	if p := h.Lookup(b).Path(); p != "/jails/a/sub" {
		t.Fatalf("global path %q", p)
	}
	if p, _ := get(t, h, rootIn(h, a), b, "path").Str("path"); p != "/sub" {
		t.Fatalf("a sees path %q, want /sub", p)
	}
}

// host.hostname: set on a jail it flows to descendants that have no
// host of their own (host=inherit); host.* on an inheriting jail... is
// just a new host.
func TestHostnameInheritance(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "host.hostname=alpha")
	b := mk(t, h, h.RootCred(), "a.b", "host=inherit")
	c := mk(t, h, h.RootCred(), "a.c")
	if h.Lookup(b).Hostname() != "alpha" {
		t.Fatalf("inheriting child hostname %q", h.Lookup(b).Hostname())
	}
	if h.Lookup(c).Hostname() != "" {
		t.Fatalf("host=new child hostname %q, want empty", h.Lookup(c).Hostname())
	}
	if _, err := h.JailSet(h.RootCred(), []Param{IntParam("jid", a), StrParam("host.hostname", "beta")}, JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	if h.Lookup(b).Hostname() != "beta" || h.Lookup(c).Hostname() != "" {
		t.Fatalf("after update b=%q c=%q", h.Lookup(b).Hostname(), h.Lookup(c).Hostname())
	}
	if v, _ := get(t, h, h.RootCred(), b, "host").Int("host"); v != JAIL_SYS_INHERIT {
		t.Fatalf("host of b reads %d, want inherit", v)
	}
}

// §1.4: user references. A persistent jail lives without processes; a
// non-persistent one lives while a process is in it; the last one out
// makes it dying, and with no other reference it is gone.
func TestUrefsAttachExit(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	a := mk(t, h, root, "a")
	pa := h.Lookup(a)
	if _, uref := pa.Refs(); uref != 1 {
		t.Fatalf("persistent jail uref %d, want 1", uref)
	}
	p1, _ := h.Spawn(root)
	p2, _ := h.Spawn(root)
	c1, err := h.JailAttach(p1.Cred(), a)
	if err != nil || c1.Prison != pa || !c1.Jailed() || p1.Cred() != c1 {
		t.Fatalf("attach: %v", err)
	}
	h.JailAttach(p2.Cred(), a)
	if _, uref := pa.Refs(); uref != 3 {
		t.Fatalf("uref %d, want 3 (persist + 2 processes)", uref)
	}
	// nopersist: still alive (processes).
	if _, err := h.JailSet(root, []Param{IntParam("jid", a), BoolParam("nopersist")}, JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	if !pa.Alive() || pa.Persist() {
		t.Fatal("nopersist with processes: must stay alive, without persist")
	}
	p1.Exit()
	if !pa.Alive() {
		t.Fatal("died with a process still inside")
	}
	pa.Hold() // a credential reference keeps it around, dying
	p2.Exit()
	if pa.State() != PRISON_STATE_DYING {
		t.Fatalf("state %v after the last process, want DYING", pa.State())
	}
	if h.Lookup(a) != pa {
		t.Fatal("a held dying jail vanished")
	}
	pa.Free()
	if h.Lookup(a) != nil || pa.State() != PRISON_STATE_INVALID {
		t.Fatal("an unreferenced dying jail was not freed")
	}
	if h.Prison0().ChildCount() != 0 {
		t.Fatalf("children.cur %d after free", h.Prison0().ChildCount())
	}
}

// A child keeps its parent alive; freeing the child releases it.
func TestChildHoldsParent(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	a := mk(t, h, root, "a")
	mk(t, h, root, "a.b")
	if _, err := h.JailSet(root, []Param{IntParam("jid", a), BoolParam("nopersist")}, JAIL_UPDATE); err != nil {
		t.Fatal(err)
	}
	if !h.Lookup(a).Alive() {
		t.Fatal("a died while its persistent child lives")
	}
	_, err := h.JailSet(root, []Param{StrParam("name", "a.b"), BoolParam("nopersist")}, JAIL_UPDATE)
	if err != nil {
		t.Fatal(err)
	}
	if h.Lookup(a) != nil {
		t.Fatal("a outlived its last child")
	}
}

// jail_remove kills every process in the jail and its descendants and
// removes the child jails (§1.4); processes elsewhere are untouched.
func TestRemoveKillsSubtree(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	a := mk(t, h, root, "a", "children.max=3")
	b := mk(t, h, root, "a.b")
	x := mk(t, h, root, "x")
	var in []*Proc
	for _, j := range []int{a, b, x} {
		p, _ := h.Spawn(root)
		if _, err := h.JailAttach(p.Cred(), j); err != nil {
			t.Fatal(err)
		}
		in = append(in, p)
	}
	host, _ := h.Spawn(root)
	if err := h.JailRemove(root, a); err != nil {
		t.Fatal(err)
	}
	if !in[0].Killed() || !in[1].Killed() || in[2].Killed() || host.Killed() {
		t.Fatalf("killed: a %v a.b %v x %v host %v", in[0].Killed(), in[1].Killed(), in[2].Killed(), host.Killed())
	}
	if h.Lookup(a) != nil || h.Lookup(b) != nil || h.Lookup(x) == nil {
		t.Fatal("remove did not take exactly a and a.b")
	}
	// A process cannot be forked into a removed jail.
	_, err := h.Spawn(in[0].Cred())
	wantErrno(t, "fork in a removed jail", err, abi.EAGAIN)
}

// J15: creating a jail with the jid of a dying one renumbers the dying
// one (counting down from JAIL_MAX) instead of resurrecting it; an
// update of the dying jid is ENOENT.
func TestDyingJidRenumbered(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	a := mk(t, h, root, "a")
	old := h.Lookup(a)
	old.Hold()
	h.JailRemove(root, a)
	_, err := h.JailSet(root, []Param{IntParam("jid", a), BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update a dying jid", err, abi.ENOENT)
	jid, err := h.JailSet(root, []Param{IntParam("jid", a), StrParam("name", "a"), BoolParam("persist")}, JAIL_CREATE)
	if err != nil || jid != a {
		t.Fatalf("create over a dying jid: %d, %v", jid, err)
	}
	if old.ID != JAIL_MAX || old.State() != PRISON_STATE_DYING {
		t.Fatalf("dying jail now has jid %d state %v, want %d DYING", old.ID, old.State(), JAIL_MAX)
	}
	if h.Lookup(a) == old {
		t.Fatal("the dying jail was resurrected")
	}
	// lastjid iteration with JAIL_DYING sees both.
	var seen []int
	for last := 0; ; {
		jid, _, err := h.JailGet(root, []Param{IntParam("lastjid", last)}, JAIL_DYING)
		if err != nil {
			break
		}
		seen = append(seen, jid)
		last = jid
	}
	if len(seen) != 2 || seen[0] != a || seen[1] != JAIL_MAX {
		t.Fatalf("lastjid walk %v", seen)
	}
}

// jid allocation: the next free id after the last handed out; an
// explicit jid is used as is and does not move the cursor backwards.
func TestJidAllocation(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	if j := mk(t, h, root, "a"); j != 1 {
		t.Fatalf("first jid %d", j)
	}
	jid, _ := h.JailSet(root, []Param{IntParam("jid", 5), BoolParam("persist")}, JAIL_CREATE)
	if jid != 5 {
		t.Fatalf("explicit jid %d", jid)
	}
	if j := mk(t, h, root, "b"); j != 2 {
		t.Fatalf("next jid %d, want 2", j)
	}
	h.JailRemove(root, 1)
	if j := mk(t, h, root, "c"); j != 3 {
		t.Fatalf("jid %d, want 3 (after the last handed out, not the freed 1)", j)
	}
	if j := mk(t, h, root, "d"); j != 4 {
		t.Fatalf("jid %d, want 4", j)
	}
	if j := mk(t, h, root, "e"); j != 6 {
		t.Fatalf("jid %d, want 6 (5 is taken)", j)
	}
}

// jail_get reports every parameter, booleans with their no-twins.
func TestJailGetAllParams(t *testing.T) {
	h := NewHost()
	h.AddAllow("vmm")
	a := mk(t, h, h.RootCred(), "a", "allow.vmm", "host.hostname=h1", "ip4.addr=192.0.2.1,192.0.2.2", "osrelease=13.2-RELEASE")
	got, err := h.Describe(h.RootCred(), a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"allow.vmm", "allow.nomount", "allow.set_hostname", "allow.suser",
		"persist", "nodying", "host.hostname=h1", "ip4.addr=192.0.2.1,192.0.2.2",
		"ip4=new", "ip6=new", "vnet=inherit", "host=new",
		"osrelease=13.2-RELEASE", "name=a", "enforce_statfs=2", "children.max=0",
	}
	have := map[string]bool{}
	for _, s := range got {
		have[s] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
}

// §1.5: address lists.
func TestIPAddressRules(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	ip := func(b ...byte) Param { return Param{"ip4.addr", b} }
	create := func(name string, ps ...Param) error {
		_, err := h.JailSet(root, append([]Param{StrParam("name", name), BoolParam("persist")}, ps...), JAIL_CREATE)
		return err
	}
	wantErrno(t, "two addresses", create("x", ip(192, 0, 2, 1, 192, 0, 2, 2), IntParam("children.max", 2)), 0)
	wantErrno(t, "one of x's two addresses", create("y", ip(192, 0, 2, 1)), abi.EADDRINUSE)
	wantErrno(t, "single address", create("p", ip(198, 51, 100, 1)), 0)
	wantErrno(t, "the same single address", create("q", ip(198, 51, 100, 1)), 0)
	wantErrno(t, "0.0.0.0", create("z", ip(0, 0, 0, 0)), abi.EINVAL)
	wantErrno(t, "broadcast", create("z", ip(255, 255, 255, 255)), abi.EINVAL)
	wantErrno(t, "duplicate", create("z", ip(192, 0, 2, 9, 192, 0, 2, 9)), abi.EINVAL)
	wantErrno(t, "size not a multiple of 4", create("z", ip(192, 0, 2)), abi.EINVAL)
	many := make([]byte, 0, 4*256)
	for i := 0; i < 256; i++ {
		many = append(many, 10, 1, byte(i>>8), byte(i)+1)
	}
	wantErrno(t, "256 addresses", create("z", Param{"ip4.addr", many}), abi.EINVAL)
	// A child of a restricted jail must stay inside its list.
	wantErrno(t, "child outside x's list", create("x.c", ip(192, 0, 2, 7)), abi.EPERM)
	// Inside it, the address still clashes with x itself, which holds
	// more than one (prison_ip_conflict_check walks every live jail in
	// the vnet, ancestors included).
	wantErrno(t, "child inside x's list", create("x.d", ip(192, 0, 2, 2)), abi.EADDRINUSE)
	wantErrno(t, "x.d inheriting", create("x.d", IntParam("ip4", JAIL_SYS_INHERIT)), 0)
	// Single address under a single-address parent: no clash.
	wantErrno(t, "p children.max", func() error {
		p, _, _ := h.JailGet(root, []Param{StrParam("name", "p")}, 0)
		_, err := h.JailSet(root, []Param{IntParam("jid", p), IntParam("children.max", 1)}, JAIL_UPDATE)
		return err
	}(), 0)
	wantErrno(t, "p.c with p's one address", create("p.c", ip(198, 51, 100, 1)), 0)
	// ip4 mode is creation-only; the list of an ip4=new jail is not.
	x, _, _ := h.JailGet(root, []Param{StrParam("name", "x")}, 0)
	_, err := h.JailSet(root, []Param{IntParam("jid", x), ip(192, 0, 2, 1)}, JAIL_UPDATE)
	wantErrno(t, "new list on an ip4=new jail", err, 0)
	inh := mk(t, h, root, "inh", "ip4=inherit")
	_, err = h.JailSet(root, []Param{IntParam("jid", inh), ip(192, 0, 2, 3)}, JAIL_UPDATE)
	wantErrno(t, "list on an ip4=inherit jail", err, abi.EINVAL)
}
